/*
 * version.c - the newest dump archive version a restore accepts, and why: the lower of the
 * target's max_dump_version and what the newest pg_restore found reads (see version.h).
 */
#include "version.h"

#include <stdio.h>

int
restore_version_limit(const struct pg_client_set *readers, int config_major, int config_minor,
                      const char *target, char *why, size_t whylen, bool *from_config, char *err,
                      size_t errlen)
{
	const struct pg_client *newest = pg_client_newest(readers);

	if (newest == NULL) {
		snprintf(
		    err, errlen,
		    "no pg_restore was found (looked in %s); install postgresql-client, or name "
		    "one with pg_restore: in the configuration",
		    readers->looked_in);
		return -1;
	}
	*from_config =
	    config_major < 1 || (config_major == 1 && config_minor <= newest->archive_minor);
	if (*from_config) {
		if (target != NULL)
			snprintf(why, whylen, "the max_dump_version of target %s is %d.%d", target,
			         config_major, config_minor);
		else
			snprintf(why, whylen, "restore-worker accepts up to %d.%d by default",
			         config_major, config_minor);
		return config_major < 1 ? 1 : config_minor;
	}
	snprintf(why, whylen, "the newest pg_restore found, %s (PostgreSQL %s), reads up to 1.%d",
	         newest->path, newest->version, newest->archive_minor);
	return newest->archive_minor;
}
