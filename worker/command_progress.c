/*
 * command_progress.c - how restore and backup show their progress on stderr (README
 * "Progress"): on a terminal, one line redrawn in place, erased before any other line and at
 * the end; otherwise that line in the log every 10 seconds, without carriage returns. The
 * callers make the line (progress_view.c); this file only decides when and how it is shown.
 */
#include <stdio.h>

#include "command.h"
#include "notify.h"

#define PROGRESS_LOG_SECONDS 10.0 /* without a terminal: a progress line this often */

void
command_progress_erase(struct cli_progress *cp)
{
	if (cp->shown) {
		fputs("\r\033[K", stderr);
		cp->shown = false;
	}
}

void
command_progress_show(struct cli_progress *cp, const char *line, double elapsed_s)
{
	if (cp->tty) {
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
		cp->shown = true;
	} else if (elapsed_s - cp->last_log >= PROGRESS_LOG_SECONDS) {
		log_line(LOG_PRIORITY_INFO, NULL, "%s", line);
		cp->last_log = elapsed_s;
	}
}

void
command_log_line(void *ctx, const char *line)
{
	if (ctx != NULL)
		command_progress_erase(ctx);
	log_engine_line(line);
}
