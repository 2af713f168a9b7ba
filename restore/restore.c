/*
 * restore.c - one restore, start to finish.
 *
 * The order is what makes it all or nothing:
 *  1. cheap refusals first: pg_restore runs, the database exists, nobody is connected;
 *  2. one pass over the archive (archive_walk): the dump is measured and copied into
 *     work_dir, tree files are written into a staging folder beside blob_dir, and every
 *     entry is checked;
 *  3. as soon as the dump has been read whole and its version and the plan quota are
 *     checked, the database restore starts in a thread of its own (db_job), in one
 *     transaction, while the walk goes on staging the files that follow the dump;
 *  4. once the walk is over and the staged files are durable, and the database restore is
 *     done, the transaction commits; a failure of either side before that rolls back;
 *  5. only then the staged files are swapped in. A failure of this last step is the only
 *     way to end "partial".
 * Every exit path removes the dump copy and the staging folder.
 *
 * With strategy swap (swap.h) the same order holds, with a new database in place of the
 * transaction: after the same refusals and the swap's own (swap_open), the databases earlier
 * swaps left behind are dropped and the connection to the target is closed; the thread
 * creates the new database and runs pg_restore --jobs into it; "commit" is the swap of the
 * names (swap_commit), and the old database is dropped at the end. Any failure before the
 * swap drops the new database.
 */
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aftercare.h"
#include "archive_walk.h"
#include "blobstore.h"
#include "database.h"
#include "db_job.h"
#include "dump.h"
#include "json.h"
#include "progress.h"
#include "quota.h"
#include "swap.h"
#include "toc_list.h"
#include "undo_point.h"
#include "version.h"

#define MESSAGE_BYTES 2048

/* make_dump_copy: create work_dir/restore-<job>.dump for pg_restore; the fd, or -1. */
static int
make_dump_copy(const char *work_dir, const char *job_id, char **path, char *err, size_t errlen)
{
	int fd;

	if (asprintf(path, "%s/restore-%s.dump", work_dir, job_id) < 0) {
		*path = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fd = open(*path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s in work_dir: %s", *path, strerror(errno));
		free(*path);
		*path = NULL;
	}
	return fd;
}

struct restore_leftover {
	struct blobstore *old_files; /* committed: the old files are at its staging name */
	char job_id[37];
};

void
restore_finish(struct restore_leftover *leftover, const struct restore_options *o)
{
	char err[MESSAGE_BYTES];
	double t0 = restore_now();

	if (leftover == NULL)
		return;
	if (blobstore_remove_old(leftover->old_files, err, sizeof(err)) < 0)
		restore_say(o, "job %s: warning: %s", leftover->job_id, err);
	else
		restore_say(o, "job %s: the old files were removed in %.3f s", leftover->job_id,
		            restore_now() - t0);
	blobstore_close(leftover->old_files);
	free(leftover);
}

/* What commit_hook needs. */
struct commit_hook {
	const struct restore_options *o;
	struct database *db;
	struct swap *swap;
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
	return h->o->before_commit != NULL ? h->o->before_commit(h->o->commit_ctx, err, errlen) : 0;
}

/*
 * commit_unknown: the COMMIT's reply was lost and the server could not say whether it
 * committed (err): the restore ends partial, and every copy is kept and named.
 */
static void
commit_unknown(const struct restore_options *o, struct archive_walk *walk, struct report *report,
               const char *err)
{
	report->database.status = "unknown";
	if (walk->staging == NULL) {
		report_set_error(report, "partial", "%s; restore the backup again to be sure", err);
		return;
	}
	report_set_error(report, "partial",
	                 "%s; %s still holds the old files and %s the backup's (kept): once the "
	                 "database is known to hold the backup, swap them in (or restore the "
	                 "backup again)",
	                 err, o->target->blob_dir, blobstore_staging_path(walk->staging));
	blobstore_close(walk->staging); /* keep the staged files */
	walk->staging = NULL;
}

/*
 * check_files: the file check against what blob_dir will hold: the staged files, or blob_dir
 * itself when the files are left alone; on the restore's own transaction, not yet committed,
 * or on the swap's new database, not yet swapped in. Only ever warns.
 */
static void
check_files(const struct restore_options *o, struct database *db, struct swap *swap,
            const struct archive_walk *walk, struct report *report)
{
	const char *dir =
	    walk->staging != NULL ? blobstore_staging_path(walk->staging) : o->target->blob_dir;
	char err[MESSAGE_BYTES];
	PGconn *conn;

	if (swap == NULL) {
		(void)aftercare_check_files(o, database_conn(db), database_secrets(db), dir,
		                            report);
		return;
	}
	if ((conn = swap_connect(swap, true, err, sizeof(err))) == NULL) {
		report_warn(report, "the file check could not run: %s", err);
		return;
	}
	(void)aftercare_check_files(o, conn, swap_secrets(swap), dir, report);
	PQfinish(conn);
}

/* warn_missing: the warning for files the restored database refers to that are not there. */
static void
warn_missing(const struct restore_options *o, const struct archive_walk *walk,
             struct report *report)
{
	const char *left_alone = o->db_only ? "--db-only"
	                         : walk->kind == ARCHIVE_KIND_DATABASE_ONLY
	                             ? "a database-only backup"
	                             : NULL;
	unsigned long long n = report->missing.count;

	if (left_alone != NULL && !report->have_filecheck)
		report_warn(report,
		            "%s: the files in %s were left alone; files the restored database "
		            "refers to may be missing",
		            left_alone, o->target->blob_dir);
	else if (left_alone != NULL && n > 0)
		report_warn(report,
		            "%s: the files in %s were left alone; %llu file%s the restored "
		            "database refers to %s missing there (files.missing)",
		            left_alone, o->target->blob_dir, n, n == 1 ? "" : "s",
		            n == 1 ? "is" : "are");
	else if (left_alone != NULL)
		report_warn(report, "%s: the files in %s were left alone", left_alone,
		            o->target->blob_dir);
	else if (n > 0)
		report_warn(report,
		            "%llu file%s the restored database refers to %s not in the backup "
		            "(files.missing)",
		            n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
}

/* analyze: ANALYZE the restored database; only ever warns. */
static void
analyze(const struct restore_options *o, struct database *db, struct swap *swap,
        struct report *report)
{
	char err[MESSAGE_BYTES];
	PGconn *conn;

	restore_say(o, "job %s: analyzing the restored database", report->job_id);
	if (swap == NULL) {
		aftercare_analyze(o, database_conn(db), database_secrets(db), report);
		return;
	}
	if ((conn = swap_connect(swap, false, err, sizeof(err))) == NULL) {
		report_warn(report, "the restored database could not be analyzed: %s", err);
		return;
	}
	aftercare_analyze(o, conn, swap_secrets(swap), report);
	PQfinish(conn);
}

int
restore_tidy(const struct restore_target *t, bool holds_target_lock, struct report *report,
             char *err, size_t errlen)
{
	enum database_open_failure open_failure;
	struct database *db = NULL;
	char target_db[128];
	int rc;

	if (t->strategy != RESTORE_STRATEGY_SWAP)
		return 0;
	/* The connection string may leave the name to libpq's defaults: ask the server. */
	if (database_open(t->conninfo, &db, &open_failure, err, errlen) < 0)
		return -1;
	snprintf(target_db, sizeof(target_db), "%s", database_name(db));
	database_close(db);
	rc = swap_tidy(t->conninfo,
	               t->maintenance_database != NULL ? t->maintenance_database : "postgres",
	               target_db, holds_target_lock, report, err, errlen);
	return rc;
}

/*
 * newer_dump_hint: for a restore that failed with error, the reason that may lie behind the
 * server's error when the dump comes from a newer server than the target's (a 17 dump into
 * 15: its SQL can use what 15 lacks); "" otherwise. pg_restore 17 and later, connected to
 * the server (the swap's), set transaction_timeout, which servers before 17 lack.
 */
static const char *
newer_dump_hint(const struct archive_walk *walk, const char *error, int server, char *buf,
                size_t len)
{
	int dumped = 0;

	buf[0] = '\0';
	if (server > 0 && server < 170000 && strstr(error, "\"transaction_timeout\"") != NULL)
		snprintf(buf, len,
		         " (pg_restore 17 and later set transaction_timeout, which PostgreSQL %d "
		         "lacks: restore this dump with strategy transaction)",
		         server / 10000);
	else if (walk->have_dump && server > 0 &&
	         sscanf(walk->dump.server_version, "%d", &dumped) == 1 && dumped >= 10 &&
	         dumped > server / 10000)
		snprintf(
		    buf, len,
		    " (the dump comes from a PostgreSQL %d server, the target's is %d.%d: its SQL "
		    "may need the newer server)",
		    dumped, server / 10000, server % 10000);
	return buf;
}

int
restore_run(const struct restore_options *o, struct report *report)
{
	const struct restore_target *t = o->target;
	struct pg_client_set readers;
	struct archive_walk walk;
	struct database *db = NULL;
	struct swap *swap = NULL;
	enum database_open_failure open_failure;
	enum swap_failure swap_failure;
	char target_db[256];
	enum archive_outcome outcome;
	struct db_job job;
	struct commit_hook hook;
	struct progress prog;
	char job_id[37], err[MESSAGE_BYTES], why[256], hint[256];
	double started = restore_now(), files_done, commit_started, swap_started;
	int max_minor, rc, exit_status = RESTORE_EXIT_UNCHANGED, server = 0;
	bool db_failed_first;

	memset(&readers, 0, sizeof(readers));
	memset(&walk, 0, sizeof(walk));
	memset(&job, 0, sizeof(job));
	job.defer = o->previous_dir != NULL && !o->dry_run;
	walk.fd = -1;
	progress_init(&prog, o, &walk, &job, report);
	job.tick = progress_tick;
	job.tick_ctx = &prog;
	job.o = o;
	job.walk = &walk;
	job.report = report;
	job.readers = &readers;
	job.job_id = job_id;
	job.dump_fd = -1;
	if (o->job_id != NULL)
		snprintf(job_id, sizeof(job_id), "%s", o->job_id);
	else
		restore_new_job_id(job_id);
	if (report_init(report, job_id, o->archive, t->name, o->db_only) < 0) {
		report_set_error(report, "failed", "out of memory");
		goto done;
	}
	report->dry_run = o->dry_run;
	report->overhead_bytes = t->restore_overhead;
	report->quota_bytes = t->plan_quota;
	restore_say(o, "job %s: restoring %s into target %s%s", job_id, report->source, t->name,
	            o->db_only ? " (database only)" : "");

	/* 1. Cheap refusals. */
	if (pg_client_find(&readers, "pg_restore", o->pg_restore, NULL, o->pg_client_dirs, err,
	                   sizeof(err)) < 0) {
		report_set_error(report, "failed", "%s", err);
		goto done;
	}
	max_minor =
	    restore_version_limit(&readers, t->max_dump_major, t->max_dump_minor, t->name, why,
	                          sizeof(why), &walk.max_from_config, err, sizeof(err));
	if (max_minor < 0) {
		report_set_error(report, "failed", "%s", err);
		goto done;
	}
	if (database_open(t->conninfo, &db, &open_failure, err, sizeof(err)) < 0) {
		report_set_error(report,
		                 open_failure == DATABASE_OPEN_MISSING ? "rejected" : "failed",
		                 "target %s: %s", t->name, err);
		goto done;
	}
	server = PQserverVersion(database_conn(db));
	if (o->holds_target_lock)
		database_end_orphans(db, 30);
	if (database_check_alone(db, err, sizeof(err)) < 0) {
		/* A lost connection is a failure to retry, not a refusal. */
		report_set_error(report,
		                 database_lost(database_conn(db), NULL) ? "failed" : "rejected",
		                 "target %s: %s", t->name, err);
		goto done;
	}
	job.db = db;
	snprintf(target_db, sizeof(target_db), "%s", database_name(db));
	if (t->strategy == RESTORE_STRATEGY_SWAP) {
		if (swap_open(t->conninfo,
		              t->maintenance_database != NULL ? t->maintenance_database
		                                              : "postgres",
		              target_db, job_id, &swap, &swap_failure, err, sizeof(err)) < 0) {
			report_set_error(report,
			                 swap_failure == SWAP_REFUSED ? "rejected" : "failed",
			                 "target %s: %s", t->name, err);
			goto done;
		}
		if (!o->dry_run) /* a rehearsal drops nothing but its own database */
			swap_remove_leftovers(swap, o->holds_target_lock, report);
		/* Nobody may be connected to the target when its name is swapped: not even us. */
		database_close(db);
		db = job.db = NULL;
		job.swap = swap;
	}

	/* 2. One pass over the archive; 3. the database restore starts once the dump is read. */
	job.dump_fd = make_dump_copy(o->work_dir, job_id, &job.dump_path, err, sizeof(err));
	if (job.dump_fd < 0) {
		report_set_error(report, "failed", "%s", err);
		goto done;
	}
	walk.path = o->archive;
	walk.dump_fd = job.dump_fd;
	walk.blob_target = o->db_only ? NULL : t;
	walk.job_id = job_id;
	walk.stop_after = quota_stop_after(
	    swap != NULL ? quota_swap_overhead(swap_current_size(swap), t->restore_overhead)
	                 : t->restore_overhead,
	    t->plan_quota);
	walk.max_minor = max_minor;
	walk.max_why = why;
	walk.readers_minor =
	    pg_client_newest(&readers) != NULL ? pg_client_newest(&readers)->archive_minor : 0;
	walk.cancel = o->cancel;
	walk.abort = &job.failed;
	walk.dump_done = db_job_start;
	walk.dump_done_ctx = &job;
	walk.tick = progress_tick;
	walk.tick_ctx = &prog;
	progress_phase(&prog, NULL);
	outcome = archive_walk(&walk, report, err, sizeof(err));
	db_failed_first = job.failed != 0; /* then the walk stopped because of it */
	report->archive_kind =
	    walk.kind == ARCHIVE_KIND_UNKNOWN ? NULL : archive_kind_name(walk.kind);
	if (walk.have_dump) {
		snprintf(report->dump_version, sizeof(report->dump_version), "%d.%d",
		         walk.dump.vmaj, walk.dump.vmin);
		snprintf(report->dump_pg_dump_version, sizeof(report->dump_pg_dump_version), "%s",
		         walk.dump.pg_dump_version);
	}
	report->decompressed_bytes = walk.dump.decompressed_bytes;
	for (size_t i = 0; walk.have_dump && i < walk.dump.nskipped; i++)
		report_skip(report, walk.dump.skipped[i].toc_entry, walk.dump.skipped[i].reason);
	if (outcome == WALK_OK && walk.dump.over_limit &&
	    (swap != NULL
	         ? quota_check_swap(swap_current_size(swap), walk.dump.decompressed_bytes, true,
	                            t->restore_overhead, t->plan_quota, err, sizeof(err))
	         : quota_check(walk.dump.decompressed_bytes, true, t->restore_overhead,
	                       t->plan_quota, err, sizeof(err))) < 0) {
		report_set_error(report, "rejected", "%s: %s", report->source, err);
		goto done;
	}
	if (outcome == WALK_OK && !job.ready) {
		report_set_error(report, "failed", "%s: the dump was never read whole",
		                 report->source);
		goto done;
	}

	/* 4. The staged files must be durable before the database may commit. */
	if (outcome == WALK_OK && walk.staging != NULL) {
		if (blobstore_finish(walk.staging, err, sizeof(err)) < 0) {
			report_part_error(&report->files, NULL, "%s", err);
			outcome = WALK_FAILED;
		} else {
			restore_say(o, "job %s: staged %llu files (%llu bytes) in %s", job_id,
			            (unsigned long long)walk.file_count,
			            (unsigned long long)walk.file_bytes,
			            blobstore_staging_path(walk.staging));
		}
	}
	files_done = restore_now();
	/* keep_previous: the target is backed up once nothing can refuse the restore any more. */
	if (outcome == WALK_OK && job.defer) {
		progress_phase(&prog, "backup");
		if (undo_point_make(o, walk.kind == ARCHIVE_KIND_DATABASE_ONLY, job_id, report, err,
		                    sizeof(err)) < 0) {
			report_set_error(
			    report, "failed",
			    "target %s: the backup before the restore failed: %s; nothing "
			    "was restored",
			    t->name, err);
			goto done;
		}
		progress_phase(&prog, NULL);
		if (db != NULL)
			database_wait_alone(db, 10); /* pg_dump's session ends after it does */
		if (db_job_launch(&job, err, sizeof(err)) != WALK_OK) {
			report_set_error(report, "failed", "%s", err);
			goto done;
		}
	}
	db_job_wait(&job, outcome != WALK_OK);
	if (job.dump_read_at > 0)
		report->read_s = job.dump_read_at - started;
	report->files_s =
	    walk.staging != NULL && job.dump_read_at > 0 ? files_done - job.dump_read_at : 0;
	report->database_s =
	    job.finished_at > job.started_at ? job.finished_at - job.started_at : 0;
	if (job.rc == -2) {
		report->database.status = "partial";
		exit_status = RESTORE_EXIT_PARTIAL;
		report_set_error(report, "partial", "%s: %s; the files were left as they were",
		                 report->source, job.err);
		goto done;
	}
	if (job.rc < 0 && (db_failed_first || !job.stop)) {
		/* The database failed on its own (the walk then stopped because of it). */
		report_set_error(report, "failed",
		                 "%s: %s; the database and the files were left as they were%s",
		                 report->source, job.err,
		                 newer_dump_hint(&walk, job.err, server, hint, sizeof(hint)));
		goto done;
	}
	if (outcome != WALK_OK) {
		/* What the database restore said as it was stopped is no error of its own. */
		report_part_forget_errors(&report->database);
		report_set_error(report, outcome == WALK_REJECTED ? "rejected" : "failed", "%s",
		                 err);
		goto done;
	}
	if (job.rc < 0) {
		report_set_error(report, "failed",
		                 "%s: %s; the database and the files were left as they were%s",
		                 report->source, job.err,
		                 newer_dump_hint(&walk, job.err, server, hint, sizeof(hint)));
		goto done;
	}
	progress_phase(&prog, "database");
	check_files(o, db, swap, &walk, report);
	if (o->dry_run) {
		/* The rehearsal ends here: the transaction rolls back, the new database goes. */
		if (db != NULL)
			database_rollback(db);
		/* The swap's own transaction can fail too (a setting the role may not set). */
		if (swap != NULL && swap_rehearse(swap, err, sizeof(err)) < 0) {
			report_set_error(report, "failed", "%s: %s", report->source, err);
			goto done;
		}
		report->database.status = "unchanged";
		report->files.status = "unchanged";
		exit_status = RESTORE_EXIT_SUCCEEDED;
		warn_missing(o, &walk, report);
		restore_say(o, "job %s: rehearsal succeeded; rolled back, target %s unchanged",
		            job_id, t->name);
		goto done;
	}
	/* The swap calls the hook inside its short transaction, just before the COMMIT. */
	hook.o = o;
	hook.db = db;
	hook.swap = swap;
	if (swap == NULL && commit_hook(&hook, err, sizeof(err)) < 0) {
		report_set_error(report, "failed",
		                 "%s: %s; the database and the files were left as they were",
		                 report->source, err);
		goto done;
	}
	progress_phase(&prog, "swapping");
	commit_started = restore_now();
	if (swap != NULL)
		swap_set_cancel(swap, o->cancel);
	rc = swap != NULL ? swap_commit(swap, commit_hook, &hook, err, sizeof(err))
	                  : database_commit(db, o->cancel, err, sizeof(err));
	if (rc == -2) {
		commit_unknown(o, &walk, report, err);
		exit_status = RESTORE_EXIT_PARTIAL;
		goto done;
	}
	if (rc < 0) {
		report_set_error(report, "failed", "%s: %s", report->source, err);
		goto done;
	}
	if (rc > 0)
		report_warn(report, "%s", err);
	report->database_s += restore_now() - commit_started;
	report->database.status = "restored";
	exit_status = RESTORE_EXIT_SUCCEEDED;
	if (swap != NULL)
		restore_say(o, "job %s: database %s restored (database %s swapped in)", job_id,
		            target_db, swap_new_name(swap));
	else
		restore_say(o, "job %s: database %s restored", job_id, database_name(db));

	/* 5. The files. */
	swap_started = restore_now();
	if (walk.staging != NULL) {
		rc = blobstore_commit(walk.staging, err, sizeof(err));
		if (rc < 0) {
			report->files.status = "partial";
			report_part_error(&report->files, NULL, "%s", err);
			report_set_error(report, "partial",
			                 "the database was restored but the files could not be "
			                 "swapped in: %s; %s still holds the old files and %s the "
			                 "backup's",
			                 err, t->blob_dir, blobstore_staging_path(walk.staging));
			blobstore_close(walk.staging); /* keep the staged files for the operator */
			walk.staging = NULL;
			exit_status = RESTORE_EXIT_PARTIAL;
			goto done;
		}
		if (rc > 0)
			report_warn(report, "%s", err);
		report->files.status = "restored";
		report->file_count = walk.file_count;
		report->file_bytes = walk.file_bytes;
		if (o->leftover != NULL) {
			*o->leftover = malloc(sizeof(**o->leftover));
			if (*o->leftover != NULL) {
				(*o->leftover)->old_files = walk.staging;
				snprintf((*o->leftover)->job_id, sizeof((*o->leftover)->job_id),
				         "%s", job_id);
				walk.staging = NULL;
			}
		}
		if (walk.staging != NULL &&
		    blobstore_remove_old(walk.staging, err, sizeof(err)) < 0)
			report_warn(report, "%s", err);
		blobstore_close(walk.staging);
		walk.staging = NULL;
		report->swap_s = restore_now() - swap_started;
		restore_say(o, "job %s: %llu files swapped into %s", job_id,
		            (unsigned long long)walk.file_count, t->blob_dir);
	}
	warn_missing(o, &walk, report);
	if (t->analyze) {
		/* The outcome is final: a death during ANALYZE must not hide it. */
		if (o->db_only || walk.kind == ARCHIVE_KIND_DATABASE_ONLY)
			report->files.status = "skipped";
		if (o->outcome_known != NULL)
			o->outcome_known(o->outcome_ctx, report);
		progress_phase(&prog, "analyzing");
		analyze(o, db, swap, report);
	}
done:
	db_job_wait(&job, true); /* gone already, unless the walk failed before waiting */
	if (swap != NULL) {
		/* Before the swap: the new database goes; after it: the old one. */
		if (swap_abort(swap, err, sizeof(err)) < 0)
			report_warn(
			    report,
			    "the new database %s could not be dropped (the next restore into "
			    "target %s drops it): %s",
			    swap_new_name(swap), t->name, err);
		if (swap_drop_old(swap, err, sizeof(err)) < 0)
			report_warn(report,
			            "the old database could not be dropped (the next restore into "
			            "target %s drops it): %s",
			            t->name, err);
		swap_close(swap);
	}
	if (o->db_only || walk.kind == ARCHIVE_KIND_DATABASE_ONLY)
		report->files.status = "skipped"; /* the files were never touched */
	blobstore_abort(walk.staging);
	if (job.dump_fd >= 0)
		(void)close(job.dump_fd);
	if (job.dump_path != NULL) {
		(void)unlink(job.dump_path);
		free(job.dump_path);
	}
	if (job.list_path != NULL) {
		(void)unlink(job.list_path);
		free(job.list_path);
	}
	database_close(db);
	pg_client_set_free(&readers);
	undo_point_settle(o, o->db_only || walk.kind == ARCHIVE_KIND_DATABASE_ONLY, exit_status,
	                  report);
	clock_gettime(CLOCK_REALTIME, &report->finished_at);
	report->have_timings = true;
	report->total_s = restore_now() - started;
	if (report->database_s > 0)
		restore_say(
		    o,
		    "job %s: timings: read %.3f s, database %.3f s, files %.3f s (beside the "
		    "database), swap %.3f s, analyze %.3f s, total %.3f s",
		    job_id, report->read_s, report->database_s, report->files_s, report->swap_s,
		    report->analyze_s, report->total_s);
	for (size_t i = 0; i < report->nwarnings; i++) /* before the outcome, which ends the log */
		restore_say(o, "job %s: warning: %s", job_id, report->warnings[i]);
	if (report->error != NULL)
		restore_say(o, "job %s: %s: %s", job_id, report->status, report->error);
	else
		restore_say(o, "job %s: succeeded", job_id);
	return exit_status;
}
