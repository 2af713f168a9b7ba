/*
 * object_listing.c - an object store's file objects as records in a file of the state folder
 * (store_object.h): the snapshot of the store taken as a restore begins, and the list of the
 * files a restore staged. Each is an array of fixed-size records, mapped: looked up by binary
 * search once sorted, marked in place, and never held in the heap, so that a restore's memory
 * does not grow with the number of objects (the page cache holds them, and can drop them).
 * A list-only store over sorted records (object_records_store) lets the file check list the
 * staged files as it lists any store.
 *
 * Diagnostics: each function that can fail fills err with one sentence naming the file.
 * Limits: the records of one restore are read and written by one thread at a time.
 */
#include "store_object.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

static const struct store_driver records_driver;

#define RECORDS_FIRST 1024 /* records a new file makes room for */
#define LIST_PAGE     1000 /* objects asked for per listing request */

/* map: map rs's file at capacity cap (its size), the old mapping (rs->cap) gone. 0 or -1. */
static int
map(struct object_records *rs, size_t cap, char *err, size_t errlen)
{
	void *p;

	if (rs->rec != NULL)
		(void)munmap(rs->rec, rs->cap * sizeof(*rs->rec));
	rs->rec = NULL;
	rs->cap = cap;
	if (rs->cap == 0)
		return 0;
	p = mmap(NULL, rs->cap * sizeof(*rs->rec), PROT_READ | PROT_WRITE, MAP_SHARED, rs->fd, 0);
	if (p == MAP_FAILED) {
		rs->cap = 0;
		return io_error(err, errlen, "cannot map %s: %s", rs->path, strerror(errno));
	}
	rs->rec = p;
	return 0;
}

/* object_records_create: a new, empty file of records at path (none may be there). */
int
object_records_create(struct object_records *rs, const char *path, char *err, size_t errlen)
{
	memset(rs, 0, sizeof(*rs));
	snprintf(rs->path, sizeof(rs->path), "%s", path);
	rs->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (rs->fd < 0)
		return io_error(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return 0;
}

/* object_records_open: an existing file of records, as a stopped restore left it. */
int
object_records_open(struct object_records *rs, const char *path, char *err, size_t errlen)
{
	struct stat st;

	memset(rs, 0, sizeof(*rs));
	snprintf(rs->path, sizeof(rs->path), "%s", path);
	rs->fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (rs->fd < 0)
		return io_error(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (fstat(rs->fd, &st) < 0) {
		io_error(err, errlen, "cannot examine %s: %s", path, strerror(errno));
		object_records_close(rs, false);
		return -1;
	}
	/* The file's size is its capacity; unused records at its end are all zero. */
	if (map(rs, (size_t)st.st_size / sizeof(*rs->rec), err, errlen) < 0) {
		object_records_close(rs, false);
		return -1;
	}
	while (rs->n < rs->cap && rs->rec[rs->n].uuid[0] != '\0')
		rs->n++;
	return 0;
}

/* object_records_add: append a record, growing the file when it is full. */
int
object_records_add(struct object_records *rs, const struct object_record *r, char *err,
                   size_t errlen)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap == 0 ? RECORDS_FIRST : rs->cap * 2;

		if (ftruncate(rs->fd, (off_t)(cap * sizeof(*rs->rec))) < 0)
			return io_error(err, errlen, "cannot grow %s: %s", rs->path,
			                strerror(errno));
		if (map(rs, cap, err, errlen) < 0)
			return -1;
	}
	rs->rec[rs->n++] = *r;
	return 0;
}

/* compare: records in the order of their UUIDs. */
static int
compare(const void *a, const void *b)
{
	return memcmp(((const struct object_record *)a)->uuid,
	              ((const struct object_record *)b)->uuid, 36);
}

/* object_records_sort: sort the records by UUID (a listing comes sorted: then nothing moves). */
void
object_records_sort(struct object_records *rs)
{
	for (size_t i = 1; i < rs->n; i++)
		if (compare(&rs->rec[i - 1], &rs->rec[i]) > 0) {
			qsort(rs->rec, rs->n, sizeof(*rs->rec), compare);
			return;
		}
}

/* object_records_find: the record of uuid in sorted records, or NULL. */
struct object_record *
object_records_find(const struct object_records *rs, const char *uuid)
{
	struct object_record key;

	if (rs->n == 0)
		return NULL;
	memcpy(key.uuid, uuid, 36);
	return bsearch(&key, rs->rec, rs->n, sizeof(*rs->rec), compare);
}

/* object_records_sync: make the records durable. */
int
object_records_sync(struct object_records *rs, char *err, size_t errlen)
{
	if (rs->rec != NULL && msync(rs->rec, rs->cap * sizeof(*rs->rec), MS_SYNC) < 0)
		return io_error(err, errlen, "cannot write %s: %s", rs->path, strerror(errno));
	if (fsync(rs->fd) < 0)
		return io_error(err, errlen, "cannot write %s: %s", rs->path, strerror(errno));
	return 0;
}

/* object_records_close: unmap and close; remove the file too when asked. */
void
object_records_close(struct object_records *rs, bool remove)
{
	if (rs->rec != NULL)
		(void)munmap(rs->rec, rs->cap * sizeof(*rs->rec));
	rs->rec = NULL;
	if (rs->fd >= 0)
		(void)close(rs->fd);
	rs->fd = -1;
	if (remove && rs->path[0] != '\0')
		(void)unlink(rs->path);
	rs->n = rs->cap = 0;
}

/* object_record_from: the record of a listed object. */
void
object_record_from(struct object_record *r, const char *uuid, const struct obj_entry *e)
{
	const char *dash = strchr(e->etag, '-');

	memset(r, 0, sizeof(*r));
	memcpy(r->uuid, uuid, 36);
	r->size = e->size;
	if (e->have_md5) {
		r->digest_kind = OBJECT_DIGEST_MD5;
		memcpy(r->digest, e->md5, 16);
	} else if (dash != NULL && dash - e->etag == 32) {
		/* S3's ETag of a multipart upload: hex MD5 of the parts' MD5s, '-', their count. */
		char *end;
		unsigned long parts = strtoul(dash + 1, &end, 10);

		if (*end != '\0' || parts == 0 || parts > 10000)
			return;
		for (int i = 0; i < 16; i++) {
			unsigned int byte;

			if (sscanf(e->etag + 2 * i, "%2x", &byte) != 1)
				return;
			r->digest[i] = (unsigned char)byte;
		}
		r->digest_kind = OBJECT_DIGEST_PARTS;
		r->parts = (uint32_t)parts;
	}
}

/* object_same_content: whether the staged file's size and digests are the listed object's. */
bool
object_same_content(const struct object_record *listed, uint64_t size, const unsigned char md5[16],
                    uint32_t parts, const unsigned char parts_digest[16])
{
	if (listed->size != size)
		return false;
	switch (listed->digest_kind) {
	case OBJECT_DIGEST_MD5:
		return memcmp(listed->digest, md5, 16) == 0;
	case OBJECT_DIGEST_PARTS:
		return parts > 1 && listed->parts == parts &&
		       memcmp(listed->digest, parts_digest, 16) == 0;
	default:
		return false;
	}
}

/* object_snapshot: list the store's file objects into new records at path, sorted. */
int
object_snapshot(struct object_store *os, const char *path, struct object_records *rs,
                uint64_t *foreign, char *err, size_t errlen)
{
	struct obj_entry *entries = calloc(LIST_PAGE, sizeof(*entries));
	char token[2048] = "";
	int rc = -1;

	*foreign = 0;
	if (entries == NULL)
		return io_error(err, errlen, "out of memory");
	if (object_records_create(rs, path, err, errlen) < 0) {
		free(entries);
		return -1;
	}
	do {
		size_t n;

		if (obj_list_page(os->client, os->prefix, token, sizeof(token), entries, LIST_PAGE,
		                  &n, err, errlen) < 0)
			goto out;
		for (size_t i = 0; i < n; i++) {
			struct object_record r;
			char uuid[37];

			if (!object_uuid_of(os, entries[i].name, uuid)) {
				(*foreign)++;
				continue;
			}
			object_record_from(&r, uuid, &entries[i]);
			if (object_records_add(rs, &r, err, errlen) < 0)
				goto out;
		}
	} while (token[0] != '\0');
	object_records_sort(rs);
	rc = 0;
out:
	free(entries);
	if (rc < 0)
		object_records_close(rs, true);
	return rc;
}

/* A list-only store over sorted records: a restore's staged files. */
struct records_store {
	struct store head;
	struct object_records *rs;
	char where[600];
};

struct records_list {
	struct store_list head;
	struct records_store *s;
	size_t next;
	char uuid[37];
};

/* records_where: what the records stand for. */
static const char *
records_where(const struct store *s)
{
	return ((const struct records_store *)s)->where;
}

/* records_close: free the store (the records are the stage's). */
static void
records_close(struct store *s)
{
	free(s);
}

/* records_list_open: start at the first record. */
static int
records_list_open(struct store *s, const char *who, int flags, store_skipped_fn skipped, void *ctx,
                  struct store_list **out, char *err, size_t errlen)
{
	struct records_list *l = calloc(1, sizeof(*l));

	(void)who;
	(void)flags;
	(void)skipped;
	(void)ctx;
	if (l == NULL)
		return io_error(err, errlen, "out of memory");
	l->head.driver = &records_driver;
	l->s = (struct records_store *)s;
	*out = &l->head;
	return 0;
}

/* records_list_next: the next record. */
static int
records_list_next(struct store_list *sl, struct store_entry *e, char *err, size_t errlen)
{
	struct records_list *l = (struct records_list *)sl;
	const struct object_records *rs = l->s->rs;

	(void)err;
	(void)errlen;
	if (l->next == rs->n)
		return 0;
	memcpy(l->uuid, rs->rec[l->next].uuid, 36);
	l->uuid[36] = '\0';
	e->uuid = l->uuid;
	e->size = rs->rec[l->next++].size;
	return 1;
}

/* records_list_close: free the listing. */
static void
records_list_close(struct store_list *sl)
{
	free(sl);
}

static const struct store_driver records_driver = {
    .name = "records",
    .where = records_where,
    .close = records_close,
    .list_open = records_list_open,
    .list_next = records_list_next,
    .list_close = records_list_close,
};

/* object_records_store: a list-only store over rs (which must outlive it). */
int
object_records_store(struct object_records *rs, const char *where, struct store **out, char *err,
                     size_t errlen)
{
	struct records_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return io_error(err, errlen, "out of memory");
	s->head.driver = &records_driver;
	s->rs = rs;
	snprintf(s->where, sizeof(s->where), "%s (the backup's files)", where);
	*out = &s->head;
	return 0;
}
