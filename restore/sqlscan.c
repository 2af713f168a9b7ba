/*
 * sqlscan.c - the lexical states of SQL text, as PostgreSQL's scanner defines them
 * (src/backend/parser/scan.l), reduced to what decides "inside something or not".
 *
 * Limits: a dollar-quote tag longer than 64 characters is not recognised as one (pg_dump
 * writes $$, $_$ and the like; PostgreSQL places no limit, but such tags do not occur).
 */
#include "sqlscan.h"

#include <string.h>

void
sqlscan_init(struct sqlscan *scan)
{
	memset(scan, 0, sizeof(*scan));
	scan->state = SQLSCAN_TOP;
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

/* dollar_open: if text[i] begins "$tag$" at the top level, its length; else 0. */
static size_t
dollar_open(const struct sqlscan *scan, const char *text, size_t i, size_t n)
{
	size_t j = i + 1;

	if (is_ident_char(scan->prev))
		return 0; /* part of an identifier such as shop$order */
	if (j < n && text[j] == '$')
		return 2;
	if (j >= n || !is_tag_start(text[j]))
		return 0;
	while (j < n && j - i < sizeof(scan->tag) - 1 && is_ident_char(text[j]) && text[j] != '$')
		j++;
	if (j < n && text[j] == '$' && j + 1 - i < sizeof(scan->tag))
		return j + 1 - i;
	return 0;
}

void
sqlscan_feed(struct sqlscan *scan, const char *text, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		size_t len;

		switch (scan->state) {
		case SQLSCAN_TOP:
			if (c == '-' && i + 1 < n && text[i + 1] == '-') {
				scan->state = SQLSCAN_LINE_COMMENT;
				i++;
				c = '-';
			} else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
				scan->state = SQLSCAN_BLOCK_COMMENT;
				scan->depth = 1;
				i++;
				c = '*';
			} else if (c == '\'') {
				/* E'...' (or e'...'), unless the E ends a longer identifier. */
				scan->state = (scan->prev == 'E' || scan->prev == 'e') &&
				                      !is_ident_char(scan->prev2)
				                  ? SQLSCAN_ESCAPE_STRING
				                  : SQLSCAN_STRING;
			} else if (c == '"') {
				scan->state = SQLSCAN_IDENTIFIER;
			} else if (c == '$' && (len = dollar_open(scan, text, i, n)) > 0) {
				memcpy(scan->tag, text + i, len);
				scan->tag_len = len;
				scan->state = SQLSCAN_DOLLAR;
				i += len - 1;
				c = '$';
			}
			break;
		case SQLSCAN_LINE_COMMENT:
			if (c == '\n')
				scan->state = SQLSCAN_TOP;
			break;
		case SQLSCAN_BLOCK_COMMENT:
			if (c == '/' && i + 1 < n && text[i + 1] == '*') {
				scan->depth++;
				i++;
			} else if (c == '*' && i + 1 < n && text[i + 1] == '/') {
				if (--scan->depth == 0)
					scan->state = SQLSCAN_TOP;
				i++;
				c = ' '; /* "*" "/" then "*" must not reopen a comment */
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
				scan->state = SQLSCAN_TOP;
			c = c == '\'' ? '\'' : 'x';
			break;
		case SQLSCAN_IDENTIFIER:
			if (c == '"')
				scan->state = SQLSCAN_TOP;
			break;
		case SQLSCAN_DOLLAR:
			if (c == '$' && n - i >= scan->tag_len &&
			    memcmp(text + i, scan->tag, scan->tag_len) == 0) {
				scan->state = SQLSCAN_TOP;
				i += scan->tag_len - 1;
				c = ' '; /* $a$$b$: the closing '$' does not open another */
			}
			break;
		}
		scan->prev2 = scan->prev;
		scan->prev = c;
	}
}

bool
sqlscan_at_top(const struct sqlscan *scan)
{
	return scan->state == SQLSCAN_TOP;
}
