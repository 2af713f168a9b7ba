/*
 * store_folder.h - the folder driver of the file store (store.h): a blob_dir laid out as
 * Mendix lays it out, xx/yy/<uuid>. store_folder.c is the driver; it stages and swaps with
 * folder_stage.c, walks with blobtree.c, and gives the restored tree its owner, group and
 * modes with blob_access.c. Outside restore/store/ only the configuration (blob_access_user,
 * _group, _mode), the job claim (BLOBSTORE_STAGING_INFIX) and the test of blob_access use
 * this header.
 *
 * folder_stage_begin() creates an empty staging folder ".<name>.staging-<job id>" in blob_dir's
 * parent (the same filesystem, so the swap is one rename), and proves there, changing nothing,
 * that the swap will work (or fails, saying why): a restore, and its rehearsal, learn it before
 * the database is touched. Files are created in it relative to directory descriptors with
 * O_NOFOLLOW and O_EXCL: nothing is written outside it, and a name that appears twice is an
 * error. folder_stage_finish() makes them durable; only then may the database commit.
 * folder_stage_commit() swaps the staging folder and blob_dir atomically (renameat2
 * RENAME_EXCHANGE); folder_stage_remove_old() then removes the old files (a restore may do that
 * after its report is out: it is off the critical path). folder_stage_abort() removes the
 * staging folder and leaves blob_dir exactly as it was.
 *
 * Every staged folder and file is given, with fchown and fchmod (never through the umask), the
 * owner, group and modes of a struct blob_access (blob_access.c): by default those of the
 * blob_dir it replaces, or the target's blob_owner, blob_group, blob_dir_mode, blob_file_mode.
 * When they cannot be given, folder_stage_begin() refuses before anything changes.
 */
#ifndef STORE_FOLDER_H
#define STORE_FOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "restore.h"
#include "store.h"

struct folder_stage;
struct folder_old;

/* What the restored tree is given (blob_access_plan). */
struct blob_access {
	uid_t uid;        /* every folder's and file's owner; (uid_t)-1: its creator */
	gid_t gid;        /* their group; (gid_t)-1: what the kernel gives a new one */
	mode_t dir_mode;  /* every folder's mode, setgid and sticky bits included */
	mode_t file_mode; /* every file's mode */
};

/* The prefix and infix of staging folder names, for finding ones a crash left behind. */
#define BLOBSTORE_STAGING_INFIX ".staging-"

/* The infix of the name the old files wait under, to be removed: ".<name>.old-<job id>". */
#define FOLDER_OLD_INFIX ".old-"

/*
 * folder_stage_begin: create the staging folder for t->blob_dir (absolute), give it the owner,
 * group and mode the restored tree must have, and prove that it can be swapped with blob_dir;
 * 0, -2 with err when blob_dir cannot be swapped where it is (a mount point, an overlayfs lower
 * layer, a filesystem that cannot exchange folders) or the restored tree cannot be given its
 * owner, group or modes by this user (a refusal), or -1 with err (saying why and what to do).
 */
int folder_stage_begin(const struct restore_target *t, const char *job_id,
                       struct folder_stage **out, char *err, size_t errlen);

/*
 * folder_stage_file_open: create staging/xx/yy/name for writing; return its descriptor, or -1
 * with err. The caller has checked the three names (two hex digits each and a UUID).
 */
int folder_stage_file_open(struct folder_stage *bs, const char *xx, const char *yy,
                           const char *name, char *err, size_t errlen);

/* folder_stage_file_write: write all of buf to a staged file; 0 or -1 with err. */
int folder_stage_file_write(struct folder_stage *bs, int fd, const void *buf, size_t len, char *err,
                            size_t errlen);

/* folder_stage_file_close: close a staged file, checking the close; 0 or -1 with err. */
int folder_stage_file_close(struct folder_stage *bs, int fd, char *err, size_t errlen);

/* folder_stage_finish: make every staged file and folder durable; 0 or -1 with err. */
int folder_stage_finish(struct folder_stage *bs, char *err, size_t errlen);

/*
 * folder_stage_commit: swap the staged files in; the old ones are then renamed to
 * ".<name>.old-<job id>" beside blob_dir (folder_old.c), until folder_stage_remove_old() or a
 * removal in the background (folder_old_take). Returns 0; or -1 with err when the swap failed
 * (blob_dir is then unchanged and the staged files are still at folder_stage_path()); or 1 when the
 * swap succeeded but could not be made durable (err says so).
 */
int folder_stage_commit(struct folder_stage *bs, char *err, size_t errlen);

/*
 * folder_stage_remove_old: after a commit, remove the old files; 0, or -1 with err when some
 * could not be removed (files of another user in a folder this one cannot write): what is
 * left of them stays in ".<name>.old-<job id>" beside blob_dir, which err names.
 */
int folder_stage_remove_old(struct folder_stage *bs, char *err, size_t errlen);

/* folder_stage_path: where the staged files are, for reports. */
const char *folder_stage_path(const struct folder_stage *bs);

/* folder_stage_abort: remove the staging folder (if still there) and free bs; NULL is fine. */
void folder_stage_abort(struct folder_stage *bs);

/* folder_stage_close: free bs after a commit, keeping whatever is on disk. */
void folder_stage_close(struct folder_stage *bs);

/*
 * folder_stage_remove_leftover: remove the staging folder job job_id left beside blob_dir
 * (absolute), if there is one; what cannot be removed stays.
 */
void folder_stage_remove_leftover(const char *blob_dir, const char *job_id);

/* folder_old_name: ".<blob_name>.old-<job_id>" into buf; 0, or -1 when it does not fit. */
int folder_old_name(const char *blob_name, const char *job_id, char *buf, size_t buflen);

/*
 * folder_old_lock: open the old tree name in parent_fd and take it in hand (flock): its
 * descriptor; -2 when another process holds it or it is gone; -1 with errno.
 */
int folder_old_lock(int parent_fd, const char *name);

/*
 * folder_old_remove_locked: remove the old tree name in parent_fd, open (and locked) as fd;
 * 0, or -1 with errno when some of it could not be removed (it stays under its name).
 */
int folder_old_remove_locked(int parent_fd, const char *name, int fd);

/*
 * folder_old_take: take in hand every old tree beside blob_dir (absolute) that no other
 * process holds: 0 with *out, NULL when there is none; -1 with err.
 */
int folder_old_take(const char *blob_dir, struct folder_old **out, char *err, size_t errlen);

/* folder_old_remove: remove the trees taken, telling done of each; 0, or -1 if one stays. */
int folder_old_remove(struct folder_old *o, store_old_done_fn done, void *ctx);

/* folder_old_free: free o, releasing its trees; NULL is fine. */
void folder_old_free(struct folder_old *o);

/*
 * blob_access_plan: what the restored tree of t->blob_dir (the folder name in parent_fd, or
 * missing) is to be given, by the target's keys or by default blob_dir's own (blob_access.c);
 * 0, -2 with err when this user cannot give it (a refusal naming blob_dir, the owner or group
 * and what to do), or -1 with err.
 */
int blob_access_plan(const struct restore_target *t, int parent_fd, const char *name,
                     struct blob_access *out, char *err, size_t errlen);

/*
 * blob_access_apply: give fd (a staged folder when is_dir, else a staged file; what names it
 * in err) the plan's owner, group and mode, and check the mode took; 0, -2 with err when this
 * user is not allowed to (a refusal), or -1 with err.
 */
int blob_access_apply(const struct blob_access *a, int fd, bool is_dir, const char *blob_dir,
                      const char *what, char *err, size_t errlen);

/* blob_access_user: the uid of a user name or number; 0, or -1 when there is no such user. */
int blob_access_user(const char *name, uid_t *out);

/* blob_access_group: the gid of a group name or number; 0, or -1 when there is no such group. */
int blob_access_group(const char *name, gid_t *out);

/*
 * blob_access_mode: an octal mode string ("2770", "0660") into *out: 0, or -1 when it is not
 * 3 or 4 octal digits within allowed (e.g. 03777 for folders, 0777 for files).
 */
int blob_access_mode(const char *text, mode_t allowed, mode_t *out);

/*
 * blobstore_check_access: for the check command, whether a restore run as the current user
 * could give t's restored tree the owner, group and modes it needs (blob_access_plan), in
 * blob_dir's parent it can write, on blob_dir's filesystem. 0 ok, 1 warning (blob_dir is
 * missing: the first restore creates it; or the application's user, blob_dir's owner, would
 * lose the right to create files in it), -1 failed; msg holds one sentence either way.
 */
int blobstore_check_access(const struct restore_target *t, char *msg, size_t msglen);

#endif
