/*
 * main.c - the restore-worker command line: inspect, restore, run, submit, cancel, status,
 * backup, list and check.
 *
 *	restore-worker [-c CONFIG] COMMAND [OPTION]... [ARCHIVE]
 *	restore-worker --help | --version | COMMAND --help
 *
 * This file is the program's entry and dispatch only. The commands, their options and their
 * help are one table in command_line.c, which also reads argv against it; the commands
 * themselves are in commands.c (inspect, run, submit, status), command_restore.c,
 * command_backup.c, command_list.c, command_cancel.c and command_check.c; what they share
 * (the configuration's path and loading, the signal flag, JSON on stdout) is
 * command_shared.c's, the progress line of restore and backup command_progress.c's. All are
 * declared in command.h.
 *
 * Exit status: 0 succeeded; 1 refused or failed, the target left as it was; 3 partial (the
 * target was changed and is incomplete); 2 usage or configuration error. Progress and the
 * outcome go to stderr; with --json the report goes to stdout. These are contracts:
 * README.md documents them.
 */
#include <stddef.h>

#include "command.h"

int
main(int argc, char **argv)
{
	const char *config_given = NULL;
	const struct command *cmd;
	struct command_args args;
	int first, rc;

	rc = command_parse_global(argc, argv, &config_given, &first);
	if (rc >= 0)
		return rc;
	if (first >= argc)
		return command_usage_error(NULL, "no command given%s", "");
	argc -= first;
	argv += first;
	cmd = command_find(argv[0]);
	if (cmd == NULL)
		return command_usage_error(NULL, "unknown command '%s'", argv[0]);
	rc = command_parse(cmd, argc, argv, &args, &config_given);
	if (rc >= 0)
		return rc;
	return cmd->run(cmd, &args, config_given);
}
