/*
 * test_blob_access.c - blobstore_check_access, the check command's question about blob_dir:
 * can a restore as this user give the restored tree its owner, group and modes, in a parent
 * it can write? A table of layouts made in a temporary folder, each with the answer (0 ok,
 * 1 warning, -1 failed) and words the sentence must hold. Also the mode parser of the keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_folder.h"

struct check_case {
	const char *name;
	int dir_mode;              /* blob_dir's mode; 0: no blob_dir */
	int file_mode;             /* a file in blob_dir/ab/cd/; 0: none */
	const char *group;         /* the target's blob_group, or NULL */
	bool no_parent;            /* blob_dir's parent is missing */
	unsigned int dir_mode_key; /* the target's blob_dir_mode, or 0 */
	int expected;
	const char *words; /* in the sentence */
};

static const struct check_case cases[] = {
    {"folder and file modes are blob_dir's", 02770, 0640, NULL, false, 0, 0,
     "folders 2770, files 0640"},
    {"no file: the folder mode without x bits", 0750, 0, NULL, false, 0, 0,
     "folders 0750, files 0640"},
    {"no file: the configured folder mode without x bits", 0750, 0, NULL, false, 02770, 0,
     "folders 2770, files 0660"},
    {"no blob_dir yet is a warning", 0, 0, NULL, false, 0, 1, "does not exist yet"},
    {"a group that does not exist fails", 0770, 0, "no-such-group-rwt", false, 0, -1,
     "is no group here"},
    {"a missing parent fails", 0, 0, NULL, true, 0, -1, "cannot open the folder"},
};

/* make_layout: blob_dir under root as the case says; its path in blob_dir. */
static int
make_layout(const char *root, const struct check_case *c, char *blob_dir, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(blob_dir, len, "%s/%s/files", root, c->no_parent ? "missing" : "parent");
	if (c->no_parent)
		return 0;
	snprintf(path, sizeof(path), "%s/parent", root);
	if (mkdir(path, 0755) < 0)
		return -1;
	if (c->dir_mode == 0)
		return 0;
	if (mkdir(blob_dir, 0700) < 0 || chmod(blob_dir, (mode_t)c->dir_mode) < 0)
		return -1;
	if (c->file_mode == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/ab", blob_dir);
	if (mkdir(path, 0700) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/ab/cd", blob_dir);
	if (mkdir(path, 0700) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/ab/cd/abcd0000-0000-4000-8000-000000000000", blob_dir);
	if ((f = fopen(path, "w")) == NULL || fclose(f) != 0)
		return -1;
	return chmod(path, (mode_t)c->file_mode);
}

int
main(void)
{
	int passed = 0, failed = 0;
	mode_t mode;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char root[] = "/tmp/rw-blob-access.XXXXXX", blob_dir[512], msg[1024], cmd[600];
		struct restore_target t = {0};
		int rc;

		if (mkdtemp(root) == NULL ||
		    make_layout(root, &cases[i], blob_dir, sizeof(blob_dir)) < 0) {
			printf("not ok - %s: cannot make the layout\n", cases[i].name);
			failed++;
			continue;
		}
		t.name = "t";
		t.blob_dir = blob_dir;
		t.blob_group = cases[i].group;
		t.blob_dir_mode = cases[i].dir_mode_key;
		msg[0] = '\0';
		rc = blobstore_check_access(&t, msg, sizeof(msg));
		if (rc == cases[i].expected && strstr(msg, cases[i].words) != NULL &&
		    strchr(msg, '\n') == NULL) {
			passed++;
		} else {
			failed++;
			printf("not ok - %s: %d '%s', expected %d with '%s'\n", cases[i].name, rc,
			       msg, cases[i].expected, cases[i].words);
		}
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			printf("# cannot remove %s\n", root);
	}

	/* The keys' modes: 3 or 4 octal digits within what is allowed. */
	if (blob_access_mode("2770", 03777, &mode) == 0 && mode == 02770 &&
	    blob_access_mode("660", 0777, &mode) == 0 && mode == 0660 &&
	    blob_access_mode("2660", 0777, &mode) < 0 &&
	    blob_access_mode("0779", 03777, &mode) < 0 &&
	    blob_access_mode("77", 03777, &mode) < 0 && blob_access_mode("02770", 03777, &mode) < 0)
		passed++;
	else
		failed++, printf("not ok - blob_access_mode\n");
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
