/*
 * filecheck.c - compare the files the database names with the files in the blob folder (see
 * filecheck.h).
 *
 * The check is a merge join of two sorted streams, so that a million rows against a million
 * files needs neither side in memory:
 *
 *  - the database's side is one query, SELECT DISTINCT lowercased UUIDs ORDER BY them in
 *    collation "C" (byte order, the order of strcmp), read in libpq's single-row mode: one
 *    row is in memory at a time. The query runs in the extended protocol, which takes one
 *    statement only, so a files_query cannot smuggle in a second one.
 *  - the folder's side is a walk of xx, then yy, then the files of one xx/yy folder, each
 *    level's entries sorted. A file's UUID starts with its xx and yy, so the walk yields the
 *    UUIDs in strcmp order too. Only the names of one xx/yy folder are held at a time; that
 *    is the one place memory grows, with the largest folder (a few dozen names for a
 *    million files spread by UUID, as Mendix spreads them).
 *
 * Folders are opened relative to their parent's descriptor with O_NOFOLLOW, and entries are
 * typed with the directory's d_type or fstatat(AT_SYMLINK_NOFOLLOW): no link is followed.
 *
 * When the query fails part way, or the folder cannot be read part way, the remaining rows
 * are read and dropped (libpq offers no other way to leave a query behind cleanly); for a
 * very large table that costs about as long as the check would have.
 */
#include "filecheck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

#define FILECHECK_SAVEPOINT "restore_worker_filecheck"

/* Mendix's own query: the UUIDs of the file documents that have contents. */
static const char default_query[] =
    "SELECT \"__uuid__\" FROM public.\"system$filedocument\" WHERE hascontents";

/* Whether the default query has what it reads: the table and both its columns. */
static const char default_table_sql[] =
    "SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a "
    "  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    " WHERE n.nspname = 'public' AND c.relname = 'system$filedocument' "
    "   AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "   AND a.attname IN ('__uuid__', 'hascontents') AND a.attnum > 0 AND NOT a.attisdropped";

/* The names of one xx/yy folder's files, sorted; reused from folder to folder. */
struct name_list {
	char (*names)[37];
	size_t count, capacity;
};

/* The walk of the blob folder, one xx/yy folder at a time. */
struct tree_walk {
	DIR *root;                   /* NULL when the folder does not exist */
	DIR *xx_dir;                 /* the xx folder being walked, or NULL */
	char xx[256][3], yy[256][3]; /* the root's xx folders and xx_dir's yy folders, sorted */
	size_t nxx, ixx, nyy, iyy;
	struct name_list files; /* the files of the current xx/yy folder */
	size_t ifile;
	const char *dir; /* for messages */
	uint64_t *ignored;
};

/* The query's rows, one at a time. */
struct row_stream {
	PGconn *conn;
	bool done;     /* the query's last result has been read */
	char uuid[37]; /* the current row */
	uint64_t *invalid;
};

/* is_lower_uuid: whether s is a UUID written as 36 lowercase hex digits and dashes. */
static bool
is_lower_uuid(const char *s)
{
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return s[36] == '\0';
}

/* is_hex_pair: whether name is two lowercase hex digits. */
static bool
is_hex_pair(const char *name)
{
	for (size_t i = 0; i < 2; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return name[2] == '\0';
}

/* entry_is: whether dir's entry e is of type mode (S_IFDIR, S_IFREG), never through a link. */
static bool
entry_is(DIR *dir, const struct dirent *e, mode_t mode)
{
	struct stat st;

	if (e->d_type != DT_UNKNOWN)
		return (mode == S_IFDIR && e->d_type == DT_DIR) ||
		       (mode == S_IFREG && e->d_type == DT_REG);
	if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return false; /* gone since it was listed */
	return (st.st_mode & S_IFMT) == mode;
}

/* compare_names: qsort's comparison of two NUL-terminated names in fixed-size slots. */
static int
compare_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* is_dot: "." or "..". */
static bool
is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/*
 * list_pairs: the xx (or yy) folders of dir into pairs, sorted; anything else is counted as
 * ignored. 0 or -1 with err (path names dir).
 */
static int
list_pairs(DIR *dir, const char *path, char pairs[256][3], size_t *count, uint64_t *ignored,
           char *err, size_t errlen)
{
	struct dirent *e;

	*count = 0;
	for (;;) {
		errno = 0;
		e = readdir(dir);
		if (e == NULL)
			break;
		if (is_dot(e->d_name))
			continue;
		if (!is_hex_pair(e->d_name) || !entry_is(dir, e, S_IFDIR) || *count == 256) {
			(*ignored)++;
			continue;
		}
		memcpy(pairs[(*count)++], e->d_name, 3);
	}
	if (errno != 0)
		return io_error(err, errlen, "cannot list %s: %s", path, strerror(errno));
	qsort(pairs, *count, sizeof(pairs[0]), compare_names);
	return 0;
}

/* list_files: the files of the xx/yy folder dir into list, sorted; 0 or -1 with err. */
static int
list_files(DIR *dir, const char *path, const char *xx, const char *yy, struct name_list *list,
           uint64_t *ignored, char *err, size_t errlen)
{
	struct dirent *e;

	list->count = 0;
	for (;;) {
		errno = 0;
		e = readdir(dir);
		if (e == NULL)
			break;
		if (is_dot(e->d_name))
			continue;
		/* Mendix finds a file only under its own lowercase name, in its own folder. */
		if (!is_lower_uuid(e->d_name) || memcmp(e->d_name, xx, 2) != 0 ||
		    memcmp(e->d_name + 2, yy, 2) != 0 || !entry_is(dir, e, S_IFREG)) {
			(*ignored)++;
			continue;
		}
		if (list->count == list->capacity) {
			size_t capacity = list->capacity == 0 ? 64 : list->capacity * 2;
			void *grown = realloc(list->names, capacity * sizeof(list->names[0]));

			if (grown == NULL)
				return io_error(err, errlen, "out of memory listing %s", path);
			list->names = grown;
			list->capacity = capacity;
		}
		memcpy(list->names[list->count++], e->d_name, 37);
	}
	if (errno != 0)
		return io_error(err, errlen, "cannot list %s: %s", path, strerror(errno));
	if (list->count > 1)
		qsort(list->names, list->count, sizeof(list->names[0]), compare_names);
	return 0;
}

/*
 * open_subfolder: open parent's folder name for listing, or NULL with *gone set when it is
 * no longer a folder (removed, or replaced by a link since it was listed), or NULL with err.
 */
static DIR *
open_subfolder(DIR *parent, const char *name, const char *path, bool *gone, char *err,
               size_t errlen)
{
	DIR *dir = io_opendir(dirfd(parent), name);

	*gone = false;
	if (dir != NULL)
		return dir;
	if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
		*gone = true;
	else
		(void)io_error(err, errlen, "cannot open %s: %s", path, strerror(errno));
	return NULL;
}

/* tree_open: start the walk of dir_fd/dir; 0 or -1 with err. */
static int
tree_open(struct tree_walk *t, int dir_fd, const char *dir, uint64_t *ignored, char *err,
          size_t errlen)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	t->dir = dir;
	t->ignored = ignored;
	t->root = io_opendir(dir_fd, dir);
	if (t->root == NULL) {
		int saved = errno;

		if (saved == ENOENT)
			return 0; /* no folder: no files */
		if (fstatat(dir_fd, dir, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return io_error(
			    err, errlen,
			    "%s is a symbolic link, which the file check does not follow", dir);
		return io_error(err, errlen, "cannot open the folder %s: %s", dir, strerror(saved));
	}
	return list_pairs(t->root, dir, t->xx, &t->nxx, ignored, err, errlen);
}

/* tree_close: end the walk. */
static void
tree_close(struct tree_walk *t)
{
	if (t->xx_dir != NULL)
		(void)closedir(t->xx_dir);
	if (t->root != NULL)
		(void)closedir(t->root);
	free(t->files.names);
	memset(t, 0, sizeof(*t));
}

/* tree_enter_yy: list the files of the next yy folder of xx_dir; 0 or -1 with err. */
static int
tree_enter_yy(struct tree_walk *t, char *err, size_t errlen)
{
	const char *xx = t->xx[t->ixx - 1], *yy = t->yy[t->iyy++];
	char path[4096];
	bool gone;
	DIR *dir;
	int rc;

	snprintf(path, sizeof(path), "%s/%s/%s", t->dir, xx, yy);
	dir = open_subfolder(t->xx_dir, yy, path, &gone, err, errlen);
	if (dir == NULL) {
		if (!gone)
			return -1;
		(*t->ignored)++;
		return 0;
	}
	rc = list_files(dir, path, xx, yy, &t->files, t->ignored, err, errlen);
	(void)closedir(dir);
	return rc;
}

/* tree_enter_xx: list the yy folders of the next xx folder; 0 or -1 with err. */
static int
tree_enter_xx(struct tree_walk *t, char *err, size_t errlen)
{
	const char *xx = t->xx[t->ixx++];
	char path[4096];
	bool gone;

	snprintf(path, sizeof(path), "%s/%s", t->dir, xx);
	t->nyy = t->iyy = 0;
	t->xx_dir = open_subfolder(t->root, xx, path, &gone, err, errlen);
	if (t->xx_dir == NULL) {
		if (!gone)
			return -1;
		(*t->ignored)++;
		return 0;
	}
	return list_pairs(t->xx_dir, path, t->yy, &t->nyy, t->ignored, err, errlen);
}

/* tree_next: the next file's UUID, in strcmp order; 1, 0 at the end, or -1 with err. */
static int
tree_next(struct tree_walk *t, const char **uuid, char *err, size_t errlen)
{
	for (;;) {
		if (t->ifile < t->files.count) {
			*uuid = t->files.names[t->ifile++];
			return 1;
		}
		t->files.count = t->ifile = 0;
		if (t->xx_dir != NULL && t->iyy < t->nyy) {
			if (tree_enter_yy(t, err, errlen) < 0)
				return -1;
			continue;
		}
		if (t->xx_dir != NULL) {
			(void)closedir(t->xx_dir);
			t->xx_dir = NULL;
		}
		if (t->root == NULL || t->ixx == t->nxx)
			return 0;
		if (tree_enter_xx(t, err, errlen) < 0)
			return -1;
	}
}

/* result_reason: the first line of why res (or the connection) failed, into buf. */
static void
result_reason(PGconn *conn, const PGresult *res, char *buf, size_t buflen)
{
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *msg = primary != NULL ? primary : PQerrorMessage(conn);
	size_t n;

	if (strncmp(msg, "ERROR:  ", 8) == 0 || strncmp(msg, "FATAL:  ", 8) == 0)
		msg += 8;
	if (msg[0] == '\0')
		msg = "the server connection failed";
	n = strcspn(msg, "\n");
	snprintf(buf, buflen, "%.*s", (int)n, msg);
}

/* exec_command: run one command whose result is not needed; 0 or -1 with reason. */
static int
exec_command(PGconn *conn, const char *sql, char *reason, size_t reasonlen)
{
	PGresult *res = PQexec(conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		result_reason(conn, res, reason, reasonlen);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/* default_table_present: whether the default query's table and columns exist; 1, 0, -1. */
static int
default_table_present(PGconn *conn, char *reason, size_t reasonlen)
{
	PGresult *res = PQexec(conn, default_table_sql);
	int rc;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		result_reason(conn, res, reason, reasonlen);
		rc = -1;
	} else {
		rc = strcmp(PQgetvalue(res, 0, 0), "2") == 0;
	}
	PQclear(res);
	return rc;
}

/*
 * rows_sql: the query that streams query's first column, lowercased, distinct, without
 * NULLs, in strcmp order; the caller frees it, NULL when out of memory. A trailing ';' is
 * dropped, and the query stands on lines of its own so that a trailing "--" comment ends
 * before the closing parenthesis.
 */
static char *
rows_sql(const char *query)
{
	static const char head[] = "SELECT DISTINCT pg_catalog.lower(q.u::pg_catalog.text) "
	                           "COLLATE pg_catalog.\"C\" FROM (\n";
	static const char tail[] = "\n) AS q(u) WHERE q.u IS NOT NULL ORDER BY 1";
	size_t len = strlen(query);
	char *sql;

	while (len > 0 &&
	       (query[len - 1] == ';' || query[len - 1] == ' ' || query[len - 1] == '\t' ||
	        query[len - 1] == '\n' || query[len - 1] == '\r'))
		len--;
	sql = malloc(sizeof(head) + len + sizeof(tail));
	if (sql == NULL)
		return NULL;
	memcpy(sql, head, sizeof(head) - 1);
	memcpy(sql + sizeof(head) - 1, query, len);
	memcpy(sql + sizeof(head) - 1 + len, tail, sizeof(tail));
	return sql;
}

/* rows_drain: read and drop whatever results the connection still has. */
static void
rows_drain(PGconn *conn)
{
	PGresult *res;

	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

/*
 * rows_next: the next valid UUID of the stream into s->uuid; 1, 0 at the end, or -1 with
 * reason (the stream is then drained).
 */
static int
rows_next(struct row_stream *s, char *reason, size_t reasonlen)
{
	while (!s->done) {
		PGresult *res = PQgetResult(s->conn);
		ExecStatusType status;

		if (res == NULL) {
			s->done = true;
			break;
		}
		status = PQresultStatus(res);
		if (status == PGRES_SINGLE_TUPLE) {
			const char *value = PQgetvalue(res, 0, 0);
			bool valid = is_lower_uuid(value);

			if (valid)
				memcpy(s->uuid, value, 37);
			PQclear(res);
			if (valid)
				return 1;
			(*s->invalid)++;
		} else if (status == PGRES_TUPLES_OK) {
			PQclear(res); /* the end; PQgetResult returns NULL next */
		} else {
			result_reason(s->conn, res, reason, reasonlen);
			PQclear(res);
			rows_drain(s->conn);
			s->done = true;
			return -1;
		}
	}
	return 0;
}

/* note_first: count a missing or orphaned UUID, and name it when among the first. */
static void
note_first(uint64_t *count, char first[][37], size_t *nfirst, const char *uuid)
{
	(*count)++;
	if (*nfirst < FILECHECK_FIRST)
		memcpy(first[(*nfirst)++], uuid, 37);
}

/*
 * merge: walk the rows and the files side by side; 0, or -1 with err (the rows are then
 * drained). what names the query in messages.
 */
static int
merge(struct row_stream *rows, struct tree_walk *tree, struct filecheck *fc, const char *what,
      char *err, size_t errlen)
{
	char reason[512], last_row[37] = "";
	const char *file = NULL;
	int have_row, have_file;

	have_row = rows_next(rows, reason, sizeof(reason));
	if (have_row < 0)
		return io_error(err, errlen, "%s failed: %s", what, reason);
	have_file = tree_next(tree, &file, err, errlen);
	if (have_file < 0)
		goto fail;
	while (have_row || have_file) {
		int cmp = !have_row ? 1 : !have_file ? -1 : strcmp(rows->uuid, file);

		if (cmp <= 0) {
			/* DISTINCT ... ORDER BY in collation "C": each row comes after the last. */
			if (strcmp(rows->uuid, last_row) <= 0) {
				(void)io_error(err, errlen,
				               "%s returned %s after %s: the rows are not in order",
				               what, rows->uuid, last_row);
				goto fail;
			}
			memcpy(last_row, rows->uuid, 37);
			fc->expected++;
			if (cmp < 0)
				note_first(&fc->missing, fc->missing_first, &fc->nmissing_first,
				           rows->uuid);
			have_row = rows_next(rows, reason, sizeof(reason));
			if (have_row < 0)
				return io_error(err, errlen, "%s failed: %s", what, reason);
		}
		if (cmp >= 0) {
			fc->files++;
			if (cmp > 0)
				note_first(&fc->orphaned, fc->orphaned_first, &fc->norphaned_first,
				           file);
			have_file = tree_next(tree, &file, err, errlen);
			if (have_file < 0)
				goto fail;
		}
	}
	return 0;
fail:
	rows_drain(rows->conn);
	rows->done = true;
	return -1;
}

/* check: the check itself, once the savepoint (if any) is set; 0 or -1 with err. */
static int
check(PGconn *conn, const char *query, int dir_fd, const char *dir, struct filecheck *fc, char *err,
      size_t errlen)
{
	const char *what = query != NULL ? "files_query" : "reading public.\"system$filedocument\"";
	struct row_stream rows = {.conn = conn, .invalid = &fc->invalid};
	struct tree_walk tree;
	char reason[512], *sql;
	int rc;

	if (query == NULL) {
		rc = default_table_present(conn, reason, sizeof(reason));
		if (rc < 0)
			return io_error(err, errlen,
			                "cannot look for table system$filedocument: %s", reason);
		if (rc == 0) {
			snprintf(fc->note, sizeof(fc->note),
			         "the database has no table system$filedocument (with columns "
			         "__uuid__ and hascontents): the file check was skipped");
			return 0;
		}
	}
	if (tree_open(&tree, dir_fd, dir, &fc->ignored, err, errlen) < 0) {
		tree_close(&tree);
		return -1;
	}
	sql = rows_sql(query != NULL ? query : default_query);
	if (sql == NULL) {
		tree_close(&tree);
		return io_error(err, errlen, "out of memory");
	}
	if (!PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn)) {
		result_reason(conn, NULL, reason, sizeof(reason));
		rows_drain(conn);
		free(sql);
		tree_close(&tree);
		return io_error(err, errlen, "%s failed: %s", what, reason);
	}
	free(sql);
	rc = merge(&rows, &tree, fc, what, err, errlen);
	tree_close(&tree);
	if (rc < 0)
		return -1;
	fc->ran = true;
	if (fc->invalid > 0)
		snprintf(fc->note, sizeof(fc->note),
		         "%" PRIu64 " %s of the %s %s left out of the check", fc->invalid,
		         fc->invalid == 1 ? "value" : "values",
		         query != NULL ? "files_query" : "column __uuid__",
		         fc->invalid == 1 ? "is not a UUID and was" : "are not UUIDs and were");
	return 0;
}

int
filecheck_run(PGconn *conn, const char *query, int dir_fd, const char *dir, struct filecheck *fc,
              char *err, size_t errlen)
{
	char reason[512];
	bool in_transaction;
	int rc;

	memset(fc, 0, sizeof(*fc));
	switch (PQtransactionStatus(conn)) {
	case PQTRANS_IDLE:
		in_transaction = false;
		break;
	case PQTRANS_INTRANS:
		in_transaction = true;
		break;
	case PQTRANS_INERROR:
		return io_error(err, errlen,
		                "the file check cannot run: the transaction has already failed");
	default:
		return io_error(err, errlen,
		                "the file check cannot run: the connection is busy or broken");
	}
	/*
	 * Inside the restore's transaction a failed statement would abort all of it; under a
	 * savepoint only the check's own work is undone.
	 */
	if (in_transaction &&
	    exec_command(conn, "SAVEPOINT " FILECHECK_SAVEPOINT, reason, sizeof(reason)) < 0)
		return io_error(err, errlen, "the file check cannot set a savepoint: %s", reason);
	rc = check(conn, query, dir_fd, dir, fc, err, errlen);
	if (!in_transaction)
		return rc;
	if (rc < 0) {
		/* err says what went wrong first; a failing rollback would only repeat it. */
		if (exec_command(conn, "ROLLBACK TO SAVEPOINT " FILECHECK_SAVEPOINT, reason,
		                 sizeof(reason)) == 0)
			(void)exec_command(conn, "RELEASE SAVEPOINT " FILECHECK_SAVEPOINT, reason,
			                   sizeof(reason));
		return -1;
	}
	if (exec_command(conn, "RELEASE SAVEPOINT " FILECHECK_SAVEPOINT, reason, sizeof(reason)) <
	    0)
		return io_error(err, errlen, "the file check cannot release its savepoint: %s",
		                reason);
	return 0;
}
