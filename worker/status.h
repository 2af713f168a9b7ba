/*
 * status.h - restore-worker status: the jobs of the spool, as an operator reads them.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stdbool.h>

struct config;

/*
 * status_print: list queued, active and finished jobs, oldest first (as JSON when json), or
 * only job job_id (unless NULL); the exit status (1 when there is no such job).
 */
int status_print(const struct config *config, const char *job_id, bool json);

#endif
