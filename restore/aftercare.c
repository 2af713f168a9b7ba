/*
 * aftercare.c - the checks after a restore's database work, which only ever warn
 * (aftercare.h): the file check (filecheck.h does the comparing) and ANALYZE.
 *
 * ANALYZE goes table by table through the tables of the restored database's own schemas
 * (the catalogs are the server's, and only a superuser may analyze the shared ones), each
 * statement waiting at most AFTERCARE_LOCK_TIMEOUT_S seconds for a lock: a table another session
 * keeps locked (an application starting) is skipped with a warning naming it, and the restore's
 * outcome never waits on it. Each statement is sent asynchronously and waited for in steps
 * of 100 ms, so that the options' cancel flag (a signal) cancels it on the server at once.
 *
 * The server's notices (WARNING, NOTICE) on the connections these checks use go through the
 * options' log, each naming the job, never to stderr as libpq would print them.
 */
#include "aftercare.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "filecheck.h"
#include "progress.h"

/*
 * How long ANALYZE of one table waits for a lock. Above the server's default deadlock_timeout
 * (1 s), after which an autovacuum worker holding the table gives way to a waiting session.
 */
#define AFTERCARE_LOCK_TIMEOUT_S    2
#define AFTERCARE_POLL_MS           100
#define SQLSTATE_LOCK_NOT_AVAILABLE "55P03"
#define MESSAGE_BYTES               2048

/* The tables ANALYZE covers: those of the database's own schemas; a partition with its parent. */
static const char tables_sql[] =
    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) "
    "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    " WHERE c.relkind IN ('r', 'm', 'p') AND NOT c.relispartition "
    "   AND pg_catalog.left(n.nspname, 3) <> 'pg_' AND n.nspname <> 'information_schema' "
    " ORDER BY n.nspname, c.relname";

/* Where a connection's notices go while a check uses it. */
struct notice_route {
	const struct restore_options *o;
	const struct conninfo_secrets *secrets;
	const char *job_id;
	const char *during; /* "the file check", "ANALYZE" */
};

/* route_notice: a server notice as a line of the job's log (a libpq notice receiver). */
static void
route_notice(void *arg, const PGresult *res)
{
	const struct notice_route *r = arg;
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

/*
 * check_files: aftercare_check_files on a connection whose notices are routed; 0, 1 when
 * skipped, -1 when it failed (with a warning in report).
 */
static int
check_files(PGconn *conn, const struct conninfo_secrets *secrets, const char *query,
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

/*
 * run_cancellable: send sql and wait for its end, in steps of AFTERCARE_POLL_MS; once *cancel
 * is set (a signal), ask the server to cancel it and set *cancelled. The statement's last
 * result (the caller PQclears it), or NULL when it could not be sent.
 */
static PGresult *
run_cancellable(PGconn *conn, const char *sql, volatile sig_atomic_t *cancel, bool *cancelled)
{
	PGresult *res, *last = NULL;

	if (!PQsendQuery(conn, sql))
		return NULL;
	while (PQisBusy(conn)) {
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

		if (!*cancelled && cancel != NULL && *cancel) {
			PGcancel *c = PQgetCancel(conn);
			char errbuf[256];

			if (c != NULL) {
				(void)PQcancel(c, errbuf, sizeof(errbuf));
				PQfreeCancel(c);
			}
			*cancelled = true;
		}
		if (poll(&pfd, 1, AFTERCARE_POLL_MS) < 0 && errno != EINTR)
			break; /* PQgetResult below waits, or reads the broken connection */
		if (!PQconsumeInput(conn))
			break;
	}
	while ((res = PQgetResult(conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	return last;
}

/* analyze_table: ANALYZE one table (name quoted); 0, or -1 when the rest must not follow. */
static int
analyze_table(const struct restore_options *o, PGconn *conn, const struct conninfo_secrets *secrets,
              const char *name, bool *cancelled, struct report *report)
{
	char sql[600], msg[768];
	const char *state;
	PGresult *res;
	int rc = 0;

	snprintf(sql, sizeof(sql), "ANALYZE %s", name);
	res = run_cancellable(conn, sql, o->cancel, cancelled);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return 0;
	}
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	first_line(secrets, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn), msg,
	           sizeof(msg));
	if (*cancelled) {
		rc = -1; /* said by the caller */
	} else if (state != NULL && strcmp(state, SQLSTATE_LOCK_NOT_AVAILABLE) == 0) {
		report_warn(report,
		            "table %s was not analyzed: another session held a lock on it for more "
		            "than %d s; autovacuum (or an ANALYZE) gathers its statistics later",
		            name, AFTERCARE_LOCK_TIMEOUT_S);
	} else {
		report_warn(report,
		            "table %s was not analyzed: %s; autovacuum (or an ANALYZE) gathers its "
		            "statistics later",
		            name, msg);
		if (PQstatus(conn) != CONNECTION_OK)
			rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * analyze_tables: ANALYZE each table of the database's own schemas, each waiting at most
 * AFTERCARE_LOCK_TIMEOUT_S for its locks; whatever is left out is a warning.
 */
static void
analyze_tables(const struct restore_options *o, PGconn *conn,
               const struct conninfo_secrets *secrets, struct report *report)
{
	char msg[768], setup[128];
	PGresult *tables;
	bool cancelled = false;
	int ntables, done = 0;

	/*
	 * The role's or the database's statement_timeout must not cut it short, nor a lock held
	 * elsewhere keep it waiting: each table is its own statement (and transaction).
	 */
	snprintf(setup, sizeof(setup), "SET statement_timeout = 0; SET lock_timeout = '%ds'",
	         AFTERCARE_LOCK_TIMEOUT_S);
	tables = PQexec(conn, setup);
	if (PQresultStatus(tables) == PGRES_COMMAND_OK) {
		PQclear(tables);
		tables = run_cancellable(conn, tables_sql, o->cancel, &cancelled);
	}
	if (PQresultStatus(tables) != PGRES_TUPLES_OK) {
		first_line(secrets,
		           tables != NULL ? PQresultErrorMessage(tables) : PQerrorMessage(conn),
		           msg, sizeof(msg));
		report_warn(report,
		            "the restored database was not analyzed: %s; the planner has no "
		            "statistics until autovacuum (or an ANALYZE) gathers them",
		            cancelled ? "interrupted" : msg);
		PQclear(tables);
		return;
	}
	ntables = PQntuples(tables);
	while (done < ntables && !cancelled && (o->cancel == NULL || !*o->cancel) &&
	       analyze_table(o, conn, secrets, PQgetvalue(tables, done, 0), &cancelled, report) ==
	           0)
		done++;
	if (done < ntables && (cancelled || (o->cancel != NULL && *o->cancel)))
		report_warn(report,
		            "ANALYZE was interrupted: %d of the restored database's %d tables were "
		            "not analyzed (from %s on); autovacuum (or an ANALYZE) gathers their "
		            "statistics later",
		            ntables - done, ntables, PQgetvalue(tables, done, 0));
	else if (done < ntables)
		report_warn(report,
		            "ANALYZE stopped at table %s: %d of the restored database's %d tables "
		            "were not analyzed",
		            PQgetvalue(tables, done, 0), ntables - done, ntables);
	PQclear(tables);
}

/* check_files_on: the file check on conn, the server's notices meanwhile to the job's log. */
static int
check_files_on(const struct restore_options *o, PGconn *conn,
               const struct conninfo_secrets *secrets, const char *dir, struct report *report)
{
	struct notice_route route = {o, secrets, report->job_id, "the file check"};
	PQnoticeReceiver previous = PQsetNoticeReceiver(conn, route_notice, &route);
	int rc = check_files(conn, secrets, o->target->files_query, dir, report);

	/* libpq's own receiver, which every connection of the engine has, takes no argument. */
	(void)PQsetNoticeReceiver(conn, previous, NULL);
	return rc;
}

/* analyze_on: ANALYZE on conn, the server's notices meanwhile to the job's log; its time. */
static void
analyze_on(const struct restore_options *o, PGconn *conn, const struct conninfo_secrets *secrets,
           struct report *report)
{
	struct notice_route route = {o, secrets, report->job_id, "ANALYZE"};
	PQnoticeReceiver previous = PQsetNoticeReceiver(conn, route_notice, &route);
	double started = restore_now();

	analyze_tables(o, conn, secrets, report);
	(void)PQsetNoticeReceiver(conn, previous, NULL);
	report->analyze_s = restore_now() - started;
}

/* aftercare_check_files: the file check on the restored database (aftercare.h). */
void
aftercare_check_files(const struct restore_options *o, struct database *db, struct swap *swap,
                      const char *dir, struct report *report)
{
	char err[MESSAGE_BYTES];
	PGconn *conn;

	if (swap == NULL) {
		(void)check_files_on(o, database_conn(db), database_secrets(db), dir, report);
		return;
	}
	if ((conn = swap_connect(swap, true, err, sizeof(err))) == NULL) {
		report_warn(report, "the file check could not run: %s", err);
		return;
	}
	(void)check_files_on(o, conn, swap_secrets(swap), dir, report);
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

	if (left_alone != NULL && !report->have_filecheck)
		report_warn(report,
		            "%s: the files in %s were left alone; files the restored database "
		            "refers to may be missing",
		            left_alone, o->target->blob_dir);
	else if (left_alone != NULL && n > 0)
		report_warn(report,
		            "%s: the files in %s were left alone; %llu file%s the restored "
		            "database refers to %s missing there (files.missing)",
		            left_alone, o->target->blob_dir, n, n == 1 ? "" : "s",
		            n == 1 ? "is" : "are");
	else if (left_alone != NULL)
		report_warn(report, "%s: the files in %s were left alone", left_alone,
		            o->target->blob_dir);
	else if (n > 0)
		report_warn(report,
		            "%llu file%s the restored database refers to %s not in the backup "
		            "(files.missing)",
		            n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
}

/* aftercare_analyze: ANALYZE the restored database (aftercare.h). */
void
aftercare_analyze(const struct restore_options *o, struct database *db, struct swap *swap,
                  struct report *report)
{
	char err[MESSAGE_BYTES];
	PGconn *conn;

	restore_say(o, "job %s: analyzing the restored database", report->job_id);
	if (swap == NULL) {
		analyze_on(o, database_conn(db), database_secrets(db), report);
		return;
	}
	if ((conn = swap_connect(swap, false, err, sizeof(err))) == NULL) {
		report_warn(report, "the restored database could not be analyzed: %s", err);
		return;
	}
	analyze_on(o, conn, swap_secrets(swap), report);
	PQfinish(conn);
}
