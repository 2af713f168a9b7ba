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
 * and a table's data as `COPY ... FROM stdin;`, rows, and a line `\.`. This file reads the
 * script line by line, tells pg_restore's own lines from the entries' SQL (only at the top
 * level of the SQL, sqlscan.h), collects each entry's SQL and hands it, and its COPY data, to
 * executor_send.c, which judges and sends it. With -1 the script wraps itself in BEGIN/COMMIT;
 * those two lines, and psql's \restrict and \unrestrict, are recognised by their place
 * (preamble, trailer) and left out: the transaction is ours. So is the preamble's SET
 * transaction_timeout of pg_restore 17 and later on a server older than 17, which lacks the
 * setting. Errors are attributed to the TOC entry whose SQL failed.
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
#include "executor.h"
#include "executor_parts.h"
#include "io.h"
#include "report.h"
#include "spawn.h"
#include "sqlscan.h"

#define PIPE_BUFSIZE      (256 * 1024)
#define DATA_FLUSH_BYTES  (1024 * 1024)
#define STDERR_KEEP_BYTES 4096

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

/* executor_feed: process a chunk of pg_restore's output. */
static int
executor_feed(struct executor *ex, const char *buf, size_t len)
{
	while (len > 0) {
		const char *nl;
		size_t take;

		if (ex->in_copy) {
			ssize_t used = executor_copy_data(ex, buf, len);

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
