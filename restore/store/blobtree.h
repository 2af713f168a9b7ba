/*
 * blobtree.h - a sorted walk of a blob folder laid out as Mendix lays it out: xx/yy/<uuid>,
 * with <uuid> a lowercase UUID whose first four hex digits are xx and yy.
 *
 * The walk yields the UUIDs in strcmp order (xx, then yy, then the files of one xx/yy folder,
 * each level sorted), holding only the names of one xx/yy folder at a time. Folders are
 * opened relative to their parent's descriptor with O_NOFOLLOW and entries are typed without
 * following links, so no symbolic link is ever followed. Every entry outside the layout is
 * handed to a callback with the reason it was left out. The folder driver (store_folder.c)
 * lists blob_dir with it for the file check and the backup; blob_access.c finds the first file.
 */
#ifndef BLOBTREE_H
#define BLOBTREE_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Told of each entry left out of the walk: path is relative to the walked folder ("xx/yy/x",
 * "xx/yy", "name"), why a few words ("not a lowercase UUID", "a symbolic link", ...).
 */
typedef void (*blobtree_ignored_fn)(void *ctx, const char *path, const char *why);

/* The walk's state; the fields are the walk's own. */
struct blobtree {
	DIR *root;                   /* NULL when the folder does not exist */
	DIR *xx_dir;                 /* the xx folder being walked, or NULL */
	DIR *yy_dir;                 /* the xx/yy folder whose files are being yielded, or NULL */
	char xx[256][3], yy[256][3]; /* the root's xx folders and xx_dir's yy folders, sorted */
	size_t nxx, ixx, nyy, iyy;
	char (*files)[37]; /* the files of yy_dir, sorted */
	size_t nfiles, capfiles, ifile;
	const char *dir; /* for messages */
	blobtree_ignored_fn ignored;
	void *ctx;
};

/*
 * blobtree_open: start the walk of dir_fd/dir (dir_fd may be AT_FDCWD; dir may be absolute).
 * A missing folder holds no files. who names the caller in the refusal of a dir that is itself
 * a symbolic link ("the file check"). 0, or -1 with err; blobtree_close() either way.
 */
int blobtree_open(struct blobtree *t, int dir_fd, const char *dir, const char *who,
                  blobtree_ignored_fn ignored, void *ctx, char *err, size_t errlen);

/*
 * blobtree_next: the next file's UUID in *uuid (valid until the next call): 1; 0 at the end;
 * -1 with err when a folder cannot be read.
 */
int blobtree_next(struct blobtree *t, const char **uuid, char *err, size_t errlen);

/* blobtree_file_dir: the descriptor of the xx/yy folder holding the UUID last yielded. */
int blobtree_file_dir(const struct blobtree *t);

/* blobtree_is_uuid: whether s is a UUID written as 36 lowercase hex digits and dashes. */
bool blobtree_is_uuid(const char *s);

/* blobtree_close: end the walk. */
void blobtree_close(struct blobtree *t);

#endif
