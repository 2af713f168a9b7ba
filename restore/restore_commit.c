/*
 * restore_commit.c - the last steps of a restore that changes its target (restore_commit.h),
 * once the database restore and the staging of the files are done and checked:
 *  4. the database commits: the restore's transaction on the target, or, for strategy swap,
 *     the swap of the names (swap_commit); o->before_commit runs just before, and what a
 *     process that finds the restore stopped needs to ask the server goes into o->commit_point;
 *  5. only then the staged files are swapped into blob_dir, or committed to the bucket or
 *     container (store_stage_commit), and the old ones removed at once, or (o->keep_old_files)
 *     left to the caller's removal in the background (store_old_take).
 * A COMMIT whose reply was lost, and a failure of the files' swap, are the only ways to end
 * "partial": both keep every copy and name it in the report.
 */
#include "restore_commit.h"

#include <stdio.h>

#include "store.h"

#define MESSAGE_BYTES 2048

/* What commit_hook needs. */
struct commit_hook {
	const struct restore_options *o;
	struct database *db;
	struct swap *swap;
	struct store_stage *staging; /* the files, when they are restored too */
};

/*
 * commit_hook: just before the COMMIT (for a swap, inside its transaction): fill in
 * o->commit_point, then run o->before_commit. 0, or -1 with err: then nothing commits.
 */
static int
commit_hook(void *ctx, char *err, size_t errlen)
{
	const struct commit_hook *h = ctx;
	struct restore_commit_point point = {0};

	if (h->swap != NULL)
		swap_commit_point(h->swap, point.xact_id, sizeof(point.xact_id), &point.backend_pid,
		                  point.new_oid, sizeof(point.new_oid));
	else if (database_commit_point(h->db, point.xact_id, sizeof(point.xact_id),
	                               &point.backend_pid, err, errlen) < 0)
		return -1;
	if (h->o->commit_point != NULL)
		*h->o->commit_point = point;
	/* A swap's transaction is asked after on the maintenance database (job_claim.c too). */
	if (h->staging != NULL && store_stage_prepare(h->staging, point.xact_id, point.backend_pid,
	                                              h->swap == NULL ? NULL
	                                              : h->o->target->maintenance_database != NULL
	                                                  ? h->o->target->maintenance_database
	                                                  : "postgres",
	                                              err, errlen) < 0)
		return -1;
	return h->o->before_commit != NULL ? h->o->before_commit(h->o->commit_ctx, err, errlen) : 0;
}

/*
 * kept_where: where a restore that ends partial kept the old files and the backup's, for its
 * report, into buf: a folder and its staging folder, or an object store and its journal.
 */
static const char *
kept_where(const struct restore_options *o, const struct archive_walk *walk, const char *job_id,
           char *buf, size_t buflen)
{
	char store[RESTORE_TARGET_STORE_NAME_MAX], journal[RESTORE_TARGET_STORE_NAME_MAX];

	if (o->target->blob_dir != NULL) {
		snprintf(buf, buflen, "%s still holds the old files and %s the backup's",
		         o->target->blob_dir, store_stage_where(walk->staging));
		return buf;
	}
	if (snprintf(journal, sizeof(journal), RESTORE_OBJECT_JOURNAL_FORMAT, o->target->state_dir,
	             job_id) >= (int)sizeof(journal))
		snprintf(journal, sizeof(journal), "the journal in %s", o->target->state_dir);
	snprintf(buf, buflen,
	         "%s holds the backup's files and the old ones they replace, as %s records",
	         restore_target_store_name(o->target, store, sizeof(store)), journal);
	return buf;
}

/*
 * commit_unknown: the COMMIT's reply was lost and the server could not say whether it
 * committed (err): the restore ends partial, and every copy is kept and named.
 */
static void
commit_unknown(const struct restore_options *o, struct archive_walk *walk, struct report *report,
               const char *err)
{
	char kept[3 * RESTORE_TARGET_STORE_NAME_MAX];

	report->database.status = "unknown";
	if (walk->staging == NULL) {
		report_set_error(report, "partial", "%s; restore the backup again to be sure", err);
		return;
	}
	report_set_error(report, "partial", "%s; %s (kept): %s", err,
	                 kept_where(o, walk, report->job_id, kept, sizeof(kept)),
	                 o->target->blob_dir != NULL
	                     ? "once the database is known to hold the backup, swap them in (or "
	                       "restore the backup again)"
	                     : "the next restore into the target finishes or undoes them by that "
	                       "journal (restore the backup again to be sure)");
	store_stage_close(walk->staging); /* keep the staged files */
	walk->staging = NULL;
}

/* restore_commit_database: 4. the database commits (restore_commit.h). */
int
restore_commit_database(const struct restore_options *o, struct database *db, struct swap *swap,
                        struct archive_walk *walk, const char *target_db, struct progress *progress,
                        struct report *report)
{
	struct commit_hook hook = {.o = o, .db = db, .swap = swap, .staging = walk->staging};
	char err[MESSAGE_BYTES];
	double commit_started;
	int rc;

	/* The swap calls the hook inside its short transaction, just before the COMMIT. */
	if (swap == NULL && commit_hook(&hook, err, sizeof(err)) < 0) {
		report_set_error(report, "failed",
		                 "%s: %s; the database and the files were left as they were",
		                 report->source, err);
		return RESTORE_EXIT_UNCHANGED;
	}
	progress_phase(progress, "swapping");
	commit_started = restore_now();
	if (swap != NULL)
		swap_set_cancel(swap, o->cancel);
	rc = swap != NULL ? swap_commit(swap, commit_hook, &hook, err, sizeof(err))
	                  : database_commit(db, o->cancel, err, sizeof(err));
	if (rc == -2) {
		commit_unknown(o, walk, report, err);
		return RESTORE_EXIT_PARTIAL;
	}
	if (rc < 0) {
		report_set_error(report, "failed", "%s: %s", report->source, err);
		return RESTORE_EXIT_UNCHANGED;
	}
	if (rc > 0)
		report_warn(report, "%s", err);
	report->database_s += restore_now() - commit_started;
	report->database.status = "restored";
	if (swap != NULL)
		restore_say(o, "job %s: database %s restored (database %s swapped in)",
		            report->job_id, target_db, swap_new_name(swap));
	else
		restore_say(o, "job %s: database %s restored", report->job_id, database_name(db));
	return RESTORE_EXIT_SUCCEEDED;
}

/* restore_report_objects: files.objects in the report, for an object store. */
void
restore_report_objects(const struct restore_target *t, const struct store_stage *staging,
                       struct report *report)
{
	struct store_stage_counts c;

	if (staging == NULL || (t->s3 == NULL && t->azure == NULL))
		return;
	store_stage_counts(staging, &c);
	report->have_objects = true;
	report->objects.uploaded = c.uploaded;
	report->objects.kept = c.kept;
	report->objects.replaced = c.replaced;
	report->objects.deleted = c.deleted;
	report->objects.uploaded_bytes = c.uploaded_bytes;
}

/* restore_commit_files: 5. the staged files are swapped in (restore_commit.h). */
int
restore_commit_files(const struct restore_options *o, struct archive_walk *walk,
                     struct report *report)
{
	char err[MESSAGE_BYTES], kept[3 * RESTORE_TARGET_STORE_NAME_MAX];
	double swap_started = restore_now();
	int rc;

	if (walk->staging == NULL)
		return 0;
	rc = store_stage_commit(walk->staging, err, sizeof(err));
	if (rc < 0) {
		report->files.status = "partial";
		report_part_error(&report->files, NULL, "%s", err);
		report_set_error(report, "partial",
		                 "the database was restored but the files could not be "
		                 "%s: %s; %s",
		                 o->target->blob_dir != NULL ? "swapped in" : "committed", err,
		                 kept_where(o, walk, report->job_id, kept, sizeof(kept)));
		store_stage_close(walk->staging); /* keep the staged files for the operator */
		walk->staging = NULL;
		return -1;
	}
	if (rc > 0)
		report_warn(report, "%s", err);
	restore_report_objects(o->target, walk->staging, report);
	report->files.status = "restored";
	report->file_count = walk->file_count;
	report->file_bytes = walk->file_bytes;
	/* An object store's old files are no background removal's (restore.h: keep_old_files). */
	if ((!o->keep_old_files || o->target->blob_dir == NULL) &&
	    store_stage_remove_old(walk->staging, err, sizeof(err)) < 0)
		report_warn(report, "%s", err);
	store_stage_close(walk->staging);
	walk->staging = NULL;
	report->swap_s = restore_now() - swap_started;
	restore_say(o, "job %s: %llu files %s %s", report->job_id,
	            (unsigned long long)walk->file_count,
	            o->target->blob_dir != NULL ? "swapped into" : "committed to",
	            restore_target_store_name(o->target, kept, sizeof(kept)));
	return 0;
}
