/*
 * s3.c - the S3 side of the object client: builds S3 requests signed with AWS Signature V4 by
 * libcurl (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3"), and runs the multipart upload's own calls
 * (CreateMultipartUpload, CompleteMultipartUpload, AbortMultipartUpload) and the copy.
 *
 * Debian 12's libcurl (7.88) signs, but leaves three things to the caller, done here: it does not
 * send x-amz-content-sha256 (each request carries its body's SHA-256, computed with libcrypto;
 * curl then signs with that value), it does not sort the query string (every query built here is
 * written in sorted order), and it signs "?uploads" wrongly (written "?uploads=").
 */
#include "objclient_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* The hex SHA-256 of len bytes at p. */
static void
sha256_hex(const void *p, size_t len, char out[65])
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	unsigned int n = 0;
	EVP_Digest(p != NULL ? p : "", len, digest, &n, EVP_sha256(), NULL);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

struct http_req *
s3_request(struct objclient *c, const char *method, const char *name, const char *query,
           const void *body, size_t len, const char *const *headers, char *err, size_t errlen)
{
	char *url = obj_url(c, name, query);
	struct http_req *r = url != NULL ? http_req_new(method, url) : NULL;
	char line[4096], hash[65];
	free(url);
	if (r == NULL)
		goto oom;
	sha256_hex(body, len, hash);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hash);
	if (http_req_header(r, line) != 0)
		goto oom;
	if (c->token != NULL) {
		snprintf(line, sizeof(line), "x-amz-security-token: %s", c->token);
		if (http_req_header(r, line) != 0)
			goto oom;
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		if (http_req_header(r, headers[i]) != 0)
			goto oom;
	r->body = body;
	r->body_len = len;
	r->aws_sigv4 = c->sigv4;
	r->aws_key_id = c->key_id;
	r->aws_secret = c->secret;
	/* A POST starts or completes a multipart upload: not sent twice. */
	r->idempotent = strcmp(method, "POST") != 0;
	return r;
oom:
	http_req_free(r);
	snprintf(err, errlen, "%s: %s: out of memory", c->where,
	         name != NULL ? name : "(the bucket)");
	return NULL;
}

struct http_req *
s3_copy(struct objclient *c, const char *from, const char *to, char *err, size_t errlen)
{
	char source[4096] = "x-amz-copy-source: /";
	if (obj_encode(source, sizeof(source), c->target->s3->bucket, false) != 0 ||
	    obj_encode(source, sizeof(source), "/", true) != 0 ||
	    obj_encode(source, sizeof(source), from, true) != 0) {
		snprintf(err, errlen, "%s: %s: the name is too long", c->where, from);
		return NULL;
	}
	const char *headers[] = {source, c->sse ? "x-amz-server-side-encryption: AES256" : NULL,
	                         NULL};
	return s3_request(c, "PUT", to, NULL, NULL, 0, headers, err, errlen);
}

/* The query "partNumber=<part>&uploadId=<id>" (or the id alone when part is 0), sorted. */
static int
upload_query(const struct obj_upload *u, int part, char *out, size_t outlen)
{
	if (part > 0)
		snprintf(out, outlen, "partNumber=%d&uploadId=", part);
	else
		snprintf(out, outlen, "uploadId=");
	return obj_encode(out, outlen, u->upload_id, false);
}

int
s3_upload_begin(struct obj_upload *u, char *err, size_t errlen)
{
	struct objclient *c = u->c;
	const char *headers[] = {"Content-Type: application/octet-stream",
	                         c->sse ? "x-amz-server-side-encryption: AES256" : NULL, NULL};
	struct http_req *r =
	    s3_request(c, "POST", u->name, "uploads=", NULL, 0, headers, err, errlen);
	int rc = -1;
	if (r == NULL)
		return -1;
	if (http_perform(c->http, r, err, errlen) != 0)
		goto out;
	if (obj_reply_error(c, r, u->name, err, errlen))
		goto out;
	if (obj_xml_text(r->reply, r->reply_len, "UploadId", u->upload_id, sizeof(u->upload_id)) !=
	        0 ||
	    u->upload_id[0] == '\0' || strlen(u->upload_id) + 1 >= sizeof(u->upload_id)) {
		snprintf(
		    err, errlen,
		    "%s: %s: the server's reply to starting a multipart upload has no UploadId",
		    c->where, u->name);
		goto out;
	}
	rc = 0;
out:
	http_req_free(r);
	return rc;
}

void
s3_part_complete(struct http_req *r)
{
	struct obj_op *op = r->ctx;
	struct obj_upload *u = op->u;
	char msg[2048];
	obj_reply_error(op->c, r, op->name, msg, sizeof(msg));
	if (msg[0] == '\0') {
		if (r->etag[0] == '\0') {
			snprintf(msg, sizeof(msg),
			         "%s: %s: part %d: the server's reply has no ETag", op->c->where,
			         op->name, op->part);
			obj_op_fail(op, r, msg);
			return;
		}
		free(u->etags[op->part - 1]);
		u->etags[op->part - 1] = strdup(r->etag);
		if (u->etags[op->part - 1] == NULL) {
			snprintf(msg, sizeof(msg), "%s: %s: part %d: out of memory", op->c->where,
			         op->name, op->part);
			obj_op_fail(op, r, msg);
			return;
		}
	}
	obj_op_finish(op, r);
}

int
s3_upload_end(struct obj_upload *u, char *err, size_t errlen)
{
	struct objclient *c = u->c;
	char query[1024];
	size_t cap = 128 + (size_t)u->max_part * 200, len = 0;
	char *xml = malloc(cap);
	struct http_req *r = NULL;
	int rc = -1;
	if (xml == NULL || upload_query(u, 0, query, sizeof(query)) != 0) {
		snprintf(err, errlen, "%s: %s: out of memory", c->where, u->name);
		goto out;
	}
	len += (size_t)snprintf(xml + len, cap - len, "<CompleteMultipartUpload>");
	for (int i = 1; i <= u->max_part; i++) {
		const char *etag = u->etags[i - 1];
		if (etag == NULL || strlen(etag) > 128) {
			snprintf(err, errlen, "%s: %s: part %d of %d was not uploaded", c->where,
			         u->name, i, u->max_part);
			goto out;
		}
		len += (size_t)snprintf(xml + len, cap - len,
		                        "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
		                        i, etag);
	}
	len += (size_t)snprintf(xml + len, cap - len, "</CompleteMultipartUpload>");
	const char *headers[] = {"Content-Type: application/xml", NULL};
	r = s3_request(c, "POST", u->name, query, xml, len, headers, err, errlen);
	if (r == NULL || http_perform(c->http, r, err, errlen) != 0)
		goto out;
	if (obj_reply_error(c, r, u->name, err, errlen))
		goto out;
	rc = 0;
out:
	http_req_free(r);
	free(xml);
	return rc;
}

void
s3_upload_abort(struct obj_upload *u)
{
	char query[1024], err[256];
	if (u->upload_id[0] == '\0' || upload_query(u, 0, query, sizeof(query)) != 0)
		return;
	struct http_req *r =
	    s3_request(u->c, "DELETE", u->name, query, NULL, 0, NULL, err, sizeof(err));
	if (r != NULL)
		(void)http_perform(u->c->http, r, err, sizeof(err));
	http_req_free(r);
}

int
s3_part_query(const struct obj_upload *u, int part, char *out, size_t outlen)
{
	return upload_query(u, part, out, outlen);
}
