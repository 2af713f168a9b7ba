/*
 * store.h - a target's file store: where a Mendix app's file documents live, and the one way
 * the engine reaches them.
 *
 * A store holds one file per file document, named by the document's UUID (the lowercase
 * system$filedocument.__uuid__). Its first driver is a folder laid out as Mendix lays it out,
 * blob_dir/xx/yy/<uuid> (store_folder.c); object stores (S3 buckets, Azure containers, whose
 * keys are <prefix><uuid><suffix>) are to follow behind the same operations. Callers name
 * files by UUID only and hold opaque handles: no descriptor, folder or key leaks out, so a
 * driver may stream a file to a server as well as to a disk.
 *
 * What each caller uses:
 *  - a restore stages the backup's files beside the store (store_stage_begin,
 *    store_file_open/write/close), makes them durable (store_stage_finish) before the
 *    database commits, then commits them (store_stage_commit: the swap) or aborts
 *    (store_stage_abort: the store as it was); then it removes the old files at once
 *    (store_stage_remove_old) or leaves them for a removal in the background, which takes
 *    in hand the old files every restore left (store_old_take, _remove, _close) and can run
 *    in another process. A worker removes what a killed job staged
 *    (store_stage_remove_leftover).
 *  - the file check lists the store's UUIDs in sorted order (store_list_*).
 *  - a backup lists them with their sizes, then reads each (store_read_*).
 *  - the check command asks whether a restore could write the store (store_check_access).
 *
 * Every function that can fail fills err with one sentence naming the store and the reason.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct restore_target; /* restore.h: a target, whose store this is */
struct store;          /* a target's file store, open */
struct store_list;     /* a sorted listing of a store's files */
struct store_read;     /* one listed file, open for reading */
struct store_stage;    /* a restore's staged files, until they are committed or aborted */
struct store_file;     /* one staged file, being written */
struct store_old;      /* the old files restores swapped out, taken in hand to be removed */

/*
 * Told of each entry of the store a listing leaves out: name is relative to the store
 * ("xx/yy/x", "xx/yy", "name"), why a few words ("not a lowercase UUID", "a symbolic link").
 */
typedef void (*store_skipped_fn)(void *ctx, const char *name, const char *why);

/* One file of a listing. */
struct store_entry {
	const char *uuid; /* lowercase; valid until the next store_list_next() */
	uint64_t size;    /* its bytes, when listed with STORE_LIST_SIZES; else 0 */
};

/* What a file being read was when it was opened. */
struct store_file_info {
	uint64_t size;
	struct timespec modified;
};

/* What a restore did to an object store (store_stage_counts); a folder's are all 0. */
struct store_stage_counts {
	uint64_t uploaded;       /* files whose key was not there */
	uint64_t kept;           /* files whose key held the same content: left alone */
	uint64_t replaced;       /* files whose key held other content: copied aside, overwritten */
	uint64_t deleted;        /* objects the backup does not hold, deleted once committed */
	uint64_t uploaded_bytes; /* bytes sent */
	uint64_t foreign;        /* objects under the prefix that are no file's: never touched */
};

/* store_stage_begin's flags. */
#define STORE_STAGE_REHEARSAL 1 /* a dry run: an object store sends nothing, changes nothing */

/* store_list_open's flags. */
#define STORE_LIST_SIZES 1 /* give each file's size; files that are gone by then are left out */

/*
 * store_open: open t's file store (its blob_dir): nothing is read or changed yet. 0 with *out,
 * or -1 with err. store_close() it.
 */
int store_open(const struct restore_target *t, struct store **out, char *err, size_t errlen);

/*
 * store_open_folder: open the folder dir_fd/dir (dir_fd may be AT_FDCWD; dir may be absolute)
 * as a store, for listing and reading only (a staged folder to check, a job's leftovers).
 */
int store_open_folder(int dir_fd, const char *dir, struct store **out, char *err, size_t errlen);

/* store_where: what names s in messages ("/srv/app/files"). */
const char *store_where(const struct store *s);

/* store_close: free s; NULL is fine. */
void store_close(struct store *s);

/*
 * store_check_access: for the check command, whether a restore run as the current user could
 * write t's store and give its files what the application needs. 0 ok, 1 warning, -1 failed;
 * msg holds one sentence either way.
 */
int store_check_access(const struct restore_target *t, char *msg, size_t msglen);

/*
 * store_list_open: start a listing of s's files in strcmp order of their UUIDs. who names the
 * caller in a refusal ("the file check"); skipped (may be NULL) is told of each entry left out.
 * A store that does not exist yet holds no files. 0 with *out (store_list_close() it), or -1
 * with err.
 */
int store_list_open(struct store *s, const char *who, int flags, store_skipped_fn skipped,
                    void *ctx, struct store_list **out, char *err, size_t errlen);

/* store_list_next: the next file in *e: 1; 0 at the end; -1 with err. */
int store_list_next(struct store_list *l, struct store_entry *e, char *err, size_t errlen);

/* store_is_uuid: whether s names a file of a store: 36 lowercase hex digits and dashes. */
bool store_is_uuid(const char *s);

/* store_list_close: end a listing; NULL is fine. */
void store_list_close(struct store_list *l);

/*
 * store_read_open: open the file l last yielded, for reading. 1 with *out and *info; 0 when
 * it is to be left out, *why saying so in a few words (it is gone, no longer a file, or it
 * was created or changed after since: the caller warns); -1 with err.
 */
int store_read_open(struct store_list *l, const struct timespec *since, struct store_read **out,
                    struct store_file_info *info, const char **why, char *err, size_t errlen);

/* store_read_name: what names the file being read in messages. */
const char *store_read_name(const struct store_read *r);

/* store_read: up to len bytes of the file: how many, 0 at its end, or -1 with err. */
ssize_t store_read(struct store_read *r, void *buf, size_t len, char *err, size_t errlen);

/*
 * store_read_unchanged: after the file was read, 0 when it is still as store_read_open found
 * it; -1 with err (it was written while it was read, or cannot be examined).
 */
int store_read_unchanged(struct store_read *r, char *err, size_t errlen);

/* store_read_close: end the reading of a file; NULL is fine. */
void store_read_close(struct store_read *r);

/*
 * store_stage_begin: begin staging files for t's store, named by job_id, and prove, changing
 * nothing, that they can be committed (for a folder: swapped in) with the owner, group and
 * modes they need. 0 with *out; -2 with err when this store cannot take a staged restore (a
 * refusal: err says why and what to do); -1 with err.
 */
int store_stage_begin(const struct restore_target *t, const char *job_id, int flags,
                      struct store_stage **out, char *err, size_t errlen);

/*
 * store_file_open: create the staged file uuid (a lowercase UUID the caller has checked) for
 * writing. 0 with *out, or -1 with err ("... appears twice in the archive" when it was staged
 * already).
 */
int store_file_open(struct store_stage *st, const char *uuid, struct store_file **out, char *err,
                    size_t errlen);

/* store_file_write: write all of buf to a staged file; 0 or -1 with err. */
int store_file_write(struct store_file *f, const void *buf, size_t len, char *err, size_t errlen);

/* store_file_close: finish a staged file and free f; 0, or -1 with err (f freed either way). */
int store_file_close(struct store_file *f, char *err, size_t errlen);

/* store_file_abandon: free a staged file after a failure; the stage's abort removes it. */
void store_file_abandon(struct store_file *f);

/* store_stage_finish: make every staged file durable; 0 or -1 with err. */
int store_stage_finish(struct store_stage *st, char *err, size_t errlen);

/*
 * store_stage_prepare: the database's COMMIT is about to be sent: record what a later process
 * needs to ask the server whether it committed (xact_id, backend_pid; ask_dbname: the
 * database to ask on, NULL: the target's), so that a restore stopped from here on can be
 * finished or undone. 0, or -1 with err: then nothing may commit.
 */
int store_stage_prepare(struct store_stage *st, const char *xact_id, int backend_pid,
                        const char *ask_dbname, char *err, size_t errlen);

/*
 * store_stage_commit: put the staged files in the store's place. 0; -1 with err when it
 * failed (the store is then unchanged and the staged files are still at store_stage_where());
 * 1 when it succeeded but could not be made durable (err says so). The old files are kept
 * until store_stage_remove_old().
 */
int store_stage_commit(struct store_stage *st, char *err, size_t errlen);

/*
 * store_stage_remove_old: after a commit, remove the old files; 0, or -1 with err when some
 * could not be removed (err says where what is left of them is).
 */
int store_stage_remove_old(struct store_stage *st, char *err, size_t errlen);

/* store_stage_where: where the staged files are, for reports and the file check. */
const char *store_stage_where(const struct store_stage *st);

/*
 * store_stage_view: a store listing what st's target store will hold once st is committed
 * (for a folder: the staging folder), for the file check before the commit. 0 with *out
 * (store_close() it), or -1 with err.
 */
int store_stage_view(struct store_stage *st, struct store **out, char *err, size_t errlen);

/* store_stage_counts: what the restore did to an object store (all 0 for a folder). */
void store_stage_counts(const struct store_stage *st, struct store_stage_counts *c);

/* store_stage_abort: remove the staged files (the store is as it was) and free st; NULL ok. */
void store_stage_abort(struct store_stage *st);

/* store_stage_close: free st, keeping what is staged or committed; NULL is fine. */
void store_stage_close(struct store_stage *st);

/* store_stage_remove_leftover: remove what job job_id of a killed worker staged for s. */
void store_stage_remove_leftover(struct store *s, const char *job_id);

/*
 * store_tidy: settle every restore into s that was stopped midway and that no process works
 * on (an object store's journals: finished or undone); nothing for a folder. 0, or -1 with err
 * naming what is left and why.
 */
int store_tidy(struct store *s, char *err, size_t errlen);

/*
 * Told of each restore's old files a removal is done with: the job that swapped them out, the
 * seconds it took, and err (NULL: all removed; else a sentence naming where what is left is).
 */
typedef void (*store_old_done_fn)(void *ctx, const char *job_id, double seconds, const char *err);

/*
 * store_old_take: take in hand the old files that restores swapped out of s and that wait to
 * be removed (those a removal killed midway left too), except those another removal holds:
 * two removals never work on the same files. The hold passes to a child process forked after
 * and ends with the last process that has it. 0 with *out (NULL: nothing to remove), or -1
 * with err.
 */
int store_old_take(struct store *s, struct store_old **out, char *err, size_t errlen);

/* store_old_remove: remove what o holds, telling done of each restore's; 0, or -1 if some stay. */
int store_old_remove(struct store_old *o, store_old_done_fn done, void *ctx);

/* store_old_close: free o, letting go of what it holds in this process; NULL is fine. */
void store_old_close(struct store_old *o);

#endif
