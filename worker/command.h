/*
 * command.h - what the command line's files share (not for the rest of the program): main.c
 * reads the command line and calls one command; commands.c runs inspect, run, submit and
 * status, command_restore.c runs restore, command_backup.c runs backup, command_check.c runs
 * check.
 */
#ifndef COMMAND_H
#define COMMAND_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"

#define EXIT_USAGE 2

struct command_option; /* main.c */

/* command_args: what a command's options and operands said. */
struct command_args {
	const char *target;  /* --target NAME, or NULL */
	bool db_only;        /* --db-only */
	bool dry_run;        /* --dry-run */
	bool json;           /* --json */
	const char *archive; /* the ARCHIVE operand, for the commands that take one */
	const char *output;  /* backup --output PATH, or NULL */
	const char *keep;    /* backup --keep N, or NULL */
	bool to_backup_dir;  /* backup --to-backup-dir */
};

struct command;
typedef int command_fn(const struct command *cmd, const struct command_args *args,
                       const char *config_given);

/*
 * struct command: one command of the command line. The table below is the only list of
 * commands: the dispatch, restore-worker --help and restore-worker COMMAND --help all read it.
 */
struct command {
	const char *name;
	const char *operand;                  /* "ARCHIVE", or NULL when it takes none */
	const char *summary;                  /* one line for restore-worker --help */
	const char *description;              /* for restore-worker COMMAND --help */
	const char *exit_status;              /* the same, its exit statuses */
	const struct command_option *options; /* ends with a NULL name; --help is implied */
	command_fn *run;
};

command_fn command_inspect, command_restore, command_run, command_submit, command_status,
    command_backup, command_check;

/* command_interrupted: set by command_on_signal(); the engine polls it and stops. */
extern volatile sig_atomic_t command_interrupted;

/*
 * command_catch_signals: SIGINT and SIGTERM set command_interrupted (the engine stops and
 * rolls back), SIGPIPE is ignored.
 */
void command_catch_signals(void);

/* command_usage_error: a one-line complaint and a pointer to the help; returns EXIT_USAGE. */
int command_usage_error(const struct command *cmd, const char *fmt, const char *arg);

/* command_config_path: -c, then $RESTORE_WORKER_CONFIG, then the default. */
const char *command_config_path(const char *given);

/* command_load_config: read the configuration and check what needs the file system. */
struct config *command_load_config(const char *path);

/* command_print_json: a JSON text and a newline on stdout, checking the write. */
int command_print_json(const char *json);

/*
 * command_log_line: the engine's log callback: a line on stderr, first erasing restore's live
 * progress line when ctx is its display (command_restore.c); NULL ctx for none (backup).
 */
void command_log_line(void *ctx, const char *line);

#endif
