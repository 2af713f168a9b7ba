/*
 * hooks.h - the commands a target runs around a restore (README "Hooks"), typically to stop
 * the application before its database is replaced and to start it again afterwards:
 * before_restore once the restore got past every check and read the whole archive, before the
 * undo point and before anything in the target changes; after_restore at the end of every
 * restore that got that far, whatever its outcome.
 */
#ifndef HOOKS_H
#define HOOKS_H

#include "database.h"
#include "progress.h"
#include "report.h"
#include "restore.h"

#define HOOKS_DEFAULT_TIMEOUT_S 300 /* hook_timeout_seconds' default */

/*
 * hooks_before_restore: run the target's before_restore (nothing when it has none) for restore
 * job_id, recorded in report->before_restore; then, with strategy transaction (db not NULL),
 * wait up to 10 s for the sessions it ended to go and check that nobody is connected any more.
 * 0, or -1 with the restore refused in report (failed when it was cancelled meanwhile).
 */
int hooks_before_restore(const struct restore_options *o, const char *job_id, struct database *db,
                         struct progress *progress, struct report *report);

/*
 * hooks_after_restore: run the target's after_restore (nothing when it has none) for restore
 * job_id, which ended with exit_status and report's status, recorded in report->after_restore;
 * its failure is a warning in report. Not interrupted by a cancelled restore: its time limit is
 * then cut to a few seconds instead, so that the application is started again.
 */
void hooks_after_restore(const struct restore_options *o, const char *job_id, int exit_status,
                         struct progress *progress, struct report *report);

#endif
