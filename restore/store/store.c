/*
 * store.c - the file store interface (store.h): picks a target's driver and hands each
 * operation to it (store_driver.h).
 *
 * A target's store is its blob_dir folder (store_folder.c), or its S3 bucket or Azure
 * container (store_object.c). What
 * every driver would repeat lives here: NULL handles where the contract allows them, and the
 * store a stage was begun on, which the stage owns and closes.
 */
#include "store_driver.h"

#include <fcntl.h>
#include <string.h>

#include "blobtree.h"
#include "restore.h"
#include "store_object.h"

int
store_open(const struct restore_target *t, struct store **out, char *err, size_t errlen)
{
	if (t->s3 != NULL || t->azure != NULL)
		return store_object_new(t, out, err, errlen);
	return store_folder_new(AT_FDCWD, t->blob_dir, t, out, err, errlen);
}

int
store_open_folder(int dir_fd, const char *dir, struct store **out, char *err, size_t errlen)
{
	return store_folder_new(dir_fd, dir, NULL, out, err, errlen);
}

const char *
store_where(const struct store *s)
{
	return s->driver->where(s);
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->driver->close(s);
}

int
store_check_access(const struct restore_target *t, char *msg, size_t msglen)
{
	struct store *s;
	int rc;

	if (store_open(t, &s, msg, msglen) < 0)
		return -1;
	rc = s->driver->check_access(s, msg, msglen);
	store_close(s);
	return rc;
}

int
store_list_open(struct store *s, const char *who, int flags, store_skipped_fn skipped, void *ctx,
                struct store_list **out, char *err, size_t errlen)
{
	*out = NULL;
	return s->driver->list_open(s, who, flags, skipped, ctx, out, err, errlen);
}

int
store_list_next(struct store_list *l, struct store_entry *e, char *err, size_t errlen)
{
	return l->driver->list_next(l, e, err, errlen);
}

bool
store_is_uuid(const char *s)
{
	return blobtree_is_uuid(s);
}

void
store_list_close(struct store_list *l)
{
	if (l != NULL)
		l->driver->list_close(l);
}

int
store_read_open(struct store_list *l, const struct timespec *since, struct store_read **out,
                struct store_file_info *info, const char **why, char *err, size_t errlen)
{
	*out = NULL;
	*why = NULL;
	return l->driver->read_open(l, since, out, info, why, err, errlen);
}

const char *
store_read_name(const struct store_read *r)
{
	return r->driver->read_name(r);
}

ssize_t
store_read(struct store_read *r, void *buf, size_t len, char *err, size_t errlen)
{
	return r->driver->read(r, buf, len, err, errlen);
}

int
store_read_unchanged(struct store_read *r, char *err, size_t errlen)
{
	return r->driver->read_unchanged != NULL ? r->driver->read_unchanged(r, err, errlen) : 0;
}

void
store_read_close(struct store_read *r)
{
	if (r != NULL)
		r->driver->read_close(r);
}

int
store_stage_begin(const struct restore_target *t, const char *job_id, int flags,
                  struct store_stage **out, char *err, size_t errlen)
{
	struct store *s;
	int rc;

	*out = NULL;
	if (store_open(t, &s, err, errlen) < 0)
		return -1;
	rc = s->driver->stage_begin(s, job_id, flags, out, err, errlen);
	if (rc < 0) {
		store_close(s);
		return rc;
	}
	(*out)->store = s;
	return 0;
}

int
store_file_open(struct store_stage *st, const char *uuid, struct store_file **out, char *err,
                size_t errlen)
{
	*out = NULL;
	return st->driver->file_open(st, uuid, out, err, errlen);
}

int
store_file_write(struct store_file *f, const void *buf, size_t len, char *err, size_t errlen)
{
	return f->driver->file_write(f, buf, len, err, errlen);
}

int
store_file_close(struct store_file *f, char *err, size_t errlen)
{
	return f->driver->file_close(f, err, errlen);
}

void
store_file_abandon(struct store_file *f)
{
	if (f != NULL)
		f->driver->file_abandon(f);
}

int
store_stage_finish(struct store_stage *st, char *err, size_t errlen)
{
	return st->driver->stage_finish(st, err, errlen);
}

int
store_stage_prepare(struct store_stage *st, const char *xact_id, int backend_pid,
                    const char *ask_dbname, char *err, size_t errlen)
{
	if (st->driver->stage_prepare == NULL)
		return 0;
	return st->driver->stage_prepare(st, xact_id, backend_pid, ask_dbname, err, errlen);
}

void
store_stage_counts(const struct store_stage *st, struct store_stage_counts *c)
{
	memset(c, 0, sizeof(*c));
	if (st->driver->stage_counts != NULL)
		st->driver->stage_counts(st, c);
}

int
store_stage_commit(struct store_stage *st, char *err, size_t errlen)
{
	return st->driver->stage_commit(st, err, errlen);
}

int
store_stage_remove_old(struct store_stage *st, char *err, size_t errlen)
{
	return st->driver->stage_remove_old != NULL ? st->driver->stage_remove_old(st, err, errlen)
	                                            : 0;
}

const char *
store_stage_where(const struct store_stage *st)
{
	return st->driver->stage_where(st);
}

int
store_stage_view(struct store_stage *st, struct store **out, char *err, size_t errlen)
{
	*out = NULL;
	if (st->driver->stage_view != NULL)
		return st->driver->stage_view(st, out, err, errlen);
	return store_open_folder(AT_FDCWD, store_stage_where(st), out, err, errlen);
}

void
store_stage_abort(struct store_stage *st)
{
	struct store *s;

	if (st == NULL)
		return;
	s = st->store;
	st->driver->stage_abort(st);
	store_close(s);
}

void
store_stage_close(struct store_stage *st)
{
	struct store *s;

	if (st == NULL)
		return;
	s = st->store;
	st->driver->stage_close(st);
	store_close(s);
}

void
store_stage_remove_leftover(struct store *s, const char *job_id)
{
	s->driver->stage_remove_leftover(s, job_id);
}

int
store_tidy(struct store *s, char *err, size_t errlen)
{
	return s->driver->tidy != NULL ? s->driver->tidy(s, err, errlen) : 0;
}

int
store_old_take(struct store *s, struct store_old **out, char *err, size_t errlen)
{
	*out = NULL;
	return s->driver->old_take != NULL ? s->driver->old_take(s, out, err, errlen) : 0;
}

int
store_old_remove(struct store_old *o, store_old_done_fn done, void *ctx)
{
	return o->driver->old_remove(o, done, ctx);
}

void
store_old_close(struct store_old *o)
{
	if (o != NULL)
		o->driver->old_close(o);
}
