/*
 * folder_old.c - the old files restores swapped out of a folder store, and their removal off
 * the restore's critical path (store.h: store_old_*).
 *
 * The swap (folder_stage_commit) exchanges the staging folder with blob_dir, then renames the
 * staging name, which holds the old files by then, to ".<name>.old-<job id>" beside blob_dir.
 * That name says one thing only: old files, no longer anybody's, to be removed. It is never
 * blob_dir, never a restore's staged files: whoever finds one may remove it, which is how
 * a removal a crash interrupted is finished later (at the worker's start, after the next
 * restore into the target).
 *
 * Two removals never work on the same tree: each one is taken in hand by an exclusive flock()
 * on its top folder, held by whoever removes it (it passes to a child process forked after,
 * and dies with the last process holding it); a tree locked already is another's and skipped.
 *
 * Limits: a removal killed between the swap and the rename leaves the old files at the
 * staging name, which only the worker (from the job's claim) can tell from a running
 * restore's staged files; the window is two system calls.
 */
#include "store_folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

/* One old tree, locked. */
struct old_tree {
	char name[NAME_MAX + 1];
	int fd;
};

struct folder_old {
	char *parent; /* blob_dir's parent, for messages */
	char *blob_dir;
	int parent_fd;
	struct old_tree *trees;
	size_t ntrees;
};

/* now_s: monotonic seconds. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* is_job_id: 36 lowercase hex digits and dashes, as job ids (UUIDs) are. */
static bool
is_job_id(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') || s[n] == '-'))
			return false;
	return n == 36;
}

int
folder_old_name(const char *blob_name, const char *job_id, char *buf, size_t buflen)
{
	int n = snprintf(buf, buflen, ".%s%s%s", blob_name, FOLDER_OLD_INFIX, job_id);

	return n < 0 || (size_t)n >= buflen ? -1 : 0;
}

/* old_job_id: the job id of an old tree's name beside blob name, or NULL when it is none. */
static const char *
old_job_id(const char *entry, const char *blob_name)
{
	size_t n = strlen(blob_name), k = strlen(FOLDER_OLD_INFIX);

	if (entry[0] != '.' || strncmp(entry + 1, blob_name, n) != 0 ||
	    strncmp(entry + 1 + n, FOLDER_OLD_INFIX, k) != 0 || !is_job_id(entry + 1 + n + k))
		return NULL;
	return entry + 1 + n + k;
}

/*
 * folder_old_lock: open the old tree name in parent_fd and take it in hand: the descriptor
 * (locked), -2 when another process holds it (or it is gone), or -1 (errno).
 */
int
folder_old_lock(int parent_fd, const char *name)
{
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? -2 : -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int why = errno;

		(void)close(fd); /* only read */
		errno = why;
		return why == EWOULDBLOCK ? -2 : -1;
	}
	return fd;
}

int
folder_old_remove_locked(int parent_fd, const char *name, int fd)
{
	struct stat held, named;
	struct dirent *de;
	int rc = 0, why = 0, copy = dup(fd);
	DIR *dir = copy >= 0 ? fdopendir(copy) : NULL;

	if (dir == NULL) {
		why = errno;
		if (copy >= 0)
			(void)close(copy);
		errno = why;
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (io_remove_tree(dirfd(dir), de->d_name) < 0 && why == 0)
			why = errno;
	}
	(void)closedir(dir); /* only read */
	/* The name still is the folder removed (nobody renames these): then it goes too. */
	if (fstat(fd, &held) == 0 && fstatat(parent_fd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
	    held.st_ino == named.st_ino && held.st_dev == named.st_dev &&
	    unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && why == 0)
		why = errno;
	if (why != 0) {
		errno = why;
		rc = -1;
	}
	return rc;
}

/* folder_old_free: release the trees (their locks) and free o. */
void
folder_old_free(struct folder_old *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->ntrees; i++)
		(void)close(o->trees[i].fd); /* only read */
	if (o->parent_fd >= 0)
		(void)close(o->parent_fd); /* only read */
	free(o->trees);
	free(o->parent);
	free(o->blob_dir);
	free(o);
}

int
folder_old_take(const char *blob_dir, struct folder_old **out, char *err, size_t errlen)
{
	const char *slash = blob_dir != NULL && blob_dir[0] == '/' ? strrchr(blob_dir, '/') : NULL;
	struct folder_old *o;
	struct dirent *de;
	DIR *dir;
	int fd;

	*out = NULL;
	if (slash == NULL || slash[1] == '\0')
		return 0; /* no folder beside which old files could be */
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return io_error(err, errlen, "out of memory");
	o->parent_fd = -1;
	o->blob_dir = strdup(blob_dir);
	o->parent = strndup(blob_dir, (size_t)(slash - blob_dir));
	if (o->blob_dir == NULL || o->parent == NULL) {
		folder_old_free(o);
		return io_error(err, errlen, "out of memory");
	}
	o->parent_fd =
	    open(o->parent[0] != '\0' ? o->parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = o->parent_fd >= 0 ? io_opendir(o->parent_fd, ".") : NULL;
	if (dir == NULL) {
		int why = errno;

		folder_old_free(o);
		if (why == ENOENT)
			return 0;
		return io_error(err, errlen, "cannot read the folder that holds %s: %s", blob_dir,
		                strerror(why));
	}
	while ((de = readdir(dir)) != NULL) {
		struct old_tree *grown;

		if (old_job_id(de->d_name, slash + 1) == NULL ||
		    (fd = folder_old_lock(o->parent_fd, de->d_name)) == -2)
			continue;
		if (fd < 0) {
			io_error(err, errlen, "cannot open %s/%s: %s", o->parent, de->d_name,
			         strerror(errno));
			(void)closedir(dir);
			folder_old_free(o);
			return -1;
		}
		grown = realloc(o->trees, (o->ntrees + 1) * sizeof(*grown));
		if (grown == NULL) {
			(void)close(fd); /* only read */
			(void)closedir(dir);
			folder_old_free(o);
			return io_error(err, errlen, "out of memory");
		}
		o->trees = grown;
		o->trees[o->ntrees].fd = fd;
		snprintf(o->trees[o->ntrees].name, sizeof(o->trees[0].name), "%s", de->d_name);
		o->ntrees++;
	}
	(void)closedir(dir);
	if (o->ntrees == 0) {
		folder_old_free(o);
		return 0;
	}
	*out = o;
	return 0;
}

int
folder_old_remove(struct folder_old *o, store_old_done_fn done, void *ctx)
{
	const char *blob_name = strrchr(o->blob_dir, '/') + 1;
	char err[PATH_MAX + 256];
	int rc = 0;

	for (size_t i = 0; i < o->ntrees; i++) {
		double t0 = now_s();
		const char *job_id = old_job_id(o->trees[i].name, blob_name);

		if (folder_old_remove_locked(o->parent_fd, o->trees[i].name, o->trees[i].fd) == 0) {
			done(ctx, job_id, now_s() - t0, NULL);
			continue;
		}
		io_error(err, sizeof(err),
		         "the old files swapped out of %s could not all be removed (%s): what is "
		         "left of them is in %s/%s; remove it as the owner of its files",
		         o->blob_dir, strerror(errno), o->parent, o->trees[i].name);
		done(ctx, job_id, now_s() - t0, err);
		rc = -1;
	}
	return rc;
}
