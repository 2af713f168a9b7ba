/*
 * submit_wait.c - submit --wait: follow a submitted job until the worker files it, saying on
 * stderr how it stands (queued and why it waits, running and how far it got) and then its
 * outcome; the exit status is the job's: 0 succeeded, 1 rejected, failed or cancelled,
 * 3 partial.
 *
 * It reads the spool as status does (status_job_find), five times a second, and changes
 * nothing. On a terminal the line is redrawn in place; otherwise a line is written when the
 * job's state or reason to wait changes, and its progress every WAIT_LINE_SECONDS. SIGINT and
 * SIGTERM end the waiting, never the job: it says so and exits 130.
 */
#include "submit_wait.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "status.h"

#define WAIT_POLL_MS        200
#define WAIT_LINE_SECONDS   10.0 /* without a terminal, the progress this often */
#define WAIT_GONE_POLLS     15   /* nowhere in the spool this many times in a row: gone */
#define WAIT_SILENT_SECONDS 10.0 /* queued and no worker says why: say so, once */

static volatile sig_atomic_t wait_stopped;

/* wait_on_signal: SIGINT or SIGTERM: stop waiting (the job goes on). */
static void
wait_on_signal(int sig)
{
	(void)sig;
	wait_stopped = 1;
}

/* wait_now: monotonic seconds. */
static double
wait_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* outcome_exit: the exit status of a job filed in state with status (its report's). */
static int
outcome_exit(const char *state, const char *status)
{
	if (strcmp(status, "succeeded") == 0 || (status[0] == '\0' && strcmp(state, "done") == 0))
		return 0;
	return strcmp(status, "partial") == 0 ? 3 : 1;
}

/*
 * describe: where job stands (without its progress), into buf; silent: it has been queued for
 * a while and no worker has said why it waits.
 */
static void
describe(const struct status_job *j, bool silent, char *buf, size_t buflen)
{
	if (strcmp(j->state, "queued") == 0)
		snprintf(buf, buflen, "queued for target %s%s%s", j->target,
		         j->waiting[0] != '\0' ? "; waits: "
		         : silent              ? "; no worker has taken it yet (is one running?)"
		                               : "",
		         j->waiting);
	else if (j->phase == SPOOL_PHASE_FINISHED)
		snprintf(buf, buflen, "finished %s; being filed", j->status);
	else if (!j->running)
		snprintf(buf, buflen,
		         "in active/ with no worker holding it (its worker stopped); the next "
		         "worker to start takes it");
	else if (j->waiting[0] != '\0')
		snprintf(buf, buflen, "claimed for target %s; waits: %s", j->target, j->waiting);
	else if (j->phase == SPOOL_PHASE_WAITING)
		snprintf(buf, buflen, "claimed for target %s, starting", j->target);
	else
		snprintf(buf, buflen, "%s into %s (attempt %d)", spool_phase_name(j->phase),
		         j->target, j->attempts);
}

/* say: a line about the job on stderr; on a terminal (tty) the one line redrawn in place. */
static void
say(bool tty, const char *job_id, const char *text, const char *progress)
{
	fprintf(stderr, "%srestore-worker: job %s: %s%s%s%s", tty ? "\r\033[K" : "", job_id, text,
	        progress[0] != '\0' ? ": " : "", progress, tty ? "" : "\n");
	fflush(stderr);
}

int
submit_wait(const struct config *config, const char *job_id)
{
	struct timespec poll_ts = {0, WAIT_POLL_MS * 1000000L};
	struct sigaction sa;
	struct status_job j;
	char err[1024], text[1024], shown[1024] = "";
	double started = wait_now(), last_line = 0;
	bool tty = isatty(STDERR_FILENO) == 1, drawn = false;
	int gone = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wait_on_signal; /* no SA_RESTART: the sleep ends at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!wait_stopped) {
		if (status_job_find(config, job_id, &j, err, sizeof(err)) < 0) {
			fprintf(stderr, "%srestore-worker: %s\n", drawn ? "\r\033[K" : "", err);
			return 1;
		}
		if (j.state == NULL) {
			if (++gone < WAIT_GONE_POLLS) {
				(void)nanosleep(&poll_ts, NULL);
				continue;
			}
			fprintf(stderr,
			        "%srestore-worker: job %s is no longer in %s: not queued, active, "
			        "done or failed\n",
			        drawn ? "\r\033[K" : "", job_id, config->spool_dir);
			return 1;
		}
		gone = 0;
		if (strcmp(j.state, "done") == 0 || strcmp(j.state, "failed") == 0) {
			fprintf(stderr,
			        "%srestore-worker: job %s: %s%s%s (report: %s/%s/%s/report.json)\n",
			        tty ? "\r\033[K" : "", job_id,
			        j.status[0] != '\0' ? j.status : j.state,
			        j.error[0] != '\0' ? ": " : "", j.error, config->spool_dir, j.state,
			        job_id);
			return outcome_exit(j.state, j.status);
		}
		describe(&j, wait_now() - started >= WAIT_SILENT_SECONDS, text, sizeof(text));
		if (tty || strcmp(text, shown) != 0 ||
		    (j.progress[0] != '\0' && wait_now() - last_line >= WAIT_LINE_SECONDS)) {
			say(tty, job_id, text, j.progress);
			snprintf(shown, sizeof(shown), "%s", text);
			last_line = wait_now();
			drawn = tty;
		}
		(void)nanosleep(&poll_ts, NULL);
	}
	fprintf(stderr,
	        "%srestore-worker: stopped waiting; job %s goes on (restore-worker status %s "
	        "follows it, restore-worker cancel %s cancels it)\n",
	        drawn ? "\r\033[K" : "", job_id, job_id, job_id);
	return 130;
}
