/*
 * blobstore.h - the blob folder: stage a backup's files beside it, then swap them in.
 *
 * blobstore_begin() creates an empty staging folder ".<name>.staging-<job id>" in blob_dir's
 * parent (the same filesystem, so the swap is one rename), and proves there, changing nothing,
 * that the swap will work (or fails, saying why): a restore, and its rehearsal, learn it before
 * the database is touched. Files are created in it relative
 * to directory descriptors with O_NOFOLLOW and O_EXCL: nothing is written outside it, and a
 * name that appears twice is an error. blobstore_finish() makes them durable; only then may
 * the database commit. blobstore_commit() swaps the staging folder and blob_dir atomically
 * (renameat2 RENAME_EXCHANGE); blobstore_remove_old() then removes the old files (a restore
 * may do that after its report is out: it is off the critical path). blobstore_abort() removes the
 * staging folder and leaves blob_dir exactly as it was.
 */
#ifndef BLOBSTORE_H
#define BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>

struct blobstore;

/* The prefix and infix of staging folder names, for finding ones a crash left behind. */
#define BLOBSTORE_STAGING_INFIX ".staging-"

/*
 * blobstore_begin: create the staging folder for blob_dir (absolute) and prove that it can be
 * swapped with blob_dir; 0, -2 with err when blob_dir cannot be swapped where it is (a mount
 * point, an overlayfs lower layer, a filesystem that cannot exchange folders: a refusal), or
 * -1 with err (saying why and what to do).
 */
int blobstore_begin(const char *blob_dir, const char *job_id, struct blobstore **out, char *err,
                    size_t errlen);

/*
 * blobstore_file_open: create staging/xx/yy/name for writing; return its descriptor, or -1
 * with err. The caller has checked the three names (two hex digits each and a UUID).
 */
int blobstore_file_open(struct blobstore *bs, const char *xx, const char *yy, const char *name,
                        char *err, size_t errlen);

/* blobstore_file_write: write all of buf to a staged file; 0 or -1 with err. */
int blobstore_file_write(struct blobstore *bs, int fd, const void *buf, size_t len, char *err,
                         size_t errlen);

/* blobstore_file_close: close a staged file, checking the close; 0 or -1 with err. */
int blobstore_file_close(struct blobstore *bs, int fd, char *err, size_t errlen);

/* blobstore_finish: make every staged file and folder durable; 0 or -1 with err. */
int blobstore_finish(struct blobstore *bs, char *err, size_t errlen);

/*
 * blobstore_commit: swap the staged files in; the old ones are then where the staging folder
 * was, until blobstore_remove_old(). Returns 0; or -1 with err when the swap failed (blob_dir
 * is then unchanged and the staged files are still at blobstore_staging_path()); or 1 when
 * the swap succeeded but could not be made durable (err says so).
 */
int blobstore_commit(struct blobstore *bs, char *err, size_t errlen);

/* blobstore_remove_old: after a commit, remove the old files; 0, or -1 with err. */
int blobstore_remove_old(struct blobstore *bs, char *err, size_t errlen);

/* blobstore_staging_path: where the staged files are, for reports. */
const char *blobstore_staging_path(const struct blobstore *bs);

/* blobstore_abort: remove the staging folder (if still there) and free bs; NULL is fine. */
void blobstore_abort(struct blobstore *bs);

/* blobstore_close: free bs after a commit, keeping whatever is on disk. */
void blobstore_close(struct blobstore *bs);

/* blobstore_remove_tree: remove parent_fd/name and all below it, never following links. */
int blobstore_remove_tree(int parent_fd, const char *name);

#endif
