/*
 * obj_open.c - opens the object client on a target's s3 or azure settings: the URLs (S3: the
 * endpoint path-style, or AWS's virtual-hosted https://<bucket>.s3.<region>.amazonaws.com; Azure:
 * the blob endpoint or https://<account>.blob.core.windows.net), the description objclient_where
 * gives, and the credentials: from the files the target names (a relative path is taken in
 * $CREDENTIALS_DIRECTORY, systemd's LoadCredential=), else from the environment (S3:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; Azure: AZURE_STORAGE_KEY, else
 * AZURE_STORAGE_SAS_TOKEN). A secret is never written into a message.
 */
#include "objclient_parts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define SECRET_MAX 8192

/* Reads the secret in file path (relative: in $CREDENTIALS_DIRECTORY) into a new string, without
 * its trailing white space; what names it in messages. NULL: err says why. */
static char *
read_secret(const char *target, const char *what, const char *path, char *err, size_t errlen)
{
	char full[4096], *buf = NULL;
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	if (path[0] != '/') {
		if (dir == NULL || dir[0] == '\0') {
			snprintf(err, errlen,
			         "target %s: %s %s is a relative path and $CREDENTIALS_DIRECTORY "
			         "is not set",
			         target, what, path);
			return NULL;
		}
		snprintf(full, sizeof(full), "%s/%s", dir, path);
		path = full;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "target %s: cannot open %s %s: %s", target, what, path,
		         strerror(errno));
		return NULL;
	}
	size_t len = 0;
	if ((buf = malloc(SECRET_MAX + 1)) == NULL) {
		snprintf(err, errlen, "target %s: cannot read %s %s: out of memory", target, what,
		         path);
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, SECRET_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "target %s: cannot read %s %s: %s", target, what,
			         path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == SECRET_MAX) {
			snprintf(err, errlen, "target %s: %s %s is larger than %d bytes", target,
			         what, path, SECRET_MAX);
			goto fail;
		}
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
	                   buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		snprintf(err, errlen, "target %s: %s %s is empty", target, what, path);
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "target %s: cannot read %s %s: %s", target, what, path,
		         strerror(errno));
		goto fail;
	}
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	if (buf != NULL)
		memset(buf, 0, SECRET_MAX + 1);
	free(buf);
	return NULL;
}

/* A copy of environment variable name, or NULL when unset or empty (*oom set when out of memory).
 */
static char *
env_secret(const char *name, bool *oom)
{
	const char *v = getenv(name);
	char *copy = v != NULL && v[0] != '\0' ? strdup(v) : NULL;
	if (v != NULL && v[0] != '\0' && copy == NULL)
		*oom = true;
	return copy;
}

/* The part of url after scheme://host[:port] ("" when none). */
static const char *
url_path(const char *url)
{
	const char *p = strstr(url, "://");
	p = p != NULL ? p + 3 : url;
	p += strcspn(p, "/");
	return p;
}

/* A copy of url without its trailing slashes; NULL when out of memory. */
static char *
trimmed_url(const char *url)
{
	char *copy = strdup(url);
	if (copy != NULL)
		for (size_t n = strlen(copy); n > 0 && copy[n - 1] == '/'; n--)
			copy[n - 1] = '\0';
	return copy;
}

/* Sets up c for S3 target t. */
static int
open_s3(struct objclient *c, const struct restore_target *t, char *err, size_t errlen)
{
	const struct store_s3 *s = t->s3;
	bool oom = false;
	char *secret = NULL, *endpoint = NULL;
	int rc = -1;
	c->flavor = OBJ_S3;
	c->sse = s->server_side_encryption;
	if (s->region == NULL || s->bucket == NULL || s->region[0] == '\0' ||
	    s->bucket[0] == '\0') {
		snprintf(err, errlen, "target %s: s3 needs a region and a bucket", t->name);
		return -1;
	}
	snprintf(c->where, sizeof(c->where), "s3://%s/%s%s%s", s->bucket,
	         s->prefix != NULL ? s->prefix : "", s->endpoint != NULL ? " at " : "",
	         s->endpoint != NULL ? s->endpoint : "");
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", s->region);
	if (s->endpoint != NULL) {
		endpoint = trimmed_url(s->endpoint);
		size_t len = endpoint != NULL ? strlen(endpoint) + 3 * strlen(s->bucket) + 4 : 0;
		if (endpoint != NULL && (c->root = malloc(len)) != NULL) {
			snprintf(c->root, len, "%s/", endpoint);
			obj_encode(c->root, len, s->bucket, false);
			c->base = strdup(c->root);
		}
	} else {
		size_t len = strlen(s->bucket) + strlen(s->region) + 64;
		if ((c->root = malloc(len)) != NULL)
			snprintf(c->root, len, "https://%s.s3.%s.amazonaws.com/", s->bucket,
			         s->region);
		if ((c->base = malloc(len)) != NULL)
			snprintf(c->base, len, "https://%s.s3.%s.amazonaws.com", s->bucket,
			         s->region);
	}
	c->prefix = strdup(s->prefix != NULL ? s->prefix : "");
	if (c->root == NULL || c->base == NULL || c->prefix == NULL)
		goto oom;
	const char *key_id =
	    s->access_key_id != NULL ? s->access_key_id : getenv("AWS_ACCESS_KEY_ID");
	if (key_id == NULL || key_id[0] == '\0') {
		snprintf(err, errlen,
		         "target %s: s3 has no access_key_id and AWS_ACCESS_KEY_ID is not set",
		         t->name);
		goto out;
	}
	if (s->secret_access_key_file != NULL) {
		if ((secret = read_secret(t->name, "s3 secret_access_key_file",
		                          s->secret_access_key_file, err, errlen)) == NULL)
			goto out;
	} else if ((secret = env_secret("AWS_SECRET_ACCESS_KEY", &oom)) == NULL) {
		if (oom)
			goto oom;
		snprintf(err, errlen,
		         "target %s: s3 has no secret_access_key_file and AWS_SECRET_ACCESS_KEY is "
		         "not set",
		         t->name);
		goto out;
	}
	if (s->session_token_file != NULL) {
		if ((c->token = read_secret(t->name, "s3 session_token_file", s->session_token_file,
		                            err, errlen)) == NULL)
			goto out;
	} else if ((c->token = env_secret("AWS_SESSION_TOKEN", &oom)) == NULL && oom) {
		goto oom;
	}
	if ((c->key_id = strdup(key_id)) == NULL)
		goto oom;
	c->secret = secret;
	secret = NULL;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "target %s: cannot open %s: out of memory", t->name, c->where);
out:
	if (secret != NULL) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	free(endpoint);
	return rc;
}

/* Decodes the base64 account key b64 into c->key; -1 when it is not base64 of 1 to 96 bytes. */
static int
decode_key(struct objclient *c, const char *b64)
{
	size_t len = strlen(b64);
	unsigned char out[3 * 64];
	if (len == 0 || len % 4 != 0 || len > 128)
		return -1;
	int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return -1;
	n -= (b64[len - 1] == '=') + (b64[len - 2] == '=');
	if (n <= 0 || (size_t)n > sizeof(c->key))
		return -1;
	memcpy(c->key, out, (size_t)n);
	c->keylen = (size_t)n;
	memset(out, 0, sizeof(out));
	return 0;
}

/* Sets up c for Azure target t. */
static int
open_azure(struct objclient *c, const struct restore_target *t, char *err, size_t errlen)
{
	const struct store_azure *a = t->azure;
	bool oom = false;
	char *key = NULL, *endpoint = NULL;
	int rc = -1;
	c->flavor = OBJ_AZURE;
	if (a->account_name == NULL || a->container == NULL || a->account_name[0] == '\0' ||
	    a->container[0] == '\0') {
		snprintf(err, errlen, "target %s: azure needs an account_name and a container",
		         t->name);
		return -1;
	}
	snprintf(c->where, sizeof(c->where), "azure://%s/%s%s%s", a->account_name, a->container,
	         a->blob_endpoint != NULL ? " at " : "",
	         a->blob_endpoint != NULL ? a->blob_endpoint : "");
	if (a->blob_endpoint != NULL) {
		endpoint = trimmed_url(a->blob_endpoint);
	} else if ((endpoint = malloc(strlen(a->account_name) + 40)) != NULL) {
		sprintf(endpoint, "https://%s.blob.core.windows.net", a->account_name);
	}
	size_t len = endpoint != NULL ? strlen(endpoint) + 3 * strlen(a->container) + 4 : 0;
	if (endpoint == NULL || (c->base = malloc(len)) == NULL)
		goto oom;
	snprintf(c->base, len, "%s/", endpoint);
	obj_encode(c->base, len, a->container, false);
	size_t clen = strlen(a->account_name) + strlen(url_path(c->base)) + 2;
	c->root = strdup(c->base);
	c->prefix = strdup("");
	c->account = strdup(a->account_name);
	if ((c->canon_base = malloc(clen)) != NULL)
		snprintf(c->canon_base, clen, "/%s%s", a->account_name, url_path(c->base));
	if (c->root == NULL || c->prefix == NULL || c->account == NULL || c->canon_base == NULL)
		goto oom;
	if (a->account_key_file != NULL) {
		if ((key = read_secret(t->name, "azure account_key_file", a->account_key_file, err,
		                       errlen)) == NULL)
			goto out;
	} else if (a->shared_access_signature_file != NULL) {
		if ((c->sas = read_secret(t->name, "azure shared_access_signature_file",
		                          a->shared_access_signature_file, err, errlen)) == NULL)
			goto out;
	} else if ((key = env_secret("AZURE_STORAGE_KEY", &oom)) == NULL &&
	           (c->sas = env_secret("AZURE_STORAGE_SAS_TOKEN", &oom)) == NULL) {
		if (oom)
			goto oom;
		snprintf(err, errlen,
		         "target %s: azure has no account_key_file nor "
		         "shared_access_signature_file, and neither"
		         " AZURE_STORAGE_KEY nor AZURE_STORAGE_SAS_TOKEN is set",
		         t->name);
		goto out;
	}
	if (key != NULL && decode_key(c, key) != 0) {
		snprintf(err, errlen,
		         "target %s: the azure account key is not base64 (of at most 96 bytes)",
		         t->name);
		goto out;
	}
	if (c->sas != NULL && c->sas[0] == '?')
		memmove(c->sas, c->sas + 1, strlen(c->sas));
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "target %s: cannot open %s: out of memory", t->name, c->where);
out:
	if (key != NULL) {
		memset(key, 0, strlen(key));
		free(key);
	}
	free(endpoint);
	return rc;
}

int
objclient_open(const struct restore_target *t, struct objclient **out, char *err, size_t errlen)
{
	struct objclient *c = calloc(1, sizeof(*c));
	int max_connections;
	*out = NULL;
	if (c == NULL) {
		snprintf(err, errlen, "target %s: cannot open its object store: out of memory",
		         t->name);
		return -1;
	}
	c->target = t;
	if (t->s3 != NULL) {
		max_connections = t->s3->max_connections;
		if (open_s3(c, t, err, errlen) != 0)
			goto fail;
	} else if (t->azure != NULL) {
		max_connections = t->azure->max_connections;
		if (open_azure(c, t, err, errlen) != 0)
			goto fail;
	} else {
		snprintf(err, errlen, "target %s has neither s3 nor azure settings", t->name);
		goto fail;
	}
	if (max_connections <= 0)
		max_connections = 16;
	if (max_connections > 128)
		max_connections = 128;
	if ((c->http = http_engine_new(max_connections, err, errlen)) == NULL)
		goto fail;
	*out = c;
	return 0;
fail:
	objclient_close(c);
	return -1;
}
