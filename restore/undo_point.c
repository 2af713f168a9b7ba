/*
 * undo_point.c - keep_previous: the backup of the target made before a restore changes it (the
 * undo point), and what becomes of it once the restore's outcome is known.
 *
 * The backup is made once nothing can refuse the restore any more, and counts toward
 * previous_keep only when the restore changed the target: a restore that left the target as it
 * was (exit 1) removes its backup, which holds the state that is still there and would push a
 * real undo point out; a partial or unknown outcome keeps it and removes nothing.
 */
#include "undo_point.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "progress.h"

#define MESSAGE_BYTES 2048

/* undo_point_make: back the target up before the restore (undo_point.h). */
int
undo_point_make(const struct restore_options *o, bool database_only_backup, const char *job_id,
                struct report *report, char *err, size_t errlen)
{
	struct backup_options bo = {0};
	struct backup_result br;
	int rc;

	bo.target = o->target;
	bo.work_dir = o->work_dir;
	bo.pg_dump = o->pg_dump;
	bo.pg_restore = o->pg_restore;
	bo.pg_client_dirs = o->pg_client_dirs;
	bo.db_only = o->db_only || database_only_backup;
	bo.output = o->previous_dir;
	bo.keep =
	    0; /* it counts toward previous_keep once the target changed (undo_point_settle) */
	bo.folder_exclusive = true; /* the caller holds the target's lock */
	bo.job_id = job_id;
	bo.cancel = o->cancel;
	bo.log = o->log;
	bo.log_ctx = o->log_ctx;
	restore_say(o, "job %s: backing up target %s into %s first", job_id, o->target->name,
	            o->previous_dir);
	rc = backup_run(&bo, &br);
	if (rc == RESTORE_EXIT_SUCCEEDED) {
		report->previous_backup = br.archive != NULL ? strdup(br.archive) : NULL;
		for (size_t i = 0; i < br.nwarnings; i++)
			report_warn(report, "the backup before the restore: %s", br.warnings[i]);
	} else {
		snprintf(err, errlen, "%s", br.error != NULL ? br.error : "it failed");
	}
	backup_result_free(&br);
	return rc == RESTORE_EXIT_SUCCEEDED ? 0 : -1;
}

/* undo_point_settle: remove, keep or count the undo point by the outcome (undo_point.h). */
void
undo_point_settle(const struct restore_options *o, bool db_only, int exit_status,
                  struct report *report)
{
	struct backup_result kept = {0};
	char err[MESSAGE_BYTES];

	if (report->previous_backup == NULL)
		return;
	if (exit_status == RESTORE_EXIT_UNCHANGED) {
		if (backup_remove(report->previous_backup, err, sizeof(err)) < 0) {
			report_warn(report, "the backup before the restore: %s", err);
			return;
		}
		restore_say(o, "job %s: the target was left as it was: its backup %s was removed",
		            report->job_id, report->previous_backup);
		free(report->previous_backup);
		report->previous_backup = NULL;
		return;
	}
	if (strcmp(report->database.status, "restored") != 0)
		return;
	backup_keep(o->previous_dir, db_only, o->previous_keep, report->previous_backup, true,
	            &kept);
	for (size_t i = 0; i < kept.nwarnings; i++)
		report_warn(report, "the backups before restores: %s", kept.warnings[i]);
	for (size_t i = 0; i < kept.nremoved; i++)
		restore_say(o, "job %s: removed the older backup %s/%s (previous_keep %d)",
		            report->job_id, o->previous_dir, kept.removed[i], o->previous_keep);
	backup_result_free(&kept);
}
