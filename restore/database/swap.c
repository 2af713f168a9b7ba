/*
 * swap.c - the swap strategy (see swap.h): a new database beside the target, filled by
 * pg_restore --jobs, then swapped in by two renames in one transaction. This file opens the
 * swap (its connection, the checks that the swap may be done), connects to either database,
 * and removes what earlier swaps left behind; swap_restore.c fills the new database and
 * swap_commit.c swaps it in.
 *
 * Connections. The swap's own connection goes to the maintenance database (postgres unless
 * configured otherwise) with every other parameter of the target's connection string, taken
 * from libpq's parse of it (PQconninfoParse) with dbname replaced: never by pasting strings.
 *
 * Crash safety. Until the renames commit, the target is untouched and the new database is
 * named <p>_rw_<h>, its comment marking it as this job's for this target; the renames (target
 * to <p>_rw_<h>_old, marked as swapped out, new to target) commit together; then the old one
 * is dropped. A kill at any point leaves the target's name on the old or the new state and at
 * most one of those two names beside it, which swap_remove_leftovers drops at the next swap
 * into the target (the rerun of a job uses the same names, so it must). It drops only
 * databases with the target's owner whose marker names the whole target, which nobody uses:
 * <p> is the target's name cut to fit, which another target's can share.
 */
#include "swap.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "database.h"
#include "io.h"
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
 * connect_params: the keywords and values of conninfo (a connection string, or a bare
 * database name) with dbname replaced, plus extra pairs (NULL-terminated), which replace the
 * string's own; NULL when out of memory. The arrays point into s->options.
 */
static const char **
connect_params(struct swap *s, const char *dbname, const char *const *extra, const char ***vals)
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
 * session_setup: give conn the restore's session settings (database.h), the same the
 * transaction strategy's session has: nothing may end the swap's sessions or its short
 * transaction, whatever the role's or the database's defaults say (idle_session_timeout...).
 */
static int
session_setup(struct swap *s, PGconn *conn, const char *dbname, char *err, size_t errlen)
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

/* name_prefix: the target's name cut (at a character boundary) to leave room for a suffix. */
static void
name_prefix(const char *target, char *buf, size_t buflen)
{
	size_t n = strlen(target), max = SWAP_NAME_MAX - SWAP_SUFFIX_MAX;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)target[n] & 0xC0) == 0x80)
			n--; /* not inside a UTF-8 character */
	}
	snprintf(buf, buflen, "%.*s", (int)n, target);
}

/* The target, the role, and whether the swap may be done, in one query any role may run. */
static const char info_sql[] =
    "SELECT d.oid, pg_catalog.pg_get_userbyid(d.datdba), "
    "       pg_catalog.pg_database_size(d.oid), "
    "       r.rolsuper, r.rolcreatedb, pg_catalog.pg_has_role(d.datdba, 'USAGE'), "
    "       (SELECT count(*) FROM pg_catalog.pg_replication_slots l "
    "         WHERE l.database = d.datname AND l.slot_type = 'logical'), "
    "       (SELECT coalesce(pg_catalog.string_agg(l.slot_name::text, ', '), '') "
    "          FROM pg_catalog.pg_replication_slots l "
    "         WHERE l.database = d.datname AND l.slot_type = 'logical'), "
    "       (SELECT count(*) FROM pg_catalog.pg_subscription u WHERE u.subdbid = d.oid), "
    "       (SELECT coalesce(pg_catalog.string_agg(u.subname::text, ', '), '') "
    "          FROM pg_catalog.pg_subscription u WHERE u.subdbid = d.oid) "
    "  FROM pg_catalog.pg_database d, pg_catalog.pg_roles r "
    " WHERE d.datname = $1 AND r.rolname = CURRENT_USER";

/* check_target: whether the swap may be done; reads the target's OID, owner and size. */
static int
check_target(struct swap *s, enum swap_failure *why, char *err, size_t errlen)
{
	const char *params[] = {s->target};
	PGresult *res =
	    swap_run(s, info_sql, 1, params, "read the target database's settings", err, errlen);
	bool super, createdb, owns;
	long slots, subs;
	int rc = -1;

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		*why = SWAP_REFUSED;
		(void)io_error(err, errlen, "the target database %s does not exist", s->target);
		goto done;
	}
	snprintf(s->target_oid, sizeof(s->target_oid), "%s", PQgetvalue(res, 0, 0));
	snprintf(s->owner, sizeof(s->owner), "%s", PQgetvalue(res, 0, 1));
	s->current_size = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	super = PQgetvalue(res, 0, 3)[0] == 't';
	createdb = PQgetvalue(res, 0, 4)[0] == 't';
	owns = PQgetvalue(res, 0, 5)[0] == 't';
	slots = strtol(PQgetvalue(res, 0, 6), NULL, 10);
	subs = strtol(PQgetvalue(res, 0, 8), NULL, 10);
	*why = SWAP_REFUSED;
	if (!super && !createdb) {
		(void)io_error(err, errlen,
		               "strategy swap restores into a new database, and role %s may not "
		               "create databases; give it CREATEDB (ALTER ROLE %s CREATEDB) or use "
		               "strategy: transaction",
		               PQuser(s->conn), PQuser(s->conn));
	} else if (!super && !owns) {
		(void)io_error(
		    err, errlen,
		    "strategy swap renames database %s, which belongs to role %s, not "
		    "to role %s; restore as its owner (ALTER DATABASE %s OWNER TO %s) or "
		    "use strategy: transaction",
		    s->target, s->owner, PQuser(s->conn), s->target, PQuser(s->conn));
	} else if (slots > 0) {
		(void)io_error(err, errlen,
		               "database %s has %ld logical replication slot%s (%s), which a swap "
		               "would leave behind on the old database; drop %s first "
		               "(pg_drop_replication_slot) or use strategy: transaction",
		               s->target, slots, slots == 1 ? "" : "s", PQgetvalue(res, 0, 7),
		               slots == 1 ? "it" : "them");
	} else if (subs > 0) {
		(void)io_error(err, errlen,
		               "database %s has %ld subscription%s (%s), which a swap would leave "
		               "behind on the old database; drop %s first (DROP SUBSCRIPTION)",
		               s->target, subs, subs == 1 ? "" : "s", PQgetvalue(res, 0, 9),
		               subs == 1 ? "it" : "them");
	} else {
		rc = 0;
	}
	conninfo_scrub(&s->secrets, err, errlen);
done:
	PQclear(res);
	return rc;
}

/*
 * open_swap: swap_open, or (tidy) a connection that only removes leftovers: then the role
 * need not be allowed to swap, only the target's owner must be known.
 */
static int
open_swap(const char *conninfo, const char *maintenance_db, const char *target_db,
          const char *job_id, bool tidy, struct swap **out, enum swap_failure *why, char *err,
          size_t errlen)
{
	static const char *const extra[] = {"application_name", "restore-worker", NULL};
	const char **keys = NULL, **vals = NULL;
	struct swap *s;
	char *errmsg = NULL, msg[512];

	*out = NULL;
	*why = SWAP_ERROR;
	if (strlen(target_db) > SWAP_NAME_MAX)
		return io_error(err, errlen, "the target database's name is too long");
	if (strcmp(maintenance_db, target_db) == 0) {
		*why = SWAP_REFUSED;
		return io_error(err, errlen,
		                "strategy swap renames database %s, so its maintenance_database "
		                "must be another one (default postgres)",
		                target_db);
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
		free(s);
		return io_error(err, errlen, "out of memory");
	}
	snprintf(s->target, sizeof(s->target), "%s", target_db);
	snprintf(s->job_id, sizeof(s->job_id), "%s", job_id);
	name_prefix(target_db, s->prefix, sizeof(s->prefix));
	snprintf(s->new_name, sizeof(s->new_name), "%s_rw_%.8s", s->prefix, job_id);
	snprintf(s->old_name, sizeof(s->old_name), "%s_rw_%.8s_old", s->prefix, job_id);
	if (conninfo_secrets_init(&s->secrets, conninfo) < 0 ||
	    (conninfo_is_string(conninfo) &&
	     (s->options = PQconninfoParse(conninfo, &errmsg)) == NULL)) {
		PQfreemem(errmsg); /* it can quote the string */
		(void)io_error(err, errlen,
		               "the target's connection string is malformed (libpq cannot parse "
		               "it; it is not shown, as it may hold a password)");
		swap_close(s);
		return -1;
	}
	keys = connect_params(s, maintenance_db, extra, &vals);
	if (keys == NULL) {
		swap_close(s);
		return io_error(err, errlen, "out of memory");
	}
	s->conn = PQconnectdbParams(keys, vals, 0);
	free(keys);
	free(vals);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		const char *m = s->conn != NULL ? PQerrorMessage(s->conn) : "out of memory";

		if (strncmp(m, "connection to server ", 21) == 0 && strstr(m, "failed: ") != NULL)
			m = strstr(m, "failed: ") + 8;
		snprintf(msg, sizeof(msg), "%.*s", (int)strcspn(m, "\n"), m);
		conninfo_scrub(&s->secrets, msg, sizeof(msg));
		if (strstr(msg, "does not exist") != NULL)
			*why = SWAP_REFUSED;
		(void)io_error(err, errlen,
		               "strategy swap cannot connect to the maintenance database %s: %s "
		               "(set maintenance_database to a database the role may connect to)",
		               maintenance_db, msg);
		conninfo_scrub(&s->secrets, err, errlen);
		swap_close(s);
		return -1;
	}
	s->server_version = PQserverVersion(s->conn);
	if (session_setup(s, s->conn, maintenance_db, err, errlen) < 0 ||
	    (check_target(s, why, err, errlen) < 0 && !(tidy && s->owner[0] != '\0'))) {
		swap_close(s);
		return -1;
	}
	*why = SWAP_ERROR; /* what fails from here on (a lost server...) is no refusal */
	if (!tidy && swap_read_target_options(s, err, errlen) < 0) {
		swap_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
swap_open(const char *conninfo, const char *maintenance_db, const char *target_db,
          const char *job_id, struct swap **out, enum swap_failure *why, char *err, size_t errlen)
{
	return open_swap(conninfo, maintenance_db, target_db, job_id, false, out, why, err, errlen);
}

int
swap_tidy(const char *conninfo, const char *maintenance_db, const char *target_db, int end_orphans,
          struct report *report, char *err, size_t errlen)
{
	enum swap_failure why;
	struct swap *s;

	if (open_swap(conninfo, maintenance_db, target_db, "00000000", true, &s, &why, err,
	              errlen) < 0)
		return -1;
	swap_remove_leftovers(s, end_orphans, report);
	swap_close(s);
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
	keys = connect_params(s, name, (const char *const *)extra, &vals);
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
	if (session_setup(s, conn, name, err, errlen) < 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

const struct conninfo_secrets *
swap_secrets(const struct swap *s)
{
	return &s->secrets;
}

uint64_t
swap_current_size(const struct swap *s)
{
	return s->current_size;
}

const char *
swap_new_name(const struct swap *s)
{
	return s->new_name;
}

void
swap_marker(const struct swap *s, bool old, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "restore-worker: job %s %s database %s", s->job_id,
	         old ? "swapped out" : "restores", s->target);
}

/*
 * is_leftover: does comment mark a database of a swap into this target (swap_marker), of any
 * job? The whole target's name must follow, so another target's never does.
 */
static bool
is_leftover(const struct swap *s, const char *comment)
{
	static const char head[] = "restore-worker: job ";
	static const char *const kinds[] = {" swapped out database ", " restores database "};

	if (strncmp(comment, head, sizeof(head) - 1) != 0)
		return false;
	comment += sizeof(head) - 1;
	comment += strcspn(comment, " ");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(comment, kinds[i], strlen(kinds[i])) == 0)
			return strcmp(comment + strlen(kinds[i]), s->target) == 0;
	return false;
}

int
swap_drop_database(struct swap *s, const char *name, bool end_orphans, bool if_exists, char *err,
                   size_t errlen)
{
	static const char terminate_sql[] =
	    "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
	    "WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid() "
	    "AND application_name = 'restore-worker'";
	const char *params[] = {name};
	char *quoted = swap_ident(s, name), what[256];
	struct swap_text sql = {0};
	int rc = -1;

	if (quoted == NULL)
		return io_error(err, errlen, "out of memory");
	swap_text_add(&sql, "DROP DATABASE %s%s", if_exists ? "IF EXISTS " : "", quoted);
	PQfreemem(quoted);
	if (sql.failed) {
		free(sql.data);
		return io_error(err, errlen, "out of memory");
	}
	snprintf(what, sizeof(what), "drop database %s", name);
	/* The server waits up to 5 s for sessions that are ending; a killed one may take longer. */
	for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
		if (end_orphans)
			PQclear(
			    PQexecParams(s->conn, terminate_sql, 1, NULL, params, NULL, NULL, 0));
		rc = swap_run_command(s, sql.data, what, err, errlen);
	}
	free(sql.data);
	return rc;
}

void
swap_remove_leftovers(struct swap *s, int end_orphans, struct report *report)
{
	/*
	 * Marked ones; and, when the target's name is whole in the swaps' names (not cut, so no
	 * other target's swaps can have them), unmarked ones named exactly <target>_rw_<8 hex>:
	 * a swap killed between its CREATE DATABASE and its marker leaves one, and the job may
	 * never run again to drop it (its process died: the job was filed failed).
	 */
	static const char sql[] =
	    "SELECT d.datname, pg_catalog.shobj_description(d.oid, 'pg_database') "
	    "FROM pg_catalog.pg_database d WHERE d.datname <> $1 "
	    "AND pg_catalog.pg_get_userbyid(d.datdba) = $2 "
	    "AND (pg_catalog.shobj_description(d.oid, 'pg_database') LIKE 'restore-worker: job %' "
	    "OR ($3 AND pg_catalog.shobj_description(d.oid, 'pg_database') IS NULL "
	    "AND pg_catalog.left(d.datname, pg_catalog.length($1)) = $1 "
	    "AND pg_catalog.substr(d.datname, pg_catalog.length($1) + 1) ~ '^_rw_[0-9a-f]{8}$')) "
	    "ORDER BY 1";
	char err[768];
	const char *params[] = {s->target, s->owner,
	                        strcmp(s->prefix, s->target) == 0 ? "true" : "false"};
	PGresult *res;

	res = swap_run(s, sql, 3, params, "list the databases earlier swaps left behind", err,
	               sizeof(err));
	if (res == NULL) {
		report_warn(report, "%s", err);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);

		if (!PQgetisnull(res, i, 1) && !is_leftover(s, PQgetvalue(res, i, 1)))
			continue;
		if (swap_drop_database(s, name, end_orphans != 0, true, err, sizeof(err)) < 0)
			report_warn(report, "a database an earlier swap left behind stays: %s",
			            err);
		else
			report_warn(
			    report,
			    "dropped database %s, which an interrupted swap into database %s "
			    "left behind",
			    name, s->target);
	}
	PQclear(res);
}

int
swap_drop_old(struct swap *s, char *err, size_t errlen)
{
	if (!s->committed)
		return 0;
	return swap_drop_database(s, s->old_name, false, false, err, errlen);
}

int
swap_abort(struct swap *s, char *err, size_t errlen)
{
	int rc;

	if (s == NULL || !s->created || s->committed)
		return 0;
	if (PQstatus(s->conn) != CONNECTION_OK)
		PQreset(s->conn);
	/* Our own pg_restore's sessions may still be ending on the server. */
	rc = swap_drop_database(s, s->new_name, true, true, err, errlen);
	s->created = false;
	return rc;
}

void
swap_close(struct swap *s)
{
	if (s == NULL)
		return;
	if (s->conn != NULL)
		PQfinish(s->conn);
	PQconninfoFree(s->options);
	conninfo_secrets_free(&s->secrets);
	free(s->conninfo);
	free(s->target_options);
	free(s);
}