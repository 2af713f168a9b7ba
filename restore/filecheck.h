/*
 * filecheck.h - after a restore, compare the files the database names with the files of the
 * target's store (store.h: a folder, an S3 bucket or an Azure container).
 *
 * A Mendix database keeps one row per stored file in public."system$filedocument": the file's
 * storage name is the UUID in column __uuid__, and hascontents says whether a file should
 * exist. filecheck_run() reads the UUIDs that must have a file (that table's, or those a
 * target's files_query returns in its first column) and the files of a store (a folder laid
 * out as xx/yy/<uuid>, xx and yy the first four hex digits of the lowercase UUID; a bucket's
 * keys <prefix><uuid><suffix>), and counts the missing files (UUIDs with no file) and the
 * orphaned ones (files no UUID names), naming the first FILECHECK_FIRST of each in sorted
 * order.
 *
 * Both sides are read as sorted streams and merged: memory does not grow with the number of
 * rows or files (for a folder, only with the number of files in the largest one xx/yy folder).
 */
#ifndef FILECHECK_H
#define FILECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct store; /* store.h */

/* How many missing and orphaned UUIDs a result names; the rest are only counted. */
#define FILECHECK_FIRST 20

struct filecheck {
	bool ran;          /* false: skipped, and note says why */
	char note[256];    /* when ran: empty, or what was left out (values that are not UUIDs) */
	uint64_t expected; /* distinct UUIDs that must have a file */
	uint64_t files;    /* files in the layout */
	uint64_t missing;  /* expected UUIDs without a file, but those left out */
	uint64_t left_out; /* expected UUIDs without a file, marked deleteafterdownload */
	uint64_t orphaned; /* files no expected UUID names */
	uint64_t ignored;  /* folder entries outside the layout: other names, links, not files */
	uint64_t invalid;  /* non-NULL values of the query that are not UUIDs once lowercased */
	char missing_first[FILECHECK_FIRST][37]; /* the first missing, sorted, lowercase */
	size_t nmissing_first;
	char orphaned_first[FILECHECK_FIRST][37];
	size_t norphaned_first;
};

/*
 * filecheck_run: compare the UUIDs of query (NULL: Mendix's, the rows of
 * public."system$filedocument" WHERE hascontents) on conn with the files store lists
 * (store_list_open: the caller opens and closes the store; a folder's staged files through
 * store_stage_view, or store_open_folder).
 *
 * Returns 0 with fc filled in: fc->ran says whether the check ran, or was skipped because
 * the default query has no table (or no columns __uuid__ and hascontents) to read. Returns -1
 * with a one-line err when the query failed (err then quotes the first line of the server's
 * message; the caller scrubs it of connection secrets and adds which target it was), when the
 * store cannot be listed, or when conn is busy or inside a failed transaction.
 *
 * conn may be idle or inside a transaction block (the restore's own, not yet committed,
 * whose tables the check then sees). The check never changes the database: it runs read-only
 * (a query that writes, or calls nextval() or setval(), fails) in a transaction of its own,
 * or inside the caller's under a savepoint, that it always rolls back: the caller's
 * transaction stays usable and as it was, whatever the query did.
 *
 * With the default query and a boolean column deleteafterdownload, a row whose file is absent
 * and which has deleteafterdownload true is counted in fc->left_out, not in fc->missing: a
 * backup leaves its file out on purpose. A files_query's rows are never counted so.
 *
 * Values of the query are lowercased; NULLs are left out, and values that are not UUIDs are
 * counted in fc->invalid and named in fc->note. Entries the listing leaves out (in a folder:
 * another name, an uppercase UUID, a UUID in the wrong xx/yy folder, a folder or a link where
 * a file belongs; in a bucket: keys under the prefix that are not <uuid><suffix>) are counted
 * in fc->ignored. A folder's listing follows no symbolic link, the folder's own last component
 * included (that is an error); a store that does not exist yet holds no files.
 */
int filecheck_run(PGconn *conn, const char *query, struct store *store, struct filecheck *fc,
                  char *err, size_t errlen);

#endif
