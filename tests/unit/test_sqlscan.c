/*
 * test_sqlscan.c - the SQL scanner decides where pg_restore's entry headers can be; text
 * inside any literal, identifier or comment must never count as the top level.
 */
#include <stdio.h>
#include <string.h>

#include "sqlscan.h"

struct scan_case {
	const char *name;
	const char *text; /* fed line by line, as the restore does */
	int at_top;       /* expected at the end */
};

static const struct scan_case cases[] = {
    {"empty", "", 1},
    {"statement", "CREATE TABLE t (a int);\n", 1},
    {"line comment ends at newline", "-- Name: t; Type: TABLE\n", 1},
    {"open string", "COMMENT ON TABLE t IS 'Pages of\n", 0},
    {"closed string over lines", "COMMENT ON TABLE t IS 'a\n-- Name: x\n';\n", 1},
    {"doubled quote stays inside", "SELECT 'it''s\n", 0},
    {"doubled quote closes", "SELECT 'it''s';\n", 1},
    {"escape string backslash quote", "SELECT E'a\\'b\n", 0},
    {"escape string closes", "SELECT E'a\\'b';\n", 1},
    {"plain string: backslash is literal", "SELECT 'a\\';\n", 1},
    {"identifier ending in e is not E''", "SELECT some'x';\n", 1},
    {"quoted identifier open", "CREATE TABLE \"a\n", 0},
    {"quoted identifier with quote in it", "CREATE TABLE \"it's\" (a int);\n", 1},
    {"dollar quote open", "CREATE FUNCTION f() AS $$\nbegin\n", 0},
    {"dollar quote closed",
     "CREATE FUNCTION f() AS $$\n-- PostgreSQL database dump complete\n$$;\n", 1},
    {"tagged dollar quote", "AS $_$select $1$_$;\n", 1},
    {"tagged dollar quote holds other tag", "AS $a$ $$ not closed $$ $a$;\n", 1},
    {"tagged dollar quote still open", "AS $body$ $$\n", 0},
    {"dollar in identifier is not a quote", "CREATE TABLE shop$order (a int);\n", 1},
    {"parameter is not a quote", "SELECT $1 + 1;\n", 1},
    {"block comment open", "/* a\n", 0},
    {"nested block comment", "/* a /* b */ c\n", 0},
    {"nested block comment closed", "/* a /* b */ c */ SELECT 1;\n", 1},
    {"quote inside block comment", "/* it's */ SELECT 1;\n", 1},
    {"comment marker inside string", "SELECT '--', '/*';\n", 1},
};

int
main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sqlscan scan;
		const char *p = cases[i].text;

		sqlscan_init(&scan);
		while (*p != '\0') {
			const char *nl = strchr(p, '\n');
			size_t n = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);

			sqlscan_feed(&scan, p, n);
			p += n;
		}
		if ((int)sqlscan_at_top(&scan) == cases[i].at_top) {
			passed++;
		} else {
			failed++;
			printf("not ok - %s: expected %s the top level\n", cases[i].name,
			       cases[i].at_top ? "at" : "not at");
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
