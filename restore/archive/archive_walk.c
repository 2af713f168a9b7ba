/*
 * archive_walk.c - the one pass over a backup archive (see archive_walk.h).
 *
 * libarchive reads tar (plain or under any compression filter it knows) and, through its
 * "raw" format, a single compressed or uncompressed file: that is how a bare or gzip-wrapped
 * dump is read with the same code. Entry names are checked before their data is touched;
 * whatever is refused is refused before anything has been written outside the staging
 * folder and work_dir.
 *
 * This file opens the archive, tells its kind, goes through its entries (checking each name
 * and type, reading .metadata and comparing its sizes with what was found), decides whether a
 * bare dump is read in place (dump_in_place.h) and hands the dump to archive_dump.c and the files
 * under tree/ to archive_tree.c; all three refuse through archive_walker.c, below them.
 *
 * Diagnostics: every refusal names the archive file, then the entry, then the reason.
 */
#include "archive_walk.h"
#include "archive_walk_parts.h"
#include "inflate.h"
#include "io.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define METADATA_LIMIT   (1024 * 1024)
#define UNEXPECTED_NAMED 5 /* unexpected entries named in the warning */

const char *
archive_kind_name(enum archive_kind kind)
{
	switch (kind) {
	case ARCHIVE_KIND_FULL_SNAPSHOT:
		return "full_snapshot";
	case ARCHIVE_KIND_DATABASE_ONLY:
		return "database_only";
	case ARCHIVE_KIND_UNKNOWN:
		break;
	}
	return "unknown";
}

/* dump_read_whole: the dump was read whole: let the caller start on it. */
static enum archive_outcome
dump_read_whole(struct walker *w)
{
	if (w->walk->dump_done == NULL || w->walk->dump.over_limit)
		return WALK_OK;
	return w->walk->dump_done(w->walk->dump_done_ctx, w->err, w->errlen);
}

/* read_metadata: read and parse .metadata into the report. */
static enum archive_outcome
read_metadata(struct walker *w, struct archive_entry *e)
{
	char *text, why[256];
	size_t len = 0;
	la_ssize_t n;

	if (w->walk->have_metadata)
		return walker_refuse(w, WALK_REJECTED, ".metadata appears twice");
	if (archive_entry_size(e) > METADATA_LIMIT)
		return walker_refuse(w, WALK_REJECTED, ".metadata is larger than %d bytes",
		                     METADATA_LIMIT);
	text = malloc(METADATA_LIMIT + 1);
	if (text == NULL)
		return walker_refuse(w, WALK_FAILED, "out of memory reading .metadata");
	while ((n = archive_read_data(w->a, text + len, METADATA_LIMIT + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > METADATA_LIMIT) {
			free(text);
			return walker_refuse(w, WALK_REJECTED, ".metadata is larger than %d bytes",
			                     METADATA_LIMIT);
		}
	}
	if (n < 0) {
		walker_refuse(w, WALK_REJECTED,
		              "the archive is truncated or corrupt inside .metadata (%s)",
		              archive_error_string(w->a));
		free(text);
		return WALK_REJECTED;
	}
	if (json_parse_members(text, len, &w->report->metadata, &w->report->nmetadata, why,
	                       sizeof(why)) < 0) {
		free(text);
		return walker_refuse(w, WALK_REJECTED, ".metadata %s", why);
	}
	free(text);
	w->walk->have_metadata = true;
	return WALK_OK;
}

/* entry_type_problem: why an entry cannot stand where a file belongs, or NULL. */
static const char *
entry_type_problem(struct archive_entry *e, bool want_folder)
{
	mode_t type = archive_entry_filetype(e);

	if (archive_entry_hardlink(e) != NULL)
		return "is a hard link";
	if (type == AE_IFLNK)
		return "is a symbolic link";
	if (type == AE_IFCHR || type == AE_IFBLK)
		return "is a device";
	if (type == AE_IFIFO)
		return "is a FIFO";
	if (type == AE_IFSOCK)
		return "is a socket";
	if (want_folder && type != AE_IFDIR)
		return "is a file where a folder belongs";
	if (!want_folder && type != AE_IFREG)
		return "is a folder where a file belongs";
	return NULL;
}

/* has_dotdot: does the path have a ".." component? */
static bool
has_dotdot(const char *p)
{
	const char *s = p;

	while ((s = strstr(s, "..")) != NULL) {
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
		s += 2;
	}
	return false;
}

/* note_unexpected: count an entry outside a backup's layout, naming the first few. */
static void
note_unexpected(struct walker *w, const char *p)
{
	size_t used = strlen(w->unexpected_names);

	if (w->unexpected++ < UNEXPECTED_NAMED)
		snprintf(w->unexpected_names + used, sizeof(w->unexpected_names) - used, "%s%s",
		         used > 0 ? ", " : "", p);
}

/* read_tar_entry: check one entry of a full snapshot and hand it to its reader. */
static enum archive_outcome
read_tar_entry(struct walker *w, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	const char *problem;
	char p[4096];
	size_t len;

	if (raw == NULL)
		return walker_refuse(w, WALK_REJECTED, "an entry has no name");
	if (raw[0] == '/')
		return walker_refuse(w, WALK_REJECTED, "the entry %s is an absolute path", raw);
	if (has_dotdot(raw))
		return walker_refuse(w, WALK_REJECTED, "the entry %s contains a .. component", raw);
	while (raw[0] == '.' && raw[1] == '/')
		raw += 2;
	len = strlen(raw);
	if (len >= sizeof(p))
		return walker_refuse(w, WALK_REJECTED, "an entry's name is longer than %zu bytes",
		                     sizeof(p) - 1);
	memcpy(p, raw, len + 1);
	while (len > 0 && p[len - 1] == '/')
		p[--len] = '\0';

	/* Links, devices and FIFOs are refused wherever they stand. */
	problem = entry_type_problem(e, archive_entry_filetype(e) == AE_IFDIR);
	if (problem != NULL)
		return walker_refuse(w, WALK_REJECTED, "the entry %s %s", p[0] != '\0' ? p : raw,
		                     problem);

	if (len == 0 || strcmp(p, ".") == 0)
		return WALK_OK; /* the archive's root folder */
	if (strcmp(p, "db") == 0 || archive_tree_folder_ok(p)) {
		problem = entry_type_problem(e, true);
		return problem == NULL
		           ? WALK_OK
		           : walker_refuse(w, WALK_REJECTED, "the entry %s %s", p, problem);
	}
	if (strcmp(p, ".metadata") == 0 || strcmp(p, "db/db.backup") == 0 ||
	    strncmp(p, "tree/", 5) == 0) {
		problem = entry_type_problem(e, false);
		if (problem != NULL)
			return walker_refuse(w, WALK_REJECTED, "the entry %s %s", p, problem);
		if (strcmp(p, ".metadata") == 0)
			return read_metadata(w, e);
		if (strcmp(p, "db/db.backup") == 0) {
			enum archive_outcome outcome;

			if (w->walk->have_dump)
				return walker_refuse(w, WALK_REJECTED,
				                     "db/db.backup appears twice");
			outcome = walker_read_dump(w, p);
			return outcome == WALK_OK ? dump_read_whole(w) : outcome;
		}
		return walker_read_tree_file(w, e, p);
	}
	if (strcmp(p, "toc.dat") == 0)
		w->saw_pgdump_toc = true;
	else if (strcmp(p, "db/toc.dat") == 0)
		w->saw_db_toc = true;
	else
		note_unexpected(w, p);
	return WALK_OK;
}

/*
 * warn_unexpected: one warning for the entries outside the layout, given only once the walk
 * has accepted the archive: after a refusal they would be noise beside its reason.
 */
static void
warn_unexpected(struct walker *w)
{
	if (w->unexpected == 1)
		report_warn(w->report, "ignored an unexpected entry %s in the archive",
		            w->unexpected_names);
	else if (w->unexpected > 1)
		report_warn(w->report, "ignored %llu unexpected entries in the archive: %s%s",
		            w->unexpected, w->unexpected_names,
		            w->unexpected > UNEXPECTED_NAMED ? ", ..." : "");
}

/* check_metadata: compare .metadata's sizes with what the archive really holds. */
static void
check_metadata(struct walker *w)
{
	const struct report *r = w->report;
	const char *dump_size = json_member_find(r->metadata, r->nmetadata, "dumpSize");
	const char *files_size = json_member_find(r->metadata, r->nmetadata, "filesSize");
	char *end;
	unsigned long long claimed;

	if (dump_size != NULL && w->walk->have_dump && !w->walk->dump.over_limit) {
		errno = 0;
		claimed = strtoull(dump_size, &end, 10);
		if (errno != 0 || *end != '\0' || end == dump_size)
			report_warn(w->report, ".metadata's dumpSize '%s' is not a number",
			            dump_size);
		else if (claimed != w->walk->dump_stored_bytes)
			report_warn(
			    w->report,
			    ".metadata says dumpSize %llu but db/db.backup holds %llu bytes",
			    claimed, (unsigned long long)w->walk->dump_stored_bytes);
	}
	if (files_size != NULL) {
		errno = 0;
		claimed = strtoull(files_size, &end, 10);
		if (errno != 0 || *end != '\0' || end == files_size)
			report_warn(w->report, ".metadata's filesSize '%s' is not a number",
			            files_size);
		else if (claimed != w->walk->file_bytes)
			report_warn(
			    w->report,
			    ".metadata says filesSize %llu but the tree holds %llu bytes in "
			    "%llu files",
			    claimed, (unsigned long long)w->walk->file_bytes,
			    (unsigned long long)w->walk->file_count);
	}
}

/*
 * snapshot_entry: is an entry named name one of a Mendix snapshot's (.metadata, db/..., tree/...)?
 * A tar archive is a full snapshot once it holds one; another tar (a pg_dump -Ft archive, say)
 * is of no known kind.
 */
static bool
snapshot_entry(const char *name)
{
	if (name == NULL)
		return false;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	return strcmp(name, ".metadata") == 0 || strcmp(name, "db") == 0 ||
	       strncmp(name, "db/", 3) == 0 || strcmp(name, "tree") == 0 ||
	       strncmp(name, "tree/", 5) == 0;
}

/*
 * read_in_place: a bare dump that is neither compressed nor inflated on its way here is read
 * where it lies rather than copied, when the caller asks for that and the file allows it
 * (dump_in_place.h). pg_restore cannot seek in a gzip stream: a compressed dump is copied.
 * 0, or -1 (errno) when its descriptor cannot be kept.
 */
static int
read_in_place(struct walker *w)
{
	struct archive_walk *walk = w->walk;

	if (walk->in_place == NULL || w->inflating ||
	    archive_filter_code(w->a, 0) != ARCHIVE_FILTER_NONE ||
	    !dump_in_place_usable(walk->fd, &w->st, &w->before))
		return 0;
	if (dump_in_place_take(walk->in_place, walk->fd, &w->st) < 0)
		return -1;
	w->dump_in_place = true;
	return 0;
}

/* walk_entries: the loop over the archive's entries. */
static enum archive_outcome
walk_entries(struct walker *w)
{
	struct archive_walk *walk = w->walk;
	struct archive_entry *e;
	enum archive_outcome outcome;
	bool any_entry = false;
	int rc;

	for (;;) {
		if (walker_cancelled(w))
			return walker_refuse(w, WALK_FAILED, "reading was interrupted");
		rc = archive_read_next_header(w->a, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN)
			return walker_refuse(w, WALK_REJECTED,
			                     "the archive is truncated or corrupt (%s)",
			                     archive_error_string(w->a));
		if (archive_format(w->a) == ARCHIVE_FORMAT_RAW) {
			/* A single file is a database-only backup once it reads as a dump. */
			if (read_in_place(w) < 0)
				return walker_refuse(w, WALK_FAILED, "cannot keep it open: %s",
				                     strerror(errno));
			outcome = walker_read_dump(w, w->name);
			if (walk->have_dump)
				walk->kind = ARCHIVE_KIND_DATABASE_ONLY;
			if (outcome == WALK_OK)
				outcome = dump_read_whole(w);
			if (outcome != WALK_OK || walk->dump.over_limit)
				return outcome;
			continue;
		}
		if (!any_entry && walk->blob_target != NULL) {
			char why[512];
			int begun;

			/*
			 * Only a full snapshot replaces the files: stage them from its first entry.
			 * A store that cannot take them (a blob_dir that cannot be swapped where it
			 * is) refuses the restore.
			 */
			begun = store_stage_begin(walk->blob_target, walk->job_id,
			                          walk->rehearsal ? STORE_STAGE_REHEARSAL : 0,
			                          &walk->staging, why, sizeof(why));
			if (begun < 0)
				return walker_refuse(w, begun == -2 ? WALK_REJECTED : WALK_FAILED,
				                     "%s", why);
		}
		any_entry = true;
		if (snapshot_entry(archive_entry_pathname(e)))
			walk->kind = ARCHIVE_KIND_FULL_SNAPSHOT;
		outcome = read_tar_entry(w, e);
		if (outcome != WALK_OK)
			return outcome;
		if (walk->dump.over_limit)
			return WALK_OK; /* the caller refuses it on the quota */
	}

	if (walk->kind == ARCHIVE_KIND_DATABASE_ONLY)
		return WALK_OK;
	if (!any_entry)
		return walker_refuse(w, WALK_REJECTED, "the archive holds nothing");
	if (!walk->have_dump) {
		if (w->saw_pgdump_toc)
			return walker_refuse(
			    w, WALK_REJECTED,
			    "is a tar-format dump (pg_dump -Ft), not a backup archive; the "
			    "backup needs `pg_dump -Fc`");
		if (w->saw_db_toc)
			return walker_refuse(
			    w, WALK_REJECTED,
			    "db/ holds a directory-format dump (pg_dump -Fd); the backup "
			    "needs db/db.backup made with `pg_dump -Fc`");
		if (walk->file_count > 0)
			return walker_refuse(
			    w, WALK_REJECTED,
			    "holds %llu files but no database dump (db/db.backup); a "
			    "files-only backup cannot be restored",
			    (unsigned long long)walk->file_count);
		if (w->unexpected > 0)
			return walker_refuse(
			    w, WALK_REJECTED,
			    "holds no database dump (db/db.backup), only %llu entr%s outside a "
			    "backup's layout (.metadata, db/db.backup, tree/xx/yy/<uuid>): %s%s",
			    w->unexpected, w->unexpected == 1 ? "y" : "ies", w->unexpected_names,
			    w->unexpected > UNEXPECTED_NAMED ? ", ..." : "");
		return walker_refuse(w, WALK_REJECTED, "holds no database dump (db/db.backup)");
	}
	warn_unexpected(w);
	if (!walk->have_metadata)
		report_warn(w->report, "the archive has no .metadata");
	check_metadata(w);
	return WALK_OK;
}

/* walk_fd_read: an inflate_read_fn over the archive's descriptor. */
static ssize_t
walk_fd_read(void *ctx, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(*(int *)ctx, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* walk_gzip_read: libarchive's read callback over the inflate reader. */
static la_ssize_t
walk_gzip_read(struct archive *a, void *ctx, const void **buf)
{
	struct inflate_reader *gz = ctx;
	ssize_t n = inflate_read_block(gz, buf);

	if (n < 0)
		archive_set_error(a, EIO, "%s",
		                  inflate_source_failed(gz) ? strerror(errno) : inflate_error(gz));
	return n;
}

enum archive_outcome
archive_walk(struct archive_walk *walk, struct report *report, char *err, size_t errlen)
{
	struct walker w;
	enum archive_outcome outcome;
	struct stat st;
	const char *slash = strrchr(walk->path, '/');
	struct inflate_reader *gz = NULL;
	unsigned char magic[2];
	int fd, rc;

	memset(&w, 0, sizeof(w));
	w.walk = walk;
	w.report = report;
	w.err = err;
	w.errlen = errlen;
	w.name = slash != NULL && slash[1] != '\0' ? slash + 1 : walk->path;
	walk->kind = ARCHIVE_KIND_UNKNOWN;
	walk->fd = -1;

	/* Non-blocking, so that a FIFO is refused rather than waited on. */
	fd = open(walk->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return walker_refuse(&w, WALK_REJECTED, "cannot open it: %s", strerror(errno));
	/* The clock first, then the status: what reading the dump in place relies on. */
	clock_gettime(CLOCK_REALTIME_COARSE, &w.before);
	if (fstat(fd, &st) < 0) {
		(void)close(fd);
		return walker_refuse(&w, WALK_REJECTED, "cannot examine it: %s", strerror(errno));
	}
	if (S_ISDIR(st.st_mode)) {
		(void)close(fd);
		return walker_refuse(
		    &w, WALK_REJECTED,
		    "is a folder, not a backup file (a directory-format dump, pg_dump "
		    "-Fd, cannot be restored: the backup needs `pg_dump -Fc`)");
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		return walker_refuse(&w, WALK_REJECTED, "is not a regular file");
	}
	if (st.st_size == 0) {
		(void)close(fd);
		return walker_refuse(&w, WALK_REJECTED, "is empty");
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		(void)close(fd);
		return walker_refuse(&w, WALK_FAILED, "cannot read it: %s", strerror(errno));
	}
	w.block = malloc(BLOCK_BYTES);
	w.a = archive_read_new();
	if (w.block == NULL || w.a == NULL) {
		(void)close(fd);
		free(w.block);
		if (w.a != NULL)
			archive_read_free(w.a);
		return walker_refuse(&w, WALK_FAILED, "out of memory");
	}
	archive_read_support_filter_all(w.a);
	archive_read_support_format_tar(w.a);
	archive_read_support_format_raw(w.a);
	/*
	 * gzip is inflated here with ISA-L when it is there (several times zlib's speed);
	 * libarchive then reads the inflated stream. With zlib alone, libarchive's own gzip
	 * filter is as fast, and it stays.
	 */
	if (strcmp(inflate_backend(), "isa-l") == 0 && pread(fd, magic, 2, 0) == 2 &&
	    inflate_is_gzip(magic, 2)) {
		gz = inflate_open(walk_fd_read, &fd);
		if (gz == NULL) {
			archive_read_free(w.a);
			(void)close(fd);
			free(w.block);
			return walker_refuse(&w, WALK_FAILED, "out of memory");
		}
		w.inflating = true;
		rc = archive_read_open(w.a, gz, NULL, walk_gzip_read, NULL);
	} else {
		rc = archive_read_open_fd(w.a, fd, BLOCK_BYTES);
	}
	walk->fd = fd;
	walk->size = (uint64_t)st.st_size;
	w.st = st;
	if (rc != ARCHIVE_OK)
		outcome = walker_refuse(&w, WALK_REJECTED,
		                        "is not a backup archive or dump, or it is truncated (%s)",
		                        archive_error_string(w.a));
	else
		outcome = walk_entries(&w);
	if (outcome == WALK_OK && gz != NULL && !walk->dump.over_limit) {
		/*
		 * The tar reader stops at its end marker: the last gzip trailer is checked here
		 * (not after a walk that stopped at stop_after: the rest is not read).
		 */
		const void *p;
		ssize_t n;

		while ((n = inflate_read_block(gz, &p)) > 0)
			;
		if (n < 0)
			outcome = walker_refuse(
			    &w, WALK_REJECTED, "the archive is truncated or corrupt (%s)",
			    inflate_source_failed(gz) ? strerror(errno) : inflate_error(gz));
	}
	archive_read_free(w.a);
	inflate_close(gz);
	walk->fd = -1;
	(void)close(fd);
	free(w.block);
	return outcome;
}
