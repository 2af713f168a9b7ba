/*
 * spawn.h - run a helper program (pg_restore) from an argv array, never through a shell,
 * with its standard output and standard error on pipes. The child dies with its parent.
 */
#ifndef SPAWN_H
#define SPAWN_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn {
	pid_t pid;
	int out_fd; /* the child's stdout, for reading */
	int err_fd; /* the child's stderr, for reading */
};

/* spawn_start: start argv[0] (looked up on PATH when it has no slash); 0 or -1 with err. */
int spawn_start(char *const argv[], struct spawn *sp, char *err, size_t errlen);

/* spawn_start_env: spawn_start, with envp as the child's environment (NULL: this one's). */
int spawn_start_env(char *const argv[], char *const envp[], struct spawn *sp, char *err,
                    size_t errlen);

/*
 * spawn_start_session: spawn_start_env, the child in a session (and process group) of its own
 * whose id is its pid, without a controlling terminal, every signal unblocked.
 */
int spawn_start_session(char *const argv[], char *const envp[], struct spawn *sp, char *err,
                        size_t errlen);

/*
 * spawn_try_wait: reap the child if it has ended, without waiting: 1 (its wait status in
 * *status; the pipes stay open), 0 while it runs, -1 on error.
 */
int spawn_try_wait(struct spawn *sp, int *status);

/* spawn_finish: close the pipes, wait for the child; its wait status, or -1. */
int spawn_finish(struct spawn *sp);

/* spawn_kill: ask the child to stop (SIGTERM), then reap it as spawn_finish does. */
int spawn_kill(struct spawn *sp);

/* spawn_read_all: run argv to completion, collecting up to buflen-1 bytes of its stdout. */
int spawn_read_all(char *const argv[], char *buf, size_t buflen, char *err, size_t errlen);

/* What spawn_pump() does with a chunk of the child's output: 0 to go on, -1 to stop. */
typedef int (*spawn_sink)(void *ctx, const char *buf, size_t len);

/* spawn_pump's outcomes besides 0 (both streams read to their end). */
#define SPAWN_PUMP_CANCELLED   1  /* *cancel was set */
#define SPAWN_PUMP_SINK_FAILED -1 /* a sink returned -1 (it says why) */
#define SPAWN_PUMP_POLL_FAILED -2 /* poll() failed; errno says why */

/*
 * spawn_pump: hand the child's stdout to on_out and its stderr to on_err (NULL: discard) as
 * they come, through buf, until both are closed, *cancel (may be NULL) is set, or a sink
 * stops it. The child is left running; spawn_finish() or spawn_kill() ends it.
 */
int spawn_pump(struct spawn *sp, volatile sig_atomic_t *cancel, spawn_sink on_out,
               spawn_sink on_err, void *ctx, char *buf, size_t buflen);

/*
 * spawn_pump_ticking: spawn_pump, also calling on_tick(ctx) (may be NULL) each time it wakes,
 * at least every 200 ms even while the child says nothing (to show progress meanwhile).
 */
int spawn_pump_ticking(struct spawn *sp, volatile sig_atomic_t *cancel, spawn_sink on_out,
                       spawn_sink on_err, void (*on_tick)(void *ctx), void *ctx, char *buf,
                       size_t buflen);

/* A child's output taken line by line, for a sink that reads what it says. */
#define SPAWN_LINE_MAX 1024 /* a longer line is cut */
struct spawn_lines {
	char line[SPAWN_LINE_MAX]; /* the line being read */
	size_t len;
};

/* What a line is handed to: the line (no newline), its length. */
typedef void (*spawn_line_fn)(void *ctx, const char *line, size_t len);

/* spawn_lines_feed: add a chunk of output to l, handing each line it completes to fn(ctx). */
void spawn_lines_feed(struct spawn_lines *l, const char *buf, size_t len, spawn_line_fn fn,
                      void *ctx);

/* spawn_lines_end: the output is over: hand a last line without its newline to fn(ctx). */
void spawn_lines_end(struct spawn_lines *l, spawn_line_fn fn, void *ctx);

#endif
