/*
 * store_folder.c - the folder driver of the file store (store.h): blob_dir laid out as
 * Mendix lays it out, xx/yy/<uuid>.
 *
 * It adapts the folder's own parts to the driver table (store_driver.h): listings are walks
 * of blobtree.c, files are read through a descriptor opened relative to the walk's xx/yy
 * folder with O_NOFOLLOW, and staging, commit and abort are folder_stage.c's (a staging
 * folder beside blob_dir, swapped in with one rename), which gives the staged tree the owner,
 * group and modes of blob_access.c. A file being read is checked against the stat() taken
 * when it was opened: a file written while it was read is the caller's error to report.
 */
#include "store_driver.h"
#include "store_folder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobtree.h"
#include "io.h"

/* A folder as a store. */
struct folder_store {
	struct store head;
	int dir_fd;                     /* what dir is relative to, or AT_FDCWD */
	char *dir;                      /* blob_dir; NULL when the target has none */
	const struct restore_target *t; /* its owner, group and modes; NULL: not for staging */
};

/* A listing: a walk of the folder. */
struct folder_list {
	struct store_list head;
	struct folder_store *store;
	struct blobtree tree;
	int flags;
	const char *uuid; /* the file last yielded */
};

/* A file being read. */
struct folder_read {
	struct store_read head;
	int fd;
	struct stat st; /* when it was opened */
	char path[PATH_MAX + 48];
};

/* A restore's staging folder. */
struct folder_staging {
	struct store_stage head;
	struct folder_stage *bs;
};

/* The old files beside the folder, taken in hand (folder_old.c). */
struct folder_olds {
	struct store_old head;
	struct folder_old *old;
};

/* A staged file being written. */
struct folder_file {
	struct store_file head;
	struct folder_stage *bs;
	int fd;
};

static const struct store_driver folder_driver;

/* folder_where: blob_dir, for messages. */
static const char *
folder_where(const struct store *s)
{
	const struct folder_store *fs = (const struct folder_store *)s;

	return fs->dir != NULL ? fs->dir : "(no blob_dir)";
}

/* folder_close: free the store. */
static void
folder_close(struct store *s)
{
	struct folder_store *fs = (struct folder_store *)s;

	free(fs->dir);
	free(fs);
}

/* folder_check_access: blob_access.c's answer for the target. */
static int
folder_check_access(struct store *s, char *msg, size_t msglen)
{
	struct folder_store *fs = (struct folder_store *)s;

	if (fs->t == NULL)
		return io_error(msg, msglen, "the folder %s is no target's blob_dir",
		                folder_where(s));
	return blobstore_check_access(fs->t, msg, msglen);
}

/* folder_list_open: start a walk of the folder. */
static int
folder_list_open(struct store *s, const char *who, int flags, store_skipped_fn skipped, void *ctx,
                 struct store_list **out, char *err, size_t errlen)
{
	struct folder_store *fs = (struct folder_store *)s;
	struct folder_list *l;

	if (fs->dir == NULL)
		return io_error(err, errlen, "%s has no blob_dir to read", who);
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return io_error(err, errlen, "out of memory");
	l->head.driver = &folder_driver;
	l->store = fs;
	l->flags = flags;
	if (blobtree_open(&l->tree, fs->dir_fd, fs->dir, who, skipped, ctx, err, errlen) < 0) {
		blobtree_close(&l->tree);
		free(l);
		return -1;
	}
	*out = &l->head;
	return 0;
}

/* folder_list_next: the walk's next file; with STORE_LIST_SIZES, the regular files only. */
static int
folder_list_next(struct store_list *sl, struct store_entry *e, char *err, size_t errlen)
{
	struct folder_list *l = (struct folder_list *)sl;
	struct stat st;
	int rc;

	while ((rc = blobtree_next(&l->tree, &l->uuid, err, errlen)) > 0) {
		e->uuid = l->uuid;
		e->size = 0;
		if (!(l->flags & STORE_LIST_SIZES))
			return 1;
		/* A file gone already is not listed. */
		if (fstatat(blobtree_file_dir(&l->tree), l->uuid, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		e->size = (uint64_t)st.st_size;
		return 1;
	}
	l->uuid = NULL;
	return rc;
}

/* folder_list_close: end the walk. */
static void
folder_list_close(struct store_list *sl)
{
	struct folder_list *l = (struct folder_list *)sl;

	blobtree_close(&l->tree);
	free(l);
}

/* changed_after: whether st's status changed after t. */
static bool
changed_after(const struct stat *st, const struct timespec *t)
{
	return st->st_ctim.tv_sec > t->tv_sec ||
	       (st->st_ctim.tv_sec == t->tv_sec && st->st_ctim.tv_nsec > t->tv_nsec);
}

/* same_time: whether a and b are the same instant. */
static bool
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* folder_read_open: open the file last listed, relative to its xx/yy folder, never a link. */
static int
folder_read_open(struct store_list *sl, const struct timespec *since, struct store_read **out,
                 struct store_file_info *info, const char **why, char *err, size_t errlen)
{
	struct folder_list *l = (struct folder_list *)sl;
	struct folder_read *r;
	int rc = -1;

	if (l->uuid == NULL)
		return io_error(err, errlen, "no file of %s was listed to read", l->store->dir);
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return io_error(err, errlen, "out of memory");
	r->head.driver = &folder_driver;
	snprintf(r->path, sizeof(r->path), "%s/%.2s/%.2s/%s", l->store->dir, l->uuid, l->uuid + 2,
	         l->uuid);
	r->fd = openat(blobtree_file_dir(&l->tree), l->uuid,
	               O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (r->fd < 0) {
		if (errno == ENOENT)
			*why = "deleted after the files were measured";
		else if (errno == ELOOP)
			*why = "replaced by a symbolic link (not followed)";
		else
			io_error(err, errlen, "cannot open %s: %s", r->path, strerror(errno));
		rc = *why != NULL ? 0 : -1;
		free(r);
		return rc;
	}
	if (fstat(r->fd, &r->st) < 0)
		io_error(err, errlen, "cannot stat %s: %s", r->path, strerror(errno));
	else if (!S_ISREG(r->st.st_mode))
		*why = "no longer a regular file";
	else if (since != NULL && changed_after(&r->st, since))
		*why = "created or changed after the files were measured";
	else
		rc = 1;
	if (rc != 1) {
		(void)close(r->fd); /* only read */
		free(r);
		return *why != NULL ? 0 : -1;
	}
	info->size = (uint64_t)r->st.st_size;
	info->modified = r->st.st_mtim;
	*out = &r->head;
	return 1;
}

/* folder_read_name: the file's path. */
static const char *
folder_read_name(const struct store_read *sr)
{
	return ((const struct folder_read *)sr)->path;
}

/* folder_read: read(2), again after a signal. */
static ssize_t
folder_read(struct store_read *sr, void *buf, size_t len, char *err, size_t errlen)
{
	struct folder_read *r = (struct folder_read *)sr;
	ssize_t n;

	do
		n = read(r->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return io_error(err, errlen, "cannot read %s: %s", r->path, strerror(errno));
	return n;
}

/*
 * folder_read_unchanged: whether the file still has the size, modification and status change
 * times it had when it was opened (fstat() on the same descriptor).
 */
static int
folder_read_unchanged(struct store_read *sr, char *err, size_t errlen)
{
	struct folder_read *r = (struct folder_read *)sr;
	struct stat after;

	if (fstat(r->fd, &after) < 0)
		return io_error(err, errlen, "cannot stat %s: %s", r->path, strerror(errno));
	if (after.st_size == r->st.st_size && same_time(&after.st_mtim, &r->st.st_mtim) &&
	    same_time(&after.st_ctim, &r->st.st_ctim))
		return 0;
	return io_error(err, errlen,
	                "%s changed while it was copied (its size, modification or status change "
	                "time differ after the copy), "
	                "so the archive could hold a mixture of two versions; run the backup "
	                "again when nothing rewrites the files",
	                r->path);
}

/* folder_read_close: close the file, which was only read. */
static void
folder_read_close(struct store_read *sr)
{
	struct folder_read *r = (struct folder_read *)sr;

	(void)close(r->fd); /* only read */
	free(r);
}

/* folder_begin: a staging folder beside blob_dir (folder_stage_begin), also to rehearse. */
static int
folder_begin(struct store *s, const char *job_id, int flags, struct store_stage **out, char *err,
             size_t errlen)
{
	struct folder_store *fs = (struct folder_store *)s;
	struct folder_staging *st;
	int rc;

	(void)flags; /* a rehearsal stages beside blob_dir too: blob_dir is not touched */
	if (fs->t == NULL)
		return io_error(err, errlen,
		                "the folder %s is no target's blob_dir to restore into",
		                folder_where(s));
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return io_error(err, errlen, "out of memory");
	st->head.driver = &folder_driver;
	rc = folder_stage_begin(fs->t, job_id, &st->bs, err, errlen);
	if (rc < 0) {
		free(st);
		return rc;
	}
	*out = &st->head;
	return 0;
}

/* folder_file_open: create staging/xx/yy/<uuid>, xx and yy its first four hex digits. */
static int
folder_file_open(struct store_stage *sst, const char *uuid, struct store_file **out, char *err,
                 size_t errlen)
{
	struct folder_staging *st = (struct folder_staging *)sst;
	char xx[3] = {uuid[0], uuid[1], '\0'}, yy[3] = {uuid[2], uuid[3], '\0'};
	struct folder_file *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return io_error(err, errlen, "out of memory");
	f->head.driver = &folder_driver;
	f->bs = st->bs;
	f->fd = folder_stage_file_open(st->bs, xx, yy, uuid, err, errlen);
	if (f->fd < 0) {
		free(f);
		return -1;
	}
	*out = &f->head;
	return 0;
}

/* folder_file_write: write all of buf. */
static int
folder_file_write(struct store_file *sf, const void *buf, size_t len, char *err, size_t errlen)
{
	struct folder_file *f = (struct folder_file *)sf;

	return folder_stage_file_write(f->bs, f->fd, buf, len, err, errlen);
}

/* folder_file_close: close the file, checking the close. */
static int
folder_file_close(struct store_file *sf, char *err, size_t errlen)
{
	struct folder_file *f = (struct folder_file *)sf;
	int rc = folder_stage_file_close(f->bs, f->fd, err, errlen);

	free(f);
	return rc;
}

/* folder_file_abandon: close the file; the staging folder's removal takes it. */
static void
folder_file_abandon(struct store_file *sf)
{
	struct folder_file *f = (struct folder_file *)sf;

	(void)close(f->fd);
	free(f);
}

/* folder_finish: folder_stage_finish. */
static int
folder_finish(struct store_stage *sst, char *err, size_t errlen)
{
	return folder_stage_finish(((struct folder_staging *)sst)->bs, err, errlen);
}

/* folder_commit: folder_stage_commit. */
static int
folder_commit(struct store_stage *sst, char *err, size_t errlen)
{
	return folder_stage_commit(((struct folder_staging *)sst)->bs, err, errlen);
}

/* folder_remove_old: folder_stage_remove_old. */
static int
folder_remove_old(struct store_stage *sst, char *err, size_t errlen)
{
	return folder_stage_remove_old(((struct folder_staging *)sst)->bs, err, errlen);
}

/* folder_staged_where: the staging folder's path. */
static const char *
folder_staged_where(const struct store_stage *sst)
{
	return folder_stage_path(((const struct folder_staging *)sst)->bs);
}

/* folder_abort: folder_stage_abort, and free the handle. */
static void
folder_abort(struct store_stage *sst)
{
	struct folder_staging *st = (struct folder_staging *)sst;

	folder_stage_abort(st->bs);
	free(st);
}

/* folder_keep: folder_stage_close, and free the handle. */
static void
folder_keep(struct store_stage *sst)
{
	struct folder_staging *st = (struct folder_staging *)sst;

	folder_stage_close(st->bs);
	free(st);
}

/* folder_remove_leftover: remove job_id's staging folder beside blob_dir. */
static void
folder_remove_leftover(struct store *s, const char *job_id)
{
	struct folder_store *fs = (struct folder_store *)s;

	if (fs->dir != NULL)
		folder_stage_remove_leftover(fs->dir, job_id);
}

/* folder_old_take_all: folder_old_take of the old trees beside the folder. */
static int
folder_old_take_all(struct store *s, struct store_old **out, char *err, size_t errlen)
{
	struct folder_store *fs = (struct folder_store *)s;
	struct folder_olds *o;
	struct folder_old *old = NULL;

	*out = NULL;
	if (fs->dir == NULL || folder_old_take(fs->dir, &old, err, errlen) < 0)
		return fs->dir == NULL ? 0 : -1;
	if (old == NULL)
		return 0;
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		folder_old_free(old);
		return io_error(err, errlen, "out of memory");
	}
	o->head.driver = &folder_driver;
	o->old = old;
	*out = &o->head;
	return 0;
}

/* folder_old_remove_all: folder_old_remove. */
static int
folder_old_remove_all(struct store_old *so, store_old_done_fn done, void *ctx)
{
	return folder_old_remove(((struct folder_olds *)so)->old, done, ctx);
}

/* folder_old_close: folder_old_free, and free the handle. */
static void
folder_old_close(struct store_old *so)
{
	struct folder_olds *o = (struct folder_olds *)so;

	folder_old_free(o->old);
	free(o);
}

static const struct store_driver folder_driver = {
    .name = "folder",
    .where = folder_where,
    .close = folder_close,
    .check_access = folder_check_access,
    .list_open = folder_list_open,
    .list_next = folder_list_next,
    .list_close = folder_list_close,
    .read_open = folder_read_open,
    .read_name = folder_read_name,
    .read = folder_read,
    .read_unchanged = folder_read_unchanged,
    .read_close = folder_read_close,
    .stage_begin = folder_begin,
    .file_open = folder_file_open,
    .file_write = folder_file_write,
    .file_close = folder_file_close,
    .file_abandon = folder_file_abandon,
    .stage_finish = folder_finish,
    .stage_commit = folder_commit,
    .stage_remove_old = folder_remove_old,
    .stage_where = folder_staged_where,
    .stage_abort = folder_abort,
    .stage_close = folder_keep,
    .stage_remove_leftover = folder_remove_leftover,
    .old_take = folder_old_take_all,
    .old_remove = folder_old_remove_all,
    .old_close = folder_old_close,
};

int
store_folder_new(int dir_fd, const char *dir, const struct restore_target *t, struct store **out,
                 char *err, size_t errlen)
{
	struct folder_store *fs = calloc(1, sizeof(*fs));

	*out = NULL;
	if (fs == NULL)
		return io_error(err, errlen, "out of memory");
	fs->head.driver = &folder_driver;
	fs->dir_fd = dir_fd;
	fs->t = t;
	if (dir != NULL && (fs->dir = strdup(dir)) == NULL) {
		free(fs);
		return io_error(err, errlen, "out of memory");
	}
	*out = &fs->head;
	return 0;
}
