/*
 * aftercare.h - what follows a restore's database work and can only warn: the file check
 * (which files the restored database refers to are not there, and which files no row names)
 * and ANALYZE, so that the application's first queries find planner statistics.
 */
#ifndef AFTERCARE_H
#define AFTERCARE_H

#include <stdbool.h>

#include "database.h"
#include "report.h"
#include "restore.h"
#include "swap.h"

/*
 * aftercare_check_files: compare the UUIDs the target's files_query returns (NULL: Mendix's
 * system$filedocument rows that have contents) with the files in dir (laid out xx/yy/<uuid>),
 * on the restored database: db's connection (strategy transaction), which may be inside the
 * restore's transaction and stays usable and as it was, or a connection of its own to swap's
 * new database (strategy swap); with the database's default search_path, read-only and rolled
 * back after (filecheck.h). Fills report->missing and ->orphaned (have_filecheck); skipped
 * when there is no such table; a check that fails or cannot run is a warning in report. The
 * server's notices meanwhile go to o->log.
 */
void aftercare_check_files(const struct restore_options *o, struct database *db, struct swap *swap,
                           const char *dir, struct report *report);

/*
 * aftercare_warn_missing: once the outcome is final, the warning for the files the restored
 * database refers to that are missing (report->missing), or that were left alone (o->db_only,
 * or database_only_backup: the archive held no files) and may be missing.
 */
void aftercare_warn_missing(const struct restore_options *o, bool database_only_backup,
                            struct report *report);

/*
 * aftercare_analyze: ANALYZE the tables of the restored database (db's, or for a swap its new
 * database's, outside any transaction), table by table, skipping with a warning one whose
 * lock it waited for in vain (AFTERCARE_LOCK_TIMEOUT_S, aftercare.c), and stopping with a
 * warning once o->cancel is set. Its time goes into report->analyze_s, a failure into report's
 * warnings, the server's notices to o->log.
 */
void aftercare_analyze(const struct restore_options *o, struct database *db, struct swap *swap,
                       struct report *report);

#endif
