/*
 * conninfo.h - a libpq connection string shown without its passwords.
 *
 * conninfo_redact() masks the passwords of a connection string for logs. A conninfo_secrets
 * holds what a connection string has that must never be shown (its passwords, and for a URI
 * whose user information libpq reads otherwise than it looks, every piece of that text), and
 * conninfo_scrub() masks those in a message: libpq and the server quote pieces of the
 * connection string (a host name, a port, a database name) in their errors.
 */
#ifndef CONNINFO_H
#define CONNINFO_H

#include <stdbool.h>
#include <stddef.h>

/* What a connection string holds that no message may repeat. */
struct conninfo_secrets {
	char **texts; /* each masked wherever it stands as a whole word */
	size_t count;
	bool ambiguous; /* a URI whose user information libpq reads otherwise than it looks */
	bool hide_all;  /* out of memory: nothing can be checked, so nothing is shown */
};

/* conninfo_redact: copy conninfo into buf with any password value replaced by "***". */
void conninfo_redact(const char *conninfo, char *buf, size_t buflen);

/*
 * conninfo_is_string: whether libpq takes conninfo for a connection string (a URI, or
 * key=value pairs) rather than a bare database name.
 */
bool conninfo_is_string(const char *conninfo);

/*
 * conninfo_secrets_init: collect the secrets of conninfo; 0, or -1 when libpq cannot parse it
 * (it must then not be quoted at all). A bare database name has none.
 */
int conninfo_secrets_init(struct conninfo_secrets *secrets, const char *conninfo);

/* conninfo_secrets_free: release what conninfo_secrets_init collected. */
void conninfo_secrets_free(struct conninfo_secrets *secrets);

/*
 * conninfo_scrub: replace in the text (a string in a buffer of size bytes) every secret that
 * stands as a whole word by "***", cutting the result to fit.
 */
void conninfo_scrub(const struct conninfo_secrets *secrets, char *text, size_t size);

/*
 * conninfo_environment: this process's environment with the connection parameters of options
 * (libpq's parse of a connection string; NULL for none) set in each option's libpq variable
 * (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE, ...), dbname left out, and PGAPPNAME set to
 * application_name: how a child program (pg_restore, pg_dump) gets a connection without any
 * of it on its command line. Its messages are in English (LC_MESSAGES=C, the parent's LC_ALL
 * and LANGUAGE left out), as restore-worker reads them (--verbose lines, errors). NULL when
 * out of memory; conninfo_environment_free() releases it.
 */
struct _PQconninfoOption;
char **conninfo_environment(const struct _PQconninfoOption *options, const char *application_name);

/* conninfo_environment_free: release what conninfo_environment returned; NULL is fine. */
void conninfo_environment_free(char **env);

/*
 * conninfo_dbname_option: "--dbname=dbname='<name>'" with name quoted for libpq, so that a
 * child program takes name as a database name whatever it holds ('=' included); NULL when out
 * of memory. The caller frees it.
 */
char *conninfo_dbname_option(const char *name);

#endif
