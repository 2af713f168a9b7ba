/*
 * report.h - what happened to one restore, as the operator reads it (JSON) and as the engine
 * fills it in along the way. Every field of the JSON report is documented in README.md; the
 * names and values are a contract that operators script against.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "json.h"

#define REPORT_UUIDS_FIRST 20 /* files.missing and files.orphaned list this many UUIDs */

/* One error of one part of the restore: a TOC entry or a file, and what went wrong. */
struct report_error {
	char *where; /* toc_entry for the database, path for files */
	char *message;
};

/* The outcome of one part (database or files). Status: restored|unchanged|partial|skipped. */
struct report_part {
	const char *status;
	struct report_error *errors;
	size_t nerrors;
};

/* A hook that ran around the restore (README "Hooks"); ran false: it did not run. */
struct report_hook {
	bool ran;
	char argv0[256];
	int exit_status; /* its exit status; -1 when a signal ended it */
	int signal;      /* the signal that ended it; 0 when it exited */
	bool timed_out;  /* it exceeded hook_timeout_seconds and was killed */
	double duration_s;
};

struct report {
	char job_id[37];
	char *source;             /* the archive's file name, without its folder */
	char *target;             /* NULL for inspect */
	const char *archive_kind; /* full_snapshot | database_only | NULL when unknown */
	bool db_only;
	const char *status; /* succeeded | rejected | failed | partial */
	char *error;        /* one sentence; NULL on success */
	char **warnings;
	size_t nwarnings;
	struct timespec started_at, finished_at;
	struct json_member *metadata; /* .metadata's members; NULL when there is none */
	size_t nmetadata;

	struct report_part database;
	struct report_error *skipped; /* entries left out: where is toc_entry, message the reason */
	size_t nskipped;
	char dump_version[16];
	char dump_pg_dump_version[128]; /* what the dump's header says wrote it; "" unread */
	char *pg_restore;               /* the pg_restore picked for the dump, or NULL */
	char pg_restore_version[32];
	uint64_t decompressed_bytes, overhead_bytes, quota_bytes;

	struct report_part files;
	uint64_t file_count, file_bytes;
	/* The file check (README, "After the restore"); have_filecheck false: it did not run. */
	bool have_filecheck;
	struct report_uuids {
		uint64_t count;
		char first[REPORT_UUIDS_FIRST][37]; /* the first (in sorted order), lowercase */
		size_t nfirst;
	} missing, orphaned;
	uint64_t left_out; /* files.left_out_by_design: absent, marked DeleteAfterDownload */
	/* files.objects: what a restore into an object store did (have_objects), else null. */
	bool have_objects;
	struct report_objects {
		uint64_t uploaded, kept, replaced, deleted, uploaded_bytes;
	} objects;

	bool dry_run;          /* a rehearsal: everything was done, then rolled back */
	char *previous_backup; /* the backup made before the restore (keep_previous), or NULL */
	struct report_hook before_restore, after_restore;

	/* Seconds per phase (README, "The report"); written when have_timings. */
	bool have_timings;
	double read_s, database_s, files_s, swap_s, analyze_s, total_s;
};

/* report_init: a fresh report for source (a path; only its last component is kept). */
int report_init(struct report *report, const char *job_id, const char *source, const char *target,
                bool db_only);

/* report_free: release everything the report holds. */
void report_free(struct report *report);

/* report_warn: add a warning sentence. */
void report_warn(struct report *report, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* report_set_error: set the outcome's status and its one-sentence error (the first one wins). */
void report_set_error(struct report *report, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* report_part_error: add an error to a part (where may be NULL). */
void report_part_error(struct report_part *part, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* report_part_forget_errors: drop a part's errors (its work was given up, not failed). */
void report_part_forget_errors(struct report_part *part);

/* report_skip: record a TOC entry left out of the restore, and why. */
void report_skip(struct report *report, const char *toc_entry, const char *reason);

/* report_json: the report as one line of JSON (the caller frees it), or NULL if out of memory. */
char *report_json(const struct report *report);

/* report_write_time: an RFC 3339 UTC timestamp with milliseconds into buf. */
void report_format_time(const struct timespec *ts, char *buf, size_t buflen);

#endif
