/*
 * swap_session.c - the swap strategy's sessions (see swap_parts.h): how its connections are
 * made (the target's connection string with dbname replaced, the restore's session settings)
 * and the small SQL helpers every swap file runs its statements and tells its failures with.
 *
 * Connections. The swap's own connection goes to the maintenance database (swap.c); the
 * file check's, ANALYZE's and the default privileges' to the new database or the target
 * (swap_connect), with every other parameter of the target's connection string, taken from
 * libpq's parse of it (PQconninfoParse): never by pasting strings. Every message passes
 * through conninfo_scrub(): no part of a password is ever shown.
 */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "database.h"
#include "io.h"
#include "swap.h"
#include "swap_parts.h"

/* swap_text_add: append formatted text; out of memory sets failed. */
void
swap_text_add(struct swap_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->data != NULL ? t->data + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = t->cap == 0 ? 1024 : t->cap;
			char *data;

			while (cap - t->len <= (size_t)n)
				cap *= 2;
			data = realloc(t->data, cap);
			if (data == NULL) {
				t->failed = true;
				return;
			}
			t->data = data;
			t->cap = cap;
		}
	}
}

/* swap_message_of: the primary message (and hint) of a failed result, scrubbed of secrets. */
void
swap_message_of(struct swap *s, const PGresult *res, char *buf, size_t buflen)
{
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *hint = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	if (primary == NULL) {
		const char *m = PQerrorMessage(s->conn);

		snprintf(buf, buflen, "%.*s", (int)strcspn(m, "\n"),
		         m[0] != '\0' ? m : "the server connection failed");
	} else if (hint != NULL) {
		snprintf(buf, buflen, "%s (%s)", primary, hint);
	} else {
		snprintf(buf, buflen, "%s", primary);
	}
	conninfo_scrub(&s->secrets, buf, buflen);
}

/* swap_run: execute sql with up to three text parameters; the result, or NULL with err. */
PGresult *
swap_run(struct swap *s, const char *sql, int nparams, const char *const *params, const char *what,
         char *err, size_t errlen)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	char msg[768];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	swap_message_of(s, res, msg, sizeof(msg));
	(void)io_error(err, errlen, "cannot %s: %s", what, msg);
	PQclear(res);
	return NULL;
}

/* swap_run_command: execute sql (no parameters, no rows wanted); 0 or -1 with err. */
int
swap_run_command(struct swap *s, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = swap_run(s, sql, 0, NULL, what, err, errlen);

	PQclear(res);
	return res != NULL ? 0 : -1;
}

/* swap_ident: sql-quoted identifier of name (the caller frees it with PQfreemem), or NULL. */
char *
swap_ident(struct swap *s, const char *name)
{
	return PQescapeIdentifier(s->conn, name, strlen(name));
}

/*
 * swap_connect_params: the keywords and values of conninfo (a connection string, or a bare
 * database name) with dbname replaced, plus extra pairs (NULL-terminated), which replace the
 * string's own; NULL when out of memory. The arrays point into s->options.
 */
const char **
swap_connect_params(struct swap *s, const char *dbname, const char *const *extra,
                    const char ***vals)
{
	size_t n = 0, cap = 5;
	const char **keys;
	bool timeout = false;

	for (const PQconninfoOption *o = s->options; o != NULL && o->keyword != NULL; o++)
		cap++;
	for (size_t i = 0; extra[i] != NULL; i += 2)
		cap++;
	keys = calloc(cap, sizeof(*keys));
	*vals = calloc(cap, sizeof(**vals));
	if (keys == NULL || *vals == NULL) {
		free(keys);
		free(*vals);
		return NULL;
	}
	for (const PQconninfoOption *o = s->options; o != NULL && o->keyword != NULL; o++) {
		bool replaced = strcmp(o->keyword, "dbname") == 0;

		for (size_t i = 0; extra[i] != NULL && !replaced; i += 2)
			replaced = strcmp(o->keyword, extra[i]) == 0;
		if (o->val == NULL || replaced)
			continue;
		timeout = timeout || strcmp(o->keyword, "connect_timeout") == 0;
		keys[n] = o->keyword;
		(*vals)[n++] = o->val;
	}
	if (!timeout) { /* a lost server must not hold a connection attempt forever */
		keys[n] = "connect_timeout";
		(*vals)[n++] = DATABASE_CONNECT_TIMEOUT;
	}
	for (size_t i = 0; extra[i] != NULL; i += 2) {
		keys[n] = extra[i];
		(*vals)[n++] = extra[i + 1];
	}
	keys[n] = "dbname";
	(*vals)[n++] = dbname;
	return keys;
}

/*
 * swap_session_setup: give conn the restore's session settings (database.h), the same the
 * transaction strategy's session has: nothing may end the swap's sessions or its short
 * transaction, whatever the role's or the database's defaults say (idle_session_timeout...).
 */
int
swap_session_setup(struct swap *s, PGconn *conn, const char *dbname, char *err, size_t errlen)
{
	char sql[4096], msg[512];
	PGresult *res;

	if (database_session_sql(PQserverVersion(conn), sql, sizeof(sql)) < 0)
		return io_error(err, errlen, "the session's settings do not fit their buffer");
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		snprintf(msg, sizeof(msg), "%s", m != NULL ? m : "the server connection failed");
		PQclear(res);
		(void)io_error(err, errlen, "cannot set up the session on database %s: %s", dbname,
		               msg);
		conninfo_scrub(&s->secrets, err, errlen);
		return -1;
	}
	PQclear(res);
	return 0;
}

PGconn *
swap_connect(struct swap *s, bool new_db, char *err, size_t errlen)
{
	const char *name = new_db ? s->new_name : s->target, **keys, **vals = NULL;
	const char *own = NULL;
	const char *extra[] = {"application_name", "restore-worker", "options", NULL, NULL};
	struct swap_text opts = {0};
	PGconn *conn;
	char msg[512];

	/* The new database has the target's settings only after the swap: give them here. */
	for (const PQconninfoOption *o = s->options; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "options") == 0)
			own = o->val;
	swap_text_add(&opts, "%s", own != NULL ? own : "");
	if (new_db && s->target_options != NULL && s->target_options[0] != '\0')
		swap_text_add(&opts, "%s%s", opts.len > 0 ? " " : "", s->target_options);
	if (opts.failed) {
		free(opts.data);
		(void)io_error(err, errlen, "out of memory");
		return NULL;
	}
	if (opts.len > 0)
		extra[3] = opts.data;
	else
		extra[2] = NULL;
	keys = swap_connect_params(s, name, (const char *const *)extra, &vals);
	if (keys == NULL) {
		free(opts.data);
		(void)io_error(err, errlen, "out of memory");
		return NULL;
	}
	conn = PQconnectdbParams(keys, vals, 0);
	free(keys);
	free(vals);
	free(opts.data);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";

		if (strncmp(m, "connection to server ", 21) == 0 && strstr(m, "failed: ") != NULL)
			m = strstr(m, "failed: ") + 8;
		snprintf(msg, sizeof(msg), "%.*s", (int)strcspn(m, "\n"), m);
		(void)io_error(err, errlen, "cannot connect to database %s: %s", name, msg);
		conninfo_scrub(&s->secrets, err, errlen);
		PQfinish(conn);
		return NULL;
	}
	if (swap_session_setup(s, conn, name, err, errlen) < 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}
