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
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blobstore.h"
#include "config.h"
#include "database.h"
#include "io.h"
#include "job.h"
#include "json.h"
#include "notify.h"
#include "report.h"
#include "restore.h"
#include "spool.h"

#define STOP_GRACE  20.0 /* seconds before a child that ignores SIGTERM is killed */
#define MAX_WATCHES 256

/* A file waiting in incoming/. */
struct candidate {
	char folder[80]; /* "" or the incoming/<folder>/ it is in */
	char name[SPOOL_NAME_MAX + 1];
	off_t size;
	struct timespec mtime;
	ino_t ino;
	double stable_since; /* monotonic time of its last change */
	bool moved_in;       /* arrived by rename(): complete */
	bool writing;        /* inotify saw it written and not yet closed */
	bool seen;
};

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
	int signal_fd, inotify_fd;
	struct {
		int wd;
		char folder[80];
	} watches[MAX_WATCHES];
	size_t nwatches;
	struct candidate *cands;
	size_t ncands;
	struct job *jobs;
	size_t njobs, jobs_cap;
	pid_t pid; /* the worker itself */
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

/* watch_add: watch incoming/[folder] for arrivals. */
static void
watch_add(struct worker *w, const char *folder)
{
	char path[PATH_MAX];
	int wd;

	for (size_t i = 0; i < w->nwatches; i++)
		if (strcmp(w->watches[i].folder, folder) == 0)
			return;
	if (w->nwatches == MAX_WATCHES)
		return; /* the periodic rescan still finds what is dropped there */
	snprintf(path, sizeof(path), "%s/incoming%s%s", w->config->spool_dir,
	         folder[0] != '\0' ? "/" : "", folder);
	wd = inotify_add_watch(w->inotify_fd, path,
	                       IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR |
	                           IN_DONT_FOLLOW);
	if (wd < 0) {
		log_line(LOG_PRIORITY_WARNING, NULL, "cannot watch %s: %s (relying on rescans)",
		         path, strerror(errno));
		return;
	}
	w->watches[w->nwatches].wd = wd;
	snprintf(w->watches[w->nwatches].folder, sizeof(w->watches[0].folder), "%s", folder);
	w->nwatches++;
}

/* candidate_find: the candidate folder/name, or NULL. */
static struct candidate *
candidate_find(struct worker *w, const char *folder, const char *name)
{
	for (size_t i = 0; i < w->ncands; i++)
		if (strcmp(w->cands[i].folder, folder) == 0 && strcmp(w->cands[i].name, name) == 0)
			return &w->cands[i];
	return NULL;
}

/* candidate_note: record (or refresh) a file seen in incoming/[folder]. */
static void
candidate_note(struct worker *w, const char *folder, const char *name, const struct stat *st,
               double t)
{
	struct candidate *c = candidate_find(w, folder, name);

	if (c == NULL) {
		struct candidate *grown = realloc(w->cands, (w->ncands + 1) * sizeof(*grown));

		if (grown == NULL)
			return;
		w->cands = grown;
		c = &w->cands[w->ncands++];
		memset(c, 0, sizeof(*c));
		snprintf(c->folder, sizeof(c->folder), "%s", folder);
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->stable_since = t;
	} else if (c->size != st->st_size || c->ino != st->st_ino ||
	           c->mtime.tv_sec != st->st_mtim.tv_sec ||
	           c->mtime.tv_nsec != st->st_mtim.tv_nsec) {
		/*
		 * Still being written, or written again in place, or replaced: whatever mark of
		 * completeness it had is void (a new rename brings a new one).
		 */
		c->stable_since = t;
		c->moved_in = false;
	}
	c->size = st->st_size;
	c->ino = st->st_ino;
	c->mtime = st->st_mtim;
	c->seen = true;
}

/* scan_folder: note every candidate in incoming/[folder]; subfolders of incoming/ too. */
static void
scan_folder(struct worker *w, const char *folder, double t)
{
	DIR *dir = io_opendir(w->spool.incoming_fd, folder[0] != '\0' ? folder : ".");
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;

		if (spool_name_ignored(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (folder[0] == '\0' &&
			    strlen(de->d_name) < sizeof(w->watches[0].folder)) {
				watch_add(w, de->d_name);
				scan_folder(w, de->d_name, t);
			}
			continue;
		}
		candidate_note(w, folder, de->d_name, &st, t);
	}
	(void)closedir(dir);
}

/* scan: refresh the candidates from incoming/; forget those that went away. */
static void
scan(struct worker *w)
{
	double t = now();
	size_t i, kept = 0;

	for (i = 0; i < w->ncands; i++)
		w->cands[i].seen = false;
	scan_folder(w, "", t);
	for (i = 0; i < w->ncands; i++)
		if (w->cands[i].seen)
			w->cands[kept++] = w->cands[i];
	w->ncands = kept;
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
	(void)close(w->inotify_fd);
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
		if (job_file_outcome(&env, &claim, target, NULL))
			continue;
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
start_candidate(struct worker *w, const struct candidate *c)
{
	struct job_env env = worker_env(w);
	char job_id[37], tbuf[80], why[512], err[512];
	const char *target;
	struct job *job;
	struct stat st;
	int dir_fd, lock = -1, rc;
	bool refused = false;

	dir_fd = c->folder[0] == '\0'
	             ? openat(w->spool.incoming_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
	             : openat(w->spool.incoming_fd, c->folder,
	                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0)
		return true;
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
		job_remove(w, job);
		return true;
	}
	job_start(w, job); /* non-regular files are refused by the child, with a report */
	return true;
}

/*
 * open_for_writing: does some process still hold folder/name open for writing? A read lease
 * is refused (EAGAIN) exactly then. Taking one needs the file's owner or CAP_LEASE; without
 * them the answer is "not known" (false) and the settle time and inotify decide alone.
 */
static bool
open_for_writing(struct worker *w, const struct candidate *c)
{
	int dir_fd = c->folder[0] == '\0'
	                 ? openat(w->spool.incoming_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
	                 : openat(w->spool.incoming_fd, c->folder,
	                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool writing = false;
	int fd;

	if (dir_fd < 0)
		return false;
	fd = openat(dir_fd, c->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	(void)close(dir_fd);
	if (fd < 0)
		return false;
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0)
		(void)fcntl(fd, F_SETLEASE, F_UNLCK);
	else
		writing = errno == EAGAIN;
	(void)close(fd);
	return writing;
}

/*
 * candidate_changed: has the file changed since it was last seen (written again in place
 * while it waited for its target, say)? Then it is noted as changed and must settle again.
 */
static bool
candidate_changed(struct worker *w, struct candidate *c, double t)
{
	struct stat st;
	int dir_fd = c->folder[0] == '\0'
	                 ? openat(w->spool.incoming_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
	                 : openat(w->spool.incoming_fd, c->folder,
	                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool changed;

	if (dir_fd < 0)
		return false;
	if (fstatat(dir_fd, c->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		(void)close(dir_fd);
		return false; /* gone: the claim finds out */
	}
	(void)close(dir_fd);
	changed = c->size != st.st_size || c->ino != st.st_ino ||
	          c->mtime.tv_sec != st.st_mtim.tv_sec || c->mtime.tv_nsec != st.st_mtim.tv_nsec;
	if (changed)
		candidate_note(w, c->folder, c->name, &st, t);
	return changed;
}

/* start_ready: start what is ready, oldest first, within max_parallel_jobs. */
static double
start_ready(struct worker *w)
{
	double t = now(), wake = -1;
	size_t i = 0;

	start_waiting(w);
	while (i < w->ncands) {
		struct candidate *c = &w->cands[i];
		double ready_at =
		    c->moved_in ? c->stable_since : c->stable_since + w->config->settle_seconds;

		if (w->stopping || jobs_running(w) >= (size_t)w->config->max_parallel_jobs)
			return 0.5;
		if (ready_at > t || (!c->moved_in && c->writing)) {
			if (ready_at > t && (wake < 0 || ready_at - t < wake))
				wake = ready_at - t;
			i++;
			continue;
		}
		if (candidate_changed(w, c, t) || open_for_writing(w, c)) {
			c->stable_since = t; /* its writer paused: wait for it to close */
			wake = wake < 0 || wake > 0.5 ? 0.5 : wake;
			i++;
			continue;
		}
		if (start_candidate(w, c)) {
			memmove(c, c + 1, (w->ncands - i - 1) * sizeof(*c));
			w->ncands--;
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
		watch_add(w, w->config->targets[i].name);
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

/*
 * inotify_note: what an event says of a file. Arrivals by rename are complete at once; a
 * file created or written in place is being written until it is closed.
 */
static void
inotify_note(struct worker *w, const char *folder, const struct inotify_event *ev)
{
	char path[PATH_MAX];
	struct candidate *c;
	struct stat st;

	snprintf(path, sizeof(path), "%s/incoming/%s%s%s", w->config->spool_dir, folder,
	         folder[0] != '\0' ? "/" : "", ev->name);
	if (lstat(path, &st) < 0 || S_ISDIR(st.st_mode))
		return;
	candidate_note(w, folder, ev->name, &st, now());
	c = candidate_find(w, folder, ev->name);
	if (c == NULL)
		return;
	if ((ev->mask & IN_MOVED_TO) != 0) {
		c->moved_in = true;
		c->writing = false;
	} else if ((ev->mask & (IN_CREATE | IN_MODIFY)) != 0) {
		c->writing = true;
		c->stable_since = now();
	} else if ((ev->mask & IN_CLOSE_WRITE) != 0) {
		c->writing = false;
		c->stable_since = now();
	}
}

/* handle_inotify: what was dropped. */
static void
handle_inotify(struct worker *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			/* A write updates its own candidate; anything else may be new. */
			if ((ev->mask & ~(unsigned)IN_MODIFY) != 0)
				w->need_scan = true;
			if ((ev->mask & IN_Q_OVERFLOW) != 0 || ev->len == 0)
				continue;
			if (spool_name_ignored(ev->name) || (ev->mask & IN_ISDIR) != 0)
				continue;
			for (size_t i = 0; i < w->nwatches; i++) {
				if (w->watches[i].wd == ev->wd)
					inotify_note(w, w->watches[i].folder, ev);
			}
		}
	}
}

/* notify_status: tell systemd what is going on. */
static void
notify_status(struct worker *w)
{
	char status[512];
	int n = snprintf(status, sizeof(status), "STATUS=%zu running, %zu queued", jobs_running(w),
	                 w->ncands);

	for (size_t i = 0; i < w->njobs && n > 0 && (size_t)n < sizeof(status) - 48; i++)
		if (w->jobs[i].pid > 0)
			n += snprintf(status + n, sizeof(status) - (size_t)n, "%s %s (%s)",
			              i == 0 ? "; jobs:" : ",", w->jobs[i].claim.job_id,
			              w->jobs[i].target);
	notify_send(status);
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
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	w->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->signal_fd < 0 || w->inotify_fd < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL, "cannot set up signals and inotify: %s",
		         strerror(errno));
		return -1;
	}
	/* Watches first, then the first scan: nothing dropped in between is missed. */
	watch_add(w, "");
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
	w.signal_fd = w.inotify_fd = -1;
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
	for (;;) {
		struct pollfd fds[2] = {{w.signal_fd, POLLIN, 0}, {w.inotify_fd, POLLIN, 0}};
		double t = now(), wake, timeout;

		if (!w.stopping && (w.need_scan || t >= w.next_rescan)) {
			if (t >= w.next_rescan) {
				adopt_orphans(&w);
				prune(&w);
				w.next_rescan = t + w.config->rescan_seconds;
			}
			w.need_scan = false;
			scan(&w);
		}
		wake = start_ready(&w);
		notify_status(&w);
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
		handle_inotify(&w);
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
	if (w.inotify_fd >= 0)
		(void)close(w.inotify_fd);
	spool_close(&w.spool);
	free(w.cands);
	free(w.jobs);
	config_free(w.config);
	return status;
}
