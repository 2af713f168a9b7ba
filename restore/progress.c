/*
 * progress.c - what a restore tells the human watching while it runs (progress.h).
 */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define LINE_BYTES 2048

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
