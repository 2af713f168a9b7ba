/*
 * http.h - the object client's HTTP engine (http.c): a queue of requests performed over one
 * libcurl multi handle, at most max_connections at once over reused connections, idempotent ones
 * retried after no reply or a passing failure (most 5xx, 408, 429). Knows nothing of S3 or Azure: a
 * request is a method, a URL, headers and a body in memory; its reply is a status, a few headers
 * and a bounded body.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct http_engine;
struct http_req;

/* Called once a request is over (after its retries), from http_deliver. */
typedef void (*http_complete_fn)(struct http_req *r);

struct http_req {
	/* The request (set by the caller before http_submit). */
	const char *method; /* GET, HEAD, PUT, POST, DELETE */
	char *url;          /* owned */
	struct curl_slist *headers;
	const void *body; /* PUT, POST: its bytes (live until complete) */
	size_t body_len;
	bool idempotent;        /* may be sent again (http.c: worth_retry) */
	const char *aws_sigv4;  /* CURLOPT_AWS_SIGV4 (S3), or NULL */
	const char *aws_key_id; /* its access key id (which may hold a ':', as Swift's do) */
	const char *aws_secret; /* and secret */
	size_t max_reply;       /* the reply body kept, in bytes; more is cut off (reply_cut) */
	http_complete_fn complete;
	void *ctx; /* the caller's */
	/* A streamed reply: a 2xx reply's body goes to sink instead (which may answer
	 * CURL_WRITEFUNC_PAUSE: http_resume then gives it the same bytes again). */
	size_t (*sink)(struct http_req *r, const char *data, size_t len);

	/* The reply. */
	CURLcode curl_code; /* CURLE_OK: a reply came (status set) */
	char curl_err[CURL_ERROR_SIZE];
	long status;
	char *reply; /* NUL-terminated, reply_len bytes */
	size_t reply_len, reply_cap;
	bool reply_cut;
	char etag[128];          /* ETag, quotes kept */
	char content_md5[64];    /* Content-MD5 (base64) */
	char last_modified[64];  /* Last-Modified */
	char copy_status[32];    /* x-ms-copy-status */
	uint64_t content_length; /* Content-Length */
	bool have_length;
	bool headers_done; /* the final reply's headers are in (status set) */
	bool paused;

	/* The engine's. */
	int attempts;
	int64_t not_before_ms; /* CLOCK_MONOTONIC: not sent again before */
	size_t body_off;
	bool sync, finished;
	CURL *easy;
	struct http_req *next;
};

/* A new engine of at most max_connections (1..128) transfers at once. NULL: err says why. */
struct http_engine *http_engine_new(int max_connections, char *err, size_t errlen);
/* Frees e and every request it still holds, their complete not called: their ctx by drop (when
 * not NULL); a synchronous one (its caller's) is only detached from e. */
void http_engine_free(struct http_engine *e, void (*drop)(void *ctx));

/* A request with method and url (copied); NULL when out of memory. */
struct http_req *http_req_new(const char *method, const char *url);
/* Adds header line (a "Name: value" string, copied); -1 when out of memory. */
int http_req_header(struct http_req *r, const char *line);
void http_req_free(struct http_req *r);

/* Queues r (its attempts start now, or after delay_ms). */
void http_submit(struct http_engine *e, struct http_req *r, int64_t delay_ms);
/* Performs transfers for a while (at most wait_ms without progress); the requests that are over
 * go to the finished list (or are marked finished when sync). -1 when libcurl fails as a whole. */
int http_step(struct http_engine *e, int wait_ms, char *err, size_t errlen);
/* Takes the oldest finished request off the finished list; NULL: none. */
struct http_req *http_take_finished(struct http_engine *e);
/* Queues r ahead of the others and performs transfers until it is over (its complete is not
 * called: the caller reads the reply). Other requests that finish meanwhile wait in the finished
 * list. -1 when libcurl fails as a whole. */
int http_perform(struct http_engine *e, struct http_req *r, char *err, size_t errlen);
/* Queues r ahead of the others, as http_perform does, and returns: the caller drives the engine
 * (http_step) until r->finished. */
void http_start(struct http_engine *e, struct http_req *r);
/* Takes r, queued or in flight, out of the engine (its complete is not called). */
void http_cancel(struct http_engine *e, struct http_req *r);
/* Lets the paused transfer of r go on. */
void http_resume(struct http_req *r);
/* Requests queued, waiting for a retry, or in flight. */
size_t http_active(const struct http_engine *e);
/* What the engine did so far: attempts made, connections opened, most transfers at once. */
void http_counts(const struct http_engine *e, uint64_t *attempts, uint64_t *connections, int *most);
/* Requests finished and not yet taken. */
size_t http_finished(const struct http_engine *e);

#endif
