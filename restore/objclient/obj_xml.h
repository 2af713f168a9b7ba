/*
 * obj_xml.h - reading the object servers' replies (obj_xml.c): the XML bodies of listings,
 * errors and multipart uploads (libxml2), and an object's ETag, Content-MD5 and dates.
 */
#ifndef OBJ_XML_H
#define OBJ_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "objclient.h"

/* Which server's listing: S3's ListObjects, Azure's List Blobs. */
enum obj_flavor { OBJ_S3, OBJ_AZURE };

/* 1 when body is an <Error> document: code and message filled (cut to fit); 0 otherwise. */
int obj_xml_error(const char *body, size_t len, char *code, size_t codelen, char *message,
                  size_t messagelen);
/* Reads one listing page into entries (at most max), its count into *n and the next page's token
 * (S3: NextMarker or the last key when truncated; Azure: NextMarker) into token, "" at the end.
 * -1: err says what is wrong with the reply. */
int obj_xml_list(enum obj_flavor flavor, const char *body, size_t len, struct obj_entry *entries,
                 size_t max, size_t *n, char *token, size_t tokenlen, char *err, size_t errlen);
/* The text of the first element named name in body (S3's UploadId); -1 when absent. */
int obj_xml_text(const char *body, size_t len, const char *name, char *out, size_t outlen);

/* Fills e's etag from an ETag value (quotes removed) and, for S3 (32 hex digits), its md5. */
void obj_entry_etag(struct obj_entry *e, const char *etag, bool md5_from_etag);
/* Fills e's md5 from a base64 Content-MD5 value (Azure); nothing when it is not 16 bytes. */
void obj_entry_md5_base64(struct obj_entry *e, const char *b64);
/* Fills e's modified from an ISO 8601 (S3 listing) or RFC 1123 (HTTP header) date. */
void obj_entry_modified(struct obj_entry *e, const char *date);

#endif
