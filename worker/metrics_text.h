/*
 * metrics_text.h - internal to the metrics (metrics.c, metrics_text.c): the writing of the
 * .prom file.
 */
#ifndef METRICS_TEXT_H
#define METRICS_TEXT_H

#include <stddef.h>

#include "metrics.h"

/*
 * metrics_write_file: path := text, through <path>.tmp.<pid> in the same folder (fsync, then
 * rename, then fsync the folder); 0 or -1 with err, the temporary file removed.
 */
int metrics_write_file(const char *path, const char *text, char *err, size_t errlen);

#endif
