/*
 * test_metrics.c - how a report counts (metrics_count_report) and what the metrics file says
 * (metrics_format): a table of reports, each with the figures its target must show after it,
 * then the text of a configuration with a target that never ran and a name to escape; and the
 * running jobs of a spool (metrics_spool_running), counted from the claims in active/ whoever
 * holds them: a table of claims, each in a phase, held or let go.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "spool.h"

struct report_case {
	const char *name;
	const char *report; /* counted after the rows before it, into one struct metrics */
	int counted;        /* 0, or -1: refused, nothing changes */
	const char *error;  /* a substring of the refusal */
	/* target acceptance afterwards: */
	unsigned long long succeeded, rejected, failed, partial, bytes;
	double last_run, last_success, duration;
	int have_missing;
	unsigned long long missing;
};

/* 2024-05-01T12:00:00Z is 1714564800. */
static const struct report_case cases[] = {
    {"success with timings",
     "{\"job_id\": \"j1\", \"target\": \"acceptance\", \"status\": \"succeeded\", "
     "\"warnings\": [\"a \\\"quoted\\\" } warning\"], \"started_at\": "
     "\"2024-05-01T11:59:58.000Z\", \"finished_at\": \"2024-05-01T12:00:00.250Z\", "
     "\"metadata\": {\"files\": \"{\\\"bytes\\\": 9}\"}, "
     "\"database\": {\"status\": \"restored\", \"decompressed_bytes\": 1000, \"errors\": [], "
     "\"skipped\": [{\"toc_entry\": \"3; 2615 2200 SCHEMA - public\", \"reason\": \"x\"}]}, "
     "\"files\": {\"status\": \"restored\", \"count\": 3, \"bytes\": 24, \"errors\": []}, "
     "\"timings\": {\"read_s\": 0.5, \"total_s\": 2.125}}",
     0, NULL, 1, 0, 0, 0, 1024, 1714564800.25, 1714564800.25, 2.125, 0, 0},
    {"rejection without timings: duration from the times",
     "{\"target\": \"acceptance\", \"status\": \"rejected\", \"error\": \"no\", "
     "\"started_at\": \"2024-05-01T12:01:00.000Z\", \"finished_at\": "
     "\"2024-05-01T12:01:00.500Z\", \"database\": {\"status\": \"unchanged\", "
     "\"decompressed_bytes\": 77}, \"files\": {\"status\": \"unchanged\", \"bytes\": 5}}",
     0, NULL, 1, 1, 0, 0, 1024, 1714564860.5, 1714564800.25, 0.5, 0, 0},
    {"partial: only the database's bytes, missing files reported",
     "{\"target\": \"acceptance\", \"status\": \"partial\", \"started_at\": "
     "\"2024-05-01T12:02:00.000Z\", \"finished_at\": \"2024-05-01T12:02:01.000Z\", "
     "\"database\": {\"status\": \"restored\", \"decompressed_bytes\": 500}, \"files\": "
     "{\"status\": \"unchanged\", \"bytes\": 40, \"missing\": {\"count\": 7, \"sample\": []}}}",
     0, NULL, 1, 1, 0, 1, 1524, 1714564921.0, 1714564800.25, 1.0, 1, 7},
    {"failure without files.missing: none reported",
     "{\"target\": \"acceptance\", \"status\": \"failed\", \"started_at\": "
     "\"2024-05-01T12:03:00.000Z\", \"finished_at\": \"2024-05-01T12:03:00.000Z\", "
     "\"database\": {\"status\": \"unchanged\", \"decompressed_bytes\": 500}, "
     "\"files\": {\"status\": \"unchanged\", \"bytes\": 0}, \"timings\": {\"total_s\": 0.75}}",
     0, NULL, 1, 1, 1, 1, 1524, 1714564980.0, 1714564800.25, 0.75, 0, 0},
    {"malformed JSON", "{\"target\": \"acceptance\", \"status\": ", -1, "", 1, 1, 1, 1, 1524,
     1714564980.0, 1714564800.25, 0.75, 0, 0},
    {"unknown status",
     "{\"target\": \"acceptance\", \"status\": \"great\", \"finished_at\": "
     "\"2024-05-01T12:03:00.000Z\"}",
     -1, "status 'great'", 1, 1, 1, 1, 1524, 1714564980.0, 1714564800.25, 0.75, 0, 0},
    {"no target", "{\"status\": \"rejected\", \"finished_at\": \"2024-05-01T12:03:00.000Z\"}", -1,
     "names no target", 1, 1, 1, 1, 1524, 1714564980.0, 1714564800.25, 0.75, 0, 0},
    {"bad time",
     "{\"target\": \"acceptance\", \"status\": \"failed\", \"finished_at\": \"yesterday\"}", -1,
     "finished_at", 1, 1, 1, 1, 1524, 1714564980.0, 1714564800.25, 0.75, 0, 0},
};

static int passed, failed;

/* check: count one expectation. */
static void
check(const char *name, const char *what, int ok)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("not ok - %s: %s\n", name, what);
	}
}

/* close_to: a == b to the microsecond. */
static int
close_to(double a, double b)
{
	return a - b < 1e-6 && b - a < 1e-6;
}

/* A claim of the spool test: its phase, whether a worker still holds it, whether it runs. */
struct claim_case {
	const char *job_id;
	enum spool_phase phase;
	bool held;
	bool counted;
};

static const struct claim_case claim_cases[] = {
    {"00000000-0000-4000-8000-000000000001", SPOOL_PHASE_WAITING, true, false},
    {"00000000-0000-4000-8000-000000000002", SPOOL_PHASE_RESTORING, true, true},
    {"00000000-0000-4000-8000-000000000003", SPOOL_PHASE_COMMITTING, true, true},
    {"00000000-0000-4000-8000-000000000004", SPOOL_PHASE_FINISHED, true, true},
    {"00000000-0000-4000-8000-000000000005", SPOOL_PHASE_RESTORING, false, false},
    {"00000000-0000-4000-8000-000000000006", SPOOL_PHASE_COMMITTING, false, false},
};

/*
 * check_spool_running: claims in a fresh spool as claim_cases says, and a job folder without
 * a claim; metrics_spool_running must count the started ones still held, from a struct
 * metrics of its own (as another worker of the spool would).
 */
static void
check_spool_running(void)
{
	enum { NCLAIMS = sizeof(claim_cases) / sizeof(claim_cases[0]) };
	char root[] = "/tmp/test_metrics.XXXXXX", spool_dir[64], err[512];
	struct spool_claim claims[NCLAIMS];
	struct metrics other;
	struct spool sp;
	size_t expected = 0;
	int fd;

	if (mkdtemp(root) == NULL) {
		check("spool", "mkdtemp", 0);
		return;
	}
	snprintf(spool_dir, sizeof(spool_dir), "%s/spool", root);
	if (spool_open(spool_dir, &sp, err, sizeof(err)) < 0) {
		check("spool", err, 0);
		return;
	}
	metrics_open(&other, spool_dir);
	check("spool", "an empty spool runs nothing", metrics_spool_running(&other) == 0);
	for (size_t i = 0; i < NCLAIMS; i++) {
		const struct claim_case *c = &claim_cases[i];
		char name[64];

		snprintf(name, sizeof(name), "backup-%zu.tar.gz", i);
		fd = openat(sp.incoming_fd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		check("spool", "a dropped file",
		      fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0);
		if (spool_claim(&sp, NULL, name, c->job_id, &claims[i], err, sizeof(err)) != 0) {
			check("spool", err, 0);
			continue;
		}
		claims[i].phase = c->phase;
		check("spool", "claim saved", spool_claim_save(&claims[i], err, sizeof(err)) == 0);
		if (!c->held)
			spool_release(&claims[i]); /* its worker died */
		expected += c->counted;
	}
	check("spool", "a job folder without a claim",
	      mkdirat(sp.active_fd, "00000000-0000-4000-8000-000000000007", 0755) == 0);
	check("spool", "the started claims a worker holds are counted",
	      metrics_spool_running(&other) == expected && expected == 3);
	for (size_t i = 0; i < NCLAIMS; i++)
		if (claim_cases[i].held)
			spool_release(&claims[i]);
	check("spool", "nothing runs once every worker is gone",
	      metrics_spool_running(&other) == 0);
	metrics_close(&other);
	spool_close(&sp);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		check("spool", "removed", system(cmd) == 0);
	}
}

int
main(void)
{
	struct metrics m;
	struct config_target targets[2];
	struct config config;
	char *text;

	memset(&m, 0, sizeof(m));
	m.spool_fd = -1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct report_case *c = &cases[i];
		char err[512] = "";
		int rc = metrics_count_report(&m, c->report, strlen(c->report), err, sizeof(err));
		const struct metrics_target *t = m.ntargets > 0 ? &m.targets[0] : NULL;

		check(c->name, err, rc == c->counted);
		if (c->error != NULL)
			check(c->name, "the refusal says why", strstr(err, c->error) != NULL);
		if (t == NULL) {
			check(c->name, "no target counted", 0);
			continue;
		}
		check(c->name, "one target", m.ntargets == 1 && strcmp(t->name, "acceptance") == 0);
		check(c->name, "runs",
		      t->runs[METRICS_SUCCEEDED] == c->succeeded &&
		          t->runs[METRICS_REJECTED] == c->rejected &&
		          t->runs[METRICS_FAILED] == c->failed &&
		          t->runs[METRICS_PARTIAL] == c->partial);
		check(c->name, "restored bytes", t->restored_bytes == c->bytes);
		check(c->name, "last run", t->have_run && close_to(t->last_run, c->last_run));
		check(c->name, "last success",
		      t->have_success && close_to(t->last_success, c->last_success));
		check(c->name, "last duration", close_to(t->last_duration, c->duration));
		check(c->name, "missing files",
		      t->have_missing == c->have_missing && t->missing_files == c->missing);
	}

	/* The text: acceptance as counted, "we\"ird" never ran (and its name is escaped). */
	memset(&config, 0, sizeof(config));
	memset(targets, 0, sizeof(targets));
	targets[0].name = "acceptance";
	targets[1].name = "we\"i\\rd";
	config.targets = targets;
	config.ntargets = 2;
	text = metrics_format(&m, &config, 4, 1);
	check("format", "text", text != NULL);
	if (text != NULL) {
		static const char *const expected[] = {
		    "# HELP restore_worker_runs_total ",
		    "# TYPE restore_worker_runs_total counter\n",
		    "restore_worker_runs_total{target=\"acceptance\",result=\"succeeded\"} 1\n",
		    "restore_worker_runs_total{target=\"acceptance\",result=\"partial\"} 1\n",
		    "restore_worker_runs_total{target=\"we\\\"i\\\\rd\",result=\"failed\"} 0\n",
		    "# TYPE restore_worker_restored_bytes_total counter\n",
		    "restore_worker_restored_bytes_total{target=\"acceptance\"} 1524\n",
		    "restore_worker_restored_bytes_total{target=\"we\\\"i\\\\rd\"} 0\n",
		    "# TYPE restore_worker_last_run_timestamp_seconds gauge\n",
		    "restore_worker_last_run_timestamp_seconds{target=\"acceptance\"} "
		    "1714564980.000\n",
		    "restore_worker_last_success_timestamp_seconds{target=\"acceptance\"} "
		    "1714564800.250\n",
		    "restore_worker_last_duration_seconds{target=\"acceptance\"} 0.750\n",
		    "# TYPE restore_worker_missing_files gauge\n",
		    "# TYPE restore_worker_queue_length gauge\nrestore_worker_queue_length 4\n",
		    "# TYPE restore_worker_running_jobs gauge\nrestore_worker_running_jobs 1\n",
		};
		for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
			char what[300];

			snprintf(what, sizeof(what), "the text lacks '%.200s'", expected[i]);
			check("format", what, strstr(text, expected[i]) != NULL);
		}
		check("format", "no timestamp of a target that never ran",
		      strstr(text, "_seconds{target=\"we") == NULL);
		check("format", "no missing files after a run without them",
		      strstr(text, "restore_worker_missing_files{") == NULL);
		check("format", "ends with a newline", text[strlen(text) - 1] == '\n');
		free(text);
	}
	metrics_close(&m);
	check_spool_running();
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
