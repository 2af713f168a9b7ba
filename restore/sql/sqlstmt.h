/*
 * sqlstmt.h - the statements of SQL text, split where PostgreSQL splits a query string, and
 * the verdict on each: may a restore send it, or would it end, begin or break the restore's
 * transaction (COMMIT, ROLLBACK, BEGIN, PREPARE TRANSACTION, SAVEPOINT, ...) or be unable to
 * run inside one (VACUUM, CREATE DATABASE, CREATE INDEX CONCURRENTLY, ...)?
 *
 * A statement is judged by its first words, read at the top level (sqlscan.h): comments and
 * blanks between them do not count, case does not matter, and nothing inside a literal, a
 * quoted identifier or a dollar quote is a word. So a function body holding COMMIT inside
 * $$...$$, a comment 'COMMIT', or a table named "commit" are fine, and a block comment
 * followed by `commit`, or `END TRANSACTION`, are not.
 *
 * The text may be fed in pieces of any size; memory is fixed but for sqlscan's dollar-quote
 * tag.
 */
#ifndef SQLSTMT_H
#define SQLSTMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlscan.h"

#define SQLSTMT_WORDS      4  /* the first words a verdict needs at most */
#define SQLSTMT_WORD_BYTES 16 /* longer words are no keyword the verdict looks for */

/* What a statement a restore never sends is, and why. */
struct sqlstmt_refusal {
	const char *words[SQLSTMT_WORDS + 1]; /* its first words, as the rule matches them */
	const char *name;                     /* "COMMIT", "CREATE INDEX CONCURRENTLY" */
	const char *why;                      /* "would commit the restore's transaction ..." */
};

struct sqlstmt {
	struct sqlscan scan;
	char words[SQLSTMT_WORDS][SQLSTMT_WORD_BYTES]; /* the statement's first words, upper case */
	int nwords;
	bool words_done;               /* a token that is no word came: no more first words */
	char word[SQLSTMT_WORD_BYTES]; /* the word being read, upper case */
	size_t word_len;               /* its length; SQLSTMT_WORD_BYTES when too long */
	bool in_word;
	bool pending;        /* a '-' or '/' that may yet open a comment */
	bool any_token;      /* the statement holds more than blanks and comments */
	int paren_depth;     /* ( ... ) */
	int atomic_depth;    /* inside CREATE FUNCTION/PROCEDURE ... BEGIN ATOMIC ... END */
	bool after_begin;    /* the previous token was the word BEGIN */
	uint64_t statements; /* statements ended so far */
	/* The verdict on the statement that ended last. */
	bool last_empty;                            /* only blanks and comments (or nothing) */
	const struct sqlstmt_refusal *last_refused; /* NULL when a restore may send it */
};

/* sqlstmt_init: start before the first statement; standard_conforming_strings on. */
void sqlstmt_init(struct sqlstmt *st);

/* sqlstmt_standard_strings: standard_conforming_strings on or off from here on. */
void sqlstmt_standard_strings(struct sqlstmt *st, bool on);

/*
 * sqlstmt_feed: follow up to n more bytes of SQL text. Stops right after a ';' that ends a
 * statement and returns 1, with *used the bytes read (the verdict is then in last_empty and
 * last_refused); returns 0 when all n bytes were read and no statement ended, or -1 when out
 * of memory (nothing counts as the top level any more: give up on the text).
 */
int sqlstmt_feed(struct sqlstmt *st, const char *text, size_t n, size_t *used);

/*
 * sqlstmt_end: the text ends: the statement not ended by ';' ends here and gets its verdict
 * (last_empty is true when there was none). The splitter may be fed again after it.
 */
void sqlstmt_end(struct sqlstmt *st);

/*
 * The function sqlstmt_each() calls for each statement: its text (len bytes; text[len] may be
 * changed and must be put back), and why a restore never sends it (NULL when it may). A value
 * other than 0 stops the walk and is returned.
 */
typedef int (*sqlstmt_fn)(void *ctx, char *text, size_t len, const struct sqlstmt_refusal *why);

/*
 * sqlstmt_each: call fn for each statement of the len bytes at sql that is more than blanks
 * and comments, in order; each statement's text ends with its ';' (or the text's end). Returns
 * 0, fn's value when it stopped the walk, or -1 when out of memory.
 */
int sqlstmt_each(char *sql, size_t len, bool standard_strings, sqlstmt_fn fn, void *ctx);

/* sqlstmt_free: release the splitter's memory; it may be initialised again. */
void sqlstmt_free(struct sqlstmt *st);

#endif
