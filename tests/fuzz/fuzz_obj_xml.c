/*
 * fuzz_obj_xml.c - the object servers' replies (restore/objclient/obj_xml.c) on any bytes: what a
 * hostile or broken S3 or Azure endpoint could send.
 *
 * The first byte picks the reading (S: an S3 listing page, A: an Azure one, anything else: the
 * error document, the UploadId and the header values); the rest is the reply. A listing that is
 * read holds at most the objects asked for, each with a name, NUL-terminated names, ETags and
 * token, and an MD5 only from 32 hex digits (S3) or 24 base64 characters (Azure). Entities are
 * never fetched nor expanded (seed-entity names /etc/passwd).
 */
#include <string.h>

#include "fuzz.h"
#include "obj_xml.h"

#define MAX_ENTRIES 4

/* check_entry: the properties of an entry the listing gave. */
static void
check_entry(const struct obj_entry *e)
{
	if (memchr(e->name, '\0', sizeof(e->name)) == NULL || e->name[0] == '\0')
		fuzz_fail("an entry's name is empty or not NUL-terminated");
	if (memchr(e->etag, '\0', sizeof(e->etag)) == NULL)
		fuzz_fail("an entry's etag is not NUL-terminated");
	if (strstr(e->name, "root:") != NULL)
		fuzz_fail("an entity was expanded from a file");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obj_entry entries[MAX_ENTRIES], e;
	char token[64], err[256], code[64], message[128], text[64];
	size_t n = 0;
	if (size == 0)
		return 0;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	if (data[0] == 'S' || data[0] == 'A') {
		enum obj_flavor flavor = data[0] == 'S' ? OBJ_S3 : OBJ_AZURE;
		if (obj_xml_list(flavor, body, len, entries, MAX_ENTRIES, &n, token, sizeof(token),
		                 err, sizeof(err)) == 0) {
			if (n > MAX_ENTRIES)
				fuzz_fail("the listing gave %zu entries of at most %d", n,
				          MAX_ENTRIES);
			if (memchr(token, '\0', sizeof(token)) == NULL)
				fuzz_fail("the token is not NUL-terminated");
			for (size_t i = 0; i < n; i++)
				check_entry(&entries[i]);
		} else if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0') {
			fuzz_fail("a listing refused without a message");
		}
		return 0;
	}
	if (obj_xml_error(body, len, code, sizeof(code), message, sizeof(message)) == 1 &&
	    (strchr(message, '\n') != NULL || memchr(code, '\0', sizeof(code)) == NULL))
		fuzz_fail("the error's message is not one line, or its code not NUL-terminated");
	if (obj_xml_text(body, len, "UploadId", text, sizeof(text)) == 0 &&
	    memchr(text, '\0', sizeof(text)) == NULL)
		fuzz_fail("the UploadId is not NUL-terminated");
	/* The header readers on the bytes as text (up to 200 of them). */
	char value[201];
	size_t vlen = len < 200 ? len : 200;
	memcpy(value, body, vlen);
	value[vlen] = '\0';
	memset(&e, 0, sizeof(e));
	obj_entry_etag(&e, value, true);
	if (e.have_md5 && strlen(e.etag) != 32)
		fuzz_fail("an MD5 from an ETag that is not 32 characters");
	memset(&e, 0, sizeof(e));
	obj_entry_md5_base64(&e, value);
	if (e.have_md5 && strlen(value) != 24)
		fuzz_fail("an MD5 from a Content-MD5 that is not 24 characters");
	obj_entry_modified(&e, value);
	return 0;
}
