/*
 * target_empty.c - empty the target database before a restore, or say why the role cannot
 * (see target_empty.h).
 *
 * What is removed is what pg_dump would dump, decided by pg_dump's own rules
 * (selectDumpable*() in src/bin/pg_dump/pg_dump.c):
 *
 *  - schemas, except those whose name starts with "pg_" (pg_catalog, pg_toast, every
 *    session's pg_temp_N and pg_toast_temp_N; the server refuses such names for user schemas)
 *    and information_schema. Everything in a schema goes with it (DROP SCHEMA ... CASCADE,
 *    which does not ask who owns what it takes along). The test compares the name's first
 *    three characters; a LIKE pattern would depend on standard_conforming_strings.
 *  - extensions, procedural languages, casts and access methods whose OID is past the range
 *    initdb uses (FirstNormalObjectId, 16384): initdb's (plpgsql, the built-in casts) stay.
 *  - every publication, event trigger, transform, foreign server (with its user mappings) and
 *    foreign-data wrapper (none is built in), and every large object.
 *  - an extension's member objects go with their extension, never on their own.
 *
 * Subscriptions are never dropped: dropping one inside a transaction means first detaching it
 * from its replication slot, which would then stay on the publisher and hold back its WAL.
 * Default privileges (ALTER DEFAULT PRIVILEGES) that name no schema are left alone: backups are
 * made and restored without privileges (-x), so they are the target's policy, not its content.
 *
 * The check: a role may drop what it owns (what a superuser would be asked is the same); an
 * access method only a superuser may drop. An object the role may not drop is still fine when
 * dropping the schemas takes it along: when it depends, through pg_depend, on something that
 * lives in a user schema (an event trigger whose function is in public, an extension created
 * in public by a superuser). Anything else is named in the refusal. The check runs before the
 * restore's transaction (a refusal then changes nothing, not even the files) and again inside
 * it, before the first DROP.
 *
 * Only the columns of pg_subscription that every role may read are read (before PostgreSQL
 * 13 its oid is not one of them); a subscription is never an extension's member.
 *
 * Every query assumes the session's search_path is pg_catalog (database.c sets it), and names
 * the catalogs with their schema anyway.
 */
#include "target_empty.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "io.h"

#define TARGET_EMPTY_LISTED 10 /* objects named in a refusal; the rest are counted */

/* The dumpable objects of the database: what it is, whether the role may drop it, and how. */
#define TARGET_EMPTY_OBJECTS                                                                       \
	"WITH RECURSIVE "                                                                          \
	"schemas AS ("                                                                             \
	"  SELECT n.oid, n.nspname, n.nspowner FROM pg_catalog.pg_namespace n "                    \
	"   WHERE pg_catalog.left(n.nspname::pg_catalog.text, 3) <> 'pg_' "                        \
	"     AND n.nspname <> 'information_schema'), "                                            \
	"members AS ("                                                                             \
	"  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d "                                 \
	"   WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'), "       \
	"kept AS ("                                                                                \
	"  SELECT n.oid FROM schemas n "                                                           \
	"   WHERE n.nspname = 'public' AND NOT pg_has_role(n.nspowner, 'USAGE')), "                \
	"dropped_schemas AS (SELECT n.* FROM schemas n WHERE n.oid NOT IN (SELECT oid FROM "       \
	"kept)), "                                                                                 \
	"kept_contents AS ("                                                                       \
	"  SELECT d.classid, d.objid, i.type, i.identity, "                                        \
	"         CASE d.classid "                                                                 \
	"           WHEN 'pg_catalog.pg_class'::regclass THEN "                                    \
	"             (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = d.objid) "       \
	"           WHEN 'pg_catalog.pg_proc'::regclass THEN "                                     \
	"             (SELECT p.proowner FROM pg_catalog.pg_proc p WHERE p.oid = d.objid) "        \
	"           WHEN 'pg_catalog.pg_type'::regclass THEN "                                     \
	"             (SELECT t.typowner FROM pg_catalog.pg_type t WHERE t.oid = d.objid) "        \
	"           WHEN 'pg_catalog.pg_collation'::regclass THEN "                                \
	"             (SELECT c.collowner FROM pg_catalog.pg_collation c WHERE c.oid = d.objid) "  \
	"           WHEN 'pg_catalog.pg_conversion'::regclass THEN "                               \
	"             (SELECT c.conowner FROM pg_catalog.pg_conversion c WHERE c.oid = d.objid) "  \
	"           WHEN 'pg_catalog.pg_operator'::regclass THEN "                                 \
	"             (SELECT o.oprowner FROM pg_catalog.pg_operator o WHERE o.oid = d.objid) "    \
	"           WHEN 'pg_catalog.pg_opclass'::regclass THEN "                                  \
	"             (SELECT o.opcowner FROM pg_catalog.pg_opclass o WHERE o.oid = d.objid) "     \
	"           WHEN 'pg_catalog.pg_opfamily'::regclass THEN "                                 \
	"             (SELECT o.opfowner FROM pg_catalog.pg_opfamily o WHERE o.oid = d.objid) "    \
	"           WHEN 'pg_catalog.pg_ts_config'::regclass THEN "                                \
	"             (SELECT c.cfgowner FROM pg_catalog.pg_ts_config c WHERE c.oid = d.objid) "   \
	"           WHEN 'pg_catalog.pg_ts_dict'::regclass THEN "                                  \
	"             (SELECT t.dictowner FROM pg_catalog.pg_ts_dict t WHERE t.oid = d.objid) "    \
	"           WHEN 'pg_catalog.pg_statistic_ext'::regclass THEN "                            \
	"             (SELECT x.stxowner FROM pg_catalog.pg_statistic_ext x WHERE x.oid = "        \
	"d.objid) "                                                                                \
	"         END AS owner, "                                                                  \
	"         CASE WHEN i.type IN ('table', 'view', 'materialized view', 'sequence', "         \
	"                              'foreign table', 'type', 'function', 'aggregate', "         \
	"                              'procedure', 'collation', 'conversion', 'operator', "       \
	"                              'operator class', 'operator family', "                      \
	"                              'text search configuration', "                              \
	"                              'text search dictionary', 'text search parser', "           \
	"                              'text search template') "                                   \
	"              THEN pg_catalog.upper(i.type) "                                             \
	"              WHEN i.type = 'statistics object' THEN 'STATISTICS' END AS keyword "        \
	"    FROM pg_catalog.pg_depend d JOIN kept k ON d.refobjid = k.oid "                       \
	"   CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, 0) i "            \
	"   WHERE d.refclassid = 'pg_catalog.pg_namespace'::regclass AND d.deptype = 'n'), "       \
	"objects(rank, classid, objid, label, owner, may_drop, drop_sql) AS ("                     \
	"  SELECT 1, 'pg_catalog.pg_subscription'::regclass::oid, 0::oid, "                        \
	"         'subscription ' || quote_ident(s.subname), s.subowner, false, NULL::text "       \
	"    FROM pg_catalog.pg_subscription s "                                                   \
	"   WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d "                        \
	"                       WHERE d.datname = current_database()) "                            \
	"  UNION ALL "                                                                             \
	"  SELECT 2, 'pg_catalog.pg_event_trigger'::regclass::oid, e.oid, "                        \
	"         'event trigger ' || quote_ident(e.evtname), e.evtowner, "                        \
	"         pg_has_role(e.evtowner, 'USAGE'), "                                              \
	"         format('DROP EVENT TRIGGER IF EXISTS %I', e.evtname) "                           \
	"    FROM pg_catalog.pg_event_trigger e "                                                  \
	"  UNION ALL "                                                                             \
	"  SELECT 3, 'pg_catalog.pg_publication'::regclass::oid, p.oid, "                          \
	"         'publication ' || quote_ident(p.pubname), p.pubowner, "                          \
	"         pg_has_role(p.pubowner, 'USAGE'), "                                              \
	"         format('DROP PUBLICATION IF EXISTS %I', p.pubname) "                             \
	"    FROM pg_catalog.pg_publication p "                                                    \
	"  UNION ALL "                                                                             \
	"  SELECT 4, 'pg_catalog.pg_extension'::regclass::oid, x.oid, "                            \
	"         'extension ' || quote_ident(x.extname), x.extowner, "                            \
	"         pg_has_role(x.extowner, 'USAGE'), "                                              \
	"         format('DROP EXTENSION IF EXISTS %I CASCADE', x.extname) "                       \
	"    FROM pg_catalog.pg_extension x WHERE x.oid >= 16384 "                                 \
	"  UNION ALL "                                                                             \
	"  SELECT 5, 'pg_catalog.pg_cast'::regclass::oid, c.oid, "                                 \
	"         format('cast (%s AS %s)', format_type(c.castsource, NULL), "                     \
	"                format_type(c.casttarget, NULL)), NULL, "                                 \
	"         pg_has_role(s.typowner, 'USAGE') OR pg_has_role(t.typowner, 'USAGE'), "          \
	"         format('DROP CAST IF EXISTS (%s AS %s) CASCADE', "                               \
	"                format_type(c.castsource, NULL), format_type(c.casttarget, NULL)) "       \
	"    FROM pg_catalog.pg_cast c "                                                           \
	"    JOIN pg_catalog.pg_type s ON s.oid = c.castsource "                                   \
	"    JOIN pg_catalog.pg_type t ON t.oid = c.casttarget "                                   \
	"   WHERE c.oid >= 16384 "                                                                 \
	"  UNION ALL "                                                                             \
	"  SELECT 6, 'pg_catalog.pg_transform'::regclass::oid, f.oid, "                            \
	"         format('transform for %s language %I', format_type(f.trftype, NULL), "           \
	"                l.lanname), NULL, "                                                       \
	"         pg_has_role(t.typowner, 'USAGE') AND pg_has_role(l.lanowner, 'USAGE'), "         \
	"         format('DROP TRANSFORM IF EXISTS FOR %s LANGUAGE %I CASCADE', "                  \
	"                format_type(f.trftype, NULL), l.lanname) "                                \
	"    FROM pg_catalog.pg_transform f "                                                      \
	"    JOIN pg_catalog.pg_type t ON t.oid = f.trftype "                                      \
	"    JOIN pg_catalog.pg_language l ON l.oid = f.trflang "                                  \
	"  UNION ALL "                                                                             \
	"  SELECT 7, 'pg_catalog.pg_foreign_server'::regclass::oid, v.oid, "                       \
	"         'foreign server ' || quote_ident(v.srvname), v.srvowner, "                       \
	"         pg_has_role(v.srvowner, 'USAGE'), "                                              \
	"         format('DROP SERVER IF EXISTS %I CASCADE', v.srvname) "                          \
	"    FROM pg_catalog.pg_foreign_server v "                                                 \
	"  UNION ALL "                                                                             \
	"  SELECT 8, 'pg_catalog.pg_foreign_data_wrapper'::regclass::oid, w.oid, "                 \
	"         'foreign-data wrapper ' || quote_ident(w.fdwname), w.fdwowner, "                 \
	"         pg_has_role(w.fdwowner, 'USAGE'), "                                              \
	"         format('DROP FOREIGN DATA WRAPPER IF EXISTS %I CASCADE', w.fdwname) "            \
	"    FROM pg_catalog.pg_foreign_data_wrapper w "                                           \
	"  UNION ALL "                                                                             \
	"  SELECT 9, 'pg_catalog.pg_language'::regclass::oid, l.oid, "                             \
	"         'language ' || quote_ident(l.lanname), l.lanowner, "                             \
	"         pg_has_role(l.lanowner, 'USAGE'), "                                              \
	"         format('DROP LANGUAGE IF EXISTS %I CASCADE', l.lanname) "                        \
	"    FROM pg_catalog.pg_language l WHERE l.oid >= 16384 "                                  \
	"  UNION ALL "                                                                             \
	"  SELECT 10, 'pg_catalog.pg_am'::regclass::oid, a.oid, "                                  \
	"         'access method ' || quote_ident(a.amname), NULL, "                               \
	"         (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user), " \
	"         format('DROP ACCESS METHOD IF EXISTS %I CASCADE', a.amname) "                    \
	"    FROM pg_catalog.pg_am a WHERE a.oid >= 16384 "                                        \
	"  UNION ALL "                                                                             \
	"  SELECT 11, 'pg_catalog.pg_namespace'::regclass::oid, n.oid, "                           \
	"         'schema ' || quote_ident(n.nspname), n.nspowner, "                               \
	"         pg_has_role(n.nspowner, 'USAGE'), "                                              \
	"         format('DROP SCHEMA IF EXISTS %I CASCADE', n.nspname) "                          \
	"    FROM dropped_schemas n "                                                              \
	"  UNION ALL "                                                                             \
	"  SELECT 12, c.classid, c.objid, c.type || ' ' || c.identity, c.owner, "                  \
	"         c.keyword IS NOT NULL AND (c.owner IS NULL AND (SELECT r.rolsuper "              \
	"           FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) "                   \
	"           OR pg_has_role(c.owner, 'USAGE')), "                                           \
	"         format('DROP %s IF EXISTS %s CASCADE', c.keyword, c.identity) "                  \
	"    FROM kept_contents c "                                                                \
	"  UNION ALL "                                                                             \
	"  SELECT 13, 'pg_catalog.pg_largeobject'::regclass::oid, m.oid, "                         \
	"         'large object ' || m.oid, m.lomowner, pg_has_role(m.lomowner, 'USAGE'), NULL "   \
	"    FROM pg_catalog.pg_largeobject_metadata m), "                                         \
	"dumped AS ("                                                                              \
	"  SELECT o.* FROM objects o WHERE NOT EXISTS ("                                           \
	"    SELECT FROM members m WHERE m.classid = o.classid AND m.objid = o.objid)) "

/*
 * What the role may not drop and nothing dropped takes along, as (is a subscription, what it
 * is with its owner, the role's name), in the order of the drops. up walks pg_depend from each
 * such object to everything it depends on, directly or not: dropping any of those (a schema
 * that goes, or an object the role drops with CASCADE) drops it.
 */
static const char check_sql[] = TARGET_EMPTY_OBJECTS
    ", up(start_class, start_oid, classid, objid) AS ("
    "  SELECT o.classid, o.objid, d.refclassid, d.refobjid "
    "    FROM dumped o JOIN pg_catalog.pg_depend d ON d.classid = o.classid AND d.objid = o.objid "
    "   WHERE NOT o.may_drop "
    "  UNION "
    "  SELECT u.start_class, u.start_oid, d.refclassid, d.refobjid "
    "    FROM up u JOIN pg_catalog.pg_depend d ON d.classid = u.classid AND d.objid = u.objid) "
    "SELECT o.rank = 1, o.label || coalesce(' (owner ' || "
    "       quote_ident(pg_get_userbyid(o.owner)::text) || ')', ''), current_user "
    "  FROM dumped o "
    " WHERE NOT o.may_drop AND NOT EXISTS ("
    "   SELECT FROM up u JOIN dropped_schemas n ON u.objid = n.oid "
    "    WHERE u.classid = 'pg_catalog.pg_namespace'::regclass "
    "      AND u.start_class = o.classid AND u.start_oid = o.objid) "
    "   AND NOT EXISTS ("
    "   SELECT FROM up u JOIN dumped x ON x.classid = u.classid AND x.objid = u.objid "
    "    WHERE x.may_drop AND u.start_class = o.classid AND u.start_oid = o.objid) "
    " ORDER BY o.rank, o.label";

/* The statements that drop what the role may drop, objects in no schema first. */
static const char drops_sql[] = TARGET_EMPTY_OBJECTS
    "SELECT o.drop_sql FROM dumped o WHERE o.may_drop AND o.drop_sql IS NOT NULL "
    "ORDER BY o.rank, o.label";

/* result_failed: whether res is not of status want; if so, err says what could not be done. */
static bool
result_failed(PGconn *conn, const PGresult *res, ExecStatusType want, const char *what, char *err,
              size_t errlen)
{
	const char *primary, *hint;

	if (PQresultStatus(res) == want)
		return false;
	primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	hint = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	if (primary == NULL) {
		const char *msg = PQerrorMessage(conn);

		(void)io_error(err, errlen, "cannot %s: %.*s", what, (int)strcspn(msg, "\n"),
		               msg[0] != '\0' ? msg : "the server connection failed");
	} else if (hint != NULL) {
		(void)io_error(err, errlen, "cannot %s: %s (%s)", what, primary, hint);
	} else {
		(void)io_error(err, errlen, "cannot %s: %s", what, primary);
	}
	return true;
}

/* exec_command: run SQL whose result is not needed; 0 or -1 with err. */
static int
exec_command(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    result_failed(conn, res, PGRES_COMMAND_OK, what, err, errlen))
		rc = -1;
	PQclear(res);
	return rc;
}

/* list_append: add ", item" (or the first item) to the list in buf. */
static void
list_append(char *buf, size_t buflen, const char *item)
{
	size_t len = strlen(buf);

	snprintf(buf + len, buflen - len, "%s%s", len > 0 ? ", " : "", item);
}

/* refusal: the sentence for the rows of check_sql (at least one). */
static void
refusal(PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
	char others[1024] = "", subscriptions[512] = "", more[64] = "";
	int i, listed = 0, unlisted = 0;

	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "t") == 0)
			list_append(subscriptions, sizeof(subscriptions), PQgetvalue(res, i, 1));
		else if (listed++ < TARGET_EMPTY_LISTED)
			list_append(others, sizeof(others), PQgetvalue(res, i, 1));
		else
			unlisted++;
	}
	if (unlisted > 0)
		snprintf(more, sizeof(more), " and %d more", unlisted);
	if (others[0] != '\0')
		(void)io_error(err, errlen,
		               "database %s holds what a restore must remove and role %s may not "
		               "drop: %s%s; restore as %s owner or a superuser, have %s owner "
		               "drop %s first, or give %s to role %s (REASSIGN OWNED)%s%s%s",
		               PQdb(conn), PQgetvalue(res, 0, 2), others, more,
		               listed > 1 ? "their" : "its", listed > 1 ? "their" : "its",
		               listed > 1 ? "them" : "it", listed > 1 ? "them" : "it",
		               PQgetvalue(res, 0, 2),
		               subscriptions[0] != '\0' ? "; it also holds " : "", subscriptions,
		               subscriptions[0] != '\0' ? ", which a restore never drops" : "");
	else
		(void)io_error(err, errlen,
		               "database %s holds %s, which a restore never drops (its replication "
		               "slot on the publisher would be left behind); drop it first",
		               PQdb(conn), subscriptions);
}

int
target_empty_check(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, check_sql);
	int rc = 0;

	if (result_failed(conn, res, PGRES_TUPLES_OK, "list what the target database holds", err,
	                  errlen)) {
		rc = -1;
	} else if (PQntuples(res) > 0) {
		refusal(conn, res, err, errlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int
target_empty(PGconn *conn, char *err, size_t errlen)
{
	static const char drop_large_objects[] =
	    "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata";
	/* pg_restore never creates public ("initdb creates it"): a dump assumes exactly that. */
	static const char create_public[] = "CREATE SCHEMA public; "
	                                    "COMMENT ON SCHEMA public IS 'standard public schema'; "
	                                    "GRANT USAGE ON SCHEMA public TO PUBLIC";
	PGresult *res;
	bool kept;
	int i, rc = 0;

	if (target_empty_check(conn, err, errlen) < 0)
		return -1;
	res = PQexec(conn, drops_sql);
	if (result_failed(conn, res, PGRES_TUPLES_OK, "list what the target database holds", err,
	                  errlen)) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = exec_command(conn, PQgetvalue(res, i, 0), "empty the target database", err,
		                  errlen);
	PQclear(res);
	if (rc < 0 || exec_command(conn, drop_large_objects, "remove the target's large objects",
	                           err, errlen) < 0)
		return -1;
	/*
	 * A public the role may not drop (before PostgreSQL 15 it belongs to the bootstrap
	 * superuser) was emptied instead, and stays as it is.
	 */
	res = PQexec(conn, "SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'public'");
	if (result_failed(conn, res, PGRES_TUPLES_OK, "look for schema public", err, errlen)) {
		PQclear(res);
		return -1;
	}
	kept = PQntuples(res) > 0;
	PQclear(res);
	if (kept)
		return 0;
	if (exec_command(conn, create_public, "recreate schema public", err, errlen) < 0)
		return -1;
	/*
	 * Since PostgreSQL 14 initdb gives public to pg_database_owner. A restore user that
	 * may not do so keeps it: the dump restores the same either way (it is made with -O).
	 */
	if (PQserverVersion(conn) >= 140000)
		return exec_command(conn,
		                    "DO $$BEGIN ALTER SCHEMA public OWNER TO pg_database_owner; "
		                    "EXCEPTION WHEN insufficient_privilege THEN NULL; END$$",
		                    "give schema public to pg_database_owner", err, errlen);
	return 0;
}
