/*
 * command_line.c - the command line's grammar (see command.h): the commands, their options
 * and their help are one table, commands[] below, which the dispatch (main.c) and both kinds
 * of --help read, so they cannot disagree; and the reading of argv against it, the options
 * before COMMAND and then the command's own.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "config.h"

/*
 * The options a command can take; each command's table says which it does. Long options get
 * keys above any character, so that getopt_long's optopt tells them from short ones.
 */
enum option_key {
	OPTION_LONG = 256,
	OPTION_TARGET = OPTION_LONG,
	OPTION_DB_ONLY,
	OPTION_DRY_RUN,
	OPTION_JSON,
	OPTION_HELP,
	OPTION_CONFIG,
	OPTION_VERSION,
	OPTION_OUTPUT,
	OPTION_KEEP,
	OPTION_TO_BACKUP_DIR,
	OPTION_WAIT,
};

struct command_option {
	const char *name;  /* the long option, without "--" */
	const char *value; /* the name of its value, or NULL when it takes none */
	int key;           /* what getopt_long returns for it */
	const char *help;  /* one line */
};

static const struct command_option inspect_options[] = {
    {"json", NULL, OPTION_JSON, "print the inspection as JSON on stdout"},
    {NULL, NULL, 0, NULL},
};

static const struct command_option restore_options[] = {
    {"target", "NAME", OPTION_TARGET,
     "the target to restore into (default: the config's default_target)"},
    {"db-only", NULL, OPTION_DB_ONLY, "restore only the database; leave the files alone"},
    {"dry-run", NULL, OPTION_DRY_RUN,
     "rehearse: do the whole restore, then roll it back; the target is not changed"},
    {"json", NULL, OPTION_JSON, "print the report as JSON on stdout"},
    {NULL, NULL, 0, NULL},
};

static const struct command_option run_options[] = {
    {NULL, NULL, 0, NULL},
};

static const struct command_option submit_options[] = {
    {"target", "NAME", OPTION_TARGET,
     "the target to restore into (default: the config's default_target)"},
    {"db-only", NULL, OPTION_DB_ONLY, "restore only the database; leave the files alone"},
    {"dry-run", NULL, OPTION_DRY_RUN, "a rehearsal job (dry_run: true): the target is not changed"},
    {"wait", NULL, OPTION_WAIT, "follow the job until it is filed and exit with its status"},
    {NULL, NULL, 0, NULL},
};

static const struct command_option backup_options[] = {
    {"target", "NAME", OPTION_TARGET,
     "the target to back up (default: the config's default_target)"},
    {"db-only", NULL, OPTION_DB_ONLY, "back up only the database: a bare pg_dump -Fc dump"},
    {"output", "PATH", OPTION_OUTPUT,
     "a folder, a file's path, or - for stdout (default: the current folder)"},
    {"to-backup-dir", NULL, OPTION_TO_BACKUP_DIR,
     "write into the config's backup_dir/<target>/ and keep the newest backup_keep there"},
    {"keep", "N", OPTION_KEEP, "then keep only the newest N backups of this kind in that folder"},
    {"json", NULL, OPTION_JSON, "print the result as JSON on stdout"},
    {NULL, NULL, 0, NULL},
};

static const struct command_option list_options[] = {
    {"target", "NAME", OPTION_TARGET, "list only this target's backups (default: every target)"},
    {"json", NULL, OPTION_JSON, "print the backups as JSON on stdout"},
    {NULL, NULL, 0, NULL},
};

static const struct command_option cancel_options[] = {
    {NULL, NULL, 0, NULL},
};

static const struct command_option status_options[] = {
    {"json", NULL, OPTION_JSON, "print the jobs as JSON on stdout"},
    {NULL, NULL, 0, NULL},
};

static const struct command_option check_options[] = {
    {"target", "NAME", OPTION_TARGET, "check only this target (default: every target)"},
    {"json", NULL, OPTION_JSON, "print the checks as JSON on stdout"},
    {NULL, NULL, 0, NULL},
};

/* The exit statuses of restore (README.md, "Exit status", says the same words). */
static const char exit_status_text[] =
    "Exit status:\n"
    "  0  succeeded\n"
    "  1  refused or failed; the target (database and files) was left exactly as\n"
    "     it was\n"
    "  2  usage or configuration error\n"
    "  3  partial: the target was changed and is incomplete (the report says what is\n"
    "     where)\n";

static const struct command commands[] = {
    {"inspect", "ARCHIVE",
     "say what ARCHIVE holds and whether a restore would accept it; changes nothing",
     "Reads ARCHIVE and says what it holds (kind, .metadata, dump version, compression,\n"
     "TOC entries, decompressed size, files) and whether a restore would accept it, on\n"
     "stderr (with --json: on stdout), and the pg_restore a restore would pick (with a\n"
     "configuration: among its pg_client_dirs, or its pg_restore). It needs no target and\n"
     "changes nothing.\n",
     "Exit status: 0 a restore would accept it; 1 it would refuse it; 2 usage or\n"
     "configuration error.\n",
     inspect_options, command_inspect},
    {"restore", "ARCHIVE", "restore ARCHIVE into a target of the configuration",
     "Restores ARCHIVE into a target of the configuration, all or nothing: the database in\n"
     "one transaction, then the files. Progress and the outcome go to stderr. ARCHIVE may\n"
     "be latest (the target's newest backup) or the name of a backup that list shows.\n",
     exit_status_text, restore_options, command_restore},
    {"run", NULL, "the worker: restore what is dropped into spool_dir, until stopped",
     "The worker daemon: watches the configuration's spool_dir and restores each archive or\n"
     "job file dropped into its incoming/ folders, leaving a report beside it. It runs until\n"
     "SIGTERM or SIGINT and exits 0; SIGHUP reloads the configuration.\n",
     "Exit status: 0 after a clean stop; 2 usage or configuration error.\n", run_options,
     command_run},
    {"submit", "ARCHIVE", "ask the worker to restore ARCHIVE, read where it is",
     "Asks the worker for a restore of ARCHIVE, which stays where it is: writes a job file\n"
     "through spool_dir's tmp/ into incoming/ and prints the job file's path. ARCHIVE may\n"
     "be latest or a backup's name, as for restore: the job file gets its path. With --wait\n"
     "it then follows the job on stderr (why it waits, its progress, its outcome) until the\n"
     "worker files it; SIGINT or SIGTERM stop the waiting, not the job.\n",
     "Exit status: 0 submitted; 1 ARCHIVE cannot be used; 2 usage or configuration error.\n"
     "With --wait, the job's: 0 succeeded; 1 rejected, failed or cancelled; 3 partial;\n"
     "130 the waiting was stopped (the job goes on).\n",
     submit_options, command_submit},
    {"cancel", "JOB_ID", "cancel a queued or running job of the worker",
     "Cancels job JOB_ID (the id submit prints): a queued job, or one not yet started, is\n"
     "filed in failed/ with a report whose status is cancelled; a running restore is rolled\n"
     "back, the target left exactly as it was, and filed the same. A job that reached its\n"
     "commit point (phase committing or later) can no longer be cancelled. It waits until\n"
     "the worker has filed the job (60 s at most).\n",
     "Exit status: 0 cancelled; 1 no such job, already finished, too late, or the worker\n"
     "did not answer in time; 2 usage or configuration error.\n",
     cancel_options, command_cancel},
    {"status", "[JOB_ID]", "list the worker's queued, active, done and failed jobs",
     "Lists the jobs in spool_dir, oldest first: queued, active (running or orphaned), done\n"
     "and failed, each with its archive, target, status and error, a rehearsal marked as\n"
     "one, and why a job waits; with JOB_ID (the id submit prints) only that job.\n",
     "Exit status: 0 listed; 1 no such job, or out of memory; 2 usage or configuration\n"
     "error.\n",
     status_options, command_status},
    {"backup", NULL, "make a backup of a target in the format restore takes",
     "Makes a backup of a target, named as Mendix names them: a full snapshot\n"
     "files_and_database-<8 hex>-<YYYYMMDDHHMM>.tar.gz (.metadata, db/db.backup made by\n"
     "pg_dump -O -x -Fc, tree/xx/yy/<uuid> from blob_dir, the bucket or the container) or,\n"
     "with --db-only, the bare dump database-<8 hex>-<YYYYMMDDHHMM>.backup. The target is\n"
     "only read. The file is written as PATH.part, fsynced and renamed. Progress and the\n"
     "outcome go to stderr.\n",
     "Exit status: 0 written; 1 refused or failed, nothing left behind; 2 usage or\n"
     "configuration error.\n",
     backup_options, command_backup},
    {"list", NULL, "list the backups in backup_dir and previous/, newest first",
     "Lists the backups (files of Mendix names) of every target, or of --target NAME, in\n"
     "backup_dir/<target>/ and spool_dir/previous/<target>/ (keep_previous's), newest\n"
     "first: the time (UTC, from the name), target, source (backup or previous), kind (full\n"
     "or db), size, archive version (read from the dump's header) and name, on stdout (with\n"
     "--json: one JSON object). restore and submit take such a name as ARCHIVE, and latest\n"
     "for a target's newest. Changes nothing.\n",
     "Exit status: 0 listed (also none); 1 a folder cannot be read; 2 usage or\n"
     "configuration error.\n",
     list_options, command_list},
    {"check", NULL, "check the configuration, each target and the host; changes nothing",
     "Checks the configuration and, for each target (or only --target NAME), the login to\n"
     "its database, the role's rights for its strategy, pg_restore and pg_dump against its\n"
     "server and max_dump_version, plan_quota against restore_overhead, blob_dir's folder,\n"
     "its swap and the owner, group and modes a restore gives the files (for a bucket or a\n"
     "container: its credentials and the rights to list, write and delete); then the spool's\n"
     "folders and locks and the free space in work_dir. One line per check on stdout: ok,\n"
     "warning or failed, and what to do (with --json: one JSON object).\n",
     "Exit status: 0 nothing failed (warnings allowed); 1 a check failed; 2 usage or\n"
     "configuration error.\n",
     check_options, command_check},
};

#define NCOMMANDS           (sizeof(commands) / sizeof(commands[0]))
#define COMMAND_OPTIONS_MAX 10 /* options of one command, --help and --config included */

static const char about_text[] =
    "Restores a Mendix backup into an existing PostgreSQL database and a blob folder, all or\n"
    "nothing. ARCHIVE is a full snapshot (.tar.gz, .tgz or .tar holding .metadata,\n"
    "db/db.backup and tree/xx/yy/<uuid> files) or a database-only backup (a custom-format\n"
    "dump made with pg_dump -Fc, bare or gzip-compressed); they are told apart by content.\n"
    "ARCHIVE may also be latest, the target's newest backup, or the name of one (see list).\n";

static const char config_option_text[] =
    "  -c, --config CONFIG  configuration file, before or after COMMAND (default:\n"
    "                       $RESTORE_WORKER_CONFIG, then " CONFIG_DEFAULT_PATH ")\n";

/* print_usage_line: "restore-worker [-c CONFIG] NAME [--option VALUE]... [OPERAND]". */
static void
print_usage_line(FILE *out, const char *prefix, const struct command *cmd)
{
	fprintf(out, "%srestore-worker [-c CONFIG] %s", prefix, cmd->name);
	for (const struct command_option *o = cmd->options; o->name != NULL; o++)
		fprintf(out, o->value != NULL ? " [--%s %s]" : " [--%s]", o->name, o->value);
	fprintf(out, "%s%s\n", cmd->operand != NULL ? " " : "",
	        cmd->operand != NULL ? cmd->operand : "");
}

/* print_help: restore-worker --help, every command with one line. */
static void
print_help(void)
{
	printf("Usage:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		print_usage_line(stdout, "  ", &commands[i]);
	printf("  restore-worker --help | --version\n"
	       "  restore-worker COMMAND --help\n\n%s\nCommands:\n",
	       about_text);
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("  %-9s %s\n", commands[i].name, commands[i].summary);
	printf("\nOptions:\n%s"
	       "  -h, --help           show this help (after COMMAND: that command's help)\n"
	       "  -V, --version        show the version\n\n%s",
	       config_option_text, exit_status_text);
}

/* print_command_help: restore-worker COMMAND --help, its usage and every option it takes. */
static void
print_command_help(const struct command *cmd)
{
	char label[64];

	print_usage_line(stdout, "Usage: ", cmd);
	printf("\n%s\nOptions:\n", cmd->description);
	for (const struct command_option *o = cmd->options; o->name != NULL; o++) {
		snprintf(label, sizeof(label), o->value != NULL ? "--%s %s" : "--%s", o->name,
		         o->value);
		printf("  %-19s  %s\n", label, o->help);
	}
	printf("  %-19s  %s\n%s\n%s", "-h, --help", "show this help", config_option_text,
	       cmd->exit_status);
}

/* option_refused: say what is wrong with the option getopt_long just returned c (? or :) for. */
static int
option_refused(const struct command *cmd, const struct option *longopts, char **argv, int c)
{
	char shown[64];

	if (optopt >= OPTION_LONG) {
		while (longopts->name != NULL && longopts->val != optopt)
			longopts++;
		snprintf(shown, sizeof(shown), "--%s",
		         longopts->name != NULL ? longopts->name : "");
	} else if (optopt != 0) {
		snprintf(shown, sizeof(shown), "-%c", optopt);
	} else {
		/* An unknown long option: getopt_long has moved past it. */
		const char *arg = argv[optind - 1];

		snprintf(shown, sizeof(shown), "%.*s", (int)strcspn(arg, "="), arg);
	}
	if (c == ':')
		return command_usage_error(cmd, "%s needs a value", shown);
	if (optopt >= OPTION_LONG)
		return command_usage_error(cmd, "%s takes no value", shown);
	return command_usage_error(cmd, "unknown option %s", shown);
}

/*
 * command_parse: read cmd's options and operand from argv (argv[0] is the command) into args;
 * -c CONFIG there (each command's help lists it) replaces *config_given. Returns -1 when the
 * command should go on, else the exit status (0 after --help).
 */
int
command_parse(const struct command *cmd, int argc, char **argv, struct command_args *args,
              const char **config_given)
{
	struct option longopts[COMMAND_OPTIONS_MAX + 1];
	size_t n = 0;
	int c;

	for (const struct command_option *o = cmd->options; o->name != NULL; o++) {
		if (n + 3 > COMMAND_OPTIONS_MAX)
			return command_usage_error(cmd, "has too many options%s", "");
		longopts[n++] = (struct option){
		    o->name, o->value != NULL ? required_argument : no_argument, NULL, o->key};
	}
	longopts[n++] = (struct option){"help", no_argument, NULL, OPTION_HELP};
	longopts[n++] = (struct option){"config", required_argument, NULL, OPTION_CONFIG};
	longopts[n] = (struct option){NULL, 0, NULL, 0};

	memset(args, 0, sizeof(*args));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hc:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
		case OPTION_HELP:
			print_command_help(cmd);
			return fflush(stdout) == EOF ? EXIT_USAGE : 0;
		case 'c':
		case OPTION_CONFIG:
			*config_given = optarg;
			break;
		case OPTION_TARGET:
			args->target = optarg;
			break;
		case OPTION_DB_ONLY:
			args->db_only = true;
			break;
		case OPTION_DRY_RUN:
			args->dry_run = true;
			break;
		case OPTION_JSON:
			args->json = true;
			break;
		case OPTION_OUTPUT:
			args->output = optarg;
			break;
		case OPTION_TO_BACKUP_DIR:
			args->to_backup_dir = true;
			break;
		case OPTION_KEEP:
			args->keep = optarg;
			break;
		case OPTION_WAIT:
			args->wait = true;
			break;
		default:
			return option_refused(cmd, longopts, argv, c);
		}
	}
	if (cmd->operand != NULL &&
	    (cmd->operand[0] == '[' ? argc - optind > 1 : argc - optind != 1)) /* [optional] */
		return command_usage_error(cmd, "takes one %s", cmd->operand);
	if (cmd->operand == NULL && argc - optind != 0)
		return command_usage_error(cmd, "takes no arguments, found '%s'", argv[optind]);
	args->archive = cmd->operand != NULL ? argv[optind] : NULL;
	return -1;
}

/* command_find: the command called name, or NULL. */
const struct command *
command_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* command_parse_global: -c, --help and --version before COMMAND; -1 to go on (command.h). */
int
command_parse_global(int argc, char **argv, const char **config_given, int *first)
{
	static const struct option options[] = {{"config", required_argument, NULL, OPTION_CONFIG},
	                                        {"help", no_argument, NULL, OPTION_HELP},
	                                        {"version", no_argument, NULL, OPTION_VERSION},
	                                        {NULL, 0, NULL, 0}};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:hV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
		case OPTION_CONFIG:
			*config_given = optarg;
			break;
		case 'h':
		case OPTION_HELP:
			print_help();
			return fflush(stdout) == EOF ? EXIT_USAGE : 0;
		case 'V':
		case OPTION_VERSION:
			printf("restore-worker %s\n", RW_VERSION);
			return fflush(stdout) == EOF ? EXIT_USAGE : 0;
		default:
			return option_refused(NULL, options, argv, c);
		}
	}
	*first = optind;
	return -1;
}
