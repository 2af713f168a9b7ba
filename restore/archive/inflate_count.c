/*
 * inflate_count.c - the counter of the bytes a zlib stream inflates to (see inflate.h), for
 * pg_dump's compressed data: each stream (a zlib header, deflate data, an Adler-32) is fed in
 * chunks as the dump reader gets them, inflated into one scratch buffer of INFLATE_BLOCK_BYTES
 * and thrown away; only the count, the stream's end and its errors are kept. It runs on the
 * backend inflate_backend.c names, as the gunzip in inflate.c does.
 *
 * Limits: a stream that needs a preset dictionary is refused (pg_dump never writes one).
 */
#include "inflate.h"
#include "inflate_parts.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

struct inflate_count {
	unsigned char *out; /* INFLATE_BLOCK_BYTES, thrown away */
	uint64_t bytes;
	bool ended;
	char why[128];
#ifdef RW_HAVE_ISAL
	struct inflate_state isal;
#else
	z_stream z;
#endif
};

/* inflate_count_open: a counter ready for its first stream; NULL when out of memory. */
struct inflate_count *
inflate_count_open(void)
{
	struct inflate_count *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->out = malloc(INFLATE_BLOCK_BYTES);
	if (c->out == NULL) {
		free(c);
		return NULL;
	}
#ifdef RW_HAVE_ISAL
	isal_inflate_init(&c->isal);
	c->isal.crc_flag = ISAL_ZLIB;
#else
	if (inflateInit(&c->z) != Z_OK) {
		free(c->out);
		free(c);
		return NULL;
	}
#endif
	return c;
}

/* inflate_count_reset: make the counter ready for a new stream (its count back to 0). */
void
inflate_count_reset(struct inflate_count *count)
{
#ifdef RW_HAVE_ISAL
	isal_inflate_reset(&count->isal);
#else
	inflateReset(&count->z);
#endif
	count->bytes = 0;
	count->ended = false;
	count->why[0] = '\0';
}

/*
 * count_step: inflate up to avail bytes of in into the scratch buffer; *consumed and
 * *produced say how far it went. -1 with why set when the stream is corrupt.
 */
static int
count_step(struct inflate_count *c, const unsigned char *in, uint32_t avail, size_t *consumed,
           size_t *produced)
{
	int rc;
#ifdef RW_HAVE_ISAL
	struct inflate_state *s = &c->isal;

	s->next_in = (uint8_t *)in;
	s->avail_in = avail;
	s->next_out = c->out;
	s->avail_out = INFLATE_BLOCK_BYTES;
	rc = isal_inflate(s);
	inflate_isal_unread(s, avail);
	*consumed = avail - s->avail_in;
	*produced = INFLATE_BLOCK_BYTES - s->avail_out;
	if (rc < 0) {
		snprintf(c->why, sizeof(c->why), "%s", inflate_isal_reason(s, rc));
		return -1;
	}
	if (s->block_state == ISAL_BLOCK_FINISH)
		c->ended = true;
	return 0;
#else
	z_stream *z = &c->z;

	z->next_in = (Bytef *)in;
	z->avail_in = avail;
	z->next_out = c->out;
	z->avail_out = INFLATE_BLOCK_BYTES;
	rc = inflate(z, Z_NO_FLUSH);
	*consumed = avail - z->avail_in;
	*produced = INFLATE_BLOCK_BYTES - z->avail_out;
	if (rc == Z_STREAM_END)
		c->ended = true;
	if (rc == Z_STREAM_END || rc == Z_OK || rc == Z_BUF_ERROR)
		return 0;
	snprintf(c->why, sizeof(c->why), "%s",
	         rc == Z_NEED_DICT ? "needs a preset dictionary"
	         : z->msg != NULL  ? z->msg
	                           : "zlib error");
	return -1;
#endif
}

/* inflate_count_feed: inflate the next len bytes of the stream and count what they give. */
enum inflate_count_status
inflate_count_feed(struct inflate_count *count, const void *in, size_t len, size_t *used,
                   uint64_t limit)
{
	const unsigned char *p = in;

	*used = 0;
	if (count->ended)
		return INFLATE_COUNT_END;
	for (;;) {
		size_t consumed, produced;

		if (count_step(count, p + *used, inflate_clamp(len - *used), &consumed, &produced) <
		    0)
			return INFLATE_COUNT_ERROR;
		*used += consumed;
		count->bytes += produced;
		if (count->ended)
			return INFLATE_COUNT_END;
		if (limit != 0 && count->bytes >= limit)
			return INFLATE_COUNT_LIMIT;
		/* A full scratch buffer may leave output inside the library: go round again. */
		if (*used == len && produced < INFLATE_BLOCK_BYTES)
			return INFLATE_COUNT_MORE;
		if (consumed == 0 && produced == 0 && *used < len) {
			snprintf(count->why, sizeof(count->why), "no progress inflating");
			return INFLATE_COUNT_ERROR;
		}
	}
}

/* inflate_count_bytes: the bytes the current stream has inflated to so far. */
uint64_t
inflate_count_bytes(const struct inflate_count *count)
{
	return count->bytes;
}

/* inflate_count_error: why inflate_count_feed() failed: "invalid block type" and so on. */
const char *
inflate_count_error(const struct inflate_count *count)
{
	return count->why;
}

/* inflate_count_close: free the counter (NULL is fine). */
void
inflate_count_close(struct inflate_count *count)
{
	if (count == NULL)
		return;
#ifndef RW_HAVE_ISAL
	inflateEnd(&count->z);
#endif
	free(count->out);
	free(count);
}
