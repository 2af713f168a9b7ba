/*
 * restore.c - one restore, start to finish, and the read-only inspection.
 *
 * The order is what makes it all or nothing:
 *  1. cheap refusals first: pg_restore runs, the database exists, nobody is connected;
 *  2. one pass over the archive (archive_walk): the dump is measured and copied into
 *     work_dir, tree files are written into a staging folder beside blob_dir, and every
 *     entry is checked; then the dump's version and the plan quota;
 *  3. the staged files are made durable;
 *  4. the database is restored in one transaction and committed;
 *  5. only then the staged files are swapped in. A failure of this last step is the only
 *     way to end "partial".
 * Every exit path removes the dump copy and the staging folder.
 */
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "archive_walk.h"
#include "blobstore.h"
#include "database.h"
#include "dump.h"
#include "json.h"
#include "quota.h"
#include "toc_list.h"

#define MESSAGE_BYTES 2048

void
restore_new_job_id(char buf[37])
{
	uuid_t uu;

	uuid_generate(uu);
	uuid_unparse_lower(uu, buf);
}

/* say: a progress line for the human watching. */
static void say(const struct restore_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(const struct restore_options *o, const char *fmt, ...)
{
	char line[MESSAGE_BYTES];
	va_list ap;

	if (o->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->log(o->log_ctx, line);
}

/* version_limit: the newest archive minor version accepted, and why, from both limits. */
static int
version_limit(const char *pg_restore, int config_major, int config_minor, const char *target,
              char *why, size_t whylen, bool *from_config, char *err, size_t errlen)
{
	int pr_major, pr_minor;

	if (database_pg_restore_max_version(pg_restore, &pr_major, &pr_minor, err, errlen) < 0)
		return -1;
	*from_config = config_major < 1 || (config_major == 1 && config_minor < pr_minor);
	if (*from_config) {
		if (target != NULL)
			snprintf(why, whylen, "the max_dump_version of target %s is %d.%d", target,
			         config_major, config_minor);
		else
			snprintf(why, whylen, "restore-worker accepts up to %d.%d by default",
			         config_major, config_minor);
		return config_major < 1 ? 1 : config_minor;
	}
	snprintf(why, whylen, "%s reads up to %d.%d", pg_restore, pr_major, pr_minor);
	return pr_minor;
}

/* make_dump_copy: create work_dir/restore-<job>.dump for pg_restore; the fd, or -1. */
static int
make_dump_copy(const char *work_dir, const char *job_id, char **path, char *err, size_t errlen)
{
	int fd;

	if (asprintf(path, "%s/restore-%s.dump", work_dir, job_id) < 0) {
		*path = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fd = open(*path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s in work_dir: %s", *path, strerror(errno));
		free(*path);
		*path = NULL;
	}
	return fd;
}

int
restore_run(const struct restore_options *o, struct report *report)
{
	const struct restore_target *t = o->target;
	const char *pg_restore = o->pg_restore != NULL ? o->pg_restore : "pg_restore";
	struct archive_walk walk;
	struct database *db = NULL;
	enum database_open_failure open_failure;
	enum archive_outcome outcome;
	char job_id[37], err[MESSAGE_BYTES], why[256];
	char *dump_path = NULL, *list_path = NULL;
	int dump_fd = -1, max_minor, rc, exit_status = RESTORE_EXIT_UNCHANGED;

	memset(&walk, 0, sizeof(walk));
	if (o->job_id != NULL)
		snprintf(job_id, sizeof(job_id), "%s", o->job_id);
	else
		restore_new_job_id(job_id);
	if (report_init(report, job_id, o->archive, t->name, o->db_only) < 0) {
		report_set_error(report, "failed", "out of memory");
		goto done;
	}
	report->overhead_bytes = t->restore_overhead;
	report->quota_bytes = t->plan_quota;
	say(o, "job %s: restoring %s into target %s%s", job_id, report->source, t->name,
	    o->db_only ? " (database only)" : "");

	/* 1. Cheap refusals. */
	max_minor = version_limit(pg_restore, t->max_dump_major, t->max_dump_minor, t->name, why,
	                          sizeof(why), &walk.max_from_config, err, sizeof(err));
	if (max_minor < 0) {
		report_set_error(report, "failed", "%s", err);
		goto done;
	}
	if (database_open(t->conninfo, &db, &open_failure, err, sizeof(err)) < 0) {
		report_set_error(report,
		                 open_failure == DATABASE_OPEN_MISSING ? "rejected" : "failed",
		                 "target %s: %s", t->name, err);
		goto done;
	}
	if (o->holds_target_lock)
		database_end_orphans(db, 30);
	if (database_check_alone(db, err, sizeof(err)) < 0) {
		report_set_error(report, "rejected", "target %s: %s", t->name, err);
		goto done;
	}

	/* 2. One pass over the archive. */
	dump_fd = make_dump_copy(o->work_dir, job_id, &dump_path, err, sizeof(err));
	if (dump_fd < 0) {
		report_set_error(report, "failed", "%s", err);
		goto done;
	}
	walk.path = o->archive;
	walk.dump_fd = dump_fd;
	walk.blob_dir = o->db_only ? NULL : t->blob_dir;
	walk.job_id = job_id;
	walk.stop_after = quota_stop_after(t->restore_overhead, t->plan_quota);
	walk.max_minor = max_minor;
	walk.max_why = why;
	walk.cancel = o->cancel;
	outcome = archive_walk(&walk, report, err, sizeof(err));
	report->archive_kind =
	    walk.kind == ARCHIVE_KIND_UNKNOWN ? NULL : archive_kind_name(walk.kind);
	if (walk.have_dump)
		snprintf(report->dump_version, sizeof(report->dump_version), "%d.%d",
		         walk.dump.vmaj, walk.dump.vmin);
	report->decompressed_bytes = walk.dump.decompressed_bytes;
	for (size_t i = 0; walk.have_dump && i < walk.dump.nskipped; i++)
		report_skip(report, walk.dump.skipped[i].toc_entry, walk.dump.skipped[i].reason);
	if (outcome != WALK_OK) {
		report_set_error(report, outcome == WALK_REJECTED ? "rejected" : "failed", "%s",
		                 err);
		goto done;
	}
	if (quota_check(walk.dump.decompressed_bytes, walk.dump.over_limit, t->restore_overhead,
	                t->plan_quota, err, sizeof(err)) < 0) {
		report_set_error(report, "rejected", "%s: %s", report->source, err);
		goto done;
	}
	say(o, "job %s: %s is a %s; the dump (archive version %s) decompresses to %llu bytes",
	    job_id, report->source, archive_kind_name(walk.kind), report->dump_version,
	    (unsigned long long)walk.dump.decompressed_bytes);
	if (close(dump_fd) < 0) {
		dump_fd = -1;
		report_set_error(report, "failed", "cannot write %s: %s", dump_path,
		                 strerror(errno));
		goto done;
	}
	dump_fd = -1;

	/* 3. The staged files must be durable before the database may commit. */
	if (walk.staging != NULL) {
		if (blobstore_finish(walk.staging, err, sizeof(err)) < 0) {
			report_part_error(&report->files, NULL, "%s", err);
			report_set_error(report, "failed", "%s", err);
			goto done;
		}
		say(o, "job %s: staged %llu files (%llu bytes) in %s", job_id,
		    (unsigned long long)walk.file_count, (unsigned long long)walk.file_bytes,
		    blobstore_staging_path(walk.staging));
	}

	/* 4. The database, in one transaction. */
	say(o, "job %s: restoring database %s", job_id, database_name(db));
	if (walk.dump.nskipped > 0) {
		/* The environment's entries (environment.h) are left out with pg_restore -L. */
		int64_t skip[DUMP_SKIPPED_MAX];

		for (size_t i = 0; i < walk.dump.nskipped; i++)
			skip[i] = walk.dump.skipped[i].dump_id;
		if (asprintf(&list_path, "%s.list", dump_path) < 0) {
			list_path = NULL;
			report_set_error(report, "failed", "out of memory");
			goto done;
		}
		if (toc_list_write(pg_restore, dump_path, list_path, skip, walk.dump.nskipped, err,
		                   sizeof(err)) < 0) {
			report_set_error(report, "failed", "%s: %s", report->source, err);
			goto done;
		}
	}
	rc = database_restore(db, pg_restore, dump_path, list_path, report, o->cancel, err,
	                      sizeof(err));
	if (rc == -2) {
		report->database.status = "partial";
		exit_status = RESTORE_EXIT_PARTIAL;
		report_set_error(report, "partial", "%s: %s; the files were left as they were",
		                 report->source, err);
		goto done;
	}
	if (rc < 0) {
		report_set_error(report, "failed",
		                 "%s: %s; the database and the files were left as they were",
		                 report->source, err);
		goto done;
	}
	if (o->before_commit != NULL && o->before_commit(o->commit_ctx, err, sizeof(err)) < 0) {
		report_set_error(report, "failed",
		                 "%s: %s; the database and the files were left as they were",
		                 report->source, err);
		goto done;
	}
	if (database_commit(db, err, sizeof(err)) < 0) {
		report_set_error(report, "failed", "%s: %s", report->source, err);
		goto done;
	}
	report->database.status = "restored";
	exit_status = RESTORE_EXIT_SUCCEEDED;
	say(o, "job %s: database %s restored", job_id, database_name(db));

	/* 5. The files. */
	if (walk.staging != NULL) {
		rc = blobstore_commit(walk.staging, err, sizeof(err));
		if (rc < 0) {
			report->files.status = "partial";
			report_part_error(&report->files, NULL, "%s", err);
			report_set_error(report, "partial",
			                 "the database was restored but the files could not be "
			                 "swapped in: %s; %s still holds the old files and %s the "
			                 "backup's",
			                 err, t->blob_dir, blobstore_staging_path(walk.staging));
			blobstore_close(walk.staging); /* keep the staged files for the operator */
			walk.staging = NULL;
			exit_status = RESTORE_EXIT_PARTIAL;
			goto done;
		}
		if (rc > 0)
			report_warn(report, "%s", err);
		report->files.status = "restored";
		report->file_count = walk.file_count;
		report->file_bytes = walk.file_bytes;
		blobstore_close(walk.staging);
		walk.staging = NULL;
		say(o, "job %s: %llu files swapped into %s", job_id,
		    (unsigned long long)walk.file_count, t->blob_dir);
	} else {
		if (o->db_only)
			report_warn(report,
			            "--db-only: the files in %s were left alone; files the "
			            "restored database refers to may be missing",
			            t->blob_dir);
		else
			report_warn(report,
			            "a database-only backup: the files in %s were left alone; "
			            "files the restored database refers to may be missing",
			            t->blob_dir);
	}
done:
	if (o->db_only || walk.kind == ARCHIVE_KIND_DATABASE_ONLY)
		report->files.status = "skipped"; /* the files were never touched */
	blobstore_abort(walk.staging);
	if (dump_fd >= 0)
		(void)close(dump_fd);
	if (dump_path != NULL) {
		(void)unlink(dump_path);
		free(dump_path);
	}
	if (list_path != NULL) {
		(void)unlink(list_path);
		free(list_path);
	}
	database_close(db);
	clock_gettime(CLOCK_REALTIME, &report->finished_at);
	if (report->error != NULL)
		say(o, "job %s: %s: %s", job_id, report->status, report->error);
	else
		say(o, "job %s: succeeded", job_id);
	return exit_status;
}

/* text_append: add a formatted line to a growing text; out of memory sets *failed. */
static void text_append(char **text, size_t *len, bool *failed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
text_append(char **text, size_t *len, bool *failed, const char *fmt, ...)
{
	char *line = NULL, *grown;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*failed = true;
		return;
	}
	grown = realloc(*text, *len + (size_t)n + 1);
	if (grown == NULL) {
		free(line);
		*failed = true;
		return;
	}
	memcpy(grown + *len, line, (size_t)n + 1);
	*len += (size_t)n;
	*text = grown;
	free(line);
}

/* dump_format_name: the inspection's name for what a dump is. */
static const char *
dump_format_name(enum dump_kind kind)
{
	switch (kind) {
	case DUMP_KIND_CUSTOM:
		return "custom";
	case DUMP_KIND_PLAIN_SQL:
		return "plain";
	case DUMP_KIND_GZIP:
		return "gzip";
	case DUMP_KIND_LZ4:
		return "lz4";
	case DUMP_KIND_ZSTD:
		return "zstd";
	case DUMP_KIND_TAR:
	case DUMP_KIND_PGDMP_TAR:
		return "tar";
	case DUMP_KIND_EMPTY:
		return "empty";
	case DUMP_KIND_UNKNOWN:
		break;
	}
	return "unknown";
}

int
restore_inspect(const char *archive, const char *pg_restore, char **json, char **text)
{
	struct archive_walk walk;
	struct report report;
	struct json_writer w = {0};
	char err[MESSAGE_BYTES], why[256], verr[256], version[16];
	size_t tlen = 0, i;
	bool failed = false, refused = false, from_config = false;
	int max_minor;

	*json = *text = NULL;
	if (report_init(&report, "", archive, NULL, false) < 0) {
		report_free(&report);
		return -1;
	}
	/* Without a target, the default limit applies, and pg_restore's own if it runs. */
	max_minor = version_limit(pg_restore != NULL ? pg_restore : "pg_restore",
	                          RESTORE_DEFAULT_MAX_MAJOR, RESTORE_DEFAULT_MAX_MINOR, NULL, why,
	                          sizeof(why), &from_config, verr, sizeof(verr));
	if (max_minor < 0) {
		max_minor = RESTORE_DEFAULT_MAX_MINOR;
		snprintf(why, sizeof(why), "restore-worker accepts up to 1.%d by default",
		         max_minor);
		report_warn(&report, "%s", verr);
	}
	memset(&walk, 0, sizeof(walk));
	walk.path = archive;
	walk.dump_fd = -1;
	walk.max_minor = max_minor;
	walk.max_why = why;
	walk.max_from_config = from_config;
	walk.measure_too_new = true;
	err[0] = '\0';
	refused = archive_walk(&walk, &report, err, sizeof(err)) != WALK_OK;
	snprintf(version, sizeof(version), "%d.%d", walk.dump.vmaj, walk.dump.vmin);

	json_begin_object(&w);
	json_key(&w, "source");
	json_string(&w, report.source);
	json_key(&w, "archive_kind");
	json_string(&w, archive_kind_name(walk.kind));
	json_key(&w, "metadata");
	json_begin_object(&w);
	for (i = 0; i < report.nmetadata; i++) {
		json_key(&w, report.metadata[i].name);
		json_string(&w, report.metadata[i].value);
	}
	json_end_object(&w);
	json_key(&w, "dump");
	json_begin_object(&w);
	json_key(&w, "format");
	json_string(&w, dump_format_name(walk.dump_kind));
	if (walk.have_dump) {
		json_key(&w, "version");
		json_string(&w, version);
		json_key(&w, "compression");
		json_string(&w, dump_compression_name(walk.dump.compression));
		json_key(&w, "toc_entries");
		json_uint(&w, walk.dump.toc_entries);
		json_key(&w, "dbname");
		json_string(&w, walk.dump.dbname);
		json_key(&w, "pg_dump_version");
		json_string(&w, walk.dump.pg_dump_version);
		json_key(&w, "decompressed_bytes");
		json_uint(&w, walk.dump.decompressed_bytes);
		json_key(&w, "written_to_pipe");
		json_bool(&w, walk.dump.written_to_pipe);
		json_key(&w, "skipped");
		json_begin_array(&w);
		for (i = 0; i < walk.dump.nskipped; i++) {
			json_begin_object(&w);
			json_key(&w, "toc_entry");
			json_string(&w, walk.dump.skipped[i].toc_entry);
			json_key(&w, "reason");
			json_string(&w, walk.dump.skipped[i].reason);
			json_end_object(&w);
		}
		json_end_array(&w);
	}
	json_end_object(&w);
	json_key(&w, "files");
	json_begin_object(&w);
	json_key(&w, "count");
	json_uint(&w, walk.file_count);
	json_key(&w, "bytes");
	json_uint(&w, walk.file_bytes);
	json_end_object(&w);
	json_key(&w, "problems");
	json_begin_array(&w);
	if (refused)
		json_string(&w, err);
	json_end_array(&w);
	json_key(&w, "warnings");
	json_begin_array(&w);
	for (i = 0; i < report.nwarnings; i++)
		json_string(&w, report.warnings[i]);
	json_end_array(&w);
	json_end_object(&w);
	*json = json_finish(&w);

	text_append(text, &tlen, &failed, "%s: %s\n", report.source, archive_kind_name(walk.kind));
	for (i = 0; i < report.nmetadata; i++)
		text_append(text, &tlen, &failed, "  metadata %s: %s\n", report.metadata[i].name,
		            report.metadata[i].value);
	if (walk.have_dump)
		text_append(text, &tlen, &failed,
		            "  dump: custom format, archive version %s, compression %s, %llu TOC "
		            "entries, database %s, pg_dump %s, %llu bytes decompressed\n",
		            version, dump_compression_name(walk.dump.compression),
		            (unsigned long long)walk.dump.toc_entries, walk.dump.dbname,
		            walk.dump.pg_dump_version,
		            (unsigned long long)walk.dump.decompressed_bytes);
	for (i = 0; walk.have_dump && i < walk.dump.nskipped; i++)
		text_append(text, &tlen, &failed, "  left out: %s (%s)\n",
		            walk.dump.skipped[i].toc_entry, walk.dump.skipped[i].reason);
	text_append(text, &tlen, &failed, "  files: %llu (%llu bytes)\n",
	            (unsigned long long)walk.file_count, (unsigned long long)walk.file_bytes);
	for (i = 0; i < report.nwarnings; i++)
		text_append(text, &tlen, &failed, "  warning: %s\n", report.warnings[i]);
	if (refused)
		text_append(text, &tlen, &failed, "  refused: %s\n", err);
	else
		text_append(text, &tlen, &failed, "  a restore would accept it\n");
	report_free(&report);
	if (failed || *json == NULL) {
		free(*json);
		free(*text);
		*json = *text = NULL;
		return -1;
	}
	return refused ? 1 : 0;
}
