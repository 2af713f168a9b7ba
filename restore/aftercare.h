/*
 * aftercare.h - what follows a restore's database work and can only warn: the file check
 * (which files the restored database refers to are not there, and which files no row names),
 * and the routing of the server's notices on the connections of the file check and of ANALYZE
 * (analyze.h) to the job's log.
 */
#ifndef AFTERCARE_H
#define AFTERCARE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "conninfo.h"
#include "database.h"
#include "report.h"
#include "restore.h"
#include "swap.h"

struct store; /* store.h */

/*
 * aftercare_check_files: compare the UUIDs the target's files_query returns (NULL: Mendix's
 * system$filedocument rows that have contents) with the files store lists (store.h),
 * on the restored database: db's connection (strategy transaction), which may be inside the
 * restore's transaction and stays usable and as it was, or a connection of its own to swap's
 * new database (strategy swap); with the database's default search_path, read-only and rolled
 * back after (filecheck.h). Fills report->missing and ->orphaned (have_filecheck); skipped
 * when there is no such table; a check that fails or cannot run is a warning in report. The
 * server's notices meanwhile go to o->log.
 */
void aftercare_check_files(const struct restore_options *o, struct database *db, struct swap *swap,
                           struct store *store, struct report *report);

/*
 * aftercare_warn_missing: once the outcome is final, the warning for the files the restored
 * database refers to that are missing (report->missing), or that were left alone (o->db_only,
 * or database_only_backup: the archive held no files) and may be missing.
 */
void aftercare_warn_missing(const struct restore_options *o, bool database_only_backup,
                            struct report *report);

/* Where a connection's notices go (aftercare_route_notice's argument). */
struct aftercare_route {
	const struct restore_options *o;
	const struct conninfo_secrets *secrets;
	const char *job_id;
	const char *during; /* "the file check", "ANALYZE" */
};

/*
 * aftercare_route_notice: a libpq notice receiver (arg: a struct aftercare_route) that writes a
 * server notice as a line of the job's log: "job <id>: the server said during <during>:
 * <severity>: <message>", its first line, scrubbed of secrets.
 */
void aftercare_route_notice(void *arg, const PGresult *res);

/*
 * aftercare_first_line: into buf, the first line of a libpq or server message (msg; NULL or
 * empty: "no message from the server"), without libpq's "ERROR:  ", scrubbed of secrets.
 */
void aftercare_first_line(const struct conninfo_secrets *secrets, const char *msg, char *buf,
                          size_t buflen);

#endif
