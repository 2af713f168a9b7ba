/*
 * metrics_state.h - internal to the metrics (metrics.c, metrics_state.c): the counters' file
 * <spool_dir>/metrics.state (its format: metrics_state.c) and the lock held while it is read,
 * counted into and saved.
 */
#ifndef METRICS_STATE_H
#define METRICS_STATE_H

#include <stddef.h>

#include "metrics.h"

/*
 * metrics_target_get: the entry of target name in list (*n entries), added (all zero) when
 * missing; NULL when out of memory.
 */
struct metrics_target *metrics_target_get(struct metrics_target **list, size_t *n,
                                          const char *name);

/*
 * metrics_state_read: replace m's targets with what metrics.state holds. A missing file
 * changes nothing (no run counted yet, or the counters in memory are newer); an unreadable
 * one is logged once and changes nothing either, so counters never go backwards while running.
 */
void metrics_state_read(struct metrics *m);

/* metrics_state_save: write m's targets into metrics.state, atomically; 0, or -1 with err. */
int metrics_state_save(struct metrics *m, char *err, size_t errlen);

/*
 * metrics_state_lock: lock metrics.lock (waiting while another process holds it); its
 * descriptor (close it to unlock), or -1 with errno.
 */
int metrics_state_lock(struct metrics *m);

#endif
