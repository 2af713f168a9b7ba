/*
 * backup.h - the other half of the tool: make a backup of a target in the format it restores.
 *
 * backup_run() writes a full snapshot (a .tar.gz holding .metadata, db/db.backup made by
 * pg_dump -O -x -Fc, and tree/xx/yy/<uuid> for the files of blob_dir) or, for db_only, the
 * bare custom-format dump, into a file, a folder or a descriptor (stdout), named as Mendix
 * names its backups. Like the restore engine it knows nothing of spools, locks or
 * configuration files: the caller hands it a target, a work folder and the programs to run,
 * and gets back a result. The target is only read. README.md ("Backups") documents the
 * format, the names and the result's JSON.
 */
#ifndef BACKUP_H
#define BACKUP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "target.h"

#define BACKUP_GZIP_LEVEL 1  /* the snapshot's gzip level: its content is mostly compressed */
#define BACKUP_NAME_MAX   64 /* "files_and_database-<8 hex>-<YYYYMMDDHHMM>.tar.gz" and more */

/*
 * What a running backup has done so far, for options->progress (README "Progress"). The
 * phases: "dump" while pg_dump runs, "measuring" the files of blob_dir, "writing" the dump
 * into the snapshot (or out as the bare dump), "files" while the files are archived.
 */
struct backup_progress {
	const char *phase;
	double elapsed_s;
	const char *table;    /* dump: the table whose data pg_dump dumps now, or NULL */
	uint64_t tables;      /* dump: the tables whose data it has begun to dump */
	uint64_t table_total; /* dump: the tables of the database, counted before; 0: unknown */
	uint64_t dump_bytes;  /* dump: bytes pg_dump wrote; writing: bytes of the dump written */
	uint64_t dump_size;   /* writing: the dump's size */
	uint64_t files;       /* files: the files archived */
	uint64_t file_bytes;  /* files: their bytes */
	uint64_t file_total;  /* measuring: the files found so far; files: of those measured */
	uint64_t file_bytes_total; /* the same, their bytes */
};

struct backup_options {
	const struct restore_target *target; /* name, conninfo, blob_dir, max_dump_version */
	const char *work_dir;                /* the dump goes through a file here */
	const char *pg_dump;    /* pinned; NULL: the oldest found that dumps the server */
	const char *pg_restore; /* pinned: the pg_dump beside it is looked at first; or NULL */
	const char *const
	    *pg_client_dirs; /* where clients are found (pg_client.h); NULL: default */
	bool db_only;        /* the bare dump instead of a full snapshot */
	/*
	 * Where the backup goes: an existing folder (the file gets its Mendix name there), a
	 * file's path (its folder must exist), or "-" for output_fd. NULL: the current folder.
	 */
	const char *output;
	int output_fd; /* for "-" */
	/*
	 * keep > 0: once the backup is in place, remove all but the newest keep backups of its
	 * kind (by the Mendix names, newest by the stamp in the name, then by modification time)
	 * from its folder. Not for "-".
	 */
	int keep;
	/*
	 * The caller makes sure that no other backup writes into the output folder now (it holds
	 * the target's lock and the folder is the target's own): then *.part files of our names
	 * that a killed backup left there are removed too.
	 */
	bool folder_exclusive;
	const char *job_id;            /* NULL: a new UUID; its first 8 hex digits name the file */
	volatile sig_atomic_t *cancel; /* set from a signal handler to stop; may be NULL */
	void (*log)(void *log_ctx, const char *line); /* progress for a human, or NULL */
	void *log_ctx;
	/* The figures, at most five times a second and at each new phase; may be NULL. */
	void (*progress)(void *progress_ctx, const struct backup_progress *progress);
	void *progress_ctx;
};

/* What a backup did, as the JSON result says it (README: "Backups"). */
struct backup_result {
	char job_id[37];
	const char *kind;   /* full_snapshot | database_only */
	const char *status; /* succeeded | rejected | failed */
	char *error;        /* one sentence; NULL on success */
	char **warnings;
	size_t nwarnings;
	char *target;
	char *archive;            /* the path written (or to be written), "-" for output_fd */
	char *pg_dump;            /* the pg_dump run, once picked */
	char pg_dump_version[32]; /* its version, "17.12" */
	char server_version[64];  /* the server's, "17.4" */
	struct timespec started_at, finished_at;
	char dump_version[16]; /* "1.14", once the dump is made */
	uint64_t dump_bytes, database_bytes, archive_bytes;
	char *model_version; /* NULL when the database records none */
	uint64_t metadata_duration_s;
	uint64_t files_measured_bytes;     /* filesSize in .metadata */
	uint64_t files_count, files_bytes; /* the files in the archive */
	uint64_t files_skipped;            /* entries of blob_dir outside the layout */
	uint64_t files_vanished;           /* gone or changed between measuring and reading */
	uint64_t files_left_out;           /* left out for DeleteAfterDownload (README) */
	char **removed;                    /* older backups removed by keep, file names */
	size_t nremoved;
	double dump_s, files_s, write_s, total_s;
};

/*
 * backup_run: back options->target up as options say, filling *result (freed with
 * backup_result_free). Returns RESTORE_EXIT_SUCCEEDED, or RESTORE_EXIT_UNCHANGED when it was
 * refused or failed: then nothing is left where the backup was to go, nor in work_dir.
 */
int backup_run(const struct backup_options *options, struct backup_result *result);

/* backup_result_json: the result as one JSON object (the caller frees it), NULL when out of
 * memory. */
char *backup_result_json(const struct backup_result *result);

/* backup_result_free: release what backup_run put into result. */
void backup_result_free(struct backup_result *result);

/*
 * backup_keep: in folder dir, remove all but the newest keep backups of the kind db_only says,
 * as backup_run's keep does: just_written (a path in dir, never removed) counts as the newest
 * when it has a name of that kind. With remove_parts (nothing else writes into dir now), the
 * *.part files of that kind go too. What is removed goes into result->removed (file names),
 * what could not be done into result->warnings.
 */
void backup_keep(const char *dir, bool db_only, int keep, const char *just_written,
                 bool remove_parts, struct backup_result *result);

/* A backup known by its Mendix name: what the name says, and its file's modification time. */
struct backup_named {
	char name[BACKUP_NAME_MAX];
	char stamp[13]; /* YYYYMMDDHHMM, the backup's start in UTC */
	bool db_only;   /* database-<id>-<stamp>.backup, else files_and_database-...tar.gz */
	struct timespec mtime;
};

/*
 * backup_name_parse: whether name is a Mendix backup name, files_and_database-<8 hex>-
 * <YYYYMMDDHHMM>.tar.gz or database-<8 hex>-<YYYYMMDDHHMM>.backup (lowercase hex), followed
 * by ".part" when part; its kind into *db_only and its stamp into stamp.
 */
bool backup_name_parse(const char *name, bool part, bool *db_only, char stamp[13]);

/*
 * backup_named_newest_first: qsort's order of struct backup_named, the newest first: the latest
 * stamp, then the latest modification time, then the greatest name (retention and listing).
 */
int backup_named_newest_first(const void *a, const void *b);

/* backup_remove: remove the backup file at path and sync its folder; 0, or -1 with err. */
int backup_remove(const char *path, char *err, size_t errlen);

/*
 * backup_remove_job: remove from folder dir the backups (and .part files) the job job_id made
 * (backup_name: the first 8 hex digits of its id), as when an attempt that made its backup
 * before a restore died before the target changed; 0, or -1 with err.
 */
int backup_remove_job(const char *dir, const char *job_id, char *err, size_t errlen);

#endif
