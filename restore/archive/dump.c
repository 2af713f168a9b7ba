/*
 * dump.c - a streaming reader of pg_dump's custom archive format.
 *
 * The layout (see shared/reference/pg-dump-custom-format.md and PostgreSQL's
 * pg_backup_archiver.c and pg_backup_custom.c): a header, a table of contents, then data
 * blocks until the end of the file. Every length and count in the file comes from the
 * input, so each is bounded before it is used; a string is copied only as far as the reader
 * needs it and skipped otherwise.
 *
 * This file reads the header and the table of contents, then hands the data blocks that follow
 * to dump_data.c. Below it: dump_reader.c reads the bytes, Ints and Strs, dump_sql.c judges the
 * SQL in the entries, dump_identify.c tells a file's kind by its first bytes and names what was
 * found.
 *
 * Diagnostics are one sentence without the file name; the caller prefixes it.
 *
 * Limits: lz4 and zstd streams (archive version 1.15 and later) are recognised but not
 * measured: no PostgreSQL 15 pg_restore reads such archives, so they are refused anyway.
 */
#include "dump.h"
#include "dump_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "environment.h"

#define MAX_TOC_ENTRIES (16 * 1024 * 1024)

/* Data offset flags (pg_backup_archiver.h). */
#define OFFSET_POS_NOT_SET 1
#define OFFSET_POS_SET     2
#define OFFSET_NO_DATA     3

/*
 * read_sql: an archive Str that pg_restore sends as SQL. With judge, it is split into
 * statements and the first a restore never runs goes into *bad; the first keeplen-1 bytes go
 * into keep (when not NULL), and its length into *length (-1 for the NULL string).
 */
static int
read_sql(struct reader *r, const struct dump_info *info, bool judge, char *keep, size_t keeplen,
         int64_t *length, const struct sqlstmt_refusal **bad)
{
	struct sqlstmt st;
	uint64_t left, kept = 0;
	int rc = -1;

	if (dump_read_int(r, length) < 0)
		return -1;
	if (keep != NULL)
		keep[0] = '\0';
	if (*length == -1)
		return 0;
	if (*length < 0 || *length > MAX_STRING_BYTES)
		return dump_reader_fail(r,
		                        "is corrupt: a string %s has an impossible length (%lld)",
		                        r->where, (long long)*length);
	sqlstmt_init(&st);
	sqlstmt_standard_strings(&st, !info->standard_strings_off);
	for (left = (uint64_t)*length; left > 0;) {
		int got = dump_reader_fill(r);
		size_t take;

		if (got <= 0) {
			if (got == 0)
				dump_reader_truncated(r);
			goto done;
		}
		take = r->len - r->pos < left ? r->len - r->pos : (size_t)left;
		if (keep != NULL && kept + 1 < keeplen) {
			size_t n = take < keeplen - 1 - kept ? take : keeplen - 1 - kept;

			memcpy(keep + kept, r->buf + r->pos, n);
			keep[kept += n] = '\0';
		}
		if (judge && dump_sql_feed(r, &st, (const char *)r->buf + r->pos, take, bad) < 0)
			goto done;
		r->pos += take;
		left -= take;
	}
	if (judge)
		dump_sql_end(&st, bad);
	rc = 0;
done:
	sqlstmt_free(&st);
	return rc;
}

/* read_header: the fixed header, up to and including the TOC entry count. */
static int
read_header(struct reader *r, struct dump_info *info, int64_t *count)
{
	unsigned char head[11];
	int64_t level, ignored;
	int i;

	r->where = "in the header";
	if (dump_reader_bytes(r, head, 8) < 0)
		return -1;
	if (memcmp(head, "PGDMP", 5) != 0)
		return dump_reader_fail(r, "is not a pg_dump custom-format archive");
	info->vmaj = head[5];
	info->vmin = head[6];
	info->vrev = head[7];
	if (info->vmaj != DUMP_OLDEST_MAJOR || info->vmin < DUMP_OLDEST_MINOR)
		return dump_reader_fail(
		    r,
		    "has archive version %d.%d, which restore-worker does not read "
		    "(it reads %d.%d and later, from pg_dump 8.2 on)",
		    info->vmaj, info->vmin, DUMP_OLDEST_MAJOR, DUMP_OLDEST_MINOR);
	if (dump_reader_bytes(r, head + 8, 3) < 0)
		return -1;
	info->int_size = head[8];
	info->off_size = head[9];
	info->format = head[10];
	if (info->int_size < 1 || info->int_size > 32 || info->off_size < 1 || info->off_size > 16)
		return dump_reader_fail(
		    r, "is corrupt: impossible integer sizes in the header (%d, %d)",
		    info->int_size, info->off_size);
	r->int_size = info->int_size;
	r->off_size = info->off_size;
	if (info->format != 1)
		return dump_reader_fail(
		    r,
		    "is a pg_dump archive in format %d, not the custom format; the "
		    "backup needs `pg_dump -Fc`",
		    info->format);

	if (info->vmin >= 15) {
		int algorithm;

		if (dump_reader_byte(r, &algorithm) != 0)
			return r->err[0] != '\0' ? -1 : dump_reader_truncated(r);
		switch (algorithm) {
		case 0:
			info->compression = DUMP_COMPRESSION_NONE;
			break;
		case 1:
			info->compression = DUMP_COMPRESSION_ZLIB;
			break;
		case 2:
			info->compression = DUMP_COMPRESSION_LZ4;
			break;
		case 3:
			info->compression = DUMP_COMPRESSION_ZSTD;
			break;
		default:
			return dump_reader_fail(r, "is corrupt: unknown compression algorithm %d",
			                        algorithm);
		}
		info->compression_level = 0;
	} else {
		if (dump_read_int(r, &level) < 0)
			return -1;
		if (level < -1 || level > 9)
			return dump_reader_fail(r, "is corrupt: impossible compression level %lld",
			                        (long long)level);
		info->compression_level = (int)level;
		info->compression = level == 0 ? DUMP_COMPRESSION_NONE : DUMP_COMPRESSION_ZLIB;
	}

	for (i = 0; i < 7; i++) /* creation time: sec, min, hour, mday, mon, year, isdst */
		if (dump_read_int(r, &ignored) < 0)
			return -1;
	if (dump_read_str(r, info->dbname, sizeof(info->dbname), NULL) < 0 ||
	    dump_read_str(r, info->server_version, sizeof(info->server_version), NULL) < 0 ||
	    dump_read_str(r, info->pg_dump_version, sizeof(info->pg_dump_version), NULL) < 0)
		return -1;
	if (dump_read_int(r, count) < 0)
		return -1;
	if (*count < 0 || *count > MAX_TOC_ENTRIES)
		return dump_reader_fail(r, "is corrupt: impossible number of TOC entries (%lld)",
		                        (long long)*count);
	return 0;
}

/* count_creates: count an entry by the kind of object it creates. */
static void
count_creates(struct dump_info *info, const char *desc)
{
	if (strcmp(desc, "TABLE") == 0)
		info->creates.tables++;
	else if (strcmp(desc, "INDEX") == 0)
		info->creates.indexes++;
	else if (strcmp(desc, "CONSTRAINT") == 0)
		info->creates.constraints++;
	else if (strcmp(desc, "SEQUENCE") == 0)
		info->creates.sequences++;
	else if (strcmp(desc, "VIEW") == 0)
		info->creates.views++;
	else if (strcmp(desc, "MATERIALIZED VIEW") == 0)
		info->creates.matviews++;
	else if (strcmp(desc, "MATERIALIZED VIEW DATA") == 0)
		info->creates.matview_data++;
}

/* read_toc_entry: one entry of the table of contents. */
static int
read_toc_entry(struct reader *r, struct dump_info *info, struct toc_entry *te)
{
	int64_t value;
	bool is_null = false;
	unsigned char offset[1 + 16];
	char tableoid[16], oid[16], defn[256];
	const char *reason;
	const struct sqlstmt_refusal *bad = NULL;
	int64_t length;
	bool judge;

	if (dump_read_int(r, &te->dump_id) < 0 ||
	    dump_read_int(r, &value) < 0) /* dumpId, hadDumper */
		return -1;
	if (dump_read_str(r, tableoid, sizeof(tableoid), NULL) < 0 ||
	    dump_read_str(r, oid, sizeof(oid), NULL) < 0 ||
	    dump_read_str(r, te->tag, sizeof(te->tag), NULL) < 0 || /* tag */
	    dump_read_str(r, te->desc, sizeof(te->desc), NULL) < 0) /* desc */
		return -1;
	if (info->vmin >= 11 && dump_read_int(r, &value) < 0) /* section, since pg_dump 8.4 */
		return -1;
	/*
	 * The definition and the COPY statement are SQL that pg_restore sends, judged statement
	 * by statement, but for the entries it does not send as they are (DATABASE and its
	 * properties need --create; ENCODING and STDSTRINGS are read for a setting). The
	 * definition is kept where it decides whether the entry is left out.
	 */
	judge = strcmp(te->desc, "DATABASE") != 0 && strcmp(te->desc, "DATABASE PROPERTIES") != 0 &&
	        strcmp(te->desc, "ENCODING") != 0 && strcmp(te->desc, "STDSTRINGS") != 0;
	if (read_sql(r, info, judge, defn, sizeof(defn), &length, &bad) < 0)
		return -1;
	if (strcmp(te->desc, "STDSTRINGS") == 0) {
		/* pg_restore's reading: the first quoted word, 'on' or 'off'. */
		const char *quote = strchr(defn, '\'');

		info->standard_strings_off = quote != NULL && strncmp(quote, "'off'", 5) == 0;
	}
	if (dump_read_str(r, NULL, 0, NULL) < 0 ||                  /* dropStmt: only for --clean */
	    read_sql(r, info, judge, NULL, 0, &length, &bad) < 0 || /* copyStmt */
	    dump_read_str(r, te->namespace, sizeof(te->namespace), NULL) < 0 ||
	    dump_read_str(r, NULL, 0, NULL) < 0) /* tablespace */
		return -1;
	te->copy_data = length > 0;
	if (bad != NULL)
		return dump_sql_refuse(r, te, bad);
	if (info->vmin >= 14 && dump_read_str(r, NULL, 0, NULL) < 0) /* tableam */
		return -1;
	if (info->vmin >= 16 && dump_read_int(r, &value) < 0) /* relkind */
		return -1;
	if (dump_read_str(r, NULL, 0, NULL) < 0 || /* owner */
	    dump_read_str(r, NULL, 0, NULL) < 0)   /* withOids */
		return -1;
	count_creates(info, te->desc);
	reason = environment_reason(te->desc, te->tag,
	                            strcmp(te->desc, "COMMENT") == 0 &&
	                                    strcmp(te->tag, "SCHEMA public") == 0 &&
	                                    strlen(defn) < sizeof(defn) - 1
	                                ? defn
	                                : NULL);
	if (reason != NULL) {
		struct dump_skipped *sk = &info->skipped[info->nskipped];

		if (info->nskipped == DUMP_SKIPPED_MAX)
			return dump_reader_fail(
			    r,
			    "is not a dump pg_dump wrote: more than %d entries restore "
			    "what every database has",
			    DUMP_SKIPPED_MAX);
		sk->dump_id = te->dump_id;
		sk->reason = reason;
		snprintf(sk->toc_entry, sizeof(sk->toc_entry), "%lld; %s %s %s %s %s",
		         (long long)te->dump_id, tableoid[0] != '\0' ? tableoid : "0",
		         oid[0] != '\0' ? oid : "0", te->desc,
		         te->namespace[0] != '\0' ? te->namespace : "-", te->tag);
		info->nskipped++;
	}
	do { /* dependencies, until a NULL string */
		if (dump_read_str(r, NULL, 0, &is_null) < 0)
			return -1;
	} while (!is_null);
	if (dump_reader_bytes(r, offset, 1 + (uint64_t)r->off_size) < 0)
		return -1;
	switch (offset[0]) {
	case OFFSET_POS_SET:
		te->offset_set = true;
		/* fall through */
	case OFFSET_POS_NOT_SET:
		te->wants_data = true;
		break;
	case OFFSET_NO_DATA:
		te->wants_data = false;
		break;
	default:
		return dump_reader_fail(
		    r, "is corrupt: TOC entry %lld has an unknown data offset flag %d",
		    (long long)te->dump_id, offset[0]);
	}
	return 0;
}

int
dump_scan(dump_read_fn read, void *ctx, uint64_t stop_after, int max_minor, struct dump_info *info,
          char *err, size_t errlen)
{
	struct reader r;
	struct toc_entry *toc = NULL;
	int64_t count = 0, i;
	bool any_data = false, any_offset_set = false;
	size_t capacity = 0;
	int rc = -1;

	memset(info, 0, sizeof(*info));
	memset(&r, 0, sizeof(r));
	r.read = read;
	r.ctx = ctx;
	r.err = err;
	r.errlen = errlen;
	r.int_size = 4;
	err[0] = '\0';
	r.buf = malloc(READER_BUFSIZE);
	if (r.buf == NULL)
		return dump_reader_fail(&r, "could not be read: out of memory");

	if (read_header(&r, info, &count) < 0)
		goto done;
	if (max_minor != 0 && info->vmin > max_minor) {
		info->too_new = true;
		dump_reader_fail(&r, "has archive version %d.%d (pg_dump %s), newer than %d.%d",
		                 info->vmaj, info->vmin, info->pg_dump_version, 1, max_minor);
		goto done;
	}
	info->toc_entries = (uint64_t)count;
	r.where = "in the table of contents";
	for (i = 0; i < count; i++) {
		/* Grown as entries arrive: a count that lies cannot make it allocate much. */
		if ((size_t)i == capacity) {
			struct toc_entry *grown;

			capacity = capacity == 0 ? 256 : capacity * 2;
			grown = realloc(toc, capacity * sizeof(*toc));
			if (grown == NULL) {
				dump_reader_fail(&r,
				                 "could not be read: out of memory for its TOC");
				goto done;
			}
			toc = grown;
		}
		memset(&toc[i], 0, sizeof(toc[i]));
		if (read_toc_entry(&r, info, &toc[i]) < 0)
			goto done;
		if (toc[i].wants_data) {
			any_data = true;
			any_offset_set |= toc[i].offset_set;
		}
	}
	if (count > 0)
		qsort(toc, (size_t)count, sizeof(*toc), dump_toc_compare);
	for (i = 1; i < count; i++) {
		if (toc[i].dump_id == toc[i - 1].dump_id) {
			dump_reader_fail(&r, "is corrupt: TOC entry %lld appears twice",
			                 (long long)toc[i].dump_id);
			goto done;
		}
	}
	/* pg_dump records data offsets only when it can seek back: never on a pipe. */
	info->written_to_pipe = any_data && !any_offset_set;
	if (dump_read_data(&r, info, toc, (size_t)count, stop_after) < 0)
		goto done;
	rc = 0;
done:
	free(toc);
	free(r.buf);
	return rc;
}
