/*
 * command_backup.c - restore-worker backup: a backup of one target, to a folder, a file,
 * stdout or backup_dir/<target>/ (keeping the newest there), through the engine's backup_run().
 * With a spool it takes the worker's lock on the target, so that a backup and a restore of one
 * target never run at once, and counts the backup in the metrics. Its progress goes to stderr
 * as restore's does.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "command.h"
#include "config.h"
#include "metrics.h"
#include "notify.h"
#include "progress_view.h"
#include "restore.h"
#include "spool.h"

/*
 * backup_folder: backup_dir/<target>, both created (0750 less the umask) when missing; NULL
 * with a message printed. backup_dir's parent must exist: a mistyped path makes no tree.
 */
static char *
backup_folder(const struct config *config, const char *target)
{
	const char *slash = strrchr(config->backup_dir, '/');
	char *dir;

	if (mkdir(config->backup_dir, 0750) < 0 && errno != EEXIST) {
		if (errno == ENOENT && slash != NULL && slash != config->backup_dir)
			log_line(
			    LOG_PRIORITY_ERROR, NULL,
			    "cannot create backup_dir %s: its parent folder %.*s does not exist",
			    config->backup_dir, (int)(slash - config->backup_dir),
			    config->backup_dir);
		else
			log_line(
			    LOG_PRIORITY_ERROR, NULL,
			    "cannot create backup_dir %s: %s (create it for the worker's user, "
			    "as scripts/setup-host does)",
			    config->backup_dir, strerror(errno));
		return NULL;
	}
	if (asprintf(&dir, "%s/%s", config->backup_dir, target) < 0) {
		log_line(LOG_PRIORITY_ERROR, NULL, "out of memory");
		return NULL;
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		log_line(LOG_PRIORITY_ERROR, NULL, "cannot create the backup folder %s: %s", dir,
		         strerror(errno));
		free(dir);
		return NULL;
	}
	return dir;
}

/* show_progress: the backup's figures, as the live line or a line now and then. */
static void
show_progress(void *ctx, const struct backup_progress *p)
{
	char line[512];

	progress_view_backup_line(p, line, sizeof(line));
	command_progress_show(ctx, line, p->elapsed_s);
}

/* print_backup: the outcome of a backup for a human, on stderr. */
static void
print_backup(const struct backup_result *r)
{
	for (size_t i = 0; i < r->nwarnings; i++)
		log_line(LOG_PRIORITY_WARNING, NULL, "warning: %s", r->warnings[i]);
	for (size_t i = 0; i < r->nremoved; i++)
		log_line(LOG_PRIORITY_INFO, NULL, "removed the older backup %s", r->removed[i]);
	if (r->error != NULL) {
		log_line(LOG_PRIORITY_ERROR, NULL, "backup %s: %s", r->status, r->error);
		return;
	}
	log_line(
	    LOG_PRIORITY_INFO, NULL,
	    "backup written: %s (%llu bytes: dump %llu bytes, archive %s; %llu "
	    "files, %llu bytes) in %.3f s (dump %.3f s, files measured %.3f s, written %.3f s)",
	    r->archive, (unsigned long long)r->archive_bytes, (unsigned long long)r->dump_bytes,
	    r->dump_version, (unsigned long long)r->files_count, (unsigned long long)r->files_bytes,
	    r->total_s, r->dump_s, r->files_s, r->write_s);
}

/*
 * command_backup: restore-worker backup [--target NAME] [--db-only] [--output PATH]
 * [--to-backup-dir] [--keep N] [--json]
 */
int
command_backup(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *target_name = args->target, *path = command_config_path(config_given);
	const struct config_target *ct;
	struct restore_target target;
	struct backup_options bo;
	struct backup_result result;
	struct cli_progress progress = {.tty = isatty(STDERR_FILENO) == 1};
	struct config *config;
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
			return command_usage_error(
			    cmd, "--keep wants a whole number from 1 to 10000, not '%s'",
			    args->keep);
	}
	if (args->output != NULL && args->to_backup_dir)
		return command_usage_error(
		    cmd, "--output and --to-backup-dir both say where it goes%s", "; give one");
	if (to_stdout && args->json)
		return command_usage_error(cmd, "--output - and --json both write to stdout%s",
		                           "; drop one");
	if (to_stdout && keep > 0)
		return command_usage_error(cmd, "--keep needs a folder, not --output -%s", "");
	config = command_load_config(path);
	if (config == NULL)
		return EXIT_USAGE;
	if (target_name == NULL)
		target_name = config->default_target;
	ct = target_name != NULL ? config_target_find(config, target_name) : NULL;
	if (ct == NULL || (args->to_backup_dir && config->backup_dir == NULL)) {
		if (target_name == NULL)
			log_line(LOG_PRIORITY_ERROR, NULL,
			         "%s has no default_target; name one with --target", path);
		else if (ct == NULL)
			log_line(LOG_PRIORITY_ERROR, NULL, "%s has no target '%s'", path,
			         target_name);
		else
			log_line(LOG_PRIORITY_ERROR, NULL,
			         "%s has no backup_dir, which --to-backup-dir needs", path);
		config_free(config);
		return EXIT_USAGE;
	}

	command_catch_signals();

	/* With a spool, a backup and a restore of one target never run at once. */
	if (config->spool_dir != NULL) {
		if (spool_open(config->spool_dir, &sp, err, sizeof(err)) < 0) {
			log_line(LOG_PRIORITY_ERROR, NULL, "%s", err);
			config_free(config);
			return EXIT_USAGE;
		}
		lock = spool_lock_target(&sp, ct->name);
		if (lock < 0) {
			log_line(LOG_PRIORITY_ERROR, NULL, "%s",
			         errno == EAGAIN
			             ? "the target is being restored right now; back it "
			               "up when its restore is done"
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
	bo.pg_client_dirs = (const char *const *)config->pg_client_dirs;
	bo.db_only = args->db_only;
	bo.output = folder != NULL ? folder : args->output;
	bo.output_fd = fileno(stdout);
	bo.keep = keep > 0 ? (int)keep : folder != NULL ? config->backup_keep : 0;
	bo.folder_exclusive = folder != NULL && lock >= 0;
	bo.cancel = &command_interrupted;
	bo.log = command_log_line;
	bo.log_ctx = &progress;
	bo.progress = show_progress;
	bo.progress_ctx = &progress;
	status = backup_run(&bo, &result);
	command_progress_erase(&progress);
	if (args->json) {
		json = backup_result_json(&result);
		if (command_print_json(json) < 0 && status == RESTORE_EXIT_SUCCEEDED)
			status = RESTORE_EXIT_UNCHANGED;
		free(json);
	} else {
		print_backup(&result);
	}
	if (lock >= 0)
		metrics_backup_by_hand(config, &sp, &result);
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
