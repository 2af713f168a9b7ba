/*
 * folder_stage.c - staged, all-or-nothing replacement of the blob folder.
 *
 * Durability: instead of one fsync per file (thousands of journal commits for a typical
 * backup) folder_stage_finish() calls syncfs() once on the staging folder's filesystem, which
 * since Linux 5.8 reports any writeback error of that filesystem. The swap is then made
 * durable with an fsync of the parent folder.
 *
 * Every staged folder and file gets the owner, group and mode blob_access_plan() chose
 * (blob_access.c), set explicitly, so the application can use what the restore wrote.
 */
#include "store_folder.h"

#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct folder_stage {
	char *blob_dir;     /* as configured */
	char *parent;       /* its parent folder */
	char *name;         /* its last component */
	char *staging_name; /* the staging folder's name in parent */
	char *staging_path;
	char *old_at; /* after the commit: where the old files are (their name in parent) */
	int parent_fd;
	int staging_fd;
	bool blob_dir_exists;
	struct blob_access access; /* what every staged folder and file is given */
	char *job_id;
	char cur_xx[3], cur_yy[3]; /* the folder the last file went into */
	int xx_fd, yy_fd;
};

/* close_fd: close a descriptor that may be -1. */
static void
close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/*
 * probe_swap: prove that folder_stage_commit() will be able to swap, before the restore depends
 * on it. Two probe folders in the staging folder are exchanged: the filesystem can
 * RENAME_EXCHANGE (some network and FUSE filesystems cannot). Then blob_dir is renamed onto
 * the staging folder, which the probes make non-empty: that must fail only because the folder
 * is not empty (ENOTEMPTY or EEXIST). The kernel looks at whether blob_dir can be moved at
 * all first: a mount point (EBUSY), another mount than its parent, or a folder of an
 * overlayfs lower layer, such as a container image's (EXDEV), are refused before the
 * emptiness, so nothing moves either way. 0, or -1 with err (*moved set when a filesystem
 * that breaks that rule moved blob_dir and it could not be put back: the staging name then
 * holds the real files and must not be removed).
 */
static int
probe_swap(struct folder_stage *bs, bool *moved, char *err, size_t errlen)
{
	static const char *const probes[] = {".probe-a", ".probe-b"};
	int rc = -1, why;

	*moved = false;
	for (size_t i = 0; i < 2; i++)
		if (mkdirat(bs->staging_fd, probes[i], 0700) < 0)
			return io_error(err, errlen, "cannot create a probe folder in %s: %s",
			                bs->staging_path, strerror(errno));
	if (renameat2(bs->staging_fd, probes[0], bs->staging_fd, probes[1], RENAME_EXCHANGE) < 0) {
		io_error(
		    err, errlen,
		    "blob_dir %s cannot be swapped for the restored files: its filesystem cannot "
		    "exchange two folders (%s); put blob_dir on a local filesystem (ext4, xfs, "
		    "btrfs, tmpfs), or restore with --db-only",
		    bs->blob_dir, strerror(errno));
		rc = -2;
		goto done;
	}
	if (!bs->blob_dir_exists) {
		rc = 0; /* the commit is a plain rename, which the exchange has shown */
		goto done;
	}
	if (renameat2(bs->parent_fd, bs->name, bs->parent_fd, bs->staging_name, 0) == 0) {
		/* Against every filesystem's rule: put it back, and never remove that name. */
		if (renameat2(bs->parent_fd, bs->staging_name, bs->parent_fd, bs->name,
		              RENAME_NOREPLACE) < 0) {
			*moved = true;
			io_error(
			    err, errlen,
			    "blob_dir %s was moved to %s by a probe its filesystem should have "
			    "refused and cannot be moved back (%s); move it back by hand",
			    bs->blob_dir, bs->staging_path, strerror(errno));
			return -1;
		}
		io_error(
		    err, errlen,
		    "blob_dir %s is on a filesystem that renamed it onto a folder that was not "
		    "empty; its swap cannot be trusted: restore with --db-only",
		    bs->blob_dir);
		return -2;
	}
	why = errno;
	rc = why == ENOTEMPTY || why == EEXIST ? 0 : why == EXDEV || why == EBUSY ? -2 : -1;
	if (why == EXDEV)
		io_error(
		    err, errlen,
		    "blob_dir %s cannot be swapped for the restored files: the kernel will not "
		    "move it (%s: another mount than %s, or a folder of an overlayfs lower layer "
		    "such as a container image's); mount the volume at its parent or above, or "
		    "restore with --db-only",
		    bs->blob_dir, strerror(why), bs->parent);
	else if (why == EBUSY)
		io_error(
		    err, errlen,
		    "blob_dir %s cannot be swapped for the restored files: it is a mount point "
		    "(%s); mount the volume at its parent or above instead, or restore with "
		    "--db-only",
		    bs->blob_dir, strerror(why));
	else if (rc < 0)
		io_error(err, errlen,
		         "blob_dir %s cannot be swapped for the restored files: renaming it fails "
		         "(%s)",
		         bs->blob_dir, strerror(why));
done:
	for (size_t i = 0; i < 2; i++)
		if (unlinkat(bs->staging_fd, probes[i], AT_REMOVEDIR) < 0 && errno != ENOENT &&
		    rc == 0)
			rc = io_error(err, errlen, "cannot remove a probe folder from %s: %s",
			              bs->staging_path, strerror(errno));
	return rc;
}

int
folder_stage_begin(const struct restore_target *t, const char *job_id, struct folder_stage **out,
                   char *err, size_t errlen)
{
	const char *blob_dir = t->blob_dir;
	struct folder_stage *bs;
	struct stat st;
	char *copy1 = NULL, *copy2 = NULL;
	bool created = false, moved;
	int rc = -1;

	*out = NULL;
	if (blob_dir[0] != '/')
		return io_error(err, errlen, "blob_dir %s is not an absolute path", blob_dir);
	bs = calloc(1, sizeof(*bs));
	if (bs == NULL)
		return io_error(err, errlen, "out of memory");
	bs->parent_fd = bs->staging_fd = bs->xx_fd = bs->yy_fd = -1;
	copy1 = strdup(blob_dir);
	copy2 = strdup(blob_dir);
	bs->blob_dir = strdup(blob_dir);
	bs->job_id = strdup(job_id);
	if (copy1 == NULL || copy2 == NULL || bs->blob_dir == NULL || bs->job_id == NULL)
		goto nomem;
	bs->parent = strdup(dirname(copy1));
	bs->name = strdup(basename(copy2));
	if (bs->parent == NULL || bs->name == NULL)
		goto nomem;
	if (strcmp(bs->name, "/") == 0 || strcmp(bs->name, ".") == 0 ||
	    strcmp(bs->name, "..") == 0) {
		io_error(err, errlen, "blob_dir %s cannot be a filesystem root or end in . or ..",
		         blob_dir);
		goto error;
	}
	if (asprintf(&bs->staging_name, ".%s%s%s", bs->name, BLOBSTORE_STAGING_INFIX, job_id) < 0) {
		bs->staging_name = NULL;
		goto nomem;
	}
	if (asprintf(&bs->staging_path, "%s/%s", strcmp(bs->parent, "/") == 0 ? "" : bs->parent,
	             bs->staging_name) < 0) {
		bs->staging_path = NULL;
		goto nomem;
	}

	bs->parent_fd = open(bs->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bs->parent_fd < 0) {
		io_error(err, errlen, "cannot open the folder %s that holds blob_dir: %s",
		         bs->parent, strerror(errno));
		goto error;
	}
	if (fstatat(bs->parent_fd, bs->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			io_error(err, errlen, "blob_dir %s exists but is not a folder", blob_dir);
			goto error;
		}
		bs->blob_dir_exists = true;
	} else if (errno != ENOENT) {
		io_error(err, errlen, "cannot examine blob_dir %s: %s", blob_dir, strerror(errno));
		goto error;
	}
	if ((rc = blob_access_plan(t, bs->parent_fd, bs->name, &bs->access, err, errlen)) < 0)
		goto error;
	if (mkdirat(bs->parent_fd, bs->staging_name, 0700) < 0) {
		io_error(err, errlen, "cannot create the staging folder %s: %s", bs->staging_path,
		         strerror(errno));
		goto error;
	}
	created = true;
	bs->staging_fd = openat(bs->parent_fd, bs->staging_name,
	                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bs->staging_fd < 0) {
		io_error(err, errlen, "cannot open the staging folder %s: %s", bs->staging_path,
		         strerror(errno));
		goto error;
	}
	/* The new folder gets what the restored tree needs: refused here, nothing has changed. */
	if ((rc = blob_access_apply(&bs->access, bs->staging_fd, true, blob_dir, bs->staging_path,
	                            err, errlen)) < 0)
		goto error;
	if ((rc = probe_swap(bs, &moved, err, errlen)) < 0) {
		created = !moved; /* a staging name that holds blob_dir's files stays */
		goto error;
	}
	free(copy1);
	free(copy2);
	*out = bs;
	return 0;
nomem:
	io_error(err, errlen, "out of memory");
error:
	free(copy1);
	free(copy2);
	if (created)
		folder_stage_abort(bs);
	else
		folder_stage_close(bs);
	return rc == -2 ? -2 : -1;
}

/* subdir_open: open (creating if needed) dir_fd/name as a folder, never through a link. */
static int
subdir_open(struct folder_stage *bs, int dir_fd, const char *name, char *err, size_t errlen)
{
	char what[PATH_MAX];
	int fd;

	if (mkdirat(dir_fd, name, 0700) == 0) {
		fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		snprintf(what, sizeof(what), "the staged folder %s in %s", name, bs->staging_path);
		if (fd >= 0 &&
		    blob_access_apply(&bs->access, fd, true, bs->blob_dir, what, err, errlen) < 0) {
			close_fd(&fd);
			return -1;
		}
	} else if (errno == EEXIST) {
		fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		return io_error(err, errlen, "cannot create the folder %s in %s: %s", name,
		                bs->staging_path, strerror(errno));
	}
	if (fd < 0)
		return io_error(err, errlen, "cannot open the folder %s in %s: %s", name,
		                bs->staging_path, strerror(errno));
	return fd;
}

int
folder_stage_file_open(struct folder_stage *bs, const char *xx, const char *yy, const char *name,
                       char *err, size_t errlen)
{
	char what[PATH_MAX];
	int fd;

	if (bs->xx_fd < 0 || strcmp(bs->cur_xx, xx) != 0) {
		close_fd(&bs->yy_fd);
		close_fd(&bs->xx_fd);
		bs->xx_fd = subdir_open(bs, bs->staging_fd, xx, err, errlen);
		if (bs->xx_fd < 0)
			return -1;
		snprintf(bs->cur_xx, sizeof(bs->cur_xx), "%s", xx);
		bs->cur_yy[0] = '\0';
	}
	if (bs->yy_fd < 0 || strcmp(bs->cur_yy, yy) != 0) {
		close_fd(&bs->yy_fd);
		bs->yy_fd = subdir_open(bs, bs->xx_fd, yy, err, errlen);
		if (bs->yy_fd < 0)
			return -1;
		snprintf(bs->cur_yy, sizeof(bs->cur_yy), "%s", yy);
	}
	fd = openat(bs->yy_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return io_error(err, errlen, "tree/%s/%s/%s appears twice in the archive",
			                xx, yy, name);
		return io_error(err, errlen, "cannot create %s/%s/%s/%s: %s", bs->staging_path, xx,
		                yy, name, strerror(errno));
	}
	snprintf(what, sizeof(what), "%s/%s/%s/%s", bs->staging_path, xx, yy, name);
	if (blob_access_apply(&bs->access, fd, false, bs->blob_dir, what, err, errlen) < 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

int
folder_stage_file_write(struct folder_stage *bs, int fd, const void *buf, size_t len, char *err,
                        size_t errlen)
{
	if (io_write_all(fd, buf, len) < 0)
		return io_error(err, errlen, "cannot write into the staging folder %s: %s",
		                bs->staging_path, strerror(errno));
	return 0;
}

int
folder_stage_file_close(struct folder_stage *bs, int fd, char *err, size_t errlen)
{
	if (close(fd) < 0)
		return io_error(err, errlen, "cannot write into the staging folder %s: %s",
		                bs->staging_path, strerror(errno));
	return 0;
}

int
folder_stage_finish(struct folder_stage *bs, char *err, size_t errlen)
{
	close_fd(&bs->yy_fd);
	close_fd(&bs->xx_fd);
	if (syncfs(bs->staging_fd) < 0)
		return io_error(err, errlen, "cannot flush the staging folder %s to disk: %s",
		                bs->staging_path, strerror(errno));
	return 0;
}

int
folder_stage_commit(struct folder_stage *bs, char *err, size_t errlen)
{
	char old_name[NAME_MAX + 1];
	int rc = 0;

	close_fd(&bs->yy_fd);
	close_fd(&bs->xx_fd);
	if (bs->blob_dir_exists) {
		if (renameat2(bs->parent_fd, bs->staging_name, bs->parent_fd, bs->name,
		              RENAME_EXCHANGE) < 0)
			return io_error(err, errlen, "cannot swap %s into place as %s: %s",
			                bs->staging_path, bs->blob_dir, strerror(errno));
		/*
		 * The staging name holds the old files now: they go to the name that says only
		 * "old files, to be removed", which anybody may remove (folder_old.c). If that
		 * fails they stay where they are (a warning), where folder_stage_remove_old()
		 * takes them; a removal in the background does not.
		 */
		if (folder_old_name(bs->name, bs->job_id, old_name, sizeof(old_name)) == 0 &&
		    renameat2(bs->parent_fd, bs->staging_name, bs->parent_fd, old_name,
		              RENAME_NOREPLACE) == 0) {
			bs->old_at = strdup(old_name);
		} else {
			io_error(err, errlen,
			         "the new files are in %s but the old ones could not be set aside "
			         "for their removal (%s): they are in %s; remove it",
			         bs->blob_dir, strerror(errno), bs->staging_path);
			rc = 1;
			bs->old_at = strdup(bs->staging_name);
		}
	} else {
		if (renameat2(bs->parent_fd, bs->staging_name, bs->parent_fd, bs->name,
		              RENAME_NOREPLACE) < 0)
			return io_error(err, errlen, "cannot move %s into place as %s: %s",
			                bs->staging_path, bs->blob_dir, strerror(errno));
	}
	if (fsync(bs->parent_fd) < 0 && rc == 0) {
		io_error(err, errlen, "the new files are in %s but flushing %s failed: %s",
		         bs->blob_dir, bs->parent, strerror(errno));
		rc = 1;
	}
	close_fd(&bs->staging_fd);
	return rc;
}

/*
 * What is left of old files that could not all be removed (another user's files in a folder
 * this one cannot write) stays at ".<name>.old-<job id>", which says what it holds: nothing is
 * lost, and the message names it for whoever can remove it. Another process removing the same
 * tree already (folder_old.c) is left to it.
 */
int
folder_stage_remove_old(struct folder_stage *bs, char *err, size_t errlen)
{
	const char *where = bs->old_at != NULL ? bs->old_at : bs->staging_name;
	int fd, rc;

	if (!bs->blob_dir_exists)
		return 0;
	fd = folder_old_lock(bs->parent_fd, where);
	if (fd == -2)
		return 0;
	rc = fd >= 0 ? folder_old_remove_locked(bs->parent_fd, where, fd) : -1;
	if (rc < 0)
		io_error(err, errlen,
		         "the new files are in %s but the old ones could not all be removed "
		         "(%s): what is left of them is in %s/%s; remove it as the owner of its "
		         "files",
		         bs->blob_dir, strerror(errno),
		         strcmp(bs->parent, "/") == 0 ? "" : bs->parent, where);
	if (fd >= 0)
		(void)close(fd); /* only read */
	return rc;
}

const char *
folder_stage_path(const struct folder_stage *bs)
{
	return bs->staging_path;
}

void
folder_stage_close(struct folder_stage *bs)
{
	if (bs == NULL)
		return;
	close_fd(&bs->yy_fd);
	close_fd(&bs->xx_fd);
	close_fd(&bs->staging_fd);
	close_fd(&bs->parent_fd);
	free(bs->blob_dir);
	free(bs->job_id);
	free(bs->parent);
	free(bs->name);
	free(bs->staging_name);
	free(bs->staging_path);
	free(bs->old_at);
	free(bs);
}

void
folder_stage_abort(struct folder_stage *bs)
{
	if (bs == NULL)
		return;
	close_fd(&bs->yy_fd);
	close_fd(&bs->xx_fd);
	close_fd(&bs->staging_fd);
	if (bs->parent_fd >= 0)
		(void)io_remove_tree(bs->parent_fd, bs->staging_name);
	folder_stage_close(bs);
}

void
folder_stage_remove_leftover(const char *blob_dir, const char *job_id)
{
	char *copy, *slash, *staging_name = NULL;
	int fd;

	slash = blob_dir != NULL && blob_dir[0] == '/' ? strrchr(blob_dir, '/') : NULL;
	if (slash == NULL || slash[1] == '\0' || (copy = strdup(blob_dir)) == NULL)
		return;
	copy[slash - blob_dir] = '\0';
	if (asprintf(&staging_name, ".%s%s%s", slash + 1, BLOBSTORE_STAGING_INFIX, job_id) < 0)
		staging_name = NULL;
	fd = open(copy[0] != '\0' ? copy : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && staging_name != NULL)
		(void)io_remove_tree(fd, staging_name);
	if (fd >= 0)
		(void)close(fd); /* only read */
	free(staging_name);
	free(copy);
}
