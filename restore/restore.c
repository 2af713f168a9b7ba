/*
 * restore.c - one restore, start to finish.
 *
 * The order is what makes it all or nothing:
 *  1. cheap refusals first: pg_restore runs, the database exists, nobody is connected;
 *  2. one pass over the archive (archive_walk): the dump is measured and copied into
 *     work_dir, tree files are staged for the target's store (store.h: a staging folder
 *     beside blob_dir, or uploads to its bucket or container), and every entry is checked;
 *  3. as soon as the dump has been read whole and its version and the plan quota are
 *     checked, the database restore starts in a thread of its own (db_job), in one
 *     transaction, while the walk goes on staging the files that follow the dump;
 *  4. once the walk is over and the staged files are durable, and the database restore is
 *     done, the transaction commits; a failure of either side before that rolls back;
 *  5. only then the staged files are swapped in (committed). A failure of this last step is the
 * only way to end "partial". Every exit path removes the dump copy and the staging folder.
 * restore_run() at the end of this file reads as that list, a function for each phase; the commit
 * and the files' swap (4, 5) are restore_commit.c's.
 *
 * A target's hooks (hooks.h) wrap this: with before_restore the database restore waits until
 * the walk is over and that hook has stopped the application (then nobody may be connected),
 * as it waits for keep_previous's backup; after_restore runs in finish(), whatever the outcome.
 *
 * With strategy swap (swap.h) the same order holds, with a new database in place of the
 * transaction: after the same refusals and the swap's own (swap_open), the databases earlier
 * swaps left behind are dropped and the connection to the target is closed; the thread
 * creates the new database and runs pg_restore --jobs into it; ANALYZE runs in it before
 * "commit", the swap of the names (swap_commit); the old database is dropped at the end.
 * Any failure before the swap drops the new database.
 */
#include "restore.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aftercare.h"
#include "analyze.h"
#include "archive_walk.h"
#include "store.h"
#include "database.h"
#include "db_job.h"
#include "hooks.h"
#include "progress.h"
#include "quota.h"
#include "restore_commit.h"
#include "swap.h"
#include "undo_point.h"
#include "version.h"

#define MESSAGE_BYTES 2048

/* What one restore carries from phase to phase (restore_run). */
struct restore_state {
	const struct restore_options *o;
	const struct restore_target *t;
	struct report *report;
	char job_id[37];
	double started;               /* restore_now() */
	struct pg_client_set readers; /* check: the pg_restore programs to pick from */
	int max_minor;                /* check: the newest dump archive minor accepted */
	char why[256];                /* check: what sets that limit, for the walk's refusal */
	struct database *db;          /* check: the target (strategy transaction) */
	struct swap *swap;            /* check: the new database beside it (strategy swap) */
	char target_db[256];          /* check: the target database's name */
	int server;                   /* check: its server's PQserverVersion; 0: unknown */
	struct db_job job;            /* read: the database restore, in its thread */
	struct archive_walk walk;     /* read: the dump copy, the staged files */
	enum archive_outcome outcome; /* read: the walk's */
	bool db_failed_first;         /* read: the walk stopped because the database failed */
	double files_done;            /* restore_now() once the staged files are durable */
	bool undo_first;    /* keep_previous into an object store: the undo point before the walk */
	bool hooks_reached; /* it got as far as before_restore: after_restore runs */
	struct progress progress; /* what the options' progress callback is given */
	int exit_status;          /* RESTORE_EXIT_ */
	char err[MESSAGE_BYTES];
};

/*
 * begin: set up the state of one restore (its job id, its report, its progress) and say what
 * it restores. 0, or -1 when out of memory (report says so).
 */
static int
begin(struct restore_state *s, const struct restore_options *o, struct report *report)
{
	const struct restore_target *t = o->target;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->t = t;
	s->report = report;
	s->started = restore_now();
	s->exit_status = RESTORE_EXIT_UNCHANGED;
	s->walk.fd = -1;
	/*
	 * The database restore waits for the undo point, and for before_restore to stop the app.
	 * An object store is changed in place as its files are staged: its undo point comes first.
	 */
	s->undo_first = o->previous_dir != NULL && !o->dry_run && !o->db_only &&
	                (t->s3 != NULL || t->azure != NULL);
	s->job.defer =
	    (o->previous_dir != NULL && !o->dry_run && !s->undo_first) || t->before_restore != NULL;
	db_job_init(&s->job);
	progress_init(&s->progress, o, &s->walk, &s->job, report);
	if (o->job_id != NULL)
		snprintf(s->job_id, sizeof(s->job_id), "%s", o->job_id);
	else
		restore_new_job_id(s->job_id);
	if (report_init(report, s->job_id, o->archive, t->name, o->db_only) < 0) {
		report_set_error(report, "failed", "out of memory");
		return -1;
	}
	report->dry_run = o->dry_run;
	report->overhead_bytes = t->restore_overhead;
	report->quota_bytes = t->plan_quota;
	restore_say(o, "job %s: restoring %s into target %s%s", s->job_id, report->source, t->name,
	            o->db_only ? " (database only)" : "");
	return 0;
}

/*
 * open_swap: strategy swap's own refusals (swap_open); then the databases earlier swaps left
 * beside the target are dropped, and the connection to the target closed. Hands on s->swap in
 * place of s->db. 0, or -1 (report says why).
 */
static int
open_swap(struct restore_state *s)
{
	const struct restore_target *t = s->t;
	enum swap_failure swap_failure;

	if (swap_open(
	        t->conninfo, t->maintenance_database != NULL ? t->maintenance_database : "postgres",
	        s->target_db, s->job_id, &s->swap, &swap_failure, s->err, sizeof(s->err)) < 0) {
		report_set_error(s->report, swap_failure == SWAP_REFUSED ? "rejected" : "failed",
		                 "target %s: %s", t->name, s->err);
		return -1;
	}
	if (!s->o->dry_run) /* a rehearsal drops nothing but its own database */
		swap_remove_leftovers(s->swap, s->o->holds_target_lock, s->report);
	/* Nobody may be connected to the target when its name is swapped: not even us. */
	database_close(s->db);
	s->db = NULL;
	return 0;
}

/*
 * check: 1. the cheap refusals, before anything is read or changed: a pg_restore, the dump
 * versions accepted, the target database there with nobody connected, and strategy swap's
 * own. Hands on s->readers, ->max_minor and ->why, ->server, ->target_db, and ->db or ->swap.
 * 0, or -1 (report says why).
 */
static int
check(struct restore_state *s)
{
	const struct restore_options *o = s->o;
	const struct restore_target *t = s->t;
	enum database_open_failure open_failure;

	if (pg_client_find(&s->readers, "pg_restore", o->pg_restore, NULL, o->pg_client_dirs,
	                   s->err, sizeof(s->err)) < 0) {
		report_set_error(s->report, "failed", "%s", s->err);
		return -1;
	}
	s->max_minor = restore_version_limit(&s->readers, t->max_dump_major, t->max_dump_minor,
	                                     t->name, s->why, sizeof(s->why),
	                                     &s->walk.max_from_config, s->err, sizeof(s->err));
	if (s->max_minor < 0) {
		report_set_error(s->report, "failed", "%s", s->err);
		return -1;
	}
	if (database_open(t->conninfo, &s->db, &open_failure, s->err, sizeof(s->err)) < 0) {
		report_set_error(s->report,
		                 open_failure == DATABASE_OPEN_MISSING ? "rejected" : "failed",
		                 "target %s: %s", t->name, s->err);
		return -1;
	}
	s->server = PQserverVersion(database_conn(s->db));
	if (o->holds_target_lock)
		database_end_orphans(s->db, 30);
	/* With before_restore, the application runs until that hook stops it (hooks.h). */
	if (t->before_restore == NULL && database_check_alone(s->db, s->err, sizeof(s->err)) < 0) {
		/* A lost connection is a failure to retry, not a refusal. */
		report_set_error(s->report,
		                 database_lost(database_conn(s->db), NULL) ? "failed" : "rejected",
		                 "target %s: %s", t->name, s->err);
		return -1;
	}
	snprintf(s->target_db, sizeof(s->target_db), "%s", database_name(s->db));
	return t->strategy == RESTORE_STRATEGY_SWAP ? open_swap(s) : 0;
}

/*
 * read_archive: 2. the one pass over the archive (archive_walk): the dump is copied into
 * work_dir, the files are staged, every entry is checked; 3. once the dump is read whole the
 * database restore starts in its thread (db_job_start, into s->db or s->swap). What the walk
 * found goes into the report. Hands on s->walk, s->job and the walk's outcome (a failed walk
 * is judged with the database in wait_database). 0, or -1 when the dump copy cannot be made.
 */
static int
read_archive(struct restore_state *s)
{
	const struct restore_options *o = s->o;
	const struct restore_target *t = s->t;
	struct archive_walk *walk = &s->walk;
	struct report *report = s->report;

	s->job.o = o;
	s->job.walk = walk;
	s->job.report = report;
	s->job.db = s->db;
	s->job.swap = s->swap;
	s->job.readers = &s->readers;
	s->job.job_id = s->job_id;
	s->job.tick = progress_tick;
	s->job.tick_ctx = &s->progress;
	if (db_job_open_dump(&s->job, o->work_dir, s->err, sizeof(s->err)) < 0) {
		report_set_error(report, "failed", "%s", s->err);
		return -1;
	}
	walk->path = o->archive;
	walk->dump_fd = s->job.dump_fd;
	walk->in_place = &s->job.in_place; /* a bare dump: no copy (dump_in_place.h) */
	walk->blob_target = o->db_only ? NULL : t;
	walk->rehearsal = o->dry_run;
	walk->job_id = s->job_id;
	walk->stop_after = quota_stop_after(
	    s->swap != NULL ? quota_swap_overhead(swap_current_size(s->swap), t->restore_overhead)
	                    : t->restore_overhead,
	    t->plan_quota);
	walk->max_minor = s->max_minor;
	walk->max_why = s->why;
	walk->readers_minor = pg_client_newest(&s->readers) != NULL
	                          ? pg_client_newest(&s->readers)->archive_minor
	                          : 0;
	walk->cancel = o->cancel;
	walk->abort = &s->job.failed;
	walk->dump_done = db_job_start;
	walk->dump_done_ctx = &s->job;
	walk->tick = progress_tick;
	walk->tick_ctx = &s->progress;
	progress_phase(&s->progress, NULL);
	s->outcome = archive_walk(walk, report, s->err, sizeof(s->err));
	s->db_failed_first = s->job.failed != 0; /* then the walk stopped because of it */
	report->archive_kind =
	    walk->kind == ARCHIVE_KIND_UNKNOWN ? NULL : archive_kind_name(walk->kind);
	if (walk->have_dump) {
		snprintf(report->dump_version, sizeof(report->dump_version), "%d.%d",
		         walk->dump.vmaj, walk->dump.vmin);
		snprintf(report->dump_pg_dump_version, sizeof(report->dump_pg_dump_version), "%s",
		         walk->dump.pg_dump_version);
	}
	report->decompressed_bytes = walk->dump.decompressed_bytes;
	for (size_t i = 0; walk->have_dump && i < walk->dump.nskipped; i++)
		report_skip(report, walk->dump.skipped[i].toc_entry, walk->dump.skipped[i].reason);
	return 0;
}

/*
 * check_dump: after a walk that went well, a dump over the plan quota is rejected (its size
 * known only once read), and one that was never read whole fails. 0, or -1.
 */
static int
check_dump(struct restore_state *s)
{
	const struct restore_target *t = s->t;
	uint64_t size = s->walk.dump.decompressed_bytes;

	if (s->outcome == WALK_OK && s->walk.dump.over_limit &&
	    (s->swap != NULL
	         ? quota_check_swap(swap_current_size(s->swap), size, true, t->restore_overhead,
	                            t->plan_quota, s->err, sizeof(s->err))
	         : quota_check(size, true, t->restore_overhead, t->plan_quota, s->err,
	                       sizeof(s->err))) < 0) {
		report_set_error(s->report, "rejected", "%s: %s", s->report->source, s->err);
		return -1;
	}
	if (s->outcome == WALK_OK && !s->job.ready) {
		report_set_error(s->report, "failed", "%s: the dump was never read whole",
		                 s->report->source);
		return -1;
	}
	return 0;
}

/* stage_durable: 4. the staged files must be durable before the database may commit. */
static void
stage_durable(struct restore_state *s)
{
	struct archive_walk *walk = &s->walk;

	if (s->outcome == WALK_OK && walk->staging != NULL) {
		if (store_stage_finish(walk->staging, s->err, sizeof(s->err)) < 0) {
			report_part_error(&s->report->files, NULL, "%s", s->err);
			s->outcome = WALK_FAILED;
		} else {
			restore_say(s->o, "job %s: staged %llu files (%llu bytes) in %s", s->job_id,
			            (unsigned long long)walk->file_count,
			            (unsigned long long)walk->file_bytes,
			            store_stage_where(walk->staging));
		}
	}
	s->files_done = restore_now();
}

/* back_up_target: the undo point of keep_previous (undo_point_make). 0, or -1. */
static int
back_up_target(struct restore_state *s, bool database_only)
{
	progress_phase(&s->progress, "backup");
	if (undo_point_make(s->o, database_only, s->job_id, s->report, s->err, sizeof(s->err)) <
	    0) {
		report_set_error(s->report, "failed",
		                 "target %s: the backup before the restore failed: %s; nothing was "
		                 "restored",
		                 s->t->name, s->err);
		return -1;
	}
	progress_phase(&s->progress, NULL);
	if (s->db != NULL)
		database_wait_alone(s->db, 10); /* pg_dump's session ends after it does */
	return 0;
}

/*
 * make_undo_point: keep_previous: the target is backed up once nothing can refuse the restore
 * any more (undo_point_make), and only then the deferred database restore starts (deferred
 * for before_restore too, which ran just before). 0, or -1.
 */
static int
make_undo_point(struct restore_state *s)
{
	if (s->outcome != WALK_OK || !s->job.defer)
		return 0;
	if (s->o->previous_dir != NULL && !s->o->dry_run && !s->undo_first &&
	    back_up_target(s, s->walk.kind == ARCHIVE_KIND_DATABASE_ONLY) < 0)
		return -1;
	if (db_job_launch(&s->job, s->err, sizeof(s->err)) != WALK_OK) {
		report_set_error(s->report, "failed", "%s", s->err);
		return -1;
	}
	return 0;
}

/*
 * wait_database: wait for the database restore (told to stop when the walk failed), record the
 * timings, and judge both sides: whichever failed first says why. 0 when both went well, else
 * -1 (report says why; a database left incomplete makes the restore partial).
 */
static int
wait_database(struct restore_state *s)
{
	struct db_job *job = &s->job;
	struct report *report = s->report;
	const char *dumped = s->walk.have_dump ? s->walk.dump.server_version : NULL;
	char hint[256];

	db_job_wait(job, s->outcome != WALK_OK);
	if (job->dump_read_at > 0)
		report->read_s = job->dump_read_at - s->started;
	report->files_s = s->walk.staging != NULL && job->dump_read_at > 0
	                      ? s->files_done - job->dump_read_at
	                      : 0;
	report->database_s =
	    job->finished_at > job->started_at ? job->finished_at - job->started_at : 0;
	if (job->rc == -2) {
		report->database.status = "partial";
		s->exit_status = RESTORE_EXIT_PARTIAL;
		report_set_error(report, "partial", "%s: %s; the files were left as they were",
		                 report->source, job->err);
		return -1;
	}
	if (job->rc < 0 && (s->db_failed_first || !job->stop)) {
		/* The database failed on its own (the walk then stopped because of it). */
		report_set_error(
		    report, "failed", "%s: %s; the database and the files were left as they were%s",
		    report->source, job->err,
		    restore_newer_dump_hint(dumped, job->err, s->server, hint, sizeof(hint)));
		return -1;
	}
	if (s->outcome != WALK_OK) {
		/* What the database restore said as it was stopped is no error of its own. */
		report_part_forget_errors(&report->database);
		report_set_error(report, s->outcome == WALK_REJECTED ? "rejected" : "failed", "%s",
		                 s->err);
		return -1;
	}
	if (job->rc < 0) {
		report_set_error(
		    report, "failed", "%s: %s; the database and the files were left as they were%s",
		    report->source, job->err,
		    restore_newer_dump_hint(dumped, job->err, s->server, hint, sizeof(hint)));
		return -1;
	}
	return 0;
}

/*
 * check_files: the file check against what the target's store will hold: the staged files
 * (store_stage_view), or the store itself when the files are left alone; on the restore's own
 * transaction, not yet committed, or on the swap's new database, not yet swapped in
 * (aftercare.h). Only ever warns.
 */
static void
check_files(struct restore_state *s)
{
	const struct restore_options *o = s->o;
	const struct archive_walk *walk = &s->walk;
	struct store *store;
	char err[1024];
	int rc;

	progress_phase(&s->progress, "database");
	rc = walk->staging != NULL ? store_stage_view(walk->staging, &store, err, sizeof(err))
	                           : store_open(o->target, &store, err, sizeof(err));
	if (rc < 0) {
		report_warn(s->report, "the file check could not run: %s", err);
		return;
	}
	aftercare_check_files(o, s->db, s->swap, store, s->report);
	store_close(store);
}

/*
 * rehearse: a dry run ends here, its work done and checked: the transaction rolls back (the
 * swap's new database goes in finish), the target as it was.
 */
static void
rehearse(struct restore_state *s)
{
	struct report *report = s->report;

	if (s->db != NULL)
		database_rollback(s->db);
	/* The swap's own transaction can fail too (a setting the role may not set). */
	if (s->swap != NULL && swap_rehearse(s->swap, s->err, sizeof(s->err)) < 0) {
		report_set_error(report, "failed", "%s: %s", report->source, s->err);
		return;
	}
	report->database.status = "unchanged";
	report->files.status = "unchanged";
	restore_report_objects(s->t, s->walk.staging, report);
	s->exit_status = RESTORE_EXIT_SUCCEEDED;
	aftercare_warn_missing(s->o, s->walk.kind == ARCHIVE_KIND_DATABASE_ONLY, report);
	restore_say(s->o, "job %s: rehearsal succeeded; rolled back, target %s unchanged",
	            s->job_id, s->t->name);
}

/*
 * commit: 4. the database commits, 5. then the staged files are swapped in
 * (restore_commit.h). 0, or -1 (report says why, s->exit_status how it ended).
 */
static int
commit(struct restore_state *s)
{
	s->exit_status = restore_commit_database(s->o, s->db, s->swap, &s->walk, s->target_db,
	                                         &s->progress, s->report);
	if (s->exit_status != RESTORE_EXIT_SUCCEEDED)
		return -1;
	if (restore_commit_files(s->o, &s->walk, s->report) < 0) {
		s->exit_status = RESTORE_EXIT_PARTIAL;
		return -1;
	}
	return 0;
}

/*
 * analyze_new_database: strategy swap: ANALYZE the new database before its name is swapped in
 * (analyze.h), so that the application's first query finds statistics and the old database
 * goes sooner. Only ever warns.
 */
static void
analyze_new_database(struct restore_state *s)
{
	if (s->swap == NULL || !s->t->analyze)
		return;
	progress_phase(&s->progress, "analyzing");
	analyze_restored(s->o, NULL, s->swap, s->report);
}

/*
 * aftercare: the outcome is final: warn of missing files, then (strategy transaction) ANALYZE
 * when the target asks, once o->outcome_known has the report (a death during ANALYZE must not
 * hide the outcome).
 */
static void
aftercare(struct restore_state *s)
{
	const struct restore_options *o = s->o;

	aftercare_warn_missing(o, s->walk.kind == ARCHIVE_KIND_DATABASE_ONLY, s->report);
	if (!s->t->analyze || s->swap != NULL)
		return;
	if (o->db_only || s->walk.kind == ARCHIVE_KIND_DATABASE_ONLY)
		s->report->files.status = "skipped";
	if (o->outcome_known != NULL)
		o->outcome_known(o->outcome_ctx, s->report);
	progress_phase(&s->progress, "analyzing");
	analyze_restored(o, s->db, NULL, s->report);
}

/*
 * finish: every restore's end, whatever its outcome: the database restore is stopped, the
 * swap's database that lost is dropped, the staging and the dump copy removed, the undo point
 * settled, and the timings and the outcome said.
 */
static void
finish(struct restore_state *s)
{
	const struct restore_options *o = s->o;
	const struct restore_target *t = s->t;
	struct report *report = s->report;
	bool files_skipped = o->db_only || s->walk.kind == ARCHIVE_KIND_DATABASE_ONLY;

	db_job_wait(&s->job, true); /* gone already, unless the walk failed before waiting */
	if (s->swap != NULL) {
		/* Before the swap: the new database goes; after it: the old one. */
		if (swap_abort(s->swap, s->err, sizeof(s->err)) < 0)
			report_warn(
			    report,
			    "the new database %s could not be dropped (the next restore into "
			    "target %s drops it): %s",
			    swap_new_name(s->swap), t->name, s->err);
		if (swap_drop_old(s->swap, s->err, sizeof(s->err)) < 0)
			report_warn(report,
			            "the old database could not be dropped (the next restore into "
			            "target %s drops it): %s",
			            t->name, s->err);
		swap_close(s->swap);
	}
	if (files_skipped)
		report->files.status = "skipped"; /* the files were never touched */
	store_stage_abort(s->walk.staging);
	db_job_remove_files(&s->job);
	database_close(s->db);
	pg_client_set_free(&s->readers);
	undo_point_settle(o, files_skipped, s->exit_status, report);
	s->job.db = NULL; /* closed: progress must not read them any more */
	s->job.swap = NULL;
	if (s->hooks_reached) /* whatever the outcome: it starts the application again */
		hooks_after_restore(o, s->job_id, s->exit_status, &s->progress, report);
	clock_gettime(CLOCK_REALTIME, &report->finished_at);
	report->have_timings = true;
	report->total_s = restore_now() - s->started;
	if (report->database_s > 0)
		restore_say(o,
		            "job %s: timings: read %.3f s, database %.3f s, files %.3f s (%s the "
		            "database), swap %.3f s, analyze %.3f s, total %.3f s",
		            s->job_id, report->read_s, report->database_s, report->files_s,
		            s->job.defer ? "before" : "beside", report->swap_s, report->analyze_s,
		            report->total_s);
	for (size_t i = 0; i < report->nwarnings; i++) /* before the outcome, which ends the log */
		restore_say(o, "job %s: warning: %s", s->job_id, report->warnings[i]);
	if (report->error != NULL)
		restore_say(o, "job %s: %s: %s", s->job_id, report->status, report->error);
	else
		restore_say(o, "job %s: succeeded", s->job_id);
}

/* restore_run: one restore, phase by phase, in the order this file's opening comment gives. */
int
restore_run(const struct restore_options *o, struct report *report)
{
	struct restore_state s;

	if (begin(&s, o, report) < 0) /* the job id, the report, the progress */
		goto end;
	if (o->target->refuse_restores) { /* allow_restore: false */
		report_set_error(
		    report, "rejected",
		    "target %s does not allow restores (allow_restore: false); nothing "
		    "was read or changed",
		    o->target->name);
		goto end;
	}
	if (check(&s) < 0) /* 1. the cheap refusals: pg_restore, the target, nobody connected */
		goto end;
	if (s.undo_first && back_up_target(&s, false) < 0) /* keep_previous, an object store */
		goto end;
	if (read_archive(&s) < 0) /* 2. the walk: dump copied, files staged; 3. database starts */
		goto end;
	if (check_dump(&s) < 0) /* the dump's size against the quota; read whole */
		goto end;
	stage_durable(&s); /* 4. the staged files made durable */
	/* Read and checked, or the database restore began: after_restore will run. */
	s.hooks_reached = s.outcome == WALK_OK || s.job.started_at > 0;
	if (s.outcome == WALK_OK &&
	    hooks_before_restore(o, s.job_id, s.db, &s.progress, report) < 0)
		goto end; /* before_restore, to stop the application; then nobody connected */
	if (make_undo_point(&s) < 0) /* keep_previous: the backup, then the database starts */
		goto end;
	if (wait_database(&s) < 0) /* the database restore's outcome, and the walk's */
		goto end;
	check_files(&s); /* the files the restored database refers to: only ever warns */
	if (o->dry_run) {
		rehearse(&s); /* a rehearsal ends here: everything rolls back */
		goto end;
	}
	/* strategy swap: ANALYZE in the new database, before the swap; only ever warns */
	analyze_new_database(&s);
	if (commit(&s) < 0) /* 4. the database commits; 5. the files are swapped in */
		goto end;
	aftercare(&s); /* missing files, ANALYZE: only ever warn */
end:
	finish(&s);
	return s.exit_status;
}
