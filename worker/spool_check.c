/*
 * spool_check.c - can the worker use its spool? Whose are the spool's folders and locks, and
 * may the worker's user read, write and enter them (spool.h: spool_check_usable).
 *
 * The worker's user is whoever runs the check, or, when that is root (an operator running
 * `check`), the spool folder's owner: the user the worker runs as. For oneself the kernel is
 * asked (faccessat, which knows ACLs); for another user the mode bits are read, with the
 * groups the user database gives that user, so an ACL granting more is not seen (a limit:
 * the check then says no where the worker could).
 *
 * Diagnostics: one sentence naming the path, its owner and mode, and the worker's user.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "spool.h"

#define CHECK_GROUPS_MAX 256

/* The user whose access is checked. */
struct check_user {
	bool self; /* the process itself: ask the kernel */
	uid_t uid;
	gid_t groups[CHECK_GROUPS_MAX];
	int ngroups;
	char name[64];
};

void
spool_describe_owner(int dir_fd, const char *name, char *buf, size_t buflen)
{
	char user[64], group[64];
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(buf, buflen, "owner unknown: %s", strerror(errno));
		return;
	}
	io_user_name(st.st_uid, user, sizeof(user));
	io_group_name(st.st_gid, group, sizeof(group));
	snprintf(buf, buflen, "owned by %s:%s, mode %04o", user, group,
	         (unsigned)(st.st_mode & 07777));
}

/* user_for: the worker's user, for a spool whose folder is st. */
static void
user_for(const struct stat *spool, struct check_user *u)
{
	struct passwd *pw;

	memset(u, 0, sizeof(*u));
	u->self = geteuid() != 0 || spool->st_uid == 0;
	u->uid = u->self ? geteuid() : spool->st_uid;
	io_user_name(u->uid, u->name, sizeof(u->name));
	if (u->self)
		return;
	u->ngroups = CHECK_GROUPS_MAX;
	pw = getpwuid(u->uid);
	if (pw == NULL || getgrouplist(pw->pw_name, pw->pw_gid, u->groups, &u->ngroups) < 0) {
		u->groups[0] = pw != NULL ? pw->pw_gid : spool->st_gid;
		u->ngroups = 1;
	}
}

/* user_may: may u do want (R_OK, W_OK, X_OK, or'ed) to dir_fd/name, whose status is st? */
static bool
user_may(const struct check_user *u, int dir_fd, const char *name, const struct stat *st, int want)
{
	int bits = 0;

	if (u->self)
		return faccessat(dir_fd, name, want, AT_EACCESS | AT_SYMLINK_NOFOLLOW) == 0;
	if (st->st_uid == u->uid) {
		bits = (int)(st->st_mode >> 6) & 7;
	} else {
		bool member = false;

		for (int i = 0; i < u->ngroups; i++)
			member = member || u->groups[i] == st->st_gid;
		bits = (int)(member ? st->st_mode >> 3 : st->st_mode) & 7;
	}
	return (bits & want) == want;
}

/*
 * check_one: dir_fd/name (shown as path) is a folder (or, not folder, a regular file) u may
 * use: 0, 1 when it does not exist, or -1 with msg.
 */
static int
check_one(const struct check_user *u, int dir_fd, const char *name, const char *path, bool folder,
          char *msg, size_t msglen)
{
	int want = folder ? R_OK | W_OK | X_OK : R_OK | W_OK;
	char owner[200], hint[128];
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 1;
		return io_error(msg, msglen, "cannot look at %s: %s", path, strerror(errno));
	}
	spool_describe_owner(dir_fd, name, owner, sizeof(owner));
	if (folder ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return io_error(msg, msglen, "%s is not a %s (%s)", path,
		                folder ? "folder" : "regular file", owner);
	if (user_may(u, dir_fd, name, &st, want))
		return 0;
	if (st.st_uid == u->uid)
		snprintf(hint, sizeof(hint), "chmod u+%s it", folder ? "rwx" : "rw");
	else
		snprintf(hint, sizeof(hint), "chown it to %s, or run the worker as its owner",
		         u->name);
	return io_error(msg, msglen, "%s is %s: the worker's user, %s, cannot %s it (%s)", path,
	                owner, u->name, folder ? "write to" : "open", hint);
}

/* check_entries: every entry of folder dir_fd/name (shown as path) passes check_one. */
static int
check_entries(const struct check_user *u, int dir_fd, const char *name, const char *path,
              bool folders, const char *suffix, char *msg, size_t msglen)
{
	DIR *dir = io_opendir(dir_fd, name);
	struct dirent *de;
	int rc = 0;

	if (dir == NULL)
		return errno == ENOENT
		           ? 0
		           : io_error(msg, msglen, "cannot list %s: %s", path, strerror(errno));
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		char entry[PATH_MAX + NAME_MAX + 2];
		size_t n = strlen(de->d_name), m = suffix != NULL ? strlen(suffix) : 0;
		struct stat st;

		if (de->d_name[0] == '.' ||
		    (m > 0 && (n <= m || strcmp(de->d_name + n - m, suffix))))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (folders && !S_ISDIR(st.st_mode)))
			continue;
		snprintf(entry, sizeof(entry), "%s/%s", path, de->d_name);
		rc = check_one(u, dirfd(dir), de->d_name, entry, folders, msg, msglen) < 0 ? -1 : 0;
	}
	(void)closedir(dir);
	return rc;
}

int
spool_check_usable(const char *spool_dir, char *msg, size_t msglen)
{
	static const char *const folders[] = {"tmp",    "incoming", "active",  "done",
	                                      "failed", "locks",    "previous"};
	/* Folders whose own folders the worker writes in: new jobs, moved jobs, targets. */
	static const char *const parents[] = {"incoming", "active", "previous"};
	struct check_user u;
	char path[PATH_MAX + 32], parent[PATH_MAX], why[PATH_MAX + 256], real[PATH_MAX];
	struct stat st;
	int root, rc = -1;

	/* spool_dir itself may be a link (spool_open follows it); what is inside is never. */
	if (realpath(spool_dir, real) != NULL)
		spool_dir = real;
	if (stat(spool_dir, &st) < 0) {
		const char *slash = strrchr(spool_dir, '/');

		if (errno != ENOENT)
			return io_error(msg, msglen, "cannot look at spool_dir %s: %s", spool_dir,
			                strerror(errno));
		/* It will be created: its parent must let the worker do so. */
		snprintf(parent, sizeof(parent), "%.*s",
		         slash == NULL        ? 1
		         : slash == spool_dir ? 1
		                              : (int)(slash - spool_dir),
		         slash == NULL ? "." : spool_dir);
		if (stat(parent, &st) < 0)
			return io_error(msg, msglen, "spool_dir %s cannot be created: %s: %s",
			                spool_dir, parent, strerror(errno));
		user_for(&st, &u);
		if (check_one(&u, AT_FDCWD, parent, parent, true, why, sizeof(why)) < 0)
			return io_error(msg, msglen, "spool_dir %s cannot be created: %s",
			                spool_dir, why);
		return 0;
	}
	user_for(&st, &u);
	if (check_one(&u, AT_FDCWD, spool_dir, spool_dir, true, msg, msglen) < 0)
		return -1;
	root = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return io_error(msg, msglen, "cannot open spool_dir %s: %s", spool_dir,
		                strerror(errno));
	for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", spool_dir, folders[i]);
		if (check_one(&u, root, folders[i], path, true, msg, msglen) < 0)
			goto done;
	}
	for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", spool_dir, parents[i]);
		if (check_entries(&u, root, parents[i], path, true, NULL, msg, msglen) < 0)
			goto done;
	}
	snprintf(path, sizeof(path), "%s/locks", spool_dir);
	if (check_entries(&u, root, "locks", path, false, ".lock", msg, msglen) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/metrics.lock", spool_dir);
	if (check_one(&u, root, "metrics.lock", path, false, msg, msglen) < 0)
		goto done;
	rc = 0;
done:
	(void)close(root);
	return rc;
}
