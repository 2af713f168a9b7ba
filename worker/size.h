/*
 * size.h - parse a human-written size ("10GB", "2.25GB", "512MiB", "123456B", "123456"), and
 * write one for a person (size_format).
 *
 * Units are 1024-based, as in postgresql.conf: B, kB, MB, GB, TB, and the IEC spellings
 * KiB, MiB, GiB, TiB. A bare number is bytes. A decimal fraction is allowed ("2.25GB") and the
 * result is rounded down to a whole byte. Negative numbers, unknown units, trailing garbage and
 * values above UINT64_MAX are refused.
 *
 * A fraction needs a unit larger than a byte: "1.5" and "1.5B" are refused, since half a byte
 * is most likely a forgotten unit. No spaces anywhere: "10 GB" is refused.
 */
#ifndef SIZE_H
#define SIZE_H

#include <stddef.h>
#include <stdint.h>

/* size_parse: store the size written in text into *bytes; return 0, or -1 if it is not a size. */
int size_parse(const char *text, uint64_t *bytes);

/* size_format: bytes for a person, "812 B", "1.2 MiB", "3.4 GiB" (1024-based), into buf. */
void size_format(uint64_t bytes, char *buf, size_t buflen);

#endif
