/*
 * test_inflate.c - the streaming gunzip and the zlib byte counter (restore/inflate.c).
 *
 * gzip data is made here with zlib's deflate: single and several members, empty members,
 * headers with a name, a comment, an extra field and a header CRC, a few MB of random bytes and
 * zeros. Each case is read through sources that hand out everything at once, one byte at a time and
 * odd-sized pieces, into output buffers of 1 byte to 1 MiB, and must give exactly what zlib's own
 * inflate gives, or fail with the sentence of the table. Then the counter, on pg_dump-like zlib
 * streams: exact counts, bytes after the end, the limit, corruption.
 *
 * Runs against whichever backend the build chose (inflate_backend() says which).
 * Prints one line per failed check and a final "N passed, M failed"; exits 1 if any failed.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "inflate.h"

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

/* A growing byte buffer. */
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
			fprintf(stderr, "test_inflate: out of memory\n");
			exit(1);
		}
		b->data = data;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, bytes, n);
	b->len += n;
}

/* buf_free: release a buffer and leave it empty. */
static void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* deflate_into: compress data onto out as one gzip member (gzip true) or one zlib stream. */
static void
deflate_into(struct buf *out, const unsigned char *data, size_t len, int level, bool gzip,
             gz_header *header)
{
	unsigned char chunk[64 * 1024];
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		fprintf(stderr, "test_inflate: deflateInit2 failed\n");
		exit(1);
	}
	if (header != NULL)
		deflateSetHeader(&z, header);
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		buf_put(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc == Z_OK || rc == Z_BUF_ERROR);
	if (rc != Z_STREAM_END) {
		fprintf(stderr, "test_inflate: deflate failed\n");
		exit(1);
	}
	deflateEnd(&z);
}

/* zlib_gunzip: the reference: every member of in, inflated by zlib itself. */
static void
zlib_gunzip(const unsigned char *in, size_t len, struct buf *out)
{
	unsigned char chunk[64 * 1024];
	z_stream z;
	int rc = Z_STREAM_END;

	memset(&z, 0, sizeof(z));
	inflateInit2(&z, 15 + 16);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	while (z.avail_in > 0 && rc == Z_STREAM_END) {
		inflateReset(&z);
		do {
			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			rc = inflate(&z, Z_NO_FLUSH);
			buf_put(out, chunk, sizeof(chunk) - z.avail_out);
		} while (rc == Z_OK);
	}
	inflateEnd(&z);
}

/* The payloads: text, random bytes, zeros; made once. */
static struct buf text, random_bytes, zeros, big;

/* make_payloads: fill the payloads; big is a few MB of random bytes, zeros and text. */
static void
make_payloads(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char line[80];
	size_t i;

	for (i = 0; text.len < 200 * 1024; i++) {
		int n = snprintf(line, sizeof(line), "%zu\t%08zx\tsome row of table data\n", i,
		                 i * 2654435761U);
		buf_put(&text, line, (size_t)n);
	}
	for (i = 0; i < 1024 * 1024; i++) {
		unsigned char byte;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		byte = (unsigned char)x;
		buf_put(&random_bytes, &byte, 1);
	}
	for (i = 0; i < 1024 * 1024; i++)
		buf_put(&zeros, "", 1);
	text.len = 200 * 1024;
	buf_put(&big, random_bytes.data, random_bytes.len);
	buf_put(&big, zeros.data, zeros.len);
	buf_put(&big, text.data, text.len);
	buf_put(&big, random_bytes.data, random_bytes.len / 2);
	buf_put(&big, zeros.data, zeros.len);
}

/* A source over bytes in memory, handing out pieces of the sizes in chunks, in turn. */
struct source {
	const unsigned char *data;
	size_t len, pos;
	const size_t *chunks; /* 0-terminated; NULL: as much as asked for */
	size_t next;
	size_t fail_at; /* fail once pos reaches this (0: never) */
};

/* source_read: the inflate_read_fn over a struct source. */
static ssize_t
source_read(void *ctx, void *buf, size_t len)
{
	struct source *s = ctx;
	size_t n = len;

	if (s->fail_at != 0 && s->pos >= s->fail_at)
		return -1;
	if (s->chunks != NULL) {
		if (s->chunks[s->next] == 0)
			s->next = 0;
		if (n > s->chunks[s->next])
			n = s->chunks[s->next];
		s->next++;
	}
	if (n > s->len - s->pos)
		n = s->len - s->pos;
	if (n > 0)
		memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* How the input is handed out, and how much is asked for at once. */
static const size_t one_byte[] = {1, 0};
static const size_t odd[] = {7, 1, 3, 65537, 2, 1000, 13, 300001, 0};

struct pacing {
	const char *name;
	const size_t *chunks;
	size_t out_len; /* 0: use inflate_read_block() */
	bool small_only;
};

static const struct pacing pacings[] = {
    {"all at once, 1 MiB reads", NULL, 1024 * 1024, false},
    {"all at once, blocks", NULL, 0, false},
    {"odd pieces, odd reads", odd, 4093, false},
    {"odd pieces, 1-byte reads", odd, 1, true},
    {"1-byte pieces, 64 KiB reads", one_byte, 65536, true},
    {"1-byte pieces, 1-byte reads", one_byte, 1, true},
};

/*
 * gunzip_all: read in through a reader paced as p; the output goes to out. Returns what the
 * last read returned (0 at a clean end, -1 on an error), with the reader's sentence in why.
 */
static ssize_t
gunzip_all(const struct buf *in, const struct pacing *p, size_t fail_at, struct buf *out, char *why,
           size_t whylen, bool *source_failed)
{
	struct source src = {in->data, in->len, 0, p->chunks, 0, fail_at};
	struct inflate_reader *r = inflate_open(source_read, &src);
	unsigned char *buf = malloc(p->out_len > 0 ? p->out_len : 1);
	ssize_t n;

	if (r == NULL || buf == NULL) {
		fprintf(stderr, "test_inflate: out of memory\n");
		exit(1);
	}
	for (;;) {
		const void *data = buf;

		n = p->out_len > 0 ? inflate_read(r, buf, p->out_len)
		                   : inflate_read_block(r, &data);
		if (n <= 0)
			break;
		buf_put(out, data, (size_t)n);
	}
	snprintf(why, whylen, "%s", n < 0 ? inflate_error(r) : "");
	*source_failed = inflate_source_failed(r);
	/* Errors are final, and so is the end. */
	check(inflate_read(r, buf, p->out_len > 0 ? p->out_len : 1) == n, p->name,
	      "a read after the %s returned something else", n < 0 ? "error" : "end");
	inflate_close(r);
	free(buf);
	return n;
}

/* What a case starts from: members of these payloads. */
enum payload { P_TEXT, P_RANDOM, P_ZEROS, P_EMPTY, P_BIG, P_END };

/* payload_of: the bytes of a payload. */
static void
payload_of(enum payload p, const unsigned char **data, size_t *len)
{
	static const struct buf empty;
	const struct buf *b = p == P_TEXT     ? &text
	                      : p == P_RANDOM ? &random_bytes
	                      : p == P_ZEROS  ? &zeros
	                      : p == P_BIG    ? &big
	                                      : &empty;

	*data = b->data;
	*len = b->len;
}

/* How a case spoils its gzip data once it is made; sizes are of the last member. */
enum mutilation {
	M_NONE,
	M_EMPTY,           /* no bytes at all */
	M_NOT_GZIP,        /* the first byte changed */
	M_CRC,             /* a bit of the last member's CRC32 flipped */
	M_ISIZE,           /* the last member's ISIZE one more */
	M_BODY,            /* bytes in the middle of the last member's deflate data changed */
	M_CUT_HEADER,      /* the last member cut after 5 bytes */
	M_CUT_BODY,        /* the last member cut in the middle */
	M_CUT_TRAILER,     /* the last member's last 3 bytes missing */
	M_LONE_MAGIC,      /* a lone 1f after the last member */
	M_GARBAGE,         /* "garbage" after the last member */
	M_ZERO_PADDING,    /* 1000 zero bytes after the last member */
	M_ZEROS_THEN_JUNK, /* zero bytes, then an x */
	M_SOURCE_FAILS,    /* the source fails half way */
};

struct gzip_case {
	const char *name;
	enum payload members[6]; /* ended by P_END */
	bool with_header;        /* name, comment, extra field and header CRC */
	enum mutilation mutilation;
	const char *error; /* NULL: must inflate; else a part of the sentence */
	bool small;        /* cheap enough for 1-byte pieces */
};

static const struct gzip_case gzip_cases[] = {
    {"empty input", {P_END}, false, M_EMPTY, "is empty, not gzip data", true},
    {"one member", {P_TEXT, P_END}, false, M_NONE, NULL, true},
    {"one member with a full header", {P_TEXT, P_END}, true, M_NONE, NULL, true},
    {"many members", {P_TEXT, P_ZEROS, P_TEXT, P_TEXT, P_ZEROS, P_END}, false, M_NONE, NULL, true},
    {"many members with headers", {P_TEXT, P_TEXT, P_ZEROS, P_END}, true, M_NONE, NULL, true},
    {"a member of 0 bytes", {P_EMPTY, P_END}, false, M_NONE, NULL, true},
    {"members of 0 bytes among others",
     {P_EMPTY, P_TEXT, P_EMPTY, P_EMPTY, P_ZEROS, P_END},
     false,
     M_NONE,
     NULL,
     true},
    {"random bytes (stored blocks)", {P_RANDOM, P_TEXT, P_END}, false, M_NONE, NULL, false},
    {"a few MB of random bytes and zeros", {P_BIG, P_END}, false, M_NONE, NULL, false},
    {"a few MB in several members", {P_BIG, P_TEXT, P_BIG, P_END}, false, M_NONE, NULL, false},
    {"not gzip", {P_TEXT, P_END}, false, M_NOT_GZIP, "is not gzip data", true},
    {"corrupt CRC",
     {P_TEXT, P_ZEROS, P_END},
     false,
     M_CRC,
     "the CRC32 in gzip member 2's trailer does not match its data",
     true},
    {"corrupt CRC of a big member",
     {P_BIG, P_END},
     false,
     M_CRC,
     "the CRC32 in gzip member 1's trailer does not match its data",
     false},
    {"corrupt ISIZE",
     {P_TEXT, P_TEXT, P_END},
     false,
     M_ISIZE,
     "gzip member 2's trailer records a length (ISIZE) of 204801 bytes, but it inflates to "
     "204800",
     true},
    {"corrupt ISIZE of an empty member",
     {P_EMPTY, P_END},
     false,
     M_ISIZE,
     "records a length (ISIZE) of 1 bytes, but it inflates to 0",
     true},
    {"corrupt deflate data", {P_TEXT, P_END}, false, M_BODY, "is corrupt: ", true},
    {"truncated in a header",
     {P_TEXT, P_TEXT, P_END},
     false,
     M_CUT_HEADER,
     "is truncated: it ends inside gzip member 2",
     true},
    {"truncated in a header with a name",
     {P_TEXT, P_END},
     true,
     M_CUT_HEADER,
     "is truncated: it ends inside gzip member 1",
     true},
    {"truncated in the body",
     {P_TEXT, P_ZEROS, P_END},
     false,
     M_CUT_BODY,
     "is truncated: it ends inside gzip member 2",
     true},
    {"truncated in the body of a big member",
     {P_BIG, P_END},
     false,
     M_CUT_BODY,
     "is truncated: it ends inside gzip member 1",
     false},
    {"truncated in the trailer",
     {P_TEXT, P_TEXT, P_END},
     false,
     M_CUT_TRAILER,
     "is truncated: it ends inside gzip member 2",
     true},
    {"a lone magic byte after the last member",
     {P_TEXT, P_END},
     false,
     M_LONE_MAGIC,
     "is truncated: it ends inside gzip member 2",
     true},
    {"garbage after the last member",
     {P_TEXT, P_ZEROS, P_END},
     false,
     M_GARBAGE,
     "is corrupt: after gzip member 2, at offset",
     true},
    {"zero padding after the last member", {P_TEXT, P_END}, false, M_ZERO_PADDING, NULL, true},
    {"zero padding, then garbage",
     {P_TEXT, P_END},
     false,
     M_ZEROS_THEN_JUNK,
     "is corrupt: after gzip member 1 and zero bytes, at offset",
     true},
    {"the source fails", {P_BIG, P_END}, false, M_SOURCE_FAILS, "could not be read", false},
};

/* make_case: the gzip data of a case, mutilated; *fail_at for M_SOURCE_FAILS. */
static void
make_case(const struct gzip_case *c, struct buf *gz, size_t *fail_at)
{
	static const int levels[] = {6, 1, 9, 0, 3, 6};
	size_t last = 0, i;
	gz_header header;

	memset(&header, 0, sizeof(header));
	header.name = (Bytef *)"db.backup";
	header.comment = (Bytef *)"a comment";
	header.extra = (Bytef *)"RW\x04\x00xtra";
	header.extra_len = 8;
	header.hcrc = 1;
	header.os = 3;
	for (i = 0; c->members[i] != P_END; i++) {
		const unsigned char *data;
		size_t len;

		payload_of(c->members[i], &data, &len);
		last = gz->len;
		deflate_into(gz, data, len, c->members[i] == P_RANDOM ? 0 : levels[i], true,
		             c->with_header ? &header : NULL);
	}
	*fail_at = 0;
	switch (c->mutilation) {
	case M_NONE:
		break;
	case M_EMPTY:
		gz->len = 0;
		break;
	case M_NOT_GZIP:
		gz->data[0] = 'P';
		break;
	case M_CRC:
		gz->data[gz->len - 7] ^= 0x10;
		break;
	case M_ISIZE:
		gz->data[gz->len - 4]++;
		break;
	case M_BODY:
		for (i = last + (gz->len - last) / 2; i < last + (gz->len - last) / 2 + 8; i++)
			gz->data[i] ^= 0xa5;
		break;
	case M_CUT_HEADER:
		gz->len = last + 5;
		break;
	case M_CUT_BODY:
		gz->len = last + (gz->len - last) / 2;
		break;
	case M_CUT_TRAILER:
		gz->len -= 3;
		break;
	case M_LONE_MAGIC:
		buf_put(gz, "\x1f", 1);
		break;
	case M_GARBAGE:
		buf_put(gz, "garbage", 7);
		break;
	case M_ZERO_PADDING:
		for (i = 0; i < 1000; i++)
			buf_put(gz, "", 1);
		break;
	case M_ZEROS_THEN_JUNK:
		for (i = 0; i < 100; i++)
			buf_put(gz, "", 1);
		buf_put(gz, "x", 1);
		break;
	case M_SOURCE_FAILS:
		*fail_at = gz->len / 2;
		break;
	}
}

/* test_gunzip: every case of the table, read with every pacing. */
static void
test_gunzip(void)
{
	size_t i, j;

	for (i = 0; i < sizeof(gzip_cases) / sizeof(gzip_cases[0]); i++) {
		const struct gzip_case *c = &gzip_cases[i];
		struct buf gz = {0}, want = {0};
		size_t fail_at;

		make_case(c, &gz, &fail_at);
		if (c->error == NULL)
			zlib_gunzip(gz.data, gz.len, &want);
		for (j = 0; j < sizeof(pacings) / sizeof(pacings[0]); j++) {
			const struct pacing *p = &pacings[j];
			struct buf got = {0};
			char name[200], why[300];
			bool source_failed;
			ssize_t n;

			if (p->small_only && !c->small)
				continue;
			snprintf(name, sizeof(name), "%s (%s)", c->name, p->name);
			n = gunzip_all(&gz, p, fail_at, &got, why, sizeof(why), &source_failed);
			if (c->error == NULL) {
				check(n == 0, name, "failed: %s", why);
				check(got.len == want.len &&
				          (want.len == 0 ||
				           memcmp(got.data, want.data, want.len) == 0),
				      name, "gave %zu bytes that differ from zlib's %zu", got.len,
				      want.len);
			} else {
				check(n < 0, name, "was accepted, expected \"%s\"", c->error);
				check(n >= 0 || strstr(why, c->error) != NULL, name,
				      "said \"%s\", expected \"%s\"", why, c->error);
				check(source_failed == (c->mutilation == M_SOURCE_FAILS), name,
				      "inflate_source_failed() is %d", source_failed);
			}
			buf_free(&got);
		}
		buf_free(&gz);
		buf_free(&want);
	}
}

/* count_all: feed a zlib stream to the counter in pieces of step; the last status. */
static enum inflate_count_status
count_all(struct inflate_count *c, const struct buf *in, size_t step, uint64_t limit,
          size_t *used_total)
{
	enum inflate_count_status st = INFLATE_COUNT_MORE;
	size_t pos = 0;

	*used_total = 0;
	while (pos < in->len) {
		size_t n = in->len - pos < step ? in->len - pos : step, used;

		st = inflate_count_feed(c, in->data + pos, n, &used, limit);
		*used_total += used;
		if (st != INFLATE_COUNT_MORE)
			break;
		if (used != n)
			return INFLATE_COUNT_ERROR;
		pos += n;
	}
	return st;
}

/* test_count: the counter on zlib streams as pg_dump writes them. */
static void
test_count(void)
{
	static const size_t steps[] = {1, 7, 4096, 65536, 1 << 30};
	struct inflate_count *c = inflate_count_open();
	struct buf zt = {0}, zbig = {0}, zempty = {0}, zbomb = {0}, bad = {0};
	struct buf bomb = {0};
	enum inflate_count_status st;
	size_t i, used;

	if (c == NULL) {
		fprintf(stderr, "test_inflate: out of memory\n");
		exit(1);
	}
	deflate_into(&zt, text.data, text.len, 6, false, NULL);
	deflate_into(&zbig, big.data, big.len, 1, false, NULL);
	deflate_into(&zempty, NULL, 0, 6, false, NULL);
	for (i = 0; i < 64; i++)
		buf_put(&bomb, zeros.data, zeros.len);
	deflate_into(&zbomb, bomb.data, bomb.len, 9, false, NULL);
	buf_free(&bomb);

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "count text, pieces of %zu", steps[i]);
		inflate_count_reset(c);
		st = count_all(c, &zt, steps[i], 0, &used);
		check(st == INFLATE_COUNT_END, name, "status %d, expected the end", st);
		check(used == zt.len, name, "used %zu of %zu bytes", used, zt.len);
		check(inflate_count_bytes(c) == text.len, name, "counted %llu, expected %zu",
		      (unsigned long long)inflate_count_bytes(c), text.len);
		if (steps[i] < 4096)
			continue;
		snprintf(name, sizeof(name), "count a few MB, pieces of %zu", steps[i]);
		inflate_count_reset(c);
		st = count_all(c, &zbig, steps[i], 0, &used);
		check(st == INFLATE_COUNT_END && inflate_count_bytes(c) == big.len, name,
		      "status %d, counted %llu, expected %zu", st,
		      (unsigned long long)inflate_count_bytes(c), big.len);
	}

	inflate_count_reset(c);
	st = count_all(c, &zempty, 1 << 30, 0, &used);
	check(st == INFLATE_COUNT_END && inflate_count_bytes(c) == 0 && used == zempty.len,
	      "count an empty stream", "status %d, counted %llu", st,
	      (unsigned long long)inflate_count_bytes(c));
	st = inflate_count_feed(c, "x", 1, &used, 0);
	check(st == INFLATE_COUNT_END && used == 0, "feed after the end", "status %d, used %zu", st,
	      used);

	/* Bytes after the end, in the same piece: exactly the stream is used (ISA-L 2.30). */
	for (i = 1; i <= 9; i += 4) {
		char name[64];

		buf_free(&bad);
		buf_put(&bad, zt.data, zt.len);
		buf_put(&bad, "after the end", i);
		snprintf(name, sizeof(name), "%zu bytes after the end", i);
		inflate_count_reset(c);
		st = inflate_count_feed(c, bad.data, bad.len, &used, 0);
		check(st == INFLATE_COUNT_END && used == zt.len, name,
		      "status %d, used %zu, expected %zu", st, used, zt.len);
		inflate_count_reset(c);
		st = count_all(c, &bad, 1, 0, &used);
		check(st == INFLATE_COUNT_END && used == zt.len &&
		          inflate_count_bytes(c) == text.len,
		      name, "fed 1 byte at a time: status %d, used %zu, expected %zu", st, used,
		      zt.len);
	}

	inflate_count_reset(c);
	st = count_all(c, &zbomb, 1 << 30, 1024 * 1024, &used);
	check(st == INFLATE_COUNT_LIMIT && inflate_count_bytes(c) >= 1024 * 1024 &&
	          inflate_count_bytes(c) <= 1024 * 1024 + INFLATE_BLOCK_BYTES,
	      "the limit stops a 64 MB stream", "status %d, counted %llu", st,
	      (unsigned long long)inflate_count_bytes(c));
	inflate_count_reset(c);
	st = count_all(c, &zbomb, 1 << 30, 0, &used);
	check(st == INFLATE_COUNT_END && inflate_count_bytes(c) == 64ULL * zeros.len,
	      "a 64 MB stream without a limit", "status %d, counted %llu", st,
	      (unsigned long long)inflate_count_bytes(c));

	buf_free(&bad);
	buf_put(&bad, zt.data, zt.len);
	bad.data[bad.len - 2] ^= 1;
	inflate_count_reset(c);
	st = count_all(c, &bad, 4096, 0, &used);
	check(st == INFLATE_COUNT_ERROR && strstr(inflate_count_error(c), "incorrect data check"),
	      "a wrong Adler-32", "status %d, \"%s\"", st, inflate_count_error(c));

	bad.data[bad.len - 2] ^= 1;
	bad.data[1] ^= 1;
	inflate_count_reset(c);
	st = count_all(c, &bad, 4096, 0, &used);
	check(st == INFLATE_COUNT_ERROR && strstr(inflate_count_error(c), "header"),
	      "a wrong zlib header", "status %d, \"%s\"", st, inflate_count_error(c));

	bad.data[1] ^= 1;
	for (i = bad.len / 2; i < bad.len / 2 + 8; i++)
		bad.data[i] ^= 0xa5;
	inflate_count_reset(c);
	st = count_all(c, &bad, 4096, 0, &used);
	check(st == INFLATE_COUNT_ERROR && inflate_count_error(c)[0] != '\0',
	      "corrupt deflate data", "status %d, \"%s\"", st, inflate_count_error(c));

	bad.len = zt.len / 2;
	memcpy(bad.data, zt.data, bad.len);
	inflate_count_reset(c);
	st = count_all(c, &bad, 4096, 0, &used);
	check(st == INFLATE_COUNT_MORE && used == bad.len, "a truncated stream wants more",
	      "status %d, used %zu", st, used);

	inflate_count_close(c);
	buf_free(&zt);
	buf_free(&zbig);
	buf_free(&zempty);
	buf_free(&zbomb);
	buf_free(&bad);
}

int
main(void)
{
	make_payloads();
	test_gunzip();
	test_count();
	printf("inflate backend %s: %u passed, %u failed\n", inflate_backend(), passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
