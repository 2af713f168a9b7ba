/*
 * fuzz_sqlscan.c - the SQL scanner that finds pg_restore's entry headers, on any text.
 *
 * The input is SQL text. It is fed once whole and once in pieces whose sizes the input's own
 * bytes choose; sqlscan.h promises that the scanner's decision never depends on where a piece
 * ends, so both must end in the same state.
 */
#include <string.h>

#include "fuzz.h"
#include "sqlscan.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sqlscan whole, pieces;
	const char *text = (const char *)data;
	size_t pos = 0;

	sqlscan_init(&whole);
	if (sqlscan_feed(&whole, text, size) < 0)
		fuzz_fail("sqlscan_feed ran out of memory");

	sqlscan_init(&pieces);
	while (pos < size) {
		size_t n = 1 + data[pos] % 7;

		if (n > size - pos)
			n = size - pos;
		if (sqlscan_feed(&pieces, text + pos, n) < 0)
			fuzz_fail("sqlscan_feed ran out of memory");
		(void)sqlscan_at_top(&pieces);
		pos += n;
	}
	if (sqlscan_at_top(&whole) != sqlscan_at_top(&pieces) || whole.state != pieces.state ||
	    whole.depth != pieces.depth)
		fuzz_fail("fed in pieces the scanner ends in state %d (depth %d, at top %d), fed "
		          "whole in state %d (depth %d, at top %d)",
		          pieces.state, pieces.depth, sqlscan_at_top(&pieces), whole.state,
		          whole.depth, sqlscan_at_top(&whole));
	sqlscan_free(&whole);
	sqlscan_free(&pieces);
	return 0;
}
