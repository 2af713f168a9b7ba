/*
 * report.c - the restore report: filled in by the engine, written out as JSON.
 *
 * Out of memory while adding a warning or an error drops that line rather than the report:
 * the outcome (status and error) never needs an allocation beyond the first.
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
report_init(struct report *report, const char *job_id, const char *source, const char *target,
            bool db_only)
{
	const char *slash = strrchr(source, '/');

	memset(report, 0, sizeof(*report));
	snprintf(report->job_id, sizeof(report->job_id), "%s", job_id);
	report->source = strdup(slash != NULL && slash[1] != '\0' ? slash + 1 : source);
	report->target = target != NULL ? strdup(target) : NULL;
	report->db_only = db_only;
	report->status = "succeeded";
	report->database.status = "unchanged";
	report->files.status = "unchanged";
	clock_gettime(CLOCK_REALTIME, &report->started_at);
	if (report->source == NULL || (target != NULL && report->target == NULL))
		return -1;
	return 0;
}

/* errors_free: release a list of errors. */
static void
errors_free(struct report_error *errors, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(errors[i].where);
		free(errors[i].message);
	}
	free(errors);
}

/* errors_add: add where (or NULL) and message (taken over) to a list; dropped if out of memory. */
static void
errors_add(struct report_error **errors, size_t *n, const char *where, char *message)
{
	char *where_copy = where != NULL ? strdup(where) : NULL;
	struct report_error *grown = realloc(*errors, (*n + 1) * sizeof(*grown));

	if (grown != NULL)
		*errors = grown;
	if (message == NULL || (where != NULL && where_copy == NULL) || grown == NULL) {
		free(message);
		free(where_copy);
		return;
	}
	grown[*n].where = where_copy;
	grown[*n].message = message;
	(*n)++;
}

void
report_free(struct report *report)
{
	size_t i;

	free(report->source);
	free(report->target);
	free(report->error);
	free(report->previous_backup);
	free(report->pg_restore);
	for (i = 0; i < report->nwarnings; i++)
		free(report->warnings[i]);
	free(report->warnings);
	json_members_free(report->metadata, report->nmetadata);
	errors_free(report->database.errors, report->database.nerrors);
	errors_free(report->files.errors, report->files.nerrors);
	errors_free(report->skipped, report->nskipped);
	memset(report, 0, sizeof(*report));
}

/*
 * vformat: a malloc'ed formatted string, or NULL. Every sentence of a report is one line:
 * control characters (a server message's line breaks, say) become spaces.
 */
static char *
vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	for (char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

void
report_warn(struct report *report, const char *fmt, ...)
{
	va_list ap;
	char *s, **grown;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	if (s == NULL)
		return;
	grown = realloc(report->warnings, (report->nwarnings + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(s);
		return;
	}
	report->warnings = grown;
	report->warnings[report->nwarnings++] = s;
}

void
report_set_error(struct report *report, const char *status, const char *fmt, ...)
{
	va_list ap;

	report->status = status;
	if (report->error != NULL)
		return;
	va_start(ap, fmt);
	report->error = vformat(fmt, ap);
	va_end(ap);
}

void
report_part_error(struct report_part *part, const char *where, const char *fmt, ...)
{
	va_list ap;
	char *message;

	va_start(ap, fmt);
	message = vformat(fmt, ap);
	va_end(ap);
	errors_add(&part->errors, &part->nerrors, where, message);
}

void
report_part_forget_errors(struct report_part *part)
{
	errors_free(part->errors, part->nerrors);
	part->errors = NULL;
	part->nerrors = 0;
}

void
report_skip(struct report *report, const char *toc_entry, const char *reason)
{
	errors_add(&report->skipped, &report->nskipped, toc_entry, strdup(reason));
}

void
report_format_time(const struct timespec *ts, char *buf, size_t buflen)
{
	struct tm tm;
	char base[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, buflen, "%s.%03dZ", base, (int)(ts->tv_nsec / 1000000 % 1000));
}

/* write_uuids: {"count": N, "uuids": [the first ones]} at key, or null (u NULL). */
static void
write_uuids(struct json_writer *w, const char *key, const struct report_uuids *u)
{
	json_key(w, key);
	if (u == NULL) {
		json_null(w);
		return;
	}
	json_begin_object(w);
	json_key(w, "count");
	json_uint(w, u->count);
	json_key(w, "uuids");
	json_begin_array(w);
	for (size_t i = 0; i < u->nfirst; i++)
		json_string(w, u->first[i]);
	json_end_array(w);
	json_end_object(w);
}

/* write_errors: a list of errors as an array of objects with keys where_key and what_key. */
static void
write_errors(struct json_writer *w, const char *key, const struct report_error *errors, size_t n,
             const char *where_key, const char *what_key)
{
	json_key(w, key);
	json_begin_array(w);
	for (size_t i = 0; i < n; i++) {
		json_begin_object(w);
		if (errors[i].where != NULL) {
			json_key(w, where_key);
			json_string(w, errors[i].where);
		}
		json_key(w, what_key);
		json_string(w, errors[i].message);
		json_end_object(w);
	}
	json_end_array(w);
}

/* write_objects: files.objects, the counts of a restore into an object store, or null. */
static void
write_objects(struct json_writer *w, const struct report_objects *o)
{
	json_key(w, "objects");
	if (o == NULL) {
		json_null(w);
		return;
	}
	json_begin_object(w);
	json_key(w, "uploaded");
	json_uint(w, o->uploaded);
	json_key(w, "kept");
	json_uint(w, o->kept);
	json_key(w, "replaced");
	json_uint(w, o->replaced);
	json_key(w, "deleted");
	json_uint(w, o->deleted);
	json_key(w, "uploaded_bytes");
	json_uint(w, o->uploaded_bytes);
	json_end_object(w);
}

/* write_hook: {"argv0", "exit_status", "signal", "timed_out", "duration_s"} at key, or null. */
static void
write_hook(struct json_writer *w, const char *key, const struct report_hook *hook)
{
	json_key(w, key);
	if (!hook->ran) {
		json_null(w);
		return;
	}
	json_begin_object(w);
	json_key(w, "argv0");
	json_string(w, hook->argv0);
	json_key(w, "exit_status");
	if (hook->exit_status >= 0)
		json_uint(w, (uint64_t)hook->exit_status);
	else
		json_null(w);
	json_key(w, "signal");
	if (hook->signal > 0)
		json_uint(w, (uint64_t)hook->signal);
	else
		json_null(w);
	json_key(w, "timed_out");
	json_bool(w, hook->timed_out);
	json_key(w, "duration_s");
	json_fixed3(w, hook->duration_s);
	json_end_object(w);
}

char *
report_json(const struct report *report)
{
	struct json_writer w = {0};
	char when[40];
	size_t i;

	json_begin_object(&w);
	json_key(&w, "job_id");
	json_string(&w, report->job_id);
	json_key(&w, "source");
	json_string(&w, report->source);
	json_key(&w, "target");
	json_string(&w, report->target);
	json_key(&w, "archive_kind");
	json_string(&w, report->archive_kind != NULL ? report->archive_kind : "unknown");
	json_key(&w, "db_only");
	json_bool(&w, report->db_only);
	json_key(&w, "dry_run");
	json_bool(&w, report->dry_run);
	json_key(&w, "previous_backup");
	if (report->previous_backup != NULL)
		json_string(&w, report->previous_backup);
	else
		json_null(&w);
	json_key(&w, "status");
	json_string(&w, report->status);
	if (report->error != NULL) {
		json_key(&w, "error");
		json_string(&w, report->error);
	}
	json_key(&w, "warnings");
	json_begin_array(&w);
	for (i = 0; i < report->nwarnings; i++)
		json_string(&w, report->warnings[i]);
	json_end_array(&w);
	report_format_time(&report->started_at, when, sizeof(when));
	json_key(&w, "started_at");
	json_string(&w, when);
	report_format_time(&report->finished_at, when, sizeof(when));
	json_key(&w, "finished_at");
	json_string(&w, when);
	json_key(&w, "metadata");
	json_begin_object(&w);
	for (i = 0; i < report->nmetadata; i++) {
		json_key(&w, report->metadata[i].name);
		json_string(&w, report->metadata[i].value);
	}
	json_end_object(&w);

	json_key(&w, "database");
	json_begin_object(&w);
	json_key(&w, "status");
	json_string(&w, report->database.status);
	json_key(&w, "dump_version");
	json_string(&w, report->dump_version);
	json_key(&w, "pg_dump_version");
	if (report->dump_pg_dump_version[0] != '\0')
		json_string(&w, report->dump_pg_dump_version);
	else
		json_null(&w);
	json_key(&w, "pg_restore");
	if (report->pg_restore != NULL) {
		json_begin_object(&w);
		json_key(&w, "path");
		json_string(&w, report->pg_restore);
		json_key(&w, "version");
		json_string(&w, report->pg_restore_version);
		json_end_object(&w);
	} else {
		json_null(&w);
	}
	json_key(&w, "decompressed_bytes");
	json_uint(&w, report->decompressed_bytes);
	json_key(&w, "overhead_bytes");
	json_uint(&w, report->overhead_bytes);
	json_key(&w, "quota_bytes");
	json_uint(&w, report->quota_bytes);
	write_errors(&w, "errors", report->database.errors, report->database.nerrors, "toc_entry",
	             "message");
	write_errors(&w, "skipped", report->skipped, report->nskipped, "toc_entry", "reason");
	json_end_object(&w);

	json_key(&w, "files");
	json_begin_object(&w);
	json_key(&w, "status");
	json_string(&w, report->files.status);
	json_key(&w, "count");
	json_uint(&w, report->file_count);
	json_key(&w, "bytes");
	json_uint(&w, report->file_bytes);
	write_errors(&w, "errors", report->files.errors, report->files.nerrors, "path", "message");
	write_uuids(&w, "missing", report->have_filecheck ? &report->missing : NULL);
	json_key(&w, "left_out_by_design");
	if (report->have_filecheck)
		json_uint(&w, report->left_out);
	else
		json_null(&w);
	write_uuids(&w, "orphaned", report->have_filecheck ? &report->orphaned : NULL);
	write_objects(&w, report->have_objects ? &report->objects : NULL);
	json_end_object(&w);
	json_key(&w, "hooks");
	json_begin_object(&w);
	write_hook(&w, "before_restore", &report->before_restore);
	write_hook(&w, "after_restore", &report->after_restore);
	json_end_object(&w);
	if (report->have_timings) {
		json_key(&w, "timings");
		json_begin_object(&w);
		json_key(&w, "read_s");
		json_fixed3(&w, report->read_s);
		json_key(&w, "database_s");
		json_fixed3(&w, report->database_s);
		json_key(&w, "files_s");
		json_fixed3(&w, report->files_s);
		json_key(&w, "swap_s");
		json_fixed3(&w, report->swap_s);
		json_key(&w, "analyze_s");
		json_fixed3(&w, report->analyze_s);
		json_key(&w, "total_s");
		json_fixed3(&w, report->total_s);
		json_end_object(&w);
	}
	json_end_object(&w);
	return json_finish(&w);
}
