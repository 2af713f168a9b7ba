/*
 * backup_list.h - the backups in folders, by their Mendix names (backup.h's backup_name_parse),
 * with what each is: its kind and time (from the name), its size, and, when asked, the archive
 * version of its dump, read from the file's first entries only. The engine is told which
 * folders to read and what to call them (a target, a source); it knows nothing of where a
 * configuration keeps them.
 */
#ifndef BACKUP_LIST_H
#define BACKUP_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup.h"

/* One backup found. */
struct backup_listed {
	struct backup_named named; /* name, stamp, kind, modification time */
	char *path;                /* <folder>/<name> */
	const char *target;        /* the caller's words for the folder, as given (not copied) */
	const char *source;
	uint64_t bytes;
	char archive_version[16]; /* "1.14"; "" when not read, or the file cannot be read */
};

/* The backups of one or more folders, and what could not be read of them. */
struct backup_list {
	struct backup_listed *items;
	size_t n, cap;
	char **warnings; /* one sentence each: a backup whose archive version cannot be read */
	size_t nwarnings;
};

/*
 * backup_list_folder: add the backups in folder dir (regular files of a Mendix name; no
 * .part) to list, each with target and source (kept as pointers: they must outlive the list).
 * With versions, each file's dump header is read (.metadata and db/db.backup's header and table
 * of contents of a full snapshot; the walk stops at the dump's first data): a file that cannot
 * be read gets no version and a warning. A folder that does not exist adds nothing. 0, or -1
 * with err when the folder cannot be read (what was found is kept).
 */
int backup_list_folder(struct backup_list *list, const char *dir, const char *target,
                       const char *source, bool versions, char *err, size_t errlen);

/* backup_list_sort: the newest first (backup_named_newest_first), over every folder added. */
void backup_list_sort(struct backup_list *list);

/* backup_list_time: the backup's time from its stamp, "2026-12-06T22:15:00Z" (RFC 3339). */
void backup_list_time(const struct backup_listed *b, char *buf, size_t buflen);

/* backup_list_free: release what the list holds (the list itself is the caller's). */
void backup_list_free(struct backup_list *list);

#endif
