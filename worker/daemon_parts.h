/*
 * daemon_parts.h - what the daemon's files share (not for the program): daemon.c runs
 * the loop (signals, reload, stop, systemd, pruning), supervise.c starts the jobs, watches
 * their children and adopts those of dead workers, daemon_cancel.c acts on cancel requests.
 */
#ifndef DAEMON_PARTS_H
#define DAEMON_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "incoming.h"
#include "metrics.h"
#include "spool.h"

/* A job running in a child process, or adopted and waiting for its target. */
struct job {
	struct spool_claim claim;
	char target[80];
	int target_lock;
	pid_t pid;       /* 0 while waiting */
	bool requeue;    /* stopped by SIGTERM: leave it in active/ */
	bool cancelling; /* restore-worker cancel: its child was sent SIGUSR1 */
};

/* Why a job does not run yet: its key (SPOOL_WAITS_FILE's) and reason. */
struct wait_note {
	char key[SPOOL_NAME_MAX + 100];
	char reason[700];
	bool seen; /* noted again in the latest pass */
};

/* The worker: its configuration, spool, signals, watches and jobs. */
struct worker {
	const char *config_path;
	struct config *config;
	struct spool spool;
	int signal_fd;
	struct incoming incoming;
	struct job *jobs;
	size_t njobs, jobs_cap;
	struct metrics metrics; /* the metrics_file's figures (metrics.c) */
	pid_t pid;              /* the worker itself */
	bool stopping, need_scan;
	struct wait_note *waits; /* the jobs that wait, and why (supervise.c) */
	size_t nwaits;
	bool waits_changed;
	double stop_deadline, next_rescan, next_watchdog, watchdog_interval;
	int cancel_fd, cancel_watch; /* the spool's cancel/ and its inotify (daemon_cancel.c) */
	bool cancel_due;             /* something arrived there */
	double cancel_next;          /* when to look at it again (monotonic seconds) */
};

/* supervise_jobs_running: the number of jobs with a child process. */
size_t supervise_jobs_running(const struct worker *w);

/* supervise_job_remove: forget a finished job (its claim and lock already released). */
void supervise_job_remove(struct worker *w, struct job *job);

/* supervise_reap: collect every child that ended, filing its job. */
void supervise_reap(struct worker *w);

/* supervise_adopt_orphans: take over jobs in active/ whose worker died. */
void supervise_adopt_orphans(struct worker *w);

/*
 * supervise_start_ready: start what is ready at now (monotonic seconds), oldest first, within
 * max_parallel_jobs; the seconds until something may be ready, or -1.
 */
double supervise_start_ready(struct worker *w, double now);

/*
 * supervise_child_release: in a child of the worker (ctx) that runs no job: let go of every
 * job's claim and target lock, and of the worker's signals and watches.
 */
void supervise_child_release(void *ctx);

/* supervise_waits_clear: forget every reason and remove SPOOL_WAITS_FILE (start, stop). */
void supervise_waits_clear(struct worker *w);

/* The cancel requests (daemon_cancel.c). */

/* daemon_cancel_open: the spool's cancel/ folder and its watch (failures are logged). */
void daemon_cancel_open(struct worker *w);

/* daemon_cancel_close: let go of them. */
void daemon_cancel_close(struct worker *w);

/* daemon_cancel_events: read what the watch says (something to look at). */
void daemon_cancel_events(struct worker *w);

/*
 * daemon_cancel_scan: at now (monotonic seconds), act on the cancel requests if something
 * arrived or it is time; the seconds until it should be called again, or -1.
 */
double daemon_cancel_scan(struct worker *w, double now);

#endif
