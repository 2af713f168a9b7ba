/*
 * main.c - the restore-worker command line: inspect, restore, run, submit, status and backup.
 *
 *	restore-worker [-c CONFIG] COMMAND [OPTION]... [ARCHIVE]
 *	restore-worker --help | --version | COMMAND --help
 *
 * The commands, their options and their help are one table, commands[] below: the dispatch
 * and both kinds of --help read it, so they cannot disagree.
 *
 * Exit status: 0 succeeded; 1 refused or failed, the target left as it was; 3 partial (the
 * target was changed and is incomplete); 2 usage or configuration error. Progress and the
 * outcome go to stderr; with --json the report goes to stdout. These are contracts:
 * README.md documents them.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "config.h"
#include "daemon.h"
#include "database.h"
#include "progress_view.h"
#include "restore.h"
#include "spool.h"
#include "status.h"

#define EXIT_USAGE 2

static volatile sig_atomic_t interrupted;

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
};

struct command_option {
	const char *name;  /* the long option, without "--" */
	const char *value; /* the name of its value, or NULL when it takes none */
	int key;           /* what getopt_long returns for it */
	const char *help;  /* one line */
};

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

static command_fn command_inspect, command_restore, command_run, command_submit, command_status;

static const struct command_option inspect_options[] = {
    {"json", NULL, OPTION_JSON, "print the inspection as JSON on stdout"},
    {NULL, NULL, 0, NULL},
};

static const struct command_option restore_options[] = {
    {"target", "NAME", OPTION_TARGET,
     "the target to restore into (default: the config's default_target)"},
    {"db-only", NULL, OPTION_DB_ONLY, "restore only the database; leave the blob folder alone"},
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
    {"db-only", NULL, OPTION_DB_ONLY, "restore only the database; leave the blob folder alone"},
    {"dry-run", NULL, OPTION_DRY_RUN, "a rehearsal job (dry_run: true): the target is not changed"},
    {NULL, NULL, 0, NULL},
};

static command_fn command_backup;

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

static const struct command_option status_options[] = {
    {"json", NULL, OPTION_JSON, "print the jobs as JSON on stdout"},
    {NULL, NULL, 0, NULL},
};

static const struct command commands[] = {
    {"inspect", "ARCHIVE",
     "say what ARCHIVE holds and whether a restore would accept it; changes nothing",
     "Reads ARCHIVE and says what it holds (kind, .metadata, dump version, compression,\n"
     "TOC entries, decompressed size, files) and whether a restore would accept it, on\n"
     "stderr (with --json: on stdout). It needs no target and changes nothing; with a\n"
     "configuration it uses that configuration's pg_restore.\n",
     "Exit status: 0 a restore would accept it; 1 it would refuse it; 2 usage or\n"
     "configuration error.\n",
     inspect_options, command_inspect},
    {"restore", "ARCHIVE", "restore ARCHIVE into a target of the configuration",
     "Restores ARCHIVE into a target of the configuration, all or nothing: the database in\n"
     "one transaction, then the files. Progress and the outcome go to stderr.\n",
     "Exit status: 0 succeeded; 1 refused or failed, the target left as it was;\n"
     "3 partial (the database was restored but the files could not be swapped in);\n"
     "2 usage or configuration error.\n",
     restore_options, command_restore},
    {"run", NULL, "the worker: restore what is dropped into spool_dir, until stopped",
     "The worker daemon: watches the configuration's spool_dir and restores each archive or\n"
     "job file dropped into its incoming/ folders, leaving a report beside it. It runs until\n"
     "SIGTERM or SIGINT and exits 0; SIGHUP reloads the configuration.\n",
     "Exit status: 0 after a clean stop; 2 usage or configuration error.\n", run_options,
     command_run},
    {"submit", "ARCHIVE", "ask the worker to restore ARCHIVE, read where it is",
     "Asks the worker for a restore of ARCHIVE, which stays where it is: writes a job file\n"
     "through spool_dir's tmp/ into incoming/ and prints the job file's path.\n",
     "Exit status: 0 submitted; 1 ARCHIVE cannot be used; 2 usage or configuration error.\n",
     submit_options, command_submit},
    {"status", NULL, "list the worker's queued, active, done and failed jobs",
     "Lists the jobs in spool_dir: queued, active (running or orphaned), done and failed,\n"
     "with their status and error.\n",
     "Exit status: 0 listed; 1 out of memory; 2 usage or configuration error.\n", status_options,
     command_status},
    {"backup", NULL, "make a backup of a target in the format restore takes",
     "Makes a backup of a target, named as Mendix names them: a full snapshot\n"
     "files_and_database-<8 hex>-<YYYYMMDDHHMM>.tar.gz (.metadata, db/db.backup made by\n"
     "pg_dump -O -x -Fc, tree/xx/yy/<uuid> from blob_dir) or, with --db-only, the bare dump\n"
     "database-<8 hex>-<YYYYMMDDHHMM>.backup. The target is only read. The file is written\n"
     "as PATH.part, fsynced and renamed. Progress and the outcome go to stderr.\n",
     "Exit status: 0 written; 1 refused or failed, nothing left behind; 2 usage or\n"
     "configuration error.\n",
     backup_options, command_backup},
};

#define NCOMMANDS           (sizeof(commands) / sizeof(commands[0]))
#define COMMAND_OPTIONS_MAX 8 /* options of one command, --help included */

static const char about_text[] =
    "Restores a Mendix backup into an existing PostgreSQL database and a blob folder, all or\n"
    "nothing. ARCHIVE is a full snapshot (.tar.gz, .tgz or .tar holding .metadata,\n"
    "db/db.backup and tree/xx/yy/<uuid> files) or a database-only backup (a custom-format\n"
    "dump made with pg_dump -Fc, bare or gzip-compressed); they are told apart by content.\n";

static const char config_option_text[] =
    "  -c, --config CONFIG  configuration file, given before COMMAND (default:\n"
    "                       $RESTORE_WORKER_CONFIG, then " CONFIG_DEFAULT_PATH ")\n";

static const char exit_status_text[] =
    "Exit status: 0 succeeded; 1 refused or failed, the target left as it was;\n"
    "3 partial (the database was restored but the files could not be swapped in);\n"
    "2 usage or configuration error.\n";

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

/* usage_error: a one-line complaint and a pointer to the help; returns EXIT_USAGE. */
static int
usage_error(const struct command *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "restore-worker: ");
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'restore-worker %s%s--help'.\n", cmd != NULL ? cmd->name : "",
	        cmd != NULL ? " " : "");
	return EXIT_USAGE;
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
		return usage_error(cmd, "%s needs a value", shown);
	if (optopt >= OPTION_LONG)
		return usage_error(cmd, "%s takes no value", shown);
	return usage_error(cmd, "unknown option %s", shown);
}

/*
 * command_parse: read cmd's options and operand from argv (argv[0] is the command) into args.
 * Returns -1 when the command should go on, else the exit status (0 after --help).
 */
static int
command_parse(const struct command *cmd, int argc, char **argv, struct command_args *args)
{
	struct option longopts[COMMAND_OPTIONS_MAX + 1];
	size_t n = 0;
	int c;

	for (const struct command_option *o = cmd->options; o->name != NULL; o++) {
		if (n + 2 > COMMAND_OPTIONS_MAX)
			return usage_error(cmd, "has too many options%s", "");
		longopts[n++] = (struct option){
		    o->name, o->value != NULL ? required_argument : no_argument, NULL, o->key};
	}
	longopts[n++] = (struct option){"help", no_argument, NULL, OPTION_HELP};
	longopts[n] = (struct option){NULL, 0, NULL, 0};

	memset(args, 0, sizeof(*args));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
		case OPTION_HELP:
			print_command_help(cmd);
			return fflush(stdout) == EOF ? EXIT_USAGE : 0;
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
		default:
			return option_refused(cmd, longopts, argv, c);
		}
	}
	if (cmd->operand != NULL && argc - optind != 1)
		return usage_error(cmd, "takes one %s", cmd->operand);
	if (cmd->operand == NULL && argc - optind != 0)
		return usage_error(cmd, "takes no arguments, found '%s'", argv[optind]);
	args->archive = cmd->operand != NULL ? argv[optind] : NULL;
	return -1;
}

/* on_signal: SIGINT/SIGTERM: abort the restore; the engine rolls everything back. */
static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
	database_cancel_running();
}

#define PROGRESS_LOG_SECONDS 10.0 /* without a terminal: a progress line this often */

/*
 * How restore shows its progress on stderr: on a terminal, one line redrawn in place (and
 * erased before any other line, and at the end); otherwise a line every 10 seconds.
 */
struct cli_progress {
	bool tty;
	bool shown; /* the live line is on the terminal */
	double last_log;
};

/* progress_erase: take the live line off the terminal. */
static void
progress_erase(struct cli_progress *cp)
{
	if (cp->shown) {
		fputs("\r\033[K", stderr);
		cp->shown = false;
	}
}

/* log_line: progress on stderr. */
static void
log_line(void *ctx, const char *line)
{
	struct cli_progress *cp = ctx;

	if (cp != NULL)
		progress_erase(cp);
	fprintf(stderr, "restore-worker: %s\n", line);
}

/* show_progress: the engine's figures, as the live line or a line now and then. */
static void
show_progress(void *ctx, const struct restore_progress *p)
{
	struct cli_progress *cp = ctx;
	char line[512];

	progress_view_line(p, line, sizeof(line));
	if (cp->tty) {
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
		cp->shown = true;
	} else if (p->elapsed_s - cp->last_log >= PROGRESS_LOG_SECONDS) {
		fprintf(stderr, "restore-worker: %s\n", line);
		cp->last_log = p->elapsed_s;
	}
}

/* config_path: -c, then $RESTORE_WORKER_CONFIG, then the default. */
static const char *
config_path(const char *given)
{
	const char *env = getenv("RESTORE_WORKER_CONFIG");

	if (given != NULL)
		return given;
	if (env != NULL && env[0] != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}

/* load_config: read the configuration and check what needs the file system. */
static struct config *
load_config(const char *path)
{
	struct config *config = NULL;
	char err[1024];
	struct stat st;

	if (config_load(path, &config, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		return NULL;
	}
	if (stat(config->work_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "restore-worker: %s: work_dir %s %s\n", path, config->work_dir,
		        errno == ENOENT ? "does not exist" : "is not a usable folder");
		config_free(config);
		return NULL;
	}
	return config;
}

/* print_json: a JSON text and a newline on stdout, checking the write. */
static int
print_json(const char *json)
{
	if (json == NULL) {
		fprintf(stderr, "restore-worker: out of memory writing the report\n");
		return -1;
	}
	if (fputs(json, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		fprintf(stderr, "restore-worker: cannot write the report: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* command_inspect: restore-worker inspect [--json] ARCHIVE */
static int
command_inspect(const struct command *cmd, const struct command_args *args,
                const char *config_given)
{
	struct config *config = NULL;
	const char *pg_restore = NULL;
	char *json = NULL, *text = NULL;
	int rc;

	(void)cmd;
	/* A configuration is optional here: it only names the pg_restore to compare with. */
	if (config_given != NULL || getenv("RESTORE_WORKER_CONFIG") != NULL) {
		config = load_config(config_path(config_given));
		if (config == NULL)
			return EXIT_USAGE;
		pg_restore = config->pg_restore;
	}
	rc = restore_inspect(args->archive, pg_restore, &json, &text);
	if (rc >= 0) {
		if (args->json) {
			if (print_json(json) < 0)
				rc = 1;
		} else {
			fputs(text, stderr);
		}
	} else {
		fprintf(stderr, "restore-worker: out of memory\n");
		rc = 1;
	}
	free(json);
	free(text);
	config_free(config);
	return rc;
}

/* refuse_busy: the target's lock is held (by the worker); say so, as a report too. */
static int
refuse_busy(const char *archive, const char *target, int json_out, int why)
{
	struct report report;
	char job_id[37];

	restore_new_job_id(job_id);
	if (report_init(&report, job_id, archive, target, false) == 0) {
		if (why == EAGAIN)
			report_set_error(
			    &report, "rejected",
			    "target %s is being restored by restore-worker run right now; "
			    "try again when its job is done",
			    target);
		else
			report_set_error(&report, "failed", "cannot lock target %s: %s", target,
			                 strerror(why));
		clock_gettime(CLOCK_REALTIME, &report.finished_at);
		fprintf(stderr, "restore-worker: %s\n", report.error);
		if (json_out) {
			char *json = report_json(&report);

			(void)print_json(json);
			free(json);
		}
	}
	report_free(&report);
	return RESTORE_EXIT_UNCHANGED;
}

/* command_restore: restore-worker restore [--target NAME] [--db-only] [--json] ARCHIVE */
static int
command_restore(const struct command *cmd, const struct command_args *args,
                const char *config_given)
{
	const char *target_name = args->target, *path;
	const struct config_target *ct;
	struct restore_target target;
	struct restore_options ro;
	struct restore_leftover *leftover = NULL;
	struct cli_progress progress = {.tty = isatty(STDERR_FILENO) == 1};
	char *previous = NULL;
	struct config *config;
	struct report report;
	struct sigaction sa;
	struct spool sp;
	int status, lock = -1;

	(void)cmd;
	path = config_path(config_given);
	config = load_config(path);
	if (config == NULL)
		return EXIT_USAGE;
	if (target_name == NULL)
		target_name = config->default_target;
	if (target_name == NULL) {
		fprintf(stderr,
		        "restore-worker: %s has no default_target; name one with --target\n", path);
		config_free(config);
		return EXIT_USAGE;
	}
	ct = config_target_find(config, target_name);
	if (ct == NULL) {
		fprintf(stderr, "restore-worker: %s has no target '%s'\n", path, target_name);
		config_free(config);
		return EXIT_USAGE;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * With a spool, the worker's lock on the target keeps a manual restore and the daemon's
	 * from running at once; holding it also lets the engine end a dead worker's sessions.
	 */
	if (config->spool_dir != NULL) {
		char err[1024];

		if (spool_open(config->spool_dir, &sp, err, sizeof(err)) < 0) {
			fprintf(stderr, "restore-worker: %s\n", err);
			config_free(config);
			return EXIT_USAGE;
		}
		lock = spool_lock_target(&sp, ct->name);
		if (lock < 0) {
			status = refuse_busy(args->archive, ct->name, args->json, errno);
			spool_close(&sp);
			config_free(config);
			return status;
		}
	}

	config_restore_target(ct, &target);
	memset(&ro, 0, sizeof(ro));
	ro.archive = args->archive;
	ro.target = &target;
	ro.work_dir = config->work_dir;
	ro.pg_restore = config->pg_restore;
	ro.db_only = args->db_only;
	ro.dry_run = args->dry_run;
	ro.cancel = &interrupted;
	ro.log = log_line;
	ro.log_ctx = &progress;
	ro.progress = show_progress;
	ro.progress_ctx = &progress;
	ro.holds_target_lock = lock >= 0;
	ro.leftover = &leftover;
	ro.pg_dump = config->pg_dump;
	if (ct->keep_previous && !args->dry_run) {
		char err[1024];

		/* config_load refuses keep_previous without spool_dir: the spool is open. */
		ro.previous_keep = ct->previous_keep;
		ro.previous_dir = previous = spool_previous_dir(&sp, ct->name, err, sizeof(err));
		if (previous == NULL) {
			fprintf(stderr, "restore-worker: %s; nothing was restored\n", err);
			spool_unlock(lock);
			spool_close(&sp);
			config_free(config);
			return RESTORE_EXIT_UNCHANGED;
		}
	}
	status = restore_run(&ro, &report);
	progress_erase(&progress);
	if (!args->json) {
		for (size_t i = 0; i < report.nwarnings; i++)
			fprintf(stderr, "restore-worker: warning: %s\n", report.warnings[i]);
		for (size_t i = 0; i < report.database.nerrors; i++)
			fprintf(stderr, "restore-worker: database error%s%s: %s\n",
			        report.database.errors[i].where != NULL ? " at TOC entry " : "",
			        report.database.errors[i].where != NULL
			            ? report.database.errors[i].where
			            : "",
			        report.database.errors[i].message);
	} else {
		char *json = report_json(&report);

		if (print_json(json) < 0 && status == RESTORE_EXIT_SUCCEEDED)
			status = RESTORE_EXIT_UNCHANGED;
		free(json);
	}
	report_free(&report);
	restore_finish(leftover, &ro); /* the old files go once the report is out */
	free(previous);
	if (lock >= 0) {
		spool_unlock(lock);
		spool_close(&sp);
	}
	config_free(config);
	return status;
}

/* spool_config: the configuration for run, submit and status, which all need spool_dir. */
static struct config *
spool_config(const struct command *cmd, const char *path)
{
	struct config *config = load_config(path);

	if (config != NULL && config->spool_dir == NULL) {
		fprintf(stderr, "restore-worker: %s: %s needs spool_dir\n", path, cmd->name);
		config_free(config);
		return NULL;
	}
	return config;
}

/* command_run: restore-worker run, the worker daemon. */
static int
command_run(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *path = config_path(config_given);
	struct config *config = spool_config(cmd, path);

	(void)args;
	if (config == NULL)
		return EXIT_USAGE;
	return daemon_run(path, config); /* it frees config */
}

/* command_submit: restore-worker submit [--target NAME] [--db-only] ARCHIVE */
static int
command_submit(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *path = config_path(config_given);
	struct config *config = spool_config(cmd, path);
	int rc;

	if (config == NULL)
		return EXIT_USAGE;
	if (args->target != NULL && config_target_find(config, args->target) == NULL) {
		fprintf(stderr, "restore-worker: %s has no target '%s'\n", path, args->target);
		config_free(config);
		return EXIT_USAGE;
	}
	rc = status_submit(config, args->archive, args->target, args->db_only, args->dry_run);
	config_free(config);
	return rc;
}

/* command_status: restore-worker status [--json] */
static int
command_status(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	struct config *config = spool_config(cmd, config_path(config_given));
	int rc;

	if (config == NULL)
		return EXIT_USAGE;
	rc = status_print(config, args->json);
	config_free(config);
	return rc;
}

/* backup_folder: backup_dir/<target>, created when missing; NULL with a message printed. */
static char *
backup_folder(const struct config *config, const char *target)
{
	char *dir;

	if (asprintf(&dir, "%s/%s", config->backup_dir, target) < 0) {
		fprintf(stderr, "restore-worker: out of memory\n");
		return NULL;
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		fprintf(stderr, "restore-worker: cannot create the backup folder %s: %s\n", dir,
		        strerror(errno));
		free(dir);
		return NULL;
	}
	return dir;
}

/* print_backup: the outcome of a backup for a human, on stderr. */
static void
print_backup(const struct backup_result *r)
{
	for (size_t i = 0; i < r->nwarnings; i++)
		fprintf(stderr, "restore-worker: warning: %s\n", r->warnings[i]);
	for (size_t i = 0; i < r->nremoved; i++)
		fprintf(stderr, "restore-worker: removed the older backup %s\n", r->removed[i]);
	if (r->error != NULL) {
		fprintf(stderr, "restore-worker: backup %s: %s\n", r->status, r->error);
		return;
	}
	fprintf(
	    stderr,
	    "restore-worker: backup written: %s (%llu bytes: dump %llu bytes, archive %s; %llu "
	    "files, %llu bytes) in %.3f s (dump %.3f s, files measured %.3f s, written %.3f s)\n",
	    r->archive, (unsigned long long)r->archive_bytes, (unsigned long long)r->dump_bytes,
	    r->dump_version, (unsigned long long)r->files_count, (unsigned long long)r->files_bytes,
	    r->total_s, r->dump_s, r->files_s, r->write_s);
}

/*
 * command_backup: restore-worker backup [--target NAME] [--db-only] [--output PATH]
 * [--to-backup-dir] [--keep N] [--json]
 */
static int
command_backup(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *target_name = args->target, *path = config_path(config_given);
	const struct config_target *ct;
	struct restore_target target;
	struct backup_options bo;
	struct backup_result result;
	struct config *config;
	struct sigaction sa;
	char *folder = NULL, *json, err[1024];
	bool to_stdout = args->output != NULL && strcmp(args->output, "-") == 0;
	struct spool sp;
	int status, lock = -1;
	long keep = 0;

	if (args->keep != NULL) {
		char *end;

		keep = strtol(args->keep, &end, 10);
		if (args->keep[0] < '0' || args->keep[0] > '9' || *end != '\0' || keep < 1 ||
		    keep > 10000)
			return usage_error(cmd,
			                   "--keep wants a whole number from 1 to 10000, not '%s'",
			                   args->keep);
	}
	if (args->output != NULL && args->to_backup_dir)
		return usage_error(cmd, "--output and --to-backup-dir both say where it goes%s",
		                   "; give one");
	if (to_stdout && args->json)
		return usage_error(cmd, "--output - and --json both write to stdout%s",
		                   "; drop one");
	if (to_stdout && keep > 0)
		return usage_error(cmd, "--keep needs a folder, not --output -%s", "");
	config = load_config(path);
	if (config == NULL)
		return EXIT_USAGE;
	if (target_name == NULL)
		target_name = config->default_target;
	ct = target_name != NULL ? config_target_find(config, target_name) : NULL;
	if (ct == NULL || (args->to_backup_dir && config->backup_dir == NULL)) {
		if (target_name == NULL)
			fprintf(
			    stderr,
			    "restore-worker: %s has no default_target; name one with --target\n",
			    path);
		else if (ct == NULL)
			fprintf(stderr, "restore-worker: %s has no target '%s'\n", path,
			        target_name);
		else
			fprintf(stderr,
			        "restore-worker: %s has no backup_dir, which --to-backup-dir "
			        "needs\n",
			        path);
		config_free(config);
		return EXIT_USAGE;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* With a spool, a backup and a restore of one target never run at once. */
	if (config->spool_dir != NULL) {
		if (spool_open(config->spool_dir, &sp, err, sizeof(err)) < 0) {
			fprintf(stderr, "restore-worker: %s\n", err);
			config_free(config);
			return EXIT_USAGE;
		}
		lock = spool_lock_target(&sp, ct->name);
		if (lock < 0) {
			fprintf(stderr, "restore-worker: %s\n",
			        errno == EAGAIN
			            ? "the target is being restored right now; back it up "
			              "when its restore is done"
			            : strerror(errno));
			spool_close(&sp);
			config_free(config);
			return RESTORE_EXIT_UNCHANGED;
		}
	}
	if (args->to_backup_dir && (folder = backup_folder(config, ct->name)) == NULL) {
		status = RESTORE_EXIT_UNCHANGED;
		goto done;
	}

	config_restore_target(ct, &target);
	memset(&bo, 0, sizeof(bo));
	bo.target = &target;
	bo.work_dir = config->work_dir;
	bo.pg_dump = config->pg_dump;
	bo.pg_restore = config->pg_restore;
	bo.db_only = args->db_only;
	bo.output = folder != NULL ? folder : args->output;
	bo.output_fd = fileno(stdout);
	bo.keep = keep > 0 ? (int)keep : folder != NULL ? config->backup_keep : 0;
	bo.folder_exclusive = folder != NULL && lock >= 0;
	bo.cancel = &interrupted;
	bo.log = log_line;
	status = backup_run(&bo, &result);
	if (args->json) {
		json = backup_result_json(&result);
		if (print_json(json) < 0 && status == RESTORE_EXIT_SUCCEEDED)
			status = RESTORE_EXIT_UNCHANGED;
		free(json);
	} else {
		print_backup(&result);
	}
	backup_result_free(&result);
done:
	free(folder);
	if (lock >= 0) {
		spool_unlock(lock);
		spool_close(&sp);
	}
	config_free(config);
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {{"config", required_argument, NULL, OPTION_CONFIG},
	                                        {"help", no_argument, NULL, OPTION_HELP},
	                                        {"version", no_argument, NULL, OPTION_VERSION},
	                                        {NULL, 0, NULL, 0}};
	const char *config_given = NULL;
	struct command_args args;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:hV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
		case OPTION_CONFIG:
			config_given = optarg;
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
	if (optind >= argc)
		return usage_error(NULL, "no command given%s", "");
	argc -= optind;
	argv += optind;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		rc = command_parse(&commands[i], argc, argv, &args);
		if (rc >= 0)
			return rc;
		return commands[i].run(&commands[i], &args, config_given);
	}
	return usage_error(NULL, "unknown command '%s'", argv[0]);
}
