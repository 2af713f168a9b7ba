/*
 * command_check.c - restore-worker check [--target NAME] [--json]: the checks of check.c, one
 * line each on stdout ("acceptance: database login ... ok: ..."), or with --json one object
 * {"status": "ok|warning|failed", "checks": [{"target", "name", "status", "message"}]}.
 *
 * Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed, 2 for a usage
 * or configuration error (an unknown target, a configuration that does not load: then the one
 * check shown is the configuration's, failed). A missing work_dir is a failed check here, not
 * a configuration error as for the other commands: check is where an operator looks for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "command.h"
#include "config.h"
#include "json.h"

/* checks_json: the list as one JSON object (see above); NULL when out of memory. */
static char *
checks_json(const struct check_list *list)
{
	struct json_writer w = {0};

	json_begin_object(&w);
	json_key(&w, "status");
	json_string(&w, list->failed > 0 || list->out_of_memory ? "failed"
	                : list->warnings > 0                    ? "warning"
	                                                        : "ok");
	json_key(&w, "checks");
	json_begin_array(&w);
	for (size_t i = 0; i < list->count; i++) {
		const struct check_result *r = &list->items[i];

		json_begin_object(&w);
		json_key(&w, "target");
		if (r->target != NULL)
			json_string(&w, r->target);
		else
			json_null(&w);
		json_key(&w, "name");
		json_string(&w, r->name);
		json_key(&w, "status");
		json_string(&w, check_status_name(r->status));
		json_key(&w, "message");
		json_string(&w, r->message);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	return json_finish(&w);
}

/* print_checks: the list on stdout, as lines or as JSON; 0, or -1 when it cannot be written. */
static int
print_checks(const struct check_list *list, bool json)
{
	if (json) {
		char *text = checks_json(list);
		int rc = command_print_json(text);

		free(text);
		return rc;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct check_result *r = &list->items[i];

		printf("%s%s%s ... %s: %s\n", r->target != NULL ? r->target : "",
		       r->target != NULL ? ": " : "", r->name, check_status_name(r->status),
		       r->message);
	}
	if (list->out_of_memory)
		printf("out of memory: some checks are not shown ... failed\n");
	return fflush(stdout) == EOF ? -1 : 0;
}

/* command_check: restore-worker check [--target NAME] [--json] */
int
command_check(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *path = command_config_path(config_given);
	struct check_list list = {0};
	struct config *config = NULL;
	char err[1024], name[] = "configuration";
	int rc;

	(void)cmd;
	if (config_load(path, &config, err, sizeof(err)) < 0) {
		fprintf(stderr, "restore-worker: %s\n", err);
		if (args->json) {
			list.failed = 1;
			list.items = &(struct check_result){NULL, name, CHECK_FAILED, err};
			list.count = 1;
			(void)print_checks(&list, true);
		}
		return EXIT_USAGE;
	}
	if (args->target != NULL && config_target_find(config, args->target) == NULL) {
		fprintf(stderr, "restore-worker: %s has no target '%s'\n", path, args->target);
		config_free(config);
		return EXIT_USAGE;
	}
	check_config_warnings(config, args->target, &list);
	check_run(config, args->target, &list);
	rc = list.failed > 0 || list.out_of_memory ? 1 : 0;
	if (print_checks(&list, args->json) < 0)
		rc = 1;
	check_list_free(&list);
	config_free(config);
	return rc;
}
