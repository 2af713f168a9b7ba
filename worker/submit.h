/*
 * submit.h - restore-worker submit: a job file for the worker (submit.c).
 */
#ifndef SUBMIT_H
#define SUBMIT_H

#include <stdbool.h>

struct config;

/*
 * submit_job: write a job file for archive through tmp/ into incoming/ and print its path;
 * with wait, follow the job until it is filed (submit_wait.h). Returns the exit status (0;
 * 1 when the archive cannot be used; 2 for a setup problem; with wait, the job's).
 */
int submit_job(const struct config *config, const char *archive, const char *target, bool db_only,
               bool dry_run, bool wait);

#endif
