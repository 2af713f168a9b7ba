/*
 * backup_dump.c - the database side of a backup (see backup.c for the order of it all):
 * which pg_dump and the archive version it writes, the database's name, size and model
 * version, and the dump itself.
 *
 * The pg_dump is the oldest found that dumps the server (pg_client.h), and the archive version
 * it writes follows from its major: 12 to 15 write 1.14, 16 writes 1.15, 17 and 18 write 1.16.
 * One newer than the target's max_dump_version is refused before anything is written.
 *
 * The dump is pg_dump -O -x -Fc --verbose -f work_dir/backup-<job id>.dump, with the
 * connection's parameters in its environment (conninfo_environment, as swap_restore.c gives
 * pg_restore), its messages in English (LC_MESSAGES=C: they are read), and only the database
 * name on its command line. Its header is checked: custom format, the version expected.
 *
 * The progress: --verbose makes pg_dump say "dumping contents of table "<schema>.<name>""
 * as it begins each table's data; that line names the table and counts it, against the
 * tables the database held when it was read (one query before the dump: ordinary tables
 * outside the system schemas and not of an extension, the tables whose data pg_dump dumps).
 * The bytes written are the dump file's size, looked at while pg_dump runs. Its other
 * --verbose lines are dropped; what is not one of them (errors, warnings, details, the
 * server's messages) is kept for the error message.
 *
 * The model version. A Mendix database records its runtime and schema in the one-row table
 * public."mendixsystem$version" (columns versionnumber, lastsyncdate, mendixversion, ...).
 * .metadata's modelVersion is the application's model version ("1.0.0.40"); it is taken from
 * that table's column modelversion when the table has such a column with a value, and left
 * out otherwise (mendixversion, the runtime's version, is not the model's).
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup_parts.h"
#include "conninfo.h"
#include "database.h"
#include "dump.h"
#include "io.h"
#include "pg_client.h"
#include "spawn.h"

#define PG_DUMP_SAID_KEEP 4096

/* The tables whose data pg_dump dumps (see above), for the progress. */
static const char table_count_sql[] =
    "SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c "
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    " WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "
    "   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d "
    "        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
    "          AND d.objid = c.oid AND d.deptype = 'e')";

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

/*
 * backup_pick_pg_dump: the oldest pg_dump that dumps the server (pg_dump refuses a newer
 * server than itself), refused (rejected) when none does or when the archive version it
 * writes is newer than the target's max_dump_version: a target's own backups must restore
 * into it. 0, or -1 with run->err.
 */
int
backup_pick_pg_dump(struct backup_state *run)
{
	const struct restore_target *t = run->o->target;
	const struct pg_client *pick;
	struct pg_client_set set;
	char found[1024], advice[1024];
	int rc = -1;

	if (pg_client_find(&set, "pg_dump", run->o->pg_dump, run->o->pg_restore,
	                   run->o->pg_client_dirs, run->err, sizeof(run->err)) < 0)
		goto done;
	pick = pg_client_for_server(&set, run->server_major);
	if (pick == NULL && set.pinned && (run->r->pg_dump = strdup(set.v[0].path)) == NULL) {
		(void)io_error(run->err, sizeof(run->err), "out of memory");
		goto done;
	}
	if (pick == NULL) {
		pg_client_describe(&set, found, sizeof(found));
		pg_client_advice(&set, run->server_major, advice, sizeof(advice));
		run->r->status = "rejected";
		(void)io_error(run->err, sizeof(run->err),
		               "the server of target %s is PostgreSQL %s: it needs the pg_dump of "
		               "PostgreSQL %d or later (found: %s); %s",
		               t->name, run->r->server_version, run->server_major, found, advice);
		goto done;
	}
	if ((run->r->pg_dump = strdup(pick->path)) == NULL) {
		(void)io_error(run->err, sizeof(run->err), "out of memory");
		goto done;
	}
	snprintf(run->r->pg_dump_version, sizeof(run->r->pg_dump_version), "%s", pick->version);
	run->dump_minor = pick->archive_minor;
	if (t->max_dump_major > 1 ||
	    (t->max_dump_major == 1 && pick->archive_minor <= t->max_dump_minor)) {
		rc = 0;
		goto done;
	}
	run->r->status = "rejected";
	if (pick->major <= run->server_major || set.pinned)
		(void)io_error(
		    run->err, sizeof(run->err),
		    "%s (PostgreSQL %s), the oldest pg_dump that dumps the server of target %s "
		    "(PostgreSQL %s), writes archive version 1.%d, newer than the target's "
		    "max_dump_version %d.%d, so the target would refuse this backup; set "
		    "max_dump_version: \"1.%d\" for target %s",
		    pick->path, pick->version, t->name, run->r->server_version, pick->archive_minor,
		    t->max_dump_major, t->max_dump_minor, pick->archive_minor, t->name);
	else
		(void)io_error(
		    run->err, sizeof(run->err),
		    "%s (PostgreSQL %s), the oldest pg_dump found that dumps the server of target "
		    "%s (PostgreSQL %s), writes archive version 1.%d, newer than the target's "
		    "max_dump_version %d.%d, so the target would refuse this backup; install the "
		    "pg_dump of PostgreSQL %d (postgresql-client-%d), or set max_dump_version: "
		    "\"1.%d\" for target %s",
		    pick->path, pick->version, t->name, run->r->server_version, pick->archive_minor,
		    t->max_dump_major, t->max_dump_minor, run->server_major, run->server_major,
		    pick->archive_minor, t->name);
done:
	pg_client_set_free(&set);
	return rc;
}

/* connect_target: a connection to the target's database, or NULL with run->err. */
static PGconn *
connect_target(struct backup_state *run)
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
query_one(struct backup_state *run, PGconn *conn, const char *sql, const char *what, char *buf,
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

/*
 * backup_read_database: the database's name, size, model version and tables; 0, or -1 with
 * run->err.
 */
int
backup_read_database(struct backup_state *run)
{
	char value[256];
	const char *server;
	PGconn *conn = connect_target(run);
	int rc = -1;

	if (conn == NULL)
		return -1;
	server = PQparameterStatus(conn, "server_version");
	snprintf(run->r->server_version, sizeof(run->r->server_version), "%.*s",
	         server != NULL ? (int)strcspn(server, " ") : 0, server != NULL ? server : "");
	run->server_major = PQserverVersion(conn) / 10000;
	if (query_one(run, conn, "SELECT pg_catalog.current_database()", "the database's name",
	              run->dbname, sizeof(run->dbname)) != 1 ||
	    query_one(run, conn,
	              "SELECT pg_catalog.pg_database_size(pg_catalog.current_database())",
	              "the database's size", value, sizeof(value)) != 1)
		goto done;
	run->r->database_bytes = strtoull(value, NULL, 10);
	/* Only for the progress: a count that cannot be read is unknown (0). */
	if (query_one(run, conn, table_count_sql, "the tables", value, sizeof(value)) == 1)
		run->watch.p.table_total = strtoull(value, NULL, 10);
	run->err[0] = '\0';
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

/* What pg_dump --verbose says on stderr, line by line (for spawn_pump_ticking). */
struct dump_said {
	struct backup_state *run;
	char kept[PG_DUMP_SAID_KEEP]; /* the start of what is not progress */
	size_t kept_len;
	struct spawn_lines lines; /* what pg_dump says, line by line */
};

/* said_chatter: is message (after "pg_dump: ") one of --verbose's, not a complaint? */
static bool
said_chatter(const char *message, size_t n)
{
	static const char *const complaints[] = {
	    "error:", "warning:", "detail:", "hint:", "fatal:"};

	for (size_t i = 0; i < sizeof(complaints) / sizeof(complaints[0]); i++)
		if (n >= strlen(complaints[i]) &&
		    strncmp(message, complaints[i], strlen(complaints[i])) == 0)
			return false;
	return true;
}

/* said_line: a table begun (progress), chatter dropped, anything else kept. */
static void
said_line(void *ctx, const char *line, size_t n)
{
	struct dump_said *sd = ctx;
	static const char prefix[] = "pg_dump: ", table[] = "dumping contents of table ";
	struct backup_watch *w = &sd->run->watch;

	if (n >= sizeof(prefix) - 1 && strncmp(line, prefix, sizeof(prefix) - 1) == 0) {
		const char *m = line + sizeof(prefix) - 1;
		size_t mn = n - (sizeof(prefix) - 1);

		if (mn > sizeof(table) - 1 && strncmp(m, table, sizeof(table) - 1) == 0) {
			m += sizeof(table) - 1;
			mn -= sizeof(table) - 1;
			if (mn >= 2 && m[0] == '"' && m[mn - 1] == '"') {
				m++;
				mn -= 2;
			}
			snprintf(w->table, sizeof(w->table), "%.*s", (int)mn, m);
			for (char *c = w->table; *c != '\0'; c++)
				if ((unsigned char)*c < 0x20)
					*c = '?';
			w->p.table = w->table;
			w->p.tables++;
			backup_watch_tick(w);
			return;
		}
		if (said_chatter(m, mn))
			return;
	}
	if (sd->kept_len + n + 1 < sizeof(sd->kept)) {
		memcpy(sd->kept + sd->kept_len, line, n);
		sd->kept_len += n;
		sd->kept[sd->kept_len++] = '\n';
		sd->kept[sd->kept_len] = '\0';
	}
}

/* said_sink: split what pg_dump says into lines (a spawn_sink). */
static int
said_sink(void *ctx, const char *buf, size_t len)
{
	struct dump_said *sd = ctx;

	spawn_lines_feed(&sd->lines, buf, len, said_line, sd);
	return 0;
}

/* said_tick: the dump's bytes so far, handed on with the rest (spawn_pump_ticking's tick). */
static void
said_tick(void *ctx)
{
	struct dump_said *sd = ctx;
	struct stat st;

	if (stat(sd->run->dump_path, &st) == 0)
		sd->run->watch.p.dump_bytes = (uint64_t)st.st_size;
	backup_watch_tick(&sd->run->watch);
}

/* dump_failed: run->err from pg_dump's exit status and its first error line. */
static int
dump_failed(struct backup_state *run, const char *said, int status)
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
check_dump(struct backup_state *run)
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

/* backup_make_dump: pg_dump -O -x -Fc of the database into work_dir; 0, or -1 with run->err. */
int
backup_make_dump(struct backup_state *run)
{
	char *dbname_arg = NULL, **env = NULL, buf[4096];
	struct spawn sp = {.pid = -1, .out_fd = -1, .err_fd = -1};
	struct dump_said *said = NULL;
	char *argv[10], snapshot_arg[160];
	int status, rc = -1, fd, n = 7;

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
	said = calloc(1, sizeof(*said));
	if (dbname_arg == NULL || env == NULL || said == NULL) {
		(void)io_error(run->err, sizeof(run->err), "out of memory");
		goto done;
	}
	argv[0] = run->r->pg_dump;
	argv[1] = "-O";
	argv[2] = "-x";
	argv[3] = "-Fc";
	argv[4] = "--verbose"; /* its "dumping contents of table" lines are the progress */
	argv[5] = "-f";
	argv[6] = run->dump_path;
	if (run->leftout.snapshot[0] != '\0') { /* the snapshot backup_leftout.c judges in */
		snprintf(snapshot_arg, sizeof(snapshot_arg), "--snapshot=%s",
		         run->leftout.snapshot);
		argv[n++] = snapshot_arg;
	}
	argv[n++] = dbname_arg;
	argv[n] = NULL;
	said->run = run;
	backup_watch_phase(&run->watch, "dump");
	if (spawn_start_env(argv, env, &sp, run->err, sizeof(run->err)) < 0)
		goto done;
	switch (spawn_pump_ticking(&sp, run->o->cancel, NULL, said_sink, said_tick, said, buf,
	                           sizeof(buf))) {
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
	spawn_lines_end(&said->lines, said_line, said);
	status = spawn_finish(&sp);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dump_failed(run, said->kept, status);
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
