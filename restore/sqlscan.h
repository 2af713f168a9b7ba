/*
 * sqlscan.h - follow SQL text far enough to know whether a point in it is at the top level:
 * outside string literals ('...', E'...'), quoted identifiers ("..."), dollar-quoted strings
 * ($tag$...$tag$) and comments (line comments and nested block comments). The restore uses
 * it to recognise pg_restore's entry headers, which are comments at the top level, so that no
 * text inside a function body, a comment string or a default value can pass for one.
 *
 * It assumes standard_conforming_strings = on, which pg_restore's script sets first.
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
	SQLSCAN_IDENTIFIER,    /* "..." */
	SQLSCAN_DOLLAR,        /* $tag$...$tag$ */
};

struct sqlscan {
	enum sqlscan_state state;
	int depth;      /* nesting of block comments */
	bool skip_next; /* E'...': the next character is escaped */
	char prev;      /* the previous character */
	char prev2;     /* the one before it */
	size_t tag_len; /* dollar quotes: the tag, with its two '$' */
	char tag[66];
};

/* sqlscan_init: start at the top level. */
void sqlscan_init(struct sqlscan *scan);

/* sqlscan_feed: follow n more bytes of SQL text. */
void sqlscan_feed(struct sqlscan *scan, const char *text, size_t n);

/* sqlscan_at_top: is the text fed so far at the top level (a line comment ends at '\n')? */
bool sqlscan_at_top(const struct sqlscan *scan);

#endif
