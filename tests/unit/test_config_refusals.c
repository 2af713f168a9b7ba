/*
 * test_config_refusals.c - the configurations config_load() refuses: a table of scenarios,
 * each with the text its one-line error must contain (file name, line, key path) and, where a
 * value could leak, the text it must not (the file store's own are test_config_store.c's).
 *
 * Each case writes a config.yaml into a fresh mkdtemp() folder and loads it (config_cases.h).
 * Prints one line per failure and a final "N passed, M failed"; exits 1 if any failed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config_cases.h"

/* A complete and valid targets block, five lines long. */
#define TARGET                                                                                     \
	"targets:\n"                                                                               \
	"  acceptance:\n"                                                                          \
	"    database: dbname=app\n"                                                               \
	"    blob_dir: /srv/files\n"                                                               \
	"    plan_quota: 10GB\n"

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

/* main: every case in a fresh temporary folder; exit 0 only if all passed. */
int
main(void)
{
	char dir[2048], path[4096];

	if (config_case_dir("test_config_refusals", dir, sizeof(dir), path, sizeof(path)) < 0)
		return 1;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_bad(path, &bad_cases[i]);
	CHECK(unlink(path) == 0 && rmdir(dir) == 0, "cannot remove %s: %s", dir, strerror(errno));
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
