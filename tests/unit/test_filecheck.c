/*
 * test_filecheck.c - filecheck_run against a real PostgreSQL and real folders: missing and
 * orphaned files, what counts and what is ignored on either side (hascontents, duplicates,
 * NULLs, case, values that are not UUIDs, names outside the layout, links), the skipped check,
 * a files_query, the savepoint that keeps a caller's transaction usable, a files_query that
 * would change the database (it fails, and nothing it did stays), and a million rows in
 * bounded time and memory.
 *
 * It starts its own throwaway cluster the way tests/integration/lib.sh does: initdb into a
 * temporary folder, listening on a Unix socket only, as user postgres when run by root. It
 * exits 77 (skipped) when the server programs are missing. PG_SERVER_BIN names another folder
 * holding initdb and pg_ctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "filecheck.h"
#include "store.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* The UUIDs of the cases, in sorted order; H sorts between B and C (same folder as A and B). */
#define A       "0a1b0000-0000-4000-8000-000000000001"
#define B       "0a1b0000-0000-4000-8000-000000000002"
#define H       "0a1b0000-0000-4000-8000-000000000008"
#define C       "3c4d0000-0000-4000-8000-000000000003"
#define D       "3c5e0000-0000-4000-8000-000000000004"
#define E       "7f000000-0000-4000-8000-000000000005"
#define F       "a0b10000-0000-4000-8000-000000000006"
#define G       "ffff0000-0000-4000-8000-000000000007"
#define B_UPPER "0A1B0000-0000-4000-8000-000000000002"
#define F_UPPER "A0B10000-0000-4000-8000-000000000006"
#define G_UPPER "FFFF0000-0000-4000-8000-000000000007"

/* A fresh Mendix-like table; __uuid__ is text so that the cases can hold anything. */
#define TABLE                                                                                      \
	"DROP TABLE IF EXISTS public.\"system$filedocument\", public.docs; "                       \
	"CREATE TABLE public.\"system$filedocument\" (id bigserial PRIMARY KEY, "                  \
	"\"__uuid__\" text, hascontents boolean, name text); "
#define ROWS "INSERT INTO public.\"system$filedocument\" (\"__uuid__\", hascontents) VALUES "

#define SKIP_NOTE                                                                                  \
	"the database has no table system$filedocument (with columns __uuid__ and hascontents): "  \
	"the file check was skipped"

/* What a check that ran must count. */
struct counts {
	uint64_t expected, files, missing, orphaned, ignored, invalid;
};

struct fc_case {
	const char *name;
	const char *setup;       /* SQL run first, outside any transaction */
	const char *setup_in_tx; /* with in_transaction: SQL run after BEGIN */
	/* Made in the case's folder: a bare UUID is a file at files/xx/yy/<uuid>; "p" a file,
	 * "p/" a folder, "p>t" a symbolic link p to the case folder's t. */
	const char *make[20];
	const char *dir;   /* the folder checked, in the case's folder; NULL: "files" */
	const char *query; /* NULL: the default */
	bool in_transaction;
	bool fails;   /* filecheck_run returns -1 */
	bool skipped; /* returns 0 without running */
	struct counts want;
	const char *missing_first; /* space-separated; NULL: none */
	const char *orphaned_first;
	const char *text;  /* the note (NULL: empty), or a part of the error */
	const char *after; /* NULL, or SQL whose one value must be true after the case */
};

static const struct fc_case cases[] = {
    {.name = "3 missing, 2 orphaned",
     .setup = TABLE ROWS "('" A "', true), ('" C "', true), ('" E "', true), ('" F "', true), "
                         "('" G "', true)",
     .make = {B, E, G, H},
     .want = {.expected = 5, .files = 4, .missing = 3, .orphaned = 2},
     .missing_first = A " " C " " F,
     .orphaned_first = B " " H},
    {.name = "rows without contents need no file; their files are orphaned",
     .setup = TABLE ROWS "('" A "', true), ('" C "', false), ('" E "', false), ('" F "', NULL)",
     .make = {A, E},
     .want = {.expected = 1, .files = 2, .orphaned = 1},
     .orphaned_first = E},
    {.name = "duplicates count once, whatever their case",
     .setup = TABLE ROWS "('" A "', true), ('" A "', true), ('" A "', true), ('" C "', true), "
                         "('" C "', true), ('" B_UPPER "', true), ('" B "', true)",
     .make = {A},
     .want = {.expected = 3, .files = 1, .missing = 2},
     .missing_first = B " " C},
    {.name = "NULL UUIDs are left out",
     .setup = TABLE ROWS "(NULL, true), (NULL, false), (NULL, NULL), ('" A "', true)",
     .make = {D},
     .want = {.expected = 1, .files = 1, .missing = 1, .orphaned = 1},
     .missing_first = A,
     .orphaned_first = D},
    {.name = "uppercase UUIDs in the table name lowercase files",
     .setup = TABLE ROWS "('" F_UPPER "', true), ('" G_UPPER "', true)",
     .make = {F},
     .want = {.expected = 2, .files = 1, .missing = 1},
     .missing_first = G},
    {.name = "values that are not UUIDs are counted and left out",
     .setup = TABLE ROWS "('not-a-uuid', true), ('', true), (' " A "', true), ('" A " ', true), "
                         "('0a1b0000000040008000000000000001', true), ('{" A "}', true), "
                         "('" A "', true), ('g" A "', true)",
     .make = {A},
     .want = {.expected = 1, .files = 1, .invalid = 7},
     .text = "7 values of the column __uuid__ are not UUIDs and were left out of the check"},
    {.name = "entries outside the layout are ignored",
     .setup = TABLE ROWS "('" A "', true), ('" C "', true)",
     .make = {A, "files/README", "files/lost+found/", "files/0A/", "files/zz/", "files/0a1b",
              "files/0a/xyz", "files/0a/1b/" B_UPPER, "files/0a/1b/" C, "files/0a/1c/" A,
              "files/0a/1b/" B ".tmp", "files/0a/1b/" H "/", "files/0a/1b/" B "x", "files/0a/1bc/",
              "files/3c/", "files/7f/00/"},
     .want = {.expected = 2, .files = 1, .missing = 1, .ignored = 13},
     .missing_first = C},
    {.name = "links are not followed",
     .setup = TABLE ROWS "('" A "', true), ('" C "', true)",
     .make = {"outside/real", "outside/tree/3c/4d/" C, "files/0a/1b/",
              "files/0a/1b/" A ">outside/real", "files/3c>outside/tree/3c"},
     .want = {.expected = 2, .missing = 2, .ignored = 2},
     .missing_first = A " " C},
    {.name = "a folder that is a link is an error",
     .setup = TABLE ROWS "('" A "', true)",
     .make = {"real/0a/1b/" A, "files>real"},
     .fails = true,
     .text = "is a symbolic link, which the file check does not follow"},
    {.name = "a missing folder holds no files",
     .setup = TABLE ROWS "('" A "', true), ('" B "', true)",
     .dir = "nothing",
     .want = {.expected = 2, .missing = 2},
     .missing_first = A " " B},
    {.name = "no table: skipped",
     .setup = "DROP TABLE IF EXISTS public.\"system$filedocument\", public.docs",
     .make = {A},
     .skipped = true,
     .text = SKIP_NOTE},
    {.name = "no column hascontents: skipped, inside a transaction",
     .setup = "DROP TABLE IF EXISTS public.\"system$filedocument\"; CREATE TABLE "
              "public.\"system$filedocument\" (\"__uuid__\" text); INSERT INTO "
              "public.\"system$filedocument\" VALUES ('" A "')",
     .make = {A},
     .in_transaction = true,
     .skipped = true,
     .text = SKIP_NOTE},
    {.name = "a table in another schema: skipped",
     .setup = "DROP TABLE IF EXISTS public.\"system$filedocument\"; CREATE SCHEMA other; "
              "CREATE TABLE other.\"system$filedocument\" (\"__uuid__\" text, hascontents "
              "boolean)",
     .make = {A},
     .skipped = true,
     .text = SKIP_NOTE},
    {.name = "files_query: first column of type uuid, trailing comment",
     .setup = "DROP TABLE IF EXISTS public.\"system$filedocument\", public.docs; CREATE TABLE "
              "public.docs (id uuid, keep boolean); INSERT INTO public.docs VALUES ('" A "', "
              "true), ('" C "', true), ('" E "', false), (NULL, true)",
     .make = {A, E},
     .query = "SELECT id, 'extra' FROM public.docs WHERE keep -- the kept ones",
     .want = {.expected = 2, .files = 2, .missing = 1, .orphaned = 1},
     .missing_first = C,
     .orphaned_first = E},
    {.name = "files_query: trailing semicolon, values that are not UUIDs",
     .make = {A},
     .query = "SELECT id::text FROM public.docs UNION ALL SELECT 'x' UNION ALL SELECT "
              "'" G_UPPER "';\n",
     .want = {.expected = 4, .files = 1, .missing = 3, .invalid = 1},
     .missing_first = C " " E " " G,
     .text = "1 value of the files_query is not a UUID and was left out of the check"},
    {.name = "failing files_query when idle",
     .make = {A},
     .query = "SELECT id FROM nosuchtable",
     .fails = true,
     .text = "files_query failed: relation \"nosuchtable\" does not exist"},
    {.name = "failing files_query inside a transaction",
     .make = {A},
     .query = "SELECT nosuchcolumn FROM public.docs",
     .in_transaction = true,
     .fails = true,
     .text = "files_query failed: column \"nosuchcolumn\" does not exist"},
    {.name = "files_query failing at its 5000th row inside a transaction",
     .make = {A},
     .query = "SELECT CASE WHEN i < 5000 THEN '" A "' ELSE (1 / (i - i))::text END FROM "
              "generate_series(1, 10000) i",
     .in_transaction = true,
     .fails = true,
     .text = "files_query failed: division by zero"},
    {.name = "failing default query inside a transaction",
     .setup = "DROP TABLE IF EXISTS public.\"system$filedocument\"; CREATE TABLE "
              "public.\"system$filedocument\" (\"__uuid__\" text, hascontents text)",
     .make = {A},
     .in_transaction = true,
     .fails = true,
     .text = "reading public.\"system$filedocument\" failed: argument of WHERE must be type "
             "boolean"},
    {.name = "a files_query calling setval() fails and changes nothing, inside a transaction",
     .setup = "DROP SEQUENCE IF EXISTS public.seq; CREATE SEQUENCE public.seq START 1000; "
              "SELECT pg_catalog.nextval('public.seq')",
     .make = {A},
     .query = "SELECT pg_catalog.setval('public.seq', 1)::text",
     .in_transaction = true,
     .fails = true,
     .text = "files_query failed: cannot execute setval() in a read-only transaction",
     .after = "SELECT last_value = 1000 FROM public.seq"},
    {.name = "a files_query calling setval() fails and changes nothing when idle",
     .make = {A},
     .query = "SELECT pg_catalog.setval('public.seq', 1)::text",
     .fails = true,
     .text = "files_query failed: cannot execute setval() in a read-only transaction",
     .after = "SELECT last_value = 1000 FROM public.seq"},
    {.name = "a files_query writing through a function fails and changes nothing",
     .setup = "DROP TABLE IF EXISTS public.written; CREATE TABLE public.written (x integer); "
              "CREATE OR REPLACE FUNCTION public.write_one() RETURNS text LANGUAGE sql AS "
              "'INSERT INTO public.written VALUES (1) RETURNING NULL::text'",
     .make = {A},
     .query = "SELECT public.write_one()",
     .in_transaction = true,
     .fails = true,
     .text = "files_query failed: cannot execute INSERT in a read-only transaction",
     .after = "SELECT count(*) = 0 FROM public.written"},
    {.name = "what a files_query sets in the session is undone, inside a transaction",
     .setup = "DROP TABLE IF EXISTS public.docs2; CREATE TABLE public.docs2 (id uuid); "
              "INSERT INTO public.docs2 VALUES ('" A "')",
     .make = {A},
     .query = "SELECT id FROM public.docs2 WHERE pg_catalog.set_config('work_mem', '1234kB', "
              "false) IS NOT NULL",
     .in_transaction = true,
     .want = {.expected = 1, .files = 1},
     .after = "SELECT pg_catalog.current_setting('work_mem') <> '1234kB'"},
    {.name = "inside a transaction, the check sees its uncommitted table",
     .setup = "DROP TABLE IF EXISTS public.\"system$filedocument\"",
     .setup_in_tx = TABLE ROWS "('" A "', true), ('" D "', true)",
     .make = {A, B},
     .in_transaction = true,
     .want = {.expected = 2, .files = 2, .missing = 1, .orphaned = 1},
     .missing_first = D,
     .orphaned_first = B},
};

/* The throwaway cluster. */
struct cluster {
	char root[64];  /* the temporary folder: pg/ (the cluster's), cases/ */
	char pg[128];   /* owned by the cluster's user */
	char sock[160]; /* the socket folder */
	char data[160];
	const char *bin;
	bool as_postgres; /* run by root: the cluster runs as postgres */
	bool started;
};

/* run: run argv (as postgres when as_postgres) in folder cwd, output to log; exit status. */
static int
run(const struct cluster *cl, bool as_postgres, const char *const argv[], const char *log)
{
	const char *full[24];
	size_t n = 0;
	int status;
	pid_t pid;

	if (as_postgres) {
		full[n++] = "runuser";
		full[n++] = "-u";
		full[n++] = "postgres";
		full[n++] = "--";
	}
	for (size_t i = 0; argv[i] != NULL && n < 23; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log != NULL ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			(void)dup2(fd, 1);
			(void)dup2(fd, 2);
		}
		if (chdir(cl->pg) != 0)
			_exit(126);
		execvp(full[0], (char *const *)full);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* show_file: copy a log to stdout. */
static void
show_file(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
}

/* cluster_start: initdb and start a cluster on a socket only; 0, 77 (skip) or 1. */
static int
cluster_start(struct cluster *cl)
{
	char initdb[512], pg_ctl[512], log[256], opts[512];
	struct passwd *pw = NULL;

	memset(cl, 0, sizeof(*cl));
	cl->bin = getenv("PG_SERVER_BIN") != NULL ? getenv("PG_SERVER_BIN")
	                                          : "/usr/lib/postgresql/15/bin";
	snprintf(initdb, sizeof(initdb), "%s/initdb", cl->bin);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", cl->bin);
	if (access(initdb, X_OK) != 0 || access(pg_ctl, X_OK) != 0) {
		printf("skip - %s has no initdb and pg_ctl\n", cl->bin);
		return 77;
	}
	cl->as_postgres = geteuid() == 0;
	if (cl->as_postgres && (pw = getpwnam("postgres")) == NULL) {
		printf("skip - run as root, but there is no user postgres to run the cluster\n");
		return 77;
	}
	strcpy(cl->root, "/tmp/rw-filecheck.XXXXXX");
	if (mkdtemp(cl->root) == NULL || chmod(cl->root, 0755) != 0) {
		printf("not ok - cannot make a temporary folder: %s\n", strerror(errno));
		cl->root[0] = '\0';
		return 1;
	}
	snprintf(cl->pg, sizeof(cl->pg), "%s/pg", cl->root);
	snprintf(cl->sock, sizeof(cl->sock), "%s/sock", cl->pg);
	snprintf(cl->data, sizeof(cl->data), "%s/data", cl->pg);
	if (mkdir(cl->pg, 0755) != 0 || mkdir(cl->sock, 0755) != 0 ||
	    (pw != NULL && (chown(cl->pg, pw->pw_uid, pw->pw_gid) != 0 ||
	                    chown(cl->sock, pw->pw_uid, pw->pw_gid) != 0))) {
		printf("not ok - cannot prepare %s: %s\n", cl->pg, strerror(errno));
		return 1;
	}
	snprintf(log, sizeof(log), "%s/initdb.log", cl->pg);
	{
		const char *argv[] = {initdb,  "-D", cl->data, "-U",         "postgres",  "-A",
		                      "trust", "-E", "UTF8",   "--locale=C", "--no-sync", NULL};

		if (run(cl, cl->as_postgres, argv, log) != 0) {
			printf("not ok - initdb failed:\n");
			show_file(log);
			return 1;
		}
	}
	snprintf(log, sizeof(log), "%s/server.log", cl->pg);
	snprintf(opts, sizeof(opts),
	         "-c listen_addresses='' -k %s -c unix_socket_permissions=0777 -c fsync=off",
	         cl->sock);
	{
		const char *argv[] = {pg_ctl, "-D", cl->data, "-w",    "-l",
		                      log,    "-o", opts,     "start", NULL};

		if (run(cl, cl->as_postgres, argv, NULL) != 0) {
			printf("not ok - the server did not start:\n");
			show_file(log);
			return 1;
		}
	}
	cl->started = true;
	return 0;
}

/* cluster_stop: stop the cluster and remove the temporary folder. */
static void
cluster_stop(struct cluster *cl)
{
	char pg_ctl[512];

	if (cl->started) {
		const char *argv[] = {pg_ctl,      "-D", cl->data, "-m",
		                      "immediate", "-w", "stop",   NULL};

		snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", cl->bin);
		(void)run(cl, cl->as_postgres, argv, NULL);
	}
	if (cl->root[0] != '\0') {
		const char *argv[] = {"rm", "-rf", cl->root, NULL};

		(void)run(cl, false, argv, NULL);
	}
}

/* connect_db: a connection to database name of the cluster, or NULL (said). */
static PGconn *
connect_db(const struct cluster *cl, const char *name)
{
	char conninfo[512];
	PGconn *conn;

	snprintf(conninfo, sizeof(conninfo),
	         "host=%s dbname=%s user=postgres options='-c client_min_messages=warning'",
	         cl->sock, name);
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		printf("not ok - cannot connect to %s: %s", name, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* sql: run SQL (one or more statements) whose results are not needed; whether it worked. */
static bool
sql(PGconn *conn, const char *text)
{
	PGresult *res = PQexec(conn, text);
	ExecStatusType status = PQresultStatus(res);
	bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;

	if (!ok)
		printf("# SQL failed: %s# in: %.200s\n", PQerrorMessage(conn), text);
	PQclear(res);
	return ok;
}

/* holds: whether query's one value is true. */
static bool
holds(PGconn *conn, const char *query)
{
	PGresult *res = PQexec(conn, query);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	          strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	return ok;
}

/* check_folder: filecheck_run on the folder dir, opened as a store as the restore opens it. */
static int
check_folder(PGconn *conn, const char *query, const char *dir, struct filecheck *fc, char *err,
             size_t errlen)
{
	struct store *store;
	int rc;

	if (store_open_folder(AT_FDCWD, dir, &store, err, errlen) < 0)
		return -1;
	rc = filecheck_run(conn, query, store, fc, err, errlen);
	store_close(store);
	return rc;
}

/* make_parents: make the folders leading to path. */
static int
make_parents(const char *path)
{
	char copy[1024];

	snprintf(copy, sizeof(copy), "%s", path);
	for (char *p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* make_entry: make one entry of a case's make list in folder base; 0 or -1. */
static int
make_entry(const char *base, const char *spec)
{
	char path[1024], target[1024];
	const char *arrow = strchr(spec, '>');
	size_t len = strlen(spec);
	int fd;

	if (len == 36 && strchr(spec, '/') == NULL)
		snprintf(path, sizeof(path), "%s/files/%.2s/%.2s/%s", base, spec, spec + 2, spec);
	else if (arrow != NULL)
		snprintf(path, sizeof(path), "%s/%.*s", base, (int)(arrow - spec), spec);
	else
		snprintf(path, sizeof(path), "%s/%s", base, spec);
	if (make_parents(path) != 0)
		return -1;
	if (arrow != NULL) {
		snprintf(target, sizeof(target), "%s/%s", base, arrow + 1);
		return symlink(target, path);
	}
	if (spec[len - 1] == '/')
		return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, "contents\n", 9) != 9) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

/* same_list: whether the first UUIDs of a result are the space-separated list want. */
static bool
same_list(const char first[][37], size_t n, const char *want)
{
	char got[FILECHECK_FIRST * 37 + 1] = "";

	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, first[i]);
	}
	return strcmp(got, want != NULL ? want : "") == 0;
}

/* print_list: the first UUIDs of a result, space-separated. */
static void
print_list(const char *label, const char first[][37], size_t n)
{
	printf("#   %s:", label);
	for (size_t i = 0; i < n; i++)
		printf(" %s", first[i]);
	printf("\n");
}

/* print_counts: the counts of a check, on the current line. */
static void
print_counts(const char *label, const struct counts *n)
{
	printf("%s expected %llu files %llu missing %llu orphaned %llu ignored %llu invalid %llu",
	       label, (unsigned long long)n->expected, (unsigned long long)n->files,
	       (unsigned long long)n->missing, (unsigned long long)n->orphaned,
	       (unsigned long long)n->ignored, (unsigned long long)n->invalid);
}

/* check_session: after a check, the connection is as it was and a query works. */
static bool
check_session(PGconn *conn, bool in_transaction, const char *name)
{
	PGTransactionStatusType want = in_transaction ? PQTRANS_INTRANS : PQTRANS_IDLE;
	PGresult *res;
	bool ok;

	if (PQtransactionStatus(conn) != want) {
		printf("not ok - %s: transaction status %d, expected %d\n", name,
		       (int)PQtransactionStatus(conn), (int)want);
		return false;
	}
	res = PQexec(conn, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	if (!ok)
		printf("not ok - %s: SELECT 1 after the check failed: %s", name,
		       PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* run_case: one case of the table; whether it passed. */
static bool
run_case(PGconn *conn, const char *cases_dir, size_t index, const struct fc_case *c)
{
	char base[256], dir[300], err[512];
	struct filecheck fc;
	bool ok = true;
	int rc;

	snprintf(base, sizeof(base), "%s/%zu", cases_dir, index);
	if (mkdir(base, 0755) != 0) {
		printf("not ok - %s: cannot make %s\n", c->name, base);
		return false;
	}
	for (size_t i = 0; i < sizeof(c->make) / sizeof(c->make[0]) && c->make[i] != NULL; i++)
		if (make_entry(base, c->make[i]) != 0) {
			printf("not ok - %s: cannot make %s: %s\n", c->name, c->make[i],
			       strerror(errno));
			return false;
		}
	snprintf(dir, sizeof(dir), "%s/%s", base, c->dir != NULL ? c->dir : "files");
	if (c->setup != NULL && !sql(conn, c->setup))
		return false;
	if (c->in_transaction) {
		if (!sql(conn, "BEGIN; INSERT INTO public.marker VALUES (1)"))
			return false;
		if (c->setup_in_tx != NULL && !sql(conn, c->setup_in_tx))
			return false;
	}
	memset(err, 0, sizeof(err));
	rc = check_folder(conn, c->query, dir, &fc, err, sizeof(err));
	if (rc != (c->fails ? -1 : 0)) {
		printf("not ok - %s: returned %d (%s)\n", c->name, rc, err);
		ok = false;
	} else if (rc < 0) {
		if (strstr(err, c->text) == NULL || strchr(err, '\n') != NULL) {
			printf("not ok - %s: error '%s' is not one line saying '%s'\n", c->name,
			       err, c->text);
			ok = false;
		}
	} else {
		struct counts got = {fc.expected, fc.files,   fc.missing,
		                     fc.orphaned, fc.ignored, fc.invalid};

		if (fc.ran == c->skipped || memcmp(&got, &c->want, sizeof(got)) != 0) {
			printf("not ok - %s: ran %d, ", c->name, fc.ran);
			print_counts("got", &got);
			print_counts("; wanted", &c->want);
			printf("\n");
			ok = false;
		}
		if (!same_list(fc.missing_first, fc.nmissing_first, c->missing_first) ||
		    !same_list(fc.orphaned_first, fc.norphaned_first, c->orphaned_first)) {
			printf("not ok - %s: wrong lists\n", c->name);
			print_list("missing", fc.missing_first, fc.nmissing_first);
			print_list("orphaned", fc.orphaned_first, fc.norphaned_first);
			ok = false;
		}
		if (strcmp(fc.note, c->text != NULL ? c->text : "") != 0) {
			printf("not ok - %s: note '%s', expected '%s'\n", c->name, fc.note,
			       c->text != NULL ? c->text : "");
			ok = false;
		}
	}
	if (!check_session(conn, c->in_transaction, c->name))
		ok = false;
	if (c->in_transaction) {
		/* The caller's transaction commits, with what it did before the check. */
		PGresult *res = PQexec(conn, "COMMIT");

		if (PQresultStatus(res) != PGRES_COMMAND_OK ||
		    strcmp(PQcmdStatus(res), "COMMIT") != 0) {
			printf("not ok - %s: COMMIT after the check said %s %s\n", c->name,
			       PQcmdStatus(res), PQerrorMessage(conn));
			ok = false;
		}
		PQclear(res);
	}
	if (c->after != NULL && !holds(conn, c->after)) {
		printf("not ok - %s: after the check, '%s' does not hold\n", c->name, c->after);
		ok = false;
	}
	if (ok)
		printf("ok - %s%s%s\n", c->name, rc < 0 ? ": " : "", rc < 0 ? err : "");
	return ok;
}

/* count_markers: the rows of public.marker, or -1. */
static long
count_markers(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT count(*) FROM public.marker");
	long n = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;

	PQclear(res);
	return n;
}

/* make_uuid_files: a file in dir's layout for each UUID of res's first column; 0 or -1. */
static int
make_uuid_files(const char *base, PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (make_entry(base, PQgetvalue(res, i, 0)) != 0)
			return -1;
	return 0;
}

/* fetch_list: res's first column joined by spaces, at most FILECHECK_FIRST values. */
static void
fetch_list(PGresult *res, char *buf, size_t buflen)
{
	buf[0] = '\0';
	for (int i = 0; i < PQntuples(res) && i < FILECHECK_FIRST; i++) {
		if (i > 0)
			strncat(buf, " ", buflen - strlen(buf) - 1);
		strncat(buf, PQgetvalue(res, i, 0), buflen - strlen(buf) - 1);
	}
}

/* generated: n rows (or files) of the form "%08x-0000-4000-8000-%012d" from first. */
#define GENERATED(first, last)                                                                     \
	"SELECT pg_catalog.format('%s-0000-4000-8000-%s', pg_catalog.lpad(pg_catalog.to_hex(i), "  \
	"8, '0'), pg_catalog.lpad(i::text, 12, '0')) FROM generate_series(" #first ", " #last      \
	") i"

/* test_many: more than FILECHECK_FIRST missing and orphaned: exact counts, the first sorted. */
static bool
test_many(PGconn *conn, const char *cases_dir)
{
	char base[256], dir[300], err[512], want_missing[1024], want_orphaned[1024];
	struct filecheck fc;
	PGresult *res;
	bool ok = true;

	snprintf(base, sizeof(base), "%s/many", cases_dir);
	snprintf(dir, sizeof(dir), "%s/files", base);
	/* Inserted in descending order, with each UUID three times, some in uppercase. */
	if (!sql(conn, TABLE
	         "INSERT INTO public.\"system$filedocument\" (\"__uuid__\", "
	         "hascontents) SELECT u, true FROM (" GENERATED(
	             1, 25) ") g(u), "
	                    "generate_series(1, 2) ORDER BY u DESC; INSERT INTO "
	                    "public.\"system$filedocument\" (\"__uuid__\", hascontents) SELECT "
	                    "upper(u), true FROM (" GENERATED(1, 25) ") g(u)"))
		return false;
	res = PQexec(conn, GENERATED(101, 123));
	if (PQresultStatus(res) != PGRES_TUPLES_OK || make_uuid_files(base, res) != 0) {
		printf("not ok - more than %d: cannot make the files\n", FILECHECK_FIRST);
		PQclear(res);
		return false;
	}
	fetch_list(res, want_orphaned, sizeof(want_orphaned));
	PQclear(res);
	res = PQexec(conn, GENERATED(1, 25));
	fetch_list(res, want_missing, sizeof(want_missing));
	PQclear(res);
	if (check_folder(conn, NULL, dir, &fc, err, sizeof(err)) != 0) {
		printf("not ok - more than %d: %s\n", FILECHECK_FIRST, err);
		return false;
	}
	if (!fc.ran || fc.expected != 25 || fc.files != 23 || fc.missing != 25 ||
	    fc.orphaned != 23 || fc.nmissing_first != FILECHECK_FIRST ||
	    fc.norphaned_first != FILECHECK_FIRST ||
	    !same_list(fc.missing_first, fc.nmissing_first, want_missing) ||
	    !same_list(fc.orphaned_first, fc.norphaned_first, want_orphaned)) {
		printf(
		    "not ok - more than %d: expected %llu files %llu missing %llu orphaned %llu\n",
		    FILECHECK_FIRST, (unsigned long long)fc.expected, (unsigned long long)fc.files,
		    (unsigned long long)fc.missing, (unsigned long long)fc.orphaned);
		print_list("missing", fc.missing_first, fc.nmissing_first);
		print_list("orphaned", fc.orphaned_first, fc.norphaned_first);
		ok = false;
	}
	if (ok)
		printf("ok - more than %d missing and orphaned: 25 and 23 counted, the first %d "
		       "of each named in order\n",
		       FILECHECK_FIRST, FILECHECK_FIRST);
	return ok;
}

/* max_rss_kb: the process's peak resident set so far, in kB. */
static long
max_rss_kb(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* test_million: a million rows against a thousand files, in bounded time and memory. */
static bool
test_million(PGconn *conn, const char *cases_dir)
{
	char base[256], dir[300], err[512], want_missing[1024];
	struct timespec t0, t1;
	struct filecheck fc;
	long rss_before, rss_after;
	double seconds, limit = UNDER_ASAN ? 30.0 : 10.0; /* sanitizers slow libpq down */
	PGresult *res;
	bool ok = true;
	int rc;

	snprintf(base, sizeof(base), "%s/million", cases_dir);
	snprintf(dir, sizeof(dir), "%s/files", base);
	if (!sql(conn,
	         TABLE "INSERT INTO public.\"system$filedocument\" (\"__uuid__\", "
	               "hascontents) SELECT md5(i::text)::uuid::text, true FROM "
	               "generate_series(1, 1000000) i; ANALYZE public.\"system$filedocument\""))
		return false;
	res = PQexec(conn, "SELECT md5(i::text)::uuid::text FROM generate_series(1, 1000) i");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || make_uuid_files(base, res) != 0) {
		printf("not ok - a million rows: cannot make the files\n");
		PQclear(res);
		return false;
	}
	PQclear(res);
	res = PQexec(conn, "SELECT u FROM (SELECT md5(i::text)::uuid::text COLLATE \"C\" AS u FROM "
	                   "generate_series(1001, 1000000) i) s ORDER BY u LIMIT 20");
	fetch_list(res, want_missing, sizeof(want_missing));
	PQclear(res);

	rss_before = max_rss_kb();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = check_folder(conn, NULL, dir, &fc, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rss_after = max_rss_kb();
	seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# a million rows against 1000 files: %.2f s; peak RSS %ld kB before, %ld kB after "
	       "(+%ld kB)%s\n",
	       seconds, rss_before, rss_after, rss_after - rss_before,
	       UNDER_ASAN ? " under AddressSanitizer, not asserted" : "");
	if (rc != 0) {
		printf("not ok - a million rows: %s\n", err);
		return false;
	}
	if (!fc.ran || fc.expected != 1000000 || fc.files != 1000 || fc.missing != 999000 ||
	    fc.orphaned != 0 || fc.ignored != 0 || fc.invalid != 0 ||
	    !same_list(fc.missing_first, fc.nmissing_first, want_missing)) {
		printf("not ok - a million rows: expected %llu files %llu missing %llu orphaned "
		       "%llu\n",
		       (unsigned long long)fc.expected, (unsigned long long)fc.files,
		       (unsigned long long)fc.missing, (unsigned long long)fc.orphaned);
		print_list("missing", fc.missing_first, fc.nmissing_first);
		ok = false;
	}
	if (seconds >= limit) {
		printf("not ok - a million rows took %.2f s (limit %.0f s)\n", seconds, limit);
		ok = false;
	}
	if (!UNDER_ASAN && rss_after - rss_before >= 20 * 1024) {
		printf("not ok - a million rows grew the peak RSS by %ld kB (limit 20 MB)\n",
		       rss_after - rss_before);
		ok = false;
	}
	if (ok)
		printf("ok - a million rows against 1000 files: 999000 missing, in %.2f s\n",
		       seconds);
	return ok;
}

/* run_all: every test against the started cluster; the number that failed. */
static int
run_all(const struct cluster *cl)
{
	char cases_dir[128];
	PGconn *admin, *conn;
	int failed = 0;
	long markers;

	snprintf(cases_dir, sizeof(cases_dir), "%s/cases", cl->root);
	if (mkdir(cases_dir, 0755) != 0)
		return 1;
	admin = connect_db(cl, "postgres");
	if (admin == NULL)
		return 1;
	if (!sql(admin, "CREATE DATABASE filecheck")) {
		PQfinish(admin);
		return 1;
	}
	PQfinish(admin);
	conn = connect_db(cl, "filecheck");
	if (conn == NULL)
		return 1;
	if (!sql(conn, "CREATE TABLE public.marker (x integer)")) {
		PQfinish(conn);
		return 1;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		markers = count_markers(conn);
		if (!run_case(conn, cases_dir, i, &cases[i]))
			failed++;
		else if (cases[i].in_transaction && count_markers(conn) != markers + 1)
			printf("not ok - %s: the transaction's insert was not committed\n",
			       cases[i].name),
			    failed++;
	}
	if (!test_many(conn, cases_dir))
		failed++;
	if (!test_million(conn, cases_dir))
		failed++;
	PQfinish(conn);
	return failed;
}

int
main(void)
{
	struct cluster cl;
	int rc, failed;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = cluster_start(&cl);
	if (rc != 0) {
		cluster_stop(&cl);
		return rc;
	}
	failed = run_all(&cl);
	cluster_stop(&cl);
	printf("%d failed\n", failed);
	return failed == 0 ? 0 : 1;
}
