/*
 * daemon.c - restore-worker run: restore what is dropped into the spool, for months.
 *
 * The main loop fits on a screen (daemon_run): scan when something may have arrived, start
 * what is ready, sleep in poll() on a signalfd and an inotify descriptor until an event, the
 * next rescan or the watchdog is due. Idle, it wakes only for those.
 *
 * The jobs themselves, their child processes and their filing are supervise.c's.
 *
 * Diagnostics: one line per event on stderr, with the job id (notify.c).
 */
#include "check.h"
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
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon_parts.h"
#include "database.h"
#include "incoming.h"
#include "io.h"
#include "json.h"
#include "metrics.h"
#include "notify.h"
#include "old_files.h"
#include "progress_view.h"
#include "report.h"
#include "restore.h"
#include "spool.h"

#define STOP_GRACE              20.0 /* seconds before a child that ignores SIGTERM is killed */
#define PROGRESS_STATUS_SECONDS 2.0  /* while jobs run, STATUS is redone this often */
#define REMOVAL_GRACE           2.0  /* seconds a removal of old files may go on after SIGTERM */

/* daemon_now: monotonic seconds. */
static double
daemon_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
			if (io_remove_tree(dirfd(dir), de->d_name) == 0)
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
	w->stop_deadline = daemon_now() + STOP_GRACE;
	notify_send("STOPPING=1");
	log_line(LOG_PRIORITY_INFO, NULL, "stopping: interrupting %zu running job%s",
	         supervise_jobs_running(w), supervise_jobs_running(w) == 1 ? "" : "s");
	for (size_t i = 0; i < w->njobs; i++)
		if (w->jobs[i].pid > 0)
			(void)kill(w->jobs[i].pid, SIGTERM);
	old_files_stop(false); /* those running get REMOVAL_GRACE to finish */
}

/* handle_signals: what the signalfd says. */
static void
handle_signals(struct worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			supervise_reap(w);
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
	int n = snprintf(status, sizeof(status), "STATUS=%zu running, %zu queued",
	                 supervise_jobs_running(w), w->incoming.nfiles);

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
 * tidy_targets: at start, remove what interrupted swaps left on each swap target's server and
 * settle the restores into an object store that were stopped midway (restore_tidy), holding
 * the target's lock; a target another worker holds is its business.
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

		if (ct->strategy != RESTORE_STRATEGY_SWAP && ct->s3 == NULL && ct->azure == NULL)
			continue;
		lock = spool_lock_target(&w->spool, ct->name);
		if (lock < 0)
			continue;
		config_restore_target(ct, &t);
		if (report_init(&report, "", "", ct->name, false) < 0) {
			spool_unlock(lock);
			continue;
		}
		notify_send("STATUS=removing what interrupted restores left behind");
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
	/* A folder or lock it cannot use would leave jobs waiting for ever: say so now. */
	if (spool_check_usable(w->config->spool_dir, err, sizeof(err)) < 0 ||
	    spool_open(w->config->spool_dir, &w->spool, err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL, "%s", err);
		return -1;
	}
	supervise_waits_clear(w); /* what a worker killed before us said is stale */
	metrics_open(&w->metrics, w->config->spool_dir);
	metrics_update(&w->metrics, w->config, 0, 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1); /* kept for a job child's handler (job_child.c, cancel) */
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
	daemon_cancel_open(w);
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
	w.spool.root_fd = w.spool.tmp_fd = w.spool.incoming_fd = w.spool.active_fd = -1;
	w.spool.done_fd = w.spool.failed_fd = w.spool.locks_fd = -1;
	w.cancel_fd = w.cancel_watch = -1;
	w.pid = getpid();
	if (worker_setup(&w) < 0) {
		status = 2;
		goto done;
	}
	log_line(LOG_PRIORITY_INFO, NULL, "watching %s/incoming (%zu target%s, %d at a time)",
	         config->spool_dir, w.config->ntargets, w.config->ntargets == 1 ? "" : "s",
	         w.config->max_parallel_jobs);
	for (size_t i = 0; i < w.config->ntargets; i++) {
		char conninfo[512], store[RESTORE_TARGET_STORE_NAME_MAX];
		struct restore_target t;

		config_conninfo_redact(w.config->targets[i].database, conninfo, sizeof(conninfo));
		config_restore_target(&w.config->targets[i], &t);
		log_line(LOG_PRIORITY_INFO, NULL, "target %s: database \"%s\", %s %s",
		         w.config->targets[i].name, conninfo, restore_target_store_kind(&t),
		         restore_target_store_name(&t, store, sizeof(store)));
	}
	notify_send("READY=1");
	(void)check_log(w.config); /* its failures are logged; the daemon goes on */
	tidy_targets(&w);
	/* Old files a removal killed midway (with its worker) left: in the background. */
	for (size_t i = 0; i < w.config->ntargets; i++)
		old_files_remove(w.config->targets[i].blob_dir, supervise_child_release, &w);
	for (;;) {
		struct pollfd fds[3] = {{w.signal_fd, POLLIN, 0},
		                        {w.incoming.inotify_fd, POLLIN, 0},
		                        {w.cancel_watch, POLLIN, 0}};
		double t = daemon_now(), wake, cancel_wake, timeout;

		if (!w.stopping && (w.need_scan || t >= w.next_rescan)) {
			if (t >= w.next_rescan) {
				supervise_adopt_orphans(&w);
				prune(&w);
				/* A worker that died stopped its jobs without writing the file. */
				metrics_invalidate(&w.metrics);
				w.next_rescan = t + w.config->rescan_seconds;
			}
			w.need_scan = false;
			incoming_scan(&w.incoming, t);
		}
		cancel_wake = daemon_cancel_scan(&w, t); /* before a cancelled job could start */
		wake = supervise_start_ready(&w, daemon_now());
		if (cancel_wake >= 0 && (wake < 0 || cancel_wake < wake))
			wake = cancel_wake;
		notify_status(&w);
		metrics_update(&w.metrics, w.config, w.incoming.nfiles, supervise_jobs_running(&w));
		if (w.stopping && t > w.stop_deadline - STOP_GRACE + REMOVAL_GRACE)
			old_files_stop(true); /* what is left goes at the next start */
		if (w.stopping && supervise_jobs_running(&w) == 0 && old_files_running() == 0)
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
		else if (supervise_jobs_running(&w) > 0 && timeout > PROGRESS_STATUS_SECONDS)
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
		if (poll(fds, 3, (int)(timeout * 1000) + 1) < 0 && errno != EINTR)
			break;
		handle_signals(&w);
		daemon_cancel_events(&w);
		if (incoming_read_events(&w.incoming, daemon_now()))
			w.need_scan = true;
	}
	/* Jobs adopted but never started stay in active/ for the next start. */
	for (size_t i = 0; i < w.njobs; i++)
		spool_release(&w.jobs[i].claim);
	while (w.njobs > 0)
		supervise_job_remove(&w, &w.jobs[w.njobs - 1]);
	supervise_waits_clear(&w);
	log_line(LOG_PRIORITY_INFO, NULL, "stopped");
done:
	if (w.signal_fd >= 0)
		(void)close(w.signal_fd);
	incoming_close(&w.incoming);
	daemon_cancel_close(&w);
	metrics_close(&w.metrics);
	spool_close(&w.spool);
	free(w.waits);
	free(w.jobs);
	config_free(w.config);
	return status;
}
