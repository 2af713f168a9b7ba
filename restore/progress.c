/*
 * progress.c - what a restore tells the human watching while it runs (progress.h): its
 * log lines, and the figures of struct restore_progress with an estimate of the time left.
 *
 * The estimate: the archive is read at the rate it has been read so far, and the database
 * restore goes on at its own rate since it began (bytes of pg_restore's script executed, or
 * for a swap TOC entries done); the restore ends when the slower of the two does. Index
 * builds and the like weigh nothing in either measure, so the estimate is low towards the
 * end of a schema with big indexes. Before the database restore has begun, and while
 * swapping or analyzing, nothing is estimated.
 */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive_walk.h"
#include "db_job.h"
#include "json.h"

#define LINE_BYTES     2048
#define TICK_SECONDS   0.2
#define ESTIMATE_AFTER 0.01 /* of the work done before a rate means anything */

double
restore_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
restore_say(const struct restore_options *o, const char *fmt, ...)
{
	char line[LINE_BYTES];
	va_list ap;

	if (o->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->log(o->log_ctx, line);
}

void
progress_init(struct progress *p, const struct restore_options *o, const struct archive_walk *walk,
              const struct db_job *job, const struct report *report)
{
	memset(p, 0, sizeof(*p));
	p->o = o;
	p->walk = walk;
	p->job = job;
	p->report = report;
	p->started = restore_now();
	p->last = -1;
}

/* left: seconds left of work begun at since, done fraction f of it by now; -1: unknown. */
static double
left(double since, double now, double f)
{
	if (f < ESTIMATE_AFTER || now <= since)
		return -1;
	if (f >= 1)
		return 0;
	return (now - since) * (1 - f) / f;
}

/* files_total: .metadata's filesSize, once the walk has read it. */
static void
files_total(struct progress *p)
{
	const char *v;

	if (p->have_files_total || p->report->nmetadata == 0)
		return;
	v = json_member_find(p->report->metadata, p->report->nmetadata, "filesSize");
	p->have_files_total = true;
	if (v != NULL)
		p->files_total = strtoull(v, NULL, 10);
}

/* fill: the figures now. */
static void
fill(struct progress *p, struct restore_progress *r, double now)
{
	const struct db_job *j = p->job;
	bool db_running = j->started && j->finished_at == 0;
	double f_archive, f_db = -1, eta_archive, eta_db = -1;

	memset(r, 0, sizeof(*r));
	files_total(p);
	r->elapsed_s = now - p->started;
	if (p->walk->fd >= 0) {
		off_t at = lseek(p->walk->fd, 0, SEEK_CUR);

		r->archive_bytes = at > 0 ? (uint64_t)at : 0;
	} else if (p->walk->size > 0) {
		r->archive_bytes = p->walk->size; /* read whole */
	}
	r->archive_size = p->walk->size;
	if (j->swap != NULL) {
		r->database_items = swap_items_done(j->swap);
		r->database_item_total = p->walk->dump.toc_entries;
		if (r->database_items > r->database_item_total)
			r->database_items = r->database_item_total;
		if (r->database_item_total > 0)
			f_db = (double)r->database_items / (double)r->database_item_total;
	} else if (j->db != NULL) {
		r->database_bytes = database_script_bytes(j->db);
		r->database_size = p->walk->dump.decompressed_bytes;
		if (r->database_bytes > r->database_size)
			r->database_bytes = r->database_size;
		if (r->database_size > 0)
			f_db = (double)r->database_bytes / (double)r->database_size;
	}
	r->files = p->walk->file_count;
	r->file_bytes = p->walk->file_bytes;
	r->file_bytes_total = p->files_total;
	if (p->phase != NULL)
		r->phase = p->phase;
	else if (!j->started)
		r->phase = "reading";
	else if (db_running)
		r->phase = "database";
	else
		r->phase = "files";
	r->eta_s = -1;
	if (p->phase != NULL || !j->started)
		return;
	f_archive = r->archive_size > 0 ? (double)r->archive_bytes / (double)r->archive_size : 1;
	eta_archive = left(p->started, now, f_archive);
	if (db_running)
		eta_db = left(j->started_at, now, f_db);
	else
		eta_db = 0;
	if (eta_archive >= 0 && eta_db >= 0)
		r->eta_s = eta_archive > eta_db ? eta_archive : eta_db;
}

/* emit: the figures to the callback. */
static void
emit(struct progress *p, double now)
{
	struct restore_progress r;

	p->last = now;
	fill(p, &r, now);
	p->o->progress(p->o->progress_ctx, &r);
}

void
progress_tick(void *arg)
{
	struct progress *p = arg;
	double now;

	if (p->o->progress == NULL)
		return;
	now = restore_now();
	if (p->last >= 0 && now - p->last < TICK_SECONDS)
		return;
	emit(p, now);
}

void
progress_phase(struct progress *p, const char *phase)
{
	p->phase = phase;
	if (p->o->progress != NULL)
		emit(p, restore_now());
}
