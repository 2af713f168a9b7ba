/*
 * version.h - the newest dump archive version a restore accepts, and why: shared by the
 * restore, the inspection and check; and the hint for a dump from a newer server.
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

/*
 * restore_newer_dump_hint: for a restore that failed with error on a server of version server
 * (PQserverVersion; 0: unknown), the reason that may lie behind it when the dump comes from a
 * newer server (dump_server: the dump's server version, "17.2"; NULL: unknown) than the
 * target's (a 17 dump into 15: its SQL can use what 15 lacks), as text to append to the error
 * (" (...)"), in buf; "" otherwise. Returns buf.
 */
const char *restore_newer_dump_hint(const char *dump_server, const char *error, int server,
                                    char *buf, size_t len);

#endif
