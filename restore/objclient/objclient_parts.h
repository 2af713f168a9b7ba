/*
 * objclient_parts.h - what the object client's files share (objclient.c the client, s3.c and
 * azure.c the two services, obj_request.c a request's URL and outcome, obj_get.c streaming reads,
 * http.c the engine, obj_xml.c the replies). Not for the client's users: they include
 * objclient.h.
 */
#ifndef OBJCLIENT_PARTS_H
#define OBJCLIENT_PARTS_H

#include "http.h"
#include "obj_xml.h"
#include "objclient.h"

#define OBJ_LIST_MAX 1000 /* objects per listing page */

struct objclient {
	enum obj_flavor flavor;
	const struct restore_target *target;
	char where[600];
	char *base;   /* the URL an object's name is appended to, after a '/' */
	char *root;   /* the bucket's or container's own URL */
	char *prefix; /* S3: the target's prefix (for the probe); Azure: "" */
	struct http_engine *http;
	/* S3 */
	char sigv4[160];
	char *key_id;
	char *secret;
	char *token; /* session token, or NULL */
	bool sse;
	/* Azure */
	char *account;
	unsigned char key[96]; /* the account key, decoded */
	size_t keylen;
	char *sas;        /* the shared access signature's query, without '?', or NULL */
	char *canon_base; /* "/<account><path of base>" for SharedKey's canonicalized resource */
};

struct obj_upload {
	struct objclient *c;
	char *name;
	char upload_id[512]; /* S3 */
	char **etags;        /* S3: part i's ETag at i - 1 */
	int cap, max_part;
};

/* One asynchronous request's caller side (http_req.ctx). */
struct obj_op {
	struct objclient *c;
	obj_done_fn done;
	void *ctx;
	bool missing_ok;      /* delete: a 404 is ok */
	struct obj_upload *u; /* S3 part: where its ETag goes */
	int part;
	int polls; /* Azure copy: status polls so far */
	char name[1024];
};

/* obj_request.c */
/* The URL of object name (NULL: the bucket or container itself), with query (sorted by the caller;
 * NULL: none) and Azure's SAS. */
char *obj_url(const struct objclient *c, const char *name, const char *query);
/* Appends s to out percent-encoded (RFC 3986 unreserved kept, '/' kept when keep_slash); -1 when
 * it does not fit. */
int obj_encode(char *out, size_t outlen, const char *s, bool keep_slash);
/* An op for name, or NULL with err. */
struct obj_op *obj_op_new(struct objclient *c, const char *name, obj_done_fn done, void *ctx,
                          char *err, size_t errlen);
/* Whether request r failed (no reply, not 2xx, or an error document): its cause in one phrase,
 * the server's error code ("" when none). */
bool obj_reply_cause(const struct http_req *r, char *cause, size_t causelen, char *code,
                     size_t codelen);
/* Describes what went wrong with request r on name into msg: true; false (msg "") when it went
 * well (2xx). */
bool obj_reply_error(const struct objclient *c, const struct http_req *r, const char *name,
                     char *msg, size_t msglen);
/* Calls op's done with r's outcome, then frees op and r. */
void obj_op_finish(struct obj_op *op, struct http_req *r);
/* Calls op's done with a failure described by msg, then frees op and r. */
void obj_op_fail(struct obj_op *op, struct http_req *r, const char *msg);
/* The completion of a request that needs nothing more than obj_op_finish. */
void obj_op_complete(struct http_req *r);
/* Fills e from a HEAD reply's headers. */
void obj_entry_from_reply(const struct objclient *c, const struct http_req *r, const char *name,
                          struct obj_entry *e);

/* s3.c: the S3 requests, signed by curl (SigV4); each returns the request ready to send, or NULL
 * with err. headers: extra "Name: value" lines, NULL-terminated (or NULL). */
struct http_req *s3_request(struct objclient *c, const char *method, const char *name,
                            const char *query, const void *body, size_t len,
                            const char *const *headers, char *err, size_t errlen);
struct http_req *s3_copy(struct objclient *c, const char *from, const char *to, char *err,
                         size_t errlen);
int s3_upload_begin(struct obj_upload *u, char *err, size_t errlen);
int s3_upload_end(struct obj_upload *u, char *err, size_t errlen);
void s3_upload_abort(struct obj_upload *u);
/* The query of part part of upload u, sorted: "partNumber=<part>&uploadId=<id>". */
int s3_part_query(const struct obj_upload *u, int part, char *out, size_t outlen);
/* A part's completion: keeps its ETag in the upload. */
void s3_part_complete(struct http_req *r);

/* azure.c: the Azure requests, signed (SharedKey) or carrying the SAS. */
struct http_req *azure_request(struct objclient *c, const char *method, const char *name,
                               const char *query, const void *body, size_t len,
                               const char *const *headers, char *err, size_t errlen);
struct http_req *azure_copy(struct objclient *c, const char *from, const char *to, char *err,
                            size_t errlen);
/* A copy's completion: polls the copy's status while it is pending. */
void azure_copy_complete(struct http_req *r);
int azure_upload_end(struct obj_upload *u, const unsigned char whole_md5[16], char *err,
                     size_t errlen);
/* Part part's block id (base64 of a fixed-width number). */
void azure_block_id(int part, char *out, size_t outlen);

#endif
