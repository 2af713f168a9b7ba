/*
 * restore.h - the engine's two entry points: inspect a backup, and restore it into a target.
 *
 * The engine knows nothing of spools, signals or configuration files: the program hands it
 * a target, a work folder and a pg_restore, and gets back a report.
 */
#ifndef RESTORE_H
#define RESTORE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job_id.h"
#include "report.h"
#include "target.h"

/* What a running restore has done so far (restore_options.progress; README "Progress"). */
struct restore_progress {
	const char *phase; /* reading | database | files | swapping | analyzing */
	double elapsed_s;
	double eta_s;                                 /* seconds left, estimated; < 0: unknown */
	uint64_t archive_bytes, archive_size;         /* of the archive file, read */
	uint64_t database_bytes, database_size;       /* pg_restore's script executed, of the dump's
	                                                 decompressed size (strategy transaction) */
	uint64_t database_items, database_item_total; /* TOC entries done (strategy swap) */
	uint64_t files, file_bytes;                   /* staged so far */
	uint64_t file_bytes_total;                    /* .metadata's filesSize; 0: unknown */
};

/*
 * What a process that finds a restore stopped after its commit began needs to ask the server
 * whether the commit took place (database.h: database_xact_outcome).
 */
struct restore_commit_point {
	char xact_id[24]; /* the committing transaction's txid_current() */
	int backend_pid;  /* the server process committing it */
	char new_oid[16]; /* strategy swap: the new database's OID; "" otherwise */
};

struct restore_options {
	const char *archive;
	const struct restore_target *target;
	const char *work_dir;
	const char *pg_restore; /* pinned; NULL: the oldest that reads the dump (pg_client.h) */
	/* Folders holding <major>/bin/ of PostgreSQL clients, NULL-terminated; NULL: the default.
	 */
	const char *const *pg_client_dirs;
	bool db_only;
	bool dry_run;                  /* a rehearsal: do everything, then roll back */
	const char *job_id;            /* NULL: a new UUID */
	bool holds_target_lock;        /* no live worker uses the target: end dead ones' sessions */
	volatile sig_atomic_t *cancel; /* set from a signal handler to abort; may be NULL */
	/* Progress lines for a human (no newline), or NULL for none. */
	void (*log)(void *log_ctx, const char *line);
	void *log_ctx;
	/* Progress, from the calling thread, a few times a second and at each phase; or NULL. */
	void (*progress)(void *progress_ctx, const struct restore_progress *progress);
	void *progress_ctx;
	/*
	 * Called just before the database commit, after which the target may have changed; a
	 * failure (-1 with err) rolls the restore back instead. NULL for none.
	 */
	int (*before_commit)(void *commit_ctx, char *err, size_t errlen);
	void *commit_ctx;
	/* Not NULL: filled in before before_commit is called. */
	struct restore_commit_point *commit_point;
	/*
	 * Called once a restore's outcome is final, just before ANALYZE (which only ever warns,
	 * and can take long): report holds the status and what each part became, so that a death
	 * during ANALYZE cannot hide it. NULL for none.
	 */
	void (*outcome_known)(void *outcome_ctx, const struct report *report);
	void *outcome_ctx;
	/*
	 * true: the old files a successful restore swapped out are left beside the store for the
	 * caller to remove in the background (store.h: store_old_take): removing many files is not
	 * the restore's critical path. false: they are removed before restore_run() returns, as
	 * they always are for a bucket or a container (the removal in the background takes in hand
	 * a folder's old files only).
	 */
	bool keep_old_files;
	/*
	 * Not NULL: before the restore changes the target (after every check and refusal), back
	 * the target up into this folder (backup.h: a full snapshot, or the database alone for
	 * db_only and database-only backups), keeping the newest previous_keep there; the caller
	 * holds the target's lock. A failed backup fails the restore, the target unchanged.
	 */
	const char *previous_dir;
	int previous_keep;
	const char *pg_dump; /* for that backup, pinned; NULL: the oldest that dumps the server */
};

/*
 * restore_run: restore options->archive into options->target, filling *report (which the
 * caller frees with report_free). Returns one of the RESTORE_EXIT_ values.
 */
int restore_run(const struct restore_options *options, struct report *report);

/*
 * restore_inspect: read archive without a target. Sets *json to the inspection as JSON and
 * *text to a human summary (the caller frees both). Returns 0 when a restore would accept
 * the archive, 1 when it would refuse it, -1 when out of memory.
 */
int restore_inspect(const char *archive, const char *pg_restore, const char *const *pg_client_dirs,
                    char **json, char **text);

/*
 * restore_tidy: remove what interrupted restores into target left: for strategy swap, the
 * databases named like a swap's beside the target (holds_target_lock: end dead workers'
 * sessions on them first); for an S3 or Azure store, the restores stopped midway that its
 * journals in work_dir record, finished or undone (store_tidy). Each database dropped, or
 * left, and each stopped restore that could not be settled, is a warning in report. 0, or -1
 * with err when the server could not be asked.
 */
int restore_tidy(const struct restore_target *target, bool holds_target_lock, struct report *report,
                 char *err, size_t errlen);

#endif
