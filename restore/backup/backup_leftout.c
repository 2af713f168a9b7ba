/*
 * backup_leftout.c - the files a full snapshot leaves out on purpose, judged in the dump's own
 * snapshot of the database.
 *
 * Mendix's backups hold every file "unless the DeleteAfterDownload attribute of the
 * System.FileDocument entity, or any of its generalizations, is set to true": such a file is
 * meant to be unrecoverable once downloaded. Mendix maps an entity and its specializations
 * onto one table per entity, the specializations' objects having their row in each table of
 * their generalizations; so every file document (System.Image and the application's own
 * specializations too) has its row, with column deleteafterdownload, in
 * public."system$filedocument", and its file is blob_dir's xx/yy/<__uuid__>.
 *
 * The rows must be judged as the dump sees them, or a file document flipped while the backup
 * runs would have its row in the dump and its file left out (or the other way round). So a
 * transaction of our own (REPEATABLE READ, READ ONLY) exports its snapshot before pg_dump
 * starts; pg_dump runs with --snapshot=<it> (backup_dump.c), and once it has finished the UUIDs
 * are read in that same transaction, which stays open meanwhile (an exported snapshot can be
 * imported only while the exporting transaction lives; idle_in_transaction_session_timeout is
 * switched off for it).
 *
 * A database without the table, or whose table has no boolean deleteafterdownload (an older
 * model), gets no snapshot of ours: pg_dump runs as without this file, every file is backed
 * up, and a warning says why.
 *
 * Memory: the UUIDs of the rows marked, 16 bytes each, sorted for bsearch (16 MB for a million
 * such rows; twice that for a moment while the array grows); the rows are read one at a time
 * (libpq's single-row mode).
 */
#include "backup_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "io.h"
#include "store.h"

/* Whether the table exists, and whether it has __uuid__ and a boolean deleteafterdownload. */
static const char present_sql[] =
    "SELECT pg_catalog.to_regclass('public.\"system$filedocument\"') IS NOT NULL, "
    "  (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a "
    "    WHERE a.attrelid = pg_catalog.to_regclass('public.\"system$filedocument\"') "
    "      AND a.attnum > 0 AND NOT a.attisdropped "
    "      AND (a.attname = '__uuid__' OR (a.attname = 'deleteafterdownload' "
    "           AND a.atttypid = 'pg_catalog.bool'::pg_catalog.regtype))) = 2";

/* The UUIDs of the file documents whose files the backup leaves out. */
static const char marked_sql[] =
    "SELECT pg_catalog.lower(f.\"__uuid__\"::pg_catalog.text) "
    "  FROM public.\"system$filedocument\" f WHERE f.deleteafterdownload";

/* leftout_fail: run->err from what the server said while doing what; -1. */
static int
leftout_fail(struct backup_state *run, PGconn *conn, const PGresult *res, const char *doing)
{
	const char *m = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);

	if (strncmp(m, "ERROR:  ", 8) == 0 || strncmp(m, "FATAL:  ", 8) == 0)
		m += 8;
	(void)io_error(run->err, sizeof(run->err), "cannot %s in the database of target %s: %.*s",
	               doing, run->o->target->name, (int)strcspn(m, "\n"), m);
	conninfo_scrub(&run->secrets, run->err, sizeof(run->err));
	return -1;
}

/* leftout_command: run sql, which returns no rows; 0, or -1 with run->err. */
static int
leftout_command(struct backup_state *run, const char *sql, const char *doing)
{
	PGresult *res = PQexec(run->leftout.conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = leftout_fail(run, run->leftout.conn, res, doing);
	PQclear(res);
	return rc;
}

/* leftout_connect: a connection to the target's database into run->leftout.conn. */
static int
leftout_connect(struct backup_state *run)
{
	const char *keys[] = {"application_name", "dbname", NULL};
	const char *vals[] = {"restore-worker", run->o->target->conninfo, NULL};

	run->leftout.conn = PQconnectdbParams(keys, vals, 1);
	if (run->leftout.conn == NULL)
		return io_error(run->err, sizeof(run->err), "out of memory");
	if (PQstatus(run->leftout.conn) != CONNECTION_OK)
		return leftout_fail(run, run->leftout.conn, NULL,
		                    "connect for the backup's snapshot");
	return 0;
}

/* backup_leftout_begin: the transaction whose snapshot the dump takes (backup_parts.h). */
int
backup_leftout_begin(struct backup_state *run)
{
	struct backup_leftout *l = &run->leftout;
	PGresult *res;
	int rc = -1;

	if (run->o->db_only)
		return 0;
	if (leftout_connect(run) < 0 ||
	    leftout_command(run, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
	                    "begin the backup's transaction") < 0 ||
	    leftout_command(run, "SET LOCAL idle_in_transaction_session_timeout = 0",
	                    "begin the backup's transaction") < 0)
		return -1;
	res = PQexec(l->conn, present_sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = leftout_fail(run, l->conn, res, "look for table system$filedocument");
		goto done;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		backup_warn(run->r,
		            "the database has %s: no file is left out for DeleteAfterDownload, "
		            "every file of the store is backed up",
		            strcmp(PQgetvalue(res, 0, 0), "t") != 0
		                ? "no table system$filedocument"
		                : "no boolean column deleteafterdownload (and __uuid__) in table "
		                  "system$filedocument");
		PQfinish(l->conn);
		l->conn = NULL;
		rc = 0;
		goto done;
	}
	PQclear(res);
	res = PQexec(l->conn, "SELECT pg_catalog.pg_export_snapshot()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQgetlength(res, 0, 0) >= (int)sizeof(l->snapshot)) {
		rc = leftout_fail(run, l->conn, res, "export the backup's snapshot");
		goto done;
	}
	snprintf(l->snapshot, sizeof(l->snapshot), "%s", PQgetvalue(res, 0, 0));
	l->active = true;
	rc = 0;
done:
	PQclear(res);
	return rc;
}

/* uuid_pack: the 16 bytes of a lowercase UUID's text. */
static void
uuid_pack(const char *text, unsigned char out[16])
{
	size_t n = 0;

	for (const char *c = text; *c != '\0' && n < 32; c++) {
		int v;

		if (*c == '-')
			continue;
		v = *c <= '9' ? *c - '0' : *c - 'a' + 10;
		if (n % 2 == 0)
			out[n / 2] = (unsigned char)(v << 4);
		else
			out[n / 2] |= (unsigned char)v;
		n++;
	}
}

/* uuid_compare: qsort's and bsearch's order of packed UUIDs. */
static int
uuid_compare(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* leftout_add: one UUID into the set (unsorted until the end); 0, or -1 when out of memory. */
static int
leftout_add(struct backup_leftout *l, const char *text)
{
	if (l->n == l->cap) {
		size_t cap = l->cap > 0 ? l->cap * 2 : 1024;
		unsigned char(*grown)[16] = realloc(l->uuids, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		l->uuids = grown;
		l->cap = cap;
	}
	uuid_pack(text, l->uuids[l->n++]);
	return 0;
}

/* backup_leftout_read: the marked UUIDs, in the exported snapshot (backup_parts.h). */
int
backup_leftout_read(struct backup_state *run)
{
	struct backup_leftout *l = &run->leftout;
	PGresult *res;
	size_t kept = 0;
	int rc = 0;

	if (!l->active)
		return 0;
	if (!PQsendQuery(l->conn, marked_sql) || !PQsetSingleRowMode(l->conn))
		return leftout_fail(run, l->conn, NULL, "read table system$filedocument");
	while ((res = PQgetResult(l->conn)) != NULL) {
		ExecStatusType status = PQresultStatus(res);

		if (status == PGRES_SINGLE_TUPLE && rc == 0 && !PQgetisnull(res, 0, 0) &&
		    store_is_uuid(PQgetvalue(res, 0, 0)) &&
		    leftout_add(l, PQgetvalue(res, 0, 0)) < 0)
			rc = io_error(run->err, sizeof(run->err), "out of memory");
		else if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && rc == 0)
			rc = leftout_fail(run, l->conn, res, "read table system$filedocument");
		PQclear(res); /* the rest is read and dropped: libpq has no other way */
	}
	if (rc < 0)
		return -1;
	qsort(l->uuids, l->n, sizeof(*l->uuids), uuid_compare);
	/* __uuid__ is unique in Mendix's tables, but nothing here relies on it. */
	for (size_t i = 0; i < l->n; i++)
		if (kept == 0 || memcmp(l->uuids[i], l->uuids[kept - 1], 16) != 0)
			memmove(l->uuids[kept++], l->uuids[i], 16);
	l->n = kept;
	/* The snapshot is no longer needed: the transaction ends now, its locks with it. */
	PQfinish(l->conn);
	l->conn = NULL;
	return 0;
}

/* backup_leftout_has: whether the file uuid (lowercase text) is left out (backup_parts.h). */
bool
backup_leftout_has(const struct backup_leftout *l, const char *uuid)
{
	unsigned char key[16];

	if (l == NULL || l->n == 0)
		return false;
	uuid_pack(uuid, key);
	return bsearch(key, l->uuids, l->n, sizeof(*l->uuids), uuid_compare) != NULL;
}

/* backup_leftout_free: end the transaction (if still open) and free the set (backup_parts.h). */
void
backup_leftout_free(struct backup_leftout *l)
{
	if (l->conn != NULL)
		PQfinish(l->conn);
	free(l->uuids);
	memset(l, 0, sizeof(*l));
}
