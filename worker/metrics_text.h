/*
 * metrics_text.h - internal to the metrics (metrics.c, metrics_text.c): the names of the
 * results the counters count, and the writing of the .prom file.
 */
#ifndef METRICS_TEXT_H
#define METRICS_TEXT_H

#include <stddef.h>

#include "metrics.h"

/* The results of runs_total, in the order of struct metrics_target's counters. */
extern const char *const metrics_result_names[METRICS_RESULTS];

/*
 * metrics_write_file: path := text, through <path>.tmp.<pid> in the same folder (fsync, then
 * rename, then fsync the folder); 0 or -1 with err, the temporary file removed.
 */
int metrics_write_file(const char *path, const char *text, char *err, size_t errlen);

#endif
