/*
 * swap_parts.h - what the swap strategy's files share (not for the program): swap_session.c
 * makes the swap's connections and holds the SQL helpers all use; swap.c opens the swap
 * (connection, checks) and drops the swap's databases and what swaps left behind;
 * swap_restore.c creates the new database and runs pg_restore --jobs into it;
 * swap_privileges.c gives the new database the target's default privileges; swap_commit.c
 * carries the target's environment over and swaps the names in one transaction (and asks the
 * server what became of its COMMIT when the reply was lost).
 */
#ifndef SWAP_PARTS_H
#define SWAP_PARTS_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conninfo.h"
#include "swap.h"

#define SWAP_NAME_MAX   63 /* NAMEDATALEN - 1 */
#define SWAP_SUFFIX_MAX 16 /* "_rw_" + 8 hex + "_old" */

struct swap {
	PGconn *conn;
	struct conninfo_secrets secrets;
	PQconninfoOption *options; /* the target's connection string, parsed; NULL for a name */
	char *conninfo;
	char target[SWAP_NAME_MAX + 1];
	char prefix[SWAP_NAME_MAX - SWAP_SUFFIX_MAX + 1];
	char new_name[SWAP_NAME_MAX + 1];
	char old_name[SWAP_NAME_MAX + 1];
	char owner[SWAP_NAME_MAX + 1];
	char target_oid[16];
	char job_id[64];
	char *target_options; /* the target's database-level settings as "-c name=value ..." */
	uint64_t current_size;
	int server_version;
	bool created;        /* the new database exists (and is ours to drop) */
	bool committed;      /* the names are swapped */
	uint64_t items_done; /* TOC entries pg_restore has done (atomic: read for progress) */
	/* The swap's transaction, for asking what became of its COMMIT (swap_commit.c): */
	char xact_id[24];              /* txid_current(), "" until read */
	int backend_pid;               /* the server process running it */
	char new_oid[16];              /* the new database's OID */
	volatile sig_atomic_t *cancel; /* set: stop waiting for the server's answer */
};

/* A growing string. */
struct swap_text {
	char *data;
	size_t len, cap;
	bool failed; /* out of memory */
};

/* swap_text_add: append formatted text; out of memory sets failed. */
void swap_text_add(struct swap_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* swap_message_of: the primary message (and hint) of a failed result, scrubbed of secrets. */
void swap_message_of(struct swap *s, const PGresult *res, char *buf, size_t buflen);

/*
 * swap_connect_params: the keywords and values of the target's connection string (or bare
 * database name) with dbname replaced, plus extra pairs (NULL-terminated), which replace the
 * string's own; NULL when out of memory. The arrays point into s->options.
 */
const char **swap_connect_params(struct swap *s, const char *dbname, const char *const *extra,
                                 const char ***vals);

/* swap_session_setup: give conn the restore's session settings (database.h); 0 or -1 with err. */
int swap_session_setup(struct swap *s, PGconn *conn, const char *dbname, char *err, size_t errlen);

/* swap_run: execute sql with up to three text parameters; the result, or NULL with err. */
PGresult *swap_run(struct swap *s, const char *sql, int nparams, const char *const *params,
                   const char *what, char *err, size_t errlen);

/* swap_run_command: execute sql (no parameters, no rows wanted); 0 or -1 with err. */
int swap_run_command(struct swap *s, const char *sql, const char *what, char *err, size_t errlen);

/*
 * swap_marker: the comment that marks this swap's new database (old false) or the target's old
 * copy (old true): it names the job and the whole target's name, so a leftover is told from
 * another target's databases by it, never by a name cut to fit.
 */
void swap_marker(const struct swap *s, bool old, char *buf, size_t buflen);

/* swap_drop_database: end our orphaned sessions on it (when allowed), then DROP DATABASE. */
int swap_drop_database(struct swap *s, const char *name, bool end_orphans, bool if_exists,
                       char *err, size_t errlen);

/*
 * swap_carry_default_privileges: give the new database the target's database-wide default
 * privileges (pg_default_acl, no schema), before pg_restore makes what they apply to; those
 * of a role we are not a member of are a warning in report. 0, or -1 with err.
 */
int swap_carry_default_privileges(struct swap *s, struct report *report, char *err, size_t errlen);

/* swap_ident: sql-quoted identifier of name (the caller frees it with PQfreemem), or NULL. */
char *swap_ident(struct swap *s, const char *name);

#endif
