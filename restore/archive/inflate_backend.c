/*
 * inflate_backend.c - the library under the inflater (see inflate_parts.h): which one this
 * build inflates with, the most it takes in one call, and, on ISA-L's igzip, the two things
 * that differ from zlib: the bytes it can keep past a finished stream, and its error codes,
 * said in zlib's words so that both backends refuse an input with the same sentence.
 *
 * ISA-L before 2.32.1 (Debian 12 ships 2.30) can leave whole bytes past a zlib stream's
 * Adler-32 counted as consumed; inflate_isal_unread() hands them back as later versions do, so
 * that bytes after a stream's end are seen. A gzip trailer never leaves any.
 */
#include "inflate.h"
#include "inflate_parts.h"

/* inflate_backend: "isa-l" or "zlib", whichever this build inflates with. */
const char *
inflate_backend(void)
{
#ifdef RW_HAVE_ISAL
	return "isa-l";
#else
	return "zlib";
#endif
}

/* inflate_clamp: len, or INFLATE_STEP_MAX when it is larger. */
uint32_t
inflate_clamp(size_t len)
{
	return len > INFLATE_STEP_MAX ? INFLATE_STEP_MAX : (uint32_t)len;
}

#ifdef RW_HAVE_ISAL
/*
 * inflate_isal_unread: give back whole bytes igzip loaded past a stream it finished (ISA-L before
 * 2.32.1 keeps them). Only bytes of this call's input can be given back: igzip loads at most
 * 8 bytes ahead, and a zlib trailer is 4, so what an earlier call loaded past the end (when
 * its output ran out right there) stays consumed; that costs no more than missing up to 4
 * stray bytes after a stream, never a wrong count.
 */
void
inflate_isal_unread(struct inflate_state *s, uint32_t avail_before)
{
	uint32_t back;

	if (s->block_state != ISAL_BLOCK_FINISH || s->read_in_length < 8)
		return;
	back = (uint32_t)s->read_in_length / 8;
	if (back > avail_before - s->avail_in)
		back = avail_before - s->avail_in;
	s->next_in -= back;
	s->avail_in += back;
	s->read_in_length = 0;
	s->read_in = 0;
}

/* inflate_isal_reason: igzip's error code in zlib's words, for "does not inflate (...)". */
const char *
inflate_isal_reason(const struct inflate_state *s, int rc)
{
	switch (rc) {
	case ISAL_INVALID_BLOCK:
		return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "invalid code";
	case ISAL_INVALID_LOOKBACK:
		return "invalid distance too far back";
	case ISAL_INVALID_WRAPPER:
		return "incorrect header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unknown compression method";
	case ISAL_NEED_DICT:
		return "needs a preset dictionary";
	case ISAL_INCORRECT_CHECKSUM:
		return s->block_state == ISAL_BLOCK_FINISH ? "incorrect data check"
		                                           : "incorrect header check";
	}
	return "igzip error";
}
#endif
