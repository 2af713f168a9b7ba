/*
 * backup_lookup.h - backups by name (README: "Command line"): the folders where a configuration
 * keeps a target's backups, and ARCHIVE as restore and submit take it ("latest", a bare name,
 * or a path). The engine's backup_list.h reads the folders.
 */
#ifndef BACKUP_LOOKUP_H
#define BACKUP_LOOKUP_H

#include <limits.h>
#include <stddef.h>

#include "backup_list.h"
#include "config.h"

#define BACKUP_LOOKUP_USAGE (-2) /* backup_lookup: a usage error (exit status 2) */

/* A folder of backups: <backup_dir>/<target>/ or <spool_dir>/previous/<target>/. */
struct backup_folder {
	char path[PATH_MAX];
	const char *target; /* the configuration's name of the target */
	const char *source; /* "backup_dir" or "previous" */
};

/*
 * backup_lookup_folders: the folders of target's backups (NULL: of every target, in the
 * configuration's order), those the configuration has: <backup_dir>/<target>/ when it has a
 * backup_dir, <spool_dir>/previous/<target>/ when it has a spool_dir. *folders is malloc'd
 * (NULL when there are none), their number in *n. 0, or -1 out of memory.
 */
int backup_lookup_folders(const struct config *config, const char *target,
                          struct backup_folder **folders, size_t *n);

/* backup_lookup_where: the folders' paths as "A, B or C" into buf (for messages). */
void backup_lookup_where(const struct backup_folder *folders, size_t n, char *buf, size_t buflen);

/*
 * backup_lookup: ARCHIVE as restore and submit take it, into path (pathlen bytes): "latest" is
 * the newest backup of target among its folders (newest by the name's stamp, then the
 * modification time); a name without '/' that is no file in the current folder is the backup
 * of that name in the folders of every target; anything else stays as it is. 0; -1 with err
 * when there is no such backup, or several of that name, or a folder cannot be read (exit
 * status 1); BACKUP_LOOKUP_USAGE with err for "latest" without a target.
 */
int backup_lookup(const struct config *config, const char *target, const char *archive, char *path,
                  size_t pathlen, char *err, size_t errlen);

#endif
