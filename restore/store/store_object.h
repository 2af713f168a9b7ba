/*
 * store_object.h - the object store driver of the file store (store.h): an S3 bucket or an
 * Azure Blob container whose file documents are objects named <prefix><uuid><suffix>
 * (objclient.h talks to the server). Inside restore/store/ only.
 *
 * store_object.c is the driver table, the listing and the reading (for backups and the file
 * check); object_stage.c stages a restore: it uploads while the archive is read and decides,
 * file by file, whether an object is new, kept (same content) or replaced (its old content
 * copied aside first); object_listing.c keeps the store's listing as it was when the restore
 * began, and the list of the files staged, in files of fixed records in the state folder
 * (work_dir), so that memory does not grow with the number of objects; object_journal.c is
 * the restore's crash record and what undoes or finishes a restore that was stopped.
 *
 * The design, all or nothing (README "Files in object storage"):
 *  1. list the store's file objects (the snapshot); nothing is written before the journal
 *     objects-<job>.journal exists in the state folder;
 *  2. for each file of the backup: same key and same content (size and MD5): kept; no such key:
 *     uploaded ("N" in the journal before its upload starts); a key whose content differs:
 *     "R" in the journal, its object copied aside to <prefix>.restore-worker/<job>/<uuid><suffix>
 *     on the server, then overwritten;
 *  3. just before the database commits, "P" with what a later process needs to ask the server
 *     whether it committed; once it did, "C", then the objects the backup does not hold are
 *     deleted, and the copies aside; "D" ends it and the journal goes;
 *  4. any failure before the commit: the uploaded objects are deleted, the replaced ones copied
 *     back from aside: the store as it was. A process killed anywhere leaves the journal; the
 *     next restore into the same store, or the worker that files the job, undoes it (no "C",
 *     and the server says the transaction did not commit) or finishes it.
 * Objects under the prefix that are not <uuid><suffix> are never touched, other than the
 * copies aside, which are the restore's own.
 */
#ifndef STORE_OBJECT_H
#define STORE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objclient.h"
#include "store_driver.h"

#define OBJECT_ASIDE_FOLDER ".restore-worker/" /* under the prefix: a restore's copies aside */
#define OBJECT_KEY_MAX      1024

/* An object store, open. */
struct object_store {
	struct store head;
	const struct restore_target *t;
	struct objclient *client;
	const char *prefix, *suffix;
	char where[512]; /* objclient_where() */
};

/* One file object of a listing snapshot or of the staged files: fixed size, in files. */
struct object_record {
	char uuid[36];
	uint8_t digest_kind; /* OBJECT_DIGEST_* */
	uint8_t seen;        /* snapshot: the backup holds it too */
	uint8_t pad[2];
	uint32_t parts; /* OBJECT_DIGEST_PARTS: how many parts */
	uint64_t size;
	unsigned char digest[16];
};

#define OBJECT_DIGEST_NONE  0 /* unknown content */
#define OBJECT_DIGEST_MD5   1 /* the MD5 of the content */
#define OBJECT_DIGEST_PARTS 2 /* S3's multipart ETag: MD5 of the parts' MD5s */

/* A file of records in the state folder, mapped (object_listing.c). */
struct object_records {
	int fd;
	char path[4096];
	struct object_record *rec; /* mapped; NULL while empty */
	size_t n, cap;
};

/* A restore's staging into an object store (object_stage.c; its files object_file.c's). */
#define OBJECT_PART_BYTES   (8u << 20)  /* a multipart upload's parts; S3 wants >= 5 MiB */
#define OBJECT_BUDGET_BYTES (64u << 20) /* buffers in flight, at most (plus one part) */
#define OBJECT_QUEUE_MAX    256         /* requests queued or in flight, at most */

struct object_stage {
	struct store_stage head;
	struct object_store *os;
	char job_id[64];
	const char *state_dir;
	bool rehearsal;
	struct object_records listing; /* the store as the restore began, sorted */
	struct object_records staged;  /* the backup's files, sorted at finish */
	struct object_journal *journal;
	uint64_t bytes;  /* in buffers of requests queued or in flight */
	uint64_t failed; /* requests that failed */
	char err[1024];  /* the first failure */
	struct store_stage_counts counts;
	bool finished, committed;
};

/* object_stage_fail: note the stage's first failure (why); -1. */
int object_stage_fail(struct object_stage *st, const char *why);

/*
 * object_stage_step: sync the journal (requests start only in objclient_run: what they change is
 * recorded first), then run requests until at most want remain. 0, or -1 (the stage's err).
 */
int object_stage_step(struct object_stage *st, size_t want);

/*
 * object_stage_drive: past max_reqs requests queued or in flight, or max_bytes in their buffers,
 * run them (object_stage_step) down to half of each. 0, or -1 (the stage's err says why).
 */
int object_stage_drive(struct object_stage *st, size_t max_reqs, uint64_t max_bytes);

/* store_object_new: the object store of t (t->s3 or t->azure). 0 or -1 with err. */
int store_object_new(const struct restore_target *t, struct store **out, char *err, size_t errlen);

/* object_key: <prefix><uuid><suffix> into buf; 0, or -1 when too long. */
int object_key(const struct object_store *os, const char *uuid, char *buf, size_t len);

/* object_aside_key: <prefix>.restore-worker/<job>/<uuid><suffix>; 0 or -1. */
int object_aside_key(const struct object_store *os, const char *job_id, const char *uuid, char *buf,
                     size_t len);

/* object_uuid_of: the UUID a key names (a file object's key), into uuid[37]; false if none. */
bool object_uuid_of(const struct object_store *os, const char *key, char uuid[37]);

/* object_record_from: a record of a listed object whose key names uuid. */
void object_record_from(struct object_record *r, const char *uuid, const struct obj_entry *e);

/* object_same_content: whether a staged file (size, md5, multipart digest) is the listed one. */
bool object_same_content(const struct object_record *listed, uint64_t size,
                         const unsigned char md5[16], uint32_t parts,
                         const unsigned char parts_digest[16]);

/* Records (object_listing.c). */
int object_records_create(struct object_records *rs, const char *path, char *err, size_t errlen);
int object_records_open(struct object_records *rs, const char *path, char *err, size_t errlen);
int object_records_add(struct object_records *rs, const struct object_record *r, char *err,
                       size_t errlen);
void object_records_sort(struct object_records *rs);
struct object_record *object_records_find(const struct object_records *rs, const char *uuid);
int object_records_sync(struct object_records *rs, char *err, size_t errlen);
void object_records_close(struct object_records *rs, bool remove);

/*
 * object_snapshot: list os's file objects into rs (created at path), in UUID order; foreign
 * counts the other objects under the prefix. 0 or -1 with err.
 */
int object_snapshot(struct object_store *os, const char *path, struct object_records *rs,
                    uint64_t *foreign, char *err, size_t errlen);

/* The journal (object_journal.c). */
struct object_journal;

int object_journal_create(struct object_store *os, const char *state_dir, const char *job_id,
                          struct object_journal **out, char *err, size_t errlen);
/* object_journal_add: a line "<what> [<text>]", written at the next sync. */
int object_journal_add(struct object_journal *j, char what, const char *text, char *err,
                       size_t errlen);
int object_journal_sync(struct object_journal *j, char *err, size_t errlen);
bool object_journal_dirty(const struct object_journal *j);
/*
 * object_journal_settle: finish (committed) or undo the restore j records, from its lines;
 * 0, or -1 with err (the journal then stays for a later try).
 */
int object_journal_settle(struct object_journal *j, struct object_store *os, const char *state_dir,
                          const char *job_id, bool committed, char *err, size_t errlen);
/* object_journal_end: the restore is done with it: remove it and its files (remove) or keep. */
void object_journal_end(struct object_journal *j, bool remove);

/* object_path: <state_dir>/objects-<job_id><ext> into buf; 0, or -1 when too long. */
int object_path(const char *state_dir, const char *job_id, const char *ext, char *buf, size_t len);

/*
 * object_recover: undo or finish what a stopped restore of job_id left in os (its journal in
 * state_dir), asking the database whether it committed when the journal cannot tell. 0 done
 * (or nothing to do); 1 not this one's to do (a live restore's journal, or another store's);
 * 2 left as it is, the database's outcome unknown (err says so); -1 with err (some of it could
 * not be done; the journal stays for the next try).
 */
int object_recover(struct object_store *os, const char *state_dir, const char *job_id, char *err,
                   size_t errlen);

/* object_recover_all: object_recover every journal in state_dir: 0, or the worst -1 or 2. */
int object_recover_all(struct object_store *os, const char *state_dir, char *err, size_t errlen);

/* Stage operations (object_stage.c), for the driver table. */
int object_stage_begin(struct store *s, const char *job_id, int flags, struct store_stage **out,
                       char *err, size_t errlen);
int object_file_open(struct store_stage *st, const char *uuid, struct store_file **out, char *err,
                     size_t errlen);
int object_file_write(struct store_file *f, const void *buf, size_t len, char *err, size_t errlen);
int object_file_close(struct store_file *f, char *err, size_t errlen);
void object_file_abandon(struct store_file *f);
int object_stage_finish(struct store_stage *st, char *err, size_t errlen);
int object_stage_prepare(struct store_stage *st, const char *xact_id, int backend_pid,
                         const char *ask_dbname, char *err, size_t errlen);
int object_stage_commit(struct store_stage *st, char *err, size_t errlen);
const char *object_stage_where(const struct store_stage *st);
void object_stage_abort(struct store_stage *st);
void object_stage_close(struct store_stage *st);
/* object_records_store: a store that lists sorted records (store_object.c). */
int object_records_store(struct object_records *rs, const char *where, struct store **out,
                         char *err, size_t errlen);
int object_stage_view(struct store_stage *st, struct store **out, char *err, size_t errlen);
void object_stage_counts(const struct store_stage *st, struct store_stage_counts *c);

#endif
