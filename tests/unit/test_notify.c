/*
 * test_notify.c - systemd's notification protocol: what notify_send() puts on the socket
 * named by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace), and that it is
 * silent without one; the watchdog interval read from the environment; and log lines: a
 * priority prefix when $JOURNAL_STREAM names stderr, a UTC timestamp otherwise, and the
 * priority of each shape of the engine's lines.
 */
#include <fcntl.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static int passed, failed;

/* check: count a result. */
static void
check(int ok, const char *what)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("not ok - %s\n", what);
	}
}

/* listen_on: a datagram socket bound to path (abstract when it starts with '@'). */
static int
listen_on(const char *path)
{
	struct sockaddr_un addr;
	struct timeval tv = {2, 0};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	socklen_t len;

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, len) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* expect_message: the next datagram on fd is text. */
static void
expect_message(int fd, const char *text, const char *what)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	check(n > 0 && strcmp(buf, text) == 0, what);
}

/* logged: what log_line(priority, job, "%s", message) writes on stderr, into buf. */
static void
logged(const char *file, enum log_priority priority, const char *job, const char *message,
       char *buf, size_t buflen)
{
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600), saved = dup(2);
	ssize_t n = -1;

	if (fd >= 0 && saved >= 0 && dup2(fd, 2) == 2) {
		log_line(priority, job, "%s", message);
		dup2(saved, 2);
		n = pread(fd, buf, buflen - 1, 0);
	}
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	if (saved >= 0)
		close(saved);
}

/* matches: does text match the extended regular expression pattern? */
static int
matches(const char *pattern, const char *text)
{
	regex_t re;
	int ok;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* check_log_lines: the prefix of log_line's lines, in and out of the journal. */
static void
check_log_lines(const char *dir)
{
	static const struct {
		const char *line;
		enum log_priority priority;
	} shapes[] = {
	    {"job 0b6f0a52-7c1e-4a57-9d64-1f1f3f1f3f1f: rejected: a.tar.gz: holds no dump",
	     LOG_PRIORITY_ERROR},
	    {"job 0b6f0a52-7c1e-4a57-9d64-1f1f3f1f3f1f: failed: a.tar.gz: out of memory",
	     LOG_PRIORITY_ERROR},
	    {"job 0b6f0a52-7c1e-4a57-9d64-1f1f3f1f3f1f: partial: the files were kept",
	     LOG_PRIORITY_ERROR},
	    {"job 0b6f0a52-7c1e-4a57-9d64-1f1f3f1f3f1f: warning: the archive has no .metadata",
	     LOG_PRIORITY_WARNING},
	    {"job 0b6f0a52-7c1e-4a57-9d64-1f1f3f1f3f1f: succeeded", LOG_PRIORITY_INFO},
	    {"job 0b6f0a52-7c1e-4a57-9d64-1f1f3f1f3f1f: restoring a.tar.gz into target t",
	     LOG_PRIORITY_INFO},
	    {"job 0b6f0a52-7c1e-4a57-9d64-1f1f3f1f3f1f: the server said during ANALYZE: "
	     "failed: no",
	     LOG_PRIORITY_INFO},
	    {"blob_dir measured: 0 bytes in 0.001 s", LOG_PRIORITY_INFO},
	    {"failed: a line without a job", LOG_PRIORITY_ERROR},
	};
	char file[256], other[256], stream[64], buf[4096];
	struct stat st;

	snprintf(file, sizeof(file), "%s/stderr", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		check(log_engine_priority(shapes[i].line) == shapes[i].priority, shapes[i].line);

	unsetenv("JOURNAL_STREAM");
	logged(file, LOG_PRIORITY_ERROR, "j1", "it broke", buf, sizeof(buf));
	check(matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	              "restore-worker: job j1: it broke\n$",
	              buf),
	      "outside the journal: a UTC timestamp, then restore-worker: and the job");

	if (stat(file, &st) < 0) {
		check(0, "stat the stderr file");
		return;
	}
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	logged(file, LOG_PRIORITY_ERROR, "j1", "it broke", buf, sizeof(buf));
	check(strcmp(buf, "<3>job j1: it broke\n") == 0, "in the journal: <3> and no timestamp");
	logged(file, LOG_PRIORITY_WARNING, NULL, "take care", buf, sizeof(buf));
	check(strcmp(buf, "<4>take care\n") == 0, "a warning is <4>");
	logged(file, LOG_PRIORITY_INFO, NULL, "fine", buf, sizeof(buf));
	check(strcmp(buf, "<6>fine\n") == 0, "information is <6>");

	/* Inside a unit, stderr redirected to a file: the variable stays, the journal does not. */
	logged(other, LOG_PRIORITY_ERROR, NULL, "elsewhere", buf, sizeof(buf));
	check(matches("^[0-9]{4}-.*Z restore-worker: elsewhere\n$", buf),
	      "JOURNAL_STREAM naming another file: a timestamp, no priority");
	setenv("JOURNAL_STREAM", "garbage", 1);
	check(!log_to_journal(), "a malformed JOURNAL_STREAM is not the journal");
	unsetenv("JOURNAL_STREAM");
	unlink(file);
	unlink(other);
}

int
main(void)
{
	char dir[] = "/tmp/test_notify.XXXXXX", path[128], abstract[64], pid[32];
	int fd;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listen_on(path);
	check(fd >= 0, "bind a notification socket");
	setenv("NOTIFY_SOCKET", path, 1);
	notify_send("READY=1");
	expect_message(fd, "READY=1", "READY=1 reaches a path socket");
	notify_send("STATUS=1 running, 2 queued");
	expect_message(fd, "STATUS=1 running, 2 queued", "STATUS reaches it verbatim");
	close(fd);
	unlink(path);

	snprintf(abstract, sizeof(abstract), "@restore-worker-test-%d", (int)getpid());
	fd = listen_on(abstract);
	check(fd >= 0, "bind an abstract notification socket");
	setenv("NOTIFY_SOCKET", abstract, 1);
	notify_send("WATCHDOG=1");
	expect_message(fd, "WATCHDOG=1", "WATCHDOG=1 reaches an abstract socket");
	close(fd);

	unsetenv("NOTIFY_SOCKET");
	notify_send("READY=1"); /* must neither fail nor block */
	check(1, "no socket: nothing happens");

	unsetenv("WATCHDOG_USEC");
	check(notify_watchdog_usec() == 0, "no watchdog without WATCHDOG_USEC");
	setenv("WATCHDOG_USEC", "60000000", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	check(notify_watchdog_usec() == 60000000, "the watchdog interval for this process");
	setenv("WATCHDOG_PID", "1", 1);
	check(notify_watchdog_usec() == 0, "a watchdog meant for another process is not ours");

	check_log_lines(dir);

	rmdir(dir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
