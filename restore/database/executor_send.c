/*
 * executor_send.c - the executor's sending (see executor_parts.h): each TOC entry's SQL is
 * split into statements (sqlstmt.h) and judged whole before any of it is sent; a statement
 * that would end, begin or break the restore's transaction (COMMIT, ROLLBACK, BEGIN,
 * SAVEPOINT, VACUUM, ...) refuses the entry (the dump reader refuses such a dump up front:
 * this is the last line). The statements are then sent one by one with the
 * extended query protocol, which never runs two statements from one string, and a table's data
 * is streamed with PQputCopyData up to its `\.` line, so memory is bounded by the largest
 * entry's SQL, never by the data. A failure is recorded against the entry (report's database
 * errors), as pg_restore -l would list it.
 *
 * Limits: should a statement end the transaction all the same, that is noticed after it ran
 * (ended_transaction), and the restore fails as partial.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "database_parts.h"
#include "executor_parts.h"
#include "io.h"
#include "report.h"
#include "sqlstmt.h"

/* buffer_append: add n bytes; -1 when out of memory. */
int
buffer_append(struct buffer *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		char *data;

		while (b->len + n + 1 > cap)
			cap *= 2;
		data = realloc(b->data, cap);
		if (data == NULL)
			return -1;
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* executor_where: the current TOC entry, as pg_restore -l would list it. */
static void
executor_where(const struct executor *ex, char *buf, size_t buflen)
{
	if (ex->toc_id[0] != '\0')
		snprintf(buf, buflen, "%s %s", ex->toc_id, ex->toc_name);
	else if (ex->toc_name[0] != '\0')
		snprintf(buf, buflen, "%s", ex->toc_name);
	else
		snprintf(buf, buflen, "(preamble)");
}

/* executor_fail: record an error of the current entry; always returns -1. */
int
executor_fail(struct executor *ex, const char *msg)
{
	char where[700];

	executor_where(ex, where, sizeof(where));
	report_part_error(&ex->report->database, where, "%s", msg);
	(void)io_error(ex->err, ex->errlen, "restoring %s failed: %s", where, msg);
	ex->failed = true;
	return -1;
}

/* judge_statement: a sqlstmt_fn: count a statement of the entry, or fail at one never sent. */
static int
judge_statement(void *ctx, char *text, size_t len, const struct sqlstmt_refusal *why)
{
	struct executor *ex = ctx;
	char msg[512];

	(void)text;
	(void)len;
	if (why != NULL) {
		snprintf(msg, sizeof(msg),
		         "its SQL holds %s, which %s; nothing of the entry was sent", why->name,
		         why->why);
		return executor_fail(ex, msg);
	}
	ex->statements++;
	return 0;
}

/*
 * send_statement: a sqlstmt_fn: send one statement with the extended query protocol, which runs one
 * statement or refuses the string ("cannot insert multiple commands into a prepared statement"):
 * where the splitter saw one statement, the server never runs two. Returns 1 when a COPY FROM stdin
 * is due (sending_copy) and the server now waits for its data.
 */
static int
send_statement(void *ctx, char *text, size_t len, const struct sqlstmt_refusal *why)
{
	struct executor *ex = ctx;
	bool copy = ex->sending_copy;
	char saved = text[len], msg[1024];
	PGresult *res;
	ExecStatusType st;

	if (why != NULL) /* judge_statement() stopped the entry before: never sent */
		return judge_statement(ctx, text, len, why);
	text[len] = '\0';
	res = PQexecParams(ex->db->conn, text, 0, NULL, NULL, NULL, NULL, 0);
	text[len] = saved;
	st = PQresultStatus(res);
	if (st == PGRES_COPY_IN && copy) {
		PQclear(res);
		return 1;
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		if (st == PGRES_COPY_IN) {
			PQclear(res);
			(void)PQputCopyEnd(ex->db->conn, "unexpected COPY");
			while ((res = PQgetResult(ex->db->conn)) != NULL)
				PQclear(res);
			return executor_fail(ex,
			                     "the entry's SQL starts a COPY where none was due");
		}
		database_result_message(res, ex->db, msg, sizeof(msg));
		PQclear(res);
		return executor_fail(ex, msg);
	}
	PQclear(res);
	if (PQtransactionStatus(ex->db->conn) != PQTRANS_INTRANS) {
		/* The judge lets nothing through that ends it: a last line of defence. */
		ex->ended_transaction = true;
		ex->db->in_transaction = false;
		return executor_fail(ex, "the dump's own SQL ended the restore's transaction, so "
		                         "what came before it may have been committed");
	}
	return 0;
}

/*
 * executor_send: send the current entry's pending SQL, judged whole first, one statement at a
 * time; with copy, it must be one COPY FROM stdin, whose data follows (1 is returned then).
 */
int
executor_send(struct executor *ex, bool copy)
{
	int rc;

	ex->statements = 0;
	rc = sqlstmt_each(ex->pending.data, ex->pending.len, ex->standard_strings, judge_statement,
	                  ex);
	if (rc == 0 && copy && ex->statements != 1)
		rc = executor_fail(ex, "the entry's COPY statement does not stand alone");
	if (rc == 0) {
		ex->sending_copy = copy;
		rc = sqlstmt_each(ex->pending.data, ex->pending.len, ex->standard_strings,
		                  send_statement, ex);
		if (rc == 0 && copy)
			rc = executor_fail(ex, "the entry's COPY statement did not start a COPY");
	}
	if (rc == -1 && !ex->failed)
		executor_fail(ex, "out of memory");
	ex->pending.len = 0;
	if (ex->pending.data != NULL)
		ex->pending.data[0] = '\0';
	return rc;
}

/* copy_send: pass a run of COPY data to the server. */
static int
copy_send(struct executor *ex, const char *data, size_t len)
{
	char msg[512];

	if (len == 0)
		return 0;
	if (PQputCopyData(ex->db->conn, data, (int)len) != 1) {
		database_connection_message(ex->db, msg, sizeof(msg));
		return executor_fail(ex, msg);
	}
	return 0;
}

/* copy_end: the "\." line: finish the COPY and check its result. */
static int
copy_end(struct executor *ex)
{
	PGresult *res;
	char msg[1024];
	int rc = 0;

	ex->in_copy = false;
	if (PQputCopyEnd(ex->db->conn, NULL) != 1) {
		database_connection_message(ex->db, msg, sizeof(msg));
		return executor_fail(ex, msg);
	}
	while ((res = PQgetResult(ex->db->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
			database_result_message(res, ex->db, msg, sizeof(msg));
			rc = executor_fail(ex, msg);
		}
		PQclear(res);
	}
	return rc;
}

/* executor_copy_data: scan COPY data for the `\.` line, sending the rest; returns bytes consumed.
 */
ssize_t
executor_copy_data(struct executor *ex, const char *buf, size_t len)
{
	size_t i = 0, seg = 0;

	while (i < len) {
		if (ex->copy_match == 0) {
			const char *nl;

			if (ex->copy_bol && buf[i] == '\\') {
				if (copy_send(ex, buf + seg, i - seg) < 0)
					return -1;
				ex->copy_match = 1;
				seg = ++i;
				continue;
			}
			ex->copy_bol = false;
			nl = memchr(buf + i, '\n', len - i);
			if (nl == NULL) {
				i = len;
				break;
			}
			i = (size_t)(nl - buf) + 1;
			ex->copy_bol = true;
		} else if (ex->copy_match == 1) {
			if (buf[i] == '.') {
				ex->copy_match = 2;
				seg = ++i;
				continue;
			}
			if (copy_send(ex, "\\", 1) < 0)
				return -1;
			ex->copy_match = 0;
			ex->copy_bol = false;
			seg = i;
		} else {
			if (buf[i] == '\n') {
				if (copy_end(ex) < 0)
					return -1;
				return (ssize_t)(i + 1);
			}
			if (copy_send(ex, "\\.", 2) < 0)
				return -1;
			ex->copy_match = 0;
			ex->copy_bol = false;
			seg = i;
		}
	}
	if (ex->copy_match == 0 && copy_send(ex, buf + seg, len - seg) < 0)
		return -1;
	return (ssize_t)len;
}
