/*
 * config.h - the worker's configuration file (YAML, read with libyaml).
 *
 * Every error names the file, the line and the key: "config.yaml:12: targets.acceptance:
 * plan_quota: '10 GB' is not a size (use e.g. 10GB or 512MiB)". Unknown keys, wrong types,
 * bad sizes and missing required keys are errors. See config.yaml.example for the keys.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "restore.h"

#define CONFIG_DEFAULT_PATH     "/etc/restore-worker/config.yaml"
#define CONFIG_DEFAULT_OVERHEAD 2415919104ULL /* 2.25GB */

#define CONFIG_DEFAULT_SETTLE_SECONDS    2
#define CONFIG_DEFAULT_RESCAN_SECONDS    30
#define CONFIG_DEFAULT_RETENTION_DAYS    30
#define CONFIG_DEFAULT_MAX_PARALLEL_JOBS 1
#define CONFIG_DEFAULT_MAX_ATTEMPTS      3
#define CONFIG_DEFAULT_RESTORE_JOBS_MAX  8 /* the default restore_jobs: CPUs, at most this */
#define CONFIG_DEFAULT_MAINTENANCE_DB    "postgres"
#define CONFIG_DEFAULT_BACKUP_KEEP       7
#define CONFIG_DEFAULT_PREVIOUS_KEEP     2
#define CONFIG_DEFAULT_HOOK_TIMEOUT      300 /* seconds: hook_timeout_seconds */
#define CONFIG_STORE_DEFAULT_CONNECTIONS 16  /* s3/azure max_connections */

struct config_target {
	char *name;
	char *database;            /* libpq conninfo; required */
	char *blob_dir;            /* exactly one of blob_dir, s3 and azure is set */
	uint64_t plan_quota;       /* bytes; required */
	uint64_t restore_overhead; /* bytes; default 2.25GB */
	int max_dump_major;        /* max_dump_version, default "1.14" */
	int max_dump_minor;
	enum restore_strategy strategy; /* default transaction */
	int restore_jobs;               /* swap: pg_restore --jobs; default CPUs, at most 8 */
	char *maintenance_database;     /* swap: default "postgres" */
	bool analyze;                   /* ANALYZE after the restore; default true */
	char *files_query;              /* the UUIDs that must have a file; NULL: Mendix's */
	bool keep_previous; /* back the target up before a restore changes it; default false */
	int previous_keep;  /* default 2: such backups kept per target */
	char *blob_owner;   /* the restored files' owner, as given; NULL: blob_dir's (root) */
	char *blob_group;   /* their group, as given; NULL: blob_dir's */
	unsigned int blob_dir_mode, blob_file_mode; /* 0: by blob_dir (blob_access.c) */
	char **before_restore;     /* argv, NULL-terminated, argv[0] absolute; NULL when absent */
	char **after_restore;      /* the same */
	int hook_timeout_seconds;  /* each hook's time limit; default 300 */
	bool allow_restore;        /* false: every restore into it is refused; default true */
	struct store_s3 *s3;       /* the s3: mapping (config_store.c), or NULL */
	struct store_azure *azure; /* the azure: mapping, or NULL */
	const char *work_dir;      /* the config's work_dir (not owned): the store's state_dir */
};

/* A warning found while loading: the configuration works, but not as it was meant to. */
struct config_warning {
	const char *target; /* the target's name (in config->targets), or NULL */
	char *text;         /* one sentence naming the key and what to do */
};

struct config {
	char *path;       /* the file it was read from */
	char *spool_dir;  /* absolute; optional until the daemon needs it; NULL when absent */
	char *work_dir;   /* required */
	char *pg_restore; /* pinned; NULL: the oldest found that reads the dump (pg_client.h) */
	char *pg_dump;    /* pinned; NULL: the oldest found that dumps the server */
	char **pg_client_dirs; /* NULL-terminated; NULL: PG_CLIENT_DEFAULT_DIR */
	char *backup_dir;     /* optional, absolute: backup --to-backup-dir writes <it>/<target>/ */
	int backup_keep;      /* default 7: backups kept per target in backup_dir */
	char *default_target; /* optional; when set, it names one of targets */
	struct config_target *targets;
	size_t ntargets; /* at least 1 */

	/* The daemon (restore-worker run). */
	int settle_seconds;    /* default 2: an in-place copy must rest this long */
	int rescan_seconds;    /* default 30 */
	int retention_days;    /* default 30; 0 keeps finished jobs forever */
	int max_parallel_jobs; /* default 1 */
	int max_attempts;      /* default 3 */
	char *metrics_file;    /* optional: absolute, *.prom; NULL when absent (metrics.c) */

	struct config_warning *warnings; /* what config_load found that the commands print */
	size_t nwarnings;
};

/* config_load: read and check path; return 0 and *out, or -1 with a one-line message in err. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);

/*
 * config_quota_warning: 1 with a sentence in buf when target t's plan_quota leaves no room for
 * a dump after restore_overhead (every restore into it would be refused), else 0.
 */
int config_quota_warning(const struct config_target *t, char *buf, size_t buflen);

/* config_free: release what config_load returned; NULL is fine. */
void config_free(struct config *config);

/* config_target_find: the target called name, or NULL. */
const struct config_target *config_target_find(const struct config *config, const char *name);

/* config_conninfo_redact: copy conninfo into buf with any password value replaced by "***". */
void config_conninfo_redact(const char *conninfo, char *buf, size_t buflen);

/* config_restore_target: the engine's view (restore.h) of a configured target; ct keeps the
 * strings. */
void config_restore_target(const struct config_target *ct, struct restore_target *out);

#endif
