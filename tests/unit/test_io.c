/*
 * test_io.c - io_error, the one error formatter: every message is one line, whatever the
 * text it quotes holds (a server's message, a file name), and it never writes past errlen.
 * And the atomic write (io_write_atomic and its steps), on real files in a fresh folder: the
 * file appears whole or not at all, an existing one is replaced, the temporary is gone after
 * success and after failure (but never one it did not make), and errors name the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

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

/* content_is: does dir_fd/name hold exactly text? */
static bool
content_is(int dir_fd, const char *name, const char *text)
{
	size_t len;
	char *have = io_read_small(dir_fd, name, 1 << 20, &len);
	bool same = have != NULL && len == strlen(text) && memcmp(have, text, len) == 0;

	free(have);
	return same;
}

/* exists: is there anything called name in dir_fd (a link not followed)? */
static bool
exists(int dir_fd, const char *name)
{
	struct stat st;

	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* put: dir_fd/name := text, plainly (a test's starting state). */
static void
put(int dir_fd, const char *name, const char *text)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || io_write_all(fd, text, strlen(text)) < 0 || close(fd) < 0) {
		printf("not ok - cannot set up %s: %s\n", name, strerror(errno));
		exit(1);
	}
}

/* test_atomic: io_write_atomic and its steps, in the folder dir (open as dir_fd). */
static void
test_atomic(const char *dir, int dir_fd)
{
	char err[512], want[1024];
	struct io_atomic a;
	struct stat st;

	/* A new file: whole, with its mode, the temporary gone. */
	umask(0);
	a = (struct io_atomic){.dir_fd = dir_fd, .name = "new", .tmp = ".new.tmp", .mode = 0640};
	check(io_write_atomic(&a, "hello\n", 6, err, sizeof(err)) == 0, "new file: %s", err);
	check(content_is(dir_fd, "new", "hello\n"), "new file: not its content");
	check(fstatat(dir_fd, "new", &st, 0) == 0 && (st.st_mode & 07777) == 0640,
	      "new file: mode %o, expected 640", (unsigned)(st.st_mode & 07777));
	check(!exists(dir_fd, ".new.tmp"), "new file: the temporary is left");
	check(a.renamed && a.fd == -1, "new file: renamed %d, fd %d", a.renamed, a.fd);
	umask(022);

	/* An existing file is replaced; a temporary left by a crash is written over. */
	put(dir_fd, "old", "the old content\n");
	put(dir_fd, ".old.tmp", "half of a crashed wr");
	a = (struct io_atomic){.dir_fd = dir_fd, .name = "old", .tmp = ".old.tmp", .mode = 0644};
	check(io_write_atomic(&a, "new", 3, err, sizeof(err)) == 0, "replace: %s", err);
	check(content_is(dir_fd, "old", "new"), "replace: not the new content");
	check(!exists(dir_fd, ".old.tmp"), "replace: the temporary is left");

	/* In steps: until the commit, readers see the old file whole. */
	a = (struct io_atomic){.dir_fd = dir_fd, .name = "old", .tmp = "old.part", .mode = 0644};
	check(io_atomic_open(&a, err, sizeof(err)) == 0, "steps: %s", err);
	check(io_atomic_write(&a, "first half, ", 12, err, sizeof(err)) == 0, "steps: %s", err);
	check(content_is(dir_fd, "old", "new"), "steps: the file changed before the commit");
	check(io_atomic_write(&a, "second half", 11, err, sizeof(err)) == 0, "steps: %s", err);
	check(io_atomic_commit(&a, err, sizeof(err)) == 0, "steps: %s", err);
	check(content_is(dir_fd, "old", "first half, second half"), "steps: not the whole");
	check(!exists(dir_fd, "old.part"), "steps: the temporary is left");

	/* Aborted: the old file stays whole, the temporary goes. */
	a = (struct io_atomic){.dir_fd = dir_fd, .name = "old", .tmp = "old.part", .mode = 0644};
	check(io_atomic_open(&a, err, sizeof(err)) == 0, "abort: %s", err);
	check(io_atomic_write(&a, "never", 5, err, sizeof(err)) == 0, "abort: %s", err);
	io_atomic_abort(&a);
	check(content_is(dir_fd, "old", "first half, second half"), "abort: the file changed");
	check(!exists(dir_fd, "old.part"), "abort: the temporary is left");

	/* Without fsync (IO_ATOMIC_NO_SYNC) the same, but for durability. */
	a = (struct io_atomic){.dir_fd = dir_fd,
	                       .name = "progress",
	                       .tmp = ".progress.tmp",
	                       .mode = 0644,
	                       .flags = IO_ATOMIC_NO_SYNC};
	check(io_write_atomic(&a, "50%", 3, NULL, 0) == 0, "no sync: failed");
	check(content_is(dir_fd, "progress", "50%"), "no sync: not its content");

	/* A write that fails (the file size limit): the old file stays, the temporary goes. */
	{
		struct rlimit old_limit, limit;
		char big[4096];
		int rc;

		memset(big, 'x', sizeof(big));
		signal(SIGXFSZ, SIG_IGN);
		getrlimit(RLIMIT_FSIZE, &old_limit);
		limit = old_limit;
		limit.rlim_cur = 1024;
		setrlimit(RLIMIT_FSIZE, &limit);
		a = (struct io_atomic){.dir_fd = dir_fd,
		                       .dir_shown = dir,
		                       .name = "old",
		                       .tmp = ".old.tmp",
		                       .mode = 0644};
		rc = io_write_atomic(&a, big, sizeof(big), err, sizeof(err));
		setrlimit(RLIMIT_FSIZE, &old_limit);
		snprintf(want, sizeof(want), "cannot write %s/old: %s", dir, strerror(EFBIG));
		check(rc == -1 && strcmp(err, want) == 0, "write fails: rc %d, '%s', expected '%s'",
		      rc, err, want);
		check(content_is(dir_fd, "old", "first half, second half"),
		      "write fails: the file changed");
		check(!exists(dir_fd, ".old.tmp"), "write fails: the temporary is left");
	}

	/* The rename fails (a folder holds the name): nothing changes, the temporary goes. */
	if (mkdirat(dir_fd, "folder", 0755) < 0 || mkdirat(dir_fd, "folder/inside", 0755) < 0)
		check(false, "cannot make folder/inside: %s", strerror(errno));
	a = (struct io_atomic){.dir_fd = dir_fd,
	                       .dir_shown = dir,
	                       .name = "folder",
	                       .tmp = "folder.tmp",
	                       .mode = 0644};
	snprintf(want, sizeof(want), "cannot rename %s/folder.tmp to folder: ", dir);
	check(io_write_atomic(&a, "x", 1, err, sizeof(err)) == -1 &&
	          strncmp(err, want, strlen(want)) == 0,
	      "rename fails: '%s', expected '%s...'", err, want);
	check(!a.renamed && exists(dir_fd, "folder/inside"), "rename fails: the folder changed");
	check(!exists(dir_fd, "folder.tmp"), "rename fails: the temporary is left");

	/* The temporary cannot be made (a symbolic link there): what is there stays. */
	if (symlinkat("old", dir_fd, "link.tmp") < 0)
		check(false, "cannot make link.tmp: %s", strerror(errno));
	a = (struct io_atomic){.dir_fd = dir_fd, .name = "linked", .tmp = "link.tmp", .mode = 0644};
	check(io_write_atomic(&a, "x", 1, err, sizeof(err)) == -1 &&
	          strncmp(err, "cannot create link.tmp: ", 24) == 0,
	      "link: '%s', expected 'cannot create link.tmp: ...'", err);
	check(exists(dir_fd, "link.tmp") && !exists(dir_fd, "linked") &&
	          content_is(dir_fd, "old", "first half, second half"),
	      "link: the link was followed or removed");

	/* IO_ATOMIC_EXCL: a temporary that exists is someone's; it is neither used nor removed. */
	put(dir_fd, "taken.part", "someone else's");
	a = (struct io_atomic){.dir_fd = dir_fd,
	                       .name = "taken",
	                       .tmp = "taken.part",
	                       .mode = 0644,
	                       .flags = IO_ATOMIC_EXCL};
	check(io_atomic_open(&a, err, sizeof(err)) == -1 && strstr(err, "taken.part") != NULL,
	      "exclusive: '%s'", err);
	io_atomic_abort(&a);
	check(content_is(dir_fd, "taken.part", "someone else's") && !exists(dir_fd, "taken"),
	      "exclusive: the existing temporary was touched");
}

struct error_case {
	const char *name;
	const char *quoted; /* formatted into "restoring x failed: %s" */
	size_t errlen;
	const char *expected;
};

static const struct error_case cases[] = {
    {"plain", "no such table", 100, "restoring x failed: no such table"},
    {"newline", "unterminated dollar-quoted string at or near \"$_$\nbegin\"", 100,
     "restoring x failed: unterminated dollar-quoted string at or near \"$_$ begin\""},
    {"carriage return and tab", "a\r\nb\tc", 100, "restoring x failed: a  b c"},
    {"other control characters", "a\x01\x1b[31mb\x7f", 100, "restoring x failed: a  [31mb "},
    {"trailing newline", "server closed the connection\n", 100,
     "restoring x failed: server closed the connection "},
    {"UTF-8 is kept", "tabl\xc3\xa9 \xe2\x80\x94 ok", 100,
     "restoring x failed: tabl\xc3\xa9 \xe2\x80\x94 ok"},
    {"cut to fit, still one line", "a\nb\nc\nd", 24, "restoring x failed: a b"},
};

int
main(void)
{
	char dir[] = "/tmp/test_io.XXXXXX";
	int dir_fd;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[128];
		int rc;

		memset(err, '#', sizeof(err));
		rc = io_error(err, cases[i].errlen, "restoring x failed: %s", cases[i].quoted);
		if (rc == -1 && strcmp(err, cases[i].expected) == 0 &&
		    (cases[i].errlen >= sizeof(err) || err[cases[i].errlen] == '#')) {
			passed++;
		} else {
			failed++;
			printf("not ok - %s: rc %d, got '%s', expected '%s'\n", cases[i].name, rc,
			       err, cases[i].expected);
		}
	}

	/* No room at all: nothing is written. */
	{
		char err[4] = "###";

		if (io_error(err, 0, "x\n%s", "y") == -1 && strcmp(err, "###") == 0)
			passed++;
		else
			failed++, printf("not ok - errlen 0 wrote '%s'\n", err);
	}

	if (mkdtemp(dir) == NULL || (dir_fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0) {
		printf("not ok - cannot make a folder %s: %s\n", dir, strerror(errno));
		return 1;
	}
	test_atomic(dir, dir_fd);
	/* What the cases leave: anything else is a temporary they should have removed. */
	static const char *const left[] = {"new", "old", "progress", "link.tmp", "taken.part"};
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
		(void)unlinkat(dir_fd, left[i], 0);
	(void)unlinkat(dir_fd, "folder/inside", AT_REMOVEDIR);
	(void)unlinkat(dir_fd, "folder", AT_REMOVEDIR);
	(void)close(dir_fd);
	check(rmdir(dir) == 0, "%s holds more than the cases made: %s", dir, strerror(errno));
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
