/*
 * dump_in_place.c - a bare dump handed to pg_restore where it lies (see dump_in_place.h):
 * whether a file may be read in place, the descriptor kept for it, the check that it did not
 * change, and the /dev/fd name pg_restore opens it by.
 *
 * Why the status proves the bytes: every write, truncation or link count change sets the
 * file's ctime to the kernel's clock (the coarse real-time clock, cut to the file system's
 * granularity), never to a time a user chooses. A change after the status was taken gets a
 * ctime of that moment or later, so it shows unless the status's ctime is itself of that
 * moment's clock tick: dump_in_place_usable refuses such a fresh file (git calls it "racily
 * clean"). The clock stepped back by exactly the right amount could fool it; so could root.
 *
 * Why the duplicate is inheritable only while shared: spawn.c relies on every descriptor
 * being close-on-exec. The database thread shares the dump just around the pg_restore it
 * starts; no other thread starts a program meanwhile (the walk, the only other, starts none).
 */
#include "dump_in_place.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL

/* ns: a timespec in nanoseconds. */
static int64_t
ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * NS_PER_S + t->tv_nsec;
}

/* dump_in_place_init: nothing read in place, nothing shared (dump_in_place.h). */
void
dump_in_place_init(struct dump_in_place *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->shared_fd = -1;
}

/* dump_in_place_usable: may the file on fd be read in place (dump_in_place.h)? */
bool
dump_in_place_usable(int fd, const struct stat *st, const struct timespec *before)
{
	/* A ctime of whole seconds: the file system may keep no more (ext4's small inodes). */
	int64_t granularity = st->st_ctim.tv_nsec != 0 ? NS_PER_S / 100 : NS_PER_S;
	struct stat again;
	char path[32];
	int probe;

	if (!S_ISREG(st->st_mode) || ns(before) < ns(&st->st_ctim) + granularity)
		return false;
	/* pg_restore will open /dev/fd/N: it must be there and name this very file. */
	snprintf(path, sizeof(path), "/dev/fd/%d", fd);
	probe = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (probe < 0)
		return false;
	if (fstat(probe, &again) < 0 || again.st_dev != st->st_dev || again.st_ino != st->st_ino) {
		(void)close(probe);
		return false;
	}
	return close(probe) == 0;
}

/* dump_in_place_take: keep a duplicate of fd, and st, in p (dump_in_place.h). */
int
dump_in_place_take(struct dump_in_place *p, int fd, const struct stat *st)
{
	p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (p->fd < 0)
		return -1;
	p->was = *st;
	return 0;
}

/* dump_in_place_check: is the file as it was before it was read (dump_in_place.h)? */
int
dump_in_place_check(const struct dump_in_place *p, const char *name, char *err, size_t errlen)
{
	struct stat now;

	if (fstat(p->fd, &now) < 0) {
		snprintf(err, errlen, "%s: cannot examine it again: %s", name, strerror(errno));
		return -1;
	}
	if (now.st_size != p->was.st_size) {
		snprintf(
		    err, errlen,
		    "%s changed while it was restored (it held %lld bytes when it was measured, "
		    "now %lld); restore it again once nothing writes it",
		    name, (long long)p->was.st_size, (long long)now.st_size);
		return -1;
	}
	if (ns(&now.st_mtim) != ns(&p->was.st_mtim) || ns(&now.st_ctim) != ns(&p->was.st_ctim)) {
		snprintf(err, errlen,
		         "%s changed while it was restored (its modification or change time "
		         "moved since it was measured); restore it again once nothing writes it",
		         name);
		return -1;
	}
	return 0;
}

/* dump_in_place_share: make p->path name the dump for programs started now (dump_in_place.h). */
int
dump_in_place_share(struct dump_in_place *p, char *err, size_t errlen)
{
	dump_in_place_unshare(p);
	p->shared_fd = fcntl(p->fd, F_DUPFD, 3);
	if (p->shared_fd < 0) {
		snprintf(err, errlen, "cannot hand the dump to pg_restore: %s", strerror(errno));
		return -1;
	}
	snprintf(p->path, sizeof(p->path), "/dev/fd/%d", p->shared_fd);
	return 0;
}

/* dump_in_place_unshare: close the descriptor dump_in_place_share made (dump_in_place.h). */
void
dump_in_place_unshare(struct dump_in_place *p)
{
	/* Read only: a failed close loses nothing. */
	if (p->shared_fd >= 0)
		(void)close(p->shared_fd);
	p->shared_fd = -1;
	p->path[0] = '\0';
}

/* dump_in_place_close: unshare, and close the dump (dump_in_place.h). */
void
dump_in_place_close(struct dump_in_place *p)
{
	dump_in_place_unshare(p);
	if (p->fd >= 0)
		(void)close(p->fd); /* read only, as above */
	p->fd = -1;
}
