/*
 * fuzz_size.c - the size parser, size_parse(), on any text.
 *
 * The input, up to its first NUL, is the size. A text that parses starts with a digit and
 * holds no space or sign; one without a fraction must give exactly its number times its unit,
 * computed here again in 128 bits, and one that parses with a fraction must lie between the
 * whole part and the next whole unit.
 */
#include <string.h>

#include "fuzz.h"
#include "size.h"

/* unit_shift: the power of two of the unit that ends text at p, or -1. */
static int
unit_shift(const char *p)
{
	static const struct {
		const char *name;
		int shift;
	} units[] = {{"", 0},     {"B", 0},   {"kB", 10},  {"KiB", 10}, {"MB", 20},
	             {"MiB", 20}, {"GB", 30}, {"GiB", 30}, {"TB", 40},  {"TiB", 40}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(p, units[i].name) == 0)
			return units[i].shift;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	unsigned __int128 whole = 0;
	uint64_t bytes;
	const char *p;
	int shift;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (size_parse(text, &bytes) < 0) {
		free(text);
		return 0;
	}
	if (text[0] < '0' || text[0] > '9' || strpbrk(text, " \t\n-+") != NULL)
		fuzz_fail("size_parse took '%s'", text);
	for (p = text; *p >= '0' && *p <= '9'; p++)
		if (whole <= UINT64_MAX)
			whole = whole * 10 + (unsigned)(*p - '0');
	shift = unit_shift(*p == '.' ? p + 1 + strspn(p + 1, "0123456789") : p);
	if (shift < 0)
		fuzz_fail("size_parse took '%s', whose unit is not one", text);
	whole <<= shift;
	if (*p != '.' && whole != bytes)
		fuzz_fail("size_parse read '%s' as %llu bytes", text, (unsigned long long)bytes);
	if (*p == '.' && (bytes < whole || bytes - whole >= ((uint64_t)1 << shift)))
		fuzz_fail("size_parse read '%s' as %llu bytes", text, (unsigned long long)bytes);
	free(text);
	return 0;
}
