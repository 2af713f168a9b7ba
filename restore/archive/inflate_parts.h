/*
 * inflate_parts.h - what the inflater's files share (not for the rest of the engine):
 * inflate.c is the streaming gunzip, inflate_count.c the counter of a zlib stream's bytes, and
 * inflate_backend.c, below both, the library they run on (ISA-L's igzip or zlib) and its
 * quirks. The calls go one way: the gunzip and the counter call the backend, never the reverse.
 */
#ifndef INFLATE_PARTS_H
#define INFLATE_PARTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef RW_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

/* The most handed to the library in one call: its counters are 32 bits wide. */
#define INFLATE_STEP_MAX (1U << 30)

/* inflate_clamp: len, or INFLATE_STEP_MAX when it is larger. */
uint32_t inflate_clamp(size_t len);

#ifdef RW_HAVE_ISAL
/* inflate_isal_unread: give back whole bytes igzip loaded past a stream it finished. */
void inflate_isal_unread(struct inflate_state *s, uint32_t avail_before);

/* inflate_isal_reason: igzip's error code in zlib's words, for "does not inflate (...)". */
const char *inflate_isal_reason(const struct inflate_state *s, int rc);
#endif

#endif
