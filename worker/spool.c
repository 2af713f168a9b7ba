/*
 * spool.c - the spool protocol (see spool.h): its folders, the names it takes
 * or ignores, the targets' locks, atomic writes, and the end of a claimed job (filed into
 * done/ or failed/, discarded, or released). Taking a job, and the claim file that records
 * how far it got, are spool_claim.c's.
 *
 * Every change of state is a rename within the spool's filesystem, followed by an fsync of
 * the folders involved, so a crash leaves each job in exactly one folder. Locks are Linux
 * open-file-description locks (F_OFD_SETLK): unlike POSIX record locks they are not lost
 * when another descriptor of the same file is closed, and they conflict between descriptors
 * of one process too, which is what a worker scanning its own active jobs needs.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

#define REPORT_FILE "report.json"

/*
 * spool_own_like_folder: when root, give fd (just created in dir_fd) the folder's owner and group,
 * so that a command run by root never leaves in the spool what its owner cannot use; 0 or -1.
 * Only what root made is given away: a folder or a file with one link, owned by root. A file
 * the spool's owner linked in (a hard link to someone else's file, or to root's) stays whose
 * it is: root must never be tricked into giving the spool's owner another file.
 */
int
spool_own_like_folder(int dir_fd, int fd)
{
	struct stat dir, st;

	if (geteuid() != 0)
		return 0;
	if (fstat(dir_fd, &dir) < 0 || fstat(fd, &st) < 0)
		return -1;
	if (st.st_uid == dir.st_uid && st.st_gid == dir.st_gid)
		return 0;
	if (st.st_uid != 0 || !(S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink == 1)))
		return 0;
	return fchown(fd, dir.st_uid, dir.st_gid);
}

/* open_folder: open (creating if missing) dir_fd/name as a folder, never through a link. */
static int
open_folder(int dir_fd, const char *name, mode_t mode)
{
	bool created = mkdirat(dir_fd, name, mode) == 0;
	int fd;

	if (!created && errno != EEXIST)
		return -1;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && created && spool_own_like_folder(dir_fd, fd) < 0) {
		int saved = errno;

		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static const char *const folder_names[] = {"tmp", "incoming", "active", "done", "failed", "locks"};

/* spool_folders: the descriptors of the folders, in folder_names' order. */
static void
spool_folders(struct spool *sp, int **fds)
{
	fds[0] = &sp->tmp_fd;
	fds[1] = &sp->incoming_fd;
	fds[2] = &sp->active_fd;
	fds[3] = &sp->done_fd;
	fds[4] = &sp->failed_fd;
	fds[5] = &sp->locks_fd;
}

/* spool_open_as: spool_open, creating what is missing only when create. */
static int
spool_open_as(const char *dir, struct spool *sp, bool create, char *err, size_t errlen)
{
	int *fds[6];

	memset(sp, 0, sizeof(*sp));
	spool_folders(sp, fds);
	sp->root_fd = -1;
	for (size_t i = 0; i < 6; i++)
		*fds[i] = -1;
	if (create && mkdir(dir, 0755) < 0 && errno != EEXIST)
		return io_error(err, errlen, "cannot create spool_dir %s: %s", dir,
		                strerror(errno));
	sp->dir = strdup(dir);
	if (sp->dir == NULL)
		return io_error(err, errlen, "out of memory");
	sp->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->root_fd < 0) {
		if (!create && errno == ENOENT)
			return 0; /* nothing there yet: an empty spool */
		io_error(err, errlen, "cannot open spool_dir %s: %s", dir, strerror(errno));
		spool_close(sp);
		return -1;
	}
	for (size_t i = 0; i < 6; i++) {
		*fds[i] = create ? open_folder(sp->root_fd, folder_names[i], 0755)
		                 : openat(sp->root_fd, folder_names[i],
		                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*fds[i] < 0 && (create || errno != ENOENT)) {
			io_error(err, errlen, "cannot open %s/%s: %s", dir, folder_names[i],
			         strerror(errno));
			spool_close(sp);
			return -1;
		}
	}
	return 0;
}

int
spool_open(const char *dir, struct spool *sp, char *err, size_t errlen)
{
	return spool_open_as(dir, sp, true, err, errlen);
}

int
spool_open_existing(const char *dir, struct spool *sp, char *err, size_t errlen)
{
	return spool_open_as(dir, sp, false, err, errlen);
}

void
spool_close(struct spool *sp)
{
	int *fds[6];

	spool_folders(sp, fds);
	for (size_t i = 0; i < 6; i++) {
		if (*fds[i] >= 0)
			(void)close(*fds[i]);
		*fds[i] = -1;
	}
	if (sp->root_fd >= 0)
		(void)close(sp->root_fd);
	sp->root_fd = -1;
	free(sp->dir);
	sp->dir = NULL;
}

int
spool_ensure_target(struct spool *sp, const char *target, char *err, size_t errlen)
{
	int fd = open_folder(sp->incoming_fd, target, 0755);

	if (fd < 0)
		return io_error(err, errlen, "cannot create %s/incoming/%s: %s", sp->dir, target,
		                strerror(errno));
	(void)close(fd);
	return 0;
}

char *
spool_previous_dir(const struct spool *sp, const char *target, char *err, size_t errlen)
{
	int prev = open_folder(sp->root_fd, "previous", 0750), fd = -1;
	char *path = NULL;

	if (prev >= 0)
		fd = open_folder(prev, target, 0750);
	if (fd < 0)
		(void)io_error(err, errlen, "cannot create %s/previous/%s: %s", sp->dir, target,
		               strerror(errno));
	else if (asprintf(&path, "%s/previous/%s", sp->dir, target) < 0)
		path = NULL, (void)io_error(err, errlen, "out of memory");
	if (fd >= 0)
		(void)close(fd);
	if (prev >= 0)
		(void)close(prev);
	return path;
}

/* ends_with: does name end in suffix? */
static bool
ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return n > m && strcmp(name + n - m, suffix) == 0;
}

bool
spool_name_ignored(const char *name)
{
	return name[0] == '.' || ends_with(name, ".part") || ends_with(name, ".tmp") ||
	       ends_with(name, ".partial");
}

bool
spool_name_is_jobfile(const char *name)
{
	return ends_with(name, ".yaml") || ends_with(name, ".yml");
}

bool
spool_submit_job_id(const char *name, char id[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(name);

	if (n != strlen("submit-") + 36 + strlen(".yaml") || strncmp(name, "submit-", 7) != 0 ||
	    strcmp(name + n - 5, ".yaml") != 0)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = name[7 + i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? c != '-' : c == '\0' || strchr(hex, c) == NULL)
			return false;
	}
	snprintf(id, 37, "%.36s", name + 7);
	return true;
}

/* spool_lock_fd: an exclusive OFD lock on the whole file, without waiting; 0 or -1. */
int
spool_lock_fd(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_OFD_SETLK, &fl);
}

int
spool_lock_target(struct spool *sp, const char *target)
{
	char name[SPOOL_NAME_MAX + 1];
	int fd, saved;

	snprintf(name, sizeof(name), "%s.lock", target);
	fd = openat(sp->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	/* Root's lock file (a manual restore) must stay usable by the worker it shares it with. */
	if (spool_own_like_folder(sp->locks_fd, fd) < 0 || spool_lock_fd(fd) < 0) {
		saved = errno == EACCES ? EAGAIN : errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
spool_unlock(int fd)
{
	if (fd >= 0)
		(void)close(fd);
}

int
spool_write_atomic(int dir_fd, const char *name, const char *data, size_t len, char *err,
                   size_t errlen)
{
	char tmp[SPOOL_NAME_MAX + 8];
	struct io_atomic a = {.dir_fd = dir_fd, .name = name, .tmp = tmp, .mode = 0644};

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (io_atomic_open(&a, err, errlen) < 0)
		return -1;
	if (spool_own_like_folder(dir_fd, a.fd) < 0) {
		io_error(err, errlen, "cannot write %s: %s", name, strerror(errno));
		goto fail;
	}
	if (io_atomic_write(&a, data, len, err, errlen) < 0 ||
	    io_atomic_commit(&a, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	io_atomic_abort(&a);
	return -1;
}

int
spool_finish(struct spool *sp, struct spool_claim *claim, bool succeeded, const char *report_json,
             char *err, size_t errlen)
{
	int to_fd = succeeded ? sp->done_fd : sp->failed_fd;

	if (report_json != NULL && spool_write_atomic(claim->job_fd, REPORT_FILE, report_json,
	                                              strlen(report_json), err, errlen) < 0)
		return -1;
	(void)unlinkat(claim->job_fd, SPOOL_CLAIM_FILE, 0);
	if (renameat(sp->active_fd, claim->job_id, to_fd, claim->job_id) < 0)
		return io_error(err, errlen, "cannot move job %s to %s/: %s", claim->job_id,
		                succeeded ? "done" : "failed", strerror(errno));
	if (fsync(sp->active_fd) < 0 || fsync(to_fd) < 0)
		return io_error(err, errlen, "cannot make the end of job %s durable: %s",
		                claim->job_id, strerror(errno));
	spool_release(claim);
	return 0;
}

void
spool_discard(struct spool *sp, struct spool_claim *claim)
{
	if (claim->job_fd >= 0)
		(void)unlinkat(claim->job_fd, SPOOL_CLAIM_FILE, 0);
	spool_release(claim);
	(void)io_remove_tree(sp->active_fd, claim->job_id);
}

void
spool_release(struct spool_claim *claim)
{
	if (claim->fd >= 0)
		(void)close(claim->fd);
	if (claim->job_fd >= 0)
		(void)close(claim->job_fd);
	claim->fd = claim->job_fd = -1;
}
