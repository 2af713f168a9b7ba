/*
 * swap_commit.c - the swap's one short transaction (see swap.h): check that nobody uses the
 * target and that it is the database the checks were made on, carry its environment over
 * onto the new database, and swap the two names.
 *
 * What carries over (the environment, not the backup): pg_db_role_setting rows of the target
 * (ALTER DATABASE ... SET, ALTER ROLE ... IN DATABASE ... SET), the grants on the database
 * (re-granted by its owner), the connection limit, the comment, security labels and the
 * template flag (the old copy loses it, so that it can be dropped); and, before pg_restore
 * runs so that they apply to what it makes, the database-wide default privileges
 * (pg_default_acl without a schema; swap_privileges.c). What does not: ALLOW_CONNECTIONS (the
 * target allows them, or the restore could not have connected to it); default privileges IN SCHEMA
 * (they are the dump's, and --no-privileges leaves them out as the transaction strategy does); the
 * database's OID, to which logical replication slots and subscriptions belong, so a target
 * with any is refused (swap_open). The rehearsal runs the same transaction and rolls it back.
 *
 * Limits: a setting only a superuser may set, or a per-role setting of another role without
 * CREATEROLE, makes the swap's transaction fail (the target stays as it was); grants made by
 * another grantor than the owner are re-made by the owner; default privileges of a role this
 * one is not a member of are a warning.
 */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conninfo.h"
#include "database.h"
#include "io.h"
#include "progress.h"
#include "swap_parts.h"

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
add_set(struct swap *s, struct swap_text *sql, const char *item)
{
	size_t klen = strcspn(item, "=");
	char *name = strndup(item, klen), *qname;
	const char *value = item[klen] == '=' ? item + klen + 1 : "";
	int rc = -1;

	if (name == NULL)
		return -1;
	qname = swap_ident(s, name);
	if (qname == NULL)
		goto done;
	swap_text_add(sql, "SET %s TO ", qname);
	if (!is_list_quote(name)) {
		char *lit = PQescapeLiteral(s->conn, value, strlen(value));

		if (lit == NULL)
			goto done;
		swap_text_add(sql, "%s", lit);
		PQfreemem(lit);
	} else {
		/* Elements separated by ',', each perhaps "double quoted" with "" for a quote. */
		const char *p = value;
		bool first = true;

		for (;;) {
			struct swap_text el = {0};
			char *lit;

			while (*p == ' ')
				p++;
			if (*p == '"') {
				for (p++; *p != '\0'; p++) {
					if (*p == '"' && p[1] == '"')
						swap_text_add(&el, "%c", *p++);
					else if (*p == '"')
						break;
					else
						swap_text_add(&el, "%c", *p);
				}
				if (*p == '"')
					p++;
				while (*p == ' ')
					p++;
			} else {
				size_t n = strcspn(p, ",");

				while (n > 0 && p[n - 1] == ' ')
					n--;
				swap_text_add(&el, "%.*s", (int)n, p);
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
			swap_text_add(sql, "%s%s", first ? "" : ", ", lit);
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
environment_sql(struct swap *s, struct swap_text *sql, char *err, size_t errlen)
{
	static const char settings_sql[] =
	    "SELECT s.setrole, r.rolname, c.item "
	    "FROM pg_catalog.pg_db_role_setting s LEFT JOIN pg_catalog.pg_roles r "
	    "ON r.oid = s.setrole, pg_catalog.unnest(s.setconfig) WITH ORDINALITY c(item, n) "
	    "WHERE s.setdatabase = $1::oid ORDER BY s.setrole, c.n";
	static const char db_sql[] = "SELECT d.datacl IS NULL, d.datconnlimit, "
	                             "       pg_catalog.shobj_description(d.oid, 'pg_database'), "
	                             "       d.datistemplate "
	                             "FROM pg_catalog.pg_database d WHERE d.oid = $1::oid";
	static const char label_sql[] =
	    "SELECT l.provider, l.label FROM pg_catalog.pg_shseclabel l "
	    "WHERE l.objoid = $1::oid AND l.classoid = "
	    "'pg_catalog.pg_database'::pg_catalog.regclass "
	    "ORDER BY 1";
	static const char acl_sql[] =
	    "SELECT a.grantee, pg_catalog.pg_get_userbyid(a.grantee), a.privilege_type, "
	    "a.is_grantable FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a "
	    "WHERE d.oid = $1::oid ORDER BY 1, 3";
	const char *params[] = {s->target_oid};
	bool default_acl;
	char *name = swap_ident(s, s->new_name), *owner = swap_ident(s, s->owner);
	char *target = swap_ident(s, s->target), marker[256], *lit;
	PGresult *res = NULL;
	int rc = -1;

	if (name == NULL || owner == NULL || target == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	/* Database-level settings, for everyone (setrole 0) and per role. */
	res = swap_run(s, settings_sql, 1, params, "read the target's database-level settings", err,
	               errlen);
	if (res == NULL)
		goto done;
	for (int i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "0") == 0) {
			swap_text_add(sql, "ALTER DATABASE %s ", name);
		} else {
			char *role;

			if (PQgetisnull(res, i, 1))
				continue; /* a dropped role's row: nobody can use it */
			role = swap_ident(s, PQgetvalue(res, i, 1));
			if (role == NULL)
				goto oom;
			swap_text_add(sql, "ALTER ROLE %s IN DATABASE %s ", role, name);
			PQfreemem(role);
		}
		if (add_set(s, sql, PQgetvalue(res, i, 2)) < 0)
			goto oom;
		swap_text_add(sql, ";\n");
	}
	PQclear(res);
	/* The connection limit, the comment, and the grants when they are not the default. */
	res = swap_run(s, db_sql, 1, params, "read the target's connection limit and comment", err,
	               errlen);
	if (res == NULL)
		goto done;
	if (PQntuples(res) != 1) {
		(void)io_error(err, errlen, "the target database %s is gone", s->target);
		goto done;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "-1") != 0)
		swap_text_add(sql, "ALTER DATABASE %s CONNECTION LIMIT %ld;\n", name,
		              strtol(PQgetvalue(res, 0, 1), NULL, 10));
	/* The new database's marker gives way to the target's comment; the old copy is marked. */
	lit = PQgetisnull(res, 0, 2)
	          ? NULL
	          : PQescapeLiteral(s->conn, PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));
	if (!PQgetisnull(res, 0, 2) && lit == NULL)
		goto oom;
	swap_text_add(sql, "COMMENT ON DATABASE %s IS %s;\n", name, lit != NULL ? lit : "NULL");
	PQfreemem(lit);
	swap_marker(s, true, marker, sizeof(marker));
	if ((lit = PQescapeLiteral(s->conn, marker, strlen(marker))) == NULL)
		goto oom;
	swap_text_add(sql, "COMMENT ON DATABASE %s IS %s;\n", target, lit);
	PQfreemem(lit);
	/* A template stays one; its old copy must not, or it could not be dropped. */
	if (PQgetvalue(res, 0, 3)[0] == 't')
		swap_text_add(
		    sql,
		    "ALTER DATABASE %s IS_TEMPLATE false;\nALTER DATABASE %s IS_TEMPLATE true;\n",
		    target, name);
	default_acl = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	/* Security labels exist only where a label provider is loaded, which then takes them. */
	res = swap_run(s, label_sql, 1, params, "read the target's security labels", err, errlen);
	if (res == NULL)
		goto done;
	for (int i = 0; i < PQntuples(res); i++) {
		char *provider = swap_ident(s, PQgetvalue(res, i, 0));

		lit =
		    PQescapeLiteral(s->conn, PQgetvalue(res, i, 1), strlen(PQgetvalue(res, i, 1)));
		if (provider != NULL && lit != NULL)
			swap_text_add(sql, "SECURITY LABEL FOR %s ON DATABASE %s IS %s;\n",
			              provider, name, lit);
		PQfreemem(provider);
		PQfreemem(lit);
		if (provider == NULL || lit == NULL)
			goto oom;
	}
	if (default_acl) {
		rc = sql->failed ? io_error(err, errlen, "out of memory") : 0;
		goto done;
	}
	PQclear(res);
	res = swap_run(s, acl_sql, 1, params, "read the grants on the target", err, errlen);
	if (res == NULL)
		goto done;
	swap_text_add(sql, "REVOKE ALL ON DATABASE %s FROM PUBLIC;\n", name);
	swap_text_add(sql, "REVOKE ALL ON DATABASE %s FROM %s;\n", name, owner);
	for (int i = 0; i < PQntuples(res); i++) {
		char *grantee = NULL;

		if (strcmp(PQgetvalue(res, i, 0), "0") != 0 &&
		    (grantee = swap_ident(s, PQgetvalue(res, i, 1))) == NULL)
			goto oom;
		swap_text_add(sql, "GRANT %s ON DATABASE %s TO %s%s;\n", PQgetvalue(res, i, 2),
		              name, grantee != NULL ? grantee : "PUBLIC",
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
	PQfreemem(target);
	return rc;
}

/*
 * commit_point: in the swap's transaction, read what a later process needs to ask whether it
 * committed (swap_commit_point), and make its COMMIT durable (synchronous_commit on, as the
 * transaction strategy's session has it) before the files are swapped in. 0, or -1 with err.
 */
static int
commit_point(struct swap *s, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT pg_catalog.txid_current()::text, pg_catalog.pg_backend_pid(), "
	    "(SELECT d.oid::text FROM pg_catalog.pg_database d WHERE d.datname = $1), "
	    "pg_catalog.set_config('synchronous_commit', 'on', true)";
	const char *params[] = {s->target}; /* renamed in this transaction: the new database */
	PGresult *res = swap_run(s, sql, 1, params, "read the swap's transaction id", err, errlen);

	if (res == NULL)
		return -1;
	snprintf(s->xact_id, sizeof(s->xact_id), "%s", PQgetvalue(res, 0, 0));
	s->backend_pid = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(s->new_oid, sizeof(s->new_oid), "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return 0;
}

/* swapped_in: does the target's name belong to the new database now? */
static bool
swapped_in(struct swap *s)
{
	static const char sql[] =
	    "SELECT d.oid::text FROM pg_catalog.pg_database d WHERE d.datname = $1";
	const char *params[] = {s->target};
	PGresult *res = PQexecParams(s->conn, sql, 1, NULL, params, NULL, NULL, 0);
	bool in = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	          strcmp(PQgetvalue(res, 0, 0), s->new_oid) == 0;

	PQclear(res);
	return in;
}

/*
 * commit_outcome: the COMMIT of the swap failed (res): an error the server sent rolled it
 * back; a lost reply may have committed all the same (a crash, a terminated backend): connect
 * again and ask the server, then which database carries the target's name (by OID). Returns
 * what swap_commit returns; with an unknown outcome both databases are kept.
 */
static int
commit_outcome(struct swap *s, const PGresult *res, char *err, size_t errlen)
{
	enum database_outcome outcome = DATABASE_OUTCOME_UNKNOWN;
	char msg[768], why[512] = "interrupted";
	double deadline = restore_now() + DATABASE_OUTCOME_WAIT_SECONDS, left;

	swap_message_of(s, res, msg, sizeof(msg));
	if (!database_lost(s->conn, res) && PQresultStatus(res) != PGRES_COMMAND_OK) {
		(void)io_error(err, errlen, "cannot commit the swap of database %s: %s", s->target,
		               msg);
		if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
			PQclear(PQexec(s->conn, "ROLLBACK"));
		return -1;
	}
	/* Each try is bounded by connect_timeout (swap.c), the tries by the deadline. */
	for (;;) {
		PQreset(s->conn);
		if (PQstatus(s->conn) == CONNECTION_OK || (s->cancel != NULL && *s->cancel) ||
		    restore_now() >= deadline)
			break;
		(void)usleep(100 * 1000);
	}
	left = deadline - restore_now();
	if (PQstatus(s->conn) == CONNECTION_OK)
		outcome =
		    database_xact_outcome(s->conn, s->xact_id, s->backend_pid,
		                          left > 1 ? (int)left : 1, s->cancel, why, sizeof(why));
	else
		swap_message_of(s, NULL, why, sizeof(why));
	if (outcome == DATABASE_COMMITTED && !swapped_in(s)) {
		outcome = DATABASE_OUTCOME_UNKNOWN;
		snprintf(why, sizeof(why),
		         "the server says it committed, yet database %s is not OID %s", s->target,
		         s->new_oid);
	}
	if (outcome == DATABASE_COMMITTED) {
		s->committed = true;
		(void)io_error(
		    err, errlen,
		    "the server's reply to the COMMIT of the swap of database %s was lost "
		    "(%s); asked again, the server says transaction %s committed",
		    s->target, msg, s->xact_id);
		return 1;
	}
	if (outcome == DATABASE_ROLLED_BACK) {
		(void)io_error(err, errlen,
		               "cannot commit the swap of database %s: %s; asked again, the server "
		               "says transaction %s was rolled back",
		               s->target, msg, s->xact_id);
		return -1;
	}
	s->created = false; /* nothing is dropped: either database may be the only copy */
	(void)io_error(err, errlen,
	               "the server's reply to the COMMIT of the swap of database %s was lost (%s) "
	               "and the server could not tell whether transaction %s committed (%s): "
	               "database %s holds the backup or is as it was, and the other state is "
	               "database %s (the backup) or %s (the old database), kept for now: the next "
	               "restore into the target, or the worker's start, drops whichever does not "
	               "carry the name %s (copy it first if it must stay)",
	               s->target, msg, s->xact_id, why, s->target, s->new_name, s->old_name,
	               s->target);
	conninfo_scrub(&s->secrets, err, errlen);
	return -2;
}

void
swap_commit_point(const struct swap *s, char *xact_id, size_t xact_len, int *pid, char *oid,
                  size_t oid_len)
{
	snprintf(xact_id, xact_len, "%s", s->xact_id);
	*pid = s->backend_pid;
	snprintf(oid, oid_len, "%s", s->new_oid);
}

void
swap_set_cancel(struct swap *s, volatile sig_atomic_t *cancel)
{
	s->cancel = cancel;
}

/*
 * swap_prepare: begin the swap's transaction, check that nobody uses the target and that it
 * is the database the checks were made on, carry its environment over and swap the names;
 * 0 with the transaction open, or -1 with err and the transaction rolled back.
 */
static int
swap_prepare(struct swap *s, char *err, size_t errlen)
{
	static const char sessions_sql[] =
	    "SELECT count(*), coalesce(pg_catalog.string_agg(DISTINCT coalesce(nullif("
	    "application_name, ''), '(none)'), ', '), '') FROM pg_catalog.pg_stat_activity "
	    "WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid() "
	    "AND backend_type = 'client backend'";
	static const char oid_sql[] =
	    "SELECT d.oid::text FROM pg_catalog.pg_database d WHERE d.datname = $1";
	const char *params[] = {s->target};
	char *target = swap_ident(s, s->target), *old = swap_ident(s, s->old_name);
	char *name = swap_ident(s, s->new_name), msg[768];
	struct swap_text sql = {0};
	PGresult *res = NULL;
	long count;
	int rc = -1;

	if (target == NULL || old == NULL || name == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	if (swap_run_command(s, "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE",
	                     "begin the swap's transaction", err, errlen) < 0)
		goto done;
	res = swap_run(s, sessions_sql, 1, params, "list the sessions on the target", err, errlen);
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
	res = swap_run(s, oid_sql, 1, params, "find the target database", err, errlen);
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
	swap_text_add(&sql, "ALTER DATABASE %s RENAME TO %s;\n", target, old);
	swap_text_add(&sql, "ALTER DATABASE %s RENAME TO %s;\n", name, target);
	if (sql.failed) {
		(void)io_error(err, errlen, "out of memory");
		goto rollback;
	}
	res = PQexec(s->conn, sql.data);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		swap_message_of(s, res, msg, sizeof(msg));
		(void)io_error(err, errlen,
		               "cannot give database %s the target's settings and swap it in: %s",
		               s->new_name, msg);
		goto rollback;
	}
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
swap_rehearse(struct swap *s, char *err, size_t errlen)
{
	PGresult *res;
	char msg[768];
	int rc = 0;

	if (swap_prepare(s, err, errlen) < 0)
		return -1;
	res = PQexec(s->conn, "ROLLBACK");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		swap_message_of(s, res, msg, sizeof(msg));
		rc = io_error(err, errlen, "cannot roll back the rehearsed swap of database %s: %s",
		              s->target, msg);
	}
	PQclear(res);
	return rc;
}

int
swap_commit(struct swap *s, int (*before_commit)(void *ctx, char *err, size_t errlen), void *ctx,
            char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc = -1;

	if (swap_prepare(s, err, errlen) < 0)
		return -1;
	if (commit_point(s, err, errlen) < 0)
		goto rollback;
	if (before_commit != NULL && before_commit(ctx, err, errlen) < 0)
		goto rollback;
	res = PQexec(s->conn, "COMMIT");
	if (PQresultStatus(res) == PGRES_COMMAND_OK &&
	    PQtransactionStatus(s->conn) == PQTRANS_IDLE &&
	    strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* COMMIT of a transaction that had failed: the server rolled it back. */
		(void)io_error(err, errlen,
		               "cannot commit the swap of database %s: the server rolled "
		               "it back (%s)",
		               s->target, PQcmdStatus(res));
		goto done;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK ||
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		rc = commit_outcome(s, res, err, errlen);
		goto done;
	}
	s->committed = true;
	rc = 0;
	goto done;
rollback:
	PQclear(PQexec(s->conn, "ROLLBACK"));
done:
	PQclear(res);
	return rc;
}
