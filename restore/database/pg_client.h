/*
 * pg_client.h - which pg_restore or pg_dump a job runs. The configuration pins one, or the
 * ones installed are found (each <dir>/<major>/bin of the client folders, then PATH), and each
 * job takes the one it needs: a restore the oldest pg_restore that reads its dump's archive
 * version, a backup the oldest pg_dump that can dump its server.
 */
#ifndef PG_CLIENT_H
#define PG_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* Where clients are looked for when the configuration names no folders. */
#define PG_CLIENT_DEFAULT_DIR "/usr/lib/postgresql"

/* One client program found. */
struct pg_client {
	char *path;
	int major;         /* the PostgreSQL major version (9 for 9.6, 17 for 17.12) */
	char version[32];  /* as its --version says it: "17.12" */
	int archive_minor; /* the archive version 1.x it writes (pg_dump) or reads up to */
};

/* The programs of one name found, oldest major first. */
struct pg_client_set {
	char tool[16]; /* "pg_restore" or "pg_dump" */
	struct pg_client *v;
	size_t n;
	bool pinned;         /* the configuration named it: v holds that one only */
	char looked_in[512]; /* where it looked, for messages */
};

/*
 * pg_client_find: the programs named tool. pinned (not NULL): that one only, an error when it
 * does not run. Otherwise beside (a path whose folder is looked in first; may be NULL), every
 * <dir>/<major>/bin/<tool> of dirs (NULL-terminated; NULL for PG_CLIENT_DEFAULT_DIR), then
 * PATH; one that does not say its version is passed over, and so is Debian's pg_wrapper
 * (it runs one of /usr/lib/postgresql/<major>/bin). None found is no error (set->n == 0).
 * 0, or -1 with err.
 */
int pg_client_find(struct pg_client_set *set, const char *tool, const char *pinned,
                   const char *beside, const char *const *dirs, char *err, size_t errlen);

/* pg_client_set_free: release what pg_client_find put into set. */
void pg_client_set_free(struct pg_client_set *set);

/* pg_client_reader: the oldest pg_restore of set that reads archive version 1.minor, or NULL. */
const struct pg_client *pg_client_reader(const struct pg_client_set *set, int minor);

/* pg_client_for_server: the oldest pg_dump of set whose major is at least server_major, or NULL. */
const struct pg_client *pg_client_for_server(const struct pg_client_set *set, int server_major);

/* pg_client_newest: the client of set that reads or writes the newest archive, or NULL. */
const struct pg_client *pg_client_newest(const struct pg_client_set *set);

/*
 * pg_client_describe: what set holds, for a message: "pg_restore 15.14
 * (/usr/lib/postgresql/15/bin/pg_restore), 17.12 (...)", or "no pg_restore in <where>".
 */
void pg_client_describe(const struct pg_client_set *set, char *buf, size_t len);

/*
 * pg_client_advice: how to get the tool of PostgreSQL major or later, for a refusal: "install
 * postgresql-client-17 (or newer), or name it with pg_restore: or pg_client_dirs:".
 */
void pg_client_advice(const struct pg_client_set *set, int major, char *buf, size_t len);

/* pg_client_archive_minor: the archive version 1.x that pg_dump of PostgreSQL major writes. */
int pg_client_archive_minor(int major);

#endif
