/*
 * dump_data.c - the data area of a custom-format dump (see dump_parts.h): every data block
 * after the table of contents, each matched with its TOC entry and measured, stream by stream,
 * as pg_restore would inflate it, until the end of the input or stop_after. A block that is
 * SQL (a table dumped with INSERT statements) is judged by dump_sql.c on the way. The entries
 * are found by dump id, in the order dump_toc_compare() gives (dump.c sorts the TOC by it).
 */
#include "dump_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inflate.h"

/* Block types in the data area (pg_backup_custom.c). */
#define BLK_DATA  1
#define BLK_BLOBS 3

/* toc_describe: "TABLE DATA public.t (TOC entry 3355)" for messages. */
static void
toc_describe(const struct toc_entry *te, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%s %s%s%s (TOC entry %lld)", te->desc, te->namespace,
	         te->namespace[0] != '\0' ? "." : "", te->tag, (long long)te->dump_id);
}

/* dump_toc_compare: order entries by dump id, for qsort and bsearch. */
int
dump_toc_compare(const void *a, const void *b)
{
	const struct toc_entry *x = a, *y = b;

	return (x->dump_id > y->dump_id) - (x->dump_id < y->dump_id);
}

/* The state of one data stream while it is being measured. */
struct stream {
	enum dump_compression compression;
	uint64_t before;     /* the dump's total before this stream */
	uint64_t stop_after; /* 0, or stop once before + bytes passes it */
	bool over_limit;
	struct inflate_count *count;
	bool z_ended;
	uint64_t bytes;
	struct dump_sql_data *sql; /* the block is SQL (INSERT statements): judged as it comes */
};

/* stream_over: has the running total passed the limit? Then measuring can stop. */
static bool
stream_over(struct stream *s)
{
	if (s->stop_after != 0 && s->before + s->bytes > s->stop_after)
		s->over_limit = true;
	return s->over_limit;
}

/* stream_feed: account for one chunk of a stream's stored bytes; stops at the limit. */
static int
stream_feed(struct reader *r, struct stream *s, uint64_t len, const char *what)
{
	while (len > 0) {
		int got = dump_reader_fill(r);
		size_t take;

		if (got < 0)
			return -1;
		if (got == 0)
			return dump_reader_truncated(r);
		take = r->len - r->pos;
		if (take > len)
			take = (size_t)len;
		if (s->sql != NULL && dump_sql_data_feed(r, s->sql, r->buf + r->pos, take) < 0)
			return -1;
		if (s->compression == DUMP_COMPRESSION_NONE) {
			s->bytes += take;
			if (stream_over(s))
				return 0;
		} else {
			enum inflate_count_status st;
			uint64_t limit = 0;
			size_t used;

			if (s->z_ended)
				return dump_reader_fail(r, "is corrupt: %s has bytes after its end",
				                        what);
			/* Enough to pass stop_after, as stream_over() counts. */
			if (s->stop_after != 0)
				limit =
				    s->stop_after >= s->before ? s->stop_after - s->before + 1 : 1;
			st = inflate_count_feed(s->count, r->buf + r->pos, take, &used, limit);
			s->bytes = inflate_count_bytes(s->count);
			if (st == INFLATE_COUNT_ERROR)
				return dump_reader_fail(r, "is corrupt: %s does not inflate (%s)",
				                        what, inflate_count_error(s->count));
			if (stream_over(s))
				return 0;
			if (st == INFLATE_COUNT_END)
				s->z_ended = true;
			if (used < take)
				return dump_reader_fail(r, "is corrupt: %s has bytes after its end",
				                        what);
		}
		r->pos += take;
		len -= take;
	}
	return 0;
}

/*
 * read_stream: one stream of chunks ending in a zero length; adds its size to *total. Stops
 * early, setting *over_limit, once *total passes stop_after (when that is not 0). When sql_of
 * is not NULL, the stream is that entry's SQL, judged statement by statement (dump_sql.c).
 */
static int
read_stream(struct reader *r, enum dump_compression compression, struct inflate_count *count,
            const char *what, uint64_t *total, uint64_t stop_after, bool *over_limit,
            const struct toc_entry *sql_of, bool standard_strings)
{
	struct stream s;
	struct dump_sql_data sql;
	int64_t len;
	bool any = false;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	if (sql_of != NULL) {
		if (dump_sql_data_begin(r, &sql, sql_of, compression == DUMP_COMPRESSION_ZLIB,
		                        standard_strings) < 0)
			return -1;
		s.sql = &sql;
	}
	s.compression = compression;
	s.count = count;
	s.before = *total;
	s.stop_after = stop_after;
	if (compression == DUMP_COMPRESSION_ZLIB)
		inflate_count_reset(count);
	for (;;) {
		if (dump_read_int(r, &len) < 0)
			goto done;
		if (len == 0)
			break;
		if (len < 0 || len > MAX_STRING_BYTES) {
			dump_reader_fail(r,
			                 "is corrupt: %s has a chunk of impossible length (%lld)",
			                 what, (long long)len);
			goto done;
		}
		any = true;
		if (stream_feed(r, &s, (uint64_t)len, what) < 0)
			goto done;
		if (s.over_limit) {
			*total += s.bytes;
			*over_limit = true;
			rc = 0;
			goto done;
		}
	}
	if (compression == DUMP_COMPRESSION_ZLIB && any && !s.z_ended) {
		dump_reader_fail(r, "is corrupt: %s stops before its compressed stream ends", what);
		goto done;
	}
	*total += s.bytes;
	if (s.sql != NULL) {
		s.sql = NULL;
		if (dump_sql_data_end(r, &sql) < 0)
			goto done;
	}
	rc = 0;
done:
	if (s.sql != NULL)
		dump_sql_data_free(s.sql);
	return rc;
}

/* dump_read_data: every data block until the end of the input. */
int
dump_read_data(struct reader *r, struct dump_info *info, struct toc_entry *toc, size_t ntoc,
               uint64_t stop_after)
{
	struct inflate_count *count = NULL;
	char what[TAG_BYTES * 2 + 64];
	int rc = -1;
	size_t i;

	if (info->compression == DUMP_COMPRESSION_LZ4 || info->compression == DUMP_COMPRESSION_ZSTD)
		return dump_reader_fail(
		    r,
		    "uses %s compression, which restore-worker cannot measure; the "
		    "backup needs zlib or no compression (pg_dump -Fc -Z 0..9)",
		    dump_compression_name(info->compression));
	count = inflate_count_open();
	if (count == NULL)
		return dump_reader_fail(r, "could not be measured: out of memory");

	for (;;) {
		struct toc_entry key, *te;
		int type, got;
		int64_t id;

		r->where = "between data blocks";
		got = dump_reader_byte(r, &type);
		if (got < 0)
			goto done;
		if (got == 1)
			break;
		r->where = "in a data block header";
		if (dump_read_int(r, &id) < 0)
			goto done;
		key.dump_id = id;
		/* An empty TOC is no array at all: bsearch must not be handed NULL. */
		te = ntoc > 0 ? bsearch(&key, toc, ntoc, sizeof(*toc), dump_toc_compare) : NULL;
		if (te == NULL || !te->wants_data) {
			dump_reader_fail(
			    r, "is corrupt: a data block names TOC entry %lld, which has no data",
			    (long long)id);
			goto done;
		}
		if (te->seen_data) {
			dump_reader_fail(r, "is corrupt: the data of TOC entry %lld appears twice",
			                 (long long)id);
			goto done;
		}
		te->seen_data = true;
		toc_describe(te, what, sizeof(what));
		r->where = "inside the data of a table or large object";
		if (type == BLK_DATA) {
			/* Without a COPY statement, pg_restore sends the data as SQL. */
			if (read_stream(r, info->compression, count, what,
			                &info->decompressed_bytes, stop_after, &info->over_limit,
			                te->copy_data ? NULL : te, !info->standard_strings_off) < 0)
				goto done;
			info->data_streams++;
		} else if (type == BLK_BLOBS) {
			for (;;) {
				int64_t oid;

				if (dump_read_int(r, &oid) < 0)
					goto done;
				if (oid == 0)
					break;
				if (read_stream(r, info->compression, count, what,
				                &info->decompressed_bytes, stop_after,
				                &info->over_limit, NULL, true) < 0)
					goto done;
				info->data_streams++;
				if (info->over_limit)
					break;
			}
		} else {
			dump_reader_fail(r, "is corrupt: unknown data block type %d for %s", type,
			                 what);
			goto done;
		}
		if (info->over_limit) {
			rc = 0;
			goto done;
		}
	}

	for (i = 0; i < ntoc; i++) {
		if (toc[i].wants_data && !toc[i].seen_data) {
			toc_describe(&toc[i], what, sizeof(what));
			dump_reader_fail(r, "is truncated: the data of %s is missing", what);
			goto done;
		}
	}
	rc = 0;
done:
	inflate_count_close(count);
	return rc;
}
