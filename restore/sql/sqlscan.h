/*
 * sqlscan.h - follow SQL text far enough to know whether a point in it is at the top level:
 * outside string literals ('...', E'...'), quoted identifiers ("..."), dollar-quoted strings
 * ($tag$...$tag$) and comments (line comments and nested block comments). The restore uses
 * it to recognise pg_restore's entry headers, which are comments at the top level, so that no
 * text inside a function body, a comment string or a default value can pass for one.
 *
 * The text may be fed in pieces of any size: what the scanner decides never depends on where
 * one piece ends. A dollar-quote tag may be as long as the text; the scanner keeps it in
 * memory of its own while the quote is open, which sqlscan_free releases.
 *
 * It assumes standard_conforming_strings = on, which pg_restore's script sets first for every
 * dump but those of servers that had it off; sqlscan_standard_strings() follows those.
 */
#ifndef SQLSCAN_H
#define SQLSCAN_H

#include <stdbool.h>
#include <stddef.h>

enum sqlscan_state {
	SQLSCAN_TOP,
	SQLSCAN_LINE_COMMENT,
	SQLSCAN_BLOCK_COMMENT,
	SQLSCAN_STRING,        /* '...' */
	SQLSCAN_ESCAPE_STRING, /* E'...' with backslash escapes */
	SQLSCAN_ESCAPE_QUOTE,  /* E'...': a quote, the end unless another follows */
	SQLSCAN_IDENTIFIER,    /* "..." */
	SQLSCAN_DOLLAR_TAG,    /* "$" and what may become a dollar quote's opening tag */
	SQLSCAN_DOLLAR,        /* $tag$...$tag$ */
	SQLSCAN_FAILED,        /* out of memory: nothing counts as the top level any more */
};

struct sqlscan {
	enum sqlscan_state state;
	int depth;       /* nesting of block comments */
	bool skip_next;  /* E'...': the next character is escaped */
	char prev;       /* the previous character */
	char prev2;      /* the one before it */
	char *tag;       /* dollar quotes: the tag, with its '$'s; allocated while in use */
	size_t tag_len;  /* its length */
	size_t tag_size; /* the bytes allocated */
	size_t matched;  /* in a dollar quote: how much of the tag the latest text matches */
	bool escapes;    /* standard_conforming_strings off: every '...' takes backslash escapes */
};

/* sqlscan_init: start at the top level. */
void sqlscan_init(struct sqlscan *scan);

/* sqlscan_feed: follow n more bytes of SQL text; 0, or -1 when out of memory. */
int sqlscan_feed(struct sqlscan *scan, const char *text, size_t n);

/*
 * sqlscan_at_top: is the text fed so far at the top level (a line comment ends at '\n')? A
 * "$tag" not yet followed by its closing '$' or by another character is not: it may still
 * open a dollar quote.
 */
bool sqlscan_at_top(const struct sqlscan *scan);

/*
 * sqlscan_standard_strings: follow text read with standard_conforming_strings on (the
 * default) or off, where a backslash escapes the next character in every '...' string.
 */
void sqlscan_standard_strings(struct sqlscan *scan, bool on);

/* sqlscan_free: release the scanner's memory; it may be initialised again. */
void sqlscan_free(struct sqlscan *scan);

#endif
