/*
 * progress_view.c - a running restore's progress shown to a human and to status, and a
 * running backup's to a human (progress_view.h).
 */
#include "progress_view.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "json.h"
#include "report.h"

#define PROGRESS_TMP ".progress.json.tmp"
#define PROGRESS_MAX 4096

/* size_text: bytes as "812 B", "1.2 MiB", "3.4 GiB". */
static void
size_text(uint64_t n, char *buf, size_t buflen)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, buflen, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, buflen, "%.1f %s", v, units[u]);
}

/* duration_text: seconds as "m:ss" or "h:mm:ss". */
static void
duration_text(double s, char *buf, size_t buflen)
{
	unsigned long t = s > 0 ? (unsigned long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(buf, buflen, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, buflen, "%lu:%02lu", t / 60, t % 60);
}

/* percent: done of total as a whole percentage (0 when total is 0), at most 100. */
static unsigned
percent(uint64_t done, uint64_t total)
{
	if (total == 0)
		return 0;
	return done >= total ? 100 : (unsigned)((double)done * 100 / (double)total);
}

void
progress_view_line(const struct restore_progress *p, char *buf, size_t buflen)
{
	char a[32], b[32], el[32], eta[32];
	int n = 0;

	duration_text(p->elapsed_s, el, sizeof(el));
	if (strcmp(p->phase, "reading") == 0) {
		size_text(p->archive_bytes, a, sizeof(a));
		size_text(p->archive_size, b, sizeof(b));
		n = snprintf(buf, buflen, "reading the dump: %s of the archive's %s (%u%%)", a, b,
		             percent(p->archive_bytes, p->archive_size));
	} else if (strcmp(p->phase, "database") == 0 || strcmp(p->phase, "files") == 0) {
		if (p->database_item_total > 0) {
			n = snprintf(buf, buflen, "database: %llu of %llu entries (%u%%)",
			             (unsigned long long)p->database_items,
			             (unsigned long long)p->database_item_total,
			             percent(p->database_items, p->database_item_total));
		} else {
			size_text(p->database_bytes, a, sizeof(a));
			size_text(p->database_size, b, sizeof(b));
			n = snprintf(buf, buflen, "database: %s of %s (%u%%)", a, b,
			             percent(p->database_bytes, p->database_size));
		}
		if (n > 0 && (size_t)n < buflen)
			n += snprintf(buf + n, buflen - (size_t)n, "; archive %u%% read",
			              percent(p->archive_bytes, p->archive_size));
		if (n > 0 && (size_t)n < buflen && (p->files > 0 || p->file_bytes_total > 0)) {
			size_text(p->file_bytes, a, sizeof(a));
			n += snprintf(buf + n, buflen - (size_t)n, ", %llu files staged (%s",
			              (unsigned long long)p->files, a);
			if (n > 0 && (size_t)n < buflen && p->file_bytes_total > 0) {
				size_text(p->file_bytes_total, b, sizeof(b));
				n += snprintf(buf + n, buflen - (size_t)n, " of %s", b);
			}
			if (n > 0 && (size_t)n < buflen)
				n += snprintf(buf + n, buflen - (size_t)n, ")");
		}
		if (strcmp(p->phase, "files") == 0 && n > 0 && (size_t)n < buflen)
			n += snprintf(buf + n, buflen - (size_t)n, "; the database is done");
	} else if (strcmp(p->phase, "swapping") == 0) {
		n = snprintf(buf, buflen, "swapping in the database and the files");
	} else {
		n = snprintf(buf, buflen, "%s the restored database", p->phase);
	}
	if (n < 0 || (size_t)n >= buflen)
		return;
	n += snprintf(buf + n, buflen - (size_t)n, "; %s elapsed", el);
	if (p->eta_s >= 0 && n > 0 && (size_t)n < buflen) {
		duration_text(p->eta_s, eta, sizeof(eta));
		snprintf(buf + n, buflen - (size_t)n, ", about %s left", eta);
	}
}

void
progress_view_backup_line(const struct backup_progress *p, char *buf, size_t buflen)
{
	char a[32], b[32], el[32];
	unsigned long long tables = p->tables, total = p->table_total;
	int n;

	duration_text(p->elapsed_s, el, sizeof(el));
	if (strcmp(p->phase, "dump") == 0) {
		size_text(p->dump_bytes, a, sizeof(a));
		if (p->table == NULL)
			n = snprintf(buf, buflen,
			             "dump: reading the database's definitions, %s written", a);
		else if (total > 0) /* a table created since it was counted: more than counted */
			n = snprintf(buf, buflen, "dump: table %llu of %llu (%s), %s written",
			             tables, tables > total ? tables : total, p->table, a);
		else
			n = snprintf(buf, buflen, "dump: table %llu (%s), %s written", tables,
			             p->table, a);
	} else if (strcmp(p->phase, "measuring") == 0) {
		size_text(p->file_bytes_total, a, sizeof(a));
		n = snprintf(buf, buflen, "measuring the files: %llu files, %s so far",
		             (unsigned long long)p->file_total, a);
	} else if (strcmp(p->phase, "writing") == 0) {
		size_text(p->dump_bytes, a, sizeof(a));
		size_text(p->dump_size, b, sizeof(b));
		n = snprintf(buf, buflen, "writing the dump: %s of %s (%u%%)", a, b,
		             percent(p->dump_bytes, p->dump_size));
	} else {
		size_text(p->file_bytes, a, sizeof(a));
		size_text(p->file_bytes_total, b, sizeof(b));
		n = snprintf(buf, buflen, "files: %llu of %llu files, %s of %s (%u%%)",
		             (unsigned long long)p->files, (unsigned long long)p->file_total, a, b,
		             percent(p->file_bytes, p->file_bytes_total));
	}
	if (n > 0 && (size_t)n < buflen)
		snprintf(buf + n, buflen - (size_t)n, "; %s elapsed", el);
}

char *
progress_view_json(const struct restore_progress *p, const char *job_id)
{
	struct json_writer w = {0};
	struct timespec now;
	char when[40];

	clock_gettime(CLOCK_REALTIME, &now);
	report_format_time(&now, when, sizeof(when));
	json_begin_object(&w);
	json_key(&w, "job_id");
	json_string(&w, job_id);
	json_key(&w, "phase");
	json_string(&w, p->phase);
	json_key(&w, "updated_at");
	json_string(&w, when);
	json_key(&w, "elapsed_s");
	json_fixed3(&w, p->elapsed_s);
	json_key(&w, "eta_s");
	if (p->eta_s >= 0)
		json_fixed3(&w, p->eta_s);
	else
		json_null(&w);
	json_key(&w, "archive_bytes");
	json_uint(&w, p->archive_bytes);
	json_key(&w, "archive_size");
	json_uint(&w, p->archive_size);
	json_key(&w, "database_bytes");
	json_uint(&w, p->database_bytes);
	json_key(&w, "database_size");
	json_uint(&w, p->database_size);
	json_key(&w, "database_items");
	json_uint(&w, p->database_items);
	json_key(&w, "database_item_total");
	json_uint(&w, p->database_item_total);
	json_key(&w, "files");
	json_uint(&w, p->files);
	json_key(&w, "file_bytes");
	json_uint(&w, p->file_bytes);
	json_key(&w, "file_bytes_total");
	json_uint(&w, p->file_bytes_total);
	json_end_object(&w);
	return json_finish(&w);
}

/* member: the value of name in members, as a number (0 when absent). */
static double
member(const struct json_member *m, size_t n, const char *name)
{
	const char *v = json_member_find(m, n, name);

	return v != NULL ? strtod(v, NULL) : 0;
}

bool
progress_view_summary(const char *json, size_t len, char *buf, size_t buflen)
{
	struct json_member *m = NULL;
	size_t n = 0;
	const char *phase;
	char err[128], eta[32];
	double done = -1, eta_s;
	int k;

	if (json_parse_members(json, len, &m, &n, err, sizeof(err)) < 0)
		return false;
	phase = json_member_find(m, n, "phase");
	if (phase == NULL) {
		json_members_free(m, n);
		return false;
	}
	if (member(m, n, "database_item_total") > 0)
		done = member(m, n, "database_items") / member(m, n, "database_item_total");
	else if (member(m, n, "database_size") > 0 && strcmp(phase, "reading") != 0)
		done = member(m, n, "database_bytes") / member(m, n, "database_size");
	else if (member(m, n, "archive_size") > 0)
		done = member(m, n, "archive_bytes") / member(m, n, "archive_size");
	k = done >= 0 && (strcmp(phase, "reading") == 0 || strcmp(phase, "database") == 0)
	        ? snprintf(buf, buflen, "%s %.0f%%", phase, done > 1 ? 100 : done * 100)
	        : snprintf(buf, buflen, "%s", phase);
	eta_s = json_member_find(m, n, "eta_s") != NULL ? member(m, n, "eta_s") : -1;
	if (eta_s >= 0 && k > 0 && (size_t)k < buflen) {
		duration_text(eta_s, eta, sizeof(eta));
		snprintf(buf + k, buflen - (size_t)k, ", about %s left", eta);
	}
	json_members_free(m, n);
	return true;
}

int
progress_view_write(int dir_fd, const char *json)
{
	/* Rewritten every second and gone with the job: not worth an fsync each time. */
	struct io_atomic a = {.dir_fd = dir_fd,
	                      .name = PROGRESS_FILE,
	                      .tmp = PROGRESS_TMP,
	                      .mode = 0644,
	                      .flags = IO_ATOMIC_NO_SYNC};

	if (io_atomic_open(&a, NULL, 0) < 0)
		return -1;
	if (io_atomic_write(&a, json, strlen(json), NULL, 0) < 0 ||
	    io_atomic_write(&a, "\n", 1, NULL, 0) < 0 || io_atomic_commit(&a, NULL, 0) < 0) {
		io_atomic_abort(&a);
		return -1;
	}
	return 0;
}

char *
progress_view_read(int dir_fd, size_t *len)
{
	return io_read_small(dir_fd, PROGRESS_FILE, PROGRESS_MAX, len);
}
