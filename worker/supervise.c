/*
 * supervise.c - the daemon's jobs (see daemon.c for its loop): start what is ready in its own
 * child process, collect the children that end and file their outcome, and adopt the jobs
 * of a worker that died. The old files a job swapped out are removed in the background
 * (old_files.c), taken in hand before the job is filed.
 *
 * Each job runs in a child process (job_child), so a crash inside the engine on hostile input
 * fails that job, not the worker. The parent holds the job's claim and its target's lock;
 * both are open-file-description locks that the child shares and that die with the last of
 * them. A job whose target is locked waits in incoming/ (or, if it was adopted from a dead
 * worker, in active/); it is not failed.
 *
 * Every job that does not run says why: the reason is logged once when it arises (at error
 * level when the operator must act, a lock or folder the worker cannot use) and kept in the
 * spool's SPOOL_WAITS_FILE for status, rewritten only when a reason changes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "daemon_parts.h"
#include "incoming.h"
#include "io.h"
#include "job.h"
#include "json.h"
#include "metrics.h"
#include "notify.h"
#include "old_files.h"
#include "restore.h"
#include "spool.h"

#define CLAIM_RETRY_SECONDS 2.0 /* a file whose claim failed is tried again this often */

/* wait_note: job key waits for reason; logged at priority (0: not logged) when it is new. */
static void
wait_note(struct worker *w, const char *key, const char *job_id, int priority, const char *reason)
{
	struct wait_note *n = NULL;

	for (size_t i = 0; i < w->nwaits && n == NULL; i++)
		if (strcmp(w->waits[i].key, key) == 0)
			n = &w->waits[i];
	if (n == NULL) {
		struct wait_note *grown = realloc(w->waits, (w->nwaits + 1) * sizeof(*grown));

		if (grown == NULL)
			return;
		w->waits = grown;
		n = &w->waits[w->nwaits++];
		memset(n, 0, sizeof(*n));
		snprintf(n->key, sizeof(n->key), "%s", key);
	}
	n->seen = true;
	if (strcmp(n->reason, reason) == 0)
		return;
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
	w->waits_changed = true;
	if (priority != 0)
		log_line((enum log_priority)priority, job_id, "%s waits: %s", key, reason);
}

/* wait_keep: job key still waits for the reason noted before (if any). */
static void
wait_keep(struct worker *w, const char *key)
{
	for (size_t i = 0; i < w->nwaits; i++)
		if (strcmp(w->waits[i].key, key) == 0)
			w->waits[i].seen = true;
}

/* file_key: the wait key of a file in incoming/. */
static void
file_key(const struct incoming_file *c, char *key, size_t keylen)
{
	snprintf(key, keylen, "incoming/%s%s%s", c->folder, c->folder[0] != '\0' ? "/" : "",
	         c->name);
}

/* waits_save: drop the reasons not noted again, and write them down if they changed. */
static void
waits_save(struct worker *w)
{
	struct json_writer jw = {0};
	size_t kept = 0;
	char err[512], *text;

	for (size_t i = 0; i < w->nwaits; i++)
		if (w->waits[i].seen)
			w->waits[kept++] = w->waits[i];
	if (kept != w->nwaits)
		w->waits_changed = true;
	w->nwaits = kept;
	for (size_t i = 0; i < w->nwaits; i++)
		w->waits[i].seen = false;
	if (!w->waits_changed || w->spool.root_fd < 0)
		return;
	w->waits_changed = false;
	if (w->nwaits == 0) {
		if (unlinkat(w->spool.root_fd, SPOOL_WAITS_FILE, 0) < 0 && errno != ENOENT)
			log_line(LOG_PRIORITY_WARNING, NULL, "cannot remove %s/%s: %s",
			         w->spool.dir, SPOOL_WAITS_FILE, strerror(errno));
		return;
	}
	json_begin_object(&jw);
	for (size_t i = 0; i < w->nwaits; i++) {
		json_key(&jw, w->waits[i].key);
		json_string(&jw, w->waits[i].reason);
	}
	json_end_object(&jw);
	text = json_finish(&jw);
	if (text == NULL || spool_write_atomic(w->spool.root_fd, SPOOL_WAITS_FILE, text,
	                                       strlen(text), err, sizeof(err)) < 0)
		log_line(LOG_PRIORITY_WARNING, NULL, "cannot tell status why jobs wait: %s/%s: %s",
		         w->spool.dir, SPOOL_WAITS_FILE, text == NULL ? "out of memory" : err);
	free(text);
}

void
supervise_waits_clear(struct worker *w)
{
	free(w->waits);
	w->waits = NULL;
	w->nwaits = 0;
	w->waits_changed = false;
	if (w->spool.root_fd >= 0)
		(void)unlinkat(w->spool.root_fd, SPOOL_WAITS_FILE, 0);
}

/*
 * lock_wait: target's lock could not be taken (errno says why): note why the job of key
 * waits. A busy target is the normal course of things; a lock the worker cannot open is not.
 */
static void
lock_wait(struct worker *w, const char *key, const char *job_id, const char *target)
{
	char reason[700], name[SPOOL_NAME_MAX + 1], owner[160];
	int saved = errno;

	snprintf(name, sizeof(name), "%s.lock", target);
	if (saved == EAGAIN) {
		snprintf(reason, sizeof(reason),
		         "target %s is busy: another restore holds %s/locks/%s", target,
		         w->spool.dir, name);
		wait_note(w, key, job_id, LOG_PRIORITY_INFO, reason);
		return;
	}
	spool_describe_owner(w->spool.locks_fd, name, owner, sizeof(owner));
	snprintf(reason, sizeof(reason), "cannot take the lock of target %s: %s/locks/%s (%s): %s",
	         target, w->spool.dir, name, owner, strerror(saved));
	wait_note(w, key, job_id, LOG_PRIORITY_ERROR, reason);
}

/* supervise_jobs_running: the number of jobs with a child process. */
size_t
supervise_jobs_running(const struct worker *w)
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

/* supervise_job_remove: forget a finished job (its claim and lock already released). */
void
supervise_job_remove(struct worker *w, struct job *job)
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

/*
 * keep_only: in a child of the worker, let go of every job's claim and target lock but keep's
 * (NULL: all), and of the worker's signals and watches: another job's lock must not outlive
 * that job.
 */
static void
keep_only(struct worker *w, const struct job *keep)
{
	for (size_t i = 0; i < w->njobs; i++) {
		if (&w->jobs[i] == keep)
			continue;
		spool_release(&w->jobs[i].claim);
		spool_unlock(w->jobs[i].target_lock);
	}
	(void)close(w->signal_fd);
	(void)close(w->incoming.inotify_fd);
	(void)close(w->cancel_watch);
	(void)close(w->cancel_fd);
}

void
supervise_child_release(void *ctx)
{
	keep_only(ctx, NULL);
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
	keep_only(w, job);
	job_child_run(&env, &job->claim, job->target);
}

/* job_start: fork the child of a job whose claim and target lock are held. */
static void
job_start(struct worker *w, struct job *job)
{
	const struct config_target *ct = config_target_find(w->config, job->target);
	struct restore_target t;
	char err[512];
	pid_t pid;

	/* What an earlier attempt left goes first, wherever its claim says it put it. */
	job_remove_leftovers(w->config, &job->claim);
	job->claim.attempts++;
	job->claim.phase = SPOOL_PHASE_RESTORING;
	snprintf(job->claim.target, sizeof(job->claim.target), "%s", job->target);
	snprintf(job->claim.work_dir, sizeof(job->claim.work_dir), "%s", w->config->work_dir);
	if (ct != NULL) {
		config_restore_target(ct, &t);
		restore_target_store_name(&t, job->claim.blob_dir, sizeof(job->claim.blob_dir));
	} else {
		job->claim.blob_dir[0] = '\0';
	}
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
		supervise_job_remove(w, job);
		return;
	}
	/* Its old files, in the background, taken in hand before the job is filed. */
	old_files_remove(claim->blob_dir, supervise_child_release, w);
	(void)job_file_outcome(&env, claim, job->target, &st);
	metrics_job_filed(&w->metrics, w->config, &w->spool, claim->job_id);
	supervise_job_remove(w, job);
}

/* supervise_reap: collect every child that ended. */
void
supervise_reap(struct worker *w)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (old_files_reaped(pid, st))
			continue;
		for (size_t i = 0; i < w->njobs; i++) {
			if (w->jobs[i].pid == pid) {
				job_reaped(w, &w->jobs[i], st);
				break;
			}
		}
	}
}

/* supervise_adopt_orphans: take over jobs in active/ whose worker died. */
void
supervise_adopt_orphans(struct worker *w)
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
			/* Its old files (its claim, not a job's, is let go of by now). */
			old_files_remove(claim.blob_dir, supervise_child_release, w);
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

/* no_free_slot: are max_parallel_jobs jobs running? Then the reason a job waits into buf. */
static bool
no_free_slot(const struct worker *w, char *buf, size_t buflen)
{
	int max = w->config->max_parallel_jobs;

	if (supervise_jobs_running(w) < (size_t)max)
		return false;
	snprintf(buf, buflen, "no free slot: %d job%s run%s (max_parallel_jobs)", max,
	         max == 1 ? "" : "s", max == 1 ? "s" : "");
	return true;
}

/* start_waiting: start adopted jobs whose target is free. */
static void
start_waiting(struct worker *w)
{
	for (size_t i = 0; i < w->njobs && !w->stopping; i++) {
		struct job *job = &w->jobs[i];
		char key[SPOOL_NAME_MAX + 100], reason[200];

		if (job->pid != 0)
			continue;
		snprintf(key, sizeof(key), "active/%s", job->claim.job_id);
		if (no_free_slot(w, reason, sizeof(reason))) {
			wait_note(w, key, job->claim.job_id, 0, reason);
			continue;
		}
		if (job->target[0] != '\0' && job->target_lock < 0) {
			job->target_lock = spool_lock_target(&w->spool, job->target);
			if (job->target_lock < 0) {
				lock_wait(w, key, job->claim.job_id, job->target);
				continue; /* it waits its turn */
			}
		}
		job_start(w, job);
	}
}

/* job_id_for: the id of a job claimed from name: submit's, unless taken; else a new one. */
static void
job_id_for(const struct worker *w, const char *name, char job_id[37])
{
	int fds[3] = {w->spool.active_fd, w->spool.done_fd, w->spool.failed_fd};
	struct stat st;

	if (spool_submit_job_id(name, job_id)) {
		bool taken = false;

		for (int k = 0; k < 3; k++)
			taken = taken || fstatat(fds[k], job_id, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (!taken)
			return;
	}
	restore_new_job_id(job_id);
}

/* start_candidate: claim and start one ready file; false if it must wait (noted why). */
static bool
start_candidate(struct worker *w, struct incoming_file *c, double now)
{
	struct job_env env = worker_env(w);
	char job_id[37], tbuf[80], why[512], err[512], key[SPOOL_NAME_MAX + 100];
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
	file_key(c, key, sizeof(key));
	if (!refused) {
		lock = spool_lock_target(&w->spool, target);
		if (lock < 0) {
			lock_wait(w, key, NULL, target);
			return false; /* it waits its turn */
		}
	}
	job_id_for(w, c->name, job_id);
	job = job_add(w);
	if (job == NULL) {
		spool_unlock(lock);
		wait_note(w, key, NULL, LOG_PRIORITY_ERROR, "the worker is out of memory");
		return false;
	}
	rc = spool_claim(&w->spool, c->folder[0] != '\0' ? c->folder : NULL, c->name, job_id,
	                 &job->claim, err, sizeof(err));
	if (rc != 0) {
		w->njobs--;
		spool_unlock(lock);
		if (rc > 0)
			return true; /* another worker took it */
		/* Tried again now and then: a chown, say, releases it without a restart. */
		c->retry_at = now + CLAIM_RETRY_SECONDS;
		wait_note(w, key, NULL, LOG_PRIORITY_ERROR, err);
		return false;
	}
	job->target_lock = lock;
	snprintf(job->target, sizeof(job->target), "%s", target != NULL ? target : "");
	if (target == NULL && S_ISREG(st.st_mode) && st.st_nlink == 1) {
		job_finish_with(&env, &job->claim, NULL, "rejected", why);
		metrics_job_filed(&w->metrics, w->config, &w->spool, job->claim.job_id);
		supervise_job_remove(w, job);
		return true;
	}
	job_start(w, job); /* non-regular files are refused by the child, with a report */
	return true;
}

/* supervise_start_ready: start what is ready at now, oldest first, within max_parallel_jobs. */
double
supervise_start_ready(struct worker *w, double now)
{
	double t = now, wake = -1;
	char key[SPOOL_NAME_MAX + 100], reason[200];
	size_t i = 0;

	if (w->stopping)
		return 0.5;
	start_waiting(w);
	while (i < w->incoming.nfiles) {
		struct incoming_file *c = &w->incoming.files[i];
		double ready_at = incoming_ready_at(c, w->config->settle_seconds);

		file_key(c, key, sizeof(key));
		if (no_free_slot(w, reason, sizeof(reason))) {
			wait_note(w, key, NULL, 0, reason);
			wake = 0.5;
			i++;
			continue;
		}
		if (ready_at < 0 || ready_at > t) {
			snprintf(reason, sizeof(reason),
			         "arriving: taken once closed and unchanged for %d s "
			         "(settle_seconds)",
			         w->config->settle_seconds);
			wait_note(w, key, NULL, 0, reason);
			if (ready_at > t && (wake < 0 || ready_at - t < wake))
				wake = ready_at - t;
			i++;
			continue;
		}
		if (c->retry_at > t) {
			wait_keep(w, key);
			if (wake < 0 || c->retry_at - t < wake)
				wake = c->retry_at - t;
			i++;
			continue;
		}
		if (incoming_still_busy(&w->incoming, c, t)) {
			wait_note(w, key, NULL, 0, "arriving: somebody still writes it");
			wake = wake < 0 || wake > 0.5 ? 0.5 : wake;
			i++;
			continue;
		}
		if (start_candidate(w, c, t)) {
			incoming_forget(&w->incoming, i);
		} else {
			/* A busy target or a lock it cannot take: look again soon. */
			double again = c->retry_at > t ? c->retry_at - t : 0.5;

			wake = wake < 0 || wake > again ? again : wake;
			i++;
		}
	}
	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].pid == 0)
			wake = wake < 0 || wake > 0.5 ? 0.5 : wake;
	waits_save(w);
	return wake;
}
