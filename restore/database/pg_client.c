/*
 * pg_client.c - find the pg_restore and pg_dump programs installed, and pick one per job (see
 * pg_client.h).
 *
 * Each candidate is asked its --version ("pg_restore (PostgreSQL) 17.12 (Debian ...)"); its
 * major says which archive versions it handles: pg_dump 12 to 15 write 1.14, 16 writes 1.15,
 * 17 and 18 write 1.16, and a pg_restore reads what its own pg_dump writes and older. A
 * pg_dump refuses a server newer than itself, and pg_restore's output is the SQL its dump
 * holds, so the oldest program that does the job is taken: it writes the oldest archive a
 * server allows (the one most targets accept) and emits the least SQL an older server lacks.
 *
 * The search is made for each job (a handful of fork and exec, a few milliseconds): a client
 * installed while the worker runs is used at once. Debian's /usr/bin/pg_dump is pg_wrapper,
 * which runs the client of the host's default cluster out of /usr/lib/postgresql/<major>/bin:
 * those are looked at one by one instead. Two candidates that are one file (a symbolic
 * link on PATH) count once.
 */
#include "pg_client.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "spawn.h"

int
pg_client_archive_minor(int major)
{
	if (major >= 17)
		return 16;
	if (major == 16)
		return 15;
	if (major >= 12)
		return 14;
	if (major >= 10)
		return 13;
	return 12;
}

/* client_version: the version and major of program from its --version; 0, or -1 with err. */
static int
client_version(const char *program, struct pg_client *c, char *err, size_t errlen)
{
	char *argv[] = {(char *)program, "--version", NULL};
	char out[256];
	const char *p;
	size_t n;

	if (spawn_read_all(argv, out, sizeof(out), err, errlen) < 0)
		return -1;
	/* "pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)" */
	p = strstr(out, ") ");
	if (p == NULL || sscanf(p + 2, "%d", &c->major) != 1 || c->major < 7) {
		(void)io_error(err, errlen, "cannot tell the version of %s from '%.*s'", program,
		               (int)strcspn(out, "\n"), out);
		return -1;
	}
	p += 2;
	n = strcspn(p, " \n");
	snprintf(c->version, sizeof(c->version), "%.*s", (int)n, p);
	c->archive_minor = pg_client_archive_minor(c->major);
	return 0;
}

/* same_file: whether a and b are one file. */
static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* is_pg_wrapper: whether path is Debian's pg_wrapper (by the name it resolves to). */
static bool
is_pg_wrapper(const char *path)
{
	char real[PATH_MAX];
	const char *base;

	if (realpath(path, real) == NULL)
		return false;
	base = strrchr(real, '/');
	return base != NULL && strcmp(base + 1, "pg_wrapper") == 0;
}

/*
 * add: path as a candidate of set, kept in order of major (stable); one that is not an
 * executable file, is already there, or does not say its version is passed over. 0, or -1
 * out of memory.
 */
static int
add(struct pg_client_set *set, const char *path)
{
	struct pg_client c = {0}, *grown;
	char ignored[256];
	struct stat st;
	size_t at;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return 0;
	for (size_t i = 0; i < set->n; i++)
		if (same_file(set->v[i].path, path))
			return 0;
	if (is_pg_wrapper(path) || client_version(path, &c, ignored, sizeof(ignored)) < 0)
		return 0;
	grown = realloc(set->v, (set->n + 1) * sizeof(*set->v));
	if (grown == NULL)
		return -1;
	set->v = grown;
	if ((c.path = strdup(path)) == NULL)
		return -1;
	for (at = set->n; at > 0 && set->v[at - 1].major > c.major; at--)
		set->v[at] = set->v[at - 1];
	set->v[at] = c;
	set->n++;
	return 0;
}

/* add_dir: every <dir>/<major>/bin/<tool>, in the order of the majors. */
static int
add_dir(struct pg_client_set *set, const char *dir)
{
	struct dirent **names = NULL;
	char path[PATH_MAX];
	int n, rc = 0;

	n = scandir(dir, &names, NULL, versionsort);
	if (n < 0)
		return 0; /* not there: nothing in it */
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (rc == 0 && name[0] >= '1' && name[0] <= '9' &&
		    strspn(name, "0123456789.") == strlen(name) &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s/bin/%s", dir, name, set->tool) <
		        sizeof(path))
			rc = add(set, path);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* add_path: every <element>/<tool> of PATH. */
static int
add_path(struct pg_client_set *set)
{
	const char *path = getenv("PATH"), *p;
	char candidate[PATH_MAX];

	if (path == NULL)
		path = "/usr/bin:/bin";
	for (p = path; *p != '\0';) {
		size_t n = strcspn(p, ":");

		/* An empty element is the current folder: never a place to run programs from. */
		if (n > 0 && p[0] == '/' &&
		    (size_t)snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)n, p,
		                     set->tool) < sizeof(candidate) &&
		    add(set, candidate) < 0)
			return -1;
		p += n;
		if (*p == ':')
			p++;
	}
	return 0;
}

/* looked_in: set->looked_in from beside and dirs. */
static void
looked_in(struct pg_client_set *set, const char *beside, const char *const *dirs)
{
	size_t len = 0, size = sizeof(set->looked_in);

	set->looked_in[0] = '\0';
	if (beside != NULL && strrchr(beside, '/') != NULL)
		len += (size_t)snprintf(set->looked_in, size, "%.*s, ",
		                        (int)(strrchr(beside, '/') - beside), beside);
	for (size_t i = 0; dirs[i] != NULL && len < size; i++)
		len +=
		    (size_t)snprintf(set->looked_in + len, size - len, "%s/<major>/bin, ", dirs[i]);
	if (len < size)
		snprintf(set->looked_in + len, size - len, "PATH");
}

int
pg_client_find(struct pg_client_set *set, const char *tool, const char *pinned, const char *beside,
               const char *const *dirs, char *err, size_t errlen)
{
	static const char *const default_dirs[] = {PG_CLIENT_DEFAULT_DIR, NULL};
	char sibling[PATH_MAX];
	const char *slash;

	memset(set, 0, sizeof(*set));
	snprintf(set->tool, sizeof(set->tool), "%s", tool);
	if (dirs == NULL)
		dirs = default_dirs;
	if (pinned != NULL) {
		set->pinned = true;
		snprintf(set->looked_in, sizeof(set->looked_in), "%s (%s: in the configuration)",
		         pinned, tool);
		set->v = calloc(1, sizeof(*set->v));
		if (set->v == NULL || (set->v[0].path = strdup(pinned)) == NULL)
			return io_error(err, errlen, "out of memory");
		if (client_version(pinned, &set->v[0], err, errlen) < 0) {
			size_t have = strlen(err);

			snprintf(err + have, errlen - have, "; set %s: to a working %s", tool,
			         tool);
			return -1;
		}
		set->n = 1;
		return 0;
	}
	looked_in(set, beside, dirs);
	slash = beside != NULL ? strrchr(beside, '/') : NULL;
	if (slash != NULL &&
	    (size_t)snprintf(sibling, sizeof(sibling), "%.*s/%s", (int)(slash - beside), beside,
	                     tool) < sizeof(sibling) &&
	    add(set, sibling) < 0)
		return io_error(err, errlen, "out of memory");
	for (size_t i = 0; dirs[i] != NULL; i++)
		if (add_dir(set, dirs[i]) < 0)
			return io_error(err, errlen, "out of memory");
	if (add_path(set) < 0)
		return io_error(err, errlen, "out of memory");
	return 0;
}

void
pg_client_set_free(struct pg_client_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i].path);
	if (set->v != NULL && set->n == 0 && set->pinned)
		free(set->v[0].path); /* a pinned one that did not run */
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

const struct pg_client *
pg_client_reader(const struct pg_client_set *set, int minor)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].archive_minor >= minor)
			return &set->v[i];
	return NULL;
}

const struct pg_client *
pg_client_for_server(const struct pg_client_set *set, int server_major)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].major >= server_major)
			return &set->v[i];
	return NULL;
}

const struct pg_client *
pg_client_newest(const struct pg_client_set *set)
{
	return set->n > 0 ? &set->v[set->n - 1] : NULL;
}

void
pg_client_describe(const struct pg_client_set *set, char *buf, size_t len)
{
	size_t have;

	if (set->n == 0) {
		snprintf(buf, len, "no %s in %s", set->tool, set->looked_in);
		return;
	}
	have = (size_t)snprintf(buf, len, "%s", set->tool);
	for (size_t i = 0; i < set->n && have < len; i++)
		have += (size_t)snprintf(buf + have, len - have, "%s %s (%s)", i > 0 ? "," : "",
		                         set->v[i].version, set->v[i].path);
}

void
pg_client_advice(const struct pg_client_set *set, int major, char *buf, size_t len)
{
	if (set->pinned)
		snprintf(buf, len,
		         "set %s: to the %s of PostgreSQL %d or later (the package "
		         "postgresql-client-%d or newer), or remove it to let restore-worker pick "
		         "one",
		         set->tool, set->tool, major, major);
	else
		snprintf(
		    buf, len,
		    "install postgresql-client-%d (or newer), or name a folder holding it with "
		    "pg_client_dirs: (looked in %s)",
		    major, set->looked_in);
}
