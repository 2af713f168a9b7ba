/*
 * conninfo.c - a libpq connection string shown without its passwords (see conninfo.h).
 *
 * conninfo_redact() rebuilds a key=value string from libpq's parse of it, so what is masked is
 * exactly what libpq would use as a password. A postgresql:// URI is masked in its own text,
 * erring on the side of hiding: the userinfo password is taken to run from the first ':' to
 * the last '@', so an unescaped '@', '/' or '?' in it does not leak its tail (a URI with an '@'
 * in its query string then shows less than it could), and password and sslpassword query
 * parameters are masked wherever they appear. What libpq cannot parse is not shown at all.
 *
 * Messages are another matter: libpq quotes the host, port and database it read ("invalid
 * integer value "Secr3t" for connection option "port"", "could not translate host name
 * "Tail@localhost""), and the server quotes the database and user. Where libpq read the
 * string as it looks, none of those can hold the password, and only the password itself is
 * masked in a message (in case some message ever quotes it). Where it did not (a URI whose
 * password holds an unescaped '@' or '/': libpq splits it into user, host, port and database),
 * every word of the generous userinfo password above is masked as well, raw and
 * percent-decoded, wherever it stands as a whole word. A word is a run of ASCII letters and
 * digits and non-ASCII bytes: libpq splits a URI only at punctuation, so any piece of the
 * password it quotes is made of whole words.
 *
 * Limits: in that ambiguous case a short word of the password (one letter) is masked in the
 * rest of the message too, which can make it hard to read; the message is about a connection
 * string that does not say what it means, and the fix (percent-encode the password) is given.
 */
#include "conninfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

extern char **environ;

#define CONNINFO_MASK "***"

struct redact_buffer {
	char *buf;
	size_t size;
	size_t len;
};

/* redact_put: append n bytes of text to out, dropping whatever does not fit. */
static void
redact_put(struct redact_buffer *out, const char *text, size_t n)
{
	size_t room;

	if (out->size == 0)
		return;
	room = out->size - 1 - out->len;
	if (n > room)
		n = room;
	memcpy(out->buf + out->len, text, n);
	out->len += n;
	out->buf[out->len] = '\0';
}

/* redact_puts: append a string to out. */
static void
redact_puts(struct redact_buffer *out, const char *text)
{
	redact_put(out, text, strlen(text));
}

/* hex_value: the value of a hexadecimal digit, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* percent_decode: a new string of n bytes of s with %XX sequences decoded; NULL if no memory. */
static char *
percent_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t i, len = 0;
	int high, low;

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && (high = hex_value(s[i + 1])) >= 0 &&
		    (low = hex_value(s[i + 2])) >= 0) {
			out[len++] = (char)(high * 16 + low);
			i += 2;
		} else {
			out[len++] = s[i];
		}
	}
	out[len] = '\0';
	return out;
}

/* is_password_key: whether the n-byte keyword, percent-encoded or not, names a password. */
static bool
is_password_key(const char *key, size_t n)
{
	char *decoded = percent_decode(key, n);
	bool secret;

	if (decoded == NULL)
		return true; /* err on the side of hiding */
	secret = strcasecmp(decoded, "password") == 0 || strcasecmp(decoded, "sslpassword") == 0;
	free(decoded);
	return secret;
}

/* uri_prefix: the length of "postgresql://" or "postgres://" at the start, or 0 (libpq's test). */
static size_t
uri_prefix(const char *conninfo)
{
	if (strncmp(conninfo, "postgresql://", 13) == 0)
		return 13;
	if (strncmp(conninfo, "postgres://", 11) == 0)
		return 11;
	return 0;
}

/*
 * uri_password_span: where the userinfo password of a URI lies, read generously (from the
 * first ':' to the last '@'); false when it has none.
 */
static bool
uri_password_span(const char *uri, size_t prefix, size_t *start, size_t *len)
{
	const char *at = strrchr(uri + prefix, '@');
	const char *colon = strchr(uri + prefix, ':');

	if (at == NULL || colon == NULL || colon > at)
		return false;
	*start = (size_t)(colon + 1 - uri);
	*len = (size_t)(at - colon - 1);
	return true;
}

/* redact_value: append a key=value value, quoted as libpq reads it back when it must be. */
static void
redact_value(struct redact_buffer *out, const char *value)
{
	const char *p;

	if (*value != '\0' && strpbrk(value, " \t\n\r\f\v'\\") == NULL) {
		redact_puts(out, value);
		return;
	}
	redact_puts(out, "'");
	for (p = value; *p != '\0'; p++) {
		if (*p == '\'' || *p == '\\')
			redact_puts(out, "\\");
		redact_put(out, p, 1);
	}
	redact_puts(out, "'");
}

/* redact_keyvalue: append a key=value connection string rebuilt with its passwords masked. */
static void
redact_keyvalue(struct redact_buffer *out, const PQconninfoOption *options)
{
	const PQconninfoOption *option;
	bool first = true;

	for (option = options; option->keyword != NULL; option++) {
		if (option->val == NULL)
			continue;
		if (!first)
			redact_puts(out, " ");
		first = false;
		redact_puts(out, option->keyword);
		redact_puts(out, "=");
		if (is_password_key(option->keyword, strlen(option->keyword)))
			redact_puts(out, CONNINFO_MASK);
		else
			redact_value(out, option->val);
	}
}

/*
 * redact_uri: append a postgresql:// URI with its userinfo password and its password
 * parameters masked; prefix is the length of its scheme and "://".
 */
static void
redact_uri(struct redact_buffer *out, const char *uri, size_t prefix)
{
	size_t i, j, start, n, len = strlen(uri);
	unsigned char *masked;

	if ((masked = calloc(len + 1, 1)) == NULL) {
		redact_puts(out, "(connection string not shown: out of memory)");
		return;
	}
	if (uri_password_span(uri, prefix, &start, &n))
		memset(masked + start, 1, n);
	/* Every "?key=value" or "&key=value" whose key is a password, wherever it appears. */
	for (i = prefix; i < len; i++) {
		if (uri[i] != '?' && uri[i] != '&')
			continue;
		j = i + 1 + strcspn(uri + i + 1, "=&?");
		if (uri[j] != '=' || !is_password_key(uri + i + 1, j - i - 1))
			continue;
		for (j++; j < len && uri[j] != '&'; j++)
			masked[j] = 1;
	}
	for (i = 0; i < len; i++) {
		if (!masked[i])
			redact_put(out, uri + i, 1);
		else if (i == 0 || !masked[i - 1])
			redact_puts(out, CONNINFO_MASK);
	}
	free(masked);
}

void
conninfo_redact(const char *conninfo, char *buf, size_t buflen)
{
	struct redact_buffer out = {buf, buflen, 0};
	PQconninfoOption *options = NULL;
	char *errmsg = NULL;
	size_t prefix;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	if (conninfo == NULL)
		return;
	prefix = uri_prefix(conninfo);
	if ((options = PQconninfoParse(conninfo, &errmsg)) == NULL)
		redact_puts(&out, "(invalid connection string, not shown)");
	else if (prefix > 0)
		redact_uri(&out, conninfo, prefix);
	else
		redact_keyvalue(&out, options);
	PQconninfoFree(options);
	PQfreemem(errmsg);
}

bool
conninfo_is_string(const char *conninfo)
{
	return uri_prefix(conninfo) > 0 || strchr(conninfo, '=') != NULL;
}

/* is_word_byte: a letter, a digit or a byte of a non-ASCII character. */
static bool
is_word_byte(char c)
{
	unsigned char u = (unsigned char)c;

	return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
	       u >= 0x80;
}

/* secrets_add: remember the n bytes at text as a secret (empty ones are no secret). */
static void
secrets_add(struct conninfo_secrets *secrets, const char *text, size_t n)
{
	char **grown, *copy;

	if (n == 0)
		return;
	grown = realloc(secrets->texts, (secrets->count + 1) * sizeof(*grown));
	copy = strndup(text, n);
	if (grown == NULL || copy == NULL) {
		free(copy);
		if (grown != NULL)
			secrets->texts = grown;
		secrets->hide_all = true;
		return;
	}
	secrets->texts = grown;
	secrets->texts[secrets->count++] = copy;
}

/* secrets_add_words: remember every word of text as a secret. */
static void
secrets_add_words(struct conninfo_secrets *secrets, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t n = 0;

		while (p[n] != '\0' && is_word_byte(p[n]))
			n++;
		secrets_add(secrets, p, n);
		p += n;
		while (*p != '\0' && !is_word_byte(*p))
			p++;
	}
}

/* longer_first: qsort order of secrets, longest first, so a longer one is masked whole. */
static int
longer_first(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

/*
 * secrets_add_uri_userinfo: for a URI whose generous userinfo password is not what libpq
 * read as the password, mark it ambiguous and remember every word of that text.
 */
static void
secrets_add_uri_userinfo(struct conninfo_secrets *secrets, const char *uri, const char *password)
{
	size_t start, n;
	char *raw, *decoded;

	if (!uri_password_span(uri, uri_prefix(uri), &start, &n) || n == 0)
		return;
	raw = strndup(uri + start, n);
	decoded = percent_decode(uri + start, n);
	if (raw == NULL || decoded == NULL) {
		secrets->hide_all = true;
	} else if (password == NULL || strcmp(decoded, password) != 0) {
		secrets->ambiguous = true;
		secrets_add_words(secrets, raw);
		secrets_add_words(secrets, decoded);
	}
	free(raw);
	free(decoded);
}

int
conninfo_secrets_init(struct conninfo_secrets *secrets, const char *conninfo)
{
	PQconninfoOption *options, *option;
	const char *password = NULL;
	char *errmsg = NULL;

	memset(secrets, 0, sizeof(*secrets));
	if (!conninfo_is_string(conninfo))
		return 0;
	options = PQconninfoParse(conninfo, &errmsg);
	PQfreemem(errmsg); /* it can quote the string */
	if (options == NULL)
		return -1;
	for (option = options; option->keyword != NULL; option++) {
		if (option->val == NULL ||
		    !is_password_key(option->keyword, strlen(option->keyword)))
			continue;
		secrets_add(secrets, option->val, strlen(option->val));
		if (strcmp(option->keyword, "password") == 0)
			password = option->val;
	}
	if (uri_prefix(conninfo) > 0)
		secrets_add_uri_userinfo(secrets, conninfo, password);
	PQconninfoFree(options);
	if (secrets->count > 1)
		qsort(secrets->texts, secrets->count, sizeof(*secrets->texts), longer_first);
	return 0;
}

void
conninfo_secrets_free(struct conninfo_secrets *secrets)
{
	for (size_t i = 0; i < secrets->count; i++)
		free(secrets->texts[i]);
	free(secrets->texts);
	memset(secrets, 0, sizeof(*secrets));
}

/* secret_at: the length of the secret standing as a whole word at text + i, or 0. */
static size_t
secret_at(const struct conninfo_secrets *secrets, const char *text, size_t i)
{
	for (size_t k = 0; k < secrets->count; k++) {
		const char *s = secrets->texts[k];
		size_t n = strlen(s);

		if (strncmp(text + i, s, n) != 0)
			continue;
		/* A secret that begins or ends with a word byte must not be part of a longer word.
		 */
		if (is_word_byte(s[0]) && i > 0 && is_word_byte(text[i - 1]))
			continue;
		if (is_word_byte(s[n - 1]) && is_word_byte(text[i + n]))
			continue;
		return n;
	}
	return 0;
}

void
conninfo_scrub(const struct conninfo_secrets *secrets, char *text, size_t size)
{
	struct redact_buffer out;
	char *copy;
	size_t i, n;

	if (size == 0)
		return;
	if (secrets->hide_all) {
		snprintf(text, size, "(message not shown: out of memory)");
		return;
	}
	if (secrets->count == 0)
		return;
	if ((copy = strdup(text)) == NULL) {
		snprintf(text, size, "(message not shown: out of memory)");
		return;
	}
	out = (struct redact_buffer){text, size, 0};
	text[0] = '\0';
	for (i = 0; copy[i] != '\0';) {
		if ((n = secret_at(secrets, copy, i)) > 0) {
			redact_puts(&out, CONNINFO_MASK);
			i += n;
		} else {
			redact_put(&out, copy + i, 1);
			i++;
		}
	}
	free(copy);
}

char **
conninfo_environment(const PQconninfoOption *options, const char *application_name)
{
	size_t n = 0, cap = 3;
	char **env;

	for (char **e = environ; *e != NULL; e++)
		cap++;
	for (const PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
		cap++;
	env = calloc(cap, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (const PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++) {
		if (o->val == NULL || o->envvar == NULL || strcmp(o->keyword, "dbname") == 0 ||
		    strcmp(o->envvar, "PGAPPNAME") == 0)
			continue;
		if (asprintf(&env[n], "%s=%s", o->envvar, o->val) < 0)
			goto fail;
		n++;
	}
	if (asprintf(&env[n], "PGAPPNAME=%s", application_name) < 0)
		goto fail;
	n++;
	if ((env[n] = strdup("LC_MESSAGES=C")) == NULL) /* its lines are read: in English */
		goto fail;
	n++;
	/*
	 * The parent's own variables come after, and only those the parameters do not set; none
	 * that would choose another language for its messages.
	 */
	for (char **e = environ; *e != NULL; e++) {
		size_t klen = strcspn(*e, "=");
		bool replaced = strncmp(*e, "LC_ALL=", 7) == 0 || strncmp(*e, "LANGUAGE=", 9) == 0;

		for (size_t i = 0; i < n && !replaced; i++)
			replaced = strncmp(env[i], *e, klen + 1) == 0;
		if (replaced)
			continue;
		if ((env[n] = strdup(*e)) == NULL)
			goto fail;
		n++;
	}
	return env;
fail:
	env[n] = NULL;
	conninfo_environment_free(env);
	return NULL;
}

void
conninfo_environment_free(char **env)
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

char *
conninfo_dbname_option(const char *name)
{
	static const char prefix[] = "--dbname=dbname='";
	size_t len = sizeof(prefix) - 1;
	char *out;

	for (const char *c = name; *c != '\0'; c++)
		len += *c == '\'' || *c == '\\' ? 2 : 1;
	out = malloc(len + 2);
	if (out == NULL)
		return NULL;
	memcpy(out, prefix, sizeof(prefix) - 1);
	len = sizeof(prefix) - 1;
	for (const char *c = name; *c != '\0'; c++) {
		if (*c == '\'' || *c == '\\')
			out[len++] = '\\';
		out[len++] = *c;
	}
	out[len++] = '\'';
	out[len] = '\0';
	return out;
}
