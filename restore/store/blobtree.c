/*
 * blobtree.c - the sorted walk of a blob folder (see blobtree.h).
 *
 * Mendix finds a file only under its own lowercase name, in its own xx/yy folder, so that is
 * all the walk yields; everything else (another name, an uppercase UUID, a UUID in the wrong
 * folder, a link, a folder where a file belongs, a file where a folder belongs) is handed to
 * the caller's callback with the reason. An entry that disappears between its listing and
 * its use is left out the same way ("gone while being read"), never an error.
 */
#include "blobtree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

bool
blobtree_is_uuid(const char *s)
{
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return s[36] == '\0';
}

/* is_hex_pair: whether name is two lowercase hex digits. */
static bool
is_hex_pair(const char *name)
{
	for (size_t i = 0; i < 2; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return name[2] == '\0';
}

/* is_dot: "." or "..". */
static bool
is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* entry_type: the S_IFMT type of dir's entry e, never through a link; 0 when it is gone. */
static mode_t
entry_type(DIR *dir, const struct dirent *e)
{
	struct stat st;

	switch (e->d_type) {
	case DT_DIR:
		return S_IFDIR;
	case DT_REG:
		return S_IFREG;
	case DT_LNK:
		return S_IFLNK;
	case DT_UNKNOWN:
		break;
	default:
		return S_IFIFO; /* a device, FIFO or socket: "not a regular file" is all we say */
	}
	if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	return st.st_mode & S_IFMT;
}

/* type_reason: why an entry of type mode is left out where a want belongs. */
static const char *
type_reason(mode_t mode, mode_t want)
{
	if (mode == 0)
		return "gone while being read";
	if (mode == S_IFLNK)
		return "a symbolic link (not followed)";
	if (mode == S_IFDIR)
		return "a folder where a file belongs";
	if (want == S_IFDIR && mode == S_IFREG)
		return "a file where a folder belongs";
	return "not a regular file";
}

/* ignore: tell the caller about prefix/name (prefix may be ""). */
static void
ignore(struct blobtree *t, const char *prefix, const char *name, const char *why)
{
	char path[512];

	if (t->ignored == NULL)
		return;
	snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] != '\0' ? "/" : "", name);
	t->ignored(t->ctx, path, why);
}

/* compare_names: qsort's comparison of two NUL-terminated names in fixed-size slots. */
static int
compare_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * list_pairs: the xx (or yy) folders of dir into pairs, sorted; anything else goes to the
 * callback. prefix is dir relative to the walked folder, path its full name for messages.
 */
static int
list_pairs(struct blobtree *t, DIR *dir, const char *prefix, const char *path, char pairs[256][3],
           size_t *count, char *err, size_t errlen)
{
	struct dirent *e;
	mode_t mode;

	*count = 0;
	for (;;) {
		errno = 0;
		e = readdir(dir);
		if (e == NULL)
			break;
		if (is_dot(e->d_name))
			continue;
		mode = entry_type(dir, e);
		if (!is_hex_pair(e->d_name))
			ignore(t, prefix, e->d_name,
			       prefix[0] == '\0' ? "not a folder of two lowercase hex digits (xx)"
			                         : "not a folder of two lowercase hex digits (yy)");
		else if (mode != S_IFDIR)
			ignore(t, prefix, e->d_name, type_reason(mode, S_IFDIR));
		else
			memcpy(pairs[(*count)++], e->d_name, 3); /* at most 256 distinct pairs */
	}
	if (errno != 0)
		return io_error(err, errlen, "cannot list %s: %s", path, strerror(errno));
	qsort(pairs, *count, sizeof(pairs[0]), compare_names);
	return 0;
}

/* list_files: the files of the xx/yy folder t->yy_dir, sorted; 0 or -1 with err. */
static int
list_files(struct blobtree *t, const char *xx, const char *yy, const char *path, char *err,
           size_t errlen)
{
	char prefix[8];
	struct dirent *e;
	mode_t mode;

	snprintf(prefix, sizeof(prefix), "%s/%s", xx, yy);
	t->nfiles = t->ifile = 0;
	for (;;) {
		errno = 0;
		e = readdir(t->yy_dir);
		if (e == NULL)
			break;
		if (is_dot(e->d_name))
			continue;
		if (!blobtree_is_uuid(e->d_name)) {
			ignore(t, prefix, e->d_name, "not named by a lowercase UUID");
			continue;
		}
		if (memcmp(e->d_name, xx, 2) != 0 || memcmp(e->d_name + 2, yy, 2) != 0) {
			ignore(t, prefix, e->d_name, "not in its UUID's xx/yy folder");
			continue;
		}
		mode = entry_type(t->yy_dir, e);
		if (mode != S_IFREG) {
			ignore(t, prefix, e->d_name, type_reason(mode, S_IFREG));
			continue;
		}
		if (t->nfiles == t->capfiles) {
			size_t capacity = t->capfiles == 0 ? 64 : t->capfiles * 2;
			void *grown = realloc(t->files, capacity * sizeof(t->files[0]));

			if (grown == NULL)
				return io_error(err, errlen, "out of memory listing %s", path);
			t->files = grown;
			t->capfiles = capacity;
		}
		memcpy(t->files[t->nfiles++], e->d_name, 37);
	}
	if (errno != 0)
		return io_error(err, errlen, "cannot list %s: %s", path, strerror(errno));
	if (t->nfiles > 1)
		qsort(t->files, t->nfiles, sizeof(t->files[0]), compare_names);
	return 0;
}

/*
 * open_subfolder: open parent's folder name for listing, or NULL with *gone set when it is
 * no longer a folder (removed, or replaced by a link since it was listed), or NULL with err.
 */
static DIR *
open_subfolder(DIR *parent, const char *name, const char *path, bool *gone, char *err,
               size_t errlen)
{
	DIR *dir = io_opendir(dirfd(parent), name);

	*gone = false;
	if (dir != NULL)
		return dir;
	if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
		*gone = true;
	else
		(void)io_error(err, errlen, "cannot open %s: %s", path, strerror(errno));
	return NULL;
}

int
blobtree_open(struct blobtree *t, int dir_fd, const char *dir, const char *who,
              blobtree_ignored_fn ignored, void *ctx, char *err, size_t errlen)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	t->dir = dir;
	t->ignored = ignored;
	t->ctx = ctx;
	t->root = io_opendir(dir_fd, dir);
	if (t->root == NULL) {
		int saved = errno;

		if (saved == ENOENT)
			return 0; /* no folder: no files */
		if (fstatat(dir_fd, dir, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return io_error(err, errlen,
			                "%s is a symbolic link, which %s does not follow", dir,
			                who);
		return io_error(err, errlen, "cannot open the folder %s: %s", dir, strerror(saved));
	}
	return list_pairs(t, t->root, "", dir, t->xx, &t->nxx, err, errlen);
}

void
blobtree_close(struct blobtree *t)
{
	if (t->yy_dir != NULL)
		(void)closedir(t->yy_dir);
	if (t->xx_dir != NULL)
		(void)closedir(t->xx_dir);
	if (t->root != NULL)
		(void)closedir(t->root);
	free(t->files);
	memset(t, 0, sizeof(*t));
}

/* enter_yy: open and list the next yy folder of xx_dir; 0 or -1 with err. */
static int
enter_yy(struct blobtree *t, char *err, size_t errlen)
{
	const char *xx = t->xx[t->ixx - 1], *yy = t->yy[t->iyy++];
	char path[4096], rel[8];
	bool gone;

	snprintf(path, sizeof(path), "%s/%s/%s", t->dir, xx, yy);
	t->yy_dir = open_subfolder(t->xx_dir, yy, path, &gone, err, errlen);
	if (t->yy_dir == NULL) {
		if (!gone)
			return -1;
		snprintf(rel, sizeof(rel), "%s", xx);
		ignore(t, rel, yy, "gone while being read");
		return 0;
	}
	return list_files(t, xx, yy, path, err, errlen);
}

/* enter_xx: list the yy folders of the next xx folder; 0 or -1 with err. */
static int
enter_xx(struct blobtree *t, char *err, size_t errlen)
{
	const char *xx = t->xx[t->ixx++];
	char path[4096];
	bool gone;

	snprintf(path, sizeof(path), "%s/%s", t->dir, xx);
	t->nyy = t->iyy = 0;
	t->xx_dir = open_subfolder(t->root, xx, path, &gone, err, errlen);
	if (t->xx_dir == NULL) {
		if (!gone)
			return -1;
		ignore(t, "", xx, "gone while being read");
		return 0;
	}
	return list_pairs(t, t->xx_dir, xx, path, t->yy, &t->nyy, err, errlen);
}

int
blobtree_next(struct blobtree *t, const char **uuid, char *err, size_t errlen)
{
	for (;;) {
		if (t->yy_dir != NULL && t->ifile < t->nfiles) {
			*uuid = t->files[t->ifile++];
			return 1;
		}
		if (t->yy_dir != NULL) {
			(void)closedir(t->yy_dir);
			t->yy_dir = NULL;
		}
		t->nfiles = t->ifile = 0;
		if (t->xx_dir != NULL && t->iyy < t->nyy) {
			if (enter_yy(t, err, errlen) < 0)
				return -1;
			continue;
		}
		if (t->xx_dir != NULL) {
			(void)closedir(t->xx_dir);
			t->xx_dir = NULL;
		}
		if (t->root == NULL || t->ixx == t->nxx)
			return 0;
		if (enter_xx(t, err, errlen) < 0)
			return -1;
	}
}

int
blobtree_file_dir(const struct blobtree *t)
{
	return t->yy_dir != NULL ? dirfd(t->yy_dir) : -1;
}
