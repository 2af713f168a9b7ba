/*
 * io.c - whole writes, atomic file writes, fresh folder listings and one-line errors (see
 * io.h).
 */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* atomic_shown: which (a->name or a->tmp) as a's messages name it, in buf; returns buf. */
static const char *
atomic_shown(const struct io_atomic *a, const char *which, char *buf, size_t buflen)
{
	size_t n = a->dir_shown != NULL ? strlen(a->dir_shown) : 0;

	if (n == 0)
		snprintf(buf, buflen, "%s", which);
	else
		snprintf(buf, buflen, "%s%s%s", a->dir_shown, a->dir_shown[n - 1] == '/' ? "" : "/",
		         which);
	return buf;
}

int
io_atomic_open(struct io_atomic *a, char *err, size_t errlen)
{
	int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
	char shown[4096];

	flags |= (a->flags & IO_ATOMIC_EXCL) != 0 ? O_EXCL : O_TRUNC;
	a->made = a->renamed = false;
	a->fd = openat(a->dir_fd, a->tmp, flags, a->mode);
	if (a->fd < 0)
		return io_error(err, errlen, "cannot create %s: %s",
		                atomic_shown(a, a->tmp, shown, sizeof(shown)), strerror(errno));
	a->made = true;
	return 0;
}

int
io_atomic_write(struct io_atomic *a, const void *data, size_t len, char *err, size_t errlen)
{
	char shown[4096];

	if (io_write_all(a->fd, data, len) < 0)
		return io_error(err, errlen, "cannot write %s: %s",
		                atomic_shown(a, a->name, shown, sizeof(shown)), strerror(errno));
	return 0;
}

int
io_atomic_commit(struct io_atomic *a, char *err, size_t errlen)
{
	bool sync = (a->flags & IO_ATOMIC_NO_SYNC) == 0;
	int fd = a->fd, saved;
	char shown[4096], shown_tmp[4096];

	a->fd = -1;
	if (sync && fsync(fd) < 0) {
		saved = errno;
		(void)close(fd);
		return io_error(err, errlen, "cannot write %s: %s",
		                atomic_shown(a, a->name, shown, sizeof(shown)), strerror(saved));
	}
	/* A close can report what the writes could not (NFS, a full quota): it is checked. */
	if (close(fd) < 0)
		return io_error(err, errlen, "cannot write %s: %s",
		                atomic_shown(a, a->name, shown, sizeof(shown)), strerror(errno));
	if (renameat(a->dir_fd, a->tmp, a->dir_fd, a->name) < 0)
		return io_error(err, errlen, "cannot rename %s to %s: %s",
		                atomic_shown(a, a->tmp, shown_tmp, sizeof(shown_tmp)), a->name,
		                strerror(errno));
	a->made = false;
	a->renamed = true;
	if (sync && fsync(a->dir_fd) < 0)
		return io_error(err, errlen, "%s is written, but its folder cannot be synced: %s",
		                atomic_shown(a, a->name, shown, sizeof(shown)), strerror(errno));
	return 0;
}

void
io_atomic_abort(struct io_atomic *a)
{
	if (a->fd >= 0)
		(void)close(a->fd);
	a->fd = -1;
	if (a->made)
		(void)unlinkat(a->dir_fd, a->tmp, 0);
	a->made = false;
}

int
io_write_atomic(struct io_atomic *a, const void *data, size_t len, char *err, size_t errlen)
{
	if (io_atomic_open(a, err, errlen) < 0)
		return -1;
	if (io_atomic_write(a, data, len, err, errlen) < 0 ||
	    io_atomic_commit(a, err, errlen) < 0) {
		io_atomic_abort(a);
		return -1;
	}
	return 0;
}

DIR *
io_opendir(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir;
	int saved;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (dir == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return dir;
}

int
io_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* A message is one line: what it quotes (a server's message, a name) may hold breaks. */
	for (char *p = err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return -1;
}

char *
io_read_small(int dir_fd, const char *name, size_t limit, size_t *len)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char *buf;
	size_t have = 0;
	int saved;

	if (fd < 0)
		return NULL;
	buf = malloc(limit + 2);
	if (buf == NULL) {
		(void)close(fd);
		errno = ENOMEM;
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, buf + have, limit + 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			goto fail;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > limit) {
			saved = EFBIG;
			goto fail;
		}
	}
	(void)close(fd);
	buf[have] = '\0';
	*len = have;
	return buf;
fail:
	(void)close(fd);
	free(buf);
	errno = saved;
	return NULL;
}

const char *
io_user_name(uid_t uid, char *buf, size_t buflen)
{
	struct passwd pw, *found = NULL;
	char space[4096];

	if (getpwuid_r(uid, &pw, space, sizeof(space), &found) == 0 && found != NULL)
		snprintf(buf, buflen, "%s", found->pw_name);
	else
		snprintf(buf, buflen, "uid %lu", (unsigned long)uid);
	return buf;
}

const char *
io_group_name(gid_t gid, char *buf, size_t buflen)
{
	struct group gr, *found = NULL;
	char space[16384];

	if (getgrgid_r(gid, &gr, space, sizeof(space), &found) == 0 && found != NULL)
		snprintf(buf, buflen, "%s", found->gr_name);
	else
		snprintf(buf, buflen, "gid %lu", (unsigned long)gid);
	return buf;
}

int
io_remove_tree(int parent_fd, const char *name)
{
	int rc = 0;
	DIR *dir;
	struct dirent *de;

	if (unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	dir = io_opendir(parent_fd, name);
	if (dir == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (io_remove_tree(dirfd(dir), de->d_name) < 0)
			rc = -1;
	}
	(void)closedir(dir);
	if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0)
		rc = -1;
	return rc;
}
