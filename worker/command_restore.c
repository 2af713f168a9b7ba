/*
 * command_restore.c - restore-worker restore: one restore in the foreground, its progress on
 * stderr (a live line on a terminal, a line every 10 s otherwise), its report on stdout with
 * --json. With a spool it takes the worker's lock on the target first, so that it never runs
 * beside the daemon's restore of the same target. It returns once the target is restored; the
 * old files are removed afterwards by a detached process (old_files.c).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup_lookup.h"
#include "command.h"
#include "config.h"
#include "metrics.h"
#include "notify.h"
#include "old_files.h"
#include "progress_view.h"
#include "restore.h"
#include "spool.h"

/* show_progress: the engine's figures, as the live line or a line now and then. */
static void
show_progress(void *ctx, const struct restore_progress *p)
{
	char line[512];

	progress_view_line(p, line, sizeof(line));
	command_progress_show(ctx, line, p->elapsed_s);
}

/*
 * print_database_error: one of the database's errors: "at TOC entry 216 TABLE public t", or
 * "(emptying the target)" for a step of restore-worker's own.
 */
static void
print_database_error(const struct report_error *e)
{
	if (e->where == NULL)
		log_line(LOG_PRIORITY_ERROR, NULL, "database error: %s", e->message);
	else
		log_line(LOG_PRIORITY_ERROR, NULL, "database error %s%s: %s",
		         e->where[0] == '(' ? "" : "at TOC entry ", e->where, e->message);
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
		log_line(LOG_PRIORITY_ERROR, NULL, "%s", report.error);
		if (json_out) {
			char *json = report_json(&report);

			(void)command_print_json(json);
			free(json);
		}
	}
	report_free(&report);
	return RESTORE_EXIT_UNCHANGED;
}

/* refuse_lookup: ARCHIVE names no backup (why, from backup_lookup); say so, as a report too. */
static int
refuse_lookup(const char *archive, const char *target, int json_out, const char *why)
{
	struct report report;
	char job_id[37], *json;

	log_line(LOG_PRIORITY_ERROR, NULL, "%s", why);
	if (!json_out)
		return RESTORE_EXIT_UNCHANGED;
	restore_new_job_id(job_id);
	if (report_init(&report, job_id, archive, target, false) == 0) {
		report_set_error(&report, "rejected", "%s", why);
		clock_gettime(CLOCK_REALTIME, &report.finished_at);
		json = report_json(&report);
		(void)command_print_json(json);
		free(json);
	}
	report_free(&report);
	return RESTORE_EXIT_UNCHANGED;
}

/* command_restore: restore-worker restore [--target NAME] [--db-only] [--json] ARCHIVE */
int
command_restore(const struct command *cmd, const struct command_args *args,
                const char *config_given)
{
	const char *target_name = args->target, *path;
	const struct config_target *ct;
	struct restore_target target;
	struct restore_options ro;
	struct cli_progress progress = {.tty = isatty(STDERR_FILENO) == 1};
	char *previous = NULL, archive[PATH_MAX], why[1024];
	struct config *config;
	struct report report;
	struct spool sp;
	int status, lock = -1;

	(void)cmd;
	path = command_config_path(config_given);
	config = command_load_config(path);
	if (config == NULL)
		return EXIT_USAGE;
	if (target_name == NULL)
		target_name = config->default_target;
	if (target_name == NULL) {
		log_line(LOG_PRIORITY_ERROR, NULL,
		         "%s has no default_target; name one with --target", path);
		config_free(config);
		return EXIT_USAGE;
	}
	ct = config_target_find(config, target_name);
	if (ct == NULL) {
		log_line(LOG_PRIORITY_ERROR, NULL, "%s has no target '%s'", path, target_name);
		config_free(config);
		return EXIT_USAGE;
	}
	/* ARCHIVE may name a backup: latest, or a name in the backup folders (backup_lookup.h). */
	if (backup_lookup(config, ct->name, args->archive, archive, sizeof(archive), why,
	                  sizeof(why)) < 0) {
		status = refuse_lookup(args->archive, ct->name, args->json, why);
		config_free(config);
		return status;
	}
	if (strcmp(archive, args->archive) != 0)
		log_line(LOG_PRIORITY_INFO, NULL, "%s is %s", args->archive, archive);

	command_catch_signals();

	/*
	 * With a spool, the worker's lock on the target keeps a manual restore and the daemon's
	 * from running at once; holding it also lets the engine end a dead worker's sessions.
	 */
	if (config->spool_dir != NULL) {
		char err[1024];

		if (spool_open(config->spool_dir, &sp, err, sizeof(err)) < 0) {
			log_line(LOG_PRIORITY_ERROR, NULL, "%s", err);
			config_free(config);
			return EXIT_USAGE;
		}
		lock = spool_lock_target(&sp, ct->name);
		if (lock < 0) {
			status = refuse_busy(archive, ct->name, args->json, errno);
			spool_close(&sp);
			config_free(config);
			return status;
		}
	}

	config_restore_target(ct, &target);
	memset(&ro, 0, sizeof(ro));
	ro.archive = archive;
	ro.target = &target;
	ro.work_dir = config->work_dir;
	ro.pg_restore = config->pg_restore;
	ro.pg_client_dirs = (const char *const *)config->pg_client_dirs;
	ro.db_only = args->db_only;
	ro.dry_run = args->dry_run;
	ro.cancel = &command_interrupted;
	ro.log = command_log_line;
	ro.log_ctx = &progress;
	ro.progress = show_progress;
	ro.progress_ctx = &progress;
	ro.holds_target_lock = lock >= 0;
	ro.keep_old_files = true; /* removed in the background once the report is out */
	ro.pg_dump = config->pg_dump;
	if (ct->keep_previous && !args->dry_run) {
		char err[1024];

		/* config_load refuses keep_previous without spool_dir: the spool is open. */
		ro.previous_keep = ct->previous_keep;
		ro.previous_dir = previous = spool_previous_dir(&sp, ct->name, err, sizeof(err));
		if (previous == NULL) {
			log_line(LOG_PRIORITY_ERROR, NULL, "%s; nothing was restored", err);
			spool_unlock(lock);
			spool_close(&sp);
			config_free(config);
			return RESTORE_EXIT_UNCHANGED;
		}
	}
	status = restore_run(&ro, &report);
	command_progress_erase(&progress);
	if (!args->json) {
		/* The engine's log had the warnings, before the outcome. */
		for (size_t i = 0; i < report.database.nerrors; i++)
			print_database_error(&report.database.errors[i]);
	} else {
		char *json = report_json(&report);

		if (command_print_json(json) < 0 && status == RESTORE_EXIT_SUCCEEDED)
			status = RESTORE_EXIT_UNCHANGED;
		free(json);
	}
	if (lock >= 0)
		metrics_restore_by_hand(config, &sp, &report);
	report_free(&report);
	free(previous);
	if (lock >= 0) {
		spool_unlock(lock);
		spool_close(&sp);
	}
	/*
	 * The target is restored: the old files (this restore's, and those a removal killed
	 * midway left) go in a detached process, which the caller does not wait for.
	 */
	old_files_detach(target.blob_dir);
	config_free(config);
	return status;
}
