/*
 * aftercare.h - what follows a restore's database work and can only warn: the file check
 * (which files the restored database refers to are not there, and which files no row names)
 * and ANALYZE, so that the application's first queries find planner statistics.
 */
#ifndef AFTERCARE_H
#define AFTERCARE_H

#include <libpq-fe.h>

#include "conninfo.h"
#include "report.h"
#include "restore.h"

/*
 * aftercare_check_files: compare the UUIDs the target's files_query returns on conn (NULL:
 * Mendix's system$filedocument rows that have contents) with the files in dir (laid out
 * xx/yy/<uuid>), with the database's default search_path, read-only and rolled back after
 * (filecheck.h). conn may be inside the restore's transaction, which stays usable and as it
 * was. Fills report->missing and ->orphaned (have_filecheck) and returns 0; 1 when the check
 * was skipped (no such table), -1 when it failed: then a warning in report says why. The
 * server's notices meanwhile go to o->log.
 */
int aftercare_check_files(const struct restore_options *o, PGconn *conn,
                          const struct conninfo_secrets *secrets, const char *dir,
                          struct report *report);

/*
 * aftercare_analyze: ANALYZE the tables of the database conn is connected to (outside any
 * transaction), table by table, skipping with a warning one whose lock it waited for in vain
 * (AFTERCARE_LOCK_TIMEOUT_S, aftercare.c), and stopping with a warning once o->cancel is set.
 * Its time goes into report->analyze_s, a failure into report's warnings, the server's
 * notices to o->log.
 */
void aftercare_analyze(const struct restore_options *o, PGconn *conn,
                       const struct conninfo_secrets *secrets, struct report *report);

#endif
