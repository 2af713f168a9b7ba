/*
 * objclient.h - a client of object storage: an S3 bucket or an Azure Blob container (a target's
 * s3 or azure settings, target.h), with the same calls for both. Names are full object keys (the
 * caller adds the target's prefix and suffix). Requests run over libcurl's multi interface,
 * connections reused, at most max_connections at once; failed idempotent requests (no reply, or
 * a 5xx but 501 and 505, 408, 429) are retried three times with a growing pause. No secret ever
 * appears in an error message or in objclient_where.
 */
#ifndef OBJCLIENT_H
#define OBJCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "target.h"

struct objclient;
struct obj_upload; /* a multipart (S3) / block (Azure) upload in progress */
struct obj_get;    /* a streaming read of one object */

/* Loads the credentials (files, environment, $CREDENTIALS_DIRECTORY); sends no request yet.
 * -1: err names the target and the cause. */
int objclient_open(const struct restore_target *t, struct objclient **out, char *err,
                   size_t errlen);
/* "s3://bucket at endpoint" or "azure://account/container at endpoint": no secret. */
const char *objclient_where(const struct objclient *c);
/* Abandons the requests still in flight (their done is not called) and frees c. */
void objclient_close(struct objclient *c);

/* One object of a listing. */
struct obj_entry {
	char name[1024];
	uint64_t size;
	bool have_md5; /* S3: an ETag of 32 hex digits (not a multipart one); Azure: Content-MD5 */
	unsigned char md5[16];
	char etag[128]; /* as the server gave it, quotes removed */
	time_t modified;
};

/* Lists one page (at most max, at most 1000) of the objects whose names start with prefix, in
 * name order. token: "" for the first page; on return the next page's token, "" at the end. */
int obj_list_page(struct objclient *c, const char *prefix, char *token, size_t tokenlen,
                  struct obj_entry *entries, size_t max, size_t *n, char *err, size_t errlen);

/* The outcome of an asynchronous request, given to its done. */
struct obj_result {
	int http_status; /* 0: no reply */
	bool ok;         /* 2xx (a 404 counts as ok for a delete) */
	const char *err; /* when !ok: one sentence naming the object and the cause, no secret */
};
typedef void (*obj_done_fn)(void *ctx, const struct obj_result *r);

/* Asynchronous requests: each queues one request and returns 0 (or -1 with err when it cannot be
 * queued); done is called from objclient_run exactly once per queued request. */
/* Writes object name: len bytes at buf (which must live until done), with Content-MD5 md5 and
 * the server-side encryption header when the target asks for it. */
int obj_put(struct objclient *c, const char *name, const void *buf, size_t len,
            const unsigned char md5[16], obj_done_fn done, void *ctx, char *err, size_t errlen);
/* Copies object from to object to, server-side, within the bucket or container (Azure: done once
 * the copy's status is success, polling while it is pending). */
int obj_copy(struct objclient *c, const char *from, const char *to, obj_done_fn done, void *ctx,
             char *err, size_t errlen);
/* Deletes object name (one already gone is no error). */
int obj_delete(struct objclient *c, const char *name, obj_done_fn done, void *ctx, char *err,
               size_t errlen);

/* Multipart uploads: begin is synchronous (S3: CreateMultipartUpload; Azure: nothing to ask).
 * Parts are numbered from 1, each of at least 5 MiB but the last; several may be in flight. */
int obj_upload_begin(struct objclient *c, const char *name, struct obj_upload **out, char *err,
                     size_t errlen);
int obj_upload_part(struct obj_upload *u, int part, const void *buf, size_t len,
                    const unsigned char md5[16], obj_done_fn done, void *ctx, char *err,
                    size_t errlen);
/* Synchronous, once every part is done: S3 CompleteMultipartUpload, Azure Put Block List (with
 * x-ms-blob-content-md5 = whole_md5; S3 has no place for it). Frees u, also on failure. */
int obj_upload_end(struct obj_upload *u, const unsigned char whole_md5[16], char *err,
                   size_t errlen);
/* Synchronous, best effort: S3 AbortMultipartUpload (Azure's uncommitted blocks expire). Frees u.
 */
void obj_upload_abort(struct obj_upload *u);

/* Performs transfers, calling done for the finished ones, until at most max_in_flight requests
 * are queued or in flight (0: until every one is done). -1 only when libcurl fails as a whole. */
int objclient_run(struct objclient *c, size_t max_in_flight, char *err, size_t errlen);
/* The requests queued or in flight whose done has not been called yet. */
size_t objclient_in_flight(const struct objclient *c);

/* What the client did so far (for metrics and tests). */
struct obj_stats {
	uint64_t requests;    /* HTTP requests sent, retries included */
	uint64_t connections; /* connections opened */
	int most_at_once;     /* requests in flight at once, at most (<= max_connections) */
};
void objclient_stats(const struct objclient *c, struct obj_stats *s);

/* Synchronous: 1 the object exists (e filled: name, size, md5, etag, modified), 0 it does not,
 * -1 err. */
int obj_head(struct objclient *c, const char *name, struct obj_entry *e, char *err, size_t errlen);

/* Streaming read of object name, in memory bounded by a small buffer whatever its size. With
 * if_match_etag (not NULL), only that version. 1 opened, 0 gone (404) or changed (412), -1 err. */
int obj_get_open(struct objclient *c, const char *name, const char *if_match_etag,
                 struct obj_get **out, char *err, size_t errlen);
/* Reads up to len bytes: their count, 0 at the end, -1 err. */
ssize_t obj_get_read(struct obj_get *g, void *buf, size_t len, char *err, size_t errlen);
void obj_get_close(struct obj_get *g); /* before objclient_close */

/* For check: lists one object under the target's prefix, then writes and deletes
 * "<prefix>.restore-worker-check-<random>". 0 ok; -1: msg says which right is missing (403), or
 * that the server is unreachable, the bucket or container does not exist, or the credentials are
 * refused. */
int objclient_probe(struct objclient *c, char *msg, size_t msglen);

/* Creates the bucket or container (for tests; an existing one is no error). */
int objclient_create_bucket(struct objclient *c, char *err, size_t errlen);

#endif
