/*
 * job.c - one job of the worker: the child process that runs its restore, and the filing of
 * its outcome.
 *
 * A job's claim (spool.c) records how far it got: restoring, committing (the database commit
 * began: from then on the target may have changed), finished (its outcome). The child records
 * each step before it takes it, the outcome before the report, so whoever finds the job later
 * (its worker when the child ends, another worker when the first one died) knows what it may
 * do: file it with its report, file it from the claim's record when no report could be
 * written, or run it again, which it does only if no attempt reached the commit.
 *
 * Diagnostics: one line per event on stderr, with the job id (notify.c).
 */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "database.h"
#include "io.h"
#include "jobfile.h"
#include "json.h"
#include "notify.h"
#include "progress_view.h"
#include "report.h"
#include "restore.h"
#include "store.h"

static volatile sig_atomic_t child_cancel;

/* remove_staging: remove what job_id staged for the store blob_dir, if anything. */
static void
remove_staging(const char *blob_dir, const char *job_id)
{
	struct store *store;
	char err[256];

	if (store_open_folder(AT_FDCWD, blob_dir, &store, err, sizeof(err)) < 0)
		return;
	store_stage_remove_leftover(store, job_id);
	store_close(store);
}

/*
 * remove_attempt_files: remove what an attempt of a job may have left behind: its dump copy
 * and the TOC list beside it, and (staging) its staging folder, where its claim says they were
 * (the configuration may have changed since) and where the configuration puts them now; and
 * (unchanged: the attempt left the target as it was) the backup it made before the restore
 * (keep_previous): it holds the target's state as it still is, and counting it would push a
 * real undo point out of previous_keep.
 */
static void
remove_attempt_files(const struct config *config, const struct spool_claim *claim, bool staging,
                     bool unchanged)
{
	const char *work_dirs[] = {config->work_dir, claim->work_dir};
	char path[PATH_MAX + 64];

	for (size_t i = 0; i < 2; i++) {
		if (work_dirs[i][0] != '/')
			continue;
		snprintf(path, sizeof(path), "%s/restore-%s.dump", work_dirs[i], claim->job_id);
		(void)unlink(path);
		snprintf(path, sizeof(path), "%s/restore-%s.dump.list", work_dirs[i],
		         claim->job_id);
		(void)unlink(path);
	}
	if (unchanged && claim->target[0] != '\0') {
		char err[512];

		snprintf(path, sizeof(path), "%s/previous/%s", config->spool_dir, claim->target);
		if (backup_remove_job(path, claim->job_id, err, sizeof(err)) < 0)
			log_line(LOG_PRIORITY_WARNING, claim->job_id, "%s", err);
	}
	if (!staging)
		return;
	if (claim->blob_dir[0] == '/')
		remove_staging(claim->blob_dir, claim->job_id);
	for (size_t i = 0; i < config->ntargets; i++)
		remove_staging(config->targets[i].blob_dir, claim->job_id);
}

void
job_remove_leftovers(const struct config *config, const struct spool_claim *claim)
{
	remove_attempt_files(config, claim, true, claim->phase <= SPOOL_PHASE_RESTORING);
}

/*
 * finish_report: end a job with a report the worker writes itself (report is freed here).
 * The outcome goes into the claim first: if the report cannot be written, the job stays in
 * active/ marked finished, and a later rescan files it from there instead of running it again.
 */
static void
finish_report(const struct job_env *env, struct spool_claim *claim, struct report *report, bool ok)
{
	char *json = ok ? report_json(report) : NULL, err[512];
	bool succeeded = ok && strcmp(report->status, "succeeded") == 0;

	if (ok && claim->phase != SPOOL_PHASE_FINISHED) {
		log_line(succeeded ? LOG_PRIORITY_INFO : LOG_PRIORITY_ERROR, claim->job_id,
		         "%s%s%s", report->status, report->error != NULL ? ": " : "",
		         report->error != NULL ? report->error : "");
		job_claim_take_outcome(claim, report);
		if (spool_claim_finished(claim, err, sizeof(err)) < 0)
			log_line(LOG_PRIORITY_ERROR, claim->job_id, "%s", err);
	}
	report_free(report);
	if (json == NULL ||
	    spool_finish(env->spool, claim, succeeded, json, err, sizeof(err)) < 0) {
		log_line(
		    LOG_PRIORITY_ERROR, claim->job_id,
		    "cannot file the job: %s; it stays in active/ and is filed at a later rescan",
		    json == NULL ? "out of memory" : err);
		spool_release(claim);
	}
	free(json);
}

/* job_finish_with: end a job the engine did not report on: status, and its one-line error. */
void
job_finish_with(const struct job_env *env, struct spool_claim *claim, const char *target,
                const char *status, const char *error)
{
	struct report report;
	bool ok = job_claim_report_init(&report, claim, target) == 0;

	if (ok)
		report_set_error(&report, status, "%s", error);
	finish_report(env, claim, &report, ok);
}

/*
 * job_target: the target a dropped file asks for: a job file's target key, else the folder
 * it was dropped in, else default_target. NULL with a reason when there is none.
 */
const char *
job_target(const struct job_env *env, int dir_fd, const char *folder, const char *name, char *buf,
           size_t buflen, char *why, size_t whylen)
{
	const char *target = folder[0] != '\0' ? folder : env->config->default_target;

	if (spool_name_is_jobfile(name)) {
		struct jobfile job;
		size_t len;
		char *text = io_read_small(dir_fd, name, JOBFILE_MAX, &len);

		if (text == NULL) {
			snprintf(why, whylen, "cannot read %s: %s", name, strerror(errno));
			return NULL;
		}
		if (jobfile_parse(name, text, len, &job, why, whylen) < 0) {
			free(text);
			return NULL;
		}
		if (job.target != NULL) {
			snprintf(buf, buflen, "%s", job.target);
			target = buf;
		}
		jobfile_free(&job);
		free(text);
	}
	if (target == NULL) {
		snprintf(why, whylen,
		         "%s names no target and the configuration has no default_target; drop "
		         "it into incoming/<target>/",
		         name);
		return NULL;
	}
	if (config_target_find(env->config, target) == NULL) {
		snprintf(why, whylen, "%s asks for target '%s', which %s does not define", name,
		         target, env->config_path);
		return NULL;
	}
	if (target != buf)
		snprintf(buf, buflen, "%s", target);
	return buf;
}

/*
 * path_in_folder: does path lie inside folder? Both are resolved first (symbolic links, "."
 * and ".."), path as far as it exists, so no other spelling of a path inside escapes.
 */
static bool
path_in_folder(const char *folder, const char *path)
{
	char folder_real[PATH_MAX], parent[PATH_MAX], real[PATH_MAX + NAME_MAX + 2];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (realpath(folder, folder_real) == NULL)
		snprintf(folder_real, sizeof(folder_real), "%s", folder);
	if (realpath(path, real) == NULL) {
		snprintf(parent, sizeof(parent), "%.*s", slash != NULL ? (int)(slash - path) : 0,
		         path);
		if (slash != NULL && realpath(parent[0] != '\0' ? parent : "/", real) != NULL)
			snprintf(real + strlen(real), sizeof(real) - strlen(real), "/%s",
			         slash + 1);
		else
			snprintf(real, sizeof(real), "%s", path);
	}
	n = strlen(folder_real);
	while (n > 1 && folder_real[n - 1] == '/')
		n--;
	return strncmp(real, folder_real, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* child_sleep: wait up to seconds, or until SIGTERM; true when told to stop. */
static bool
child_sleep(int seconds)
{
	struct timespec ts = {0, 100 * 1000 * 1000};

	for (int i = 0; i < seconds * 10 && !child_cancel; i++)
		(void)nanosleep(&ts, NULL);
	return child_cancel != 0;
}

/*
 * child_file: the end of a job child whose restore ran: record the outcome in the claim (in
 * place: that needs no free space), then write report.json. While the report cannot be
 * written (a full spool), the child keeps it and tries again every rescan_seconds: the job
 * stays in active/, marked finished, and is never restored again. Stopped meanwhile, it
 * exits JOB_EXIT_UNFILED and whoever files the job makes its report from the claim's record.
 * The old files a restore swapped out (leftover) are removed once the report is out.
 */
static void __attribute__((noreturn))
child_file(const struct job_env *env, struct spool_claim *claim, struct report *report,
           int exit_status, struct restore_leftover *leftover, const struct restore_options *ro)
{
	char err[512], *json, status[16];

	job_claim_take_outcome(claim, report);
	if (spool_claim_finished(claim, err, sizeof(err)) < 0)
		log_line(LOG_PRIORITY_ERROR, claim->job_id, "%s", err);
	snprintf(status, sizeof(status), "%s", report->status);
	json = report_json(report);
	report_free(report);
	if (json == NULL)
		_exit(JOB_EXIT_UNFILED); /* out of memory: the parent files it from the claim */
	for (;;) {
		int rc = spool_write_atomic(claim->job_fd, "report.json", json, strlen(json), err,
		                            sizeof(err));

		restore_finish(leftover, ro);
		leftover = NULL;
		if (rc == 0) {
			/* Not before: it is what status shows while the report cannot be written.
			 */
			(void)unlinkat(claim->job_fd, PROGRESS_FILE, 0);
			_exit(exit_status);
		}
		log_line(LOG_PRIORITY_ERROR, claim->job_id,
		         "finished (%s) but cannot write its report: %s; the job stays in active/ "
		         "and writing the report is tried again in %d s",
		         status, err, env->config->rescan_seconds);
		if (child_sleep(env->config->rescan_seconds))
			_exit(JOB_EXIT_UNFILED);
	}
}

/* What child_before_commit needs. */
struct child_commit {
	struct spool_claim *claim;
	struct restore_commit_point point; /* filled in by the engine */
};

/*
 * child_before_commit: record that the commit begins, and what is needed to learn later
 * what became of it: from now on the target may change.
 */
static int
child_before_commit(void *ctx, char *err, size_t errlen)
{
	struct child_commit *cc = ctx;

	job_claim_commit_point(cc->claim, &cc->point);
	cc->claim->phase = SPOOL_PHASE_COMMITTING;
	return spool_claim_save(cc->claim, err, errlen);
}

/*
 * child_outcome_known: record the restore's outcome as finished before ANALYZE: a job child
 * that dies during it is then filed with that outcome, not as an interrupted commit.
 */
static void
child_outcome_known(void *ctx, const struct report *report)
{
	struct spool_claim *claim = ctx;
	char err[512];

	job_claim_take_outcome(claim, report);
	if (spool_claim_finished(claim, err, sizeof(err)) < 0)
		log_line(LOG_PRIORITY_ERROR, claim->job_id, "%s", err);
}

/* child_signal: SIGTERM in a job child: cancel the restore; it rolls back. */
static void
child_signal(int sig)
{
	(void)sig;
	child_cancel = 1;
	database_cancel_running();
}

#define PROGRESS_WRITE_SECONDS 1.0  /* progress.json at most this often */
#define PROGRESS_LOG_SECONDS   10.0 /* a progress line in the log this often */

/* What a job child does with the engine's progress figures. */
struct child_progress {
	const struct spool_claim *claim;
	const char *phase;           /* the last written (the engine's constant strings) */
	double last_write, last_log; /* the figures' elapsed_s */
};

/* child_progress: progress.json in the job folder, and now and then a line in the log. */
static void
child_progress(void *ctx, const struct restore_progress *p)
{
	struct child_progress *cp = ctx;
	if (p->phase != cp->phase || p->elapsed_s - cp->last_write >= PROGRESS_WRITE_SECONDS) {
		char *json = progress_view_json(p, cp->claim->job_id);

		if (json != NULL)
			(void)progress_view_write(cp->claim->job_fd, json);
		free(json);
		cp->last_write = p->elapsed_s;
		cp->phase = p->phase;
	}
	if (p->elapsed_s - cp->last_log >= PROGRESS_LOG_SECONDS) {
		char line[512];

		progress_view_line(p, line, sizeof(line));
		log_line(LOG_PRIORITY_INFO, cp->claim->job_id, "%s", line);
		cp->last_log = p->elapsed_s;
	}
}

/* child_log_progress: the engine's lines, at the priority each one's shape says. */
static void
child_log_progress(void *ctx, const char *line)
{
	(void)ctx;
	/* The engine's lines already begin with "job <id>: ". */
	log_engine_line(line);
}

void
job_child_run(const struct job_env *env, struct spool_claim *claim, const char *target_name)
{
	const struct config_target *ct = config_target_find(env->config, target_name);
	struct restore_target target;
	struct restore_options ro;
	struct restore_leftover *leftover = NULL;
	struct report report;
	struct jobfile jf = {0};
	struct child_progress progress = {.claim = claim};
	struct child_commit commit = {.claim = claim};
	struct timespec now;
	char *previous = NULL;
	struct sigaction sa;
	struct stat st;
	sigset_t none;
	char archive[PATH_MAX], err[1024];
	int status;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = child_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (fstatat(claim->job_fd, claim->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, sizeof(err), "%s vanished from active/%s", claim->name,
		         claim->job_id);
		goto refuse;
	}
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		snprintf(
		    err, sizeof(err),
		    "%s has another hard link: write it in tmp/ and rename() it into incoming/",
		    claim->name);
		goto refuse;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, sizeof(err),
		         "%s is %s; incoming/ takes regular files only, and it was not followed",
		         claim->name,
		         S_ISLNK(st.st_mode)    ? "a symbolic link"
		         : S_ISFIFO(st.st_mode) ? "a FIFO"
		         : S_ISDIR(st.st_mode)  ? "a folder"
		                                : "not a regular file");
		goto refuse;
	}
	snprintf(archive, sizeof(archive), "%s/active/%s/%s", env->config->spool_dir, claim->job_id,
	         claim->name);
	memset(&ro, 0, sizeof(ro));
	if (spool_name_is_jobfile(claim->name)) {
		size_t len;
		char *text = io_read_small(claim->job_fd, claim->name, JOBFILE_MAX, &len);

		if (text == NULL) {
			snprintf(err, sizeof(err), "cannot read %s: %s", claim->name,
			         strerror(errno));
			goto refuse;
		}
		if (jobfile_parse(claim->name, text, len, &jf, err, sizeof(err)) < 0) {
			free(text);
			goto refuse;
		}
		free(text);
		/* Relative to the folder the job file was dropped in. */
		if (jf.archive[0] == '/')
			snprintf(archive, sizeof(archive), "%s", jf.archive);
		else
			snprintf(archive, sizeof(archive), "%s/incoming%s%s/%s",
			         env->config->spool_dir, claim->folder[0] != '\0' ? "/" : "",
			         claim->folder, jf.archive);
		ro.db_only = jf.db_only;
		ro.dry_run = jf.dry_run;
		/*
		 * An archive inside the spool is a job of its own (or becomes one when dropped):
		 * taking it here too would restore the same backup twice, or fail when the
		 * other job moved it away first.
		 */
		if (path_in_folder(env->config->spool_dir, archive)) {
			snprintf(err, sizeof(err),
			         "%s names archive %s, which lies inside the spool folder %s; keep "
			         "archives that job files name outside the spool, or drop the "
			         "archive itself into incoming/",
			         claim->name, jf.archive, env->config->spool_dir);
			goto refuse;
		}
	}
	if (ct == NULL) {
		snprintf(err, sizeof(err), "target '%s' is not defined in %s", target_name,
		         env->config_path);
		goto refuse;
	}

	config_restore_target(ct, &target);
	ro.archive = archive;
	ro.target = &target;
	ro.work_dir = env->config->work_dir;
	ro.pg_restore = env->config->pg_restore;
	ro.pg_client_dirs = (const char *const *)env->config->pg_client_dirs;
	ro.job_id = claim->job_id;
	ro.holds_target_lock = true; /* taken by the parent, shared with this process */
	ro.cancel = &child_cancel;
	ro.log = child_log_progress;
	ro.progress = child_progress;
	ro.progress_ctx = &progress;
	ro.before_commit = child_before_commit;
	ro.commit_ctx = &commit;
	ro.commit_point = &commit.point;
	ro.outcome_known = child_outcome_known;
	ro.outcome_ctx = claim;
	ro.leftover = &leftover;
	ro.pg_dump = env->config->pg_dump;
	/* What a report made from the claim needs (the worker may die before the report). */
	claim->dry_run = ro.dry_run;
	claim->db_only = ro.db_only;
	clock_gettime(CLOCK_REALTIME, &now);
	claim->started_at_ms =
	    (unsigned long long)now.tv_sec * 1000ULL + (unsigned long long)now.tv_nsec / 1000000ULL;
	if (spool_claim_save(claim, err, sizeof(err)) < 0)
		log_line(LOG_PRIORITY_ERROR, claim->job_id, "%s", err);
	if (ct->keep_previous && !ro.dry_run) {
		ro.previous_keep = ct->previous_keep;
		ro.previous_dir = previous =
		    spool_previous_dir(env->spool, ct->name, err, sizeof(err));
		if (previous == NULL) {
			/* Before anything changed: the job fails, the target as it was. */
			jobfile_free(&jf);
			if (job_claim_report_init(&report, claim, target_name) < 0)
				_exit(JOB_EXIT_UNFILED);
			report_set_error(&report, "failed", "%s; nothing was restored", err);
			child_file(env, claim, &report, RESTORE_EXIT_UNCHANGED, NULL, NULL);
		}
	}
	status = restore_run(&ro, &report);
	jobfile_free(&jf);
	if (child_cancel && status == RESTORE_EXIT_UNCHANGED)
		_exit(JOB_EXIT_INTERRUPTED); /* rolled back; the parent puts the job back */
	/* The report names what was dropped, whatever it pointed to. */
	free(report.source);
	report.source = strdup(claim->name);
	child_file(env, claim, &report, status, leftover, &ro);

refuse:
	jobfile_free(&jf);
	if (report_init(&report, claim->job_id, claim->name, target_name, false) < 0)
		_exit(JOB_EXIT_UNFILED);
	report_set_error(&report, "rejected", "%s", err);
	clock_gettime(CLOCK_REALTIME, &report.finished_at);
	child_file(env, claim, &report, RESTORE_EXIT_UNCHANGED, NULL, NULL);
}

/* report_succeeded: did a job's report.json say succeeded? *have: is there one at all. */
static bool
report_succeeded(int job_fd, bool *have)
{
	struct json_member *members = NULL;
	size_t len, n = 0;
	char *text = io_read_small(job_fd, "report.json", SPOOL_REPORT_MAX, &len), why[128];
	const char *status;
	bool ok = false;

	*have = text != NULL;
	if (text != NULL && json_parse_members(text, len, &members, &n, why, sizeof(why)) == 0) {
		status = json_member_find(members, n, "status");
		ok = status != NULL && strcmp(status, "succeeded") == 0;
		json_members_free(members, n);
	}
	free(text);
	return ok;
}

/*
 * job_file_outcome: file a job whose attempt is over: its child ended with wait status *st, or
 * (st NULL) its worker died. The claim's phase tells what may be done: a job is run again
 * only if no attempt got as far as the commit; one that finished is filed with its report
 * or, if that could not be written, with one made from the outcome its claim records.
 * Returns true when the job is done with (filed, or left in active/ to be filed later).
 */
bool
job_file_outcome(const struct job_env *env, struct spool_claim *claim, const char *target,
                 const int *st)
{
	char err[512], why[512], how[96];
	bool have_report, ok = report_succeeded(claim->job_fd, &have_report);

	(void)unlinkat(claim->job_fd, PROGRESS_FILE, 0); /* left by a child that died */

	if (have_report) {
		/*
		 * The old files its child did not get to remove; only after a success: a partial
		 * restore's report points the operator at the staged files.
		 */
		if (ok) /* its backup from before is an undo point now (the child settled it) */
			remove_attempt_files(env->config, claim, true, false);
		log_line(ok ? LOG_PRIORITY_INFO : LOG_PRIORITY_WARNING, claim->job_id, "%s: %s",
		         st != NULL ? "finished" : "filing a finished job",
		         ok ? "succeeded" : "not succeeded (see report.json)");
		if (spool_finish(env->spool, claim, ok, NULL, err, sizeof(err)) < 0) {
			log_line(LOG_PRIORITY_ERROR, claim->job_id,
			         "%s; it stays in active/ and is filed at a later rescan", err);
			spool_release(claim);
		}
		return true;
	}
	if (st == NULL)
		snprintf(how, sizeof(how), "its worker stopped (killed or power loss)");
	else if (WIFSIGNALED(*st))
		snprintf(how, sizeof(how), "the restore process died of signal %d (%s)",
		         WTERMSIG(*st), strsignal(WTERMSIG(*st)));
	else
		snprintf(how, sizeof(how), "the restore process ended (status %d)",
		         WEXITSTATUS(*st));
	switch (claim->phase) {
	case SPOOL_PHASE_FINISHED: {
		struct report report;
		bool made = job_claim_report(&report, claim, target) == 0;

		/* A partial outcome's report names the staged files: they stay. */
		remove_attempt_files(env->config, claim, strcmp(claim->status, "partial") != 0,
		                     strcmp(claim->database_status, "unchanged") == 0 &&
		                         strcmp(claim->status, "succeeded") != 0);
		if (made)
			report_warn(
			    &report,
			    "the restore's own report could not be written (see the worker's "
			    "log); this one was made from the outcome recorded in the job's "
			    "claim");
		finish_report(env, claim, &report, made);
		return true;
	}
	case SPOOL_PHASE_COMMITTING: {
		struct report report;
		bool keep = true;
		bool made = job_claim_committing_report(env->config, claim, target, how, &report,
		                                        &keep) == 0;

		/* Rolled back: the target as it was, and its backup from before no undo point. */
		remove_attempt_files(env->config, claim, made && !keep,
		                     made && strcmp(report.database.status, "unchanged") == 0);
		finish_report(env, claim, &report, made);
		return true;
	}
	default:
		job_remove_leftovers(env->config, claim);
		break;
	}
	if (st != NULL) {
		/* The engine died (a crash on hostile input, the OOM killer, ...). */
		snprintf(why, sizeof(why),
		         "%s without a report; its database transaction was rolled back and its "
		         "staging removed: the target was left as it was",
		         how);
		job_finish_with(env, claim, target, "failed", why);
		return true;
	}
	if (claim->attempts >= env->config->max_attempts) {
		snprintf(why, sizeof(why),
		         "interrupted %d times: the worker running it stopped (killed or power "
		         "loss) each time before the restore could commit; the target was left as "
		         "it was before each attempt",
		         claim->attempts);
		job_finish_with(env, claim, target, "failed", why);
		return true;
	}
	return false; /* interrupted: run it again */
}
