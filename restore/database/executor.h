/*
 * executor.h - the executor of pg_restore's script (not for the program): database.c runs it
 * in the restore's open transaction (executor.c reads the script, executor_send.c sends it).
 */
#ifndef EXECUTOR_H
#define EXECUTOR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "database_parts.h"
#include "report.h"

/*
 * executor_run: run pg_restore on dump_path (only the entries list_path lists when it is not
 * NULL) and execute its script in db's open transaction; 0, or -1 with
 * report->database.errors and err. *ended_transaction is set when the dump's own SQL ended
 * the transaction. cancel, when set by a signal handler, makes it stop.
 */
int executor_run(struct database *db, const char *pg_restore, const char *dump_path,
                 const char *list_path, struct report *report, volatile sig_atomic_t *cancel,
                 bool *ended_transaction, char *err, size_t errlen);

#endif
