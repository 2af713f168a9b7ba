/*
 * filecheck.c - compare the files the database names with the files of a store (see
 * filecheck.h).
 *
 * The check is a merge join of two sorted streams, so that a million rows against a million
 * files needs neither side in memory:
 *
 *  - the database's side is one query, SELECT DISTINCT lowercased UUIDs ORDER BY them in
 *    collation "C" (byte order, the order of strcmp), read in libpq's single-row mode: one
 *    row is in memory at a time. The query runs in the extended protocol, which takes one
 *    statement only, so a files_query cannot smuggle in a second one.
 *  - the store's side is its listing (store_list_*), in strcmp order of the UUIDs too. For a
 *    folder it is a walk (blobtree.c) of xx, then yy, then the files of one xx/yy folder,
 *    each level's entries sorted: only the names of one xx/yy folder are held at a time,
 *    that is the one place memory grows, with the largest folder (a few dozen names for a
 *    million files spread by UUID, as Mendix spreads them). An object store lists its keys a
 *    page at a time, in key order.
 *
 * With the default query, a row whose file is absent and whose deleteafterdownload is true is
 * counted apart (fc->left_out), not as missing: a backup leaves such files out on purpose, as
 * Mendix's do (backup_leftout.c). The query then reads that column too, as a second one;
 * a files_query has no such column, and its rows are all judged as before.
 *
 * When the query fails part way, or the store cannot be listed part way, the remaining rows
 * are read and dropped (libpq offers no other way to leave a query behind cleanly); for a
 * very large table that costs about as long as the check would have.
 */
#include "filecheck.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "store.h"

#define FILECHECK_SAVEPOINT "restore_worker_filecheck"

/* Mendix's own query: the UUIDs of the file documents that have contents. */
static const char default_query[] =
    "SELECT \"__uuid__\" FROM public.\"system$filedocument\" WHERE hascontents";

/* The default query with the left-out flag, for a table with deleteafterdownload. */
static const char default_flagged_sql[] =
    "SELECT pg_catalog.lower(f.\"__uuid__\"::pg_catalog.text) COLLATE pg_catalog.\"C\", "
    "       pg_catalog.bool_or(f.deleteafterdownload) "
    "  FROM public.\"system$filedocument\" f "
    " WHERE f.hascontents AND f.\"__uuid__\" IS NOT NULL GROUP BY 1 ORDER BY 1";

/*
 * Whether the default query has what it reads: the table and both its columns; and whether it
 * has a boolean deleteafterdownload.
 */
static const char default_table_sql[] =
    "SELECT pg_catalog.count(*) FILTER (WHERE a.attname IN ('__uuid__', 'hascontents')), "
    "       pg_catalog.count(*) FILTER (WHERE a.attname = 'deleteafterdownload' "
    "         AND a.atttypid = 'pg_catalog.bool'::pg_catalog.regtype) "
    "  FROM pg_catalog.pg_attribute a "
    "  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    " WHERE n.nspname = 'public' AND c.relname = 'system$filedocument' "
    "   AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "   AND a.attname IN ('__uuid__', 'hascontents', 'deleteafterdownload') "
    "   AND a.attnum > 0 AND NOT a.attisdropped";

/* The query's rows, one at a time. */
struct row_stream {
	PGconn *conn;
	bool done;     /* the query's last result has been read */
	char uuid[37]; /* the current row */
	bool left_out; /* its second column (default_flagged_sql) is true */
	uint64_t *invalid;
};

/* count_ignored: the file check only counts what lies outside the layout (store_skipped_fn). */
static void
count_ignored(void *ctx, const char *path, const char *why)
{
	(void)path;
	(void)why;
	(*(uint64_t *)ctx)++;
}

/* result_reason: the first line of why res (or the connection) failed, into buf. */
static void
result_reason(PGconn *conn, const PGresult *res, char *buf, size_t buflen)
{
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *msg = primary != NULL ? primary : PQerrorMessage(conn);
	size_t n;

	if (strncmp(msg, "ERROR:  ", 8) == 0 || strncmp(msg, "FATAL:  ", 8) == 0)
		msg += 8;
	if (msg[0] == '\0')
		msg = "the server connection failed";
	n = strcspn(msg, "\n");
	snprintf(buf, buflen, "%.*s", (int)n, msg);
}

/* exec_command: run one command whose result is not needed; 0 or -1 with reason. */
static int
exec_command(PGconn *conn, const char *sql, char *reason, size_t reasonlen)
{
	PGresult *res = PQexec(conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		result_reason(conn, res, reason, reasonlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * default_table_present: whether the default query's table and columns exist: 2 with
 * deleteafterdownload too, 1 without it, 0 not, -1 with reason.
 */
static int
default_table_present(PGconn *conn, char *reason, size_t reasonlen)
{
	PGresult *res = PQexec(conn, default_table_sql);
	int rc;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		result_reason(conn, res, reason, reasonlen);
		rc = -1;
	} else {
		rc = strcmp(PQgetvalue(res, 0, 0), "2") != 0   ? 0
		     : strcmp(PQgetvalue(res, 0, 1), "1") == 0 ? 2
		                                               : 1;
	}
	PQclear(res);
	return rc;
}

/*
 * rows_sql: the query that streams query's first column, lowercased, distinct, without
 * NULLs, in strcmp order; the caller frees it, NULL when out of memory. A trailing ';' is
 * dropped, and the query stands on lines of its own so that a trailing "--" comment ends
 * before the closing parenthesis.
 */
static char *
rows_sql(const char *query)
{
	static const char head[] = "SELECT DISTINCT pg_catalog.lower(q.u::pg_catalog.text) "
	                           "COLLATE pg_catalog.\"C\" FROM (\n";
	static const char tail[] = "\n) AS q(u) WHERE q.u IS NOT NULL ORDER BY 1";
	size_t len = strlen(query);
	char *sql;

	while (len > 0 &&
	       (query[len - 1] == ';' || query[len - 1] == ' ' || query[len - 1] == '\t' ||
	        query[len - 1] == '\n' || query[len - 1] == '\r'))
		len--;
	sql = malloc(sizeof(head) + len + sizeof(tail));
	if (sql == NULL)
		return NULL;
	memcpy(sql, head, sizeof(head) - 1);
	memcpy(sql + sizeof(head) - 1, query, len);
	memcpy(sql + sizeof(head) - 1 + len, tail, sizeof(tail));
	return sql;
}

/* rows_drain: read and drop whatever results the connection still has. */
static void
rows_drain(PGconn *conn)
{
	PGresult *res;

	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

/*
 * rows_next: the next valid UUID of the stream into s->uuid; 1, 0 at the end, or -1 with
 * reason (the stream is then drained).
 */
static int
rows_next(struct row_stream *s, char *reason, size_t reasonlen)
{
	while (!s->done) {
		PGresult *res = PQgetResult(s->conn);
		ExecStatusType status;

		if (res == NULL) {
			s->done = true;
			break;
		}
		status = PQresultStatus(res);
		if (status == PGRES_SINGLE_TUPLE) {
			const char *value = PQgetvalue(res, 0, 0);
			bool valid = store_is_uuid(value);

			if (valid) {
				memcpy(s->uuid, value, 37);
				s->left_out = PQnfields(res) > 1 && !PQgetisnull(res, 0, 1) &&
				              strcmp(PQgetvalue(res, 0, 1), "t") == 0;
			}
			PQclear(res);
			if (valid)
				return 1;
			(*s->invalid)++;
		} else if (status == PGRES_TUPLES_OK) {
			PQclear(res); /* the end; PQgetResult returns NULL next */
		} else {
			result_reason(s->conn, res, reason, reasonlen);
			PQclear(res);
			rows_drain(s->conn);
			s->done = true;
			return -1;
		}
	}
	return 0;
}

/* note_first: count a missing or orphaned UUID, and name it when among the first. */
static void
note_first(uint64_t *count, char first[][37], size_t *nfirst, const char *uuid)
{
	(*count)++;
	if (*nfirst < FILECHECK_FIRST)
		memcpy(first[(*nfirst)++], uuid, 37);
}

/*
 * merge: walk the rows and the files side by side; 0, or -1 with err (the rows are then
 * drained). what names the query in messages.
 */
static int
merge(struct row_stream *rows, struct store_list *files, struct filecheck *fc, const char *what,
      char *err, size_t errlen)
{
	char reason[512], last_row[37] = "";
	struct store_entry file = {0};
	int have_row, have_file;

	have_row = rows_next(rows, reason, sizeof(reason));
	if (have_row < 0)
		return io_error(err, errlen, "%s failed: %s", what, reason);
	have_file = store_list_next(files, &file, err, errlen);
	if (have_file < 0)
		goto fail;
	while (have_row || have_file) {
		int cmp = !have_row ? 1 : !have_file ? -1 : strcmp(rows->uuid, file.uuid);

		if (cmp <= 0) {
			/* DISTINCT ... ORDER BY in collation "C": each row comes after the last. */
			if (strcmp(rows->uuid, last_row) <= 0) {
				(void)io_error(err, errlen,
				               "%s returned %s after %s: the rows are not in order",
				               what, rows->uuid, last_row);
				goto fail;
			}
			memcpy(last_row, rows->uuid, 37);
			fc->expected++;
			if (cmp < 0 && rows->left_out)
				fc->left_out++;
			else if (cmp < 0)
				note_first(&fc->missing, fc->missing_first, &fc->nmissing_first,
				           rows->uuid);
			have_row = rows_next(rows, reason, sizeof(reason));
			if (have_row < 0)
				return io_error(err, errlen, "%s failed: %s", what, reason);
		}
		if (cmp >= 0) {
			fc->files++;
			if (cmp > 0)
				note_first(&fc->orphaned, fc->orphaned_first, &fc->norphaned_first,
				           file.uuid);
			have_file = store_list_next(files, &file, err, errlen);
			if (have_file < 0)
				goto fail;
		}
	}
	return 0;
fail:
	rows_drain(rows->conn);
	rows->done = true;
	return -1;
}

/* check: the check itself, once the savepoint (if any) is set; 0 or -1 with err. */
static int
check(PGconn *conn, const char *query, struct store *store, struct filecheck *fc, char *err,
      size_t errlen)
{
	const char *what = query != NULL ? "files_query" : "reading public.\"system$filedocument\"";
	struct row_stream rows = {.conn = conn, .invalid = &fc->invalid};
	struct store_list *files = NULL;
	char reason[512], *sql;
	int rc, present = 0;

	if (query == NULL) {
		present = default_table_present(conn, reason, sizeof(reason));
		if (present < 0)
			return io_error(err, errlen,
			                "cannot look for table system$filedocument: %s", reason);
		if (present == 0) {
			snprintf(fc->note, sizeof(fc->note),
			         "the database has no table system$filedocument (with columns "
			         "__uuid__ and hascontents): the file check was skipped");
			return 0;
		}
	}
	if (store_list_open(store, "the file check", 0, count_ignored, &fc->ignored, &files, err,
	                    errlen) < 0)
		return -1;
	sql = present == 2 ? strdup(default_flagged_sql)
	                   : rows_sql(query != NULL ? query : default_query);
	if (sql == NULL) {
		store_list_close(files);
		return io_error(err, errlen, "out of memory");
	}
	if (!PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn)) {
		result_reason(conn, NULL, reason, sizeof(reason));
		rows_drain(conn);
		free(sql);
		store_list_close(files);
		return io_error(err, errlen, "%s failed: %s", what, reason);
	}
	free(sql);
	rc = merge(&rows, files, fc, what, err, errlen);
	store_list_close(files);
	if (rc < 0)
		return -1;
	fc->ran = true;
	if (fc->invalid > 0)
		snprintf(fc->note, sizeof(fc->note),
		         "%" PRIu64 " %s of the %s %s left out of the check", fc->invalid,
		         fc->invalid == 1 ? "value" : "values",
		         query != NULL ? "files_query" : "column __uuid__",
		         fc->invalid == 1 ? "is not a UUID and was" : "are not UUIDs and were");
	return 0;
}

int
filecheck_run(PGconn *conn, const char *query, struct store *store, struct filecheck *fc, char *err,
              size_t errlen)
{
	char reason[512];
	bool in_transaction;
	int rc;

	memset(fc, 0, sizeof(*fc));
	switch (PQtransactionStatus(conn)) {
	case PQTRANS_IDLE:
		in_transaction = false;
		break;
	case PQTRANS_INTRANS:
		in_transaction = true;
		break;
	case PQTRANS_INERROR:
		return io_error(err, errlen,
		                "the file check cannot run: the transaction has already failed");
	default:
		return io_error(err, errlen,
		                "the file check cannot run: the connection is busy or broken");
	}
	/*
	 * The check must never change what it looks at: it runs read-only (a files_query that
	 * writes, or calls setval(), fails), in a transaction or under a savepoint that is always
	 * rolled back, so that whatever it did to the session goes too. Inside the restore's
	 * transaction a failed statement would otherwise abort all of it; the rollback to the
	 * savepoint keeps the caller's transaction usable either way.
	 */
	if (exec_command(conn,
	                 in_transaction ? "SAVEPOINT " FILECHECK_SAVEPOINT : "BEGIN READ ONLY",
	                 reason, sizeof(reason)) < 0)
		return io_error(err, errlen, "the file check cannot begin: %s", reason);
	if (exec_command(conn, "SET LOCAL transaction_read_only = on", reason, sizeof(reason)) < 0)
		rc = io_error(err, errlen,
		              "the file check cannot make its transaction read-only: %s", reason);
	else
		rc = check(conn, query, store, fc, err, errlen);
	if (!in_transaction) {
		if (exec_command(conn, "ROLLBACK", reason, sizeof(reason)) < 0 && rc == 0)
			rc = io_error(err, errlen, "the file check cannot end its transaction: %s",
			              reason);
		return rc;
	}
	/* On error, err says what went wrong first; a failing rollback would only repeat it. */
	if (exec_command(conn, "ROLLBACK TO SAVEPOINT " FILECHECK_SAVEPOINT, reason,
	                 sizeof(reason)) < 0 ||
	    exec_command(conn, "RELEASE SAVEPOINT " FILECHECK_SAVEPOINT, reason, sizeof(reason)) <
	        0) {
		if (rc == 0)
			rc = io_error(err, errlen,
			              "the file check cannot roll back to its savepoint: %s",
			              reason);
	}
	return rc;
}
