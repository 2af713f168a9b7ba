/*
 * archive_walker.c - what every reader of a walk's entries shares (see archive_walk_parts.h):
 * a refusal's sentence, naming the archive, and whether the walk has been asked to stop.
 * archive_walk.c, archive_dump.c and archive_tree.c all use it; it uses none of them.
 */
#include "archive_walk_parts.h"

#include <stdarg.h>
#include <stdio.h>

/* walker_refuse: fill err with "<archive>: <reason>" and return the outcome given. */
enum archive_outcome
walker_refuse(struct walker *w, enum archive_outcome outcome, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(w->err, w->errlen, "%s: ", w->name);
	if (n < 0 || (size_t)n >= w->errlen)
		return outcome;
	va_start(ap, fmt);
	vsnprintf(w->err + n, w->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return outcome;
}

/* walker_cancelled: has a signal, or the caller's other work, asked the walk to stop? */
bool
walker_cancelled(const struct walker *w)
{
	return (w->walk->cancel != NULL && *w->walk->cancel != 0) ||
	       (w->walk->abort != NULL && *w->walk->abort != 0);
}
