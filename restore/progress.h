/*
 * progress.h - what a restore tells the human (or program) watching while it runs: progress
 * lines through the options' log callback, and the clock every timing is read from.
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include "restore.h"

/* restore_now: monotonic seconds. */
double restore_now(void);

/* restore_say: a progress line (printf format, no newline) for options->log, if any. */
void restore_say(const struct restore_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
