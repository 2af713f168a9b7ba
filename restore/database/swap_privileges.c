/*
 * swap_privileges.c - the target's database-wide default privileges (pg_default_acl rows
 * without a schema: ALTER DEFAULT PRIVILEGES FOR ROLE ... GRANT ... ON TABLES ...), given to
 * the swap's new database before pg_restore runs, so that they apply to what it makes as they
 * do with strategy transaction, where the target keeps them.
 *
 * Limits: default privileges of a role this one is not a member of cannot be made here; each
 * such role is a warning in the report.
 */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "swap_parts.h"

/* default_acl_kind: the word ALTER DEFAULT PRIVILEGES uses for pg_default_acl's objtype. */
static const char *
default_acl_kind(char objtype)
{
	switch (objtype) {
	case 'r':
		return "TABLES";
	case 'S':
		return "SEQUENCES";
	case 'f':
		return "FUNCTIONS";
	case 'T':
		return "TYPES";
	case 'n':
		return "SCHEMAS";
	case 'L':
		return "LARGE OBJECTS";
	default:
		return NULL;
	}
}

/*
 * default_acl_sql: the ALTER DEFAULT PRIVILEGES that give a database the default privileges
 * rows (role, objtype, member, grantee oid, grantee, privilege, grantable) describe: all that
 * is not granted by default is revoked, then each grant is made.
 */
static int
default_acl_sql(struct swap *s, const PGresult *res, struct swap_text *sql, struct report *report)
{
	for (int i = 0; i < PQntuples(res); i++) {
		bool first = i == 0 ||
		             strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, i - 1, 0)) != 0 ||
		             strcmp(PQgetvalue(res, i, 1), PQgetvalue(res, i - 1, 1)) != 0;
		const char *kind = default_acl_kind(PQgetvalue(res, i, 1)[0]);
		char *role, *grantee = NULL;

		if (kind == NULL || PQgetvalue(res, i, 2)[0] != 't') {
			if (first)
				report_warn(
				    report,
				    "the default privileges of role %s on %s in database %s "
				    "are not carried over by the swap: %s",
				    PQgetvalue(res, i, 0), kind != NULL ? kind : "objects",
				    s->target,
				    kind != NULL ? "this role is not a member of it"
				                 : "their kind is unknown");
			continue;
		}
		if ((role = swap_ident(s, PQgetvalue(res, i, 0))) == NULL)
			return -1;
		if (first)
			swap_text_add(
			    sql,
			    "ALTER DEFAULT PRIVILEGES FOR ROLE %s REVOKE ALL ON %s FROM PUBLIC;\n"
			    "ALTER DEFAULT PRIVILEGES FOR ROLE %s REVOKE ALL ON %s FROM %s;\n",
			    role, kind, role, kind, role);
		if (!PQgetisnull(res, i, 3)) {
			if (strcmp(PQgetvalue(res, i, 3), "0") != 0 &&
			    (grantee = swap_ident(s, PQgetvalue(res, i, 4))) == NULL) {
				PQfreemem(role);
				return -1;
			}
			swap_text_add(
			    sql, "ALTER DEFAULT PRIVILEGES FOR ROLE %s GRANT %s ON %s TO %s%s;\n",
			    role, PQgetvalue(res, i, 5), kind, grantee != NULL ? grantee : "PUBLIC",
			    PQgetvalue(res, i, 6)[0] == 't' ? " WITH GRANT OPTION" : "");
			PQfreemem(grantee);
		}
		PQfreemem(role);
	}
	return sql->failed ? -1 : 0;
}

/* result_message: the primary message of a failed result on conn (not the swap's own). */
static void
result_message(PGconn *conn, const PGresult *res, char *buf, size_t buflen)
{
	const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (m == NULL)
		m = PQerrorMessage(conn);
	snprintf(buf, buflen, "%.*s", (int)strcspn(m, "\n"),
	         m[0] != '\0' ? m : "the server connection failed");
}

int
swap_carry_default_privileges(struct swap *s, struct report *report, char *err, size_t errlen)
{
	static const char read_sql[] =
	    "SELECT pg_catalog.pg_get_userbyid(d.defaclrole), d.defaclobjtype, "
	    "       pg_catalog.pg_has_role(d.defaclrole, 'MEMBER'), a.grantee, "
	    "       pg_catalog.pg_get_userbyid(a.grantee), a.privilege_type, a.is_grantable "
	    "FROM pg_catalog.pg_default_acl d "
	    "LEFT JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a ON true "
	    "WHERE d.defaclnamespace = 0 "
	    "ORDER BY d.defaclrole, d.defaclobjtype, a.grantee, a.privilege_type";
	static const char gone_sql[] =
	    "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid = $1::int";
	struct swap_text sql = {0};
	PGconn *conn;
	PGresult *res;
	char pid[24], msg[512];
	const char *params[] = {pid};
	int rc = -1;

	/* pg_default_acl is the database's own catalog: only a session on it can read it. */
	if ((conn = swap_connect(s, false, err, errlen)) == NULL)
		return -1;
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(conn));
	res = PQexec(conn, read_sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		result_message(conn, res, msg, sizeof(msg));
		(void)io_error(err, errlen, "cannot read the default privileges of database %s: %s",
		               s->target, msg);
		conninfo_scrub(&s->secrets, err, errlen);
		PQclear(res);
		PQfinish(conn);
		return -1;
	}
	if (default_acl_sql(s, res, &sql, report) < 0)
		(void)io_error(err, errlen, "out of memory");
	else
		rc = 0;
	PQclear(res);
	PQfinish(conn);
	/* The swap's check counts sessions on the target: wait (5 s at most) until ours is gone. */
	for (int i = 0; i < 100; i++) {
		bool gone;

		res = PQexecParams(s->conn, gone_sql, 1, NULL, params, NULL, NULL, 0);
		gone = PQresultStatus(res) != PGRES_TUPLES_OK ||
		       strcmp(PQgetvalue(res, 0, 0), "0") == 0;
		PQclear(res);
		if (gone)
			break;
		(void)usleep(50000);
	}
	if (rc < 0 || sql.len == 0)
		goto done;
	rc = -1;
	if ((conn = swap_connect(s, true, err, errlen)) == NULL)
		goto done;
	res = PQexec(conn, sql.data);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		result_message(conn, res, msg, sizeof(msg));
		(void)io_error(err, errlen,
		               "cannot give database %s the default privileges of database %s: %s",
		               s->new_name, s->target, msg);
		conninfo_scrub(&s->secrets, err, errlen);
	} else {
		rc = 0;
	}
	PQclear(res);
	PQfinish(conn);
done:
	free(sql.data);
	return rc;
}
