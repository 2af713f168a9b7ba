/*
 * target_empty.h - empty the target database before a restore, or say why the role cannot.
 *
 * Emptying removes everything that pg_dump of the database would dump (the restore then puts
 * back exactly what the backup holds): every user schema with all it contains, the objects
 * that live in no schema (publications, event triggers, extensions, casts, transforms,
 * foreign servers and data wrappers, procedural languages, access methods) and every large
 * object; then it recreates schema public as initdb makes it. What the connected role may
 * not drop, and what nothing else drops with it, makes target_empty_check() refuse.
 */
#ifndef TARGET_EMPTY_H
#define TARGET_EMPTY_H

#include <stddef.h>

#include <libpq-fe.h>

/*
 * target_empty_check: 0 when the connected role can empty the database; -1 with err naming
 * what it cannot drop (or why the check itself failed). Changes nothing.
 */
int target_empty_check(PGconn *conn, char *err, size_t errlen);

/*
 * target_empty: empty the database, inside the caller's transaction; 0, or -1 with err (the
 * caller then rolls back).
 */
int target_empty(PGconn *conn, char *err, size_t errlen);

#endif
