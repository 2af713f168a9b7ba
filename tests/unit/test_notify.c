/*
 * test_notify.c - systemd's notification protocol: what notify_send() puts on the socket
 * named by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace), and that it is
 * silent without one; and the watchdog interval read from the environment.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

	rmdir(dir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
