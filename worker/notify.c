/*
 * notify.c - systemd's notification protocol and journald-friendly log lines.
 *
 * The protocol is one datagram per notification to the AF_UNIX socket named in
 * $NOTIFY_SOCKET (a leading '@' means the abstract namespace); written here rather than
 * linking libsystemd for these few lines.
 *
 * Log lines: under journald (stderr is the stream $JOURNAL_STREAM names) each line begins
 * with its syslog priority ("<3>" error, "<4>" warning, "<6>" information), which journald
 * files as the entry's PRIORITY and stamps with its own time. Anywhere else (a terminal, a
 * file, a pipe) each line begins with the time in UTC, in the reports' format, then
 * "restore-worker: ". Each line is one write(2), so the lines of concurrent job processes
 * never interleave.
 */
#include "notify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

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

bool
log_to_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (stream == NULL || sscanf(stream, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	return fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void
log_line(enum log_priority priority, const char *job, const char *fmt, ...)
{
	char message[2048], line[2400], when[40];
	struct timespec now;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (log_to_journal()) {
		n = snprintf(line, sizeof(line), "<%d>", (int)priority);
	} else {
		clock_gettime(CLOCK_REALTIME, &now);
		report_format_time(&now, when, sizeof(when));
		n = snprintf(line, sizeof(line), "%s restore-worker: ", when);
	}
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s%s%s\n", job != NULL ? "job " : "",
	              job != NULL ? job : "", job != NULL ? ": " : "", message);
	if (n > (int)sizeof(line) - 1) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

enum log_priority
log_engine_priority(const char *line)
{
	static const char *const errors[] = {"rejected: ", "failed: ", "partial: "};
	const char *text = line;

	/* The engine's lines begin with "job <id>: " (a UUID holds no ": "). */
	if (strncmp(text, "job ", 4) == 0 && strstr(text, ": ") != NULL)
		text = strstr(text, ": ") + 2;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (strncmp(text, errors[i], strlen(errors[i])) == 0)
			return LOG_PRIORITY_ERROR;
	if (strncmp(text, "warning: ", 9) == 0)
		return LOG_PRIORITY_WARNING;
	return LOG_PRIORITY_INFO;
}

void
log_engine_line(const char *line)
{
	log_line(log_engine_priority(line), NULL, "%s", line);
}
