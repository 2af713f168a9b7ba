/*
 * notify.c - systemd's notification protocol and journald-friendly log lines.
 *
 * The protocol is one datagram per notification to the AF_UNIX socket named in
 * $NOTIFY_SOCKET (a leading '@' means the abstract namespace); written here rather than
 * linking libsystemd for these few lines.
 */
#include "notify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void
notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr;
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(addr.sun_path))
		return;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
	             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	(void)close(fd);
}

uint64_t
notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	return strtoull(usec, NULL, 10);
}

void
log_line(enum log_priority priority, const char *job, const char *fmt, ...)
{
	static int journal = -1;
	char message[2048], line[2304];
	va_list ap;
	int n;

	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (journal)
		n = snprintf(line, sizeof(line), "<%d>", (int)priority);
	else
		n = snprintf(line, sizeof(line), "restore-worker: ");
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s%s%s\n", job != NULL ? "job " : "",
	              job != NULL ? job : "", job != NULL ? ": " : "", message);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	/* One write per line, so lines of concurrent job processes do not interleave. */
	(void)!write(2, line, (size_t)n);
}
