/*
 * archive_walk.h - the one pass over a backup archive.
 *
 * archive_walk() reads the input once with libarchive, front to back. It tells the two kinds
 * of input apart by content (a tar archive, compressed or not, holding .metadata, db/ or tree/
 * is a full snapshot; a bare or gzip-wrapped custom-format dump is a database-only backup;
 * anything else is of no known kind), checks every entry's name and type, parses .metadata,
 * measures the dump with the dump reader while copying it to dump_fd (or, a bare uncompressed
 * dump, reading it in place: dump_in_place.h), and writes tree files straight into the blob
 * store's staging folder.
 */
#ifndef ARCHIVE_WALK_H
#define ARCHIVE_WALK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "restore.h"
#include "store.h"
#include "dump.h"
#include "dump_in_place.h"
#include "report.h"

enum archive_kind {
	ARCHIVE_KIND_UNKNOWN,
	ARCHIVE_KIND_FULL_SNAPSHOT,
	ARCHIVE_KIND_DATABASE_ONLY,
};

/* The outcome of a walk: fine, the input's fault (rejected), or a local failure. */
enum archive_outcome {
	WALK_OK,
	WALK_REJECTED,
	WALK_FAILED,
};

struct archive_walk {
	/* What to do. */
	const char *path;                         /* the archive */
	int dump_fd;                              /* copy the dump here; -1 to only measure it */
	const struct restore_target *blob_target; /* stage tree files for its store (beside its
	                                             blob_dir, with its owner and modes, or in its
	                                             bucket); NULL: only check them */
	const char *job_id;                       /* names the staging folder */
	bool rehearsal; /* a dry run: an object store is sent nothing (STORE_STAGE_REHEARSAL) */
	uint64_t stop_after;           /* passed to dump_scan(); 0 for never */
	int max_minor;                 /* refuse dumps newer than archive version 1.max_minor */
	const char *max_why;           /* where that limit comes from, for the message */
	bool max_from_config;          /* ... the target's max_dump_version, not pg_restore */
	int readers_minor;             /* the newest archive a pg_restore found reads (0: none) */
	bool measure_too_new;          /* measure a dump past the limit, then refuse it (inspect) */
	volatile sig_atomic_t *cancel; /* set by a signal handler: stop soon; may be NULL */
	volatile sig_atomic_t *abort;  /* set by the caller's other work: stop soon; may be NULL */
	/*
	 * When not NULL, a bare uncompressed dump in a regular file that dump_in_place_usable()
	 * accepts is not copied to dump_fd: the walk takes a descriptor of it and its status from
	 * before its first byte was read into *in_place (dump_in_place_take), before the dump is
	 * read; the caller closes it (dump_in_place_close), whatever the outcome.
	 */
	struct dump_in_place *in_place;
	/*
	 * Called once, as soon as the dump has been read whole (measured, copied, intact, and
	 * not over stop_after), before the entries that follow it: the caller may start
	 * restoring it while the walk goes on. Returning anything but WALK_OK ends the walk
	 * with that outcome (err filled by the callback). NULL for none.
	 */
	enum archive_outcome (*dump_done)(void *ctx, char *err, size_t errlen);
	void *dump_done_ctx;
	/* Called often (every block read) for progress; NULL for none. */
	void (*tick)(void *ctx);
	void *tick_ctx;

	/* What was found. fd and size: the archive, while it is read (-1 before and after). */
	int fd;
	uint64_t size;
	struct store_stage *staging; /* created for a full snapshot; the caller ends it */
	enum archive_kind kind;
	bool have_dump;
	enum dump_kind dump_kind;
	struct dump_info dump;
	uint64_t dump_stored_bytes; /* db/db.backup's size in the archive */
	uint64_t file_count, file_bytes;
	bool have_metadata;
};

/* archive_kind_name: "full_snapshot", "database_only", or "unknown" (report values). */
const char *archive_kind_name(enum archive_kind kind);

/*
 * archive_walk: read walk->path once and fill in the rest of *walk. Metadata and warnings go
 * into report. On ARCHIVE_REJECTED or WALK_FAILED, err holds one sentence that names the
 * archive and the reason.
 */
enum archive_outcome archive_walk(struct archive_walk *walk, struct report *report, char *err,
                                  size_t errlen);

/* archive_tree_name_ok: is rel ("xx/yy/<uuid>", after "tree/") a valid blob name? */
bool archive_tree_name_ok(const char *rel);

#endif
