/*
 * analyze.h - ANALYZE of a restored database, so that the application's first queries find
 * planner statistics: over the target's restore_jobs connections at once, largest tables first,
 * leaving out the tables that have statistics already (restored from a pg_dump 18 dump). It only
 * ever warns.
 */
#ifndef ANALYZE_H
#define ANALYZE_H

#include "database.h"
#include "report.h"
#include "restore.h"
#include "swap.h"

/*
 * How long ANALYZE of one table waits for a lock. Above the server's default deadlock_timeout
 * (1 s), after which an autovacuum worker holding the table gives way to a waiting session.
 */
#define ANALYZE_LOCK_TIMEOUT_S 2

/*
 * analyze_restored: ANALYZE the tables of the restored database that have no statistics yet:
 * db's (strategy transaction, after its commit: db's connection and up to restore_jobs - 1
 * more to the target), or swap's new database (strategy swap, before the swap: up to
 * restore_jobs connections of its own, all closed again before it returns), largest first,
 * outside any transaction. A table whose lock it waited for in vain (ANALYZE_LOCK_TIMEOUT_S) is
 * skipped with a warning; once o->cancel is set every statement is cancelled, and a warning says
 * how many tables were left. A connection that cannot be made leaves its share to the others;
 * the table of one that is lost goes to another (once). Its time goes into report->analyze_s, a
 * failure into report's warnings, the server's notices to o->log.
 */
void analyze_restored(const struct restore_options *o, struct database *db, struct swap *swap,
                      struct report *report);

#endif
