/*
 * dump_sql.c - the SQL a dump makes pg_restore send, judged statement by statement
 * (sqlstmt.h) while the dump is read (see dump_parts.h), so that a dump holding a statement a
 * restore never runs (COMMIT, ROLLBACK, BEGIN, VACUUM, ...) is refused before anything is
 * touched, naming its TOC entry.
 *
 * pg_restore sends, from the dump's own text: each TOC entry's definition, the COPY
 * statement of a table's data, and the data of a table dumped as INSERT statements (pg_dump
 * --inserts: a data block of an entry without a COPY statement is SQL). dump.c feeds the
 * first two as it reads the table of contents, dump_data.c the third as it measures the data,
 * inflating it a second time, with zlib, to read it (only such tables pay for that).
 *
 * Limits: COPY data is not read. After its end marker (a line "\.") the restore's executor
 * would take the rest of the block for SQL; it judges that itself before sending it (and
 * pg_restore's own COPY, with strategy swap, ends there and ignores the rest).
 */
#include "dump_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SQL_OUT_BYTES (64 * 1024)

/* dump_sql_refuse: the error for entry te holding a statement a restore never runs; -1. */
int
dump_sql_refuse(struct reader *r, const struct toc_entry *te, const struct sqlstmt_refusal *why)
{
	return dump_reader_fail(
	    r, "is refused: TOC entry %lld (%s %s %s) holds %s, which %s", (long long)te->dump_id,
	    te->desc, te->namespace[0] != '\0' ? te->namespace : "-", te->tag, why->name, why->why);
}

/* dump_sql_feed: follow n bytes of SQL; the first statement a restore never runs goes in *bad. */
int
dump_sql_feed(struct reader *r, struct sqlstmt *st, const char *text, size_t n,
              const struct sqlstmt_refusal **bad)
{
	while (n > 0) {
		size_t used;
		int rc = sqlstmt_feed(st, text, n, &used);

		if (rc < 0)
			return dump_reader_fail(r, "could not be read: out of memory for its SQL");
		if (rc == 1 && st->last_refused != NULL && *bad == NULL)
			*bad = st->last_refused;
		text += used;
		n -= used;
	}
	return 0;
}

/* dump_sql_end: the SQL (or a string of it pg_restore sends on its own) ends. */
void
dump_sql_end(struct sqlstmt *st, const struct sqlstmt_refusal **bad)
{
	sqlstmt_end(st);
	if (st->last_refused != NULL && *bad == NULL)
		*bad = st->last_refused;
}

/* dump_sql_data_begin: a data block of te that is SQL begins. */
int
dump_sql_data_begin(struct reader *r, struct dump_sql_data *d, const struct toc_entry *te,
                    bool compressed, bool standard_strings)
{
	memset(d, 0, sizeof(*d));
	d->te = te;
	sqlstmt_init(&d->st);
	sqlstmt_standard_strings(&d->st, standard_strings);
	if (!compressed)
		return 0;
	d->out = malloc(SQL_OUT_BYTES);
	if (d->out == NULL || inflateInit(&d->z) != Z_OK) {
		free(d->out);
		d->out = NULL;
		return dump_reader_fail(r, "could not be read: out of memory for its SQL");
	}
	d->z_ready = true;
	return 0;
}

/* dump_sql_data_text: inflated text of the block; -1 at once at a statement never run. */
static int
dump_sql_data_text(struct reader *r, struct dump_sql_data *d, const char *text, size_t n)
{
	const struct sqlstmt_refusal *bad = NULL;

	if (dump_sql_feed(r, &d->st, text, n, &bad) < 0)
		return -1;
	return bad != NULL ? dump_sql_refuse(r, d->te, bad) : 0;
}

/* dump_sql_data_feed: n more stored bytes of the block (compressed when it is). */
int
dump_sql_data_feed(struct reader *r, struct dump_sql_data *d, const unsigned char *in, size_t n)
{
	if (!d->z_ready)
		return dump_sql_data_text(r, d, (const char *)in, n);
	d->z.next_in = (unsigned char *)in;
	d->z.avail_in = (uInt)n;
	while (!d->z_ended) {
		int zrc;

		d->z.next_out = d->out;
		d->z.avail_out = SQL_OUT_BYTES;
		zrc = inflate(&d->z, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
			return dump_reader_fail(r,
			                        "is corrupt: the data of TOC entry %lld does not "
			                        "inflate (%s)",
			                        (long long)d->te->dump_id,
			                        d->z.msg != NULL ? d->z.msg : "zlib error");
		if (dump_sql_data_text(r, d, (const char *)d->out, SQL_OUT_BYTES - d->z.avail_out) <
		    0)
			return -1;
		if (zrc == Z_STREAM_END)
			d->z_ended = true;
		/* A full buffer may leave more output; otherwise stop once the input is used. */
		else if (d->z.avail_out > 0 && (d->z.avail_in == 0 || zrc == Z_BUF_ERROR))
			break;
	}
	return 0;
}

/* dump_sql_data_end: the block ends: its last statement is judged; frees *d. */
int
dump_sql_data_end(struct reader *r, struct dump_sql_data *d)
{
	const struct sqlstmt_refusal *bad = NULL;

	dump_sql_end(&d->st, &bad);
	dump_sql_data_free(d);
	return bad != NULL ? dump_sql_refuse(r, d->te, bad) : 0;
}

/* dump_sql_data_free: release what *d holds (also after an error). */
void
dump_sql_data_free(struct dump_sql_data *d)
{
	if (d->z_ready)
		(void)inflateEnd(&d->z);
	d->z_ready = false;
	free(d->out);
	d->out = NULL;
	sqlstmt_free(&d->st);
}
