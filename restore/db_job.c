/*
 * db_job.c - the database restore in a thread of its own (db_job.h): started by the archive
 * walk once the dump is read whole and the quota and lock budget pass, joined by restore_run.
 * Its files, the dump copy pg_restore reads and the TOC list, are made and removed here; so is
 * the descriptor of a bare dump pg_restore reads in place instead of a copy (dump_in_place.h),
 * which is checked unchanged once the walk has read it and again once pg_restore is done
 * with it, before the restore may commit.
 */
#include "db_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "quota.h"
#include "toc_list.h"

#define MESSAGE_BYTES DB_JOB_MESSAGE_BYTES

/* db_job_init: a job with no files (db_job.h). */
void
db_job_init(struct db_job *j)
{
	j->dump_fd = -1;
	dump_in_place_init(&j->in_place);
}

/* db_job_open_dump: create work_dir/restore-<job>.dump for pg_restore (db_job.h). */
int
db_job_open_dump(struct db_job *j, const char *work_dir, char *err, size_t errlen)
{
	if (asprintf(&j->dump_path, "%s/restore-%s.dump", work_dir, j->job_id) < 0) {
		j->dump_path = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->dump_fd = open(j->dump_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->dump_fd < 0) {
		snprintf(err, errlen, "cannot create %s in work_dir: %s", j->dump_path,
		         strerror(errno));
		free(j->dump_path);
		j->dump_path = NULL;
		return -1;
	}
	return 0;
}

/* db_job_remove_files: remove the dump copy and the TOC list, close the dump (db_job.h). */
void
db_job_remove_files(struct db_job *j)
{
	dump_in_place_close(&j->in_place);
	if (j->dump_fd >= 0)
		(void)close(j->dump_fd);
	j->dump_fd = -1;
	if (j->dump_path != NULL) {
		(void)unlink(j->dump_path);
		free(j->dump_path);
		j->dump_path = NULL;
	}
	if (j->list_path != NULL) {
		(void)unlink(j->list_path);
		free(j->list_path);
		j->list_path = NULL;
	}
}

/*
 * db_job_run: the thread: restore the database, leaving the transaction open on success. A dump
 * read in place is pg_restore's only while it runs, and must be as it was measured after.
 */
static void *
db_job_run(void *arg)
{
	struct db_job *j = arg;
	bool in_place = j->in_place.fd >= 0;

	if (in_place && dump_in_place_share(&j->in_place, j->err, sizeof(j->err)) < 0)
		j->rc = -1;
	else if (j->swap != NULL)
		j->rc =
		    swap_restore(j->swap, j->pg_restore, in_place ? j->in_place.path : j->dump_path,
		                 j->list_path, j->o->target->restore_jobs, j->report, &j->stop,
		                 j->err, sizeof(j->err));
	else
		j->rc = database_restore(j->db, j->pg_restore,
		                         in_place ? j->in_place.path : j->dump_path, j->list_path,
		                         j->report, &j->stop, j->err, sizeof(j->err));
	dump_in_place_unshare(&j->in_place);
	if (j->rc == 0 && in_place &&
	    dump_in_place_check(&j->in_place, "the file", j->err, sizeof(j->err)) < 0)
		j->rc = -1;
	j->finished_at = restore_now();
	if (j->rc < 0)
		j->failed = 1;
	return NULL;
}

/*
 * db_job_start: the walk's dump_done callback: the dump has been read whole. Check the
 * quota (which protects the database server's disk: nothing may start before), then start
 * the database restore. Signals stay with the calling thread: the new one blocks them all.
 */
enum archive_outcome
db_job_start(void *ctx, char *err, size_t errlen)
{
	struct db_job *j = ctx;
	const struct restore_target *t = j->o->target;
	const struct archive_walk *walk = j->walk;
	struct report *report = j->report;
	const struct pg_client *reader;
	char why[MESSAGE_BYTES];
	int rc;

	j->dump_read_at = restore_now();
	if (j->in_place.fd >= 0 &&
	    dump_in_place_check(&j->in_place, report->source, err, errlen) < 0)
		return WALK_FAILED;
	if (j->swap != NULL
	        ? quota_check_swap(swap_current_size(j->swap), walk->dump.decompressed_bytes,
	                           walk->dump.over_limit, t->restore_overhead, t->plan_quota, why,
	                           sizeof(why)) < 0
	        : quota_check(walk->dump.decompressed_bytes, walk->dump.over_limit,
	                      t->restore_overhead, t->plan_quota, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", report->source, why);
		return WALK_REJECTED;
	}
	/*
	 * So must the lock table: a restore bound to run out of locks half way never starts. A
	 * swap's pg_restore commits as it goes and locks nothing of the target's.
	 */
	if (j->swap == NULL && database_check_locks(j->db, &walk->dump, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "target %s: %s", t->name, why);
		return database_lost(database_conn(j->db), NULL) ? WALK_FAILED : WALK_REJECTED;
	}
	/* The walk refused a dump newer than every pg_restore found: one reads it. */
	reader = pg_client_reader(j->readers, walk->dump.vmin);
	if (reader == NULL) {
		snprintf(err, errlen, "%s: no pg_restore found reads archive version %d.%d",
		         report->source, walk->dump.vmaj, walk->dump.vmin);
		return WALK_REJECTED;
	}
	j->pg_restore = reader->path;
	if ((report->pg_restore = strdup(reader->path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return WALK_FAILED;
	}
	snprintf(report->pg_restore_version, sizeof(report->pg_restore_version), "%s",
	         reader->version);
	restore_say(j->o,
	            "job %s: %s holds a dump (archive version %d.%d, pg_dump %s) that decompresses "
	            "to %llu bytes; %s (PostgreSQL %s) restores it%s",
	            j->job_id, report->source, walk->dump.vmaj, walk->dump.vmin,
	            walk->dump.pg_dump_version, (unsigned long long)walk->dump.decompressed_bytes,
	            reader->path, reader->version,
	            j->in_place.fd >= 0 ? " from where it lies (no copy)" : "");
	rc = close(j->dump_fd);
	j->dump_fd = -1;
	if (rc < 0) {
		snprintf(err, errlen, "cannot write %s: %s", j->dump_path, strerror(errno));
		return WALK_FAILED;
	}
	/* Read in place, the dump needs no copy: the empty one goes now, not at the end. */
	if (j->in_place.fd >= 0 && unlink(j->dump_path) < 0) {
		snprintf(err, errlen, "cannot remove %s: %s", j->dump_path, strerror(errno));
		return WALK_FAILED;
	}
	if (walk->dump.nskipped > 0) {
		/* The environment's entries (environment.h) are left out with pg_restore -L. */
		int64_t skip[DUMP_SKIPPED_MAX];

		for (size_t i = 0; i < walk->dump.nskipped; i++)
			skip[i] = walk->dump.skipped[i].dump_id;
		if (asprintf(&j->list_path, "%s.list", j->dump_path) < 0) {
			j->list_path = NULL;
			snprintf(err, errlen, "out of memory");
			return WALK_FAILED;
		}
		/* No other thread starts a program now: the database thread is not running yet. */
		if (j->in_place.fd >= 0 && dump_in_place_share(&j->in_place, err, errlen) < 0)
			return WALK_FAILED;
		rc = toc_list_write(j->pg_restore,
		                    j->in_place.fd >= 0 ? j->in_place.path : j->dump_path,
		                    j->list_path, skip, walk->dump.nskipped, why, sizeof(why));
		dump_in_place_unshare(&j->in_place);
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", report->source, why);
			return WALK_FAILED;
		}
	}
	j->ready = true;
	if (j->defer)
		return WALK_OK; /* db_job_launch, once the walk is over */
	return db_job_launch(j, err, errlen);
}

enum archive_outcome
db_job_launch(struct db_job *j, char *err, size_t errlen)
{
	const struct restore_target *t = j->o->target;
	bool beside = j->walk->kind == ARCHIVE_KIND_FULL_SNAPSHOT && !j->defer;
	sigset_t all, old;
	int rc;

	if (j->swap != NULL)
		restore_say(j->o,
		            "job %s: restoring into a new database %s with pg_restore --jobs=%d%s",
		            j->job_id, swap_new_name(j->swap), t->restore_jobs,
		            beside ? " while the files are staged" : "");
	else
		restore_say(j->o, "job %s: restoring database %s%s", j->job_id,
		            database_name(j->db), beside ? " while the files are staged" : "");
	j->started_at = restore_now();
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&j->thread, NULL, db_job_run, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the database restore: %s", strerror(rc));
		return WALK_FAILED;
	}
	j->started = true;
	return WALK_OK;
}

/*
 * db_job_wait: wait for the database restore to end; with give_up, ask it to stop first. A
 * signal meanwhile (cancel) asks it to stop too.
 */
void
db_job_wait(struct db_job *j, bool give_up)
{
	if (!j->started)
		return;
	if (give_up) {
		j->stop = 1;
		database_cancel_running();
	}
	for (;;) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(j->thread, NULL, &until) == 0)
			break;
		if (j->tick != NULL)
			j->tick(j->tick_ctx);
		if (j->o->cancel != NULL && *j->o->cancel && !j->stop) {
			j->stop = 1;
			database_cancel_running();
		}
	}
	j->started = false;
}
