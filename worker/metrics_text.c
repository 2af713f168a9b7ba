/*
 * metrics_text.c - the worker's counters (metrics.c) in Prometheus' text exposition format,
 * and the .prom file written so that node_exporter's textfile collector never reads a part of
 * it: <metrics_file>.tmp.<pid> in the same folder, fsynced, renamed over it.
 */
#include "metrics_text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

/* put_label: value as a label value of the text format (\\, \" and \n escaped). */
static void
put_label(FILE *out, const char *value)
{
	for (; *value != '\0'; value++) {
		if (*value == '\\')
			fputs("\\\\", out);
		else if (*value == '"')
			fputs("\\\"", out);
		else if (*value == '\n')
			fputs("\\n", out);
		else
			fputc(*value, out);
	}
}

/* put_family: the HELP and TYPE lines of a metric family. */
static void
put_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* put_sample_start: "name{target="..."" of a per-target sample; the caller ends it. */
static void
put_sample_start(FILE *out, const char *name, const char *target)
{
	fprintf(out, "%s{target=\"", name);
	put_label(out, target);
	fputc('"', out);
}

char *
metrics_format(const struct metrics *m, const struct config *config, size_t queued, size_t running)
{
	const struct metrics_target **per = calloc(config->ntargets + 1, sizeof(*per));
	static const struct metrics_target none;
	char *text = NULL;
	size_t size = 0;
	FILE *out;

	if (per == NULL)
		return NULL;
	out = open_memstream(&text, &size);
	if (out == NULL) {
		free(per);
		return NULL;
	}
	for (size_t i = 0; i < config->ntargets; i++) {
		per[i] = &none;
		for (size_t k = 0; k < m->ntargets; k++)
			if (strcmp(m->targets[k].name, config->targets[i].name) == 0)
				per[i] = &m->targets[k];
	}
	put_family(out, "restore_worker_runs_total", "counter",
	           "Restores finished, by target and result (succeeded, rejected, failed, "
	           "partial, cancelled).");
	for (size_t i = 0; i < config->ntargets; i++)
		for (int r = 0; r < METRICS_RESULTS; r++) {
			put_sample_start(out, "restore_worker_runs_total", config->targets[i].name);
			fprintf(out, ",result=\"%s\"} %llu\n", metrics_result_name(r),
			        (unsigned long long)per[i]->runs[r]);
		}
	put_family(out, "restore_worker_restored_bytes_total", "counter",
	           "Bytes restored: database.decompressed_bytes of runs whose database was "
	           "restored plus files.bytes of runs whose files were restored.");
	for (size_t i = 0; i < config->ntargets; i++) {
		put_sample_start(out, "restore_worker_restored_bytes_total",
		                 config->targets[i].name);
		fprintf(out, "} %llu\n", (unsigned long long)per[i]->restored_bytes);
	}
	put_family(out, "restore_worker_last_run_timestamp_seconds", "gauge",
	           "When the last run into the target finished, whatever its result (Unix "
	           "time).");
	for (size_t i = 0; i < config->ntargets; i++)
		if (per[i]->have_run) {
			put_sample_start(out, "restore_worker_last_run_timestamp_seconds",
			                 config->targets[i].name);
			fprintf(out, "} %.3f\n", per[i]->last_run);
		}
	put_family(out, "restore_worker_last_success_timestamp_seconds", "gauge",
	           "When the last succeeded run into the target finished (Unix time).");
	for (size_t i = 0; i < config->ntargets; i++)
		if (per[i]->have_success) {
			put_sample_start(out, "restore_worker_last_success_timestamp_seconds",
			                 config->targets[i].name);
			fprintf(out, "} %.3f\n", per[i]->last_success);
		}
	put_family(out, "restore_worker_last_duration_seconds", "gauge",
	           "How long the last run into the target took (its report's timings.total_s).");
	for (size_t i = 0; i < config->ntargets; i++)
		if (per[i]->have_run) {
			put_sample_start(out, "restore_worker_last_duration_seconds",
			                 config->targets[i].name);
			fprintf(out, "} %.3f\n", per[i]->last_duration);
		}
	put_family(out, "restore_worker_missing_files", "gauge",
	           "Files the database refers to that the last run into the target found "
	           "missing (its report's files.missing.count).");
	for (size_t i = 0; i < config->ntargets; i++)
		if (per[i]->have_missing) {
			put_sample_start(out, "restore_worker_missing_files",
			                 config->targets[i].name);
			fprintf(out, "} %llu\n", (unsigned long long)per[i]->missing_files);
		}
	put_family(out, "restore_worker_backup_runs_total", "counter",
	           "Backups made by restore-worker backup, by target and result (succeeded, "
	           "rejected, failed).");
	for (size_t i = 0; i < config->ntargets; i++)
		for (int r = 0; r < METRICS_BACKUP_RESULTS; r++) {
			put_sample_start(out, "restore_worker_backup_runs_total",
			                 config->targets[i].name);
			fprintf(out, ",result=\"%s\"} %llu\n", metrics_result_name(r),
			        (unsigned long long)per[i]->backup_runs[r]);
		}
	put_family(out, "restore_worker_backup_last_success_timestamp_seconds", "gauge",
	           "When the last succeeded backup of the target finished (Unix time).");
	for (size_t i = 0; i < config->ntargets; i++)
		if (per[i]->have_backup) {
			put_sample_start(out,
			                 "restore_worker_backup_last_success_timestamp_seconds",
			                 config->targets[i].name);
			fprintf(out, "} %.3f\n", per[i]->backup_last_success);
		}
	put_family(out, "restore_worker_backup_last_duration_seconds", "gauge",
	           "How long the last succeeded backup of the target took (its timings.total_s).");
	for (size_t i = 0; i < config->ntargets; i++)
		if (per[i]->have_backup) {
			put_sample_start(out, "restore_worker_backup_last_duration_seconds",
			                 config->targets[i].name);
			fprintf(out, "} %.3f\n", per[i]->backup_last_duration);
		}
	put_family(out, "restore_worker_backup_last_size_bytes", "gauge",
	           "The size of the last succeeded backup of the target (its archive_bytes).");
	for (size_t i = 0; i < config->ntargets; i++)
		if (per[i]->have_backup) {
			put_sample_start(out, "restore_worker_backup_last_size_bytes",
			                 config->targets[i].name);
			fprintf(out, "} %llu\n", (unsigned long long)per[i]->backup_last_size);
		}
	put_family(out, "restore_worker_queue_length", "gauge",
	           "Files waiting in incoming/ to be restored.");
	fprintf(out, "restore_worker_queue_length %zu\n", queued);
	put_family(
	    out, "restore_worker_running_jobs", "gauge",
	    "Restores running now in the spool, by any of its workers (jobs in active/ whose "
	    "claim a live worker holds, once started).");
	fprintf(out, "restore_worker_running_jobs %zu\n", running);
	free(per);
	if (ferror(out)) {
		(void)fclose(out);
		free(text);
		return NULL;
	}
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * metrics_write_file: path := text, through <path>.tmp.<pid> in the same folder (fsync, then
 * rename, then fsync the folder); 0 or -1 with err, the temporary file removed.
 */
int
metrics_write_file(const char *path, const char *text, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], tmp[NAME_MAX + 1];
	struct io_atomic a = {.dir_shown = dir, .tmp = tmp, .mode = 0644};
	int dir_fd, n;

	if (slash == NULL)
		return io_error(err, errlen, "%s is not an absolute path", path);
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", slash + 1, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return io_error(err, errlen, "the name of %s is too long", path);
	dir_fd = open(dir[0] != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return io_error(err, errlen, "cannot open the folder of %s: %s", path,
		                strerror(errno));
	a.dir_fd = dir_fd;
	a.name = slash + 1;
	if (dir[0] == '\0')
		a.dir_shown = "/";
	if (io_atomic_open(&a, err, errlen) < 0) {
		(void)close(dir_fd);
		return -1;
	}
	/* node_exporter reads it as a user of its own, whatever the worker's umask. */
	if (fchmod(a.fd, 0644) < 0) {
		io_error(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto fail;
	}
	if (io_atomic_write(&a, text, strlen(text), err, errlen) < 0 ||
	    io_atomic_commit(&a, err, errlen) < 0) {
		/* In place: a folder that cannot be synced only risks it after a crash. */
		if (a.renamed)
			goto done;
		goto fail;
	}
done:
	(void)close(dir_fd);
	return 0;
fail:
	io_atomic_abort(&a);
	(void)close(dir_fd);
	return -1;
}
