/*
 * blob_access.c - the owner, group and modes of a restored blob tree: what folder_stage.c gives
 * the staging folder, every xx/yy folder and every file, and whether this user can.
 *
 * By default the restored tree takes those of the blob_dir it replaces. Run as root: its owner
 * and group. Run as another user, who cannot give files away: its group (one the worker's user
 * must belong to), and, when blob_dir belongs to another user (the application's), the owner's
 * rights are given to the group as well, so that the application keeps them through its group.
 * Folders take blob_dir's mode, setgid bit included; files take the mode of blob_dir's first
 * file (in the walk's order), or, when it holds none, the folder mode without its x, setgid and
 * sticky bits (02770 gives 0660). A missing blob_dir gives folders 0755 (plus the setgid bit a
 * setgid parent passes on), files 0644, and the group the kernel gives a new folder. The
 * target's blob_owner, blob_group, blob_dir_mode and blob_file_mode replace each default.
 *
 * Modes are set with fchmod, never through the umask; owners with fchown on the descriptors
 * folder_stage.c opened without following links. What cannot be given is refused before anything
 * changes, with a sentence naming blob_dir, the owner or group and what to do.
 */
#include "store_folder.h"
#include "blobtree.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_BYTES 64

/* all_digits: whether s is a non-empty run of decimal digits. */
static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int
blob_access_user(const char *name, uid_t *out)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	unsigned long n;

	if (all_digits(name)) {
		errno = 0;
		n = strtoul(name, NULL, 10);
		if (errno != 0 || n >= (uid_t)-1)
			return -1;
		*out = (uid_t)n;
		return 0;
	}
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
		return -1;
	*out = found->pw_uid;
	return 0;
}

int
blob_access_group(const char *name, gid_t *out)
{
	struct group gr, *found = NULL;
	char buf[16384];
	unsigned long n;

	if (all_digits(name)) {
		errno = 0;
		n = strtoul(name, NULL, 10);
		if (errno != 0 || n >= (gid_t)-1)
			return -1;
		*out = (gid_t)n;
		return 0;
	}
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &found) != 0 || found == NULL)
		return -1;
	*out = found->gr_gid;
	return 0;
}

int
blob_access_mode(const char *text, mode_t allowed, mode_t *out)
{
	size_t len = strlen(text);
	mode_t mode = 0;

	if (len < 3 || len > 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '7')
			return -1;
		mode = mode * 8 + (mode_t)(text[i] - '0');
	}
	if ((mode & ~allowed) != 0)
		return -1;
	*out = mode;
	return 0;
}

/* in_my_groups: whether this process may give a file the group gid (its own or a member's). */
static bool
in_my_groups(gid_t gid)
{
	gid_t groups[NGROUPS_MAX];
	int n;

	if (geteuid() == 0 || getegid() == gid)
		return true;
	n = getgroups(NGROUPS_MAX, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * first_file_mode: the mode of blob_dir's first file in the layout: 1; 0 when it holds none;
 * -1 with err when a folder of it cannot be read.
 */
static int
first_file_mode(int parent_fd, const char *name, mode_t *mode, char *err, size_t errlen)
{
	struct blobtree walk;
	const char *uuid;
	struct stat st;
	int rc;

	rc = blobtree_open(&walk, parent_fd, name, "the restore", NULL, NULL, err, errlen);
	while (rc == 0 && (rc = blobtree_next(&walk, &uuid, err, errlen)) == 1) {
		if (fstatat(blobtree_file_dir(&walk), uuid, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode)) {
			*mode = st.st_mode & 0777;
			break;
		}
		rc = 0;
	}
	blobtree_close(&walk);
	return rc;
}

/* refuse_group: the refusal of a group (whose: where it comes from) this user cannot give; -2. */
static int
refuse_group(const char *blob_dir, gid_t gid, const char *whose, char *err, size_t errlen)
{
	char user[NAME_BYTES], group[NAME_BYTES];

	io_user_name(geteuid(), user, sizeof(user));
	io_group_name(gid, group, sizeof(group));
	io_error(err, errlen,
	         "the files restored into blob_dir %s must belong to the group %s (%s), which "
	         "the user %s the restore runs as is not a member of: add %s to %s (usermod "
	         "-a -G %s %s) and restart the worker, or set the target's blob_group",
	         blob_dir, group, whose, user, user, group, group, user);
	return -2;
}

int
blob_access_plan(const struct restore_target *t, int parent_fd, const char *name,
                 struct blob_access *out, char *err, size_t errlen)
{
	struct stat st, parent;
	bool exists, root = geteuid() == 0, keeps_owner;
	mode_t file_mode = 0;
	char user[NAME_BYTES];
	int found;

	if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		exists = true;
	else if (errno == ENOENT)
		exists = false;
	else
		return io_error(err, errlen, "cannot examine blob_dir %s: %s", t->blob_dir,
		                strerror(errno));
	if (fstat(parent_fd, &parent) < 0)
		return io_error(err, errlen, "cannot examine the folder that holds blob_dir %s: %s",
		                t->blob_dir, strerror(errno));

	out->uid = root && exists ? st.st_uid : (uid_t)-1;
	out->gid = exists ? st.st_gid : (gid_t)-1;
	if (t->blob_owner != NULL) {
		if (blob_access_user(t->blob_owner, &out->uid) < 0)
			return io_error(err, errlen,
			                "the blob_owner %s of blob_dir %s is no user here",
			                t->blob_owner, t->blob_dir);
		if (!root && out->uid != geteuid()) {
			io_error(
			    err, errlen,
			    "the files restored into blob_dir %s cannot be given to the "
			    "target's blob_owner %s: only a restore run as root can give files "
			    "to another user (the restore runs as %s); use blob_group instead",
			    t->blob_dir, t->blob_owner,
			    io_user_name(geteuid(), user, sizeof(user)));
			return -2;
		}
	}
	if (t->blob_group != NULL && blob_access_group(t->blob_group, &out->gid) < 0)
		return io_error(err, errlen, "the blob_group %s of blob_dir %s is no group here",
		                t->blob_group, t->blob_dir);
	if (out->gid != (gid_t)-1 && !in_my_groups(out->gid))
		return refuse_group(t->blob_dir, out->gid,
		                    t->blob_group != NULL ? "the target's blob_group"
		                                          : "blob_dir's group",
		                    err, errlen);

	if (!exists) {
		out->dir_mode = 0755 | (parent.st_mode & S_ISGID);
	} else {
		out->dir_mode = st.st_mode & 07777;
		/* A folder of blob_dir it cannot read only costs the example file. */
		found = first_file_mode(parent_fd, name, &file_mode, err, errlen);
		if (found != 1)
			file_mode = 0; /* from the folder mode, below */
		/* The application (blob_dir's owner) keeps its rights through the group. */
		keeps_owner = root || st.st_uid == geteuid() ||
		              (t->blob_owner != NULL && out->uid == st.st_uid);
		if (!keeps_owner) {
			out->dir_mode |= (out->dir_mode & 0700) >> 3;
			file_mode |= (file_mode & 0700) >> 3;
		}
	}
	if (t->blob_dir_mode != 0)
		out->dir_mode = t->blob_dir_mode;
	if (file_mode == 0)
		file_mode = out->dir_mode & 0666;
	out->file_mode = t->blob_file_mode != 0 ? t->blob_file_mode : file_mode;
	return 0;
}

int
blob_access_apply(const struct blob_access *a, int fd, bool is_dir, const char *blob_dir,
                  const char *what, char *err, size_t errlen)
{
	mode_t mode = is_dir ? a->dir_mode : a->file_mode;
	struct stat st;

	if ((a->uid != (uid_t)-1 || a->gid != (gid_t)-1) && fchown(fd, a->uid, a->gid) < 0) {
		if (errno == EPERM && a->gid != (gid_t)-1)
			return refuse_group(blob_dir, a->gid, "the restored files' group", err,
			                    errlen);
		return io_error(err, errlen,
		                "cannot give %s the owner and group of blob_dir %s: %s", what,
		                blob_dir, strerror(errno));
	}
	if (fchmod(fd, mode) < 0 || fstat(fd, &st) < 0)
		return io_error(err, errlen,
		                "cannot give %s the mode %04o that blob_dir %s needs: %s (a setgid "
		                "bit needs the worker's unit without RestrictSUIDSGID=yes)",
		                what, (unsigned)mode, blob_dir, strerror(errno));
	if ((st.st_mode & 07777) != mode) {
		io_error(err, errlen,
		         "%s was given the mode %04o instead of the %04o that blob_dir %s needs "
		         "(the kernel drops a setgid bit for a group the user is not a member of)",
		         what, (unsigned)(st.st_mode & 07777), (unsigned)mode, blob_dir);
		return -2;
	}
	return 0;
}

/* describe: "owner U, group G, folders MODE, files MODE" for the check's sentence. */
static void
describe(const struct blob_access *a, char *buf, size_t buflen)
{
	char user[NAME_BYTES], group[NAME_BYTES];

	snprintf(buf, buflen, "owner %s, group %s, folders %04o, files %04o",
	         io_user_name(a->uid != (uid_t)-1 ? a->uid : geteuid(), user, sizeof(user)),
	         a->gid != (gid_t)-1 ? io_group_name(a->gid, group, sizeof(group)) : "as created",
	         (unsigned)a->dir_mode, (unsigned)a->file_mode);
}

int
blobstore_check_access(const struct restore_target *t, char *msg, size_t msglen)
{
	struct blob_access a;
	struct stat st, parent;
	char *copy, *slash, what[256], user[NAME_BYTES];
	const char *name;
	int parent_fd, rc;

	if (t->blob_dir == NULL || t->blob_dir[0] != '/' || (copy = strdup(t->blob_dir)) == NULL)
		return io_error(msg, msglen, "blob_dir %s is not an absolute path",
		                t->blob_dir != NULL ? t->blob_dir : "(none)");
	slash = strrchr(copy, '/');
	*slash = '\0';
	name = slash + 1;
	parent_fd = open(copy[0] != '\0' ? copy : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent_fd < 0) {
		rc = io_error(msg, msglen, "cannot open the folder %s that holds blob_dir: %s",
		              copy[0] != '\0' ? copy : "/", strerror(errno));
		goto done;
	}
	io_user_name(geteuid(), user, sizeof(user));
	if (faccessat(parent_fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		rc = io_error(msg, msglen,
		              "the folder %s that holds blob_dir is not writable by %s, the user "
		              "the check runs as (%s): the staging folder goes there",
		              copy, user, strerror(errno));
		goto done;
	}
	rc = blob_access_plan(t, parent_fd, name, &a, msg, msglen);
	if (rc < 0) {
		rc = -1;
		goto done;
	}
	describe(&a, what, sizeof(what));
	if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = 1;
		snprintf(
		    msg, msglen,
		    "blob_dir %s does not exist yet: the first restore as %s creates it with %s",
		    t->blob_dir, user, what);
	} else if (fstat(parent_fd, &parent) < 0 || parent.st_dev != st.st_dev) {
		rc = io_error(msg, msglen,
		              "blob_dir %s is another mount than %s: it cannot be swapped for the "
		              "restored files; mount the volume at its parent or above",
		              t->blob_dir, copy);
	} else if (st.st_uid != (a.uid != (uid_t)-1 ? a.uid : geteuid()) &&
	           (a.dir_mode & 0030) != 0030) {
		rc = 1;
		snprintf(msg, msglen,
		         "blob_dir %s belongs to another user, who could not create files in the "
		         "folders a restore as %s gives %s: set blob_dir_mode with group write",
		         t->blob_dir, user, what);
	} else {
		rc = 0;
		snprintf(msg, msglen, "blob_dir %s: a restore as %s gives the restored files %s",
		         t->blob_dir, user, what);
	}
done:
	if (parent_fd >= 0)
		(void)close(parent_fd);
	free(copy);
	return rc;
}
