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

/* write_progress: a running job's progress.json as "progress": {...}, from its members. */
static void
write_progress(struct json_writer *w, const char *text, size_t len)
{
	static const char *const strings[] = {"job_id", "phase", "updated_at"};
	static const char *const seconds[] = {"elapsed_s", "eta_s"};
	static const char *const counts[] = {
	    "archive_bytes", "archive_size",     "database_bytes",
	    "database_size", "database_items",   "files",
	    "file_bytes",    "file_bytes_total", "database_item_total",
	};
	struct json_member *m = NULL;
	size_t n = 0;
	char why[128];

	if (json_parse_members(text, len, &m, &n, why, sizeof(why)) < 0)
		return;
	json_key(w, "progress");
	json_begin_object(w);
	for (size_t k = 0; k < sizeof(strings) / sizeof(strings[0]); k++) {
		const char *v = json_member_find(m, n, strings[k]);

		json_key(w, strings[k]);
		json_string(w, v != NULL ? v : "");
	}
	for (size_t k = 0; k < sizeof(seconds) / sizeof(seconds[0]); k++) {
		const char *v = json_member_find(m, n, seconds[k]);

		json_key(w, seconds[k]);
		if (v != NULL)
			json_fixed3(w, strtod(v, NULL));
		else
			json_null(w);
	}
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		const char *v = json_member_find(m, n, counts[k]);

		json_key(w, counts[k]);
		json_uint(w, v != NULL ? strtoull(v, NULL, 10) : 0);
	}
	json_end_object(w);
	json_members_free(m, n);
}

enum entry_state { ENTRY_QUEUED, ENTRY_ACTIVE, ENTRY_DONE, ENTRY_FAILED };

static const char *const state_names[] = {"queued", "active", "done", "failed"};

/* One job as status shows it. */
struct entry {
	enum entry_state state;
	struct timespec time;          /* arrived (queued), started (active) or finished */
	char job_id[37];               /* "" for a queued file not written by submit */
	char folder[80];               /* queued: "" or its incoming/<folder>/ */
	char name[SPOOL_NAME_MAX + 1]; /* the dropped file */
	char archive[PATH_MAX];        /* the archive: the dropped file or its job file's */
	char target[80];               /* as the claim keeps it */
	bool dry_run;
	const char *waiting; /* the worker's reason, or NULL */
	/* An active job's claim: */
	int attempts;
	bool running;
	enum spool_phase phase;
	char claim_status[16];
	char *progress; /* its progress.json, or NULL */
	size_t progress_len;
	/* A finished job's report (NULL members when it has none): */
	json_t *report;
};

struct listing {
	const struct config *config;
	struct entry *entries;
	size_t n;
	struct json_member *waits; /* SPOOL_WAITS_FILE's members */
	size_t nwaits;
};

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

/* report_text: member key of a finished job's report when it is a string, else NULL. */
static const char *
report_text(const struct entry *e, const char *key)
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
	source = report_text(e, "source");
	target = report_text(e, "target");
	finished = report_text(e, "finished_at");
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

/* write_entry: e as a JSON object; with state (status JOB_ID), its state too. */
static void
write_entry(struct json_writer *w, const struct entry *e, bool state)
{
	char when[40];

	json_begin_object(w);
	if (state) {
		json_key(w, "state");
		json_string(w, state_names[e->state]);
	}
	if (e->state != ENTRY_QUEUED || e->job_id[0] != '\0') {
		json_key(w, "job_id");
		json_string(w, e->job_id);
	}
	if (e->state == ENTRY_QUEUED || e->state == ENTRY_ACTIVE) {
		json_key(w, "name");
		json_string(w, e->name);
		json_key(w, "target");
		json_string(w, e->target);
	}
	if (e->state == ENTRY_ACTIVE) {
		json_key(w, "attempts");
		json_uint(w, (uint64_t)e->attempts);
		json_key(w, "running");
		json_bool(w, e->running);
		json_key(w, "phase");
		json_string(w, spool_phase_name(e->phase));
		if (e->phase == SPOOL_PHASE_FINISHED) {
			json_key(w, "status");
			json_string(w, e->claim_status);
		}
		if (e->progress != NULL)
			write_progress(w, e->progress, e->progress_len);
	}
	if (e->state == ENTRY_DONE || e->state == ENTRY_FAILED) {
		static const char *const keys[] = {"status", "source", "target", "error",
		                                   "finished_at"};

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			const char *v = report_text(e, keys[k]);

			if (v != NULL) {
				json_key(w, keys[k]);
				json_string(w, v);
			}
		}
	}
	json_key(w, "archive");
	json_string(w, e->archive);
	json_key(w, "dry_run");
	json_bool(w, e->dry_run);
	report_format_time(&e->time, when, sizeof(when));
	json_key(w, "time");
	json_string(w, when);
	if (e->waiting != NULL) {
		json_key(w, "waiting");
		json_string(w, e->waiting);
	}
	json_end_object(w);
}

/* print_entry: e as one line of text. */
static void
print_entry(const struct entry *e)
{
	const char *slash = strrchr(e->archive, '/');
	const char *archive = slash != NULL && slash[1] != '\0' ? slash + 1 : e->archive;
	const char *state = state_names[e->state], *error = NULL;
	char when[32], detail[400] = "";
	struct tm tm;

	localtime_r(&e->time.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (e->state == ENTRY_ACTIVE) {
		char summary[160] = "";

		state = e->running ? "running" : "orphaned";
		if (e->progress != NULL &&
		    !progress_view_summary(e->progress, e->progress_len, summary, sizeof(summary)))
			summary[0] = '\0';
		snprintf(detail, sizeof(detail), " (attempt %d, %s%s%s%s%s%s)", e->attempts,
		         spool_phase_name(e->phase), e->phase == SPOOL_PHASE_FINISHED ? " " : "",
		         e->phase == SPOOL_PHASE_FINISHED ? e->claim_status : "",
		         e->phase == SPOOL_PHASE_FINISHED ? ", report not yet written"
		         : e->running                     ? ""
		                                          : ", worker gone",
		         summary[0] != '\0' ? ": " : "", summary);
	} else if (e->state != ENTRY_QUEUED) {
		state = report_text(e, "status") != NULL ? report_text(e, "status") : state;
		error = report_text(e, "error");
	}
	printf("%-9s %s %-36s %s -> %s%s%s%s%s%s%s\n", state, when,
	       e->job_id[0] != '\0' ? e->job_id : "-", archive, e->target,
	       e->dry_run ? " [rehearsal]" : "", detail, e->waiting != NULL ? ": waits: " : "",
	       e->waiting != NULL ? e->waiting : "", error != NULL ? ": " : "",
	       error != NULL ? error : "");
}

/* print_listing: the entries as text, or as JSON (a job's object, or every job's). */
static int
print_listing(const struct listing *l, const char *spool_dir, const char *job_id, bool json)
{
	struct json_writer w = {0};
	char *text;

	if (!json) {
		for (size_t i = 0; i < l->n; i++)
			if (job_id == NULL || strcmp(l->entries[i].job_id, job_id) == 0)
				print_entry(&l->entries[i]);
		if (l->n == 0)
			printf("the spool %s is empty: no job queued, active, done or failed\n",
			       spool_dir);
		return fflush(stdout) == EOF ? 1 : 0;
	}
	if (job_id != NULL) {
		for (size_t i = 0; i < l->n; i++)
			if (strcmp(l->entries[i].job_id, job_id) == 0)
				write_entry(&w, &l->entries[i], true);
	} else {
		json_begin_object(&w);
		for (int s = ENTRY_QUEUED; s <= ENTRY_FAILED; s++) {
			json_key(&w, state_names[s]);
			json_begin_array(&w);
			for (size_t i = 0; i < l->n; i++)
				if ((int)l->entries[i].state == s)
					write_entry(&w, &l->entries[i], false);
			json_end_array(&w);
		}
		json_end_object(&w);
	}
	text = json_finish(&w);
	if (text == NULL) {
		fprintf(stderr, "restore-worker: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	free(text);
	return fflush(stdout) == EOF ? 1 : 0;
}

/*
 * listing_load: the jobs of the spool (open as sp) into l, or job_id's alone (unless NULL),
 * looked for in the order a job moves on (incoming/, active/, then done/ or failed/), so that
 * one moving meanwhile is found all the same.
 */
static void
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
static void
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
status_print(const struct config *config, const char *job_id, bool json)
{
	struct listing l = {.config = config};
	struct spool sp;
	char err[1024];
	int rc = 0;

	if (spool_open_existing(config->spool_dir, &sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		return 2;
	}
	listing_load(&l, &sp, job_id);
	if (job_id != NULL && l.n == 0) {
		fprintf(
		    stderr,
		    "restore-worker: no job %s in %s: it is not queued (by submit), active, done "
		    "or failed\n",
		    job_id, config->spool_dir);
		rc = 1;
	} else {
		rc = print_listing(&l, config->spool_dir, job_id, json);
	}
	listing_free(&l);
	spool_close(&sp);
	return rc;
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
		job->state = state_names[e->state];
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
		v = e->state != ENTRY_ACTIVE           ? report_text(e, "status")
		    : e->phase == SPOOL_PHASE_FINISHED ? e->claim_status
		                                       : NULL;
		snprintf(job->status, sizeof(job->status), "%s", v != NULL ? v : "");
		v = report_text(e, "error");
		snprintf(job->error, sizeof(job->error), "%s", v != NULL ? v : "");
	}
	listing_free(&l);
	spool_close(&sp);
	return 0;
}
