/*
 * jobfile.h - a job file: the manual way to ask for a restore.
 *
 *	archive: /srv/backups/files_and_database-fc9e126f-201811210121.tar.gz
 *	target: acceptance       # optional
 *	db_only: false           # optional
 *
 * A relative archive path is relative to the folder the job file was dropped in. Unknown
 * keys, wrong types, malformed YAML, a value holding a NUL and a target longer than
 * JOBFILE_TARGET_MAX are errors that name the file, the line and the key.
 */
#ifndef JOBFILE_H
#define JOBFILE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The longest target name, in bytes: config.c allows no longer one (CONFIG_TARGET_NAMEMAX),
 * and the worker keeps target names in buffers of this size plus one.
 */
#define JOBFILE_TARGET_MAX 64

#define JOBFILE_MAX 65536 /* the longest job file read: a job file is a few lines */

struct jobfile {
	char *archive; /* as written */
	char *target;  /* NULL when not given */
	bool db_only;
	bool dry_run;
};

/* jobfile_parse: parse text (named name, for messages); 0 or -1 with err. */
int jobfile_parse(const char *name, const char *text, size_t len, struct jobfile *job, char *err,
                  size_t errlen);

/* jobfile_free: release what jobfile_parse filled in. */
void jobfile_free(struct jobfile *job);

/* jobfile_write: the YAML of a job file into a new string (the caller frees it), or NULL. */
char *jobfile_write(const char *archive, const char *target, bool db_only, bool dry_run);

#endif
