/*
 * http.c - the object client's HTTP engine: performs queued requests over one libcurl multi
 * handle, at most max_connections at once, reusing connections (the multi handle's cache), and
 * sends an idempotent request again after no reply, a 5xx (but 501, 505), 408 or 429, three times
 * at most, pausing 0.1, 0.4 and 1.6 s. Each request's body is in memory; its reply body is kept up
 * to a bound.
 *
 * Easy handles are pooled and reset between requests; a request in flight owns one. Requests
 * that are over wait in a finished list until the client takes them (http_take_finished), so
 * that a synchronous request (http_perform) never calls another request's completion.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_RETRIES 3

struct http_engine {
	CURLM *multi;
	int max_connections;
	int running;                         /* requests on the multi handle */
	struct http_req *flying;             /* those requests */
	struct http_req *queue, *queue_tail; /* to send, in order (retries carry a not_before) */
	struct http_req *done, *done_tail;   /* over, not yet taken */
	size_t queued, finished;
	CURL **pool; /* idle easy handles */
	int pooled;
	uint64_t attempts, connections; /* so far */
	int most;                       /* transfers at once, at most */
};

/* The monotonic clock in milliseconds. */
static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct http_engine *
http_engine_new(int max_connections, char *err, size_t errlen)
{
	struct http_engine *e = calloc(1, sizeof(*e));
	if (max_connections < 1)
		max_connections = 1;
	if (e != NULL)
		e->pool = calloc((size_t)max_connections, sizeof(*e->pool));
	if (e == NULL || e->pool == NULL || (e->multi = curl_multi_init()) == NULL) {
		snprintf(err, errlen, "cannot start an HTTP client: out of memory");
		if (e != NULL)
			free(e->pool);
		free(e);
		return NULL;
	}
	e->max_connections = max_connections;
	curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_connections);
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)max_connections);
	return e;
}

/* Frees every request of list r, first their ctx by drop (not NULL); a synchronous request
 * belongs to its caller: it is only detached (its easy handle freed). */
static void
free_list(struct http_req *r, void (*drop)(void *ctx))
{
	while (r != NULL) {
		struct http_req *next = r->next;
		r->next = NULL;
		if (r->sync) {
			if (r->easy != NULL)
				curl_easy_cleanup(r->easy);
			r->easy = NULL;
			r->finished = true;
		} else {
			if (drop != NULL)
				drop(r->ctx);
			http_req_free(r);
		}
		r = next;
	}
}

void
http_engine_free(struct http_engine *e, void (*drop)(void *ctx))
{
	if (e == NULL)
		return;
	for (struct http_req *r = e->flying; r != NULL; r = r->next)
		curl_multi_remove_handle(e->multi, r->easy);
	free_list(e->flying, drop);
	free_list(e->queue, drop);
	free_list(e->done, drop);
	for (int i = 0; i < e->pooled; i++)
		curl_easy_cleanup(e->pool[i]);
	curl_multi_cleanup(e->multi);
	free(e->pool);
	free(e);
}

struct http_req *
http_req_new(const char *method, const char *url)
{
	struct http_req *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->url = strdup(url)) == NULL) {
		free(r);
		return NULL;
	}
	r->method = method;
	r->max_reply = 64 * 1024;
	return r;
}

int
http_req_header(struct http_req *r, const char *line)
{
	struct curl_slist *l = curl_slist_append(r->headers, line);
	if (l == NULL)
		return -1;
	r->headers = l;
	return 0;
}

void
http_req_free(struct http_req *r)
{
	if (r == NULL)
		return;
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->url);
	free(r->reply);
	free(r);
}

/* Appends r to the queue (at its head when first). */
static void
enqueue(struct http_engine *e, struct http_req *r, bool first)
{
	if (first) {
		r->next = e->queue;
		e->queue = r;
		if (e->queue_tail == NULL)
			e->queue_tail = r;
	} else {
		r->next = NULL;
		if (e->queue_tail != NULL)
			e->queue_tail->next = r;
		else
			e->queue = r;
		e->queue_tail = r;
	}
	e->queued++;
}

void
http_submit(struct http_engine *e, struct http_req *r, int64_t delay_ms)
{
	r->not_before_ms = delay_ms > 0 ? now_ms() + delay_ms : 0;
	r->attempts = 0;
	enqueue(e, r, false);
}

/* curl's write callback: keeps the reply body up to max_reply bytes. */
static size_t
on_body(char *data, size_t size, size_t count, void *p)
{
	struct http_req *r = p;
	size_t len = size * count, keep = len;
	if (r->sink != NULL && r->status >= 200 && r->status < 300) {
		size_t n = r->sink(r, data, len);
		r->paused = n == CURL_WRITEFUNC_PAUSE;
		return n;
	}
	if (r->reply_len + keep > r->max_reply) {
		keep = r->max_reply > r->reply_len ? r->max_reply - r->reply_len : 0;
		r->reply_cut = true;
	}
	if (keep > 0) {
		if (r->reply_len + keep + 1 > r->reply_cap) {
			size_t cap = r->reply_cap ? r->reply_cap : 4096;
			while (cap < r->reply_len + keep + 1)
				cap *= 2;
			char *grown = realloc(r->reply, cap);
			if (grown == NULL)
				return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
			r->reply = grown;
			r->reply_cap = cap;
		}
		memcpy(r->reply + r->reply_len, data, keep);
		r->reply_len += keep;
		r->reply[r->reply_len] = '\0';
	}
	return len;
}

/* Copies header value (trimmed) into out when name matches. */
static void
header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	size_t vlen = (size_t)(end - v) < outlen - 1 ? (size_t)(end - v) : outlen - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
}

/* curl's header callback: keeps the headers the object client reads. */
static size_t
on_header(char *line, size_t size, size_t count, void *p)
{
	struct http_req *r = p;
	size_t len = size * count;
	char number[32] = "";
	if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new reply (after a 100 Continue): forget the previous one's headers. */
		r->etag[0] = r->content_md5[0] = r->last_modified[0] = r->copy_status[0] = '\0';
		r->have_length = false;
		const char *code = memchr(line, ' ', len);
		r->status = code != NULL ? strtol(code + 1, NULL, 10) : 0;
		return len;
	}
	if ((len == 2 && line[0] == '\r') || (len == 1 && line[0] == '\n')) {
		if (r->status >= 200)
			r->headers_done = true;
		return len;
	}
	header_value(line, len, "etag", r->etag, sizeof(r->etag));
	header_value(line, len, "content-md5", r->content_md5, sizeof(r->content_md5));
	header_value(line, len, "last-modified", r->last_modified, sizeof(r->last_modified));
	header_value(line, len, "x-ms-copy-status", r->copy_status, sizeof(r->copy_status));
	header_value(line, len, "content-length", number, sizeof(number));
	if (number[0] != '\0') {
		r->content_length = strtoull(number, NULL, 10);
		r->have_length = true;
	}
	return len;
}

/* curl's read callback: the request body, from body_off. */
static size_t
on_read(char *buf, size_t size, size_t count, void *p)
{
	struct http_req *r = p;
	size_t n = size * count, left = r->body_len - r->body_off;
	if (n > left)
		n = left;
	if (n == 0)
		return 0;
	memcpy(buf, (const char *)r->body + r->body_off, n);
	r->body_off += n;
	return n;
}

/* curl's seek callback: rewinds the body (when curl sends it again itself). */
static int
on_seek(void *p, curl_off_t offset, int origin)
{
	struct http_req *r = p;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	r->body_off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Sets up r's easy handle for one attempt and adds it to the multi handle. */
static int
start(struct http_engine *e, struct http_req *r, char *err, size_t errlen)
{
	CURL *h = e->pooled > 0 ? e->pool[--e->pooled] : curl_easy_init();
	if (h == NULL) {
		snprintf(err, errlen, "cannot start an HTTP request: out of memory");
		return -1;
	}
	curl_easy_reset(h);
	r->easy = h;
	r->status = 0;
	r->headers_done = r->paused = false;
	r->curl_code = CURLE_OK;
	r->curl_err[0] = '\0';
	r->reply_len = 0;
	r->reply_cut = false;
	if (r->reply != NULL)
		r->reply[0] = '\0';
	r->body_off = 0;
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A transfer that moves nothing for a minute has stalled. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
	if (r->aws_sigv4 != NULL) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, r->aws_sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, r->aws_key_id);
		curl_easy_setopt(h, CURLOPT_PASSWORD, r->aws_secret);
	}
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body != NULL ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	CURLMcode mc = curl_multi_add_handle(e->multi, h);
	if (mc != CURLM_OK) {
		snprintf(err, errlen, "cannot start an HTTP request: %s", curl_multi_strerror(mc));
		r->easy = NULL;
		curl_easy_cleanup(h);
		return -1;
	}
	e->running++;
	if (e->running > e->most)
		e->most = e->running;
	e->attempts++;
	r->attempts++;
	r->next = e->flying;
	e->flying = r;
	return 0;
}

/* Starts queued requests whose time has come while fewer than max_connections are running;
 * sets *wait_ms to the time until the next retry is due (when it is shorter). */
static int
start_queued(struct http_engine *e, int *wait_ms, char *err, size_t errlen)
{
	int64_t now = now_ms();
	struct http_req **link = &e->queue, *prev = NULL;
	while (*link != NULL && e->running < e->max_connections) {
		struct http_req *r = *link;
		if (r->not_before_ms > now) {
			if (r->not_before_ms - now < *wait_ms)
				*wait_ms = (int)(r->not_before_ms - now);
			prev = r;
			link = &r->next;
			continue;
		}
		*link = r->next;
		if (e->queue_tail == r)
			e->queue_tail = prev;
		e->queued--;
		r->next = NULL;
		if (start(e, r, err, errlen) != 0) {
			enqueue(e, r, true);
			return -1;
		}
	}
	return 0;
}

/* Whether r's attempt failed in a way worth another (no reply, a 5xx, 408 or 429). */
static bool
worth_retry(const struct http_req *r)
{
	if (!r->idempotent || r->attempts > HTTP_RETRIES)
		return false;
	/* 501 Not Implemented and 505 are answers; the other 5xx, 408 and 429 are moments. */
	return r->curl_code != CURLE_OK || r->status == 408 || r->status == 429 ||
	       (r->status >= 500 && r->status != 501 && r->status != 505);
}

/* Takes finished transfers off the multi handle: retries them or marks them over. */
static void
collect(struct http_engine *e)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *h = msg->easy_handle;
		CURLcode code = msg->data.result;
		struct http_req *r = NULL;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&r);
		curl_multi_remove_handle(e->multi, h);
		e->running--;
		for (struct http_req **link = &e->flying; *link != NULL; link = &(*link)->next)
			if (*link == r) {
				*link = r->next;
				break;
			}
		r->curl_code = code;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		long connects = 0;
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
		e->connections += (uint64_t)connects;
		if (code != CURLE_OK && r->curl_err[0] == '\0')
			snprintf(r->curl_err, sizeof(r->curl_err), "%s", curl_easy_strerror(code));
		r->easy = NULL;
		if (e->pooled < e->max_connections)
			e->pool[e->pooled++] = h;
		else
			curl_easy_cleanup(h);
		if (worth_retry(r)) {
			r->not_before_ms = now_ms() + (100LL << (2 * (r->attempts - 1)));
			enqueue(e, r,
			        r->sync); /* a synchronous one is waited for: ahead of the others */
			continue;
		}
		r->finished = true;
		if (r->sync)
			continue;
		r->next = NULL;
		if (e->done_tail != NULL)
			e->done_tail->next = r;
		else
			e->done = r;
		e->done_tail = r;
		e->finished++;
	}
}

int
http_step(struct http_engine *e, int wait_ms, char *err, size_t errlen)
{
	if (start_queued(e, &wait_ms, err, errlen) != 0)
		return -1;
	int still;
	CURLMcode mc = curl_multi_perform(e->multi, &still);
	if (mc == CURLM_OK && e->running > 0)
		mc = curl_multi_poll(e->multi, NULL, 0, wait_ms, NULL);
	else if (mc == CURLM_OK && e->queued > 0 && wait_ms > 0)
		nanosleep(&(struct timespec){.tv_sec = wait_ms / 1000,
		                             .tv_nsec = (wait_ms % 1000) * 1000000L},
		          NULL);
	if (mc == CURLM_OK)
		mc = curl_multi_perform(e->multi, &still);
	if (mc != CURLM_OK) {
		snprintf(err, errlen, "the HTTP client failed: %s", curl_multi_strerror(mc));
		return -1;
	}
	collect(e);
	return 0;
}

struct http_req *
http_take_finished(struct http_engine *e)
{
	struct http_req *r = e->done;
	if (r == NULL)
		return NULL;
	e->done = r->next;
	if (e->done == NULL)
		e->done_tail = NULL;
	r->next = NULL;
	e->finished--;
	return r;
}

void
http_start(struct http_engine *e, struct http_req *r)
{
	r->sync = true;
	r->finished = false;
	r->attempts = 0;
	r->not_before_ms = 0;
	enqueue(e, r, true);
}

void
http_cancel(struct http_engine *e, struct http_req *r)
{
	for (struct http_req **link = &e->flying; *link != NULL; link = &(*link)->next)
		if (*link == r) {
			*link = r->next;
			curl_multi_remove_handle(e->multi, r->easy);
			e->running--;
			curl_easy_cleanup(r->easy); /* its connection is mid-reply: not for reuse */
			r->easy = NULL;
			r->finished = true;
			return;
		}
	struct http_req *prev = NULL;
	for (struct http_req **link = &e->queue; *link != NULL; prev = *link, link = &(*link)->next)
		if (*link == r) {
			*link = r->next;
			if (e->queue_tail == r)
				e->queue_tail = prev;
			e->queued--;
			r->finished = true;
			return;
		}
}

void
http_resume(struct http_req *r)
{
	if (r->easy != NULL && r->paused) {
		r->paused = false;
		curl_easy_pause(r->easy, CURLPAUSE_CONT);
	}
}

int
http_perform(struct http_engine *e, struct http_req *r, char *err, size_t errlen)
{
	http_start(e, r);
	while (!r->finished)
		if (http_step(e, 1000, err, errlen) != 0)
			return -1;
	return 0;
}

size_t
http_active(const struct http_engine *e)
{
	return e->queued + (size_t)e->running;
}

void
http_counts(const struct http_engine *e, uint64_t *attempts, uint64_t *connections, int *most)
{
	*attempts = e->attempts;
	*connections = e->connections;
	*most = e->most;
}

size_t
http_finished(const struct http_engine *e)
{
	return e->finished;
}
