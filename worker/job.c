/*
 * job.c - one job of the worker, the worker's side: the target a dropped file asks for, the
 * filing of an attempt's outcome, and the removal of what an attempt left behind. The child
 * process that runs the restore is job_child.c's.
 *
 * A job's claim (spool_claim.c) records how far it got: restoring, committing (the database
 * commit began: from then on the target may have changed), finished (its outcome). The child
 * records each step before it takes it, the outcome before the report, so whoever finds the job
 * later (its worker when the child ends, another worker when the first one died) knows what it
 * may do: file it with its report, file it from the claim's record when no report could be
 * written, or run it again, which it does only if no attempt reached the commit.
 *
 * Diagnostics: one line per event on stderr, with the job id (notify.c).
 */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* remove_staging: remove what job_id staged for the store blob_dir, if anything. */
static void
remove_staging(const char *blob_dir, const char *job_id)
{
	struct store *store;
	char err[256];

	if (blob_dir == NULL || blob_dir[0] != '/' ||
	    store_open_folder(AT_FDCWD, blob_dir, &store, err, sizeof(err)) < 0)
		return;
	store_stage_remove_leftover(store, job_id);
	store_close(store);
}

/*
 * remove_object_staging: what job_id staged for target's bucket or container, if its store is
 * one: the store's driver finishes or undoes it by its journal in work_dir.
 */
static void
remove_object_staging(const struct config *config, const char *target, const char *job_id)
{
	const struct config_target *ct = config_target_find(config, target);
	struct restore_target t;
	struct store *store;
	char err[512];

	if (ct == NULL || ct->blob_dir != NULL)
		return;
	config_restore_target(ct, &t);
	if (store_open(&t, &store, err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_WARNING, job_id,
		         "cannot look for what the job left in target %s's store: %s", target, err);
		return;
	}
	store_stage_remove_leftover(store, job_id);
	store_close(store);
}

/*
 * remove_attempt_files: remove what an attempt of a job may have left behind: its dump copy
 * and the TOC list beside it, and (staging) its staging folder, where its claim says they were
 * (the configuration may have changed since) and where the configuration puts them now, or
 * what it staged in its target's bucket or container; and
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
	remove_staging(claim->blob_dir, claim->job_id);
	for (size_t i = 0; i < config->ntargets; i++)
		remove_staging(config->targets[i].blob_dir, claim->job_id);
	if (claim->target[0] != '\0')
		remove_object_staging(config, claim->target, claim->job_id);
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
		log_line(succeeded                                  ? LOG_PRIORITY_INFO
		         : strcmp(report->status, "cancelled") == 0 ? LOG_PRIORITY_WARNING
		                                                    : LOG_PRIORITY_ERROR,
		         claim->job_id, "%s%s%s", report->status, report->error != NULL ? ": " : "",
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
		 * A staging folder left (the old files of a child killed between the swap and their
		 * setting aside; its old files set aside are the background removal's); only after
		 * a success: a partial restore's report points the operator at the staged files.
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
