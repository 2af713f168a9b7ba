/*
 * backup_keep.c - the Mendix names of backups, and keeping the newest few of a folder.
 *
 * Mendix names a full snapshot files_and_database-<id>-<YYYYMMDDHHMM>.tar.gz and a
 * database-only backup database-<id>-<YYYYMMDDHHMM>.backup. Here <id> is the first 8 hex
 * digits of the backup's job id (a fresh UUID unless the caller gives one) and the stamp is
 * the start of the backup in UTC. Retention looks only at names of exactly that form, of one
 * kind: anything else in the folder is never touched. The newest are those with the latest
 * stamp, then the latest modification time, then the greatest name. The reading of a name and
 * that order are shared with the listing of a folder's backups (backup_list.c).
 */
#include "backup_parts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

static const char *
name_prefix(bool db_only)
{
	return db_only ? "database-" : "files_and_database-";
}

static const char *
name_suffix(bool db_only)
{
	return db_only ? ".backup" : ".tar.gz";
}

void
backup_name(char *buf, size_t buflen, bool db_only, const char *job_id, time_t when)
{
	struct tm tm;

	gmtime_r(&when, &tm);
	snprintf(buf, buflen, "%s%.8s-%04d%02d%02d%02d%02d%s", name_prefix(db_only), job_id,
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	         name_suffix(db_only));
}

/* all_of: whether the len bytes at s are all in set. */
static bool
all_of(const char *s, size_t len, const char *set)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return false;
	return true;
}

/*
 * name_stamp: whether name is a backup of the kind db_only says (with ".part" after it when
 * part); its stamp into stamp.
 */
static bool
name_stamp(const char *name, bool db_only, bool part, char stamp[13])
{
	const char *prefix = name_prefix(db_only), *suffix = name_suffix(db_only), *p;
	size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(name);

	if (part) {
		if (len < 5 || strcmp(name + len - 5, ".part") != 0)
			return false;
		len -= 5;
	}
	if (len != plen + 8 + 1 + 12 + slen || strncmp(name, prefix, plen) != 0 ||
	    strncmp(name + len - slen, suffix, slen) != 0)
		return false;
	p = name + plen;
	if (!all_of(p, 8, "0123456789abcdef") || p[8] != '-' || !all_of(p + 9, 12, "0123456789"))
		return false;
	memcpy(stamp, p + 9, 12);
	stamp[12] = '\0';
	return true;
}

/* backup_name_parse: whether name is a Mendix backup name; its kind and stamp (backup.h). */
bool
backup_name_parse(const char *name, bool part, bool *db_only, char stamp[13])
{
	*db_only = strncmp(name, name_prefix(true), strlen(name_prefix(true))) == 0;
	return name_stamp(name, *db_only, part, stamp);
}

/* backup_named_newest_first: qsort's order of backups, the newest first (backup.h). */
int
backup_named_newest_first(const void *a, const void *b)
{
	const struct backup_named *x = a, *y = b;
	int c = strcmp(y->stamp, x->stamp);

	if (c != 0)
		return c;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return y->mtime.tv_sec > x->mtime.tv_sec ? 1 : -1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return y->mtime.tv_nsec > x->mtime.tv_nsec ? 1 : -1;
	return strcmp(y->name, x->name);
}

/* note_removed: record name in result->removed. */
static void
note_removed(struct backup_result *result, const char *name)
{
	char **grown = realloc(result->removed, (result->nremoved + 1) * sizeof(*grown));

	if (grown == NULL)
		return;
	result->removed = grown;
	if ((grown[result->nremoved] = strdup(name)) != NULL)
		result->nremoved++;
}

/* remove_one: unlink dir_fd/name, recorded or warned about. */
static void
remove_one(int dir_fd, const char *dir, const char *name, struct backup_result *result)
{
	if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
		note_removed(result, name);
	else
		backup_warn(result, "cannot remove the older backup %s/%s: %s", dir, name,
		            strerror(errno));
}

void
backup_keep_newest(int dir_fd, const char *dir, bool db_only, int keep, const char *just_written,
                   bool remove_parts, struct backup_result *result)
{
	struct backup_named *found = NULL, *grown;
	size_t n = 0, cap = 0, others;
	struct dirent *e;
	struct stat st;
	char stamp[13];
	DIR *d;

	d = io_opendir(dir_fd, ".");
	if (d == NULL) {
		backup_warn(result, "cannot list %s to keep the newest %d backups: %s", dir, keep,
		            strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (remove_parts && name_stamp(e->d_name, db_only, true, stamp)) {
			remove_one(dir_fd, dir, e->d_name, result);
			continue;
		}
		if (!name_stamp(e->d_name, db_only, false, stamp) ||
		    strcmp(e->d_name, just_written) == 0 ||
		    fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			grown = realloc(found, cap * sizeof(*found));
			if (grown == NULL) {
				backup_warn(result,
				            "out of memory keeping the newest backups in %s", dir);
				goto done;
			}
			found = grown;
		}
		/* name_stamp() took only names of the fixed length, well within name[]. */
		memcpy(found[n].name, e->d_name, strlen(e->d_name) + 1);
		memcpy(found[n].stamp, stamp, sizeof(stamp));
		found[n].db_only = db_only;
		found[n].mtime = st.st_mtim;
		n++;
	}
	if (n > 1)
		qsort(found, n, sizeof(*found), backup_named_newest_first);
	/*
	 * The backup just written is the first kept, whatever its stamp says, when it has a name
	 * of this kind; under another name (--output DIR/latest.tar.gz) it is not counted.
	 */
	others = (size_t)keep;
	if (others > 0 && name_stamp(just_written, db_only, false, stamp))
		others--;
	for (size_t i = others; i < n; i++)
		remove_one(dir_fd, dir, found[i].name, result);
	if (result->nremoved > 0 && fsync(dir_fd) < 0)
		backup_warn(result, "cannot make the removals in %s durable: %s", dir,
		            strerror(errno));
done:
	(void)closedir(d);
	free(found);
}

void
backup_keep(const char *dir, bool db_only, int keep, const char *just_written, bool remove_parts,
            struct backup_result *result)
{
	const char *slash = strrchr(just_written, '/');
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir_fd < 0) {
		backup_warn(result, "cannot open %s to keep the newest %d backups: %s", dir, keep,
		            strerror(errno));
		return;
	}
	backup_keep_newest(dir_fd, dir, db_only, keep, slash != NULL ? slash + 1 : just_written,
	                   remove_parts, result);
	(void)close(dir_fd); /* only read and unlinked in, synced by backup_keep_newest */
}

int
backup_remove(const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int dir_fd, rc = 0;

	if (unlink(path) < 0 && errno != ENOENT)
		return io_error(err, errlen, "cannot remove the backup %s: %s", path,
		                strerror(errno));
	dir =
	    slash == NULL ? strdup(".") : strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (dir == NULL)
		return io_error(err, errlen, "out of memory");
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0 || fsync(dir_fd) < 0)
		rc = io_error(err, errlen, "%s is removed, but its folder %s cannot be synced: %s",
		              path, dir, strerror(errno));
	if (dir_fd >= 0)
		(void)close(dir_fd);
	free(dir);
	return rc;
}

/* backup_remove_job: remove the backups job_id made in dir (backup.h). */
int
backup_remove_job(const char *dir, const char *job_id, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char stamp[13], path[PATH_MAX];
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0
		                       : io_error(err, errlen, "cannot read the folder %s: %s", dir,
		                                  strerror(errno));
	while ((e = readdir(d)) != NULL) {
		bool db_only;
		const char *id;

		if (!backup_name_parse(e->d_name, false, &db_only, stamp) &&
		    !backup_name_parse(e->d_name, true, &db_only, stamp))
			continue;
		id = e->d_name + strlen(name_prefix(db_only));
		if (strncmp(id, job_id, 8) != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (rc == 0 && backup_remove(path, err, errlen) < 0)
			rc = -1;
	}
	(void)closedir(d);
	return rc;
}
