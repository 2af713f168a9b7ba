/*
 * old_files.h - the removal of the old files restores swapped out, in a process of its own
 * beside the worker or detached from restore (old_files.c). Folders only: a blob_dir that is
 * NULL or no absolute path (a target whose files are in a bucket or a container, whose
 * restores remove the old ones themselves) has nothing to remove here.
 */
#ifndef OLD_FILES_H
#define OLD_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Run in a removal's child process first: close what the caller must not pass on. */
typedef void (*old_files_child_fn)(void *ctx);

/*
 * old_files_remove: for the worker: remove in a child process the old files waiting beside
 * blob_dir that no other removal holds (taken in hand before this returns, so that a job filed
 * after it never leaves its old files unheld). The child dies with the worker; in_child(ctx)
 * runs in it first.
 */
void old_files_remove(const char *blob_dir, old_files_child_fn in_child, void *ctx);

/* old_files_reaped: pid ended with wait status st: true when it was a removal (a kill logged). */
bool old_files_reaped(pid_t pid, int st);

/* old_files_running: the removals running. */
size_t old_files_running(void);

/*
 * old_files_stop: start no more removals; now: stop those running (SIGTERM): what is left is
 * removed at the next start.
 */
void old_files_stop(bool now);

/*
 * old_files_detach: for restore: remove the old files waiting beside blob_dir in a detached
 * process (its own session; stdin and stdout /dev/null; stderr kept where a line written
 * later is read: a terminal, a file, the journal), so that the caller does not wait for it.
 */
void old_files_detach(const char *blob_dir);

#endif
