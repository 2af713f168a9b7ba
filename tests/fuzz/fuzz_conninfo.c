/*
 * fuzz_conninfo.c - the redaction of connection strings and of the messages that quote them.
 *
 * The input is a connection string, a NUL byte, and a message (as libpq or the server might
 * word it); without a NUL the whole input is the connection string and also the message. The
 * passwords are what libpq itself reads as password and sslpassword. Checked:
 *
 *  - conninfo_scrub() leaves none of them standing as a whole word in the message (the
 *    promise of conninfo.h: a password inside a longer word is another word), unless it holds
 *    a '*', which the mask "***" itself may spell;
 *  - conninfo_redact() and config_conninfo_redact() show none of them at all, when the
 *    password can be told apart: made of word bytes (letters, digits, non-ASCII), with a
 *    capital, a digit or a non-ASCII byte (no keyword has one), not inside any other value
 *    libpq read (a host or a database may hold the same text and is shown), and written
 *    once at most (a URI's text is shown as written, and a parameter given twice, of which
 *    libpq keeps the last, may hold the same text);
 *  - a string libpq cannot parse is not shown;
 *  - small buffers are cut, never overrun (the buffers here are exactly their size for ASan;
 *    the message is checked in a buffer where nothing is cut, since a cut can leave the
 *    first letters of another word standing alone).
 */
#include <ctype.h>
#include <string.h>

#include <libpq-fe.h>

#include "config.h"
#include "conninfo.h"
#include "fuzz.h"

/* word_byte: as conninfo.c: a letter, a digit or a byte of a non-ASCII character. */
static bool
word_byte(char c)
{
	unsigned char u = (unsigned char)c;

	return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
	       u >= 0x80;
}

/* whole_word_at: where secret stands in text as a whole word (conninfo.c's rule), or NULL. */
static const char *
whole_word_at(const char *text, const char *secret)
{
	size_t n = strlen(secret);
	const char *p = text;

	while ((p = strstr(p, secret)) != NULL) {
		bool left = !word_byte(secret[0]) || p == text || !word_byte(p[-1]);
		bool right = !word_byte(secret[n - 1]) || !word_byte(p[n]);

		if (left && right)
			return p;
		p++;
	}
	return NULL;
}

/* occurrences: how often needle stands in text, as written or percent-decoded (the more). */
static size_t
occurrences(const char *text, const char *needle)
{
	char *decoded = strdup(text), *q = decoded;
	size_t count = 0, raw = 0;

	if (decoded == NULL)
		fuzz_fail("out of memory");
	for (const char *p = text; *p != '\0'; p++) {
		if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			char hex[3] = {p[1], p[2], '\0'};

			*q++ = (char)strtol(hex, NULL, 16);
			p += 2;
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	for (q = decoded; (q = strstr(q, needle)) != NULL; q++)
		count++;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		raw++;
	free(decoded);
	return count > raw ? count : raw;
}

/* distinct: a password that, if it shows in a redacted string, can only be the password. */
static bool
distinct(const char *password, const char *conninfo, const PQconninfoOption *options)
{
	bool marked = false;

	for (const char *p = password; *p != '\0'; p++) {
		if (!word_byte(*p))
			return false;
		if ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    (unsigned char)*p >= 0x80)
			marked = true;
	}
	if (!marked || occurrences(conninfo, password) > 1)
		return false;
	for (const PQconninfoOption *o = options; o->keyword != NULL; o++)
		if (o->val != NULL && strcmp(o->keyword, "password") != 0 &&
		    strcmp(o->keyword, "sslpassword") != 0 && strstr(o->val, password) != NULL)
			return false;
	return true;
}

/* is_password: does libpq's option hold a password? */
static bool
is_password(const PQconninfoOption *o)
{
	return o->val != NULL && o->val[0] != '\0' &&
	       (strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0);
}

/* check_redacted: the redacted string of conninfo, in a buffer of each size given. */
static void
check_redacted(const char *conninfo, const PQconninfoOption *options, size_t size)
{
	char *shown = malloc(size), *again = malloc(size);

	if (shown == NULL || again == NULL)
		fuzz_fail("out of memory");
	conninfo_redact(conninfo, shown, size);
	config_conninfo_redact(conninfo, again, size);
	if (memchr(shown, '\0', size) == NULL || strcmp(shown, again) != 0)
		fuzz_fail("conninfo_redact and config_conninfo_redact differ");
	if (options == NULL && strcmp(shown, "(invalid connection string, not shown)") != 0 &&
	    strncmp(shown, "(invalid connection string, not shown)", size - 1) != 0)
		fuzz_fail("an unparsable connection string is shown: '%s'", shown);
	for (const PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
		if (is_password(o) && distinct(o->val, conninfo, options) &&
		    strstr(shown, o->val) != NULL)
			fuzz_fail("the redacted string '%s' shows the %s '%s'", shown, o->keyword,
			          o->val);
	free(shown);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t conninfo_len = nul != NULL ? (size_t)(nul - data) : size;
	size_t message_len = nul != NULL ? size - conninfo_len - 1 : size;
	char *conninfo = strndup((const char *)data, conninfo_len);
	/* Room for every byte masked as "***", so that no cut can end a word early. */
	size_t message_size = 3 * message_len + 1;
	char *message = malloc(message_size), *cut = malloc(message_len + 1), *errmsg = NULL;
	struct conninfo_secrets secrets;
	PQconninfoOption *options;

	if (conninfo == NULL || message == NULL || cut == NULL)
		fuzz_fail("out of memory");
	memcpy(message, nul != NULL ? nul + 1 : data, message_len);
	message[message_len] = '\0';
	memcpy(cut, message, message_len + 1);

	options = PQconninfoParse(conninfo, &errmsg);
	PQfreemem(errmsg);
	check_redacted(conninfo, options, 1024 + conninfo_len * 4);
	check_redacted(conninfo, options, 1 + size % 23);

	if (conninfo_secrets_init(&secrets, conninfo) < 0) {
		if (options != NULL)
			fuzz_fail("conninfo_secrets_init refused what libpq parses");
	} else {
		/* The message may hold a NUL of its own: scrub it as C sees it, up to there. */
		conninfo_scrub(&secrets, message, message_size);
		conninfo_scrub(&secrets, cut, message_len + 1);
		if (memchr(cut, '\0', message_len + 1) == NULL)
			fuzz_fail("conninfo_scrub left no NUL in the buffer");
		/* A password with a '*' may be spelt by the mask "***" and what is beside it. */
		for (const PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
			if (is_password(o) && conninfo_is_string(conninfo) &&
			    strchr(o->val, '*') == NULL && !secrets.hide_all &&
			    whole_word_at(message, o->val) != NULL)
				fuzz_fail("the scrubbed message '%s' shows the %s '%s'", message,
				          o->keyword, o->val);
		conninfo_secrets_free(&secrets);
	}
	PQconninfoFree(options);
	free(conninfo);
	free(message);
	free(cut);
	return 0;
}
