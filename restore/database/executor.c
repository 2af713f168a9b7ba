/*
 * executor.c - the executor of pg_restore's script, for the database restore (database.c).
 *
 * pg_restore -1 -O -x -f - turns the dump into SQL; this file reads that script from the pipe
 * and executes it on the restore's connection, inside the transaction database.c began.
 *
 * pg_restore's script is regular: a preamble of SET commands, then one block per TOC entry,
 * each introduced by a comment header
 *
 *	--
 *	-- TOC entry 216 (class 1259 OID 16386)		(with --verbose)
 *	-- Name: t; Type: TABLE; Schema: public; Owner: -
 *	--
 *
 * and a table's data as `COPY ... FROM stdin;`, rows, and a line `\.`. The executor collects
 * each entry's SQL, splits it into statements (sqlstmt.h), refuses the entry before sending
 * any of it when one of them would end, begin or break the restore's transaction (COMMIT,
 * ROLLBACK, BEGIN, SAVEPOINT, VACUUM, ...: the dump reader refuses such a dump up front, this
 * is the last line), and sends the statements one by one with the extended query protocol,
 * which never runs two statements from one string. COPY data is streamed with
 * PQputCopyData, so memory is bounded by the largest entry's SQL, never by the data.
 * With -1 the script wraps itself in BEGIN/COMMIT; those two lines, and psql's \restrict and
 * \unrestrict, are recognised by their place (preamble, trailer) and left out: the
 * transaction is ours. So is the preamble's SET transaction_timeout of pg_restore 17 and later
 * on a server older than 17, which lacks the setting. Errors are attributed to the TOC entry whose
 *SQL failed.
 *
 * Limits: an entry whose SQL contains a line that looks exactly like an entry header would
 * be split in two and fail to restore (the transaction then rolls back: it fails safe).
 * Should a statement end the transaction all the same, that is noticed after it ran
 * (executor_run's *ended_transaction).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "database_parts.h"
#include "io.h"
#include "report.h"
#include "spawn.h"
#include "sqlscan.h"
#include "sqlstmt.h"

#define PIPE_BUFSIZE      (256 * 1024)
#define DATA_FLUSH_BYTES  (1024 * 1024)
#define STDERR_KEEP_BYTES 4096

/* A growing byte buffer. */
struct buffer {
	char *data;
	size_t len, cap;
};

/* buffer_append: add n bytes; -1 when out of memory. */
static int
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

/* The executor of pg_restore's script. */
struct executor {
	struct database *db;
	struct report *report;
	struct buffer line;    /* a line not yet complete */
	struct buffer pending; /* SQL of the current entry, not yet sent */
	struct buffer errtext; /* what pg_restore said that looks like an error */
	char toc_id[96];       /* "216; 1259 16386" */
	char toc_name[512];    /* "TABLE public t" */
	bool in_preamble;      /* before the first entry header */
	bool in_trailer;       /* after "PostgreSQL database dump complete" */
	bool is_data;          /* the entry is "Data for Name: ..." */
	bool header_has_id;    /* the current header began with a TOC entry line */
	bool in_copy;
	bool copy_bol;         /* COPY data: at the beginning of a line */
	int copy_match;        /* 1: saw "\" at a line's start; 2: saw "\." */
	struct sqlscan scan;   /* where the SQL stands: headers count only at the top level */
	bool standard_strings; /* standard_conforming_strings, as the script's preamble set it */
	int statements;        /* executor_send: statements of the entry judged */
	bool sending_copy;     /* executor_send: the entry's statement is a COPY FROM stdin */
	bool failed;
	bool ended_transaction; /* the dump's own SQL committed or rolled back */
	char *err;
	size_t errlen;
};

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
static int
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
static int
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

/* executor_flush: send the current entry's pending SQL. */
static int
executor_flush(struct executor *ex)
{
	return executor_send(ex, false);
}

/*
 * strip_suffix_line: drop trailing blank lines from b, then a last line equal to text; with
 * skip_comments, trailing comment lines ("-- Completed on ...") go too.
 */
static void
strip_suffix_line(struct buffer *b, const char *text, bool skip_comments)
{
	size_t n = strlen(text);

	for (;;) {
		size_t start;

		while (b->len > 0 && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' '))
			b->len--;
		start = b->len;
		while (start > 0 && b->data[start - 1] != '\n')
			start--;
		if (!skip_comments || b->len - start < 2 || strncmp(b->data + start, "--", 2) != 0)
			break;
		b->len = start;
	}
	if (b->len >= n && memcmp(b->data + b->len - n, text, n) == 0 &&
	    (b->len == n || b->data[b->len - n - 1] == '\n'))
		b->len -= n;
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

/* header_begin: a new entry begins: send the previous one's SQL. */
static int
header_begin(struct executor *ex)
{
	strip_suffix_line(&ex->pending, "--", false); /* the header's opening line */
	if (executor_flush(ex) < 0)
		return -1;
	ex->in_preamble = false;
	ex->is_data = false;
	ex->toc_id[0] = ex->toc_name[0] = '\0';
	return 0;
}

/* parse_name_line: "Name: t; Type: TABLE; Schema: public; Owner: -" -> "TABLE public t". */
static void
parse_name_line(struct executor *ex, const char *s)
{
	const char *type = strstr(s, "; Type: ");
	const char *schema = type != NULL ? strstr(type, "; Schema: ") : NULL;
	const char *owner = schema != NULL ? strstr(schema, "; Owner: ") : NULL;

	if (type == NULL || schema == NULL || owner == NULL) {
		snprintf(ex->toc_name, sizeof(ex->toc_name), "%.*s", (int)strcspn(s, "\n"), s);
		return;
	}
	snprintf(ex->toc_name, sizeof(ex->toc_name), "%.*s %.*s %.*s", (int)(schema - type - 8),
	         type + 8, (int)(owner - schema - 10), schema + 10, (int)(type - s), s);
}

/* executor_header: handle a line at the top level that may be pg_restore's own; 1 if it was. */
static int
executor_header(struct executor *ex, const char *line)
{
	long long id;
	unsigned cls, oid;

	if (strncmp(line, "-- TOC entry ", 13) == 0 &&
	    sscanf(line, "-- TOC entry %lld (class %u OID %u)", &id, &cls, &oid) == 3) {
		if (header_begin(ex) < 0)
			return -1;
		ex->header_has_id = true;
		snprintf(ex->toc_id, sizeof(ex->toc_id), "%lld; %u %u", id, cls, oid);
		return 1;
	}
	if (strncmp(line, "-- Name: ", 9) == 0 || strncmp(line, "-- Data for Name: ", 18) == 0) {
		bool data = line[3] == 'D';

		if (!ex->header_has_id && header_begin(ex) < 0)
			return -1;
		ex->header_has_id = false;
		ex->is_data = data;
		parse_name_line(ex, line + (data ? 18 : 9));
		return 1;
	}
	if (strcmp(line, "-- PostgreSQL database dump complete\n") == 0) {
		strip_suffix_line(&ex->pending, "--", false);
		strip_suffix_line(&ex->pending, "COMMIT;", true); /* pg_restore -1's own */
		if (executor_flush(ex) < 0)
			return -1;
		ex->in_trailer = true;
		ex->toc_id[0] = ex->toc_name[0] = '\0';
		return 1;
	}
	if ((ex->in_preamble || ex->in_trailer) &&
	    (strncmp(line, "\\restrict ", 10) == 0 || strncmp(line, "\\unrestrict ", 12) == 0 ||
	     strcmp(line, "BEGIN;\n") == 0))
		return 1; /* psql's guards and pg_restore -1's BEGIN: the transaction is ours */
	/*
	 * pg_restore 17 and later write this into every script, not knowing its server; one
	 * older than 17 has no such setting (and the session's own are set by database.c).
	 */
	if (ex->in_preamble && strcmp(line, "SET transaction_timeout = 0;\n") == 0 &&
	    PQserverVersion(ex->db->conn) < 170000)
		return 1;
	return 0;
}

/* pending_is_copy: is the pending SQL one COPY ... FROM stdin statement, just completed? */
static bool
pending_is_copy(const struct executor *ex, const char *line, size_t len)
{
	static const char tail[] = " FROM stdin;\n";
	const char *p = ex->pending.data;

	if (!ex->is_data || !sqlscan_at_top(&ex->scan) || len < sizeof(tail) - 1 ||
	    strcmp(line + len - (sizeof(tail) - 1), tail) != 0)
		return false;
	for (;;) { /* past blank lines and the header's closing "--" */
		while (*p == '\n' || *p == ' ')
			p++;
		if (strncmp(p, "--", 2) != 0)
			break;
		p += strcspn(p, "\n");
	}
	return strncmp(p, "COPY ", 5) == 0;
}

/* copy_begin: send the pending COPY statement; its data follows. */
static int
copy_begin(struct executor *ex)
{
	if (executor_send(ex, true) < 0)
		return -1;
	ex->in_copy = true;
	ex->copy_bol = true;
	ex->copy_match = 0;
	return 0;
}

/* executor_line: one complete line of the script, outside COPY data. */
static int
executor_line(struct executor *ex, const char *line, size_t len)
{
	/* Only a line that starts at the top level can be one of pg_restore's own. */
	if (sqlscan_at_top(&ex->scan)) {
		int rc = executor_header(ex, line);

		if (rc != 0) {
			if (sqlscan_feed(&ex->scan, line, len) < 0)
				return executor_fail(ex, "out of memory");
			return rc < 0 ? -1 : 0;
		}
	}
	if (ex->in_preamble && strcmp(line, "SET standard_conforming_strings = off;\n") == 0) {
		/* A dump of a server that had it off: its strings take backslash escapes. */
		ex->standard_strings = false;
		sqlscan_standard_strings(&ex->scan, false);
	}
	if (sqlscan_feed(&ex->scan, line, len) < 0)
		return executor_fail(ex, "out of memory");
	if (buffer_append(&ex->pending, line, len) < 0)
		return executor_fail(ex, "out of memory");
	if (pending_is_copy(ex, line, len))
		return copy_begin(ex);
	/* Large-object and INSERT data: send it in pieces, at statement ends only. */
	if (ex->is_data && ex->pending.len > DATA_FLUSH_BYTES && sqlscan_at_top(&ex->scan) &&
	    len >= 2 && line[len - 2] == ';')
		return executor_flush(ex);
	return 0;
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

/* copy_data: scan COPY data for the `\.` line, sending the rest; returns bytes consumed. */
static ssize_t
copy_data(struct executor *ex, const char *buf, size_t len)
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

/* executor_feed: process a chunk of pg_restore's output. */
static int
executor_feed(struct executor *ex, const char *buf, size_t len)
{
	while (len > 0) {
		const char *nl;
		size_t take;

		if (ex->in_copy) {
			ssize_t used = copy_data(ex, buf, len);

			if (used < 0)
				return -1;
			buf += used;
			len -= (size_t)used;
			continue;
		}
		nl = memchr(buf, '\n', len);
		take = nl != NULL ? (size_t)(nl - buf) + 1 : len;
		if (buffer_append(&ex->line, buf, take) < 0)
			return executor_fail(ex, "out of memory");
		buf += take;
		len -= take;
		if (nl != NULL) {
			int rc = executor_line(ex, ex->line.data, ex->line.len);

			ex->line.len = 0;
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

/* keep_stderr: remember what pg_restore says that is not verbose progress. */
static void
keep_stderr(struct executor *ex, const char *buf, size_t len)
{
	/* Only error and warning lines are kept, and only the first few KiB of them. */
	struct buffer *b = &ex->errtext;
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if ((memmem(p, n, "error", 5) != NULL || memmem(p, n, "warning", 7) != NULL ||
		     memmem(p, n, "fatal", 5) != NULL) &&
		    b->len + n < STDERR_KEEP_BYTES)
			(void)buffer_append(b, p, n);
		p += n;
	}
}

/* executor_sink, stderr_sink: pg_restore's output and its complaints, for spawn_pump(). */
static int
executor_sink(void *ctx, const char *buf, size_t len)
{
	struct executor *ex = ctx;
	int rc = executor_feed(ex, buf, len);

	__atomic_add_fetch(&ex->db->script_bytes, (uint64_t)len, __ATOMIC_RELAXED);
	return rc;
}

static int
stderr_sink(void *ctx, const char *buf, size_t len)
{
	keep_stderr(ctx, buf, len);
	return 0;
}

/* run_script: run pg_restore and execute what it writes, until it ends or fails. */
static int
run_script(struct executor *ex, const char *pg_restore, const char *dump_path,
           const char *list_path, volatile sig_atomic_t *cancel)
{
	char *argv[] = {(char *)pg_restore, "--single-transaction",
	                "--no-owner",       "--no-privileges",
	                "--verbose",        "--file=-",
	                (char *)dump_path,  list_path != NULL ? "--use-list" : NULL,
	                (char *)list_path,  NULL};
	struct spawn sp;
	char *buf = NULL;
	int status, rc = -1;

	if (spawn_start(argv, &sp, ex->err, ex->errlen) < 0) {
		report_part_error(&ex->report->database, NULL, "%s", ex->err);
		return -1;
	}
	buf = malloc(PIPE_BUFSIZE);
	if (buf == NULL) {
		executor_fail(ex, "out of memory");
		goto done;
	}
	switch (spawn_pump(&sp, cancel, executor_sink, stderr_sink, ex, buf, PIPE_BUFSIZE)) {
	case SPAWN_PUMP_CANCELLED:
		executor_fail(ex, "the restore was interrupted");
		goto done;
	case SPAWN_PUMP_POLL_FAILED:
		executor_fail(ex, strerror(errno));
		goto done;
	case SPAWN_PUMP_SINK_FAILED:
		goto done; /* the executor said why */
	default:
		break;
	}
	status = spawn_finish(&sp);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char said[512];

		database_first_line(ex->errtext.len > 0 ? ex->errtext.data : "", said,
		                    sizeof(said));
		if (said[0] == '\0' && status >= 0 && WIFSIGNALED(status))
			snprintf(said, sizeof(said), "pg_restore was killed by signal %d (%s)",
			         WTERMSIG(status), strsignal(WTERMSIG(status)));
		executor_fail(ex, said[0] != '\0' ? said : "pg_restore failed without a message");
		goto done;
	}
	if (ex->in_copy) {
		executor_fail(ex, "pg_restore's output ended inside table data");
		goto done;
	}
	if (ex->line.len > 0 && executor_line(ex, ex->line.data, ex->line.len) < 0)
		goto done;
	if (!ex->in_trailer) {
		/* Without its closing lines the script was cut short: commit nothing. */
		executor_fail(ex, "pg_restore's output ended before the end of the dump");
		goto done;
	}
	if (executor_flush(ex) < 0)
		goto done;
	rc = 0;
done:
	if (sp.pid > 0)
		(void)spawn_kill(&sp);
	free(buf);
	return rc;
}

int
executor_run(struct database *db, const char *pg_restore, const char *dump_path,
             const char *list_path, struct report *report, volatile sig_atomic_t *cancel,
             bool *ended_transaction, char *err, size_t errlen)
{
	struct executor ex;
	int rc;

	memset(&ex, 0, sizeof(ex));
	ex.db = db;
	ex.report = report;
	ex.in_preamble = true;
	ex.standard_strings = true;
	sqlscan_init(&ex.scan);
	ex.err = err;
	ex.errlen = errlen;
	rc = run_script(&ex, pg_restore, dump_path, list_path, cancel);
	*ended_transaction = ex.ended_transaction;
	sqlscan_free(&ex.scan);
	free(ex.line.data);
	free(ex.pending.data);
	free(ex.errtext.data);
	return rc;
}
