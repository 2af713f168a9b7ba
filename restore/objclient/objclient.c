/*
 * objclient.c - the object client (objclient.h): opens it on a target's s3 or azure settings,
 * loading the credentials (obj_credentials.c), and turns each call into the S3 (s3.c) or Azure
 * (azure.c) request, queued on the HTTP engine (http.c); objclient_run drives the engine and
 * calls each finished request's done.
 */
#include "objclient_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* The object client's names for an S3 request's headers, or Azure's. */
static struct http_req *
request(struct objclient *c, const char *method, const char *name, const char *query,
        const void *body, size_t len, const char *const *headers, char *err, size_t errlen)
{
	if (c->flavor == OBJ_S3)
		return s3_request(c, method, name, query, body, len, headers, err, errlen);
	return azure_request(c, method, name, query, body, len, headers, err, errlen);
}

const char *
objclient_where(const struct objclient *c)
{
	return c->where;
}

void
objclient_close(struct objclient *c)
{
	if (c == NULL)
		return;
	/* The ops of requests still held go with them: their done is not called. */
	http_engine_free(c->http, free);
	if (c->secret != NULL)
		OPENSSL_cleanse(c->secret, strlen(c->secret));
	if (c->token != NULL)
		OPENSSL_cleanse(c->token, strlen(c->token));
	if (c->sas != NULL)
		OPENSSL_cleanse(c->sas, strlen(c->sas));
	OPENSSL_cleanse(c->key, sizeof(c->key));
	free(c->key_id);
	free(c->secret);
	free(c->token);
	free(c->sas);
	free(c->base);
	free(c->root);
	free(c->prefix);
	free(c->account);
	free(c->canon_base);
	free(c);
}

/* obj_list_page, also giving the reply's status (0: none), error code ("" when none) and the cause
 * alone (without the client's where). */
static int
list_page(struct objclient *c, const char *prefix, char *token, size_t tokenlen,
          struct obj_entry *entries, size_t max, size_t *n, long *status, char *code,
          size_t codelen, char *cause, size_t causelen, char *err, size_t errlen)
{
	char query[4096] = "", part[3072];
	char msg[1024];
	struct http_req *r = NULL;
	int rc = -1;
	*status = 0;
	code[0] = '\0';
	if (max > OBJ_LIST_MAX)
		max = OBJ_LIST_MAX;
	*n = 0;
	part[0] = '\0';
	if (c->flavor == OBJ_S3) {
		/* ListObjects (version 1: s3rver's version 2 tokens need DES, which Node 20 lacks),
		 * its query in sorted order: marker, max-keys, prefix. */
		if (token[0] != '\0') {
			strcpy(query, "marker=");
			if (obj_encode(query, sizeof(query), token, false) != 0)
				goto too_long;
			strcat(query, "&");
		}
		snprintf(query + strlen(query), sizeof(query) - strlen(query), "max-keys=%zu", max);
	} else {
		snprintf(query, sizeof(query), "comp=list");
		if (token[0] != '\0') {
			strcat(query, "&marker=");
			if (obj_encode(query, sizeof(query), token, false) != 0)
				goto too_long;
		}
		snprintf(query + strlen(query), sizeof(query) - strlen(query), "&maxresults=%zu",
		         max);
	}
	if (prefix != NULL && prefix[0] != '\0') {
		if (obj_encode(part, sizeof(part), prefix, false) != 0 ||
		    (size_t)snprintf(query + strlen(query), sizeof(query) - strlen(query),
		                     "&prefix=%s", part) >= sizeof(query) - strlen(query))
			goto too_long;
	}
	if (c->flavor == OBJ_AZURE && strlen(query) + 16 < sizeof(query))
		strcat(query, "&restype=container");
	r = request(c, "GET", NULL, query, NULL, 0, NULL, err, errlen);
	if (r == NULL)
		return -1;
	r->max_reply = 16u << 20; /* a page of 1000 names of 1024 bytes and their properties */
	if (http_perform(c->http, r, err, errlen) != 0)
		goto out;
	obj_reply_error(c, r, "", msg, sizeof(msg));
	if (msg[0] != '\0') {
		snprintf(err, errlen, "%s", msg);
		*status = r->curl_code == CURLE_OK ? r->status : 0;
		obj_reply_cause(r, cause, causelen, code, codelen);
		goto out;
	}
	if (r->reply_cut) {
		snprintf(err, errlen, "%s: a listing page is larger than 16 MiB", c->where);
		goto out;
	}
	if (obj_xml_list(c->flavor, r->reply, r->reply_len, entries, max, n, token, tokenlen, msg,
	                 sizeof(msg)) != 0) {
		snprintf(err, errlen, "%s: %s", c->where, msg);
		goto out;
	}
	rc = 0;
out:
	http_req_free(r);
	return rc;
too_long:
	snprintf(err, errlen, "%s: the listing's prefix or token is too long", c->where);
	return -1;
}

int
obj_list_page(struct objclient *c, const char *prefix, char *token, size_t tokenlen,
              struct obj_entry *entries, size_t max, size_t *n, char *err, size_t errlen)
{
	long status;
	char code[128], cause[768];
	return list_page(c, prefix, token, tokenlen, entries, max, n, &status, code, sizeof(code),
	                 cause, sizeof(cause), err, errlen);
}

/* Queues request r (NULL: it could not be made, err says why) with op, completed by complete. */
static int
queue(struct objclient *c, struct http_req *r, struct obj_op *op, http_complete_fn complete)
{
	if (r == NULL) {
		free(op);
		return -1;
	}
	r->ctx = op;
	r->complete = complete;
	http_submit(c->http, r, 0);
	return 0;
}

/* The header "Content-MD5: <base64 of md5>" into line. */
static void
md5_header(const unsigned char md5[16], char line[64])
{
	strcpy(line, "Content-MD5: ");
	EVP_EncodeBlock((unsigned char *)line + strlen(line), md5, 16);
}

int
obj_put(struct objclient *c, const char *name, const void *buf, size_t len,
        const unsigned char md5[16], obj_done_fn done, void *ctx, char *err, size_t errlen)
{
	struct obj_op *op = obj_op_new(c, name, done, ctx, err, errlen);
	char md5_line[64];
	if (op == NULL)
		return -1;
	md5_header(md5, md5_line);
	const char *s3[] = {md5_line, "Content-Type: application/octet-stream",
	                    c->sse ? "x-amz-server-side-encryption: AES256" : NULL, NULL};
	const char *azure[] = {md5_line, "Content-Type: application/octet-stream",
	                       "x-ms-blob-type: BlockBlob", NULL};
	return queue(
	    c,
	    request(c, "PUT", name, NULL, buf, len, c->flavor == OBJ_S3 ? s3 : azure, err, errlen),
	    op, obj_op_complete);
}

int
obj_copy(struct objclient *c, const char *from, const char *to, obj_done_fn done, void *ctx,
         char *err, size_t errlen)
{
	struct obj_op *op = obj_op_new(c, to, done, ctx, err, errlen);
	if (op == NULL)
		return -1;
	if (c->flavor == OBJ_S3)
		return queue(c, s3_copy(c, from, to, err, errlen), op, obj_op_complete);
	return queue(c, azure_copy(c, from, to, err, errlen), op, azure_copy_complete);
}

int
obj_delete(struct objclient *c, const char *name, obj_done_fn done, void *ctx, char *err,
           size_t errlen)
{
	struct obj_op *op = obj_op_new(c, name, done, ctx, err, errlen);
	if (op == NULL)
		return -1;
	op->missing_ok = true;
	return queue(c, request(c, "DELETE", name, NULL, NULL, 0, NULL, err, errlen), op,
	             obj_op_complete);
}

int
obj_upload_begin(struct objclient *c, const char *name, struct obj_upload **out, char *err,
                 size_t errlen)
{
	struct obj_upload *u = calloc(1, sizeof(*u));
	*out = NULL;
	if (u == NULL || (u->name = strdup(name)) == NULL) {
		snprintf(err, errlen, "%s: %s: out of memory", c->where, name);
		free(u);
		return -1;
	}
	u->c = c;
	if (c->flavor == OBJ_S3 && s3_upload_begin(u, err, errlen) != 0) {
		free(u->name);
		free(u);
		return -1;
	}
	*out = u;
	return 0;
}

int
obj_upload_part(struct obj_upload *u, int part, const void *buf, size_t len,
                const unsigned char md5[16], obj_done_fn done, void *ctx, char *err, size_t errlen)
{
	struct objclient *c = u->c;
	char query[1024], md5_line[64], id[16];
	if (part < 1 || part > 10000) {
		snprintf(err, errlen, "%s: %s: part number %d is not within 1 to 10000", c->where,
		         u->name, part);
		return -1;
	}
	if (part > u->cap) {
		int cap = u->cap > 0 ? u->cap : 16;
		while (cap < part)
			cap *= 2;
		char **grown = realloc(u->etags, (size_t)cap * sizeof(*grown));
		if (grown == NULL) {
			snprintf(err, errlen, "%s: %s: out of memory", c->where, u->name);
			return -1;
		}
		memset(grown + u->cap, 0, (size_t)(cap - u->cap) * sizeof(*grown));
		u->etags = grown;
		u->cap = cap;
	}
	struct obj_op *op = obj_op_new(c, u->name, done, ctx, err, errlen);
	if (op == NULL)
		return -1;
	op->u = u;
	op->part = part;
	if (part > u->max_part)
		u->max_part = part;
	md5_header(md5, md5_line);
	const char *headers[] = {md5_line, NULL};
	if (c->flavor == OBJ_S3) {
		if (s3_part_query(u, part, query, sizeof(query)) != 0) {
			snprintf(err, errlen, "%s: %s: the upload id is too long", c->where,
			         u->name);
			free(op);
			return -1;
		}
		return queue(c,
		             s3_request(c, "PUT", u->name, query, buf, len, headers, err, errlen),
		             op, s3_part_complete);
	}
	azure_block_id(part, id, sizeof(id));
	snprintf(query, sizeof(query), "blockid=");
	obj_encode(query, sizeof(query), id, false);
	strcat(query, "&comp=block");
	return queue(c, azure_request(c, "PUT", u->name, query, buf, len, headers, err, errlen), op,
	             obj_op_complete);
}

/* Frees u. */
static void
upload_free(struct obj_upload *u)
{
	for (int i = 0; i < u->cap; i++)
		free(u->etags[i]);
	free(u->etags);
	free(u->name);
	free(u);
}

int
obj_upload_end(struct obj_upload *u, const unsigned char whole_md5[16], char *err, size_t errlen)
{
	int rc = u->c->flavor == OBJ_S3 ? s3_upload_end(u, err, errlen)
	                                : azure_upload_end(u, whole_md5, err, errlen);
	upload_free(u);
	return rc;
}

void
obj_upload_abort(struct obj_upload *u)
{
	if (u == NULL)
		return;
	if (u->c->flavor == OBJ_S3)
		s3_upload_abort(u);
	upload_free(u);
}

int
objclient_run(struct objclient *c, size_t max_in_flight, char *err, size_t errlen)
{
	for (;;) {
		struct http_req *r;
		while ((r = http_take_finished(c->http)) != NULL)
			r->complete(r);
		if (http_active(c->http) <= max_in_flight && http_finished(c->http) == 0)
			return 0;
		if (http_step(c->http, 1000, err, errlen) != 0)
			return -1;
	}
}

size_t
objclient_in_flight(const struct objclient *c)
{
	return http_active(c->http) + http_finished(c->http);
}

void
objclient_stats(const struct objclient *c, struct obj_stats *s)
{
	http_counts(c->http, &s->requests, &s->connections, &s->most_at_once);
}

int
obj_head(struct objclient *c, const char *name, struct obj_entry *e, char *err, size_t errlen)
{
	struct http_req *r = request(c, "HEAD", name, NULL, NULL, 0, NULL, err, errlen);
	int rc = -1;
	if (r == NULL)
		return -1;
	if (http_perform(c->http, r, err, errlen) != 0)
		goto out;
	if (r->curl_code == CURLE_OK && r->status == 404) {
		rc = 0;
		goto out;
	}
	if (obj_reply_error(c, r, name, err, errlen))
		goto out;
	obj_entry_from_reply(c, r, name, e);
	rc = 1;
out:
	http_req_free(r);
	return rc;
}

int
objclient_create_bucket(struct objclient *c, char *err, size_t errlen)
{
	const char *query = c->flavor == OBJ_S3 ? NULL : "restype=container";
	struct http_req *r = request(c, "PUT", NULL, query, NULL, 0, NULL, err, errlen);
	char msg[1024];
	int rc = -1;
	if (r == NULL)
		return -1;
	if (http_perform(c->http, r, err, errlen) != 0)
		goto out;
	obj_reply_error(c, r, "", msg, sizeof(msg));
	if (msg[0] != '\0' && !(r->curl_code == CURLE_OK && r->status == 409)) {
		snprintf(err, errlen, "%s", msg);
		goto out;
	}
	rc = 0;
out:
	http_req_free(r);
	return rc;
}

/* The probe's outcome of one request. */
struct probe_step {
	bool done, ok;
	int status;
	char err[1024];
};

/* The probe's done: keeps the outcome. */
static void
probe_done(void *ctx, const struct obj_result *r)
{
	struct probe_step *p = ctx;
	p->done = true;
	p->ok = r->ok;
	p->status = r->http_status;
	snprintf(p->err, sizeof(p->err), "%s", r->ok ? "" : r->err);
}

/* Whether error code (and cause) says the credentials themselves were refused, not a missing right
 * (azurite answers a wrong key with AuthorizationFailure, "Server failed to authenticate"). */
static bool
credentials_refused(const char *code, const char *cause)
{
	if (strcmp(code, "AuthorizationFailure") == 0 && strstr(cause, "authenticate") != NULL)
		return true;
	static const char *const codes[] = {
	    "InvalidAccessKeyId",        "SignatureDoesNotMatch", "AuthenticationFailed",
	    "InvalidAuthenticationInfo", "ExpiredToken",          "InvalidToken",
	    "InvalidSecurity",           "InvalidClientTokenId",  NULL};
	for (int i = 0; codes[i] != NULL; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

int
objclient_probe(struct objclient *c, char *msg, size_t msglen)
{
	struct obj_entry entry;
	char token[2048] = "", code[128], cause[768], err[1024], name[1200];
	unsigned char random[8], md5[16];
	size_t n;
	long status;
	const char *what = c->flavor == OBJ_S3 ? "bucket" : "container";
	cause[0] = '\0';
	if (list_page(c, c->prefix, token, sizeof(token), &entry, 1, &n, &status, code,
	              sizeof(code), cause, sizeof(cause), err, sizeof(err)) != 0) {
		if (cause[0] == '\0')
			snprintf(msg, msglen, "%s", err);
		else if (status == 0)
			snprintf(msg, msglen, "%s is unreachable: %s", c->where, cause);
		else if (status == 404)
			snprintf(msg, msglen, "%s: the %s does not exist: %s", c->where, what,
			         cause);
		else if (credentials_refused(code, cause) || status == 401)
			snprintf(msg, msglen, "%s: the credentials are refused: %s", c->where,
			         cause);
		else if (status == 403)
			snprintf(msg, msglen, "%s: no right to list the %s: %s", c->where, what,
			         cause);
		else
			snprintf(msg, msglen, "%s: cannot list the %s: %s", c->where, what, cause);
		return -1;
	}
	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random)) {
		snprintf(msg, msglen, "%s: cannot draw a random name for the probe's object",
		         c->where);
		return -1;
	}
	snprintf(name, sizeof(name), "%s.restore-worker-check-%02x%02x%02x%02x%02x%02x%02x%02x",
	         c->prefix, random[0], random[1], random[2], random[3], random[4], random[5],
	         random[6], random[7]);
	unsigned int len = 0;
	EVP_Digest("", 0, md5, &len, EVP_md5(), NULL);
	struct probe_step put = {0}, del = {0};
	if (obj_put(c, name, "", 0, md5, probe_done, &put, err, sizeof(err)) != 0 ||
	    objclient_run(c, 0, err, sizeof(err)) != 0) {
		snprintf(msg, msglen, "%s", err);
		return -1;
	}
	if (!put.ok) {
		if (put.status == 401 || put.status == 403)
			snprintf(msg, msglen, "%s: no right to write into the %s (%s)", c->where,
			         what, put.err);
		else
			snprintf(msg, msglen, "%s: cannot write into the %s: %s", c->where, what,
			         put.err);
		return -1;
	}
	if (obj_delete(c, name, probe_done, &del, err, sizeof(err)) != 0 ||
	    objclient_run(c, 0, err, sizeof(err)) != 0) {
		snprintf(msg, msglen, "%s", err);
		return -1;
	}
	if (!del.ok) {
		if (del.status == 401 || del.status == 403)
			snprintf(msg, msglen,
			         "%s: no right to delete from the %s (%s; %s is left behind)",
			         c->where, what, del.err, name);
		else
			snprintf(msg, msglen, "%s: cannot delete from the %s: %s", c->where, what,
			         del.err);
		return -1;
	}
	msg[0] = '\0';
	return 0;
}
