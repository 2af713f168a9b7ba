/*
 * backup_result.c - a backup's result (backup.h): the warnings added to it as the backup runs,
 * its JSON as README ("Backups") documents it, and its release; and the progress figures
 * handed to the caller while it runs (struct backup_watch).
 */
#include "backup_parts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

#define WATCH_TICK_SECONDS 0.2 /* the figures at most this often, but at a new phase */

/* watch_now: monotonic seconds. */
static double
watch_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* watch_emit: hand w's figures to the progress callback, as of now. */
static void
watch_emit(struct backup_watch *w, double now)
{
	w->last = now;
	w->p.elapsed_s = now - w->started;
	w->o->progress(w->o->progress_ctx, &w->p);
}

void
backup_watch_init(struct backup_watch *w, const struct backup_options *o)
{
	memset(w, 0, sizeof(*w));
	w->o = o;
	w->started = watch_now();
	w->last = -1;
}

void
backup_watch_phase(struct backup_watch *w, const char *phase)
{
	w->p.phase = phase;
	if (w->o->progress != NULL)
		watch_emit(w, watch_now());
}

void
backup_watch_tick(struct backup_watch *w)
{
	double now;

	if (w->o->progress == NULL || w->p.phase == NULL)
		return;
	now = watch_now();
	if (w->last < 0 || now - w->last >= WATCH_TICK_SECONDS)
		watch_emit(w, now);
}

/* backup_warn: add a warning, its control characters made spaces (backup_parts.h). */
void
backup_warn(struct backup_result *r, const char *fmt, ...)
{
	char line[1024], **grown;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *c = line; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
	grown = realloc(r->warnings, (r->nwarnings + 1) * sizeof(*grown));
	if (grown == NULL)
		return;
	r->warnings = grown;
	if ((grown[r->nwarnings] = strdup(line)) != NULL)
		r->nwarnings++;
}

/* json_time: an RFC 3339 UTC time with milliseconds. */
static void
json_time(struct json_writer *w, const char *key, const struct timespec *t)
{
	char buf[64];
	struct tm tm;

	gmtime_r(&t->tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)(t->tv_nsec / 1000000));
	json_key(w, key);
	json_string(w, buf);
}

/* backup_result_json: the result as one JSON object (backup.h). */
char *
backup_result_json(const struct backup_result *r)
{
	struct json_writer w = {0};

	json_begin_object(&w);
	json_key(&w, "job_id");
	json_string(&w, r->job_id);
	json_key(&w, "target");
	json_string(&w, r->target != NULL ? r->target : "");
	json_key(&w, "kind");
	json_string(&w, r->kind);
	json_key(&w, "status");
	json_string(&w, r->status);
	if (r->error != NULL) {
		json_key(&w, "error");
		json_string(&w, r->error);
	}
	json_key(&w, "warnings");
	json_begin_array(&w);
	for (size_t i = 0; i < r->nwarnings; i++)
		json_string(&w, r->warnings[i]);
	json_end_array(&w);
	json_key(&w, "archive");
	if (r->archive != NULL)
		json_string(&w, r->archive);
	else
		json_null(&w);
	json_key(&w, "archive_bytes");
	json_uint(&w, r->archive_bytes);
	json_time(&w, "started_at", &r->started_at);
	json_time(&w, "finished_at", &r->finished_at);
	json_key(&w, "database");
	json_begin_object(&w);
	json_key(&w, "pg_dump");
	json_string(&w, r->pg_dump != NULL ? r->pg_dump : "");
	json_key(&w, "pg_dump_version");
	if (r->pg_dump_version[0] != '\0')
		json_string(&w, r->pg_dump_version);
	else
		json_null(&w);
	json_key(&w, "server_version");
	if (r->server_version[0] != '\0')
		json_string(&w, r->server_version);
	else
		json_null(&w);
	json_key(&w, "dump_version");
	json_string(&w, r->dump_version);
	json_key(&w, "dump_bytes");
	json_uint(&w, r->dump_bytes);
	json_key(&w, "database_bytes");
	json_uint(&w, r->database_bytes);
	json_key(&w, "model_version");
	if (r->model_version != NULL)
		json_string(&w, r->model_version);
	else
		json_null(&w);
	json_end_object(&w);
	json_key(&w, "files");
	json_begin_object(&w);
	json_key(&w, "count");
	json_uint(&w, r->files_count);
	json_key(&w, "bytes");
	json_uint(&w, r->files_bytes);
	json_key(&w, "measured_bytes");
	json_uint(&w, r->files_measured_bytes);
	json_key(&w, "skipped");
	json_uint(&w, r->files_skipped);
	json_key(&w, "vanished");
	json_uint(&w, r->files_vanished);
	json_key(&w, "left_out_by_design");
	json_uint(&w, r->files_left_out);
	json_end_object(&w);
	json_key(&w, "removed");
	json_begin_array(&w);
	for (size_t i = 0; i < r->nremoved; i++)
		json_string(&w, r->removed[i]);
	json_end_array(&w);
	json_key(&w, "timings");
	json_begin_object(&w);
	json_key(&w, "dump_s");
	json_fixed3(&w, r->dump_s);
	json_key(&w, "files_s");
	json_fixed3(&w, r->files_s);
	json_key(&w, "write_s");
	json_fixed3(&w, r->write_s);
	json_key(&w, "total_s");
	json_fixed3(&w, r->total_s);
	json_end_object(&w);
	json_end_object(&w);
	return json_finish(&w);
}

/* backup_result_free: release what backup_run put into result (backup.h). */
void
backup_result_free(struct backup_result *r)
{
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	for (size_t i = 0; i < r->nremoved; i++)
		free(r->removed[i]);
	free(r->removed);
	free(r->error);
	free(r->target);
	free(r->archive);
	free(r->pg_dump);
	free(r->model_version);
	memset(r, 0, sizeof(*r));
}
