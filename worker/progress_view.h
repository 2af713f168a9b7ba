/*
 * progress_view.h - how the program shows a running restore's progress (restore.h's struct
 * restore_progress): one line for a human, and progress.json for status and the worker; and
 * a running backup's (backup.h's struct backup_progress): one line for a human.
 */
#ifndef PROGRESS_VIEW_H
#define PROGRESS_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "backup.h"
#include "restore.h"

#define PROGRESS_FILE "progress.json" /* in a running job's folder */

/* progress_view_line: "database: 1.2 GiB of 2.6 GiB (45%); ...; about 3:05 left". */
void progress_view_line(const struct restore_progress *p, char *buf, size_t buflen);

/*
 * progress_view_backup_line: "dump: table 3 of 12 (public.x), 1.2 MiB written; 0:05
 * elapsed", "files: 120 of 500 files, 1.2 GiB of 5.6 GiB (21%); 3:05 elapsed".
 */
void progress_view_backup_line(const struct backup_progress *p, char *buf, size_t buflen);

/* progress_view_json: the figures as one JSON object (malloc'd; NULL when out of memory). */
char *progress_view_json(const struct restore_progress *p, const char *job_id);

/*
 * progress_view_summary: a short summary ("database 45%, about 3:05 left") of a
 * progress.json's text, for status and systemd's STATUS; false when it cannot be read.
 */
bool progress_view_summary(const char *json, size_t len, char *buf, size_t buflen);

/*
 * progress_view_write: dir_fd/progress.json := json, through a temporary file and a rename
 * (a reader never sees half of it; not fsynced: it matters only while the job runs).
 */
int progress_view_write(int dir_fd, const char *json);

/* progress_view_read: dir_fd/progress.json's text (malloc'd), or NULL. */
char *progress_view_read(int dir_fd, size_t *len);

#endif
