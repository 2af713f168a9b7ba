/*
 * config_read.c - read and check one value of the configuration file (see config_read.h);
 * config.c walks the file's structure and calls these for every key it knows.
 *
 * Every scalar is taken as the text written, whatever YAML would resolve it to: "work_dir: 123" is
 * the (relative, so refused) path "123", and "max_dump_version: 1.10" is the version 1.10, not the
 * float 1.1. A database connection string is checked with libpq's own parser, but libpq's message
 * is not repeated: it can quote pieces of the string, and the string can hold a password.
 * A value quoted in a message is cut short and its control characters shown as '?', so that the
 * message stays on one line whatever the file holds.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <yaml.h>

#include "store_folder.h"
#include "config_read.h"
#include "size.h"

#define CONFIG_VERSION_MAX 255 /* pg_dump stores each part of its version in one byte */

/* config_error: write "path:line: message" into the reader's buffer; a NULL node omits the line. */
void
config_error(struct config_reader *reader, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (reader->err == NULL || reader->errlen == 0)
		return;
	if (node != NULL)
		n = snprintf(reader->err, reader->errlen, "%s:%lu: ", reader->path,
		             (unsigned long)node->start_mark.line + 1);
	else
		n = snprintf(reader->err, reader->errlen, "%s: ", reader->path);
	if (n < 0 || (size_t)n >= reader->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(reader->err + n, reader->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* config_yaml_error: report why libyaml could not load the file. */
void
config_yaml_error(struct config_reader *reader, const yaml_parser_t *parser)
{
	const char *problem = parser->problem != NULL ? parser->problem : "unknown error";

	if (reader->err == NULL || reader->errlen == 0)
		return;
	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		snprintf(reader->err, reader->errlen, "%s: out of memory reading YAML",
		         reader->path);
		break;
	case YAML_READER_ERROR:
		snprintf(reader->err, reader->errlen, "%s: malformed YAML: %s at byte %lu",
		         reader->path, problem, (unsigned long)parser->problem_offset);
		break;
	default:
		if (parser->context != NULL)
			snprintf(reader->err, reader->errlen,
			         "%s:%lu: malformed YAML: %s (%s at line %lu)", reader->path,
			         (unsigned long)parser->problem_mark.line + 1, problem,
			         parser->context, (unsigned long)parser->context_mark.line + 1);
		else
			snprintf(reader->err, reader->errlen, "%s:%lu: malformed YAML: %s",
			         reader->path, (unsigned long)parser->problem_mark.line + 1,
			         problem);
		break;
	}
}

/* config_shown: a scalar's text made safe to quote in a one-line message, in buf. */
const char *
config_shown(const yaml_node_t *node, char *buf, size_t buflen)
{
	const unsigned char *text = node->data.scalar.value;
	size_t i, len = node->data.scalar.length, n = 0;

	for (i = 0; i < len && i < CONFIG_SHOWN_MAX && n + 1 < buflen; i++)
		buf[n++] = (text[i] < 0x20 || text[i] == 0x7f) ? '?' : (char)text[i];
	buf[n] = '\0';
	if (i < len && n + 4 <= buflen)
		memcpy(buf + n, "...", 4);
	return buf;
}

/* config_kind: how a node is described in "expected ..., found ..." messages. */
const char *
config_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		return node->data.scalar.length == 0 ? "an empty value" : "a string";
	default:
		return "nothing";
	}
}

/* config_scalar_is: whether node is the scalar text. */
int
config_scalar_is(const yaml_node_t *node, const char *text)
{
	size_t len = strlen(text);

	return node->type == YAML_SCALAR_NODE && node->data.scalar.length == len &&
	       memcmp(node->data.scalar.value, text, len) == 0;
}

/* config_scalar_same: whether two scalar nodes hold the same text. */
static int
config_scalar_same(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->data.scalar.length == b->data.scalar.length &&
	       memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
}

/* config_node: the node with the given index in the document being read. */
yaml_node_t *
config_node(struct config_reader *reader, int index)
{
	return yaml_document_get_node(reader->document, index);
}

/* config_check_keys: refuse a mapping whose keys are not strings, or name a key twice. */
int
config_check_keys(struct config_reader *reader, const char *prefix, const yaml_node_t *mapping)
{
	yaml_node_pair_t *pair, *earlier;
	yaml_node_t *key, *other;
	char shown[CONFIG_SHOWN_MAX + 4];

	for (pair = mapping->data.mapping.pairs.start; pair < mapping->data.mapping.pairs.top;
	     pair++) {
		key = config_node(reader, pair->key);
		if (key->type != YAML_SCALAR_NODE) {
			config_error(reader, key, "%skeys must be plain names, found %s", prefix,
			             config_kind(key));
			return -1;
		}
		for (earlier = mapping->data.mapping.pairs.start; earlier < pair; earlier++) {
			other = config_node(reader, earlier->key);
			if (config_scalar_same(key, other)) {
				config_error(reader, key,
				             "%sduplicate key '%s' (first at line %lu; keep one)",
				             prefix, config_shown(key, shown, sizeof(shown)),
				             (unsigned long)other->start_mark.line + 1);
				return -1;
			}
		}
	}
	return 0;
}

/* config_read_string: copy the string at keypath into *out, checked as flags say. */
int
config_read_string(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                   int flags, char **out)
{
	char shown[CONFIG_SHOWN_MAX + 4];
	const char *text;
	size_t len;

	if (value->type != YAML_SCALAR_NODE) {
		config_error(reader, value, "%s: expected a string, found %s", keypath,
		             config_kind(value));
		return -1;
	}
	text = (const char *)value->data.scalar.value;
	len = value->data.scalar.length;
	if (memchr(text, '\0', len) != NULL) {
		config_error(reader, value, "%s: contains a NUL character (remove it)", keypath);
		return -1;
	}
	if ((flags & CONFIG_NONEMPTY) != 0 && len == 0) {
		config_error(reader, value,
		             "%s: must not be empty (give a value or remove the key)", keypath);
		return -1;
	}
	if ((flags & CONFIG_ABSOLUTE) != 0 && text[0] != '/') {
		config_error(reader, value, "%s: '%s' is not an absolute path (start it with /)",
		             keypath, config_shown(value, shown, sizeof(shown)));
		return -1;
	}
	if ((*out = strndup(text, len)) == NULL) {
		config_error(reader, value, "%s: out of memory", keypath);
		return -1;
	}
	return 0;
}

int
config_read_paths(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                  char ***out)
{
	char item[CONFIG_SHOWN_MAX + 32];
	size_t n = 0, i = 0;
	yaml_node_item_t *it;

	if (value->type != YAML_SEQUENCE_NODE) {
		config_error(reader, value, "%s: expected a list of folders ([/a, /b]), found %s",
		             keypath, config_kind(value));
		return -1;
	}
	for (it = value->data.sequence.items.start; it < value->data.sequence.items.top; it++)
		n++;
	if ((*out = calloc(n + 1, sizeof(**out))) == NULL) {
		config_error(reader, value, "%s: out of memory", keypath);
		return -1;
	}
	for (it = value->data.sequence.items.start; it < value->data.sequence.items.top; it++) {
		snprintf(item, sizeof(item), "%s[%zu]", keypath, i);
		if (config_read_string(reader, item, config_node(reader, *it),
		                       CONFIG_NONEMPTY | CONFIG_ABSOLUTE, &(*out)[i]) < 0)
			return -1; /* the caller frees what was read */
		i++;
	}
	return 0;
}

/* config_read_argv: a command as a sequence of strings, the first an absolute path. */
int
config_read_argv(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                 char ***out)
{
	char item[256]; /* "targets.<name of up to 64>.before_restore[N]" */
	size_t n;

	if (value->type != YAML_SEQUENCE_NODE ||
	    value->data.sequence.items.start == value->data.sequence.items.top) {
		config_error(
		    reader, value,
		    "%s: expected a command as a list of its program's absolute path and "
		    "its arguments (e.g. [/usr/bin/systemctl, stop, app]; never run through "
		    "a shell), found %s",
		    keypath,
		    value->type == YAML_SEQUENCE_NODE ? "an empty list" : config_kind(value));
		return -1;
	}
	n = (size_t)(value->data.sequence.items.top - value->data.sequence.items.start);
	if ((*out = calloc(n + 1, sizeof(**out))) == NULL) {
		config_error(reader, value, "%s: out of memory", keypath);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(item, sizeof(item), "%s[%zu]", keypath, i);
		if (config_read_string(
		        reader, item, config_node(reader, value->data.sequence.items.start[i]),
		        i == 0 ? CONFIG_NONEMPTY | CONFIG_ABSOLUTE : 0, &(*out)[i]) < 0)
			return -1; /* the caller frees what was read */
	}
	return 0;
}

/* config_read_count: a whole number from min to max at keypath into *out. */
int
config_read_count(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                  long min, long max, int *out)
{
	char shown[CONFIG_SHOWN_MAX + 4], *end;
	const char *text;
	long number;

	if (value->type != YAML_SCALAR_NODE) {
		config_error(reader, value, "%s: expected a whole number, found %s", keypath,
		             config_kind(value));
		return -1;
	}
	text = (const char *)value->data.scalar.value;
	errno = 0;
	number = strtol(text, &end, 10);
	if (value->data.scalar.length == 0 || errno != 0 || *end != '\0' || number < min ||
	    number > max || text[0] == '+' || text[0] == ' ') {
		config_error(reader, value, "%s: '%s' is not a whole number from %ld to %ld",
		             keypath, config_shown(value, shown, sizeof(shown)), min, max);
		return -1;
	}
	*out = (int)number;
	return 0;
}

/* config_read_size: parse the size at keypath into *bytes. */
int
config_read_size(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                 uint64_t *bytes)
{
	char shown[CONFIG_SHOWN_MAX + 4];
	char *text = NULL;
	int rc = -1;

	if (config_read_string(reader, keypath, value, 0, &text) != 0)
		goto done;
	if (size_parse(text, bytes) != 0) {
		config_error(reader, value, "%s: '%s' is not a size (use e.g. 10GB or 512MiB)",
		             keypath, config_shown(value, shown, sizeof(shown)));
		goto done;
	}
	rc = 0;
done:
	free(text);
	return rc;
}

/* config_version_part: parse 1 to 3 digits at *p, up to CONFIG_VERSION_MAX; 0, or -1. */
static int
config_version_part(const char **p, int *number)
{
	int n = 0, digits = 0;

	while (**p >= '0' && **p <= '9' && digits < 3) {
		n = n * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	if (digits == 0 || n > CONFIG_VERSION_MAX)
		return -1;
	*number = n;
	return 0;
}

/* config_read_version: parse the "MAJOR.MINOR" at keypath. */
int
config_read_version(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                    int *major, int *minor)
{
	char shown[CONFIG_SHOWN_MAX + 4];
	char *text = NULL;
	const char *p;
	int rc = -1;

	if (config_read_string(reader, keypath, value, 0, &text) != 0)
		goto done;
	p = text;
	if (config_version_part(&p, major) != 0 || *p++ != '.' ||
	    config_version_part(&p, minor) != 0 || *p != '\0') {
		config_error(reader, value,
		             "%s: '%s' is not a version (use MAJOR.MINOR, e.g. 1.14)", keypath,
		             config_shown(value, shown, sizeof(shown)));
		goto done;
	}
	rc = 0;
done:
	free(text);
	return rc;
}

/* config_read_conninfo: copy the libpq connection string at keypath, if libpq can parse it. */
int
config_read_conninfo(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                     char **out)
{
	PQconninfoOption *options;
	char *errmsg = NULL;

	if (config_read_string(reader, keypath, value, CONFIG_NONEMPTY, out) != 0)
		return -1;
	if ((options = PQconninfoParse(*out, &errmsg)) == NULL) {
		config_error(reader, value,
		             "%s: not a valid libpq connection string (use key=value pairs such "
		             "as \"host=... dbname=... user=...\", quoting values that hold spaces "
		             "as '...', or a postgresql:// URI)",
		             keypath);
		PQfreemem(errmsg);
		return -1;
	}
	PQconninfoFree(options);
	return 0;
}

/* config_read_bool: "true" or "false" at keypath into *out. */
int
config_read_bool(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                 bool *out)
{
	char shown[CONFIG_SHOWN_MAX + 4];
	char *text = NULL;
	int rc = 0;

	if (config_read_string(reader, keypath, value, 0, &text) != 0)
		return -1;
	if (strcmp(text, "true") == 0) {
		*out = true;
	} else if (strcmp(text, "false") == 0) {
		*out = false;
	} else {
		config_error(reader, value, "%s: '%s' is not true or false", keypath,
		             config_shown(value, shown, sizeof(shown)));
		rc = -1;
	}
	free(text);
	return rc;
}

/* config_read_strategy: "transaction" or "swap" at keypath into *out. */
int
config_read_strategy(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                     enum restore_strategy *out)
{
	char shown[CONFIG_SHOWN_MAX + 4];

	if (config_scalar_is(value, "transaction")) {
		*out = RESTORE_STRATEGY_TRANSACTION;
		return 0;
	}
	if (config_scalar_is(value, "swap")) {
		*out = RESTORE_STRATEGY_SWAP;
		return 0;
	}
	if (value->type != YAML_SCALAR_NODE)
		config_error(reader, value, "%s: expected transaction or swap, found %s", keypath,
		             config_kind(value));
	else
		config_error(reader, value, "%s: '%s' is not a strategy (use transaction or swap)",
		             keypath, config_shown(value, shown, sizeof(shown)));
	return -1;
}

/* config_read_account: a user (or, when group, a group) name or number that exists here. */
int
config_read_account(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                    bool group, char **out)
{
	char shown[CONFIG_SHOWN_MAX + 4];
	uid_t uid;
	gid_t gid;

	if (config_read_string(reader, keypath, value, CONFIG_NONEMPTY, out) != 0)
		return -1;
	if (group ? blob_access_group(*out, &gid) == 0 : blob_access_user(*out, &uid) == 0)
		return 0;
	config_error(reader, value, "%s: '%s' is not a %s on this host (give a name or number)",
	             keypath, config_shown(value, shown, sizeof(shown)), group ? "group" : "user");
	return -1;
}

/* config_read_mode: an octal mode string for folders (dir) or files at keypath into *out. */
int
config_read_mode(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                 bool dir, unsigned int *out)
{
	char shown[CONFIG_SHOWN_MAX + 4];
	char *text = NULL;
	mode_t mode;
	int rc = 0;

	if (config_read_string(reader, keypath, value, 0, &text) != 0)
		return -1;
	if (blob_access_mode(text, dir ? 03777 : 0777, &mode) < 0 ||
	    (mode & (dir ? 0700 : 0600)) != (dir ? 0700 : 0600)) {
		config_error(
		    reader, value,
		    dir ? "%s: '%s' is not a folder mode: give 3 or 4 octal digits, "
		          "with rwx for the owner and no setuid bit (e.g. \"2770\")"
		        : "%s: '%s' is not a file mode: give 3 or 4 octal digits, "
		          "with rw for the owner and no setuid, setgid or sticky bit (e.g. "
		          "\"0660\")",
		    keypath, config_shown(value, shown, sizeof(shown)));
		rc = -1;
	} else {
		*out = mode;
	}
	free(text);
	return rc;
}

/* config_read_metrics_file: an absolute path ending in .prom (the textfile collector's kind). */
int
config_read_metrics_file(struct config_reader *reader, const yaml_node_t *value, char **out)
{
	char shown[CONFIG_SHOWN_MAX + 4];
	size_t len;

	if (config_read_string(reader, "metrics_file", value, CONFIG_NONEMPTY | CONFIG_ABSOLUTE,
	                       out) != 0)
		return -1;
	len = strlen(*out);
	if (len < 6 || strcmp(*out + len - 5, ".prom") != 0 || (*out)[len - 6] == '/') {
		config_error(reader, value,
		             "metrics_file: '%s' does not end in .prom (node_exporter's textfile "
		             "collector reads only *.prom files)",
		             config_shown(value, shown, sizeof(shown)));
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
