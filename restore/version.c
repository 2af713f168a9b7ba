/*
 * version.c - the newest dump archive version a restore accepts, and why: the lower of the
 * target's max_dump_version and what the newest pg_restore found reads (see version.h); and
 * what to add to the error of a dump from a newer server than the target's.
 */
#include "version.h"

#include <stdio.h>
#include <string.h>

/* restore_version_limit: the newest archive minor version accepted (version.h). */
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

/*
 * restore_newer_dump_hint: why a dump from a newer server may fail (version.h). pg_restore 17
 * and later, connected to the server (the swap's), set transaction_timeout, which servers
 * before 17 lack; and a 17 dump's SQL can use what 15 lacks.
 */
const char *
restore_newer_dump_hint(const char *dump_server, const char *error, int server, char *buf,
                        size_t len)
{
	int dumped = 0;

	buf[0] = '\0';
	if (server > 0 && server < 170000 && strstr(error, "\"transaction_timeout\"") != NULL)
		snprintf(buf, len,
		         " (pg_restore 17 and later set transaction_timeout, which PostgreSQL %d "
		         "lacks: restore this dump with strategy transaction)",
		         server / 10000);
	else if (dump_server != NULL && server > 0 && sscanf(dump_server, "%d", &dumped) == 1 &&
	         dumped >= 10 && dumped > server / 10000)
		snprintf(
		    buf, len,
		    " (the dump comes from a PostgreSQL %d server, the target's is %d.%d: its SQL "
		    "may need the newer server)",
		    dumped, server / 10000, server % 10000);
	return buf;
}
