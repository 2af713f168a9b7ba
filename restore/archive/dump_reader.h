/*
 * dump_reader.h - the low-level reading of a custom-format dump, shared by the dump reader's
 * files (not for the rest of the engine): a buffered, forward-only view of the caller's read
 * function, and the archive's Int and Str. dump.c, dump_data.c and dump_sql.c all read
 * through it; it calls none of them.
 */
#ifndef DUMP_READER_H
#define DUMP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dump.h"

#define READER_BUFSIZE   (64 * 1024)
#define MAX_STRING_BYTES (1024 * 1024 * 1024) /* a defn longer than 1 GiB is not a real dump */

/* A buffered, forward-only view of the caller's read function. */
struct reader {
	dump_read_fn read;
	void *ctx;
	unsigned char *buf; /* READER_BUFSIZE bytes, the caller's to allocate */
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

/* dump_reader_bytes: copy exactly n bytes into dst (or skip them when dst is NULL). */
int dump_reader_bytes(struct reader *r, void *dst, uint64_t n);

/* dump_reader_byte: one byte into *b; returns 0, 1 at a clean end of input, or -1. */
int dump_reader_byte(struct reader *r, int *b);

/* dump_read_int: an archive Int: a sign byte, then int_size bytes of magnitude, little-endian. */
int dump_read_int(struct reader *r, int64_t *value);

/*
 * dump_read_str: an archive Str. Copies up to dstlen-1 bytes into dst (when not NULL) and
 * skips the rest; *is_null says whether it was the NULL string.
 */
int dump_read_str(struct reader *r, char *dst, size_t dstlen, bool *is_null);

#endif
