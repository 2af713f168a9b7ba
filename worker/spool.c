/*
 * spool.c - the spool protocol, in one place (see spool.h).
 *
 * Every change of state is a rename within the spool's filesystem, followed by an fsync of
 * the folders involved, so a crash leaves each job in exactly one folder. Locks are Linux
 * open-file-description locks (F_OFD_SETLK): unlike POSIX record locks they are not lost
 * when another descriptor of the same file is closed, and they conflict between descriptors
 * of one process too, which is what a worker scanning its own active jobs needs.
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

#include "blobstore.h"
#include "io.h"

#define CLAIM_FILE  "claim"
#define REPORT_FILE "report.json"

/*
 * own_like_folder: when root, give fd (just created in dir_fd) the folder's owner and group,
 * so that a command run by root never leaves in the spool what its owner cannot use; 0 or -1.
 * Only what root made is given away: a folder or a file with one link, owned by root. A file
 * the spool's owner linked in (a hard link to someone else's file, or to root's) stays whose
 * it is: root must never be tricked into giving the spool's owner another file.
 */
static int
own_like_folder(int dir_fd, int fd)
{
	struct stat dir, st;

	if (geteuid() != 0)
		return 0;
	if (fstat(dir_fd, &dir) < 0 || fstat(fd, &st) < 0)
		return -1;
	if (st.st_uid == dir.st_uid && st.st_gid == dir.st_gid)
		return 0;
	if (st.st_uid != 0 || !(S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink == 1)))
		return 0;
	return fchown(fd, dir.st_uid, dir.st_gid);
}

/* open_folder: open (creating if missing) dir_fd/name as a folder, never through a link. */
static int
open_folder(int dir_fd, const char *name, mode_t mode)
{
	bool created = mkdirat(dir_fd, name, mode) == 0;
	int fd;

	if (!created && errno != EEXIST)
		return -1;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && created && own_like_folder(dir_fd, fd) < 0) {
		int saved = errno;

		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static const char *const folder_names[] = {"tmp", "incoming", "active", "done", "failed", "locks"};

/* spool_folders: the descriptors of the folders, in folder_names' order. */
static void
spool_folders(struct spool *sp, int **fds)
{
	fds[0] = &sp->tmp_fd;
	fds[1] = &sp->incoming_fd;
	fds[2] = &sp->active_fd;
	fds[3] = &sp->done_fd;
	fds[4] = &sp->failed_fd;
	fds[5] = &sp->locks_fd;
}

/* spool_open_as: spool_open, creating what is missing only when create. */
static int
spool_open_as(const char *dir, struct spool *sp, bool create, char *err, size_t errlen)
{
	int *fds[6];

	memset(sp, 0, sizeof(*sp));
	spool_folders(sp, fds);
	sp->root_fd = -1;
	for (size_t i = 0; i < 6; i++)
		*fds[i] = -1;
	if (create && mkdir(dir, 0755) < 0 && errno != EEXIST)
		return io_error(err, errlen, "cannot create spool_dir %s: %s", dir,
		                strerror(errno));
	sp->dir = strdup(dir);
	if (sp->dir == NULL)
		return io_error(err, errlen, "out of memory");
	sp->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->root_fd < 0) {
		if (!create && errno == ENOENT)
			return 0; /* nothing there yet: an empty spool */
		io_error(err, errlen, "cannot open spool_dir %s: %s", dir, strerror(errno));
		spool_close(sp);
		return -1;
	}
	for (size_t i = 0; i < 6; i++) {
		*fds[i] = create ? open_folder(sp->root_fd, folder_names[i], 0755)
		                 : openat(sp->root_fd, folder_names[i],
		                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*fds[i] < 0 && (create || errno != ENOENT)) {
			io_error(err, errlen, "cannot open %s/%s: %s", dir, folder_names[i],
			         strerror(errno));
			spool_close(sp);
			return -1;
		}
	}
	return 0;
}

int
spool_open(const char *dir, struct spool *sp, char *err, size_t errlen)
{
	return spool_open_as(dir, sp, true, err, errlen);
}

int
spool_open_existing(const char *dir, struct spool *sp, char *err, size_t errlen)
{
	return spool_open_as(dir, sp, false, err, errlen);
}

void
spool_close(struct spool *sp)
{
	int *fds[6];

	spool_folders(sp, fds);
	for (size_t i = 0; i < 6; i++) {
		if (*fds[i] >= 0)
			(void)close(*fds[i]);
		*fds[i] = -1;
	}
	if (sp->root_fd >= 0)
		(void)close(sp->root_fd);
	sp->root_fd = -1;
	free(sp->dir);
	sp->dir = NULL;
}

int
spool_ensure_target(struct spool *sp, const char *target, char *err, size_t errlen)
{
	int fd = open_folder(sp->incoming_fd, target, 0755);

	if (fd < 0)
		return io_error(err, errlen, "cannot create %s/incoming/%s: %s", sp->dir, target,
		                strerror(errno));
	(void)close(fd);
	return 0;
}

char *
spool_previous_dir(const struct spool *sp, const char *target, char *err, size_t errlen)
{
	int prev = open_folder(sp->root_fd, "previous", 0750), fd = -1;
	char *path = NULL;

	if (prev >= 0)
		fd = open_folder(prev, target, 0750);
	if (fd < 0)
		(void)io_error(err, errlen, "cannot create %s/previous/%s: %s", sp->dir, target,
		               strerror(errno));
	else if (asprintf(&path, "%s/previous/%s", sp->dir, target) < 0)
		path = NULL, (void)io_error(err, errlen, "out of memory");
	if (fd >= 0)
		(void)close(fd);
	if (prev >= 0)
		(void)close(prev);
	return path;
}

/* ends_with: does name end in suffix? */
static bool
ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return n > m && strcmp(name + n - m, suffix) == 0;
}

bool
spool_name_ignored(const char *name)
{
	return name[0] == '.' || ends_with(name, ".part") || ends_with(name, ".tmp") ||
	       ends_with(name, ".partial");
}

bool
spool_name_is_jobfile(const char *name)
{
	return ends_with(name, ".yaml") || ends_with(name, ".yml");
}

bool
spool_submit_job_id(const char *name, char id[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(name);

	if (n != strlen("submit-") + 36 + strlen(".yaml") || strncmp(name, "submit-", 7) != 0 ||
	    strcmp(name + n - 5, ".yaml") != 0)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = name[7 + i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? c != '-' : c == '\0' || strchr(hex, c) == NULL)
			return false;
	}
	snprintf(id, 37, "%.36s", name + 7);
	return true;
}

/* lock_fd: an exclusive OFD lock on the whole file, without waiting; 0 or -1. */
static int
lock_fd(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_OFD_SETLK, &fl);
}

int
spool_lock_target(struct spool *sp, const char *target)
{
	char name[SPOOL_NAME_MAX + 1];
	int fd, saved;

	snprintf(name, sizeof(name), "%s.lock", target);
	fd = openat(sp->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	/* Root's lock file (a manual restore) must stay usable by the worker it shares it with. */
	if (own_like_folder(sp->locks_fd, fd) < 0 || lock_fd(fd) < 0) {
		saved = errno == EACCES ? EAGAIN : errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
spool_unlock(int fd)
{
	if (fd >= 0)
		(void)close(fd);
}

int
spool_write_atomic(int dir_fd, const char *name, const char *data, size_t len, char *err,
                   size_t errlen)
{
	char tmp[SPOOL_NAME_MAX + 8];
	struct io_atomic a = {.dir_fd = dir_fd, .name = name, .tmp = tmp, .mode = 0644};

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (io_atomic_open(&a, err, errlen) < 0)
		return -1;
	if (own_like_folder(dir_fd, a.fd) < 0) {
		io_error(err, errlen, "cannot write %s: %s", name, strerror(errno));
		goto fail;
	}
	if (io_atomic_write(&a, data, len, err, errlen) < 0 ||
	    io_atomic_commit(&a, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	io_atomic_abort(&a);
	return -1;
}

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
	if (claim->job_fd < 0 || own_like_folder(sp->active_fd, claim->job_fd) < 0) {
		io_error(err, errlen, "cannot open active/%s: %s", job_id, strerror(errno));
		goto undo;
	}
	claim->fd = openat(claim->job_fd, CLAIM_FILE,
	                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (claim->fd < 0 || own_like_folder(claim->job_fd, claim->fd) < 0 ||
	    lock_fd(claim->fd) < 0) {
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
	claim->fd = openat(claim->job_fd, CLAIM_FILE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (claim->fd < 0) {
		/* A worker died between creating the folder and its claim. */
		spool_discard(sp, claim);
		return -1;
	}
	if (lock_fd(claim->fd) < 0) {
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
	int fd = openat(job_fd, CLAIM_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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

int
spool_finish(struct spool *sp, struct spool_claim *claim, bool succeeded, const char *report_json,
             char *err, size_t errlen)
{
	int to_fd = succeeded ? sp->done_fd : sp->failed_fd;

	if (report_json != NULL && spool_write_atomic(claim->job_fd, REPORT_FILE, report_json,
	                                              strlen(report_json), err, errlen) < 0)
		return -1;
	(void)unlinkat(claim->job_fd, CLAIM_FILE, 0);
	if (renameat(sp->active_fd, claim->job_id, to_fd, claim->job_id) < 0)
		return io_error(err, errlen, "cannot move job %s to %s/: %s", claim->job_id,
		                succeeded ? "done" : "failed", strerror(errno));
	if (fsync(sp->active_fd) < 0 || fsync(to_fd) < 0)
		return io_error(err, errlen, "cannot make the end of job %s durable: %s",
		                claim->job_id, strerror(errno));
	spool_release(claim);
	return 0;
}

void
spool_discard(struct spool *sp, struct spool_claim *claim)
{
	if (claim->job_fd >= 0)
		(void)unlinkat(claim->job_fd, CLAIM_FILE, 0);
	spool_release(claim);
	(void)blobstore_remove_tree(sp->active_fd, claim->job_id);
}

void
spool_release(struct spool_claim *claim)
{
	if (claim->fd >= 0)
		(void)close(claim->fd);
	if (claim->job_fd >= 0)
		(void)close(claim->job_fd);
	claim->fd = claim->job_fd = -1;
}
