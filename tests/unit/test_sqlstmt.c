/*
 * test_sqlstmt.c - the statement splitter and its verdict: every statement that would end,
 * begin or break the restore's transaction, or cannot run inside one, is found whatever the
 * case, comments and blanks around it; nothing inside a literal, a quoted identifier, a
 * dollar quote or a BEGIN ATOMIC body counts; and the outcome never depends on how the text
 * is cut into pieces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlstmt.h"

struct stmt_case {
	const char *name;
	const char *text;
	int statements;      /* statements that are more than blanks and comments */
	const char *refused; /* the first refused statement's name, or NULL */
	int standard_off;    /* standard_conforming_strings = off */
};

static const struct stmt_case cases[] = {
    {"empty", "", 0, NULL, 0},
    {"comments only", "-- x\n/* y */\n;\n", 0, NULL, 0},
    {"a table", "CREATE TABLE t (a int);\n", 1, NULL, 0},
    {"two statements, the last without ;", "SET a = 1; SELECT 2", 2, NULL, 0},
    {"commit", "COMMENT ON TABLE t IS 'c';COMMIT;--cc\n", 2, "COMMIT", 0},
    {"commit in lower case", "select 1; commit;\n", 2, "COMMIT", 0},
    {"commit after a block comment", "/* x */ commit", 1, "COMMIT", 0},
    {"commit after nested comments", "/* a /* b */ c */--d\n  CoMmIt ;", 1, "COMMIT", 0},
    {"commit and chain", "COMMIT AND CHAIN;", 1, "COMMIT", 0},
    {"commit work", "commit work;", 1, "COMMIT", 0},
    {"end transaction", "end transaction;", 1, "END", 0},
    {"end", "SELECT 1;END", 2, "END", 0},
    {"rollback", "ROLLBACK;", 1, "ROLLBACK", 0},
    {"abort", "abort work;", 1, "ABORT", 0},
    {"rollback to savepoint", "ROLLBACK TO SAVEPOINT s;", 1, "ROLLBACK TO SAVEPOINT", 0},
    {"rollback work to", "rollback work to s;", 1, "ROLLBACK TO SAVEPOINT", 0},
    {"begin", "BEGIN;", 1, "BEGIN", 0},
    {"begin isolation level", "begin isolation level serializable;", 1, "BEGIN", 0},
    {"start transaction", "START TRANSACTION READ ONLY;", 1, "START TRANSACTION", 0},
    {"prepare transaction", "PREPARE TRANSACTION 'x';", 1, "PREPARE TRANSACTION", 0},
    {"a prepared statement is fine", "PREPARE q AS SELECT 1;", 1, NULL, 0},
    {"commit prepared", "COMMIT PREPARED 'x';", 1, "COMMIT PREPARED", 0},
    {"rollback prepared", "ROLLBACK PREPARED 'x';", 1, "ROLLBACK PREPARED", 0},
    {"savepoint", "SAVEPOINT s;", 1, "SAVEPOINT", 0},
    {"release", "RELEASE s;", 1, "RELEASE SAVEPOINT", 0},
    {"vacuum", "VACUUM (ANALYZE) t;", 1, "VACUUM", 0},
    {"analyze is fine", "ANALYZE t;", 1, NULL, 0},
    {"create database", "create database x;", 1, "CREATE DATABASE", 0},
    {"drop database", "DROP DATABASE IF EXISTS x;", 1, "DROP DATABASE", 0},
    {"create tablespace", "CREATE TABLESPACE s LOCATION '/x';", 1, "CREATE TABLESPACE", 0},
    {"drop tablespace", "DROP TABLESPACE s;", 1, "DROP TABLESPACE", 0},
    {"alter system", "ALTER SYSTEM SET work_mem = '1MB';", 1, "ALTER SYSTEM", 0},
    {"create index concurrently", "CREATE INDEX CONCURRENTLY i ON t (a);", 1,
     "CREATE INDEX CONCURRENTLY", 0},
    {"create unique index concurrently", "create unique index concurrently i on t (a);", 1,
     "CREATE INDEX CONCURRENTLY", 0},
    {"create index is fine", "CREATE INDEX i ON t (a);", 1, NULL, 0},
    {"drop index concurrently", "DROP INDEX CONCURRENTLY i;", 1, "DROP INDEX CONCURRENTLY", 0},
    {"reindex database", "REINDEX DATABASE d;", 1, "REINDEX DATABASE", 0},
    {"reindex table concurrently", "REINDEX TABLE CONCURRENTLY t;", 1, "REINDEX CONCURRENTLY", 0},
    {"discard all", "DISCARD ALL;", 1, "DISCARD ALL", 0},
    {"discard plans is fine", "DISCARD PLANS;", 1, NULL, 0},
    {"do is sent", "DO $$BEGIN COMMIT; END$$;", 1, NULL, 0},
    {"call is sent", "CALL p();", 1, NULL, 0},
    {"checkpoint is sent", "CHECKPOINT;", 1, NULL, 0},
    {"commit in a string", "COMMENT ON TABLE t IS 'x; COMMIT; --';", 1, NULL, 0},
    {"commit in a doubled-quote string", "SELECT 'it''s; COMMIT';", 1, NULL, 0},
    {"commit in an escape string", "SELECT E'\\'; COMMIT; --';", 1, NULL, 0},
    {"commit after a plain string's backslash", "SELECT 'a\\'; COMMIT;", 2, "COMMIT", 0},
    {"backslash quote with standard strings off", "SELECT 'a\\'; COMMIT; --';", 1, NULL, 1},
    {"backslash quote, standard strings on: one string", "SELECT '\\''; COMMIT; --';", 1, NULL, 0},
    {"commit after backslash quote, standard strings off", "SELECT '\\''; COMMIT; --';", 2,
     "COMMIT", 1},
    {"a table named commit", "CREATE TABLE \"commit\" (a int); INSERT INTO \"commit\" VALUES (1);",
     2, NULL, 0},
    {"a quoted identifier holding ;", "SELECT 1 AS \"a;commit\";", 1, NULL, 0},
    {"commit as a column label", "SELECT 1 AS commit;", 1, NULL, 0},
    {"commit in a dollar quote",
     "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$\nBEGIN\n  COMMIT;\nEND\n$$;\n", 1, NULL, 0},
    {"commit in a tagged dollar quote", "CREATE FUNCTION f() AS $_$ x; commit; $_$;", 1, NULL, 0},
    {"commit in a comment", "SELECT 1; -- COMMIT;\n/* COMMIT; */", 1, NULL, 0},
    {"commit after a dollar parameter", "SELECT $1;COMMIT;", 2, "COMMIT", 0},
    {"commit after an escape string", "SELECT E'x';commit;", 2, "COMMIT", 0},
    {"minus is no comment", "SELECT 1-1;COMMIT;", 2, "COMMIT", 0},
    {"a division is no comment", "SELECT 1/2; end;", 2, "END", 0},
    {"words run into a comment", "COMMIT/* x */;", 1, "COMMIT", 0},
    {"a word cut by a comment", "COM/* x */MIT;", 1, NULL, 0},
    {"begin atomic body",
     "CREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n"
     " SELECT 1;\nEND;\nSELECT 2;\n",
     2, NULL, 0},
    {"begin atomic body with case",
     "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE "
     "WHEN a > 0 THEN 1 ELSE 2 END; SELECT 3; END; COMMIT;",
     2, "COMMIT", 0},
    {"begin atomic procedure",
     "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END; ROLLBACK;", 2,
     "ROLLBACK", 0},
    {"begin as a parameter name",
     "CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql AS 'select 1'; COMMIT;", 2, "COMMIT",
     0},
    {"a long word", "CREATE TABLE a_very_long_table_name_indeed (a int); commit;", 2, "COMMIT", 0},
    {"first refusal wins", "VACUUM; COMMIT;", 2, "VACUUM", 0},
    {"insert data",
     "INSERT INTO public.t VALUES (1, 'x');\nINSERT INTO public.t VALUES (2, ';');\n", 2, NULL, 0},
};

/* run: split text in pieces of at most piece bytes (0: at every cut point given by cut). */
static int
run(const struct stmt_case *c, size_t piece, size_t cut, int *statements, const char **refused)
{
	struct sqlstmt st;
	size_t len = strlen(c->text), at = 0;

	sqlstmt_init(&st);
	sqlstmt_standard_strings(&st, !c->standard_off);
	*statements = 0;
	*refused = NULL;
	while (at < len) {
		size_t n = piece != 0 ? piece : (at < cut ? cut - at : len - at), used;
		int rc;

		if (n > len - at)
			n = len - at;
		while (n > 0) {
			rc = sqlstmt_feed(&st, c->text + at, n, &used);
			if (rc < 0) {
				sqlstmt_free(&st);
				return -1;
			}
			if (rc == 1) {
				*statements += !st.last_empty;
				if (*refused == NULL && st.last_refused != NULL)
					*refused = st.last_refused->name;
			}
			at += used;
			n -= used;
		}
	}
	sqlstmt_end(&st);
	*statements += !st.last_empty;
	if (*refused == NULL && st.last_refused != NULL)
		*refused = st.last_refused->name;
	sqlstmt_free(&st);
	return 0;
}

/* check: one case, whole, in small pieces and cut in two at every byte. */
static int
check(const struct stmt_case *c)
{
	size_t pieces[] = {1, 2, 3, 7, 4096};
	size_t len = strlen(c->text);
	int ok = 1, n;
	const char *refused;

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]) + len + 1; i++) {
		size_t piece = i < sizeof(pieces) / sizeof(pieces[0]) ? pieces[i] : 0;
		size_t cut = i - sizeof(pieces) / sizeof(pieces[0]);

		if (run(c, piece, cut, &n, &refused) < 0) {
			printf("not ok - %s: out of memory\n", c->name);
			return 0;
		}
		if (n != c->statements || (refused == NULL) != (c->refused == NULL) ||
		    (refused != NULL && strcmp(refused, c->refused) != 0)) {
			printf(
			    "not ok - %s (pieces of %zu, cut at %zu): %d statements, refused %s; "
			    "expected %d, %s\n",
			    c->name, piece, piece != 0 ? 0 : cut, n,
			    refused != NULL ? refused : "none", c->statements,
			    c->refused != NULL ? c->refused : "none");
			ok = 0;
			break;
		}
	}
	if (ok)
		printf("ok - %s\n", c->name);
	return ok;
}

int
main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (check(&cases[i]))
			passed++;
		else
			failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
