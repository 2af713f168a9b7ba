/*
 * inflate.c - the streaming gunzip, on ISA-L's igzip or on zlib (see inflate.h).
 *
 * Its one job: given a read function over gzip data, hand out the inflated bytes through a
 * read function of the same shape, with fixed buffers, checking every member's trailer. The
 * library parses each member's header, inflates it and checks its CRC32 and length; this file
 * decides what may come between members (another member, zero padding, the end) and turns
 * each library's errors into sentences. Counting a zlib stream's bytes is inflate_count.c's;
 * the library's quirks are inflate_backend.c's.
 *
 * A reader holds INFLATE_IN_BYTES of compressed input, and INFLATE_BLOCK_BYTES of output for
 * inflate_read_block() only: inflate_read() inflates straight into the caller's buffer.
 *
 * igzip's isal_inflate() with crc_flag ISAL_GZIP forgets a header's flags when the header
 * arrives in more than one piece (it parses into a fresh struct on every call), so a member
 * whose name or comment straddles two reads would be misread: the header is parsed here with
 * isal_read_gzip_header() into a struct that lives as long as the member, and the body
 * inflated with ISAL_GZIP_NO_HDR_VER, which still checks the trailer.
 *
 * Limits: a gzip header's name, comment and extra field are skipped unread.
 */
#include "inflate.h"
#include "inflate_parts.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum reader_state {
	READER_BETWEEN, /* at the start or after a member: a header, padding or the end follows */
	READER_MEMBER,  /* inside a member */
	READER_END,
	READER_FAILED,
};

struct inflate_reader {
	inflate_read_fn read;
	void *ctx;
	unsigned char *in; /* compressed input, in[in_pos..in_len) not yet inflated */
	size_t in_pos, in_len;
	bool eof;            /* the source has returned 0 */
	uint64_t compressed; /* bytes read from the source */
	unsigned char *block;
	enum reader_state state;
	bool source_failed;
	unsigned long member;  /* the member being read, counted from 1 */
	unsigned char tail[8]; /* the last 8 bytes inflated: a member's trailer when it fails */
	char why[256];
#ifdef RW_HAVE_ISAL
	struct inflate_state isal;
	struct isal_gzip_header header; /* kept across calls: igzip resumes a header from it */
	bool header_done;
#else
	z_stream z;
	bool z_open;
#endif
};

/* inflate_is_gzip: do the first len bytes of a file start a gzip member (1f 8b)? */
bool
inflate_is_gzip(const unsigned char *head, size_t len)
{
	return len >= 2 && head[0] == 0x1f && head[1] == 0x8b;
}

/* load_le32: the little-endian 32-bit number at p, as gzip trailers store them. */
static uint32_t
load_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* reader_fail: record why the reader stopped; it stays failed. Returns -1. */
static int reader_fail(struct inflate_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
reader_fail(struct inflate_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	r->state = READER_FAILED;
	return -1;
}

/* reader_offset: where in the compressed data the next unused byte is. */
static uint64_t
reader_offset(const struct inflate_reader *r)
{
	return r->compressed - (r->in_len - r->in_pos);
}

/* reader_fill: read more of the source after what is buffered; sets eof at its end. */
static int
reader_fill(struct inflate_reader *r)
{
	size_t room;
	ssize_t n;

	if (r->in_pos == r->in_len) {
		r->in_pos = r->in_len = 0;
	} else if (r->in_pos > 0) {
		memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
		r->in_len -= r->in_pos;
		r->in_pos = 0;
	}
	room = INFLATE_IN_BYTES - r->in_len;
	n = r->read(r->ctx, r->in + r->in_len, room);
	if (n < 0) {
		r->source_failed = true;
		return reader_fail(r, "could not be read");
	}
	if ((size_t)n > room)
		return reader_fail(r, "could not be read: its source returned more than asked for");
	if (n == 0)
		r->eof = true;
	r->in_len += (size_t)n;
	r->compressed += (uint64_t)n;
	return 0;
}

/* reader_used: n bytes of input at in_pos were inflated; keep the last 8 of them. */
static void
reader_used(struct inflate_reader *r, size_t n)
{
	const unsigned char *p = r->in + r->in_pos;

	if (n >= sizeof(r->tail)) {
		memcpy(r->tail, p + n - sizeof(r->tail), sizeof(r->tail));
	} else if (n > 0) {
		memmove(r->tail, r->tail + n, sizeof(r->tail) - n);
		memcpy(r->tail + sizeof(r->tail) - n, p, n);
	}
	r->in_pos += n;
}

/* trailer_crc_wrong: the failure of a member whose CRC32 does not match its data. */
static int
trailer_crc_wrong(struct inflate_reader *r)
{
	return reader_fail(r,
	                   "is corrupt: the CRC32 in gzip member %lu's trailer does not match "
	                   "its data",
	                   r->member);
}

/*
 * trailer_size_wrong: the failure of a member whose ISIZE does not match its data; tail
 * holds the trailer, inflated the size modulo 2^32.
 */
static int
trailer_size_wrong(struct inflate_reader *r, uint32_t inflated)
{
	return reader_fail(r,
	                   "is corrupt: gzip member %lu's trailer records a length (ISIZE) of "
	                   "%" PRIu32 " bytes, but it inflates to %" PRIu32,
	                   r->member, load_le32(r->tail + 4), inflated);
}

/* member_begin: make the library ready for the member that starts at in_pos. */
static void
member_begin(struct inflate_reader *r)
{
#ifdef RW_HAVE_ISAL
	isal_inflate_reset(&r->isal);
	isal_gzip_header_init(&r->header);
	r->header_done = false;
#else
	inflateReset(&r->z);
#endif
}

/*
 * member_step: inflate the buffered input into out (len bytes) as far as it goes. Sets
 * *produced, and *ended once the member's trailer has been checked. -1 when it is corrupt.
 */
static int
member_step(struct inflate_reader *r, unsigned char *out, size_t len, size_t *produced, bool *ended)
{
	uint32_t avail = inflate_clamp(r->in_len - r->in_pos), room = inflate_clamp(len);
	int rc;
#ifdef RW_HAVE_ISAL
	struct inflate_state *s = &r->isal;

	*produced = 0;
	if (!r->header_done) {
		s->next_in = r->in + r->in_pos;
		s->avail_in = avail;
		rc = isal_read_gzip_header(s, &r->header);
		reader_used(r, avail - s->avail_in);
		avail = s->avail_in;
		if (rc == ISAL_END_INPUT)
			return 0;
		if (rc != ISAL_DECOMP_OK)
			return reader_fail(r, "is corrupt: gzip member %lu does not inflate (%s)",
			                   r->member, inflate_isal_reason(s, rc));
		r->header_done = true;
	}
	s->next_in = r->in + r->in_pos;
	s->avail_in = avail;
	s->next_out = out;
	s->avail_out = room;
	rc = isal_inflate(s);
	inflate_isal_unread(s, avail);
	reader_used(r, avail - s->avail_in);
	*produced = room - s->avail_out;
	if (rc == ISAL_INCORRECT_CHECKSUM && s->block_state == ISAL_BLOCK_FINISH) {
		/* igzip compares CRC32 and ISIZE at once; the trailer says which is wrong. */
		if (load_le32(r->tail) != s->crc)
			return trailer_crc_wrong(r);
		return trailer_size_wrong(r, s->total_out);
	}
	if (rc < 0)
		return reader_fail(r, "is corrupt: gzip member %lu does not inflate (%s)",
		                   r->member, inflate_isal_reason(s, rc));
	*ended = s->block_state == ISAL_BLOCK_FINISH;
	return 0;
#else
	z_stream *z = &r->z;

	z->next_in = r->in + r->in_pos;
	z->avail_in = avail;
	z->next_out = out;
	z->avail_out = room;
	rc = inflate(z, Z_NO_FLUSH);
	reader_used(r, avail - z->avail_in);
	*produced = room - z->avail_out;
	switch (rc) {
	case Z_STREAM_END:
		*ended = true;
		return 0;
	case Z_OK:
	case Z_BUF_ERROR: /* no progress was possible: more input is needed */
		return 0;
	case Z_MEM_ERROR:
		return reader_fail(r, "could not be inflated: out of memory");
	case Z_DATA_ERROR:
		/* zlib reads the CRC32, compares, then reads ISIZE, compares. */
		if (z->msg != NULL && strcmp(z->msg, "incorrect data check") == 0)
			return trailer_crc_wrong(r);
		if (z->msg != NULL && strcmp(z->msg, "incorrect length check") == 0)
			return trailer_size_wrong(r, (uint32_t)z->total_out);
		break;
	}
	return reader_fail(r, "is corrupt: gzip member %lu does not inflate (%s)", r->member,
	                   z->msg != NULL ? z->msg : "zlib error");
#endif
}

/*
 * reader_skip_padding: after the last member, zero bytes up to the end are padding (gzip(1)
 * ignores them too); anything else is refused.
 */
static int
reader_skip_padding(struct inflate_reader *r)
{
	for (;;) {
		while (r->in_pos < r->in_len && r->in[r->in_pos] == 0)
			r->in_pos++;
		if (r->in_pos < r->in_len)
			return reader_fail(r,
			                   "is corrupt: after gzip member %lu and zero bytes, at "
			                   "offset %" PRIu64 ", comes data that is not gzip",
			                   r->member, reader_offset(r));
		if (r->eof) {
			r->state = READER_END;
			return 0;
		}
		if (reader_fill(r) < 0)
			return -1;
	}
}

/* reader_next_member: what follows a member (or the start): another, padding or the end. */
static int
reader_next_member(struct inflate_reader *r)
{
	size_t avail;

	/* Two bytes tell a header from anything else. */
	while (r->in_len - r->in_pos < 2 && !r->eof)
		if (reader_fill(r) < 0)
			return -1;
	avail = r->in_len - r->in_pos;
	if (avail == 0) {
		if (r->member == 0)
			return reader_fail(r, "is empty, not gzip data");
		r->state = READER_END;
		return 0;
	}
	/* A lone 1f at the end starts a member the library will find truncated. */
	if (r->in[r->in_pos] == 0x1f && (avail == 1 || r->in[r->in_pos + 1] == 0x8b)) {
		r->member++;
		member_begin(r);
		r->state = READER_MEMBER;
		return 0;
	}
	if (r->member == 0)
		return reader_fail(r, "is not gzip data");
	if (r->in[r->in_pos] == 0)
		return reader_skip_padding(r);
	return reader_fail(r,
	                   "is corrupt: after gzip member %lu, at offset %" PRIu64
	                   ", comes data that is not gzip",
	                   r->member, reader_offset(r));
}

/* inflate_open: a reader of the gzip data that read(ctx, ...) returns; NULL when out of memory. */
struct inflate_reader *
inflate_open(inflate_read_fn read, void *ctx)
{
	struct inflate_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->read = read;
	r->ctx = ctx;
	r->state = READER_BETWEEN;
	r->in = malloc(INFLATE_IN_BYTES);
	r->block = malloc(INFLATE_BLOCK_BYTES);
	if (r->in == NULL || r->block == NULL)
		goto fail;
#ifdef RW_HAVE_ISAL
	isal_inflate_init(&r->isal);
	r->isal.crc_flag = ISAL_GZIP_NO_HDR_VER;
#else
	/* 15 + 16: a window of up to 32 KiB, gzip wrapping only. */
	if (inflateInit2(&r->z, 15 + 16) != Z_OK)
		goto fail;
	r->z_open = true;
#endif
	return r;
fail:
	inflate_close(r);
	return NULL;
}

/* inflate_read: the next inflated bytes, at most len of them, into buf; 0 at the end, -1 on error.
 */
ssize_t
inflate_read(void *reader, void *buf, size_t len)
{
	struct inflate_reader *r = reader;

	len = inflate_clamp(len);
	for (;;) {
		size_t produced = 0, before;
		bool ended = false;

		switch (r->state) {
		case READER_FAILED:
			return -1;
		case READER_END:
			return 0;
		case READER_BETWEEN:
			if (reader_next_member(r) < 0)
				return -1;
			continue;
		case READER_MEMBER:
			break;
		}
		if (len == 0)
			return 0;
		if (r->in_pos == r->in_len && !r->eof && reader_fill(r) < 0)
			return -1;
		before = r->in_pos;
		if (member_step(r, buf, len, &produced, &ended) < 0)
			return -1;
		if (ended)
			r->state = READER_BETWEEN;
		if (produced > 0)
			return (ssize_t)produced;
		if (ended)
			continue;
		if (r->in_pos == r->in_len && r->eof)
			return reader_fail(r, "is truncated: it ends inside gzip member %lu",
			                   r->member);
		if (r->in_pos == before && r->in_pos < r->in_len)
			return reader_fail(r, "is corrupt: gzip member %lu does not inflate",
			                   r->member);
	}
}

/* inflate_read_block: as inflate_read(), into the reader's own buffer, pointed at by *data. */
ssize_t
inflate_read_block(struct inflate_reader *reader, const void **data)
{
	*data = reader->block;
	return inflate_read(reader, reader->block, INFLATE_BLOCK_BYTES);
}

/* inflate_error: why the last inflate_read() returned -1, as a sentence without the file name. */
const char *
inflate_error(const struct inflate_reader *reader)
{
	return reader->why;
}

/* inflate_source_failed: did the error come from the source's read function? */
bool
inflate_source_failed(const struct inflate_reader *reader)
{
	return reader->source_failed;
}

/* inflate_compressed_bytes: how many bytes of the source were read so far. */
uint64_t
inflate_compressed_bytes(const struct inflate_reader *reader)
{
	return reader->compressed;
}

/* inflate_close: free the reader (NULL is fine). It never closes the source. */
void
inflate_close(struct inflate_reader *reader)
{
	if (reader == NULL)
		return;
#ifndef RW_HAVE_ISAL
	if (reader->z_open)
		inflateEnd(&reader->z);
#endif
	free(reader->in);
	free(reader->block);
	free(reader);
}
