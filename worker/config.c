/*
 * config.c - read and check the worker's configuration file (YAML, read with libyaml).
 *
 * config_load() loads the whole file into a libyaml document tree, so that every node knows its
 * line, and walks the tree against a fixed schema: the top-level keys spool_dir, work_dir,
 * pg_restore, default_target and targets, and under targets one mapping of settings per target
 * (see config.yaml.example). Nothing is guessed: unknown keys, duplicate keys, wrong types, bad
 * sizes, relative paths and missing required keys are errors. The first error found is reported
 * in one line that names the file, the line, the key path and what to do, e.g.
 * "config.yaml:12: targets.acceptance.plan_quota: '10 GB' is not a size (use e.g. 10GB or 512MiB)".
 * Each value is read and checked by config_read.c; this file knows which keys there are, where,
 * their defaults, and the checks that span several keys.
 *
 * config_conninfo_redact() shows a connection string with its passwords masked, for logs and
 * reports; restore/conninfo.c does the masking (the engine masks its connection errors with it).
 *
 * Limits: only the first YAML document is read, and a second one is an error rather than ignored.
 * Aliases are followed (libyaml shares the node, it does not copy it), which is harmless because
 * the walk never goes deeper than the schema's two levels.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "config_read.h"
#include "conninfo.h"
#include "quota.h"

#define CONFIG_KEYPATH_MAX    160 /* "targets.NAME.max_dump_version" */
#define CONFIG_TARGET_NAMEMAX 64  /* a target name becomes a folder name */

#define CONFIG_TOP_KEYS                                                                            \
	"spool_dir, work_dir, pg_restore, default_target, targets, settle_seconds, "               \
	"rescan_seconds, retention_days, max_parallel_jobs, max_attempts, metrics_file, pg_dump, " \
	"pg_client_dirs, backup_dir or backup_keep"
#define CONFIG_TARGET_KEYS                                                                         \
	"database, blob_dir, plan_quota, restore_overhead, max_dump_version, strategy, "           \
	"restore_jobs, maintenance_database, analyze, files_query, keep_previous, previous_keep, " \
	"blob_owner, blob_group, blob_dir_mode, blob_file_mode, before_restore, after_restore, "   \
	"hook_timeout_seconds, allow_restore, s3 or azure"

/* config_default_restore_jobs: the number of CPUs, at most CONFIG_DEFAULT_RESTORE_JOBS_MAX. */
static int
config_default_restore_jobs(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 1)
		return 1;
	return cpus > CONFIG_DEFAULT_RESTORE_JOBS_MAX ? CONFIG_DEFAULT_RESTORE_JOBS_MAX : (int)cpus;
}

/* config_check_target_name: refuse a target name that would make a bad folder name. */
static int
config_check_target_name(struct config_reader *reader, const yaml_node_t *name)
{
	const char *text = (const char *)name->data.scalar.value;
	size_t i, len = name->data.scalar.length;
	char shown[CONFIG_SHOWN_MAX + 4];
	int good = len > 0 && len <= CONFIG_TARGET_NAMEMAX && text[0] != '.';

	for (i = 0; good && i < len; i++)
		good = (text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z') ||
		       (text[i] >= '0' && text[i] <= '9') || text[i] == '_' || text[i] == '-' ||
		       text[i] == '.';
	if (!good) {
		config_error(reader, name,
		             "targets: '%s' is not a valid target name (use up to %d letters, "
		             "digits, '_', '-' and '.', not starting with '.')",
		             config_shown(name, shown, sizeof(shown)), CONFIG_TARGET_NAMEMAX);
		return -1;
	}
	return 0;
}

/* config_read_target: fill target from the settings mapping under targets.NAME. */
static int
config_read_target(struct config_reader *reader, const yaml_node_t *name,
                   const yaml_node_t *settings, struct config_target *target)
{
	char keypath[CONFIG_KEYPATH_MAX], prefix[CONFIG_KEYPATH_MAX];
	char shown[CONFIG_SHOWN_MAX + 4];
	const yaml_node_pair_t *pair;
	const yaml_node_t *key, *value;
	const char *k;
	int have_quota = 0, rc;

	if (config_check_target_name(reader, name) != 0)
		return -1;
	if ((target->name = strndup((const char *)name->data.scalar.value,
	                            name->data.scalar.length)) == NULL) {
		config_error(reader, name, "targets: out of memory");
		return -1;
	}
	snprintf(prefix, sizeof(prefix), "targets.%s: ", target->name);
	if (settings->type != YAML_MAPPING_NODE) {
		config_error(reader, settings,
		             "targets.%s: expected a mapping of settings (database, blob_dir, "
		             "plan_quota, ...), found %s",
		             target->name, config_kind(settings));
		return -1;
	}
	if (config_check_keys(reader, prefix, settings) != 0)
		return -1;
	target->restore_overhead = CONFIG_DEFAULT_OVERHEAD;
	target->max_dump_major = 1;
	target->max_dump_minor = 14;
	target->strategy = RESTORE_STRATEGY_TRANSACTION;
	target->restore_jobs = config_default_restore_jobs();
	target->analyze = true;
	target->previous_keep = CONFIG_DEFAULT_PREVIOUS_KEEP;
	target->hook_timeout_seconds = CONFIG_DEFAULT_HOOK_TIMEOUT;
	target->allow_restore = true;
	for (pair = settings->data.mapping.pairs.start; pair < settings->data.mapping.pairs.top;
	     pair++) {
		key = config_node(reader, pair->key);
		value = config_node(reader, pair->value);
		k = (const char *)key->data.scalar.value;
		snprintf(keypath, sizeof(keypath), "targets.%s.%s", target->name, k);
		if (config_scalar_is(key, "database")) {
			rc = config_read_conninfo(reader, keypath, value, &target->database);
		} else if (config_scalar_is(key, "blob_dir")) {
			rc = config_read_string(reader, keypath, value,
			                        CONFIG_NONEMPTY | CONFIG_ABSOLUTE,
			                        &target->blob_dir);
		} else if (config_scalar_is(key, "plan_quota")) {
			rc = config_read_size(reader, keypath, value, &target->plan_quota);
			if (rc == 0 && target->plan_quota == 0) {
				config_error(reader, value, "%s: must be more than 0 (e.g. 10GB)",
				             keypath);
				rc = -1;
			}
			have_quota = 1;
		} else if (config_scalar_is(key, "restore_overhead")) {
			rc = config_read_size(reader, keypath, value, &target->restore_overhead);
		} else if (config_scalar_is(key, "max_dump_version")) {
			rc = config_read_version(reader, keypath, value, &target->max_dump_major,
			                         &target->max_dump_minor);
		} else if (config_scalar_is(key, "strategy")) {
			rc = config_read_strategy(reader, keypath, value, &target->strategy);
		} else if (config_scalar_is(key, "restore_jobs")) {
			rc =
			    config_read_count(reader, keypath, value, 1, 64, &target->restore_jobs);
		} else if (config_scalar_is(key, "maintenance_database")) {
			rc = config_read_string(reader, keypath, value, CONFIG_NONEMPTY,
			                        &target->maintenance_database);
		} else if (config_scalar_is(key, "analyze")) {
			rc = config_read_bool(reader, keypath, value, &target->analyze);
		} else if (config_scalar_is(key, "keep_previous")) {
			rc = config_read_bool(reader, keypath, value, &target->keep_previous);
		} else if (config_scalar_is(key, "previous_keep")) {
			rc = config_read_count(reader, keypath, value, 1, 10000,
			                       &target->previous_keep);
		} else if (config_scalar_is(key, "blob_owner")) {
			rc =
			    config_read_account(reader, keypath, value, false, &target->blob_owner);
		} else if (config_scalar_is(key, "blob_group")) {
			rc = config_read_account(reader, keypath, value, true, &target->blob_group);
		} else if (config_scalar_is(key, "blob_dir_mode")) {
			rc = config_read_mode(reader, keypath, value, true, &target->blob_dir_mode);
		} else if (config_scalar_is(key, "blob_file_mode")) {
			rc = config_read_mode(reader, keypath, value, false,
			                      &target->blob_file_mode);
		} else if (config_scalar_is(key, "before_restore")) {
			rc = config_read_argv(reader, keypath, value, &target->before_restore);
		} else if (config_scalar_is(key, "after_restore")) {
			rc = config_read_argv(reader, keypath, value, &target->after_restore);
		} else if (config_scalar_is(key, "hook_timeout_seconds")) {
			rc = config_read_count(reader, keypath, value, 1, 86400,
			                       &target->hook_timeout_seconds);
		} else if (config_scalar_is(key, "allow_restore")) {
			rc = config_read_bool(reader, keypath, value, &target->allow_restore);
		} else if (config_scalar_is(key, "s3")) {
			rc = config_read_s3(reader, keypath, value, &target->s3);
		} else if (config_scalar_is(key, "azure")) {
			rc = config_read_azure(reader, keypath, value, &target->azure);
		} else if (config_scalar_is(key, "files_query")) {
			rc = config_read_string(reader, keypath, value, CONFIG_NONEMPTY,
			                        &target->files_query);
		} else {
			config_error(reader, key, "targets.%s: unknown key '%s' (expected %s)",
			             target->name, config_shown(key, shown, sizeof(shown)),
			             CONFIG_TARGET_KEYS);
			rc = -1;
		}
		if (rc != 0)
			return -1;
	}
	if (target->maintenance_database == NULL &&
	    (target->maintenance_database = strdup(CONFIG_DEFAULT_MAINTENANCE_DB)) == NULL) {
		config_error(reader, name, "targets.%s: out of memory", target->name);
		return -1;
	}
	/* The required keys in the order of the example: database, the file store, plan_quota. */
	if (target->database == NULL)
		k = "database";
	else if (config_check_store(reader, name, settings, target) != 0)
		return -1;
	else if (!have_quota)
		k = "plan_quota";
	else
		return 0;
	config_error(reader, name, "targets.%s: missing required key '%s'", target->name, k);
	return -1;
}

/* config_read_targets: fill config->targets from the mapping under targets. */
static int
config_read_targets(struct config_reader *reader, const yaml_node_t *key,
                    const yaml_node_t *targets, struct config *config)
{
	const yaml_node_pair_t *pair;
	size_t count;

	if (targets->type != YAML_MAPPING_NODE) {
		config_error(
		    reader, targets,
		    "targets: expected a mapping of target names to their settings, found %s",
		    config_kind(targets));
		return -1;
	}
	if (config_check_keys(reader, "targets: ", targets) != 0)
		return -1;
	count = (size_t)(targets->data.mapping.pairs.top - targets->data.mapping.pairs.start);
	if (count == 0) {
		config_error(reader, key, "targets: at least one target is required");
		return -1;
	}
	if ((config->targets = calloc(count, sizeof(*config->targets))) == NULL) {
		config_error(reader, key, "targets: out of memory");
		return -1;
	}
	for (pair = targets->data.mapping.pairs.start; pair < targets->data.mapping.pairs.top;
	     pair++) {
		/* Counted first, so that config_free() releases a target read half-way. */
		config->ntargets++;
		if (config_read_target(reader, config_node(reader, pair->key),
		                       config_node(reader, pair->value),
		                       &config->targets[config->ntargets - 1]) != 0)
			return -1;
	}
	return 0;
}

/* config_read_top: fill config from the document's top-level mapping. */
static int
config_read_top(struct config_reader *reader, const yaml_node_t *root, struct config *config)
{
	const yaml_node_t *key, *value, *default_node = NULL;
	const yaml_node_pair_t *pair;
	char shown[CONFIG_SHOWN_MAX + 4];
	int have_targets = 0, rc;

	if (root->type != YAML_MAPPING_NODE) {
		config_error(
		    reader, root,
		    "the file must be a mapping of keys (work_dir, targets, ...), found %s",
		    config_kind(root));
		return -1;
	}
	if (config_check_keys(reader, "", root) != 0)
		return -1;
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		key = config_node(reader, pair->key);
		value = config_node(reader, pair->value);
		if (config_scalar_is(key, "spool_dir")) {
			rc = config_read_string(reader, "spool_dir", value,
			                        CONFIG_NONEMPTY | CONFIG_ABSOLUTE,
			                        &config->spool_dir);
		} else if (config_scalar_is(key, "settle_seconds")) {
			rc = config_read_count(reader, "settle_seconds", value, 0, 86400,
			                       &config->settle_seconds);
		} else if (config_scalar_is(key, "rescan_seconds")) {
			rc = config_read_count(reader, "rescan_seconds", value, 1, 86400,
			                       &config->rescan_seconds);
		} else if (config_scalar_is(key, "retention_days")) {
			rc = config_read_count(reader, "retention_days", value, 0, 36500,
			                       &config->retention_days);
		} else if (config_scalar_is(key, "max_parallel_jobs")) {
			rc = config_read_count(reader, "max_parallel_jobs", value, 1, 64,
			                       &config->max_parallel_jobs);
		} else if (config_scalar_is(key, "max_attempts")) {
			rc = config_read_count(reader, "max_attempts", value, 1, 100,
			                       &config->max_attempts);
		} else if (config_scalar_is(key, "work_dir")) {
			rc = config_read_string(reader, "work_dir", value,
			                        CONFIG_NONEMPTY | CONFIG_ABSOLUTE,
			                        &config->work_dir);
		} else if (config_scalar_is(key, "pg_restore")) {
			rc = config_read_string(reader, "pg_restore", value, CONFIG_NONEMPTY,
			                        &config->pg_restore);
		} else if (config_scalar_is(key, "pg_dump")) {
			rc = config_read_string(reader, "pg_dump", value, CONFIG_NONEMPTY,
			                        &config->pg_dump);
		} else if (config_scalar_is(key, "pg_client_dirs")) {
			rc = config_read_paths(reader, "pg_client_dirs", value,
			                       &config->pg_client_dirs);
		} else if (config_scalar_is(key, "backup_dir")) {
			rc = config_read_string(reader, "backup_dir", value,
			                        CONFIG_NONEMPTY | CONFIG_ABSOLUTE,
			                        &config->backup_dir);
		} else if (config_scalar_is(key, "backup_keep")) {
			rc = config_read_count(reader, "backup_keep", value, 1, 10000,
			                       &config->backup_keep);
		} else if (config_scalar_is(key, "metrics_file")) {
			rc = config_read_metrics_file(reader, value, &config->metrics_file);
		} else if (config_scalar_is(key, "default_target")) {
			rc = config_read_string(reader, "default_target", value, 0,
			                        &config->default_target);
			default_node = value;
		} else if (config_scalar_is(key, "targets")) {
			rc = config_read_targets(reader, key, value, config);
			have_targets = 1;
		} else {
			config_error(reader, key, "unknown key '%s' (expected %s)",
			             config_shown(key, shown, sizeof(shown)), CONFIG_TOP_KEYS);
			rc = -1;
		}
		if (rc != 0)
			return -1;
	}
	if (config->work_dir == NULL) {
		config_error(reader, NULL, "missing required key 'work_dir'");
		return -1;
	}
	if (!have_targets) {
		config_error(reader, NULL, "missing required key 'targets'");
		return -1;
	}
	if (config->default_target != NULL &&
	    config_target_find(config, config->default_target) == NULL) {
		config_error(reader, default_node,
		             "default_target: '%s' is not one of the targets (name a target "
		             "defined under targets)",
		             config_shown(default_node, shown, sizeof(shown)));
		return -1;
	}
	return 0;
}

/* config_quota_warning: whether t's plan_quota leaves no room for a dump (see config.h). */
int
config_quota_warning(const struct config_target *t, char *buf, size_t buflen)
{
	char quota[64], overhead[64];

	if (t->plan_quota > t->restore_overhead)
		return 0;
	quota_format_size(t->plan_quota, quota, sizeof(quota));
	quota_format_size(t->restore_overhead, overhead, sizeof(overhead));
	snprintf(buf, buflen,
	         "targets.%s.plan_quota: %s is not larger than restore_overhead (%s), so every "
	         "restore into target %s will be refused; raise plan_quota or lower "
	         "restore_overhead",
	         t->name, quota, overhead, t->name);
	return 1;
}

/* config_collect_warnings: what works but not as meant, into config->warnings; -1 out of memory. */
static int
config_collect_warnings(struct config_reader *reader, struct config *config)
{
	char text[512];

	for (size_t i = 0; i < config->ntargets; i++) {
		struct config_warning *more;

		if (!config_quota_warning(&config->targets[i], text, sizeof(text)))
			continue;
		more = realloc(config->warnings, (config->nwarnings + 1) * sizeof(*more));
		if (more == NULL) {
			config_error(reader, NULL, "out of memory");
			return -1;
		}
		config->warnings = more;
		more[config->nwarnings].target = config->targets[i].name;
		if ((more[config->nwarnings].text = strdup(text)) == NULL) {
			config_error(reader, NULL, "out of memory");
			return -1;
		}
		config->nwarnings++;
	}
	return 0;
}

/* config_load: read and check path; return 0 and *out, or -1 with a one-line message in err. */
int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct config_reader reader = {path, NULL, err, errlen};
	struct config *config = NULL;
	yaml_parser_t parser;
	yaml_document_t document, extra;
	yaml_node_t *root, *extra_root;
	int parser_ready = 0, document_ready = 0, second_document = 0;
	FILE *fp = NULL;
	struct stat st;
	int rc = -1;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((fp = fopen(path, "re")) == NULL) {
		config_error(&reader, NULL, "cannot open: %s", strerror(errno));
		goto done;
	}
	if (fstat(fileno(fp), &st) != 0) {
		config_error(&reader, NULL, "cannot open: %s", strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		config_error(&reader, NULL, "cannot open: not a regular file");
		goto done;
	}
	if (!yaml_parser_initialize(&parser)) {
		config_error(&reader, NULL, "out of memory");
		goto done;
	}
	parser_ready = 1;
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &document)) {
		config_yaml_error(&reader, &parser);
		goto done;
	}
	document_ready = 1;
	reader.document = &document;
	if ((root = yaml_document_get_root_node(&document)) == NULL) {
		config_error(&reader, NULL,
		             "the file is empty (it needs at least work_dir and targets; see "
		             "config.yaml.example)");
		goto done;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		config_yaml_error(&reader, &parser);
		goto done;
	}
	if ((extra_root = yaml_document_get_root_node(&extra)) != NULL) {
		config_error(&reader, extra_root,
		             "a second YAML document (keep everything in one, without '---')");
		second_document = 1;
	}
	yaml_document_delete(&extra);
	if (second_document)
		goto done;
	if ((config = calloc(1, sizeof(*config))) == NULL ||
	    (config->path = strdup(path)) == NULL) {
		config_error(&reader, NULL, "out of memory");
		goto done;
	}
	config->settle_seconds = CONFIG_DEFAULT_SETTLE_SECONDS;
	config->rescan_seconds = CONFIG_DEFAULT_RESCAN_SECONDS;
	config->retention_days = CONFIG_DEFAULT_RETENTION_DAYS;
	config->max_parallel_jobs = CONFIG_DEFAULT_MAX_PARALLEL_JOBS;
	config->max_attempts = CONFIG_DEFAULT_MAX_ATTEMPTS;
	config->backup_keep = CONFIG_DEFAULT_BACKUP_KEEP;
	if (config_read_top(&reader, root, config) != 0)
		goto done;
	for (size_t i = 0; i < config->ntargets; i++)
		config->targets[i].work_dir = config->work_dir;
	for (size_t i = 0; i < config->ntargets; i++)
		if (config->targets[i].keep_previous && config->spool_dir == NULL) {
			config_error(&reader, NULL,
			             "targets.%s.keep_previous: needs spool_dir (the backups made "
			             "before a restore go into <spool_dir>/previous/<target>/)",
			             config->targets[i].name);
			goto done;
		}
	if (config_collect_warnings(&reader, config) != 0)
		goto done;
	*out = config;
	config = NULL;
	rc = 0;
done:
	config_free(config);
	if (document_ready)
		yaml_document_delete(&document);
	if (parser_ready)
		yaml_parser_delete(&parser);
	/* Closing a stream that was only read cannot lose data, so its result changes nothing. */
	if (fp != NULL)
		(void)fclose(fp);
	return rc;
}

/* config_strings_free: release a NULL-terminated array of strings; NULL is fine. */
static void
config_strings_free(char **strings)
{
	for (size_t i = 0; strings != NULL && strings[i] != NULL; i++)
		free(strings[i]);
	free(strings);
}

/* config_free: release what config_load returned; NULL is fine. */
void
config_free(struct config *config)
{
	size_t i;

	if (config == NULL)
		return;
	for (i = 0; i < config->ntargets; i++) {
		free(config->targets[i].name);
		free(config->targets[i].database);
		free(config->targets[i].blob_dir);
		free(config->targets[i].maintenance_database);
		free(config->targets[i].files_query);
		free(config->targets[i].blob_owner);
		free(config->targets[i].blob_group);
		config_store_free(&config->targets[i]);
		config_strings_free(config->targets[i].before_restore);
		config_strings_free(config->targets[i].after_restore);
	}
	for (i = 0; i < config->nwarnings; i++)
		free(config->warnings[i].text);
	free(config->warnings);
	free(config->targets);
	free(config->path);
	free(config->spool_dir);
	free(config->work_dir);
	free(config->pg_restore);
	free(config->pg_dump);
	config_strings_free(config->pg_client_dirs);
	free(config->backup_dir);
	free(config->metrics_file);
	free(config->default_target);
	free(config);
}

/* config_target_find: the target called name, or NULL. */
const struct config_target *
config_target_find(const struct config *config, const char *name)
{
	size_t i;

	if (config == NULL || name == NULL)
		return NULL;
	for (i = 0; i < config->ntargets; i++)
		if (config->targets[i].name != NULL && strcmp(config->targets[i].name, name) == 0)
			return &config->targets[i];
	return NULL;
}

/* config_conninfo_redact: copy conninfo into buf with any password value replaced by "***". */
void
config_conninfo_redact(const char *conninfo, char *buf, size_t buflen)
{
	conninfo_redact(conninfo, buf, buflen);
}

/* config_restore_target: the engine's view (restore.h) of a configured target. */
void
config_restore_target(const struct config_target *ct, struct restore_target *out)
{
	memset(out, 0, sizeof(*out));
	out->name = ct->name;
	out->conninfo = ct->database;
	out->blob_dir = ct->blob_dir;
	out->plan_quota = ct->plan_quota;
	out->restore_overhead = ct->restore_overhead;
	out->max_dump_major = ct->max_dump_major;
	out->max_dump_minor = ct->max_dump_minor;
	out->strategy = ct->strategy;
	out->restore_jobs = ct->restore_jobs;
	out->maintenance_database = ct->maintenance_database;
	out->analyze = ct->analyze;
	out->files_query = ct->files_query;
	out->blob_owner = ct->blob_owner;
	out->blob_group = ct->blob_group;
	out->blob_dir_mode = ct->blob_dir_mode;
	out->blob_file_mode = ct->blob_file_mode;
	out->before_restore = (const char *const *)ct->before_restore;
	out->after_restore = (const char *const *)ct->after_restore;
	out->hook_timeout_s = ct->hook_timeout_seconds;
	out->refuse_restores = !ct->allow_restore;
	out->s3 = ct->s3;
	out->azure = ct->azure;
	out->state_dir = ct->work_dir;
}