/*
 * archive_dump.c - the dump entry of a walk (see archive_walk_parts.h): db/db.backup of a
 * full snapshot, or the whole input of a database-only backup. Its first bytes tell its kind;
 * a custom-format dump is then read once by dump_scan(), through a source that copies every
 * byte to dump_fd as it goes (unless the walk reads the dump in place), and refused, with what to
 * do, when it is another kind of dump, too new, corrupt or truncated.
 */
#include "archive_walk_parts.h"
#include "io.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The dump reader's view of the current entry: peeked bytes first, then libarchive. */
struct dump_source {
	struct walker *w;
	unsigned char head[DUMP_IDENTIFY_BYTES];
	size_t head_len, head_pos;
	enum { SOURCE_OK, SOURCE_ARCHIVE_ERROR, SOURCE_WRITE_ERROR, SOURCE_CANCELLED } state;
	char why[512];
};

/* source_pull: read the entry's next bytes from libarchive, copying them to dump_fd if asked. */
static ssize_t
source_pull(struct dump_source *src, void *buf, size_t len)
{
	struct walker *w = src->w;
	la_ssize_t n;

	if (walker_cancelled(w)) {
		src->state = SOURCE_CANCELLED;
		return -1;
	}
	n = archive_read_data(w->a, buf, len);
	if (n < 0) {
		src->state = SOURCE_ARCHIVE_ERROR;
		snprintf(src->why, sizeof(src->why), "%s", archive_error_string(w->a));
		return -1;
	}
	if (n > 0 && w->walk->dump_fd >= 0 && !w->dump_in_place &&
	    io_write_all(w->walk->dump_fd, buf, (size_t)n) < 0) {
		src->state = SOURCE_WRITE_ERROR;
		snprintf(src->why, sizeof(src->why), "%s", strerror(errno));
		return -1;
	}
	w->walk->dump_stored_bytes += (uint64_t)n;
	if (w->walk->tick != NULL)
		w->walk->tick(w->walk->tick_ctx);
	return (ssize_t)n;
}

/* source_read: the dump_read_fn handed to dump_scan(). */
static ssize_t
source_read(void *ctx, void *buf, size_t len)
{
	struct dump_source *src = ctx;

	if (src->head_pos < src->head_len) {
		size_t n = src->head_len - src->head_pos;

		if (n > len)
			n = len;
		memcpy(buf, src->head + src->head_pos, n);
		src->head_pos += n;
		return (ssize_t)n;
	}
	return source_pull(src, buf, len);
}

/* source_error: the outcome and sentence for a dump_source that failed. */
static enum archive_outcome
source_error(struct walker *w, const struct dump_source *src, const char *entry)
{
	switch (src->state) {
	case SOURCE_CANCELLED:
		return walker_refuse(w, WALK_FAILED, "reading was interrupted");
	case SOURCE_WRITE_ERROR:
		return walker_refuse(w, WALK_FAILED, "cannot copy %s into work_dir: %s", entry,
		                     src->why);
	case SOURCE_ARCHIVE_ERROR:
	case SOURCE_OK:
		break;
	}
	return walker_refuse(w, WALK_REJECTED, "the archive is truncated or corrupt inside %s (%s)",
	                     entry, src->why);
}

/*
 * not_custom: the refusal for a dump that is not in the custom format. The message begins
 * with the archive's name; a bare dump, the entry itself, is not named twice.
 */
static enum archive_outcome
not_custom(struct walker *w, const char *entry, enum dump_kind kind)
{
	const char *sep = " ";

	if (strcmp(entry, w->name) == 0)
		entry = sep = "";
	if (kind == DUMP_KIND_EMPTY)
		return walker_refuse(w, WALK_REJECTED, "%s%sis empty", entry, sep);
	if (kind == DUMP_KIND_UNKNOWN)
		return walker_refuse(
		    w, WALK_REJECTED,
		    "%s%sis neither a backup archive (a .tar.gz holding .metadata and "
		    "db/db.backup) nor a custom-format database dump",
		    entry, sep);
	return walker_refuse(w, WALK_REJECTED,
	                     "%s%sis %s, not a custom-format dump; the backup needs "
	                     "`pg_dump -Fc`",
	                     entry, sep, dump_kind_describe(kind));
}

/*
 * refuse_too_new: the refusal of a dump newer than the limit: which version, which pg_dump
 * wrote it, where the limit comes from and how to lift it (the limit, a newer client, or
 * both).
 */
static enum archive_outcome
refuse_too_new(struct walker *w, const char *entry, const char *why)
{
	const char *limit = w->walk->max_why != NULL ? w->walk->max_why : "";
	int vmin = w->walk->dump.vmin, major = dump_first_postgresql(vmin);
	char client[256] = "";

	if (w->walk->readers_minor < vmin)
		snprintf(
		    client, sizeof(client),
		    "the pg_restore of PostgreSQL %d or later: install postgresql-client-%d (or "
		    "newer), or name it with pg_client_dirs: or pg_restore: in the configuration",
		    major, major);
	if (!w->walk->max_from_config)
		return walker_refuse(w, WALK_REJECTED, "%s %s: %s; it needs %s", entry, why, limit,
		                     client);
	if (client[0] != '\0')
		return walker_refuse(w, WALK_REJECTED,
		                     "%s %s: %s; it needs max_dump_version: \"%d.%d\" and %s",
		                     entry, why, limit, w->walk->dump.vmaj, vmin, client);
	return walker_refuse(
	    w, WALK_REJECTED,
	    "%s %s: %s; set max_dump_version: \"%d.%d\" to accept it (a pg_restore "
	    "found reads it)",
	    entry, why, limit, w->walk->dump.vmaj, vmin);
}

/* walker_read_dump: identify, measure and copy the dump that is the current entry. */
enum archive_outcome
walker_read_dump(struct walker *w, const char *entry)
{
	struct dump_source src;
	char why[512];

	memset(&src, 0, sizeof(src));
	src.w = w;
	while (src.head_len < sizeof(src.head)) {
		ssize_t n =
		    source_pull(&src, src.head + src.head_len, sizeof(src.head) - src.head_len);

		if (n < 0)
			return source_error(w, &src, entry);
		if (n == 0)
			break;
		src.head_len += (size_t)n;
	}
	w->walk->dump_kind = dump_identify(src.head, src.head_len);
	if (w->walk->dump_kind != DUMP_KIND_CUSTOM)
		return not_custom(w, entry, w->walk->dump_kind);
	w->walk->have_dump = true;
	if (dump_scan(source_read, &src, w->walk->stop_after,
	              w->walk->measure_too_new ? 0 : w->walk->max_minor, &w->walk->dump, why,
	              sizeof(why)) < 0) {
		if (src.state != SOURCE_OK)
			return source_error(w, &src, entry);
		if (w->walk->dump.too_new)
			return refuse_too_new(w, entry, why);
		return walker_refuse(w, WALK_REJECTED, "%s %s", entry, why);
	}
	if (w->walk->max_minor != 0 && w->walk->dump.vmin > w->walk->max_minor) {
		/* Measured all the same (inspect): now it is refused as it would have been. */
		w->walk->dump.too_new = true;
		snprintf(why, sizeof(why),
		         "has archive version %d.%d (pg_dump %s), newer than 1.%d",
		         w->walk->dump.vmaj, w->walk->dump.vmin, w->walk->dump.pg_dump_version,
		         w->walk->max_minor);
		return refuse_too_new(w, entry, why);
	}
	return WALK_OK;
}
