/*
 * database_parts.h - what the database restore's files share (not for the program): the
 * session (struct database) that database.c opens (its settings, the checks, the
 * transaction, the orphans), database_commit.c commits and the executor (executor.h) runs
 * pg_restore's script on, and its messages (database_message.c).
 */
#ifndef DATABASE_PARTS_H
#define DATABASE_PARTS_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conninfo.h"
#include "database.h"

struct database {
	PGconn *conn;
	char *conninfo; /* kept to connect again after a lost COMMIT reply */
	bool in_transaction;
	char xact_id[24]; /* the open transaction's txid_current(), once asked; "" before */
	int backend_pid;  /* the server process running it */
	struct conninfo_secrets secrets; /* masked in every message from libpq or the server */
	char name[256];                  /* the database's name, as messages may show it */
	uint64_t script_bytes; /* of pg_restore's script, executed (atomic: read for progress) */
};

/*
 * database_session_connect: (re)connect db with its conninfo and give the session the settings
 * the restore relies on; 0, or -1 with err and *why.
 */
int database_session_connect(struct database *db, enum database_open_failure *why, char *err,
                             size_t errlen);

/* database_forget_cancel: drop the cancel handle, first hiding it from signal handlers. */
void database_forget_cancel(void);

/* database_first_line: a libpq message's first line, without "FATAL:  " and the like. */
void database_first_line(const char *msg, char *buf, size_t buflen);

/* database_connection_message: the connection's last error (first line), scrubbed of secrets. */
void database_connection_message(struct database *db, char *buf, size_t buflen);

/* database_result_message: "primary message (hint)" of an error result, scrubbed of secrets. */
void database_result_message(const PGresult *res, struct database *db, char *buf, size_t buflen);

#endif
