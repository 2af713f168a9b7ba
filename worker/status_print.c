/*
 * status_print.c - restore-worker status's output: the jobs status.c gathers from the spool,
 * as one line of text each or as JSON (README "Command line" gives both forms).
 */
#include "status.h"
#include "status_parts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "progress_view.h"
#include "report.h"

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

/* write_entry: e as a JSON object; with state (status JOB_ID), its state too. */
static void
write_entry(struct json_writer *w, const struct entry *e, bool state)
{
	char when[40];

	json_begin_object(w);
	if (state) {
		json_key(w, "state");
		json_string(w, status_state_names[e->state]);
	}
	if (e->state != ENTRY_QUEUED || e->job_id[0] != '\0') {
		json_key(w, "job_id");
		json_string(w, e->job_id);
	}
	if (e->state == ENTRY_QUEUED || e->state == ENTRY_ACTIVE) {
		json_key(w, "name");
		json_string(w, e->name);
		json_key(w, "target");
		json_string(w, e->target);
	}
	if (e->state == ENTRY_ACTIVE) {
		json_key(w, "attempts");
		json_uint(w, (uint64_t)e->attempts);
		json_key(w, "running");
		json_bool(w, e->running);
		json_key(w, "phase");
		json_string(w, spool_phase_name(e->phase));
		if (e->phase == SPOOL_PHASE_FINISHED) {
			json_key(w, "status");
			json_string(w, e->claim_status);
		}
		if (e->progress != NULL)
			write_progress(w, e->progress, e->progress_len);
	}
	if (e->state == ENTRY_DONE || e->state == ENTRY_FAILED) {
		static const char *const keys[] = {"status", "source", "target", "error",
		                                   "finished_at"};

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			const char *v = status_report_text(e, keys[k]);

			if (v != NULL) {
				json_key(w, keys[k]);
				json_string(w, v);
			}
		}
	}
	json_key(w, "archive");
	json_string(w, e->archive);
	json_key(w, "dry_run");
	json_bool(w, e->dry_run);
	report_format_time(&e->time, when, sizeof(when));
	json_key(w, "time");
	json_string(w, when);
	if (e->waiting != NULL) {
		json_key(w, "waiting");
		json_string(w, e->waiting);
	}
	json_end_object(w);
}

/* print_entry: e as one line of text. */
static void
print_entry(const struct entry *e)
{
	const char *slash = strrchr(e->archive, '/');
	const char *archive = slash != NULL && slash[1] != '\0' ? slash + 1 : e->archive;
	const char *state = status_state_names[e->state], *error = NULL;
	char when[32], detail[400] = "";
	struct tm tm;

	localtime_r(&e->time.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (e->state == ENTRY_ACTIVE) {
		char summary[160] = "";

		state = e->running ? "running" : "orphaned";
		if (e->progress != NULL &&
		    !progress_view_summary(e->progress, e->progress_len, summary, sizeof(summary)))
			summary[0] = '\0';
		snprintf(detail, sizeof(detail), " (attempt %d, %s%s%s%s%s%s)", e->attempts,
		         spool_phase_name(e->phase), e->phase == SPOOL_PHASE_FINISHED ? " " : "",
		         e->phase == SPOOL_PHASE_FINISHED ? e->claim_status : "",
		         e->phase == SPOOL_PHASE_FINISHED ? ", report not yet written"
		         : e->running                     ? ""
		                                          : ", worker gone",
		         summary[0] != '\0' ? ": " : "", summary);
	} else if (e->state != ENTRY_QUEUED) {
		state = status_report_text(e, "status") != NULL ? status_report_text(e, "status")
		                                                : state;
		error = status_report_text(e, "error");
	}
	printf("%-9s %s %-36s %s -> %s%s%s%s%s%s%s\n", state, when,
	       e->job_id[0] != '\0' ? e->job_id : "-", archive, e->target,
	       e->dry_run ? " [rehearsal]" : "", detail, e->waiting != NULL ? ": waits: " : "",
	       e->waiting != NULL ? e->waiting : "", error != NULL ? ": " : "",
	       error != NULL ? error : "");
}

/* print_listing: the entries as text, or as JSON (a job's object, or every job's). */
static int
print_listing(const struct listing *l, const char *spool_dir, const char *job_id, bool json)
{
	struct json_writer w = {0};
	char *text;

	if (!json) {
		for (size_t i = 0; i < l->n; i++)
			if (job_id == NULL || strcmp(l->entries[i].job_id, job_id) == 0)
				print_entry(&l->entries[i]);
		if (l->n == 0)
			printf("the spool %s is empty: no job queued, active, done or failed\n",
			       spool_dir);
		return fflush(stdout) == EOF ? 1 : 0;
	}
	if (job_id != NULL) {
		for (size_t i = 0; i < l->n; i++)
			if (strcmp(l->entries[i].job_id, job_id) == 0)
				write_entry(&w, &l->entries[i], true);
	} else {
		json_begin_object(&w);
		for (int s = ENTRY_QUEUED; s <= ENTRY_FAILED; s++) {
			json_key(&w, status_state_names[s]);
			json_begin_array(&w);
			for (size_t i = 0; i < l->n; i++)
				if ((int)l->entries[i].state == s)
					write_entry(&w, &l->entries[i], false);
			json_end_array(&w);
		}
		json_end_object(&w);
	}
	text = json_finish(&w);
	if (text == NULL) {
		fprintf(stderr, "restore-worker: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	free(text);
	return fflush(stdout) == EOF ? 1 : 0;
}

int
status_print(const struct config *config, const char *job_id, bool json)
{
	struct listing l = {.config = config};
	struct spool sp;
	char err[1024];
	int rc = 0;

	if (spool_open_existing(config->spool_dir, &sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		return 2;
	}
	listing_load(&l, &sp, job_id);
	if (job_id != NULL && l.n == 0) {
		fprintf(
		    stderr,
		    "restore-worker: no job %s in %s: it is not queued (by submit), active, done "
		    "or failed\n",
		    job_id, config->spool_dir);
		rc = 1;
	} else {
		rc = print_listing(&l, config->spool_dir, job_id, json);
	}
	listing_free(&l);
	spool_close(&sp);
	return rc;
}
