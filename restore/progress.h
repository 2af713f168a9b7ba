/*
 * progress.h - what a restore tells the human (or program) watching while it runs: progress
 * lines through the options' log callback, the figures of struct restore_progress through
 * its progress callback, and the clock every timing is read from.
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include "restore.h"

struct archive_walk;
struct db_job;
struct report;

/* The state behind restore_progress: what to read the figures from. */
struct progress {
	const struct restore_options *o;
	const struct archive_walk *walk;
	const struct db_job *job;
	const struct report *report;
	const char *phase; /* set by progress_phase(); NULL: derived from the work */
	double started, last;
	uint64_t items_total;
	bool have_files_total;
	uint64_t files_total;
};

/* restore_now: monotonic seconds. */
double restore_now(void);

/* restore_say: a progress line (printf format, no newline) for options->log, if any. */
void restore_say(const struct restore_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* progress_init: start tracking the restore o, whose walk, database job and report these are. */
void progress_init(struct progress *p, const struct restore_options *o,
                   const struct archive_walk *walk, const struct db_job *job,
                   const struct report *report);

/* progress_tick: give the figures to o->progress, at most five times a second. */
void progress_tick(void *p);

/* progress_phase: enter phase (NULL: derive it from the work again) and say so at once. */
void progress_phase(struct progress *p, const char *phase);

#endif
