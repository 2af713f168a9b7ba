/*
 * dump_parts.h - what the dump reader's files share (not for the rest of the engine): dump.c
 * reads the header and the table of contents, dump_data.c the data blocks that follow, and
 * dump_sql.c judges the SQL among them that pg_restore would send; all three read through
 * dump_reader.h. The calls go one way: dump.c calls dump_data.c and dump_sql.c, dump_data.c
 * calls dump_sql.c, and none calls back.
 */
#ifndef DUMP_PARTS_H
#define DUMP_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "dump.h"
#include "dump_reader.h"
#include "sqlstmt.h"

#define TAG_BYTES 128

/* One TOC entry, as much of it as messages and checks need. */
struct toc_entry {
	int64_t dump_id;
	bool wants_data; /* its offset flag says a data block follows */
	bool offset_set; /* ... and where: pg_dump could seek back to record it */
	bool seen_data;
	bool copy_data; /* it has a COPY statement: its data is COPY data, not SQL */
	char desc[32];
	char namespace[TAG_BYTES];
	char tag[TAG_BYTES];
};

/* dump_data.c */

/* dump_toc_compare: order entries by dump id, for qsort and bsearch. */
int dump_toc_compare(const void *a, const void *b);

/* dump_read_data: every data block until the end of the input, checked against the TOC. */
int dump_read_data(struct reader *r, struct dump_info *info, struct toc_entry *toc, size_t ntoc,
                   uint64_t stop_after);

/* dump_sql.c */

/* dump_sql_refuse: the error for entry te holding a statement a restore never runs; -1. */
int dump_sql_refuse(struct reader *r, const struct toc_entry *te,
                    const struct sqlstmt_refusal *why);

/*
 * dump_sql_feed: follow n bytes of SQL that pg_restore sends; the first statement a restore
 * never runs goes into *bad (when it is still NULL). -1 only when out of memory.
 */
int dump_sql_feed(struct reader *r, struct sqlstmt *st, const char *text, size_t n,
                  const struct sqlstmt_refusal **bad);

/* dump_sql_end: the SQL (or a string of it pg_restore sends on its own) ends. */
void dump_sql_end(struct sqlstmt *st, const struct sqlstmt_refusal **bad);

/* A data block that is SQL (a table dumped with INSERT statements), read as it is measured. */
struct dump_sql_data {
	const struct toc_entry *te;
	struct sqlstmt st;
	z_stream z; /* a second inflater for compressed blocks: the counter keeps no output */
	bool z_ready, z_ended;
	unsigned char *out;
};

/* dump_sql_data_begin: a data block of te that is SQL begins. */
int dump_sql_data_begin(struct reader *r, struct dump_sql_data *d, const struct toc_entry *te,
                        bool compressed, bool standard_strings);

/* dump_sql_data_feed: n more stored bytes of the block (compressed when it is). */
int dump_sql_data_feed(struct reader *r, struct dump_sql_data *d, const unsigned char *in,
                       size_t n);

/* dump_sql_data_end: the block ends: its last statement is judged; frees *d. */
int dump_sql_data_end(struct reader *r, struct dump_sql_data *d);

/* dump_sql_data_free: release what *d holds (also after an error). */
void dump_sql_data_free(struct dump_sql_data *d);

#endif
