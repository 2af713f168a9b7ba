/*
 * test_config.c - config_load() and config_conninfo_redact().
 *
 * Each case writes a config.yaml into a fresh mkdtemp() folder and loads it (config_cases.h);
 * good configs check every field and every default (the refusals are test_config_refusals.c's,
 * the file store's test_config_store.c's). The redaction cases check that no
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

#include "config_cases.h"

/* A complete and valid targets block, five lines long. */
#define TARGET                                                                                     \
	"targets:\n"                                                                               \
	"  acceptance:\n"                                                                          \
	"    database: dbname=app\n"                                                               \
	"    blob_dir: /srv/files\n"                                                               \
	"    plan_quota: 10GB\n"

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

	if (config_case_dir("test_config", dir, sizeof(dir), path, sizeof(path)) < 0)
		return 1;
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
