/*
 * restore_tidy.c - what interrupted restores into a target left behind, removed when a worker
 * starts (restore_tidy, restore.h): for strategy swap the databases named like a swap's beside
 * the target; for an object store the restores its journals in work_dir say were stopped,
 * finished or undone (store_tidy).
 */
#include "restore.h"

#include <stdio.h>

#include "database.h"
#include "store.h"
#include "swap.h"

/* tidy_store: finish or undo the restores into t's store that were stopped midway. */
static void
tidy_store(const struct restore_target *t, struct report *report)
{
	struct store *s;
	char err[1024];

	if (t->s3 == NULL && t->azure == NULL)
		return; /* a folder's leftovers are its jobs' (store_stage_remove_leftover) */
	if (store_open(t, &s, err, sizeof(err)) < 0) {
		report_warn(report, "cannot look for restores stopped midway: %s", err);
		return;
	}
	if (store_tidy(s, err, sizeof(err)) != 0)
		report_warn(report, "%s", err);
	store_close(s);
}

/* restore_tidy: drop what interrupted swaps into the target left (restore.h). */
int
restore_tidy(const struct restore_target *t, bool holds_target_lock, struct report *report,
             char *err, size_t errlen)
{
	enum database_open_failure open_failure;
	struct database *db = NULL;
	char target_db[128];

	tidy_store(t, report);
	if (t->strategy != RESTORE_STRATEGY_SWAP)
		return 0;
	/* The connection string may leave the name to libpq's defaults: ask the server. */
	if (database_open(t->conninfo, &db, &open_failure, err, errlen) < 0)
		return -1;
	snprintf(target_db, sizeof(target_db), "%s", database_name(db));
	database_close(db);
	return swap_tidy(t->conninfo,
	                 t->maintenance_database != NULL ? t->maintenance_database : "postgres",
	                 target_db, holds_target_lock, report, err, errlen);
}
