/*
 * notify.h - talking to the service manager and to the log.
 *
 * notify_send() speaks systemd's notification protocol (READY=1, STATUS=..., STOPPING=1,
 * WATCHDOG=1) to $NOTIFY_SOCKET; outside systemd it does nothing. log_line() writes one line
 * to stderr, with a journald priority prefix ("<3>") when stderr is the journal.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdint.h>

enum log_priority {
	LOG_PRIORITY_ERROR = 3,
	LOG_PRIORITY_WARNING = 4,
	LOG_PRIORITY_INFO = 6,
};

/* notify_send: send one notification (e.g. "READY=1"); silently nothing without systemd. */
void notify_send(const char *state);

/* notify_watchdog_usec: the watchdog interval systemd asks for, or 0. */
uint64_t notify_watchdog_usec(void);

/* log_line: one line on stderr, "restore-worker: [job ID: ]message". job may be NULL. */
void log_line(enum log_priority priority, const char *job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
