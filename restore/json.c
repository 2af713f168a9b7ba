/*
 * json.c - a JSON writer for reports and a strict reader for .metadata.
 *
 * The reader follows RFC 8259 to the letter (no comments, no trailing commas, no single
 * quotes) because a malformed .metadata is a sign of a damaged backup and must be refused.
 * It nests at most 64 levels deep; a deeper text is refused rather than risking the stack.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

/* writer_append: add n bytes to the buffer. */
static void
writer_append(struct json_writer *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap == 0 ? 1024 : w->cap;
		char *buf;

		while (w->len + n + 1 > cap)
			cap *= 2;
		buf = realloc(w->buf, cap);
		if (buf == NULL) {
			w->failed = true;
			return;
		}
		w->buf = buf;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* writer_value_start: the comma before a value that is not the first of its container. */
static void
writer_value_start(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			writer_append(w, ",", 1);
		w->first[w->depth] = false;
	}
}

/* writer_open: start an object or an array. */
static void
writer_open(struct json_writer *w, char c)
{
	writer_value_start(w);
	writer_append(w, &c, 1);
	if (w->depth + 1 >= (int)(sizeof(w->first) / sizeof(w->first[0]))) {
		w->failed = true;
		return;
	}
	w->depth++;
	w->first[w->depth] = true;
}

/* writer_close: end an object or an array. */
static void
writer_close(struct json_writer *w, char c)
{
	writer_append(w, &c, 1);
	if (w->depth > 0)
		w->depth--;
}

void
json_begin_object(struct json_writer *w)
{
	writer_open(w, '{');
}

void
json_end_object(struct json_writer *w)
{
	writer_close(w, '}');
}

void
json_begin_array(struct json_writer *w)
{
	writer_open(w, '[');
}

void
json_end_array(struct json_writer *w)
{
	writer_close(w, ']');
}

/* writer_quoted: a JSON string literal; bytes that are not valid UTF-8 pass through as is. */
static void
writer_quoted(struct json_writer *w, const char *s)
{
	const unsigned char *p;

	writer_append(w, "\"", 1);
	for (p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++) {
		char esc[8];

		switch (*p) {
		case '"':
			writer_append(w, "\\\"", 2);
			break;
		case '\\':
			writer_append(w, "\\\\", 2);
			break;
		case '\n':
			writer_append(w, "\\n", 2);
			break;
		case '\r':
			writer_append(w, "\\r", 2);
			break;
		case '\t':
			writer_append(w, "\\t", 2);
			break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				writer_append(w, esc, 6);
			} else {
				writer_append(w, (const char *)p, 1);
			}
		}
	}
	writer_append(w, "\"", 1);
}

void
json_key(struct json_writer *w, const char *key)
{
	writer_value_start(w);
	writer_quoted(w, key);
	writer_append(w, ":", 1);
	w->after_key = true;
}

void
json_string(struct json_writer *w, const char *value)
{
	writer_value_start(w);
	writer_quoted(w, value);
}

void
json_uint(struct json_writer *w, uint64_t value)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)value);

	writer_value_start(w);
	writer_append(w, num, (size_t)n);
}

void
json_fixed3(struct json_writer *w, double value)
{
	char num[48];
	int n = snprintf(num, sizeof(num), "%.3f", value >= 0 && value < 1e12 ? value : 0.0);

	writer_value_start(w);
	writer_append(w, num, (size_t)n);
}

void
json_bool(struct json_writer *w, bool value)
{
	writer_value_start(w);
	writer_append(w, value ? "true" : "false", value ? 4 : 5);
}

void
json_null(struct json_writer *w)
{
	writer_value_start(w);
	writer_append(w, "null", 4);
}

char *
json_finish(struct json_writer *w)
{
	char *text = w->buf;

	if (w->failed || text == NULL) {
		free(w->buf);
		text = NULL;
	}
	memset(w, 0, sizeof(*w));
	return text;
}

/* The reader's cursor. */
struct parser {
	const char *p, *end, *start;
	char *err;
	size_t errlen;
};

/* parser_fail: describe what is wrong and where; always returns -1. */
static int
parser_fail(struct parser *ps, const char *what)
{
	snprintf(ps->err, ps->errlen, "is not valid JSON: %s at byte %zu", what,
	         (size_t)(ps->p - ps->start) + 1);
	return -1;
}

/* parser_space: skip the four JSON whitespace characters. */
static void
parser_space(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* parser_hex4: four hex digits of a \u escape. */
static int
parser_hex4(struct parser *ps, unsigned *code)
{
	int i;

	*code = 0;
	for (i = 0; i < 4; i++, ps->p++) {
		char c;

		if (ps->p >= ps->end)
			return parser_fail(ps, "unfinished \\u escape");
		c = *ps->p;
		*code <<= 4;
		if (c >= '0' && c <= '9')
			*code |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*code |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*code |= (unsigned)(c - 'A' + 10);
		else
			return parser_fail(ps, "bad \\u escape");
	}
	return 0;
}

/* put_utf8: encode a code point; returns the number of bytes written into out. */
static size_t
put_utf8(unsigned code, char *out)
{
	if (code < 0x80) {
		out[0] = (char)code;
		return 1;
	}
	if (code < 0x800) {
		out[0] = (char)(0xc0 | (code >> 6));
		out[1] = (char)(0x80 | (code & 0x3f));
		return 2;
	}
	if (code < 0x10000) {
		out[0] = (char)(0xe0 | (code >> 12));
		out[1] = (char)(0x80 | ((code >> 6) & 0x3f));
		out[2] = (char)(0x80 | (code & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (code >> 18));
	out[1] = (char)(0x80 | ((code >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((code >> 6) & 0x3f));
	out[3] = (char)(0x80 | (code & 0x3f));
	return 4;
}

/* parser_string: a string literal; its unescaped text into *out when out is not NULL. */
static int
parser_string(struct parser *ps, char **out)
{
	char *buf = NULL;
	size_t n = 0;

	if (ps->p >= ps->end || *ps->p != '"')
		return parser_fail(ps, "expected a string");
	ps->p++;
	if (out != NULL) {
		/* The unescaped text is never longer than the rest of the input. */
		buf = malloc((size_t)(ps->end - ps->p) + 1);
		if (buf == NULL)
			return parser_fail(ps, "out of memory");
	}
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end) {
			free(buf);
			return parser_fail(ps, "unterminated string");
		}
		c = (unsigned char)*ps->p++;
		if (c == '"')
			break;
		if (c < 0x20) {
			free(buf);
			return parser_fail(ps, "control character in a string");
		}
		if (c == '\\') {
			char e;
			unsigned code;
			char enc[4];
			size_t k;

			if (ps->p >= ps->end) {
				free(buf);
				return parser_fail(ps, "unterminated string");
			}
			e = *ps->p++;
			switch (e) {
			case '"':
			case '\\':
			case '/':
				c = (unsigned char)e;
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				if (parser_hex4(ps, &code) < 0) {
					free(buf);
					return -1;
				}
				if (code >= 0xd800 && code <= 0xdbff && ps->end - ps->p >= 6 &&
				    ps->p[0] == '\\' && ps->p[1] == 'u') {
					unsigned low;

					ps->p += 2;
					if (parser_hex4(ps, &low) < 0) {
						free(buf);
						return -1;
					}
					if (low >= 0xdc00 && low <= 0xdfff)
						code = 0x10000 + ((code - 0xd800) << 10) +
						       (low - 0xdc00);
				}
				if (code == 0)
					code = '?'; /* keep values NUL-free */
				k = put_utf8(code, enc);
				if (buf != NULL) {
					memcpy(buf + n, enc, k);
					n += k;
				}
				continue;
			default:
				free(buf);
				return parser_fail(ps, "bad escape in a string");
			}
		}
		if (buf != NULL)
			buf[n++] = (char)c;
	}
	if (buf != NULL) {
		buf[n] = '\0';
		*out = buf;
	}
	return 0;
}

/* parser_number: a number literal, per the JSON grammar; its text into *out if wanted. */
static int
parser_number(struct parser *ps, char **out)
{
	const char *begin = ps->p;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return parser_fail(ps, "bad number");
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return parser_fail(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return parser_fail(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (out != NULL) {
		*out = strndup(begin, (size_t)(ps->p - begin));
		if (*out == NULL)
			return parser_fail(ps, "out of memory");
	}
	return 0;
}

/* parser_literal: true, false or null. */
static int
parser_literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return parser_fail(ps, "unexpected character");
	ps->p += n;
	return 0;
}

static int parser_value(struct parser *ps, int depth, char **scalar);

/* parser_container: the rest of an object or array, after its opening bracket. */
static int
parser_container(struct parser *ps, int depth, char close)
{
	parser_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		parser_space(ps);
		if (close == '}') {
			if (parser_string(ps, NULL) < 0)
				return -1;
			parser_space(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return parser_fail(ps, "expected ':'");
			ps->p++;
		}
		if (parser_value(ps, depth + 1, NULL) < 0)
			return -1;
		parser_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return 0;
		}
		return parser_fail(ps,
		                   close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* parser_value: any value; a string's or number's text into *scalar when wanted. */
static int
parser_value(struct parser *ps, int depth, char **scalar)
{
	if (depth > JSON_MAX_DEPTH)
		return parser_fail(ps, "nested too deeply");
	parser_space(ps);
	if (ps->p >= ps->end)
		return parser_fail(ps, "unexpected end");
	switch (*ps->p) {
	case '{':
		ps->p++;
		return parser_container(ps, depth, '}');
	case '[':
		ps->p++;
		return parser_container(ps, depth, ']');
	case '"':
		return parser_string(ps, scalar);
	case 't':
		return parser_literal(ps, "true");
	case 'f':
		return parser_literal(ps, "false");
	case 'n':
		return parser_literal(ps, "null");
	default:
		return parser_number(ps, scalar);
	}
}

int
json_parse_members(const char *text, size_t len, struct json_member **members, size_t *count,
                   char *err, size_t errlen)
{
	struct parser ps = {text, text + len, text, err, errlen};
	struct json_member *list = NULL;
	size_t n = 0;

	*members = NULL;
	*count = 0;
	parser_space(&ps);
	if (ps.p >= ps.end || *ps.p != '{') {
		parser_fail(&ps, "expected an object");
		goto fail;
	}
	ps.p++;
	parser_space(&ps);
	if (ps.p < ps.end && *ps.p == '}') {
		ps.p++;
	} else {
		for (;;) {
			char *name = NULL, *value = NULL;
			struct json_member *grown;

			parser_space(&ps);
			if (parser_string(&ps, &name) < 0)
				goto fail;
			parser_space(&ps);
			if (ps.p >= ps.end || *ps.p != ':') {
				free(name);
				parser_fail(&ps, "expected ':'");
				goto fail;
			}
			ps.p++;
			if (parser_value(&ps, 1, &value) < 0) {
				free(name);
				goto fail;
			}
			if (value == NULL) {
				free(name);
			} else {
				grown = realloc(list, (n + 1) * sizeof(*list));
				if (grown == NULL) {
					free(name);
					free(value);
					parser_fail(&ps, "out of memory");
					goto fail;
				}
				list = grown;
				list[n].name = name;
				list[n].value = value;
				n++;
			}
			parser_space(&ps);
			if (ps.p < ps.end && *ps.p == ',') {
				ps.p++;
				continue;
			}
			if (ps.p < ps.end && *ps.p == '}') {
				ps.p++;
				break;
			}
			parser_fail(&ps, "expected ',' or '}'");
			goto fail;
		}
	}
	parser_space(&ps);
	if (ps.p != ps.end) {
		parser_fail(&ps, "text after the object");
		goto fail;
	}
	*members = list;
	*count = n;
	return 0;
fail:
	json_members_free(list, n);
	return -1;
}

void
json_members_free(struct json_member *members, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		free(members[i].name);
		free(members[i].value);
	}
	free(members);
}

const char *
json_member_find(const struct json_member *members, size_t count, const char *name)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strcmp(members[i].name, name) == 0)
			return members[i].value;
	return NULL;
}
