/*
 * version.c - the newest dump archive version a restore accepts, and why: the lower of the
 * target's max_dump_version and what the configured pg_restore reads (see version.h).
 */
#include "version.h"

#include <stdio.h>

#include "database.h"

int
restore_version_limit(const char *pg_restore, int config_major, int config_minor,
                      const char *target, char *why, size_t whylen, bool *from_config, char *err,
                      size_t errlen)
{
	int pr_major, pr_minor;

	if (database_pg_restore_max_version(pg_restore, &pr_major, &pr_minor, err, errlen) < 0)
		return -1;
	*from_config = config_major < 1 || (config_major == 1 && config_minor < pr_minor);
	if (*from_config) {
		if (target != NULL)
			snprintf(why, whylen, "the max_dump_version of target %s is %d.%d", target,
			         config_major, config_minor);
		else
			snprintf(why, whylen, "restore-worker accepts up to %d.%d by default",
			         config_major, config_minor);
		return config_major < 1 ? 1 : config_minor;
	}
	snprintf(why, whylen, "%s reads up to %d.%d", pg_restore, pr_major, pr_minor);
	return pr_minor;
}
