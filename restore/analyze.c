/*
 * analyze.c - ANALYZE of a restored database over several connections at once (analyze.h).
 *
 * The tables are those of the database's own schemas (the catalogs are the server's, and only a
 * superuser may analyze the shared ones), a partition with its parent, that lack statistics for
 * a column: the criterion of vacuumdb --missing-stats-only, read through pg_stats (pg_statistic is
 * the superuser's). A pg_dump 18 dump can carry statistics ("STATISTICS DATA" entries, which
 * pg_restore 18 restores through pg_restore_relation_stats() and pg_restore_attribute_stats() on
 * a server 18); the tables they reached are then not analyzed again. The list is ordered
 * largest first, as vacuumdb --jobs orders it, by relpages (a partitioned table by its
 * partitions'), which pg_restore's index builds have set: the longest statements start first
 * and the connections finish together. It is read from the catalog without taking a lock
 * (pg_relation_size() would), so that a table an application holds cannot hold the list back.
 *
 * The tables are handed out one at a time to up to restore_jobs connections; each statement is
 * sent with libpq's asynchronous API and all of them are waited for in one poll() in the calling
 * thread, in steps of 100 ms, so that the options' cancel flag cancels every one at once. Each
 * statement waits at most ANALYZE_LOCK_TIMEOUT_S seconds for a lock: a table another session
 * keeps locked (an application starting) is skipped with a warning naming it. A connection that
 * cannot be made leaves its share to the others (the log says so); the table of one that is lost
 * goes to another, once; when no connection is left, a warning counts the tables not analyzed.
 *
 * The server's notices (WARNING, NOTICE) on these connections go through the options' log, each
 * naming the job, never to stderr as libpq would print them (aftercare.h routes them).
 */
#include "analyze.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aftercare.h"
#include "conninfo.h"
#include "progress.h"

#define ANALYZE_POLL_MS             100
#define ANALYZE_MAX_CONNECTIONS     64 /* restore_jobs' own limit */
#define SQLSTATE_LOCK_NOT_AVAILABLE "55P03"
#define MESSAGE_BYTES               2048

/* The tables ANALYZE covers, largest first (see the opening comment). */
static const char tables_sql[] =
    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) "
    "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    " WHERE c.relkind IN ('r', 'm', 'p') AND NOT c.relispartition "
    "   AND pg_catalog.left(n.nspname, 3) <> 'pg_' AND n.nspname <> 'information_schema' "
    "   AND EXISTS (SELECT FROM pg_catalog.pg_attribute a "
    "                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "                  AND a.attstattarget IS DISTINCT FROM 0 "
    "                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_stats s "
    "                                   WHERE s.schemaname = n.nspname "
    "                                     AND s.tablename = c.relname "
    "                                     AND s.attname = a.attname "
    "                                     AND s.inherited = (c.relkind = 'p'))) "
    " ORDER BY CASE WHEN c.relkind = 'p' THEN "
    "              (SELECT pg_catalog.sum(k.relpages) FROM pg_catalog.pg_inherits i "
    "                 JOIN pg_catalog.pg_class k ON k.oid = i.inhrelid "
    "                WHERE i.inhparent = c.oid) "
    "          ELSE c.relpages END DESC NULLS LAST, n.nspname, c.relname";

/* What became of a table. */
enum table_state {
	TABLE_WAITING, /* not handed out yet, or to be handed out again */
	TABLE_RUNNING,
	TABLE_DONE, /* analyzed, or skipped with a warning of its own */
};

/* One connection ANALYZE runs on. */
struct slot {
	PGconn *conn;         /* NULL once lost (or never made) */
	struct database *db;  /* the target's connection it came with, closed after (or NULL) */
	bool borrowed;        /* the restore's own connection: closed by its owner */
	PQnoticeReceiver was; /* borrowed: the receiver to give back */
	int table;            /* the table its statement analyzes, or -1 when idle */
};

/* One ANALYZE of a restored database. */
struct run {
	const struct restore_options *o;
	const struct conninfo_secrets *secrets;
	struct report *report;
	struct swap *swap; /* strategy swap: the new database; NULL: the target */
	struct aftercare_route route;
	PGresult *tables;
	int ntables;
	enum table_state *state;
	bool *lost_once; /* the table's connection was lost once already */
	int next;        /* the first table never handed out */
	int again;       /* tables before next to be handed out again (their connection lost) */
	struct slot slots[ANALYZE_MAX_CONNECTIONS];
	int nslots;
	bool cancelled;
	char lost_why[768]; /* why the last connection was lost */
};

/* table_name: table i's name, quoted. */
static const char *
table_name(const struct run *r, int i)
{
	return PQgetvalue(r->tables, i, 0);
}

/*
 * slot_setup: give connection s->conn what ANALYZE needs: statements not cut short by a
 * statement_timeout and waiting at most ANALYZE_LOCK_TIMEOUT_S for a lock, its notices routed
 * (the receiver it had in s->was); 0, or -1 with err.
 */
static int
slot_setup(struct run *r, struct slot *s, char *err, size_t errlen)
{
	char setup[128];
	PGresult *res;
	int rc = 0;

	s->was = PQsetNoticeReceiver(s->conn, aftercare_route_notice, &r->route);
	snprintf(setup, sizeof(setup), "SET statement_timeout = 0; SET lock_timeout = '%ds'",
	         ANALYZE_LOCK_TIMEOUT_S);
	res = PQexec(s->conn, setup);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		aftercare_first_line(
		    r->secrets, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(s->conn),
		    err, errlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * slot_open: into s, a new connection with the restore's session settings to the restored
 * database (slot_setup); 0, or -1 with err (then s may hold what slot_close ends).
 */
static int
slot_open(struct run *r, struct slot *s, char *err, size_t errlen)
{
	enum database_open_failure why;

	memset(s, 0, sizeof(*s));
	s->table = -1;
	if (r->swap != NULL)
		s->conn = swap_connect(r->swap, true, err, errlen);
	else if (database_open(r->o->target->conninfo, &s->db, &why, err, errlen) == 0)
		s->conn = database_conn(s->db);
	if (s->conn == NULL)
		return -1;
	return slot_setup(r, s, err, errlen);
}

/* slot_close: end a connection (the restore's own is only given its notice receiver back). */
static void
slot_close(struct slot *s)
{
	if (s->borrowed && s->conn != NULL)
		(void)PQsetNoticeReceiver(s->conn, s->was, NULL);
	else if (s->db != NULL)
		database_close(s->db);
	else if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = NULL;
	s->db = NULL;
}

/*
 * run_cancellable: send sql on conn and wait for its end, in steps of ANALYZE_POLL_MS; once the
 * cancel flag is set, ask the server to cancel it. Its last result (the caller PQclears it), or
 * NULL when it could not be sent.
 */
static PGresult *
run_cancellable(struct run *r, PGconn *conn, const char *sql)
{
	volatile sig_atomic_t *cancel = r->o->cancel;
	PGresult *res, *last = NULL;

	if (!PQsendQuery(conn, sql))
		return NULL;
	while (PQisBusy(conn)) {
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

		if (!r->cancelled && cancel != NULL && *cancel) {
			PGcancel *c = PQgetCancel(conn);
			char errbuf[256];

			if (c != NULL) {
				(void)PQcancel(c, errbuf, sizeof(errbuf));
				PQfreeCancel(c);
			}
			r->cancelled = true;
		}
		if (poll(&pfd, 1, ANALYZE_POLL_MS) < 0 && errno != EINTR)
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

/*
 * list_tables: on the first connection, the tables to analyze, into r->tables; 0, or -1 with a
 * warning in the report.
 */
static int
list_tables(struct run *r)
{
	PGresult *res = run_cancellable(r, r->slots[0].conn, tables_sql);
	char msg[768];

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		aftercare_first_line(r->secrets,
		                     res != NULL ? PQresultErrorMessage(res)
		                                 : PQerrorMessage(r->slots[0].conn),
		                     msg, sizeof(msg));
		report_warn(r->report,
		            "the restored database was not analyzed: %s; the planner has no "
		            "statistics until autovacuum (or an ANALYZE) gathers them",
		            r->cancelled ? "interrupted" : msg);
		PQclear(res);
		return -1;
	}
	r->tables = res;
	r->ntables = PQntuples(res);
	r->state = calloc((size_t)r->ntables + 1, sizeof(*r->state));
	r->lost_once = calloc((size_t)r->ntables + 1, sizeof(*r->lost_once));
	if (r->state == NULL || r->lost_once == NULL) {
		report_warn(r->report, "the restored database was not analyzed: out of memory");
		return -1;
	}
	return 0;
}

/*
 * open_more: up to restore_jobs connections in all, no more than there are tables; the first
 * that cannot be made ends the trying (a connection limit stays), and the log says why.
 */
static void
open_more(struct run *r)
{
	int want = r->o->target->restore_jobs;
	char err[MESSAGE_BYTES];

	if (want > ANALYZE_MAX_CONNECTIONS)
		want = ANALYZE_MAX_CONNECTIONS;
	if (want > r->ntables)
		want = r->ntables;
	while (r->nslots < want && (r->o->cancel == NULL || !*r->o->cancel)) {
		if (slot_open(r, &r->slots[r->nslots], err, sizeof(err)) < 0) {
			slot_close(&r->slots[r->nslots]);
			restore_say(
			    r->o,
			    "job %s: ANALYZE runs on %d connection%s, not %d: another could "
			    "not be made: %s",
			    r->report->job_id, r->nslots, r->nslots == 1 ? "" : "s", want, err);
			return;
		}
		r->nslots++;
	}
}

/* next_table: the table to hand out next (one to be handed out again first), or -1. */
static int
next_table(struct run *r)
{
	for (int i = 0; r->again > 0 && i < r->next; i++) {
		if (r->state[i] == TABLE_WAITING) {
			r->again--;
			return i;
		}
	}
	return r->next < r->ntables ? r->next++ : -1;
}

/*
 * lose: slot s's connection was lost (why): it is closed, and the table it ran goes to another
 * connection, unless that table lost one before (then it is a warning).
 */
static void
lose(struct run *r, struct slot *s, const char *why)
{
	int t = s->table;

	snprintf(r->lost_why, sizeof(r->lost_why), "%s", why);
	slot_close(s);
	s->table = -1;
	if (t < 0)
		return;
	if (r->cancelled) {
		r->state[t] = TABLE_WAITING; /* counted as left by report_left */
		return;
	}
	if (!r->lost_once[t]) {
		r->lost_once[t] = true;
		r->state[t] = TABLE_WAITING;
		r->again++;
		return;
	}
	r->state[t] = TABLE_DONE;
	report_warn(r->report,
	            "table %s was not analyzed: %s; autovacuum (or an ANALYZE) gathers its "
	            "statistics later",
	            table_name(r, t), why);
}

/* hand_out: give idle slot s the next table, if any is left. */
static void
hand_out(struct run *r, struct slot *s)
{
	char sql[600];
	char msg[768];
	int t = next_table(r);

	if (t < 0)
		return;
	snprintf(sql, sizeof(sql), "ANALYZE %s", table_name(r, t));
	s->table = t;
	r->state[t] = TABLE_RUNNING;
	if (!PQsendQuery(s->conn, sql)) {
		aftercare_first_line(r->secrets, PQerrorMessage(s->conn), msg, sizeof(msg));
		lose(r, s, msg);
	}
}

/* finish: slot s's statement has ended: judge it, and the slot is idle again (or lost). */
static void
finish(struct run *r, struct slot *s)
{
	PGresult *res, *last = NULL;
	const char *state;
	char msg[768];
	int t = s->table;

	while ((res = PQgetResult(s->conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	if (PQresultStatus(last) == PGRES_COMMAND_OK) {
		r->state[t] = TABLE_DONE;
		s->table = -1;
		PQclear(last);
		return;
	}
	aftercare_first_line(r->secrets,
	                     last != NULL ? PQresultErrorMessage(last) : PQerrorMessage(s->conn),
	                     msg, sizeof(msg));
	state = last != NULL ? PQresultErrorField(last, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(s->conn) != CONNECTION_OK || database_lost(s->conn, last)) {
		lose(r, s, msg);
	} else if (r->cancelled) {
		r->state[t] = TABLE_WAITING; /* counted as left by report_left */
		s->table = -1;
	} else if (state != NULL && strcmp(state, SQLSTATE_LOCK_NOT_AVAILABLE) == 0) {
		r->state[t] = TABLE_DONE;
		s->table = -1;
		report_warn(r->report,
		            "table %s was not analyzed: another session held a lock on it for more "
		            "than %d s; autovacuum (or an ANALYZE) gathers its statistics later",
		            table_name(r, t), ANALYZE_LOCK_TIMEOUT_S);
	} else {
		r->state[t] = TABLE_DONE;
		s->table = -1;
		report_warn(r->report,
		            "table %s was not analyzed: %s; autovacuum (or an ANALYZE) gathers its "
		            "statistics later",
		            table_name(r, t), msg);
	}
	PQclear(last);
}

/* cancel_all: the cancel flag is set: ask the server to cancel every statement running. */
static void
cancel_all(struct run *r)
{
	char errbuf[256];

	r->cancelled = true;
	for (int i = 0; i < r->nslots; i++) {
		PGcancel *c;

		if (r->slots[i].conn == NULL || r->slots[i].table < 0)
			continue;
		if ((c = PQgetCancel(r->slots[i].conn)) != NULL) {
			(void)PQcancel(c, errbuf, sizeof(errbuf));
			PQfreeCancel(c);
		}
	}
}

/*
 * drive: hand the tables out to the connections and wait for their statements in one poll(),
 * until every table is done, the cancel flag was set and the running statements ended, or no
 * connection is left.
 */
static void
drive(struct run *r)
{
	struct pollfd pfd[ANALYZE_MAX_CONNECTIONS];
	int who[ANALYZE_MAX_CONNECTIONS];

	for (;;) {
		int n = 0;

		if (!r->cancelled && r->o->cancel != NULL && *r->o->cancel)
			cancel_all(r);
		for (int i = 0; i < r->nslots && !r->cancelled; i++)
			if (r->slots[i].conn != NULL && r->slots[i].table < 0)
				hand_out(r, &r->slots[i]);
		for (int i = 0; i < r->nslots; i++) {
			if (r->slots[i].conn == NULL || r->slots[i].table < 0)
				continue;
			pfd[n] =
			    (struct pollfd){.fd = PQsocket(r->slots[i].conn), .events = POLLIN};
			who[n++] = i;
		}
		if (n == 0)
			return;
		if (poll(pfd, (nfds_t)n, ANALYZE_POLL_MS) < 0 && errno != EINTR)
			return; /* cannot wait: what is left is counted as not analyzed */
		for (int k = 0; k < n; k++) {
			struct slot *s = &r->slots[who[k]];

			if (pfd[k].revents == 0)
				continue;
			/* A broken connection: finish() reads its error. */
			if (!PQconsumeInput(s->conn) || !PQisBusy(s->conn))
				finish(r, s);
		}
	}
}

/* report_left: the warning for the tables neither analyzed nor warned about one by one. */
static void
report_left(struct run *r)
{
	int left = 0, first = -1;

	for (int i = 0; i < r->ntables; i++) {
		if (r->state[i] == TABLE_DONE)
			continue;
		if (first < 0)
			first = i;
		left++;
	}
	if (left == 0)
		return;
	if (r->cancelled || (r->o->cancel != NULL && *r->o->cancel))
		report_warn(
		    r->report,
		    "ANALYZE was interrupted: %d of the restored database's %d tables were "
		    "not analyzed (%s among them); autovacuum (or an ANALYZE) gathers their "
		    "statistics later",
		    left, r->ntables, table_name(r, first));
	else
		report_warn(
		    r->report,
		    "ANALYZE stopped: %d of the restored database's %d tables were not "
		    "analyzed (%s among them): %s; autovacuum (or an ANALYZE) gathers their "
		    "statistics later",
		    left, r->ntables, table_name(r, first),
		    r->lost_why[0] != '\0' ? r->lost_why : "no connection was left");
}

/* analyze_restored: ANALYZE the restored database (analyze.h). */
void
analyze_restored(const struct restore_options *o, struct database *db, struct swap *swap,
                 struct report *report)
{
	struct run r = {.o = o, .report = report, .swap = swap};
	char err[MESSAGE_BYTES];
	double started = restore_now();

	r.secrets = swap != NULL ? swap_secrets(swap) : database_secrets(db);
	r.route = (struct aftercare_route){o, r.secrets, report->job_id, "ANALYZE"};
	restore_say(o, "job %s: analyzing the restored database", report->job_id);
	if (swap == NULL) {
		/* The restore's own connection first. */
		r.slots[0] =
		    (struct slot){.conn = database_conn(db), .borrowed = true, .table = -1};
		r.nslots = 1;
		if (slot_setup(&r, &r.slots[0], err, sizeof(err)) < 0) {
			report_warn(report, "the restored database could not be analyzed: %s", err);
			goto done;
		}
	} else {
		r.nslots = 1;
		if (slot_open(&r, &r.slots[0], err, sizeof(err)) < 0) {
			report_warn(report, "the restored database could not be analyzed: %s", err);
			goto done;
		}
	}
	if (list_tables(&r) < 0)
		goto done;
	open_more(&r);
	drive(&r);
	report_left(&r);
done:
	for (int i = 0; i < r.nslots; i++)
		slot_close(&r.slots[i]);
	PQclear(r.tables);
	free(r.state);
	free(r.lost_once);
	report->analyze_s = restore_now() - started;
}
