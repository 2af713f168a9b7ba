/*
 * inspect.c - restore-worker inspect: read a backup without a target and say what it holds
 * and whether a restore would accept it (see restore.h). It makes the same one pass as a
 * restore (archive_walk.c), copying and staging nothing, and changes nothing.
 */
#include "restore.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_walk.h"
#include "dump.h"
#include "json.h"
#include "version.h"

#define MESSAGE_BYTES 2048

/* text_append: add a formatted line to a growing text; out of memory sets *failed. */
static void text_append(char **text, size_t *len, bool *failed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
text_append(char **text, size_t *len, bool *failed, const char *fmt, ...)
{
	char *line = NULL, *grown;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*failed = true;
		return;
	}
	grown = realloc(*text, *len + (size_t)n + 1);
	if (grown == NULL) {
		free(line);
		*failed = true;
		return;
	}
	memcpy(grown + *len, line, (size_t)n + 1);
	*len += (size_t)n;
	*text = grown;
	free(line);
}

/* dump_format_name: the inspection's name for what a dump is. */
static const char *
dump_format_name(enum dump_kind kind)
{
	switch (kind) {
	case DUMP_KIND_CUSTOM:
		return "custom";
	case DUMP_KIND_PLAIN_SQL:
		return "plain";
	case DUMP_KIND_GZIP:
		return "gzip";
	case DUMP_KIND_LZ4:
		return "lz4";
	case DUMP_KIND_ZSTD:
		return "zstd";
	case DUMP_KIND_TAR:
	case DUMP_KIND_PGDMP_TAR:
		return "tar";
	case DUMP_KIND_EMPTY:
		return "empty";
	case DUMP_KIND_UNKNOWN:
		break;
	}
	return "unknown";
}

int
restore_inspect(const char *archive, const char *pg_restore, const char *const *pg_client_dirs,
                char **json, char **text)
{
	struct pg_client_set readers;
	const struct pg_client *reader = NULL;
	struct archive_walk walk;
	struct report report;
	struct json_writer w = {0};
	char err[MESSAGE_BYTES], why[256], verr[256], version[16];
	size_t tlen = 0, i;
	bool failed = false, refused = false, from_config = false;
	int max_minor;

	*json = *text = NULL;
	if (report_init(&report, "", archive, NULL, false) < 0) {
		report_free(&report);
		return -1;
	}
	/* Without a target, the default limit applies, and what the pg_restores found read. */
	if (pg_client_find(&readers, "pg_restore", pg_restore, NULL, pg_client_dirs, verr,
	                   sizeof(verr)) < 0)
		max_minor = -1;
	else
		max_minor = restore_version_limit(&readers, RESTORE_DEFAULT_MAX_MAJOR,
		                                  RESTORE_DEFAULT_MAX_MINOR, NULL, why, sizeof(why),
		                                  &from_config, verr, sizeof(verr));
	if (max_minor < 0) {
		max_minor = RESTORE_DEFAULT_MAX_MINOR;
		snprintf(why, sizeof(why), "restore-worker accepts up to 1.%d by default",
		         max_minor);
		report_warn(&report, "%s", verr);
	}
	memset(&walk, 0, sizeof(walk));
	walk.path = archive;
	walk.dump_fd = -1;
	walk.max_minor = max_minor;
	walk.max_why = why;
	walk.max_from_config = from_config;
	walk.readers_minor =
	    pg_client_newest(&readers) != NULL ? pg_client_newest(&readers)->archive_minor : 0;
	walk.measure_too_new = true;
	err[0] = '\0';
	refused = archive_walk(&walk, &report, err, sizeof(err)) != WALK_OK;
	snprintf(version, sizeof(version), "%d.%d", walk.dump.vmaj, walk.dump.vmin);
	if (walk.have_dump)
		reader = pg_client_reader(&readers, walk.dump.vmin);

	json_begin_object(&w);
	json_key(&w, "source");
	json_string(&w, report.source);
	json_key(&w, "archive_kind");
	json_string(&w, archive_kind_name(walk.kind));
	json_key(&w, "metadata");
	json_begin_object(&w);
	for (i = 0; i < report.nmetadata; i++) {
		json_key(&w, report.metadata[i].name);
		json_string(&w, report.metadata[i].value);
	}
	json_end_object(&w);
	json_key(&w, "dump");
	json_begin_object(&w);
	json_key(&w, "format");
	json_string(&w, dump_format_name(walk.dump_kind));
	if (walk.have_dump) {
		json_key(&w, "version");
		json_string(&w, version);
		json_key(&w, "compression");
		json_string(&w, dump_compression_name(walk.dump.compression));
		json_key(&w, "toc_entries");
		json_uint(&w, walk.dump.toc_entries);
		json_key(&w, "dbname");
		json_string(&w, walk.dump.dbname);
		json_key(&w, "pg_dump_version");
		json_string(&w, walk.dump.pg_dump_version);
		json_key(&w, "decompressed_bytes");
		json_uint(&w, walk.dump.decompressed_bytes);
		json_key(&w, "written_to_pipe");
		json_bool(&w, walk.dump.written_to_pipe);
		json_key(&w, "skipped");
		json_begin_array(&w);
		for (i = 0; i < walk.dump.nskipped; i++) {
			json_begin_object(&w);
			json_key(&w, "toc_entry");
			json_string(&w, walk.dump.skipped[i].toc_entry);
			json_key(&w, "reason");
			json_string(&w, walk.dump.skipped[i].reason);
			json_end_object(&w);
		}
		json_end_array(&w);
	}
	json_end_object(&w);
	json_key(&w, "pg_restore");
	if (reader != NULL) {
		json_begin_object(&w);
		json_key(&w, "path");
		json_string(&w, reader->path);
		json_key(&w, "version");
		json_string(&w, reader->version);
		json_end_object(&w);
	} else {
		json_null(&w);
	}
	json_key(&w, "files");
	json_begin_object(&w);
	json_key(&w, "count");
	json_uint(&w, walk.file_count);
	json_key(&w, "bytes");
	json_uint(&w, walk.file_bytes);
	json_end_object(&w);
	json_key(&w, "problems");
	json_begin_array(&w);
	if (refused)
		json_string(&w, err);
	json_end_array(&w);
	json_key(&w, "warnings");
	json_begin_array(&w);
	for (i = 0; i < report.nwarnings; i++)
		json_string(&w, report.warnings[i]);
	json_end_array(&w);
	json_end_object(&w);
	*json = json_finish(&w);

	text_append(text, &tlen, &failed, "%s: %s\n", report.source, archive_kind_name(walk.kind));
	for (i = 0; i < report.nmetadata; i++)
		text_append(text, &tlen, &failed, "  metadata %s: %s\n", report.metadata[i].name,
		            report.metadata[i].value);
	if (walk.have_dump)
		text_append(text, &tlen, &failed,
		            "  dump: custom format, archive version %s, compression %s, %llu TOC "
		            "entries, database %s, pg_dump %s, %llu bytes decompressed\n",
		            version, dump_compression_name(walk.dump.compression),
		            (unsigned long long)walk.dump.toc_entries, walk.dump.dbname,
		            walk.dump.pg_dump_version,
		            (unsigned long long)walk.dump.decompressed_bytes);
	if (reader != NULL)
		text_append(text, &tlen, &failed, "  pg_restore: %s (PostgreSQL %s)\n",
		            reader->path, reader->version);
	for (i = 0; walk.have_dump && i < walk.dump.nskipped; i++)
		text_append(text, &tlen, &failed, "  left out: %s (%s)\n",
		            walk.dump.skipped[i].toc_entry, walk.dump.skipped[i].reason);
	text_append(text, &tlen, &failed, "  files: %llu (%llu bytes)\n",
	            (unsigned long long)walk.file_count, (unsigned long long)walk.file_bytes);
	for (i = 0; i < report.nwarnings; i++)
		text_append(text, &tlen, &failed, "  warning: %s\n", report.warnings[i]);
	if (refused)
		text_append(text, &tlen, &failed, "  refused: %s\n", err);
	else
		text_append(text, &tlen, &failed, "  a restore would accept it\n");
	report_free(&report);
	pg_client_set_free(&readers);
	if (failed || *json == NULL) {
		free(*json);
		free(*text);
		*json = *text = NULL;
		return -1;
	}
	return refused ? 1 : 0;
}
