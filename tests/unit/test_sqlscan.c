/*
 * test_sqlscan.c - the SQL scanner decides where pg_restore's entry headers can be; text
 * inside any literal, identifier or comment must never count as the top level, whatever the
 * length of a dollar quote's tag and however the text is cut into pieces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlscan.h"

struct scan_case {
	const char *name;
	const char *text; /* fed line by line, as the restore does, and in other pieces */
	int at_top;       /* expected at the end */
};

static const struct scan_case cases[] = {
    {"empty", "", 1},
    {"statement", "CREATE TABLE t (a int);\n", 1},
    {"line comment ends at newline", "-- Name: t; Type: TABLE\n", 1},
    {"line comment still open", "SELECT 1; -- a comment", 0},
    {"open string", "COMMENT ON TABLE t IS 'Pages of\n", 0},
    {"closed string over lines", "COMMENT ON TABLE t IS 'a\n-- Name: x\n';\n", 1},
    {"doubled quote stays inside", "SELECT 'it''s\n", 0},
    {"doubled quote closes", "SELECT 'it''s';\n", 1},
    {"escape string backslash quote", "SELECT E'a\\'b\n", 0},
    {"escape string closes", "SELECT E'a\\'b';\n", 1},
    {"escape string doubled quote stays inside", "SELECT E'it''s\\'\n", 0},
    {"escape string doubled quote then escape closes", "SELECT E'a''b\\'c';\n", 1},
    {"escape string ends at line end", "SELECT E'a'\n", 1},
    {"escape string then a string", "SELECT E'a' 'b\\';\n", 1},
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
    {"tag with digits", "AS $a1$ $a$ $a1$;\n", 1},
    {"tag cannot start with a digit", "SELECT $1$;\n", 1},
    {"close restarts at a dollar", "AS $ab$ $$ab$;\n", 1},
    {"close restarts after a shorter tag", "AS $_XX$ $_X$_XX$;\n", 1},
    {"longer tag does not close", "AS $ab$ $abc$ $ab_$\n", 0},
    {"tag without its closing dollar is not a quote", "SELECT $abc , 'x';\n", 1},
    {"tag cut by a quote", "SELECT $abc'x\n", 0},
    {"closing dollar does not open another", "AS $a$x$a$b$ + 1;\n", 1},
    {"quote right after a quote opens", "AS $a$x$a$$b$ open\n", 0},
    {"dollar in identifier is not a quote", "CREATE TABLE shop$order (a int);\n", 1},
    {"dollar quote after identifier dollar", "CREATE TABLE shop$order$x (a int);\n", 1},
    {"parameter is not a quote", "SELECT $1 + 1;\n", 1},
    {"block comment open", "/* a\n", 0},
    {"nested block comment", "/* a /* b */ c\n", 0},
    {"nested block comment closed", "/* a /* b */ c */ SELECT 1;\n", 1},
    {"slash star slash stays open", "/*/ SELECT 1;\n", 0},
    {"star slash star does not reopen", "/* a */* 2;\n", 1},
    {"quote inside block comment", "/* it's */ SELECT 1;\n", 1},
    {"comment marker inside string", "SELECT '--', '/*';\n", 1},
    {"minus minus after an operator", "SELECT 1 <-- 'x\n", 1},
};

/* feed_pieces: feed text in pieces of at most piece bytes (0: line by line); -1 on failure. */
static int
feed_pieces(struct sqlscan *scan, const char *text, size_t len, size_t piece)
{
	size_t at = 0;

	while (at < len) {
		size_t n;

		if (piece == 0) {
			const char *nl = memchr(text + at, '\n', len - at);

			n = nl != NULL ? (size_t)(nl - (text + at)) + 1 : len - at;
		} else {
			n = len - at < piece ? len - at : piece;
		}
		if (sqlscan_feed(scan, text + at, n) < 0)
			return -1;
		at += n;
	}
	return 0;
}

/* check: scan text in every way (line by line, whole, byte by byte, cut in two anywhere). */
static int
check(const char *name, const char *text, size_t len, int at_top)
{
	size_t pieces[] = {0, len + 1, 1, 2, 3, 7};
	struct sqlscan scan;
	int ok = 1;

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		sqlscan_init(&scan);
		if (feed_pieces(&scan, text, len, pieces[i]) < 0 ||
		    (int)sqlscan_at_top(&scan) != at_top) {
			printf(
			    "not ok - %s: fed in pieces of %zu bytes (0: lines), expected %s the "
			    "top level\n",
			    name, pieces[i], at_top ? "at" : "not at");
			ok = 0;
		}
		sqlscan_free(&scan);
	}
	for (size_t cut = 1; len < 4096 && cut < len; cut++) {
		sqlscan_init(&scan);
		if (sqlscan_feed(&scan, text, cut) < 0 ||
		    sqlscan_feed(&scan, text + cut, len - cut) < 0 ||
		    (int)sqlscan_at_top(&scan) != at_top) {
			printf("not ok - %s: cut at byte %zu, expected %s the top level\n", name,
			       cut, at_top ? "at" : "not at");
			ok = 0;
		}
		sqlscan_free(&scan);
	}
	return ok;
}

/* pg_dump_tag: "$" and the first n - 1 of pg_dump's tag suffixes "_XXXXXXX", repeated. */
static char *
pg_dump_tag(size_t n)
{
	static const char suffixes[] = "_XXXXXXX";
	char *tag = malloc(n + 1);

	if (tag == NULL)
		return NULL;
	tag[0] = '$';
	for (size_t i = 1; i < n; i++)
		tag[i] = suffixes[(i - 1) % (sizeof(suffixes) - 1)];
	tag[n] = '\0';
	return tag;
}

/* long_tag_cases: function bodies quoted with tags of many lengths, as pg_dump writes them. */
static void
long_tag_cases(int *passed, int *failed)
{
	static const size_t lengths[] = {1, 2, 63, 64, 65, 66, 70, 71, 72, 200, 5000, 100000};
	static const struct {
		const char *name;
		const char *format; /* %s: the tag without its closing '$' */
		int at_top;
	} shapes[] = {
	    {"header inside the body",
	     "CREATE FUNCTION f() RETURNS text AS %s$\nbegin\n"
	     "-- Name: x; Type: TABLE; Schema: public; Owner: -\n",
	     0},
	    {"body closed",
	     "CREATE FUNCTION f() RETURNS text AS %1$s$\nbegin\n"
	     "-- Name: x; Type: TABLE; Schema: public; Owner: -\nreturn '%1$s';\nend\n%1$s$;\n",
	     1},
	    {"body holding the tag without its last dollar", "AS %1$s$ %1$s\n", 0},
	    {"body holding the tag twice", "AS %1$s$ '%1$s' %1$s$ %1$s$\n", 0},
	};

	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		char *tag = pg_dump_tag(lengths[i]);

		for (size_t j = 0; j < sizeof(shapes) / sizeof(shapes[0]); j++) {
			size_t size = strlen(shapes[j].format) + 4 * lengths[i] + 1;
			char *text = malloc(size), name[160];
			int n;

			if (tag == NULL || text == NULL) {
				printf("not ok - out of memory\n");
				(*failed)++;
				free(text);
				continue;
			}
			n = snprintf(text, size, shapes[j].format, tag);
			snprintf(name, sizeof(name), "%s, tag of %zu characters", shapes[j].name,
			         lengths[i] + 1);
			if (check(name, text, (size_t)n, shapes[j].at_top))
				(*passed)++;
			else
				(*failed)++;
			free(text);
		}
		free(tag);
	}
}

int
main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (check(cases[i].name, cases[i].text, strlen(cases[i].text), cases[i].at_top))
			passed++;
		else
			failed++;
	}
	long_tag_cases(&passed, &failed);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
