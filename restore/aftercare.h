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

/*
 * aftercare_check_files: compare the UUIDs query returns on conn (NULL: Mendix's
 * system$filedocument rows that have contents) with the files in dir (laid out
 * xx/yy/<uuid>), with the database's default search_path. conn may be inside the restore's
 * transaction, which stays usable. Fills report->missing and ->orphaned (have_filecheck) and
 * returns 0; 1 when the check was skipped (no such table), -1 when it failed: then a warning
 * in report says why.
 */
int aftercare_check_files(PGconn *conn, const struct conninfo_secrets *secrets, const char *query,
                          const char *dir, struct report *report);

/*
 * aftercare_analyze: ANALYZE the database conn is connected to (outside any transaction);
 * its time goes into report->analyze_s, a failure into report's warnings.
 */
void aftercare_analyze(PGconn *conn, const struct conninfo_secrets *secrets, struct report *report);

#endif
