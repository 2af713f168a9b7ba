/*
 * check_files.c - the checks of the file system (see check.h): plan_quota against
 * restore_overhead, blob_dir's folder, its swap and the owner, group and modes a restore gives
 * the files (for a bucket or a container instead: its credentials and rights, which the store
 * driver probes), the hooks' programs, the spool's folders and locks, work_dir's free space.
 *
 * The swap probe. A restore swaps a staging folder in blob_dir's parent with blob_dir
 * (renameat2 RENAME_EXCHANGE). The check proves the parts of that which do not touch blob_dir:
 * the parent is writable, blob_dir is on its parent's filesystem and no mount point, and the
 * filesystem can exchange two folders (two probe folders in a folder of our own,
 * ".<name>.check-<uuid>", removed again). It never renames blob_dir itself, as a restore's
 * own probe does: the application may be using it. Killed within those few system calls, the
 * probe's folder stays behind; its name says what it is.
 *
 * work_dir's free space: a restore copies the archive's dump there, and a dump a target
 * accepts decompresses to at most plan_quota - restore_overhead (the quota rule), which bounds
 * the copy of an uncompressed dump. Less free space than the largest such figure of the
 * checked targets is a warning: a big enough dump would fail with a full disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "check_parts.h"
#include "io.h"
#include "quota.h"
#include "spool.h"
#include "store.h"

/* check_user_name: the name of the user this process runs as, for messages. */
void
check_user_name(char *buf, size_t len)
{
	(void)io_user_name(geteuid(), buf, len);
}

/*
 * check_hooks: each hook's program (an absolute path: config.c) is a file this user may run;
 * the hooks run as it, like the checks.
 */
enum check_status
check_hooks(struct check_target *ct, char *msg, size_t len)
{
	const struct config_target *t = ct->t;
	const char *names[2] = {"before_restore", "after_restore"};
	char **argvs[2] = {t->before_restore, t->after_restore};
	char user[64], found[512] = "";
	struct stat st;

	check_user_name(user, sizeof(user));
	for (int i = 0; i < 2; i++) {
		const char *path = argvs[i] != NULL ? argvs[i][0] : NULL, *why = NULL;

		if (path == NULL)
			continue;
		if (stat(path, &st) < 0)
			why = strerror(errno);
		else if (!S_ISREG(st.st_mode))
			why = "not a regular file";
		else if (access(path, X_OK) < 0)
			why = "not executable by this user";
		if (why != NULL) {
			snprintf(msg, len,
			         "target %s: %s's program %s cannot be run by user %s (%s); %s",
			         t->name, names[i], path, user, why,
			         i == 0 ? "every restore into it would be refused"
			                : "every restore into it would end with a warning");
			return CHECK_FAILED;
		}
		snprintf(found + strlen(found), sizeof(found) - strlen(found), "%s%s %s",
		         found[0] != '\0' ? " and " : "", names[i], path);
	}
	snprintf(msg, len, "target %s: %s can be run by user %s (time limit %d s each)", t->name,
	         found, user, t->hook_timeout_seconds);
	return CHECK_OK;
}

/* check_quota: plan_quota leaves room for a dump after restore_overhead. */
enum check_status
check_quota(struct check_target *ct, char *msg, size_t len)
{
	char room[64];

	if (config_quota_warning(ct->t, msg, len))
		return CHECK_WARNING;
	quota_format_size(ct->t->plan_quota - ct->t->restore_overhead, room, sizeof(room));
	snprintf(msg, len,
	         "target %s: plan_quota leaves %s for a dump's decompressed size after "
	         "restore_overhead",
	         ct->t->name, room);
	return CHECK_OK;
}

/* probe_exchange: create dir_fd/name holding two folders, exchange them, remove all three. */
static int
probe_exchange(int dir_fd, const char *name, const char *path, char *err, size_t errlen)
{
	static const char *const probes[] = {"a", "b"};
	int fd, rc = -1;

	if (mkdirat(dir_fd, name, 0700) < 0) {
		(void)io_error(err, errlen, "cannot create a folder in it (%s)", strerror(errno));
		return -1;
	}
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		(void)io_error(err, errlen, "cannot open the probe folder %s (%s)", path,
		               strerror(errno));
		goto remove;
	}
	if (mkdirat(fd, probes[0], 0700) < 0 || mkdirat(fd, probes[1], 0700) < 0) {
		(void)io_error(err, errlen, "cannot create a folder in %s (%s)", path,
		               strerror(errno));
		goto remove;
	}
	if (renameat2(fd, probes[0], fd, probes[1], RENAME_EXCHANGE) < 0) {
		(void)io_error(err, errlen, "its filesystem cannot exchange two folders (%s)",
		               strerror(errno));
		goto remove;
	}
	rc = 0;
remove:
	for (size_t i = 0; fd >= 0 && i < 2; i++)
		if (unlinkat(fd, probes[i], AT_REMOVEDIR) < 0 && errno != ENOENT && rc == 0) {
			(void)io_error(err, errlen, "cannot remove the probe folder %s/%s (%s)",
			               path, probes[i], strerror(errno));
			rc = -1;
		}
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		(void)io_error(err, errlen, "cannot close %s (%s)", path, strerror(errno));
		rc = -1;
	}
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && rc == 0) {
		(void)io_error(err, errlen, "cannot remove the probe folder %s (%s); remove it",
		               path, strerror(errno));
		rc = -1;
	}
	return rc;
}

/*
 * check_blob_swap: blob_dir's parent is a writable folder, blob_dir (when it exists) a folder
 * on the parent's filesystem and no mount point, and that filesystem can exchange folders.
 */
enum check_status
check_blob_swap(struct check_target *ct, char *msg, size_t len)
{
	const char *blob_dir = ct->t->blob_dir, *name = ct->t->name;
	char *copy1 = strdup(blob_dir), *copy2 = strdup(blob_dir);
	char probe[256], path[4096 + 256], err[512], user[64], job[37];
	const char *parent, *base;
	enum check_status status = CHECK_FAILED;
	struct statx sp, sb;
	int dir_fd = -1;

	if (copy1 == NULL || copy2 == NULL) {
		snprintf(msg, len, "target %s: out of memory", name);
		goto done;
	}
	parent = dirname(copy1);
	base = basename(copy2);
	check_user_name(user, sizeof(user));
	dir_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0 || statx(dir_fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sp) < 0) {
		snprintf(msg, len,
		         "target %s: the folder %s that holds blob_dir cannot be opened (%s); "
		         "create it",
		         name, parent, strerror(errno));
		goto done;
	}
	if (access(parent, W_OK | X_OK) < 0) {
		snprintf(msg, len,
		         "target %s: the folder %s that holds blob_dir is not writable by user %s "
		         "(%s), and a restore stages the files there; give that user write access "
		         "to it",
		         name, parent, user, strerror(errno));
		goto done;
	}
	if (statx(dir_fd, base, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sb) == 0) {
		if (!S_ISDIR(sb.stx_mode)) {
			snprintf(msg, len,
			         "target %s: blob_dir %s is not a folder; move it away or set "
			         "blob_dir: to a folder",
			         name, blob_dir);
			goto done;
		}
		if (sb.stx_dev_major != sp.stx_dev_major || sb.stx_dev_minor != sp.stx_dev_minor ||
		    ((sb.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
		     (sb.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0)) {
			snprintf(
			    msg, len,
			    "target %s: blob_dir %s is a mount point (or on another filesystem "
			    "than %s), which a restore cannot swap; mount its parent instead, "
			    "or restore with --db-only",
			    name, blob_dir, parent);
			goto done;
		}
	} else if (errno != ENOENT) {
		snprintf(msg, len, "target %s: cannot examine blob_dir %s (%s)", name, blob_dir,
		         strerror(errno));
		goto done;
	}
	restore_new_job_id(job);
	snprintf(probe, sizeof(probe), ".%s.check-%s", base, job);
	snprintf(path, sizeof(path), "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, probe);
	if (probe_exchange(dir_fd, probe, path, err, sizeof(err)) < 0) {
		snprintf(msg, len,
		         "target %s: blob_dir %s cannot be swapped where it is: in %s, %s; put it "
		         "on a local filesystem where user %s may write, or restore with --db-only",
		         name, blob_dir, parent, err, user);
		goto done;
	}
	snprintf(msg, len, "target %s: blob_dir %s can be swapped (%s is writable by user %s)",
	         name, blob_dir, parent, user);
	status = CHECK_OK;
done:
	if (dir_fd >= 0)
		(void)close(dir_fd); /* only read */
	free(copy1);
	free(copy2);
	return status;
}

/*
 * check_blob_access: a restore run as this user can give the restored tree the owner, group
 * and modes the application needs, or reach, list and write its bucket or container (the
 * engine's own rule: store_check_access).
 */
enum check_status
check_blob_access(struct check_target *ct, char *msg, size_t len)
{
	struct restore_target t;
	char sentence[1024];
	int rc;

	config_restore_target(ct->t, &t);
	rc = store_check_access(&t, sentence, sizeof(sentence));
	snprintf(msg, len, "target %s: %s", ct->t->name, sentence);
	return rc == 0 ? CHECK_OK : rc > 0 ? CHECK_WARNING : CHECK_FAILED;
}

/* check_spool: the worker's user can use spool_dir's folders and locks (worker/spool.h). */
enum check_status
check_spool(const struct config *config, const char *target, char *msg, size_t len)
{
	(void)target;
	if (config->spool_dir == NULL) {
		snprintf(
		    msg, len,
		    "spool_dir is not set: restore, backup, inspect and check work, run, submit, "
		    "status and keep_previous need it");
		return CHECK_OK;
	}
	if (spool_check_usable(config->spool_dir, msg, len) < 0)
		return CHECK_FAILED;
	snprintf(msg, len, "spool_dir %s: its folders and locks are usable by the worker's user",
	         config->spool_dir);
	return CHECK_OK;
}

/* check_work_dir: work_dir is a writable folder with room for the largest dump's copy. */
enum check_status
check_work_dir(const struct config *config, const char *target, char *msg, size_t len)
{
	const char *dir = config->work_dir, *largest = NULL;
	char user[64], free_text[64], need_text[64];
	uint64_t need = 0, avail;
	struct statvfs vfs;
	struct stat st;

	check_user_name(user, sizeof(user));
	if (stat(dir, &st) < 0) {
		snprintf(msg, len,
		         "work_dir %s cannot be examined (%s); create it, writable by user %s", dir,
		         strerror(errno), user);
		return CHECK_FAILED;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, len, "work_dir %s is not a folder; set work_dir: to a folder", dir);
		return CHECK_FAILED;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(msg, len,
		         "work_dir %s is not writable by user %s (%s); give that user write access "
		         "to it",
		         dir, user, strerror(errno));
		return CHECK_FAILED;
	}
	if (statvfs(dir, &vfs) < 0) {
		snprintf(msg, len, "cannot tell the free space in work_dir %s (%s)", dir,
		         strerror(errno));
		return CHECK_FAILED;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	for (size_t i = 0; i < config->ntargets; i++) {
		const struct config_target *t = &config->targets[i];

		if (target != NULL && strcmp(t->name, target) != 0)
			continue;
		if (t->plan_quota > t->restore_overhead &&
		    t->plan_quota - t->restore_overhead > need) {
			need = t->plan_quota - t->restore_overhead;
			largest = t->name;
		}
	}
	quota_format_size(avail, free_text, sizeof(free_text));
	quota_format_size(need, need_text, sizeof(need_text));
	if (largest != NULL && avail < need) {
		snprintf(msg, len,
		         "work_dir %s has %s free, less than the %s a dump target %s accepts may "
		         "take there (plan_quota - restore_overhead); free space or move work_dir",
		         dir, free_text, need_text, largest);
		return CHECK_WARNING;
	}
	if (largest == NULL)
		snprintf(msg, len,
		         "work_dir %s has %s free (no checked target's quota admits a dump)", dir,
		         free_text);
	else
		snprintf(
		    msg, len,
		    "work_dir %s has %s free, enough for the largest dump the quotas admit (%s)",
		    dir, free_text, need_text);
	return CHECK_OK;
}
