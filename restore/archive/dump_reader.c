/*
 * dump_reader.c - the low-level reading of a custom-format dump (see dump_reader.h): bytes
 * through a buffer over the caller's read function, and the archive's Int and Str, each length
 * bounded before it is used. What the bytes mean is dump.c's, dump_data.c's and dump_sql.c's.
 *
 * Diagnostics are one sentence without the file name, saying where in the dump it went wrong
 * (the reader's where); the caller prefixes the name.
 */
#include "dump_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* dump_reader_fail: write a sentence into the error buffer; always returns -1. */
int
dump_reader_fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* dump_reader_fill: make sure a byte is buffered; 1 if so, 0 at the end, -1 on a read error. */
int
dump_reader_fill(struct reader *r)
{
	ssize_t n;

	if (r->pos < r->len)
		return 1;
	if (r->eof)
		return 0;
	n = r->read(r->ctx, r->buf, READER_BUFSIZE);
	if (n < 0)
		return dump_reader_fail(r, "could not be read");
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	r->pos = 0;
	r->len = (size_t)n;
	return 1;
}

/* dump_reader_truncated: the error for input that ends where more was due. */
int
dump_reader_truncated(struct reader *r)
{
	return dump_reader_fail(r, "is truncated: it ends %s", r->where);
}

/* dump_reader_bytes: copy exactly n bytes into dst (or skip them when dst is NULL). */
int
dump_reader_bytes(struct reader *r, void *dst, uint64_t n)
{
	unsigned char *out = dst;

	while (n > 0) {
		int got = dump_reader_fill(r);
		size_t take;

		if (got < 0)
			return -1;
		if (got == 0)
			return dump_reader_truncated(r);
		take = r->len - r->pos;
		if (take > n)
			take = (size_t)n;
		if (out != NULL) {
			memcpy(out, r->buf + r->pos, take);
			out += take;
		}
		r->pos += take;
		n -= take;
	}
	return 0;
}

/* dump_reader_byte: one byte into *b; returns 0, 1 at a clean end of input, or -1. */
int
dump_reader_byte(struct reader *r, int *b)
{
	int got = dump_reader_fill(r);

	if (got <= 0)
		return got < 0 ? -1 : 1;
	*b = r->buf[r->pos++];
	return 0;
}

/* dump_read_int: an archive Int: a sign byte, then int_size bytes of magnitude, little-endian. */
int
dump_read_int(struct reader *r, int64_t *value)
{
	unsigned char bytes[1 + 32];
	uint64_t magnitude = 0;
	int i;

	if (dump_reader_bytes(r, bytes, 1 + (uint64_t)r->int_size) < 0)
		return -1;
	for (i = r->int_size; i >= 1; i--) {
		if (i > 8 && bytes[i] != 0)
			return dump_reader_fail(
			    r, "is corrupt: an integer %s does not fit in 64 bits", r->where);
		if (i <= 8)
			magnitude = (magnitude << 8) | bytes[i];
	}
	if (magnitude > (uint64_t)INT64_MAX)
		return dump_reader_fail(r, "is corrupt: an integer %s is out of range", r->where);
	*value = bytes[0] != 0 ? -(int64_t)magnitude : (int64_t)magnitude;
	return 0;
}

/*
 * dump_read_str: an archive Str. Copies up to dstlen-1 bytes into dst (when not NULL) and
 * skips the rest; *is_null says whether it was the NULL string.
 */
int
dump_read_str(struct reader *r, char *dst, size_t dstlen, bool *is_null)
{
	int64_t len;
	uint64_t keep = 0;

	if (dump_read_int(r, &len) < 0)
		return -1;
	if (is_null != NULL)
		*is_null = len == -1;
	if (dst != NULL && dstlen > 0)
		dst[0] = '\0';
	if (len == -1)
		return 0;
	if (len < 0 || len > MAX_STRING_BYTES)
		return dump_reader_fail(r,
		                        "is corrupt: a string %s has an impossible length (%lld)",
		                        r->where, (long long)len);
	if (dst != NULL && dstlen > 0) {
		keep = (uint64_t)len < dstlen - 1 ? (uint64_t)len : dstlen - 1;
		if (dump_reader_bytes(r, dst, keep) < 0)
			return -1;
		dst[keep] = '\0';
	}
	return dump_reader_bytes(r, NULL, (uint64_t)len - keep);
}
