/*
 * swap.h - the swap strategy: restore into a new database beside the target, then swap names.
 *
 * The backup is restored with `pg_restore --jobs=N` into a database created from template0
 * beside the target (same owner, encoding, collation, ctype, locale provider and tablespace),
 * named <target>_rw_<first 8 hex digits of the job id> and marked by its comment (naming the
 * job and the whole target), with the target's database-wide default privileges. Once the
 * files are durable, one short transaction on a connection to the maintenance database
 * carries over what belongs to the environment (database-level settings, also per role; the
 * grants; the connection limit; the comment; security labels; the template flag) onto the new
 * database, marks the target as swapped out, renames it to <target>_rw_<8 hex>_old and the
 * new database to the target's name, and commits; the old database is dropped afterwards.
 * Both renames commit together, so the target's name always holds either the old or the new
 * state. A database left behind under either name (a killed worker) is dropped by the next
 * swap into the same target (swap_remove_leftovers), which knows it by its marker.
 *
 * Every session of the swap (pg_restore's through PGOPTIONS, the file check's, ANALYZE's)
 * gets the restore's session settings (database.h); the ones on the new database also the
 * target's database-level settings, which it gets for good only at the swap.
 *
 * Every message passes through conninfo_scrub(): no part of a password is ever shown.
 */
#ifndef SWAP_H
#define SWAP_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conninfo.h"
#include "report.h"

struct swap;

/* How swap_open failed: a refusal (nothing could be wrong with the backup) or an error. */
enum swap_failure {
	SWAP_REFUSED,
	SWAP_ERROR,
};

/*
 * swap_open: connect to maintenance_db with conninfo's other parameters (host, port, user,
 * password, ...) for a swap of database target_db by job job_id; check that the swap may be
 * done (the role may create databases and owns the target, the target has no logical
 * replication slot and no subscription) and read what the new database must copy. 0, or -1
 * with err and *why.
 */
int swap_open(const char *conninfo, const char *maintenance_db, const char *target_db,
              const char *job_id, struct swap **out, enum swap_failure *why, char *err,
              size_t errlen);

/*
 * swap_connect: a connection (application_name restore-worker) with the target's parameters
 * and the restore's session settings to the new database (new_db; with the target's
 * database-level settings as its defaults, as an application will have them) or to the
 * target; the caller PQfinish()es it. NULL with err.
 */
PGconn *swap_connect(struct swap *s, bool new_db, char *err, size_t errlen);

/*
 * swap_items_done: how many TOC entries swap_restore's pg_restore has done so far (from its
 * --verbose lines); any thread may ask, for progress.
 */
uint64_t swap_items_done(const struct swap *s);

/* swap_secrets: what must never appear in a message about the swap's connections. */
const struct conninfo_secrets *swap_secrets(const struct swap *s);

/* swap_current_size: the target database's size when swap_open looked (pg_database_size). */
uint64_t swap_current_size(const struct swap *s);

/* swap_new_name: the name of the database the backup is restored into. */
const char *swap_new_name(const struct swap *s);

/*
 * swap_remove_leftovers: drop the databases earlier swaps into this target left behind (their
 * comment marks them so, naming this very target), when they have the target's owner and
 * nobody uses them; with end_orphans, first end their restore-worker sessions (a caller holding the
 * target's lock: no live worker uses them). A failure goes into report's warnings.
 */
void swap_remove_leftovers(struct swap *s, int end_orphans, struct report *report);

/*
 * swap_tidy: connect as swap_open does and swap_remove_leftovers, also when the role may not
 * swap (a worker's start). 0, or -1 with err when it could not connect or read the target.
 * Each database dropped, and each that stays, is a warning in report.
 */
int swap_tidy(const char *conninfo, const char *maintenance_db, const char *target_db,
              int end_orphans, struct report *report, char *err, size_t errlen);

/*
 * swap_restore: create the new database and restore dump_path into it with pg_restore (only
 * the entries list_path lists when it is not NULL), in jobs parallel jobs. 0, or -1 with
 * report->database.errors and err (the new database is then left for swap_abort). cancel,
 * when set, makes it stop.
 */
int swap_restore(struct swap *s, const char *pg_restore, const char *dump_path,
                 const char *list_path, int jobs, struct report *report,
                 volatile sig_atomic_t *cancel, char *err, size_t errlen);

/*
 * swap_commit: in one transaction, check that nobody uses the target, carry over its
 * environment onto the new database and swap the names. before_commit (when not NULL) runs
 * just before the COMMIT is sent, inside the transaction (swap_commit_point then tells what it
 * is): -1 from it rolls back. 0 once committed (the target's name then holds the backup); 1
 * when committed although the COMMIT's reply was lost (err says so: a warning); -1 with err
 * when not committed (the target is as it was); -2 with err when the reply was lost and the
 * server could not be asked (within DATABASE_OUTCOME_WAIT_SECONDS, or until the cancel flag
 * of swap_set_cancel was set): both databases are then kept, and err names them.
 */
int swap_commit(struct swap *s, int (*before_commit)(void *ctx, char *err, size_t errlen),
                void *ctx, char *err, size_t errlen);

/*
 * swap_commit_point: while before_commit runs, what a later process needs to ask whether the
 * swap committed: its transaction id (txid_current()), server process and the new database's
 * OID (text).
 */
void swap_commit_point(const struct swap *s, char *xact_id, size_t xact_len, int *pid, char *oid,
                       size_t oid_len);

/* swap_set_cancel: a flag that, once set, stops swap_commit waiting for a lost COMMIT's answer. */
void swap_set_cancel(struct swap *s, volatile sig_atomic_t *cancel);

/*
 * swap_rehearse: for a rehearsal (--dry-run), run swap_commit's transaction up to its COMMIT
 * (the checks, the target's environment given to the new database, the renames), then roll
 * it back: it fails where the real swap's would. 0, or -1 with err; nothing changed either way.
 */
int swap_rehearse(struct swap *s, char *err, size_t errlen);

/* swap_drop_old: after swap_commit, drop the old database; -1 with err when it could not. */
int swap_drop_old(struct swap *s, char *err, size_t errlen);

/*
 * swap_abort: before swap_commit, drop the new database if it was created; -1 with err when
 * it could not be dropped (the next swap into the target drops it). NULL is fine.
 */
int swap_abort(struct swap *s, char *err, size_t errlen);

/* swap_close: disconnect; NULL is fine. */
void swap_close(struct swap *s);

#endif
