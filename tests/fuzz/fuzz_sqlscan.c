/*
 * fuzz_sqlscan.c - the SQL scanner that finds pg_restore's entry headers, and the statement
 * splitter built on it (sqlstmt.h), on any text.
 *
 * The input is SQL text. It is fed once whole and once in pieces whose sizes the input's own
 * bytes choose; sqlscan.h and sqlstmt.h promise that what they decide never depends on where
 * a piece ends, so both must end in the same state, and the splitter must find the same
 * statements with the same verdicts.
 */
#include <string.h>

#include "fuzz.h"
#include "sqlscan.h"
#include "sqlstmt.h"

/* The statements of a text and the first refusal among them. */
struct split {
	uint64_t statements;
	const struct sqlstmt_refusal *first;
	uint64_t first_at; /* the statement it was */
};

/* split_text: split the text in pieces of 1 + data[pos] % 7 bytes (whole when !pieces). */
static void
split_text(const uint8_t *data, size_t size, bool pieces, bool standard, struct split *out)
{
	struct sqlstmt st;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	sqlstmt_init(&st);
	sqlstmt_standard_strings(&st, standard);
	while (pos < size) {
		size_t n = pieces ? 1 + (size_t)(data[pos] % 7) : size, used;

		if (n > size - pos)
			n = size - pos;
		while (n > 0) {
			int rc = sqlstmt_feed(&st, (const char *)data + pos, n, &used);

			if (rc < 0)
				fuzz_fail("sqlstmt_feed ran out of memory");
			if (rc == 1 && st.last_refused != NULL && out->first == NULL) {
				out->first = st.last_refused;
				out->first_at = st.statements;
			}
			pos += used;
			n -= used;
		}
	}
	sqlstmt_end(&st);
	if (st.last_refused != NULL && out->first == NULL) {
		out->first = st.last_refused;
		out->first_at = st.statements;
	}
	out->statements = st.statements;
	sqlstmt_free(&st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sqlscan whole, pieces;
	struct split split_whole, split_pieces;
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

	for (int standard = 0; standard < 2; standard++) {
		split_text(data, size, false, standard, &split_whole);
		split_text(data, size, true, standard, &split_pieces);
		if (split_whole.statements != split_pieces.statements ||
		    split_whole.first != split_pieces.first ||
		    split_whole.first_at != split_pieces.first_at)
			fuzz_fail(
			    "fed in pieces the splitter finds %llu statements (refusing %s at "
			    "%llu), fed whole %llu (refusing %s at %llu)",
			    (unsigned long long)split_pieces.statements,
			    split_pieces.first != NULL ? split_pieces.first->name : "none",
			    (unsigned long long)split_pieces.first_at,
			    (unsigned long long)split_whole.statements,
			    split_whole.first != NULL ? split_whole.first->name : "none",
			    (unsigned long long)split_whole.first_at);
	}
	return 0;
}
