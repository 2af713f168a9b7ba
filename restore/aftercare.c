/*
 * aftercare.c - the checks after a restore's database work, which only ever warn
 * (aftercare.h): the file check (filecheck.h does the comparing), and the warning for missing
 * files. ANALYZE is analyze.c's.
 *
 * The server's notices (WARNING, NOTICE) on the connections of the file check and of ANALYZE go
 * through the options' log (aftercare_route_notice), each naming the job, never to stderr as
 * libpq would print them.
 */
#include "aftercare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "filecheck.h"
#include "progress.h"

#define MESSAGE_BYTES 2048

/* aftercare_route_notice: a server notice as a line of the job's log (aftercare.h). */
void
aftercare_route_notice(void *arg, const PGresult *res)
{
	const struct aftercare_route *r = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char line[768];

	if (primary == NULL)
		primary = PQresultErrorMessage(res);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(primary, "\n"), primary);
	conninfo_scrub(r->secrets, line, sizeof(line));
	restore_say(r->o, "job %s: the server said during %s: %s: %s", r->job_id, r->during,
	            severity != NULL ? severity : "NOTICE", line);
}

/* aftercare_first_line: the first line of a message, scrubbed of secrets (aftercare.h). */
void
aftercare_first_line(const struct conninfo_secrets *secrets, const char *msg, char *buf,
                     size_t buflen)
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

/*
 * check_files: aftercare_check_files on a connection whose notices are routed; 0, 1 when
 * skipped, -1 when it failed (with a warning in report).
 */
static int
check_files(PGconn *conn, const struct conninfo_secrets *secrets, const char *query,
            struct store *store, struct report *report)
{
	struct filecheck fc;
	char err[1024], msg[768];
	PGresult *res;

	/* pg_restore's script empties search_path; a files_query means the database's own. */
	res = PQexec(conn, "RESET search_path");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		aftercare_first_line(secrets, PQresultErrorMessage(res), msg, sizeof(msg));
		PQclear(res);
		report_warn(report, "the file check could not run: %s", msg);
		return -1;
	}
	PQclear(res);
	if (filecheck_run(conn, query, store, &fc, err, sizeof(err)) < 0) {
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
	report->left_out = fc.left_out;
	if (fc.invalid > 0)
		report_warn(report,
		            "the file check's query returned %llu value%s that %s not a UUID; "
		            "%s not checked",
		            (unsigned long long)fc.invalid, fc.invalid == 1 ? "" : "s",
		            fc.invalid == 1 ? "is" : "are",
		            fc.invalid == 1 ? "it was" : "they were");
	return 0;
}

/* check_files_on: the file check on conn, the server's notices meanwhile to the job's log. */
static int
check_files_on(const struct restore_options *o, PGconn *conn,
               const struct conninfo_secrets *secrets, struct store *store, struct report *report)
{
	struct aftercare_route route = {o, secrets, report->job_id, "the file check"};
	PQnoticeReceiver previous = PQsetNoticeReceiver(conn, aftercare_route_notice, &route);
	int rc = check_files(conn, secrets, o->target->files_query, store, report);

	/* libpq's own receiver, which every connection of the engine has, takes no argument. */
	(void)PQsetNoticeReceiver(conn, previous, NULL);
	return rc;
}

/* aftercare_check_files: the file check on the restored database (aftercare.h). */
void
aftercare_check_files(const struct restore_options *o, struct database *db, struct swap *swap,
                      struct store *store, struct report *report)
{
	char err[MESSAGE_BYTES];
	PGconn *conn;

	if (swap == NULL) {
		(void)check_files_on(o, database_conn(db), database_secrets(db), store, report);
		return;
	}
	if ((conn = swap_connect(swap, true, err, sizeof(err))) == NULL) {
		report_warn(report, "the file check could not run: %s", err);
		return;
	}
	(void)check_files_on(o, conn, swap_secrets(swap), store, report);
	PQfinish(conn);
}

/* aftercare_warn_missing: the warning for the files found missing, or left alone (aftercare.h). */
void
aftercare_warn_missing(const struct restore_options *o, bool database_only_backup,
                       struct report *report)
{
	const char *left_alone = o->db_only             ? "--db-only"
	                         : database_only_backup ? "a database-only backup"
	                                                : NULL;
	unsigned long long n = report->missing.count;
	char store[RESTORE_TARGET_STORE_NAME_MAX];
	const char *where = restore_target_store_name(o->target, store, sizeof(store));

	if (left_alone != NULL && !report->have_filecheck)
		report_warn(report,
		            "%s: the files in %s were left alone; files the restored database "
		            "refers to may be missing",
		            left_alone, where);
	else if (left_alone != NULL && n > 0)
		report_warn(report,
		            "%s: the files in %s were left alone; %llu file%s the restored "
		            "database refers to %s missing there (files.missing)",
		            left_alone, where, n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
	else if (left_alone != NULL)
		report_warn(report, "%s: the files in %s were left alone", left_alone, where);
	else if (n > 0)
		report_warn(report,
		            "%llu file%s the restored database refers to %s not in the backup "
		            "(files.missing)",
		            n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
}
