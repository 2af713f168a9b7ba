/*
 * test_config.c - config_load() and config_conninfo_redact().
 *
 * Each case writes a config.yaml into a fresh mkdtemp() folder and loads it. Bad configs are a
 * table of scenarios, each with the text its one-line error must contain (file name, line, key
 * path); good configs check every field and every default. The redaction cases check that no
 * password survives, in key=value strings and in URIs, and that the other settings are kept.
 *
 * Prints one line per failure and a final "N passed, M failed"; exits 1 if any failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* A complete and valid targets block, five lines long. */
#define TARGET                                                                                     \
	"targets:\n"                                                                               \
	"  acceptance:\n"                                                                          \
	"    database: dbname=app\n"                                                               \
	"    blob_dir: /srv/files\n"                                                               \
	"    plan_quota: 10GB\n"

struct bad_case {
	const char *name;
	const char *yaml;
	const char *expect; /* must appear in the error */
	const char *forbid; /* must not appear in the error, or NULL */
};

static const struct bad_case bad_cases[] = {
    {"unknown top-level key", "spool_dri: /var/spool/rw\nwork_dir: /w\n" TARGET,
     "config.yaml:1: unknown key 'spool_dri' (expected spool_dir, work_dir", NULL},
    {"unknown key on line 2", "work_dir: /w\nspool_dri: /s\n" TARGET,
     "config.yaml:2: unknown key 'spool_dri'", NULL},
    {"missing work_dir", "spool_dir: /s\n" TARGET, "config.yaml: missing required key 'work_dir'",
     NULL},
    {"missing targets", "work_dir: /w\n", "config.yaml: missing required key 'targets'", NULL},
    {"size with a space",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: 10 GB\n",
     "config.yaml:6: targets.acceptance.plan_quota: '10 GB' is not a size (use e.g. 10GB or "
     "512MiB)",
     NULL},
    {"size with an unknown unit",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: 10KB\n",
     "config.yaml:6: targets.acceptance.plan_quota: '10KB' is not a size", NULL},
    {"zero quota",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: 0\n",
     "config.yaml:6: targets.acceptance.plan_quota: must be more than 0", NULL},
    {"quota as a mapping",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: {size: 10GB}\n",
     "config.yaml:6: targets.acceptance.plan_quota: expected a string, found a mapping", NULL},
    {"bad restore_overhead", "work_dir: /w\n" TARGET "    restore_overhead: -1GB\n",
     "config.yaml:7: targets.acceptance.restore_overhead: '-1GB' is not a size", NULL},
    {"missing database",
     "work_dir: /w\ntargets:\n  acceptance:\n    blob_dir: /srv/files\n    plan_quota: 10GB\n",
     "config.yaml:3: targets.acceptance: missing required key 'database'", NULL},
    {"missing blob_dir",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    plan_quota: 10GB\n",
     "config.yaml:3: targets.acceptance: missing required key 'blob_dir'", NULL},
    {"missing plan_quota",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: /b\n",
     "config.yaml:3: targets.acceptance: missing required key 'plan_quota'", NULL},
    {"unknown target key", "work_dir: /w\n" TARGET "    blob_dri: /x\n",
     "config.yaml:7: targets.acceptance: unknown key 'blob_dri' (expected database", NULL},
    {"bad indentation",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n"
     "   blob_dir: /b\n",
     "config.yaml:5: malformed YAML: ", NULL},
    {"unclosed quote", "work_dir: \"/w\n" TARGET, "malformed YAML: ", NULL},
    {"tab indentation", "work_dir: /w\ntargets:\n\tacceptance: {}\n",
     "config.yaml:3: malformed YAML: ", NULL},
    {"not UTF-8", "work_dir: /w\xff\n" TARGET,
     "config.yaml: malformed YAML: invalid leading UTF-8 octet at byte 12", NULL},
    {"a control character", "work_dir: /w\x01\n" TARGET,
     "config.yaml: malformed YAML: control characters are not allowed at byte 12", NULL},
    {"undefined alias", "work_dir: *nowhere\n" TARGET, "config.yaml:1: malformed YAML: ", NULL},
    {"work_dir as a mapping", "work_dir:\n  path: /w\n" TARGET,
     "config.yaml:2: work_dir: expected a string, found a mapping", NULL},
    {"work_dir as a sequence", "work_dir: [/a, /b]\n" TARGET,
     "config.yaml:1: work_dir: expected a string, found a sequence", NULL},
    {"targets as a string", "work_dir: /w\ntargets: acceptance\n",
     "config.yaml:2: targets: expected a mapping of target names to their settings, found a "
     "string",
     NULL},
    {"targets as a sequence", "work_dir: /w\ntargets:\n  - acceptance\n",
     "config.yaml:3: targets: expected a mapping of target names to their settings, found a "
     "sequence",
     NULL},
    {"targets empty", "work_dir: /w\ntargets:\n", "targets: expected a mapping", NULL},
    {"relative spool_dir", "work_dir: /w\nspool_dir: spool\n" TARGET,
     "config.yaml:2: spool_dir: 'spool' is not an absolute path", NULL},
    {"negative settle_seconds", "work_dir: /w\nsettle_seconds: -1\n" TARGET,
     "config.yaml:2: settle_seconds: '-1' is not a whole number from 0 to 86400", NULL},
    {"zero parallel jobs", "work_dir: /w\nmax_parallel_jobs: 0\n" TARGET,
     "config.yaml:2: max_parallel_jobs: '0' is not a whole number from 1 to 64", NULL},
    {"max_attempts as text", "work_dir: /w\nmax_attempts: three\n" TARGET,
     "config.yaml:2: max_attempts: 'three' is not a whole number", NULL},
    {"rescan_seconds as a list", "work_dir: /w\nrescan_seconds: [1]\n" TARGET,
     "config.yaml:2: rescan_seconds: expected a whole number, found a sequence", NULL},
    {"targets with no target", "work_dir: /w\ntargets: {}\n",
     "config.yaml:2: targets: at least one target is required", NULL},
    {"target as a string", "work_dir: /w\ntargets:\n  acceptance: yes\n",
     "config.yaml:3: targets.acceptance: expected a mapping of settings", NULL},
    {"duplicate top-level key", "work_dir: /w\nspool_dir: /s\nwork_dir: /x\n" TARGET,
     "config.yaml:3: duplicate key 'work_dir' (first at line 1", NULL},
    {"duplicate target",
     "work_dir: /w\n" TARGET "  acceptance:\n    database: dbname=b\n    blob_dir: /b\n"
     "    plan_quota: 1GB\n",
     "config.yaml:7: targets: duplicate key 'acceptance' (first at line 3", NULL},
    {"duplicate target key", "work_dir: /w\n" TARGET "    plan_quota: 20GB\n",
     "config.yaml:7: targets.acceptance: duplicate key 'plan_quota' (first at line 6", NULL},
    {"empty file", "", "config.yaml: the file is empty", NULL},
    {"only comments", "# nothing here\n", "config.yaml: the file is empty", NULL},
    {"a sequence document", "- work_dir\n- targets\n",
     "config.yaml:1: the file must be a mapping of keys", NULL},
    {"a scalar document", "\n\nhello\n", "config.yaml:3: the file must be a mapping of keys", NULL},
    {"a second document", "work_dir: /w\n" TARGET "---\nwork_dir: /x\n",
     "config.yaml:8: a second YAML document", NULL},
    {"a sequence as a key", "? [a, b]\n: c\n",
     "config.yaml:1: keys must be plain names, found a sequence", NULL},
    {"relative work_dir", "work_dir: 123\n" TARGET,
     "config.yaml:1: work_dir: '123' is not an absolute path (start it with /)", NULL},
    {"relative blob_dir",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: files\n"
     "    plan_quota: 10GB\n",
     "config.yaml:5: targets.acceptance.blob_dir: 'files' is not an absolute path", NULL},
    {"empty work_dir", "work_dir: \"\"\n" TARGET, "config.yaml:1: work_dir: must not be empty",
     NULL},
    {"empty pg_restore", "work_dir: /w\npg_restore: ''\n" TARGET,
     "config.yaml:2: pg_restore: must not be empty", NULL},
    {"empty spool_dir", "work_dir: /w\nspool_dir:\n" TARGET, "spool_dir: must not be empty", NULL},
    {"empty blob_dir",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: ''\n"
     "    plan_quota: 10GB\n",
     "config.yaml:5: targets.acceptance.blob_dir: must not be empty", NULL},
    {"empty database",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: ''\n    blob_dir: /b\n"
     "    plan_quota: 10GB\n",
     "config.yaml:4: targets.acceptance.database: must not be empty", NULL},
    {"database as a sequence",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: [dbname=app]\n    blob_dir: /b\n"
     "    plan_quota: 10GB\n",
     "config.yaml:4: targets.acceptance.database: expected a string, found a sequence", NULL},
    {"database not a connection string",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: password=s3cret junk\n"
     "    blob_dir: /b\n    plan_quota: 10GB\n",
     "config.yaml:4: targets.acceptance.database: not a valid libpq connection string", "s3cret"},
    {"database with an unknown option",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbnme=app\n"
     "    blob_dir: /b\n    plan_quota: 10GB\n",
     "config.yaml:4: targets.acceptance.database: not a valid libpq connection string", NULL},
    {"database URI with an unknown parameter",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: postgresql://u:s3cret@h/db?x=1\n"
     "    blob_dir: /b\n    plan_quota: 10GB\n",
     "config.yaml:4: targets.acceptance.database: not a valid libpq connection string", "s3cret"},
    {"a NUL in a path", "work_dir: \"/w\\0/x\"\n" TARGET,
     "config.yaml:1: work_dir: contains a NUL character", NULL},
    {"a newline in a value",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: \"10\\nGB\"\n",
     "config.yaml:6: targets.acceptance.plan_quota: '10?GB' is not a size", NULL},
    {"a long value is cut short",
     "work_dir: /w\ntargets:\n  acceptance:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: 1111111111222222222233333333334444444444555555555566666666667777777777\n",
     "'111111111122222222223333333333444444444455555555556666666666...' is not a size", "7777"},
    {"target name starting with a dot",
     "work_dir: /w\ntargets:\n  .hidden:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: 10GB\n",
     "config.yaml:3: targets: '.hidden' is not a valid target name (use up to 64 letters", NULL},
    {"target name with a space",
     "work_dir: /w\ntargets:\n  my app:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: 10GB\n",
     "config.yaml:3: targets: 'my app' is not a valid target name", NULL},
    {"target name with a slash",
     "work_dir: /w\ntargets:\n  ../etc:\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: 10GB\n",
     "config.yaml:3: targets: '../etc' is not a valid target name", NULL},
    {"target name empty",
     "work_dir: /w\ntargets:\n  \"\":\n    database: dbname=app\n    blob_dir: /b\n"
     "    plan_quota: 10GB\n",
     "config.yaml:3: targets: '' is not a valid target name", NULL},
    {"target name too long",
     "work_dir: /w\ntargets:\n"
     "  a1234567890123456789012345678901234567890123456789012345678901234:\n"
     "    database: dbname=app\n    blob_dir: /b\n    plan_quota: 10GB\n",
     "config.yaml:3: targets: 'a12345678901234567890123456789012345678901234567890123456789...' "
     "is not a valid target name",
     NULL},
    {"default_target not a target", "work_dir: /w\ndefault_target: production\n" TARGET,
     "config.yaml:2: default_target: 'production' is not one of the targets", NULL},
    {"default_target empty", "work_dir: /w\ndefault_target: ''\n" TARGET,
     "config.yaml:2: default_target: '' is not one of the targets", NULL},
    {"max_dump_version without a minor", "work_dir: /w\n" TARGET "    max_dump_version: 1\n",
     "config.yaml:7: targets.acceptance.max_dump_version: '1' is not a version (use MAJOR.MINOR, "
     "e.g. 1.14)",
     NULL},
    {"max_dump_version with a letter", "work_dir: /w\n" TARGET "    max_dump_version: 1.x\n",
     "config.yaml:7: targets.acceptance.max_dump_version: '1.x' is not a version", NULL},
    {"max_dump_version with three parts", "work_dir: /w\n" TARGET "    max_dump_version: 1.14.0\n",
     "config.yaml:7: targets.acceptance.max_dump_version: '1.14.0' is not a version", NULL},
    {"max_dump_version too large", "work_dir: /w\n" TARGET "    max_dump_version: 256.0\n",
     "config.yaml:7: targets.acceptance.max_dump_version: '256.0' is not a version", NULL},
    {"max_dump_version with a v", "work_dir: /w\n" TARGET "    max_dump_version: v1.14\n",
     "'v1.14' is not a version", NULL},
    {"max_dump_version with a sign", "work_dir: /w\n" TARGET "    max_dump_version: -1.14\n",
     "'-1.14' is not a version", NULL},
    {"max_dump_version with a space", "work_dir: /w\n" TARGET "    max_dump_version: 1. 14\n",
     "'1. 14' is not a version", NULL},
    {"max_dump_version empty", "work_dir: /w\n" TARGET "    max_dump_version: ''\n",
     "'' is not a version", NULL},
    {"a hook as a string",
     "work_dir: /w\n" TARGET "    before_restore: /usr/bin/systemctl stop app\n",
     "config.yaml:7: targets.acceptance.before_restore: expected a command as a list of its "
     "program's absolute path and its arguments",
     NULL},
    {"a hook's program relative", "work_dir: /w\n" TARGET "    before_restore: [systemctl, stop]\n",
     "config.yaml:7: targets.acceptance.before_restore[0]: 'systemctl' is not an absolute path",
     NULL},
    {"a hook's program empty", "work_dir: /w\n" TARGET "    after_restore: ['', start]\n",
     "config.yaml:7: targets.acceptance.after_restore[0]: must not be empty", NULL},
    {"a hook empty", "work_dir: /w\n" TARGET "    after_restore: []\n",
     "targets.acceptance.after_restore: expected a command as a list of its program's "
     "absolute path and its arguments (e.g. [/usr/bin/systemctl, stop, app]; never run through a "
     "shell), found an empty list",
     NULL},
    {"a hook's argument a mapping",
     "work_dir: /w\n" TARGET "    after_restore:\n      - /bin/true\n      - {a: 1}\n",
     "config.yaml:9: targets.acceptance.after_restore[1]: expected a string, found a mapping",
     NULL},
    {"a hook as a mapping", "work_dir: /w\n" TARGET "    after_restore: {run: /bin/true}\n",
     "config.yaml:7: targets.acceptance.after_restore: expected a command as a list", NULL},
    {"hook_timeout_seconds zero", "work_dir: /w\n" TARGET "    hook_timeout_seconds: 0\n",
     "config.yaml:7: targets.acceptance.hook_timeout_seconds: '0' is not a whole number from 1 to "
     "86400",
     NULL},
    {"hook_timeout_seconds over a day", "work_dir: /w\n" TARGET "    hook_timeout_seconds: 86401\n",
     "targets.acceptance.hook_timeout_seconds: '86401' is not a whole number from 1 to 86400",
     NULL},
    {"allow_restore not a boolean", "work_dir: /w\n" TARGET "    allow_restore: no\n",
     "config.yaml:7: targets.acceptance.allow_restore: 'no' is not true or false", NULL},
};

static unsigned passed, failed;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fail: count a failure and print its one line. */
static void
fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed++;
}

/* write_file: replace path with text; 0, or -1 (reported as a failure). */
static int
write_file(const char *path, const char *text)
{
	FILE *fp;
	size_t len = strlen(text);
	int rc = -1;

	if ((fp = fopen(path, "w")) == NULL) {
		fail("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (fwrite(text, 1, len, fp) != len)
		fail("cannot write %s: %s", path, strerror(errno));
	else
		rc = 0;
	if (fclose(fp) != 0) {
		fail("cannot close %s: %s", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* check_bad: a config that must be refused with an error containing expect. */
static void
check_bad(const char *path, const struct bad_case *c)
{
	struct config *config = (struct config *)&config; /* not NULL, to see it reset */
	char err[512];

	if (write_file(path, c->yaml) != 0)
		return;
	if (config_load(path, &config, err, sizeof(err)) == 0) {
		fail("%s: accepted", c->name);
		config_free(config);
	} else if (config != NULL) {
		fail("%s: refused, but *out is not NULL", c->name);
	} else if (strstr(err, c->expect) == NULL) {
		fail("%s: error \"%s\" lacks \"%s\"", c->name, err, c->expect);
	} else if (strncmp(err, path, strlen(path)) != 0) {
		fail("%s: error \"%s\" does not start with the file's path", c->name, err);
	} else if (strchr(err, '\n') != NULL) {
		fail("%s: error \"%s\" is more than one line", c->name, err);
	} else if (c->forbid != NULL && strstr(err, c->forbid) != NULL) {
		fail("%s: error \"%s\" shows \"%s\"", c->name, err, c->forbid);
	} else {
		passed++;
	}
}

/* load_good: a config that must load; NULL (reported) if it does not. */
static struct config *
load_good(const char *path, const char *name, const char *yaml)
{
	struct config *config = NULL;
	char err[512];

	if (write_file(path, yaml) != 0)
		return NULL;
	if (config_load(path, &config, err, sizeof(err)) != 0) {
		fail("%s: refused: %s", name, err);
		return NULL;
	}
	if (config == NULL)
		fail("%s: accepted, but *out is NULL", name);
	return config;
}

/* expect_str: compare a loaded string (NULL allowed) with what it should be. */
static void
expect_str(const char *what, const char *got, const char *want)
{
	if ((got == NULL) != (want == NULL) || (got != NULL && strcmp(got, want) != 0))
		fail("%s: \"%s\", expected \"%s\"", what, got != NULL ? got : "(null)",
		     want != NULL ? want : "(null)");
	else
		passed++;
}

/* expect_num: compare a loaded number with what it should be. */
static void
expect_num(const char *what, unsigned long long got, unsigned long long want)
{
	if (got != want)
		fail("%s: %llu, expected %llu", what, got, want);
	else
		passed++;
}

/* expect_hooks: t has test_good_full's hooks, and the engine's view of it says so. */
static void
expect_hooks(const char *what, const struct config_target *t)
{
	static const char *const before[] = {"/usr/bin/systemctl", "stop", "app acceptance", "",
	                                     NULL};
	struct restore_target rt;
	char name[128];
	size_t i;

	for (i = 0; t->before_restore != NULL && before[i] != NULL; i++) {
		snprintf(name, sizeof(name), "%s.before_restore[%zu]", what, i);
		expect_str(name, t->before_restore[i], before[i]);
	}
	if (t->before_restore == NULL || t->before_restore[i] != NULL)
		fail("%s.before_restore: not the 4 arguments written, NULL-terminated", what);
	else
		passed++;
	if (t->after_restore == NULL || t->after_restore[1] != NULL)
		fail("%s.after_restore: not the one argument written", what);
	else
		expect_str("after_restore[0]", t->after_restore[0], "/usr/lib/rw hooks/start");
	expect_num("hook_timeout_seconds", (unsigned)t->hook_timeout_seconds, 86400);
	expect_num("allow_restore", t->allow_restore, false);
	config_restore_target(t, &rt);
	if (rt.before_restore != (const char *const *)t->before_restore ||
	    rt.after_restore != (const char *const *)t->after_restore ||
	    rt.hook_timeout_s != 86400 || !rt.refuse_restores)
		fail("%s: config_restore_target lost the hooks or allow_restore", what);
	else
		passed++;
}

/* expect_no_hooks: t has no hooks, the default time limit, and takes restores. */
static void
expect_no_hooks(const char *what, const struct config_target *t)
{
	struct restore_target rt;

	config_restore_target(t, &rt);
	if (t->before_restore != NULL || t->after_restore != NULL ||
	    t->hook_timeout_seconds != CONFIG_DEFAULT_HOOK_TIMEOUT || !t->allow_restore ||
	    rt.before_restore != NULL || rt.after_restore != NULL || rt.refuse_restores)
		fail("%s: hooks, hook_timeout_seconds or allow_restore are not the defaults", what);
	else
		passed++;
}

/* test_good_full: every key given; every field as written. */
static void
test_good_full(const char *path)
{
	static const char yaml[] =
	    "# restore-worker\n"
	    "spool_dir: /var/spool/restore-worker\n"
	    "work_dir: /var/lib/restore-worker          # staging\n"
	    "pg_restore: /usr/lib/postgresql/15/bin/pg_restore\n"
	    "settle_seconds: 0\n"
	    "rescan_seconds: 5\n"
	    "retention_days: 7\n"
	    "max_parallel_jobs: 4\n"
	    "max_attempts: 10\n"
	    "default_target: test\n"
	    "targets:\n"
	    "  acceptance:\n"
	    "    database: \"host=/var/run/postgresql dbname=app_acceptance user=mendix\"\n"
	    "    blob_dir: /srv/app/acceptance/files\n"
	    "    plan_quota: 10GB\n"
	    "    restore_overhead: 512MiB\n"
	    "    max_dump_version: \"1.15\"\n"
	    "    before_restore: [/usr/bin/systemctl, stop, 'app acceptance', '']\n"
	    "    after_restore:\n"
	    "      - /usr/lib/rw hooks/start\n"
	    "    hook_timeout_seconds: 86400\n"
	    "    allow_restore: false\n"
	    "  test:\n"
	    "    database: postgresql://mendix@localhost/app_test\n"
	    "    blob_dir: '/srv/app/test files'\n"
	    "    plan_quota: 2.5GB\n"
	    "    max_dump_version: 1.10\n";
	struct config *config;
	const struct config_target *t;

	if ((config = load_good(path, "full config", yaml)) == NULL)
		return;
	expect_str("full: path", config->path, path);
	expect_str("full: spool_dir", config->spool_dir, "/var/spool/restore-worker");
	expect_num("full: settle_seconds", (unsigned)config->settle_seconds, 0);
	expect_num("full: rescan_seconds", (unsigned)config->rescan_seconds, 5);
	expect_num("full: retention_days", (unsigned)config->retention_days, 7);
	expect_num("full: max_parallel_jobs", (unsigned)config->max_parallel_jobs, 4);
	expect_num("full: max_attempts", (unsigned)config->max_attempts, 10);
	expect_str("full: work_dir", config->work_dir, "/var/lib/restore-worker");
	expect_str("full: pg_restore", config->pg_restore, "/usr/lib/postgresql/15/bin/pg_restore");
	expect_str("full: default_target", config->default_target, "test");
	expect_num("full: ntargets", config->ntargets, 2);
	if (config->ntargets == 2) {
		t = &config->targets[0];
		expect_str("full: targets[0].name", t->name, "acceptance");
		expect_str("full: acceptance.database", t->database,
		           "host=/var/run/postgresql dbname=app_acceptance user=mendix");
		expect_str("full: acceptance.blob_dir", t->blob_dir, "/srv/app/acceptance/files");
		expect_num("full: acceptance.plan_quota", t->plan_quota, 10737418240ULL);
		expect_num("full: acceptance.restore_overhead", t->restore_overhead, 536870912);
		expect_num("full: acceptance.max_dump_major", (unsigned)t->max_dump_major, 1);
		expect_num("full: acceptance.max_dump_minor", (unsigned)t->max_dump_minor, 15);
		expect_hooks("full: acceptance", t);
		t = &config->targets[1];
		expect_str("full: targets[1].name", t->name, "test");
		expect_str("full: test.database", t->database,
		           "postgresql://mendix@localhost/app_test");
		expect_str("full: test.blob_dir", t->blob_dir, "/srv/app/test files");
		expect_num("full: test.plan_quota", t->plan_quota, 2684354560ULL);
		expect_num("full: test.restore_overhead", t->restore_overhead,
		           CONFIG_DEFAULT_OVERHEAD);
		expect_num("full: test.max_dump_major", (unsigned)t->max_dump_major, 1);
		expect_num("full: test.max_dump_minor", (unsigned)t->max_dump_minor, 10);
		expect_no_hooks("full: test", t);
		if (config_target_find(config, "test") != &config->targets[1] ||
		    config_target_find(config, "acceptance") != &config->targets[0] ||
		    config_target_find(config, "tes") != NULL ||
		    config_target_find(config, "Test") != NULL ||
		    config_target_find(config, NULL) != NULL)
			fail("full: config_target_find");
		else
			passed++;
	}
	config_free(config);
}

/* test_good_minimal: only what is required; every default. */
static void
test_good_minimal(const char *path)
{
	struct config *config;
	const struct config_target *t;

	if ((config = load_good(path, "minimal config", "work_dir: /w\n" TARGET)) == NULL)
		return;
	expect_str("minimal: spool_dir", config->spool_dir, NULL);
	expect_str("minimal: work_dir", config->work_dir, "/w");
	expect_str("minimal: pg_restore", config->pg_restore, NULL);
	expect_str("minimal: default_target", config->default_target, NULL);
	expect_num("minimal: ntargets", config->ntargets, 1);
	expect_num("minimal: settle_seconds", (unsigned)config->settle_seconds, 2);
	expect_num("minimal: rescan_seconds", (unsigned)config->rescan_seconds, 30);
	expect_num("minimal: retention_days", (unsigned)config->retention_days, 30);
	expect_num("minimal: max_parallel_jobs", (unsigned)config->max_parallel_jobs, 1);
	expect_num("minimal: max_attempts", (unsigned)config->max_attempts, 3);
	if (config->ntargets == 1) {
		t = &config->targets[0];
		expect_str("minimal: name", t->name, "acceptance");
		expect_str("minimal: database", t->database, "dbname=app");
		expect_str("minimal: blob_dir", t->blob_dir, "/srv/files");
		expect_num("minimal: plan_quota", t->plan_quota, 10737418240ULL);
		expect_num("minimal: restore_overhead", t->restore_overhead, 2415919104ULL);
		expect_num("minimal: max_dump_major", (unsigned)t->max_dump_major, 1);
		expect_num("minimal: max_dump_minor", (unsigned)t->max_dump_minor, 14);
		expect_no_hooks("minimal", t);
	}
	config_free(config);
}

/* test_good_forms: flow style, document markers, aliases and unusual but valid names. */
static void
test_good_forms(const char *path)
{
	struct config *config;

	config = load_good(path, "flow style",
	                   "---\n{work_dir: /w, targets: {a: {database: 'dbname=x', blob_dir: /b,"
	                   " plan_quota: 1kB, max_dump_version: 1.14}}}\n...\n");
	if (config != NULL) {
		expect_num("flow: ntargets", config->ntargets, 1);
		expect_num("flow: plan_quota", config->targets[0].plan_quota, 1024);
		config_free(config);
	}
	config = load_good(path, "alias",
	                   "work_dir: /w\n"
	                   "default_target: app-1_test.v2\n"
	                   "targets:\n"
	                   "  acceptance: &same\n"
	                   "    database: dbname=app\n"
	                   "    blob_dir: /b\n"
	                   "    plan_quota: 1TiB\n"
	                   "  app-1_test.v2: *same\n");
	if (config != NULL) {
		expect_num("alias: ntargets", config->ntargets, 2);
		if (config->ntargets == 2) {
			expect_str("alias: name", config->targets[1].name, "app-1_test.v2");
			expect_num("alias: plan_quota", config->targets[1].plan_quota,
			           1099511627776ULL);
		}
		config_free(config);
	}
	config =
	    load_good(path, "plain scalars stay text", "work_dir: /123\npg_restore: yes\n" TARGET);
	if (config != NULL) {
		expect_str("plain: work_dir", config->work_dir, "/123");
		expect_str("plain: pg_restore", config->pg_restore, "yes");
		config_free(config);
	}
}

/* test_example: the config.yaml.example shipped at the top of the source tree loads. */
static void
test_example(void)
{
	const char *suffix = "tests/unit/test_config.c";
	size_t len = strlen(__FILE__), slen = strlen(suffix);
	char path[4096];
	struct config *config;
	char err[512];

	if (len < slen || strcmp(__FILE__ + len - slen, suffix) != 0) {
		fail("example: cannot find the source tree from %s", __FILE__);
		return;
	}
	snprintf(path, sizeof(path), "%.*sconfig.yaml.example", (int)(len - slen), __FILE__);
	if (config_load(path, &config, err, sizeof(err)) != 0) {
		fail("example: %s", err);
		return;
	}
	if (config->ntargets < 1 || config->work_dir == NULL)
		fail("example: no work_dir or no target");
	else
		passed++;
	config_free(config);
}

/* test_files: files that cannot be read, and a small or absent error buffer. */
static void
test_files(const char *dir, const char *path)
{
	struct config *config = (struct config *)&config;
	char missing[4096], err[512], small[8];

	snprintf(missing, sizeof(missing), "%s/absent.yaml", dir);
	if (config_load(missing, &config, err, sizeof(err)) == 0 || config != NULL)
		fail("missing file: accepted");
	else if (strstr(err, "absent.yaml: cannot open: No such file or directory") == NULL)
		fail("missing file: error \"%s\"", err);
	else
		passed++;

	if (config_load(dir, &config, err, sizeof(err)) == 0 || config != NULL)
		fail("directory: accepted");
	else if (strstr(err, ": cannot open: not a regular file") == NULL)
		fail("directory: error \"%s\"", err);
	else
		passed++;

	if (write_file(path, "work_dir: relative\n" TARGET) != 0)
		return;
	memset(small, 'X', sizeof(small));
	if (config_load(path, &config, small, sizeof(small)) == 0)
		fail("small buffer: accepted");
	else if (strlen(small) != sizeof(small) - 1)
		fail("small buffer: \"%s\" not cut at the buffer's end", small);
	else
		passed++;
	if (config_load(path, &config, NULL, 0) == 0 || config != NULL)
		fail("no buffer: accepted");
	else
		passed++;
	config_free(NULL);
}

struct redact_case {
	const char *conninfo;
	const char *secret;      /* must not appear in the output, or NULL */
	const char *exact;       /* the whole output, or NULL */
	const char *contains[4]; /* each must appear in the output */
};

static const struct redact_case redact_cases[] = {
    {"host=/var/run/postgresql dbname=app_acceptance user=mendix",
     NULL,
     NULL,
     {"host=/var/run/postgresql", "dbname=app_acceptance", "user=mendix"}},
    {"host=db user=app password=s3cret dbname=x",
     "s3cret",
     NULL,
     {"password=***", "host=db", "user=app", "dbname=x"}},
    {"password = s3cret host=db", "s3cret", NULL, {"password=***", "host=db"}},
    {"password='se cr\\'et' host=db", "cr", NULL, {"password=***", "host=db"}},
    {"sslpassword=k3ypass sslkey=/etc/k.pem host=db",
     "k3ypass",
     NULL,
     {"sslpassword=***", "sslkey=/etc/k.pem", "host=db"}},
    {"application_name='my app' password=s3cret port=5433",
     "s3cret",
     NULL,
     {"application_name='my app'", "port=5433", "password=***"}},
    {"options='-c x=a\\\\b' dbname=''", NULL, NULL, {"options='-c x=a\\\\b'", "dbname=''"}},
    {"host=db password=s3cret junk", "s3cret", "(invalid connection string, not shown)", {NULL}},
    {"", NULL, "", {NULL}},
    {"postgresql://app:s3cret@db:5432/x?sslmode=require",
     "s3cret",
     "postgresql://app:***@db:5432/x?sslmode=require",
     {NULL}},
    {"postgres://app:s3cret@db/x", "s3cret", "postgres://app:***@db/x", {NULL}},
    {"postgresql://app@db/x?password=s3cret&sslmode=require",
     "s3cret",
     "postgresql://app@db/x?password=***&sslmode=require",
     {NULL}},
    {"postgresql://db/x?sslmode=require&password=s3cret",
     "s3cret",
     "postgresql://db/x?sslmode=require&password=***",
     {NULL}},
    {"postgresql://db/x?%70assword=s3cret", "s3cret", "postgresql://db/x?%70assword=***", {NULL}},
    {"postgresql://db/x?sslpassword=s3cret", "s3cret", "postgresql://db/x?sslpassword=***", {NULL}},
    {"postgresql://app:p@ss@db/x", "ss@", "postgresql://app:***@db/x", {NULL}},
    {"postgresql://app:pa/ss@db/x", "ss", "postgresql://app:***@db/x", {NULL}},
    {"postgresql://app:s3cret@db/x?password=s3cret",
     "s3cret",
     "postgresql://app:***@db/x?password=***",
     {NULL}},
    {"postgresql://db:5432/x?user=me@corp&password=s3cret", "s3cret", NULL, {"postgresql://"}},
    {"postgresql:///x?host=/tmp", NULL, "postgresql:///x?host=/tmp", {NULL}},
    {"postgresql://", NULL, "postgresql://", {NULL}},
};

/* test_redact: passwords never come out; everything else does. */
static void
test_redact(void)
{
	size_t i, k, n = sizeof(redact_cases) / sizeof(redact_cases[0]);
	const struct redact_case *c;
	char out[512], small[12];
	int bad;

	for (i = 0; i < n; i++) {
		c = &redact_cases[i];
		memset(out, 'X', sizeof(out));
		config_conninfo_redact(c->conninfo, out, sizeof(out));
		bad = 0;
		if (memchr(out, '\0', sizeof(out)) == NULL) {
			fail("redact \"%s\": output not terminated", c->conninfo);
			continue;
		}
		if (c->secret != NULL && strstr(out, c->secret) != NULL)
			bad = 1;
		if (c->exact != NULL && strcmp(out, c->exact) != 0)
			bad = 1;
		for (k = 0; k < 4 && c->contains[k] != NULL; k++)
			if (strstr(out, c->contains[k]) == NULL)
				bad = 1;
		if (bad)
			fail("redact \"%s\": \"%s\"", c->conninfo, out);
		else
			passed++;
	}

	memset(small, 'X', sizeof(small));
	config_conninfo_redact("password=s3cret host=db", small, sizeof(small));
	if (memchr(small, '\0', sizeof(small)) == NULL || strstr(small, "s3") != NULL)
		fail("redact into a small buffer: \"%.*s\"", (int)sizeof(small), small);
	else
		passed++;
	memset(small, 'X', sizeof(small));
	config_conninfo_redact("postgresql://u:s3cret@h/d", small, 1);
	if (small[0] != '\0' || small[1] != 'X')
		fail("redact into a 1-byte buffer wrote more than the terminator");
	else
		passed++;
	config_conninfo_redact("password=s3cret", small, 0);
	if (small[0] != '\0' || small[1] != 'X')
		fail("redact into a 0-byte buffer wrote something");
	else
		passed++;
}

/* main: run every case in a fresh temporary folder; exit 0 only if all passed. */
int
main(void)
{
	char dir[2048], path[4096];
	const char *tmp = getenv("TMPDIR");
	size_t i;
	int n;

	n = snprintf(dir, sizeof(dir), "%s/test_config.XXXXXX",
	             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(dir) || mkdtemp(dir) == NULL) {
		printf("FAIL mkdtemp %s: %s\n0 passed, 1 failed\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/config.yaml", dir);

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_bad(path, &bad_cases[i]);
	test_good_full(path);
	test_good_minimal(path);
	test_good_forms(path);
	test_files(dir, path);
	test_example();
	test_redact();

	if (unlink(path) != 0 || rmdir(dir) != 0)
		fail("cannot remove %s: %s", dir, strerror(errno));
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
