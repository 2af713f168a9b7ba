/*
 * command_check.c - restore-worker check [--target NAME] [--json]: the checks of check.c, one
 * line each on stdout ("acceptance: database login ... ok: ..."), or with --json one object
 * {"status": "ok|warning|failed", "checks": [{"target", "name", "status", "message"}]}.
 *
 * Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed, 2 for a usage
 * or configuration error (an unknown target, a configuration that does not load: then the one
 * check shown is the configuration's, failed). Run by root, it checks as spool_dir's owner,
 * the user the worker runs as, and says so on stderr. A missing work_dir is a failed check here,
 * not a configuration error as for the other commands: check is where an operator looks for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "command.h"
#include "config.h"
#include "json.h"
#include "run_as.h"

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

/* What check_and_print checks. */
struct check_what {
	const struct config *config;
	const char *target; /* only this target, or NULL */
	bool json;
};

/* check_and_print: make the checks and print them; the exit status (0 or 1). */
static int
check_and_print(void *arg)
{
	const struct check_what *what = arg;
	struct check_list list = {0};
	int rc;

	check_config_warnings(what->config, what->target, &list);
	check_run(what->config, what->target, &list);
	rc = list.failed > 0 || list.out_of_memory ? 1 : 0;
	if (print_checks(&list, what->json) < 0)
		rc = 1;
	check_list_free(&list);
	return rc;
}

/*
 * command_check: restore-worker check [--target NAME] [--json]. Run by root, the checks are
 * made as the worker's user, spool_dir's owner (run_as.c): what root could do would say
 * nothing of what the service can.
 */
int
command_check(const struct command *cmd, const struct command_args *args, const char *config_given)
{
	const char *path = command_config_path(config_given);
	struct check_list list = {0};
	struct config *config = NULL;
	char err[1024], name[] = "configuration", who[64];
	struct check_what what;
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
	what = (struct check_what){config, args->target, args->json};
	switch (run_as_spool_owner(config->spool_dir, check_and_print, &what, &rc, who, sizeof(who),
	                           err, sizeof(err))) {
	case 1:
		fprintf(
		    stderr,
		    "restore-worker: checked as user %s, the owner of spool_dir %s: the user the "
		    "worker runs as\n",
		    who, config->spool_dir);
		break;
	case 0:
		rc = check_and_print(&what);
		break;
	default:
		fprintf(stderr, "restore-worker: %s\n", err);
		rc = 1;
		break;
	}
	config_free(config);
	return rc;
}
