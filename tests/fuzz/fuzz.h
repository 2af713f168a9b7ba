/*
 * fuzz.h - what the fuzz targets share: the libFuzzer entry point's declaration, and a
 * temporary folder (removed at exit) holding a file that a target overwrites with each input,
 * for the parsers that read a path (the archive walk, the configuration).
 *
 * The targets are built two ways (tests/CMakeLists.txt): with clang and -fsanitize=fuzzer for
 * scripts/fuzz, and with the normal compiler and tests/fuzz/replay.c, which feeds every file of
 * a corpus folder to the same entry point, as a regression test in the default suite.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_fail: a property of the parser does not hold: say which, and crash for the fuzzer. */
#define fuzz_fail(...)                                                                             \
	do {                                                                                       \
		fprintf(stderr, "fuzz: " __VA_ARGS__);                                             \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

static char fuzz_tmpdir_path[4096];

/* fuzz_remove_one: nftw's callback that removes what it is shown, deepest first. */
static inline int
fuzz_remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* fuzz_tmpdir_remove: at exit, remove the temporary folder and what the target left in it. */
static inline void
fuzz_tmpdir_remove(void)
{
	(void)nftw(fuzz_tmpdir_path, fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* fuzz_tmpdir: a private folder in $TMPDIR, made at the first call and removed at exit. */
static inline const char *
fuzz_tmpdir(void)
{
	if (fuzz_tmpdir_path[0] == '\0') {
		const char *base = getenv("TMPDIR");

		snprintf(fuzz_tmpdir_path, sizeof(fuzz_tmpdir_path), "%s/rw-fuzz-XXXXXX",
		         base != NULL && base[0] != '\0' ? base : "/tmp");
		if (mkdtemp(fuzz_tmpdir_path) == NULL)
			fuzz_fail("cannot create a temporary folder %s", fuzz_tmpdir_path);
		atexit(fuzz_tmpdir_remove);
	}
	return fuzz_tmpdir_path;
}

/* fuzz_write_file: replace path's content with the input. */
static inline void
fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		fuzz_fail("cannot write %s", path);
}

#endif
