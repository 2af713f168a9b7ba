/*
 * obj_get.c - streaming reads of one object (obj_get_open, obj_get_read, obj_get_close): the
 * reply's body passes through a 64 KiB buffer, the transfer paused (CURL_WRITEFUNC_PAUSE) while
 * the buffer is full, so memory stays the same whatever the object's size. The request runs on
 * the client's engine beside the others (a connection of its own while it lasts); it is not
 * retried.
 */
#include "objclient_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_BUFFER (64 * 1024)

struct obj_get {
	struct objclient *c;
	struct http_req *r;
	char name[1024];
	size_t start, len; /* the bytes waiting in buf */
	char buf[GET_BUFFER];
};

/* The request's sink: keeps the bytes in the buffer, or pauses when they do not fit. */
static size_t
get_sink(struct http_req *r, const char *data, size_t len)
{
	struct obj_get *g = r->ctx;
	if (g->len + len > GET_BUFFER)
		return CURL_WRITEFUNC_PAUSE;
	if (g->start + g->len + len > GET_BUFFER) {
		memmove(g->buf, g->buf + g->start, g->len);
		g->start = 0;
	}
	memcpy(g->buf + g->start + g->len, data, len);
	g->len += len;
	return len;
}

void
obj_get_close(struct obj_get *g)
{
	if (g == NULL)
		return;
	if (g->r != NULL && !g->r->finished)
		http_cancel(g->c->http, g->r); /* read no further */
	http_req_free(g->r);
	free(g);
}

int
obj_get_open(struct objclient *c, const char *name, const char *if_match_etag, struct obj_get **out,
             char *err, size_t errlen)
{
	struct obj_get *g = calloc(1, sizeof(*g));
	char line[256];
	*out = NULL;
	if (g == NULL) {
		snprintf(err, errlen, "%s: %s: out of memory", c->where, name);
		return -1;
	}
	g->c = c;
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(line, sizeof(line), "If-Match: \"%s\"",
	         if_match_etag != NULL ? if_match_etag : "");
	const char *headers[] = {if_match_etag != NULL ? line : NULL, NULL};
	g->r = c->flavor == OBJ_S3
	           ? s3_request(c, "GET", name, NULL, NULL, 0, headers, err, errlen)
	           : azure_request(c, "GET", name, NULL, NULL, 0, headers, err, errlen);
	if (g->r == NULL) {
		free(g);
		return -1;
	}
	g->r->sink = get_sink;
	g->r->ctx = g;
	g->r->idempotent = false;
	http_start(c->http, g->r);
	while (!g->r->headers_done && !g->r->finished)
		if (http_step(c->http, 1000, err, errlen) != 0)
			goto fail;
	if (g->r->curl_code == CURLE_OK && (g->r->status == 404 || g->r->status == 412)) {
		obj_get_close(g);
		return 0;
	}
	if (g->r->status < 200 || g->r->status >= 300) {
		while (!g->r->finished)
			if (http_step(c->http, 1000, err, errlen) != 0)
				goto fail;
		if (!obj_reply_error(c, g->r, name, err, errlen))
			snprintf(err, errlen, "%s: %s: the read failed", c->where, name);
		goto fail;
	}
	*out = g;
	return 1;
fail:
	obj_get_close(g);
	return -1;
}

ssize_t
obj_get_read(struct obj_get *g, void *buf, size_t len, char *err, size_t errlen)
{
	for (;;) {
		if (g->len > 0) {
			size_t n = len < g->len ? len : g->len;
			memcpy(buf, g->buf + g->start, n);
			g->start += n;
			g->len -= n;
			if (g->len == 0)
				g->start = 0;
			return (ssize_t)n;
		}
		if (g->r->finished) {
			if (obj_reply_error(g->c, g->r, g->name, err, errlen))
				return -1;
			return 0;
		}
		/* After unpausing, libcurl 7.88 runs the transfer on its next call, but its poll
		 * does not know: do not wait there. Nor long at all: its poll can miss a resumed
		 * transfer's data a few steps later too (a 9 MiB read took 0.7 to 2.9 s with a
		 * 1000 ms wait, 0.7 to 1.0 s with 20 ms); the reader is waiting for these bytes. */
		int wait_ms = 20;
		if (g->r->paused) {
			http_resume(g->r);
			wait_ms = 0;
		}
		if (http_step(g->c->http, wait_ms, err, errlen) != 0)
			return -1;
	}
}
