/*
 * aftercare.c - the checks after a restore's database work, which only ever warn
 * (aftercare.h): the file check (filecheck.h does the comparing) and ANALYZE.
 */
#include "aftercare.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "filecheck.h"
#include "progress.h"

/* first_line: the first line of a libpq or server message, scrubbed of secrets. */
static void
first_line(const struct conninfo_secrets *secrets, const char *msg, char *buf, size_t buflen)
{
	if (msg == NULL || *msg == '\0')
		msg = "no message from the server";
	if (strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	snprintf(buf, buflen, "%.*s", (int)strcspn(msg, "\n"), msg);
	conninfo_scrub(secrets, buf, buflen);
}

/* copy_uuids: the count and the first UUIDs of one side of the check. */
static void
copy_uuids(struct report_uuids *to, uint64_t count, const char (*first)[37], size_t nfirst)
{
	to->count = count;
	to->nfirst = nfirst < REPORT_UUIDS_FIRST ? nfirst : REPORT_UUIDS_FIRST;
	for (size_t i = 0; i < to->nfirst; i++)
		memcpy(to->first[i], first[i], 37);
}

int
aftercare_check_files(PGconn *conn, const struct conninfo_secrets *secrets, const char *query,
                      const char *dir, struct report *report)
{
	struct filecheck fc;
	char err[1024], msg[768];
	PGresult *res;

	/* pg_restore's script empties search_path; a files_query means the database's own. */
	res = PQexec(conn, "RESET search_path");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		first_line(secrets, PQresultErrorMessage(res), msg, sizeof(msg));
		PQclear(res);
		report_warn(report, "the file check could not run: %s", msg);
		return -1;
	}
	PQclear(res);
	if (filecheck_run(conn, query, AT_FDCWD, dir, &fc, err, sizeof(err)) < 0) {
		conninfo_scrub(secrets, err, sizeof(err));
		report_warn(report, "the file check failed: %s", err);
		return -1;
	}
	if (!fc.ran) {
		report_warn(report, "%s", fc.note);
		return 1;
	}
	report->have_filecheck = true;
	copy_uuids(&report->missing, fc.missing, fc.missing_first, fc.nmissing_first);
	copy_uuids(&report->orphaned, fc.orphaned, fc.orphaned_first, fc.norphaned_first);
	if (fc.invalid > 0)
		report_warn(report,
		            "the file check's query returned %llu value%s that %s not a UUID; "
		            "%s not checked",
		            (unsigned long long)fc.invalid, fc.invalid == 1 ? "" : "s",
		            fc.invalid == 1 ? "is" : "are",
		            fc.invalid == 1 ? "it was" : "they were");
	return 0;
}

void
aftercare_analyze(PGconn *conn, const struct conninfo_secrets *secrets, struct report *report)
{
	double started = restore_now();
	char msg[768];
	PGresult *res;

	/*
	 * The role's or the database's statement_timeout must not cut it short. ANALYZE alone in
	 * its query string: then it commits table by table instead of locking them all at once.
	 */
	PQclear(PQexec(conn, "SET statement_timeout = 0"));
	res = PQexec(conn, "ANALYZE");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		first_line(secrets, PQresultErrorMessage(res), msg, sizeof(msg));
		report_warn(report,
		            "ANALYZE of the restored database failed: %s; the planner has no "
		            "statistics until autovacuum (or an ANALYZE) gathers them",
		            msg);
	}
	PQclear(res);
	report->analyze_s = restore_now() - started;
}
