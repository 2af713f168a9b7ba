/*
 * daemon.c - restore-worker run: restore what is dropped into the spool, for months.
 *
 * The main loop fits on a screen (daemon_run): scan when something may have arrived, start
 * what is ready, sleep in poll() on a signalfd and an inotify descriptor until an event, the
 * next rescan or the watchdog is due. Idle, it wakes only for those.
 *
 * Each job runs in a child process (job_child), so a crash inside the engine on hostile input
 * fails that job, not the worker. The parent holds the job's claim and its target's lock;
 * both are open-file-description locks that the child shares and that die with the last of
 * them. A job whose target is locked waits in incoming/ (or, if it was adopted from a dead
 * worker, in active/); it is not failed.
 *
 * Diagnostics: one line per event on stderr, with the job id (notify.c).
 */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blobstore.h"
#include "config.h"
#include "database.h"
#include "incoming.h"
#include "io.h"
#include "job.h"
#include "json.h"
#include "metrics.h"
#include "notify.h"
#include "progress_view.h"
#include "report.h"
#include "restore.h"
#include "spool.h"

#define STOP_GRACE              20.0 /* seconds before a child that ignores SIGTERM is killed */
#define PROGRESS_STATUS_SECONDS 2.0  /* while jobs run, STATUS is redone this often */

/* A job running in a child process, or adopted and waiting for its target. */
struct job {
	struct spool_claim claim;
	char target[80];
	int target_lock;
	pid_t pid;    /* 0 while waiting */
	bool requeue; /* stopped by SIGTERM: leave it in active/ */
};

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
	double stop_deadline, next_rescan, next_watchdog, watchdog_interval;
};

/* now: monotonic seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* job_running: the number of jobs with a child process. */
static size_t
jobs_running(const struct worker *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->njobs; i++)
		n += w->jobs[i].pid > 0;
	return n;
}

/* job_find: the job of job_id, or NULL. */
static struct job *
job_find(struct worker *w, const char *job_id)
{
	for (size_t i = 0; i < w->njobs; i++)
		if (strcmp(w->jobs[i].claim.job_id, job_id) == 0)
			return &w->jobs[i];
	return NULL;
}

/* job_add: room for one more job; NULL when out of memory. */
static struct job *
job_add(struct worker *w)
{
	if (w->njobs == w->jobs_cap) {
		size_t cap = w->jobs_cap == 0 ? 8 : w->jobs_cap * 2;
		struct job *grown = realloc(w->jobs, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		w->jobs = grown;
		w->jobs_cap = cap;
	}
	memset(&w->jobs[w->njobs], 0, sizeof(w->jobs[0]));
	w->jobs[w->njobs].target_lock = -1;
	return &w->jobs[w->njobs++];
}

/* job_remove: forget a finished job (its claim and lock already released). */
static void
job_remove(struct worker *w, struct job *job)
{
	size_t i = (size_t)(job - w->jobs);

	spool_unlock(job->target_lock);
	memmove(&w->jobs[i], &w->jobs[i + 1], (w->njobs - i - 1) * sizeof(*job));
	w->njobs--;
}

/* worker_env: what a job needs of the worker, as the worker stands now. */
static struct job_env
worker_env(const struct worker *w)
{
	struct job_env env = {w->config, w->config_path, (struct spool *)&w->spool};

	return env;
}

/* job_child: in the child of a job: keep only its descriptors, then run it; never returns. */
static void __attribute__((noreturn)) job_child(struct worker *w, struct job *job)
{
	struct job_env env = worker_env(w);

	/*
	 * A job dies with its worker, as after a power loss: the transaction rolls back and the
	 * next worker runs the job again. Left alone it would finish with nobody to file it.
	 */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != w->pid)
		_exit(JOB_EXIT_INTERRUPTED);
	/* Only this job's descriptors stay: another job's lock must not outlive that job. */
	for (size_t i = 0; i < w->njobs; i++) {
		if (&w->jobs[i] == job)
			continue;
		spool_release(&w->jobs[i].claim);
		spool_unlock(w->jobs[i].target_lock);
	}
	(void)close(w->signal_fd);
	(void)close(w->incoming.inotify_fd);
	job_child_run(&env, &job->claim, job->target);
}

/* job_start: fork the child of a job whose claim and target lock are held. */
static void
job_start(struct worker *w, struct job *job)
{
	const struct config_target *ct = config_target_find(w->config, job->target);
	char err[512];
	pid_t pid;

	/* What an earlier attempt left goes first, wherever its claim says it put it. */
	job_remove_leftovers(w->config, &job->claim);
	job->claim.attempts++;
	job->claim.phase = SPOOL_PHASE_RESTORING;
	snprintf(job->claim.target, sizeof(job->claim.target), "%s", job->target);
	snprintf(job->claim.work_dir, sizeof(job->claim.work_dir), "%s", w->config->work_dir);
	snprintf(job->claim.blob_dir, sizeof(job->claim.blob_dir), "%s",
	         ct != NULL ? ct->blob_dir : "");
	if (spool_claim_save(&job->claim, err, sizeof(err)) < 0) {
		/* Without the record, a worker adopting the job could not tell how far it got. */
		log_line(LOG_PRIORITY_ERROR, job->claim.job_id, "%s; the job waits", err);
		job->claim.attempts--;
		job->claim.phase = SPOOL_PHASE_WAITING;
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_line(LOG_PRIORITY_ERROR, job->claim.job_id, "cannot fork: %s", strerror(errno));
		job->claim.attempts--;
		job->claim.phase = SPOOL_PHASE_WAITING;
		(void)spool_claim_save(&job->claim, err, sizeof(err));
		return;
	}
	if (pid == 0)
		job_child(w, job);
	job->pid = pid;
	log_line(LOG_PRIORITY_INFO, job->claim.job_id,
	         "started %s%s%s into %s (attempt %d, pid %d)", job->claim.folder,
	         job->claim.folder[0] != '\0' ? "/" : "", job->claim.name, job->target,
	         job->claim.attempts, (int)pid);
}

/* job_reaped: a job's child ended with wait status st. */
static void
job_reaped(struct worker *w, struct job *job, int st)
{
	struct job_env env = worker_env(w);
	struct spool_claim *claim = &job->claim;
	char err[512];

	job->pid = 0;
	(void)spool_claim_reload(claim); /* the child recorded how far it got */
	if (WIFEXITED(st) && WEXITSTATUS(st) == JOB_EXIT_INTERRUPTED &&
	    claim->phase == SPOOL_PHASE_RESTORING) {
		/* Stopped on purpose and rolled back: this attempt does not count. */
		claim->attempts--;
		claim->phase = SPOOL_PHASE_WAITING;
		(void)spool_claim_save(claim, err, sizeof(err));
		job_remove_leftovers(w->config, claim);
		log_line(LOG_PRIORITY_INFO, claim->job_id,
		         "interrupted and rolled back; it will run again at the next start");
		spool_release(claim);
		job_remove(w, job);
		return;
	}
	(void)job_file_outcome(&env, claim, job->target, &st);
	metrics_job_filed(&w->metrics, w->config, &w->spool, claim->job_id);
	job_remove(w, job);
}

/* reap: collect every child that ended. */
static void
reap(struct worker *w)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t i = 0; i < w->njobs; i++) {
			if (w->jobs[i].pid == pid) {
				job_reaped(w, &w->jobs[i], st);
				break;
			}
		}
	}
}

/* adopt_orphans: take over jobs in active/ whose worker died. */
static void
adopt_orphans(struct worker *w)
{
	struct job_env env = worker_env(w);
	DIR *dir = io_opendir(w->spool.active_fd, ".");
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct spool_claim claim;
		struct job *job;
		char err[512], tbuf[80], why[512];
		const char *target;

		if (de->d_name[0] == '.' || job_find(w, de->d_name) != NULL)
			continue;
		if (spool_adopt(&w->spool, de->d_name, &claim, err, sizeof(err)) != 0)
			continue;
		if (!spool_has_job_file(&claim)) {
			spool_discard(&w->spool, &claim);
			continue;
		}
		target = job_target(&env, claim.job_fd, claim.folder, claim.name, tbuf,
		                    sizeof(tbuf), why, sizeof(why));
		if (target == NULL && claim.target[0] != '\0')
			target = claim.target; /* the configuration no longer defines it */
		if (job_file_outcome(&env, &claim, target, NULL)) {
			metrics_job_filed(&w->metrics, w->config, &w->spool, claim.job_id);
			continue;
		}
		log_line(
		    LOG_PRIORITY_WARNING, claim.job_id,
		    "found interrupted after %d attempt%s (its worker is gone); running it again",
		    claim.attempts, claim.attempts == 1 ? "" : "s");
		job = job_add(w);
		if (job == NULL) {
			spool_release(&claim);
			continue;
		}
		job->claim = claim;
		snprintf(job->target, sizeof(job->target), "%s", target != NULL ? target : "");
	}
	(void)closedir(dir);
}

/* start_waiting: start adopted jobs whose target is free. */
static void
start_waiting(struct worker *w)
{
	for (size_t i = 0; i < w->njobs && !w->stopping; i++) {
		struct job *job = &w->jobs[i];

		if (job->pid != 0 || jobs_running(w) >= (size_t)w->config->max_parallel_jobs)
			continue;
		if (job->target[0] != '\0' && job->target_lock < 0) {
			job->target_lock = spool_lock_target(&w->spool, job->target);
			if (job->target_lock < 0)
				continue; /* busy: it waits its turn */
		}
		job_start(w, job);
	}
}

/* start_candidate: claim and start one ready file; false if it must wait. */
static bool
start_candidate(struct worker *w, const struct incoming_file *c)
{
	struct job_env env = worker_env(w);
	char job_id[37], tbuf[80], why[512], err[512];
	const char *target;
	struct job *job;
	struct stat st;
	int dir_fd, lock = -1, rc;
	bool refused = false;

	dir_fd = incoming_folder_open(&w->incoming, c);
	if (fstatat(dir_fd, c->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		(void)close(dir_fd);
		return true; /* gone */
	}
	if (S_ISREG(st.st_mode) && st.st_nlink == 1)
		target = job_target(&env, dir_fd, c->folder, c->name, tbuf, sizeof(tbuf), why,
		                    sizeof(why));
	else
		target = NULL; /* the child refuses it, saying what it is */
	(void)close(dir_fd);
	if (target == NULL)
		refused = true; /* claimed and failed at once, no lock needed */
	if (!refused) {
		lock = spool_lock_target(&w->spool, target);
		if (lock < 0)
			return false; /* its target is busy: it waits its turn */
	}
	restore_new_job_id(job_id);
	job = job_add(w);
	if (job == NULL) {
		spool_unlock(lock);
		return false;
	}
	rc = spool_claim(&w->spool, c->folder[0] != '\0' ? c->folder : NULL, c->name, job_id,
	                 &job->claim, err, sizeof(err));
	if (rc != 0) {
		if (rc < 0)
			log_line(LOG_PRIORITY_ERROR, NULL, "%s", err);
		w->njobs--;
		spool_unlock(lock);
		return true;
	}
	job->target_lock = lock;
	snprintf(job->target, sizeof(job->target), "%s", target != NULL ? target : "");
	if (target == NULL && S_ISREG(st.st_mode) && st.st_nlink == 1) {
		job_finish_with(&env, &job->claim, NULL, "rejected", why);
		metrics_job_filed(&w->metrics, w->config, &w->spool, job->claim.job_id);
		job_remove(w, job);
		return true;
	}
	job_start(w, job); /* non-regular files are refused by the child, with a report */
	return true;
}

/* start_ready: start what is ready, oldest first, within max_parallel_jobs. */
static double
start_ready(struct worker *w)
{
	double t = now(), wake = -1;
	size_t i = 0;

	start_waiting(w);
	while (i < w->incoming.nfiles) {
		struct incoming_file *c = &w->incoming.files[i];
		double ready_at = incoming_ready_at(c, w->config->settle_seconds);

		if (w->stopping || jobs_running(w) >= (size_t)w->config->max_parallel_jobs)
			return 0.5;
		if (ready_at < 0 || ready_at > t) {
			if (ready_at > t && (wake < 0 || ready_at - t < wake))
				wake = ready_at - t;
			i++;
			continue;
		}
		if (incoming_still_busy(&w->incoming, c, t)) {
			wake = wake < 0 || wake > 0.5 ? 0.5 : wake;
			i++;
			continue;
		}
		if (start_candidate(w, c)) {
			incoming_forget(&w->incoming, i);
		} else {
			wake =
			    wake < 0 || wake > 0.5 ? 0.5 : wake; /* busy target: look again soon */
			i++;
		}
	}
	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].pid == 0)
			wake = wake < 0 || wake > 0.5 ? 0.5 : wake;
	return wake;
}

/* prune: remove finished job folders older than retention_days. */
static void
prune(struct worker *w)
{
	int fds[2] = {w->spool.done_fd, w->spool.failed_fd};
	time_t limit = time(NULL) - (time_t)w->config->retention_days * 86400;

	if (w->config->retention_days == 0)
		return;
	for (int k = 0; k < 2; k++) {
		DIR *dir = io_opendir(fds[k], ".");
		struct dirent *de;

		if (dir == NULL)
			continue;
		while ((de = readdir(dir)) != NULL) {
			struct stat st;

			if (de->d_name[0] == '.' ||
			    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    st.st_mtime >= limit)
				continue;
			if (blobstore_remove_tree(dirfd(dir), de->d_name) == 0)
				log_line(LOG_PRIORITY_INFO, de->d_name,
				         "removed from %s/ after %d days",
				         k == 0 ? "done" : "failed", w->config->retention_days);
		}
		(void)closedir(dir);
	}
}

/* setup_targets: the incoming/<target>/ folders and their watches. */
static void
setup_targets(struct worker *w)
{
	char err[512];

	for (size_t i = 0; i < w->config->ntargets; i++) {
		if (spool_ensure_target(&w->spool, w->config->targets[i].name, err, sizeof(err)) <
		    0)
			log_line(LOG_PRIORITY_WARNING, NULL, "%s", err);
		incoming_watch(&w->incoming, w->config->targets[i].name);
	}
}

/* reload: SIGHUP: read the configuration again; keep the old one if the new one is bad. */
static void
reload(struct worker *w)
{
	struct config *fresh = NULL;
	char err[1024];

	if (config_load(w->config_path, &fresh, err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL, "reload: %s; keeping the old configuration",
		         err);
		return;
	}
	if (fresh->spool_dir == NULL || strcmp(fresh->spool_dir, w->config->spool_dir) != 0) {
		log_line(LOG_PRIORITY_ERROR, NULL,
		         "reload: spool_dir cannot change while running (restart instead); keeping "
		         "the old configuration");
		config_free(fresh);
		return;
	}
	config_free(w->config);
	w->config = fresh;
	setup_targets(w);
	w->need_scan = true;
	metrics_invalidate(&w->metrics); /* targets or metrics_file may have changed */
	log_line(LOG_PRIORITY_INFO, NULL, "reloaded %s", w->config_path);
}

/* begin_stop: SIGTERM/SIGINT: take no new job, interrupt the running ones. */
static void
begin_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->stop_deadline = now() + STOP_GRACE;
	notify_send("STOPPING=1");
	log_line(LOG_PRIORITY_INFO, NULL, "stopping: interrupting %zu running job%s",
	         jobs_running(w), jobs_running(w) == 1 ? "" : "s");
	for (size_t i = 0; i < w->njobs; i++)
		if (w->jobs[i].pid > 0)
			(void)kill(w->jobs[i].pid, SIGTERM);
}

/* handle_signals: what the signalfd says. */
static void
handle_signals(struct worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(w);
			break;
		case SIGHUP:
			reload(w);
			break;
		case SIGTERM:
		case SIGINT:
			begin_stop(w);
			break;
		}
	}
}

/* notify_status: tell systemd what is going on. */
static void
notify_status(struct worker *w)
{
	char status[1024];
	bool first = true;
	int n = snprintf(status, sizeof(status), "STATUS=%zu running, %zu queued", jobs_running(w),
	                 w->incoming.nfiles);

	for (size_t i = 0; i < w->njobs && n > 0 && (size_t)n < sizeof(status) - 200; i++) {
		char summary[160] = "";
		size_t len;
		char *text;

		if (w->jobs[i].pid <= 0)
			continue;
		/* What the job's child last wrote of its progress (progress_view.h). */
		text = progress_view_read(w->jobs[i].claim.job_fd, &len);
		if (text != NULL && !progress_view_summary(text, len, summary, sizeof(summary)))
			summary[0] = '\0';
		free(text);
		n += snprintf(status + n, sizeof(status) - (size_t)n, "%s %s (%s%s%s)",
		              first ? "; jobs:" : ",", w->jobs[i].claim.job_id, w->jobs[i].target,
		              summary[0] != '\0' ? ": " : "", summary);
		first = false;
	}
	notify_send(status);
}

/*
 * tidy_targets: at start, remove what interrupted swaps left on each swap target's server
 * (restore_tidy), holding the target's lock; a target another worker holds is its business.
 */
static void
tidy_targets(struct worker *w)
{
	for (size_t i = 0; i < w->config->ntargets; i++) {
		const struct config_target *ct = &w->config->targets[i];
		struct restore_target t;
		struct report report;
		char err[1024];
		int lock;

		if (ct->strategy != RESTORE_STRATEGY_SWAP)
			continue;
		lock = spool_lock_target(&w->spool, ct->name);
		if (lock < 0)
			continue;
		config_restore_target(ct, &t);
		if (report_init(&report, "", "", ct->name, false) < 0) {
			spool_unlock(lock);
			continue;
		}
		notify_send("STATUS=removing what interrupted swaps left behind");
		if (restore_tidy(&t, true, &report, err, sizeof(err)) < 0)
			log_line(LOG_PRIORITY_WARNING, NULL,
			         "target %s: cannot look for databases an interrupted swap left "
			         "behind: %s",
			         ct->name, err);
		for (size_t k = 0; k < report.nwarnings; k++)
			log_line(LOG_PRIORITY_WARNING, NULL, "target %s: %s", ct->name,
			         report.warnings[k]);
		report_free(&report);
		spool_unlock(lock);
	}
}

/* worker_setup: everything run needs before its loop; 0 or -1 (logged). */
static int
worker_setup(struct worker *w)
{
	char err[1024];
	sigset_t mask;
	uint64_t usec;

	if (w->config->spool_dir == NULL) {
		log_line(LOG_PRIORITY_ERROR, NULL, "%s: run needs spool_dir", w->config_path);
		return -1;
	}
	if (spool_open(w->config->spool_dir, &w->spool, err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL, "%s", err);
		return -1;
	}
	metrics_open(&w->metrics, w->config->spool_dir);
	metrics_update(&w->metrics, w->config, 0, 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	w->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (w->signal_fd < 0 ||
	    incoming_open(&w->incoming, w->spool.incoming_fd, w->config->spool_dir) < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL, "cannot set up signals and inotify: %s",
		         strerror(errno));
		return -1;
	}
	/* Watches first, then the first scan: nothing dropped in between is missed. */
	incoming_watch(&w->incoming, "");
	setup_targets(w);
	usec = notify_watchdog_usec();
	w->watchdog_interval = usec > 0 ? (double)usec / 2e6 : 0;
	w->need_scan = true;
	return 0;
}

int
daemon_run(const char *config_path, struct config *config)
{
	struct worker w;
	int status = 0;

	memset(&w, 0, sizeof(w));
	w.config_path = config_path;
	w.config = config;
	w.signal_fd = w.incoming.inotify_fd = w.metrics.spool_fd = -1;
	w.pid = getpid();
	if (worker_setup(&w) < 0) {
		status = 2;
		goto done;
	}
	log_line(LOG_PRIORITY_INFO, NULL, "watching %s/incoming (%zu target%s, %d at a time)",
	         config->spool_dir, w.config->ntargets, w.config->ntargets == 1 ? "" : "s",
	         w.config->max_parallel_jobs);
	for (size_t i = 0; i < w.config->ntargets; i++) {
		char conninfo[512];

		config_conninfo_redact(w.config->targets[i].database, conninfo, sizeof(conninfo));
		log_line(LOG_PRIORITY_INFO, NULL, "target %s: database \"%s\", blob_dir %s",
		         w.config->targets[i].name, conninfo, w.config->targets[i].blob_dir);
	}
	notify_send("READY=1");
	tidy_targets(&w);
	for (;;) {
		struct pollfd fds[2] = {{w.signal_fd, POLLIN, 0},
		                        {w.incoming.inotify_fd, POLLIN, 0}};
		double t = now(), wake, timeout;

		if (!w.stopping && (w.need_scan || t >= w.next_rescan)) {
			if (t >= w.next_rescan) {
				adopt_orphans(&w);
				prune(&w);
				w.next_rescan = t + w.config->rescan_seconds;
			}
			w.need_scan = false;
			incoming_scan(&w.incoming, t);
		}
		wake = start_ready(&w);
		notify_status(&w);
		metrics_update(&w.metrics, w.config, w.incoming.nfiles, jobs_running(&w));
		if (w.stopping && jobs_running(&w) == 0)
			break;
		if (w.stopping && t > w.stop_deadline)
			for (size_t i = 0; i < w.njobs; i++)
				if (w.jobs[i].pid > 0)
					(void)kill(w.jobs[i].pid, SIGKILL);
		timeout = w.next_rescan - t;
		if (wake >= 0 && wake < timeout)
			timeout = wake;
		if (w.stopping)
			timeout = 0.2;
		else if (jobs_running(&w) > 0 && timeout > PROGRESS_STATUS_SECONDS)
			timeout =
			    PROGRESS_STATUS_SECONDS; /* systemd's STATUS follows the progress */
		if (w.watchdog_interval > 0) {
			if (t >= w.next_watchdog) {
				notify_send("WATCHDOG=1");
				w.next_watchdog = t + w.watchdog_interval;
			}
			if (w.next_watchdog - t < timeout)
				timeout = w.next_watchdog - t;
		}
		if (timeout < 0.01)
			timeout = 0.01;
		if (poll(fds, 2, (int)(timeout * 1000) + 1) < 0 && errno != EINTR)
			break;
		handle_signals(&w);
		if (incoming_read_events(&w.incoming, now()))
			w.need_scan = true;
	}
	/* Jobs adopted but never started stay in active/ for the next start. */
	for (size_t i = 0; i < w.njobs; i++)
		spool_release(&w.jobs[i].claim);
	while (w.njobs > 0)
		job_remove(&w, &w.jobs[w.njobs - 1]);
	log_line(LOG_PRIORITY_INFO, NULL, "stopped");
done:
	if (w.signal_fd >= 0)
		(void)close(w.signal_fd);
	incoming_close(&w.incoming);
	metrics_close(&w.metrics);
	spool_close(&w.spool);
	free(w.jobs);
	config_free(w.config);
	return status;
}
