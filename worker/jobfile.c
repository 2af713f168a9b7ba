/*
 * jobfile.c - read and write job files (see jobfile.h), with libyaml.
 */
#include "jobfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* fail_at: "name:LINE: message"; always returns -1. */
static int fail_at(char *err, size_t errlen, const char *name, const yaml_node_t *node,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
fail_at(char *err, size_t errlen, const char *name, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (node != NULL)
		n = snprintf(err, errlen, "%s:%lu: ", name,
		             (unsigned long)node->start_mark.line + 1);
	else
		n = snprintf(err, errlen, "%s: ", name);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* scalar: the text of a scalar node, or NULL for any other kind. */
static const char *
scalar(const yaml_node_t *node)
{
	return node != NULL && node->type == YAML_SCALAR_NODE
	           ? (const char *)node->data.scalar.value
	           : NULL;
}

int
jobfile_parse(const char *name, const char *text, size_t len, struct jobfile *job, char *err,
              size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	yaml_node_pair_t *pair;
	int rc = -1;

	memset(job, 0, sizeof(*job));
	if (!yaml_parser_initialize(&parser))
		return fail_at(err, errlen, name, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%lu: malformed YAML: %s", name,
		         (unsigned long)parser.problem_mark.line + 1,
		         parser.problem != NULL ? parser.problem : "unknown problem");
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		fail_at(err, errlen, name, root,
		        "a job file must be a mapping with at least the key 'archive'");
		goto done;
	}
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&doc, pair->value);
		const char *key = scalar(k), *value = scalar(v);
		char **slot = NULL;

		if (key == NULL) {
			fail_at(err, errlen, name, k, "keys must be plain words");
			goto done;
		}
		if (strcmp(key, "archive") == 0)
			slot = &job->archive;
		else if (strcmp(key, "target") == 0)
			slot = &job->target;
		else if (strcmp(key, "db_only") != 0 && strcmp(key, "dry_run") != 0) {
			fail_at(
			    err, errlen, name, k,
			    "unknown key '%.60s' (expected archive, target, db_only or dry_run)",
			    key);
			goto done;
		}
		if (value == NULL) {
			fail_at(err, errlen, name, v, "%s: expected %s, found a %s", key,
			        slot != NULL ? "a string" : "true or false",
			        v != NULL && v->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
			goto done;
		}
		if (slot == NULL) {
			bool *flag = strcmp(key, "db_only") == 0 ? &job->db_only : &job->dry_run;

			if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0)
				*flag = true;
			else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0)
				*flag = false;
			else {
				fail_at(err, errlen, name, v, "%s: '%.60s' is not true or false",
				        key, value);
				goto done;
			}
			continue;
		}
		if (*slot != NULL) {
			fail_at(err, errlen, name, k, "duplicate key '%s'", key);
			goto done;
		}
		if (value[0] == '\0') {
			fail_at(err, errlen, name, v, "%s: must not be empty", key);
			goto done;
		}
		if (strlen(value) != v->data.scalar.length) {
			fail_at(err, errlen, name, v, "%s: must not hold a NUL character", key);
			goto done;
		}
		/* Never cut to fit: a cut name could be another target's. */
		if (slot == &job->target && v->data.scalar.length > JOBFILE_TARGET_MAX) {
			fail_at(
			    err, errlen, name, v,
			    "target: '%.20s...' is %zu bytes long; a target name has at most %d",
			    value, v->data.scalar.length, JOBFILE_TARGET_MAX);
			goto done;
		}
		if ((*slot = strdup(value)) == NULL) {
			fail_at(err, errlen, name, v, "out of memory");
			goto done;
		}
	}
	if (job->archive == NULL) {
		fail_at(err, errlen, name, root, "missing required key 'archive'");
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		jobfile_free(job);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

void
jobfile_free(struct jobfile *job)
{
	free(job->archive);
	free(job->target);
	memset(job, 0, sizeof(*job));
}

/*
 * yaml_escape: the escape a double-quoted YAML scalar needs for the character at s, or NULL
 * when it stands as it is; *n is set to its length in bytes. libyaml refuses control
 * characters, U+FFFE and U+FFFF in a document and reads U+0085, U+2028 and U+2029 as line
 * breaks (folded to a space in a quoted scalar), so those are escaped, as are '"' and '\\';
 * each escape reads back as the same bytes.
 */
static const char *
yaml_escape(const unsigned char *s, size_t *n, char buf[8])
{
	*n = 1;
	if (s[0] == '"' || s[0] == '\\') {
		snprintf(buf, 8, "\\%c", s[0]);
		return buf;
	}
	if (s[0] < 0x20 || s[0] == 0x7f) {
		snprintf(buf, 8, "\\x%02x", s[0]);
		return buf;
	}
	if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
		*n = 2;
		snprintf(buf, 8, "\\x%02x", s[1]); /* C1 controls, U+0085 among them */
		return buf;
	}
	if (s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
		*n = 3;
		snprintf(buf, 8, "\\u%s", s[2] == 0xa8 ? "2028" : "2029");
		return buf;
	}
	if (s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf)) {
		*n = 3;
		snprintf(buf, 8, "\\u%s", s[2] == 0xbe ? "fffe" : "ffff");
		return buf;
	}
	return NULL;
}

/* append_quoted: a double-quoted YAML scalar for s into out (grows it); -1 when out of memory. */
static int
append_quoted(char **out, size_t *len, const char *s)
{
	size_t need = *len + 4 * strlen(s) + 4, n;
	char *buf = realloc(*out, need + 1);
	char *p, escape[8];
	const char *e;

	if (buf == NULL)
		return -1;
	*out = buf;
	p = buf + *len;
	*p++ = '"';
	while (*s != '\0') {
		e = yaml_escape((const unsigned char *)s, &n, escape);
		if (e != NULL) {
			memcpy(p, e, strlen(e));
			p += strlen(e);
		} else {
			*p++ = *s;
		}
		s += n;
	}
	*p++ = '"';
	*p++ = '\n';
	*p = '\0';
	*len = (size_t)(p - buf);
	return 0;
}

char *
jobfile_write(const char *archive, const char *target, bool db_only, bool dry_run)
{
	char *out = strdup("archive: ");
	size_t len = out != NULL ? strlen(out) : 0;
	char *grown;

	if (out == NULL || append_quoted(&out, &len, archive) < 0)
		goto nomem;
	if (target != NULL) {
		grown = realloc(out, len + 9);
		if (grown == NULL)
			goto nomem;
		out = grown;
		memcpy(out + len, "target: ", 9);
		len += 8;
		if (append_quoted(&out, &len, target) < 0)
			goto nomem;
	}
	grown = realloc(out, len + 40);
	if (grown == NULL)
		goto nomem;
	out = grown;
	len += (size_t)snprintf(out + len, 20, "db_only: %s\n", db_only ? "true" : "false");
	if (dry_run)
		len += (size_t)snprintf(out + len, 20, "dry_run: true\n");
	return out;
nomem:
	free(out);
	return NULL;
}
