/*
 * object_stage.c - a restore's files staged into an object store (store_object.h has the
 * design): the stage as a whole. It begins by finishing or undoing what stopped restores left
 * and by listing the store, runs the requests (object_stage_drive), and ends in a commit (the
 * journal's C, then the deletions) or an abort (undone from the journal). The files
 * themselves, each hashed and sent as it is read, are object_file.c's.
 *
 * The journal is synced before every objclient_run(), the only place where requests start:
 * what a request changes is on disk before it can happen.
 */
#include "store_object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* object_stage_fail: note the stage's first failure; -1. */
int
object_stage_fail(struct object_stage *st, const char *why)
{
	if (st->failed++ == 0)
		snprintf(st->err, sizeof(st->err), "%s", why);
	return -1;
}

/* object_stage_step: sync the journal, then run requests until at most want remain. */
int
object_stage_step(struct object_stage *st, size_t want)
{
	char err[512];

	if (st->journal != NULL && object_journal_sync(st->journal, err, sizeof(err)) < 0)
		return object_stage_fail(st, err);
	if (objclient_run(st->os->client, want, err, sizeof(err)) < 0)
		return object_stage_fail(st, err);
	return 0;
}

/*
 * object_stage_drive: nothing while at most max_reqs requests are queued or in flight and their
 * buffers hold at most max_bytes; past either, run them down to half of it (so that the journal
 * is synced once for many files, not for each).
 */
int
object_stage_drive(struct object_stage *st, size_t max_reqs, uint64_t max_bytes)
{
	struct objclient *c = st->os->client;
	size_t low_reqs = max_reqs / 2;
	uint64_t low_bytes = max_bytes / 2;

	if (objclient_in_flight(c) <= max_reqs && st->bytes <= max_bytes)
		return 0;
	while (objclient_in_flight(c) > low_reqs ||
	       (st->bytes > low_bytes && objclient_in_flight(c) > 0)) {
		size_t n = objclient_in_flight(c), want = n > low_reqs ? low_reqs : n - 1;

		if (object_stage_step(st, want) < 0)
			return -1;
	}
	return 0;
}

/*
 * object_stage_begin: finish or undo what stopped restores into the store left (not in a
 * rehearsal), list the store, start the journal.
 */
int
object_stage_begin(struct store *s, const char *job_id, int flags, struct store_stage **out,
                   char *err, size_t errlen)
{
	struct object_store *os = (struct object_store *)s;
	struct object_stage *st;
	char path[4096];
	uint64_t foreign;

	if (os->t->state_dir == NULL)
		return io_error(err, errlen, "target %s has no work_dir for its restore's journal",
		                os->t->name);
	/* A rehearsal changes nothing, not even to tidy up after a stopped restore. */
	if (!(flags & STORE_STAGE_REHEARSAL) &&
	    object_recover_all(os, os->t->state_dir, err, errlen) != 0)
		return -1;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return io_error(err, errlen, "out of memory");
	st->os = os;
	st->state_dir = os->t->state_dir;
	st->rehearsal = (flags & STORE_STAGE_REHEARSAL) != 0;
	st->listing.fd = st->staged.fd = -1;
	snprintf(st->job_id, sizeof(st->job_id), "%s", job_id);
	if (!st->rehearsal &&
	    object_journal_create(os, st->state_dir, job_id, &st->journal, err, errlen) < 0)
		goto fail;
	if (object_path(st->state_dir, job_id, ".listing", path, sizeof(path)) < 0 ||
	    object_snapshot(os, path, &st->listing, &foreign, err, errlen) < 0)
		goto fail;
	if (object_path(st->state_dir, job_id, ".staged", path, sizeof(path)) < 0 ||
	    object_records_create(&st->staged, path, err, errlen) < 0)
		goto fail;
	st->counts.foreign = foreign;
	st->head.driver = s->driver;
	*out = &st->head;
	return 0;
fail:
	object_records_close(&st->listing, true);
	object_journal_end(st->journal, true);
	free(st);
	return -1;
}

/* object_stage_finish: wait for every request; sort the staged files; a UUID twice fails. */
int
object_stage_finish(struct store_stage *sst, char *err, size_t errlen)
{
	struct object_stage *st = (struct object_stage *)sst;

	if (object_stage_drive(st, 0, 0) < 0 || st->failed > 0)
		return io_error(err, errlen, "%s", st->err);
	object_records_sort(&st->staged);
	for (size_t i = 1; i < st->staged.n; i++)
		if (memcmp(st->staged.rec[i - 1].uuid, st->staged.rec[i].uuid, 36) == 0)
			return io_error(err, errlen, "the file %.36s appears twice in the archive",
			                st->staged.rec[i].uuid);
	for (size_t i = 0; i < st->listing.n; i++)
		if (!st->listing.rec[i].seen)
			st->counts.deleted++; /* once committed (a rehearsal: would be) */
	st->finished = true;
	return 0;
}

/* object_stage_prepare: journal what a later process needs to ask whether the COMMIT was made. */
int
object_stage_prepare(struct store_stage *sst, const char *xact_id, int backend_pid,
                     const char *ask_dbname, char *err, size_t errlen)
{
	struct object_stage *st = (struct object_stage *)sst;
	char line[512];

	if (st->journal == NULL)
		return 0;
	snprintf(line, sizeof(line), "%s %d %s", xact_id[0] != '\0' ? xact_id : "-", backend_pid,
	         ask_dbname != NULL ? ask_dbname : "-");
	if (object_records_sync(&st->listing, err, errlen) < 0 ||
	    object_journal_add(st->journal, 'P', line, err, errlen) < 0 ||
	    object_journal_sync(st->journal, err, errlen) < 0)
		return -1;
	return 0;
}

/*
 * object_stage_commit: the database committed: journal it, then delete the objects the backup
 * does not hold and the copies aside, at once (an object store has no old tree to leave for a
 * removal in the background). 0; 1 when some could not be deleted (err says so: the journal
 * stays, and the next restore into the store deletes them); -1 when the commit could not be
 * journaled (the backup's objects are in place all the same, and the journal says to ask).
 */
int
object_stage_commit(struct store_stage *sst, char *err, size_t errlen)
{
	struct object_stage *st = (struct object_stage *)sst;
	int rc;

	if (st->journal == NULL || !st->finished)
		return io_error(err, errlen, "%s: nothing staged to commit", st->os->where);
	if (object_records_sync(&st->listing, err, errlen) < 0 ||
	    object_journal_add(st->journal, 'C', NULL, err, errlen) < 0 ||
	    object_journal_sync(st->journal, err, errlen) < 0)
		return -1;
	st->committed = true;
	object_records_close(&st->listing, false);
	object_records_close(&st->staged, false);
	rc = object_journal_settle(st->journal, st->os, st->state_dir, st->job_id, true, err,
	                           errlen);
	object_journal_end(st->journal, rc == 0);
	st->journal = NULL;
	return rc == 0 ? 0 : 1;
}

/* object_stage_where: the store, for messages (its objects are staged in place). */
const char *
object_stage_where(const struct store_stage *sst)
{
	return ((const struct object_stage *)sst)->os->where;
}

/* free_stage: close what the stage holds, removing its files when asked. */
static void
free_stage(struct object_stage *st, bool remove)
{
	object_records_close(&st->listing, remove);
	object_records_close(&st->staged, remove);
	object_journal_end(st->journal, remove);
	free(st);
}

/*
 * object_stage_abort: wait for the requests in flight, then undo what the journal records:
 * the store as it was. Where that fails, the journal stays for the next restore to undo.
 */
void
object_stage_abort(struct store_stage *sst)
{
	struct object_stage *st = (struct object_stage *)sst;
	char err[1024];
	int rc = 0;

	if (st->journal != NULL) {
		(void)object_stage_drive(st, 0, 0);
		rc = object_journal_settle(st->journal, st->os, st->state_dir, st->job_id, false,
		                           err, sizeof(err));
	}
	free_stage(st, rc == 0);
}

/* object_stage_close: free the stage; a journal not settled stays for the next restore. */
void
object_stage_close(struct store_stage *sst)
{
	struct object_stage *st = (struct object_stage *)sst;

	(void)object_stage_drive(st, 0, 0);
	free_stage(st, st->rehearsal);
}

/* object_stage_view: the backup's files, as the store holds them once committed. */
int
object_stage_view(struct store_stage *sst, struct store **out, char *err, size_t errlen)
{
	struct object_stage *st = (struct object_stage *)sst;

	if (!st->finished)
		return io_error(err, errlen, "%s: the staged files are not all in yet",
		                st->os->where);
	return object_records_store(&st->staged, st->os->where, out, err, errlen);
}

/* object_stage_counts: what the restore uploaded, kept, replaced and deleted. */
void
object_stage_counts(const struct store_stage *sst, struct store_stage_counts *c)
{
	*c = ((const struct object_stage *)sst)->counts;
}
