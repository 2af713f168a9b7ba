/*
 * database.h - the target database: checks, and an all-or-nothing restore.
 *
 * The restore is one transaction on one connection of ours: empty the database
 * (target_empty.h), then run what pg_restore makes of the dump (`pg_restore -1 -O -x -f -`),
 * statement by statement and COPY by COPY. Nothing is visible to anyone until
 * database_commit(); any failure, a lost connection or a killed worker rolls it all back.
 * Errors are attributed to the TOC entry whose SQL failed.
 */
#ifndef DATABASE_H
#define DATABASE_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "conninfo.h"
#include "dump.h"
#include "report.h"

struct database;

/* How database_open failed: the database does not exist (a refusal), or anything else. */
enum database_open_failure {
	DATABASE_OPEN_MISSING,
	DATABASE_OPEN_ERROR,
};

/*
 * database_open: connect with conninfo and give the session the settings the restore relies
 * on, whatever the server, database or role defaults say; 0, or -1 with err and *why. No
 * message of this module ever repeats any part of a password from conninfo.
 */
int database_open(const char *conninfo, struct database **out, enum database_open_failure *why,
                  char *err, size_t errlen);

/*
 * database_session_sql: the one query (SELECT set_config(...), ...) that gives a session on a
 * server of server_version (server_version_num) the settings the restore relies on; 0, or -1
 * when it does not fit len. The swap strategy gives its own sessions the same.
 */
int database_session_sql(int server_version, char *sql, size_t len);

/*
 * database_session_options: the same settings as libpq's options ("-c name=value ...", spaces
 * and backslashes escaped), for a program's PGOPTIONS; 0, or -1 when they do not fit len.
 */
int database_session_options(int server_version, char *buf, size_t len);

/*
 * database_script_bytes: how much of pg_restore's script database_restore has executed so
 * far (about the dump's decompressed size when done); any thread may ask, for progress.
 */
uint64_t database_script_bytes(const struct database *db);

/* database_conn: the connection, for the checks after the restore (aftercare.h). */
PGconn *database_conn(struct database *db);

/* database_secrets: what must never appear in a message about the connection. */
const struct conninfo_secrets *database_secrets(const struct database *db);

/* database_name: the connected database's name. */
const char *database_name(const struct database *db);

/*
 * database_end_orphans: terminate the sessions of dead restore-worker processes on the
 * database (application_name "restore-worker") and wait up to wait_seconds for them to go.
 * Only a caller that holds the target's lock may do this: then no live worker uses the target,
 * and such a session is the server side of one that was killed while its statement ran.
 */
void database_end_orphans(struct database *db, int wait_seconds);

/*
 * database_check_alone: 0 when the restore may begin: no other session is connected to the
 * database, and it holds nothing that the restore must remove and the role may not drop
 * (target_empty.h). Otherwise -1 with a sentence giving how many sessions and their
 * application names, or naming what the role may not drop. Changes nothing.
 */
int database_check_alone(struct database *db, char *err, size_t errlen);

/*
 * database_wait_alone: wait up to wait_seconds until no other session is connected to the
 * database (our own pg_dump's, ending); the restore's own check says what is left.
 */
void database_wait_alone(struct database *db, int wait_seconds);

/*
 * database_check_locks: 0 when restoring dump fits the server's lock table in one
 * transaction (lock_budget.h); -1 with err giving the figures and the fix. Changes nothing.
 */
int database_check_locks(struct database *db, const struct dump_info *dump, char *err,
                         size_t errlen);

/*
 * database_restore: in a new transaction, empty the database (target_empty.h) and restore
 * dump_path with pg_restore, only the entries list_path lists when it is not NULL (a TOC list,
 * toc_list.h). Leaves the transaction open on success (0); on failure (-1) rolls it back and
 * fills report->database.errors and err. Returns -2 when the dump's own SQL ended the
 * transaction: part of it may then be committed. cancel, when set by a signal handler, makes
 * it stop and roll back.
 */
int database_restore(struct database *db, const char *pg_restore, const char *dump_path,
                     const char *list_path, struct report *report, volatile sig_atomic_t *cancel,
                     char *err, size_t errlen);

/* How long a COMMIT whose reply was lost waits for the server to answer whether it committed. */
#define DATABASE_OUTCOME_WAIT_SECONDS 60

/*
 * database_ask_outcome: database_xact_outcome on a connection of its own, made with conninfo
 * (its database replaced by dbname when that is not NULL: with strategy swap the target's
 * database may be locked by the very transaction asked about), for a process that did not
 * send the COMMIT.
 */
enum database_outcome database_ask_outcome(const char *conninfo, const char *dbname,
                                           const char *xact_id, int pid, int wait_seconds,
                                           char *why, size_t whylen);

/* connect_timeout (seconds) of the engine's connections, unless the connection string sets one. */
#define DATABASE_CONNECT_TIMEOUT "10"

/* What became of a transaction whose COMMIT was sent (database_xact_outcome). */
enum database_outcome {
	DATABASE_COMMITTED,
	DATABASE_ROLLED_BACK,
	DATABASE_OUTCOME_UNKNOWN, /* the server could not be asked, or cannot tell */
};

/*
 * database_lost: did the connection fail (closed, the server gone), rather than a statement?
 * res (may be NULL) is the failed result: SQLSTATE classes 08 and 57P also mean it.
 */
bool database_lost(PGconn *conn, const PGresult *res);

/*
 * database_commit_point: in the open restore transaction, what a later process needs to ask
 * whether it committed: its transaction id (txid_current(), as text) and server process id.
 * 0, or -1 with err (the transaction is then rolled back).
 */
int database_commit_point(struct database *db, char *xact_id, size_t xact_len, int *pid, char *err,
                          size_t errlen);

/*
 * database_commit: commit the restore. 0 when committed; 1 when committed although the
 * server's reply was lost (err says so: a warning); -1 with err when not committed (the
 * target is as it was); -2 with err when the reply was lost and the server could not be
 * asked whether it committed within DATABASE_OUTCOME_WAIT_SECONDS (or cancel was set): the
 * database holds the backup or is as it was. After a lost reply the connection is made again.
 */
int database_commit(struct database *db, volatile sig_atomic_t *cancel, char *err, size_t errlen);

/*
 * database_xact_outcome: ask the server on conn whether transaction xact_id (txid_current()
 * as text) committed. One still in progress in server process pid has lost its client (its
 * worker killed, its reply lost): that process is ended (pg_terminate_backend; what it
 * committed stays), and the server asked again, for up to wait_seconds or until cancel is
 * set. DATABASE_OUTCOME_UNKNOWN with why when it cannot tell.
 */
enum database_outcome database_xact_outcome(PGconn *conn, const char *xact_id, int pid,
                                            int wait_seconds, volatile sig_atomic_t *cancel,
                                            char *why, size_t whylen);

/* database_rollback: abandon an open restore transaction, if any. */
void database_rollback(struct database *db);

/* database_close: disconnect (rolling back anything still open); NULL is fine. */
void database_close(struct database *db);

/*
 * database_cancel_running: ask the server to cancel the statement in progress on the
 * connection doing a restore, if any. Async-signal-safe: meant for signal handlers.
 */
void database_cancel_running(void);

#endif
