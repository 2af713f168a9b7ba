/*
 * toc_list.h - a pg_restore TOC list (-l, read back with -L) that leaves entries out.
 *
 * pg_restore's own way of restoring part of a dump: `pg_restore -l` lists the entries, a line
 * each ("214; 1259 16386 TABLE public t owner"); a line made a comment (";" first) is left out
 * by `pg_restore -L list`. The entries keep pg_restore's order.
 */
#ifndef TOC_LIST_H
#define TOC_LIST_H

#include <stddef.h>
#include <stdint.h>

/*
 * toc_list_write: write to list_path (created, never replaced) the list of dump_path's
 * entries with the nskip dump ids in skip left out; 0, or -1 with err.
 */
int toc_list_write(const char *pg_restore, const char *dump_path, const char *list_path,
                   const int64_t *skip, size_t nskip, char *err, size_t errlen);

#endif
