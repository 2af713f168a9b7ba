/*
 * swap.c - the swap strategy (see swap.h): a new database beside the target, filled by
 * pg_restore --jobs, then swapped in by two renames in one transaction. This file opens the
 * swap (its connection, the checks that the swap may be done, what the new database must copy
 * of the target), marks and drops the swap's databases, and removes what earlier swaps left
 * behind; swap_session.c makes its connections, swap_restore.c fills the new database and
 * swap_commit.c swaps it in.
 *
 * Connections. The swap's own connection goes to the maintenance database (postgres unless
 * configured otherwise) with every other parameter of the target's connection string, taken
 * from libpq's parse of it (PQconninfoParse) with dbname replaced: never by pasting strings
 * (swap_connect_params).
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "io.h"
#include "swap_parts.h"

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
 * read_target_options: the target's database-level settings (for everyone, then for its
 * owner, as an application connecting as the owner gets them) as libpq options, for the
 * sessions on the new database: the file check sees what the application will see. Only
 * settings this role may give a session at its start are kept.
 */
static int
read_target_options(struct swap *s, char *err, size_t errlen)
{
	const char *params[] = {s->target_oid, s->owner};
	struct swap_text sql = {0}, opts = {0};
	PGresult *res;

	swap_text_add(
	    &sql,
	    "SELECT c.item FROM pg_catalog.pg_db_role_setting s "
	    "CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) WITH ORDINALITY c(item, n) "
	    "LEFT JOIN pg_catalog.pg_settings g ON pg_catalog.lower(g.name) = "
	    "pg_catalog.lower(pg_catalog.split_part(c.item, '=', 1)) "
	    "WHERE s.setdatabase = $1::oid AND (s.setrole = 0 OR s.setrole = "
	    "(SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $2)) "
	    "AND (g.name IS NULL OR g.context IN ('user', 'backend') "
	    "OR (g.context IN ('superuser', 'superuser-backend') AND (SELECT r.rolsuper "
	    "FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER))%s) "
	    "ORDER BY s.setrole <> 0, c.n",
	    s->server_version >= 150000 ? " OR pg_catalog.has_parameter_privilege(g.name, 'SET')"
	                                : "");
	if (sql.failed)
		return io_error(err, errlen, "out of memory");
	res = swap_run(s, sql.data, 2, params, "read the target's database-level settings", err,
	               errlen);
	free(sql.data);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		swap_text_add(&opts, "%s-c ", opts.len == 0 ? "" : " ");
		for (const char *c = PQgetvalue(res, i, 0); *c != '\0'; c++)
			swap_text_add(&opts, "%s%c", *c == ' ' || *c == '\\' ? "\\" : "", *c);
	}
	PQclear(res);
	if (opts.failed) {
		free(opts.data);
		return io_error(err, errlen, "out of memory");
	}
	s->target_options = opts.data;
	return 0;
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
	keys = swap_connect_params(s, maintenance_db, extra, &vals);
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
	if (swap_session_setup(s, s->conn, maintenance_db, err, errlen) < 0 ||
	    (check_target(s, why, err, errlen) < 0 && !(tidy && s->owner[0] != '\0'))) {
		swap_close(s);
		return -1;
	}
	*why = SWAP_ERROR; /* what fails from here on (a lost server...) is no refusal */
	if (!tidy && read_target_options(s, err, errlen) < 0) {
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