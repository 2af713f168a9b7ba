/*
 * dump_parts.h - what the dump reader's files share (not for the rest of the engine): dump.c
 * reads the header and the table of contents, dump_data.c the data blocks that follow.
 */
#ifndef DUMP_PARTS_H
#define DUMP_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dump.h"

#define MAX_STRING_BYTES (1024 * 1024 * 1024) /* a defn longer than 1 GiB is not a real dump */
#define TAG_BYTES        128

/* One TOC entry, as much of it as messages and checks need. */
struct toc_entry {
	int64_t dump_id;
	bool wants_data; /* its offset flag says a data block follows */
	bool offset_set; /* ... and where: pg_dump could seek back to record it */
	bool seen_data;
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

#endif
