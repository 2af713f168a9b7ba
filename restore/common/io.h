/*
 * io.h - what every module needs, done once: writing a whole buffer, writing a file
 * atomically, listing a folder through a descriptor of its own, and formatting a
 * one-sentence error.
 */
#ifndef IO_H
#define IO_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* io_write_all: write all of buf to fd, retrying short writes and EINTR; 0 or -1 (errno). */
int io_write_all(int fd, const void *buf, size_t len);

/*
 * Writing a file atomically: a reader of dir_fd/name sees the old file or the new one, never a
 * part. The new content goes into a temporary file in the same folder, which is written
 * whole, fsynced and closed (the close checked), then renamed over name; then the folder is
 * fsynced, so that the rename survives a crash. In one call (io_write_atomic) or in steps
 * (io_atomic_open, writes to .fd, io_atomic_commit; io_atomic_abort after any failure) when
 * the caller does something to the file between (fchown, fchmod, a stream of writes).
 * Messages name the file as dir_shown/name (or name alone) and say what failed.
 */
struct io_atomic {
	int dir_fd;            /* the folder */
	const char *dir_shown; /* the folder as messages name it; NULL: names alone */
	const char *name;      /* the file's name in the folder */
	const char *tmp;       /* the temporary file's name in the same folder */
	mode_t mode;           /* the temporary's mode at its creation (the umask applies) */
	unsigned flags;        /* IO_ATOMIC_ */
	int fd;                /* the temporary, open for writing; -1 when closed */
	bool made;             /* the temporary exists and is this writer's to remove */
	bool renamed;          /* io_atomic_commit renamed it: name holds the new content */
};

#define IO_ATOMIC_EXCL    1u /* tmp must not exist yet (O_EXCL); else an old one is replaced */
#define IO_ATOMIC_NO_SYNC 2u /* no fsync: a file whose loss in a crash costs nothing */

/* io_atomic_open: create a->tmp in a->dir_fd as a->fd, never through a link; 0 or -1 with err. */
int io_atomic_open(struct io_atomic *a, char *err, size_t errlen);

/* io_atomic_write: write all of data to a->fd; 0 or -1 with err ("cannot write NAME: ..."). */
int io_atomic_write(struct io_atomic *a, const void *data, size_t len, char *err, size_t errlen);

/*
 * io_atomic_commit: fsync a->fd, close it (always; a->fd is -1 after), rename a->tmp to
 * a->name and fsync the folder; 0 or -1 with err. After a failure a->renamed says whether the
 * new content is in place all the same (only the folder's fsync failed); io_atomic_abort
 * removes the temporary when it is not.
 */
int io_atomic_commit(struct io_atomic *a, char *err, size_t errlen);

/*
 * io_atomic_abort: close a->fd if open, and remove the temporary if it was made and not
 * renamed (never a file io_atomic_open could not create).
 */
void io_atomic_abort(struct io_atomic *a);

/*
 * io_write_atomic: a->name := data (len bytes), atomically (open, write, commit); 0, or -1
 * with err and the temporary removed (a->renamed as after io_atomic_commit).
 */
int io_write_atomic(struct io_atomic *a, const void *data, size_t len, char *err, size_t errlen);

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

/* io_remove_tree: remove parent_fd/name and all below it, never following links; 0 or -1. */
int io_remove_tree(int parent_fd, const char *name);

#endif
