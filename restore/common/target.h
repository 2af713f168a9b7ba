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

/* A target's S3 bucket (README: "Files in object storage"); keys <prefix><uuid><suffix>. */
struct store_s3 {
	/* NULL: AWS: https://s3.<region>.amazonaws.com, virtual-hosted (<bucket>.s3...) */
	const char *endpoint;
	const char *region;          /* required */
	const char *bucket;          /* required */
	const char *prefix;          /* "" when absent */
	const char *suffix;          /* "" when absent */
	bool server_side_encryption; /* x-amz-server-side-encryption: AES256 on every write */
	const char *access_key_id;   /* NULL: $AWS_ACCESS_KEY_ID */
	const char *secret_access_key_file; /* NULL: $AWS_SECRET_ACCESS_KEY */
	/* NULL: $AWS_SESSION_TOKEN when set (x-amz-security-token) */
	const char *session_token_file;
	int max_connections; /* default 16, 1..128 */
};

/* A target's Azure Blob container; blob names <uuid> at its root. */
struct store_azure {
	const char *blob_endpoint;    /* NULL: https://<account_name>.blob.core.windows.net */
	const char *account_name;     /* required */
	const char *account_key_file; /* at most one of these two; neither: $AZURE_STORAGE_KEY, */
	const char *shared_access_signature_file; /*   else $AZURE_STORAGE_SAS_TOKEN */
	const char *container;                    /* required */
	int max_connections;                      /* default 16, 1..128 */
};

struct restore_target {
	const char *name;
	const char *conninfo; /* libpq */
	const char *blob_dir; /* NULL for an object store */
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
	const struct store_s3 *s3;
	const struct store_azure *azure; /* NULL unless configured */
	/* work_dir: where an object store keeps its listing snapshot and journal */
	const char *state_dir;
};

#endif
