/*
 * target.h - what the engine's two jobs, a restore (restore.h) and a backup (backup.h), share:
 * the target they work on and the exit statuses they end with. Below both, so that neither
 * reaches into the other for them.
 */
#ifndef TARGET_H
#define TARGET_H

#include <stdbool.h>
#include <stdint.h>

/* Outcomes, as exit statuses of the program. */
#define RESTORE_EXIT_SUCCEEDED 0
#define RESTORE_EXIT_UNCHANGED 1 /* rejected or failed; the target is as it was */
#define RESTORE_EXIT_PARTIAL   3 /* the target was changed and is incomplete */

/* The default newest dump archive version accepted (Mendix: pg_dump 12-15). */
#define RESTORE_DEFAULT_MAX_MAJOR 1
#define RESTORE_DEFAULT_MAX_MINOR 14

/* How the database is restored (README: "How a restore works"). */
enum restore_strategy {
	RESTORE_STRATEGY_TRANSACTION = 0, /* one transaction on the target */
	RESTORE_STRATEGY_SWAP,            /* a new database beside it, swapped in by renames */
};

struct restore_target {
	const char *name;
	const char *conninfo; /* libpq */
	const char *blob_dir;
	uint64_t plan_quota;
	uint64_t restore_overhead;
	int max_dump_major, max_dump_minor;
	enum restore_strategy strategy;
	int restore_jobs;                 /* swap: pg_restore --jobs */
	const char *maintenance_database; /* swap: its connection's dbname; NULL: postgres */
	bool analyze;                     /* ANALYZE the restored database (not in a dry run) */
	const char *files_query;          /* SQL: the UUIDs that must have a file; NULL: Mendix's */
	/* The restored files' owner, group and modes (blob_access.c); NULL or 0: by blob_dir. */
	const char *blob_owner;      /* a user name or uid; only root can give it */
	const char *blob_group;      /* a group name or gid */
	unsigned int blob_dir_mode;  /* every folder's, e.g. 02770 */
	unsigned int blob_file_mode; /* every file's, e.g. 0660 */
	/* The commands run around a restore (hooks.h): argv arrays, NULL-terminated; NULL: none. */
	const char *const *before_restore;
	const char *const *after_restore;
	int hook_timeout_s;   /* each hook's time limit, in seconds; 0: HOOKS_DEFAULT_TIMEOUT_S */
	bool refuse_restores; /* allow_restore: false: every restore into it is refused */
};

#endif
