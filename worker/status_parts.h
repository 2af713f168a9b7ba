/*
 * status_parts.h - what status.c (the spool's jobs gathered) hands status_print.c (them
 * printed as text or JSON): one job as status shows it, and the listing of them.
 */
#ifndef STATUS_PARTS_H
#define STATUS_PARTS_H

#include <jansson.h> /* before json.h: see there */

#include <limits.h>
#include <stdbool.h>
#include <time.h>

#include "json.h"
#include "spool.h"

struct config;

/* Where a job is: incoming/, active/, done/ or failed/. */
enum entry_state { ENTRY_QUEUED, ENTRY_ACTIVE, ENTRY_DONE, ENTRY_FAILED };

/* One job as status shows it. */
struct entry {
	enum entry_state state;
	struct timespec time;          /* arrived (queued), started (active) or finished */
	char job_id[37];               /* "" for a queued file not written by submit */
	char folder[80];               /* queued: "" or its incoming/<folder>/ */
	char name[SPOOL_NAME_MAX + 1]; /* the dropped file */
	char archive[PATH_MAX];        /* the archive: the dropped file or its job file's */
	char target[80];               /* as the claim keeps it */
	bool dry_run;
	const char *waiting; /* the worker's reason, or NULL */
	/* An active job's claim: */
	int attempts;
	bool running;
	enum spool_phase phase;
	char claim_status[16];
	char *progress; /* its progress.json, or NULL */
	size_t progress_len;
	/* A finished job's report (NULL members when it has none): */
	json_t *report;
};

/* The jobs status lists (listing_load), and the reasons the worker gave why jobs wait. */
struct listing {
	const struct config *config;
	struct entry *entries;
	size_t n;
	struct json_member *waits; /* SPOOL_WAITS_FILE's members */
	size_t nwaits;
};

/* The names of the entry states, as status prints them. */
extern const char *const status_state_names[];

/*
 * listing_load: the jobs of the spool (open as sp) into l, or job_id's alone (unless NULL),
 * oldest first.
 */
void listing_load(struct listing *l, const struct spool *sp, const char *job_id);

/* listing_free: release what listing_load took. */
void listing_free(struct listing *l);

/* status_report_text: member key of a finished job's report when it is a string, else NULL. */
const char *status_report_text(const struct entry *e, const char *key);

#endif
