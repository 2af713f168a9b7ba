/*
 * test_pg_client.c - which pg_restore and pg_dump a job picks (pg_client.h): the search of
 * <dir>/<major>/bin folders and PATH, their order, one file found twice counted once,
 * Debian's pg_wrapper and programs that do not say their version passed over, a pin, the
 * folder of a pinned pg_restore looked in first for pg_dump, and the choice for a dump's
 * archive version and for a server.
 *
 * The 15 programs are Debian's real ones (the test is skipped without them); the other
 * majors are small scripts that answer --version as those majors do, since a folder tree of
 * real clients of every major is what the integration tests (client_matrix.sh) have.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg_client.h"

#define REAL_PG_RESTORE "/usr/lib/postgresql/15/bin/pg_restore"

static int passed, failed;
static char root[256];

/* check: count a result, saying what failed. */
static void
check(int ok, const char *what)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("not ok - %s\n", what);
	}
}

/* path_of: root/rel into buf. */
static const char *
path_of(char *buf, size_t len, const char *rel)
{
	if ((size_t)snprintf(buf, len, "%s/%s", root, rel) >= len) {
		printf("not ok - %s/%s is too long\n", root, rel);
		exit(1);
	}
	return buf;
}

/* make_dirs: mkdir -p of root/rel's folder. */
static void
make_dirs(const char *rel)
{
	char path[PATH_MAX];

	path_of(path, sizeof(path), rel);
	for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			perror(path);
		*p = '/';
	}
}

/* script: root/rel, a program that prints line for --version and exits with status. */
static void
script(const char *rel, const char *line, int status)
{
	char path[PATH_MAX];
	FILE *f;

	make_dirs(rel);
	f = fopen(path_of(path, sizeof(path), rel), "w");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(f, "#!/bin/sh\necho '%s'\nexit %d\n", line, status);
	if (fclose(f) != 0 || chmod(path, 0755) < 0) {
		perror(path);
		exit(1);
	}
}

/* link_to: root/rel, a symbolic link to target. */
static void
link_to(const char *rel, const char *target)
{
	char path[PATH_MAX];

	make_dirs(rel);
	if (symlink(target, path_of(path, sizeof(path), rel)) < 0) {
		perror(path);
		exit(1);
	}
}

/* remove_entry: nftw's callback that removes what it is given. */
static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ends_with: whether s ends with tail. */
static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

int
main(void)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], path_env[PATH_MAX], err[512], buf[2048];
	char wrapper[PATH_MAX], beside[PATH_MAX];
	const char *dirs[4], *no_dirs[] = {NULL};
	const struct pg_client *pick;
	struct pg_client_set set;
	int rc;

	if (access(REAL_PG_RESTORE, X_OK) < 0) {
		printf("ok - # SKIP %s is not installed\n", REAL_PG_RESTORE);
		return 77;
	}
	snprintf(root, sizeof(root), "%s/test_pg_client.XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror(root);
		return 1;
	}
	link_to("a/15/bin/pg_restore", REAL_PG_RESTORE);
	script("a/9.6/bin/pg_restore", "pg_restore (PostgreSQL) 9.6.24", 0);
	link_to("b/15/bin/pg_restore", REAL_PG_RESTORE); /* the same file again */
	script("b/17/bin/pg_restore", "pg_restore (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)", 0);
	script("c/16/bin/pg_restore", "pg_restore: cannot run", 1);          /* passed over */
	script("c/notes/bin/pg_restore", "pg_restore (PostgreSQL) 99.0", 0); /* not a major */
	script("wrap/pg_wrapper", "pg_restore (PostgreSQL) 15.99", 0);
	link_to("path/pg_restore", path_of(wrapper, sizeof(wrapper), "wrap/pg_wrapper"));
	script("path2/pg_restore", "pg_restore (PostgreSQL) 18.6", 0);
	script("x/pg_dump", "pg_dump (PostgreSQL) 16.3", 0);
	script("x/pg_restore", "pg_restore (PostgreSQL) 16.3", 0);

	dirs[0] = path_of(a, sizeof(a), "a");
	dirs[1] = path_of(b, sizeof(b), "b");
	dirs[2] = path_of(c, sizeof(c), "c");
	dirs[3] = NULL;
	if ((size_t)snprintf(path_env, sizeof(path_env), "%s/path::relative:%s/path2", root,
	                     root) >= sizeof(path_env))
		return 1;
	setenv("PATH", path_env, 1);

	/* The search: folders in order, then PATH; sorted by major, the first of equals kept. */
	rc = pg_client_find(&set, "pg_restore", NULL, NULL, dirs, err, sizeof(err));
	check(rc == 0, "pg_client_find succeeds");
	check(set.n == 4, "four pg_restore found (9.6, 15 once, 17, 18 from PATH)");
	if (set.n == 4) {
		check(set.v[0].major == 9 && strcmp(set.v[0].version, "9.6.24") == 0 &&
		          set.v[0].archive_minor == 12,
		      "9.6 first, reading up to 1.12");
		check(set.v[1].major == 15 && ends_with(set.v[1].path, "/a/15/bin/pg_restore") &&
		          set.v[1].archive_minor == 14,
		      "15 from the first folder, reading up to 1.14");
		check(set.v[2].major == 17 && strcmp(set.v[2].version, "17.12") == 0 &&
		          set.v[2].archive_minor == 16,
		      "17, its version without the distribution's suffix");
		check(set.v[3].major == 18 && ends_with(set.v[3].path, "/path2/pg_restore"),
		      "18 from PATH; the pg_wrapper on PATH passed over");
	}
	pick = pg_client_reader(&set, 14);
	check(pick != NULL && pick->major == 15, "a 1.14 dump: the oldest that reads it, 15");
	pick = pg_client_reader(&set, 15);
	check(pick != NULL && pick->major == 17, "a 1.15 dump: 17 (no 16 that runs)");
	pick = pg_client_reader(&set, 17);
	check(pick == NULL, "a 1.17 dump: none");
	pick = pg_client_for_server(&set, 16);
	check(pick != NULL && pick->major == 17, "a 16 server: the oldest of 16 or later, 17");
	pick = pg_client_for_server(&set, 12);
	check(pick != NULL && pick->major == 15, "a 12 server: 15");
	pick = pg_client_for_server(&set, 19);
	check(pick == NULL, "a 19 server: none");
	pick = pg_client_newest(&set);
	check(pick != NULL && pick->major == 18, "the newest: 18");
	pg_client_describe(&set, buf, sizeof(buf));
	check(strncmp(buf, "pg_restore 9.6.24 (", 19) == 0 && strstr(buf, ", 18.6 (") != NULL,
	      "describe lists them");
	pg_client_advice(&set, 19, buf, sizeof(buf));
	check(strstr(buf, "install postgresql-client-19") != NULL &&
	          strstr(buf, "pg_client_dirs:") != NULL,
	      "advice names the package and the key");
	pg_client_set_free(&set);

	/* A pin: that one only, and an error when it does not run. */
	rc = pg_client_find(&set, "pg_restore", path_of(buf, sizeof(buf), "b/17/bin/pg_restore"),
	                    NULL, dirs, err, sizeof(err));
	check(rc == 0 && set.n == 1 && set.pinned && set.v[0].major == 17, "a pin is the only one");
	pg_client_advice(&set, 18, buf, sizeof(buf));
	check(strstr(buf, "set pg_restore: to the pg_restore of PostgreSQL 18 or later") != NULL,
	      "a pin's advice names the key");
	pg_client_set_free(&set);
	rc = pg_client_find(&set, "pg_restore", path_of(buf, sizeof(buf), "c/16/bin/pg_restore"),
	                    NULL, dirs, err, sizeof(err));
	check(rc == -1 && strstr(err, "set pg_restore: to a working pg_restore") != NULL,
	      "a pin that does not run is an error saying so");
	pg_client_set_free(&set);

	/* pg_dump: beside a pinned pg_restore first; nothing found is no error. */
	rc = pg_client_find(&set, "pg_dump", NULL, path_of(beside, sizeof(beside), "x/pg_restore"),
	                    no_dirs, err, sizeof(err));
	check(rc == 0 && set.n == 1 && set.v[0].major == 16, "pg_dump beside pg_restore");
	pg_client_set_free(&set);
	rc = pg_client_find(&set, "pg_dump", NULL, NULL, no_dirs, err, sizeof(err));
	check(rc == 0 && set.n == 0, "no pg_dump anywhere: an empty set");
	pg_client_describe(&set, buf, sizeof(buf));
	check(strncmp(buf, "no pg_dump in ", 14) == 0 && strstr(buf, "PATH") != NULL,
	      "describe says where it looked");
	pg_client_set_free(&set);

	printf("%d passed, %d failed\n", passed, failed);
	if (failed == 0 && nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		printf("# could not remove %s\n", root);
	return failed == 0 ? 0 : 1;
}
