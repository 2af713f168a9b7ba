/*
 * lock_budget.h - will one restore transaction fit in the server's lock table?
 *
 * A restore in one transaction locks every object it drops (what DROP SCHEMA ... CASCADE
 * reaches: relations and their TOAST tables, types, constraints, defaults, triggers, rules,
 * functions) and every relation it creates, all until it commits. The server's lock table is
 * shared by all sessions and sized from max_locks_per_transaction; a transaction that needs
 * more fails half way with "out of shared memory". lock_budget_check() estimates the need
 * before anything changes and refuses what cannot fit.
 */
#ifndef LOCK_BUDGET_H
#define LOCK_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "dump.h"

/*
 * lock_budget_check: 0 when a restore of dump into the database conn is connected to fits
 * the lock table; -1 with err giving the estimate, the table's size and the setting that
 * would make it fit; also -1 with err when the check itself failed. Changes nothing.
 */
int lock_budget_check(PGconn *conn, const struct dump_info *dump, char *err, size_t errlen);

#endif
