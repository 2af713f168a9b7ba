/*
 * dump_in_place.h - a bare dump handed to pg_restore where it lies, instead of a copy in
 * work_dir.
 *
 * A database-only backup that is an uncompressed custom-format dump in a regular file is
 * measured and judged by the walk through a descriptor of its own; pg_restore then reads that
 * very file, by the name /dev/fd/N of a duplicate of the descriptor that only pg_restore
 * inherits (the same inode, even if the file was renamed or replaced since). That the bytes
 * pg_restore reads are those judged is proved by the file's status: its size, mtime and ctime
 * (which no one but the kernel sets, at every write, truncation, chmod or link) taken before
 * the walk read its first byte, and checked again once the dump was read and once pg_restore
 * has ended, before the restore can commit: any change fails the restore.
 *
 * A file whose ctime is so recent that a write now could leave it unchanged (within the
 * timestamp's granularity: 10 ms, or a second on file systems that keep whole seconds) is
 * copied as before, and so is one whose /dev/fd name does not open it (no /proc).
 *
 * Limits: a program that writes the file through a shared memory mapping it had already
 * dirtied before the walk began may change it without a new ctime until the kernel writes
 * the page back; such a writer of a backup file is not expected (the worker's spool moves its
 * claimed files into the job's folder).
 */
#ifndef DUMP_IN_PLACE_H
#define DUMP_IN_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

struct dump_in_place {
	int fd;          /* the dump, read in place; -1: it was copied (or not read yet) */
	struct stat was; /* its status before the walk read it */
	int shared_fd;   /* the inheritable duplicate pg_restore reads; -1 when not shared */
	char path[32];   /* "/dev/fd/<shared_fd>" while shared */
};

/* dump_in_place_init: nothing read in place, nothing shared. */
void dump_in_place_init(struct dump_in_place *p);

/*
 * dump_in_place_usable: may the file open on fd, whose status st was taken at or after the
 * time before (CLOCK_REALTIME_COARSE) and before any byte was read, be read in place?
 */
bool dump_in_place_usable(int fd, const struct stat *st, const struct timespec *before);

/* dump_in_place_take: keep a duplicate of fd, and st, in p; 0, or -1 (errno). */
int dump_in_place_take(struct dump_in_place *p, int fd, const struct stat *st);

/*
 * dump_in_place_check: is the file as it was before it was read? 0, or -1 with err naming it
 * (name) and saying what changed.
 */
int dump_in_place_check(const struct dump_in_place *p, const char *name, char *err, size_t errlen);

/*
 * dump_in_place_share: make p->path name the dump for the programs started until
 * dump_in_place_unshare (a descriptor without close-on-exec); 0, or -1 with err.
 */
int dump_in_place_share(struct dump_in_place *p, char *err, size_t errlen);

/* dump_in_place_unshare: close the descriptor dump_in_place_share made, if any. */
void dump_in_place_unshare(struct dump_in_place *p);

/* dump_in_place_close: unshare, and close the dump. */
void dump_in_place_close(struct dump_in_place *p);

#endif
