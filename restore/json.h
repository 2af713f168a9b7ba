/*
 * json.h - the little JSON this program needs: a writer for reports, and a strict parser for
 * a backup's .metadata that keeps the top-level members whose values are strings or numbers.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A JSON text being written into a growing buffer. Out of memory makes json_finish fail. */
struct json_writer {
	char *buf;
	size_t len, cap;
	bool failed;
	int depth;
	bool first[32]; /* per nesting level: no member written yet */
	bool after_key;
};

void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
/* json_key: the name of the next member of the current object. */
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *value);
void json_uint(struct json_writer *w, uint64_t value);
void json_bool(struct json_writer *w, bool value);
void json_null(struct json_writer *w);
/* json_fixed3: a non-negative number with three decimals (seconds, say); 0 when out of range. */
void json_fixed3(struct json_writer *w, double value);
/* json_finish: the NUL-terminated text (the caller frees it), or NULL if memory ran out. */
char *json_finish(struct json_writer *w);

/* One top-level member of a parsed object: its value as text, unquoted and unescaped. */
struct json_member {
	char *name;
	char *value;
};

/*
 * json_parse_members: check that text is one well-formed JSON object and return its members
 * whose values are strings or numbers (others are checked and skipped). Returns 0, or -1
 * with a sentence in err saying where the text is malformed.
 */
int json_parse_members(const char *text, size_t len, struct json_member **members, size_t *count,
                       char *err, size_t errlen);

/* json_members_free: release what json_parse_members returned. */
void json_members_free(struct json_member *members, size_t count);

/* json_member_find: the value of the member called name, or NULL. */
const char *json_member_find(const struct json_member *members, size_t count, const char *name);

#endif
