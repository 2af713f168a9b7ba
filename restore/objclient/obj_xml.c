/*
 * obj_xml.c - reads the object servers' replies: the XML of a listing page (S3 ListObjects,
 * Azure List Blobs), of an error (<Error><Code/><Message/></Error>, both servers) and of a
 * multipart upload's start (UploadId), with libxml2, never fetching anything the document names;
 * and an object's ETag, Content-MD5 and modification date, from a listing or a header.
 */
#include "obj_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

/* Parses body without network access nor entity expansion; NULL when it is not XML. */
static xmlDocPtr
parse(const char *body, size_t len)
{
	if (body == NULL || len == 0 || len > (size_t)1 << 30)
		return NULL;
	return xmlReadMemory(body, (int)len, "reply.xml", NULL,
	                     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	                         XML_PARSE_NOBLANKS);
}

/* The first child element of n named name; NULL when none. */
static xmlNodePtr
child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n != NULL ? n->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* Copies the text of n (the child name of parent) into out, cut to fit; "" when absent. */
static void
child_text(xmlNodePtr parent, const char *name, char *out, size_t outlen)
{
	xmlNodePtr n = child(parent, name);
	xmlChar *text = n != NULL ? xmlNodeGetContent(n) : NULL;
	snprintf(out, outlen, "%s", text != NULL ? (const char *)text : "");
	xmlFree(text);
}

int
obj_xml_error(const char *body, size_t len, char *code, size_t codelen, char *message,
              size_t messagelen)
{
	xmlDocPtr doc = parse(body, len);
	xmlNodePtr root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
	int found = root != NULL && strcmp((const char *)root->name, "Error") == 0;
	if (found) {
		child_text(root, "Code", code, codelen);
		child_text(root, "Message", message, messagelen);
		/* Azure puts its details on more lines (RequestId, Time): keep the first. */
		message[strcspn(message, "\r\n")] = '\0';
	}
	xmlFreeDoc(doc);
	return found;
}

int
obj_xml_text(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
	xmlDocPtr doc = parse(body, len);
	xmlNodePtr root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
	int rc = -1;
	if (root != NULL && child(root, name) != NULL) {
		child_text(root, name, out, outlen);
		rc = 0;
	}
	xmlFreeDoc(doc);
	return rc;
}

/* Reads one S3 <Contents> or Azure <Blob> element into e; -1 when it lacks a name or a size. */
static int
read_entry(enum obj_flavor flavor, xmlNodePtr n, struct obj_entry *e)
{
	char text[1024], size[32];
	memset(e, 0, sizeof(*e));
	child_text(n, flavor == OBJ_S3 ? "Key" : "Name", e->name, sizeof(e->name));
	xmlNodePtr props = flavor == OBJ_S3 ? n : child(n, "Properties");
	child_text(props, flavor == OBJ_S3 ? "Size" : "Content-Length", size, sizeof(size));
	if (e->name[0] == '\0' || size[0] == '\0')
		return -1;
	e->size = strtoull(size, NULL, 10);
	child_text(props, flavor == OBJ_S3 ? "ETag" : "Etag", text, sizeof(text));
	obj_entry_etag(e, text, flavor == OBJ_S3);
	if (flavor == OBJ_AZURE) {
		child_text(props, "Content-MD5", text, sizeof(text));
		obj_entry_md5_base64(e, text);
	}
	child_text(props, flavor == OBJ_S3 ? "LastModified" : "Last-Modified", text, sizeof(text));
	obj_entry_modified(e, text);
	return 0;
}

int
obj_xml_list(enum obj_flavor flavor, const char *body, size_t len, struct obj_entry *entries,
             size_t max, size_t *n, char *token, size_t tokenlen, char *err, size_t errlen)
{
	const char *root_name = flavor == OBJ_S3 ? "ListBucketResult" : "EnumerationResults";
	xmlDocPtr doc = parse(body, len);
	xmlNodePtr root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
	int rc = -1;
	*n = 0;
	token[0] = '\0';
	if (root == NULL || strcmp((const char *)root->name, root_name) != 0) {
		snprintf(err, errlen, "the listing is not a %s document", root_name);
		goto out;
	}
	xmlNodePtr list = flavor == OBJ_S3 ? root : child(root, "Blobs");
	const char *item = flavor == OBJ_S3 ? "Contents" : "Blob";
	for (xmlNodePtr c = list != NULL ? list->children : NULL; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, item) != 0)
			continue;
		if (*n == max) {
			snprintf(err, errlen,
			         "the listing holds more than the %zu objects asked for", max);
			goto out;
		}
		if (read_entry(flavor, c, &entries[*n]) != 0) {
			snprintf(err, errlen, "the listing has an object without a name or a size");
			goto out;
		}
		(*n)++;
	}
	if (flavor == OBJ_S3) {
		char truncated[16];
		child_text(root, "IsTruncated", truncated, sizeof(truncated));
		/* Cut short: the next page starts after NextMarker, or without one, after the last
		 * key. */
		if (strcmp(truncated, "true") == 0) {
			child_text(root, "NextMarker", token, tokenlen);
			if (token[0] == '\0' && *n > 0)
				snprintf(token, tokenlen, "%s", entries[*n - 1].name);
			if (token[0] == '\0') {
				snprintf(err, errlen,
				         "the listing is cut short without a marker to go on from");
				goto out;
			}
		}
	} else {
		child_text(root, "NextMarker", token, tokenlen);
	}
	if (strlen(token) + 1 >= tokenlen) {
		snprintf(err, errlen, "the listing's continuation token is too long");
		goto out;
	}
	rc = 0;
out:
	xmlFreeDoc(doc);
	return rc;
}

/* The value of hex digit c, -1 when it is none. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
obj_entry_etag(struct obj_entry *e, const char *etag, bool md5_from_etag)
{
	size_t len = strlen(etag);
	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
		etag++;
		len -= 2;
	}
	if (len >= sizeof(e->etag))
		len = sizeof(e->etag) - 1;
	memcpy(e->etag, etag, len);
	e->etag[len] = '\0';
	if (!md5_from_etag || len != 32)
		return;
	for (int i = 0; i < 16; i++) {
		int hi = hex_value(e->etag[2 * i]), lo = hex_value(e->etag[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return;
		e->md5[i] = (unsigned char)(hi * 16 + lo);
	}
	e->have_md5 = true;
}

void
obj_entry_md5_base64(struct obj_entry *e, const char *b64)
{
	unsigned char out[32];
	/* 16 bytes are 24 base64 characters, the last two padding. */
	if (strlen(b64) != 24 || EVP_DecodeBlock(out, (const unsigned char *)b64, 24) != 18)
		return;
	memcpy(e->md5, out, 16);
	e->have_md5 = true;
}

void
obj_entry_modified(struct obj_entry *e, const char *date)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(date, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(date, "%a, %d %b %Y %H:%M:%S", &tm);
	}
	e->modified = end != NULL ? timegm(&tm) : 0;
}
