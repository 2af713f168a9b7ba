/*
 * incoming.c - what has arrived in the spool's incoming/ folders (see incoming.h).
 *
 * inotify says what happens; a scan (at start, after an event queue overflow, and at every
 * rescan) says what is there, so nothing dropped while nobody watched is missed. A file
 * renamed in is complete at once; one created or written in place is being written until it
 * has been closed and left unchanged for the settle time. What is not a regular file (a
 * symbolic link, a FIFO) is taken at once, to be refused: nobody closes it after writing, so
 * waiting for that would be waiting for ever. A hard link made in place is not closed either:
 * it waits the settle time (its other name may be about to go), then is taken, and refused
 * if it still has another name. It is told from a file being written by its creation: a
 * file created in place is empty then, and its writes follow; a link holds its bytes at once.
 * Whatever changes a file after it was renamed in (written again in place while it waits for
 * its target, say) voids that mark.
 * Before a file is taken, it is looked at once more: unchanged, and nobody holding it open
 * for writing (a read lease is refused exactly then).
 */
#include "incoming.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "notify.h"

int
incoming_open(struct incoming *in, int dir_fd, const char *spool_dir)
{
	memset(in, 0, sizeof(*in));
	in->dir_fd = dir_fd;
	snprintf(in->path, sizeof(in->path), "%s/incoming", spool_dir);
	in->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return in->inotify_fd < 0 ? -1 : 0;
}

void
incoming_close(struct incoming *in)
{
	if (in->inotify_fd >= 0)
		(void)close(in->inotify_fd);
	in->inotify_fd = -1;
	free(in->files);
	in->files = NULL;
	in->nfiles = 0;
}

void
incoming_watch(struct incoming *in, const char *folder)
{
	char path[PATH_MAX + 96];
	int wd;

	for (size_t i = 0; i < in->nwatches; i++)
		if (strcmp(in->watches[i].folder, folder) == 0)
			return;
	if (in->nwatches == INCOMING_MAX_WATCHES)
		return; /* the periodic rescan still finds what is dropped there */
	snprintf(path, sizeof(path), "%s%s%s", in->path, folder[0] != '\0' ? "/" : "", folder);
	wd = inotify_add_watch(in->inotify_fd, path,
	                       IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR |
	                           IN_DONT_FOLLOW);
	if (wd < 0) {
		log_line(LOG_PRIORITY_WARNING, NULL, "cannot watch %s: %s (relying on rescans)",
		         path, strerror(errno));
		return;
	}
	in->watches[in->nwatches].wd = wd;
	snprintf(in->watches[in->nwatches].folder, sizeof(in->watches[0].folder), "%s", folder);
	in->nwatches++;
}

/* file_find: the file folder/name, or NULL. */
static struct incoming_file *
file_find(struct incoming *in, const char *folder, const char *name)
{
	for (size_t i = 0; i < in->nfiles; i++)
		if (strcmp(in->files[i].folder, folder) == 0 &&
		    strcmp(in->files[i].name, name) == 0)
			return &in->files[i];
	return NULL;
}

/* file_note: record (or refresh) a file seen in incoming/[folder]; NULL when out of memory. */
static struct incoming_file *
file_note(struct incoming *in, const char *folder, const char *name, const struct stat *st,
          double t)
{
	struct incoming_file *f = file_find(in, folder, name);

	if (f == NULL) {
		struct incoming_file *grown = realloc(in->files, (in->nfiles + 1) * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		in->files = grown;
		f = &in->files[in->nfiles++];
		memset(f, 0, sizeof(*f));
		snprintf(f->folder, sizeof(f->folder), "%s", folder);
		snprintf(f->name, sizeof(f->name), "%s", name);
		f->stable_since = t;
	} else if (f->size != st->st_size || f->ino != st->st_ino ||
	           f->mtime.tv_sec != st->st_mtim.tv_sec ||
	           f->mtime.tv_nsec != st->st_mtim.tv_nsec) {
		/*
		 * Still being written, or written again in place, or replaced: whatever mark of
		 * completeness it had is void (a new rename brings a new one).
		 */
		f->stable_since = t;
		f->moved_in = false;
	}
	f->size = st->st_size;
	f->ino = st->st_ino;
	f->mtime = st->st_mtim;
	f->refused = !S_ISREG(st->st_mode);
	f->seen = true;
	return f;
}

/* scan_folder: note every file in incoming/[folder]; subfolders of incoming/ too. */
static void
scan_folder(struct incoming *in, const char *folder, double t)
{
	DIR *dir = io_opendir(in->dir_fd, folder[0] != '\0' ? folder : ".");
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;

		if (spool_name_ignored(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (folder[0] == '\0' &&
			    strlen(de->d_name) < sizeof(in->watches[0].folder)) {
				incoming_watch(in, de->d_name);
				scan_folder(in, de->d_name, t);
			}
			continue;
		}
		(void)file_note(in, folder, de->d_name, &st, t);
	}
	(void)closedir(dir);
}

void
incoming_scan(struct incoming *in, double now)
{
	size_t i, kept = 0;

	for (i = 0; i < in->nfiles; i++)
		in->files[i].seen = false;
	scan_folder(in, "", now);
	for (i = 0; i < in->nfiles; i++)
		if (in->files[i].seen)
			in->files[kept++] = in->files[i];
	in->nfiles = kept;
}

/*
 * event_note: what an event says of a file. Arrivals by rename are complete at once; a file
 * created or written in place is being written until it is closed.
 */
static void
event_note(struct incoming *in, const char *folder, const struct inotify_event *ev, double t)
{
	char path[PATH_MAX + 2 * NAME_MAX];
	struct incoming_file *f;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s%s%s", in->path, folder, folder[0] != '\0' ? "/" : "",
	         ev->name);
	if (lstat(path, &st) < 0 || S_ISDIR(st.st_mode))
		return;
	f = file_note(in, folder, ev->name, &st, t);
	if (f == NULL)
		return;
	if ((ev->mask & IN_MOVED_TO) != 0) {
		f->moved_in = true;
		f->writing = false;
	} else if ((ev->mask & (IN_CREATE | IN_MODIFY)) != 0) {
		/*
		 * A symbolic link, hard link or FIFO created in place is never closed after
		 * writing: waiting for that would keep it queued until the worker restarts. A
		 * hard link waits the settle time (a producer may link(tmp/x, incoming/x) and then
		 * unlink tmp/x, maildir style); one still linked twice then is refused. By the
		 * time the creation is read, the other name may be gone already: a file created
		 * empty and written is followed by its writes, while one that holds bytes
		 * without any write was linked in, complete.
		 */
		bool linked_in = (ev->mask & IN_CREATE) != 0 && (st.st_nlink > 1 || st.st_size > 0);

		f->moved_in = false;
		f->writing = !f->refused && st.st_nlink == 1 && !linked_in;
		f->stable_since = t;
	} else if ((ev->mask & IN_CLOSE_WRITE) != 0) {
		f->writing = false;
		f->stable_since = t;
	}
}

bool
incoming_read_events(struct incoming *in, double now)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool scan_due = false;
	ssize_t n;

	while ((n = read(in->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			/* A write updates its own file; anything else may be new. */
			if ((ev->mask & ~(unsigned)IN_MODIFY) != 0)
				scan_due = true;
			if ((ev->mask & IN_Q_OVERFLOW) != 0 || ev->len == 0)
				continue;
			if (spool_name_ignored(ev->name) || (ev->mask & IN_ISDIR) != 0)
				continue;
			for (size_t i = 0; i < in->nwatches; i++) {
				if (in->watches[i].wd == ev->wd)
					event_note(in, in->watches[i].folder, ev, now);
			}
		}
	}
	return scan_due;
}

double
incoming_ready_at(const struct incoming_file *file, int settle_seconds)
{
	if (file->moved_in || file->refused)
		return file->stable_since;
	if (file->writing)
		return -1;
	return file->stable_since + settle_seconds;
}

int
incoming_folder_open(const struct incoming *in, const struct incoming_file *file)
{
	if (file->folder[0] == '\0')
		return openat(in->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return openat(in->dir_fd, file->folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

bool
incoming_still_busy(struct incoming *in, struct incoming_file *file, double now)
{
	int dir_fd = incoming_folder_open(in, file), fd;
	bool busy = false;
	struct stat st;

	if (dir_fd < 0)
		return false; /* gone: the claim finds out */
	if (fstatat(dir_fd, file->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		(void)close(dir_fd);
		return false;
	}
	if (file->size != st.st_size || file->ino != st.st_ino ||
	    file->mtime.tv_sec != st.st_mtim.tv_sec || file->mtime.tv_nsec != st.st_mtim.tv_nsec) {
		(void)file_note(in, file->folder, file->name, &st, now);
		(void)close(dir_fd);
		return true;
	}
	/*
	 * A read lease is refused (EAGAIN) exactly while somebody holds the file open for
	 * writing. Taking one needs the file's owner or CAP_LEASE; without them the answer is
	 * "not known" and the settle time and inotify decide alone.
	 */
	fd = S_ISREG(st.st_mode)
	         ? openat(dir_fd, file->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
	         : -1;
	(void)close(dir_fd);
	if (fd < 0)
		return false;
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		(void)fcntl(fd, F_SETLEASE, F_UNLCK);
	} else if (errno == EAGAIN) {
		file->stable_since = now; /* its writer paused: wait for it to close */
		busy = true;
	}
	(void)close(fd);
	return busy;
}

void
incoming_forget(struct incoming *in, size_t i)
{
	memmove(&in->files[i], &in->files[i + 1], (in->nfiles - i - 1) * sizeof(in->files[0]));
	in->nfiles--;
}
