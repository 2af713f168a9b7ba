/*
 * object_journal.c - the crash record of a restore into an object store (store_object.h), and
 * what undoes or finishes a restore that stopped without ending it.
 *
 * The journal is a text file in the state folder (work_dir), objects-<job>.journal, held
 * under an exclusive flock while its restore runs; beside it, objects-<job>.listing (the
 * snapshot, whose records say which objects the backup holds too). Its lines:
 *     restore-worker objects 1
 *     store <where>                       the store, as objclient_where() names it
 *     N <uuid>                            uploaded: the key did not exist
 *     R <uuid>                            replaced: copied aside first, then overwritten
 *     P <xact_id> <pid> <dbname or ->     the database's COMMIT is about to be sent
 *     C                                   the database committed: the store is finished
 *     D                                   done: nothing left to do
 * Lines are written ahead of what they record: the restore syncs the journal before any
 * request that it records can start (objclient.h transfers only in objclient_run).
 *
 * object_recover(): D: the files go. C: the objects the backup does not hold are deleted, and
 * the copies aside. Neither: undone (uploaded objects deleted, replaced ones copied back and
 * their copies deleted), unless P says the COMMIT was sent: then the database is asked whether
 * it committed (database_ask_outcome), and the answer decides; no answer leaves it all as it is.
 *
 * Diagnostics: err, one sentence naming the journal or the store.
 */
#include "store_object.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "blobtree.h"
#include "database.h"
#include "io.h"

#define JOURNAL_HEAD    "restore-worker objects 1"
#define RECOVER_WAIT_S  10 /* how long the database is given to say whether it committed */
#define BATCH_IN_FLIGHT 256

/* fsync_dir: make a folder's entries durable. */
static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	(void)close(fd);
	return rc;
}

struct object_journal {
	int fd;
	char path[4096];
	char *pending; /* lines not yet written */
	size_t len, cap;
};

/* object_journal_create: a new journal for job_id, locked, its head durable. */
int
object_journal_create(struct object_store *os, const char *state_dir, const char *job_id,
                      struct object_journal **out, char *err, size_t errlen)
{
	struct object_journal *j = calloc(1, sizeof(*j));
	char head[1024];

	if (j == NULL)
		return io_error(err, errlen, "out of memory");
	j->fd = -1;
	if (object_path(state_dir, job_id, ".journal", j->path, sizeof(j->path)) < 0) {
		free(j);
		return io_error(err, errlen, "the state folder's name %s is too long", state_dir);
	}
	j->fd =
	    open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->fd < 0) {
		io_error(err, errlen, "cannot create %s: %s; work_dir must be writable", j->path,
		         strerror(errno));
		free(j);
		return -1;
	}
	if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) {
		io_error(err, errlen, "cannot lock %s: %s", j->path, strerror(errno));
		object_journal_end(j, true);
		return -1;
	}
	snprintf(head, sizeof(head), "%s\nstore %s\n", JOURNAL_HEAD, os->where);
	if (io_write_all(j->fd, head, strlen(head)) < 0 || fsync(j->fd) < 0 ||
	    fsync_dir(state_dir) < 0) {
		io_error(err, errlen, "cannot write %s: %s", j->path, strerror(errno));
		object_journal_end(j, true);
		return -1;
	}
	*out = j;
	return 0;
}

/* object_journal_add: queue a line for the next sync. */
int
object_journal_add(struct object_journal *j, char what, const char *text, char *err, size_t errlen)
{
	size_t need = 2 + (text != NULL ? strlen(text) + 1 : 0) + 1;

	if (j->len + need > j->cap) {
		size_t cap = j->cap == 0 ? 8192 : j->cap;
		char *p;

		while (j->len + need > cap)
			cap *= 2;
		if ((p = realloc(j->pending, cap)) == NULL)
			return io_error(err, errlen, "out of memory");
		j->pending = p;
		j->cap = cap;
	}
	j->len += (size_t)sprintf(j->pending + j->len, "%c%s%s\n", what, text != NULL ? " " : "",
	                          text != NULL ? text : "");
	return 0;
}

/* object_journal_dirty: whether lines wait to be synced. */
bool
object_journal_dirty(const struct object_journal *j)
{
	return j->len > 0;
}

/* object_journal_sync: write the queued lines and make them durable. */
int
object_journal_sync(struct object_journal *j, char *err, size_t errlen)
{
	if (j->len == 0)
		return 0;
	if (io_write_all(j->fd, j->pending, j->len) < 0 || fdatasync(j->fd) < 0)
		return io_error(err, errlen, "cannot write %s: %s", j->path, strerror(errno));
	j->len = 0;
	return 0;
}

/* object_journal_end: close (and remove, with its listing) the journal; NULL is fine. */
void
object_journal_end(struct object_journal *j, bool remove)
{
	if (j == NULL)
		return;
	if (remove) {
		char listing[4096 + 16];
		size_t base = strlen(j->path) - strlen(".journal");

		snprintf(listing, sizeof(listing), "%.*s.listing", (int)base, j->path);
		(void)unlink(listing);
		snprintf(listing, sizeof(listing), "%.*s.staged", (int)base, j->path);
		(void)unlink(listing);
		(void)unlink(j->path); /* last: while it is there, the others are looked for */
	}
	if (j->fd >= 0)
		(void)close(j->fd);
	free(j->pending);
	free(j);
}

/* What a journal says. */
struct journal_state {
	char store[1024];
	bool prepared, committed, done;
	char xact_id[64], dbname[256];
	int pid;
};

/* read_state: the journal's head and how far its restore got. 0, or -1 with err. */
static int
read_state(FILE *fp, const char *path, struct journal_state *js, char *err, size_t errlen)
{
	char line[2048];

	memset(js, 0, sizeof(*js));
	if (fgets(line, sizeof(line), fp) == NULL ||
	    strncmp(line, JOURNAL_HEAD, strlen(JOURNAL_HEAD)) != 0)
		return io_error(err, errlen, "%s is not a restore-worker object journal", path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "store ", 6) == 0)
			snprintf(js->store, sizeof(js->store), "%.1000s", line + 6);
		else if (line[0] == 'P' && line[1] == ' ') {
			js->prepared = sscanf(line + 2, "%63s %d %255s", js->xact_id, &js->pid,
			                      js->dbname) == 3;
		} else if (strcmp(line, "C") == 0)
			js->committed = true;
		else if (strcmp(line, "D") == 0)
			js->done = true;
	}
	return 0;
}

/* The objects a recovery deletes or copies back, and how many failed. */
struct batch {
	struct object_store *os;
	uint64_t failed;
	char err[512];
};

/* batch_done: note a failed request. */
static void
batch_done(void *ctx, const struct obj_result *r)
{
	struct batch *b = ctx;

	if (!r->ok && b->failed++ == 0)
		snprintf(b->err, sizeof(b->err), "%s",
		         r->err != NULL ? r->err : "a request failed");
}

/* batch_delete: queue the deletion of key, driving the requests already queued. */
static int
batch_delete(struct batch *b, const char *key)
{
	char err[512];

	if (obj_delete(b->os->client, key, batch_done, b, err, sizeof(err)) < 0) {
		if (b->failed++ == 0)
			snprintf(b->err, sizeof(b->err), "%s", err);
		return -1;
	}
	if (objclient_in_flight(b->os->client) >= BATCH_IN_FLIGHT &&
	    objclient_run(b->os->client, BATCH_IN_FLIGHT / 2, err, sizeof(err)) < 0) {
		if (b->failed++ == 0)
			snprintf(b->err, sizeof(b->err), "%s", err);
		return -1;
	}
	return 0;
}

/* batch_end: wait for every request; 0, or -1 with err when some failed. */
static int
batch_end(struct batch *b, const char *what, char *err, size_t errlen)
{
	char why[512];

	if (objclient_run(b->os->client, 0, why, sizeof(why)) < 0 && b->failed++ == 0)
		snprintf(b->err, sizeof(b->err), "%s", why);
	if (b->failed == 0)
		return 0;
	return io_error(err, errlen, "%llu object%s of %s could not be %s: %s",
	                (unsigned long long)b->failed, b->failed == 1 ? "" : "s", b->os->where,
	                what, b->err);
}

/* put_back: undo the replacement of uuid's object from its copy aside, if it was made. */
static int
put_back(struct object_store *os, const char *job_id, const char *uuid, char *err, size_t errlen)
{
	char key[OBJECT_KEY_MAX], aside[OBJECT_KEY_MAX];
	struct obj_entry e;
	struct batch b = {.os = os};
	int rc;

	if (object_key(os, uuid, key, sizeof(key)) < 0 ||
	    object_aside_key(os, job_id, uuid, aside, sizeof(aside)) < 0)
		return io_error(err, errlen, "the key of %s is too long", uuid);
	rc = obj_head(os->client, aside, &e, err, errlen);
	if (rc <= 0)
		return rc; /* no copy aside: the object was never overwritten */
	if (obj_copy(os->client, aside, key, batch_done, &b, err, errlen) < 0 ||
	    batch_end(&b, "copied back", err, errlen) < 0)
		return -1;
	b.failed = 0;
	if (obj_delete(os->client, aside, batch_done, &b, err, errlen) < 0)
		return -1;
	return batch_end(&b, "deleted", err, errlen);
}

/* undo: delete what the journal's restore uploaded, put back what it replaced. */
static int
undo(struct object_store *os, FILE *fp, const char *job_id, char *err, size_t errlen)
{
	struct batch b = {.os = os};
	char line[2048], key[OBJECT_KEY_MAX];
	int rc = 0;

	rewind(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[1] != ' ' || !blobtree_is_uuid(line + 2))
			continue;
		if (line[0] == 'N' && object_key(os, line + 2, key, sizeof(key)) == 0)
			(void)batch_delete(&b, key);
		else if (line[0] == 'R' && put_back(os, job_id, line + 2, err, errlen) < 0)
			rc = -1;
	}
	/* The deletions' outcome, unless a put back already failed (its err is the one kept). */
	if (batch_end(&b, "deleted", line, sizeof(line)) < 0 && rc == 0) {
		snprintf(err, errlen, "%s", line);
		rc = -1;
	}
	return rc;
}

/* finish: delete the objects the backup does not hold (the listing's unseen) and the asides. */
static int
finish(struct object_store *os, FILE *fp, const char *state_dir, const char *job_id, char *err,
       size_t errlen)
{
	struct object_records listing;
	struct batch b = {.os = os};
	char path[4096], line[2048], key[OBJECT_KEY_MAX];

	if (object_path(state_dir, job_id, ".listing", path, sizeof(path)) < 0 ||
	    object_records_open(&listing, path, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < listing.n; i++) {
		char uuid[37];

		if (listing.rec[i].seen)
			continue;
		memcpy(uuid, listing.rec[i].uuid, 36);
		uuid[36] = '\0';
		if (object_key(os, uuid, key, sizeof(key)) == 0)
			(void)batch_delete(&b, key);
	}
	object_records_close(&listing, false);
	rewind(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == 'R' && line[1] == ' ' && blobtree_is_uuid(line + 2) &&
		    object_aside_key(os, job_id, line + 2, key, sizeof(key)) == 0)
			(void)batch_delete(&b, key);
	}
	return batch_end(&b, "deleted", err, errlen);
}

/* remove_files: remove a journal and the files beside it. */
static void
remove_files(const char *state_dir, const char *job_id)
{
	static const char *const exts[] = {".listing", ".staged", ".journal"};
	char path[4096];

	for (size_t i = 0; i < 3; i++)
		if (object_path(state_dir, job_id, exts[i], path, sizeof(path)) == 0)
			(void)unlink(path);
}

/* object_journal_settle: finish or undo the journal's restore, reading its lines again. */
int
object_journal_settle(struct object_journal *j, struct object_store *os, const char *state_dir,
                      const char *job_id, bool committed, char *err, size_t errlen)
{
	FILE *fp;
	int rc;

	if (object_journal_sync(j, err, errlen) < 0)
		return -1;
	if ((fp = fopen(j->path, "re")) == NULL)
		return io_error(err, errlen, "cannot read %s: %s", j->path, strerror(errno));
	rc = committed ? finish(os, fp, state_dir, job_id, err, errlen)
	               : undo(os, fp, job_id, err, errlen);
	fclose(fp);
	return rc;
}

/* object_recover: undo or finish a stopped restore's journal (store_object.h). */
int
object_recover(struct object_store *os, const char *state_dir, const char *job_id, char *err,
               size_t errlen)
{
	struct journal_state js;
	char path[4096], why[512];
	bool do_finish;
	FILE *fp;
	int fd, rc;

	if (object_path(state_dir, job_id, ".journal", path, sizeof(path)) < 0)
		return io_error(err, errlen, "the state folder's name %s is too long", state_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT
		           ? 0
		           : io_error(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		(void)close(fd);
		io_error(err, errlen, "%s belongs to a restore still running", path);
		return 1;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		(void)close(fd);
		return io_error(err, errlen, "cannot read %s: %s", path, strerror(errno));
	}
	if (read_state(fp, path, &js, err, errlen) < 0) {
		fclose(fp);
		return -1;
	}
	if (strcmp(js.store, os->where) != 0) {
		fclose(fp);
		io_error(err, errlen, "%s is a restore into %s, not %s", path, js.store, os->where);
		return 1;
	}
	do_finish = js.committed;
	if (!js.done && !js.committed && js.prepared) {
		switch (database_ask_outcome(
		    os->t->conninfo, strcmp(js.dbname, "-") == 0 ? NULL : js.dbname, js.xact_id,
		    js.pid, RECOVER_WAIT_S, why, sizeof(why))) {
		case DATABASE_COMMITTED:
			do_finish = true;
			break;
		case DATABASE_ROLLED_BACK:
			break;
		default:
			fclose(fp);
			io_error(
			    err, errlen,
			    "job %s stopped as its database commit was sent, and whether it "
			    "committed cannot be learnt (%s): %s keeps its objects and %s stays "
			    "until it can",
			    job_id, why, os->where, path);
			return 2;
		}
	}
	rc = js.done     ? 0
	     : do_finish ? finish(os, fp, state_dir, job_id, err, errlen)
	                 : undo(os, fp, job_id, err, errlen);
	if (rc == 0)
		remove_files(state_dir, job_id);
	fclose(fp); /* the lock goes with it, after the files */
	return rc;
}

/* object_recover_all: every journal in state_dir of os's store. */
int
object_recover_all(struct object_store *os, const char *state_dir, char *err, size_t errlen)
{
	DIR *d = opendir(state_dir);
	struct dirent *de;
	int worst = 0;

	if (d == NULL)
		return errno == ENOENT ? 0
		                       : io_error(err, errlen, "cannot read %s: %s", state_dir,
		                                  strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char job_id[64], why[1024];
		size_t len = strlen(de->d_name);
		int rc;

		if (strncmp(de->d_name, "objects-", 8) != 0 || len < 8 + 8 ||
		    strcmp(de->d_name + len - 8, ".journal") != 0 || len - 16 >= sizeof(job_id))
			continue;
		snprintf(job_id, sizeof(job_id), "%.*s", (int)(len - 16), de->d_name + 8);
		rc = object_recover(os, state_dir, job_id, why, sizeof(why));
		/* Another store's journal, or a live one (1), is not this restore's concern. */
		if (rc < 0 || rc == 2) {
			snprintf(err, errlen, "%s", why);
			worst = rc < 0 ? -1 : worst == 0 ? 2 : worst;
		}
	}
	closedir(d);
	return worst;
}
