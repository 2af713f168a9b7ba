/*
 * incoming.h - what has arrived in the spool's incoming/ folders, and when each file may be
 * taken: at once when it was renamed in (complete) or is no regular file of its own (a link
 * or a FIFO, which is refused), else once it has been unchanged for the settle time and
 * nobody holds it open for writing.
 */
#ifndef INCOMING_H
#define INCOMING_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "spool.h"

#define INCOMING_MAX_WATCHES 256

/* A file waiting in incoming/ or incoming/<folder>/. */
struct incoming_file {
	char folder[80]; /* "" or the incoming/<folder>/ it is in */
	char name[SPOOL_NAME_MAX + 1];
	off_t size;
	struct timespec mtime;
	ino_t ino;
	double stable_since; /* monotonic time of its last change */
	bool moved_in;       /* arrived by rename() and unchanged since: complete */
	bool writing;        /* inotify saw it written and not yet closed */
	bool refused;        /* a link, FIFO, ...: never written, refused at once when taken */
	double retry_at;     /* its claim failed: not tried again before (monotonic) */
	bool seen;
};

struct incoming {
	int dir_fd;          /* incoming/, owned by the spool */
	char path[PATH_MAX]; /* <spool_dir>/incoming, for watches and messages */
	int inotify_fd;
	struct {
		int wd;
		char folder[80];
	} watches[INCOMING_MAX_WATCHES];
	size_t nwatches;
	struct incoming_file *files;
	size_t nfiles;
};

/* incoming_open: start watching spool_dir's incoming/ (open as dir_fd); 0 or -1 with errno. */
int incoming_open(struct incoming *in, int dir_fd, const char *spool_dir);

/* incoming_close: stop watching and forget every file. */
void incoming_close(struct incoming *in);

/* incoming_watch: watch incoming/<folder>/ too ("" is incoming/ itself). */
void incoming_watch(struct incoming *in, const char *folder);

/* incoming_scan: refresh the files from the folders; forget those that went away. */
void incoming_scan(struct incoming *in, double now);

/* incoming_read_events: take what inotify says; true when a scan is due (something new). */
bool incoming_read_events(struct incoming *in, double now);

/*
 * incoming_ready_at: when file may be taken (monotonic seconds; compare with now), or -1
 * while it is being written.
 */
double incoming_ready_at(const struct incoming_file *file, int settle_seconds);

/*
 * incoming_still_busy: checked when a file seems ready: has it changed since it was seen, or
 * does somebody hold it open for writing? Then it must settle again.
 */
bool incoming_still_busy(struct incoming *in, struct incoming_file *file, double now);

/* incoming_folder_open: a descriptor of the folder file is in; -1 with errno. */
int incoming_folder_open(const struct incoming *in, const struct incoming_file *file);

/* incoming_forget: drop the file at index i (it was claimed). */
void incoming_forget(struct incoming *in, size_t i);

#endif
