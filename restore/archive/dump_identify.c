/*
 * dump_identify.c - what a file is, by its first bytes (a custom-format dump, or the other
 * kinds a backup may hold by mistake), and the words for what the dump reader finds: a kind,
 * the PostgreSQL whose pg_dump first wrote an archive version, a compression. It reads no dump
 * and calls nothing of the reader's; messages and reports everywhere name a dump through it.
 */
#include "dump.h"

#include <string.h>

/* dump_identify: what the first len bytes of a file say it is. */
enum dump_kind
dump_identify(const unsigned char *head, size_t len)
{
	static const char *const sql_starts[] = {"--", "SET ", "CREATE ", "BEGIN", "\\connect"};
	size_t i;

	if (len == 0)
		return DUMP_KIND_EMPTY;
	if (len >= 5 && memcmp(head, "PGDMP", 5) == 0) {
		/* The format byte follows magic, version (3) and the two size bytes. */
		if (len > 10 && head[10] == 3)
			return DUMP_KIND_PGDMP_TAR;
		return DUMP_KIND_CUSTOM;
	}
	if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return DUMP_KIND_GZIP;
	if (len >= 4 && memcmp(head, "\x04\x22\x4d\x18", 4) == 0)
		return DUMP_KIND_LZ4;
	if (len >= 4 && memcmp(head, "\x28\xb5\x2f\xfd", 4) == 0)
		return DUMP_KIND_ZSTD;
	if (len >= 262 && memcmp(head + 257, "ustar", 5) == 0)
		return DUMP_KIND_TAR;
	for (i = 0; i < sizeof(sql_starts) / sizeof(sql_starts[0]); i++)
		if (len >= strlen(sql_starts[i]) &&
		    memcmp(head, sql_starts[i], strlen(sql_starts[i])) == 0)
			return DUMP_KIND_PLAIN_SQL;
	return DUMP_KIND_UNKNOWN;
}

/* dump_kind_describe: "a plain SQL dump (pg_dump -Fp)" and so on, for messages. */
const char *
dump_kind_describe(enum dump_kind kind)
{
	switch (kind) {
	case DUMP_KIND_EMPTY:
		return "an empty file";
	case DUMP_KIND_CUSTOM:
		return "a custom-format dump (pg_dump -Fc)";
	case DUMP_KIND_PGDMP_TAR:
		return "the table of contents of a tar- or directory-format dump (pg_dump -Ft/-Fd)";
	case DUMP_KIND_PLAIN_SQL:
		return "a plain SQL dump (pg_dump -Fp)";
	case DUMP_KIND_GZIP:
		return "gzip-compressed data (a compressed plain SQL dump?)";
	case DUMP_KIND_LZ4:
		return "lz4-compressed data (a compressed plain SQL dump?)";
	case DUMP_KIND_ZSTD:
		return "zstd-compressed data (a compressed plain SQL dump?)";
	case DUMP_KIND_TAR:
		return "a tar archive (a tar-format dump, pg_dump -Ft?)";
	case DUMP_KIND_UNKNOWN:
		break;
	}
	return "not a PostgreSQL dump";
}

/* dump_first_postgresql: the PostgreSQL major version whose pg_dump first wrote 1.minor. */
int
dump_first_postgresql(int minor)
{
	/* 1.10: 8.3, 1.11: 8.4 (as 84), 1.12: 9.0 (90), 1.13: 10, 1.14: 12 (11.x too, from 11.14).
	 */
	static const int first[] = {82, 84, 90, 10, 12, 16, 17};

	if (minor < 10)
		return 82;
	if (minor - 10 < (int)(sizeof(first) / sizeof(first[0])))
		return first[minor - 10];
	return 17 + (minor - 16);
}

/* dump_compression_name: "none", "zlib", "lz4", "zstd". */
const char *
dump_compression_name(enum dump_compression compression)
{
	switch (compression) {
	case DUMP_COMPRESSION_NONE:
		return "none";
	case DUMP_COMPRESSION_ZLIB:
		return "zlib";
	case DUMP_COMPRESSION_LZ4:
		return "lz4";
	case DUMP_COMPRESSION_ZSTD:
		return "zstd";
	}
	return "unknown";
}
