/*
 * submit.c - restore-worker submit: ask the worker for a restore of an archive read where it is.
 *
 * It adds to the spool the documented way only: a job file written in tmp/, then renamed into
 * incoming/, so the worker never sees half of one. Run by root, it leaves what it creates to
 * the spool's owner (spool.h), and first makes sure that the worker's user, that owner, can
 * read the archive (run_as.h): else the job would only be refused once the worker took it.
 */
#include "submit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "jobfile.h"
#include "restore.h"
#include "run_as.h"
#include "spool.h"
#include "submit_wait.h"

/* can_read: 0 when path opens for reading, else the errno (at most 124: an exit status). */
static int
can_read(void *arg)
{
	int fd = open(arg, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno > 0 && errno < 125 ? errno : EACCES;
	(void)close(fd); /* only read */
	return 0;
}

int
submit_job(const struct config *config, const char *archive, const char *target, bool db_only,
           bool dry_run, bool wait)
{
	char path[PATH_MAX], job_id[37], name[64], err[1024], who[64];
	struct spool sp;
	struct stat st;
	char *text;
	int rc = 1, readable;

	if (realpath(archive, path) == NULL || stat(path, &st) < 0) {
		fprintf(stderr, "restore-worker: %s: %s\n", archive, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode) || access(path, R_OK) < 0) {
		fprintf(stderr, "restore-worker: %s: not a readable file\n", archive);
		return 1;
	}
	if (strpbrk(path, "\n\r") != NULL) {
		fprintf(stderr,
		        "restore-worker: %s: a path with a line break cannot be submitted\n",
		        archive);
		return 1;
	}
	switch (run_as_spool_owner(config->spool_dir, can_read, path, &readable, who, sizeof(who),
	                           err, sizeof(err))) {
	case 1:
		if (readable != 0) {
			fprintf(
			    stderr,
			    "restore-worker: %s: user %s, as whom the worker runs (the owner of "
			    "spool_dir), cannot read it (%s); put it where that user can read it\n",
			    archive, who, strerror(readable));
			return 1;
		}
		break;
	case 0:
		break;
	default:
		fprintf(stderr, "restore-worker: %s\n", err);
		return 1;
	}
	if (spool_open(config->spool_dir, &sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		return 2;
	}
	restore_new_job_id(job_id);
	snprintf(name, sizeof(name), "submit-%s.yaml", job_id);
	text = jobfile_write(path, target, db_only, dry_run);
	if (text == NULL) {
		fprintf(stderr, "restore-worker: out of memory\n");
		goto done;
	}
	/* Written whole in tmp/, then renamed into incoming/: the worker never sees half. */
	if (spool_write_atomic(sp.tmp_fd, name, text, strlen(text), err, sizeof(err)) < 0 ||
	    renameat(sp.tmp_fd, name, sp.incoming_fd, name) < 0 || fsync(sp.incoming_fd) < 0) {
		fprintf(stderr, "restore-worker: cannot submit %s: %s\n", archive,
		        err[0] != '\0' ? err : strerror(errno));
		(void)unlinkat(sp.tmp_fd, name, 0);
		goto done;
	}
	printf("%s/incoming/%s\n", config->spool_dir, name);
	fprintf(stderr, "restore-worker: queued job %s (restore-worker status %s follows it)\n",
	        job_id, job_id);
	rc = 0;
done:
	free(text);
	spool_close(&sp);
	if (rc == 0 && wait) /* --wait: the job's own exit status */
		rc = fflush(stdout) == EOF ? 1 : submit_wait(config, job_id);
	return rc;
}
