/*
 * object_file.c - one file of a restore into an object store (store_object.h), hashed as it
 * is read and sent as it comes.
 *
 * A file up to OBJECT_PART_BYTES is held whole in memory until its end, then: kept (the listed
 * object has its size and MD5), uploaded (no such key), or copied aside and then overwritten
 * (its content differs). A larger file goes up in a multipart upload to its key as it is read,
 * invisible until completed: at its end the upload is completed (after the copy aside, when it
 * replaces an object) or aborted (same content). Memory is bounded by OBJECT_BUDGET_BYTES of
 * buffers in flight and OBJECT_QUEUE_MAX requests: past them, the reading waits for requests
 * to finish (object_stage_drive). A rehearsal reads, hashes and decides the same way and sends
 * nothing. What is to happen to a key goes into the journal before its request can start.
 */
#include "store_object.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define OBJECT_MAX_PARTS 10000

/* A staged file being read. */
struct object_file {
	struct store_file head;
	struct object_stage *st;
	char uuid[37];
	struct object_record *listed; /* the object of this key the listing had, or NULL */
	EVP_MD_CTX *md5, *parts_md5;  /* the whole file's; the MD5 of its parts' MD5s */
	uint64_t size;
	unsigned char *buf;
	size_t len;
	struct obj_upload *upload; /* multipart, once the file outgrew one part */
	uint32_t parts;
	uint32_t parts_in_flight;
	bool part_failed;
};

/* One request's buffer, freed when it is done. */
struct object_put {
	struct object_stage *st;
	struct object_file *f; /* a part: its file; NULL for a whole object */
	unsigned char *buf;
	size_t len;
	unsigned char md5[16];
	char key[OBJECT_KEY_MAX];
	bool replacing;
};

/* put_done: a whole object or a part is up (or failed): free its buffer. */
static void
put_done(void *ctx, const struct obj_result *r)
{
	struct object_put *p = ctx;
	struct object_stage *st = p->st;

	st->bytes -= p->len;
	if (!r->ok)
		(void)object_stage_fail(st, r->err != NULL ? r->err : "an upload failed");
	else if (p->f == NULL)
		st->counts.uploaded_bytes += p->len;
	if (p->f != NULL) {
		p->f->parts_in_flight--;
		if (!r->ok)
			p->f->part_failed = true;
		else
			st->counts.uploaded_bytes += p->len;
	}
	free(p->buf);
	free(p);
}

/* put_start: queue the upload of a whole object. */
static void
put_start(struct object_put *p)
{
	char err[512];

	if (obj_put(p->st->os->client, p->key, p->buf, p->len, p->md5, put_done, p, err,
	            sizeof(err)) < 0) {
		struct obj_result r = {.ok = false, .err = err};

		put_done(p, &r);
	}
}

/* aside_done: the old object is copied aside: now overwrite it. */
static void
aside_done(void *ctx, const struct obj_result *r)
{
	struct object_put *p = ctx;

	if (!r->ok) {
		put_done(p, r);
		return;
	}
	put_start(p);
}

/* object_file_open: a staged file; one whose key the backup held already is refused. */
int
object_file_open(struct store_stage *sst, const char *uuid, struct store_file **out, char *err,
                 size_t errlen)
{
	struct object_stage *st = (struct object_stage *)sst;
	struct object_file *f;

	if (st->failed > 0)
		return io_error(err, errlen, "%s", st->err);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return io_error(err, errlen, "out of memory");
	f->head.driver = sst->driver;
	f->st = st;
	snprintf(f->uuid, sizeof(f->uuid), "%s", uuid);
	f->listed = object_records_find(&st->listing, uuid);
	if (f->listed != NULL && f->listed->seen) {
		free(f);
		return io_error(err, errlen, "the file %s appears twice in the archive", uuid);
	}
	f->md5 = EVP_MD_CTX_new();
	f->parts_md5 = EVP_MD_CTX_new();
	f->buf = malloc(OBJECT_PART_BYTES);
	if (f->md5 == NULL || f->parts_md5 == NULL || f->buf == NULL ||
	    !EVP_DigestInit_ex(f->md5, EVP_md5(), NULL) ||
	    !EVP_DigestInit_ex(f->parts_md5, EVP_md5(), NULL)) {
		object_file_abandon(&f->head);
		return io_error(err, errlen, "out of memory");
	}
	if (f->listed != NULL)
		f->listed->seen = 1;
	*out = &f->head;
	return 0;
}

/* send_part: the full buffer goes up as the next part of the file's multipart upload. */
static int
send_part(struct object_file *f, char *err, size_t errlen)
{
	struct object_stage *st = f->st;
	struct object_put *p;
	unsigned char md5[16];
	char key[OBJECT_KEY_MAX];

	if (!EVP_Digest(f->buf, f->len, md5, NULL, EVP_md5(), NULL) ||
	    !EVP_DigestUpdate(f->parts_md5, md5, 16))
		return io_error(err, errlen, "cannot hash %s", f->uuid);
	if (++f->parts > OBJECT_MAX_PARTS)
		return io_error(err, errlen, "the file %s is larger than %u parts of %u MiB",
		                f->uuid, OBJECT_MAX_PARTS, OBJECT_PART_BYTES >> 20);
	if (st->rehearsal) {
		f->len = 0;
		return 0;
	}
	if (f->upload == NULL &&
	    (object_key(st->os, f->uuid, key, sizeof(key)) < 0 ||
	     obj_upload_begin(st->os->client, key, &f->upload, err, errlen) < 0))
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return io_error(err, errlen, "out of memory");
	p->st = st;
	p->f = f;
	p->buf = f->buf;
	p->len = f->len;
	memcpy(p->md5, md5, 16);
	f->buf = malloc(OBJECT_PART_BYTES);
	f->len = 0;
	st->bytes += p->len;
	f->parts_in_flight++;
	if (obj_upload_part(f->upload, (int)f->parts, p->buf, p->len, p->md5, put_done, p, err,
	                    errlen) < 0) {
		struct obj_result r = {.ok = false, .err = err};

		put_done(p, &r);
		return -1;
	}
	if (f->buf == NULL)
		return io_error(err, errlen, "out of memory");
	if (object_stage_drive(st, OBJECT_QUEUE_MAX, OBJECT_BUDGET_BYTES) < 0)
		return io_error(err, errlen, "%s", st->err);
	return 0;
}

/* object_file_write: hash, and buffer; a full buffer goes up as a part. */
int
object_file_write(struct store_file *sf, const void *buf, size_t len, char *err, size_t errlen)
{
	struct object_file *f = (struct object_file *)sf;
	const unsigned char *p = buf;

	if (!EVP_DigestUpdate(f->md5, buf, len))
		return io_error(err, errlen, "cannot hash %s", f->uuid);
	f->size += len;
	while (len > 0) {
		size_t n = OBJECT_PART_BYTES - f->len;

		if (n == 0) {
			if (send_part(f, err, errlen) < 0)
				return -1;
			continue;
		}
		if (n > len)
			n = len;
		memcpy(f->buf + f->len, p, n);
		f->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* journal_line: journal what happens to uuid: 'N' or 'R'. */
static int
journal_line(struct object_file *f, char what, char *err, size_t errlen)
{
	return object_journal_add(f->st->journal, what, f->uuid, err, errlen);
}

/* copy_aside_now: copy the file's listed object aside, and wait for it. */
static int
copy_aside_now(struct object_file *f, char *err, size_t errlen)
{
	struct object_stage *st = f->st;
	char key[OBJECT_KEY_MAX], aside[OBJECT_KEY_MAX];
	uint64_t failed = st->failed;
	struct object_put *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return io_error(err, errlen, "out of memory");
	p->st = st;
	if (object_key(st->os, f->uuid, key, sizeof(key)) < 0 ||
	    object_aside_key(st->os, st->job_id, f->uuid, aside, sizeof(aside)) < 0) {
		free(p);
		return io_error(err, errlen, "the key of %s is too long", f->uuid);
	}
	if (obj_copy(st->os->client, key, aside, put_done, p, err, errlen) < 0) {
		free(p);
		return -1;
	}
	if (object_stage_drive(st, 0, 0) < 0 || st->failed > failed)
		return io_error(err, errlen, "%s", st->err);
	return 0;
}

/* end_multipart: the file's last part is up: complete the upload, or abort it (kept). */
static int
end_multipart(struct object_file *f, const unsigned char md5[16], bool same, char *err,
              size_t errlen)
{
	struct object_stage *st = f->st;
	struct obj_upload *u = f->upload;

	while (f->parts_in_flight > 0)
		if (object_stage_step(st, objclient_in_flight(st->os->client) - 1) < 0)
			return io_error(err, errlen, "%s", st->err);
	f->upload = NULL;
	if (f->part_failed) {
		obj_upload_abort(u);
		return io_error(err, errlen, "%s", st->err);
	}
	if (same) {
		obj_upload_abort(u);
		return 0;
	}
	if (journal_line(f, f->listed != NULL ? 'R' : 'N', err, errlen) < 0 ||
	    (f->listed != NULL ? copy_aside_now(f, err, errlen)
	                       : object_stage_drive(st, OBJECT_QUEUE_MAX, UINT64_MAX)) < 0) {
		obj_upload_abort(u);
		return st->failed > 0 ? io_error(err, errlen, "%s", st->err) : -1;
	}
	return obj_upload_end(u, md5, err, errlen);
}

/* queue_whole: queue the upload of a file held whole (after its copy aside, replacing). */
static int
queue_whole(struct object_file *f, const unsigned char md5[16], char *err, size_t errlen)
{
	struct object_stage *st = f->st;
	struct object_put *p = calloc(1, sizeof(*p));
	char aside[OBJECT_KEY_MAX];

	if (p == NULL)
		return io_error(err, errlen, "out of memory");
	p->st = st;
	p->buf = f->buf;
	p->len = f->len;
	memcpy(p->md5, md5, 16);
	p->replacing = f->listed != NULL;
	if (object_key(st->os, f->uuid, p->key, sizeof(p->key)) < 0 ||
	    object_aside_key(st->os, st->job_id, f->uuid, aside, sizeof(aside)) < 0) {
		free(p);
		return io_error(err, errlen, "the key of %s is too long", f->uuid);
	}
	if (journal_line(f, p->replacing ? 'R' : 'N', err, errlen) < 0) {
		free(p);
		return -1;
	}
	f->buf = NULL; /* the request has it */
	st->bytes += p->len;
	if (p->replacing) {
		if (obj_copy(st->os->client, p->key, aside, aside_done, p, err, errlen) < 0) {
			struct obj_result r = {.ok = false, .err = err};

			put_done(p, &r);
			return -1;
		}
	} else
		put_start(p);
	if (object_stage_drive(st, OBJECT_QUEUE_MAX, OBJECT_BUDGET_BYTES) < 0)
		return io_error(err, errlen, "%s", st->err);
	return 0;
}

/* object_file_close: decide the file's fate: kept, uploaded, or replaced. */
int
object_file_close(struct store_file *sf, char *err, size_t errlen)
{
	struct object_file *f = (struct object_file *)sf;
	struct object_stage *st = f->st;
	unsigned char md5[16], parts_digest[16];
	struct object_record r = {0};
	bool multipart = f->upload != NULL || (st->rehearsal && f->parts > 0), same;
	int rc = -1;

	if (multipart && f->len > 0 && send_part(f, err, errlen) < 0)
		goto out;
	if (!EVP_DigestFinal_ex(f->md5, md5, NULL) ||
	    !EVP_DigestFinal_ex(f->parts_md5, parts_digest, NULL)) {
		io_error(err, errlen, "cannot hash %s", f->uuid);
		goto out;
	}
	memcpy(r.uuid, f->uuid, 36);
	r.size = f->size;
	r.digest_kind = OBJECT_DIGEST_MD5;
	memcpy(r.digest, md5, 16);
	if (object_records_add(&st->staged, &r, err, errlen) < 0)
		goto out;
	same = f->listed != NULL &&
	       object_same_content(f->listed, f->size, md5, multipart ? f->parts : 0, parts_digest);
	if (same)
		st->counts.kept++;
	else if (f->listed != NULL)
		st->counts.replaced++;
	else
		st->counts.uploaded++;
	if (st->rehearsal || (same && !multipart))
		rc = 0;
	else if (multipart)
		rc = end_multipart(f, md5, same, err, errlen);
	else
		rc = queue_whole(f, md5, err, errlen);
out:
	object_file_abandon(sf);
	return rc;
}

/* object_file_abandon: free the file; an upload begun for it is aborted. */
void
object_file_abandon(struct store_file *sf)
{
	struct object_file *f = (struct object_file *)sf;

	if (f->upload != NULL) {
		while (f->parts_in_flight > 0 &&
		       object_stage_step(f->st, objclient_in_flight(f->st->os->client) - 1) == 0)
			;
		obj_upload_abort(f->upload);
	}
	EVP_MD_CTX_free(f->md5);
	EVP_MD_CTX_free(f->parts_md5);
	free(f->buf);
	free(f);
}
