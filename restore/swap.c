/*
 * swap.c - the swap strategy (see swap.h): a new database beside the target, filled by
 * pg_restore --jobs, then swapped in by two renames in one transaction.
 *
 * Connections. The swap's own connection goes to the maintenance database (postgres unless
 * configured otherwise) with every other parameter of the target's connection string, taken
 * from libpq's parse of it (PQconninfoParse) with dbname replaced: never by pasting strings.
 * pg_restore gets the same parameters in its environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGSSLMODE, ...: each option's own environment variable, as libpq names it; see
 * conninfo_environment), and on its command line only the new database's name: ps shows a
 * command line, never an environment of another user.
 *
 * Crash safety. Until the renames commit, the target is untouched and the new database is
 * named <p>_rw_<h>; the renames (target to <p>_rw_<h>_old, new to target) commit together;
 * then the old one is dropped. A kill at any point leaves the target's name on the old or the
 * new state and at most one of those two names beside it, which swap_remove_leftovers drops
 * at the next swap into the target (the rerun of a job uses the same names, so it must). It
 * drops only databases with the target's owner, named exactly so, which nobody uses.
 *
 * What carries over (the environment, not the backup): pg_db_role_setting rows of the target
 * (ALTER DATABASE ... SET, ALTER ROLE ... IN DATABASE ... SET), the grants on the database
 * (re-granted by its owner), the connection limit and the comment. What cannot: the
 * database's OID changes, and logical replication slots and subscriptions belong to the old
 * OID, so a target with any is refused.
 *
 * Limits: a setting only a superuser may set, or a per-role setting of another role without
 * CREATEROLE, makes the swap's transaction fail (the target stays as it was); grants made by
 * another grantor than the owner are re-made by the owner.
 */
#include "swap.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conninfo.h"
#include "io.h"
#include "spawn.h"

#define SWAP_NAME_MAX    63 /* NAMEDATALEN - 1 */
#define SWAP_SUFFIX_MAX  16 /* "_rw_" + 8 hex + "_old" */
#define SWAP_STDERR_KEEP 8192

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
	uint64_t current_size;
	int server_version;
	bool created;   /* the new database exists (and is ours to drop) */
	bool committed; /* the names are swapped */
	uint64_t items_done; /* TOC entries pg_restore has done (atomic: read for progress) */
};

/* A growing string. */
struct text {
	char *data;
	size_t len, cap;
	bool failed; /* out of memory */
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* text_add: append formatted text. */
static void
text_add(struct text *t, const char *fmt, ...)
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

/* message_of: the primary message (and hint) of a failed result, scrubbed of secrets. */
static void
message_of(struct swap *s, const PGresult *res, char *buf, size_t buflen)
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

/* run: execute sql with up to three text parameters; the result, or NULL with err. */
static PGresult *
run(struct swap *s, const char *sql, int nparams, const char *const *params, const char *what,
    char *err, size_t errlen)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	char msg[768];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	message_of(s, res, msg, sizeof(msg));
	(void)io_error(err, errlen, "cannot %s: %s", what, msg);
	PQclear(res);
	return NULL;
}

/* run_command: execute sql (no parameters, no rows wanted); 0 or -1 with err. */
static int
run_command(struct swap *s, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = run(s, sql, 0, NULL, what, err, errlen);

	PQclear(res);
	return res != NULL ? 0 : -1;
}

/* ident: sql-quoted identifier of name (the caller frees it with PQfreemem), or NULL. */
static char *
ident(struct swap *s, const char *name)
{
	return PQescapeIdentifier(s->conn, name, strlen(name));
}

/*
 * connect_params: the keywords and values of conninfo (a connection string, or a bare
 * database name) with dbname replaced, plus extra pairs (NULL-terminated); NULL when out of
 * memory. The arrays point into s->options.
 */
static const char **
connect_params(struct swap *s, const char *dbname, const char *const *extra, const char ***vals)
{
	size_t n = 0, cap = 4;
	const char **keys;

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
		if (o->val == NULL || strcmp(o->keyword, "dbname") == 0)
			continue;
		keys[n] = o->keyword;
		(*vals)[n++] = o->val;
	}
	for (size_t i = 0; extra[i] != NULL; i += 2) {
		keys[n] = extra[i];
		(*vals)[n++] = extra[i + 1];
	}
	keys[n] = "dbname";
	(*vals)[n++] = dbname;
	return keys;
}

/* session_setup: nothing may end the swap's session or its short transaction. */
static int
session_setup(struct swap *s, char *err, size_t errlen)
{
	struct text sql = {0};
	int rc;

	text_add(&sql, "SELECT pg_catalog.set_config('statement_timeout', '0', false), "
	               "pg_catalog.set_config('lock_timeout', '0', false), "
	               "pg_catalog.set_config('idle_in_transaction_session_timeout', '0', false), "
	               "pg_catalog.set_config('client_encoding', 'UTF8', false), "
	               "pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false), "
	               "pg_catalog.set_config('default_transaction_read_only', 'off', false)");
	if (s->server_version >= 140000)
		text_add(&sql, ", pg_catalog.set_config('idle_session_timeout', '0', false)");
	if (s->server_version >= 170000)
		text_add(&sql, ", pg_catalog.set_config('transaction_timeout', '0', false)");
	if (sql.failed) {
		free(sql.data);
		return io_error(err, errlen, "out of memory");
	}
	rc =
	    run_command(s, sql.data, "set up the session on the maintenance database", err, errlen);
	free(sql.data);
	return rc;
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
	    run(s, info_sql, 1, params, "read the target database's settings", err, errlen);
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
	if (session_setup(s, err, errlen) < 0 ||
	    (check_target(s, why, err, errlen) < 0 && !(tidy && s->owner[0] != '\0'))) {
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
	static const char *const extra[] = {"application_name", "restore-worker", NULL};
	const char *name = new_db ? s->new_name : s->target, **keys, **vals = NULL;
	PGconn *conn;
	char msg[512];

	keys = connect_params(s, name, extra, &vals);
	if (keys == NULL) {
		(void)io_error(err, errlen, "out of memory");
		return NULL;
	}
	conn = PQconnectdbParams(keys, vals, 0);
	free(keys);
	free(vals);
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

/* is_leftover_name: is name <prefix>_rw_<8 lowercase hex>, with or without _old? */
static bool
is_leftover_name(const struct swap *s, const char *name)
{
	size_t p = strlen(s->prefix), n = strlen(name);

	if (strcmp(name, s->target) == 0 || strncmp(name, s->prefix, p) != 0 ||
	    strncmp(name + p, "_rw_", 4) != 0)
		return false;
	name += p + 4;
	n -= p + 4;
	if (n != 8 && !(n == 12 && strcmp(name + 8, "_old") == 0))
		return false;
	for (size_t i = 0; i < 8; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* drop_database: end our orphaned sessions on it (when allowed), then DROP DATABASE. */
static int
drop_database(struct swap *s, const char *name, bool end_orphans, bool if_exists, char *err,
              size_t errlen)
{
	static const char terminate_sql[] =
	    "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
	    "WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid() "
	    "AND application_name = 'restore-worker'";
	const char *params[] = {name};
	char *quoted = ident(s, name), what[256];
	struct text sql = {0};
	int rc = -1;

	if (quoted == NULL)
		return io_error(err, errlen, "out of memory");
	text_add(&sql, "DROP DATABASE %s%s", if_exists ? "IF EXISTS " : "", quoted);
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
		rc = run_command(s, sql.data, what, err, errlen);
	}
	free(sql.data);
	return rc;
}

void
swap_remove_leftovers(struct swap *s, int end_orphans, struct report *report)
{
	static const char sql[] = "SELECT d.datname FROM pg_catalog.pg_database d "
	                          "WHERE pg_catalog.left(d.datname::text, $1::int) = $2 "
	                          "AND pg_catalog.pg_get_userbyid(d.datdba) = $3 ORDER BY 1";
	char len[24], err[768];
	const char *params[] = {len, s->prefix, s->owner};
	PGresult *res;

	snprintf(len, sizeof(len), "%zu", strlen(s->prefix));
	res = run(s, sql, 3, params, "list the databases earlier swaps left behind", err,
	          sizeof(err));
	if (res == NULL) {
		report_warn(report, "%s", err);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);

		if (!is_leftover_name(s, name))
			continue;
		if (drop_database(s, name, end_orphans != 0, true, err, sizeof(err)) < 0)
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

/* create_new: CREATE DATABASE new, like the target, from template0. */
static int
create_new(struct swap *s, char *err, size_t errlen)
{
	const char *params[] = {s->target};
	const char *provider_cols = s->server_version >= 170000 ? ", d.datlocprovider, d.datlocale"
	                            : s->server_version >= 150000
	                                ? ", d.datlocprovider, d.daticulocale"
	                                : ", 'c', NULL";
	const char *rules_col = s->server_version >= 160000 ? ", d.daticurules" : ", NULL";
	struct text q = {0}, sql = {0};
	PGresult *res;
	char *name = NULL, *owner = NULL, *collate = NULL, *ctype = NULL, *loc = NULL;
	char *rules = NULL, *space = NULL;
	int rc = -1;

	text_add(&q,
	         "SELECT pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
	         "t.spcname %s %s FROM pg_catalog.pg_database d "
	         "JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1",
	         provider_cols, rules_col);
	if (q.failed)
		return io_error(err, errlen, "out of memory");
	res = run(s, q.data, 1, params, "read the target database's settings", err, errlen);
	free(q.data);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return io_error(err, errlen, "the target database %s is gone", s->target);
	}
	name = ident(s, s->new_name);
	owner = ident(s, s->owner);
	collate = PQescapeLiteral(s->conn, PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)));
	ctype = PQescapeLiteral(s->conn, PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));
	space = ident(s, PQgetvalue(res, 0, 3));
	if (!PQgetisnull(res, 0, 5))
		loc =
		    PQescapeLiteral(s->conn, PQgetvalue(res, 0, 5), strlen(PQgetvalue(res, 0, 5)));
	if (!PQgetisnull(res, 0, 6))
		rules =
		    PQescapeLiteral(s->conn, PQgetvalue(res, 0, 6), strlen(PQgetvalue(res, 0, 6)));
	if (name == NULL || owner == NULL || collate == NULL || ctype == NULL || space == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	text_add(&sql,
	         "CREATE DATABASE %s TEMPLATE template0 OWNER %s ENCODING '%s' LC_COLLATE %s "
	         "LC_CTYPE %s",
	         name, owner, PQgetvalue(res, 0, 0), collate, ctype);
	if (strcmp(PQgetvalue(res, 0, 3), "pg_default") != 0)
		text_add(&sql, " TABLESPACE %s", space);
	switch (PQgetvalue(res, 0, 4)[0]) {
	case 'i':
		text_add(&sql, " LOCALE_PROVIDER icu");
		if (loc != NULL)
			text_add(&sql, " ICU_LOCALE %s", loc);
		if (rules != NULL)
			text_add(&sql, " ICU_RULES %s", rules);
		break;
	case 'b':
		text_add(&sql, " LOCALE_PROVIDER builtin");
		if (loc != NULL)
			text_add(&sql, " BUILTIN_LOCALE %s", loc);
		break;
	default:
		if (s->server_version >= 150000)
			text_add(&sql, " LOCALE_PROVIDER libc");
		break;
	}
	if (sql.failed) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	rc = run_command(s, sql.data, "create the database to restore into", err, errlen);
	if (rc == 0)
		s->created = true;
done:
	PQclear(res);
	PQfreemem(name);
	PQfreemem(owner);
	PQfreemem(collate);
	PQfreemem(ctype);
	PQfreemem(space);
	PQfreemem(loc);
	PQfreemem(rules);
	free(sql.data);
	return rc;
}

/* What pg_restore --verbose says, line by line (for spawn_pump). */
struct said {
	struct swap *s;
	struct text kept; /* the lines about errors, up to SWAP_STDERR_KEEP bytes */
	char line[1024];  /* the line being read (a longer one is cut) */
	size_t len;
};

/* said_line: count the entries done; keep what is about an error. */
static void
said_line(struct said *sd, const char *line, size_t n)
{
	static const char *const progress[] = {"pg_restore: processing item ",
	                                       "pg_restore: finished item "};
	static const char *const keep[] = {"error", "ERROR", "warning", "WARNING", "fatal",
	                                   "FATAL", "TOC entry", "DETAIL", "Command was"};

	for (size_t i = 0; i < sizeof(progress) / sizeof(progress[0]); i++)
		if (n >= strlen(progress[i]) && strncmp(line, progress[i], strlen(progress[i])) == 0) {
			__atomic_add_fetch(&sd->s->items_done, 1, __ATOMIC_RELAXED);
			return;
		}
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (memmem(line, n, keep[i], strlen(keep[i])) != NULL) {
			if (sd->kept.len + n + 1 < SWAP_STDERR_KEEP)
				text_add(&sd->kept, "%.*s\n", (int)n, line);
			return;
		}
}

/* stderr_sink: split pg_restore's complaints and progress into lines. */
static int
stderr_sink(void *ctx, const char *buf, size_t len)
{
	struct said *sd = ctx;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			said_line(sd, sd->line, sd->len);
			sd->len = 0;
		} else if (sd->len < sizeof(sd->line)) {
			sd->line[sd->len++] = buf[i];
		}
	}
	return 0;
}

uint64_t
swap_items_done(const struct swap *s)
{
	return __atomic_load_n(&s->items_done, __ATOMIC_RELAXED);
}

/*
 * restore_failed: fill err and the report from what pg_restore said: the TOC entry it names
 * ("from TOC entry ...") and its first error line.
 */
static void
restore_failed(struct swap *s, const char *said, int status, struct report *report, char *err,
               size_t errlen)
{
	char where[512] = "", msg[1024] = "";
	const char *p = said != NULL ? said : "";

	for (const char *line = p; *line != '\0'; line += strcspn(line, "\n"), line += *line != 0) {
		size_t n = strcspn(line, "\n");
		const char *e;

		if (where[0] == '\0' && (e = memmem(line, n, "from TOC entry ", 15)) != NULL)
			snprintf(where, sizeof(where), "%.*s", (int)(n - (size_t)(e + 15 - line)),
			         e + 15);
		if (msg[0] == '\0' && (e = memmem(line, n, "error: ", 7)) != NULL) {
			const char *m = e + 7;
			size_t mn = n - (size_t)(m - line);

			if (mn > 25 && strncmp(m, "could not execute query: ", 25) == 0) {
				m += 25;
				mn -= 25;
			}
			if (mn > 8 && strncmp(m, "ERROR:  ", 8) == 0) {
				m += 8;
				mn -= 8;
			}
			snprintf(msg, sizeof(msg), "%.*s", (int)mn, m);
		}
	}
	if (msg[0] == '\0') {
		if (status >= 0 && WIFSIGNALED(status))
			snprintf(msg, sizeof(msg), "pg_restore was killed by signal %d (%s)",
			         WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			snprintf(msg, sizeof(msg),
			         "pg_restore failed (exit status %d) without a message",
			         status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	conninfo_scrub(&s->secrets, where, sizeof(where));
	conninfo_scrub(&s->secrets, msg, sizeof(msg));
	report_part_error(&report->database, where[0] != '\0' ? where : NULL, "%s", msg);
	if (where[0] != '\0')
		(void)io_error(err, errlen, "restoring %s into database %s failed: %s", where,
		               s->new_name, msg);
	else
		(void)io_error(err, errlen, "restoring into database %s failed: %s", s->new_name,
		               msg);
}

int
swap_restore(struct swap *s, const char *pg_restore, const char *dump_path, const char *list_path,
             int jobs, struct report *report, volatile sig_atomic_t *cancel, char *err,
             size_t errlen)
{
	char jobs_arg[32], *dbname_arg = NULL, *list_arg = NULL, **env = NULL, buf[4096];
	char *argv[12];
	struct said said = {.s = s};
	struct spawn sp = {.pid = -1, .out_fd = -1, .err_fd = -1};
	int argc = 0, status, rc = -1;

	if (create_new(s, err, errlen) < 0) {
		report_part_error(&report->database, NULL, "%s", err);
		return -1;
	}
	/* The new database's name is all the command line shows of the connection. */
	dbname_arg = conninfo_dbname_option(s->new_name);
	if (dbname_arg == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	snprintf(jobs_arg, sizeof(jobs_arg), "--jobs=%d", jobs > 0 ? jobs : 1);
	if (list_path != NULL && asprintf(&list_arg, "--use-list=%s", list_path) < 0) {
		list_arg = NULL;
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	env = conninfo_environment(s->options, "restore-worker");
	if (env == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	argv[argc++] = (char *)pg_restore;
	argv[argc++] = "--no-owner";
	argv[argc++] = "--no-privileges";
	argv[argc++] = "--exit-on-error";
	argv[argc++] = "--verbose"; /* its "finished item" lines are the progress */
	argv[argc++] = jobs_arg;
	argv[argc++] = dbname_arg;
	if (list_arg != NULL)
		argv[argc++] = list_arg;
	argv[argc++] = (char *)dump_path;
	argv[argc] = NULL;
	if (spawn_start_env(argv, env, &sp, err, errlen) < 0) {
		report_part_error(&report->database, NULL, "%s", err);
		goto done;
	}
	switch (spawn_pump(&sp, cancel, NULL, stderr_sink, &said, buf, sizeof(buf))) {
	case SPAWN_PUMP_CANCELLED:
		(void)spawn_kill(&sp);
		(void)io_error(err, errlen, "the restore was interrupted");
		report_part_error(&report->database, NULL, "%s", err);
		goto done;
	case SPAWN_PUMP_POLL_FAILED:
		(void)io_error(err, errlen, "cannot wait for pg_restore: %s", strerror(errno));
		report_part_error(&report->database, NULL, "%s", err);
		goto done;
	default:
		break;
	}
	if (said.len > 0)
		said_line(&said, said.line, said.len);
	status = spawn_finish(&sp);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		restore_failed(s, said.kept.data, status, report, err, errlen);
		goto done;
	}
	rc = 0;
done:
	if (sp.pid > 0)
		(void)spawn_kill(&sp);
	conninfo_environment_free(env);
	free(dbname_arg);
	free(list_arg);
	free(said.kept.data);
	return rc;
}

/* The GUCs whose values are lists of quoted elements (GUC_LIST_QUOTE), as pg_dump knows. */
static bool
is_list_quote(const char *name)
{
	static const char *const names[] = {"local_preload_libraries",   "search_path",
	                                    "session_preload_libraries", "shared_preload_libraries",
	                                    "temp_tablespaces",          "unix_socket_directories"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * add_set: append "SET name TO value" for one "name=value" of pg_db_role_setting, quoted as
 * pg_dump does: a list GUC element by element, anything else as one literal.
 */
static int
add_set(struct swap *s, struct text *sql, const char *item)
{
	size_t klen = strcspn(item, "=");
	char *name = strndup(item, klen), *qname;
	const char *value = item[klen] == '=' ? item + klen + 1 : "";
	int rc = -1;

	if (name == NULL)
		return -1;
	qname = ident(s, name);
	if (qname == NULL)
		goto done;
	text_add(sql, "SET %s TO ", qname);
	if (!is_list_quote(name)) {
		char *lit = PQescapeLiteral(s->conn, value, strlen(value));

		if (lit == NULL)
			goto done;
		text_add(sql, "%s", lit);
		PQfreemem(lit);
	} else {
		/* Elements separated by ',', each perhaps "double quoted" with "" for a quote. */
		const char *p = value;
		bool first = true;

		for (;;) {
			struct text el = {0};
			char *lit;

			while (*p == ' ')
				p++;
			if (*p == '"') {
				for (p++; *p != '\0'; p++) {
					if (*p == '"' && p[1] == '"')
						text_add(&el, "%c", *p++);
					else if (*p == '"')
						break;
					else
						text_add(&el, "%c", *p);
				}
				if (*p == '"')
					p++;
				while (*p == ' ')
					p++;
			} else {
				size_t n = strcspn(p, ",");

				while (n > 0 && p[n - 1] == ' ')
					n--;
				text_add(&el, "%.*s", (int)n, p);
				p += n;
				while (*p == ' ')
					p++;
			}
			lit = el.failed ? NULL
			                : PQescapeLiteral(s->conn, el.data != NULL ? el.data : "",
			                                  el.len);
			free(el.data);
			if (lit == NULL)
				goto done;
			text_add(sql, "%s%s", first ? "" : ", ", lit);
			PQfreemem(lit);
			first = false;
			if (*p != ',')
				break;
			p++;
		}
	}
	rc = sql->failed ? -1 : 0;
done:
	PQfreemem(qname);
	free(name);
	return rc;
}

/* environment_sql: the statements that give the new database the target's environment. */
static int
environment_sql(struct swap *s, struct text *sql, char *err, size_t errlen)
{
	static const char settings_sql[] =
	    "SELECT s.setrole, r.rolname, c.item "
	    "FROM pg_catalog.pg_db_role_setting s LEFT JOIN pg_catalog.pg_roles r "
	    "ON r.oid = s.setrole, pg_catalog.unnest(s.setconfig) WITH ORDINALITY c(item, n) "
	    "WHERE s.setdatabase = $1::oid ORDER BY s.setrole, c.n";
	static const char db_sql[] = "SELECT d.datacl IS NULL, d.datconnlimit, "
	                             "       pg_catalog.shobj_description(d.oid, 'pg_database') "
	                             "FROM pg_catalog.pg_database d WHERE d.oid = $1::oid";
	static const char acl_sql[] =
	    "SELECT a.grantee, pg_catalog.pg_get_userbyid(a.grantee), a.privilege_type, "
	    "a.is_grantable FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a "
	    "WHERE d.oid = $1::oid ORDER BY 1, 3";
	const char *params[] = {s->target_oid};
	char *name = ident(s, s->new_name), *owner = ident(s, s->owner);
	PGresult *res = NULL;
	int rc = -1;

	if (name == NULL || owner == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	/* Database-level settings, for everyone (setrole 0) and per role. */
	res = run(s, settings_sql, 1, params, "read the target's database-level settings", err,
	          errlen);
	if (res == NULL)
		goto done;
	for (int i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "0") == 0) {
			text_add(sql, "ALTER DATABASE %s ", name);
		} else {
			char *role;

			if (PQgetisnull(res, i, 1))
				continue; /* a dropped role's row: nobody can use it */
			role = ident(s, PQgetvalue(res, i, 1));
			if (role == NULL)
				goto oom;
			text_add(sql, "ALTER ROLE %s IN DATABASE %s ", role, name);
			PQfreemem(role);
		}
		if (add_set(s, sql, PQgetvalue(res, i, 2)) < 0)
			goto oom;
		text_add(sql, ";\n");
	}
	PQclear(res);
	/* The connection limit, the comment, and the grants when they are not the default. */
	res = run(s, db_sql, 1, params, "read the target's connection limit and comment", err,
	          errlen);
	if (res == NULL)
		goto done;
	if (PQntuples(res) != 1) {
		(void)io_error(err, errlen, "the target database %s is gone", s->target);
		goto done;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "-1") != 0)
		text_add(sql, "ALTER DATABASE %s CONNECTION LIMIT %ld;\n", name,
		         strtol(PQgetvalue(res, 0, 1), NULL, 10));
	if (!PQgetisnull(res, 0, 2)) {
		char *lit =
		    PQescapeLiteral(s->conn, PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));

		if (lit == NULL)
			goto oom;
		text_add(sql, "COMMENT ON DATABASE %s IS %s;\n", name, lit);
		PQfreemem(lit);
	}
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		rc = sql->failed ? io_error(err, errlen, "out of memory") : 0;
		goto done;
	}
	PQclear(res);
	res = run(s, acl_sql, 1, params, "read the grants on the target", err, errlen);
	if (res == NULL)
		goto done;
	text_add(sql, "REVOKE ALL ON DATABASE %s FROM PUBLIC;\n", name);
	text_add(sql, "REVOKE ALL ON DATABASE %s FROM %s;\n", name, owner);
	for (int i = 0; i < PQntuples(res); i++) {
		char *grantee = NULL;

		if (strcmp(PQgetvalue(res, i, 0), "0") != 0 &&
		    (grantee = ident(s, PQgetvalue(res, i, 1))) == NULL)
			goto oom;
		text_add(sql, "GRANT %s ON DATABASE %s TO %s%s;\n", PQgetvalue(res, i, 2), name,
		         grantee != NULL ? grantee : "PUBLIC",
		         PQgetvalue(res, i, 3)[0] == 't' ? " WITH GRANT OPTION" : "");
		PQfreemem(grantee);
	}
	rc = sql->failed ? io_error(err, errlen, "out of memory") : 0;
	goto done;
oom:
	(void)io_error(err, errlen, "out of memory");
done:
	PQclear(res);
	PQfreemem(name);
	PQfreemem(owner);
	return rc;
}

int
swap_commit(struct swap *s, int (*before_commit)(void *ctx, char *err, size_t errlen), void *ctx,
            char *err, size_t errlen)
{
	static const char sessions_sql[] =
	    "SELECT count(*), coalesce(pg_catalog.string_agg(DISTINCT coalesce(nullif("
	    "application_name, ''), '(none)'), ', '), '') FROM pg_catalog.pg_stat_activity "
	    "WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid() "
	    "AND backend_type = 'client backend'";
	static const char oid_sql[] =
	    "SELECT d.oid::text FROM pg_catalog.pg_database d WHERE d.datname = $1";
	const char *params[] = {s->target};
	char *target = ident(s, s->target), *old = ident(s, s->old_name);
	char *name = ident(s, s->new_name), msg[768];
	struct text sql = {0};
	PGresult *res = NULL;
	long count;
	int rc = -1;

	if (target == NULL || old == NULL || name == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	if (run_command(s, "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE",
	                "begin the swap's transaction", err, errlen) < 0)
		goto done;
	res = run(s, sessions_sql, 1, params, "list the sessions on the target", err, errlen);
	if (res == NULL)
		goto rollback;
	count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (count > 0) {
		(void)io_error(
		    err, errlen,
		    "%ld other session%s connected to database %s (application_name: %s) "
		    "when its name was to be swapped; stop the application first",
		    count, count == 1 ? " is" : "s are", s->target, PQgetvalue(res, 0, 1));
		conninfo_scrub(&s->secrets, err, errlen);
		goto rollback;
	}
	PQclear(res);
	/* The target must be the database the checks were made on. */
	res = run(s, oid_sql, 1, params, "find the target database", err, errlen);
	if (res == NULL)
		goto rollback;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), s->target_oid) != 0) {
		(void)io_error(err, errlen,
		               "database %s was dropped or replaced while the backup was restored",
		               s->target);
		goto rollback;
	}
	PQclear(res);
	res = NULL;
	if (environment_sql(s, &sql, err, errlen) < 0)
		goto rollback;
	text_add(&sql, "ALTER DATABASE %s RENAME TO %s;\n", target, old);
	text_add(&sql, "ALTER DATABASE %s RENAME TO %s;\n", name, target);
	if (sql.failed) {
		(void)io_error(err, errlen, "out of memory");
		goto rollback;
	}
	res = PQexec(s->conn, sql.data);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		message_of(s, res, msg, sizeof(msg));
		(void)io_error(err, errlen,
		               "cannot give database %s the target's settings and swap it in: %s",
		               s->new_name, msg);
		goto rollback;
	}
	PQclear(res);
	res = NULL;
	if (before_commit != NULL && before_commit(ctx, err, errlen) < 0)
		goto rollback;
	res = PQexec(s->conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK ||
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		message_of(s, res, msg, sizeof(msg));
		(void)io_error(err, errlen, "cannot commit the swap of database %s: %s", s->target,
		               msg);
		goto done;
	}
	s->committed = true;
	rc = 0;
	goto done;
rollback:
	PQclear(PQexec(s->conn, "ROLLBACK"));
done:
	PQclear(res);
	PQfreemem(target);
	PQfreemem(old);
	PQfreemem(name);
	free(sql.data);
	return rc;
}

int
swap_drop_old(struct swap *s, char *err, size_t errlen)
{
	if (!s->committed)
		return 0;
	return drop_database(s, s->old_name, false, false, err, errlen);
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
	rc = drop_database(s, s->new_name, true, true, err, errlen);
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
	free(s);
}
