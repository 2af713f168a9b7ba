/*
 * main.c - the restore-worker command line.
 *
 *	restore-worker inspect [--json] ARCHIVE
 *	restore-worker [-c CONFIG] restore [--target NAME] [--db-only] [--json] ARCHIVE
 *	restore-worker [-c CONFIG] run
 *	restore-worker [-c CONFIG] submit [--target NAME] [--db-only] ARCHIVE
 *	restore-worker [-c CONFIG] status [--json]
 *	restore-worker --help | --version
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

#include "config.h"
#include "daemon.h"
#include "database.h"
#include "restore.h"
#include "spool.h"
#include "status.h"

#define EXIT_USAGE 2

static volatile sig_atomic_t interrupted;

static const char usage_text[] =
    "Usage:\n"
    "  restore-worker inspect [--json] ARCHIVE\n"
    "  restore-worker [-c CONFIG] restore [--target NAME] [--db-only] [--json] ARCHIVE\n"
    "  restore-worker --help | --version\n"
    "\n"
    "Restores a Mendix backup into an existing PostgreSQL database and a blob folder, all or\n"
    "nothing. ARCHIVE is a full snapshot (.tar.gz, .tgz or .tar holding .metadata,\n"
    "db/db.backup and tree/xx/yy/<uuid> files) or a database-only backup (a custom-format\n"
    "dump made with pg_dump -Fc, bare or gzip-compressed); they are told apart by content.\n"
    "\n"
    "Commands:\n"
    "  inspect   read ARCHIVE and say what it holds and whether a restore would accept it;\n"
    "            changes nothing\n"
    "  restore   restore ARCHIVE into a target of the configuration\n"
    "\n"
    "Options:\n"
    "  -c, --config CONFIG  configuration file (default: $RESTORE_WORKER_CONFIG, then\n"
    "                       " CONFIG_DEFAULT_PATH ")\n"
    "  --target NAME        the target to restore into (default: the config's default_target)\n"
    "  --db-only            restore only the database; leave the blob folder alone\n"
    "  --json               print the report (or the inspection) as JSON on stdout\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "\n"
    "Exit status: 0 succeeded; 1 refused or failed, the target left as it was;\n"
    "3 partial (the database was restored but the files could not be swapped in);\n"
    "2 usage or configuration error.\n";

/* usage_error: a one-line complaint and a pointer to --help; returns EXIT_USAGE. */
static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "restore-worker: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'restore-worker --help'.\n");
	return EXIT_USAGE;
}

/* on_signal: SIGINT/SIGTERM: abort the restore; the engine rolls everything back. */
static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
	database_cancel_running();
}

/* log_line: progress on stderr. */
static void
log_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "restore-worker: %s\n", line);
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
command_inspect(int argc, char **argv, const char *config_given)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct config *config = NULL;
	const char *pg_restore = NULL;
	char *json = NULL, *text = NULL;
	int json_out = 0, c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		if (c == 'j')
			json_out = 1;
		else if (c == 'h') {
			fputs(usage_text, stdout);
			return 0;
		} else
			return usage_error("inspect: unknown option %s", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return usage_error("inspect takes one ARCHIVE%s", "");
	/* A configuration is optional here: it only names the pg_restore to compare with. */
	if (config_given != NULL || getenv("RESTORE_WORKER_CONFIG") != NULL) {
		config = load_config(config_path(config_given));
		if (config == NULL)
			return EXIT_USAGE;
		pg_restore = config->pg_restore;
	}
	rc = restore_inspect(argv[optind], pg_restore, &json, &text);
	if (rc >= 0) {
		if (json_out) {
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
command_restore(int argc, char **argv, const char *config_given)
{
	static const struct option options[] = {{"target", required_argument, NULL, 't'},
	                                        {"db-only", no_argument, NULL, 'd'},
	                                        {"json", no_argument, NULL, 'j'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *target_name = NULL, *path;
	const struct config_target *ct;
	struct restore_target target;
	struct restore_options ro;
	struct config *config;
	struct report report;
	struct sigaction sa;
	struct spool sp;
	int json_out = 0, db_only = 0, c, status, lock = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 't':
			target_name = optarg;
			break;
		case 'd':
			db_only = 1;
			break;
		case 'j':
			json_out = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage_error("restore: unknown option %s", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return usage_error("restore takes one ARCHIVE%s", "");
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
			status = refuse_busy(argv[optind], ct->name, json_out, errno);
			spool_close(&sp);
			config_free(config);
			return status;
		}
	}

	target =
	    (struct restore_target){ct->name,          ct->database,         ct->blob_dir,
	                            ct->plan_quota,    ct->restore_overhead, ct->max_dump_major,
	                            ct->max_dump_minor};
	memset(&ro, 0, sizeof(ro));
	ro.archive = argv[optind];
	ro.target = &target;
	ro.work_dir = config->work_dir;
	ro.pg_restore = config->pg_restore;
	ro.db_only = db_only;
	ro.cancel = &interrupted;
	ro.log = log_line;
	ro.holds_target_lock = lock >= 0;
	status = restore_run(&ro, &report);
	if (!json_out) {
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
	if (lock >= 0) {
		spool_unlock(lock);
		spool_close(&sp);
	}
	config_free(config);
	return status;
}

/* command_spool: run, submit and status, which all need spool_dir. */
static int
command_spool(int argc, char **argv, const char *config_given)
{
	static const struct option options[] = {{"target", required_argument, NULL, 't'},
	                                        {"db-only", no_argument, NULL, 'd'},
	                                        {"json", no_argument, NULL, 'j'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *command = argv[0], *path = config_path(config_given), *target = NULL;
	bool run = strcmp(command, "run") == 0, submit = strcmp(command, "submit") == 0;
	struct config *config;
	int json = 0, db_only = 0, c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 0;
		}
		if ((c == 't' || c == 'd') && submit) {
			if (c == 't')
				target = optarg;
			else
				db_only = 1;
		} else if (c == 'j' && !run && !submit) {
			json = 1;
		} else {
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (argc - optind != (submit ? 1 : 0))
		return usage_error(submit ? "submit takes one ARCHIVE%s" : "too many arguments%s",
		                   "");
	config = load_config(path);
	if (config == NULL)
		return EXIT_USAGE;
	if (config->spool_dir == NULL) {
		fprintf(stderr, "restore-worker: %s: %s needs spool_dir\n", path, command);
		config_free(config);
		return EXIT_USAGE;
	}
	if (target != NULL && config_target_find(config, target) == NULL) {
		fprintf(stderr, "restore-worker: %s has no target '%s'\n", path, target);
		config_free(config);
		return EXIT_USAGE;
	}
	if (run)
		return daemon_run(path, config); /* it frees config */
	if (submit)
		rc = status_submit(config, argv[optind], target, db_only);
	else
		rc = status_print(config, json);
	config_free(config);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {{"config", required_argument, NULL, 'c'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {"version", no_argument, NULL, 'V'},
	                                        {NULL, 0, NULL, 0}};
	const char *config_given = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "+c:hV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_given = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("restore-worker %s\n", RW_VERSION);
			return 0;
		default:
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("no command given%s", "");
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "inspect") == 0)
		return command_inspect(argc, argv, config_given);
	if (strcmp(argv[0], "restore") == 0)
		return command_restore(argc, argv, config_given);
	if (strcmp(argv[0], "run") == 0 || strcmp(argv[0], "submit") == 0 ||
	    strcmp(argv[0], "status") == 0)
		return command_spool(argc, argv, config_given);
	return usage_error("unknown command '%s'", argv[0]);
}
