/*
 * azure.c - the Azure Blob side of the object client: builds requests authorized by SharedKey
 * (an HMAC-SHA256 of the canonical request with the account key, libcrypto) or by a shared access
 * signature (the SAS query, appended to every URL by obj_url), and the calls that differ from
 * S3's: the copy (which may go on in the background: its status is polled) and the block list
 * that ends a block upload.
 */
#include "objclient_parts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define AZURE_VERSION    "2021-08-06"
#define AZURE_COPY_POLLS 3000 /* of 0.2 s: a copy still pending after 10 minutes has failed */

/* The value of header name among lines (NULL-terminated), or "" when absent. */
static const char *
header_of(const char *const *lines, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; lines[i] != NULL; i++)
		if (strncasecmp(lines[i], name, n) == 0 && lines[i][n] == ':') {
			const char *v = lines[i] + n + 1;
			while (*v == ' ')
				v++;
			return v;
		}
	return "";
}

/* Compares two header lines by name, for sorting the x-ms- headers. */
static int
compare_lines(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends s to the string being built at out (len so far, cap bytes); -1 when it does not fit. */
static int
append(char *out, size_t *len, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > cap)
		return -1;
	memcpy(out + *len, s, n + 1);
	*len += n;
	return 0;
}

/* Decodes %XX escapes of s (n bytes) into out. */
static void
url_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], '\0'};
			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

/* The string SharedKey signs: the verb, the standard headers, the x-ms- headers sorted, and the
 * resource with its query parameters (names sorted, values decoded). -1 when it does not fit. */
static int
string_to_sign(const struct objclient *c, const char *method, const char *name, const char *query,
               size_t len, const char *const *lines, char *out, size_t cap)
{
	static const char *const standard[] = {"Content-Encoding",
	                                       "Content-Language",
	                                       NULL,
	                                       "Content-MD5",
	                                       "Content-Type",
	                                       "Date",
	                                       "If-Modified-Since",
	                                       "If-Match",
	                                       "If-None-Match",
	                                       "If-Unmodified-Since",
	                                       "Range"};
	const char *ms[64];
	size_t nms = 0, n = 0;
	char number[32], piece[4096];
	if (append(out, &n, cap, method) != 0 || append(out, &n, cap, "\n") != 0)
		return -1;
	for (size_t i = 0; i < sizeof(standard) / sizeof(standard[0]); i++) {
		snprintf(number, sizeof(number), "%zu", len);
		const char *v = standard[i] != NULL ? header_of(lines, standard[i])
		                : len > 0           ? number
		                                    : "";
		if (append(out, &n, cap, v) != 0 || append(out, &n, cap, "\n") != 0)
			return -1;
	}
	for (size_t i = 0; lines[i] != NULL && nms < 64; i++)
		if (strncasecmp(lines[i], "x-ms-", 5) == 0)
			ms[nms++] = lines[i];
	qsort(ms, nms, sizeof(ms[0]), compare_lines);
	for (size_t i = 0; i < nms; i++) {
		const char *colon = strchr(ms[i], ':'), *v = colon + 1;
		while (*v == ' ')
			v++;
		size_t k = 0;
		for (const char *p = ms[i]; p < colon && k + 1 < sizeof(piece); p++)
			piece[k++] = (char)tolower((unsigned char)*p);
		snprintf(piece + k, sizeof(piece) - k, ":%s\n", v);
		if (append(out, &n, cap, piece) != 0)
			return -1;
	}
	piece[0] = '\0';
	if (name != NULL &&
	    (append(out, &n, cap, c->canon_base) != 0 ||
	     obj_encode(piece, sizeof(piece), "/", true) != 0 ||
	     obj_encode(piece, sizeof(piece), name, true) != 0 || append(out, &n, cap, piece) != 0))
		return -1;
	if (name == NULL && append(out, &n, cap, c->canon_base) != 0)
		return -1;
	/* The queries built here are sorted already, each name once. */
	for (const char *p = query; p != NULL && *p != '\0';) {
		size_t plen = strcspn(p, "&");
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq != NULL ? (size_t)(eq - p) : plen;
		char value[2048];
		url_decode(eq != NULL ? eq + 1 : p + plen, eq != NULL ? plen - klen - 1 : 0, value,
		           sizeof(value));
		snprintf(piece, sizeof(piece), "\n%.*s:%s", (int)klen, p, value);
		for (size_t i = 1; i <= klen; i++)
			piece[i] = (char)tolower((unsigned char)piece[i]);
		if (append(out, &n, cap, piece) != 0)
			return -1;
		p += plen;
		if (*p == '&')
			p++;
	}
	return 0;
}

struct http_req *
azure_request(struct objclient *c, const char *method, const char *name, const char *query,
              const void *body, size_t len, const char *const *headers, char *err, size_t errlen)
{
	char *url = obj_url(c, name, query);
	struct http_req *r = url != NULL ? http_req_new(method, url) : NULL;
	const char *lines[40];
	char date[80], *sts = NULL;
	size_t n = 0;
	free(url);
	if (r == NULL)
		goto oom;
	time_t now = time(NULL);
	struct tm tm;
	strftime(date, sizeof(date), "x-ms-date: %a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
	lines[n++] = date;
	lines[n++] = "x-ms-version: " AZURE_VERSION;
	for (size_t i = 0; headers != NULL && headers[i] != NULL && n < 38; i++)
		lines[n++] = headers[i];
	lines[n] = NULL;
	for (size_t i = 0; i < n; i++)
		if (http_req_header(r, lines[i]) != 0)
			goto oom;
	if (c->keylen > 0) {
		size_t cap = 16384;
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;
		char auth[256];
		if ((sts = malloc(cap)) == NULL)
			goto oom;
		if (string_to_sign(c, method, name, query, len, lines, sts, cap) != 0) {
			snprintf(err, errlen, "%s: %s: the request is too long to sign", c->where,
			         name != NULL ? name : "(the container)");
			goto fail;
		}
		if (HMAC(EVP_sha256(), c->key, (int)c->keylen, (const unsigned char *)sts,
		         strlen(sts), mac, &maclen) == NULL)
			goto oom;
		int at = snprintf(auth, sizeof(auth), "Authorization: SharedKey %s:", c->account);
		if (at < 0 || (size_t)at + 4 * ((maclen + 2) / 3) + 1 > sizeof(auth))
			goto oom;
		EVP_EncodeBlock((unsigned char *)auth + at, mac, (int)maclen);
		if (http_req_header(r, auth) != 0)
			goto oom;
	}
	free(sts);
	r->body = body;
	r->body_len = len;
	r->idempotent = true;
	return r;
oom:
	snprintf(err, errlen, "%s: %s: out of memory", c->where,
	         name != NULL ? name : "(the container)");
fail:
	free(sts);
	http_req_free(r);
	return NULL;
}

struct http_req *
azure_copy(struct objclient *c, const char *from, const char *to, char *err, size_t errlen)
{
	char *source = obj_url(c, from, NULL);
	size_t len = source != NULL ? strlen(source) + 32 : 0;
	char *line = source != NULL ? malloc(len) : NULL;
	struct http_req *r = NULL;
	if (line == NULL) {
		snprintf(err, errlen, "%s: %s: out of memory", c->where, to);
	} else {
		snprintf(line, len, "x-ms-copy-source: %s", source);
		const char *headers[] = {line, NULL};
		r = azure_request(c, "PUT", to, NULL, NULL, 0, headers, err, errlen);
	}
	free(line);
	free(source);
	return r;
}

void
azure_copy_complete(struct http_req *r)
{
	struct obj_op *op = r->ctx;
	char msg[2048], err[512];
	obj_reply_error(op->c, r, op->name, msg, sizeof(msg));
	if (msg[0] != '\0' || strcasecmp(r->copy_status, "success") == 0 ||
	    r->copy_status[0] == '\0') {
		obj_op_finish(op, r);
		return;
	}
	if (strcasecmp(r->copy_status, "pending") != 0) {
		snprintf(msg, sizeof(msg), "%s: %s: the copy ended with status %s", op->c->where,
		         op->name, r->copy_status);
		obj_op_fail(op, r, msg);
		return;
	}
	if (++op->polls > AZURE_COPY_POLLS) {
		snprintf(msg, sizeof(msg), "%s: %s: the copy was still pending after 10 minutes",
		         op->c->where, op->name);
		obj_op_fail(op, r, msg);
		return;
	}
	/* Still pending: ask again in 0.2 s. */
	struct http_req *poll =
	    azure_request(op->c, "HEAD", op->name, NULL, NULL, 0, NULL, err, sizeof(err));
	if (poll == NULL) {
		obj_op_fail(op, r, err);
		return;
	}
	poll->complete = azure_copy_complete;
	poll->ctx = op;
	http_req_free(r);
	http_submit(op->c->http, poll, 200);
}

void
azure_block_id(int part, char *out, size_t outlen)
{
	char number[16];
	unsigned char id[16];
	snprintf(number, sizeof(number), "%06d", part);
	int n = EVP_EncodeBlock(id, (const unsigned char *)number, 6);
	snprintf(out, outlen, "%.*s", n, (const char *)id);
}

int
azure_upload_end(struct obj_upload *u, const unsigned char whole_md5[16], char *err, size_t errlen)
{
	struct objclient *c = u->c;
	size_t cap = 128 + (size_t)u->max_part * 40, len = 0;
	char *xml = malloc(cap), md5[80] = "x-ms-blob-content-md5: ", id[16];
	struct http_req *r = NULL;
	int rc = -1;
	if (xml == NULL) {
		snprintf(err, errlen, "%s: %s: out of memory", c->where, u->name);
		goto out;
	}
	len += (size_t)snprintf(xml + len, cap - len,
	                        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (int i = 1; i <= u->max_part; i++) {
		azure_block_id(i, id, sizeof(id));
		len += (size_t)snprintf(xml + len, cap - len, "<Latest>%s</Latest>", id);
	}
	len += (size_t)snprintf(xml + len, cap - len, "</BlockList>");
	EVP_EncodeBlock((unsigned char *)md5 + strlen(md5), whole_md5, 16);
	const char *headers[] = {"Content-Type: application/xml", md5, NULL};
	r = azure_request(c, "PUT", u->name, "comp=blocklist", xml, len, headers, err, errlen);
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
