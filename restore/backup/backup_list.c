/*
 * backup_list.c - the backups in folders (see backup_list.h): restore-worker list, and the
 * lookup of a target's newest backup, read them here.
 *
 * A backup is a regular file of a Mendix name (backup_keep.c reads the names and orders them,
 * as retention does): links, folders and other names are passed over, as retention passes
 * them over. Its archive version comes from the one reader of archives, archive_walk(), told
 * to stop once the dump's decompressed data passes its first byte: it reads .metadata, then
 * db/db.backup's header and table of contents (or a bare dump's), and stops at the first data
 * block, so a backup of many gigabytes costs about what its schema weighs. Nothing is written
 * and nothing staged.
 *
 * Limits: a file that cannot be read (truncated, not a backup, no permission) gets no version
 * and a warning; it is still listed, by its name.
 */
#include "backup_list.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive_walk.h"
#include "io.h"
#include "report.h"

#define LIST_ERR_BYTES 1024

/* list_warn: add a warning (one line) to the list; out of memory drops it. */
static void __attribute__((format(printf, 2, 3)))
list_warn(struct backup_list *list, const char *fmt, ...)
{
	char **grown, line[LIST_ERR_BYTES + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	grown = realloc(list->warnings, (list->nwarnings + 1) * sizeof(*grown));
	if (grown == NULL)
		return;
	list->warnings = grown;
	if ((grown[list->nwarnings] = strdup(line)) != NULL)
		list->nwarnings++;
}

/*
 * read_version: b's archive version, from its dump's header, by a walk that stops at the
 * dump's first data; a warning when the file cannot be read that far.
 */
static void
read_version(struct backup_list *list, struct backup_listed *b)
{
	struct archive_walk walk;
	struct report report;
	char err[LIST_ERR_BYTES];

	if (report_init(&report, "", b->path, NULL, false) < 0) {
		list_warn(list, "%s: its archive version is unknown: out of memory", b->path);
		report_free(&report);
		return;
	}
	memset(&walk, 0, sizeof(walk));
	walk.path = b->path;
	walk.dump_fd = -1;   /* nothing is copied */
	walk.stop_after = 1; /* the dump's first data ends the walk */
	err[0] = '\0';
	if (archive_walk(&walk, &report, err, sizeof(err)) != WALK_OK || !walk.have_dump) {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s: holds no database dump", b->named.name);
		/* err begins with the file's name: the folder goes before it. */
		list_warn(list, "%.*s%s (its archive version is unknown)",
		          (int)(strlen(b->path) - strlen(b->named.name)), b->path, err);
	} else {
		snprintf(b->archive_version, sizeof(b->archive_version), "%d.%d", walk.dump.vmaj,
		         walk.dump.vmin);
	}
	report_free(&report);
}

/* list_add: one more backup (dir/name, with its status) at the list's end; NULL out of memory. */
static struct backup_listed *
list_add(struct backup_list *list, const char *dir, const char *name, const struct stat *st)
{
	struct backup_listed *b;

	if (list->n == list->cap) {
		size_t cap = list->cap == 0 ? 16 : list->cap * 2;
		struct backup_listed *grown = realloc(list->items, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		list->items = grown;
		list->cap = cap;
	}
	b = &list->items[list->n];
	memset(b, 0, sizeof(*b));
	if (asprintf(&b->path, "%s/%s", dir, name) < 0)
		return NULL;
	list->n++;
	/* backup_name_parse() takes only names of the fixed length, well within name[]. */
	memcpy(b->named.name, name, strlen(name) + 1);
	b->named.mtime = st->st_mtim;
	b->bytes = (uint64_t)st->st_size;
	return b;
}

int
backup_list_folder(struct backup_list *list, const char *dir, const char *target,
                   const char *source, bool versions, char *err, size_t errlen)
{
	struct backup_listed *b;
	struct dirent *e;
	struct stat st;
	char stamp[13];
	bool db_only;
	int rc = 0;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0
		                       : io_error(err, errlen, "cannot read the folder %s: %s", dir,
		                                  strerror(errno));
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			if (errno != 0)
				rc = io_error(err, errlen, "cannot read the folder %s: %s", dir,
				              strerror(errno));
			break;
		}
		if (!backup_name_parse(e->d_name, false, &db_only, stamp) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		b = list_add(list, dir, e->d_name, &st);
		if (b == NULL) {
			rc = io_error(err, errlen, "out of memory listing the folder %s", dir);
			break;
		}
		memcpy(b->named.stamp, stamp, sizeof(stamp));
		b->named.db_only = db_only;
		b->target = target;
		b->source = source;
		if (versions)
			read_version(list, b);
	}
	(void)closedir(d); /* only read */
	return rc;
}

/* listed_newest_first: qsort's order of the list, by backup_named_newest_first. */
static int
listed_newest_first(const void *a, const void *b)
{
	return backup_named_newest_first(&((const struct backup_listed *)a)->named,
	                                 &((const struct backup_listed *)b)->named);
}

void
backup_list_sort(struct backup_list *list)
{
	if (list->n > 1)
		qsort(list->items, list->n, sizeof(*list->items), listed_newest_first);
}

void
backup_list_time(const struct backup_listed *b, char *buf, size_t buflen)
{
	const char *s = b->named.stamp;

	snprintf(buf, buflen, "%.4s-%.2s-%.2sT%.2s:%.2s:00Z", s, s + 4, s + 6, s + 8, s + 10);
}

void
backup_list_free(struct backup_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->items[i].path);
	for (size_t i = 0; i < list->nwarnings; i++)
		free(list->warnings[i]);
	free(list->items);
	free(list->warnings);
	memset(list, 0, sizeof(*list));
}
