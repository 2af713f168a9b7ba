/*
 * status.c - submit a job, and list the spool's jobs.
 *
 * Both only read the spool or add to it the documented way (a file written in tmp/, then
 * renamed into incoming/); neither ever moves or locks a job, so they are safe next to a
 * running worker.
 */
#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "io.h"
#include "json.h"
#include "progress_view.h"
#include "jobfile.h"
#include "restore.h"
#include "spool.h"

int
status_submit(const struct config *config, const char *archive, const char *target, bool db_only,
              bool dry_run)
{
	char path[PATH_MAX], job_id[37], name[64], err[1024];
	struct spool sp;
	struct stat st;
	char *text;
	int rc = 1;

	if (realpath(archive, path) == NULL || stat(path, &st) < 0) {
		fprintf(stderr, "restore-worker: %s: %s\n", archive, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode) || access(path, R_OK) < 0) {
		fprintf(stderr, "restore-worker: %s: not a readable file\n", archive);
		return 1;
	}
	if (strpbrk(path, "\n\r") != NULL) {
		fprintf(stderr,
		        "restore-worker: %s: a path with a line break cannot be submitted\n",
		        archive);
		return 1;
	}
	if (spool_open(config->spool_dir, &sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		return 2;
	}
	restore_new_job_id(job_id);
	snprintf(name, sizeof(name), "submit-%s.yaml", job_id);
	text = jobfile_write(path, target, db_only, dry_run);
	if (text == NULL) {
		fprintf(stderr, "restore-worker: out of memory\n");
		goto done;
	}
	/* Written whole in tmp/, then renamed into incoming/: the worker never sees half. */
	if (spool_write_atomic(sp.tmp_fd, name, text, strlen(text), err, sizeof(err)) < 0 ||
	    renameat(sp.tmp_fd, name, sp.incoming_fd, name) < 0 || fsync(sp.incoming_fd) < 0) {
		fprintf(stderr, "restore-worker: cannot submit %s: %s\n", archive,
		        err[0] != '\0' ? err : strerror(errno));
		(void)unlinkat(sp.tmp_fd, name, 0);
		goto done;
	}
	printf("%s/incoming/%s\n", config->spool_dir, name);
	rc = 0;
done:
	free(text);
	spool_close(&sp);
	return rc;
}

/* list_queued: the files waiting in incoming/ and incoming/<target>/. */
static void
list_queued(const struct config *config, int incoming_fd, const char *folder, struct json_writer *w,
            bool json)
{
	DIR *dir = io_opendir(incoming_fd, folder != NULL ? folder : ".");
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		const char *target = folder != NULL ? folder : config->default_target;

		if (spool_name_ignored(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (folder == NULL)
				list_queued(config, incoming_fd, de->d_name, w, json);
			continue;
		}
		if (json) {
			json_begin_object(w);
			json_key(w, "name");
			json_string(w, de->d_name);
			json_key(w, "target");
			json_string(w, target != NULL ? target : "");
			json_end_object(w);
		} else {
			printf("queued   %-40s %s\n", de->d_name, target != NULL ? target : "-");
		}
	}
	(void)closedir(dir);
}

/* write_progress: a running job's progress.json as "progress": {...}, from its members. */
static void
write_progress(struct json_writer *w, const char *text, size_t len)
{
	static const char *const strings[] = {"job_id", "phase", "updated_at"};
	static const char *const seconds[] = {"elapsed_s", "eta_s"};
	static const char *const counts[] = {
	    "archive_bytes", "archive_size",     "database_bytes",
	    "database_size", "database_items",   "files",
	    "file_bytes",    "file_bytes_total", "database_item_total",
	};
	struct json_member *m = NULL;
	size_t n = 0;
	char why[128];

	if (json_parse_members(text, len, &m, &n, why, sizeof(why)) < 0)
		return;
	json_key(w, "progress");
	json_begin_object(w);
	for (size_t k = 0; k < sizeof(strings) / sizeof(strings[0]); k++) {
		const char *v = json_member_find(m, n, strings[k]);

		json_key(w, strings[k]);
		json_string(w, v != NULL ? v : "");
	}
	for (size_t k = 0; k < sizeof(seconds) / sizeof(seconds[0]); k++) {
		const char *v = json_member_find(m, n, seconds[k]);

		json_key(w, seconds[k]);
		if (v != NULL)
			json_fixed3(w, strtod(v, NULL));
		else
			json_null(w);
	}
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		const char *v = json_member_find(m, n, counts[k]);

		json_key(w, counts[k]);
		json_uint(w, v != NULL ? strtoull(v, NULL, 10) : 0);
	}
	json_end_object(w);
	json_members_free(m, n);
}

/* list_jobs: the job folders in active/, done/ or failed/. */
static void
list_jobs(const struct config *config, int parent_fd, const char *state, struct json_writer *w,
          bool json)
{
	DIR *dir = io_opendir(parent_fd, ".");
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct json_member *m = NULL;
		size_t n = 0, len;
		char *text, why[128];
		int job_fd;

		if (de->d_name[0] == '.')
			continue;
		job_fd =
		    openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (job_fd < 0)
			continue;
		if (strcmp(state, "active") == 0) {
			struct spool_claim claim;
			bool running;
			const char *target;
			char summary[160] = "";
			size_t plen = 0;
			char *progress;

			(void)spool_claim_peek(job_fd, &claim, &running);
			progress = running ? progress_view_read(job_fd, &plen) : NULL;
			if (progress != NULL &&
			    !progress_view_summary(progress, plen, summary, sizeof(summary)))
				summary[0] = '\0';
			/* Not started yet: the target of the folder it was dropped in. */
			target = claim.target[0] != '\0'          ? claim.target
			         : claim.folder[0] != '\0'        ? claim.folder
			         : config->default_target != NULL ? config->default_target
			                                          : "";
			if (json) {
				json_begin_object(w);
				json_key(w, "job_id");
				json_string(w, de->d_name);
				json_key(w, "name");
				json_string(w, claim.name);
				json_key(w, "target");
				json_string(w, target);
				json_key(w, "attempts");
				json_uint(w, (uint64_t)claim.attempts);
				json_key(w, "running");
				json_bool(w, running);
				json_key(w, "phase");
				json_string(w, spool_phase_name(claim.phase));
				if (claim.phase == SPOOL_PHASE_FINISHED) {
					json_key(w, "status");
					json_string(w, claim.status);
				}
				if (progress != NULL)
					write_progress(w, progress, plen);
				json_end_object(w);
			} else {
				printf("%-8s %s %s -> %s (attempt %d, %s%s%s%s%s%s)\n",
				       running ? "running" : "orphaned", de->d_name, claim.name,
				       target, claim.attempts, spool_phase_name(claim.phase),
				       claim.phase == SPOOL_PHASE_FINISHED ? " " : "",
				       claim.phase == SPOOL_PHASE_FINISHED ? claim.status : "",
				       claim.phase == SPOOL_PHASE_FINISHED
				           ? ", report not yet written"
				           : (running ? "" : ", worker gone"),
				       summary[0] != '\0' ? ": " : "", summary);
			}
			free(progress);
		} else {
			text = io_read_small(job_fd, "report.json", SPOOL_REPORT_MAX, &len);
			if (text != NULL &&
			    json_parse_members(text, len, &m, &n, why, sizeof(why)) < 0)
				m = NULL, n = 0;
			if (json) {
				static const char *const keys[] = {"status", "source", "target",
				                                   "error", "finished_at"};

				json_begin_object(w);
				json_key(w, "job_id");
				json_string(w, de->d_name);
				for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
					const char *v = json_member_find(m, n, keys[k]);

					if (v != NULL) {
						json_key(w, keys[k]);
						json_string(w, v);
					}
				}
				json_end_object(w);
			} else {
				const char *st = json_member_find(m, n, "status");
				const char *err = json_member_find(m, n, "error");

				printf("%-8s %s %s -> %s %s%s%s\n", st != NULL ? st : state,
				       de->d_name, json_member_find(m, n, "source") ?: "?",
				       json_member_find(m, n, "target") ?: "?",
				       json_member_find(m, n, "finished_at") ?: "",
				       err != NULL ? ": " : "", err != NULL ? err : "");
			}
			json_members_free(m, n);
			free(text);
		}
		(void)close(job_fd);
	}
	(void)closedir(dir);
}

int
status_print(const struct config *config, bool json)
{
	struct json_writer w = {0};
	struct spool sp;
	char err[1024], *text;

	if (spool_open(config->spool_dir, &sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		return 2;
	}
	if (json)
		json_begin_object(&w);
	if (json) {
		json_key(&w, "queued");
		json_begin_array(&w);
	}
	list_queued(config, sp.incoming_fd, NULL, &w, json);
	const char *states[] = {"active", "done", "failed"};
	int fds[] = {sp.active_fd, sp.done_fd, sp.failed_fd};
	for (int i = 0; i < 3; i++) {
		if (json) {
			json_end_array(&w);
			json_key(&w, states[i]);
			json_begin_array(&w);
		}
		list_jobs(config, fds[i], states[i], &w, json);
	}
	spool_close(&sp);
	if (!json)
		return 0;
	json_end_array(&w);
	json_end_object(&w);
	text = json_finish(&w);
	if (text == NULL) {
		fprintf(stderr, "restore-worker: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}
