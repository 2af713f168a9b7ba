/*
 * size.c - parse a size written by a person, as in postgresql.conf: "10GB", "2.25GB", "512MiB".
 *
 * The grammar is DIGITS [ "." DIGITS ] [ UNIT ], with no sign, no spaces and nothing after the
 * unit. UNIT is one of B kB MB GB TB KiB MiB GiB TiB, all 1024-based and case-sensitive:
 * PostgreSQL spells kilobytes "kB", and "KB" or "kb" are refused rather than guessed at. A bare
 * number is bytes. A fraction needs a unit larger than a byte and is rounded down to a whole byte.
 *
 * The arithmetic is integer only, so "2.25GB" is exactly 2415919104 and no value near UINT64_MAX
 * passes through a double. Every unit is 2^shift with shift <= 40, so the fractional part in bytes
 * is floor(0.DIGITS * 2^shift): the decimal fraction is doubled shift times and the carries out of
 * its first digit are the bits of the result. Only the first 40 fraction digits can matter: every
 * boundary j / 2^shift has an exact decimal expansion of at most shift <= 40 digits, so cutting the
 * fraction there cannot move it across one.
 *
 * size_format writes a size for a person the other way round: "812 B", "1.2 MiB".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "size.h"

#define SIZE_FRACTION_DIGITS 40

struct size_unit {
	const char *name;
	unsigned shift;
};

static const struct size_unit size_units[] = {
    {"", 0},     {"B", 0},   {"kB", 10},  {"KiB", 10}, {"MB", 20},
    {"MiB", 20}, {"GB", 30}, {"GiB", 30}, {"TB", 40},  {"TiB", 40},
};

/* size_is_digit: whether c is an ASCII digit, whatever the locale says. */
static int
size_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* size_unit_shift: the power of two that unit stands for, or -1 if it is not a unit. */
static int
size_unit_shift(const char *unit)
{
	size_t i;

	for (i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
		if (strcmp(unit, size_units[i].name) == 0)
			return (int)size_units[i].shift;
	return -1;
}

/* size_fraction_bytes: floor(0.digits * 2^shift), for the ndigits decimal digits given. */
static uint64_t
size_fraction_bytes(const char *digits, size_t ndigits, unsigned shift)
{
	unsigned char fraction[SIZE_FRACTION_DIGITS];
	uint64_t bytes = 0;
	unsigned step, carry, value;
	size_t i;

	if (ndigits > SIZE_FRACTION_DIGITS)
		ndigits = SIZE_FRACTION_DIGITS;
	for (i = 0; i < ndigits; i++)
		fraction[i] = (unsigned char)(digits[i] - '0');
	for (step = 0; step < shift; step++) {
		carry = 0;
		for (i = ndigits; i-- > 0;) {
			value = fraction[i] * 2u + carry;
			fraction[i] = (unsigned char)(value % 10);
			carry = value / 10;
		}
		bytes = bytes << 1 | carry;
	}
	return bytes;
}

/* size_parse: store the size written in text into *bytes; return 0, or -1 if it is not a size. */
int
size_parse(const char *text, uint64_t *bytes)
{
	const char *p = text;
	const char *fraction = NULL;
	size_t nfraction = 0;
	uint64_t whole = 0, part = 0;
	unsigned digit;
	int shift;

	if (text == NULL || !size_is_digit(*p))
		return -1;
	for (; size_is_digit(*p); p++) {
		digit = (unsigned)(*p - '0');
		if (whole > (UINT64_MAX - digit) / 10)
			return -1;
		whole = whole * 10 + digit;
	}
	if (*p == '.') {
		fraction = ++p;
		while (size_is_digit(*p))
			p++;
		nfraction = (size_t)(p - fraction);
		if (nfraction == 0)
			return -1;
	}
	if ((shift = size_unit_shift(p)) < 0)
		return -1;
	if (fraction != NULL && shift == 0)
		return -1;
	if (whole > UINT64_MAX >> shift)
		return -1;
	whole <<= shift;
	if (fraction != NULL)
		part = size_fraction_bytes(fraction, nfraction, (unsigned)shift);
	if (part > UINT64_MAX - whole)
		return -1;
	*bytes = whole + part;
	return 0;
}

/* size_format: bytes as "812 B", "1.2 MiB", "3.4 GiB" into buf. */
void
size_format(uint64_t bytes, char *buf, size_t buflen)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, buflen, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, buflen, "%.1f %s", v, units[u]);
}
