/*
 * test_io.c - io_error, the one error formatter: every message is one line, whatever the
 * text it quotes holds (a server's message, a file name), and it never writes past errlen.
 */
#include <stdio.h>
#include <string.h>

#include "io.h"

struct error_case {
	const char *name;
	const char *quoted; /* formatted into "restoring x failed: %s" */
	size_t errlen;
	const char *expected;
};

static const struct error_case cases[] = {
    {"plain", "no such table", 100, "restoring x failed: no such table"},
    {"newline", "unterminated dollar-quoted string at or near \"$_$\nbegin\"", 100,
     "restoring x failed: unterminated dollar-quoted string at or near \"$_$ begin\""},
    {"carriage return and tab", "a\r\nb\tc", 100, "restoring x failed: a  b c"},
    {"other control characters", "a\x01\x1b[31mb\x7f", 100, "restoring x failed: a  [31mb "},
    {"trailing newline", "server closed the connection\n", 100,
     "restoring x failed: server closed the connection "},
    {"UTF-8 is kept", "tabl\xc3\xa9 \xe2\x80\x94 ok", 100,
     "restoring x failed: tabl\xc3\xa9 \xe2\x80\x94 ok"},
    {"cut to fit, still one line", "a\nb\nc\nd", 24, "restoring x failed: a b"},
};

int
main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[128];
		int rc;

		memset(err, '#', sizeof(err));
		rc = io_error(err, cases[i].errlen, "restoring x failed: %s", cases[i].quoted);
		if (rc == -1 && strcmp(err, cases[i].expected) == 0 &&
		    (cases[i].errlen >= sizeof(err) || err[cases[i].errlen] == '#')) {
			passed++;
		} else {
			failed++;
			printf("not ok - %s: rc %d, got '%s', expected '%s'\n", cases[i].name, rc,
			       err, cases[i].expected);
		}
	}

	/* No room at all: nothing is written. */
	{
		char err[4] = "###";

		if (io_error(err, 0, "x\n%s", "y") == -1 && strcmp(err, "###") == 0)
			passed++;
		else
			failed++, printf("not ok - errlen 0 wrote '%s'\n", err);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
