/*
 * sqlstmt.c - statements of SQL text and the verdict on each (see sqlstmt.h).
 *
 * Splitting. A ';' at the top level ends a statement, as in PostgreSQL's grammar (stmtmulti),
 * except inside the body of a routine written in SQL-standard form, CREATE [OR REPLACE]
 * FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END, whose statements end in ';' too; pg_dump writes
 * such bodies for PostgreSQL 14 and later. The body is followed the way psql does it: after
 * BEGIN ATOMIC outside parentheses, CASE ... END nests and END closes. That is a heuristic: a
 * crafted body can make it miss where the server splits. Then the text between is one
 * "statement" here; the executor sends every statement on its own with the extended query
 * protocol, where the server refuses a string holding two ("cannot insert multiple commands
 * into a prepared statement"), so a statement this file did not see is never run.
 *
 * The verdict is taken from the statement's first words against the rules below, which follow
 * PostgreSQL's grammar (gram.y: TransactionStmt, TransactionStmtLegacy) and the statements
 * that call PreventInTransactionBlock(). Decided per statement:
 *
 *  - Refused: every TransactionStmt. COMMIT, END (with or without WORK/TRANSACTION, AND
 *    CHAIN) commit the restore's transaction halfway; ROLLBACK, ABORT end it, and what
 *    follows would commit statement by statement; BEGIN, START TRANSACTION would open a
 *    transaction of the dump's own (only a warning inside ours, but nothing a dump needs);
 *    PREPARE TRANSACTION ends ours; COMMIT PREPARED, ROLLBACK PREPARED finish another one;
 *    SAVEPOINT, RELEASE, ROLLBACK TO would break the savepoints the restore sets itself.
 *  - Refused: what cannot run inside a transaction block: VACUUM, CREATE/DROP DATABASE,
 *    CREATE/DROP TABLESPACE, ALTER SYSTEM, CREATE [UNIQUE] INDEX CONCURRENTLY, DROP INDEX
 *    CONCURRENTLY, REINDEX SYSTEM/DATABASE and REINDEX ... CONCURRENTLY, DISCARD ALL. Inside
 *    the restore's transaction the server refuses them, so the restore could only fail after
 *    all its work; with strategy swap pg_restore runs without one, where CREATE/DROP DATABASE,
 *    the tablespaces and ALTER SYSTEM would reach beyond the new database. Refusing them up
 *    front gives both strategies (and their rehearsals) the same outcome.
 *  - Sent: DO and CALL. A DO block or a procedure may only commit or roll back when it was
 *    called outside a transaction block; inside the restore's, the server refuses it ("invalid
 *    transaction termination") and the restore rolls back. Their bodies cannot be judged from
 *    here (EXECUTE builds statements at run time), and the server's rule is exact.
 *  - Sent: CHECKPOINT (it writes buffers, neither ends nor leaves the transaction), SET
 *    TRANSACTION (this late in a transaction it fails or changes nothing), and what needs
 *    more than its first words to tell (CLUSTER without a table, ALTER DATABASE ... SET
 *    TABLESPACE, CREATE SUBSCRIPTION with a slot): the server refuses those inside the
 *    restore's transaction.
 */
#include "sqlstmt.h"

#include <string.h>

#define WHY_COMMIT "would commit the restore's transaction halfway"
#define WHY_ROLLBACK                                                                               \
	"would end the restore's transaction, so that what follows would be committed statement "  \
	"by statement"
#define WHY_BEGIN     "would begin a transaction of the dump's own inside the restore's"
#define WHY_PREPARE   "would end the restore's transaction by preparing it for a two-phase commit"
#define WHY_PREPARED  "would finish another, prepared transaction"
#define WHY_SAVEPOINT "would break the savepoints the restore sets itself"
#define WHY_NO_BLOCK                                                                               \
	"cannot run inside a transaction, so the restore would fail on it (or, with strategy "     \
	"swap, run it outside any)"

/* The rules, the longer of two with the same first words first. */
static const struct sqlstmt_refusal rules[] = {
    {{"COMMIT", "PREPARED"}, "COMMIT PREPARED", WHY_PREPARED},
    {{"COMMIT"}, "COMMIT", WHY_COMMIT},
    {{"END"}, "END", WHY_COMMIT},
    {{"ROLLBACK", "PREPARED"}, "ROLLBACK PREPARED", WHY_PREPARED},
    {{"ROLLBACK", "TO"}, "ROLLBACK TO SAVEPOINT", WHY_SAVEPOINT},
    {{"ROLLBACK", "WORK", "TO"}, "ROLLBACK TO SAVEPOINT", WHY_SAVEPOINT},
    {{"ROLLBACK", "TRANSACTION", "TO"}, "ROLLBACK TO SAVEPOINT", WHY_SAVEPOINT},
    {{"ROLLBACK"}, "ROLLBACK", WHY_ROLLBACK},
    {{"ABORT"}, "ABORT", WHY_ROLLBACK},
    {{"BEGIN"}, "BEGIN", WHY_BEGIN},
    {{"START", "TRANSACTION"}, "START TRANSACTION", WHY_BEGIN},
    {{"PREPARE", "TRANSACTION"}, "PREPARE TRANSACTION", WHY_PREPARE},
    {{"SAVEPOINT"}, "SAVEPOINT", WHY_SAVEPOINT},
    {{"RELEASE"}, "RELEASE SAVEPOINT", WHY_SAVEPOINT},
    {{"VACUUM"}, "VACUUM", WHY_NO_BLOCK},
    {{"CREATE", "DATABASE"}, "CREATE DATABASE", WHY_NO_BLOCK},
    {{"DROP", "DATABASE"}, "DROP DATABASE", WHY_NO_BLOCK},
    {{"CREATE", "TABLESPACE"}, "CREATE TABLESPACE", WHY_NO_BLOCK},
    {{"DROP", "TABLESPACE"}, "DROP TABLESPACE", WHY_NO_BLOCK},
    {{"ALTER", "SYSTEM"}, "ALTER SYSTEM", WHY_NO_BLOCK},
    {{"CREATE", "INDEX", "CONCURRENTLY"}, "CREATE INDEX CONCURRENTLY", WHY_NO_BLOCK},
    {{"CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"}, "CREATE INDEX CONCURRENTLY", WHY_NO_BLOCK},
    {{"DROP", "INDEX", "CONCURRENTLY"}, "DROP INDEX CONCURRENTLY", WHY_NO_BLOCK},
    {{"REINDEX", "SYSTEM"}, "REINDEX SYSTEM", WHY_NO_BLOCK},
    {{"REINDEX", "DATABASE"}, "REINDEX DATABASE", WHY_NO_BLOCK},
    {{"REINDEX", "INDEX", "CONCURRENTLY"}, "REINDEX CONCURRENTLY", WHY_NO_BLOCK},
    {{"REINDEX", "TABLE", "CONCURRENTLY"}, "REINDEX CONCURRENTLY", WHY_NO_BLOCK},
    {{"REINDEX", "SCHEMA", "CONCURRENTLY"}, "REINDEX CONCURRENTLY", WHY_NO_BLOCK},
    {{"DISCARD", "ALL"}, "DISCARD ALL", WHY_NO_BLOCK},
};

/* statement_reset: forget the statement that ended; the scanner's state stays. */
static void
statement_reset(struct sqlstmt *st)
{
	st->nwords = 0;
	st->words_done = false;
	st->in_word = false;
	st->word_len = 0;
	st->pending = false;
	st->any_token = false;
	st->paren_depth = 0;
	st->atomic_depth = 0;
	st->after_begin = false;
}

void
sqlstmt_init(struct sqlstmt *st)
{
	memset(st, 0, sizeof(*st));
	sqlscan_init(&st->scan);
	st->last_empty = true;
}

void
sqlstmt_standard_strings(struct sqlstmt *st, bool on)
{
	sqlscan_standard_strings(&st->scan, on);
}

void
sqlstmt_free(struct sqlstmt *st)
{
	sqlscan_free(&st->scan);
}

/* is_word_start: can c begin an unquoted identifier or keyword? */
static bool
is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (unsigned char)c >= 0x80;
}

/* is_word_char: can c continue one? */
static bool
is_word_char(char c)
{
	return is_word_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* is_blank: is c white space to PostgreSQL's scanner? */
static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* word_is: is the word w (upper case) the keyword kw? */
static bool
word_is(const char *w, const char *kw)
{
	return strcmp(w, kw) == 0;
}

/* is_routine: do the statement's first words say CREATE [OR REPLACE] FUNCTION|PROCEDURE? */
static bool
is_routine(const struct sqlstmt *st)
{
	int i = 1;

	if (st->nwords < 2 || !word_is(st->words[0], "CREATE"))
		return false;
	if (word_is(st->words[1], "OR")) {
		if (st->nwords < 4 || !word_is(st->words[2], "REPLACE"))
			return false;
		i = 3;
	}
	return word_is(st->words[i], "FUNCTION") || word_is(st->words[i], "PROCEDURE");
}

/* other_token: a token that is no word (punctuation, a literal, a quoted identifier). */
static void
other_token(struct sqlstmt *st, char c)
{
	st->any_token = true;
	st->words_done = true;
	st->after_begin = false;
	if (c == '(')
		st->paren_depth++;
	else if (c == ')' && st->paren_depth > 0)
		st->paren_depth--;
}

/* word_end: the word being read is complete: record it, follow BEGIN ATOMIC bodies. */
static void
word_end(struct sqlstmt *st)
{
	const char *w;

	if (!st->in_word)
		return;
	st->in_word = false;
	if (st->word_len >= SQLSTMT_WORD_BYTES)
		st->word[0] = '\0'; /* too long to be a keyword */
	else
		st->word[st->word_len] = '\0';
	w = st->word;
	if (!st->words_done && st->nwords < SQLSTMT_WORDS)
		memcpy(st->words[st->nwords++], w, SQLSTMT_WORD_BYTES);
	if (st->paren_depth == 0 && is_routine(st)) {
		if (st->after_begin && word_is(w, "ATOMIC") && st->atomic_depth == 0)
			st->atomic_depth = 1;
		else if (st->atomic_depth > 0 && word_is(w, "CASE"))
			st->atomic_depth++;
		else if (st->atomic_depth > 0 && word_is(w, "END"))
			st->atomic_depth--;
	}
	st->after_begin = word_is(w, "BEGIN");
}

/* resolve_pending: the '-' or '/' held back did not open a comment: it was a token. */
static void
resolve_pending(struct sqlstmt *st)
{
	if (st->pending) {
		st->pending = false;
		other_token(st, '-');
	}
}

/* verdict: the statement ended: judge it by its first words, then forget it. */
static void
verdict(struct sqlstmt *st)
{
	size_t r;
	int i;

	word_end(st);
	resolve_pending(st);
	st->last_empty = !st->any_token;
	st->last_refused = NULL;
	for (r = 0; !st->last_empty && r < sizeof(rules) / sizeof(rules[0]); r++) {
		for (i = 0; rules[r].words[i] != NULL; i++)
			if (i >= st->nwords || !word_is(st->words[i], rules[r].words[i]))
				break;
		if (rules[r].words[i] == NULL) {
			st->last_refused = &rules[r];
			break;
		}
	}
	if (!st->last_empty)
		st->statements++;
	statement_reset(st);
}

/* top_level_char: c, read at the top level; true when it is a ';' that ends the statement. */
static bool
top_level_char(struct sqlstmt *st, char c)
{
	if (is_word_char(c) && (st->in_word || is_word_start(c))) {
		resolve_pending(st);
		if (!st->in_word) {
			st->in_word = true;
			st->word_len = 0;
			st->any_token = true;
		}
		if (st->word_len < SQLSTMT_WORD_BYTES - 1)
			st->word[st->word_len++] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
		else
			st->word_len = SQLSTMT_WORD_BYTES;
		return false;
	}
	word_end(st);
	resolve_pending(st);
	if (is_blank(c))
		return false;
	if (c == '-' || c == '/') {
		st->pending = true; /* "--" and "/" "*" open comments, which are blanks */
		return false;
	}
	if (c == ';' && st->atomic_depth == 0)
		return true;
	other_token(st, c);
	return false;
}

/* step: follow one character; 1 when it ended a statement, -1 when out of memory. */
static int
step(struct sqlstmt *st, char c)
{
	enum sqlscan_state before = st->scan.state, after;
	bool at_top;

	if (sqlscan_feed(&st->scan, &c, 1) < 0)
		return -1;
	after = st->scan.state;
	/* Was c read at the top level (also where it ended an E'...' or a "$tag" that was none)? */
	at_top = before == SQLSCAN_TOP ||
	         (before == SQLSCAN_ESCAPE_QUOTE && after != SQLSCAN_ESCAPE_STRING) ||
	         (before == SQLSCAN_DOLLAR_TAG && after != SQLSCAN_DOLLAR_TAG &&
	          after != SQLSCAN_DOLLAR);
	if (!at_top)
		return 0;
	switch (after) {
	case SQLSCAN_TOP:
		if (top_level_char(st, c)) {
			verdict(st);
			return 1;
		}
		return 0;
	case SQLSCAN_LINE_COMMENT:
	case SQLSCAN_BLOCK_COMMENT:
		word_end(st);
		st->pending = false; /* it was the comment's first character */
		return 0;
	default:
		/* c opened a literal, a quoted identifier or a dollar quote: a token. */
		word_end(st);
		resolve_pending(st);
		other_token(st, c);
		return 0;
	}
}

int
sqlstmt_feed(struct sqlstmt *st, const char *text, size_t n, size_t *used)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int rc = step(st, text[i]);

		if (rc != 0) {
			*used = i + 1;
			return rc;
		}
	}
	*used = n;
	return 0;
}

void
sqlstmt_end(struct sqlstmt *st)
{
	verdict(st);
}

int
sqlstmt_each(char *sql, size_t len, bool standard_strings, sqlstmt_fn fn, void *ctx)
{
	struct sqlstmt st;
	size_t pos = 0;
	int rc = 0;

	sqlstmt_init(&st);
	sqlstmt_standard_strings(&st, standard_strings);
	while (rc == 0 && pos < len) {
		size_t used;
		int ended = sqlstmt_feed(&st, sql + pos, len - pos, &used);

		if (ended < 0) {
			rc = -1;
			break;
		}
		if (ended == 0)
			sqlstmt_end(&st); /* the rest is the last statement */
		if (!st.last_empty)
			rc = fn(ctx, sql + pos, used, st.last_refused);
		pos += used;
	}
	sqlstmt_free(&st);
	return rc;
}
