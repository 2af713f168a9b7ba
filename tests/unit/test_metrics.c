/*
 * test_metrics.c - how a report counts (metrics_count_report) and what the metrics file says
 * (metrics_format): a table of reports, each with the figures its target must show after it,
 * then the text of a configuration with a target that never ran and a name to escape; how a
 * backup's result counts (metrics_count_backup), a table of results likewise; the format of
 * metrics.state (metrics_state.c): an old file without the cancelled and backup fields read as
 * it was, a file saved and read back by another struct metrics holding every figure, unknown
 * fields skipped, a bad backup field making the file unreadable; and the running jobs of a
 * spool (metrics_spool_running), counted from the claims in active/ whoever holds them: a
 * table of claims, each in a phase, held or let go.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "metrics.h"
#include "metrics_state.h"
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

/* A backup's result, counted after the rows before it into the struct metrics of the reports. */
struct backup_case {
	const char *name;
	const char *result;
	int counted;       /* 0, or -1: refused, nothing changes */
	const char *error; /* a substring of the refusal */
	/* target acceptance afterwards: */
	unsigned long long succeeded, rejected, failed;
	int have_backup;
	double last_success, duration;
	unsigned long long size;
};

static const struct backup_case backup_cases[] = {
    {"backup failed first: no success figures",
     "{\"job_id\": \"b0\", \"target\": \"acceptance\", \"kind\": \"full_snapshot\", "
     "\"status\": \"failed\", \"error\": \"pg_dump of database x failed: no\", \"archive\": "
     "\"/b/x.tar.gz\", \"archive_bytes\": 0, \"started_at\": \"2024-05-01T13:00:00.000Z\", "
     "\"finished_at\": \"2024-05-01T13:00:01.000Z\", \"timings\": {\"total_s\": 1.0}}",
     0, NULL, 0, 0, 1, 0, 0, 0, 0},
    {"backup succeeded",
     "{\"job_id\": \"b1\", \"target\": \"acceptance\", \"kind\": \"full_snapshot\", "
     "\"status\": \"succeeded\", \"warnings\": [], \"archive\": \"/b/y.tar.gz\", "
     "\"archive_bytes\": 123456, \"started_at\": \"2024-05-01T13:10:00.000Z\", "
     "\"finished_at\": \"2024-05-01T13:10:07.125Z\", \"database\": {\"dump_bytes\": 9}, "
     "\"timings\": {\"dump_s\": 3.0, \"total_s\": 7.125}}",
     0, NULL, 1, 0, 1, 1, 1714569007.125, 7.125, 123456},
    {"backup rejected: the success figures stay",
     "{\"target\": \"acceptance\", \"status\": \"rejected\", \"archive_bytes\": 0, "
     "\"started_at\": \"2024-05-01T13:20:00.000Z\", \"finished_at\": "
     "\"2024-05-01T13:20:00.250Z\", \"timings\": {\"total_s\": 0.25}}",
     0, NULL, 1, 1, 1, 1, 1714569007.125, 7.125, 123456},
    {"backup without timings: duration from the times",
     "{\"target\": \"acceptance\", \"status\": \"succeeded\", \"archive_bytes\": 99, "
     "\"started_at\": \"2024-05-01T13:30:00.000Z\", \"finished_at\": "
     "\"2024-05-01T13:30:02.500Z\"}",
     0, NULL, 2, 1, 1, 1, 1714570202.5, 2.5, 99},
    {"a backup is never partial",
     "{\"target\": \"acceptance\", \"status\": \"partial\", \"finished_at\": "
     "\"2024-05-01T13:40:00.000Z\"}",
     -1, "none of succeeded, rejected, failed", 2, 1, 1, 1, 1714570202.5, 2.5, 99},
    {"a success without its size",
     "{\"target\": \"acceptance\", \"status\": \"succeeded\", \"finished_at\": "
     "\"2024-05-01T13:40:00.000Z\"}",
     -1, "archive_bytes", 2, 1, 1, 1, 1714570202.5, 2.5, 99},
    {"backup naming no target",
     "{\"status\": \"failed\", \"finished_at\": \"2024-05-01T13:40:00.000Z\"}", -1,
     "names no target", 2, 1, 1, 1, 1714570202.5, 2.5, 99},
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

/* write_file: dir/name := text; false when it cannot be written. */
static bool
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		return false;
	if (fputs(text, f) == EOF) {
		(void)fclose(f);
		return false;
	}
	return fclose(f) == 0;
}

/* find_target: m's entry of target name, or NULL. */
static const struct metrics_target *
find_target(const struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->ntargets; i++)
		if (strcmp(m->targets[i].name, name) == 0)
			return &m->targets[i];
	return NULL;
}

/* same_target: every figure of a equals b's (the times to the millisecond, as saved). */
static bool
same_target(const struct metrics_target *a, const struct metrics_target *b)
{
	bool same = a != NULL && b != NULL && strcmp(a->name, b->name) == 0 &&
	            a->restored_bytes == b->restored_bytes && a->have_run == b->have_run &&
	            a->have_success == b->have_success && a->have_missing == b->have_missing &&
	            a->missing_files == b->missing_files && a->have_backup == b->have_backup &&
	            a->backup_last_size == b->backup_last_size;

	for (int r = 0; same && r < METRICS_RESULTS; r++)
		same = a->runs[r] == b->runs[r];
	for (int r = 0; same && r < METRICS_BACKUP_RESULTS; r++)
		same = a->backup_runs[r] == b->backup_runs[r];
	return same &&
	       (!a->have_run || (close_to(a->last_run, b->last_run) &&
	                         close_to(a->last_duration, b->last_duration))) &&
	       (!a->have_success || close_to(a->last_success, b->last_success)) &&
	       (!a->have_backup || (close_to(a->backup_last_success, b->backup_last_success) &&
	                            close_to(a->backup_last_duration, b->backup_last_duration)));
}

/*
 * check_state_file: metrics.state as an older version wrote it (no runs_cancelled, no backup
 * fields) reads as it was; counted into and saved, another struct metrics reads back every
 * figure; a field it does not know is skipped; a backup field that is no number makes the
 * file unreadable and the counters in memory stay.
 */
static void
check_state_file(void)
{
	static const char old_state[] =
	    "{\"version\": 1, \"acceptance/runs_succeeded\": 3, \"acceptance/runs_rejected\": 1, "
	    "\"acceptance/runs_failed\": 2, \"acceptance/runs_partial\": 0, "
	    "\"acceptance/restored_bytes\": 4096, \"acceptance/last_run\": 1714564980.0, "
	    "\"acceptance/last_duration\": 0.75, \"acceptance/last_success\": 1714564800.25, "
	    "\"test/runs_succeeded\": 0, \"test/runs_rejected\": 0, \"test/runs_failed\": 0, "
	    "\"test/runs_partial\": 0, \"test/restored_bytes\": 0}\n";
	static const char cancelled[] =
	    "{\"target\": \"acceptance\", \"status\": \"cancelled\", \"started_at\": "
	    "\"2024-05-01T14:00:00.000Z\", \"finished_at\": \"2024-05-01T14:00:03.000Z\", "
	    "\"database\": {\"status\": \"unchanged\"}, \"files\": {\"status\": \"unchanged\"}}";
	static const char backup[] =
	    "{\"target\": \"test\", \"status\": \"succeeded\", \"archive_bytes\": 5000, "
	    "\"started_at\": \"2024-05-01T14:10:00.000Z\", \"finished_at\": "
	    "\"2024-05-01T14:10:04.000Z\", \"timings\": {\"total_s\": 3.875}}";
	char root[] = "/tmp/test_metrics_state.XXXXXX", err[512] = "", cmd[128];
	const struct metrics_target *t;
	struct metrics a, b;
	char *text;
	size_t len;
	int lock;

	if (mkdtemp(root) == NULL) {
		check("state", "mkdtemp", 0);
		return;
	}
	check("state", "old file written", write_file(root, METRICS_STATE_FILE, old_state));
	metrics_open(&a, root);
	lock = metrics_state_lock(&a);
	check("state", "metrics.lock taken", lock >= 0);
	metrics_state_read(&a);
	t = find_target(&a, "acceptance");
	check("state", "old file: read, two targets",
	      !a.state_warned && a.ntargets == 2 && t != NULL);
	if (t != NULL) {
		check("state", "old file: the runs, none cancelled",
		      t->runs[METRICS_SUCCEEDED] == 3 && t->runs[METRICS_REJECTED] == 1 &&
		          t->runs[METRICS_FAILED] == 2 && t->runs[METRICS_PARTIAL] == 0 &&
		          t->runs[METRICS_CANCELLED] == 0);
		check("state", "old file: the figures",
		      t->restored_bytes == 4096 && t->have_run &&
		          close_to(t->last_run, 1714564980.0) && close_to(t->last_duration, 0.75) &&
		          t->have_success && close_to(t->last_success, 1714564800.25) &&
		          !t->have_missing);
		check("state", "old file: no backups",
		      !t->have_backup && t->backup_runs[METRICS_SUCCEEDED] == 0 &&
		          t->backup_runs[METRICS_REJECTED] == 0 &&
		          t->backup_runs[METRICS_FAILED] == 0);
	}
	check("state", "a cancelled run counted",
	      metrics_count_report(&a, cancelled, strlen(cancelled), err, sizeof(err)) == 0);
	check("state", "a backup counted",
	      metrics_count_backup(&a, backup, strlen(backup), err, sizeof(err)) == 0);
	check("state", "saved", metrics_state_save(&a, err, sizeof(err)) == 0);
	if (lock >= 0)
		check("state", "metrics.lock let go", close(lock) == 0);

	metrics_open(&b, root);
	metrics_state_read(&b);
	check("state", "read back: two targets", !b.state_warned && b.ntargets == 2);
	check("state", "read back: acceptance as counted",
	      same_target(find_target(&a, "acceptance"), find_target(&b, "acceptance")));
	check("state", "read back: test as counted",
	      same_target(find_target(&a, "test"), find_target(&b, "test")));
	t = find_target(&b, "acceptance");
	check("state", "read back: one cancelled", t != NULL && t->runs[METRICS_CANCELLED] == 1);
	t = find_target(&b, "test");
	check("state", "read back: the backup's figures",
	      t != NULL && t->have_backup && t->backup_runs[METRICS_SUCCEEDED] == 1 &&
	          close_to(t->backup_last_success, 1714572604.0) &&
	          close_to(t->backup_last_duration, 3.875) && t->backup_last_size == 5000);
	text = io_read_small(b.spool_fd, METRICS_STATE_FILE, 65536, &len);
	check("state", "the new fields are in the file",
	      text != NULL && strstr(text, "\"acceptance/runs_cancelled\"") != NULL &&
	          strstr(text, "\"test/backup_runs_succeeded\"") != NULL &&
	          strstr(text, "\"test/backup_last_success\"") != NULL &&
	          strstr(text, "\"test/backup_last_duration\"") != NULL &&
	          strstr(text, "\"test/backup_last_size\"") != NULL &&
	          strstr(text, "\"acceptance/backup_last_size\"") == NULL);
	free(text);

	/* A field of a later version is skipped; the rest is read. */
	check("state", "a file with a field of a later version written",
	      write_file(root, METRICS_STATE_FILE,
	                 "{\"version\": 1, \"acceptance/runs_succeeded\": 7, "
	                 "\"acceptance/backup_runs_rejected\": 2, \"acceptance/later_field\": 5}"));
	metrics_state_read(&b);
	t = find_target(&b, "acceptance");
	check("state", "a field of a later version skipped",
	      !b.state_warned && b.ntargets == 1 && t != NULL && t->runs[METRICS_SUCCEEDED] == 7 &&
	          t->backup_runs[METRICS_REJECTED] == 2 && !t->have_backup);

	/* A backup field that is no number: unreadable, the counters in memory stay. */
	check("state", "a file with a bad backup field written",
	      write_file(root, METRICS_STATE_FILE,
	                 "{\"version\": 1, \"acceptance/runs_succeeded\": 1, "
	                 "\"acceptance/backup_last_size\": \"big\"}"));
	metrics_state_read(&b);
	t = find_target(&b, "acceptance");
	check("state", "a bad backup field: unreadable, the counters in memory kept",
	      b.state_warned && t != NULL && t->runs[METRICS_SUCCEEDED] == 7);
	metrics_close(&a);
	metrics_close(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	check("state", "removed", system(cmd) == 0);
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
	for (size_t i = 0; i < sizeof(backup_cases) / sizeof(backup_cases[0]); i++) {
		const struct backup_case *c = &backup_cases[i];
		char err[512] = "";
		int rc = metrics_count_backup(&m, c->result, strlen(c->result), err, sizeof(err));
		const struct metrics_target *t = find_target(&m, "acceptance");

		check(c->name, err, rc == c->counted);
		if (c->error != NULL)
			check(c->name, "the refusal says why", strstr(err, c->error) != NULL);
		if (t == NULL) {
			check(c->name, "no target counted", 0);
			continue;
		}
		check(c->name, "one target", m.ntargets == 1);
		check(c->name, "backup runs",
		      t->backup_runs[METRICS_SUCCEEDED] == c->succeeded &&
		          t->backup_runs[METRICS_REJECTED] == c->rejected &&
		          t->backup_runs[METRICS_FAILED] == c->failed);
		check(c->name, "success figures",
		      t->have_backup == c->have_backup &&
		          (!c->have_backup || (close_to(t->backup_last_success, c->last_success) &&
		                               close_to(t->backup_last_duration, c->duration) &&
		                               t->backup_last_size == c->size)));
		check(c->name, "the restores' figures untouched",
		      t->runs[METRICS_SUCCEEDED] == 1 && t->restored_bytes == 1524 &&
		          close_to(t->last_run, 1714564980.0));
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
		    "restore_worker_runs_total{target=\"acceptance\",result=\"cancelled\"} 0\n",
		    "restore_worker_runs_total{target=\"we\\\"i\\\\rd\",result=\"cancelled\"} 0\n",
		    "# TYPE restore_worker_backup_runs_total counter\n",
		    "restore_worker_backup_runs_total{target=\"acceptance\",result=\"succeeded\"} "
		    "2\n",
		    "restore_worker_backup_runs_total{target=\"acceptance\",result=\"rejected\"} "
		    "1\n",
		    "restore_worker_backup_runs_total{target=\"acceptance\",result=\"failed\"} 1\n",
		    "restore_worker_backup_runs_total{target=\"we\\\"i\\\\rd\",result=\"failed\"} "
		    "0\n",
		    "# TYPE restore_worker_backup_last_success_timestamp_seconds gauge\n"
		    "restore_worker_backup_last_success_timestamp_seconds{target=\"acceptance\"} "
		    "1714570202.500\n",
		    "# TYPE restore_worker_backup_last_duration_seconds gauge\n"
		    "restore_worker_backup_last_duration_seconds{target=\"acceptance\"} 2.500\n",
		    "# TYPE restore_worker_backup_last_size_bytes gauge\n"
		    "restore_worker_backup_last_size_bytes{target=\"acceptance\"} 99\n",
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
		check("format", "no backup size of a target never backed up",
		      strstr(text, "restore_worker_backup_last_size_bytes{target=\"we") == NULL);
		check("format", "no partial or cancelled backups",
		      strstr(text, "restore_worker_backup_runs_total{target=\"acceptance\","
		                   "result=\"partial\"}") == NULL &&
		          strstr(text, "restore_worker_backup_runs_total{target=\"acceptance\","
		                       "result=\"cancelled\"}") == NULL);
		check("format", "ends with a newline", text[strlen(text) - 1] == '\n');
		free(text);
	}
	metrics_close(&m);
	check_state_file();
	check_spool_running();
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
