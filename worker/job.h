/*
 * job.h - one job of the worker: the child process that runs its restore (job_child.c), and
 * the filing of its outcome into done/ or failed/, or the decision to run it again (job.c,
 * job_claim.c).
 */
#ifndef JOB_H
#define JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "report.h"
#include "restore.h"
#include "spool.h"

/* Exit statuses of a job child besides the engine's RESTORE_EXIT_ ones. */
#define JOB_EXIT_INTERRUPTED 4 /* stopped by SIGTERM and rolled back: run it again later */
#define JOB_EXIT_UNFILED     5 /* finished, but its report could not be written */

/* What a job needs of its worker. */
struct job_env {
	const struct config *config;
	const char *config_path;
	struct spool *spool;
};

/*
 * job_target: the target a dropped file asks for: a job file's target key, else the folder
 * it was dropped in (folder, "" for incoming/), else default_target; into buf. NULL with a
 * reason when there is none.
 */
const char *job_target(const struct job_env *env, int dir_fd, const char *folder, const char *name,
                       char *buf, size_t buflen, char *why, size_t whylen);

/*
 * job_child_run: in a job's child process, whose claim and target lock the worker holds:
 * restore the claimed file into target, record the outcome and write the report. Never
 * returns; exits with a RESTORE_EXIT_ or JOB_EXIT_ status.
 */
void job_child_run(const struct job_env *env, struct spool_claim *claim, const char *target)
    __attribute__((noreturn));

/*
 * job_remove_leftovers: remove what an attempt of the job may have left behind (its dump copy
 * and staging folder), where its claim says they were and where the configuration puts them.
 */
void job_remove_leftovers(const struct config *config, const struct spool_claim *claim);

/*
 * job_finish_with: file a job with a report the worker writes itself: status and a one-line
 * error. The outcome goes into the claim first; if the report cannot be written the job
 * stays in active/ and a later rescan files it.
 */
void job_finish_with(const struct job_env *env, struct spool_claim *claim, const char *target,
                     const char *status, const char *error);

/*
 * job_file_outcome: file a job whose attempt is over: its child ended with wait status
 * *wait_status, or (NULL) its worker died. Returns false when the job is to be run again
 * (no attempt reached the commit, and attempts are left); true when it was filed, or left in
 * active/ to be filed by a later rescan.
 */
bool job_file_outcome(const struct job_env *env, struct spool_claim *claim, const char *target,
                      const int *wait_status);

/* The claim's side (job_claim.c). */

/* job_staging_path: the staging folder of job_id beside blob_dir, into buf; 0, or -1. */
int job_staging_path(const char *blob_dir, const char *job_id, char *buf, size_t buflen);

/*
 * job_claim_commit_point: record in the claim (not yet saved) what is needed to learn later
 * what became of the commit that begins: point, and the staging folder's inode.
 */
void job_claim_commit_point(struct spool_claim *claim, const struct restore_commit_point *point);

/* job_claim_take_outcome: copy a finished job's outcome from its report into its claim. */
void job_claim_take_outcome(struct spool_claim *claim, const struct report *report);

/*
 * job_claim_report_init: a fresh report for the claim's job with what the claim knows from
 * its start (dry_run, db_only, archive_kind, started_at); 0, or -1 when out of memory.
 */
int job_claim_report_init(struct report *report, const struct spool_claim *claim,
                          const char *target);

/* job_claim_report: the report of a finished job, as its claim records it; 0 or -1. */
int job_claim_report(struct report *report, const struct spool_claim *claim, const char *target);

/*
 * job_claim_committing_report: the report of a job whose attempt ended (how: a sentence)
 * after its commit had begun, with the truth: the server is asked what became of the
 * transaction, and the staging folder looked for. *keep_staging: the backup's staged files
 * are still beside blob_dir and the report names them. 0, or -1 when out of memory.
 */
int job_claim_committing_report(const struct config *config, const struct spool_claim *claim,
                                const char *target, const char *how, struct report *report,
                                bool *keep_staging);

#endif
