/*
 * run_as.h - a root command's judging done as the worker's user, the owner of spool_dir.
 */
#ifndef RUN_AS_H
#define RUN_AS_H

#include <stddef.h>

/* The exit status of a child that could not become the user (no command uses it). */
#define RUN_AS_CANNOT 125

/*
 * run_as_spool_owner: when the caller is root and spool_dir belongs to another user, run
 * fn(arg) in a child process that has become that user (its groups, HOME) and return 1 with
 * fn's result (0 to 124) in *status and the user's name in who. Returns 0 (who empty) when
 * there is nobody else to be: the caller then runs fn itself. -1 with a sentence in err when
 * the child could not be run or could not become the user.
 */
int run_as_spool_owner(const char *spool_dir, int (*fn)(void *arg), void *arg, int *status,
                       char *who, size_t wholen, char *err, size_t errlen);

#endif
