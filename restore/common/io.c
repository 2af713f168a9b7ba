/*
 * io.c - whole writes and fresh folder listings (see io.h).
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
