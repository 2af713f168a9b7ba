/*
 * spawn.h - run a helper program (pg_restore) from an argv array, never through a shell,
 * with its standard output and standard error on pipes. The child dies with its parent.
 */
#ifndef SPAWN_H
#define SPAWN_H

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

/* spawn_finish: close the pipes, wait for the child; its wait status, or -1. */
int spawn_finish(struct spawn *sp);

/* spawn_kill: ask the child to stop (SIGTERM), then reap it as spawn_finish does. */
int spawn_kill(struct spawn *sp);

/* spawn_read_all: run argv to completion, collecting up to buflen-1 bytes of its stdout. */
int spawn_read_all(char *const argv[], char *buf, size_t buflen, char *err, size_t errlen);

#endif
