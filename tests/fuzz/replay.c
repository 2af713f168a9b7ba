/*
 * replay.c - run a fuzz target's entry point over a corpus without libFuzzer.
 *
 *	fuzz_<target> FOLDER|FILE...
 *
 * Each file is read whole and passed to LLVMFuzzerTestOneInput() once, in name order, so the
 * default test suite (built with the normal compiler, and once more under ASan and UBSan)
 * replays every seed and every past finding. A target that finds a property broken aborts,
 * and so does a sanitizer: either fails the test. An empty or missing corpus fails too (a
 * test that exercises nothing is a failure). Prints the number of inputs replayed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* replay_file: feed one file to the target; 0, or -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (size == cap) {
			uint8_t *grown = realloc(data, cap == 0 ? 65536 : cap * 2);

			if (grown == NULL) {
				fprintf(stderr, "replay: out of memory reading %s\n", path);
				free(data);
				fclose(f);
				return -1;
			}
			data = grown;
			cap = cap == 0 ? 65536 : cap * 2;
		}
		n = fread(data + size, 1, cap - size, f);
		if (n == 0)
			break;
		size += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* An exact-size copy, so that ASan sees a read past the input's end. */
	{
		uint8_t *exact = malloc(size > 0 ? size : 1);

		if (exact == NULL) {
			free(data);
			return -1;
		}
		if (size > 0)
			memcpy(exact, data, size);
		free(data);
		LLVMFuzzerTestOneInput(exact, size);
		free(exact);
	}
	return 0;
}

/* by_name: qsort order of file names. */
static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* replay_folder: feed every regular file of a folder, in name order; the count, or -1. */
static long
replay_folder(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t count = 0, i;
	long replayed = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char **grown;

		if (de->d_name[0] == '.')
			continue;
		grown = realloc(names, (count + 1) * sizeof(*names));
		if (grown == NULL || (grown[count] = strdup(de->d_name)) == NULL) {
			fprintf(stderr, "replay: out of memory listing %s\n", dir);
			closedir(d);
			return -1;
		}
		names = grown;
		count++;
	}
	closedir(d);
	qsort(names, count, sizeof(*names), by_name);
	for (i = 0; i < count; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) < 0)
				replayed = -1;
			else if (replayed >= 0)
				replayed++;
		}
		free(names[i]);
	}
	free(names);
	return replayed;
}

int
main(int argc, char **argv)
{
	long total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FOLDER|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = replay_folder(argv[i]);
		else
			n = replay_file(argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no inputs in the corpus\n");
		return 1;
	}
	printf("replayed %ld inputs\n", total);
	return 0;
}
