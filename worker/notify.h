/*
 * notify.h - talking to the service manager and to the log.
 *
 * notify_send() speaks systemd's notification protocol (READY=1, STATUS=..., STOPPING=1,
 * WATCHDOG=1) to $NOTIFY_SOCKET; outside systemd it does nothing. log_line() writes one line
 * to stderr: with a journald priority prefix ("<3>") when stderr is the journal (journald
 * stamps each line itself), otherwise after a timestamp in UTC, as the reports write theirs
 * ("2026-12-06T16:11:45.123Z restore-worker: ...").
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdbool.h>
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

/*
 * log_line: one line on stderr, "[<N>|TIME restore-worker: ][job ID: ]message". job may be
 * NULL.
 */
void log_line(enum log_priority priority, const char *job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * log_engine_line: a line of the engine's log (restore_options.log, backup_options.log) at
 * the priority its shape says: "job ID: rejected|failed|partial: why" an error, "job ID:
 * warning: ..." a warning, any other line information.
 */
void log_engine_line(const char *line);

/* log_engine_priority: the priority log_engine_line gives line. */
enum log_priority log_engine_priority(const char *line);

/*
 * log_to_journal: is stderr the journal? True when $JOURNAL_STREAM names stderr's device and
 * inode, as systemd sets it for a unit's output; a command whose stderr was redirected
 * elsewhere inside a unit keeps the variable but is not the journal.
 */
bool log_to_journal(void);

#endif
