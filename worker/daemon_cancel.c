/*
 * daemon_cancel.c - the worker's side of restore-worker cancel: the requests in the spool's
 * cancel/ folder (spool_cancel.c), watched with inotify, looked at before any job is started
 * and, while one is still pending, again every CANCEL_PENDING_SECONDS.
 *
 * A request's job is looked for where it may be, in the order a job moves on:
 *  - one of this worker's jobs: one not started (adopted and waiting for its target or a slot)
 *    is filed cancelled at once; a running one still restoring gets SIGUSR1 (once), which
 *    stops its restore as SIGTERM does, and its child, which knows why, files it cancelled
 *    after the rollback (job_child.c); one committing or later is past help: the request is
 *    dropped and the job goes on;
 *  - a job file submit-<id>.yaml waiting in incoming/ or incoming/<folder>/: claimed as any
 *    job is, so no worker can start it meanwhile, and filed cancelled at once;
 *  - in active/ and not this worker's: another worker's (which handles the request itself),
 *    or one whose worker died, adopted at the next rescan and then filed here before it could
 *    start again; the request stays;
 *  - filed in done/ or failed/, or nowhere: the request is dropped.
 * A request outlives the worker, so a cancelled job never runs again, also across a restart.
 *
 * Diagnostics: one line per event on stderr, with the job id (notify.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_parts.h"
#include "io.h"
#include "job.h"
#include "jobfile.h"
#include "metrics.h"
#include "notify.h"

#define CANCEL_PENDING_SECONDS 0.5 /* a request not yet settled is looked at again this often */

void
daemon_cancel_open(struct worker *w)
{
	char err[512], path[4200];

	w->cancel_due = true;
	w->cancel_fd = spool_cancel_open(&w->spool, true, err, sizeof(err));
	if (w->cancel_fd < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL,
		         "%s: restore-worker cancel cannot reach this worker", err);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", w->spool.dir, SPOOL_CANCEL_DIR);
	w->cancel_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->cancel_watch < 0 ||
	    inotify_add_watch(w->cancel_watch, path,
	                      IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW) < 0)
		log_line(LOG_PRIORITY_WARNING, NULL,
		         "cannot watch %s: %s (looking at it every rescan_seconds instead)", path,
		         strerror(errno));
}

void
daemon_cancel_close(struct worker *w)
{
	if (w->cancel_watch >= 0)
		(void)close(w->cancel_watch);
	if (w->cancel_fd >= 0)
		(void)close(w->cancel_fd);
	w->cancel_watch = w->cancel_fd = -1;
}

void
daemon_cancel_events(struct worker *w)
{
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (w->cancel_watch >= 0 && read(w->cancel_watch, events, sizeof(events)) > 0)
		w->cancel_due = true; /* what arrived is read from the folder itself */
}

/*
 * file_cancelled: file the job of claim (held) in failed/ with a report whose status is
 * cancelled, saying when (a phrase); count it and drop its request.
 */
static void
file_cancelled(struct worker *w, struct spool_claim *claim, const char *target, const char *when)
{
	struct job_env env = {w->config, w->config_path, &w->spool};
	char job_id[37], why[256];

	snprintf(job_id, sizeof(job_id), "%s", claim->job_id);
	snprintf(why, sizeof(why),
	         "cancelled (restore-worker cancel) %s; nothing was restored: the target was left "
	         "as it was",
	         when);
	job_finish_with(&env, claim, target, "cancelled", why);
	metrics_job_filed(&w->metrics, w->config, &w->spool, job_id);
	(void)spool_cancel_forget(w->cancel_fd, job_id);
}

/* cancel_own: the request for one of this worker's jobs; true while it is still pending. */
static bool
cancel_own(struct worker *w, struct job *job)
{
	if (job->pid == 0) {
		file_cancelled(w, &job->claim, job->target[0] != '\0' ? job->target : NULL,
		               "before it started");
		supervise_job_remove(w, job);
		return false;
	}
	(void)spool_claim_reload(&job->claim); /* its child records how far it got */
	if (job->claim.phase >= SPOOL_PHASE_COMMITTING) {
		log_line(LOG_PRIORITY_WARNING, job->claim.job_id,
		         "not cancelled: its restore is past its commit point (%s); it goes on",
		         spool_phase_name(job->claim.phase));
		if (spool_cancel_forget(w->cancel_fd, job->claim.job_id) < 0)
			log_line(LOG_PRIORITY_WARNING, job->claim.job_id,
			         "cannot remove %s/%s/%s: %s", w->spool.dir, SPOOL_CANCEL_DIR,
			         job->claim.job_id, strerror(errno));
		return false;
	}
	if (!job->cancelling) {
		/* SIGUSR1, not SIGTERM: the child must know the job is not to be run again. */
		if (kill(job->pid, SIGUSR1) < 0)
			return true; /* it is ending anyway; filed when reaped */
		job->cancelling = true;
		log_line(LOG_PRIORITY_INFO, job->claim.job_id,
		         "cancelling (restore-worker cancel): its restore stops and rolls back");
	}
	return true; /* until it is filed */
}

/*
 * queued_folder: the incoming/ folder ("" itself, else the subfolder's name, into folder)
 * where name waits; false when it waits nowhere.
 */
static bool
queued_folder(struct worker *w, const char *name, char *folder, size_t folderlen)
{
	DIR *dir;
	struct dirent *de;
	struct stat st;
	bool found = false;

	folder[0] = '\0';
	if (fstatat(w->spool.incoming_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return true;
	dir = io_opendir(w->spool.incoming_fd, ".");
	while (dir != NULL && !found && (de = readdir(dir)) != NULL) {
		int fd;

		if (spool_name_ignored(de->d_name) || strlen(de->d_name) >= folderlen)
			continue;
		fd =
		    openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		found = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (found)
			snprintf(folder, folderlen, "%s", de->d_name);
		(void)close(fd);
	}
	if (dir != NULL)
		(void)closedir(dir);
	return found;
}

/* queued_options: a claimed job file's dry_run and db_only into its claim, for its report. */
static void
queued_options(struct spool_claim *claim)
{
	struct jobfile jf;
	char why[256];
	size_t len;
	char *text = io_read_small(claim->job_fd, claim->name, JOBFILE_MAX, &len);

	if (text != NULL && jobfile_parse(claim->name, text, len, &jf, why, sizeof(why)) == 0) {
		claim->dry_run = jf.dry_run;
		claim->db_only = jf.db_only;
		jobfile_free(&jf);
	}
	free(text);
}

/*
 * cancel_queued: the request for job_id when its job file waits in incoming/: claim it and
 * file it cancelled. 0 filed, 1 still pending (another worker took it first, or the claim
 * failed: logged when the reason is new), -1 no such file.
 */
static int
cancel_queued(struct worker *w, const char *job_id)
{
	static char last_err[512];
	struct job_env env = {w->config, w->config_path, &w->spool};
	struct spool_claim claim;
	struct stat st;
	char name[64], folder[80], tbuf[80], why[512], err[512];
	const char *target;
	int rc;

	snprintf(name, sizeof(name), "submit-%s.yaml", job_id);
	if (!queued_folder(w, name, folder, sizeof(folder)))
		return -1;
	rc = spool_claim(&w->spool, folder[0] != '\0' ? folder : NULL, name, job_id, &claim, err,
	                 sizeof(err));
	if (rc != 0) {
		/* Not when another worker made active/<job_id> first: it has the job now. */
		if (rc < 0 && fstatat(w->spool.active_fd, job_id, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		    strcmp(err, last_err) != 0) {
			log_line(LOG_PRIORITY_ERROR, job_id, "cannot cancel the queued job: %s",
			         err);
			snprintf(last_err, sizeof(last_err), "%s", err);
		}
		return 1;
	}
	target = job_target(&env, claim.job_fd, claim.folder, claim.name, tbuf, sizeof(tbuf), why,
	                    sizeof(why));
	queued_options(&claim);
	file_cancelled(w, &claim, target, "while it was queued");
	return 0;
}

/* cancel_one: act on the request for job_id; true while it is still pending. */
static bool
cancel_one(struct worker *w, const char *job_id)
{
	struct stat st;
	int rc;

	for (size_t i = 0; i < w->njobs; i++)
		if (strcmp(w->jobs[i].claim.job_id, job_id) == 0)
			return cancel_own(w, &w->jobs[i]);
	rc = cancel_queued(w, job_id);
	if (rc >= 0)
		return rc > 0;
	if (fstatat(w->spool.active_fd, job_id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return true; /* another worker's, or one adopted at the next rescan */
	/* Filed already (the request is done with), or no such job. */
	(void)spool_cancel_forget(w->cancel_fd, job_id);
	return false;
}

double
daemon_cancel_scan(struct worker *w, double now)
{
	DIR *dir;
	struct dirent *de;
	bool pending = false;

	if (w->cancel_fd < 0)
		return -1;
	if (!w->cancel_due && now < w->cancel_next)
		return w->cancel_next - now;
	w->cancel_due = false;
	dir = io_opendir(w->cancel_fd, ".");
	while (dir != NULL && (de = readdir(dir)) != NULL)
		if (spool_job_id_valid(de->d_name) && cancel_one(w, de->d_name))
			pending = true;
	if (dir != NULL)
		(void)closedir(dir);
	w->cancel_next = now + (pending ? CANCEL_PENDING_SECONDS : w->config->rescan_seconds);
	return w->cancel_next - now;
}
