/*
 * command_cancel.c - restore-worker cancel JOB_ID: ask the worker to cancel a job, and wait
 * until it has filed it.
 *
 * What can be told at once is told without asking: no such job, a job already finished
 * (filed, or its claim says finished), one past its commit point (its claim says committing:
 * the target may have changed, and a rollback is no longer possible). Otherwise the request
 * goes into the spool as cancel/<job-id> (spool_cancel.c), which every worker watches
 * (daemon_cancel.c): a queued or waiting job is filed at once, a running one is rolled back
 * first. The command then reads the job as status does (status_job_find) until it is filed;
 * its report says whether it was cancelled or ended otherwise first.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "config.h"
#include "spool.h"
#include "status.h"

#define CANCEL_WAIT_SECONDS 60 /* how long the worker may take to file the job */
#define CANCEL_POLL_MS      100

/*
 * finished: is the job's outcome known: filed into done/ or failed/, or (its claim says
 * finished) about to be?
 */
static bool
finished(const struct status_job *j)
{
	return strcmp(j->state, "done") == 0 || strcmp(j->state, "failed") == 0 ||
	       (strcmp(j->state, "active") == 0 && j->phase == SPOOL_PHASE_FINISHED);
}

/* past_commit: has the job begun its commit, so that it can no longer be rolled back? */
static bool
past_commit(const struct status_job *j)
{
	return strcmp(j->state, "active") == 0 && j->phase == SPOOL_PHASE_COMMITTING;
}

/* not_cancelled: say why job_id was not cancelled: past its commit point, or ended first; 1. */
static int
not_cancelled(const char *job_id, const struct status_job *j)
{
	const char *status = j->status[0] != '\0' ? j->status : j->state;

	if (!finished(j))
		fprintf(stderr,
		        "restore-worker: too late: job %s is past its commit point (phase %s): "
		        "the target may have changed already; the job finishes on its own "
		        "(restore-worker status %s follows it)\n",
		        job_id, spool_phase_name(j->phase), job_id);
	else if (strcmp(status, "succeeded") == 0 || strcmp(status, "partial") == 0)
		fprintf(stderr,
		        "restore-worker: too late: job %s reached its commit point before the "
		        "cancel took effect and finished %s\n",
		        job_id, status);
	else
		fprintf(stderr,
		        "restore-worker: job %s finished %s before the cancel took effect\n",
		        job_id, status);
	return 1;
}

/* cancel_ask: write the request cancel/<job_id> into the spool; 0, or EXIT_USAGE (said). */
static int
cancel_ask(const struct config *config, const char *job_id)
{
	struct spool sp;
	char err[1024];
	int fd, rc = EXIT_USAGE;

	if (spool_open(config->spool_dir, &sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		return EXIT_USAGE;
	}
	fd = spool_cancel_open(&sp, true, err, sizeof(err));
	if (fd >= 0 && spool_cancel_request(fd, job_id, err, sizeof(err)) == 0)
		rc = 0;
	else
		fprintf(stderr, "restore-worker: cannot ask for job %s to be cancelled: %s\n",
		        job_id, err);
	if (fd >= 0)
		(void)close(fd);
	spool_close(&sp);
	return rc;
}

/* cancel_follow: wait until job_id is filed, and say how; the exit status. */
static int
cancel_follow(const struct config *config, const char *job_id)
{
	struct timespec poll_ts = {0, CANCEL_POLL_MS * 1000000L};
	struct status_job j;
	char err[1024];

	for (int i = 0; i < CANCEL_WAIT_SECONDS * 1000 / CANCEL_POLL_MS; i++) {
		if (status_job_find(config, job_id, &j, err, sizeof(err)) < 0) {
			fprintf(stderr, "restore-worker: %s\n", err);
			return 1;
		}
		if (j.state == NULL) {
			fprintf(stderr,
			        "restore-worker: job %s vanished from %s before it was filed\n",
			        job_id, config->spool_dir);
			return 1;
		}
		if (strcmp(j.status, "cancelled") == 0 && strcmp(j.state, "active") != 0) {
			fprintf(
			    stderr,
			    "restore-worker: cancelled job %s: %s (report: %s/%s/%s/report.json)\n",
			    job_id, j.error, config->spool_dir, j.state, job_id);
			return 0;
		}
		/* Ended otherwise, or committing: not cancelled. (Cancelled, not yet filed: wait.)
		 */
		if ((finished(&j) && strcmp(j.status, "cancelled") != 0) || past_commit(&j))
			return not_cancelled(job_id, &j);
		(void)nanosleep(&poll_ts, NULL);
	}
	fprintf(stderr,
	        "restore-worker: no worker filed job %s within %d s (is one running?); the request "
	        "stays in %s/%s/%s and a worker cancels the job when it sees it\n",
	        job_id, CANCEL_WAIT_SECONDS, config->spool_dir, SPOOL_CANCEL_DIR, job_id);
	return 1;
}

/* command_cancel: restore-worker cancel JOB_ID */
int
command_cancel(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *path = command_config_path(config_given), *job_id = args->archive;
	struct config *config = command_load_config(path);
	struct status_job j;
	char err[1024];
	int rc = 1;

	if (config == NULL)
		return EXIT_USAGE;
	if (config->spool_dir == NULL) {
		fprintf(stderr, "restore-worker: %s: %s needs spool_dir\n", path, cmd->name);
		config_free(config);
		return EXIT_USAGE;
	}
	if (status_job_find(config, job_id, &j, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		rc = EXIT_USAGE;
	} else if (j.state == NULL) {
		fprintf(
		    stderr,
		    "restore-worker: no job %s in %s: it is not queued (by submit), active, done "
		    "or failed\n",
		    job_id, config->spool_dir);
	} else if (finished(&j)) {
		fprintf(stderr, "restore-worker: job %s already finished (%s); nothing to cancel\n",
		        job_id, j.status[0] != '\0' ? j.status : j.state);
	} else if (past_commit(&j)) {
		rc = not_cancelled(job_id, &j);
	} else {
		rc = cancel_ask(config, job_id);
		if (rc == 0) {
			fprintf(stderr,
			        "restore-worker: asked the worker to cancel job %s (%s%s)\n",
			        job_id, j.state, j.running ? ", running" : "");
			rc = cancel_follow(config, job_id);
		}
	}
	config_free(config);
	return rc;
}
