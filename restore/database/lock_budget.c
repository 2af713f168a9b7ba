/*
 * lock_budget.c - will one restore transaction fit in the server's lock table (see
 * lock_budget.h)?
 *
 * The estimate, measured on PostgreSQL 12, 15 and 18 with Mendix-like schemas of 100 to 3000
 * entities (at or above what a restore really held in every case):
 *  - the old side is exact: every object that dropping the user schemas reaches, which is
 *    the closure of pg_depend from those schemas, plus one lock per large object (lo_unlink);
 *  - the new side counts, from the dump's table of contents, what takes a lock of its own:
 *    3 per table (the table, and a TOAST table with its index), 1 per index, constraint,
 *    sequence and view, 3 per materialized view and 6 per refresh of one; table data,
 *    defaults, foreign keys, triggers and functions take none;
 *  - 100 more for the transaction itself and restore-worker's own queries.
 * The lock table's documented size is max_locks_per_transaction times the server's process
 * slots (max_connections + max_prepared_transactions + autovacuum_max_workers + 1 +
 * max_worker_processes + max_wal_senders). The server really holds 1.5 to 1.9 times that
 * before it fails, but the excess is undocumented and shared with every other session:
 * a restore is refused when the estimate passes the documented size, so what goes ahead has
 * that excess as headroom.
 */
#include "lock_budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define LOCK_BUDGET_OWN 100 /* the transaction's own entries and restore-worker's queries */

/* What emptying the target locks, and the lock table's size, in one query any role may run. */
static const char budget_sql[] =
    "WITH RECURSIVE s AS ("
    "  SELECT n.oid FROM pg_catalog.pg_namespace n "
    "   WHERE pg_catalog.left(n.nspname::pg_catalog.text, 3) <> 'pg_' "
    "     AND n.nspname <> 'information_schema'), "
    "closure(classid, objid) AS ("
    "  SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass::pg_catalog.oid, oid FROM s "
    "  UNION "
    "  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d "
    "    JOIN closure x ON d.refclassid = x.classid AND d.refobjid = x.objid) "
    "SELECT (SELECT count(*) FROM closure) "
    "     + (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata), "
    "       pg_catalog.current_setting('max_locks_per_transaction')::bigint, "
    "       pg_catalog.current_setting('max_connections')::bigint "
    "     + pg_catalog.current_setting('max_prepared_transactions')::bigint "
    "     + pg_catalog.current_setting('autovacuum_max_workers')::bigint + 1 "
    "     + pg_catalog.current_setting('max_worker_processes')::bigint "
    "     + pg_catalog.current_setting('max_wal_senders')::bigint";

/* creates_locks: what restoring dump locks, from its table of contents. */
static uint64_t
creates_locks(const struct dump_info *dump)
{
	return 3 * dump->creates.tables + dump->creates.indexes + dump->creates.constraints +
	       dump->creates.sequences + dump->creates.views + 3 * dump->creates.matviews +
	       6 * dump->creates.matview_data;
}

int
lock_budget_check(PGconn *conn, const struct dump_info *dump, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, budget_sql);
	unsigned long long drops, per_slot, slots, need, have;
	int rc = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		rc = io_error(err, errlen, "cannot count what the restore would lock: %s",
		              msg != NULL ? msg : "the server connection failed");
		PQclear(res);
		return rc;
	}
	drops = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	per_slot = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	slots = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	need = drops + creates_locks(dump) + LOCK_BUDGET_OWN;
	have = per_slot * slots;
	if (slots > 0 && need > have)
		rc = io_error(
		    err, errlen,
		    "the restore would hold about %llu locks in its one transaction (%llu "
		    "for what the target holds now, %llu for what the backup creates), "
		    "more than the server's lock table holds (%llu: "
		    "max_locks_per_transaction %llu times %llu server process slots); "
		    "raise max_locks_per_transaction to at least %llu (a restart of the "
		    "server), or give the target strategy: swap, which restores into a new "
		    "database beside it",
		    need, drops, need - drops, have, per_slot, slots, (need + slots - 1) / slots);
	return rc;
}
