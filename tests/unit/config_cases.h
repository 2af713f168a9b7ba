/*
 * config_cases.h - what the configuration's unit tests share (test_config.c,
 * test_config_refusals.c, test_config_store.c): a fresh folder for config.yaml, writing it, and
 * the two kinds of case, a configuration that must be refused with a given one-line error and
 * one that must load. Failures are counted with check.h's CHECK.
 */
#ifndef UNIT_CONFIG_CASES_H
#define UNIT_CONFIG_CASES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"

/* A configuration that must be refused. */
struct bad_case {
	const char *name;
	const char *yaml;
	const char *expect; /* must appear in the error */
	const char *forbid; /* must not appear in the error, or NULL */
};

/* config_case_dir: make a fresh folder <TMPDIR>/<name>.XXXXXX into dir, path its config.yaml. */
static inline int
config_case_dir(const char *name, char *dir, size_t dirlen, char *path, size_t pathlen)
{
	const char *tmp = getenv("TMPDIR");
	int n =
	    snprintf(dir, dirlen, "%s/%s.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp", name);

	if (n < 0 || (size_t)n >= dirlen || mkdtemp(dir) == NULL) {
		printf("FAIL mkdtemp %s: %s\n0 passed, 1 failed\n", dir, strerror(errno));
		return -1;
	}
	snprintf(path, pathlen, "%s/config.yaml", dir);
	return 0;
}

/* write_file: replace path with text; 0, or -1 (counted as a failure). */
static inline int
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	size_t len = strlen(text);
	int ok;

	CHECK(fp != NULL, "cannot create %s: %s", path, strerror(errno));
	if (fp == NULL)
		return -1;
	ok = fwrite(text, 1, len, fp) == len;
	ok = (fclose(fp) == 0) && ok;
	CHECK(ok, "cannot write %s", path);
	return ok ? 0 : -1;
}

/* check_bad: a config that must be refused with one line holding expect and not forbid. */
static inline void
check_bad(const char *path, const struct bad_case *c)
{
	struct config *config = (struct config *)&config; /* not NULL, to see it reset */
	char err[1024];

	if (write_file(path, c->yaml) != 0)
		return;
	if (config_load(path, &config, err, sizeof(err)) == 0) {
		CHECK(0, "%s: accepted", c->name);
		config_free(config);
		return;
	}
	CHECK(config == NULL, "%s: refused, but *out is not NULL", c->name);
	CHECK(strstr(err, c->expect) != NULL, "%s: error \"%s\" lacks \"%s\"", c->name, err,
	      c->expect);
	CHECK(strncmp(err, path, strlen(path)) == 0 && strchr(err, '\n') == NULL,
	      "%s: error \"%s\" does not start with the file's path on one line", c->name, err);
	if (c->forbid != NULL)
		CHECK(strstr(err, c->forbid) == NULL, "%s: error \"%s\" shows \"%s\"", c->name, err,
		      c->forbid);
}

/* load_good: a config that must load; NULL (counted) if it does not. */
static inline struct config *
load_good(const char *path, const char *name, const char *yaml)
{
	struct config *config = NULL;
	char err[1024];

	if (write_file(path, yaml) != 0)
		return NULL;
	if (config_load(path, &config, err, sizeof(err)) != 0) {
		CHECK(0, "%s: refused: %s", name, err);
		return NULL;
	}
	CHECK(config != NULL, "%s: accepted, but *out is NULL", name);
	return config;
}

#endif
