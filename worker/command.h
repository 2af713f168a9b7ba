/*
 * command.h - what the command line's files share (not for the rest of the program): main.c
 * calls one command; command_line.c holds the table of commands and reads argv against it;
 * commands.c runs inspect, run, submit and status, command_restore.c runs restore,
 * command_backup.c runs backup, command_check.c runs check, command_list.c runs list,
 * command_cancel.c runs cancel; command_shared.c holds what the commands share,
 * command_progress.c the progress line of restore and backup.
 */
#ifndef COMMAND_H
#define COMMAND_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"

#define EXIT_USAGE 2

struct command_option; /* command_line.c */

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
	bool wait;           /* submit --wait */
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
command_fn command_list;
command_fn command_cancel; /* command_cancel.c */

/* The command line (command_line.c). */

/*
 * command_parse_global: read the options before COMMAND (-c CONFIG into *config_given,
 * --help, --version). Returns -1 when the program should go on with the command at
 * argv[*first] (*first == argc: none given), else the exit status (0 after --help).
 */
int command_parse_global(int argc, char **argv, const char **config_given, int *first);

/* command_find: the command called name, or NULL. */
const struct command *command_find(const char *name);

/*
 * command_parse: read cmd's options and operand from argv (argv[0] is the command) into args;
 * -c CONFIG there (each command's help lists it) replaces *config_given. Returns -1 when the
 * command should go on, else the exit status (0 after --help).
 */
int command_parse(const struct command *cmd, int argc, char **argv, struct command_args *args,
                  const char **config_given);

/* What the commands share (command_shared.c). */

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

/* The progress line of restore and backup on stderr (command_progress.c). */

/*
 * How a command shows its progress: on a terminal (tty), one line redrawn in place; otherwise
 * that line in the log every 10 seconds.
 */
struct cli_progress {
	bool tty;
	bool shown; /* the live line is on the terminal */
	double last_log;
};

/* command_progress_show: line, the figures at elapsed_s, as the live line or a line now and then.
 */
void command_progress_show(struct cli_progress *cp, const char *line, double elapsed_s);

/* command_progress_erase: take the live line off the terminal. */
void command_progress_erase(struct cli_progress *cp);

/*
 * command_log_line: the engine's log callback: a line on stderr, first erasing the live
 * progress line when ctx is a struct cli_progress (NULL: none).
 */
void command_log_line(void *ctx, const char *line);

#endif
