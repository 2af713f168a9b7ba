/*
 * backup.c - restore-worker backup: make a backup of a target in the format a restore takes
 * (see backup.h).
 *
 * The order of it all:
 *  1. Which pg_dump, and what archive version it writes (backup_dump.c).
 *  2. The output: "<name>.part" is created (O_EXCL) in the output folder first, so that an
 *     output that cannot be written fails before the dump is made.
 *  3. The database, over libpq: its name, pg_database_size, and the model version Mendix
 *     records (backup_dump.c).
 *  4. pg_dump -O -x -Fc --verbose into work_dir, its header checked (backup_dump.c); the tables
 *     its --verbose lines name are the progress (options->progress, while each step runs); for
 *     a full snapshot, in the snapshot of a transaction of ours, in which the file documents
 *     marked DeleteAfterDownload are read once pg_dump has finished (backup_leftout.c).
 *  5. For a full snapshot, the files of blob_dir but those marked are measured, .metadata is
 *     made, and the snapshot is written (backup_archive.c); for db_only the dump is copied.
 *  6. The .part file is fsynced, closed and renamed, and its folder fsynced; then, when told,
 *     older backups of the folder go (backup_keep.c).
 * Any failure removes the .part file and the dump: nothing is left behind but by a kill -9
 * (then work_dir/backup-<job id>.dump and <name>.part remain; see README).
 */
#include "backup_parts.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conninfo.h"
#include "io.h"
#include "job_id.h"
#include "json.h"

/* log_line: a progress line for a human, when the caller wants them. */
static void log_line(const struct backup_state *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
log_line(const struct backup_state *run, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (run->o->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	run->o->log(run->o->log_ctx, line);
}

/* seconds_since: the seconds from t to now. */
static double
seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/*
 * open_output: the output's folder and "<name>.part" in it (or output_fd for "-"); 0, or -1
 * with run->err.
 */
static int
open_output(struct backup_state *run, time_t started)
{
	const struct backup_options *o = run->o;
	const char *output = o->output != NULL ? o->output : ".";
	char *dir = NULL, *path = NULL;
	const char *slash;
	struct stat st;
	int rc = -1;

	backup_name(run->name, sizeof(run->name), o->db_only, run->r->job_id, started);
	if (strcmp(output, "-") == 0) {
		run->out_fd = o->output_fd;
		run->r->archive = strdup("-");
		return run->r->archive != NULL
		           ? 0
		           : io_error(run->err, sizeof(run->err), "out of memory");
	}
	if (stat(output, &st) == 0 && S_ISDIR(st.st_mode)) {
		dir = strdup(output);
	} else if (output[strlen(output) - 1] == '/') {
		return io_error(run->err, sizeof(run->err), "the output folder %s does not exist",
		                output);
	} else {
		slash = strrchr(output, '/');
		dir = slash == NULL     ? strdup(".")
		      : slash == output ? strdup("/")
		                        : strndup(output, (size_t)(slash - output));
		if (strlen(slash != NULL ? slash + 1 : output) >= sizeof(run->name))
			return io_error(run->err, sizeof(run->err),
			                "the output name %s is too long", output);
		snprintf(run->name, sizeof(run->name), "%s", slash != NULL ? slash + 1 : output);
	}
	if (dir == NULL)
		return io_error(run->err, sizeof(run->err), "out of memory");
	if (asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", run->name) < 0) {
		path = NULL;
		(void)io_error(run->err, sizeof(run->err), "out of memory");
		goto done;
	}
	run->r->archive = path;
	path = NULL;
	run->out_dir = dir;
	dir = NULL;
	snprintf(run->part, sizeof(run->part), "%s.part", run->name);
	run->out_dir_fd = open(run->out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->out_dir_fd < 0) {
		(void)io_error(run->err, sizeof(run->err), "cannot open the output folder %s: %s",
		               run->out_dir, strerror(errno));
		goto done;
	}
	run->out_fd = openat(run->out_dir_fd, run->part,
	                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (run->out_fd < 0) {
		(void)io_error(run->err, sizeof(run->err), "cannot create %s.part: %s",
		               run->r->archive, strerror(errno));
		goto done;
	}
	run->part_made = true;
	rc = 0;
done:
	free(dir);
	return rc;
}
/* metadata_text: .metadata, every value a string, in the documentation's order. */
static char *
metadata_text(const struct backup_result *r)
{
	struct json_writer w = {0};
	char n[32];

	json_begin_object(&w);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)r->metadata_duration_s);
	json_key(&w, "duration");
	json_string(&w, n);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)r->dump_bytes);
	json_key(&w, "dumpSize");
	json_string(&w, n);
	if (r->model_version != NULL) {
		json_key(&w, "modelVersion");
		json_string(&w, r->model_version);
	}
	snprintf(n, sizeof(n), "%llu", (unsigned long long)r->database_bytes);
	json_key(&w, "databaseSize");
	json_string(&w, n);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)r->files_measured_bytes);
	json_key(&w, "filesSize");
	json_string(&w, n);
	json_end_object(&w);
	return json_finish(&w);
}

/* write_backup: the files' measure, .metadata and the snapshot, or the bare dump. */
static int
write_backup(struct backup_state *run, const struct timespec *start)
{
	struct backup_result *r = run->r;
	struct timespec t, measured_at;
	char *metadata;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t);
	if (run->o->db_only) {
		run->watch.p.dump_size = r->dump_bytes;
		backup_watch_phase(&run->watch, "writing");
		rc = backup_copy(&run->watch, run->dump_fd, run->out_fd, &r->archive_bytes,
		                 run->err, sizeof(run->err));
		r->write_s = seconds_since(&t);
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &measured_at);
	if (backup_files_measure(&run->watch, r, &run->leftout, run->err, sizeof(run->err)) < 0)
		return -1;
	r->files_s = seconds_since(&t);
	log_line(run, "%s measured: %llu bytes in %.3f s",
	         restore_target_store_kind(run->o->target),
	         (unsigned long long)r->files_measured_bytes, r->files_s);
	r->metadata_duration_s = (uint64_t)(seconds_since(start) + 0.5);
	metadata = metadata_text(r);
	if (metadata == NULL)
		return io_error(run->err, sizeof(run->err), "out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t);
	rc = backup_snapshot_write(&run->watch, r, &run->leftout, run->out_fd, run->dump_fd,
	                           metadata, strlen(metadata), &measured_at, run->err,
	                           sizeof(run->err));
	free(metadata);
	r->write_s = seconds_since(&t);
	if (rc == 0 && r->files_left_out > 0)
		log_line(run,
		         "%llu file%s of %s left out by design: %s file document%s "
		         "DeleteAfterDownload set (as the dump's snapshot says)",
		         (unsigned long long)r->files_left_out, r->files_left_out == 1 ? "" : "s",
		         restore_target_store_kind(run->o->target),
		         r->files_left_out == 1 ? "its" : "their",
		         r->files_left_out == 1 ? " has" : "s have");
	return rc;
}

/* finish_output: make the .part file durable and give it its name. */
static int
finish_output(struct backup_state *run)
{
	struct io_atomic out = {.dir_fd = run->out_dir_fd,
	                        .dir_shown = run->out_dir,
	                        .name = run->name,
	                        .tmp = run->part,
	                        .fd = run->out_fd};
	int rc = io_atomic_commit(&out, run->err, sizeof(run->err));

	run->out_fd = -1;
	run->part_made = !out.renamed; /* backup_run removes it */
	return rc;
}

/* steps: everything after the result is set up; 0, or -1 with run->err. */
static int
steps(struct backup_state *run, const struct timespec *start, time_t started)
{
	struct backup_result *r = run->r;
	struct timespec t;

	if (backup_read_database(run) < 0 || backup_pick_pg_dump(run) < 0 ||
	    open_output(run, started) < 0)
		return -1;
	log_line(run, "backing up target %s (PostgreSQL %s) into %s with %s (PostgreSQL %s)",
	         r->target, r->server_version, r->archive, r->pg_dump, r->pg_dump_version);
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (backup_leftout_begin(run) < 0 || backup_make_dump(run) < 0 ||
	    backup_leftout_read(run) < 0)
		return -1;
	r->dump_s = seconds_since(&t);
	log_line(run, "database %s dumped: %llu bytes (archive %s) in %.3f s", run->dbname,
	         (unsigned long long)r->dump_bytes, r->dump_version, r->dump_s);
	if (write_backup(run, start) < 0)
		return -1;
	if (run->out_dir_fd >= 0 && finish_output(run) < 0)
		return -1;
	if (run->out_dir_fd >= 0 && run->o->keep > 0)
		backup_keep_newest(run->out_dir_fd, run->out_dir, run->o->db_only, run->o->keep,
		                   run->name, run->o->folder_exclusive, r);
	return 0;
}

int
backup_run(const struct backup_options *o, struct backup_result *r)
{
	struct backup_state run = {.o = o, .r = r, .out_dir_fd = -1, .out_fd = -1, .dump_fd = -1};
	struct timespec start;
	int rc;

	memset(r, 0, sizeof(*r));
	backup_watch_init(&run.watch, o);
	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_REALTIME, &r->started_at);
	if (o->job_id != NULL)
		snprintf(r->job_id, sizeof(r->job_id), "%s", o->job_id);
	else
		restore_new_job_id(r->job_id);
	r->kind = o->db_only ? "database_only" : "full_snapshot";
	r->status = "failed";
	r->target = strdup(o->target->name);
	if (r->target == NULL)
		rc = io_error(run.err, sizeof(run.err), "out of memory");
	else
		rc = steps(&run, &start, r->started_at.tv_sec);
	if (run.out_fd >= 0 && run.out_fd != o->output_fd)
		(void)close(run.out_fd); /* failed: what it holds goes */
	if (run.part_made && unlinkat(run.out_dir_fd, run.part, 0) < 0 && errno != ENOENT)
		backup_warn(r, "cannot remove %s.part: %s", r->archive, strerror(errno));
	if (run.out_dir_fd >= 0)
		(void)close(run.out_dir_fd);
	if (run.dump_fd >= 0)
		(void)close(run.dump_fd);
	if (run.dump_path != NULL && unlink(run.dump_path) < 0 && errno != ENOENT)
		backup_warn(r, "cannot remove the dump %s: %s", run.dump_path, strerror(errno));
	backup_leftout_free(&run.leftout);
	free(run.dump_path);
	free(run.out_dir);
	if (run.options != NULL)
		PQconninfoFree(run.options);
	conninfo_secrets_free(&run.secrets);
	r->total_s = seconds_since(&start);
	clock_gettime(CLOCK_REALTIME, &r->finished_at);
	if (rc < 0) {
		if (strcmp(r->status, "rejected") != 0)
			r->status = "failed";
		r->error = strdup(run.err);
		return RESTORE_EXIT_UNCHANGED;
	}
	r->status = "succeeded";
	return RESTORE_EXIT_SUCCEEDED;
}
