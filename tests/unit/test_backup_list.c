/*
 * test_backup_list.c - the Mendix names of backups (backup_name_parse) against a table of names,
 * and backup_list_folder() on a real folder: what it takes (regular files of those names), what
 * it passes over (.part files, links, folders, other names), the order (stamp, then
 * modification time), the time from the stamp, a file that is no backup (no version, a
 * warning), a folder that does not exist (nothing) and one that cannot be read (an error).
 *
 * Prints one line per failed check and a final "N passed, M failed"; exits 1 if any failed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup_list.h"

#include "check.h"

struct name_case {
	const char *name;
	bool part;    /* parsed as a .part file */
	int ok;       /* a Mendix name (of that form) */
	bool db_only; /* its kind, when ok */
	const char *stamp;
};

static const struct name_case name_cases[] = {
    {"files_and_database-0123abcd-202612062215.tar.gz", false, 1, false, "202612062215"},
    {"database-0123abcd-202612062215.backup", false, 1, true, "202612062215"},
    {"files_and_database-ffffffff-000000000000.tar.gz", false, 1, false, "000000000000"},
    {"files_and_database-0123abcd-202612062215.tar.gz.part", true, 1, false, "202612062215"},
    {"database-0123abcd-202612062215.backup.part", true, 1, true, "202612062215"},
    /* Refused. */
    {"files_and_database-0123abcd-202612062215.tar.gz.part", false, 0, false, NULL},
    {"files_and_database-0123abcd-202612062215.tar.gz", true, 0, false, NULL},
    {"files_and_database-0123ABCD-202612062215.tar.gz", false, 0, false, NULL},
    {"files_and_database-0123abc-202612062215.tar.gz", false, 0, false, NULL},
    {"files_and_database-0123abcde-202612062215.tar.gz", false, 0, false, NULL},
    {"files_and_database-0123abcd-20261206221.tar.gz", false, 0, false, NULL},
    {"files_and_database-0123abcd-2026120622150.tar.gz", false, 0, false, NULL},
    {"files_and_database-0123abcd-2026120622x5.tar.gz", false, 0, false, NULL},
    {"files_and_database-0123abcd_202612062215.tar.gz", false, 0, false, NULL},
    {"files_and_database-0123abcd-202612062215.tgz", false, 0, false, NULL},
    {"files_and_database-0123abcd-202612062215.backup", false, 0, false, NULL},
    {"database-0123abcd-202612062215.tar.gz", false, 0, false, NULL},
    {"database-0123abcd-202612062215.backup.gz", false, 0, false, NULL},
    {"xdatabase-0123abcd-202612062215.backup", false, 0, false, NULL},
    {"latest", false, 0, false, NULL},
    {"", false, 0, false, NULL},
};

/* make_file: dir/name with len bytes and the modification time sec; 0, or -1. */
static int
make_file(const char *dir, const char *name, size_t len, time_t sec)
{
	char path[512], buf[64] = {0};
	struct timespec times[2] = {{sec, 0}, {sec, 0}};
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -1;
	while (len > 0) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (write(fd, buf, n) != (ssize_t)n) {
			(void)close(fd);
			return -1;
		}
		len -= n;
	}
	if (close(fd) < 0)
		return -1;
	return utimensat(AT_FDCWD, path, times, 0);
}

/* test_names: every case of name_cases. */
static void
test_names(void)
{
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		const struct name_case *c = &name_cases[i];
		char stamp[13] = "unset";
		bool db_only = !c->db_only;
		bool ok = backup_name_parse(c->name, c->part, &db_only, stamp);

		CHECK(ok == (c->ok != 0), "backup_name_parse(\"%s\", part %d): %s", c->name,
		      c->part, ok ? "accepted" : "refused");
		if (ok && c->ok) {
			CHECK(db_only == c->db_only, "%s: db_only %d", c->name, db_only);
			CHECK(strcmp(stamp, c->stamp) == 0, "%s: stamp %s", c->name, stamp);
		}
	}
}

/* test_folder: a folder of backups and other things, listed and ordered. */
static void
test_folder(const char *root)
{
	struct backup_list list = {0};
	char dir[256], path[512], err[512] = "", when[32];
	int rc;

	snprintf(dir, sizeof(dir), "%s/acceptance", root);
	CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
	/* Same stamp: the later modification time is the newer. */
	CHECK(make_file(dir, "files_and_database-aaaaaaaa-202601010000.tar.gz", 100, 2000) == 0 &&
	          make_file(dir, "database-bbbbbbbb-202601010000.backup", 200, 3000) == 0 &&
	          make_file(dir, "database-cccccccc-202512312359.backup", 300, 9000) == 0 &&
	          make_file(dir, "files_and_database-dddddddd-202701010000.tar.gz.part", 1, 1) ==
	              0 &&
	          make_file(dir, "notes.txt", 1, 1) == 0,
	      "cannot make the files");
	snprintf(path, sizeof(path), "%s/files_and_database-eeeeeeee-209901010000.tar.gz", dir);
	CHECK(symlink("database-cccccccc-202512312359.backup", path) == 0, "symlink");
	snprintf(path, sizeof(path), "%s/database-ffffffff-209901010000.backup", dir);
	CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);

	rc = backup_list_folder(&list, dir, "acceptance", "backup_dir", false, err, sizeof(err));
	CHECK(rc == 0, "backup_list_folder: %s", err);
	backup_list_sort(&list);
	CHECK(list.n == 3, "%zu backups listed, expected 3", list.n);
	if (list.n == 3) {
		CHECK(strcmp(list.items[0].named.name, "database-bbbbbbbb-202601010000.backup") ==
		          0,
		      "newest: %s", list.items[0].named.name);
		CHECK(strcmp(list.items[1].named.name,
		             "files_and_database-aaaaaaaa-202601010000.tar.gz") == 0,
		      "second: %s", list.items[1].named.name);
		CHECK(strcmp(list.items[2].named.name, "database-cccccccc-202512312359.backup") ==
		          0,
		      "oldest (by its stamp, though modified last): %s", list.items[2].named.name);
		CHECK(list.items[0].named.db_only && !list.items[1].named.db_only, "kinds");
		CHECK(list.items[0].bytes == 200 && list.items[2].bytes == 300, "sizes %llu %llu",
		      (unsigned long long)list.items[0].bytes,
		      (unsigned long long)list.items[2].bytes);
		snprintf(path, sizeof(path), "%s/database-bbbbbbbb-202601010000.backup", dir);
		CHECK(strcmp(list.items[0].path, path) == 0, "path %s", list.items[0].path);
		CHECK(strcmp(list.items[0].target, "acceptance") == 0 &&
		          strcmp(list.items[0].source, "backup_dir") == 0,
		      "target and source as given");
		CHECK(list.items[0].archive_version[0] == '\0', "a version read though not asked");
		backup_list_time(&list.items[2], when, sizeof(when));
		CHECK(strcmp(when, "2025-12-31T23:59:00Z") == 0, "time %s", when);
	}
	CHECK(list.nwarnings == 0, "%zu warnings", list.nwarnings);
	backup_list_free(&list);

	/* With versions: a file of a backup's name that is none has no version, and a warning. */
	rc = backup_list_folder(&list, dir, "acceptance", "backup_dir", true, err, sizeof(err));
	CHECK(rc == 0 && list.n == 3, "backup_list_folder with versions: %d, %zu", rc, list.n);
	CHECK(list.nwarnings == 3, "%zu warnings, expected one a backup", list.nwarnings);
	for (size_t i = 0; i < list.n; i++)
		CHECK(list.items[i].archive_version[0] == '\0', "%s has version %s",
		      list.items[i].named.name, list.items[i].archive_version);
	snprintf(path, sizeof(path), "%s/database-cccccccc-202512312359.backup: ", dir);
	bool named = false;
	for (size_t i = 0; i < list.nwarnings; i++)
		named |= strstr(list.warnings[i], path) != NULL &&
		         strstr(list.warnings[i], "its archive version is unknown") != NULL;
	CHECK(named, "no warning begins with the file's path: %s",
	      list.nwarnings > 0 ? list.warnings[0] : "(none)");
	backup_list_free(&list);

	/* A folder that does not exist holds nothing; one that cannot be read is an error. */
	snprintf(path, sizeof(path), "%s/missing", root);
	rc = backup_list_folder(&list, path, "x", "previous", true, err, sizeof(err));
	CHECK(rc == 0 && list.n == 0, "a missing folder: %d, %zu", rc, list.n);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	err[0] = '\0';
	rc = backup_list_folder(&list, path, "x", "previous", true, err, sizeof(err));
	CHECK(rc == -1 && strstr(err, "cannot read the folder") != NULL &&
	          strstr(err, path) != NULL,
	      "a file as the folder: %d, '%s'", rc, err);
	backup_list_free(&list);
}

/* main: run the checks; exit 0 only if all passed. */
int
main(void)
{
	char root[] = "/tmp/test_backup_list.XXXXXX", cmd[128];

	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_names();
	test_folder(root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
