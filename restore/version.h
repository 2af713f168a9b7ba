/*
 * version.h - the newest dump archive version a restore accepts, and why: shared by the
 * restore, the inspection and check.
 */
#ifndef VERSION_H
#define VERSION_H

#include <stdbool.h>
#include <stddef.h>

#include "pg_client.h"

/*
 * restore_version_limit: the newest archive minor version (of 1.x) accepted, the lower of
 * config_major.config_minor (the target's max_dump_version, target NULL for the default) and
 * what the newest pg_restore of readers reads; why says which limit it is, *from_config
 * whether it is the configuration's. -1 with err when no pg_restore was found.
 */
int restore_version_limit(const struct pg_client_set *readers, int config_major, int config_minor,
                          const char *target, char *why, size_t whylen, bool *from_config,
                          char *err, size_t errlen);

#endif
