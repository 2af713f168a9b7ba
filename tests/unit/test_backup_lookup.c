/*
 * test_backup_lookup.c - ARCHIVE by name (backup_lookup) over real folders: latest (the newest
 * of a target's backup_dir and previous/ folders, by stamp, then modification time), a bare
 * name found in any target's folders, one found twice (refused), one found nowhere (refused), a
 * file of that name in the current folder and a path (both as they are), latest without a
 * target (a usage error) and without backup_dir and spool_dir; and the folders list reads.
 *
 * Prints one line per failed check and a final "N passed, M failed"; exits 1 if any failed.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup_lookup.h"
#include "config.h"

#include "check.h"

/* make_file: an empty file at path (its folder made) with the modification time sec; 0 or -1. */
static int
make_file(const char *path, time_t sec)
{
	struct timespec times[2] = {{sec, 0}, {sec, 0}};
	char dir[PATH_MAX], cmd[PATH_MAX + 32];
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	if (system(cmd) != 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || close(fd) < 0)
		return -1;
	return utimensat(AT_FDCWD, path, times, 0);
}

/* lookup: backup_lookup's status, its path or error in out. */
static int
lookup(const struct config *config, const char *target, const char *archive, char *out,
       size_t outlen)
{
	char path[PATH_MAX] = "", err[2048] = "";
	int rc = backup_lookup(config, target, archive, path, sizeof(path), err, sizeof(err));

	snprintf(out, outlen, "%s", rc == 0 ? path : err);
	return rc;
}

int
main(void)
{
	char root[] = "/tmp/test_backup_lookup.XXXXXX", backups[128], spool[128], cwd[128];
	char out[2048], want[2048], cmd[256];
	struct config_target targets[3] = {
	    {.name = "acceptance"}, {.name = "other"}, {.name = "third"}};
	struct config config = {0}, bare = {0};
	struct backup_folder *folders;
	size_t n;
	int rc;

	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(backups, sizeof(backups), "%s/backups", root);
	snprintf(spool, sizeof(spool), "%s/spool", root);
	snprintf(cwd, sizeof(cwd), "%s/cwd", root);
	config.backup_dir = backups;
	config.spool_dir = spool;
	config.targets = targets;
	config.ntargets = 3;
	bare.targets = targets;
	bare.ntargets = 3;

	snprintf(want, sizeof(want),
	         "%s/acceptance/files_and_database-11111111-202601010000.tar.gz", backups);
	CHECK(make_file(want, 1000) == 0, "make %s", want);
	snprintf(want, sizeof(want), "%s/acceptance/database-22222222-202601010000.backup",
	         backups);
	CHECK(make_file(want, 2000) == 0, "make %s", want);
	snprintf(want, sizeof(want),
	         "%s/previous/acceptance/files_and_database-33333333-202512010000.tar.gz", spool);
	CHECK(make_file(want, 9000) == 0, "make %s", want);
	snprintf(want, sizeof(want), "%s/other/database-22222222-202601010000.backup", backups);
	CHECK(make_file(want, 100) == 0, "make %s", want);
	snprintf(want, sizeof(want), "%s/previous/other/database-44444444-202001010000.backup",
	         spool);
	CHECK(make_file(want, 100) == 0, "make %s", want);
	snprintf(want, sizeof(want), "%s/here-55555555-202001010000.backup", cwd);
	CHECK(make_file(want, 100) == 0 && chdir(cwd) == 0, "make %s, go there", want);

	/* The folders: backup_dir's, then previous/, per target in the configuration's order. */
	CHECK(backup_lookup_folders(&config, NULL, &folders, &n) == 0 && n == 6, "folders: %zu", n);
	if (n == 6) {
		snprintf(want, sizeof(want), "%s/previous/other", spool);
		CHECK(strcmp(folders[3].path, want) == 0 &&
		          strcmp(folders[3].target, "other") == 0 &&
		          strcmp(folders[3].source, "previous") == 0,
		      "folders[3] %s %s %s", folders[3].path, folders[3].target, folders[3].source);
	}
	free(folders);
	CHECK(backup_lookup_folders(&bare, "acceptance", &folders, &n) == 0 && n == 0 &&
	          folders == NULL,
	      "no backup_dir, no spool_dir: %zu folders", n);

	/* latest: the same stamp twice, the later modification time wins; the stamp comes first. */
	rc = lookup(&config, "acceptance", "latest", out, sizeof(out));
	snprintf(want, sizeof(want), "%s/acceptance/database-22222222-202601010000.backup",
	         backups);
	CHECK(rc == 0 && strcmp(out, want) == 0, "latest of acceptance: %d %s", rc, out);
	rc = lookup(&config, "other", "latest", out, sizeof(out));
	snprintf(want, sizeof(want), "%s/other/database-22222222-202601010000.backup", backups);
	CHECK(rc == 0 && strcmp(out, want) == 0, "latest of other: %d %s", rc, out);
	rc = lookup(&config, "third", "latest", out, sizeof(out));
	snprintf(want, sizeof(want), "no backup of target third in %s/third or %s/previous/third",
	         backups, spool);
	CHECK(rc == -1 && strcmp(out, want) == 0, "latest of third: %d %s", rc, out);
	rc = lookup(&config, NULL, "latest", out, sizeof(out));
	CHECK(rc == BACKUP_LOOKUP_USAGE && strstr(out, "--target") != NULL,
	      "latest without a target: %d %s", rc, out);
	rc = lookup(&bare, "acceptance", "latest", out, sizeof(out));
	CHECK(rc == -1 && strstr(out, "no backup_dir and no spool_dir") != NULL,
	      "latest without folders: %d %s", rc, out);

	/* A bare name: in any target's folders, once. */
	rc = lookup(&config, "acceptance", "database-44444444-202001010000.backup", out,
	            sizeof(out));
	snprintf(want, sizeof(want), "%s/previous/other/database-44444444-202001010000.backup",
	         spool);
	CHECK(rc == 0 && strcmp(out, want) == 0, "a name of other's: %d %s", rc, out);
	rc = lookup(&config, "acceptance", "database-22222222-202601010000.backup", out,
	            sizeof(out));
	snprintf(want, sizeof(want),
	         "database-22222222-202601010000.backup: several backups have that name "
	         "(%s/acceptance/database-22222222-202601010000.backup, "
	         "%s/other/database-22222222-202601010000.backup); give the path of one",
	         backups, backups);
	CHECK(rc == -1 && strcmp(out, want) == 0, "a name twice: %d %s", rc, out);
	rc = lookup(&config, "acceptance", "nosuch.backup", out, sizeof(out));
	snprintf(want, sizeof(want),
	         "nosuch.backup: no such file here, nor a backup of that name in %s/acceptance, "
	         "%s/previous/acceptance, %s/other, %s/previous/other, %s/third or "
	         "%s/previous/third",
	         backups, spool, backups, spool, backups, spool);
	CHECK(rc == -1 && strcmp(out, want) == 0, "a name nowhere: %d %s", rc, out);

	/* A file here, and a path, stay as they are. */
	rc = lookup(&config, "acceptance", "here-55555555-202001010000.backup", out, sizeof(out));
	CHECK(rc == 0 && strcmp(out, "here-55555555-202001010000.backup") == 0,
	      "a file here: %d %s", rc, out);
	rc = lookup(&config, "acceptance", "./nosuch.backup", out, sizeof(out));
	CHECK(rc == 0 && strcmp(out, "./nosuch.backup") == 0, "a path: %d %s", rc, out);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (chdir("/") != 0 || system(cmd) != 0)
		printf("# could not remove %s\n", root);
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
