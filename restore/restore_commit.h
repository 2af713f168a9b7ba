/*
 * restore_commit.h - the last steps of a restore that changes its target (restore_commit.c):
 * the database commits, then the staged files are swapped in.
 */
#ifndef RESTORE_COMMIT_H
#define RESTORE_COMMIT_H

#include "archive_walk.h"
#include "database.h"
#include "progress.h"
#include "report.h"
#include "restore.h"
#include "swap.h"

/*
 * restore_commit_database: commit the database restored into db (strategy transaction) or
 * into swap's new database (strategy swap: the names are swapped; target_db is the target
 * database's name). o->commit_point is filled in and o->before_commit called just before the
 * COMMIT. Returns RESTORE_EXIT_SUCCEEDED once it committed; RESTORE_EXIT_UNCHANGED when it
 * did not (report says why); RESTORE_EXIT_PARTIAL when the server could not say whether it
 * did: then walk->staging is closed and its files kept, and report says where they are.
 */
int restore_commit_database(const struct restore_options *o, struct database *db, struct swap *swap,
                            struct archive_walk *walk, const char *target_db,
                            struct progress *progress, struct report *report);

/*
 * restore_commit_files: after the database committed, swap the files staged in walk->staging
 * (if any) into blob_dir (or commit them to the bucket or container), and remove the old ones, or
 * (o->keep_old_files) leave them beside the store for the caller's removal in the background. 0; or
 * -1 when they could not be swapped in: then the restore is partial, walk->staging is closed and
 * its files kept, and report says where they are.
 */
int restore_commit_files(const struct restore_options *o, struct archive_walk *walk,
                         struct report *report);

/*
 * restore_report_objects: for a target whose store is an S3 bucket or an Azure container, what
 * the restore's staging did to it (a rehearsal: would do) into the report's files.objects.
 */
void restore_report_objects(const struct restore_target *t, const struct store_stage *staging,
                            struct report *report);

#endif
