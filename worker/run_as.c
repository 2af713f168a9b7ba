/*
 * run_as.c - part of a command run by root done as the worker's user instead: the owner of
 * spool_dir, the user the service runs as (run_as.h).
 *
 * An operator runs `check` and `submit` as root, but the worker reads archives, logs in to
 * databases and writes beside blob_dir (or reads its bucket's credentials) as its own user. What
 * root can do proves nothing about what that user can, so those commands do their judging in a
 * child process that has become that user (its groups from the user database, as the service gets
 * them from User=) and report what it found. The child also takes the environment systemd gives a
 * unit's User= (HOME, USER, LOGNAME, PATH, LANG), not root's. Nothing changes when the caller is
 * not root, the spool's owner is root, or there is no spool: the caller is then the worker's user
 * as far as we can tell.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_as.h"

/*
 * become: drop every privilege for pw's user and groups, and root's environment for the one
 * systemd gives a unit's User= (root's PGPASSWORD, PGPORT, PATH... would make the answers
 * root's); 0, or -1 with errno.
 */
static int
become(const struct passwd *pw)
{
	const char *lang = getenv("LANG");
	char *lang_copy = lang != NULL ? strdup(lang) : NULL;
	int rc = -1;

	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		goto done;
	if (setuid(0) == 0) { /* a privilege left over would make every answer a lie */
		errno = EPERM;
		goto done;
	}
	/* What root's shell left open must not reach the programs the checks run. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* libpq finds ~/.pgpass and ~/.pg_service.conf through HOME. */
	if (clearenv() != 0 || setenv("HOME", pw->pw_dir, 1) < 0 ||
	    setenv("USER", pw->pw_name, 1) < 0 || setenv("LOGNAME", pw->pw_name, 1) < 0 ||
	    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1) < 0 ||
	    (lang_copy != NULL && setenv("LANG", lang_copy, 1) < 0))
		goto done;
	rc = 0;
done:
	free(lang_copy);
	return rc;
}

int
run_as_spool_owner(const char *spool_dir, int (*fn)(void *arg), void *arg, int *status, char *who,
                   size_t wholen, char *err, size_t errlen)
{
	struct passwd *pw;
	struct stat st;
	pid_t pid;
	int ws;

	who[0] = '\0';
	if (geteuid() != 0 || spool_dir == NULL || stat(spool_dir, &st) < 0 || st.st_uid == 0)
		return 0;
	errno = 0;
	pw = getpwuid(st.st_uid);
	if (pw == NULL) {
		snprintf(err, errlen,
		         "spool_dir %s belongs to uid %u, which has no entry in the user database",
		         spool_dir, (unsigned)st.st_uid);
		return -1;
	}
	snprintf(who, wholen, "%s", pw->pw_name);
	(void)fflush(NULL); /* the child must not write the parent's buffered output again */
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot start a process as user %s: %s", who,
		         strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int rc;

		if (become(pw) < 0) {
			fprintf(stderr, "restore-worker: cannot become user %s: %s\n", pw->pw_name,
			        strerror(errno));
			_exit(RUN_AS_CANNOT);
		}
		rc = fn(arg);
		(void)fflush(NULL);
		_exit(rc);
	}
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "cannot wait for the process as user %s: %s", who,
			         strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) == RUN_AS_CANNOT) {
		snprintf(err, errlen, "the process as user %s %s", who,
		         WIFEXITED(ws) ? "could not take that user's identity"
		                       : "was killed by a signal");
		return -1;
	}
	*status = WEXITSTATUS(ws);
	return 1;
}
