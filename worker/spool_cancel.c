/*
 * spool_cancel.c - the spool's cancel requests (see spool.h): <spool>/cancel/<job-id>, a file
 * that `restore-worker cancel` writes (through a temporary file and a rename) and that the
 * worker removes once the job is filed or found past its commit point. A request outlives a
 * worker's restart, so a job asked to be cancelled is never run again.
 *
 * Only names that are job ids (lowercase UUIDs, as the worker names job folders) are requests;
 * anything else in the folder is ignored, so a request can never name a path outside it.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "report.h"

bool
spool_job_id_valid(const char *job_id)
{
	char name[64], id[37];

	if (strlen(job_id) != 36)
		return false;
	snprintf(name, sizeof(name), "submit-%s.yaml", job_id);
	return spool_submit_job_id(name, id); /* the same shape as submit's ids */
}

int
spool_cancel_open(const struct spool *sp, bool create, char *err, size_t errlen)
{
	bool created = create && mkdirat(sp->root_fd, SPOOL_CANCEL_DIR, 0755) == 0;
	int fd;

	if (create && !created && errno != EEXIST)
		return io_error(err, errlen, "cannot create %s/%s: %s", sp->dir, SPOOL_CANCEL_DIR,
		                strerror(errno));
	fd = openat(sp->root_fd, SPOOL_CANCEL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return io_error(err, errlen, "cannot open %s/%s: %s", sp->dir, SPOOL_CANCEL_DIR,
		                strerror(errno));
	if (created && spool_own_like_folder(sp->root_fd, fd) < 0) {
		io_error(err, errlen, "cannot give %s/%s the spool's owner: %s", sp->dir,
		         SPOOL_CANCEL_DIR, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

int
spool_cancel_request(int cancel_fd, const char *job_id, char *err, size_t errlen)
{
	struct timespec now;
	char text[64];

	clock_gettime(CLOCK_REALTIME, &now);
	report_format_time(&now, text, sizeof(text) - 1);
	strcat(text, "\n"); /* when it was asked, for the operator who looks */
	return spool_write_atomic(cancel_fd, job_id, text, strlen(text), err, errlen);
}

bool
spool_cancel_requested(int cancel_fd, const char *job_id)
{
	struct stat st;

	return cancel_fd >= 0 && fstatat(cancel_fd, job_id, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int
spool_cancel_forget(int cancel_fd, const char *job_id)
{
	if (unlinkat(cancel_fd, job_id, 0) < 0 && errno != ENOENT)
		return -1;
	return 0;
}
