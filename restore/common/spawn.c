/*
 * spawn.c - the one place where this program starts another.
 *
 * fork + execvp rather than posix_spawn because the child must ask for PR_SET_PDEATHSIG: if
 * the worker is killed, its pg_restore must not go on writing into a pipe nobody reads.
 * Every descriptor the parent holds is close-on-exec, so the child inherits only its three
 * standard streams (stdin is /dev/null).
 * spawn_start_env() gives the child an environment of the caller's making (execvpe): how
 * the swap strategy hands pg_restore a password without putting it on its command line.
 * spawn_start_session() also puts the child in a session of its own, for a hook (hooks.c) whose
 * every process must be stoppable at once.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_PIPE_BYTES (1024 * 1024)

int
spawn_start(char *const argv[], struct spawn *sp, char *err, size_t errlen)
{
	return spawn_start_env(argv, NULL, sp, err, errlen);
}

/*
 * spawn_fork: spawn_start_env's work; own_session: the child leads a session of its own (so
 * that a signal to its process group reaches whatever it starts), without a controlling
 * terminal, every signal unblocked and SIGHUP, SIGINT and SIGTERM at their defaults (a job
 * child ignores SIGHUP, and an ignored signal stays ignored across exec).
 */
static int
spawn_fork(char *const argv[], char *const envp[], bool own_session, struct spawn *sp, char *err,
           size_t errlen)
{
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, ready[2] = {-1, -1};
	pid_t parent = getpid();
	int child_errno = 0;
	ssize_t n;

	sp->pid = -1;
	sp->out_fd = sp->err_fd = -1;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(ready, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create a pipe for %s: %s", argv[0], strerror(errno));
		goto fail;
	}
	sp->pid = fork();
	if (sp->pid < 0) {
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
		goto fail;
	}
	if (sp->pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		if (own_session) {
			sigset_t none;

			sigemptyset(&none);
			(void)sigprocmask(SIG_SETMASK, &none, NULL);
			signal(SIGHUP, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
		}
		if ((own_session && setsid() < 0) || devnull < 0 || dup2(devnull, 0) < 0 ||
		    dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0) {
			child_errno = errno;
			(void)!write(ready[1], &child_errno, sizeof(child_errno));
			_exit(127);
		}
		if (envp != NULL)
			execvpe(argv[0], argv, envp);
		else
			execvp(argv[0], argv);
		child_errno = errno;
		(void)!write(ready[1], &child_errno, sizeof(child_errno));
		_exit(127);
	}
	(void)close(out[1]);
	(void)close(errp[1]);
	(void)close(ready[1]);
	out[1] = errp[1] = ready[1] = -1;
	/* The ready pipe closes on a successful exec; otherwise it carries errno. */
	do
		n = read(ready[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	(void)close(ready[0]);
	ready[0] = -1;
	if (n == (ssize_t)sizeof(child_errno)) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(child_errno));
		(void)waitpid(sp->pid, NULL, 0);
		sp->pid = -1;
		goto fail;
	}
	/* A larger pipe means fewer switches between the child, this process and the server. */
	(void)fcntl(out[0], F_SETPIPE_SZ, SPAWN_PIPE_BYTES);
	sp->out_fd = out[0];
	sp->err_fd = errp[0];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			(void)close(out[i]);
		if (errp[i] >= 0)
			(void)close(errp[i]);
		if (ready[i] >= 0)
			(void)close(ready[i]);
	}
	return -1;
}

int
spawn_start_env(char *const argv[], char *const envp[], struct spawn *sp, char *err, size_t errlen)
{
	return spawn_fork(argv, envp, false, sp, err, errlen);
}

int
spawn_start_session(char *const argv[], char *const envp[], struct spawn *sp, char *err,
                    size_t errlen)
{
	return spawn_fork(argv, envp, true, sp, err, errlen);
}

int
spawn_try_wait(struct spawn *sp, int *status)
{
	pid_t got;

	if (sp->pid <= 0)
		return -1;
	do
		got = waitpid(sp->pid, status, WNOHANG);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return 0;
	sp->pid = -1;
	return got < 0 ? -1 : 1;
}

int
spawn_finish(struct spawn *sp)
{
	int status;
	pid_t got;

	if (sp->out_fd >= 0)
		(void)close(sp->out_fd);
	if (sp->err_fd >= 0)
		(void)close(sp->err_fd);
	sp->out_fd = sp->err_fd = -1;
	if (sp->pid <= 0)
		return -1;
	do
		got = waitpid(sp->pid, &status, 0);
	while (got < 0 && errno == EINTR);
	sp->pid = -1;
	return got < 0 ? -1 : status;
}

int
spawn_kill(struct spawn *sp)
{
	if (sp->pid > 0)
		(void)kill(sp->pid, SIGTERM);
	return spawn_finish(sp);
}

int
spawn_read_all(char *const argv[], char *buf, size_t buflen, char *err, size_t errlen)
{
	struct spawn sp;
	size_t len = 0;
	int status;

	if (spawn_start(argv, &sp, err, errlen) < 0)
		return -1;
	(void)close(sp.err_fd);
	sp.err_fd = -1;
	for (;;) {
		char scratch[512];
		ssize_t n = read(sp.out_fd, scratch, sizeof(scratch));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && len + 1 < buflen; i++)
			buf[len++] = scratch[i];
	}
	buf[len] = '\0';
	status = spawn_finish(&sp);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "%s failed", argv[0]);
		return -1;
	}
	return 0;
}

int
spawn_pump(struct spawn *sp, volatile sig_atomic_t *cancel, spawn_sink on_out, spawn_sink on_err,
           void *ctx, char *buf, size_t buflen)
{
	return spawn_pump_ticking(sp, cancel, on_out, on_err, NULL, ctx, buf, buflen);
}

int
spawn_pump_ticking(struct spawn *sp, volatile sig_atomic_t *cancel, spawn_sink on_out,
                   spawn_sink on_err, void (*on_tick)(void *ctx), void *ctx, char *buf,
                   size_t buflen)
{
	bool open[2] = {true, true};
	spawn_sink sinks[2] = {on_out, on_err};

	while (open[0] || open[1]) {
		struct pollfd fds[2] = {{open[0] ? sp->out_fd : -1, POLLIN, 0},
		                        {open[1] ? sp->err_fd : -1, POLLIN, 0}};

		if (cancel != NULL && *cancel)
			return SPAWN_PUMP_CANCELLED;
		if (poll(fds, 2, 200) < 0) {
			if (errno == EINTR)
				continue;
			return SPAWN_PUMP_POLL_FAILED;
		}
		if (on_tick != NULL)
			on_tick(ctx);
		/* stderr first: what the child says of a failure arrives before its output ends. */
		for (int i = 1; i >= 0; i--) {
			ssize_t n;

			if (fds[i].revents == 0)
				continue;
			n = read(fds[i].fd, buf, buflen);
			if (n > 0) {
				if (sinks[i] != NULL && sinks[i](ctx, buf, (size_t)n) < 0)
					return SPAWN_PUMP_SINK_FAILED;
			} else if (n == 0 || errno != EINTR) {
				open[i] = false;
			}
		}
	}
	return 0;
}

void
spawn_lines_feed(struct spawn_lines *l, const char *buf, size_t len, spawn_line_fn fn, void *ctx)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			fn(ctx, l->line, l->len);
			l->len = 0;
		} else if (l->len < sizeof(l->line)) {
			l->line[l->len++] = buf[i];
		}
	}
}

void
spawn_lines_end(struct spawn_lines *l, spawn_line_fn fn, void *ctx)
{
	if (l->len > 0)
		fn(ctx, l->line, l->len);
	l->len = 0;
}
