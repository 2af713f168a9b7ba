/*
 * test_spool.c - the claim record: what is saved reads back, every save rewrites the same
 * bytes in place (so recording an outcome needs no free space), line breaks cannot forge a
 * field, the fields a report made from the claim needs and those that tell a commit's outcome
 * read back, and a claim from before phases were recorded reads as an attempt that may have run.
 * Also: the job id in submit's job file names, spool_open_existing creating nothing,
 * spool_check_usable naming a folder the worker's user cannot write, with its owner, and cancel
 * requests (only job ids are taken; a request reads back and is forgotten).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("not ok - line %d: ", __LINE__);                                    \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* check_job_ids: which names carry submit's job id. */
static void
check_job_ids(void)
{
	static const struct {
		const char *name;
		const char *id; /* NULL: none */
	} cases[] = {
	    {"submit-0b3d7c4e-1a2b-4c3d-8e9f-0123456789ab.yaml",
	     "0b3d7c4e-1a2b-4c3d-8e9f-0123456789ab"},
	    {"submit-0b3d7c4e-1a2b-4c3d-8e9f-0123456789ab.yml", NULL},
	    {"submit-0B3D7C4E-1a2b-4c3d-8e9f-0123456789ab.yaml", NULL},
	    {"submit-0b3d7c4e-1a2b-4c3d-8e9f-0123456789a.yaml", NULL},
	    {"submit-0b3d7c4e-1a2b-4c3d-8e9f-0123456789abc.yaml", NULL},
	    {"submit-0b3d7c4e/1a2b-4c3d-8e9f-0123456789ab.yaml", NULL},
	    {"submit-../../../../../../../../../etc/passwd.yaml", NULL},
	    {"job-0b3d7c4e-1a2b-4c3d-8e9f-0123456789ab.yaml", NULL},
	    {"good.tar.gz", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char id[37] = "";
		bool got = spool_submit_job_id(cases[i].name, id);

		CHECK(got == (cases[i].id != NULL) && (!got || strcmp(id, cases[i].id) == 0),
		      "spool_submit_job_id(%s): got %s '%s'", cases[i].name, got ? "true" : "false",
		      id);
	}
}

/* check_cancel: which names are job ids, and a cancel request's round trip in spool_dir. */
static void
check_cancel(const char *spool_dir)
{
	static const char *const ids[] = {"0b3d7c4e-1a2b-4c3d-8e9f-0123456789ab"};
	static const char *const not_ids[] = {"",
	                                      "0b3d7c4e-1a2b-4c3d-8e9f-0123456789a",
	                                      "0B3D7C4E-1a2b-4c3d-8e9f-0123456789ab",
	                                      "../../../../../../../../../../etc/pass",
	                                      "0b3d7c4e-1a2b-4c3d-8e9f-0123456789ab/..",
	                                      ".0b3d7c4e-1a2b-4c3d-8e9f-0123456789ab.tmp"};
	struct spool sp;
	char err[512];
	int fd;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		CHECK(spool_job_id_valid(ids[i]), "%s is a job id", ids[i]);
	for (size_t i = 0; i < sizeof(not_ids) / sizeof(not_ids[0]); i++)
		CHECK(!spool_job_id_valid(not_ids[i]), "'%s' is no job id", not_ids[i]);
	if (spool_open(spool_dir, &sp, err, sizeof(err)) < 0) {
		CHECK(false, "spool_open: %s", err);
		return;
	}
	CHECK(spool_cancel_open(&sp, false, err, sizeof(err)) < 0,
	      "cancel/ opened before it was made");
	fd = spool_cancel_open(&sp, true, err, sizeof(err));
	CHECK(fd >= 0, "spool_cancel_open: %s", err);
	if (fd >= 0) {
		CHECK(!spool_cancel_requested(fd, ids[0]), "a request before it was made");
		CHECK(spool_cancel_request(fd, ids[0], err, sizeof(err)) == 0,
		      "spool_cancel_request: %s", err);
		CHECK(spool_cancel_requested(fd, ids[0]), "the request is not there");
		CHECK(spool_cancel_forget(fd, ids[0]) == 0 && !spool_cancel_requested(fd, ids[0]),
		      "the request was not forgotten");
		CHECK(spool_cancel_forget(fd, ids[0]) == 0, "forgetting no request fails");
		(void)close(fd);
	}
	spool_close(&sp);
}

/* check_usable: spool_open_existing creates nothing; spool_check_usable names what is not. */
static void
check_usable(const char *root)
{
	char dir[128], path[160], msg[1024];
	struct spool sp;

	snprintf(dir, sizeof(dir), "%s/other", root);
	CHECK(spool_open_existing(dir, &sp, msg, sizeof(msg)) == 0 && sp.root_fd < 0 &&
	          sp.incoming_fd < 0,
	      "spool_open_existing of a missing spool: %s", msg);
	spool_close(&sp);
	CHECK(access(dir, F_OK) < 0, "spool_open_existing created %s", dir);
	CHECK(spool_check_usable(dir, msg, sizeof(msg)) == 0, "a spool still to be made: %s", msg);
	CHECK(spool_open(dir, &sp, msg, sizeof(msg)) == 0, "spool_open: %s", msg);
	spool_close(&sp);
	CHECK(spool_check_usable(dir, msg, sizeof(msg)) == 0, "a fresh spool: %s", msg);
	snprintf(path, sizeof(path), "%s/incoming", dir);
	/* Not root: a folder of one's own made read-only. Root: the spool is nobody's, the
	 * folder root's (as a root command of an earlier version left it). */
	if (geteuid() == 0) {
		static const char *const others[] = {"",      "/tmp",    "/active",
		                                     "/done", "/failed", "/locks"};

		for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
			char other[200];

			snprintf(other, sizeof(other), "%s%s", dir, others[i]);
			CHECK(chown(other, 65534, 65534) == 0, "cannot chown %s", other);
		}
	} else
		CHECK(chmod(path, 0555) == 0, "cannot chmod %s", path);
	msg[0] = '\0';
	CHECK(spool_check_usable(dir, msg, sizeof(msg)) == -1 && strstr(msg, path) != NULL &&
	          strstr(msg, " is owned by ") != NULL,
	      "a folder the worker cannot write is not named with its owner: '%s'", msg);
	(void)chmod(path, 0755);
}

/* claim_size: the size of the claim file and the blocks it holds. */
static void
claim_size(struct spool_claim *claim, off_t *size, blkcnt_t *blocks)
{
	struct stat st;

	if (fstat(claim->fd, &st) < 0) {
		*size = -1;
		*blocks = -1;
		return;
	}
	*size = st.st_size;
	*blocks = st.st_blocks;
}

int
main(void)
{
	char root[] = "/tmp/test_spool.XXXXXX", spool_dir[64], err[512];
	struct spool sp;
	struct spool_claim claim, peek;
	off_t size0, size1;
	blkcnt_t blocks0, blocks1;
	bool running;
	int fd, job_fd;

	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(spool_dir, sizeof(spool_dir), "%s/spool", root);
	if (spool_open(spool_dir, &sp, err, sizeof(err)) < 0) {
		printf("not ok - spool_open: %s\n", err);
		return 1;
	}
	fd = openat(sp.incoming_fd, "backup.tar.gz", O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0, "cannot make a dropped file");

	CHECK(spool_claim(&sp, NULL, "backup.tar.gz", "11111111-2222-3333-4444-555555555555",
	                  &claim, err, sizeof(err)) == 0,
	      "spool_claim: %s", err);
	CHECK(claim.phase == SPOOL_PHASE_WAITING, "a new claim is waiting");
	claim_size(&claim, &size0, &blocks0);

	/* A restoring attempt with where it keeps things. */
	claim.attempts = 1;
	claim.phase = SPOOL_PHASE_RESTORING;
	snprintf(claim.target, sizeof(claim.target), "acceptance");
	snprintf(claim.work_dir, sizeof(claim.work_dir), "/var/lib/restore-worker");
	snprintf(claim.blob_dir, sizeof(claim.blob_dir), "/srv/app/files");
	CHECK(spool_claim_save(&claim, err, sizeof(err)) == 0, "save: %s", err);
	job_fd = claim.job_fd;
	CHECK(spool_claim_peek(job_fd, &peek, &running) == 0, "peek");
	CHECK(running, "the claim is held, so peek says running");
	CHECK(peek.phase == SPOOL_PHASE_RESTORING, "phase reads back (%d)", (int)peek.phase);
	CHECK(peek.attempts == 1, "attempts read back (%d)", peek.attempts);
	CHECK(strcmp(peek.target, "acceptance") == 0, "target reads back (%s)", peek.target);
	CHECK(strcmp(peek.work_dir, "/var/lib/restore-worker") == 0, "work_dir reads back");
	CHECK(strcmp(peek.blob_dir, "/srv/app/files") == 0, "blob_dir reads back");
	CHECK(strcmp(peek.name, "backup.tar.gz") == 0, "name reads back (%s)", peek.name);

	/* The outcome, with an error that tries to forge a field on a line of its own. */
	snprintf(claim.status, sizeof(claim.status), "partial");
	snprintf(claim.database_status, sizeof(claim.database_status), "restored");
	snprintf(claim.files_status, sizeof(claim.files_status), "partial");
	claim.files_count = 5000;
	claim.files_bytes = 515ULL * 1024 * 1024 * 1024;
	snprintf(claim.error, sizeof(claim.error), "swap failed\nphase=waiting\nattempts=0");
	/* What a report made from the claim needs, and what tells a commit's outcome later. */
	claim.dry_run = true;
	claim.db_only = true;
	claim.started_at_ms = 1796000000123ULL;
	snprintf(claim.archive_kind, sizeof(claim.archive_kind), "database_only");
	claim.decompressed = 123456789012ULL;
	snprintf(claim.xact_id, sizeof(claim.xact_id), "4294967999");
	claim.backend_pid = 4242;
	snprintf(claim.new_oid, sizeof(claim.new_oid), "16999");
	claim.staging_dev = 2049;
	claim.staging_ino = 18446744073709551000ULL;
	CHECK(spool_claim_finished(&claim, err, sizeof(err)) == 0, "finished: %s", err);
	claim_size(&claim, &size1, &blocks1);
	CHECK(size0 == size1 && size1 > 0, "the record keeps its size (%lld, then %lld)",
	      (long long)size0, (long long)size1);
	CHECK(blocks0 == blocks1, "the record keeps its blocks (%lld, then %lld)",
	      (long long)blocks0, (long long)blocks1);
	memset(&claim.status, 0, sizeof(claim.status));
	claim.phase = SPOOL_PHASE_WAITING;
	claim.dry_run = claim.db_only = false;
	claim.started_at_ms = claim.decompressed = claim.staging_dev = claim.staging_ino = 0;
	claim.backend_pid = 0;
	claim.archive_kind[0] = claim.xact_id[0] = claim.new_oid[0] = '\0';
	CHECK(spool_claim_reload(&claim) == 0, "reload");
	CHECK(claim.dry_run && claim.db_only, "dry_run and db_only read back");
	CHECK(claim.started_at_ms == 1796000000123ULL, "started_at_ms reads back");
	CHECK(strcmp(claim.archive_kind, "database_only") == 0, "archive_kind reads back");
	CHECK(claim.decompressed == 123456789012ULL, "decompressed reads back");
	CHECK(strcmp(claim.xact_id, "4294967999") == 0, "xact_id reads back (%s)", claim.xact_id);
	CHECK(claim.backend_pid == 4242, "backend_pid reads back (%d)", claim.backend_pid);
	CHECK(strcmp(claim.new_oid, "16999") == 0, "new_oid reads back");
	CHECK(claim.staging_dev == 2049 && claim.staging_ino == 18446744073709551000ULL,
	      "the staging folder's device and inode read back");
	CHECK(claim.phase == SPOOL_PHASE_FINISHED, "the phase is finished (%d)", (int)claim.phase);
	CHECK(claim.attempts == 1, "a line break in the error forges no field (attempts %d)",
	      claim.attempts);
	CHECK(strcmp(claim.status, "partial") == 0, "status reads back (%s)", claim.status);
	CHECK(strcmp(claim.database_status, "restored") == 0, "database_status reads back");
	CHECK(strcmp(claim.files_status, "partial") == 0, "files_status reads back");
	CHECK(claim.files_count == 5000, "files_count reads back");
	CHECK(claim.files_bytes == 515ULL * 1024 * 1024 * 1024, "files_bytes reads back");
	CHECK(strcmp(claim.error, "swap failed phase=waiting attempts=0") == 0,
	      "the error is one line (%s)", claim.error);

	/* A claim written by an earlier version: no phase, one attempt started. */
	{
		static const char old[] =
		    "name=backup.tar.gz\nfolder=\ntarget=acceptance\nattempts=1\n";

		CHECK(ftruncate(claim.fd, 0) == 0 &&
		          pwrite(claim.fd, old, sizeof(old) - 1, 0) == (ssize_t)sizeof(old) - 1,
		      "cannot write an old claim");
	}
	CHECK(spool_claim_reload(&claim) == 0, "reload of an old claim");
	CHECK(claim.phase == SPOOL_PHASE_RESTORING,
	      "an old claim with attempts reads as restoring");
	CHECK(claim.status[0] == '\0' && claim.blob_dir[0] == '\0', "fields it lacks are empty");
	CHECK(!claim.dry_run && !claim.db_only && claim.xact_id[0] == '\0' &&
	          claim.staging_ino == 0 && claim.backend_pid == 0,
	      "an old claim is no rehearsal and records no commit");

	spool_discard(&sp, &claim);
	spool_close(&sp);
	check_job_ids();
	check_cancel(spool_dir);
	check_usable(root);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", root);
	}
	if (failures == 0)
		printf("ok - claim records\n");
	return failures == 0 ? 0 : 1;
}
