/*
 * hooks.c - run a target's before_restore and after_restore commands (hooks.h).
 *
 * A hook is an argv array (never a shell string) whose program is an absolute path, started
 * through spawn.c in a session of its own, with stdin /dev/null and this process's environment
 * plus the RESTORE_WORKER_* variables that say which restore it is about (README "Hooks"). Its
 * stdout and stderr are read line by line into the restore's log, each line after "job <id>:
 * <hook>: ", cut at HOOK_LINE_MAX bytes, control characters shown as '?'. Its time limit
 * (hook_timeout_seconds) and, for before_restore, a cancelled restore stop its whole process
 * group: SIGTERM, then SIGKILL HOOK_KILL_GRACE_S seconds later to whatever is still there.
 *
 * The hook is over when its own process has exited: what it left running in the background
 * (in its process group or not) goes on, and its output is no longer read, so such a program
 * must not write to the hook's stdout or stderr. Every outcome but exit status 0 within the
 * time limit is a failure: exited non-zero, killed by a signal, timed out, not startable.
 */
#include "hooks.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define HOOK_LINE_MAX          1024 /* a longer line is logged in pieces */
#define HOOK_KILL_GRACE_S      3.0  /* from SIGTERM to SIGKILL */
#define HOOK_CANCELLED_LIMIT_S 10   /* after_restore's limit once the restore was cancelled */
#define HOOK_POLL_MS           100
#define HOOK_DRAIN_READS       256 /* what is read of the pipes once the hook has exited */
#define HOOK_MESSAGE_BYTES     512

enum hook_kind {
	HOOK_BEFORE_RESTORE,
	HOOK_AFTER_RESTORE,
};

/* One hook's run: what it is, and its output as it is read. */
struct hook_run {
	const struct restore_options *o;
	const char *job_id;
	const char *name; /* "before_restore" or "after_restore" */
	struct progress *progress;
	struct spawn sp;
	pid_t group;  /* its session and process group: its first process's pid */
	bool open[2]; /* its stdout and stderr, until they end */
	char line[2][HOOK_LINE_MAX];
	size_t len[2];
};

/* The variables a hook is given; any of these names in this process's environment is not. */
static const char *const hook_vars[] = {
    "RESTORE_WORKER_HOOK",    "RESTORE_WORKER_TARGET",  "RESTORE_WORKER_JOB_ID",
    "RESTORE_WORKER_ARCHIVE", "RESTORE_WORKER_DRY_RUN", "RESTORE_WORKER_DB_ONLY",
    "RESTORE_WORKER_STATUS",
};
#define HOOK_NVARS (sizeof(hook_vars) / sizeof(hook_vars[0]))

/* What systemd gives the worker's own process, not a hook (whose notices it would ignore). */
static const char *const worker_vars[] = {"NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"};

/* hook_var_in: whether the environment entry NAME=value names one of the n names. */
static bool
hook_var_in(const char *entry, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		if (strncmp(entry, names[i], len) == 0 && entry[len] == '=')
			return true;
	}
	return false;
}

/* hook_var_of: whether the environment entry NAME=value names one of hook_vars. */
static bool
hook_var_of(const char *entry)
{
	return hook_var_in(entry, hook_vars, HOOK_NVARS);
}

/* hook_environment_free: release what hook_environment made. */
static void
hook_environment_free(char **envp)
{
	size_t i = 0;

	if (envp == NULL)
		return;
	while (envp[i] != NULL && !hook_var_of(envp[i]))
		i++; /* this process's own entries, not copied */
	for (; envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

/*
 * hook_environment: this process's environment, less any RESTORE_WORKER_* variable of
 * hook_vars and systemd's worker_vars, plus those of this hook (status: after_restore's only).
 * NULL when out of memory.
 */
static char **
hook_environment(const struct restore_options *o, const char *name, const char *job_id,
                 const char *status)
{
	char archive[PATH_MAX], **envp;
	const char *values[HOOK_NVARS] = {name,
	                                  o->target->name,
	                                  job_id,
	                                  realpath(o->archive, archive) != NULL ? archive
	                                                                        : o->archive,
	                                  o->dry_run ? "1" : "0",
	                                  o->db_only ? "1" : "0",
	                                  status};
	size_t n = 0, k = 0;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((envp = calloc(n + HOOK_NVARS + 1, sizeof(*envp))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!hook_var_of(environ[i]) &&
		    !hook_var_in(environ[i], worker_vars,
		                 sizeof(worker_vars) / sizeof(worker_vars[0])))
			envp[k++] = environ[i];
	for (size_t i = 0; i < HOOK_NVARS; i++) {
		if (values[i] == NULL)
			continue;
		if (asprintf(&envp[k], "%s=%s", hook_vars[i], values[i]) < 0) {
			envp[k] = NULL;
			hook_environment_free(envp);
			return NULL;
		}
		k++;
	}
	return envp;
}

/* hook_flush: log the line read so far from stream i, if any. */
static void
hook_flush(struct hook_run *r, int i)
{
	char *text = r->line[i];

	if (r->len[i] == 0)
		return;
	text[r->len[i]] = '\0';
	for (size_t k = 0; k < r->len[i]; k++)
		if ((unsigned char)text[k] < 0x20 || text[k] == 0x7f)
			text[k] = text[k] == '\t' ? ' ' : '?';
	restore_say(r->o, "job %s: %s: %s", r->job_id, r->name, text);
	r->len[i] = 0;
}

/* hook_read: read what stream i holds now (poll said so), logging each whole line. */
static void
hook_read(struct hook_run *r, int i)
{
	char buf[4096];
	ssize_t n = read(i == 0 ? r->sp.out_fd : r->sp.err_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		hook_flush(r, i);
		r->open[i] = false;
		return;
	}
	for (ssize_t k = 0; k < n; k++) {
		if (buf[k] == '\r')
			continue;
		if (buf[k] == '\n') {
			hook_flush(r, i);
			continue;
		}
		if (r->len[i] + 1 >= sizeof(r->line[i]))
			hook_flush(r, i);
		r->line[i][r->len[i]++] = buf[k];
	}
}

/* hook_poll: read what the hook's open streams bring within wait_ms; the number of them ready. */
static int
hook_poll(struct hook_run *r, int wait_ms)
{
	struct pollfd fds[2] = {{r->open[0] ? r->sp.out_fd : -1, POLLIN, 0},
	                        {r->open[1] ? r->sp.err_fd : -1, POLLIN, 0}};
	int ready = poll(fds, 2, wait_ms);

	for (int i = 1; ready > 0 && i >= 0; i--)
		if (fds[i].revents != 0)
			hook_read(r, i);
	return ready;
}

/* hook_group_gone: whether no process of the hook's process group is left. */
static bool
hook_group_gone(const struct hook_run *r)
{
	return kill(-r->group, 0) < 0 && errno == ESRCH;
}

/*
 * hook_follow: log the running hook's output until its process has exited, stopping its
 * process group at the deadline or, when interruptible, once the restore is cancelled. Sets
 * *status (its wait status), *timed_out, *interrupted; returns when it ended.
 */
static double
hook_follow(struct hook_run *r, double deadline, bool interruptible, int *status, bool *timed_out,
            bool *interrupted)
{
	volatile sig_atomic_t *cancel = r->o->cancel;
	bool exited = false, stopping = false, killed = false;
	double now, kill_at = 0, ended = 0;
	int waited;

	while (!exited || (stopping && !killed && !hook_group_gone(r))) {
		now = restore_now();
		if (!stopping && !exited &&
		    (now >= deadline || (interruptible && cancel != NULL && *cancel))) {
			*timed_out = now >= deadline;
			*interrupted = !*timed_out;
			(void)kill(-r->group, SIGTERM);
			stopping = true;
			kill_at = now + HOOK_KILL_GRACE_S;
		}
		if (stopping && !killed && now >= kill_at) {
			(void)kill(-r->group, SIGKILL);
			killed = true;
		}
		if (hook_poll(r, HOOK_POLL_MS) < 0 && errno != EINTR)
			(void)usleep(HOOK_POLL_MS *
			             1000); /* the pipes cannot be watched: only wait */
		if (!exited && (waited = spawn_try_wait(&r->sp, status)) != 0) {
			if (waited < 0)
				*status = 127 << 8; /* it cannot be waited for: as if it failed */
			exited = true;
			ended = restore_now();
		}
		if (r->progress != NULL)
			progress_tick(r->progress);
	}
	/* What it wrote before it exited; not what a program it left behind writes later. */
	for (int i = 0; i < HOOK_DRAIN_READS && (r->open[0] || r->open[1]); i++)
		if (hook_poll(r, 0) <= 0)
			break;
	hook_flush(r, 0);
	hook_flush(r, 1);
	return ended;
}

/*
 * hook_run: run argv as hook kind of restore job_id (status: after_restore's outcome), within
 * limit seconds, recorded in *hook. 0 when it exited 0; -1 with what happened in err
 * ("exited with status 3").
 */
static int
hook_run(const struct restore_options *o, enum hook_kind kind, const char *const *argv, int limit,
         const char *job_id, const char *status, struct progress *progress,
         struct report_hook *hook, char *err, size_t errlen)
{
	struct hook_run r = {.o = o, .job_id = job_id, .progress = progress};
	bool timed_out = false, interrupted = false;
	char **envp = NULL, why[HOOK_MESSAGE_BYTES];
	int wstatus = 0, rc = -1;
	double started, ended;

	r.name = kind == HOOK_BEFORE_RESTORE ? "before_restore" : "after_restore";
	memset(hook, 0, sizeof(*hook));
	hook->ran = true;
	hook->exit_status = -1;
	snprintf(hook->argv0, sizeof(hook->argv0), "%s", argv[0]);
	restore_say(o, "job %s: running %s %s (time limit %d s)", job_id, r.name, argv[0], limit);
	started = restore_now();
	if ((envp = hook_environment(o, r.name, job_id, status)) == NULL) {
		snprintf(err, errlen, "could not be started: out of memory");
		goto done;
	}
	if (spawn_start_session((char *const *)argv, envp, &r.sp, why, sizeof(why)) < 0) {
		hook->exit_status = 127; /* what a shell reports for a command it cannot run */
		hook->duration_s = restore_now() - started;
		snprintf(err, errlen, "could not be started (%s)", why);
		goto done;
	}
	r.group = r.sp.pid;
	r.open[0] = r.open[1] = true;
	ended = hook_follow(&r, started + limit, kind == HOOK_BEFORE_RESTORE, &wstatus, &timed_out,
	                    &interrupted);
	(void)spawn_finish(&r.sp); /* closes the pipes; the process is reaped already */
	hook->duration_s = ended - started;
	hook->timed_out = timed_out;
	if (WIFSIGNALED(wstatus))
		hook->signal = WTERMSIG(wstatus);
	else
		hook->exit_status = WEXITSTATUS(wstatus);
	if (timed_out)
		snprintf(err, errlen,
		         "exceeded its time limit of %d s (hook_timeout_seconds) and was stopped",
		         limit);
	else if (interrupted)
		snprintf(err, errlen, "was stopped: the restore was cancelled");
	else if (hook->signal > 0)
		snprintf(err, errlen, "was killed by signal %d (%s)", hook->signal,
		         strsignal(hook->signal));
	else if (hook->exit_status != 0)
		snprintf(err, errlen, "exited with status %d", hook->exit_status);
	else
		rc = 0;
	restore_say(o, "job %s: %s %s %s after %.3f s", job_id, r.name, argv[0],
	            rc == 0 ? "exited with status 0" : err, hook->duration_s);
done:
	hook_environment_free(envp);
	return rc;
}

/* hook_limit: the target's time limit for each hook, in seconds. */
static int
hook_limit(const struct restore_target *t)
{
	return t->hook_timeout_s > 0 ? t->hook_timeout_s : HOOKS_DEFAULT_TIMEOUT_S;
}

/* hooks_before_restore: the target's before_restore, then nobody connected (hooks.h). */
int
hooks_before_restore(const struct restore_options *o, const char *job_id, struct database *db,
                     struct progress *progress, struct report *report)
{
	const struct restore_target *t = o->target;
	char err[2048];
	bool cancelled;

	if (t->before_restore == NULL || t->before_restore[0] == NULL)
		return 0;
	progress_phase(progress, "before_restore");
	if (hook_run(o, HOOK_BEFORE_RESTORE, t->before_restore, hook_limit(t), job_id, NULL,
	             progress, &report->before_restore, err, sizeof(err)) < 0) {
		/* Interrupted, it is no refusal: the restore may be run again. */
		cancelled = o->cancel != NULL && *o->cancel;
		report_set_error(
		    report, cancelled ? "failed" : "rejected",
		    "target %s: before_restore %s %s; %s", t->name, t->before_restore[0], err,
		    cancelled ? "the target was left as it was"
		              : "the restore was refused and the target left as it was");
		return -1;
	}
	progress_phase(progress, NULL);
	if (db == NULL)
		return 0; /* a swap checks that nobody is connected as it swaps */
	/* The application's sessions end a moment after it does. */
	database_wait_alone(db, 10);
	if (database_check_alone(db, err, sizeof(err)) < 0) {
		report_set_error(
		    report, database_lost(database_conn(db), NULL) ? "failed" : "rejected",
		    "target %s: after before_restore %s: %s", t->name, t->before_restore[0], err);
		return -1;
	}
	return 0;
}

/* hooks_after_restore: the target's after_restore, whatever the outcome (hooks.h). */
void
hooks_after_restore(const struct restore_options *o, const char *job_id, int exit_status,
                    struct progress *progress, struct report *report)
{
	const struct restore_target *t = o->target;
	bool cancelled = o->cancel != NULL && *o->cancel && exit_status == RESTORE_EXIT_UNCHANGED;
	const char *status = cancelled ? "cancelled" : report->status;
	int limit = hook_limit(t);
	char err[HOOK_MESSAGE_BYTES * 2];

	if (t->after_restore == NULL || t->after_restore[0] == NULL)
		return;
	if (o->cancel != NULL && *o->cancel && limit > HOOK_CANCELLED_LIMIT_S)
		limit = HOOK_CANCELLED_LIMIT_S; /* whoever cancelled is waiting for the end */
	progress_phase(progress, "after_restore");
	if (hook_run(o, HOOK_AFTER_RESTORE, t->after_restore, limit, job_id, status, progress,
	             &report->after_restore, err, sizeof(err)) < 0)
		report_warn(report,
		            "target %s: after_restore %s %s; the restore's outcome (%s) stands",
		            t->name, t->after_restore[0], err, status);
}
