/*
 * status.h - restore-worker submit and status: the operator's side of the spool.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stdbool.h>

struct config;

/*
 * status_submit: write a job file for archive through tmp/ into incoming/ and print its path.
 * Returns the exit status (0; 1 when the archive cannot be used; 2 for a setup problem).
 */
int status_submit(const struct config *config, const char *archive, const char *target,
                  bool db_only, bool dry_run);

/*
 * status_print: list queued, active and finished jobs, oldest first (as JSON when json), or
 * only job job_id (unless NULL); the exit status (1 when there is no such job).
 */
int status_print(const struct config *config, const char *job_id, bool json);

#endif
