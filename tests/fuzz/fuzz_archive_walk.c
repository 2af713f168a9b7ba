/*
 * fuzz_archive_walk.c - the whole pass over an archive, archive_walk(), on any file.
 *
 * The input is written to a temporary file and walked as a restore walks it: tar, tar.gz or a
 * bare (or gzip-wrapped) dump, with .metadata parsed, the dump measured and copied to a
 * temporary file, and tree files staged beside a temporary blob folder (then thrown away). No
 * database is involved: the dump_done callback only checks that the dump it is told about was
 * read whole, and lets the walk go on.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "archive_walk.h"
#include "fuzz.h"
#include "report.h"

/* dump_done: the walk says the dump was read whole; it has been, and the walk may go on. */
static enum archive_outcome
dump_done(void *ctx, char *err, size_t errlen)
{
	const struct archive_walk *walk = ctx;

	(void)err;
	(void)errlen;
	if (!walk->have_dump || walk->dump.over_limit)
		fuzz_fail("dump_done called without a whole dump");
	return WALK_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4200], dump_path[4200], blob_dir[4200];
	struct restore_target target = {0};
	struct archive_walk walk;
	struct report report;
	char err[1024];
	enum archive_outcome outcome;
	int dump_fd;

	if (path[0] == '\0') {
		const char *dir = fuzz_tmpdir();

		snprintf(path, sizeof(path), "%s/backup.tar.gz", dir);
		snprintf(dump_path, sizeof(dump_path), "%s/db.backup", dir);
		snprintf(blob_dir, sizeof(blob_dir), "%s/files", dir);
	}
	fuzz_write_file(path, data, size);
	dump_fd = open(dump_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (dump_fd < 0)
		fuzz_fail("cannot create %s", dump_path);
	if (report_init(&report, "fuzz", path, NULL, false) < 0)
		fuzz_fail("report_init ran out of memory");

	memset(&walk, 0, sizeof(walk));
	walk.path = path;
	walk.dump_fd = dump_fd;
	target.blob_dir = blob_dir;
	walk.blob_target = &target;
	walk.job_id = "00000000-0000-4000-8000-000000000000";
	walk.max_minor = 14;
	walk.max_why = "the fuzz target's limit";
	walk.measure_too_new = size % 2 == 0;
	walk.dump_done = dump_done;
	walk.dump_done_ctx = &walk;
	err[0] = '\0';
	outcome = archive_walk(&walk, &report, err, sizeof(err));
	if (outcome != WALK_OK && err[0] == '\0')
		fuzz_fail("archive_walk refused without a message");
	if (outcome == WALK_OK && walk.kind == ARCHIVE_KIND_UNKNOWN)
		fuzz_fail("archive_walk accepted an archive of unknown kind");
	if (outcome == WALK_OK && !walk.have_dump)
		fuzz_fail("archive_walk accepted an archive without a dump");
	(void)archive_kind_name(walk.kind);
	store_stage_abort(walk.staging);
	report_free(&report);
	if (close(dump_fd) != 0)
		fuzz_fail("cannot close %s", dump_path);
	return 0;
}
