/*
 * json.c - reports written, and .metadata (and the worker's own JSON files) read, through
 * jansson.
 *
 * The writer builds a jansson tree as the caller writes and json_finish() dumps it compactly,
 * members in the order written (jansson keeps an object's insertion order since 2.8;
 * JSON_PRESERVE_ORDER says so for older ones). Strings are made valid UTF-8 first (each byte
 * that starts no valid UTF-8 sequence becomes U+FFFD), since a file name or a server's message
 * may hold any bytes and a report must still be JSON; jansson escapes the control characters.
 * Counters are jansson integers (json_int_t, 64 bits); seconds are reals rounded to
 * milliseconds, dumped with 15 significant digits, so 4.31 is "4.31" and not
 * "4.3099999999999996". A number's spelling ("4.31" for 4.310, "0.0" for 0) is jansson's.
 *
 * The reader refuses what a damaged or forged .metadata may hold and RFC 8259 leaves open: a
 * key twice in one object, a NUL character, invalid UTF-8, nesting deeper than
 * JSON_DEPTH_MAX (32: the worker's files nest 3 levels) and texts over JSON_TEXT_MAX (4 MiB,
 * far more than a .metadata's few hundred bytes, and checked before parsing).
 */
#include <jansson.h>

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(json_int_t) == sizeof(int64_t), "jansson's integers are 64 bits");

/* utf8_sequence: the length of the valid UTF-8 sequence at s (NUL-terminated), or 0. */
static size_t
utf8_sequence(const unsigned char *s)
{
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		lo = s[0] == 0xe0 ? 0xa0 : 0x80; /* no overlong form */
		hi = s[0] == 0xed ? 0x9f : 0xbf; /* no surrogate */
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		lo = s[0] == 0xf0 ? 0x90 : 0x80; /* no overlong form */
		hi = s[0] == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
		           ? 4
		           : 0;
	}
	return 0;
}

/* utf8_repair: a copy of s (NULL: "") with each invalid byte as U+FFFD; NULL if no memory. */
static char *
utf8_repair(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	char *out = malloc(strlen((const char *)p) * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	while (*p != '\0') {
		size_t n = utf8_sequence(p);

		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		} else {
			memcpy(o, p, n);
			o += n;
			p += n;
		}
	}
	*o = '\0';
	return out;
}

/* writer_add: value (taken over; NULL: no memory) as the next value of the current container. */
static void
writer_add(struct json_writer *w, json_t *value)
{
	json_t *parent;

	if (value == NULL)
		w->failed = true;
	if (w->failed) {
		json_decref(value);
		return;
	}
	if (w->depth == 0) {
		if (w->root != NULL) {
			w->failed = true; /* a second text */
			json_decref(value);
			return;
		}
		w->root = value;
		return;
	}
	parent = w->open[w->depth - 1];
	if (json_is_array(parent)) {
		w->failed = json_array_append_new(parent, value) < 0;
	} else if (w->key == NULL) {
		w->failed = true; /* a member with no name */
		json_decref(value);
	} else {
		w->failed = json_object_set_new(parent, w->key, value) < 0;
		free(w->key);
		w->key = NULL;
	}
}

/* writer_open: start an object or an array (container). */
static void
writer_open(struct json_writer *w, json_t *container)
{
	writer_add(w, container);
	if (w->failed)
		return;
	if (w->depth >= JSON_DEPTH_MAX) {
		w->failed = true;
		return;
	}
	w->open[w->depth++] = container; /* its parent (or root) holds the reference */
}

/* writer_close: end the innermost object or array. */
static void
writer_close(struct json_writer *w)
{
	if (w->depth == 0 || w->key != NULL)
		w->failed = true;
	else
		w->depth--;
}

void
json_begin_object(struct json_writer *w)
{
	writer_open(w, json_object());
}

void
json_end_object(struct json_writer *w)
{
	writer_close(w);
}

void
json_begin_array(struct json_writer *w)
{
	writer_open(w, json_array());
}

void
json_end_array(struct json_writer *w)
{
	writer_close(w);
}

void
json_key(struct json_writer *w, const char *key)
{
	if (w->failed)
		return;
	if (w->depth == 0 || !json_is_object(w->open[w->depth - 1]) || w->key != NULL) {
		w->failed = true;
		return;
	}
	w->key = utf8_repair(key);
	if (w->key == NULL)
		w->failed = true;
}

void
json_write_string(struct json_writer *w, const char *value)
{
	char *text;

	if (w->failed)
		return;
	text = utf8_repair(value);
	writer_add(w, text != NULL ? (json_string)(text) : NULL); /* jansson's, not the macro */
	free(text);
}

/*
 * json_uint: a counter. json_int_t stops at 2^63 - 1 (8 EiB), more than any byte count or
 * number of files; a larger value (only a size from the configuration, plan_quota say, can be
 * one) is clamped to 2^63 - 1 rather than refused, so the report is still written.
 */
void
json_uint(struct json_writer *w, uint64_t value)
{
	writer_add(w, json_integer(value <= INT64_MAX ? (json_int_t)value : INT64_MAX));
}

/*
 * json_fixed3: seconds, rounded to milliseconds, as a real; outside [0, 1e12) (or NaN) 0.
 * Below 1e12 s the milliseconds are fewer than 10^15, so the sum fits an int64_t and the
 * rounded value has at most 15 significant digits, which JSON_REAL_PRECISION(15) prints
 * exactly.
 */
void
json_fixed3(struct json_writer *w, double value)
{
	double ms = value >= 0 && value < 1e12 ? (double)(int64_t)(value * 1000 + 0.5) : 0.0;

	writer_add(w, json_real(ms / 1000));
}

void
json_bool(struct json_writer *w, bool value)
{
	writer_add(w, json_boolean(value));
}

void
json_write_null(struct json_writer *w)
{
	writer_add(w, (json_null)()); /* jansson's, not the macro of json.h */
}

char *
json_finish(struct json_writer *w)
{
	char *text = NULL;

	if (!w->failed && w->root != NULL && w->depth == 0 && w->key == NULL)
		text = json_dumps(w->root,
		                  JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	json_decref(w->root);
	free(w->key);
	memset(w, 0, sizeof(*w));
	return text;
}

/* parse_too_deep: does value hold objects or arrays nested deeper than JSON_DEPTH_MAX? */
static bool
parse_too_deep(json_t *value, int level)
{
	const char *key;
	json_t *child;
	size_t i;

	if (!json_is_object(value) && !json_is_array(value))
		return false;
	if (level > JSON_DEPTH_MAX)
		return true;
	if (json_is_object(value)) {
		json_object_foreach(value, key, child)
		{
			if (parse_too_deep(child, level + 1))
				return true;
		}
	} else {
		json_array_foreach(value, i, child)
		{
			if (parse_too_deep(child, level + 1))
				return true;
		}
	}
	return false;
}

json_t *
json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t error;
	json_t *root;
	const char *why;

	if (len > JSON_TEXT_MAX) {
		snprintf(err, errlen, "is refused: it is larger than %d MiB (%zu bytes)",
		         JSON_TEXT_MAX / (1024 * 1024), len);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
	if (root == NULL) {
		switch (json_error_code(&error)) {
		case json_error_duplicate_key:
			why = "a key appears twice in one object";
			break;
		case json_error_null_character:
			why = "a string holds a NUL character (\\u0000)";
			break;
		case json_error_invalid_utf8:
			why = "it is not valid UTF-8";
			break;
		case json_error_stack_overflow:
			why = "objects and arrays are nested deeper than 32 levels";
			break;
		default:
			snprintf(err, errlen, "is not valid JSON: %s at byte %d", error.text,
			         error.position);
			return NULL;
		}
		/* jansson's own words name its flags; only where it stopped is kept. */
		snprintf(err, errlen, "is refused: %s%s at byte %d", why,
		         strstr(error.text, " near '") != NULL ? strstr(error.text, " near '") : "",
		         error.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "is not valid JSON: expected an object at byte 1");
		json_decref(root);
		return NULL;
	}
	if (parse_too_deep(root, 1)) {
		snprintf(err, errlen,
		         "is refused: objects and arrays are nested deeper than %d levels",
		         JSON_DEPTH_MAX);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* member_text: a string's or number's text, as json_parse_members gives it, into *text. */
static bool
member_text(const json_t *value, char **text)
{
	char num[40];

	*text = NULL;
	if (json_is_string(value)) {
		*text = strdup(json_string_value(value));
		return *text != NULL;
	}
	if (json_is_integer(value)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
	} else if (json_is_real(value)) {
		/* The fewest digits that read back as the same double, and never a whole number. */
		for (int digits = 1; digits <= 17; digits++) {
			snprintf(num, sizeof(num), "%.*g", digits, json_real_value(value));
			if (strtod(num, NULL) == json_real_value(value))
				break;
		}
		if (strpbrk(num, ".e") == NULL)
			strcat(num, ".0");
	} else {
		return true; /* an object, an array, true, false or null: skipped */
	}
	*text = strdup(num);
	return *text != NULL;
}

int
json_parse_members(const char *text, size_t len, struct json_member **members, size_t *count,
                   char *err, size_t errlen)
{
	json_t *root = json_parse(text, len, err, errlen), *value;
	struct json_member *list;
	const char *name;
	bool failed = false;
	size_t n = 0;

	*members = NULL;
	*count = 0;
	if (root == NULL)
		return -1;
	list = calloc(json_object_size(root) + 1, sizeof(*list));
	if (list == NULL)
		failed = true;
	json_object_foreach(root, name, value)
	{
		char *copy;

		if (failed || !member_text(value, &copy)) {
			failed = true;
			break;
		}
		if (copy == NULL)
			continue;
		list[n].value = copy;
		list[n].name = strdup(name);
		failed = list[n++].name == NULL;
	}
	json_decref(root);
	if (failed) {
		json_members_free(list, n);
		snprintf(err, errlen, "cannot be read: out of memory");
		return -1;
	}
	*members = list;
	*count = n;
	return 0;
}

void
json_members_free(struct json_member *members, size_t count)
{
	size_t i;

	if (members == NULL)
		return;
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
