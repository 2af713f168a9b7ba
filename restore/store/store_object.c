/*
 * store_object.c - the object store driver of the file store (store.h, store_object.h): an S3
 * bucket or an Azure Blob container whose file documents are <prefix><uuid><suffix>.
 *
 * It adapts objclient.h to the driver table (store_driver.h): a listing is the server's, page
 * by page, keeping only the keys of file documents (others are told to the skipped callback,
 * never touched); a file is read with a GET that names the ETag listed (If-Match), so that
 * what is read is the object that was listed, whole; staging is object_stage.c's, recovery
 * object_journal.c's. It also gives a list-only store over sorted records (the staged files
 * of a restore, for the file check).
 */
#include "store_object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define LIST_PAGE 1000

static const struct store_driver object_driver;

/* A listing of the store: one page of the server's at a time. */
struct object_list {
	struct store_list head;
	struct object_store *os;
	store_skipped_fn skipped;
	void *ctx;
	struct obj_entry *page;
	size_t n, next;
	char token[2048];
	bool last_page;
	char uuid[37];
	const struct obj_entry *current;
};

/* An object being read. */
struct object_read {
	struct store_read head;
	struct obj_get *get;
	char name[OBJECT_KEY_MAX + 600];
};

/* object_where: the store, for messages. */
static const char *
object_where(const struct store *s)
{
	return ((const struct object_store *)s)->where;
}

/* object_close: close the client and free the store. */
static void
object_close(struct store *s)
{
	struct object_store *os = (struct object_store *)s;

	objclient_close(os->client);
	free(os);
}

/* object_check_access: whether the credentials list and write under the prefix. */
static int
object_check_access(struct store *s, char *msg, size_t msglen)
{
	return objclient_probe(((struct object_store *)s)->client, msg, msglen);
}

/* object_list_open: start a listing under the prefix. */
static int
object_list_open(struct store *s, const char *who, int flags, store_skipped_fn skipped, void *ctx,
                 struct store_list **out, char *err, size_t errlen)
{
	struct object_list *l = calloc(1, sizeof(*l));

	(void)who;
	(void)flags; /* a listing has every object's size anyway */
	if (l == NULL || (l->page = calloc(LIST_PAGE, sizeof(*l->page))) == NULL) {
		free(l);
		return io_error(err, errlen, "out of memory");
	}
	l->head.driver = &object_driver;
	l->os = (struct object_store *)s;
	l->skipped = skipped;
	l->ctx = ctx;
	*out = &l->head;
	return 0;
}

/* object_list_next: the next file document's object, fetching pages as they run out. */
static int
object_list_next(struct store_list *sl, struct store_entry *e, char *err, size_t errlen)
{
	struct object_list *l = (struct object_list *)sl;

	for (;;) {
		if (l->next == l->n) {
			if (l->last_page)
				return 0;
			if (obj_list_page(l->os->client, l->os->prefix, l->token, sizeof(l->token),
			                  l->page, LIST_PAGE, &l->n, err, errlen) < 0)
				return -1;
			l->next = 0;
			l->last_page = l->token[0] == '\0';
			continue;
		}
		l->current = &l->page[l->next++];
		if (!object_uuid_of(l->os, l->current->name, l->uuid)) {
			if (l->skipped != NULL)
				l->skipped(l->ctx, l->current->name,
				           strncmp(l->current->name + strlen(l->os->prefix),
				                   OBJECT_ASIDE_FOLDER,
				                   strlen(OBJECT_ASIDE_FOLDER)) == 0
				               ? "a restore's copy aside"
				               : "not <prefix><uuid><suffix>");
			continue;
		}
		e->uuid = l->uuid;
		e->size = l->current->size;
		return 1;
	}
}

/* object_list_close: free the listing. */
static void
object_list_close(struct store_list *sl)
{
	struct object_list *l = (struct object_list *)sl;

	free(l->page);
	free(l);
}

/* object_read_open: GET the object last listed, if it is still the one listed. */
static int
object_read_open(struct store_list *sl, const struct timespec *since, struct store_read **out,
                 struct store_file_info *info, const char **why, char *err, size_t errlen)
{
	struct object_list *l = (struct object_list *)sl;
	struct object_read *r;
	int rc;

	if (since != NULL && l->current->modified > since->tv_sec) {
		*why = "it was created or changed after the backup began";
		return 0;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return io_error(err, errlen, "out of memory");
	r->head.driver = &object_driver;
	snprintf(r->name, sizeof(r->name), "%s/%s", l->os->where, l->current->name);
	rc = obj_get_open(l->os->client, l->current->name,
	                  l->current->etag[0] != '\0' ? l->current->etag : NULL, &r->get, err,
	                  errlen);
	if (rc <= 0) {
		free(r);
		if (rc == 0)
			*why = "it is gone or was changed since it was listed";
		return rc;
	}
	info->size = l->current->size;
	info->modified.tv_sec = l->current->modified;
	info->modified.tv_nsec = 0;
	*out = &r->head;
	return 1;
}

/* object_read_name: the object, for messages. */
static const char *
object_read_name(const struct store_read *sr)
{
	return ((const struct object_read *)sr)->name;
}

/* object_read: the next bytes of the GET. */
static ssize_t
object_read(struct store_read *sr, void *buf, size_t len, char *err, size_t errlen)
{
	return obj_get_read(((struct object_read *)sr)->get, buf, len, err, errlen);
}

/* object_read_close: end the GET. */
static void
object_read_close(struct store_read *sr)
{
	struct object_read *r = (struct object_read *)sr;

	obj_get_close(r->get);
	free(r);
}

/* object_remove_leftover: undo or finish what job_id's stopped restore left in the store. */
static void
object_remove_leftover(struct store *s, const char *job_id)
{
	struct object_store *os = (struct object_store *)s;
	char err[1024];

	if (os->t->state_dir != NULL)
		(void)object_recover(os, os->t->state_dir, job_id, err, sizeof(err));
}

/* object_tidy: settle the stopped restores whose journals are in the state folder. */
static int
object_tidy(struct store *s, char *err, size_t errlen)
{
	struct object_store *os = (struct object_store *)s;

	if (os->t->state_dir == NULL)
		return 0;
	return object_recover_all(os, os->t->state_dir, err, errlen) == 0 ? 0 : -1;
}

static const struct store_driver object_driver = {
    .name = "object",
    .where = object_where,
    .close = object_close,
    .check_access = object_check_access,
    .list_open = object_list_open,
    .list_next = object_list_next,
    .list_close = object_list_close,
    .read_open = object_read_open,
    .read_name = object_read_name,
    .read = object_read,
    .read_close = object_read_close, /* no read_unchanged: the GET named the listed ETag */
    .stage_begin = object_stage_begin,
    .file_open = object_file_open,
    .file_write = object_file_write,
    .file_close = object_file_close,
    .file_abandon = object_file_abandon,
    .stage_finish = object_stage_finish,
    .stage_prepare = object_stage_prepare,
    .stage_commit = object_stage_commit,
    .stage_where = object_stage_where,
    .stage_abort = object_stage_abort,
    .stage_close = object_stage_close,
    .stage_view = object_stage_view,
    .stage_counts = object_stage_counts,
    .stage_remove_leftover = object_remove_leftover,
    .tidy = object_tidy, /* no old files: a commit deletes the old objects itself */
};

/* store_object_new: t's bucket or container, its client open (credentials loaded). */
int
store_object_new(const struct restore_target *t, struct store **out, char *err, size_t errlen)
{
	struct object_store *os = calloc(1, sizeof(*os));

	if (os == NULL)
		return io_error(err, errlen, "out of memory");
	os->head.driver = &object_driver;
	os->t = t;
	os->prefix = t->s3 != NULL ? t->s3->prefix : "";
	os->suffix = t->s3 != NULL ? t->s3->suffix : "";
	if (os->prefix == NULL)
		os->prefix = "";
	if (os->suffix == NULL)
		os->suffix = "";
	if (objclient_open(t, &os->client, err, errlen) < 0) {
		free(os);
		return -1;
	}
	snprintf(os->where, sizeof(os->where), "%s", objclient_where(os->client));
	*out = &os->head;
	return 0;
}
