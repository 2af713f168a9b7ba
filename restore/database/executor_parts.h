/*
 * executor_parts.h - what the executor's two files share (not for the program): executor.c
 * reads pg_restore's script (its entry headers, preamble and trailer, the lines) and
 * executor_send.c sends each entry's statements and COPY data to the server, recording a
 * failure against the entry.
 */
#ifndef EXECUTOR_PARTS_H
#define EXECUTOR_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "database_parts.h"
#include "report.h"
#include "sqlscan.h"

/* A growing byte buffer. */
struct buffer {
	char *data;
	size_t len, cap;
};

/* buffer_append: add n bytes; -1 when out of memory. */
int buffer_append(struct buffer *b, const char *s, size_t n);

/* The executor of pg_restore's script. */
struct executor {
	struct database *db;
	struct report *report;
	struct buffer line;    /* a line not yet complete */
	struct buffer pending; /* SQL of the current entry, not yet sent */
	struct buffer errtext; /* what pg_restore said that looks like an error */
	char toc_id[96];       /* "216; 1259 16386" */
	char toc_name[512];    /* "TABLE public t" */
	bool in_preamble;      /* before the first entry header */
	bool in_trailer;       /* after "PostgreSQL database dump complete" */
	bool is_data;          /* the entry is "Data for Name: ..." */
	bool header_has_id;    /* the current header began with a TOC entry line */
	bool in_copy;
	bool copy_bol;         /* COPY data: at the beginning of a line */
	int copy_match;        /* 1: saw "\" at a line's start; 2: saw "\." */
	struct sqlscan scan;   /* where the SQL stands: headers count only at the top level */
	bool standard_strings; /* standard_conforming_strings, as the script's preamble set it */
	int statements;        /* executor_send: statements of the entry judged */
	bool sending_copy;     /* executor_send: the entry's statement is a COPY FROM stdin */
	bool failed;
	bool ended_transaction; /* the dump's own SQL committed or rolled back */
	char *err;
	size_t errlen;
};

/* executor_fail: record an error of the current entry; always returns -1. */
int executor_fail(struct executor *ex, const char *msg);

/*
 * executor_send: send the current entry's pending SQL, judged whole first, one statement at a
 * time; with copy, it must be one COPY FROM stdin, whose data follows (1 is returned then).
 */
int executor_send(struct executor *ex, bool copy);

/*
 * executor_copy_data: scan COPY data for the `\.` line, sending the rest (and ending the COPY
 * at that line); returns the bytes consumed, or -1.
 */
ssize_t executor_copy_data(struct executor *ex, const char *buf, size_t len);

#endif
