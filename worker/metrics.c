/*
 * metrics.c - the worker's figures for Prometheus' node_exporter textfile collector.
 *
 * The daemon calls metrics_job_filed() each time it files a job into done/ or failed/. The
 * job's report.json is read there and its run counted per target in <spool_dir>/metrics.state
 * (a flat JSON object, "<target>/<field>": number, replaced atomically): read, counted and
 * saved while holding an open-file-description lock on <spool_dir>/metrics.lock, so the
 * workers sharing a spool count each job once, into one set of counters that a restart does
 * not reset. metrics_update() then writes the configuration's metrics_file: the text format
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
 * the counters. A metrics.state that cannot be read is logged and the counters last read are
 * kept (none at start: they begin at zero again, which Prometheus reads as a counter reset).
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

#include "io.h"
#include "json.h"
#include "metrics_text.h"
#include "notify.h"

#define METRICS_STATE_MAX (1024 * 1024) /* a few hundred bytes per target */

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

/* targets_get: the entry of target name in list, added (zero) when missing; NULL: no memory. */
static struct metrics_target *
targets_get(struct metrics_target **list, size_t *n, const char *name)
{
	struct metrics_target *grown;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*list)[i].name, name) == 0)
			return &(*list)[i];
	grown = realloc(*list, (*n + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	*list = grown;
	memset(&grown[*n], 0, sizeof(grown[0]));
	snprintf(grown[*n].name, sizeof(grown[0].name), "%s", name);
	return &grown[(*n)++];
}

/* target_field: set field of t from its value in metrics.state; false when not a number. */
static bool
target_field(struct metrics_target *t, const char *field, const json_t *value)
{
	uint64_t *count = NULL;
	double *seconds = NULL;

	if (!json_is_number(value) || json_number_value(value) < 0)
		return false;
	for (int r = 0; r < METRICS_RESULTS; r++)
		if (strncmp(field, "runs_", 5) == 0 &&
		    strcmp(field + 5, metrics_result_name(r)) == 0)
			count = &t->runs[r];
	if (strcmp(field, "restored_bytes") == 0) {
		count = &t->restored_bytes;
	} else if (strcmp(field, "missing_files") == 0) {
		count = &t->missing_files;
		t->have_missing = true;
	} else if (strcmp(field, "last_run") == 0) {
		seconds = &t->last_run;
		t->have_run = true;
	} else if (strcmp(field, "last_duration") == 0) {
		seconds = &t->last_duration;
	} else if (strcmp(field, "last_success") == 0) {
		seconds = &t->last_success;
		t->have_success = true;
	}
	if (count != NULL && !json_is_integer(value))
		return false;
	if (count != NULL)
		*count = (uint64_t)json_integer_value(value);
	else if (seconds != NULL)
		*seconds = json_number_value(value);
	return true; /* a field of a later version is left alone */
}

/* metrics_warn: log a warning, unless it is the one logged last. */
static void
metrics_warn(struct metrics *m, const char *job_id, const char *what)
{
	if (strcmp(m->last_error, what) == 0)
		return;
	snprintf(m->last_error, sizeof(m->last_error), "%s", what);
	log_line(LOG_PRIORITY_WARNING, job_id, "metrics: %s", what);
}

/*
 * state_read: replace m's targets with what metrics.state holds. A missing file changes
 * nothing (no run counted yet, or the counters in memory are newer); an unreadable one is
 * logged once and changes nothing either, so counters never go backwards while running.
 */
static void
state_read(struct metrics *m)
{
	struct metrics_target *list = NULL;
	size_t len, n = 0;
	char why[256], msg[512];
	char *text = io_read_small(m->spool_fd, METRICS_STATE_FILE, METRICS_STATE_MAX, &len);
	json_t *state = NULL, *value;
	const char *key;

	if (text == NULL) {
		if (errno == ENOENT)
			return;
		snprintf(why, sizeof(why), "%s", strerror(errno));
		goto bad;
	}
	state = json_parse(text, len, why, sizeof(why));
	if (state == NULL)
		goto bad;
	json_object_foreach(state, key, value)
	{
		const char *slash = strrchr(key, '/');
		char name[80];
		struct metrics_target *t;

		if (slash == NULL)
			continue; /* "version" */
		if (slash == key || (size_t)(slash - key) >= sizeof(name)) {
			snprintf(why, sizeof(why), "member \"%.80s\" names no target", key);
			goto bad;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(slash - key), key);
		t = targets_get(&list, &n, name);
		if (t == NULL) {
			snprintf(why, sizeof(why), "out of memory");
			goto bad;
		}
		if (!target_field(t, slash + 1, value)) {
			snprintf(why, sizeof(why), "member \"%.80s\" is not a number", key);
			goto bad;
		}
	}
	json_decref(state);
	free(text);
	free(m->targets);
	m->targets = list;
	m->ntargets = n;
	m->state_warned = false;
	return;
bad:
	if (!m->state_warned) {
		snprintf(msg, sizeof(msg),
		         "%s is unreadable (%s); keeping the counters in memory (zero at start), "
		         "and it is written anew when the next job is filed",
		         METRICS_STATE_FILE, why);
		log_line(LOG_PRIORITY_WARNING, NULL, "metrics: %s", msg);
		m->state_warned = true;
	}
	json_decref(state);
	free(list);
	free(text);
}

/* state_save: write m's targets into metrics.state, atomically; 0 or -1 with err. */
static int
state_save(struct metrics *m, char *err, size_t errlen)
{
	struct json_writer w;
	char key[128], *text;
	int rc;

	memset(&w, 0, sizeof(w));
	json_begin_object(&w);
	json_key(&w, "version");
	json_uint(&w, 1);
	for (size_t i = 0; i < m->ntargets; i++) {
		const struct metrics_target *t = &m->targets[i];

#define STATE_KEY(field) (snprintf(key, sizeof(key), "%s/%s", t->name, field), key)
		for (int r = 0; r < METRICS_RESULTS; r++) {
			char field[32];

			snprintf(field, sizeof(field), "runs_%s", metrics_result_name(r));
			json_key(&w, STATE_KEY(field));
			json_uint(&w, t->runs[r]);
		}
		json_key(&w, STATE_KEY("restored_bytes"));
		json_uint(&w, t->restored_bytes);
		if (t->have_run) {
			json_key(&w, STATE_KEY("last_run"));
			json_fixed3(&w, t->last_run);
			json_key(&w, STATE_KEY("last_duration"));
			json_fixed3(&w, t->last_duration);
		}
		if (t->have_success) {
			json_key(&w, STATE_KEY("last_success"));
			json_fixed3(&w, t->last_success);
		}
		if (t->have_missing) {
			json_key(&w, STATE_KEY("missing_files"));
			json_uint(&w, t->missing_files);
		}
#undef STATE_KEY
	}
	json_end_object(&w);
	text = json_finish(&w);
	if (text == NULL)
		return io_error(err, errlen, "out of memory");
	rc = spool_write_atomic(m->spool_fd, METRICS_STATE_FILE, text, strlen(text), err, errlen);
	free(text);
	return rc;
}

/* state_lock: lock metrics.lock (waiting for another worker); its descriptor, or -1. */
static int
state_lock(struct metrics *m)
{
	struct flock fl;
	int fd =
	    openat(m->spool_fd, METRICS_LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			(void)close(fd);
			return -1;
		}
	}
	return fd;
}

int
metrics_count_report(struct metrics *m, const char *text, size_t len, char *err, size_t errlen)
{
	json_t *report = json_parse(text, len, err, errlen), *total_s;
	const char *status, *target, *started, *finished;
	struct metrics_target *t;
	double finished_s, started_s, duration;
	uint64_t bytes;
	int result, rc = -1;

	if (report == NULL)
		return -1;
	/* A rehearsal (--dry-run) restored nothing: it is no run of the target. */
	if (json_is_true(json_object_get(report, "dry_run"))) {
		json_decref(report);
		return 0;
	}
	status = json_string_value(json_object_get(report, "status"));
	target = json_string_value(json_object_get(report, "target"));
	started = json_string_value(json_object_get(report, "started_at"));
	finished = json_string_value(json_object_get(report, "finished_at"));
	for (result = 0; result < METRICS_RESULTS; result++)
		if (status != NULL && strcmp(status, metrics_result_name(result)) == 0)
			break;
	if (result == METRICS_RESULTS) {
		io_error(err, errlen,
		         "its status '%.20s' is none of succeeded, rejected, failed, partial",
		         status != NULL ? status : "");
		goto done;
	}
	if (target == NULL || target[0] == '\0' || strlen(target) >= sizeof(t->name) ||
	    strchr(target, '/') != NULL) {
		io_error(err, errlen, "it names no target");
		goto done;
	}
	if (finished == NULL || !rfc3339_seconds(finished, &finished_s)) {
		io_error(err, errlen, "its finished_at is not an RFC 3339 time");
		goto done;
	}
	total_s = report_get(report, "timings", "total_s", NULL);
	if (json_is_number(total_s) && json_number_value(total_s) >= 0)
		duration = json_number_value(total_s);
	else
		duration = started != NULL && rfc3339_seconds(started, &started_s) &&
		                   finished_s > started_s
		               ? finished_s - started_s
		               : 0;
	t = targets_get(&m->targets, &m->ntargets, target);
	if (t == NULL) {
		io_error(err, errlen, "out of memory");
		goto done;
	}
	t->runs[result]++;
	t->have_run = true;
	t->last_run = finished_s;
	t->last_duration = duration;
	if (result == METRICS_SUCCEEDED) {
		t->have_success = true;
		t->last_success = finished_s;
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

	if (config->metrics_file == NULL || m->spool_fd < 0)
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
	lock = state_lock(m);
	if (lock < 0)
		log_line(LOG_PRIORITY_WARNING, job_id,
		         "metrics: cannot lock %s (%s); counting without it", METRICS_LOCK_FILE,
		         strerror(errno));
	state_read(m);
	if (metrics_count_report(m, text, len, err, sizeof(err)) < 0) {
		log_line(LOG_PRIORITY_WARNING, job_id,
		         "metrics: its report.json is not counted: %s", err);
	} else if (state_save(m, err, sizeof(err)) < 0) {
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
	lock = state_lock(m);
	if (lock < 0) {
		snprintf(err, sizeof(err), "cannot lock %s (%s); writing without it",
		         METRICS_LOCK_FILE, strerror(errno));
		metrics_warn(m, NULL, err);
	}
	state_read(m); /* another worker of the spool may have counted a job */
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
