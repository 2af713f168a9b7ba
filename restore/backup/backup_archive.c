/*
 * backup_archive.c - write a backup's bytes: the full snapshot with libarchive (tar, gzip),
 * or the bare dump.
 *
 * The snapshot holds, in this order and nothing else: .metadata, db/db.backup and
 * tree/xx/yy/<uuid> for every file of blob_dir in the layout, in sorted order (store.h),
 * as regular-file entries (no folder entries) of a POSIX tar (ustar, with a pax header only
 * for what ustar cannot hold, such as a dump over 8 GiB). A tar header needs the entry's size
 * first, which is why .metadata, written first, needs filesSize before any file is read: the
 * first pass (backup_files_measure) adds up the sizes from stat(), the second copies the
 * files. A file that is gone by then, or whose status changed after the first pass began
 * (st_ctime later than that moment: written, renamed or created since), is left out with a
 * warning, so the archive holds no file newer than its measure; a file deleted in between
 * makes filesSize larger than the files in the archive (restore and inspect warn about the
 * mismatch). Files are opened relative to their folder's descriptor with O_NOFOLLOW and must
 * be regular files; each is copied exactly as long as fstat() said, and a file that shrinks
 * while it is read fails the backup rather than be padded. A file whose size, modification or
 * status change time differ after the copy from before it (fstat() on the same descriptor) was
 * written while it was read: that fails the backup too, naming the file (store_read_unchanged).
 *
 * A file whose file document is marked DeleteAfterDownload (backup_leftout.c) is left out of
 * both passes: filesSize counts only what the archive holds.
 *
 * Memory: one copy buffer and the names of one xx/yy folder, whatever the sizes.
 */
#include "backup_parts.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "store.h"

/*
 * Where libarchive's output goes. A write that fails is remembered, not reported to
 * libarchive, which would then give up without closing its gzip stream (and leak it): the
 * writer stops at the next check and closes the archive into the void.
 */
struct sink {
	int fd;
	int error; /* the errno of the first failed write, 0 while none failed */
	uint64_t bytes;
};

/* The state of one snapshot being written. */
struct writer {
	const struct backup_options *o;
	struct backup_watch *watch; /* the progress: dump_bytes, files, file_bytes */
	struct backup_result *r;
	const struct backup_leftout *leftout;
	struct archive *a;
	struct sink sink;
	unsigned char *buf;
	char *err;
	size_t errlen;
};

/* What warn_skipped is told: the backup's result, and what the store is ("blob_dir"). */
struct skipped {
	struct backup_result *r;
	const char *kind;
};

/* warn_skipped: store_skipped_fn of the first pass: name the first few, count them all. */
static void
warn_skipped(void *ctx, const char *path, const char *why)
{
	struct skipped *s = ctx;

	if (++s->r->files_skipped <= BACKUP_NAMED_MAX)
		backup_warn(s->r, "%s entry %s left out: %s", s->kind, path, why);
}

/* warn_vanished: a file measured in the first pass that the second leaves out. */
static void
warn_vanished(struct backup_result *r, const char *kind, const char *xx_yy_uuid, const char *why)
{
	if (++r->files_vanished <= BACKUP_NAMED_MAX)
		backup_warn(r, "%s file %s left out: %s", kind, xx_yy_uuid, why);
}

int
backup_files_measure(struct backup_watch *w, struct backup_result *r,
                     const struct backup_leftout *leftout, char *err, size_t errlen)
{
	const struct backup_options *o = w->o;
	struct skipped skipped = {r, restore_target_store_kind(o->target)};
	struct store *store;
	struct store_list *files = NULL;
	struct store_entry file;
	int rc;

	backup_watch_phase(w, "measuring");
	if (store_open(o->target, &store, err, errlen) < 0)
		return -1;
	/* A file gone already was never part of the backup: STORE_LIST_SIZES leaves it out. */
	if (store_list_open(store, "the backup", STORE_LIST_SIZES, warn_skipped, &skipped, &files,
	                    err, errlen) < 0) {
		store_close(store);
		return -1;
	}
	while ((rc = store_list_next(files, &file, err, errlen)) > 0) {
		if (backup_cancelled(o)) {
			rc = io_error(err, errlen, "the backup was interrupted");
			break;
		}
		if (backup_leftout_has(leftout, file.uuid))
			continue;
		r->files_measured_bytes += file.size;
		w->p.file_total++;
		w->p.file_bytes_total += file.size;
		backup_watch_tick(w);
	}
	store_list_close(files);
	store_close(store);
	if (r->files_skipped > BACKUP_NAMED_MAX)
		backup_warn(r, "%llu more entries of %s left out (outside the %s layout)",
		            (unsigned long long)(r->files_skipped - BACKUP_NAMED_MAX), skipped.kind,
		            o->target->blob_dir != NULL ? "xx/yy/<uuid>"
		                                        : "<prefix><uuid><suffix>");
	return rc < 0 ? -1 : 0;
}

/* sink_write: libarchive's writer (archive_write_callback); see struct sink. */
static la_ssize_t
sink_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;

	(void)a;
	if (s->error == 0 && io_write_all(s->fd, buf, len) < 0)
		s->error = errno != 0 ? errno : EIO;
	if (s->error == 0)
		s->bytes += len;
	return (la_ssize_t)len;
}

/* archive_failed: err from the failed write or libarchive's last error, with what was done. */
static int
archive_failed(struct writer *w, const char *doing)
{
	const char *why = archive_error_string(w->a);

	if (w->sink.error != 0)
		why = strerror(w->sink.error);
	return io_error(w->err, w->errlen, "cannot write the archive (%s): %s", doing,
	                why != NULL ? why : "unknown error");
}

/* entry_begin: write the header of a regular file called name of size bytes. */
static int
entry_begin(struct writer *w, const char *name, uint64_t size, const struct timespec *mtime)
{
	struct archive_entry *e = archive_entry_new();
	int rc = 0;

	if (e == NULL)
		return io_error(w->err, w->errlen, "out of memory");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, mtime->tv_sec, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK || w->sink.error != 0)
		rc = archive_failed(w, name);
	archive_entry_free(e);
	return rc;
}

/* entry_data: write len bytes of the current entry. */
static int
entry_data(struct writer *w, const char *name, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		la_ssize_t n = archive_write_data(w->a, p, len);

		if (n <= 0 || w->sink.error != 0)
			return archive_failed(w, name);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * source_read: up to want bytes into w->buf from a file of the store (file, when not NULL) or
 * from fd (what name is, for messages): how many, 0 at the end, -1 with err.
 */
static ssize_t
source_read(struct writer *w, const char *name, int fd, struct store_read *file, size_t want)
{
	ssize_t n;

	if (file != NULL)
		return store_read(file, w->buf, want, w->err, w->errlen);
	do
		n = read(fd, w->buf, want);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return io_error(w->err, w->errlen, "cannot read %s: %s", name, strerror(errno));
	return n;
}

/*
 * entry_copy: write exactly size bytes read from file, or from fd when file is NULL (what name
 * is, for messages) as the current entry's data; -1 with err when it ends early or cannot be
 * read.
 */
static int
entry_copy(struct writer *w, const char *name, int fd, struct store_read *file, uint64_t size)
{
	uint64_t left = size;

	while (left > 0) {
		size_t want = left < BACKUP_COPY_BYTES ? (size_t)left : BACKUP_COPY_BYTES;
		ssize_t n;

		if (backup_cancelled(w->o))
			return io_error(w->err, w->errlen, "the backup was interrupted");
		n = source_read(w, name, fd, file, want);
		if (n < 0)
			return -1;
		if (n == 0)
			return io_error(w->err, w->errlen,
			                "%s shrank while it was read (%llu of %llu bytes); run the "
			                "backup again",
			                name, (unsigned long long)(size - left),
			                (unsigned long long)size);
		if (entry_data(w, name, w->buf, (size_t)n) < 0)
			return -1;
		left -= (uint64_t)n;
		if (file != NULL)
			w->watch->p.file_bytes += (uint64_t)n;
		else
			w->watch->p.dump_bytes += (uint64_t)n;
		backup_watch_tick(w->watch);
	}
	return 0;
}

/* write_file: the entry tree/xx/yy/<uuid> for the file files last listed. */
static int
write_file(struct writer *w, struct store_list *files, const char *uuid,
           const struct timespec *measured_at)
{
	char rel[48], name[64];
	struct store_read *r;
	struct store_file_info info;
	const char *why;
	int rc;

	snprintf(rel, sizeof(rel), "%.2s/%.2s/%s", uuid, uuid + 2, uuid);
	snprintf(name, sizeof(name), "tree/%s", rel);
	rc = store_read_open(files, measured_at, &r, &info, &why, w->err, w->errlen);
	if (rc <= 0) {
		if (rc == 0)
			warn_vanished(w->r, restore_target_store_kind(w->o->target), rel, why);
		return rc;
	}
	rc = entry_begin(w, name, info.size, &info.modified);
	if (rc == 0)
		rc = entry_copy(w, store_read_name(r), -1, r, info.size);
	/* Written while it was read: the entry may hold a mixture of two versions (below). */
	if (rc == 0)
		rc = store_read_unchanged(r, w->err, w->errlen);
	if (rc == 0) {
		w->r->files_count++;
		w->r->files_bytes += info.size;
		w->watch->p.files++;
		backup_watch_tick(w->watch);
	}
	store_read_close(r);
	return rc;
}

/*
 * write_tree: the second pass over blob_dir, one entry per file. A file written while it was
 * copied fails the backup rather than being copied again: the entry's header, with its size,
 * went out before its content, and the archive is a stream (possibly to stdout) that cannot
 * be rewound; copying each file to a temporary first would double the backup's I/O and room
 * for an event Mendix never causes (a file is named by a UUID and written once).
 */
static int
write_tree(struct writer *w, const struct timespec *measured_at)
{
	struct store *store;
	struct store_list *files = NULL;
	struct store_entry file;
	int rc;

	if (store_open(w->o->target, &store, w->err, w->errlen) < 0)
		return -1;
	/* What lies outside the layout was warned about by the first pass. */
	if (store_list_open(store, "the backup", 0, NULL, NULL, &files, w->err, w->errlen) < 0) {
		store_close(store);
		return -1;
	}
	while ((rc = store_list_next(files, &file, w->err, w->errlen)) > 0)
		if (backup_leftout_has(w->leftout, file.uuid))
			w->r->files_left_out++;
		else if (write_file(w, files, file.uuid, measured_at) < 0) {
			rc = -1;
			break;
		}
	store_list_close(files);
	store_close(store);
	if (w->r->files_vanished > BACKUP_NAMED_MAX)
		backup_warn(w->r,
		            "%llu more files of %s left out (gone or changed after the files "
		            "were measured)",
		            (unsigned long long)(w->r->files_vanished - BACKUP_NAMED_MAX),
		            restore_target_store_kind(w->o->target));
	return rc < 0 ? -1 : 0;
}

int
backup_snapshot_write(struct backup_watch *watch, struct backup_result *r,
                      const struct backup_leftout *leftout, int out_fd, int dump_fd,
                      const char *metadata, size_t len, const struct timespec *measured_at,
                      char *err, size_t errlen)
{
	const struct backup_options *o = watch->o;
	struct writer w = {o, watch, r, leftout, NULL, {out_fd, 0, 0}, NULL, err, errlen};
	struct timespec now;
	char level[48];
	bool open = false;
	int rc = -1;

	clock_gettime(CLOCK_REALTIME, &now);
	w.buf = malloc(BACKUP_COPY_BYTES);
	w.a = archive_write_new();
	if (w.buf == NULL || w.a == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	snprintf(level, sizeof(level), "gzip:compression-level=%d", BACKUP_GZIP_LEVEL);
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(w.a) != ARCHIVE_OK ||
	    archive_write_set_options(w.a, level) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w.a, 64 * 1024) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK ||
	    archive_write_open(w.a, &w.sink, NULL, sink_write, NULL) != ARCHIVE_OK) {
		(void)archive_failed(&w, "setting up tar and gzip");
		goto done;
	}
	open = true;
	if (entry_begin(&w, ".metadata", len, &now) < 0 ||
	    entry_data(&w, ".metadata", metadata, len) < 0)
		goto done;
	if (lseek(dump_fd, 0, SEEK_SET) < 0) {
		(void)io_error(err, errlen, "cannot read the dump again: %s", strerror(errno));
		goto done;
	}
	watch->p.dump_bytes = 0;
	watch->p.dump_size = r->dump_bytes;
	backup_watch_phase(watch, "writing");
	if (entry_begin(&w, "db/db.backup", r->dump_bytes, &now) < 0 ||
	    entry_copy(&w, "the dump in work_dir", dump_fd, NULL, r->dump_bytes) < 0)
		goto done;
	if (o->log != NULL)
		o->log(o->log_ctx, "db/db.backup written; writing the files");
	backup_watch_phase(watch, "files");
	if (write_tree(&w, measured_at) < 0)
		goto done;
	backup_watch_phase(watch, "files"); /* the last figures: every file written */
	open = false;
	if (archive_write_close(w.a) != ARCHIVE_OK || w.sink.error != 0) {
		(void)archive_failed(&w, "finishing it");
		goto done;
	}
	r->archive_bytes = w.sink.bytes;
	rc = 0;
done:
	if (open) {
		/* Failed half-way: close into the void (err says why), so that gzip ends. */
		if (w.sink.error == 0)
			w.sink.error = ECANCELED;
		(void)archive_write_close(w.a);
	}
	if (w.a != NULL)
		archive_write_free(w.a);
	free(w.buf);
	return rc;
}

int
backup_copy(struct backup_watch *w, int from, int to, uint64_t *bytes, char *err, size_t errlen)
{
	const struct backup_options *o = w->o;
	char *buf = NULL;
	off_t offset = 0;
	ssize_t n;

	*bytes = 0;
	/* copy_file_range first: in the kernel, and a reflink where the file system can. */
	for (;;) {
		if (backup_cancelled(o))
			return io_error(err, errlen, "the backup was interrupted");
		n = copy_file_range(from, &offset, to, NULL, BACKUP_COPY_BYTES * 16, 0);
		if (n <= 0)
			break;
		*bytes += (uint64_t)n;
		w->p.dump_bytes = *bytes;
		backup_watch_tick(w);
	}
	if (n == 0)
		return 0;
	if (*bytes > 0 || (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
	                   errno != EOPNOTSUPP && errno != EBADF))
		return io_error(err, errlen, "cannot write the backup: %s", strerror(errno));
	/* Not between these two (a pipe, another file system on an old kernel): read, write. */
	if (lseek(from, 0, SEEK_SET) < 0 || (buf = malloc(BACKUP_COPY_BYTES)) == NULL)
		return io_error(err, errlen, "cannot read the dump again: %s", strerror(errno));
	for (;;) {
		if (backup_cancelled(o)) {
			free(buf);
			return io_error(err, errlen, "the backup was interrupted");
		}
		n = read(from, buf, BACKUP_COPY_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (io_write_all(to, buf, (size_t)n) < 0) {
			free(buf);
			return io_error(err, errlen, "cannot write the backup: %s",
			                strerror(errno));
		}
		*bytes += (uint64_t)n;
		w->p.dump_bytes = *bytes;
		backup_watch_tick(w);
	}
	free(buf);
	if (n < 0)
		return io_error(err, errlen, "cannot read the dump in work_dir: %s",
		                strerror(errno));
	return 0;
}
