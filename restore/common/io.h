/*
 * io.h - what every module needs, done once: writing a whole buffer, listing a folder
 * through a descriptor of its own, and formatting a one-sentence error.
 */
#ifndef IO_H
#define IO_H

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

/* io_write_all: write all of buf to fd, retrying short writes and EINTR; 0 or -1 (errno). */
int io_write_all(int fd, const void *buf, size_t len);

/*
 * io_opendir: open dir_fd/name (name "." for dir_fd itself) for readdir, never through a
 * link, with a descriptor of its own: a dup() would share dir_fd's offset, so a second
 * listing would start where the first ended. NULL with errno.
 */
DIR *io_opendir(int dir_fd, const char *name);

/*
 * io_read_small: the whole of dir_fd/name (never through a link, never waiting on a FIFO),
 * NUL-terminated, when it holds at most limit bytes; the caller frees it. NULL with errno
 * (EFBIG when it is larger).
 */
char *io_read_small(int dir_fd, const char *name, size_t limit, size_t *len);

/*
 * io_error: format a sentence into err (errlen bytes), on one line: control characters such
 * as '\n', '\r' and '\t' become spaces; always returns -1.
 */
int io_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* io_user_name: uid's name from the user database, or "uid N", in buf; returns buf. */
const char *io_user_name(uid_t uid, char *buf, size_t buflen);

/* io_group_name: gid's name from the group database, or "gid N", in buf; returns buf. */
const char *io_group_name(gid_t gid, char *buf, size_t buflen);

#endif
