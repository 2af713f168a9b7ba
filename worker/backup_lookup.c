/*
 * backup_lookup.c - backups by name (see backup_lookup.h), for restore, submit and list.
 *
 * A target's backups are in <backup_dir>/<target>/ (restore-worker backup --to-backup-dir) and
 * <spool_dir>/previous/<target>/ (the undo points of keep_previous). ARCHIVE is read as:
 *   latest        the newest backup of the target there (of either kind);
 *   NAME          (no '/', and no such file in the current folder) the one backup of that
 *                 name in the folders of every target: none or several is an error;
 *   anything else a path, as before.
 * Nothing here creates a folder: a folder that does not exist holds no backup.
 */
#include "backup_lookup.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"

#define LOOKUP_LATEST "latest"

/* add_folder: one more folder (parent/[previous/]target) into the array; -1 out of memory. */
static int
add_folder(struct backup_folder **folders, size_t *n, const char *parent, const char *middle,
           const char *target, const char *source)
{
	struct backup_folder *grown = realloc(*folders, (*n + 1) * sizeof(*grown));

	if (grown == NULL)
		return -1;
	*folders = grown;
	/* Configured paths and names are far shorter than PATH_MAX; a longer one just fails. */
	snprintf(grown[*n].path, sizeof(grown[*n].path), "%s/%s%s", parent, middle, target);
	grown[*n].target = target;
	grown[*n].source = source;
	(*n)++;
	return 0;
}

int
backup_lookup_folders(const struct config *config, const char *target,
                      struct backup_folder **folders, size_t *n)
{
	*folders = NULL;
	*n = 0;
	for (size_t i = 0; i < config->ntargets; i++) {
		const char *name = config->targets[i].name;

		if (target != NULL && strcmp(target, name) != 0)
			continue;
		if ((config->backup_dir != NULL &&
		     add_folder(folders, n, config->backup_dir, "", name, "backup_dir") < 0) ||
		    (config->spool_dir != NULL && add_folder(folders, n, config->spool_dir,
		                                             "previous/", name, "previous") < 0)) {
			free(*folders);
			*folders = NULL;
			*n = 0;
			return -1;
		}
	}
	return 0;
}

void
backup_lookup_where(const struct backup_folder *folders, size_t n, char *buf, size_t buflen)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < buflen; i++) {
		int w = snprintf(buf + used, buflen - used, "%s%s",
		                 i == 0       ? ""
		                 : i + 1 == n ? " or "
		                              : ", ",
		                 folders[i].path);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* newest: the newest backup of target into path; 0, or -1 with err. */
static int
newest(const struct config *config, const char *target, char *path, size_t pathlen, char *err,
       size_t errlen)
{
	struct backup_folder *folders;
	struct backup_list list = {0};
	char where[1024];
	size_t n;
	int rc = -1;

	if (backup_lookup_folders(config, target, &folders, &n) < 0)
		return io_error(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (backup_list_folder(&list, folders[i].path, target, folders[i].source, false,
		                       err, errlen) < 0)
			goto done;
	backup_list_sort(&list);
	backup_lookup_where(folders, n, where, sizeof(where));
	if (n == 0)
		io_error(err, errlen,
		         "no backup of target %s: the configuration has no backup_dir and no "
		         "spool_dir",
		         target);
	else if (list.n == 0)
		io_error(err, errlen, "no backup of target %s in %s", target, where);
	else if ((size_t)snprintf(path, pathlen, "%s", list.items[0].path) >= pathlen)
		io_error(err, errlen, "the path of %s is too long", list.items[0].path);
	else
		rc = 0;
done:
	backup_list_free(&list);
	free(folders);
	return rc;
}

/* by_name: the one backup called name in any target's folders into path; 0, or -1 with err. */
static int
by_name(const struct config *config, const char *name, char *path, size_t pathlen, char *err,
        size_t errlen)
{
	struct backup_folder *folders;
	char where[1024], found[2048] = "", candidate[PATH_MAX + 256];
	size_t n, matches = 0;
	bool fits = false;
	struct stat st;

	if (backup_lookup_folders(config, NULL, &folders, &n) < 0)
		return io_error(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(found);

		if ((size_t)snprintf(candidate, sizeof(candidate), "%s/%s", folders[i].path,
		                     name) >= sizeof(candidate) ||
		    fstatat(AT_FDCWD, candidate, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (matches++ == 0)
			fits = (size_t)snprintf(path, pathlen, "%s", candidate) < pathlen;
		/* found names every match for the message; a long list is cut. */
		if (snprintf(found + used, sizeof(found) - used, "%s%s", used > 0 ? ", " : "",
		             candidate) < 0)
			found[used] = '\0';
	}
	backup_lookup_where(folders, n, where, sizeof(where));
	free(folders);
	if (matches == 1 && fits)
		return 0;
	if (matches > 1)
		return io_error(err, errlen,
		                "%s: several backups have that name (%s); give the path of one",
		                name, found);
	if (matches == 1)
		return io_error(err, errlen, "the path of %s is too long", found);
	if (n == 0)
		return io_error(err, errlen,
		                "%s: no such file here (the configuration has no backup_dir and no "
		                "spool_dir to look in)",
		                name);
	return io_error(err, errlen, "%s: no such file here, nor a backup of that name in %s", name,
	                where);
}

int
backup_lookup(const struct config *config, const char *target, const char *archive, char *path,
              size_t pathlen, char *err, size_t errlen)
{
	struct stat st;

	if (strcmp(archive, LOOKUP_LATEST) == 0) {
		if (target == NULL) {
			(void)io_error(err, errlen,
			               "latest needs a target: name one with --target (the "
			               "configuration has no default_target)");
			return BACKUP_LOOKUP_USAGE;
		}
		return newest(config, target, path, pathlen, err, errlen);
	}
	if (archive[0] != '\0' && strchr(archive, '/') == NULL &&
	    fstatat(AT_FDCWD, archive, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
		return by_name(config, archive, path, pathlen, err, errlen);
	if ((size_t)snprintf(path, pathlen, "%s", archive) >= pathlen)
		return io_error(err, errlen, "%s: the path is too long", archive);
	return 0;
}
