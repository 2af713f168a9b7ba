/*
 * backup_parts.h - what the backup's files share among themselves (not for the program):
 * backup.c runs it all, backup_dump.c reads the database and makes the dump, backup_archive.c
 * writes the snapshot (.metadata, db/db.backup, the files of blob_dir) or copies the bare
 * dump, backup_keep.c knows the Mendix names and keeps the newest backups of a folder,
 * backup_leftout.c holds the dump's snapshot and the files left out for DeleteAfterDownload, and
 * backup_result.c holds the result they all add to and the progress figures they all hand on
 * (below them all: none calls backup.c).
 */
#ifndef BACKUP_PARTS_H
#define BACKUP_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "backup.h"
#include "conninfo.h"

#define BACKUP_NAMED_MAX  20 /* entries named one by one in warnings, per kind of problem */
#define BACKUP_COPY_BYTES (256 * 1024)
#define BACKUP_ERR_BYTES  2048

/*
 * The files a full snapshot leaves out (DeleteAfterDownload), read in the snapshot the dump
 * takes (backup_leftout.c).
 */
struct backup_leftout {
	PGconn *conn;       /* the transaction that exported snapshot, open until the set is read */
	char snapshot[128]; /* pg_export_snapshot()'s id for pg_dump --snapshot; "" when none */
	bool active;        /* the database has the column: the set is read after the dump */
	unsigned char (*uuids)[16]; /* the marked UUIDs, sorted once read */
	size_t n, cap;
};

/* A backup's progress figures, and when they were last handed to options->progress. */
struct backup_watch {
	const struct backup_options *o;
	struct backup_progress p;
	char table[256]; /* p.table points here once pg_dump names a table */
	double started;  /* monotonic seconds */
	double last;     /* when the figures were last handed on; -1: never */
};

/* backup_watch_init: start watching the backup options describes. */
void backup_watch_init(struct backup_watch *w, const struct backup_options *options);

/* backup_watch_phase: enter phase and hand the figures on at once. */
void backup_watch_phase(struct backup_watch *w, const char *phase);

/* backup_watch_tick: hand the figures on, at most five times a second. */
void backup_watch_tick(struct backup_watch *w);

/* What one backup holds while it runs. */
struct backup_state {
	const struct backup_options *o;
	struct backup_result *r;
	struct conninfo_secrets secrets;
	PQconninfoOption *options; /* the target's connection string, parsed; NULL for a name */
	char dbname[256];
	int out_dir_fd; /* the output folder; -1 for "-" */
	char *out_dir;
	char name[BACKUP_NAME_MAX]; /* the file's name in it */
	char part[BACKUP_NAME_MAX + 8];
	bool part_made;
	int out_fd;
	char *dump_path;
	int dump_fd;
	int dump_minor;   /* the archive minor version pg_dump writes */
	int server_major; /* the server's major version (17) */
	struct backup_leftout leftout;
	struct backup_watch watch;
	char err[BACKUP_ERR_BYTES];
};

/*
 * backup_pick_pg_dump: the pg_dump for the server (run->r->pg_dump, its version, the archive
 * version it writes), refused (rejected) when none dumps the server or its archive version is
 * newer than the target's max_dump_version. After backup_read_database. 0, or -1 with run->err.
 */
int backup_pick_pg_dump(struct backup_state *run);

/*
 * backup_read_database: the server's version, the database's name, size and model version,
 * and its tables for the progress (run->watch); 0, or -1 with run->err.
 */
int backup_read_database(struct backup_state *run);

/*
 * backup_make_dump: pg_dump -O -x -Fc of the database into work_dir, its header checked, the
 * tables it names in its --verbose lines handed on as progress; 0, or -1 with run->err.
 */
int backup_make_dump(struct backup_state *run);

/*
 * backup_leftout_begin: for a full snapshot, a transaction of our own whose snapshot pg_dump
 * takes (run->leftout.snapshot), when the database has public."system$filedocument" with a
 * boolean deleteafterdownload; without them a warning, and no snapshot. Before
 * backup_make_dump. 0, or -1 with run->err.
 */
int backup_leftout_begin(struct backup_state *run);

/*
 * backup_leftout_read: once the dump is made, the UUIDs of the rows whose deleteafterdownload
 * is true, read in that snapshot; then the transaction ends. 0, or -1 with run->err.
 */
int backup_leftout_read(struct backup_state *run);

/* backup_leftout_has: whether the file named uuid (lowercase) is left out of the archive. */
bool backup_leftout_has(const struct backup_leftout *leftout, const char *uuid);

/* backup_leftout_free: end the transaction if still open, and free the set. */
void backup_leftout_free(struct backup_leftout *leftout);

/* backup_warn: add a warning (one line) to the result; out of memory drops it. */
void backup_warn(struct backup_result *result, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* backup_cancelled: whether the caller asked the backup to stop. */
static inline bool
backup_cancelled(const struct backup_options *options)
{
	return options->cancel != NULL && *options->cancel != 0;
}

/*
 * backup_files_measure: the first pass over blob_dir: count the files in the layout and add
 * up their sizes (result->files_measured_bytes, and w's file totals), but for those leftout
 * holds; entries outside it become warnings. 0, or -1 with err.
 */
int backup_files_measure(struct backup_watch *w, struct backup_result *result,
                         const struct backup_leftout *leftout, char *err, size_t errlen);

/*
 * backup_snapshot_write: write the full snapshot to out_fd: .metadata (metadata, len bytes),
 * db/db.backup (the whole of dump_fd) and the files of blob_dir as tree/xx/yy/<uuid>, gzip
 * compressed. A file whose status changed after measured_at (or that is gone) is left out
 * with a warning; one leftout holds is left out and counted (result->files_left_out).
 * 0, or -1 with err.
 */
int backup_snapshot_write(struct backup_watch *w, struct backup_result *result,
                          const struct backup_leftout *leftout, int out_fd, int dump_fd,
                          const char *metadata, size_t len, const struct timespec *measured_at,
                          char *err, size_t errlen);

/* backup_copy: copy all of from (from its start) to to; 0, or -1 with err. */
int backup_copy(struct backup_watch *w, int from, int to, uint64_t *bytes, char *err,
                size_t errlen);

/* backup_name: the Mendix name of a backup made at when (UTC) into buf. */
void backup_name(char *buf, size_t buflen, bool db_only, const char *job_id, time_t when);

/*
 * backup_keep_newest: in the folder dir_fd (dir for messages), remove all but the newest keep
 * backups of the kind db_only says, never just_written (a file name in it, counted among the
 * keep when it is a name of that kind); with remove_parts, also the *.part files of that kind. What
 * is removed goes into result->removed, failures into warnings.
 */
void backup_keep_newest(int dir_fd, const char *dir, bool db_only, int keep,
                        const char *just_written, bool remove_parts, struct backup_result *result);

#endif
