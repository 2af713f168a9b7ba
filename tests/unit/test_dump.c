/*
 * test_dump.c - the custom-format dump reader (restore/dump.c).
 *
 * The dumps are written here, in memory, from the format description in
 * shared/reference/pg-dump-custom-format.md: every archive version the reader accepts (1.12 to
 * 1.16), with and without zlib compression, several integer sizes, data offsets recorded or
 * not (a dump written to a pipe). dump_scan() reads them through a source that hands out
 * small, odd-sized pieces and must report exactly what was written: the version, the
 * compression, the TOC, and the sum of the uncompressed payloads. Then a table of mutilated
 * dumps, each of which must be refused with a reason; the stop_after and max_minor limits;
 * and dump_identify() on the first bytes of the other formats a backup may hold.
 *
 * Dumps made by a real pg_dump need a server: the integration tests cover them.
 *
 * Prints one line per failed check and a final "N passed, M failed"; exits 1 if any failed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dump.h"

/* Data offset flags of a TOC entry (pg_backup_archiver.h). */
#define POS_NOT_SET 1
#define POS_SET     2
#define NO_DATA     3

/* Data block types (pg_backup_custom.c). */
#define BLK_DATA  1
#define BLK_BLOBS 3

/* Every dump here records offsets in 8 bytes, as pg_dump does on 64-bit systems. */
#define OFF_SIZE 8

/* A string literal as a byte pointer and a length, for tables of raw bytes. */
#define BYTES(s) (const unsigned char *)(s), sizeof(s) - 1

static unsigned passed, failed;

static void check(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* check: count one check; print a line naming the case when it failed. */
static void
check(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* check_int: a field of struct dump_info against its expected value. */
static void
check_int(const char *name, const char *what, long long got, long long want)
{
	check(got == want, name, "%s is %lld, expected %lld", what, got, want);
}

/* check_u64: as check_int, for the 64-bit counters. */
static void
check_u64(const char *name, const char *what, uint64_t got, uint64_t want)
{
	check(got == want, name, "%s is %" PRIu64 ", expected %" PRIu64, what, got, want);
}

/* check_str: a string field against its expected value. */
static void
check_str(const char *name, const char *what, const char *got, const char *want)
{
	check(strcmp(got, want) == 0, name, "%s is \"%s\", expected \"%s\"", what, got, want);
}

/* A growing byte buffer: dumps and payloads are built in memory. */
struct buf {
	unsigned char *data;
	size_t len, cap;
};

/* buf_put: append n bytes; the test stops if memory runs out. */
static void
buf_put(struct buf *b, const void *bytes, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 4096;
		unsigned char *data;

		while (cap < b->len + n)
			cap *= 2;
		data = realloc(b->data, cap);
		if (data == NULL) {
			fprintf(stderr, "test_dump: out of memory\n");
			exit(1);
		}
		b->data = data;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, bytes, n);
	b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* buf_printf: append a short formatted line. */
static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_put(b, line, (size_t)n);
}

/* buf_free: release a buffer and leave it empty. */
static void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* put_byte: one byte. */
static void
put_byte(struct buf *b, int value)
{
	unsigned char c = (unsigned char)value;

	buf_put(b, &c, 1);
}

/* put_int: an archive Int: a sign byte, then int_size bytes of magnitude, little-endian. */
static void
put_int(struct buf *b, int int_size, int64_t value)
{
	uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
	int i;

	put_byte(b, value < 0 ? 1 : 0);
	for (i = 0; i < int_size; i++)
		put_byte(b, i < 8 ? (int)((magnitude >> (8 * i)) & 0xff) : 0);
}

/* put_str: an archive Str, its length as an Int then its bytes; NULL has length -1. */
static void
put_str(struct buf *b, int int_size, const char *s)
{
	if (s == NULL) {
		put_int(b, int_size, -1);
		return;
	}
	put_int(b, int_size, (int64_t)strlen(s));
	buf_put(b, s, strlen(s));
}

/* put_offset: a data offset: the flag byte, then OFF_SIZE bytes little-endian. */
static void
put_offset(struct buf *b, int flag, uint64_t offset)
{
	int i;

	put_byte(b, flag);
	for (i = 0; i < OFF_SIZE; i++)
		put_byte(b, (int)((offset >> (8 * i)) & 0xff));
}

/*
 * What the dumps hold: the COPY text of two tables (each ended by pg_dump's "\.\n\n\n") and
 * three large objects, the last one empty. The second table has a long run of one row, so
 * that little compressed input inflates to more than the reader's output buffer.
 */
enum { PAYLOAD_T1, PAYLOAD_T2, PAYLOAD_BLOB1, PAYLOAD_BIG_BLOB, PAYLOAD_EMPTY_BLOB, PAYLOADS };
static struct buf payload[PAYLOADS];
static const int64_t blob_oid[3] = {16390, 16391, 16392};
static uint32_t prng_state = 2463534242u;

/* prng: xorshift32, so that every run writes the same dumps. */
static uint32_t
prng(void)
{
	prng_state ^= prng_state << 13;
	prng_state ^= prng_state >> 17;
	prng_state ^= prng_state << 5;
	return prng_state;
}

/* make_payloads: fill payload[]. */
static void
make_payloads(void)
{
	int i;

	for (i = 1; i <= 20; i++)
		buf_printf(&payload[PAYLOAD_T1], "%d\tname %d\t2018-11-21 01:21:00\n", i, i);
	buf_printf(&payload[PAYLOAD_T1], "\\.\n\n\n");
	for (i = 1; i <= 3000; i++)
		buf_printf(&payload[PAYLOAD_T2], "%d\t%08" PRIx32 "\t%" PRIu32 "\n", i, prng(),
		           prng() % 100000);
	for (i = 0; i < 12000; i++)
		buf_printf(&payload[PAYLOAD_T2], "42\tthe same row again\n");
	buf_printf(&payload[PAYLOAD_T2], "\\.\n\n\n");
	buf_printf(&payload[PAYLOAD_BLOB1], "a small large object\n");
	for (i = 0; i < 70001; i++)
		put_byte(&payload[PAYLOAD_BIG_BLOB], (int)(prng() >> 24));
}

/* One TOC entry of the dumps, in pg_dump's order; the data blocks follow in this order. */
struct toc_row {
	int64_t id;
	const char *desc, *tag, *nspace;
	int section; /* 2 pre-data, 3 data */
	const char *defn, *copy, *tableam;
	int relkind;
	const char *dep;
	int data; /* -1 none, PAYLOAD_T1 or PAYLOAD_T2 a table's text, PAYLOAD_BLOB1 the blobs */
};

#define TOC_ROWS_WITHOUT_DATA 3

static const struct toc_row toc_rows[] = {
    {1, "SCHEMA", "app", NULL, 2, "CREATE SCHEMA app;\n", NULL, NULL, 0, NULL, -1},
    {6, "TABLE", "t1", "app", 2, "CREATE TABLE app.t1 (id integer, name text, at timestamp);\n",
     NULL, "heap", 'r', "1", -1},
    {7, "TABLE", "t2", "app", 2, "CREATE TABLE app.t2 (id integer, h text, n integer);\n", NULL,
     "heap", 'r', "1", -1},
    {9, "TABLE DATA", "t1", "app", 3, "", "COPY app.t1 (id, name, at) FROM stdin;\n", NULL, 'r',
     "6", PAYLOAD_T1},
    {8, "TABLE DATA", "t2", "app", 3, "", "COPY app.t2 (id, h, n) FROM stdin;\n", NULL, 'r', "7",
     PAYLOAD_T2},
    {12, "BLOBS", "BLOBS", NULL, 3, "", NULL, NULL, 0, NULL, PAYLOAD_BLOB1},
};

#define TOC_ROW_T1 3

/* Ways to write a dump wrong, for the table of corruptions. */
enum fault {
	FAULT_NONE,
	FAULT_TOC_COUNT,    /* the TOC entry count is value */
	FAULT_TAG_LENGTH,   /* the first table data entry's tag: length value and no bytes */
	FAULT_DUPLICATE_ID, /* the second table data entry has the first one's dump id */
	FAULT_OFFSET_FLAG,  /* the first table data entry's offset flag is value */
	FAULT_SKIP_BLOCK,   /* the second table's data block is left out */
	FAULT_BLOCK_TWICE,  /* the first table's data block is written again at the end */
	FAULT_BLOCK_TYPE,   /* the first table's data block has type value */
	FAULT_EXTRA_BLOCK,  /* a data block for dump id value is added at the end */
	FAULT_CHUNK_LENGTH, /* the first table's first chunk says its length is value */
	FAULT_STREAM_CUT,   /* the first table's stored stream stops halfway, then Int 0 */
	FAULT_STREAM_JUNK,  /* bytes after the first table's stream: in its last chunk (value 1)
	                       or in a chunk of their own (value 0) */
};

/* Places in a written dump that the corruption cases cut or change. */
enum mark {
	MARK_START,
	MARK_HEADER_END,   /* just after the TOC entry count */
	MARK_TOC_END,      /* the first data block */
	MARK_BLOCK_2,      /* the second data block */
	MARK_BLOCK_3,      /* the third data block (the large objects) */
	MARK_STREAM_FIRST, /* the first stored byte of the first table's stream */
	MARK_CHUNK_MID,    /* halfway through the first table's first chunk */
	MARK_STREAM_LAST,  /* the last stored byte of the first table's stream */
	MARK_BLOB_MID,     /* halfway through the big large object's first chunk */
	MARK_LAST_OID,     /* the Int oid 0 that ends the large objects */
	MARK_END,
	MARK_COUNT,
};

/* What build_dump() writes. */
struct dump_spec {
	int vmin;         /* archive version 1.vmin */
	int int_size;     /* bytes in an Int's magnitude */
	int compression;  /* the header's field: a level up to 1.14, an algorithm from 1.15 */
	int data_flag;    /* the offset flag of entries with data: POS_SET or POS_NOT_SET */
	bool mixed_flags; /* ... except the first one, which is POS_SET */
	bool no_data;     /* only the entries without data, and no data blocks */
	size_t chunk;     /* stored bytes per chunk */
	enum fault fault; /* FAULT_NONE for an intact dump */
	int64_t value;    /* the fault's parameter */
	const struct buf *t2_text; /* the second table's text, when not payload[PAYLOAD_T2] */
	bool t2_inserts;           /* the second table as INSERT statements: no COPY statement */
};

/* A written dump, where things are in it, and what it holds. */
struct dump {
	struct buf bytes;
	size_t mark[MARK_COUNT];
	uint64_t payload_bytes; /* the sum of every stream's uncompressed length */
	uint64_t streams;
	uint64_t toc_entries;
};

/* pg_dump_version: the pg_dump that writes archive version 1.vmin, for the header. */
static const char *
pg_dump_version(int vmin)
{
	switch (vmin) {
	case 12:
		return "10.1";
	case 13:
		return "11.22";
	case 14:
		return "15.18 (Debian 15.18-0+deb12u1)";
	case 15:
		return "16.4";
	default:
		return "17.2";
	}
}

/* spec_level: the zlib level pg_dump would compress the spec's streams with. */
static int
spec_level(const struct dump_spec *spec)
{
	if (spec->vmin <= 14 && spec->compression >= 1 && spec->compression <= 9)
		return spec->compression;
	return Z_DEFAULT_COMPRESSION;
}

/*
 * compress_zlib: data as ONE zlib stream, made with deflateInit as pg_dump makes it. (For an
 * lz4 or zstd header the streams are zlib too: the reader must refuse before reading them.)
 */
static void
compress_zlib(const struct buf *in, int level, struct buf *out)
{
	unsigned char chunk[4096];
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit(&z, level) != Z_OK) {
		fprintf(stderr, "test_dump: deflateInit failed\n");
		exit(1);
	}
	z.next_in = in->data;
	z.avail_in = (uInt)in->len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		if (rc != Z_OK && rc != Z_STREAM_END) {
			fprintf(stderr, "test_dump: deflate failed (%d)\n", rc);
			exit(1);
		}
		buf_put(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
}

/*
 * put_stream: one stream of a data block: its stored bytes (one zlib stream, or the raw
 * bytes) in chunks of spec->chunk, each an Int length and the bytes, then Int 0. The first
 * table's stream takes the stream faults and sets the marks inside it.
 */
static void
put_stream(struct dump *d, const struct dump_spec *spec, int which)
{
	bool first_table = which == PAYLOAD_T1 && d->mark[MARK_STREAM_FIRST] == 0;
	const struct buf *text = &payload[which];
	struct buf stored = {0};
	size_t pos = 0, n;

	if (which == PAYLOAD_T2 && spec->t2_text != NULL)
		text = spec->t2_text;
	if (spec->compression != 0)
		compress_zlib(text, spec_level(spec), &stored);
	else
		buf_put(&stored, text->data, text->len);
	if (first_table && spec->fault == FAULT_STREAM_CUT)
		stored.len /= 2;
	if (first_table && spec->fault == FAULT_STREAM_JUNK && spec->value == 1)
		buf_put(&stored, "junk", 4);
	while (pos < stored.len) {
		n = stored.len - pos < spec->chunk ? stored.len - pos : spec->chunk;
		if (first_table && pos == 0 && spec->fault == FAULT_CHUNK_LENGTH)
			put_int(&d->bytes, spec->int_size, spec->value);
		else
			put_int(&d->bytes, spec->int_size, (int64_t)n);
		if (first_table && pos == 0) {
			d->mark[MARK_STREAM_FIRST] = d->bytes.len;
			d->mark[MARK_CHUNK_MID] = d->bytes.len + n / 2;
		}
		if (which == PAYLOAD_BIG_BLOB && pos == 0)
			d->mark[MARK_BLOB_MID] = d->bytes.len + n / 2;
		buf_put(&d->bytes, stored.data + pos, n);
		pos += n;
		if (first_table)
			d->mark[MARK_STREAM_LAST] = d->bytes.len - 1;
	}
	if (first_table && spec->fault == FAULT_STREAM_JUNK && spec->value == 0) {
		put_int(&d->bytes, spec->int_size, 4);
		buf_put(&d->bytes, "junk", 4);
	}
	put_int(&d->bytes, spec->int_size, 0);
	d->payload_bytes += text->len;
	d->streams++;
	buf_free(&stored);
}

/* put_block: the data block of one TOC row, under dump id id. */
static void
put_block(struct dump *d, const struct dump_spec *spec, const struct toc_row *row, int64_t id)
{
	int type = row->data == PAYLOAD_BLOB1 ? BLK_BLOBS : BLK_DATA;
	int i;

	if (row->data == PAYLOAD_T1 && spec->fault == FAULT_BLOCK_TYPE)
		type = (int)spec->value;
	put_byte(&d->bytes, type);
	put_int(&d->bytes, spec->int_size, id);
	if (row->data != PAYLOAD_BLOB1) {
		put_stream(d, spec, row->data);
		return;
	}
	for (i = 0; i < 3; i++) {
		put_int(&d->bytes, spec->int_size, blob_oid[i]);
		put_stream(d, spec, PAYLOAD_BLOB1 + i);
	}
	d->mark[MARK_LAST_OID] = d->bytes.len;
	put_int(&d->bytes, spec->int_size, 0);
}

/* put_toc_entry: one TOC entry, its fields as the archive version has them. */
static void
put_toc_entry(struct dump *d, const struct dump_spec *spec, const struct toc_row *row,
              size_t *offset_at)
{
	struct buf *b = &d->bytes;
	int n = spec->int_size, flag;
	int64_t id = row->id;

	if (spec->fault == FAULT_DUPLICATE_ID && row->data == PAYLOAD_T2)
		id = toc_rows[TOC_ROW_T1].id;
	put_int(b, n, id);
	put_int(b, n, row->data >= 0 ? 1 : 0); /* hadDumper */
	put_str(b, n, "0");                    /* tableoid */
	put_str(b, n, "0");                    /* oid */
	if (spec->fault == FAULT_TAG_LENGTH && row->data == PAYLOAD_T1)
		put_int(b, n, spec->value);
	else
		put_str(b, n, row->tag);
	put_str(b, n, row->desc);
	put_int(b, n, row->section);
	put_str(b, n, row->defn);
	put_str(b, n, ""); /* dropStmt */
	put_str(b, n, spec->t2_inserts && row->data == PAYLOAD_T2 ? NULL : row->copy);
	put_str(b, n, row->nspace);
	put_str(b, n, ""); /* tablespace */
	if (spec->vmin >= 14)
		put_str(b, n, row->tableam);
	if (spec->vmin >= 16)
		put_int(b, n, row->relkind);
	put_str(b, n, "postgres"); /* owner */
	put_str(b, n, "false");    /* withOids */
	if (row->dep != NULL)
		put_str(b, n, row->dep);
	put_str(b, n, NULL); /* the end of the dependencies */

	if (row->data < 0)
		flag = NO_DATA;
	else if (spec->mixed_flags && row->data == PAYLOAD_T1)
		flag = POS_SET;
	else
		flag = spec->data_flag;
	if (spec->fault == FAULT_OFFSET_FLAG && row->data == PAYLOAD_T1)
		flag = (int)spec->value;
	*offset_at = flag == POS_SET ? b->len : 0;
	put_offset(b, flag, 0);
}

/*
 * build_dump: a custom-format archive as the spec says. The offsets of entries marked
 * POS_SET are filled in afterwards, as pg_dump seeks back to do.
 */
static void
build_dump(const struct dump_spec *spec, struct dump *d)
{
	static const int created[7] = {0, 21, 1, 21, 10, 118, 0}; /* 2018-11-21 01:21:00 */
	size_t nrows =
	    spec->no_data ? TOC_ROWS_WITHOUT_DATA : sizeof(toc_rows) / sizeof(toc_rows[0]);
	size_t offset_at[sizeof(toc_rows) / sizeof(toc_rows[0])];
	struct buf *b = &d->bytes;
	int n = spec->int_size, i, blocks = 0;
	size_t row;

	memset(d, 0, sizeof(*d));
	buf_put(b, "PGDMP", 5);
	put_byte(b, 1);
	put_byte(b, spec->vmin);
	put_byte(b, 0);
	put_byte(b, n);
	put_byte(b, OFF_SIZE);
	put_byte(b, 1); /* the custom format */
	if (spec->vmin >= 15)
		put_byte(b, spec->compression);
	else
		put_int(b, n, spec->compression);
	for (i = 0; i < 7; i++)
		put_int(b, n, created[i]);
	put_str(b, n, "appdb");
	put_str(b, n, "15.18 (Debian 15.18-0+deb12u1)");
	put_str(b, n, pg_dump_version(spec->vmin));
	put_int(b, n, spec->fault == FAULT_TOC_COUNT ? spec->value : (int64_t)nrows);
	d->mark[MARK_HEADER_END] = b->len;
	d->toc_entries = nrows;

	for (row = 0; row < nrows; row++)
		put_toc_entry(d, spec, &toc_rows[row], &offset_at[row]);
	d->mark[MARK_TOC_END] = b->len;

	for (row = 0; row < nrows; row++) {
		size_t start = b->len;

		if (toc_rows[row].data < 0 ||
		    (spec->fault == FAULT_SKIP_BLOCK && toc_rows[row].data == PAYLOAD_T2))
			continue;
		for (i = 0; offset_at[row] != 0 && i < OFF_SIZE; i++)
			b->data[offset_at[row] + 1 + (size_t)i] = (unsigned char)(start >> (8 * i));
		blocks++;
		if (blocks == 2)
			d->mark[MARK_BLOCK_2] = start;
		if (blocks == 3)
			d->mark[MARK_BLOCK_3] = start;
		put_block(d, spec, &toc_rows[row], toc_rows[row].id);
	}
	if (spec->fault == FAULT_BLOCK_TWICE)
		put_block(d, spec, &toc_rows[TOC_ROW_T1], toc_rows[TOC_ROW_T1].id);
	if (spec->fault == FAULT_EXTRA_BLOCK)
		put_block(d, spec, &toc_rows[TOC_ROW_T1], spec->value);
	d->mark[MARK_END] = b->len;
}

/* The sizes of successive reads a source hands out, in turn. */
struct read_pattern {
	const char *name;
	size_t sizes[12];
	size_t nsizes;
};

static const struct read_pattern read_patterns[] = {
    {"reads of 1, 7, 4096 bytes", {1, 7, 4096}, 3},
    {"reads of 1 byte", {1}, 1},
    {"reads as large as asked", {SIZE_MAX}, 1},
    {"reads of 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5 bytes", {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}, 11},
};

/* A dump in memory as dump_scan() reads it. */
struct source {
	const unsigned char *data;
	size_t len, pos;
	const struct read_pattern *pattern;
	size_t next;
	size_t fail_at; /* every read from this offset on fails */
};

/* source_read: the dump_read_fn: the next piece of the pattern's size. */
static ssize_t
source_read(void *ctx, void *buf, size_t len)
{
	struct source *s = ctx;
	size_t n = s->pattern->sizes[s->next++ % s->pattern->nsizes];

	if (s->pos >= s->fail_at)
		return -1;
	if (n > len)
		n = len;
	if (n > s->len - s->pos)
		n = s->len - s->pos;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* The outcome of one dump_scan(). */
struct scan {
	int rc;
	struct dump_info info;
	char err[512];
	size_t consumed; /* bytes the reader took from the source */
};

/* scan_dump: dump_scan() over a written dump, with info and err full of garbage before. */
static void
scan_dump(const struct dump *d, const struct read_pattern *pattern, size_t fail_at,
          uint64_t stop_after, int max_minor, struct scan *s)
{
	struct source src = {d->bytes.data, d->bytes.len, 0, pattern, 0, fail_at};

	memset(&s->info, 0xa5, sizeof(s->info));
	memset(s->err, 'x', sizeof(s->err) - 1);
	s->err[sizeof(s->err) - 1] = '\0';
	s->rc =
	    dump_scan(source_read, &src, stop_after, max_minor, &s->info, s->err, sizeof(s->err));
	s->consumed = src.pos;
}

/* Intact dumps: what dump_scan() must find in them. */
struct good_case {
	const char *name;
	int vmin, int_size, compression, data_flag;
	bool mixed_flags, no_data;
	size_t chunk;
	enum dump_compression want_compression;
	int want_level;
};

static const struct good_case good_cases[] = {
    {"1.12, no compression", 12, 4, 0, POS_SET, false, false, 4096, DUMP_COMPRESSION_NONE, 0},
    {"1.12, zlib default level", 12, 4, -1, POS_SET, false, false, 4096, DUMP_COMPRESSION_ZLIB, -1},
    {"1.13, zlib level 1, to a pipe", 13, 4, 1, POS_NOT_SET, false, false, 4096,
     DUMP_COMPRESSION_ZLIB, 1},
    {"1.13, zlib level 9, 1-byte chunks", 13, 4, 9, POS_SET, false, false, 1, DUMP_COMPRESSION_ZLIB,
     9},
    {"1.14, zlib default level, to a pipe", 14, 4, -1, POS_NOT_SET, false, false, 4096,
     DUMP_COMPRESSION_ZLIB, -1},
    {"1.14, zlib level 6, intSize 8", 14, 8, 6, POS_SET, false, false, 4096, DUMP_COMPRESSION_ZLIB,
     6},
    {"1.14, no compression, intSize 8, 100-byte chunks", 14, 8, 0, POS_SET, false, false, 100,
     DUMP_COMPRESSION_NONE, 0},
    {"1.14, one offset set, the others not", 14, 4, -1, POS_NOT_SET, true, false, 4096,
     DUMP_COMPRESSION_ZLIB, -1},
    {"1.14, no data entries", 14, 4, -1, POS_SET, false, true, 4096, DUMP_COMPRESSION_ZLIB, -1},
    {"1.15, no compression", 15, 4, 0, POS_SET, false, false, 4096, DUMP_COMPRESSION_NONE, 0},
    {"1.15, gzip", 15, 4, 1, POS_SET, false, false, 4096, DUMP_COMPRESSION_ZLIB, 0},
    {"1.15, gzip, intSize 8, to a pipe", 15, 8, 1, POS_NOT_SET, false, false, 777,
     DUMP_COMPRESSION_ZLIB, 0},
    {"1.16, gzip", 16, 4, 1, POS_SET, false, false, 4096, DUMP_COMPRESSION_ZLIB, 0},
    {"1.16, no compression, to a pipe", 16, 4, 0, POS_NOT_SET, false, false, 4096,
     DUMP_COMPRESSION_NONE, 0},
    {"1.16, gzip, intSize 16", 16, 16, 1, POS_SET, false, false, 4096, DUMP_COMPRESSION_ZLIB, 0},
    {"1.16, no data entries, to a pipe", 16, 4, 1, POS_NOT_SET, false, true, 4096,
     DUMP_COMPRESSION_ZLIB, 0},
};

/* test_intact: every good case through every read pattern. */
static void
test_intact(void)
{
	size_t i, p;

	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case *c = &good_cases[i];
		struct dump_spec spec = {.vmin = c->vmin,
		                         .int_size = c->int_size,
		                         .compression = c->compression,
		                         .data_flag = c->data_flag,
		                         .mixed_flags = c->mixed_flags,
		                         .no_data = c->no_data,
		                         .chunk = c->chunk};
		bool to_pipe = !c->no_data && !c->mixed_flags && c->data_flag == POS_NOT_SET;
		struct dump d;

		build_dump(&spec, &d);
		check(c->no_data || d.payload_bytes > 0, c->name, "the writer wrote no data");
		for (p = 0; p < sizeof(read_patterns) / sizeof(read_patterns[0]); p++) {
			struct scan s;
			char name[256];

			snprintf(name, sizeof(name), "%s, %s", c->name, read_patterns[p].name);
			scan_dump(&d, &read_patterns[p], SIZE_MAX, 0, 0, &s);
			check(s.rc == 0, name, "dump_scan returned %d: %s", s.rc, s.err);
			check(s.err[0] == '\0', name, "err is \"%s\" after success", s.err);
			check_int(name, "vmaj", s.info.vmaj, 1);
			check_int(name, "vmin", s.info.vmin, c->vmin);
			check_int(name, "vrev", s.info.vrev, 0);
			check_int(name, "int_size", s.info.int_size, c->int_size);
			check_int(name, "off_size", s.info.off_size, OFF_SIZE);
			check_int(name, "format", s.info.format, 1);
			check_str(name, "compression", dump_compression_name(s.info.compression),
			          dump_compression_name(c->want_compression));
			check_int(name, "compression_level", s.info.compression_level,
			          c->want_level);
			check_str(name, "dbname", s.info.dbname, "appdb");
			check_str(name, "server_version", s.info.server_version,
			          "15.18 (Debian 15.18-0+deb12u1)");
			check_str(name, "pg_dump_version", s.info.pg_dump_version,
			          pg_dump_version(c->vmin));
			check_u64(name, "toc_entries", s.info.toc_entries, d.toc_entries);
			check_u64(name, "data_streams", s.info.data_streams, d.streams);
			check_u64(name, "decompressed_bytes", s.info.decompressed_bytes,
			          d.payload_bytes);
			check_int(name, "written_to_pipe", s.info.written_to_pipe, to_pipe);
			check_int(name, "over_limit", s.info.over_limit, false);
			check_int(name, "too_new", s.info.too_new, false);
			check(s.consumed == d.bytes.len, name, "read %zu of the %zu bytes",
			      s.consumed, d.bytes.len);
		}
		buf_free(&d.bytes);
	}
}

/* How a corruption case changes the written dump. */
enum mutation {
	MUTATE_NONE,
	MUTATE_TRUNCATE,   /* the dump ends at mark + delta */
	MUTATE_XOR,        /* the byte at mark + delta is XORed with value */
	MUTATE_SET,        /* the byte at mark + delta becomes value */
	MUTATE_READ_ERROR, /* reads from mark + delta on fail */
};

/* A dump that dump_scan() must refuse, and a word its reason must contain. */
struct bad_case {
	const char *name;
	int vmin, compression;
	enum fault fault;
	int64_t value;
	enum mutation mutation;
	enum mark mark;
	long delta;
	const char *keyword;
};

static const struct bad_case bad_cases[] = {
    /* The header. */
    {"empty input", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_START, 0, "truncated"},
    {"not PGDMP", 14, -1, FAULT_NONE, 'X', MUTATE_SET, MARK_START, 0, "not a pg_dump"},
    {"truncated in the magic", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_START, 3, "truncated"},
    {"truncated after the version", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_START, 8,
     "truncated"},
    {"truncated before the compression", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_START, 11,
     "truncated"},
    {"truncated before the compression byte (1.15)", 15, 1, FAULT_NONE, 0, MUTATE_TRUNCATE,
     MARK_START, 11, "truncated"},
    {"truncated in the creation time", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_START, 20,
     "truncated"},
    {"truncated in the TOC entry count", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_HEADER_END,
     -1, "truncated"},
    {"archive version 1.9", 9, -1, FAULT_NONE, 0, MUTATE_NONE, MARK_START, 0, "1.9"},
    {"archive version 2.14", 14, -1, FAULT_NONE, 2, MUTATE_SET, MARK_START, 5, "version"},
    {"archive version 0.14", 14, -1, FAULT_NONE, 0, MUTATE_SET, MARK_START, 5, "version"},
    {"intSize 0", 14, -1, FAULT_NONE, 0, MUTATE_SET, MARK_START, 8, "corrupt"},
    {"intSize 33", 14, -1, FAULT_NONE, 33, MUTATE_SET, MARK_START, 8, "corrupt"},
    {"offSize 0", 14, -1, FAULT_NONE, 0, MUTATE_SET, MARK_START, 9, "corrupt"},
    {"format byte 3 (tar)", 14, -1, FAULT_NONE, 3, MUTATE_SET, MARK_START, 10, "format 3"},
    {"format byte 5 (directory)", 14, -1, FAULT_NONE, 5, MUTATE_SET, MARK_START, 10, "format 5"},
    {"format byte 0", 14, -1, FAULT_NONE, 0, MUTATE_SET, MARK_START, 10, "format 0"},
    {"compression level 10", 14, 10, FAULT_NONE, 0, MUTATE_NONE, MARK_START, 0, "corrupt"},
    {"compression level -2", 14, -2, FAULT_NONE, 0, MUTATE_NONE, MARK_START, 0, "corrupt"},
    {"lz4 compression (1.15)", 15, 2, FAULT_NONE, 0, MUTATE_NONE, MARK_START, 0, "lz4"},
    {"zstd compression (1.16)", 16, 3, FAULT_NONE, 0, MUTATE_NONE, MARK_START, 0, "zstd"},
    {"compression algorithm 4 (1.15)", 15, 4, FAULT_NONE, 0, MUTATE_NONE, MARK_START, 0, "corrupt"},
    {"a TOC entry count of -1", 14, -1, FAULT_TOC_COUNT, -1, MUTATE_NONE, MARK_START, 0, "corrupt"},
    {"a TOC entry count over 16 Mi", 14, -1, FAULT_TOC_COUNT, 16 * 1024 * 1024 + 1, MUTATE_NONE,
     MARK_START, 0, "corrupt"},
    {"a TOC entry count's top byte flipped", 14, -1, FAULT_NONE, 0x80, MUTATE_XOR, MARK_HEADER_END,
     -1, "corrupt"},
    {"a TOC entry count of a million, the file ending after six", 14, -1, FAULT_TOC_COUNT, 1000000,
     MUTATE_TRUNCATE, MARK_TOC_END, 0, "truncated"},
    {"a read error in the header", 14, -1, FAULT_NONE, 0, MUTATE_READ_ERROR, MARK_START, 4,
     "could not be read"},

    /* The table of contents. */
    {"truncated in the TOC", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_HEADER_END, 30,
     "truncated"},
    {"truncated in the last data offset", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_TOC_END, -1,
     "truncated"},
    {"truncated in the TOC (1.16)", 16, 1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_TOC_END, -20,
     "truncated"},
    {"a tag of absurd length", 14, -1, FAULT_TAG_LENGTH, 4000000000, MUTATE_NONE, MARK_START, 0,
     "corrupt"},
    {"a tag of length -2", 14, -1, FAULT_TAG_LENGTH, -2, MUTATE_NONE, MARK_START, 0, "corrupt"},
    {"two TOC entries with one dump id", 14, -1, FAULT_DUPLICATE_ID, 0, MUTATE_NONE, MARK_START, 0,
     "twice"},
    {"data offset flag 0", 14, -1, FAULT_OFFSET_FLAG, 0, MUTATE_NONE, MARK_START, 0, "corrupt"},
    {"data offset flag 4", 14, -1, FAULT_OFFSET_FLAG, 4, MUTATE_NONE, MARK_START, 0, "corrupt"},

    /* The data blocks. */
    {"no data blocks at all", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_TOC_END, 0, "truncated"},
    {"truncated in a block header", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_BLOCK_2, 3,
     "truncated"},
    {"truncated in a chunk length", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE, MARK_STREAM_FIRST, -2,
     "truncated"},
    {"truncated in the middle of a data chunk", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE,
     MARK_CHUNK_MID, 0, "truncated"},
    {"truncated in the middle of a data chunk (no compression)", 14, 0, FAULT_NONE, 0,
     MUTATE_TRUNCATE, MARK_CHUNK_MID, 0, "truncated"},
    {"truncated in the middle of a large object", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE,
     MARK_BLOB_MID, 0, "truncated"},
    {"truncated between data blocks, the large objects' block missing", 14, -1, FAULT_NONE, 0,
     MUTATE_TRUNCATE, MARK_BLOCK_3, 0, "truncated"},
    {"truncated between data blocks (no compression)", 14, 0, FAULT_NONE, 0, MUTATE_TRUNCATE,
     MARK_BLOCK_2, 0, "truncated"},
    {"truncated before the oid 0 that ends the large objects", 14, -1, FAULT_NONE, 0,
     MUTATE_TRUNCATE, MARK_LAST_OID, 0, "truncated"},
    {"truncated in the oid 0 that ends the large objects", 14, -1, FAULT_NONE, 0, MUTATE_TRUNCATE,
     MARK_END, -1, "truncated"},
    {"a data entry whose block never comes", 14, -1, FAULT_SKIP_BLOCK, 0, MUTATE_NONE, MARK_START,
     0, "truncated"},
    {"a data entry whose block never comes (1.16, to a pipe)", 16, 1, FAULT_SKIP_BLOCK, 0,
     MUTATE_NONE, MARK_START, 0, "truncated"},
    {"a flipped byte in a zlib header", 14, -1, FAULT_NONE, 0x20, MUTATE_XOR, MARK_STREAM_FIRST, 0,
     "corrupt"},
    {"a flipped byte in a zlib header's flags", 14, -1, FAULT_NONE, 0x20, MUTATE_XOR,
     MARK_STREAM_FIRST, 1, "corrupt"},
    {"a flipped byte inside a zlib stream", 14, -1, FAULT_NONE, 0x20, MUTATE_XOR, MARK_CHUNK_MID, 0,
     "corrupt"},
    {"a flipped byte in a zlib checksum", 14, -1, FAULT_NONE, 0x20, MUTATE_XOR, MARK_STREAM_LAST, 0,
     "corrupt"},
    {"a flipped byte inside a large object's zlib stream", 14, -1, FAULT_NONE, 0x01, MUTATE_XOR,
     MARK_BLOB_MID, 0, "corrupt"},
    {"a flipped byte inside a zlib stream (1.16 gzip)", 16, 1, FAULT_NONE, 0x20, MUTATE_XOR,
     MARK_CHUNK_MID, 0, "corrupt"},
    {"a zlib stream cut short, then Int 0", 14, -1, FAULT_STREAM_CUT, 0, MUTATE_NONE, MARK_START, 0,
     "corrupt"},
    {"bytes after a zlib stream's end, in its last chunk", 14, -1, FAULT_STREAM_JUNK, 1,
     MUTATE_NONE, MARK_START, 0, "corrupt"},
    {"bytes after a zlib stream's end, in a chunk of their own", 14, -1, FAULT_STREAM_JUNK, 0,
     MUTATE_NONE, MARK_START, 0, "corrupt"},
    {"block type 2", 14, -1, FAULT_BLOCK_TYPE, 2, MUTATE_NONE, MARK_START, 0, "block type"},
    {"block type 0", 14, -1, FAULT_BLOCK_TYPE, 0, MUTATE_NONE, MARK_START, 0, "block type"},
    {"block type 255", 14, -1, FAULT_BLOCK_TYPE, 255, MUTATE_NONE, MARK_START, 0, "block type"},
    {"a block for dump id 99, not in the TOC", 14, -1, FAULT_EXTRA_BLOCK, 99, MUTATE_NONE,
     MARK_START, 0, "corrupt"},
    {"a block for dump id -9, not in the TOC", 14, -1, FAULT_EXTRA_BLOCK, -9, MUTATE_NONE,
     MARK_START, 0, "corrupt"},
    {"a block for the SCHEMA entry (NO_DATA)", 14, -1, FAULT_EXTRA_BLOCK, 1, MUTATE_NONE,
     MARK_START, 0, "corrupt"},
    {"a block for a TABLE entry (NO_DATA)", 14, -1, FAULT_EXTRA_BLOCK, 6, MUTATE_NONE, MARK_START,
     0, "corrupt"},
    {"the same block twice", 14, -1, FAULT_BLOCK_TWICE, 0, MUTATE_NONE, MARK_START, 0, "twice"},
    {"the same block twice (no compression)", 14, 0, FAULT_BLOCK_TWICE, 0, MUTATE_NONE, MARK_START,
     0, "twice"},
    {"a negative chunk length", 14, -1, FAULT_CHUNK_LENGTH, -5, MUTATE_NONE, MARK_START, 0,
     "corrupt"},
    {"a negative chunk length (no compression)", 14, 0, FAULT_CHUNK_LENGTH, -1, MUTATE_NONE,
     MARK_START, 0, "corrupt"},
    {"a chunk length over 1 GiB", 14, -1, FAULT_CHUNK_LENGTH, 2000000000, MUTATE_NONE, MARK_START,
     0, "corrupt"},
    {"a read error in the data", 14, -1, FAULT_NONE, 0, MUTATE_READ_ERROR, MARK_CHUNK_MID, 0,
     "could not be read"},
};

/* test_corrupt: every bad case, with each integer size; each must be refused with a reason. */
static void
test_corrupt(void)
{
	static const int int_sizes[] = {4, 8, 16};
	size_t i, k;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		for (k = 0; k < sizeof(int_sizes) / sizeof(int_sizes[0]); k++) {
			const struct bad_case *c = &bad_cases[i];
			struct dump_spec spec = {.vmin = c->vmin,
			                         .int_size = int_sizes[k],
			                         .compression = c->compression,
			                         .data_flag = POS_SET,
			                         .chunk = 64,
			                         .fault = c->fault,
			                         .value = c->value};
			size_t at, fail_at = SIZE_MAX;
			struct dump d;
			struct scan s;
			char name[256];

			if (c->vmin >= 16 && c->fault == FAULT_SKIP_BLOCK)
				spec.data_flag = POS_NOT_SET;
			snprintf(name, sizeof(name), "%s, intSize %d", c->name, int_sizes[k]);
			build_dump(&spec, &d);
			at = (size_t)((long)d.mark[c->mark] + c->delta);
			switch (c->mutation) {
			case MUTATE_NONE:
				break;
			case MUTATE_TRUNCATE:
				d.bytes.len = at;
				break;
			case MUTATE_XOR:
				d.bytes.data[at] ^= (unsigned char)c->value;
				break;
			case MUTATE_SET:
				d.bytes.data[at] = (unsigned char)c->value;
				break;
			case MUTATE_READ_ERROR:
				fail_at = at;
				break;
			}
			scan_dump(&d, &read_patterns[0], fail_at, 0, 0, &s);
			check(s.rc == -1, name, "dump_scan returned %d, expected -1", s.rc);
			check(s.err[0] != '\0' && strlen(s.err) < sizeof(s.err) - 1, name,
			      "no reason in err");
			check(strstr(s.err, c->keyword) != NULL, name,
			      "err \"%s\" does not say \"%s\"", s.err, c->keyword);
			buf_free(&d.bytes);
		}
	}
}

/* test_short_err: a reason longer than the caller's buffer is cut, still a C string. */
static void
test_short_err(void)
{
	struct dump_spec spec = {.vmin = 14,
	                         .int_size = 4,
	                         .compression = -1,
	                         .data_flag = POS_SET,
	                         .chunk = 64,
	                         .fault = FAULT_SKIP_BLOCK};
	struct source src;
	struct dump_info info;
	char err[16 + 1];
	struct dump d;
	int rc;

	build_dump(&spec, &d);
	memset(&src, 0, sizeof(src));
	src.data = d.bytes.data;
	src.len = d.bytes.len;
	src.pattern = &read_patterns[0];
	src.fail_at = SIZE_MAX;
	memset(err, 'x', sizeof(err));
	rc = dump_scan(source_read, &src, 0, 0, &info, err, sizeof(err) - 1);
	check(rc == -1, "a 16-byte err buffer", "dump_scan returned %d, expected -1", rc);
	check(memchr(err, '\0', 16) != NULL && err[16] == 'x', "a 16-byte err buffer",
	      "err is not a C string within its 16 bytes");
	buf_free(&d.bytes);
}

/* Archive versions against the max_minor argument. */
struct minor_case {
	const char *name;
	int vmin, compression, max_minor, rc;
	bool too_new;
};

static const struct minor_case minor_cases[] = {
    {"1.15 with max_minor 14", 15, 1, 14, -1, true},
    {"1.15 lz4 with max_minor 14", 15, 2, 14, -1, true},
    {"1.16 with max_minor 14", 16, 0, 14, -1, true},
    {"1.16 with max_minor 15", 16, 1, 15, -1, true},
    {"1.13 with max_minor 12", 13, -1, 12, -1, true},
    {"1.14 with max_minor 14", 14, -1, 14, 0, false},
    {"1.12 with max_minor 14", 12, 0, 14, 0, false},
    {"1.16 with max_minor 16", 16, 1, 16, 0, false},
    {"1.16 with max_minor 0 (no limit)", 16, 1, 0, 0, false},
};

/* test_max_minor: past max_minor, refused right after the header; otherwise read in full. */
static void
test_max_minor(void)
{
	size_t i;

	for (i = 0; i < sizeof(minor_cases) / sizeof(minor_cases[0]); i++) {
		const struct minor_case *c = &minor_cases[i];
		struct dump_spec spec = {.vmin = c->vmin,
		                         .int_size = 4,
		                         .compression = c->compression,
		                         .data_flag = POS_SET,
		                         .chunk = 4096};
		struct dump d;
		struct scan s;

		build_dump(&spec, &d);
		scan_dump(&d, &read_patterns[1], SIZE_MAX, 0, c->max_minor, &s);
		check_int(c->name, "dump_scan's result", s.rc, c->rc);
		check_int(c->name, "too_new", s.info.too_new, c->too_new);
		if (c->rc == 0) {
			check(s.err[0] == '\0', c->name, "err is \"%s\" after success", s.err);
			check_u64(c->name, "decompressed_bytes", s.info.decompressed_bytes,
			          d.payload_bytes);
		} else {
			check(strstr(s.err, "newer") != NULL, c->name,
			      "err \"%s\" does not say \"newer\"", s.err);
			check(s.consumed <= d.mark[MARK_HEADER_END], c->name,
			      "read %zu bytes, past the header's end at %zu", s.consumed,
			      d.mark[MARK_HEADER_END]);
		}
		buf_free(&d.bytes);
	}
}

/*
 * stream_end_past: where the stream that takes the decompressed total past limit ends; the
 * streams come in the order the dump holds them. A scan that stops at the limit has counted
 * more than limit bytes and no more than this.
 */
static uint64_t
stream_end_past(uint64_t limit)
{
	uint64_t sum = 0;
	int which;

	for (which = 0; which < PAYLOADS; which++) {
		sum += payload[which].len;
		if (sum > limit)
			break;
	}
	return sum;
}

/* test_stop_after: limits below, at and above a dump's decompressed size. */
static void
test_stop_after(void)
{
	static const int compressions[] = {-1, 0};
	const uint64_t t1 = payload[PAYLOAD_T1].len, t2 = payload[PAYLOAD_T2].len;
	const uint64_t blob1 = payload[PAYLOAD_BLOB1].len;
	size_t k, i;

	for (k = 0; k < sizeof(compressions) / sizeof(compressions[0]); k++) {
		struct dump_spec spec = {.vmin = 14,
		                         .int_size = 4,
		                         .compression = compressions[k],
		                         .data_flag = POS_SET,
		                         .chunk = 4096};
		struct dump d;
		uint64_t total;

		build_dump(&spec, &d);
		total = d.payload_bytes;
		{
			const uint64_t limits[] = {
			    1,           t1 - 1,  t1,          t1 + 1,
			    t1 + t2 - 1, t1 + t2, t1 + t2 + 5, t1 + t2 + blob1,
			    total - 1,   total,   total + 1,   UINT64_MAX,
			};

			for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
				uint64_t limit = limits[i], got;
				bool over = limit < total;
				struct scan s;
				char name[256];

				snprintf(name, sizeof(name),
				         "stop_after %" PRIu64 " of %" PRIu64 " bytes, %s", limit,
				         total, compressions[k] != 0 ? "zlib" : "no compression");
				scan_dump(&d, &read_patterns[0], SIZE_MAX, limit, 0, &s);
				got = s.info.decompressed_bytes;
				check(s.rc == 0, name, "dump_scan returned %d: %s", s.rc, s.err);
				check(s.err[0] == '\0', name, "err is \"%s\"", s.err);
				check_int(name, "over_limit", s.info.over_limit, over);
				if (over)
					check(got > limit && got <= stream_end_past(limit), name,
					      "decompressed_bytes is %" PRIu64
					      ", expected more than %" PRIu64
					      " and at most %" PRIu64,
					      got, limit, stream_end_past(limit));
				else
					check_u64(name, "decompressed_bytes", got, total);
				if (limit < t1)
					check(s.consumed < d.bytes.len / 2, name,
					      "read %zu of %zu bytes after passing the limit",
					      s.consumed, d.bytes.len);
			}
		}
		buf_free(&d.bytes);
	}
}

/*
 * test_stop_inside_stream: a table whose one stream inflates far past the limit. The scan
 * must stop there, as dump.h promises ("the rest of the input is not read"), not inflate the
 * whole stream first: a dump of one huge, very compressible table would otherwise cost its
 * full inflated size in time before the quota refuses it.
 */
static void
test_stop_inside_stream(void)
{
	static const char name[] = "stop_after 64 KiB into a 4 MiB stream";
	struct dump_spec spec = {
	    .vmin = 14, .int_size = 4, .compression = -1, .data_flag = POS_SET, .chunk = 4096};
	uint64_t limit = payload[PAYLOAD_T1].len + 64 * 1024;
	struct buf big = {0};
	struct dump d;
	struct scan s;

	while (big.len < 4 * 1024 * 1024)
		buf_printf(&big, "%08" PRIx32 "\t%08" PRIx32 "\n", prng(), prng());
	spec.t2_text = &big;
	build_dump(&spec, &d);
	check(d.mark[MARK_BLOCK_3] - d.mark[MARK_BLOCK_2] > 1024 * 1024, name,
	      "the big stream is only %zu bytes stored",
	      d.mark[MARK_BLOCK_3] - d.mark[MARK_BLOCK_2]);
	scan_dump(&d, &read_patterns[0], SIZE_MAX, limit, 0, &s);
	check(s.rc == 0, name, "dump_scan returned %d: %s", s.rc, s.err);
	check_int(name, "over_limit", s.info.over_limit, true);
	check(s.info.decompressed_bytes > limit &&
	          s.info.decompressed_bytes <= payload[PAYLOAD_T1].len + big.len,
	      name, "decompressed_bytes is %" PRIu64, s.info.decompressed_bytes);
	check(s.consumed < d.mark[MARK_BLOCK_2] + 512 * 1024, name,
	      "read %zu bytes from the start of the big stream's %zu-byte block to count %" PRIu64
	      " bytes against a limit of %" PRIu64,
	      s.consumed - d.mark[MARK_BLOCK_2], d.mark[MARK_BLOCK_3] - d.mark[MARK_BLOCK_2],
	      s.info.decompressed_bytes, limit);
	buf_free(&d.bytes);
	buf_free(&big);
}

/* What first bytes dump_identify() must recognise. */
struct identify_case {
	const char *name;
	const unsigned char *head;
	size_t len;
	enum dump_kind kind;
};

static unsigned char ustar_head[512]; /* filled by test_identify() */

static const struct identify_case identify_cases[] = {
    {"PGDMP, format 1 (custom)", BYTES("PGDMP\x01\x0e\x00\x04\x08\x01\x01\x01\x00\x00\x00"),
     DUMP_KIND_CUSTOM},
    {"PGDMP 1.16, format 1 (custom)", BYTES("PGDMP\x01\x10\x00\x04\x08\x01\x01\x00\x00\x00\x00"),
     DUMP_KIND_CUSTOM},
    {"PGDMP, format 3 (tar or directory toc.dat)",
     BYTES("PGDMP\x01\x0e\x00\x04\x08\x03\x01\x00\x00\x00\x00"), DUMP_KIND_PGDMP_TAR},
    {"plain SQL", BYTES("--\n-- PostgreSQL database dump\n--\n\n"), DUMP_KIND_PLAIN_SQL},
    {"gzip", BYTES("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"), DUMP_KIND_GZIP},
    {"lz4 frame", BYTES("\x04\x22\x4d\x18\x64\x40\xa7"), DUMP_KIND_LZ4},
    {"zstd frame", BYTES("\x28\xb5\x2f\xfd\x04\x58"), DUMP_KIND_ZSTD},
    {"a ustar header", ustar_head, sizeof(ustar_head), DUMP_KIND_TAR},
    {"empty", BYTES(""), DUMP_KIND_EMPTY},
    {"random text", BYTES("hello, this is not a dump\n"), DUMP_KIND_UNKNOWN},
    {"binary bytes", BYTES("\x00\x01\x02\x03\xff\xfe"), DUMP_KIND_UNKNOWN},
    {"PGDM alone", BYTES("PGDM"), DUMP_KIND_UNKNOWN},
};

/* test_identify: the table, a written dump's head, and the descriptions of every kind. */
static void
test_identify(void)
{
	static const enum dump_kind kinds[] = {
	    DUMP_KIND_EMPTY,     DUMP_KIND_CUSTOM, DUMP_KIND_PGDMP_TAR,
	    DUMP_KIND_PLAIN_SQL, DUMP_KIND_GZIP,   DUMP_KIND_LZ4,
	    DUMP_KIND_ZSTD,      DUMP_KIND_TAR,    DUMP_KIND_UNKNOWN,
	};
	static const struct {
		enum dump_compression compression;
		const char *name;
	} names[] = {
	    {DUMP_COMPRESSION_NONE, "none"},
	    {DUMP_COMPRESSION_ZLIB, "zlib"},
	    {DUMP_COMPRESSION_LZ4, "lz4"},
	    {DUMP_COMPRESSION_ZSTD, "zstd"},
	};
	struct dump_spec spec = {
	    .vmin = 14, .int_size = 4, .compression = -1, .data_flag = POS_SET, .chunk = 4096};
	struct dump d;
	size_t i, j;

	memcpy(ustar_head, "toc.dat", 7);
	memcpy(ustar_head + 100, "0000600", 7);
	memcpy(ustar_head + 257,
	       "ustar\0"
	       "00",
	       8);
	for (i = 0; i < sizeof(identify_cases) / sizeof(identify_cases[0]); i++) {
		const struct identify_case *c = &identify_cases[i];

		check_str(c->name, "dump_identify",
		          dump_kind_describe(dump_identify(c->head, c->len)),
		          dump_kind_describe(c->kind));
	}

	build_dump(&spec, &d);
	check_str("a written dump's first 512 bytes", "dump_identify",
	          dump_kind_describe(dump_identify(d.bytes.data, DUMP_IDENTIFY_BYTES)),
	          dump_kind_describe(DUMP_KIND_CUSTOM));
	buf_free(&d.bytes);

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *text = dump_kind_describe(kinds[i]);

		check(text != NULL && text[0] != '\0', "dump_kind_describe", "kind %d has no text",
		      (int)kinds[i]);
		for (j = 0; text != NULL && j < i; j++)
			check(strcmp(text, dump_kind_describe(kinds[j])) != 0, "dump_kind_describe",
			      "kinds %d and %d both read \"%s\"", (int)kinds[j], (int)kinds[i],
			      text);
	}
	check(strstr(dump_kind_describe(DUMP_KIND_CUSTOM), "-Fc") != NULL, "dump_kind_describe",
	      "the custom format does not name pg_dump -Fc");
	check(strstr(dump_kind_describe(DUMP_KIND_PLAIN_SQL), "-Fp") != NULL, "dump_kind_describe",
	      "a plain SQL dump does not name pg_dump -Fp");

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_str("dump_compression_name", names[i].name,
		          dump_compression_name(names[i].compression), names[i].name);
}

/*
 * test_sql_data: the data of a table dumped as INSERT statements is SQL that pg_restore
 * sends: read (inflated a second time when compressed) and refused at a statement a restore
 * never runs, naming the entry; COPY data holding the same text is not SQL.
 */
static void
test_sql_data(void)
{
	static const struct {
		const char *name;
		bool inserts;
		const char *text;
		const char *error; /* NULL: the dump is fine */
	} cases[] = {
	    {"INSERT statements", true,
	     "INSERT INTO app.t2 VALUES (1, 'x;COMMIT;--', 2);\n"
	     "INSERT INTO app.t2 VALUES (2, $$;commit;$$, 3);\n",
	     NULL},
	    {"INSERT statements holding COMMIT", true,
	     "INSERT INTO app.t2 VALUES (1, 'x', 2);COMMIT;--', 2);\n",
	     "is refused: TOC entry 8 (TABLE DATA app t2) holds COMMIT, which would commit"},
	    {"INSERT statements ending in a ROLLBACK without ;", true,
	     "INSERT INTO app.t2 VALUES (1, 'x', 2);\n/* x */ rollback",
	     "TOC entry 8 (TABLE DATA app t2) holds ROLLBACK"},
	    {"COPY data reading COMMIT", false, "1\tCOMMIT;\n2\tx';COMMIT;--\n", NULL},
	};
	static const int compressions[] = {0, -1};
	static const size_t chunks[] = {4096, 1};
	char name[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t c = 0; c < 2; c++) {
			for (size_t k = 0; k < 2; k++) {
				struct dump_spec spec = {.vmin = 14,
				                         .int_size = 4,
				                         .compression = compressions[c],
				                         .data_flag = POS_SET,
				                         .chunk = chunks[k],
				                         .t2_inserts = cases[i].inserts};
				struct buf text = {0};
				struct dump d;
				struct scan s;

				buf_printf(&text, "%s", cases[i].text);
				spec.t2_text = &text;
				snprintf(name, sizeof(name), "%s, %s, %zu-byte chunks",
				         cases[i].name,
				         compressions[c] == 0 ? "uncompressed" : "zlib", chunks[k]);
				build_dump(&spec, &d);
				scan_dump(&d, &read_patterns[0], SIZE_MAX, 0, 0, &s);
				if (cases[i].error == NULL) {
					check(s.rc == 0, name, "dump_scan returned %d: %s", s.rc,
					      s.err);
					check_u64(name, "decompressed_bytes",
					          s.info.decompressed_bytes, d.payload_bytes);
				} else {
					check(s.rc == -1 && strstr(s.err, cases[i].error) != NULL,
					      name, "dump_scan returned %d: %s", s.rc, s.err);
				}
				buf_free(&d.bytes);
				buf_free(&text);
			}
		}
	}
}

/* main: run every table; exit 0 only if all passed. */
int
main(void)
{
	make_payloads();
	test_intact();
	test_corrupt();
	test_short_err();
	test_max_minor();
	test_stop_after();
	test_stop_inside_stream();
	test_sql_data();
	test_identify();
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
