/*
 * inflate.h - inflating, and nothing else: a streaming gunzip that reads through a caller's
 * read function and hands the inflated bytes out through one of the same shape (inflate.c),
 * and a counter of the bytes a zlib stream inflates to (inflate_count.c).
 *
 * Both run on Intel ISA-L's igzip when restore-worker was built with it (CMake finds
 * libisal; RW_HAVE_ISAL), which inflates several times faster than zlib, and on zlib
 * otherwise. The two give the same bytes and refuse the same inputs; only the wording of a
 * "does not inflate" reason differs. Memory is fixed: a few hundred KiB per reader or
 * counter, whatever the data.
 *
 * Diagnostics are one sentence without the file name ("is truncated: it ends inside gzip
 * member 2"); the caller prefixes the name, as with dump_scan().
 */
#ifndef INFLATE_H
#define INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The source of compressed bytes: return the number of bytes placed in buf (at most len), 0
 * at the end of the data, or -1 on a read error (the source keeps its own description of
 * it). The same shape as dump_read_fn.
 */
typedef ssize_t (*inflate_read_fn)(void *ctx, void *buf, size_t len);

/* The bytes of compressed input the reader holds at once, and of inflate_read_block(). */
#define INFLATE_IN_BYTES    (256 * 1024)
#define INFLATE_BLOCK_BYTES (256 * 1024)

struct inflate_reader;

/* inflate_backend: "isa-l" or "zlib", whichever this build inflates with. */
const char *inflate_backend(void);

/* inflate_is_gzip: do the first len bytes of a file start a gzip member (1f 8b)? */
bool inflate_is_gzip(const unsigned char *head, size_t len);

/*
 * inflate_open: a reader of the gzip data that read(ctx, ...) returns. NULL when out of
 * memory. The data may hold several members one after the other (pigz, `cat a.gz b.gz`);
 * their contents are handed out as one stream. Zero bytes after the last member (tape
 * padding) are ignored, as gzip(1) does; anything else there is an error.
 */
struct inflate_reader *inflate_open(inflate_read_fn read, void *ctx);

/*
 * inflate_read: the next inflated bytes, at most len of them, into buf: the count, 0 once
 * the last member has ended and its CRC32 and length have been checked, or -1 on an error
 * (see inflate_error()). Errors are final: every later call returns -1 again.
 *
 * Its signature is an inflate_read_fn (and a dump_read_fn) with the reader as ctx, so
 * readers stack and dump_scan() can read a gzipped dump directly.
 */
ssize_t inflate_read(void *reader, void *buf, size_t len);

/*
 * inflate_read_block: as inflate_read(), into the reader's own buffer of
 * INFLATE_BLOCK_BYTES: *data points at the bytes until the next call. This is the shape of
 * libarchive's archive_read_callback, so a reader can feed archive_read_open().
 */
ssize_t inflate_read_block(struct inflate_reader *reader, const void **data);

/*
 * inflate_error: why the last inflate_read() returned -1, as a sentence without the file
 * name: "is corrupt: the CRC32 of gzip member 1 does not match its data". When
 * inflate_source_failed() is true, the sentence only says reading failed and the source
 * knows why.
 */
const char *inflate_error(const struct inflate_reader *reader);

/* inflate_source_failed: did the error come from the source's read function? */
bool inflate_source_failed(const struct inflate_reader *reader);

/* inflate_compressed_bytes: how many bytes of the source were read so far. */
uint64_t inflate_compressed_bytes(const struct inflate_reader *reader);

/* inflate_close: free the reader (NULL is fine). It never closes the source. */
void inflate_close(struct inflate_reader *reader);

/*
 * The byte counter, for pg_dump's zlib streams (deflateInit format: a zlib header, deflate
 * data, an Adler-32): the stream is fed in chunks as they arrive; the output is counted and
 * thrown away.
 */
struct inflate_count;

enum inflate_count_status {
	INFLATE_COUNT_ERROR = -1, /* corrupt: see inflate_count_error() */
	INFLATE_COUNT_MORE,       /* all of the chunk was used; the stream goes on */
	INFLATE_COUNT_END,        /* the stream ended (Adler-32 checked); *used may be < len */
	INFLATE_COUNT_LIMIT,      /* stopped early: the count reached the limit */
};

/* inflate_count_open: a counter ready for its first stream; NULL when out of memory. */
struct inflate_count *inflate_count_open(void);

/* inflate_count_reset: make the counter ready for a new stream (its count back to 0). */
void inflate_count_reset(struct inflate_count *count);

/*
 * inflate_count_feed: inflate the next len bytes of the stream and count what they give.
 * *used is set to the bytes of in that were consumed: all of them for INFLATE_COUNT_MORE;
 * up to the stream's end for INFLATE_COUNT_END (more is bytes after the end, which the
 * caller refuses). When limit is not 0, inflating stops as soon as the count reaches limit
 * (checked every INFLATE_BLOCK_BYTES of output), with INFLATE_COUNT_LIMIT, so a small input
 * that inflates to terabytes costs no more than limit. Feeding a stream that has ended
 * returns INFLATE_COUNT_END with *used 0.
 */
enum inflate_count_status inflate_count_feed(struct inflate_count *count, const void *in,
                                             size_t len, size_t *used, uint64_t limit);

/* inflate_count_bytes: the bytes the current stream has inflated to so far. */
uint64_t inflate_count_bytes(const struct inflate_count *count);

/* inflate_count_error: why inflate_count_feed() failed: "invalid block type" and so on. */
const char *inflate_count_error(const struct inflate_count *count);

/* inflate_count_close: free the counter (NULL is fine). */
void inflate_count_close(struct inflate_count *count);

#endif
