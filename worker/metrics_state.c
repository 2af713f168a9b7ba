/*
 * metrics_state.c - the counters' file, <spool_dir>/metrics.state, and its lock (metrics.lock
 * beside it): the figures of struct metrics_target per target, kept so that they survive
 * restarts and are shared by every process that counts runs in the spool (the workers, and
 * restore and backup run by hand).
 *
 * The format: one flat JSON object, {"version": 1, "<target>/<field>": number, ...}, replaced
 * atomically (spool_write_atomic). The fields: runs_<result> for each result of
 * metrics_result_name, restored_bytes, last_run and last_duration (after a run), last_success
 * (after a succeeded one), missing_files (when the last run's report had it);
 * backup_runs_<succeeded|rejected|failed>, and backup_last_success, backup_last_duration and
 * backup_last_size after a succeeded backup. A field a file lacks is zero or unknown, so a
 * file an older version wrote (without runs_cancelled and the backup fields) reads as it was;
 * a field
 * this version does not know is skipped, so an older version reads a newer file (and drops
 * the new fields when it saves). The version stays 1: nothing was renamed or given another
 * meaning.
 *
 * Diagnostics: a file that cannot be read (not JSON, a member naming no target, a value that
 * is no number) is logged once; the counters in memory are kept.
 */
#include <jansson.h> /* before json.h: see there */

#include "metrics_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "json.h"
#include "notify.h"

#define METRICS_STATE_MAX (1024 * 1024) /* a few hundred bytes per target */

struct metrics_target *
metrics_target_get(struct metrics_target **list, size_t *n, const char *name)
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
	for (int r = 0; r < METRICS_BACKUP_RESULTS; r++)
		if (strncmp(field, "backup_runs_", 12) == 0 &&
		    strcmp(field + 12, metrics_result_name(r)) == 0)
			count = &t->backup_runs[r];
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
	} else if (strcmp(field, "backup_last_success") == 0) {
		seconds = &t->backup_last_success;
		t->have_backup = true;
	} else if (strcmp(field, "backup_last_duration") == 0) {
		seconds = &t->backup_last_duration;
	} else if (strcmp(field, "backup_last_size") == 0) {
		count = &t->backup_last_size;
	}
	if (count != NULL && !json_is_integer(value))
		return false;
	if (count != NULL)
		*count = (uint64_t)json_integer_value(value);
	else if (seconds != NULL)
		*seconds = json_number_value(value);
	return true; /* a field of a later version is left alone (and dropped when saved) */
}

void
metrics_state_read(struct metrics *m)
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
		t = metrics_target_get(&list, &n, name);
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
		         "and it is written anew when the next run is counted",
		         METRICS_STATE_FILE, why);
		log_line(LOG_PRIORITY_WARNING, NULL, "metrics: %s", msg);
		m->state_warned = true;
	}
	json_decref(state);
	free(list);
	free(text);
}

int
metrics_state_save(struct metrics *m, char *err, size_t errlen)
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
		for (int r = 0; r < METRICS_BACKUP_RESULTS; r++) {
			char field[40];

			snprintf(field, sizeof(field), "backup_runs_%s", metrics_result_name(r));
			json_key(&w, STATE_KEY(field));
			json_uint(&w, t->backup_runs[r]);
		}
		if (t->have_backup) {
			json_key(&w, STATE_KEY("backup_last_success"));
			json_fixed3(&w, t->backup_last_success);
			json_key(&w, STATE_KEY("backup_last_duration"));
			json_fixed3(&w, t->backup_last_duration);
			json_key(&w, STATE_KEY("backup_last_size"));
			json_uint(&w, t->backup_last_size);
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

int
metrics_state_lock(struct metrics *m)
{
	struct flock fl;
	int fd =
	    openat(m->spool_fd, METRICS_LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	/* restore and backup run by root count too: the worker's user must open it after them. */
	if (spool_own_like_folder(m->spool_fd, fd) < 0) {
		(void)close(fd);
		return -1;
	}
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
