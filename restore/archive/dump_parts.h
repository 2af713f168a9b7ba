/*
 * dump_parts.h - what the dump reader's files share (not for the rest of the engine): dump.c
 * reads the header and the table of contents, dump_data.c the data blocks that follow, and
 * dump_sql.c judges the SQL among them that pg_restore would send.
 */
#ifndef DUMP_PARTS_H
#define DUMP_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "dump.h"
#include "sqlstmt.h"

#define MAX_STRING_BYTES (1024 * 1024 * 1024) /* a defn longer than 1 GiB is not a real dump */
#define TAG_BYTES        128

/* One TOC entry, as much of it as messages and checks need. */
struct toc_entry {
	int64_t dump_id;
	bool wants_data; /* its offset flag says a data block follows */
	bool offset_set; /* ... and where: pg_dump could seek back to record it */
	bool seen_data;
	bool copy_data; /* it has a COPY statement: its data is COPY data, not SQL */
	char desc[32];
	char namespace[TAG_BYTES];
	char tag[TAG_BYTES];
};

/* A buffered, forward-only view of the caller's read function. */
struct reader {
	dump_read_fn read;
	void *ctx;
	unsigned char *buf;
	size_t pos, len;
	bool eof;
	int int_size, off_size;
	char *err;
	size_t errlen;
	const char *where; /* "in the header", "in the table of contents", ... */
};

/* dump_reader_fail: write a sentence into the error buffer; always returns -1. */
int dump_reader_fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* dump_reader_fill: make sure a byte is buffered; 1 if so, 0 at the end, -1 on a read error. */
int dump_reader_fill(struct reader *r);

/* dump_reader_truncated: the error for input that ends where more was due. */
int dump_reader_truncated(struct reader *r);

/* dump_reader_byte: one byte into *b; returns 0, 1 at a clean end of input, or -1. */
int dump_reader_byte(struct reader *r, int *b);

/* dump_read_int: an archive Int: a sign byte, then int_size bytes of magnitude, little-endian. */
int dump_read_int(struct reader *r, int64_t *value);

/* dump_toc_compare: order entries by dump id, for qsort and bsearch. */
int dump_toc_compare(const void *a, const void *b);

/* dump_read_data: every data block until the end of the input, checked against the TOC. */
int dump_read_data(struct reader *r, struct dump_info *info, struct toc_entry *toc, size_t ntoc,
                   uint64_t stop_after);

/* dump_sql_refuse: the error for entry te holding a statement a restore never runs; -1. */
int dump_sql_refuse(struct reader *r, const struct toc_entry *te,
                    const struct sqlstmt_refusal *why);

/*
 * dump_sql_feed: follow n bytes of SQL that pg_restore sends; the first statement a restore
 * never runs goes into *bad (when it is still NULL). -1 only when out of memory.
 */
int dump_sql_feed(struct reader *r, struct sqlstmt *st, const char *text, size_t n,
                  const struct sqlstmt_refusal **bad);

/* dump_sql_end: the SQL (or a string of it pg_restore sends on its own) ends. */
void dump_sql_end(struct sqlstmt *st, const struct sqlstmt_refusal **bad);

/* A data block that is SQL (a table dumped with INSERT statements), read as it is measured. */
struct dump_sql_data {
	const struct toc_entry *te;
	struct sqlstmt st;
	z_stream z; /* a second inflater for compressed blocks: the counter keeps no output */
	bool z_ready, z_ended;
	unsigned char *out;
};

/* dump_sql_data_begin: a data block of te that is SQL begins. */
int dump_sql_data_begin(struct reader *r, struct dump_sql_data *d, const struct toc_entry *te,
                        bool compressed, bool standard_strings);

/* dump_sql_data_feed: n more stored bytes of the block (compressed when it is). */
int dump_sql_data_feed(struct reader *r, struct dump_sql_data *d, const unsigned char *in,
                       size_t n);

/* dump_sql_data_end: the block ends: its last statement is judged; frees *d. */
int dump_sql_data_end(struct reader *r, struct dump_sql_data *d);

/* dump_sql_data_free: release what *d holds (also after an error). */
void dump_sql_data_free(struct dump_sql_data *d);

#endif
