/*
 * command_shared.c - what the commands of the command line share (see command.h): the
 * one-line usage complaint, the signal flag the engine polls, where the configuration is and
 * its loading, and JSON on stdout.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "command.h"
#include "config.h"
#include "database.h"
#include "notify.h"

volatile sig_atomic_t command_interrupted;

/* command_usage_error: a one-line complaint and a pointer to the help; returns EXIT_USAGE. */
int
command_usage_error(const struct command *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "restore-worker: ");
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'restore-worker %s%s--help'.\n", cmd != NULL ? cmd->name : "",
	        cmd != NULL ? " " : "");
	return EXIT_USAGE;
}

/* command_on_signal: SIGINT/SIGTERM: abort the restore; the engine rolls everything back. */
static void
command_on_signal(int sig)
{
	(void)sig;
	command_interrupted = 1;
	database_cancel_running();
}

void
command_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = command_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* command_config_path: -c, then $RESTORE_WORKER_CONFIG, then the default. */
const char *
command_config_path(const char *given)
{
	const char *env = getenv("RESTORE_WORKER_CONFIG");

	if (given != NULL)
		return given;
	if (env != NULL && env[0] != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}

/* command_load_config: read the configuration and check what needs the file system. */
struct config *
command_load_config(const char *path)
{
	struct config *config = NULL;
	char err[1024];
	struct stat st;

	if (config_load(path, &config, err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL, "%s", err);
		return NULL;
	}
	for (size_t i = 0; i < config->nwarnings; i++)
		log_line(LOG_PRIORITY_WARNING, NULL, "%s: warning: %s", path,
		         config->warnings[i].text);
	if (stat(config->work_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_line(LOG_PRIORITY_ERROR, NULL, "%s: work_dir %s %s", path, config->work_dir,
		         errno == ENOENT ? "does not exist" : "is not a usable folder");
		config_free(config);
		return NULL;
	}
	return config;
}

/* command_print_json: a JSON text and a newline on stdout, checking the write. */
int
command_print_json(const char *json)
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
