/*
 * status.h - restore-worker status: the jobs of the spool, as an operator reads them.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stdbool.h>

#include "spool.h"

struct config;

/*
 * status_print: list queued, active and finished jobs, oldest first (as JSON when json), or
 * only job job_id (unless NULL); the exit status (1 when there is no such job).
 */
int status_print(const struct config *config, const char *job_id, bool json);

/* What status knows of one job (status_job_find), for those that follow or cancel it. */
struct status_job {
	const char *state;      /* "queued", "active", "done", "failed"; NULL: no such job */
	bool running;           /* active: a worker holds its claim */
	enum spool_phase phase; /* active: how far it got */
	int attempts;           /* active: the attempts started */
	char target[80];
	char waiting[700];  /* the worker's reason why it waits, or "" */
	char progress[160]; /* a running job's progress (progress_view_summary), or "" */
	char status[16];    /* done or failed: its report's; active and finished: its claim's */
	char error[1024];   /* done or failed: its report's error, or "" */
};

/*
 * status_job_find: what the spool says of job job_id (state NULL when there is none), read
 * as status reads it, creating nothing; 0, or -1 with err when the spool cannot be read.
 */
int status_job_find(const struct config *config, const char *job_id, struct status_job *job,
                    char *err, size_t errlen);

#endif
