/*
 * metrics.c - the worker's figures for Prometheus' node_exporter textfile collector.
 *
 * The daemon calls metrics_job_filed() each time it files a job into done/ or failed/. The
 * job's report.json is read there and its run counted per target in <spool_dir>/metrics.state
 * (metrics_state.c): read, counted and saved while holding an open-file-description lock on
 * <spool_dir>/metrics.lock, so the workers sharing a spool count each job once, into one set
 * of counters that a restart does not reset. restore and backup run by hand with a spool count
 * their run the same way (metrics_restore_by_hand, metrics_backup_by_hand: a backup's figures
 * come from its --json result) and write the metrics file themselves, with the spool's queue
 * and running jobs, as a worker would. metrics_update() writes the configuration's
 * metrics_file: the text format
 * of Prometheus (HELP and TYPE before each family), written to <metrics_file>.tmp.<pid> in the
 * same folder, fsynced, and renamed over it, so a reader sees the old file or the new one,
 * never a part. The collector reads only *.prom, so it never sees the temporary file.
 *
 * The workers of a spool may share one metrics_file, so nothing in it is one worker's own:
 * the running jobs are those of the whole spool, counted from the claims in active/ (a claim
 * a live worker holds). Every worker writes the file after each change it makes (a job
 * started or filed), counting and writing under metrics.lock, so the last file written
 * counts the latest state whichever worker wrote it; a worker that dies changes the count
 * without writing, which the others notice at their next rescan (the daemon invalidates the
 * file then).
 *
 * Diagnostics: a problem (an unwritable folder, a report that cannot be counted, a corrupt
 * state file) is a warning in the log and never fails a job; a lasting one is logged once.
 *
 * Limits: a worker killed between filing a job and saving the state loses that one run from
 * the counters (so does a restore or backup killed between its end and the count). A worker
 * notices the counts of a run by hand at its next write of the file (it reads the state
 * again then), not at once: the run by hand writes the file itself. A metrics.state that cannot be
 * read is logged and the counters last read are kept (none at start: they begin at zero again,
 * which Prometheus reads as a counter reset).
 */
#include <jansson.h> /* before json.h: see there */

#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "incoming.h"
#include "io.h"
#include "json.h"
#include "metrics_state.h"
#include "metrics_text.h"
#include "notify.h"
#include "report.h"

/* --- A report's members, read with jansson. --- */

/* report_get: the value at the path of member names (ending with NULL) in report, or NULL. */
static json_t *
report_get(json_t *report, ...)
{
	const char *name;
	va_list ap;

	va_start(ap, report);
	while (report != NULL && (name = va_arg(ap, const char *)) != NULL)
		report = json_object_get(report, name);
	va_end(ap);
	return report;
}

/* report_uint: the non-negative whole number value into *out; false when it is not one. */
static bool
report_uint(const json_t *value, uint64_t *out)
{
	if (!json_is_integer(value) || json_integer_value(value) < 0)
		return false;
	*out = (uint64_t)json_integer_value(value);
	return true;
}

/* report_is: is value the string word? */
static bool
report_is(const json_t *value, const char *word)
{
	return json_is_string(value) && strcmp(json_string_value(value), word) == 0;
}

/* rfc3339_seconds: "2024-05-01T12:00:00.123Z" (as reports write times) as Unix time. */
static bool
rfc3339_seconds(const char *s, double *out)
{
	struct tm tm;
	int n = 0;
	double fraction = 0, scale = 0.1;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return false;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			fraction += (*s - '0') * scale;
	if (strcmp(s, "Z") != 0)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (double)t + fraction;
	return true;
}

/* --- The counters. --- */

/* metrics_warn: log a warning, unless it is the one logged last. */
static void
metrics_warn(struct metrics *m, const char *job_id, const char *what)
{
	if (strcmp(m->last_error, what) == 0)
		return;
	snprintf(m->last_error, sizeof(m->last_error), "%s", what);
	log_line(LOG_PRIORITY_WARNING, job_id, "metrics: %s", what);
}

/* What a report or a backup result says of its run, read by run_read. */
struct run_said {
	struct metrics_target *t; /* its target's entry (added when new) */
	int result;               /* an index of metrics_result_name */
	double finished_s;        /* its finished_at (Unix time) */
	double duration;          /* its timings.total_s, else finished_at - started_at */
};

/*
 * run_read: the target, result (one of the first nresults), finish and duration doc says
 * (a report, or a backup's result: they share these members), the target's entry in m
 * added when new; 0, or -1 with err.
 */
static int
run_read(struct metrics *m, json_t *doc, int nresults, struct run_said *said, char *err,
         size_t errlen)
{
	const char *status = json_string_value(json_object_get(doc, "status"));
	const char *target = json_string_value(json_object_get(doc, "target"));
	const char *started = json_string_value(json_object_get(doc, "started_at"));
	const char *finished = json_string_value(json_object_get(doc, "finished_at"));
	json_t *total_s = report_get(doc, "timings", "total_s", NULL);
	double started_s;
	char names[96] = "";

	for (said->result = 0; said->result < nresults; said->result++)
		if (status != NULL && strcmp(status, metrics_result_name(said->result)) == 0)
			break;
	if (said->result == nresults) {
		for (int r = 0; r < nresults; r++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			         r > 0 ? ", " : "", metrics_result_name(r));
		return io_error(err, errlen, "its status '%.20s' is none of %s",
		                status != NULL ? status : "", names);
	}
	if (target == NULL || target[0] == '\0' || strlen(target) >= sizeof(said->t->name) ||
	    strchr(target, '/') != NULL)
		return io_error(err, errlen, "it names no target");
	if (finished == NULL || !rfc3339_seconds(finished, &said->finished_s))
		return io_error(err, errlen, "its finished_at is not an RFC 3339 time");
	if (json_is_number(total_s) && json_number_value(total_s) >= 0)
		said->duration = json_number_value(total_s);
	else
		said->duration = started != NULL && rfc3339_seconds(started, &started_s) &&
		                         said->finished_s > started_s
		                     ? said->finished_s - started_s
		                     : 0;
	said->t = metrics_target_get(&m->targets, &m->ntargets, target);
	if (said->t == NULL)
		return io_error(err, errlen, "out of memory");
	return 0;
}

int
metrics_count_report(struct metrics *m, const char *text, size_t len, char *err, size_t errlen)
{
	json_t *report = json_parse(text, len, err, errlen);
	struct metrics_target *t;
	struct run_said said;
	uint64_t bytes;
	int rc = -1;

	if (report == NULL)
		return -1;
	/* A rehearsal (--dry-run) restored nothing: it is no run of the target. */
	if (json_is_true(json_object_get(report, "dry_run"))) {
		json_decref(report);
		return 0;
	}
	if (run_read(m, report, METRICS_RESULTS, &said, err, errlen) < 0)
		goto done;
	t = said.t;
	t->runs[said.result]++;
	t->have_run = true;
	t->last_run = said.finished_s;
	t->last_duration = said.duration;
	if (said.result == METRICS_SUCCEEDED) {
		t->have_success = true;
		t->last_success = said.finished_s;
	}
	if (report_is(report_get(report, "database", "status", NULL), "restored") &&
	    report_uint(report_get(report, "database", "decompressed_bytes", NULL), &bytes))
		t->restored_bytes += bytes;
	if (report_is(report_get(report, "files", "status", NULL), "restored") &&
	    report_uint(report_get(report, "files", "bytes", NULL), &bytes))
		t->restored_bytes += bytes;
	t->have_missing =
	    report_uint(report_get(report, "files", "missing", "count", NULL), &t->missing_files);
	if (!t->have_missing)
		t->missing_files = 0;
	rc = 0;
done:
	json_decref(report);
	return rc;
}

int
metrics_count_backup(struct metrics *m, const char *text, size_t len, char *err, size_t errlen)
{
	json_t *result = json_parse(text, len, err, errlen);
	struct run_said said;
	uint64_t size = 0;
	int rc = -1;

	if (result == NULL)
		return -1;
	if (run_read(m, result, METRICS_BACKUP_RESULTS, &said, err, errlen) < 0)
		goto done;
	if (said.result == METRICS_SUCCEEDED &&
	    !report_uint(json_object_get(result, "archive_bytes"), &size)) {
		io_error(err, errlen, "its archive_bytes is not a whole number");
		goto done;
	}
	said.t->backup_runs[said.result]++;
	if (said.result == METRICS_SUCCEEDED) {
		said.t->have_backup = true;
		said.t->backup_last_success = said.finished_s;
		said.t->backup_last_duration = said.duration;
		said.t->backup_last_size = size;
	}
	rc = 0;
done:
	json_decref(result);
	return rc;
}

/* --- What the daemon calls. --- */

void
metrics_open(struct metrics *m, const char *spool_dir)
{
	memset(m, 0, sizeof(*m));
	m->spool_fd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->spool_fd < 0)
		log_line(LOG_PRIORITY_WARNING, NULL, "metrics: cannot open %s: %s", spool_dir,
		         strerror(errno));
	m->dirty = true;
}

void
metrics_close(struct metrics *m)
{
	if (m->spool_fd >= 0)
		(void)close(m->spool_fd);
	free(m->targets);
	free(m->written_path);
	memset(m, 0, sizeof(*m));
	m->spool_fd = -1;
}

void
metrics_invalidate(struct metrics *m)
{
	m->dirty = true;
}

void
metrics_job_filed(struct metrics *m, const struct config *config, const struct spool *sp,
                  const char *job_id)
{
	int folders[2] = {sp->done_fd, sp->failed_fd}, lock;
	char *text = NULL, err[512], msg[640];
	size_t len = 0;

	(void)config; /* counted with or without a metrics_file */
	if (m->spool_fd < 0)
		return;
	for (int k = 0; k < 2 && text == NULL; k++) {
		int job_fd =
		    openat(folders[k], job_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (job_fd < 0)
			continue;
		text = io_read_small(job_fd, "report.json", SPOOL_REPORT_MAX, &len);
		(void)close(job_fd);
	}
	if (text == NULL)
		return; /* still in active/: counted once it is filed */
	lock = metrics_state_lock(m);
	if (lock < 0)
		log_line(LOG_PRIORITY_WARNING, job_id,
		         "metrics: cannot lock %s (%s); counting without it", METRICS_LOCK_FILE,
		         strerror(errno));
	metrics_state_read(m);
	if (metrics_count_report(m, text, len, err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_WARNING, job_id,
		         "metrics: its report.json is not counted: %s", err);
	} else if (metrics_state_save(m, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "%s; the counters are kept in memory", err);
		metrics_warn(m, job_id, msg);
	}
	if (lock >= 0)
		(void)close(lock);
	free(text);
	m->dirty = true;
}

size_t
metrics_spool_running(const struct metrics *m)
{
	int active_fd = openat(m->spool_fd, "active", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = active_fd >= 0 ? fdopendir(active_fd) : NULL;
	struct dirent *de;
	size_t n = 0;

	if (dir == NULL) {
		if (active_fd >= 0)
			(void)close(active_fd);
		return 0;
	}
	while ((de = readdir(dir)) != NULL) {
		struct spool_claim claim;
		bool held;
		int job_fd;

		if (de->d_name[0] == '.')
			continue;
		job_fd =
		    openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (job_fd < 0)
			continue;
		if (spool_claim_peek(job_fd, &claim, &held) == 0 && held &&
		    claim.phase != SPOOL_PHASE_WAITING)
			n++;
		(void)close(job_fd);
	}
	(void)closedir(dir);
	return n;
}

void
metrics_update(struct metrics *m, const struct config *config, size_t queued, size_t running_here)
{
	char err[512], *text = NULL;
	size_t running;
	int lock;

	if (config->metrics_file == NULL || m->spool_fd < 0)
		return;
	running = metrics_spool_running(m);
	if (!m->dirty && m->queued == queued && m->running == running &&
	    m->running_here == running_here && m->written_path != NULL &&
	    strcmp(m->written_path, config->metrics_file) == 0)
		return;
	/*
	 * Counted again and written under the lock: of two workers writing one after the other,
	 * the second counts what the first saw or later, so the file ends with the latest count.
	 */
	lock = metrics_state_lock(m);
	if (lock < 0) {
		snprintf(err, sizeof(err), "cannot lock %s (%s); writing without it",
		         METRICS_LOCK_FILE, strerror(errno));
		metrics_warn(m, NULL, err);
	}
	metrics_state_read(m); /* another worker of the spool may have counted a job */
	running = metrics_spool_running(m);
	text = metrics_format(m, config, queued, running);
	if (text == NULL) {
		metrics_warn(m, NULL, "out of memory");
		goto done;
	}
	if (metrics_write_file(config->metrics_file, text, err, sizeof(err)) < 0) {
		metrics_warn(m, NULL, err);
		m->write_failed = true;
		goto done;
	}
	if (m->write_failed)
		log_line(LOG_PRIORITY_INFO, NULL, "metrics: %s written again",
		         config->metrics_file);
	m->write_failed = false;
	m->last_error[0] = '\0';
	m->dirty = false;
	m->queued = queued;
	m->running = running;
	m->running_here = running_here;
	if (m->written_path == NULL || strcmp(m->written_path, config->metrics_file) != 0) {
		free(m->written_path);
		m->written_path = strdup(config->metrics_file); /* NULL: written again next time */
	}
done:
	free(text);
	if (lock >= 0)
		(void)close(lock);
}

/* --- What restore and backup run by hand call. --- */

/*
 * queue_length: the files waiting in the spool's incoming/, as the daemon counts them; 0 when
 * inotify is refused (a rare limit: only this gauge is off, until a worker writes the file).
 */
static size_t
queue_length(const struct config *config, const struct spool *sp)
{
	struct incoming in;
	size_t n;

	if (incoming_open(&in, sp->incoming_fd, config->spool_dir) < 0) {
		incoming_close(&in);
		return 0;
	}
	incoming_scan(&in, 0);
	n = in.nfiles;
	incoming_close(&in);
	return n;
}

/*
 * by_hand: count the run json describes (what: "restore" or "backup", with count, its
 * counter) under metrics.lock, save metrics.state, and write config's metrics_file.
 */
static void
by_hand(const struct config *config, const struct spool *sp, const char *what, char *json,
        int (*count)(struct metrics *, const char *, size_t, char *, size_t))
{
	struct metrics m;
	char err[512], *text = NULL;
	int lock;

	if (json == NULL) {
		log_line(LOG_PRIORITY_WARNING, NULL,
		         "metrics: out of memory; this %s is not counted", what);
		return;
	}
	metrics_open(&m, config->spool_dir); /* says why it cannot */
	if (m.spool_fd < 0)
		goto done;
	lock = metrics_state_lock(&m);
	if (lock < 0)
		log_line(LOG_PRIORITY_WARNING, NULL,
		         "metrics: cannot lock %s/%s (%s); counting without it", config->spool_dir,
		         METRICS_LOCK_FILE, strerror(errno));
	metrics_state_read(&m);
	if (count(&m, json, strlen(json), err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_WARNING, NULL, "metrics: this %s is not counted: %s", what,
		         err);
	} else if (metrics_state_save(&m, err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_WARNING, NULL, "metrics: this %s is not counted: %s", what,
		         err);
	} else if (config->metrics_file != NULL) {
		text =
		    metrics_format(&m, config, queue_length(config, sp), metrics_spool_running(&m));
		if (text == NULL)
			log_line(LOG_PRIORITY_WARNING, NULL, "metrics: out of memory");
		else if (metrics_write_file(config->metrics_file, text, err, sizeof(err)) < 0)
			log_line(LOG_PRIORITY_WARNING, NULL, "metrics: %s", err);
	}
	free(text);
	if (lock >= 0)
		(void)close(lock);
done:
	metrics_close(&m);
	free(json);
}

void
metrics_restore_by_hand(const struct config *config, const struct spool *sp,
                        const struct report *report)
{
	/* A rehearsal restored nothing: nothing to count, nothing to write. */
	if (report->dry_run)
		return;
	by_hand(config, sp, "restore", report_json(report), metrics_count_report);
}

void
metrics_backup_by_hand(const struct config *config, const struct spool *sp,
                       const struct backup_result *result)
{
	by_hand(config, sp, "backup", backup_result_json(result), metrics_count_backup);
}
