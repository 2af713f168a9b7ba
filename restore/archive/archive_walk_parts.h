/*
 * archive_walk_parts.h - what the walk's files share (not for the rest of the engine):
 * archive_walk.c opens the archive and goes through its entries, archive_dump.c reads the
 * dump entry (identified, measured by dump_scan and copied to dump_fd unless it is read in
 * place), archive_tree.c checks the names under tree/ and stages the files, and
 * archive_walker.c, below the three, words their refusals and tells them when to stop. The calls go
 * one way: archive_walk.c calls the entry readers, never the reverse.
 */
#ifndef ARCHIVE_WALK_PARTS_H
#define ARCHIVE_WALK_PARTS_H

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "archive_walk.h"

#define BLOCK_BYTES (64 * 1024)

/* The state of one walk, shared by the entry handlers. */
struct walker {
	struct archive_walk *walk;
	struct report *report;
	struct archive *a;
	const char *name; /* the archive's file name, for messages */
	char *err;
	size_t errlen;
	unsigned char *block;
	struct stat st;         /* the archive's status, before its first byte was read */
	struct timespec before; /* CLOCK_REALTIME_COARSE just before st was taken */
	bool inflating;         /* gzip is inflated before libarchive sees it */
	bool dump_in_place;     /* the dump is read in place (walk->in_place), not copied */
	bool saw_pgdump_toc;    /* a top-level toc.dat: a pg_dump -Ft archive */
	bool saw_db_toc;        /* db/toc.dat: a directory-format dump put into db/ */
	/* Entries outside a backup's layout: how many, and the first few names, for one warning. */
	unsigned long long unexpected;
	char unexpected_names[512];
};

/* archive_walker.c */

/* walker_refuse: fill err with "<archive>: <reason>" and return the outcome given. */
enum archive_outcome walker_refuse(struct walker *w, enum archive_outcome outcome, const char *fmt,
                                   ...) __attribute__((format(printf, 3, 4)));

/* walker_cancelled: has a signal, or the caller's other work, asked the walk to stop? */
bool walker_cancelled(const struct walker *w);

/* archive_dump.c */

/* walker_read_dump: identify, measure and copy the dump that is the current entry. */
enum archive_outcome walker_read_dump(struct walker *w, const char *entry);

/* archive_tree.c */

/* archive_tree_folder_ok: "tree", "tree/xx" or "tree/xx/yy". */
bool archive_tree_folder_ok(const char *p);

/* walker_read_tree_file: stage (or just check and count) one tree/xx/yy/<uuid> file. */
enum archive_outcome walker_read_tree_file(struct walker *w, struct archive_entry *e,
                                           const char *p);

#endif
