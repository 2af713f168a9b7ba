/*
 * test_store.c - the file store interface (restore/store/store.h) on its folder driver, in a
 * temporary folder: a listing is sorted, leaves out what is not a file document and gives
 * sizes; a file is read whole and a change while it is read is seen; the stage's view lists
 * the staged files; staged files are committed (the swap) and the old ones removed; an abort
 * leaves the store as it was; what a killed job staged is removed; a commit sets the old files
 * aside, where a removal in the background takes them in hand (two never take the same) and
 * removes them, and nothing else.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "restore.h"
#include "store.h"

#define UUID_A "0123abcd-0000-4000-8000-000000000001"
#define UUID_B "abcd0123-0000-4000-8000-000000000002"
#define UUID_N "ffff0000-0000-4000-8000-000000000003"
#define JOB    "11111111-2222-4333-8444-555555555555"

static int passed, failed;
static char root[512], blob_dir[600];

/* check: one TAP line for a condition. */
static void
check(bool ok, const char *name, const char *err)
{
	if (ok) {
		passed++;
		printf("ok - %s\n", name);
	} else {
		failed++;
		printf("not ok - %s%s%s\n", name, err != NULL && err[0] != '\0' ? ": " : "",
		       err != NULL ? err : "");
	}
}

/* put: write text into blob_dir/<xx>/<yy>/<uuid>, making the folders. */
static void
put(const char *uuid, const char *text)
{
	char path[800];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%.2s", blob_dir, uuid);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%.2s/%.2s", blob_dir, uuid, uuid + 2);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%.2s/%.2s/%s", blob_dir, uuid, uuid + 2, uuid);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

/* count_skipped: store_skipped_fn counting what a listing leaves out. */
static void
count_skipped(void *ctx, const char *name, const char *why)
{
	(void)name;
	(void)why;
	(*(int *)ctx)++;
}

/* listing: "uuid:size,..." of the store at blob_dir (sizes when flags ask), or "error: ...". */
static void
listing(int flags, int *skipped, char *out, size_t len)
{
	struct store *s = NULL;
	struct store_list *l = NULL;
	struct store_entry e;
	char err[512];
	size_t used = 0;
	int rc;

	out[0] = '\0';
	if (store_open_folder(AT_FDCWD, blob_dir, &s, err, sizeof(err)) < 0 ||
	    store_list_open(s, "the test", flags, count_skipped, skipped, &l, err, sizeof(err)) <
	        0) {
		snprintf(out, len, "error: %s", err);
		store_close(s);
		return;
	}
	while ((rc = store_list_next(l, &e, err, sizeof(err))) > 0 && used < len)
		used += (size_t)snprintf(out + used, len - used, "%s%.4s:%llu", used > 0 ? "," : "",
		                         e.uuid, (unsigned long long)e.size);
	if (rc < 0)
		snprintf(out, len, "error: %s", err);
	store_list_close(l);
	store_close(s);
}

/* test_listing: sorted, without what lies outside the layout, with sizes when asked. */
static void
test_listing(void)
{
	char got[1024], path[800];
	int skipped = 0;

	put(UUID_B, "bbb");
	put(UUID_A, "aaaaa");
	snprintf(path, sizeof(path), "%s/ab/cd/not-a-uuid", blob_dir);
	(void)symlink("/etc/passwd", path);
	listing(0, &skipped, got, sizeof(got));
	check(strcmp(got, "0123:0,abcd:0") == 0 && skipped == 1,
	      "a listing is sorted and leaves out other names", got);
	skipped = 0;
	listing(STORE_LIST_SIZES, &skipped, got, sizeof(got));
	check(strcmp(got, "0123:5,abcd:3") == 0, "a listing gives sizes when asked", got);
}

/* test_read: a file is read whole; a change while it is read, or since a time, is seen. */
static void
test_read(void)
{
	struct timespec past = {1, 0}, future;
	struct store *s = NULL;
	struct store_list *l = NULL;
	struct store_read *r = NULL;
	struct store_file_info info;
	struct store_entry e;
	const char *why;
	char err[512], buf[64], path[800];
	ssize_t n;
	FILE *f;

	clock_gettime(CLOCK_REALTIME, &future);
	future.tv_sec += 3600;
	if (store_open_folder(AT_FDCWD, blob_dir, &s, err, sizeof(err)) < 0 ||
	    store_list_open(s, "the test", 0, NULL, NULL, &l, err, sizeof(err)) < 0 ||
	    store_list_next(l, &e, err, sizeof(err)) != 1) {
		check(false, "a listed file can be read", err);
		goto done;
	}
	check(store_read_open(l, &past, &r, &info, &why, err, sizeof(err)) == 0 && why != NULL &&
	          strstr(why, "changed after") != NULL,
	      "a file changed after the given time is left out, saying why", why);
	if (store_read_open(l, &future, &r, &info, &why, err, sizeof(err)) != 1) {
		check(false, "a listed file can be read", err);
		goto done;
	}
	n = store_read(r, buf, sizeof(buf), err, sizeof(err));
	check(n == 5 && memcmp(buf, "aaaaa", 5) == 0 && info.size == 5 &&
	          store_read(r, buf, sizeof(buf), err, sizeof(err)) == 0 &&
	          store_read_unchanged(r, err, sizeof(err)) == 0,
	      "a listed file is read whole, unchanged", err);
	snprintf(path, sizeof(path), "%s/01/23/%s", blob_dir, UUID_A);
	f = fopen(path, "a");
	if (f != NULL) {
		(void)fputs("more", f);
		(void)fclose(f);
	}
	check(store_read_unchanged(r, err, sizeof(err)) < 0 &&
	          strstr(err, "changed while it was copied") != NULL &&
	          strstr(err, store_read_name(r)) != NULL,
	      "a file written while it is read is named", err);
done:
	store_read_close(r);
	store_list_close(l);
	store_close(s);
}

/* staging_left: whether a staging folder of JOB is beside blob_dir. */
static bool
staging_left(void)
{
	char path[800];
	struct stat st;

	snprintf(path, sizeof(path), "%s/.files.staging-%s", root, JOB);
	return lstat(path, &st) == 0;
}

/* stage: begin staging for blob_dir and write uuid holding text; the stage, or NULL. */
static struct store_stage *
stage(const struct restore_target *t, const char *uuid, const char *text, char *err, size_t errlen)
{
	struct store_stage *st = NULL;
	struct store_file *f = NULL;

	if (store_stage_begin(t, JOB, 0, &st, err, errlen) < 0)
		return NULL;
	if (store_file_open(st, uuid, &f, err, errlen) < 0 ||
	    store_file_write(f, text, strlen(text), err, errlen) < 0) {
		store_file_abandon(f);
		store_stage_abort(st);
		return NULL;
	}
	if (store_file_close(f, err, errlen) < 0) {
		store_stage_abort(st);
		return NULL;
	}
	return st;
}

/* test_stage: abort leaves the store as it was; commit swaps; leftovers are removed. */
static void
test_stage(void)
{
	struct restore_target t = {.name = "test", .blob_dir = blob_dir};
	struct store_stage *st;
	struct store_file *f = NULL;
	struct store *s = NULL;
	struct store_list *l = NULL;
	struct store_entry e;
	char err[512], got[1024];
	int skipped = 0;

	st = stage(&t, UUID_N, "new", err, sizeof(err));
	check(st != NULL && strstr(store_stage_where(st), ".files.staging-" JOB) != NULL,
	      "staging begins beside blob_dir", err);
	if (st == NULL)
		return;
	check(store_stage_view(st, &s, err, sizeof(err)) == 0 &&
	          store_list_open(s, "the test", 0, NULL, NULL, &l, err, sizeof(err)) == 0 &&
	          store_list_next(l, &e, err, sizeof(err)) == 1 && strcmp(e.uuid, UUID_N) == 0 &&
	          store_list_next(l, &e, err, sizeof(err)) == 0,
	      "the stage's view lists what the store will hold: the staged files alone", err);
	store_list_close(l);
	store_close(s);
	s = NULL;
	check(store_file_open(st, UUID_N, &f, err, sizeof(err)) < 0 &&
	          strstr(err, "appears twice") != NULL,
	      "a file staged twice is refused", err);
	store_stage_abort(st);
	listing(STORE_LIST_SIZES, &skipped, got, sizeof(got));
	check(strcmp(got, "0123:9,abcd:3") == 0 && !staging_left(),
	      "an abort leaves the store as it was", got);

	st = stage(&t, UUID_N, "new", err, sizeof(err));
	check(st != NULL && store_stage_finish(st, err, sizeof(err)) == 0 &&
	          store_stage_commit(st, err, sizeof(err)) == 0 &&
	          store_stage_remove_old(st, err, sizeof(err)) == 0,
	      "staged files are made durable, committed, and the old ones removed", err);
	store_stage_close(st);
	listing(STORE_LIST_SIZES, &skipped, got, sizeof(got));
	check(strcmp(got, "ffff:3") == 0 && !staging_left(), "the store holds the staged files",
	      got);

	st = stage(&t, UUID_A, "x", err, sizeof(err));
	store_stage_close(st); /* a killed job: its staging folder stays */
	check(st != NULL && staging_left(), "a job's staging stays until removed", err);
	if (store_open_folder(AT_FDCWD, blob_dir, &s, err, sizeof(err)) == 0)
		store_stage_remove_leftover(s, JOB);
	store_close(s);
	listing(0, &skipped, got, sizeof(got));
	check(!staging_left() && strcmp(got, "ffff:0") == 0,
	      "what a killed job staged is removed, the store untouched", got);
}

/* exists: whether root/name exists. */
static bool
exists(const char *name)
{
	char path[800];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	return lstat(path, &st) == 0;
}

/* what_done: store_old_done_fn counting the trees removed whole. */
static void
what_done(void *ctx, const char *job_id, double seconds, const char *err)
{
	(void)seconds;
	if (err == NULL && job_id != NULL && strcmp(job_id, JOB) == 0)
		(*(int *)ctx)++;
}

/* test_old: the old files set aside at the commit, taken in hand once, removed alone. */
static void
test_old(void)
{
	struct restore_target t = {.name = "test", .blob_dir = blob_dir};
	struct store_old *old = NULL, *again = NULL;
	struct store_stage *st;
	struct store *s = NULL, *s2 = NULL;
	char err[512] = "", got[1024], path[800];
	int skipped = 0, done = 0;

	snprintf(path, sizeof(path), "%s/.files.staging-%s", root, UUID_B);
	(void)mkdir(path, 0755); /* a running restore's: never taken */
	snprintf(path, sizeof(path), "%s/.filesx.old-%s", root, UUID_B);
	(void)mkdir(path, 0755); /* another blob_dir's */
	st = stage(&t, UUID_A, "newer", err, sizeof(err));
	check(st != NULL && store_stage_finish(st, err, sizeof(err)) == 0 &&
	          store_stage_commit(st, err, sizeof(err)) == 0,
	      "a commit with the old files left", err);
	store_stage_close(st);
	check(exists(".files.old-" JOB) && !staging_left(),
	      "the old files are set aside under their own name", NULL);
	if (store_open_folder(AT_FDCWD, blob_dir, &s, err, sizeof(err)) < 0 ||
	    store_open_folder(AT_FDCWD, blob_dir, &s2, err, sizeof(err)) < 0 ||
	    store_old_take(s, &old, err, sizeof(err)) < 0 ||
	    store_old_take(s2, &again, err, sizeof(err)) < 0) {
		check(false, "the old files are taken in hand", err);
	} else {
		check(old != NULL && again == NULL, "the old files are taken in hand once", NULL);
		check(old != NULL && store_old_remove(old, what_done, &done) == 0 && done == 1,
		      "the old files are removed, once", NULL);
	}
	store_old_close(old);
	store_old_close(again);
	store_close(s);
	store_close(s2);
	listing(0, &skipped, got, sizeof(got));
	check(!exists(".files.old-" JOB) && exists(".files.staging-" UUID_B) &&
	          exists(".filesx.old-" UUID_B) && strcmp(got, "0123:0") == 0,
	      "nothing else beside blob_dir is touched, the store untouched", got);
}

int
main(void)
{
	char cmd[600];

	snprintf(root, sizeof(root), "%s/test_store.XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(blob_dir, sizeof(blob_dir), "%s/files", root);
	if (mkdir(blob_dir, 0755) < 0) {
		perror(blob_dir);
		return 1;
	}
	test_listing();
	test_read();
	test_stage();
	test_old();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
