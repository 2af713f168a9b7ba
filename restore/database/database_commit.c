/*
 * database_commit.c - the restore transaction's COMMIT, and what became of it when the
 * server's reply was lost (see database.h).
 *
 * A COMMIT whose reply never came (the server crashed or restarted, the backend was
 * terminated, the connection dropped) may have committed all the same: with synchronous
 * replication, a backend terminated while it waits for the standby has committed locally. So a
 * lost reply is never taken for a rollback: the transaction's id is read before the COMMIT is
 * sent, and after a lost reply the server is connected to again and asked (txid_status()).
 * Only its answer says committed or rolled back; where it cannot be asked, the outcome is
 * unknown, and the caller must keep every copy.
 *
 * Limits: txid_status() needs PostgreSQL 10; an older server cannot be asked.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conninfo.h"
#include "database.h"
#include "database_parts.h"
#include "io.h"
#include "progress.h"

bool
database_lost(PGconn *conn, const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	PGresult *probe;
	bool alive;

	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD ||
	    (state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)))
		return true;
	if (res != NULL)
		return false;
	/*
	 * Without the failed result (a check kept it to itself): a server that ended the session
	 * (FATAL, a crash) does not always leave libpq's status bad yet; a statement tells.
	 */
	switch (PQtransactionStatus(conn)) {
	case PQTRANS_UNKNOWN:
		return true;
	case PQTRANS_ACTIVE:
	case PQTRANS_INERROR:
		return false;
	default:
		break;
	}
	probe = PQexec(conn, "SELECT 1");
	alive = PQresultStatus(probe) == PGRES_TUPLES_OK;
	PQclear(probe);
	return !alive;
}

int
database_commit_point(struct database *db, char *xact_id, size_t xact_len, int *pid, char *err,
                      size_t errlen)
{
	PGresult *res = PQexec(db->conn, "SELECT pg_catalog.txid_current()::text, "
	                                 "pg_catalog.pg_backend_pid()");
	char msg[512];

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		database_result_message(res, db, msg, sizeof(msg));
		(void)io_error(err, errlen, "cannot read the restore transaction's id: %s", msg);
		PQclear(res);
		database_rollback(db);
		return -1;
	}
	snprintf(db->xact_id, sizeof(db->xact_id), "%s", PQgetvalue(res, 0, 0));
	db->backend_pid = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	snprintf(xact_id, xact_len, "%s", db->xact_id);
	*pid = db->backend_pid;
	return 0;
}

/* ignore_notices: what the server says while it is asked is not the answer. */
static void
ignore_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* outcome_pause: wait a tenth of a second; false when cancel is set. */
static bool
outcome_pause(volatile sig_atomic_t *cancel)
{
	if (cancel != NULL && *cancel)
		return false;
	(void)usleep(100 * 1000);
	return cancel == NULL || !*cancel;
}

enum database_outcome
database_xact_outcome(PGconn *conn, const char *xact_id, int pid, int wait_seconds,
                      volatile sig_atomic_t *cancel, char *why, size_t whylen)
{
	static const char status_sql[] = "SELECT pg_catalog.txid_status($1::bigint)";
	/* Only the process still running that very transaction (its xid is the txid's low part). */
	static const char end_sql[] =
	    "SELECT pg_catalog.pg_terminate_backend(a.pid) FROM pg_catalog.pg_stat_activity a "
	    "WHERE a.pid = $2::int AND a.backend_xid::text::bigint = $1::bigint % 4294967296";
	char pidtext[16];
	const char *params[] = {xact_id, pidtext};

	snprintf(pidtext, sizeof(pidtext), "%d", pid);
	if (xact_id == NULL || xact_id[0] == '\0') {
		snprintf(why, whylen, "the transaction's id was not recorded");
		return DATABASE_OUTCOME_UNKNOWN;
	}
	for (int i = 0; i <= wait_seconds * 10; i++) {
		PGresult *res = PQexecParams(conn, status_sql, 1, NULL, params, NULL, NULL, 0);
		const char *status;

		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			database_first_line(PQresultErrorMessage(res), why, whylen);
			PQclear(res);
			return DATABASE_OUTCOME_UNKNOWN;
		}
		status = PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0);
		if (strcmp(status, "committed") == 0 || strcmp(status, "aborted") == 0) {
			bool committed = status[0] == 'c';

			PQclear(res);
			return committed ? DATABASE_COMMITTED : DATABASE_ROLLED_BACK;
		}
		if (strcmp(status, "in progress") != 0) {
			snprintf(why, whylen, "the server no longer knows transaction %s", xact_id);
			PQclear(res);
			return DATABASE_OUTCOME_UNKNOWN;
		}
		PQclear(res);
		/* Its process lost its client; ending it keeps what it committed. */
		PQclear(PQexecParams(conn, end_sql, 2, NULL, params, NULL, NULL, 0));
		if (!outcome_pause(cancel))
			break;
	}
	snprintf(why, whylen, "transaction %s was still in progress", xact_id);
	return DATABASE_OUTCOME_UNKNOWN;
}

/*
 * commit_lost: the COMMIT's reply was lost: connect again (the server may be restarting) and
 * ask it what became of the transaction; database_commit's return values.
 */
static int
commit_lost(struct database *db, volatile sig_atomic_t *cancel, const char *lost, char *err,
            size_t errlen)
{
	enum database_open_failure why;
	char msg[512] = "";
	double deadline = restore_now() + DATABASE_OUTCOME_WAIT_SECONDS, left;

	/* Each try is bounded by connect_timeout; the tries by the deadline. */
	while (database_session_connect(db, &why, msg, sizeof(msg)) < 0 &&
	       restore_now() < deadline && outcome_pause(cancel))
		;
	left = deadline - restore_now();
	if (PQstatus(db->conn) == CONNECTION_OK) {
		switch (database_xact_outcome(db->conn, db->xact_id, db->backend_pid,
		                              left > 1 ? (int)left : 1, cancel, msg, sizeof(msg))) {
		case DATABASE_COMMITTED:
			(void)io_error(
			    err, errlen,
			    "the server's reply to the COMMIT of the restore was lost (%s); "
			    "asked again, the server says transaction %s committed",
			    lost, db->xact_id);
			return 1;
		case DATABASE_ROLLED_BACK:
			(void)io_error(
			    err, errlen,
			    "cannot commit the restore: %s; asked again, the server says "
			    "transaction %s was rolled back",
			    lost, db->xact_id);
			return -1;
		case DATABASE_OUTCOME_UNKNOWN:
			break;
		}
	}
	conninfo_scrub(&db->secrets, msg, sizeof(msg));
	(void)io_error(
	    err, errlen,
	    "the server's reply to the COMMIT of the restore was lost (%s) and the server "
	    "could not tell whether transaction %s committed (%s): database %s holds "
	    "the backup or is as it was",
	    lost, db->xact_id, msg[0] != '\0' ? msg : "interrupted", db->name);
	return -2;
}

int
database_commit(struct database *db, volatile sig_atomic_t *cancel, char *err, size_t errlen)
{
	PGresult *res;
	char msg[512];
	int pid;

	if (db->xact_id[0] == '\0' &&
	    database_commit_point(db, msg, sizeof(msg), &pid, err, errlen) < 0)
		return -1;
	/* A cancel now cannot undo a commit the server began: it ends only a wait for standbys. */
	res = PQexec(db->conn, "COMMIT");
	database_forget_cancel();
	db->in_transaction = false;
	if (PQresultStatus(res) == PGRES_COMMAND_OK &&
	    PQtransactionStatus(db->conn) == PQTRANS_IDLE &&
	    strcmp(PQcmdStatus(res), "COMMIT") == 0) {
		PQclear(res);
		return 0;
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK &&
	    PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
		/* COMMIT of a transaction that had failed: the server rolled it back. */
		(void)io_error(err, errlen,
		               "cannot commit the restore: the server rolled it back (%s)",
		               PQcmdStatus(res));
		PQclear(res);
		return -1;
	}
	database_result_message(res, db, msg, sizeof(msg));
	if (database_lost(db->conn, res) || PQresultStatus(res) == PGRES_COMMAND_OK) {
		/* The server may have committed it all the same: ask it. */
		PQclear(res);
		return commit_lost(db, cancel, msg, err, errlen);
	}
	PQclear(res);
	(void)io_error(err, errlen, "cannot commit the restore: %s", msg);
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		PQclear(PQexec(db->conn, "ROLLBACK"));
	return -1;
}

enum database_outcome
database_ask_outcome(const char *conninfo, const char *dbname, const char *xact_id, int pid,
                     int wait_seconds, char *why, size_t whylen)
{
	static const char *const keys[] = {"connect_timeout", "dbname", "fallback_application_name",
	                                   "dbname", NULL};
	const char *values[] = {DATABASE_CONNECT_TIMEOUT, conninfo, "restore-worker", dbname, NULL};
	struct conninfo_secrets secrets;
	enum database_outcome outcome = DATABASE_OUTCOME_UNKNOWN;
	PGconn *conn;

	if (conninfo_secrets_init(&secrets, conninfo) < 0) {
		snprintf(why, whylen, "out of memory");
		return DATABASE_OUTCOME_UNKNOWN;
	}
	/* A second dbname is a plain name: it replaces the connection string's. */
	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";

		snprintf(why, whylen, "cannot connect to the server: %.*s", (int)strcspn(m, "\n"),
		         m);
	} else {
		PQsetNoticeProcessor(conn, ignore_notices, NULL);
		outcome =
		    database_xact_outcome(conn, xact_id, pid, wait_seconds, NULL, why, whylen);
	}
	conninfo_scrub(&secrets, why, whylen);
	PQfinish(conn);
	conninfo_secrets_free(&secrets);
	return outcome;
}
