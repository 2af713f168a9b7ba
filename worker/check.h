/*
 * check.h - what restore-worker check verifies, also run at the start of the daemon: the
 * configuration, and for each target the database login, the role's rights, pg_restore and
 * pg_dump against the server, the plan quota, blob_dir's folder and swap, its hooks' programs
 * and allow_restore: false (for a target that has them); and work_dir's free space. Each check
 * gives ok, warning or failed with one sentence naming the target and what to do. Nothing is
 * changed (the swap probe's folders in blob_dir's parent are removed again).
 */
#ifndef CHECK_H
#define CHECK_H

#include <stddef.h>

#include "config.h"

enum check_status {
	CHECK_OK,
	CHECK_WARNING,
	CHECK_FAILED,
};

/* One check's outcome. */
struct check_result {
	char *target; /* the target's name, or NULL for a check of the whole configuration */
	char *name;   /* "database login", "work_dir free space", ... */
	enum check_status status;
	char *message; /* one sentence; never any part of a password */
};

struct check_list {
	struct check_result *items;
	size_t count;
	size_t failed, warnings;
	int out_of_memory; /* a result could not be kept */
};

/*
 * check_config_warnings: the configuration's load-time warnings (of target only, and those of
 * no target, when target is not NULL) as "configuration" results: ok when there are none.
 */
void check_config_warnings(const struct config *config, const char *target,
                           struct check_list *list);

/*
 * check_run: every check of config's targets (only target when it is not NULL) and of the
 * host, appended to list. The checks that need the database are left out for a target whose
 * login failed (that failure says why).
 */
void check_run(const struct config *config, const char *target, struct check_list *list);

/* check_status_name: "ok", "warning" or "failed". */
const char *check_status_name(enum check_status status);

/* check_list_free: release the results; the list is empty again. */
void check_list_free(struct check_list *list);

/*
 * check_log: run's start: every check, each logged (failed at error level, warning at
 * warning level); returns the number of failed checks. The daemon goes on either way.
 */
size_t check_log(const struct config *config);

#endif
