/*
 * database.c - the all-or-nothing database restore (see database.h): the session.
 *
 * Why not `pg_restore --single-transaction -d`: pg_restore's transaction cannot also drop
 * what the target holds that the backup lacks, and doing that first in a transaction of our
 * own would make the restore two transactions. So pg_restore only turns the dump into SQL
 * (-f -) and executor.c executes that SQL on this file's connection, inside one transaction
 * that begins by emptying the target. This file opens that session, checks that the restore
 * may begin (nobody else connected, the lock table, what the role may not drop), runs the
 * transaction's order (begin, check again, empty, execute, commit or roll back) and ends
 * what killed workers left running.
 *
 * The session gets its settings first (session_settings below): what the SQL means must not
 * depend on the database's, the role's or the server's defaults. Every message from libpq or
 * the server passes through conninfo_scrub(): libpq quotes what it read from the connection
 * string, and that can hold pieces of a password. A connection failure is told in a sentence
 * of our own naming the database, user, host and port as libpq read them.
 *
 * Limits: a dump that itself COMMITs cannot be made atomic; that is detected and reported as
 * partial.
 */
#include "database.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conninfo.h"
#include "database_parts.h"
#include "executor.h"
#include "io.h"
#include "lock_budget.h"
#include "target_empty.h"

#define SESSION_CHECK_SQL                                                                          \
	"SELECT count(*), coalesce(string_agg(DISTINCT coalesce(nullif(application_name, ''), "    \
	"'(none)'), ', '), '') FROM pg_catalog.pg_stat_activity "                                  \
	"WHERE datname = pg_catalog.current_database() AND pid <> pg_catalog.pg_backend_pid() "    \
	"AND backend_type = 'client backend'"

/*
 * The session's settings. The restore's SQL, and pg_restore's, mean what they say only under
 * these, and the database, the role (ALTER DATABASE/ROLE ... SET), the connection string's
 * options or postgresql.conf may say otherwise: each is set for the session, which outranks
 * them all. pg_restore's script sets some of them again, after the emptying.
 * session_replication_role and lo_compat_privileges are left alone: only a superuser may set
 * them, and neither changes what the restore makes (triggers do not fire on COPY data that
 * pg_dump took consistent, and large objects are restored by their new owner).
 */
static const struct session_setting {
	const char *name;
	const char *value;
	int since; /* the first server version (server_version_num) that has it */
} session_settings[] = {
    /* One long transaction, and an idle wait while the archive is read: nothing may end it. */
    {"statement_timeout", "0", 0},
    {"lock_timeout", "0", 90300},
    {"idle_in_transaction_session_timeout", "0", 90600},
    {"idle_session_timeout", "0", 140000},
    {"transaction_timeout", "0", 170000},
    /* How SQL text is read: a backslash in a literal is a plain character, any name fits. */
    {"standard_conforming_strings", "on", 0},
    {"backslash_quote", "safe_encoding", 0},
    {"client_encoding", "UTF8", 0},
    {"search_path", "pg_catalog, pg_temp", 0},
    {"check_function_bodies", "off", 0},
    {"transform_null_equals", "off", 0},
    /* How data is read: NULL in an array is a null, dates and intervals as pg_dump wrote them. */
    {"array_nulls", "on", 0},
    {"DateStyle", "ISO, MDY", 0},
    {"IntervalStyle", "postgres", 80400},
    {"xmloption", "content", 0},
    /* What is made: where, how, and that every row is loaded as it was dumped. */
    {"default_tablespace", "", 0},
    {"default_table_access_method", "heap", 120000},
    {"row_security", "off", 90500},
    /* The transaction: read-write, read committed; committed durably before files swap. */
    {"default_transaction_read_only", "off", 0},
    {"default_transaction_isolation", "read committed", 0},
    {"default_transaction_deferrable", "off", 0},
    {"synchronous_commit", "on", 0},
    {"exit_on_error", "off", 0},
    {"client_min_messages", "warning", 0},
    /* Orphaned sessions of a killed worker are found by this name (database_end_orphans). */
    {"application_name", "restore-worker", 0},
};

/* ignore_notice: server notices (WARNING, NOTICE) are not the restore's outcome. */
static void
ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* The connection being restored, for database_cancel_running() in a signal handler. */
static PGcancel *volatile running_cancel;

/* connection_target: "database D as user U on host H port P", as libpq read them. */
static void
connection_target(struct database *db, char *buf, size_t buflen)
{
	const char *name = PQdb(db->conn), *user = PQuser(db->conn);
	const char *host = PQhost(db->conn), *port = PQport(db->conn);

	snprintf(buf, buflen, "database %s as user %s on host %s port %s",
	         name != NULL && name[0] != '\0' ? name : "(none)",
	         user != NULL && user[0] != '\0' ? user : "(none)",
	         host != NULL && host[0] != '\0' ? host : "(default)",
	         port != NULL && port[0] != '\0' ? port : "(default)");
	conninfo_scrub(&db->secrets, buf, buflen);
}

/* connect_failed: err for a connection that failed; *why tells a missing database apart. */
static void
connect_failed(struct database *db, enum database_open_failure *why, char *err, size_t errlen)
{
	const char *raw = PQerrorMessage(db->conn);
	char msg[512], target[768];

	database_connection_message(db, msg, sizeof(msg));
	connection_target(db, target, sizeof(target));
	if (strstr(raw, "does not exist") != NULL && strstr(raw, "database") != NULL) {
		*why = DATABASE_OPEN_MISSING;
		(void)io_error(err, errlen,
		               "the target database does not exist (%s: %s); restore-worker "
		               "restores only into an existing database and never creates one",
		               target, msg);
		return;
	}
	(void)io_error(err, errlen, "cannot connect to the target %s: %s%s", target, msg,
	               db->secrets.ambiguous
	                   ? " (libpq reads the connection string's user information otherwise "
	                     "than it looks: percent-encode any '@', '/', ':', '?' or '#' in the "
	                     "password)"
	                   : "");
}

int
database_session_sql(int server_version, char *sql, size_t len)
{
	size_t n = (size_t)snprintf(sql, len, "SELECT 1");

	for (size_t i = 0; i < sizeof(session_settings) / sizeof(session_settings[0]); i++) {
		const struct session_setting *st = &session_settings[i];

		if (server_version < st->since || n >= len)
			continue;
		n +=
		    (size_t)snprintf(sql + n, len - n, ", pg_catalog.set_config('%s', '%s', false)",
		                     st->name, st->value);
	}
	return n < len ? 0 : -1;
}

int
database_session_options(int server_version, char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(session_settings) / sizeof(session_settings[0]); i++) {
		const struct session_setting *st = &session_settings[i];
		char one[256];
		size_t k;

		if (server_version < st->since)
			continue;
		k = (size_t)snprintf(one, sizeof(one), "%s-c %s=", n == 0 ? "" : " ", st->name);
		for (const char *c = st->value; *c != '\0' && k + 2 < sizeof(one); c++) {
			if (*c == ' ' || *c == '\\')
				one[k++] = '\\'; /* libpq's options split at spaces */
			one[k++] = *c;
		}
		if (n + k >= len)
			return -1;
		memcpy(buf + n, one, k);
		n += k;
	}
	if (n >= len)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * setup_statement: run one statement of the session's setup; *timed_out says whether a
 * statement_timeout of the database or role cancelled it (it applies from the first statement
 * on, and a busy server can reach it).
 */
static int
setup_statement(struct database *db, const char *sql, bool *timed_out, char *err, size_t errlen)
{
	PGresult *res = PQexec(db->conn, sql);
	const char *state;
	char msg[512];

	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		PQclear(res);
		return 0;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	*timed_out = state != NULL && strcmp(state, "57014") == 0;
	database_result_message(res, db, msg, sizeof(msg));
	(void)io_error(err, errlen, "cannot set up the session on the target database %s: %s",
	               db->name, msg);
	PQclear(res);
	return -1;
}

/*
 * session_setup: give the session the settings the restore relies on (session_settings).
 * *timed_out: see setup_statement. A short statement_timeout may also fire just as the
 * setup ends: the server then cancels the next statement instead. A trivial one takes that
 * stale cancel here, where it means "try again", not in the restore's first real statement.
 */
static int
session_setup(struct database *db, bool *timed_out, char *err, size_t errlen)
{
	char sql[4096];

	*timed_out = false;
	if (database_session_sql(PQserverVersion(db->conn), sql, sizeof(sql)) < 0) {
		(void)io_error(err, errlen, "the session's settings do not fit their buffer");
		return -1;
	}
	if (setup_statement(db, sql, timed_out, err, errlen) < 0)
		return -1;
	return setup_statement(db, "SELECT 1", timed_out, err, errlen);
}

/*
 * database_session_connect: connect db with its conninfo and set up the session (see there).
 * A setup cancelled by a short statement_timeout is tried again on a new connection (a few
 * times; each is a fresh chance): with exit_on_error the cancel ends the session too.
 */
int
database_session_connect(struct database *db, enum database_open_failure *why, char *err,
                         size_t errlen)
{
	/* The connection string's own connect_timeout, if it has one, outranks this default. */
	static const char *const keys[] = {"connect_timeout", "dbname", "fallback_application_name",
	                                   NULL};
	const char *values[] = {DATABASE_CONNECT_TIMEOUT, db->conninfo, "restore-worker", NULL};
	bool timed_out = true;
	int rc = -1;

	*why = DATABASE_OPEN_ERROR;
	for (int attempt = 0; attempt < 5 && rc < 0 && timed_out; attempt++) {
		if (db->conn != NULL)
			PQfinish(db->conn);
		db->conn = PQconnectdbParams(keys, values, 1);
		if (db->conn == NULL)
			return io_error(err, errlen,
			                "cannot connect to the target database: out of memory");
		if (PQstatus(db->conn) != CONNECTION_OK) {
			connect_failed(db, why, err, errlen);
			return -1;
		}
		snprintf(db->name, sizeof(db->name), "%s", PQdb(db->conn));
		conninfo_scrub(&db->secrets, db->name, sizeof(db->name));
		PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
		rc = session_setup(db, &timed_out, err, errlen);
	}
	return rc;
}

int
database_open(const char *conninfo, struct database **out, enum database_open_failure *why,
              char *err, size_t errlen)
{
	struct database *db;

	*out = NULL;
	*why = DATABASE_OPEN_ERROR;
	db = calloc(1, sizeof(*db));
	if (db == NULL || (db->conninfo = strdup(conninfo)) == NULL) {
		free(db);
		(void)io_error(err, errlen, "out of memory");
		return -1;
	}
	/* libpq's own message would quote the string, and with it perhaps its password. */
	if (conninfo_secrets_init(&db->secrets, conninfo) < 0) {
		(void)io_error(
		    err, errlen,
		    "cannot connect to the target database: its connection string is "
		    "malformed (libpq cannot parse it; it is not shown, as it may hold a "
		    "password)");
		database_close(db);
		return -1;
	}
	if (database_session_connect(db, why, err, errlen) < 0) {
		database_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

const char *
database_name(const struct database *db)
{
	return db->name;
}

int
database_check_alone(struct database *db, char *err, size_t errlen)
{
	PGresult *res = PQexec(db->conn, SESSION_CHECK_SQL);
	char msg[512];
	long count;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		database_result_message(res, db, msg, sizeof(msg));
		(void)io_error(err, errlen, "cannot list the sessions on database %s: %s", db->name,
		               msg);
		PQclear(res);
		return -1;
	}
	count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (count > 0) {
		(void)io_error(
		    err, errlen,
		    "%ld other session%s connected to database %s (application_name: %s); "
		    "stop the application first",
		    count, count == 1 ? " is" : "s are", db->name, PQgetvalue(res, 0, 1));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	/* What the role could not empty refuses the restore now, before anything changes. */
	if (target_empty_check(db->conn, err, errlen) < 0) {
		conninfo_scrub(&db->secrets, err, errlen);
		return -1;
	}
	return 0;
}

void
database_wait_alone(struct database *db, int wait_seconds)
{
	for (int i = 0; i < wait_seconds * 10; i++) {
		PGresult *res = PQexec(db->conn, SESSION_CHECK_SQL);
		bool alone = PQresultStatus(res) == PGRES_TUPLES_OK &&
		             strtol(PQgetvalue(res, 0, 0), NULL, 10) == 0;

		PQclear(res);
		if (alone)
			return;
		(void)usleep(100 * 1000);
	}
}

void
database_end_orphans(struct database *db, int wait_seconds)
{
	static const char sessions[] =
	    "FROM pg_catalog.pg_stat_activity WHERE datname = pg_catalog.current_database() "
	    "AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend' "
	    "AND application_name = 'restore-worker'";
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_terminate_backend(pid) %s", sessions);
	PQclear(PQexec(db->conn, sql)); /* without the right to, the check below refuses */
	snprintf(sql, sizeof(sql), "SELECT count(*) %s", sessions);
	for (int i = 0; i < wait_seconds * 10; i++) {
		PGresult *res = PQexec(db->conn, sql);
		bool gone = PQresultStatus(res) != PGRES_TUPLES_OK ||
		            strcmp(PQgetvalue(res, 0, 0), "0") == 0;

		PQclear(res);
		if (gone)
			return;
		usleep(100 * 1000);
	}
}

/* exec_simple: run SQL that returns no rows we need; 0 or -1 with err. */
static int
exec_simple(struct database *db, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(db->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	char msg[512];

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		database_result_message(res, db, msg, sizeof(msg));
		(void)io_error(err, errlen, "cannot %s: %s", what, msg);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
database_restore(struct database *db, const char *pg_restore, const char *dump_path,
                 const char *list_path, struct report *report, volatile sig_atomic_t *cancel,
                 char *err, size_t errlen)
{
	bool ended_transaction = false;
	int rc = -1;

	if (exec_simple(db, "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE",
	                "begin the restore transaction", err, errlen) < 0)
		goto done;
	db->in_transaction = true;
	running_cancel = PQgetCancel(db->conn);
	/* Checked again now that it counts: nobody may use the database while it changes. */
	if (database_check_alone(db, err, errlen) < 0) {
		report_part_error(&report->database, NULL, "%s", err);
		goto done;
	}
	if (target_empty(db->conn, err, errlen) < 0) {
		conninfo_scrub(&db->secrets, err, errlen);
		report_part_error(&report->database, "(emptying the target)", "%s", err);
		goto done;
	}
	if (executor_run(db, pg_restore, dump_path, list_path, report, cancel, &ended_transaction,
	                 err, errlen) < 0) {
		if (ended_transaction)
			rc = -2;
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		database_rollback(db);
	return rc;
}

int
database_check_locks(struct database *db, const struct dump_info *dump, char *err, size_t errlen)
{
	if (lock_budget_check(db->conn, dump, err, errlen) < 0) {
		conninfo_scrub(&db->secrets, err, errlen);
		return -1;
	}
	return 0;
}

/* database_forget_cancel: drop the cancel handle, first hiding it from signal handlers. */
void
database_forget_cancel(void)
{
	PGcancel *c = running_cancel;

	running_cancel = NULL;
	if (c != NULL)
		PQfreeCancel(c);
}

uint64_t
database_script_bytes(const struct database *db)
{
	return __atomic_load_n(&db->script_bytes, __ATOMIC_RELAXED);
}

PGconn *
database_conn(struct database *db)
{
	return db->conn;
}

const struct conninfo_secrets *
database_secrets(const struct database *db)
{
	return &db->secrets;
}

void
database_rollback(struct database *db)
{
	PGresult *res;

	database_forget_cancel();
	if (!db->in_transaction)
		return;
	db->in_transaction = false;
	res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
}

void
database_close(struct database *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL) {
		database_rollback(db);
		PQfinish(db->conn);
	}
	conninfo_secrets_free(&db->secrets);
	free(db->conninfo);
	free(db);
}

void
database_cancel_running(void)
{
	PGcancel *c = running_cancel;
	char errbuf[256];

	if (c != NULL)
		(void)PQcancel(c, errbuf, sizeof(errbuf));
}
