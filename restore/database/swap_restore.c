/*
 * swap_restore.c - the swap strategy's restore (see swap.h): create the new database like the
 * target, from template0, and run pg_restore --jobs into it, counting the entries it has done
 * (its --verbose lines) and telling from what it said which entry failed and why.
 *
 * pg_restore gets the target's connection parameters in its environment (PGHOST, PGPORT,
 * PGUSER, PGPASSWORD, PGSSLMODE, ...: each option's own environment variable, as libpq names
 * it; see conninfo_environment), and on its command line only the new database's name: ps
 * shows a command line, never an environment of another user. Its PGOPTIONS adds the target's
 * database-level settings (read at swap_open: the new database gets them only at the swap) and
 * the restore's session settings, so that its sessions are those of the transaction strategy.
 * The new database is marked by its comment (swap_marker) right after its CREATE DATABASE.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "conninfo.h"
#include "database.h"
#include "io.h"
#include "spawn.h"
#include "swap_parts.h"

#define SWAP_STDERR_KEEP 8192

/*
 * drop_own_leftover: drop a database of this job's new name left by an earlier run of this
 * same job killed between its CREATE DATABASE and its marker (mark_new): no comment, the
 * target's owner, the name only this job makes for this target. One marked by this job is
 * dropped too; anything else of that name stays (CREATE DATABASE then says it exists).
 */
static int
drop_own_leftover(struct swap *s, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT 1 FROM pg_catalog.pg_database d WHERE d.datname = $1 "
	    "AND pg_catalog.pg_get_userbyid(d.datdba) = $2 "
	    "AND coalesce(pg_catalog.shobj_description(d.oid, 'pg_database'), $3) = $3";
	char marker[256];
	const char *params[] = {s->new_name, s->owner, marker};
	PGresult *res;
	bool found;

	swap_marker(s, false, marker, sizeof(marker));
	res = swap_run(s, sql, 3, params, "look for a database this job left behind", err, errlen);
	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	PQclear(res);
	return found ? swap_drop_database(s, s->new_name, true, true, err, errlen) : 0;
}

/* mark_new: the marker comment (swap_marker) on the new database, quoted name. */
static int
mark_new(struct swap *s, const char *name, char *err, size_t errlen)
{
	struct swap_text sql = {0};
	char marker[256], *lit;
	int rc;

	swap_marker(s, false, marker, sizeof(marker));
	lit = PQescapeLiteral(s->conn, marker, strlen(marker));
	if (lit == NULL)
		return io_error(err, errlen, "out of memory");
	swap_text_add(&sql, "COMMENT ON DATABASE %s IS %s", name, lit);
	PQfreemem(lit);
	if (sql.failed) {
		free(sql.data);
		return io_error(err, errlen, "out of memory");
	}
	rc = swap_run_command(s, sql.data, "mark the database to restore into", err, errlen);
	free(sql.data);
	return rc;
}

/* create_new: CREATE DATABASE new, like the target, from template0. */
static int
create_new(struct swap *s, char *err, size_t errlen)
{
	const char *params[] = {s->target};
	const char *provider_cols = s->server_version >= 170000 ? ", d.datlocprovider, d.datlocale"
	                            : s->server_version >= 150000
	                                ? ", d.datlocprovider, d.daticulocale"
	                                : ", 'c', NULL";
	const char *rules_col = s->server_version >= 160000 ? ", d.daticurules" : ", NULL";
	struct swap_text q = {0}, sql = {0};
	PGresult *res;
	char *name = NULL, *owner = NULL, *collate = NULL, *ctype = NULL, *loc = NULL;
	char *rules = NULL, *space = NULL;
	int rc = -1;

	swap_text_add(
	    &q,
	    "SELECT pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
	    "t.spcname %s %s FROM pg_catalog.pg_database d "
	    "JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1",
	    provider_cols, rules_col);
	if (q.failed)
		return io_error(err, errlen, "out of memory");
	res = swap_run(s, q.data, 1, params, "read the target database's settings", err, errlen);
	free(q.data);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return io_error(err, errlen, "the target database %s is gone", s->target);
	}
	name = swap_ident(s, s->new_name);
	owner = swap_ident(s, s->owner);
	collate = PQescapeLiteral(s->conn, PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)));
	ctype = PQescapeLiteral(s->conn, PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));
	space = swap_ident(s, PQgetvalue(res, 0, 3));
	if (!PQgetisnull(res, 0, 5))
		loc =
		    PQescapeLiteral(s->conn, PQgetvalue(res, 0, 5), strlen(PQgetvalue(res, 0, 5)));
	if (!PQgetisnull(res, 0, 6))
		rules =
		    PQescapeLiteral(s->conn, PQgetvalue(res, 0, 6), strlen(PQgetvalue(res, 0, 6)));
	if (name == NULL || owner == NULL || collate == NULL || ctype == NULL || space == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	swap_text_add(&sql,
	              "CREATE DATABASE %s TEMPLATE template0 OWNER %s ENCODING '%s' LC_COLLATE %s "
	              "LC_CTYPE %s",
	              name, owner, PQgetvalue(res, 0, 0), collate, ctype);
	if (strcmp(PQgetvalue(res, 0, 3), "pg_default") != 0)
		swap_text_add(&sql, " TABLESPACE %s", space);
	switch (PQgetvalue(res, 0, 4)[0]) {
	case 'i':
		swap_text_add(&sql, " LOCALE_PROVIDER icu");
		if (loc != NULL)
			swap_text_add(&sql, " ICU_LOCALE %s", loc);
		if (rules != NULL)
			swap_text_add(&sql, " ICU_RULES %s", rules);
		break;
	case 'b':
		swap_text_add(&sql, " LOCALE_PROVIDER builtin");
		if (loc != NULL)
			swap_text_add(&sql, " BUILTIN_LOCALE %s", loc);
		break;
	default:
		if (s->server_version >= 150000)
			swap_text_add(&sql, " LOCALE_PROVIDER libc");
		break;
	}
	if (sql.failed) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	if (drop_own_leftover(s, err, errlen) < 0)
		goto done;
	rc = swap_run_command(s, sql.data, "create the database to restore into", err, errlen);
	if (rc == 0) {
		s->created = true;
		rc = mark_new(s, name, err, errlen);
	}
done:
	PQclear(res);
	PQfreemem(name);
	PQfreemem(owner);
	PQfreemem(collate);
	PQfreemem(ctype);
	PQfreemem(space);
	PQfreemem(loc);
	PQfreemem(rules);
	free(sql.data);
	return rc;
}

/* What pg_restore --verbose says, line by line (for spawn_pump). */
struct said {
	struct swap *s;
	struct swap_text kept;    /* the lines about errors, up to SWAP_STDERR_KEEP bytes */
	struct spawn_lines lines; /* what pg_restore says, line by line */
};

/* said_line: count the entries done; keep what is about an error. */
static void
said_line(void *ctx, const char *line, size_t n)
{
	struct said *sd = ctx;
	static const char *const progress[] = {"pg_restore: processing item ",
	                                       "pg_restore: finished item "};
	static const char *const keep[] = {"error", "ERROR",     "warning", "WARNING",    "fatal",
	                                   "FATAL", "TOC entry", "DETAIL",  "Command was"};

	for (size_t i = 0; i < sizeof(progress) / sizeof(progress[0]); i++)
		if (n >= strlen(progress[i]) &&
		    strncmp(line, progress[i], strlen(progress[i])) == 0) {
			__atomic_add_fetch(&sd->s->items_done, 1, __ATOMIC_RELAXED);
			return;
		}
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (memmem(line, n, keep[i], strlen(keep[i])) != NULL) {
			if (sd->kept.len + n + 1 < SWAP_STDERR_KEEP)
				swap_text_add(&sd->kept, "%.*s\n", (int)n, line);
			return;
		}
}

/* stderr_sink: split pg_restore's complaints and progress into lines. */
static int
stderr_sink(void *ctx, const char *buf, size_t len)
{
	struct said *sd = ctx;

	spawn_lines_feed(&sd->lines, buf, len, said_line, sd);
	return 0;
}

uint64_t
swap_items_done(const struct swap *s)
{
	return __atomic_load_n(&s->items_done, __ATOMIC_RELAXED);
}

/*
 * restore_failed: fill err and the report from what pg_restore said: the TOC entry it names
 * ("from TOC entry ...") and its first error line.
 */
static void
restore_failed(struct swap *s, const char *said, int status, struct report *report, char *err,
               size_t errlen)
{
	char where[512] = "", msg[1024] = "";
	const char *p = said != NULL ? said : "";

	for (const char *line = p; *line != '\0'; line += strcspn(line, "\n"), line += *line != 0) {
		size_t n = strcspn(line, "\n");
		const char *e;

		if (where[0] == '\0' && (e = memmem(line, n, "from TOC entry ", 15)) != NULL)
			snprintf(where, sizeof(where), "%.*s", (int)(n - (size_t)(e + 15 - line)),
			         e + 15);
		if (msg[0] == '\0' && (e = memmem(line, n, "error: ", 7)) != NULL) {
			const char *m = e + 7;
			size_t mn = n - (size_t)(m - line);

			if (mn > 25 && strncmp(m, "could not execute query: ", 25) == 0) {
				m += 25;
				mn -= 25;
			}
			if (mn > 8 && strncmp(m, "ERROR:  ", 8) == 0) {
				m += 8;
				mn -= 8;
			}
			snprintf(msg, sizeof(msg), "%.*s", (int)mn, m);
		}
	}
	if (msg[0] == '\0') {
		if (status >= 0 && WIFSIGNALED(status))
			snprintf(msg, sizeof(msg), "pg_restore was killed by signal %d (%s)",
			         WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			snprintf(msg, sizeof(msg),
			         "pg_restore failed (exit status %d) without a message",
			         status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	conninfo_scrub(&s->secrets, where, sizeof(where));
	conninfo_scrub(&s->secrets, msg, sizeof(msg));
	report_part_error(&report->database, where[0] != '\0' ? where : NULL, "%s", msg);
	if (where[0] != '\0')
		(void)io_error(err, errlen, "restoring %s into database %s failed: %s", where,
		               s->new_name, msg);
	else
		(void)io_error(err, errlen, "restoring into database %s failed: %s", s->new_name,
		               msg);
}

/*
 * with_session_options: PGOPTIONS in env (pg_restore's environment) with, after what it held,
 * the target's database-level settings and the restore's session settings (database.h), so
 * pg_restore's sessions are those of the transaction strategy: nothing ends them (a role's
 * idle_session_timeout...). 0, or -1 when out of memory (env is then freed and NULL).
 */
static int
with_session_options(struct swap *s, char ***env)
{
	struct swap_text opts = {0};
	char session[4096], **e = *env, **grown;
	size_t n = 0, at = (size_t)-1;

	for (; e[n] != NULL; n++)
		if (strncmp(e[n], "PGOPTIONS=", 10) == 0)
			at = n;
	if (database_session_options(s->server_version, session, sizeof(session)) < 0)
		goto fail;
	swap_text_add(&opts, "PGOPTIONS=");
	if (at != (size_t)-1 && e[at][10] != '\0')
		swap_text_add(&opts, "%s ", e[at] + 10);
	if (s->target_options != NULL && s->target_options[0] != '\0')
		swap_text_add(&opts, "%s ", s->target_options);
	swap_text_add(&opts, "%s", session);
	if (opts.failed)
		goto fail;
	if (at != (size_t)-1) {
		free(e[at]);
		e[at] = opts.data;
		return 0;
	}
	grown = realloc(e, (n + 2) * sizeof(*e));
	if (grown == NULL)
		goto fail;
	grown[n] = opts.data;
	grown[n + 1] = NULL;
	*env = grown;
	return 0;
fail:
	free(opts.data);
	conninfo_environment_free(*env);
	*env = NULL;
	return -1;
}

int
swap_restore(struct swap *s, const char *pg_restore, const char *dump_path, const char *list_path,
             int jobs, struct report *report, volatile sig_atomic_t *cancel, char *err,
             size_t errlen)
{
	char jobs_arg[32], *dbname_arg = NULL, *list_arg = NULL, **env = NULL, buf[4096];
	char *argv[12];
	struct said said = {.s = s};
	struct spawn sp = {.pid = -1, .out_fd = -1, .err_fd = -1};
	int argc = 0, status, rc = -1;

	if (create_new(s, err, errlen) < 0 ||
	    swap_carry_default_privileges(s, report, err, errlen) < 0) {
		report_part_error(&report->database, NULL, "%s", err);
		return -1;
	}
	/* The new database's name is all the command line shows of the connection. */
	dbname_arg = conninfo_dbname_option(s->new_name);
	if (dbname_arg == NULL) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	snprintf(jobs_arg, sizeof(jobs_arg), "--jobs=%d", jobs > 0 ? jobs : 1);
	if (list_path != NULL && asprintf(&list_arg, "--use-list=%s", list_path) < 0) {
		list_arg = NULL;
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	env = conninfo_environment(s->options, "restore-worker");
	if (env == NULL || with_session_options(s, &env) < 0) {
		(void)io_error(err, errlen, "out of memory");
		goto done;
	}
	argv[argc++] = (char *)pg_restore;
	argv[argc++] = "--no-owner";
	argv[argc++] = "--no-privileges";
	argv[argc++] = "--exit-on-error";
	argv[argc++] = "--verbose"; /* its "finished item" lines are the progress */
	argv[argc++] = jobs_arg;
	argv[argc++] = dbname_arg;
	if (list_arg != NULL)
		argv[argc++] = list_arg;
	argv[argc++] = (char *)dump_path;
	argv[argc] = NULL;
	if (spawn_start_env(argv, env, &sp, err, errlen) < 0) {
		report_part_error(&report->database, NULL, "%s", err);
		goto done;
	}
	switch (spawn_pump(&sp, cancel, NULL, stderr_sink, &said, buf, sizeof(buf))) {
	case SPAWN_PUMP_CANCELLED:
		(void)spawn_kill(&sp);
		(void)io_error(err, errlen, "the restore was interrupted");
		report_part_error(&report->database, NULL, "%s", err);
		goto done;
	case SPAWN_PUMP_POLL_FAILED:
		(void)io_error(err, errlen, "cannot wait for pg_restore: %s", strerror(errno));
		report_part_error(&report->database, NULL, "%s", err);
		goto done;
	default:
		break;
	}
	spawn_lines_end(&said.lines, said_line, &said);
	status = spawn_finish(&sp);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		restore_failed(s, said.kept.data, status, report, err, errlen);
		goto done;
	}
	rc = 0;
done:
	if (sp.pid > 0)
		(void)spawn_kill(&sp);
	conninfo_environment_free(env);
	free(dbname_arg);
	free(list_arg);
	free(said.kept.data);
	return rc;
}
