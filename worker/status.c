/*
 * status.c - list the spool's jobs (restore-worker status).
 *
 * It only reads the spool: it never moves or locks a job, so it is safe next to a running
 * worker, and it creates nothing (a spool not made yet is empty).
 *
 * A job is listed by the archive it restores (a job file's archive, not the job file), with
 * its own target, marked when it is a rehearsal, and, while it waits, with the reason the
 * worker gave (SPOOL_WAITS_FILE). submit (submit.c) names its job file submit-<job id>.yaml
 * and the worker gives the job that id, so the id submit prints is the one status shows.
 * One job is looked up where it can be, not by listing them all: status JOB_ID, and
 * status_job_find for submit --wait and cancel, which ask again and again.
 */
#include "status.h"
#include "status_parts.h"

#include <jansson.h> /* before json.h: see there */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "io.h"
#include "json.h"
#include "jobfile.h"
#include "progress_view.h"
#include "report.h"
#include "restore.h"
#include "spool.h"

const char *const status_state_names[] = {"queued", "active", "done", "failed"};

/* entry_new: room for one more entry (zeroed), or NULL. */
static struct entry *
entry_new(struct listing *l, enum entry_state state)
{
	struct entry *grown = realloc(l->entries, (l->n + 1) * sizeof(*grown));

	if (grown == NULL)
		return NULL;
	l->entries = grown;
	memset(&grown[l->n], 0, sizeof(grown[0]));
	grown[l->n].state = state;
	return &grown[l->n++];
}

/* wait_reason: the worker's reason why key waits, or NULL. */
static const char *
wait_reason(const struct listing *l, const char *key)
{
	return json_member_find(l->waits, l->nwaits, key);
}

/*
 * read_jobfile: when e's dropped file (in dir_fd) is a job file, take its archive, and its
 * target and dry_run if it says; else the archive is the dropped file itself.
 */
static void
read_jobfile(struct entry *e, int dir_fd)
{
	struct jobfile job;
	char why[512];
	size_t len;
	char *text;

	snprintf(e->archive, sizeof(e->archive), "%s", e->name);
	if (!spool_name_is_jobfile(e->name))
		return;
	text = io_read_small(dir_fd, e->name, JOBFILE_MAX, &len);
	if (text != NULL && jobfile_parse(e->name, text, len, &job, why, sizeof(why)) == 0) {
		snprintf(e->archive, sizeof(e->archive), "%s", job.archive);
		if (job.target != NULL)
			snprintf(e->target, sizeof(e->target), "%s", job.target);
		e->dry_run = job.dry_run;
		jobfile_free(&job);
	}
	free(text);
}

/* default_target: what a file dropped in incoming/[folder] is restored into. */
static const char *
default_target(const struct listing *l, const char *folder)
{
	return folder[0] != '\0'                   ? folder
	       : l->config->default_target != NULL ? l->config->default_target
	                                           : "";
}

/* add_queued: the file name waiting in incoming/[folder/] (open as dir_fd), st its lstat. */
static void
add_queued(struct listing *l, int dir_fd, const char *folder, const char *name,
           const struct stat *st)
{
	char key[SPOOL_NAME_MAX + 100];
	struct entry *e = entry_new(l, ENTRY_QUEUED);

	if (e == NULL)
		return;
	e->time = st->st_ctim; /* a rename sets it: when it arrived */
	snprintf(e->folder, sizeof(e->folder), "%s", folder);
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (!spool_submit_job_id(e->name, e->job_id))
		e->job_id[0] = '\0';
	if (S_ISREG(st->st_mode))
		read_jobfile(e, dir_fd);
	else
		snprintf(e->archive, sizeof(e->archive), "%s", e->name);
	if (e->target[0] == '\0')
		snprintf(e->target, sizeof(e->target), "%s", default_target(l, folder));
	snprintf(key, sizeof(key), "incoming/%s%s%s", folder, folder[0] != '\0' ? "/" : "", name);
	e->waiting = wait_reason(l, key);
}

/*
 * list_queued: the files waiting in incoming/ and incoming/<target>/; with only (a name), that
 * file alone, wherever it waits.
 */
static void
list_queued(struct listing *l, int incoming_fd, const char *folder, const char *only)
{
	DIR *dir = io_opendir(incoming_fd, folder[0] != '\0' ? folder : ".");
	struct dirent *de;
	struct stat st;

	if (dir == NULL)
		return;
	if (only != NULL && fstatat(dirfd(dir), only, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISDIR(st.st_mode)) {
		add_queued(l, dirfd(dir), folder, only, &st);
		(void)closedir(dir);
		return;
	}
	while ((de = readdir(dir)) != NULL && (only == NULL || l->n == 0)) {
		if (spool_name_ignored(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (folder[0] == '\0' && strlen(de->d_name) < sizeof(l->entries->folder))
				list_queued(l, incoming_fd, de->d_name, only);
			continue;
		}
		if (only == NULL)
			add_queued(l, dirfd(dir), folder, de->d_name, &st);
	}
	(void)closedir(dir);
}

/* add_active: the job in active/ (its folder open as job_fd). */
static void
add_active(struct listing *l, struct entry *e, int job_fd)
{
	char key[SPOOL_NAME_MAX + 100];
	struct spool_claim claim;
	struct stat st;

	(void)spool_claim_peek(job_fd, &claim, &e->running);
	snprintf(e->name, sizeof(e->name), "%s", claim.name);
	read_jobfile(e, job_fd);
	/* Not started yet: the job file's target, else that of the folder it was dropped in. */
	if (claim.target[0] != '\0')
		snprintf(e->target, sizeof(e->target), "%s", claim.target);
	else if (e->target[0] == '\0')
		snprintf(e->target, sizeof(e->target), "%s", default_target(l, claim.folder));
	e->dry_run = e->dry_run || claim.dry_run;
	e->attempts = claim.attempts;
	e->phase = claim.phase;
	snprintf(e->claim_status, sizeof(e->claim_status), "%s", claim.status);
	if (claim.started_at_ms > 0) {
		e->time.tv_sec = (time_t)(claim.started_at_ms / 1000);
		e->time.tv_nsec = (long)(claim.started_at_ms % 1000) * 1000000L;
	} else if (fstat(job_fd, &st) == 0) {
		e->time = st.st_mtim;
	}
	if (e->running)
		e->progress = progress_view_read(job_fd, &e->progress_len);
	snprintf(key, sizeof(key), "active/%s", e->job_id);
	e->waiting = e->running && e->progress != NULL ? NULL : wait_reason(l, key);
}

/* status_report_text: member key of a finished job's report when it is a string, else NULL. */
const char *
status_report_text(const struct entry *e, const char *key)
{
	return json_string_value(json_object_get(e->report, key));
}

/* add_finished: the job in done/ or failed/ (its folder open as job_fd). */
static void
add_finished(struct entry *e, int job_fd)
{
	char why[256];
	const char *source, *target, *finished;
	struct stat st;
	struct tm tm;
	size_t len;
	char *text = io_read_small(job_fd, "report.json", SPOOL_REPORT_MAX, &len);

	if (fstat(job_fd, &st) == 0)
		e->time = st.st_mtim; /* the report's finished_at, below, when there is one */
	e->report = text != NULL ? json_parse(text, len, why, sizeof(why)) : NULL;
	free(text);
	source = status_report_text(e, "source");
	target = status_report_text(e, "target");
	finished = status_report_text(e, "finished_at");
	snprintf(e->name, sizeof(e->name), "%s", source != NULL ? source : "?");
	snprintf(e->target, sizeof(e->target), "%s", target != NULL ? target : "?");
	if (source != NULL)
		read_jobfile(e, job_fd);
	else
		snprintf(e->archive, sizeof(e->archive), "?");
	e->dry_run = json_is_true(json_object_get(e->report, "dry_run"));
	memset(&tm, 0, sizeof(tm));
	if (finished != NULL && strptime(finished, "%Y-%m-%dT%H:%M:%S", &tm) != NULL) {
		e->time.tv_sec = timegm(&tm);
		e->time.tv_nsec = strlen(finished) >= 23 ? atol(finished + 20) * 1000000L : 0;
	}
}

/* add_job: the job folder name in active/, done/ or failed/ (parent_fd); false if none. */
static bool
add_job(struct listing *l, int parent_fd, const char *name, enum entry_state state)
{
	struct entry *e;
	int job_fd;

	if (name[0] == '.' || strlen(name) >= sizeof(e->job_id))
		return false;
	job_fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (job_fd < 0)
		return false;
	e = entry_new(l, state);
	if (e != NULL) {
		snprintf(e->job_id, sizeof(e->job_id), "%.36s", name);
		if (state == ENTRY_ACTIVE)
			add_active(l, e, job_fd);
		else
			add_finished(e, job_fd);
	}
	(void)close(job_fd);
	return e != NULL;
}

/* list_jobs: the job folders in active/, done/ or failed/. */
static void
list_jobs(struct listing *l, int parent_fd, enum entry_state state)
{
	DIR *dir = io_opendir(parent_fd, ".");
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL)
		(void)add_job(l, dirfd(dir), de->d_name, state);
	(void)closedir(dir);
}

/* entry_compare: by time, oldest first (qsort). */
static int
entry_compare(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->time.tv_sec != y->time.tv_sec)
		return x->time.tv_sec < y->time.tv_sec ? -1 : 1;
	if (x->time.tv_nsec != y->time.tv_nsec)
		return x->time.tv_nsec < y->time.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * listing_load: the jobs of the spool (open as sp) into l, or job_id's alone (unless NULL),
 * looked for in the order a job moves on (incoming/, active/, then done/ or failed/), so that
 * one moving meanwhile is found all the same.
 */
void
listing_load(struct listing *l, const struct spool *sp, const char *job_id)
{
	char name[64], err[256], *text;
	size_t len;

	text = sp->root_fd >= 0 ? io_read_small(sp->root_fd, SPOOL_WAITS_FILE, JSON_TEXT_MAX, &len)
	                        : NULL;
	if (text != NULL &&
	    json_parse_members(text, len, &l->waits, &l->nwaits, err, sizeof(err)) < 0)
		l->waits = NULL, l->nwaits = 0;
	free(text);
	if (job_id != NULL) {
		if (!spool_job_id_valid(job_id))
			return; /* no job has that name, and it must not name a path */
		snprintf(name, sizeof(name), "submit-%s.yaml", job_id);
		if (sp->incoming_fd >= 0)
			list_queued(l, sp->incoming_fd, "", name);
		if (l->n == 0 && sp->active_fd >= 0)
			(void)add_job(l, sp->active_fd, job_id, ENTRY_ACTIVE);
		if (l->n == 0 && sp->done_fd >= 0)
			(void)add_job(l, sp->done_fd, job_id, ENTRY_DONE);
		if (l->n == 0 && sp->failed_fd >= 0)
			(void)add_job(l, sp->failed_fd, job_id, ENTRY_FAILED);
		return;
	}
	if (sp->incoming_fd >= 0)
		list_queued(l, sp->incoming_fd, "", NULL);
	if (sp->active_fd >= 0)
		list_jobs(l, sp->active_fd, ENTRY_ACTIVE);
	if (sp->done_fd >= 0)
		list_jobs(l, sp->done_fd, ENTRY_DONE);
	if (sp->failed_fd >= 0)
		list_jobs(l, sp->failed_fd, ENTRY_FAILED);
	if (l->n > 1)
		qsort(l->entries, l->n, sizeof(l->entries[0]), entry_compare);
}

/* listing_free: release what listing_load took. */
void
listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->entries[i].progress);
		if (l->entries[i].report != NULL)
			json_decref(l->entries[i].report);
	}
	free(l->entries);
	json_members_free(l->waits, l->nwaits);
}

int
status_job_find(const struct config *config, const char *job_id, struct status_job *job, char *err,
                size_t errlen)
{
	struct listing l = {.config = config};
	const struct entry *e;
	struct spool sp;
	const char *v;

	memset(job, 0, sizeof(*job));
	if (spool_open_existing(config->spool_dir, &sp, err, errlen) < 0)
		return -1;
	listing_load(&l, &sp, job_id);
	if (l.n > 0) {
		e = &l.entries[0];
		job->state = status_state_names[e->state];
		job->running = e->running;
		job->phase = e->phase;
		job->attempts = e->attempts;
		snprintf(job->target, sizeof(job->target), "%s", e->target);
		snprintf(job->waiting, sizeof(job->waiting), "%s",
		         e->waiting != NULL ? e->waiting : "");
		if (e->progress == NULL ||
		    !progress_view_summary(e->progress, e->progress_len, job->progress,
		                           sizeof(job->progress)))
			job->progress[0] = '\0';
		v = e->state != ENTRY_ACTIVE           ? status_report_text(e, "status")
		    : e->phase == SPOOL_PHASE_FINISHED ? e->claim_status
		                                       : NULL;
		snprintf(job->status, sizeof(job->status), "%s", v != NULL ? v : "");
		v = status_report_text(e, "error");
		snprintf(job->error, sizeof(job->error), "%s", v != NULL ? v : "");
	}
	listing_free(&l);
	spool_close(&sp);
	return 0;
}
