/*
 * metrics.h - the worker's figures for Prometheus, as a file for node_exporter's textfile
 * collector (the configuration's metrics_file; README.md, "Metrics", lists the series).
 *
 * Per target, the counters and the last run's figures are kept in <spool_dir>/metrics.state,
 * so they survive restarts and are shared by the workers of one spool; the daemon tells this
 * module each time it files a job, and asks it to write the metrics file when anything it
 * shows may have changed; restore and backup run by hand tell it their runs too. Nothing
 * here can fail a job: a problem is logged as a warning.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "spool.h"

#define METRICS_STATE_FILE "metrics.state" /* in the spool folder */
#define METRICS_LOCK_FILE  "metrics.lock"  /* ditto: held while metrics.state is updated */

/* The results a run can have, in the order of the runs[] counters. */
enum metrics_result {
	METRICS_SUCCEEDED,
	METRICS_REJECTED,
	METRICS_FAILED,
	METRICS_PARTIAL,
	METRICS_CANCELLED,
	METRICS_RESULTS
};

/* A backup's results are the first three: succeeded, rejected, failed. */
#define METRICS_BACKUP_RESULTS 3

/*
 * metrics_result_name: result's name, as runs_total's result label and metrics.state's
 * runs_<name> fields spell it.
 */
static inline const char *
metrics_result_name(enum metrics_result result)
{
	static const char *const names[METRICS_RESULTS] = {"succeeded", "rejected", "failed",
	                                                   "partial", "cancelled"};

	return names[result];
}

/* What is known of one target's runs. */
struct metrics_target {
	char name[80];
	uint64_t runs[METRICS_RESULTS];
	uint64_t restored_bytes;
	bool have_run;        /* last_run and last_duration are known */
	double last_run;      /* Unix time the last run finished */
	double last_duration; /* its seconds */
	bool have_success;
	double last_success; /* Unix time the last succeeded run finished */
	bool have_missing;   /* the last run's report had files.missing.count */
	uint64_t missing_files;
	uint64_t backup_runs[METRICS_BACKUP_RESULTS]; /* backups, by result */
	bool have_backup;            /* a backup succeeded: the three below are known */
	double backup_last_success;  /* Unix time the last succeeded backup finished */
	double backup_last_duration; /* its timings.total_s */
	uint64_t backup_last_size;   /* its archive_bytes */
};

struct backup_result;
struct report;

/* The figures, as last read from metrics.state, and what was last written. */
struct metrics {
	int spool_fd; /* the spool folder; -1 before metrics_open */
	struct metrics_target *targets;
	size_t ntargets;
	bool state_warned;      /* a bad metrics.state was logged once */
	bool dirty;             /* the file must be written again */
	size_t queued, running; /* what the file last said (running: in the whole spool) */
	size_t running_here;    /* this worker's own running jobs when it last wrote the file */
	char *written_path;     /* where it was last written; NULL: nowhere yet */
	char last_error[768];   /* the last failure logged, so a lasting one is logged once */
	bool write_failed;      /* the last write of the file failed */
};

/* metrics_open: get ready to keep the figures of the spool in spool_dir; never fails. */
void metrics_open(struct metrics *m, const char *spool_dir);

/* metrics_close: release what metrics_open and the others took. */
void metrics_close(struct metrics *m);

/*
 * metrics_job_filed: job job_id was filed into done/ or failed/: count its run from its
 * report.json (with or without a metrics_file, so that one set later shows every run). A job
 * still in active/ is counted later, when it is filed.
 */
void metrics_job_filed(struct metrics *m, const struct config *config, const struct spool *sp,
                       const char *job_id);

/* metrics_invalidate: the configuration changed: write the file again at the next update. */
void metrics_invalidate(struct metrics *m);

/*
 * metrics_update: write config's metrics_file (atomically) if a job was filed, the
 * configuration changed, the queue differs from what it says, this worker started or ended
 * a job (running_here: its own running jobs), or the jobs running in the spool (counted by
 * metrics_spool_running) differ from what it says.
 */
void metrics_update(struct metrics *m, const struct config *config, size_t queued,
                    size_t running_here);

/*
 * metrics_spool_running: the restores running now in the whole spool, whichever worker runs
 * them: the jobs in active/ whose claim a live worker holds and whose attempt has started
 * (phase restoring, committing or finished; not one waiting for its target). 0 when active/
 * cannot be read.
 */
size_t metrics_spool_running(const struct metrics *m);

/*
 * metrics_format: the exposition text of the targets of config (figures from m's state)
 * and the two worker-wide gauges; the caller frees it. NULL when out of memory.
 */
char *metrics_format(const struct metrics *m, const struct config *config, size_t queued,
                     size_t running);

/*
 * metrics_count_report: add the run report_json (a job's report.json) describes to m's
 * targets; 0, or -1 with err when the report cannot be counted.
 */
int metrics_count_report(struct metrics *m, const char *report_json, size_t len, char *err,
                         size_t errlen);

/*
 * metrics_count_backup: add the backup result_json (backup --json's result) describes to m's
 * targets; 0, or -1 with err when it cannot be counted.
 */
int metrics_count_backup(struct metrics *m, const char *result_json, size_t len, char *err,
                         size_t errlen);

/*
 * metrics_restore_by_hand, metrics_backup_by_hand: count a restore or a backup run by hand
 * (restore, backup) in the metrics.state of config's spool (sp, open; the caller holds the
 * target's lock), under metrics.lock, and write config's metrics_file when it has one, as
 * the worker does. A rehearsal counts for nothing. Problems are warnings on stderr.
 */
void metrics_restore_by_hand(const struct config *config, const struct spool *sp,
                             const struct report *report);
void metrics_backup_by_hand(const struct config *config, const struct spool *sp,
                            const struct backup_result *result);

#endif
