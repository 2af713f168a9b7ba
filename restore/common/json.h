/*
 * json.h - the JSON this program reads and writes, through jansson: a writer for reports,
 * and a strict parser for a backup's .metadata (and the worker's own files) that keeps the
 * top-level members whose values are strings or numbers.
 *
 * jansson has functions called json_string and json_null; the writer's calls of the same
 * names are macros over symbols of their own, so a file that includes <jansson.h> as well
 * must include it before this header.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_TEXT_MAX                                                                              \
	(4 * 1024 * 1024) /* json_parse refuses a longer text (a report.json                       \
	                    may be as large as the spool allows; .metadata                         \
	                    has its own 1 MiB limit, archive_walk.c) */
#define JSON_DEPTH_MAX 32 /* ... and objects and arrays nested deeper than this */

struct json_t; /* jansson's value */

/*
 * A JSON text being written: a jansson tree, made text by json_finish. A zeroed struct is an
 * empty writer. A misuse (a value with no key in an object, more than JSON_DEPTH_MAX levels)
 * or no memory makes json_finish fail.
 */
struct json_writer {
	struct json_t *root;
	struct json_t *open[JSON_DEPTH_MAX]; /* the objects and arrays not ended, outermost first */
	int depth;
	char *key; /* json_key's name, waiting for its value */
	bool failed;
};

void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
/* json_key: the name of the next member of the current object. */
void json_key(struct json_writer *w, const char *key);
/* json_string: a string; bytes that are not UTF-8 are written as U+FFFD each. */
void json_write_string(struct json_writer *w, const char *value);
#define json_string(w, value) json_write_string(w, value)
/* json_uint: a counter, as a JSON integer; above 2^63 - 1 it is written as 2^63 - 1. */
void json_uint(struct json_writer *w, uint64_t value);
void json_bool(struct json_writer *w, bool value);
void json_write_null(struct json_writer *w);
#define json_null(w) json_write_null(w)
/*
 * json_fixed3: seconds as a JSON real rounded to milliseconds (4.31, 0.0); 0 when negative, not
 * a number or 1e12 or more.
 */
void json_fixed3(struct json_writer *w, double value);
/* json_finish: the compact NUL-terminated text (the caller frees it), or NULL on failure. */
char *json_finish(struct json_writer *w);

/*
 * json_parse: the value of text, when it is one JSON object that is not refused: longer than
 * JSON_TEXT_MAX, malformed, a key twice in one object, a NUL character (\u0000) in a string,
 * invalid UTF-8, or nesting deeper than JSON_DEPTH_MAX. The caller releases it with
 * json_decref(); NULL with a sentence in err (to follow the file's name) when refused.
 */
struct json_t *json_parse(const char *text, size_t len, char *err, size_t errlen);

/* One top-level member of a parsed object: its value as text, unquoted and unescaped. */
struct json_member {
	char *name;
	char *value;
};

/*
 * json_parse_members: check text as json_parse does and return its top-level members whose
 * values are strings or numbers (others are checked and skipped). A whole number's text is
 * its digits; another number's is the shortest that reads back as the same double. Returns
 * 0, or -1 with json_parse's sentence in err.
 */
int json_parse_members(const char *text, size_t len, struct json_member **members, size_t *count,
                       char *err, size_t errlen);

/* json_members_free: release what json_parse_members returned. */
void json_members_free(struct json_member *members, size_t count);

/* json_member_find: the value of the member called name, or NULL. */
const char *json_member_find(const struct json_member *members, size_t count, const char *name);

#endif
