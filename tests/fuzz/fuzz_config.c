/*
 * fuzz_config.c - the configuration reader, config_load(), on any file.
 *
 * The input is written to a temporary config.yaml and loaded. A loaded configuration has what
 * config.h promises (a work_dir, at least one target, each with a database and exactly one
 * file store: a blob folder, or an s3: or azure: mapping with its required keys; a
 * default_target that names one of them), and each target's connection string can be shown
 * redacted.
 */
#include <string.h>

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4200];
	struct config *config = NULL;
	char err[1024], shown[512];

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "%s/config.yaml", fuzz_tmpdir());
	fuzz_write_file(path, data, size);
	err[0] = '\0';
	if (config_load(path, &config, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			fuzz_fail("config_load failed without a message");
		return 0;
	}
	if (config->work_dir == NULL || config->ntargets == 0)
		fuzz_fail("a loaded configuration has no work_dir or no target");
	if (config->default_target != NULL &&
	    config_target_find(config, config->default_target) == NULL)
		fuzz_fail("default_target names no target");
	for (size_t i = 0; i < config->ntargets; i++) {
		const struct config_target *t = &config->targets[i];

		if (t->name == NULL || t->database == NULL)
			fuzz_fail("target %zu lacks a required key", i);
		if ((t->blob_dir != NULL) + (t->s3 != NULL) + (t->azure != NULL) != 1)
			fuzz_fail("target %zu has not exactly one file store", i);
		if (t->s3 != NULL && (t->s3->region == NULL || t->s3->bucket == NULL ||
		                      t->s3->prefix == NULL || t->s3->suffix == NULL ||
		                      t->s3->max_connections < 1 || t->s3->max_connections > 128))
			fuzz_fail("target %zu's s3 lacks a required key or a default", i);
		if (t->azure != NULL &&
		    (t->azure->account_name == NULL || t->azure->container == NULL ||
		     t->azure->max_connections < 1 || t->azure->max_connections > 128))
			fuzz_fail("target %zu's azure lacks a required key or a default", i);
		if (config_target_find(config, t->name) == NULL)
			fuzz_fail("config_target_find does not find target %s", t->name);
		config_conninfo_redact(t->database, shown, sizeof(shown));
	}
	config_free(config);
	return 0;
}
