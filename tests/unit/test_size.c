/*
 * test_size.c - size_parse() against a table of written sizes: what it must accept, the exact
 * number of bytes, and what it must refuse.
 *
 * Prints one line per failed case and a final "N passed, M failed"; exits 1 if any failed.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "size.h"

struct size_case {
	const char *text;
	int ok;
	uint64_t bytes;
};

static const struct size_case size_cases[] = {
    /* Accepted, with the exact byte count. */
    {"0", 1, 0},
    {"1B", 1, 1},
    {"123456", 1, 123456},
    {"123456B", 1, 123456},
    {"1kB", 1, 1024},
    {"1KiB", 1, 1024},
    {"512MiB", 1, 536870912},
    {"512MB", 1, 536870912},
    {"10GB", 1, 10737418240},
    {"10GiB", 1, 10737418240},
    {"2.25GB", 1, 2415919104},
    {"2.25GiB", 1, 2415919104},
    {"3TB", 1, 3298534883328},
    {"1TiB", 1, 1099511627776},
    {"0.1kB", 1, 102},
    {"0.5kB", 1, 512},
    {"0.999kB", 1, 1022},
    {"1.0009765625kB", 1, 1025},
    {"1.00097656249999999999999999999999999999999999kB", 1, 1024},
    {"0.0000001GB", 1, 107},
    {"007MB", 1, 7340032},
    {"0GB", 1, 0},
    {"18446744073709551615", 1, UINT64_MAX},
    {"18446744073709551615B", 1, UINT64_MAX},
    {"16777215TB", 1, 18446742974197923840u},
    {"16777215.999999999999TB", 1, 18446744073709551614u},
    {"17179869183GB", 1, 18446744072635809792u},
    {"0000000000000000000000000000001kB", 1, 1024},

    /* Refused. */
    {"", 0, 0},
    {"GB", 0, 0},
    {"10 GB", 0, 0},
    {" 10GB", 0, 0},
    {"10GB ", 0, 0},
    {"-1GB", 0, 0},
    {"+1GB", 0, 0},
    {"1XB", 0, 0},
    {"1KB", 0, 0},
    {"1kb", 0, 0},
    {"1gb", 0, 0},
    {"1K", 0, 0},
    {"1EB", 0, 0},
    {"1PB", 0, 0},
    {"1.5", 0, 0},
    {"1.5B", 0, 0},
    {".5GB", 0, 0},
    {"1.GB", 0, 0},
    {"1.", 0, 0},
    {"1..5GB", 0, 0},
    {"1.5.5GB", 0, 0},
    {"1,5GB", 0, 0},
    {"10GBx", 0, 0},
    {"10GB10", 0, 0},
    {"0x10", 0, 0},
    {"1e3", 0, 0},
    {"18446744073709551616", 0, 0},
    {"18446744073709551616B", 0, 0},
    {"99999999999999999999", 0, 0},
    {"16777216TB", 0, 0},
    {"16777216TiB", 0, 0},
    {"17179869184GB", 0, 0},
    {"18014398509481984kB", 0, 0},
};

/* main: run every case; exit 0 only if all passed. */
int
main(void)
{
	size_t i, ncases = sizeof(size_cases) / sizeof(size_cases[0]);
	unsigned passed = 0, failed = 0;
	const struct size_case *c;
	uint64_t bytes;
	int rc;

	for (i = 0; i < ncases; i++) {
		c = &size_cases[i];
		bytes = 12345;
		rc = size_parse(c->text, &bytes);
		if (c->ok && rc != 0) {
			printf("FAIL size_parse(\"%s\"): refused, expected %" PRIu64 "\n", c->text,
			       c->bytes);
			failed++;
		} else if (c->ok && bytes != c->bytes) {
			printf("FAIL size_parse(\"%s\"): %" PRIu64 ", expected %" PRIu64 "\n",
			       c->text, bytes, c->bytes);
			failed++;
		} else if (!c->ok && rc == 0) {
			printf("FAIL size_parse(\"%s\"): accepted as %" PRIu64
			       ", expected refusal\n",
			       c->text, bytes);
			failed++;
		} else if (!c->ok && bytes != 12345) {
			printf("FAIL size_parse(\"%s\"): refused but wrote %" PRIu64 "\n", c->text,
			       bytes);
			failed++;
		} else {
			passed++;
		}
	}
	if (size_parse(NULL, &bytes) == 0) {
		printf("FAIL size_parse(NULL): accepted\n");
		failed++;
	} else {
		passed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
