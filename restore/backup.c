/*
 * backup.c - restore-worker backup: make a backup of a target in the format a restore takes
 * (see backup.h).
 *
 * The order of it all:
 *  1. Which pg_dump, and what archive version it writes (pg_dump --version: pg_dump 12 to 15
 *     write 1.14, 16 writes 1.15, 17 and 18 write 1.16, as database.c maps pg_restore's).
 *     One newer than the target's max_dump_version is refused before anything is written.
 *  2. The output: "<name>.part" is created (O_EXCL) in the output folder first, so that an
 *     output that cannot be written fails before the dump is made.
 *  3. The database, over libpq: its name, pg_database_size, and the model version Mendix
 *     records (below).
 *  4. pg_dump -O -x -Fc -f work_dir/backup-<job id>.dump, with the connection's parameters in
 *     its environment (conninfo_environment, as swap.c gives pg_restore) and only the database
 *     name on its command line. Its header is checked: custom format, the version expected.
 *  5. For a full snapshot, the files of blob_dir are measured, .metadata is made, and the
 *     snapshot is written (backup_archive.c); for db_only the dump is copied.
 *  6. The .part file is fsynced, closed and renamed, and its folder fsynced; then, when told,
 *     older backups of the folder go (backup_keep.c).
 * Any failure removes the .part file and the dump: nothing is left behind but by a kill -9
 * (then work_dir/backup-<job id>.dump and <name>.part remain; see README).
 *
 * The model version. A Mendix database records its runtime and schema in the one-row table
 * public."mendixsystem$version" (columns versionnumber, lastsyncdate, mendixversion, ...).
 * .metadata's modelVersion is the application's model version ("1.0.0.40"); it is taken from
 * that table's column modelversion when the table has such a column with a value, and left
 * out otherwise (mendixversion, the runtime's version, is not the model's).
 */
#include "backup_parts.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conninfo.h"
#include "database.h"
#include "dump.h"
#include "io.h"
#include "json.h"
#include "spawn.h"

#define ERR_BYTES         2048
#define PG_DUMP_SAID_KEEP 4096

/* The model version, when the table and column exist; a row with a value. */
static const char model_version_sql[] =
    "SELECT v.modelversion::text FROM public.\"mendixsystem$version\" v "
    " WHERE v.modelversion IS NOT NULL LIMIT 1";
static const char model_version_present_sql[] =
    "SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a "
    "  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    " WHERE n.nspname = 'public' AND c.relname = 'mendixsystem$version' "
    "   AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attname = 'modelversion' "
    "   AND a.attnum > 0 AND NOT a.attisdropped";

/* What one backup holds while it runs. */
struct run {
	const struct backup_options *o;
	struct backup_result *r;
	struct conninfo_secrets secrets;
	PQconninfoOption *options; /* the target's connection string, parsed; NULL for a name */
	char dbname[256];
	int out_dir_fd; /* the output folder; -1 for "-" */
	char *out_dir;
	char name[BACKUP_NAME_MAX]; /* the file's name in it */
	char part[BACKUP_NAME_MAX + 8];
	bool part_made;
	int out_fd;
	char *dump_path;
	int dump_fd;
	int dump_minor; /* the archive minor version pg_dump writes */
	char err[ERR_BYTES];
};

void
backup_warn(struct backup_result *r, const char *fmt, ...)
{
	char line[1024], **grown;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *c = line; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
	grown = realloc(r->warnings, (r->nwarnings + 1) * sizeof(*grown));
	if (grown == NULL)
		return;
	r->warnings = grown;
	if ((grown[r->nwarnings] = strdup(line)) != NULL)
		r->nwarnings++;
}

bool
backup_cancelled(const struct backup_options *o)
{
	return o->cancel != NULL && *o->cancel != 0;
}

/* log_line: a progress line for a human, when the caller wants them. */
static void log_line(const struct run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
log_line(const struct run *run, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (run->o->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	run->o->log(run->o->log_ctx, line);
}

/* seconds_since: the seconds from t to now. */
static double
seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

char *
backup_default_pg_dump(const char *pg_restore)
{
	const char *slash = pg_restore != NULL ? strrchr(pg_restore, '/') : NULL;
	char *beside;

	if (slash != NULL) {
		if (asprintf(&beside, "%.*spg_dump", (int)(slash - pg_restore + 1), pg_restore) < 0)
			return NULL;
		if (access(beside, X_OK) == 0)
			return beside;
		free(beside);
	}
	return strdup("pg_dump");
}

/*
 * check_pg_dump: the archive version run->r->pg_dump writes, refused (rejected) when newer
 * than the target's max_dump_version. 0, or -1 with run->err.
 */
static int
check_pg_dump(struct run *run)
{
	const struct restore_target *t = run->o->target;
	int major, minor;

	if (database_pg_restore_max_version(run->r->pg_dump, &major, &minor, run->err,
	                                    sizeof(run->err)) < 0)
		return -1;
	run->dump_minor = minor;
	if (t->max_dump_major > 1 || (t->max_dump_major == 1 && minor <= t->max_dump_minor))
		return 0;
	run->r->status = "rejected";
	return io_error(run->err, sizeof(run->err),
	                "%s writes dumps of archive version %d.%d (PostgreSQL %d or later), newer "
	                "than the max_dump_version of target %s (%d.%d); set pg_dump: in the "
	                "configuration to a pg_dump of PostgreSQL %d or older (e.g. "
	                "/usr/lib/postgresql/15/bin/pg_dump for 1.14)",
	                run->r->pg_dump, major, minor, dump_first_postgresql(minor), t->name,
	                t->max_dump_major, t->max_dump_minor,
	                dump_first_postgresql(t->max_dump_minor + 1) - 1);
}

/*
 * open_output: the output's folder and "<name>.part" in it (or output_fd for "-"); 0, or -1
 * with run->err.
 */
static int
open_output(struct run *run, time_t started)
{
	const struct backup_options *o = run->o;
	const char *output = o->output != NULL ? o->output : ".";
	char *dir = NULL, *path = NULL;
	const char *slash;
	struct stat st;
	int rc = -1;

	backup_name(run->name, sizeof(run->name), o->db_only, run->r->job_id, started);
	if (strcmp(output, "-") == 0) {
		run->out_fd = o->output_fd;
		run->r->archive = strdup("-");
		return run->r->archive != NULL
		           ? 0
		           : io_error(run->err, sizeof(run->err), "out of memory");
	}
	if (stat(output, &st) == 0 && S_ISDIR(st.st_mode)) {
		dir = strdup(output);
	} else if (output[strlen(output) - 1] == '/') {
		return io_error(run->err, sizeof(run->err), "the output folder %s does not exist",
		                output);
	} else {
		slash = strrchr(output, '/');
		dir = slash == NULL     ? strdup(".")
		      : slash == output ? strdup("/")
		                        : strndup(output, (size_t)(slash - output));
		if (strlen(slash != NULL ? slash + 1 : output) >= sizeof(run->name))
			return io_error(run->err, sizeof(run->err),
			                "the output name %s is too long", output);
		snprintf(run->name, sizeof(run->name), "%s", slash != NULL ? slash + 1 : output);
	}
	if (dir == NULL)
		return io_error(run->err, sizeof(run->err), "out of memory");
	if (asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", run->name) < 0) {
		path = NULL;
		(void)io_error(run->err, sizeof(run->err), "out of memory");
		goto done;
	}
	run->r->archive = path;
	path = NULL;
	run->out_dir = dir;
	dir = NULL;
	snprintf(run->part, sizeof(run->part), "%s.part", run->name);
	run->out_dir_fd = open(run->out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->out_dir_fd < 0) {
		(void)io_error(run->err, sizeof(run->err), "cannot open the output folder %s: %s",
		               run->out_dir, strerror(errno));
		goto done;
	}
	run->out_fd = openat(run->out_dir_fd, run->part,
	                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (run->out_fd < 0) {
		(void)io_error(run->err, sizeof(run->err), "cannot create %s.part: %s",
		               run->r->archive, strerror(errno));
		goto done;
	}
	run->part_made = true;
	rc = 0;
done:
	free(dir);
	return rc;
}

/* connect_target: a connection to the target's database, or NULL with run->err. */
static PGconn *
connect_target(struct run *run)
{
	const char *keys[] = {"application_name", "dbname", NULL};
	const char *vals[] = {"restore-worker", run->o->target->conninfo, NULL};
	char *errmsg = NULL, msg[512];
	PGconn *conn;

	if (conninfo_secrets_init(&run->secrets, run->o->target->conninfo) < 0 ||
	    (conninfo_is_string(run->o->target->conninfo) &&
	     (run->options = PQconninfoParse(run->o->target->conninfo, &errmsg)) == NULL)) {
		PQfreemem(errmsg); /* it can quote the string */
		(void)io_error(
		    run->err, sizeof(run->err),
		    "the target's connection string is malformed (libpq cannot parse it; "
		    "it is not shown, as it may hold a password)");
		return NULL;
	}
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";

		if (strncmp(m, "connection to server ", 21) == 0 && strstr(m, "failed: ") != NULL)
			m = strstr(m, "failed: ") + 8;
		snprintf(msg, sizeof(msg), "%.*s", (int)strcspn(m, "\n"), m);
		(void)io_error(run->err, sizeof(run->err),
		               "cannot connect to the database of target %s: %s",
		               run->o->target->name, msg);
		conninfo_scrub(&run->secrets, run->err, sizeof(run->err));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* query_one: the one value of sql's one row into buf; 1, 0 for no row, -1 with run->err. */
static int
query_one(struct run *run, PGconn *conn, const char *sql, const char *what, char *buf,
          size_t buflen)
{
	PGresult *res = PQexec(conn, sql);
	int rc;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *m = PQresultErrorMessage(res);

		(void)io_error(run->err, sizeof(run->err), "cannot read %s: %.*s", what,
		               (int)strcspn(m, "\n"), m);
		conninfo_scrub(&run->secrets, run->err, sizeof(run->err));
		rc = -1;
	} else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
		rc = 0;
	} else {
		snprintf(buf, buflen, "%s", PQgetvalue(res, 0, 0));
		rc = 1;
	}
	PQclear(res);
	return rc;
}

/* read_database: the database's name, size and model version; 0, or -1 with run->err. */
static int
read_database(struct run *run)
{
	char value[256];
	PGconn *conn = connect_target(run);
	int rc = -1;

	if (conn == NULL)
		return -1;
	if (query_one(run, conn, "SELECT pg_catalog.current_database()", "the database's name",
	              run->dbname, sizeof(run->dbname)) != 1 ||
	    query_one(run, conn,
	              "SELECT pg_catalog.pg_database_size(pg_catalog.current_database())",
	              "the database's size", value, sizeof(value)) != 1)
		goto done;
	run->r->database_bytes = strtoull(value, NULL, 10);
	if (query_one(run, conn, model_version_present_sql, "whether the model version is recorded",
	              value, sizeof(value)) != 1)
		goto done;
	if (strcmp(value, "0") != 0) {
		switch (query_one(run, conn, model_version_sql, "the model version", value,
		                  sizeof(value))) {
		case -1:
			goto done;
		case 1:
			if ((run->r->model_version = strdup(value)) == NULL) {
				(void)io_error(run->err, sizeof(run->err), "out of memory");
				goto done;
			}
			break;
		default:
			break;
		}
	}
	rc = 0;
done:
	PQfinish(conn);
	return rc;
}

/* keep_said: keep the start of what pg_dump says on stderr (for spawn_pump). */
static int
keep_said(void *ctx, const char *buf, size_t len)
{
	char *said = ctx;
	size_t have = strlen(said);

	if (have + 1 < PG_DUMP_SAID_KEEP) {
		size_t n = len < PG_DUMP_SAID_KEEP - 1 - have ? len : PG_DUMP_SAID_KEEP - 1 - have;

		memcpy(said + have, buf, n);
		said[have + n] = '\0';
	}
	return 0;
}

/* dump_failed: run->err from pg_dump's exit status and its first error line. */
static int
dump_failed(struct run *run, const char *said, int status)
{
	const char *line = strstr(said, "error: ");
	char msg[1024];

	if (line != NULL) {
		line += 7;
		snprintf(msg, sizeof(msg), "%.*s", (int)strcspn(line, "\n"), line);
	} else if (status >= 0 && WIFSIGNALED(status)) {
		snprintf(msg, sizeof(msg), "it was killed by signal %d", WTERMSIG(status));
	} else {
		snprintf(msg, sizeof(msg), "exit status %d, without a message",
		         status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	(void)io_error(run->err, sizeof(run->err), "pg_dump of database %s failed: %s", run->dbname,
	               msg);
	conninfo_scrub(&run->secrets, run->err, sizeof(run->err));
	return -1;
}

/* check_dump: the dump's header says custom format, of the version expected. */
static int
check_dump(struct run *run)
{
	unsigned char head[DUMP_IDENTIFY_BYTES];
	struct stat st;
	ssize_t n;

	if (fstat(run->dump_fd, &st) < 0 || (n = pread(run->dump_fd, head, sizeof(head), 0)) < 0)
		return io_error(run->err, sizeof(run->err), "cannot read the dump %s: %s",
		                run->dump_path, strerror(errno));
	if (dump_identify(head, (size_t)n) != DUMP_KIND_CUSTOM || n < 8)
		return io_error(run->err, sizeof(run->err),
		                "%s did not write a custom-format dump (its file starts otherwise)",
		                run->r->pg_dump);
	if (head[5] != 1 || head[6] > run->dump_minor)
		return io_error(
		    run->err, sizeof(run->err),
		    "%s wrote a dump of archive version %d.%d, not %d.%d as its version "
		    "says",
		    run->r->pg_dump, head[5], head[6], 1, run->dump_minor);
	snprintf(run->r->dump_version, sizeof(run->r->dump_version), "%d.%d", head[5], head[6]);
	run->r->dump_bytes = (uint64_t)st.st_size;
	return 0;
}

/* make_dump: pg_dump -O -x -Fc of the database into work_dir; 0, or -1 with run->err. */
static int
make_dump(struct run *run)
{
	char *dbname_arg = NULL, **env = NULL, buf[4096], *said = NULL;
	struct spawn sp = {.pid = -1, .out_fd = -1, .err_fd = -1};
	char *argv[9];
	int status, rc = -1, fd;

	if (asprintf(&run->dump_path, "%s/backup-%s.dump", run->o->work_dir, run->r->job_id) < 0) {
		run->dump_path = NULL;
		return io_error(run->err, sizeof(run->err), "out of memory");
	}
	/* Created here, so that nothing already there (a link) is written through. */
	fd = open(run->dump_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(run->dump_path);
		run->dump_path = NULL;
		return io_error(run->err, sizeof(run->err),
		                "cannot create the dump in work_dir %s: %s", run->o->work_dir,
		                strerror(errno));
	}
	(void)close(fd); /* empty: nothing to lose */
	dbname_arg = conninfo_dbname_option(run->dbname);
	env = conninfo_environment(run->options, "restore-worker");
	said = calloc(1, PG_DUMP_SAID_KEEP);
	if (dbname_arg == NULL || env == NULL || said == NULL) {
		(void)io_error(run->err, sizeof(run->err), "out of memory");
		goto done;
	}
	argv[0] = run->r->pg_dump;
	argv[1] = "-O";
	argv[2] = "-x";
	argv[3] = "-Fc";
	argv[4] = "-f";
	argv[5] = run->dump_path;
	argv[6] = dbname_arg;
	argv[7] = NULL;
	if (spawn_start_env(argv, env, &sp, run->err, sizeof(run->err)) < 0)
		goto done;
	switch (spawn_pump(&sp, run->o->cancel, NULL, keep_said, said, buf, sizeof(buf))) {
	case SPAWN_PUMP_CANCELLED:
		(void)io_error(run->err, sizeof(run->err), "the backup was interrupted");
		goto done;
	case SPAWN_PUMP_POLL_FAILED:
		(void)io_error(run->err, sizeof(run->err), "cannot wait for pg_dump: %s",
		               strerror(errno));
		goto done;
	default:
		break;
	}
	status = spawn_finish(&sp);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dump_failed(run, said, status);
		goto done;
	}
	run->dump_fd = open(run->dump_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (run->dump_fd < 0) {
		(void)io_error(run->err, sizeof(run->err), "cannot open the dump %s: %s",
		               run->dump_path, strerror(errno));
		goto done;
	}
	rc = check_dump(run);
done:
	if (sp.pid > 0)
		(void)spawn_kill(&sp);
	conninfo_environment_free(env);
	free(dbname_arg);
	free(said);
	return rc;
}

/* metadata_text: .metadata, every value a string, in the documentation's order. */
static char *
metadata_text(const struct backup_result *r)
{
	struct json_writer w = {0};
	char n[32];

	json_begin_object(&w);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)r->metadata_duration_s);
	json_key(&w, "duration");
	json_string(&w, n);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)r->dump_bytes);
	json_key(&w, "dumpSize");
	json_string(&w, n);
	if (r->model_version != NULL) {
		json_key(&w, "modelVersion");
		json_string(&w, r->model_version);
	}
	snprintf(n, sizeof(n), "%llu", (unsigned long long)r->database_bytes);
	json_key(&w, "databaseSize");
	json_string(&w, n);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)r->files_measured_bytes);
	json_key(&w, "filesSize");
	json_string(&w, n);
	json_end_object(&w);
	return json_finish(&w);
}

/* write_backup: the files' measure, .metadata and the snapshot, or the bare dump. */
static int
write_backup(struct run *run, const struct timespec *start)
{
	struct backup_result *r = run->r;
	struct timespec t, measured_at;
	char *metadata;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t);
	if (run->o->db_only) {
		rc = backup_copy(run->o, run->dump_fd, run->out_fd, &r->archive_bytes, run->err,
		                 sizeof(run->err));
		r->write_s = seconds_since(&t);
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &measured_at);
	if (backup_files_measure(run->o, r, run->err, sizeof(run->err)) < 0)
		return -1;
	r->files_s = seconds_since(&t);
	log_line(run, "blob_dir measured: %llu bytes in %.3f s",
	         (unsigned long long)r->files_measured_bytes, r->files_s);
	r->metadata_duration_s = (uint64_t)(seconds_since(start) + 0.5);
	metadata = metadata_text(r);
	if (metadata == NULL)
		return io_error(run->err, sizeof(run->err), "out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t);
	rc = backup_snapshot_write(run->o, r, run->out_fd, run->dump_fd, metadata, strlen(metadata),
	                           &measured_at, run->err, sizeof(run->err));
	free(metadata);
	r->write_s = seconds_since(&t);
	return rc;
}

/* finish_output: make the .part file durable and give it its name. */
static int
finish_output(struct run *run)
{
	int fd = run->out_fd;

	run->out_fd = -1;
	if (fsync(fd) < 0) {
		(void)close(fd);
		return io_error(run->err, sizeof(run->err), "cannot write %s: %s", run->r->archive,
		                strerror(errno));
	}
	if (close(fd) < 0)
		return io_error(run->err, sizeof(run->err), "cannot write %s: %s", run->r->archive,
		                strerror(errno));
	if (renameat(run->out_dir_fd, run->part, run->out_dir_fd, run->name) < 0)
		return io_error(run->err, sizeof(run->err), "cannot rename %s.part to %s: %s",
		                run->r->archive, run->name, strerror(errno));
	run->part_made = false;
	if (fsync(run->out_dir_fd) < 0)
		return io_error(run->err, sizeof(run->err),
		                "%s is written, but its folder cannot be synced: %s",
		                run->r->archive, strerror(errno));
	return 0;
}

/* steps: everything after the result is set up; 0, or -1 with run->err. */
static int
steps(struct run *run, const struct timespec *start, time_t started)
{
	struct backup_result *r = run->r;
	struct timespec t;

	if (check_pg_dump(run) < 0 || open_output(run, started) < 0)
		return -1;
	log_line(run, "backing up target %s into %s with %s", r->target, r->archive, r->pg_dump);
	if (read_database(run) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (make_dump(run) < 0)
		return -1;
	r->dump_s = seconds_since(&t);
	log_line(run, "database %s dumped: %llu bytes (archive %s) in %.3f s", run->dbname,
	         (unsigned long long)r->dump_bytes, r->dump_version, r->dump_s);
	if (write_backup(run, start) < 0)
		return -1;
	if (run->out_dir_fd >= 0 && finish_output(run) < 0)
		return -1;
	if (run->out_dir_fd >= 0 && run->o->keep > 0)
		backup_keep_newest(run->out_dir_fd, run->out_dir, run->o->db_only, run->o->keep,
		                   run->name, run->o->folder_exclusive, r);
	return 0;
}

int
backup_run(const struct backup_options *o, struct backup_result *r)
{
	struct run run = {.o = o, .r = r, .out_dir_fd = -1, .out_fd = -1, .dump_fd = -1};
	struct timespec start;
	int rc;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_REALTIME, &r->started_at);
	if (o->job_id != NULL)
		snprintf(r->job_id, sizeof(r->job_id), "%s", o->job_id);
	else
		restore_new_job_id(r->job_id);
	r->kind = o->db_only ? "database_only" : "full_snapshot";
	r->status = "failed";
	r->target = strdup(o->target->name);
	r->pg_dump =
	    o->pg_dump != NULL ? strdup(o->pg_dump) : backup_default_pg_dump(o->pg_restore);
	if (r->target == NULL || r->pg_dump == NULL)
		rc = io_error(run.err, sizeof(run.err), "out of memory");
	else
		rc = steps(&run, &start, r->started_at.tv_sec);
	if (run.out_fd >= 0 && run.out_fd != o->output_fd)
		(void)close(run.out_fd); /* failed: what it holds goes */
	if (run.part_made && unlinkat(run.out_dir_fd, run.part, 0) < 0 && errno != ENOENT)
		backup_warn(r, "cannot remove %s.part: %s", r->archive, strerror(errno));
	if (run.out_dir_fd >= 0)
		(void)close(run.out_dir_fd);
	if (run.dump_fd >= 0)
		(void)close(run.dump_fd);
	if (run.dump_path != NULL && unlink(run.dump_path) < 0 && errno != ENOENT)
		backup_warn(r, "cannot remove the dump %s: %s", run.dump_path, strerror(errno));
	free(run.dump_path);
	free(run.out_dir);
	if (run.options != NULL)
		PQconninfoFree(run.options);
	conninfo_secrets_free(&run.secrets);
	r->total_s = seconds_since(&start);
	clock_gettime(CLOCK_REALTIME, &r->finished_at);
	if (rc < 0) {
		if (strcmp(r->status, "rejected") != 0)
			r->status = "failed";
		r->error = strdup(run.err);
		return RESTORE_EXIT_UNCHANGED;
	}
	r->status = "succeeded";
	return RESTORE_EXIT_SUCCEEDED;
}

/* json_time: an RFC 3339 UTC time with milliseconds. */
static void
json_time(struct json_writer *w, const char *key, const struct timespec *t)
{
	char buf[64];
	struct tm tm;

	gmtime_r(&t->tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)(t->tv_nsec / 1000000));
	json_key(w, key);
	json_string(w, buf);
}

char *
backup_result_json(const struct backup_result *r)
{
	struct json_writer w = {0};

	json_begin_object(&w);
	json_key(&w, "job_id");
	json_string(&w, r->job_id);
	json_key(&w, "target");
	json_string(&w, r->target != NULL ? r->target : "");
	json_key(&w, "kind");
	json_string(&w, r->kind);
	json_key(&w, "status");
	json_string(&w, r->status);
	if (r->error != NULL) {
		json_key(&w, "error");
		json_string(&w, r->error);
	}
	json_key(&w, "warnings");
	json_begin_array(&w);
	for (size_t i = 0; i < r->nwarnings; i++)
		json_string(&w, r->warnings[i]);
	json_end_array(&w);
	json_key(&w, "archive");
	if (r->archive != NULL)
		json_string(&w, r->archive);
	else
		json_null(&w);
	json_key(&w, "archive_bytes");
	json_uint(&w, r->archive_bytes);
	json_time(&w, "started_at", &r->started_at);
	json_time(&w, "finished_at", &r->finished_at);
	json_key(&w, "database");
	json_begin_object(&w);
	json_key(&w, "pg_dump");
	json_string(&w, r->pg_dump != NULL ? r->pg_dump : "");
	json_key(&w, "dump_version");
	json_string(&w, r->dump_version);
	json_key(&w, "dump_bytes");
	json_uint(&w, r->dump_bytes);
	json_key(&w, "database_bytes");
	json_uint(&w, r->database_bytes);
	json_key(&w, "model_version");
	if (r->model_version != NULL)
		json_string(&w, r->model_version);
	else
		json_null(&w);
	json_end_object(&w);
	json_key(&w, "files");
	json_begin_object(&w);
	json_key(&w, "count");
	json_uint(&w, r->files_count);
	json_key(&w, "bytes");
	json_uint(&w, r->files_bytes);
	json_key(&w, "measured_bytes");
	json_uint(&w, r->files_measured_bytes);
	json_key(&w, "skipped");
	json_uint(&w, r->files_skipped);
	json_key(&w, "vanished");
	json_uint(&w, r->files_vanished);
	json_end_object(&w);
	json_key(&w, "removed");
	json_begin_array(&w);
	for (size_t i = 0; i < r->nremoved; i++)
		json_string(&w, r->removed[i]);
	json_end_array(&w);
	json_key(&w, "timings");
	json_begin_object(&w);
	json_key(&w, "dump_s");
	json_fixed3(&w, r->dump_s);
	json_key(&w, "files_s");
	json_fixed3(&w, r->files_s);
	json_key(&w, "write_s");
	json_fixed3(&w, r->write_s);
	json_key(&w, "total_s");
	json_fixed3(&w, r->total_s);
	json_end_object(&w);
	json_end_object(&w);
	return json_finish(&w);
}

void
backup_result_free(struct backup_result *r)
{
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	for (size_t i = 0; i < r->nremoved; i++)
		free(r->removed[i]);
	free(r->removed);
	free(r->error);
	free(r->target);
	free(r->archive);
	free(r->pg_dump);
	free(r->model_version);
	memset(r, 0, sizeof(*r));
}
