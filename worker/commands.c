/*
 * commands.c - the commands that are a few lines over the module doing the work: inspect
 * (restore_inspect), run (daemon_run), submit (submit_job) and status (status_print).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "backup_lookup.h"
#include "command.h"
#include "config.h"
#include "daemon.h"
#include "restore.h"
#include "status.h"
#include "submit.h"

/* command_inspect: restore-worker inspect [--json] ARCHIVE */
int
command_inspect(const struct command *cmd, const struct command_args *args,
                const char *config_given)
{
	struct config *config = NULL;
	const char *pg_restore = NULL;
	const char *const *pg_client_dirs = NULL;
	char *json = NULL, *text = NULL;
	int rc;

	(void)cmd;
	/* A configuration is optional here: it only says where the pg_restore programs are. */
	if (config_given != NULL || getenv("RESTORE_WORKER_CONFIG") != NULL) {
		config = command_load_config(command_config_path(config_given));
		if (config == NULL)
			return EXIT_USAGE;
		pg_restore = config->pg_restore;
		pg_client_dirs = (const char *const *)config->pg_client_dirs;
	}
	rc = restore_inspect(args->archive, pg_restore, pg_client_dirs, &json, &text);
	if (rc >= 0) {
		if (args->json) {
			if (command_print_json(json) < 0)
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

/* spool_config: the configuration for run, submit and status, which all need spool_dir. */
static struct config *
spool_config(const struct command *cmd, const char *path)
{
	struct config *config = command_load_config(path);

	if (config != NULL && config->spool_dir == NULL) {
		fprintf(stderr, "restore-worker: %s: %s needs spool_dir\n", path, cmd->name);
		config_free(config);
		return NULL;
	}
	return config;
}

/* command_run: restore-worker run, the worker daemon. */
int
command_run(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *path = command_config_path(config_given);
	struct config *config = spool_config(cmd, path);

	(void)args;
	if (config == NULL)
		return EXIT_USAGE;
	return daemon_run(path, config); /* it frees config */
}

/* command_submit: restore-worker submit [--target NAME] [--db-only] [--wait] ARCHIVE */
int
command_submit(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *path = command_config_path(config_given);
	struct config *config = spool_config(cmd, path);
	char archive[PATH_MAX], err[1024];
	int rc;

	if (config == NULL)
		return EXIT_USAGE;
	if (args->target != NULL && config_target_find(config, args->target) == NULL) {
		fprintf(stderr, "restore-worker: %s has no target '%s'\n", path, args->target);
		config_free(config);
		return EXIT_USAGE;
	}
	/* ARCHIVE may name a backup (backup_lookup.h): the job file gets its path. */
	rc = backup_lookup(config, args->target != NULL ? args->target : config->default_target,
	                   args->archive, archive, sizeof(archive), err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		config_free(config);
		return rc == BACKUP_LOOKUP_USAGE ? EXIT_USAGE : 1;
	}
	rc = submit_job(config, archive, args->target, args->db_only, args->dry_run, args->wait);
	config_free(config);
	return rc;
}

/* command_status: restore-worker status [--json] [JOB_ID] */
int
command_status(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	struct config *config = spool_config(cmd, command_config_path(config_given));
	int rc;

	if (config == NULL)
		return EXIT_USAGE;
	rc = status_print(config, args->archive, args->json);
	config_free(config);
	return rc;
}
