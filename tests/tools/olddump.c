/*
 * olddump.c - write a small pg_dump custom-format archive the way old pg_dump versions did.
 *
 * pg_dump 15 cannot write what pg_dump 8.x, 9.x and 10 wrote, yet users bring such dumps. This
 * test tool writes a small application database (two or three tables with a sequence, a
 * default, primary keys, indexes, a foreign key, their data and the sequence's value) as one
 * of those versions would have: archive version 1.10 to 1.14 with that version's header and
 * TOC entry fields, and the TOC entries that version's pg_dump emitted around the tables
 * (ENCODING, STDSTRINGS, SEARCHPATH, SCHEMA public and its comment, plpgsql as an extension
 * or a procedural language, and its comment). It writes no large objects.
 *
 * The format differences it follows (PostgreSQL's pg_backup_archiver.c, ReadHead/ReadToc):
 * the header is the same from 1.10 to 1.14 (the compression an Int; the server's and
 * pg_dump's version strings there since 1.10); a TOC entry has no section Int before 1.11
 * (pg_restore infers the section from the entry's desc) and a tableam Str from 1.14 on. Profiles
 * differ in content: before the CVE-2018-1058 fix (archive 1.13) names were not schema-qualified
 * and there was no SEARCHPATH entry, and before 9.0 plpgsql was a PROCEDURAL LANGUAGE rather than
 * an EXTENSION.
 *
 * Data blocks are written as pg_dump wrote them: one zlib stream per table in chunks of at
 * most 4096 stored bytes, or with -Z 0 one chunk per row, each stream ending in pg_dump's
 * "\.\n\n\n". By default the data offsets are recorded in the TOC, as pg_dump did on a
 * seekable file (it writes the TOC, the data, then the TOC again); --offsets unset leaves
 * them unrecorded, as on a pipe. Rows are a pure function of their number, so the same
 * command always writes the same bytes.
 *
 * On success it prints what it wrote (tables, rows, COPY bytes, decompressed size) on stdout;
 * --data-dir also saves each table's COPY text, so tests can compare a restored table with
 * COPY ... TO STDOUT. Exit status 0, 1 on an I/O error, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define INT_SIZE 4    /* bytes in an Int's magnitude, as every pg_dump wrote it */
#define OFF_SIZE 8    /* bytes in a data offset, as on 64-bit systems */
#define ZLIB_OUT 4096 /* pg_dump's compressed chunk size (ZLIB_OUT_SIZE) */

/* Section numbers of TOC entries (pg_backup.h, teSection). */
#define SECTION_NONE      1
#define SECTION_PRE_DATA  2
#define SECTION_DATA      3
#define SECTION_POST_DATA 4

/* Data offset flags (pg_backup_archiver.h) and the data block type (pg_backup_custom.c). */
#define POS_NOT_SET 1
#define POS_SET     2
#define NO_DATA     3
#define BLK_DATA    1

/* What a pg_dump generation put into a dump besides the application's objects. */
struct profile {
	const char *name;
	const char *pg_version; /* written as both server and pg_dump version */
	int default_minor;      /* the archive version it wrote: 1.default_minor */
	bool extension;         /* plpgsql as an EXTENSION (9.0+), else a PROCEDURAL LANGUAGE */
	bool qualified;         /* names schema-qualified and a SEARCHPATH entry (CVE-2018-1058) */
	bool alter_only;        /* ALTER TABLE ONLY ... SET DEFAULT (9.0+) */
	bool sequence_as;       /* CREATE SEQUENCE ... AS integer (10+) */
	bool table_in_tags;     /* a constraint's or default's tag starts with its table (11+) */
	bool public_entries;    /* SCHEMA public, plpgsql and their comments by default (< 11) */
	const char *what;       /* for --help */
};

static const struct profile profiles[] = {
    {"pg83", "8.3.23", 10, false, false, false, false, false, true,
     "pg_dump 8.2-8.3: PROCEDURAL LANGUAGE plpgsql, unqualified names"},
    {"pg84", "8.4.22", 11, false, false, false, false, false, true,
     "pg_dump 8.4: as pg83, with sections in the TOC"},
    {"pg96", "9.6.7", 12, true, false, true, false, false, true,
     "pg_dump 9.0-9.6.7 and 10.0-10.2: EXTENSION plpgsql, unqualified names"},
    {"pg10", "10.5", 13, true, true, true, true, false, true,
     "pg_dump 9.3.22+/9.6.8+/10.3+: SEARCHPATH entry, schema-qualified names"},
    {"pg14", "14.10", 14, true, true, true, true, true, false,
     "pg_dump 12-14: no public schema or plpgsql entries, tableam in the TOC"},
};

#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

/* The command line. */
struct options {
	int minor; /* archive version 1.minor, 10 to 14 */
	const struct profile *profile;
	long long rows;
	int tables;                 /* 2 or 3 */
	int compression;            /* the header's level: -1 default zlib, 0 none, 1-9 */
	bool offsets;               /* record data offsets in the TOC */
	int public_schema, plpgsql; /* -1: as the profile says */
	const char *public_comment; /* NULL: none */
	bool table_comment;
	const char *dbname;
	const char *output;
	const char *data_dir;
};

/* A growing string, for SQL text and rows; the program stops if memory runs out. */
struct text {
	char *data;
	size_t len, cap;
};

/* die: print a message and exit with status. */
static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void
die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("olddump: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* text_printf: append formatted text. */
static void
text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->data == NULL ? NULL : t->data + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die(1, "cannot format text");
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = (t->cap + (size_t)n + 1) * 2;
		t->data = realloc(t->data, t->cap);
		if (t->data == NULL)
			die(1, "out of memory");
	}
}

static char *sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sql: a freshly allocated formatted string (the caller frees it). */
static char *
sql(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		die(1, "out of memory");
	return s;
}

/*
 * The output file and where it is. Write errors are remembered and reported once, when the
 * file is closed: a test tool can afford to finish writing before it says it failed.
 */
struct out {
	FILE *f;
	int64_t pos;
	bool failed;
	int error;
};

/* out_bytes: append n bytes. */
static void
out_bytes(struct out *o, const void *bytes, size_t n)
{
	if (n == 0 || o->failed)
		return;
	if (fwrite(bytes, 1, n, o->f) != n) {
		o->failed = true;
		o->error = errno;
	}
	o->pos += (int64_t)n;
}

/* out_byte: one byte. */
static void
out_byte(struct out *o, int value)
{
	unsigned char c = (unsigned char)value;

	out_bytes(o, &c, 1);
}

/* out_int: an archive Int: a sign byte, then INT_SIZE bytes of magnitude, little-endian. */
static void
out_int(struct out *o, int64_t value)
{
	uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
	int i;

	out_byte(o, value < 0 ? 1 : 0);
	for (i = 0; i < INT_SIZE; i++)
		out_byte(o, (int)((magnitude >> (8 * i)) & 0xff));
}

/* out_str: an archive Str: its length as an Int, then its bytes; NULL has length -1. */
static void
out_str(struct out *o, const char *s)
{
	if (s == NULL) {
		out_int(o, -1);
		return;
	}
	out_int(o, (int64_t)strlen(s));
	out_bytes(o, s, strlen(s));
}

/* out_offset: a data offset: the flag byte, then OFF_SIZE bytes little-endian. */
static void
out_offset(struct out *o, int flag, int64_t offset)
{
	int i;

	out_byte(o, flag);
	for (i = 0; i < OFF_SIZE; i++)
		out_byte(o, (int)(((uint64_t)offset >> (8 * i)) & 0xff));
}

/* One application table: its definition and how its rows are made. */
struct table {
	const char *name;    /* unquoted */
	unsigned oid;        /* pg_class oid */
	const char *columns; /* COPY column list */
	const char *body;    /* the column definitions of CREATE TABLE */
	long long rows;
	uint64_t copy_bytes; /* the COPY text, without pg_dump's "\.\n\n\n" */
	void (*row)(long long i, long long rows, struct text *line);
};

static const time_t base_time = 1542763260; /* 2018-11-21 01:21:00 UTC */

/* row_customer: customer i: some notes NULL, some with escapes, some names not ASCII. */
static void
row_customer(long long i, long long rows, struct text *line)
{
	(void)rows;
	text_printf(line, "%lld\t%s %lld\t", i, i % 13 == 0 ? "Zoë" : "Customer", i);
	if (i % 7 == 0)
		text_printf(line, "\\N\n");
	else if (i % 11 == 0)
		text_printf(line, "first line\\nsecond\\tcolumn \\\\ backslash\n");
	else
		text_printf(line, "note %lld %08llx\n", i, (i * 2654435761LL) & 0xffffffffLL);
}

/* row_order: order i (id 10*i) of customer ((i - 1) mod customers) + 1. */
static void
row_order(long long i, long long rows, struct text *line)
{
	time_t when = base_time + (time_t)(i * 2222);
	long long customers = (rows + 1) / 2;
	char stamp[32];
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	text_printf(line, "%lld\t%lld\t%lld.%02lld\t%s\n", 10 * i, (i - 1) % customers + 1,
	            i * 1234 % 100000, i * 7 % 100, stamp);
}

/* row_version: the one row of Mendix's version table. */
static void
row_version(long long i, long long rows, struct text *line)
{
	(void)i;
	(void)rows;
	text_printf(line, "1.0.0.40\t2018-11-21 01:21:00\n");
}

enum { T_CUSTOMER, T_ORDER, T_VERSION, NTABLES };

static struct table tables[NTABLES] = {
    {"shop$customer", 16390, "id, name, note",
     "    id integer NOT NULL,\n    name character varying(200),\n    note text\n", 0, 0,
     row_customer},
    {"shop$order", 16397, "id, customer, total, placed",
     "    id bigint NOT NULL,\n    customer integer,\n    total numeric(12,2),\n"
     "    placed timestamp without time zone\n",
     0, 0, row_order},
    {"mendixsystem$version", 16402, "versionnumber, lastsyncdate",
     "    versionnumber character varying(30) NOT NULL,\n"
     "    lastsyncdate timestamp without time zone\n",
     0, 0, row_version},
};

/* Dump ids, numbered as pg_dump numbered them: catalog objects first, then data, then the rest. */
enum {
	ID_PLPGSQL = 1,
	ID_PUBLIC = 3,
	ID_CUSTOMER = 180,
	ID_CUSTOMER_SEQ,
	ID_ORDER,
	ID_VERSION,
	ID_CUSTOMER_DEFAULT,
	ID_CUSTOMER_PKEY,
	ID_ORDER_PKEY,
	ID_CUSTOMER_NAME_INDEX,
	ID_ORDER_CUSTOMER_INDEX,
	ID_ORDER_FKEY,
	ID_CUSTOMER_DATA = 2090,
	ID_ORDER_DATA,
	ID_VERSION_DATA,
	ID_CUSTOMER_SEQ_SET,
	ID_ENCODING,
	ID_STDSTRINGS,
	ID_SEARCHPATH,
	ID_PUBLIC_COMMENT,
	ID_PLPGSQL_COMMENT,
	ID_CUSTOMER_SEQ_OWNED,
	ID_CUSTOMER_COMMENT,
};

#define MAX_ENTRIES 32
#define MAX_DEPS    3

/* One TOC entry. Strings that are not literals are owned (freed by toc_free). */
struct entry {
	int dump_id;
	unsigned tableoid, oid;
	const char *tag, *desc;
	int section;
	char *defn, *drop, *copy, *owned_tag;
	const char *namespace, *tablespace, *tableam, *owner;
	int deps[MAX_DEPS];
	int ndeps;
	struct table *data; /* the table whose rows its data block holds, or NULL */
	int64_t offset;     /* where that block starts, once written */
};

struct toc {
	struct entry e[MAX_ENTRIES];
	int n;
};

/* toc_add: append an entry and return it for the caller to fill in further. */
static struct entry *
toc_add(struct toc *toc, int dump_id, unsigned tableoid, unsigned oid, const char *desc,
        const char *tag, int section, char *defn, char *drop)
{
	struct entry *e;

	if (toc->n == MAX_ENTRIES)
		die(1, "too many TOC entries");
	e = &toc->e[toc->n++];
	memset(e, 0, sizeof(*e));
	e->dump_id = dump_id;
	e->tableoid = tableoid;
	e->oid = oid;
	e->desc = desc;
	e->tag = tag;
	e->section = section;
	e->defn = defn != NULL ? defn : sql("%s", "");
	e->drop = drop != NULL ? drop : sql("%s", "");
	return e;
}

/* entry_dep: add a dependency on dump id. */
static void
entry_dep(struct entry *e, int dump_id)
{
	if (e->ndeps == MAX_DEPS)
		die(1, "too many dependencies");
	e->deps[e->ndeps++] = dump_id;
}

/* toc_free: release the strings the entries own. */
static void
toc_free(struct toc *toc)
{
	int i;

	for (i = 0; i < toc->n; i++) {
		free(toc->e[i].defn);
		free(toc->e[i].drop);
		free(toc->e[i].copy);
		free(toc->e[i].owned_tag);
	}
}

/* qname: a table-level object's name as the profile's pg_dump wrote it in SQL. */
static char *
qname(const struct options *opt, const char *name)
{
	bool plain = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(name);

	return sql("%s%s%s%s", opt->profile->qualified ? "public." : "", plain ? "" : "\"", name,
	           plain ? "" : "\"");
}

/* sql_literal: a string literal with its quotes doubled (the caller frees it). */
static char *
sql_literal(const char *s)
{
	struct text t = {0};

	text_printf(&t, "'");
	for (; *s != '\0'; s++)
		text_printf(&t, *s == '\'' ? "''" : "%c", *s);
	text_printf(&t, "'");
	return t.data;
}

/* add_table: the TABLE entry of table t, owned by the application's role. */
static void
add_table(struct toc *toc, const struct options *opt, struct table *t, int dump_id)
{
	char *name = qname(opt, t->name);
	struct entry *e;

	e = toc_add(toc, dump_id, 1259, t->oid, "TABLE", t->name, SECTION_PRE_DATA,
	            sql("CREATE TABLE %s (\n%s);\n", name, t->body), sql("DROP TABLE %s;\n", name));
	e->namespace = "public";
	e->tablespace = "";
	e->tableam = "heap";
	e->owner = "mendix";
	if (opt->public_schema)
		entry_dep(e, ID_PUBLIC);
	free(name);
}

/* add_data: the TABLE DATA entry of table t. */
static void
add_data(struct toc *toc, const struct options *opt, struct table *t, int dump_id, int table_id)
{
	char *name = qname(opt, t->name);
	struct entry *e;

	e = toc_add(toc, dump_id, 0, t->oid, "TABLE DATA", t->name, SECTION_DATA, NULL, NULL);
	e->copy = sql("COPY %s (%s) FROM stdin;\n", name, t->columns);
	e->namespace = "public";
	e->tablespace = "";
	e->owner = "mendix";
	e->data = t;
	entry_dep(e, table_id);
	free(name);
}

/* add_index_like: a CONSTRAINT, FK CONSTRAINT or INDEX entry on table t. */
static struct entry *
add_index_like(struct toc *toc, const struct options *opt, const struct table *t, int dump_id,
               unsigned tableoid, unsigned oid, const char *desc, const char *object,
               const char *definition)
{
	char *table = qname(opt, t->name), *quoted = qname(opt, object);
	const char *bare = opt->profile->qualified ? quoted + strlen("public.") : quoted;
	struct entry *e;
	char *defn, *drop;

	if (strcmp(desc, "INDEX") == 0) {
		defn = sql("CREATE INDEX %s ON %s USING btree (%s);\n", bare, table, definition);
		drop = sql("DROP INDEX %s;\n", quoted);
	} else {
		defn = sql("ALTER TABLE ONLY %s\n    ADD CONSTRAINT %s %s;\n", table, bare,
		           definition);
		drop = sql("ALTER TABLE ONLY %s DROP CONSTRAINT %s;\n", table, bare);
	}
	e = toc_add(toc, dump_id, tableoid, oid, desc, object, SECTION_POST_DATA, defn, drop);
	if (opt->profile->table_in_tags && strcmp(desc, "INDEX") != 0) {
		e->owned_tag = sql("%s %s", t->name, object);
		e->tag = e->owned_tag;
	}
	e->namespace = "public";
	e->tablespace = strcmp(desc, "FK CONSTRAINT") == 0 ? NULL : "";
	e->owner = "mendix";
	free(table);
	free(quoted);
	return e;
}

/* build_toc: every TOC entry, in the order the profile's pg_dump wrote them. */
static void
build_toc(struct toc *toc, const struct options *opt)
{
	const struct profile *p = opt->profile;
	struct table *customer = &tables[T_CUSTOMER], *order = &tables[T_ORDER];
	char *seq = qname(opt, "shop$customer_id_seq"), *cust = qname(opt, customer->name);
	struct entry *e;

	e = toc_add(toc, ID_ENCODING, 0, 0, "ENCODING", "ENCODING", SECTION_PRE_DATA,
	            sql("SET client_encoding = 'UTF8';\n"), NULL);
	e->owner = "";
	e = toc_add(toc, ID_STDSTRINGS, 0, 0, "STDSTRINGS", "STDSTRINGS", SECTION_PRE_DATA,
	            sql("SET standard_conforming_strings = 'on';\n"), NULL);
	e->owner = "";
	if (p->qualified) {
		e = toc_add(toc, ID_SEARCHPATH, 0, 0, "SEARCHPATH", "SEARCHPATH", SECTION_PRE_DATA,
		            sql("SELECT pg_catalog.set_config('search_path', '', false);\n"), NULL);
		e->owner = "";
	}

	if (opt->public_schema) {
		e = toc_add(toc, ID_PUBLIC, 2615, 2200, "SCHEMA", "public", SECTION_PRE_DATA,
		            sql("CREATE SCHEMA public;\n"), sql("DROP SCHEMA public;\n"));
		e->owner = "postgres";
	}
	if (opt->public_comment != NULL) {
		char *literal = sql_literal(opt->public_comment);

		e = toc_add(toc, ID_PUBLIC_COMMENT, 0, 0, "COMMENT", "SCHEMA public", SECTION_NONE,
		            sql("COMMENT ON SCHEMA public IS %s;\n", literal), NULL);
		e->owner = "postgres";
		if (opt->public_schema)
			entry_dep(e, ID_PUBLIC);
		free(literal);
	}
	if (opt->plpgsql && p->extension) {
		e = toc_add(toc, ID_PLPGSQL, 3079, 13792, "EXTENSION", "plpgsql", SECTION_PRE_DATA,
		            sql("CREATE EXTENSION IF NOT EXISTS plpgsql WITH SCHEMA pg_catalog;\n"),
		            sql("DROP EXTENSION plpgsql;\n"));
		e->owner = "";
		e = toc_add(
		    toc, ID_PLPGSQL_COMMENT, 0, 0, "COMMENT", "EXTENSION plpgsql", SECTION_NONE,
		    sql("COMMENT ON EXTENSION plpgsql IS 'PL/pgSQL procedural language';\n"), NULL);
		e->owner = "";
		entry_dep(e, ID_PLPGSQL);
	} else if (opt->plpgsql) {
		e = toc_add(toc, ID_PLPGSQL, 2612, 16386, "PROCEDURAL LANGUAGE", "plpgsql",
		            SECTION_PRE_DATA, sql("CREATE PROCEDURAL LANGUAGE plpgsql;\n"),
		            sql("DROP PROCEDURAL LANGUAGE plpgsql;\n"));
		e->owner = "postgres";
	}

	add_table(toc, opt, customer, ID_CUSTOMER);
	if (opt->table_comment) {
		e = toc_add(toc, ID_CUSTOMER_COMMENT, 0, 0, "COMMENT", "TABLE \"shop$customer\"",
		            SECTION_NONE,
		            sql("COMMENT ON TABLE %s IS 'customers of the shop';\n", cust), NULL);
		e->namespace = "public";
		e->owner = "mendix";
		entry_dep(e, ID_CUSTOMER);
	}
	e = toc_add(toc, ID_CUSTOMER_SEQ, 1259, 16388, "SEQUENCE", "shop$customer_id_seq",
	            SECTION_PRE_DATA,
	            sql("CREATE SEQUENCE %s\n%s    START WITH 1\n    INCREMENT BY 1\n"
	                "    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;\n",
	                seq, p->sequence_as ? "    AS integer\n" : ""),
	            sql("DROP SEQUENCE %s;\n", seq));
	e->namespace = "public";
	e->owner = "mendix";
	if (opt->public_schema)
		entry_dep(e, ID_PUBLIC);
	e = toc_add(toc, ID_CUSTOMER_SEQ_OWNED, 0, 0, "SEQUENCE OWNED BY", "shop$customer_id_seq",
	            SECTION_PRE_DATA, sql("ALTER SEQUENCE %s OWNED BY %s.id;\n", seq, cust), NULL);
	e->namespace = "public";
	e->owner = "mendix";
	entry_dep(e, ID_CUSTOMER_SEQ);
	add_table(toc, opt, order, ID_ORDER);
	if (opt->tables > 2)
		add_table(toc, opt, &tables[T_VERSION], ID_VERSION);
	e = toc_add(toc, ID_CUSTOMER_DEFAULT, 2604, 16393, "DEFAULT", "id", SECTION_PRE_DATA,
	            sql("ALTER TABLE %s%s ALTER COLUMN id SET DEFAULT nextval('%s'::regclass);\n",
	                p->alter_only ? "ONLY " : "", cust, seq),
	            sql("ALTER TABLE %s ALTER COLUMN id DROP DEFAULT;\n", cust));
	if (p->table_in_tags)
		e->tag = "shop$customer id";
	e->namespace = "public";
	e->owner = "mendix";
	entry_dep(e, ID_CUSTOMER);
	entry_dep(e, ID_CUSTOMER_SEQ);

	add_data(toc, opt, customer, ID_CUSTOMER_DATA, ID_CUSTOMER);
	add_data(toc, opt, order, ID_ORDER_DATA, ID_ORDER);
	if (opt->tables > 2)
		add_data(toc, opt, &tables[T_VERSION], ID_VERSION_DATA, ID_VERSION);
	e = toc_add(
	    toc, ID_CUSTOMER_SEQ_SET, 0, 0, "SEQUENCE SET", "shop$customer_id_seq", SECTION_DATA,
	    sql("SELECT pg_catalog.setval('%s', %lld, %s);\n", seq,
	        customer->rows > 0 ? customer->rows : 1, customer->rows > 0 ? "true" : "false"),
	    NULL);
	e->namespace = "public";
	e->owner = "mendix";
	entry_dep(e, ID_CUSTOMER_SEQ);

	e = add_index_like(toc, opt, customer, ID_CUSTOMER_PKEY, 2606, 16395, "CONSTRAINT",
	                   "shop$customer_pkey", "PRIMARY KEY (id)");
	entry_dep(e, ID_CUSTOMER);
	e = add_index_like(toc, opt, order, ID_ORDER_PKEY, 2606, 16400, "CONSTRAINT",
	                   "shop$order_pkey", "PRIMARY KEY (id)");
	entry_dep(e, ID_ORDER);
	e = add_index_like(toc, opt, customer, ID_CUSTOMER_NAME_INDEX, 1259, 16405, "INDEX",
	                   "idx_shop$customer_name", "name");
	entry_dep(e, ID_CUSTOMER);
	e = add_index_like(toc, opt, order, ID_ORDER_CUSTOMER_INDEX, 1259, 16406, "INDEX",
	                   "idx_shop$order_customer", "customer");
	entry_dep(e, ID_ORDER);
	{
		char *fk = sql("FOREIGN KEY (customer) REFERENCES %s(id)", cust);

		e = add_index_like(toc, opt, order, ID_ORDER_FKEY, 2606, 16407, "FK CONSTRAINT",
		                   "shop$order_customer_fkey", fk);
		entry_dep(e, ID_ORDER);
		entry_dep(e, ID_CUSTOMER_PKEY);
		free(fk);
	}
	free(seq);
	free(cust);
}

/* write_header: the archive header, up to and including the TOC entry count. */
static void
write_header(struct out *o, const struct options *opt, int count)
{
	struct tm tm;

	gmtime_r(&base_time, &tm);
	out_bytes(o, "PGDMP", 5);
	out_byte(o, 1);
	out_byte(o, opt->minor);
	out_byte(o, 0);
	out_byte(o, INT_SIZE);
	out_byte(o, OFF_SIZE);
	out_byte(o, 1); /* custom format */
	out_int(o, opt->compression);
	out_int(o, tm.tm_sec);
	out_int(o, tm.tm_min);
	out_int(o, tm.tm_hour);
	out_int(o, tm.tm_mday);
	out_int(o, tm.tm_mon);
	out_int(o, tm.tm_year);
	out_int(o, tm.tm_isdst);
	out_str(o, opt->dbname);
	out_str(o, opt->profile->pg_version);
	out_str(o, opt->profile->pg_version);
	out_int(o, count);
}

/* write_toc: every TOC entry with the fields of archive version 1.minor. */
static void
write_toc(struct out *o, const struct options *opt, const struct toc *toc)
{
	char number[32];
	int i, d;

	for (i = 0; i < toc->n; i++) {
		const struct entry *e = &toc->e[i];

		out_int(o, e->dump_id);
		out_int(o, e->data != NULL ? 1 : 0); /* hadDumper */
		snprintf(number, sizeof(number), "%u", e->tableoid);
		out_str(o, number);
		snprintf(number, sizeof(number), "%u", e->oid);
		out_str(o, number);
		out_str(o, e->tag);
		out_str(o, e->desc);
		if (opt->minor >= 11)
			out_int(o, e->section);
		out_str(o, e->defn);
		out_str(o, e->drop);
		out_str(o, e->copy);
		out_str(o, e->namespace);
		out_str(o, e->tablespace);
		if (opt->minor >= 14)
			out_str(o, strcmp(e->desc, "TABLE") == 0 ? e->tableam : NULL);
		out_str(o, e->owner);
		out_str(o, "false"); /* withOids */
		for (d = 0; d < e->ndeps; d++) {
			snprintf(number, sizeof(number), "%d", e->deps[d]);
			out_str(o, number);
		}
		out_str(o, NULL);
		if (e->data == NULL)
			out_offset(o, NO_DATA, 0);
		else if (opt->offsets && e->offset > 0)
			out_offset(o, POS_SET, e->offset);
		else
			out_offset(o, POS_NOT_SET, 0);
	}
}

/* One data block being written: its stream and its compressor. */
struct block {
	struct out *o;
	bool compressed;
	z_stream z;
	unsigned char buf[ZLIB_OUT];
};

/* block_deflate: run the compressor, writing each full output buffer as a chunk. */
static void
block_deflate(struct block *b, int flush)
{
	int rc;

	do {
		b->z.next_out = b->buf;
		b->z.avail_out = sizeof(b->buf);
		rc = deflate(&b->z, flush);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			die(1, "deflate failed (%d)", rc);
		if (sizeof(b->buf) - b->z.avail_out > 0) {
			out_int(b->o, (int64_t)(sizeof(b->buf) - b->z.avail_out));
			out_bytes(b->o, b->buf, sizeof(b->buf) - b->z.avail_out);
		}
	} while (b->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
}

/* block_write: one piece of a table's COPY text (pg_dump's WriteData). */
static void
block_write(struct block *b, const char *data, size_t len)
{
	if (len == 0)
		return;
	if (!b->compressed) {
		out_int(b->o, (int64_t)len);
		out_bytes(b->o, data, len);
		return;
	}
	b->z.next_in = (unsigned char *)data;
	b->z.avail_in = (uInt)len;
	while (b->z.avail_in > 0)
		block_deflate(b, Z_NO_FLUSH);
}

/* write_block: the data block of entry e: its rows, pg_dump's terminator, Int 0. */
static void
write_block(struct out *o, const struct options *opt, struct entry *e, FILE *copy_file)
{
	static const char terminator[] = "\\.\n\n\n";
	struct table *t = e->data;
	struct text line = {0};
	struct block b;
	long long i;

	e->offset = o->pos;
	out_byte(o, BLK_DATA);
	out_int(o, e->dump_id);
	memset(&b, 0, sizeof(b));
	b.o = o;
	b.compressed = opt->compression != 0;
	if (b.compressed && deflateInit(&b.z, opt->compression) != Z_OK)
		die(1, "deflateInit failed");
	for (i = 1; i <= t->rows; i++) {
		line.len = 0;
		t->row(i, opt->rows, &line);
		block_write(&b, line.data, line.len);
		t->copy_bytes += line.len;
		if (copy_file != NULL && fwrite(line.data, 1, line.len, copy_file) != line.len)
			die(1, "cannot write the COPY text of %s: %s", t->name, strerror(errno));
	}
	block_write(&b, terminator, strlen(terminator));
	if (b.compressed) {
		block_deflate(&b, Z_FINISH);
		deflateEnd(&b.z);
	}
	out_int(o, 0);
	free(line.data);
}

/* open_copy_file: DIR/<table>.copy for the table's COPY text, when --data-dir was given. */
static FILE *
open_copy_file(const struct options *opt, const struct table *t)
{
	char *path;
	FILE *f;

	if (opt->data_dir == NULL)
		return NULL;
	path = sql("%s/%s.copy", opt->data_dir, t->name);
	f = fopen(path, "w");
	if (f == NULL)
		die(1, "cannot create %s: %s", path, strerror(errno));
	free(path);
	return f;
}

/* write_dump: the whole archive into opt->output; returns 0, or 1 after a message. */
static int
write_dump(const struct options *opt, struct toc *toc)
{
	struct out o = {0};
	int64_t toc_start, data_start;
	int i;

	o.f = fopen(opt->output, "wb");
	if (o.f == NULL) {
		fprintf(stderr, "olddump: cannot create %s: %s\n", opt->output, strerror(errno));
		return 1;
	}
	write_header(&o, opt, toc->n);
	toc_start = o.pos;
	write_toc(&o, opt, toc);
	data_start = o.pos;
	for (i = 0; i < toc->n; i++) {
		if (toc->e[i].data != NULL) {
			FILE *copy_file = open_copy_file(opt, toc->e[i].data);

			write_block(&o, opt, &toc->e[i], copy_file);
			if (copy_file != NULL && fclose(copy_file) != 0)
				die(1, "cannot write the COPY text of %s: %s", toc->e[i].data->name,
				    strerror(errno));
		}
	}
	/* As pg_dump did on a seekable file: the TOC again, now with the data offsets. */
	if (opt->offsets && !o.failed) {
		int64_t end = o.pos;

		if (fseeko(o.f, (off_t)toc_start, SEEK_SET) != 0) {
			o.failed = true;
			o.error = errno;
		}
		o.pos = toc_start;
		write_toc(&o, opt, toc);
		if (o.pos != data_start)
			die(1, "the TOC changed size when rewritten");
		if (!o.failed && fseeko(o.f, (off_t)end, SEEK_SET) != 0) {
			o.failed = true;
			o.error = errno;
		}
	}
	if (fclose(o.f) != 0 && !o.failed) {
		o.failed = true;
		o.error = errno;
	}
	if (o.failed) {
		fprintf(stderr, "olddump: cannot write %s: %s\n", opt->output, strerror(o.error));
		remove(opt->output);
		return 1;
	}
	return 0;
}

/* usage: the --help text. */
static void
usage(FILE *f)
{
	size_t i;

	fprintf(
	    f, "Usage: olddump --version 1.N [--profile NAME] -o FILE [options]\n"
	       "\n"
	       "Write a small pg_dump custom-format archive as an old pg_dump wrote it: tables\n"
	       "\"shop$customer\" (its id's default a sequence), \"shop$order\" (a foreign key to\n"
	       "it) and \"mendixsystem$version\", their primary keys, indexes and data.\n"
	       "\n"
	       "  --version 1.N          archive version, 1.10 to 1.14 (required)\n"
	       "  --profile NAME         which pg_dump's entries to write (default: the one that\n"
	       "                         wrote the version):\n");
	for (i = 0; i < NPROFILES; i++)
		fprintf(f, "    %s  archive 1.%d, version %s\n          %s\n", profiles[i].name,
		        profiles[i].default_minor, profiles[i].pg_version, profiles[i].what);
	fprintf(
	    f,
	    "  -o, --output FILE      the archive to write\n"
	    "  --rows N               rows of \"shop$order\" (default 100); \"shop$customer\" has\n"
	    "                         (N+1)/2, \"mendixsystem$version\" one\n"
	    "  --tables 2|3           leave out \"mendixsystem$version\" with 2 (default 3)\n"
	    "  -Z, --compress LEVEL   -1 (default zlib), 0 (none: one chunk per row), 1-9\n"
	    "  --offsets set|unset    record data offsets as on a file (default), or not, as\n"
	    "                         on a pipe\n"
	    "  --public-schema, --no-public-schema\n"
	    "                         write SCHEMA public (CREATE SCHEMA public;) or not\n"
	    "  --public-comment TEXT  COMMENT ON SCHEMA public IS TEXT (default, when the\n"
	    "                         profile writes it: 'standard public schema')\n"
	    "  --no-public-comment    no comment on schema public\n"
	    "  --plpgsql, --no-plpgsql\n"
	    "                         write plpgsql (EXTENSION and COMMENT, or PROCEDURAL\n"
	    "                         LANGUAGE for pg83/pg84) or not\n"
	    "  --table-comment        COMMENT ON TABLE \"shop$customer\"\n"
	    "  --dbname NAME          the database name in the header (default mendix)\n"
	    "  --data-dir DIR         also write each table's COPY text to DIR/<table>.copy\n"
	    "  -h, --help             this text\n"
	    "\n"
	    "Prints on stdout: \"version\", \"profile\", \"toc_entries\", one \"table NAME rows N\n"
	    "bytes B\" line per table (B: the COPY text), \"sequence NAME VALUE\" and\n"
	    "\"decompressed_bytes D\" (every stream's size, COPY text plus pg_dump's 5-byte\n"
	    "terminator). Exit status 0, 1 on an I/O error, 2 on a usage error.\n");
}

/* parse_number: a whole number within [min, max] for option name, or a usage error. */
static long long
parse_number(const char *name, const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die(2, "%s wants a number from %lld to %lld, not '%s'", name, min, max, s);
	return v;
}

enum {
	OPT_VERSION = 256,
	OPT_PROFILE,
	OPT_ROWS,
	OPT_TABLES,
	OPT_OFFSETS,
	OPT_PUBLIC_SCHEMA,
	OPT_NO_PUBLIC_SCHEMA,
	OPT_PUBLIC_COMMENT,
	OPT_NO_PUBLIC_COMMENT,
	OPT_PLPGSQL,
	OPT_NO_PLPGSQL,
	OPT_TABLE_COMMENT,
	OPT_DBNAME,
	OPT_DATA_DIR,
};

/* parse_options: the command line into *opt; exits 2 on a usage error. */
static void
parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
	    {"version", required_argument, NULL, OPT_VERSION},
	    {"profile", required_argument, NULL, OPT_PROFILE},
	    {"output", required_argument, NULL, 'o'},
	    {"rows", required_argument, NULL, OPT_ROWS},
	    {"tables", required_argument, NULL, OPT_TABLES},
	    {"compress", required_argument, NULL, 'Z'},
	    {"offsets", required_argument, NULL, OPT_OFFSETS},
	    {"public-schema", no_argument, NULL, OPT_PUBLIC_SCHEMA},
	    {"no-public-schema", no_argument, NULL, OPT_NO_PUBLIC_SCHEMA},
	    {"public-comment", required_argument, NULL, OPT_PUBLIC_COMMENT},
	    {"no-public-comment", no_argument, NULL, OPT_NO_PUBLIC_COMMENT},
	    {"plpgsql", no_argument, NULL, OPT_PLPGSQL},
	    {"no-plpgsql", no_argument, NULL, OPT_NO_PLPGSQL},
	    {"table-comment", no_argument, NULL, OPT_TABLE_COMMENT},
	    {"dbname", required_argument, NULL, OPT_DBNAME},
	    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool comment_set = false;
	size_t i;
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->rows = 100;
	opt->tables = 3;
	opt->compression = -1;
	opt->offsets = true;
	opt->public_schema = -1;
	opt->plpgsql = -1;
	opt->dbname = "mendix";
	while ((c = getopt_long(argc, argv, "o:Z:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_VERSION:
			if (strncmp(optarg, "1.", 2) != 0)
				die(2, "--version wants 1.10 to 1.14, not '%s'", optarg);
			opt->minor = (int)parse_number("--version", optarg + 2, 10, 14);
			break;
		case OPT_PROFILE:
			for (i = 0; i < NPROFILES; i++)
				if (strcmp(optarg, profiles[i].name) == 0)
					opt->profile = &profiles[i];
			if (opt->profile == NULL)
				die(2, "unknown profile '%s' (see --help)", optarg);
			break;
		case 'o':
			opt->output = optarg;
			break;
		case OPT_ROWS:
			opt->rows = parse_number("--rows", optarg, 0, 100000000);
			break;
		case OPT_TABLES:
			opt->tables = (int)parse_number("--tables", optarg, 2, 3);
			break;
		case 'Z':
			opt->compression = (int)parse_number("--compress", optarg, -1, 9);
			break;
		case OPT_OFFSETS:
			if (strcmp(optarg, "set") != 0 && strcmp(optarg, "unset") != 0)
				die(2, "--offsets wants set or unset, not '%s'", optarg);
			opt->offsets = strcmp(optarg, "set") == 0;
			break;
		case OPT_PUBLIC_SCHEMA:
		case OPT_NO_PUBLIC_SCHEMA:
			opt->public_schema = c == OPT_PUBLIC_SCHEMA;
			break;
		case OPT_PUBLIC_COMMENT:
			opt->public_comment = optarg;
			comment_set = true;
			break;
		case OPT_NO_PUBLIC_COMMENT:
			opt->public_comment = NULL;
			comment_set = true;
			break;
		case OPT_PLPGSQL:
		case OPT_NO_PLPGSQL:
			opt->plpgsql = c == OPT_PLPGSQL;
			break;
		case OPT_TABLE_COMMENT:
			opt->table_comment = true;
			break;
		case OPT_DBNAME:
			opt->dbname = optarg;
			break;
		case OPT_DATA_DIR:
			opt->data_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s' (see --help)", argv[optind]);
	if (opt->minor == 0)
		die(2, "--version is required (see --help)");
	if (opt->output == NULL)
		die(2, "-o FILE is required (see --help)");
	if (opt->profile == NULL)
		for (i = 0; i < NPROFILES; i++)
			if (profiles[i].default_minor == opt->minor)
				opt->profile = &profiles[i];
	if (opt->public_schema == -1)
		opt->public_schema = opt->profile->public_entries;
	if (opt->plpgsql == -1)
		opt->plpgsql = opt->profile->public_entries;
	if (!comment_set && opt->profile->public_entries)
		opt->public_comment = "standard public schema";
}

int
main(int argc, char **argv)
{
	struct options opt;
	struct toc toc;
	uint64_t decompressed = 0;
	int i, rc;

	parse_options(argc, argv, &opt);
	tables[T_ORDER].rows = opt.rows;
	tables[T_CUSTOMER].rows = (opt.rows + 1) / 2;
	tables[T_VERSION].rows = 1;
	memset(&toc, 0, sizeof(toc));
	build_toc(&toc, &opt);
	rc = write_dump(&opt, &toc);
	if (rc == 0) {
		printf("version 1.%d\nprofile %s\ntoc_entries %d\n", opt.minor, opt.profile->name,
		       toc.n);
		for (i = 0; i < toc.n; i++) {
			const struct table *t = toc.e[i].data;

			if (t == NULL)
				continue;
			printf("table %s rows %lld bytes %" PRIu64 "\n", t->name, t->rows,
			       t->copy_bytes);
			decompressed += t->copy_bytes + 5;
		}
		printf("sequence shop$customer_id_seq %lld\n",
		       tables[T_CUSTOMER].rows > 0 ? tables[T_CUSTOMER].rows : 1);
		printf("decompressed_bytes %" PRIu64 "\n", decompressed);
		if (fflush(stdout) != 0)
			rc = 1;
	}
	toc_free(&toc);
	return rc;
}
