/*
 * version.h - the newest dump archive version a restore accepts, shared by the restore and
 * the inspection.
 */
#ifndef VERSION_H
#define VERSION_H

#include <stdbool.h>
#include <stddef.h>

/*
 * restore_version_limit: the newest archive minor version (of 1.x) accepted, the lower of
 * config_major.config_minor (the target's max_dump_version, target NULL for the default) and
 * what pg_restore reads; why says which limit it is, *from_config whether it is the
 * configuration's. -1 with err when pg_restore cannot tell its version.
 */
int restore_version_limit(const char *pg_restore, int config_major, int config_minor,
                          const char *target, char *why, size_t whylen, bool *from_config,
                          char *err, size_t errlen);

#endif
