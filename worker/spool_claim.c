/*
 * spool_claim.c - taking a job (see spool.h): the claim, a rename of the dropped file into
 * active/<job-id>/ that exactly one worker wins; the adoption of a job whose worker died; and
 * the claim file, a fixed-size record of how far the job got, written in place under the
 * claim's lock and read back by whoever files or adopts the job (or by status, unlocked).
 *
 * The folders, the locks and a claimed job's end (finish, discard, release) are spool.c's.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

/* The claim file's fixed size: every field at its longest fits, padded with newlines. */
#define CLAIM_RECORD_BYTES 12288

static const char *const phase_names[] = {"waiting", "restoring", "committing", "finished"};

const char *
spool_phase_name(enum spool_phase phase)
{
	return phase_names[phase];
}

/* copy_line: copy s into buf without line breaks, which would end the claim's field. */
static void
copy_line(char *buf, size_t buflen, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < buflen; i++)
		buf[i] = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
	buf[i] = '\0';
}

int
spool_claim_save(struct spool_claim *claim, char *err, size_t errlen)
{
	char *text = malloc(CLAIM_RECORD_BYTES), error[sizeof(claim->error)];
	int n;

	if (text == NULL)
		return io_error(err, errlen, "cannot record the claim of job %s: out of memory",
		                claim->job_id);
	copy_line(error, sizeof(error), claim->error);
	n = snprintf(text, CLAIM_RECORD_BYTES,
	             "name=%s\nfolder=%s\ntarget=%s\nattempts=%d\nphase=%s\nwork_dir=%s\n"
	             "blob_dir=%s\ndry_run=%d\ndb_only=%d\nstarted_at_ms=%llu\nxact_id=%s\n"
	             "backend_pid=%d\nnew_oid=%s\nstaging_dev=%llu\nstaging_ino=%llu\n"
	             "status=%s\ndatabase_status=%s\nfiles_status=%s\narchive_kind=%s\n"
	             "decompressed=%llu\nfiles_count=%llu\nfiles_bytes=%llu\nerror=%s\n",
	             claim->name, claim->folder, claim->target, claim->attempts,
	             phase_names[claim->phase], claim->work_dir, claim->blob_dir, claim->dry_run,
	             claim->db_only, claim->started_at_ms, claim->xact_id, claim->backend_pid,
	             claim->new_oid, claim->staging_dev, claim->staging_ino, claim->status,
	             claim->database_status, claim->files_status, claim->archive_kind,
	             claim->decompressed, claim->files_count, claim->files_bytes, error);
	if (n < 0 || n >= CLAIM_RECORD_BYTES) {
		free(text);
		return io_error(err, errlen, "cannot record the claim of job %s: it is too long",
		                claim->job_id);
	}
	/*
	 * Written in place on the locked file (replacing it would drop the lock), always whole
	 * and at the same size: once the first write has allocated its blocks, no later one
	 * needs free space, so a job's outcome can be recorded on a full filesystem.
	 */
	memset(text + n, '\n', CLAIM_RECORD_BYTES - (size_t)n);
	if (pwrite(claim->fd, text, CLAIM_RECORD_BYTES, 0) != CLAIM_RECORD_BYTES ||
	    fdatasync(claim->fd) < 0) {
		free(text);
		return io_error(err, errlen, "cannot record the claim of job %s: %s", claim->job_id,
		                errno != 0 ? strerror(errno) : "short write");
	}
	free(text);
	return 0;
}

int
spool_claim_finished(struct spool_claim *claim, char *err, size_t errlen)
{
	claim->phase = SPOOL_PHASE_FINISHED;
	return spool_claim_save(claim, err, errlen);
}

/* claim_load: read a claim's fields from its file, open as fd. */
static int
claim_load(int fd, struct spool_claim *claim)
{
	static const struct {
		const char *key;
		size_t offset, size;
	} fields[] = {
	    {"name=", offsetof(struct spool_claim, name), sizeof(claim->name)},
	    {"folder=", offsetof(struct spool_claim, folder), sizeof(claim->folder)},
	    {"target=", offsetof(struct spool_claim, target), sizeof(claim->target)},
	    {"work_dir=", offsetof(struct spool_claim, work_dir), sizeof(claim->work_dir)},
	    {"blob_dir=", offsetof(struct spool_claim, blob_dir), sizeof(claim->blob_dir)},
	    {"status=", offsetof(struct spool_claim, status), sizeof(claim->status)},
	    {"database_status=", offsetof(struct spool_claim, database_status),
	     sizeof(claim->database_status)},
	    {"files_status=", offsetof(struct spool_claim, files_status),
	     sizeof(claim->files_status)},
	    {"error=", offsetof(struct spool_claim, error), sizeof(claim->error)},
	    {"xact_id=", offsetof(struct spool_claim, xact_id), sizeof(claim->xact_id)},
	    {"new_oid=", offsetof(struct spool_claim, new_oid), sizeof(claim->new_oid)},
	    {"archive_kind=", offsetof(struct spool_claim, archive_kind),
	     sizeof(claim->archive_kind)},
	};
	/* The numbers, each read with strtoull. */
	static const struct {
		const char *key;
		size_t offset;
	} numbers[] = {
	    {"files_count=", offsetof(struct spool_claim, files_count)},
	    {"files_bytes=", offsetof(struct spool_claim, files_bytes)},
	    {"started_at_ms=", offsetof(struct spool_claim, started_at_ms)},
	    {"staging_dev=", offsetof(struct spool_claim, staging_dev)},
	    {"staging_ino=", offsetof(struct spool_claim, staging_ino)},
	    {"decompressed=", offsetof(struct spool_claim, decompressed)},
	};
	char *text = malloc(CLAIM_RECORD_BYTES + 1), *line, *save = NULL;
	bool have_phase = false;
	ssize_t n;

	if (text == NULL)
		return -1;
	n = pread(fd, text, CLAIM_RECORD_BYTES, 0);
	if (n <= 0) {
		free(text);
		return -1;
	}
	text[n] = '\0';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		((char *)claim + fields[i].offset)[0] = '\0';
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		*(unsigned long long *)(void *)((char *)claim + numbers[i].offset) = 0;
	claim->attempts = claim->backend_pid = 0;
	claim->dry_run = claim->db_only = false;
	claim->phase = SPOOL_PHASE_WAITING;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strncmp(line, fields[i].key, strlen(fields[i].key)) == 0)
				snprintf((char *)claim + fields[i].offset, fields[i].size, "%s",
				         line + strlen(fields[i].key));
		for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
			if (strncmp(line, numbers[i].key, strlen(numbers[i].key)) == 0)
				*(unsigned long long *)(void *)((char *)claim + numbers[i].offset) =
				    strtoull(line + strlen(numbers[i].key), NULL, 10);
		if (strncmp(line, "attempts=", 9) == 0)
			claim->attempts = atoi(line + 9);
		else if (strncmp(line, "backend_pid=", 12) == 0)
			claim->backend_pid = atoi(line + 12);
		else if (strncmp(line, "dry_run=", 8) == 0)
			claim->dry_run = line[8] == '1';
		else if (strncmp(line, "db_only=", 8) == 0)
			claim->db_only = line[8] == '1';
		for (size_t i = 0; i < sizeof(phase_names) / sizeof(phase_names[0]); i++) {
			if (strncmp(line, "phase=", 6) == 0 &&
			    strcmp(line + 6, phase_names[i]) == 0) {
				claim->phase = (enum spool_phase)i;
				have_phase = true;
			}
		}
	}
	/* A claim written before phases were recorded: an attempt may have run. */
	if (claim->attempts > 0 && !have_phase)
		claim->phase = SPOOL_PHASE_RESTORING;
	free(text);
	return claim->name[0] != '\0' ? 0 : -1;
}

int
spool_claim_reload(struct spool_claim *claim)
{
	return claim->fd >= 0 ? claim_load(claim->fd, claim) : -1;
}

/* claim_init: a claim with nothing held. */
static void
claim_init(struct spool_claim *claim, const char *job_id)
{
	memset(claim, 0, sizeof(*claim));
	snprintf(claim->job_id, sizeof(claim->job_id), "%s", job_id);
	claim->fd = claim->job_fd = -1;
}

int
spool_claim(struct spool *sp, const char *folder, const char *name, const char *job_id,
            struct spool_claim *claim, char *err, size_t errlen)
{
	int from_fd = sp->incoming_fd;

	claim_init(claim, job_id);
	snprintf(claim->name, sizeof(claim->name), "%s", name);
	snprintf(claim->folder, sizeof(claim->folder), "%s", folder != NULL ? folder : "");
	if (folder != NULL && folder[0] != '\0') {
		from_fd = openat(sp->incoming_fd, folder,
		                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (from_fd < 0)
			return io_error(err, errlen, "cannot open incoming/%s: %s", folder,
			                strerror(errno));
	}
	if (mkdirat(sp->active_fd, job_id, 0755) < 0) {
		char owner[160];

		/* No job id in the message: the same cause reads the same at every try. */
		spool_describe_owner(sp->active_fd, ".", owner, sizeof(owner));
		io_error(err, errlen, "cannot create a job folder in %s/active (%s): %s", sp->dir,
		         owner, strerror(errno));
		goto fail;
	}
	claim->job_fd =
	    openat(sp->active_fd, job_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (claim->job_fd < 0 || spool_own_like_folder(sp->active_fd, claim->job_fd) < 0) {
		io_error(err, errlen, "cannot open active/%s: %s", job_id, strerror(errno));
		goto undo;
	}
	claim->fd = openat(claim->job_fd, SPOOL_CLAIM_FILE,
	                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (claim->fd < 0 || spool_own_like_folder(claim->job_fd, claim->fd) < 0 ||
	    spool_lock_fd(claim->fd) < 0) {
		io_error(err, errlen, "cannot create the claim of job %s: %s", job_id,
		         strerror(errno));
		goto undo;
	}
	if (spool_claim_save(claim, err, errlen) < 0)
		goto undo;
	/* The claim itself: whoever renames first wins. */
	if (renameat(from_fd, name, claim->job_fd, name) < 0) {
		int lost = errno == ENOENT;

		if (!lost) {
			char owner[160];

			spool_describe_owner(from_fd, ".", owner, sizeof(owner));
			io_error(err, errlen,
			         "cannot claim %s/incoming/%s%s%s (the folder is %s): %s", sp->dir,
			         claim->folder, claim->folder[0] != '\0' ? "/" : "", name, owner,
			         strerror(errno));
		}
		spool_discard(sp, claim);
		if (from_fd != sp->incoming_fd)
			(void)close(from_fd);
		return lost ? 1 : -1;
	}
	if (fsync(claim->job_fd) < 0 || fsync(from_fd) < 0 || fsync(sp->active_fd) < 0) {
		io_error(err, errlen, "cannot make the claim of job %s durable: %s", job_id,
		         strerror(errno));
		/* The file is in active/ now: a later start will find it there. */
		spool_release(claim);
		goto fail;
	}
	if (from_fd != sp->incoming_fd)
		(void)close(from_fd);
	return 0;
undo:
	spool_discard(sp, claim);
fail:
	if (from_fd != sp->incoming_fd && from_fd >= 0)
		(void)close(from_fd);
	return -1;
}

int
spool_adopt(struct spool *sp, const char *job_id, struct spool_claim *claim, char *err,
            size_t errlen)
{
	claim_init(claim, job_id);
	claim->job_fd =
	    openat(sp->active_fd, job_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (claim->job_fd < 0)
		return io_error(err, errlen, "cannot open active/%s: %s", job_id, strerror(errno));
	claim->fd = openat(claim->job_fd, SPOOL_CLAIM_FILE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (claim->fd < 0) {
		/* A worker died between creating the folder and its claim. */
		spool_discard(sp, claim);
		return -1;
	}
	if (spool_lock_fd(claim->fd) < 0) {
		int busy = errno == EAGAIN || errno == EACCES;

		spool_release(claim);
		return busy ? 1
		            : io_error(err, errlen, "cannot lock the claim of job %s: %s", job_id,
		                       strerror(errno));
	}
	if (claim_load(claim->fd, claim) < 0) {
		/* Claimed but never written: nothing of the job made it here. */
		if (!spool_has_job_file(claim)) {
			spool_discard(sp, claim);
			return -1;
		}
	}
	return 0;
}

int
spool_claim_peek(int job_fd, struct spool_claim *claim, bool *running)
{
	struct flock fl;
	int fd = openat(job_fd, SPOOL_CLAIM_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	claim_init(claim, "");
	*running = false;
	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	*running = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	rc = claim_load(fd, claim);
	(void)close(fd);
	return rc;
}

bool
spool_has_job_file(const struct spool_claim *claim)
{
	struct stat st;

	return claim->name[0] != '\0' &&
	       fstatat(claim->job_fd, claim->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}
