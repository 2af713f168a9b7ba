/*
 * dump.h - a streaming reader of pg_dump's custom archive format (pg_dump -Fc).
 *
 * dump_scan() reads a dump once, front to back, from a caller-supplied read function: the
 * header, the table of contents, then every data block, inflating each compressed stream only
 * to count its bytes. It never seeks, so it works on dumps written to a pipe and on bytes that
 * are being copied elsewhere at the same time. Memory is bounded by the table of contents,
 * never by the data.
 *
 * What it learns is the dump's true decompressed size (the quota rule uses it, never
 * .metadata), its archive version and compression, and whether the data is intact: a
 * stream that does not inflate, a block for an unknown entry, a missing block or a file cut
 * short is an error, found before anything is restored.
 */
#ifndef DUMP_H
#define DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the first bytes of a file say it is. Only DUMP_KIND_CUSTOM can be restored. */
enum dump_kind {
	DUMP_KIND_EMPTY,
	DUMP_KIND_CUSTOM,    /* PGDMP, format byte 1 */
	DUMP_KIND_PGDMP_TAR, /* PGDMP, format byte 3: a tar dump's or a directory dump's toc.dat */
	DUMP_KIND_PLAIN_SQL, /* pg_dump -Fp text */
	DUMP_KIND_GZIP,      /* gzip data, e.g. a compressed plain SQL dump */
	DUMP_KIND_LZ4,       /* lz4 frame */
	DUMP_KIND_ZSTD,      /* zstd frame */
	DUMP_KIND_TAR,       /* a tar archive, e.g. pg_dump -Ft */
	DUMP_KIND_UNKNOWN,
};

/* The number of leading bytes dump_identify() wants to see (fewer is fine near EOF). */
#define DUMP_IDENTIFY_BYTES 512

enum dump_compression {
	DUMP_COMPRESSION_NONE,
	DUMP_COMPRESSION_ZLIB,
	DUMP_COMPRESSION_LZ4,
	DUMP_COMPRESSION_ZSTD,
};

/* The oldest archive version the reader understands (pg_dump 8.2). */
#define DUMP_OLDEST_MAJOR 1
#define DUMP_OLDEST_MINOR 10

/* At most this many entries are left out as the environment's (a real dump has up to 4). */
#define DUMP_SKIPPED_MAX 16

/* An entry of the dump left out of a restore (environment.h says which and why). */
struct dump_skipped {
	int64_t dump_id;
	char toc_entry[400]; /* "3; 2615 2200 SCHEMA - public", as pg_restore -l lists it */
	const char *reason;
};

struct dump_info {
	int vmaj, vmin, vrev;   /* archive version, e.g. 1.14.0 */
	int int_size, off_size; /* bytes in an Int's magnitude and in an Offset */
	int format;             /* 1 custom */
	enum dump_compression compression;
	int compression_level;     /* -1 default, 0..9; 0 for 1.15+ archives */
	char dbname[256];          /* the dumped database's name */
	char server_version[128];  /* "Dumped from database version" */
	char pg_dump_version[128]; /* "Dumped by pg_dump version" */
	uint64_t toc_entries;
	uint64_t data_streams;       /* table-data and large-object streams seen */
	uint64_t decompressed_bytes; /* sum of every stream's inflated size */
	bool written_to_pipe;        /* no data offsets were recorded */
	bool over_limit;             /* the scan stopped at stop_after; see dump_scan() */
	bool too_new;                /* refused: newer than max_minor */
	bool standard_strings_off;   /* its SQL was written with standard_conforming_strings off */
	struct dump_skipped skipped[DUMP_SKIPPED_MAX];
	size_t nskipped;
	/* TOC entries by what they create, for the lock budget (lock_budget.h). */
	struct {
		uint64_t tables, indexes, constraints, sequences, views, matviews, matview_data;
	} creates;
};

/*
 * The reader's source: return the number of bytes placed in buf (at most len), 0 at the end
 * of the dump, or -1 on a read error (the source keeps its own description of it).
 */
typedef ssize_t (*dump_read_fn)(void *ctx, void *buf, size_t len);

/* dump_identify: what the first len bytes of a file say it is. */
enum dump_kind dump_identify(const unsigned char *head, size_t len);

/* dump_kind_describe: "a plain SQL dump (pg_dump -Fp)" and so on, for messages. */
const char *dump_kind_describe(enum dump_kind kind);

/* dump_first_postgresql: the PostgreSQL major version whose pg_dump first wrote 1.minor. */
int dump_first_postgresql(int minor);

/* dump_compression_name: "none", "zlib", "lz4", "zstd". */
const char *dump_compression_name(enum dump_compression compression);

/*
 * dump_scan: read a whole custom-format dump through read(ctx, ...) and fill *info.
 *
 * Returns 0 when the dump is intact. Returns -1 with a sentence in err (which does not name
 * the file: the caller does) when it is not a custom-format dump, is of an unsupported
 * version, is corrupt or truncated, or when read() failed (then err says only that reading
 * failed and the source knows why). When stop_after is not 0 and the decompressed total
 * passes it, the scan stops there, returns 0 with info->over_limit set, and
 * info->decompressed_bytes is a lower bound; the rest of the input is not read.
 * When max_minor is not 0, an archive version newer than 1.max_minor is refused right after
 * the header, with info->too_new set.
 */
int dump_scan(dump_read_fn read, void *ctx, uint64_t stop_after, int max_minor,
              struct dump_info *info, char *err, size_t errlen);

#endif
