/*
 * db_job.h - the database restore in a thread of its own, beside the rest of the archive walk
 * (restore.c). It leaves its transaction (or, for a swap, its new database) for restore_run to
 * commit. While it runs it touches only its own fields, the connection and report->database;
 * restore_run reads them after joining it.
 */
#ifndef DB_JOB_H
#define DB_JOB_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "archive_walk.h"
#include "database.h"
#include "dump_in_place.h"
#include "pg_client.h"
#include "report.h"
#include "restore.h"
#include "swap.h"

#define DB_JOB_MESSAGE_BYTES 2048

struct db_job {
	const struct restore_options *o;
	const struct archive_walk *walk;
	struct report *report;
	struct database *db;                 /* strategy transaction */
	struct swap *swap;                   /* strategy swap */
	const struct pg_client_set *readers; /* the pg_restore programs to pick from */
	const char *pg_restore, *job_id;     /* pg_restore: the one picked for the dump */
	char *dump_path, *list_path;   /* dump_path: the copy's name, also when there is none */
	int dump_fd;                   /* the dump copy, open until the dump is read */
	struct dump_in_place in_place; /* a bare dump read in place instead (archive_walk.h) */
	pthread_t thread;
	bool defer;   /* db_job_start only checks and prepares; db_job_launch starts it later */
	bool ready;   /* prepared: the dump is read whole and passed the checks */
	bool started; /* the thread runs (or ran) */
	volatile sig_atomic_t stop;   /* restore_run gives up: cancel and roll back */
	volatile sig_atomic_t failed; /* the database restore failed: the walk stops */
	int rc;                       /* database_restore()'s */
	char err[DB_JOB_MESSAGE_BYTES];
	double dump_read_at, started_at, finished_at; /* restore_now() */
	void (*tick)(void *tick_ctx); /* called while db_job_wait waits; may be NULL */
	void *tick_ctx;
};

/* db_job_init: a job with no files (call before anything else, even on a path that fails). */
void db_job_init(struct db_job *j);

/*
 * db_job_open_dump: create the dump copy pg_restore reads, work_dir/restore-<job_id>.dump, into
 * j->dump_fd and ->dump_path; 0, or -1 with err.
 */
int db_job_open_dump(struct db_job *j, const char *work_dir, char *err, size_t errlen);

/*
 * db_job_remove_files: close and remove the dump copy, remove the TOC list, if made, and close
 * the dump read in place.
 */
void db_job_remove_files(struct db_job *j);

/*
 * db_job_start: the walk's dump_done callback (ctx: the db_job): the dump has been read whole.
 * Checks the quota and the lock budget, writes the TOC list, then starts the thread. A dump read
 * in place must be unchanged (dump_in_place_check), and its empty copy goes.
 */
enum archive_outcome db_job_start(void *ctx, char *err, size_t errlen);

/*
 * db_job_launch: start the thread of a job db_job_start prepared with defer set (after the
 * walk, for a restore that backs the target up first).
 */
enum archive_outcome db_job_launch(struct db_job *j, char *err, size_t errlen);

/*
 * db_job_wait: wait for the database restore to end; with give_up, ask it to stop first. A
 * signal meanwhile (the options' cancel) asks it to stop too.
 */
void db_job_wait(struct db_job *j, bool give_up);

#endif
