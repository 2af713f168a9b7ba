/*
 * daemon.h - restore-worker run: the spool daemon (see daemon.c and README.md).
 */
#ifndef DAEMON_H
#define DAEMON_H

struct config;

/*
 * daemon_run: watch the spool and restore what is dropped there until SIGTERM or SIGINT.
 * Takes over config (freed on return). Returns the exit status: 0 after a clean stop, 2 when
 * it cannot start.
 */
int daemon_run(const char *config_path, struct config *config);

#endif
