/*
 * obj_request.c - what every request of the object client shares, S3 or Azure: the URL of an
 * object (percent-encoded, with Azure's shared access signature), and the outcome of a reply as
 * one sentence naming the object and the cause (the server's error code and message, or why no
 * reply came), handed to the request's done. No URL goes into a message: a SAS is part of it.
 */
#include "objclient_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
obj_encode(char *out, size_t outlen, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		             (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
		             *p == '~' || (keep_slash && *p == '/');
		if (n + (plain ? 1 : 3) >= outlen)
			return -1;
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

char *
obj_url(const struct objclient *c, const char *name, const char *query)
{
	if (name == NULL) {
		size_t len = strlen(c->root) + (query != NULL ? strlen(query) : 0) +
		             (c->sas != NULL ? strlen(c->sas) : 0) + 4;
		char *url = malloc(len);
		if (url != NULL)
			snprintf(url, len, "%s%s%s%s%s", c->root, query != NULL ? "?" : "",
			         query != NULL ? query : "",
			         c->sas == NULL  ? ""
			         : query != NULL ? "&"
			                         : "?",
			         c->sas != NULL ? c->sas : "");
		return url;
	}
	size_t len = strlen(c->base) + 3 * strlen(name) + (query != NULL ? strlen(query) : 0) +
	             (c->sas != NULL ? strlen(c->sas) : 0) + 8;
	char *url = malloc(len);
	if (url == NULL)
		return NULL;
	snprintf(url, len, "%s/", c->base);
	if (obj_encode(url, len, name, true) != 0) {
		free(url);
		return NULL;
	}
	const char *sep = "?";
	if (query != NULL && query[0] != '\0') {
		strcat(url, sep);
		strcat(url, query);
		sep = "&";
	}
	if (c->sas != NULL) {
		strcat(url, sep);
		strcat(url, c->sas);
	}
	return url;
}

struct obj_op *
obj_op_new(struct objclient *c, const char *name, obj_done_fn done, void *ctx, char *err,
           size_t errlen)
{
	struct obj_op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		snprintf(err, errlen, "%s: %s: out of memory", c->where, name);
		return NULL;
	}
	op->c = c;
	op->done = done;
	op->ctx = ctx;
	snprintf(op->name, sizeof(op->name), "%s", name);
	return op;
}

/* What an HTTP status means, for a reply without an error document. */
static const char *
status_meaning(long status)
{
	switch (status) {
	case 400:
		return "the request was refused as malformed";
	case 401:
	case 403:
		return "access denied (are the credentials right, and do they allow it?)";
	case 404:
		return "not found (does the bucket or container exist?)";
	case 409:
		return "conflict";
	case 412:
		return "it changed meanwhile";
	case 503:
		return "the server is busy";
	default:
		return status >= 500 ? "the server failed" : "unexpected reply";
	}
}

bool
obj_reply_cause(const struct http_req *r, char *cause, size_t causelen, char *code, size_t codelen)
{
	char message[512];
	cause[0] = code[0] = '\0';
	if (r->curl_code != CURLE_OK) {
		snprintf(cause, causelen, "no reply%s: %s", r->attempts > 1 ? " after retries" : "",
		         r->curl_err);
		return true;
	}
	bool error_doc = r->reply_len > 0 && obj_xml_error(r->reply, r->reply_len, code, codelen,
	                                                   message, sizeof(message)) == 1;
	if (r->status >= 200 && r->status < 300 && !error_doc)
		return false;
	char tries[40] = "";
	if (r->attempts > 1)
		snprintf(tries, sizeof(tries), ", %d times", r->attempts);
	if (error_doc)
		snprintf(cause, causelen, "the server refused it (HTTP %ld %s: %s%s)", r->status,
		         code, message[0] != '\0' ? message : status_meaning(r->status), tries);
	else
		snprintf(cause, causelen, "HTTP %ld, %s%s", r->status, status_meaning(r->status),
		         tries);
	return true;
}

bool
obj_reply_error(const struct objclient *c, const struct http_req *r, const char *name, char *msg,
                size_t msglen)
{
	char cause[768], code[128];
	msg[0] = '\0';
	if (!obj_reply_cause(r, cause, sizeof(cause), code, sizeof(code)))
		return false;
	snprintf(msg, msglen, "%s: %s: %s", c->where,
	         name[0] != '\0'       ? name
	         : c->flavor == OBJ_S3 ? "(the bucket)"
	                               : "(the container)",
	         cause);
	return true;
}

void
obj_op_finish(struct obj_op *op, struct http_req *r)
{
	char msg[1024];
	obj_reply_error(op->c, r, op->name, msg, sizeof(msg));
	struct obj_result res = {
	    .http_status = r->curl_code == CURLE_OK ? (int)r->status : 0,
	    .ok =
	        msg[0] == '\0' || (op->missing_ok && r->curl_code == CURLE_OK && r->status == 404),
	};
	res.err = res.ok ? NULL : msg;
	op->done(op->ctx, &res);
	free(op);
	http_req_free(r);
}

void
obj_op_fail(struct obj_op *op, struct http_req *r, const char *msg)
{
	struct obj_result res = {
	    .http_status = r->curl_code == CURLE_OK ? (int)r->status : 0, .ok = false, .err = msg};
	op->done(op->ctx, &res);
	free(op);
	http_req_free(r);
}

void
obj_op_complete(struct http_req *r)
{
	obj_op_finish(r->ctx, r);
}

void
obj_entry_from_reply(const struct objclient *c, const struct http_req *r, const char *name,
                     struct obj_entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->size = r->have_length ? r->content_length : 0;
	obj_entry_etag(e, r->etag, c->flavor == OBJ_S3);
	if (c->flavor == OBJ_AZURE)
		obj_entry_md5_base64(e, r->content_md5);
	obj_entry_modified(e, r->last_modified);
}
