/*
 * test_dump_in_place.c - a bare dump read where it lies (dump_in_place.h), on real files:
 * a file changed in the current tick of the file system's clock (or its second, when its
 * times are whole seconds) is not read in place, an older one is; /dev/fd must name the very
 * file; the check sees a same-size rewrite and a change of size, and passes an untouched
 * file; the shared name is inherited by a program (and only that descriptor lacks
 * close-on-exec), and unsharing closes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dump_in_place.h"

static int passed, failed;

/* check: count one assertion, saying what failed. */
static void __attribute__((format(printf, 2, 3))) check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* later: t plus ms milliseconds. */
static struct timespec
later(struct timespec t, long ms)
{
	t.tv_nsec += ms * 1000000L;
	t.tv_sec += t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	return t;
}

/* pause_ms: sleep ms milliseconds. */
static void
pause_ms(long ms)
{
	struct timespec t = {0, ms * 1000000L};

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

int
main(void)
{
	char dir[] = "/tmp/test_dump_in_place.XXXXXX", path[128], cmd[512], err[512];
	struct timespec before, now;
	struct dump_in_place p;
	struct stat st, whole;
	int fd, writer;

	if (mkdtemp(dir) == NULL) {
		printf("not ok - mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/db.backup", dir);

	/* Written after the clock was read: fresh, not read in place. */
	clock_gettime(CLOCK_REALTIME_COARSE, &before);
	writer = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (writer < 0 || write(writer, "PGDMP and the rest", 18) != 18) {
		printf("not ok - cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("not ok - cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	check(!dump_in_place_usable(fd, &st, &before),
	      "a file changed after the clock was read is usable");

	/* The rule itself: 10 ms past a ctime with nanoseconds, a second past whole seconds. */
	st.st_ctim.tv_nsec = st.st_ctim.tv_nsec != 0 ? st.st_ctim.tv_nsec : 1;
	now = later(st.st_ctim, 5);
	check(!dump_in_place_usable(fd, &st, &now), "5 ms after the ctime is usable");
	now = later(st.st_ctim, 10);
	check(dump_in_place_usable(fd, &st, &now), "10 ms after the ctime is not usable");
	whole = st;
	whole.st_ctim.tv_nsec = 0;
	now = later(whole.st_ctim, 999);
	check(!dump_in_place_usable(fd, &whole, &now),
	      "999 ms after a whole-second ctime is usable");
	now = later(whole.st_ctim, 1000);
	check(dump_in_place_usable(fd, &whole, &now),
	      "a second after a whole-second ctime is not usable");
	whole = st;
	whole.st_ino++;
	now = later(st.st_ctim, 1000);
	check(!dump_in_place_usable(fd, &whole, &now), "a file /dev/fd does not name is usable");
	whole = st;
	whole.st_mode = S_IFIFO | 0600;
	check(!dump_in_place_usable(fd, &whole, &now), "a FIFO is usable");

	/* Older than a tick: usable as measured now; unchanged passes the check. */
	pause_ms(30);
	clock_gettime(CLOCK_REALTIME_COARSE, &before);
	if (fstat(fd, &st) < 0) {
		printf("not ok - fstat: %s\n", strerror(errno));
		return 1;
	}
	check(dump_in_place_usable(fd, &st, &before), "a file 30 ms old is not usable");
	dump_in_place_init(&p);
	check(dump_in_place_take(&p, fd, &st) == 0 && p.fd != fd && p.fd >= 3,
	      "dump_in_place_take keeps no duplicate");
	check((fcntl(p.fd, F_GETFD) & FD_CLOEXEC) != 0, "the kept duplicate lacks close-on-exec");
	check(dump_in_place_check(&p, "db.backup", err, sizeof(err)) == 0,
	      "an untouched file fails the check: %s", err);

	/* Shared: a program reads it by /dev/fd/N; only that descriptor is inherited. */
	check(dump_in_place_share(&p, err, sizeof(err)) == 0, "share: %s", err);
	check(strncmp(p.path, "/dev/fd/", 8) == 0 && p.shared_fd >= 3 &&
	          (fcntl(p.shared_fd, F_GETFD) & FD_CLOEXEC) == 0,
	      "shared as '%s' (fd %d) with close-on-exec", p.path, p.shared_fd);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", p.path, path);
	check(system(cmd) == 0, "a program cannot read %s", p.path);
	{
		int shared = p.shared_fd;

		dump_in_place_unshare(&p);
		check(p.shared_fd == -1 && p.path[0] == '\0' && fcntl(shared, F_GETFD) < 0,
		      "unshare left fd %d open", shared);
	}

	/* A same-size rewrite, then a change of size: both fail the check. */
	if (pwrite(writer, "X", 1, 2) != 1) {
		printf("not ok - pwrite: %s\n", strerror(errno));
		return 1;
	}
	check(dump_in_place_check(&p, "db.backup", err, sizeof(err)) < 0 &&
	          strstr(err, "db.backup changed while it was restored") != NULL,
	      "a same-size rewrite passes the check (%s)", err);
	if (write(writer, "more", 4) != 4) {
		printf("not ok - write: %s\n", strerror(errno));
		return 1;
	}
	check(dump_in_place_check(&p, "db.backup", err, sizeof(err)) < 0 &&
	          strstr(err, "it held 18 bytes when it was measured, now 22") != NULL,
	      "a grown file passes the check, or says so badly (%s)", err);

	dump_in_place_close(&p);
	check(p.fd == -1, "close left the dump open");
	(void)close(writer);
	(void)close(fd);
	(void)unlink(path);
	(void)rmdir(dir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
