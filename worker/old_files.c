/*
 * old_files.c - the removal of the old files a restore swapped out, off the critical path
 * (old_files.h). Removing tens of thousands of files takes longer than the restore itself;
 * the target is restored once the files are swapped in, so the removal runs in a process of
 * its own and nobody waits for it:
 *  - beside the worker, a child process, which holds neither a job slot nor a target's lock,
 *    and dies with the worker (as job children do): what a killed removal leaves is
 *    finished at the next start, or after the next restore into the target;
 *  - for restore, a detached process (double fork, its own session) that outlives the
 *    command, which returns with its report.
 * One process removes faster than the disk lets several (unlinks in one tree serialise on
 * the filesystem's journal and folder locks) and leaves the other CPU to the next restore.
 *
 * The old trees are taken in hand (store_old_take: a lock on each) by the caller before the
 * fork, so that when the worker files a job, or restore returns, its old files are already
 * held by their removal; a tree another process removes is left to it.
 *
 * Diagnostics: one line per tree, when it is removed ("the old files were removed in 3.2 s")
 * or cannot be (a warning naming what is left and where), with the job id that swapped it
 * out; a removal the worker sees killed is a warning.
 */
#include "old_files.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify.h"
#include "store.h"

/* A removal the worker runs. */
struct removal {
	pid_t pid;
	char *blob_dir;
	bool stopped; /* sent SIGTERM */
};

static struct removal *removals;
static size_t nremovals;
static bool stopping;

/* removed: a tree is done with: say so. */
static void
removed(void *ctx, const char *job_id, double seconds, const char *err)
{
	(void)ctx;
	if (err != NULL)
		log_line(LOG_PRIORITY_WARNING, job_id, "%s", err);
	else
		log_line(LOG_PRIORITY_INFO, job_id, "the old files were removed in %.3f s",
		         seconds);
}

/* signals_default: a removal's process ends on SIGTERM and SIGINT, and blocks nothing. */
static void
signals_default(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* remove_and_exit: in a removal's process: remove what old holds; never returns. */
static void __attribute__((noreturn)) remove_and_exit(struct store *s, struct store_old *old)
{
	int rc = store_old_remove(old, removed, NULL);

	store_old_close(old);
	store_close(s);
	_exit(rc == 0 ? 0 : 1);
}

/* take: open blob_dir's store and take its old files in hand; false when there are none. */
static bool
take(const char *blob_dir, struct store **s, struct store_old **old)
{
	char err[1024];

	*s = NULL;
	*old = NULL;
	if (blob_dir == NULL || blob_dir[0] != '/' ||
	    store_open_folder(AT_FDCWD, blob_dir, s, err, sizeof(err)) < 0)
		return false;
	if (store_old_take(*s, old, err, sizeof(err)) < 0)
		log_line(LOG_PRIORITY_WARNING, NULL, "cannot remove the old files beside %s: %s",
		         blob_dir, err);
	if (*old == NULL) {
		store_close(*s);
		*s = NULL;
		return false;
	}
	return true;
}

/* removal_start: fork a removal of what is free beside blob_dir; its pid, or 0 for none. */
static pid_t
removal_start(const char *blob_dir, old_files_child_fn in_child, void *ctx)
{
	struct store *s;
	struct store_old *old;
	pid_t parent = getpid(), pid;

	if (stopping || !take(blob_dir, &s, &old))
		return 0;
	pid = fork();
	if (pid == 0) {
		/* Killed with the worker: what is left is for the next start. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		signals_default();
		if (in_child != NULL)
			in_child(ctx);
		remove_and_exit(s, old);
	}
	if (pid < 0)
		log_line(LOG_PRIORITY_WARNING, NULL,
		         "cannot start the removal of the old files beside %s: %s; they are "
		         "removed after the next restore into it, or at the next start",
		         blob_dir, strerror(errno));
	store_old_close(old); /* the child holds them now */
	store_close(s);
	return pid > 0 ? pid : 0;
}

void
old_files_remove(const char *blob_dir, old_files_child_fn in_child, void *ctx)
{
	struct removal *grown;
	char *copy;
	pid_t pid;

	if (blob_dir == NULL || blob_dir[0] != '/' || stopping)
		return;
	grown = realloc(removals, (nremovals + 1) * sizeof(*grown));
	copy = strdup(blob_dir);
	if (grown != NULL)
		removals = grown;
	if (grown == NULL || copy == NULL) {
		free(copy);
		return; /* left for the next restore into it, or the next start */
	}
	/*
	 * The trees a removal running already holds are its own; a new child takes the others
	 * (those of the job just ended): never two removals on one tree, none left unheld.
	 */
	pid = removal_start(blob_dir, in_child, ctx);
	if (pid == 0) {
		free(copy);
		return;
	}
	removals[nremovals].pid = pid;
	removals[nremovals].blob_dir = copy;
	removals[nremovals].stopped = false;
	nremovals++;
}

bool
old_files_reaped(pid_t pid, int st)
{
	for (size_t i = 0; i < nremovals; i++) {
		if (removals[i].pid != pid)
			continue;
		if (WIFSIGNALED(st) && !stopping)
			log_line(
			    LOG_PRIORITY_WARNING, NULL,
			    "the removal of the old files beside %s was killed (signal %d); "
			    "what is left of them is removed after the next restore into it, or "
			    "at the next start",
			    removals[i].blob_dir, WTERMSIG(st));
		free(removals[i].blob_dir);
		memmove(&removals[i], &removals[i + 1], (nremovals - i - 1) * sizeof(removals[0]));
		nremovals--;
		return true;
	}
	return false;
}

size_t
old_files_running(void)
{
	return nremovals;
}

void
old_files_stop(bool now)
{
	stopping = true;
	for (size_t i = 0; i < nremovals && now; i++)
		if (!removals[i].stopped) {
			(void)kill(removals[i].pid, SIGTERM);
			removals[i].stopped = true;
		}
}

/* stderr_kept: is stderr where a line written after restore returned is still read? */
static bool
stderr_kept(void)
{
	struct stat st;

	if (log_to_journal())
		return true;
	/* A pipe or socket: its reader may wait for its end, which would be the removal's. */
	return fstat(STDERR_FILENO, &st) == 0 && (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode));
}

/* detach_stdio: stdin and stdout (and stderr unless kept) to /dev/null. */
static void
detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return;
	(void)dup2(null, STDIN_FILENO);
	(void)dup2(null, STDOUT_FILENO);
	if (!stderr_kept())
		(void)dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		(void)close(null);
}

void
old_files_detach(const char *blob_dir)
{
	struct store *s;
	struct store_old *old;
	pid_t pid;
	int st;

	if (!take(blob_dir, &s, &old))
		return;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* A session of its own: a terminal's hangup or ^C does not reach it. */
		(void)setsid();
		if (fork() != 0)
			_exit(0); /* the grandchild is nobody's child: init reaps it */
		signals_default();
		detach_stdio();
		remove_and_exit(s, old);
	}
	if (pid < 0)
		log_line(
		    LOG_PRIORITY_WARNING, NULL,
		    "cannot start the removal of the old files beside %s: %s; they are removed "
		    "after the next restore into it",
		    blob_dir, strerror(errno));
	else
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	store_old_close(old);
	store_close(s);
}
