/*
 * undo_point.h - keep_previous: the backup before a restore, and its fate (undo_point.c).
 */
#ifndef UNDO_POINT_H
#define UNDO_POINT_H

#include <stdbool.h>
#include <stddef.h>

#include "report.h"
#include "restore.h"

/*
 * undo_point_make: back the target up into o->previous_dir (backup.h), the database alone
 * for a db_only restore or a database-only backup (database_only_backup); its path goes into
 * report->previous_backup. 0, or -1 with err.
 */
int undo_point_make(const struct restore_options *o, bool database_only_backup, const char *job_id,
                    struct report *report, char *err, size_t errlen);

/*
 * undo_point_settle: at the end of a restore that made an undo point: exit 1 (the target as it
 * was) removes it; a restored database makes it count toward previous_keep (older ones go);
 * anything else keeps it and removes nothing.
 */
void undo_point_settle(const struct restore_options *o, bool db_only, int exit_status,
                       struct report *report);

#endif
