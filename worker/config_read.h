/*
 * config_read.h - what config.c and config_read.c share (not for the rest of the program):
 * the reader of one loaded YAML document, and the functions that read and check one scalar
 * of it (a string, a whole number, a size, a version, a connection string, a bool, a strategy)
 * or a mapping's keys, each reporting "path:line: keypath: reason" through config_error().
 */
#ifndef CONFIG_READ_H
#define CONFIG_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "restore.h"

#define CONFIG_SHOWN_MAX 60 /* bytes of a value quoted in a message */

#define CONFIG_NONEMPTY 0x1 /* config_read_string: refuse "" */
#define CONFIG_ABSOLUTE 0x2 /* config_read_string: require a leading '/' */

/* The file being read: its name, its document, and where the first error goes. */
struct config_reader {
	const char *path;
	yaml_document_t *document;
	char *err;
	size_t errlen;
};

/* config_error: write "path:line: message" into the reader's buffer; a NULL node omits the line. */
void config_error(struct config_reader *reader, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* config_yaml_error: report why libyaml could not load the file. */
void config_yaml_error(struct config_reader *reader, const yaml_parser_t *parser);

/* config_shown: a scalar's text made safe to quote in a one-line message, in buf. */
const char *config_shown(const yaml_node_t *node, char *buf, size_t buflen);

/* config_kind: how a node is described in "expected ..., found ..." messages. */
const char *config_kind(const yaml_node_t *node);

/* config_scalar_is: whether node is the scalar text. */
int config_scalar_is(const yaml_node_t *node, const char *text);

/* config_node: the node with the given index in the document being read. */
yaml_node_t *config_node(struct config_reader *reader, int index);

/* config_check_keys: refuse a mapping whose keys are not strings, or name a key twice. */
int config_check_keys(struct config_reader *reader, const char *prefix, const yaml_node_t *mapping);

/* config_read_string: copy the string at keypath into *out, checked as flags say. */
int config_read_string(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                       int flags, char **out);

/*
 * config_read_paths: a sequence of absolute paths at keypath into *out, NULL-terminated (an
 * empty sequence gives an empty list, not NULL).
 */
int config_read_paths(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                      char ***out);

/*
 * config_read_argv: a command at keypath into *out, NULL-terminated: a non-empty sequence of
 * strings (never one string: no shell ever reads it) whose first is an absolute path.
 */
int config_read_argv(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                     char ***out);

/* config_read_count: a whole number from min to max at keypath into *out. */
int config_read_count(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                      long min, long max, int *out);

/* config_read_size: parse the size at keypath into *bytes. */
int config_read_size(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                     uint64_t *bytes);

/* config_read_version: parse the "MAJOR.MINOR" at keypath. */
int config_read_version(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                        int *major, int *minor);

/* config_read_conninfo: copy the libpq connection string at keypath, if libpq can parse it. */
int config_read_conninfo(struct config_reader *reader, const char *keypath,
                         const yaml_node_t *value, char **out);

/* config_read_bool: "true" or "false" at keypath into *out. */
int config_read_bool(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                     bool *out);

/* config_read_account: a user (or, when group, a group) name or number that exists here. */
int config_read_account(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                        bool group, char **out);

/* config_read_mode: an octal mode string for folders (dir) or files at keypath into *out. */
int config_read_mode(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                     bool dir, unsigned int *out);

/* config_read_strategy: "transaction" or "swap" at keypath into *out. */
int config_read_strategy(struct config_reader *reader, const char *keypath,
                         const yaml_node_t *value, enum restore_strategy *out);

/* config_read_metrics_file: an absolute path ending in .prom (the textfile collector's kind). */
int config_read_metrics_file(struct config_reader *reader, const yaml_node_t *value, char **out);

struct config_target;

/* config_read_s3: the s3: mapping at keypath (targets.NAME.s3) into *out (config_store.c). */
int config_read_s3(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                   struct store_s3 **out);

/* config_read_azure: the azure: mapping at keypath into *out (config_store.c). */
int config_read_azure(struct config_reader *reader, const char *keypath, const yaml_node_t *value,
                      struct store_azure **out);

/*
 * config_check_store: refuse target (read from settings, under the node name) unless it names
 * exactly one of blob_dir, s3 and azure, and blob_owner, blob_group and the modes only with
 * blob_dir (config_store.c).
 */
int config_check_store(struct config_reader *reader, const yaml_node_t *name,
                       const yaml_node_t *settings, const struct config_target *target);

/* config_store_free: release target's s3 or azure settings; NULL them. */
void config_store_free(struct config_target *target);

#endif
