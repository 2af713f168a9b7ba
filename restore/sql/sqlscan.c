/*
 * sqlscan.c - the lexical states of SQL text, as PostgreSQL's scanner defines them
 * (src/backend/parser/scan.l), reduced to what decides "inside something or not".
 *
 * It goes one character at a time and looks back, never ahead, so a token split between two
 * pieces of text is read as if it were whole. A dollar quote's tag is kept whole, in memory
 * that grows with it: pg_dump lengthens a function body's tag ($_$, $_X$, $_XX$, ...) until
 * the body does not contain it, so a tag can be as long as the body makes it. The closing
 * tag is matched as it comes.
 *
 * Limits: a string literal continued on the next line ('a'<newline>'b') is followed as two
 * literals, which only matters for E'...' strings (the second part keeps the backslash
 * escapes); pg_restore does not write E'...' strings with standard_conforming_strings on.
 */
#include "sqlscan.h"

#include <stdlib.h>
#include <string.h>

void
sqlscan_init(struct sqlscan *scan)
{
	memset(scan, 0, sizeof(*scan));
	scan->state = SQLSCAN_TOP;
}

void
sqlscan_standard_strings(struct sqlscan *scan, bool on)
{
	scan->escapes = !on;
}

void
sqlscan_free(struct sqlscan *scan)
{
	free(scan->tag);
	scan->tag = NULL;
	scan->tag_len = 0;
	scan->tag_size = 0;
}

/* is_ident_char: can c be part of an unquoted identifier or a number? */
static bool
is_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* is_tag_start: can c begin a dollar-quote tag? (not a digit: $1 is a parameter) */
static bool
is_tag_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (unsigned char)c >= 0x80;
}

/* is_tag_char: can c continue a dollar-quote tag? */
static bool
is_tag_char(char c)
{
	return is_tag_start(c) || (c >= '0' && c <= '9');
}

/* tag_append: add c to the tag being read; 0, or -1 when out of memory. */
static int
tag_append(struct sqlscan *scan, char c)
{
	if (scan->tag_len == scan->tag_size) {
		size_t size = scan->tag_size == 0 ? 16 : scan->tag_size * 2;
		char *grown;

		if (size < scan->tag_size)
			return -1;
		grown = realloc(scan->tag, size);
		if (grown == NULL)
			return -1;
		scan->tag = grown;
		scan->tag_size = size;
	}
	scan->tag[scan->tag_len++] = c;
	return 0;
}

/* top_char: c at the top level; returns what counts as the previous character next time. */
static char
top_char(struct sqlscan *scan, char c)
{
	if (c == '-' && scan->prev == '-') {
		scan->state = SQLSCAN_LINE_COMMENT;
	} else if (c == '*' && scan->prev == '/') {
		scan->state = SQLSCAN_BLOCK_COMMENT;
		scan->depth = 1;
		return ' '; /* "/" "*" then "/" does not close it */
	} else if (c == '\'') {
		/* E'...' (or e'...'), unless the E ends a longer identifier. */
		scan->state = scan->escapes || ((scan->prev == 'E' || scan->prev == 'e') &&
		                                !is_ident_char(scan->prev2))
		                  ? SQLSCAN_ESCAPE_STRING
		                  : SQLSCAN_STRING;
	} else if (c == '"') {
		scan->state = SQLSCAN_IDENTIFIER;
	} else if (c == '$' && !is_ident_char(scan->prev)) {
		/* Not after an identifier character: shop$order$x is one identifier. */
		scan->state = SQLSCAN_DOLLAR_TAG;
		scan->tag_len = 0;
		if (tag_append(scan, c) < 0)
			scan->state = SQLSCAN_FAILED;
	}
	return c;
}

/* scan_char: follow one character. */
static void
scan_char(struct sqlscan *scan, char c)
{
	switch (scan->state) {
	case SQLSCAN_TOP:
		c = top_char(scan, c);
		break;
	case SQLSCAN_LINE_COMMENT:
		if (c == '\n')
			scan->state = SQLSCAN_TOP;
		break;
	case SQLSCAN_BLOCK_COMMENT:
		if (c == '*' && scan->prev == '/') {
			scan->depth++;
			c = ' '; /* "/" "*" then "/" does not close it */
		} else if (c == '/' && scan->prev == '*') {
			if (--scan->depth == 0)
				scan->state = SQLSCAN_TOP;
			c = ' '; /* "*" "/" then "*" does not reopen it */
		}
		break;
	case SQLSCAN_STRING:
		if (c == '\'')
			scan->state = SQLSCAN_TOP; /* '' re-enters at once */
		break;
	case SQLSCAN_ESCAPE_STRING:
		if (scan->skip_next)
			scan->skip_next = false;
		else if (c == '\\')
			scan->skip_next = true;
		else if (c == '\'')
			scan->state = SQLSCAN_ESCAPE_QUOTE;
		c = c == '\'' ? '\'' : 'x';
		break;
	case SQLSCAN_ESCAPE_QUOTE:
		if (c == '\'') {
			scan->state = SQLSCAN_ESCAPE_STRING; /* '' stands for one quote */
			c = 'x';
		} else {
			scan->state = SQLSCAN_TOP;
			c = top_char(scan, c);
		}
		break;
	case SQLSCAN_IDENTIFIER:
		if (c == '"')
			scan->state = SQLSCAN_TOP;
		break;
	case SQLSCAN_DOLLAR_TAG:
		if (c == '$' || (scan->tag_len == 1 ? is_tag_start(c) : is_tag_char(c))) {
			if (tag_append(scan, c) < 0) {
				scan->state = SQLSCAN_FAILED;
			} else if (c == '$') {
				scan->state = SQLSCAN_DOLLAR;
				scan->matched = 0;
			}
		} else {
			/* "$" and an identifier, or "$1": no quote; c is read at the top level. */
			scan->state = SQLSCAN_TOP;
			sqlscan_free(scan);
			c = top_char(scan, c);
		}
		break;
	case SQLSCAN_DOLLAR:
		/*
		 * The tag has '$' only at its ends, so a mismatch can only restart the match at
		 * c itself, when c is a '$'.
		 */
		if (c == scan->tag[scan->matched]) {
			if (++scan->matched == scan->tag_len) {
				scan->state = SQLSCAN_TOP;
				sqlscan_free(scan);
				c = ' '; /* $a$$b$: the closing '$' does not open another */
			}
		} else {
			scan->matched = c == '$' ? 1 : 0;
		}
		break;
	case SQLSCAN_FAILED:
		break;
	}
	scan->prev2 = scan->prev;
	scan->prev = c;
}

int
sqlscan_feed(struct sqlscan *scan, const char *text, size_t n)
{
	for (size_t i = 0; i < n && scan->state != SQLSCAN_FAILED; i++)
		scan_char(scan, text[i]);
	if (scan->state == SQLSCAN_FAILED) {
		sqlscan_free(scan);
		return -1;
	}
	return 0;
}

bool
sqlscan_at_top(const struct sqlscan *scan)
{
	return scan->state == SQLSCAN_TOP || scan->state == SQLSCAN_ESCAPE_QUOTE;
}
