/*
 * store_driver.h - what a file store driver provides (store.c dispatches to it; callers see
 * only store.h).
 *
 * As OpenBSD smtpd's queue backends do, a driver is a table of functions. Each handle of
 * store.h begins with the head below, which store.c reads to find the driver; the driver
 * allocates its own larger struct around that head and frees it in its close, abort or
 * abandon function. store.c checks the arguments common to every driver and owns the store
 * of a stage; a driver's functions follow the contracts of their namesakes in store.h.
 */
#ifndef STORE_DRIVER_H
#define STORE_DRIVER_H

#include "store.h"

struct store_driver {
	const char *name; /* "folder", "object" */
	const char *(*where)(const struct store *s);
	void (*close)(struct store *s);
	int (*check_access)(struct store *s, char *msg, size_t msglen);

	int (*list_open)(struct store *s, const char *who, int flags, store_skipped_fn skipped,
	                 void *ctx, struct store_list **out, char *err, size_t errlen);
	int (*list_next)(struct store_list *l, struct store_entry *e, char *err, size_t errlen);
	void (*list_close)(struct store_list *l);

	int (*read_open)(struct store_list *l, const struct timespec *since,
	                 struct store_read **out, struct store_file_info *info, const char **why,
	                 char *err, size_t errlen);
	const char *(*read_name)(const struct store_read *r);
	ssize_t (*read)(struct store_read *r, void *buf, size_t len, char *err, size_t errlen);
	int (*read_unchanged)(struct store_read *r, char *err, size_t errlen); /* NULL: 0 */
	void (*read_close)(struct store_read *r);

	int (*stage_begin)(struct store *s, const char *job_id, int flags, struct store_stage **out,
	                   char *err, size_t errlen);
	int (*file_open)(struct store_stage *st, const char *uuid, struct store_file **out,
	                 char *err, size_t errlen);
	int (*file_write)(struct store_file *f, const void *buf, size_t len, char *err,
	                  size_t errlen);
	int (*file_close)(struct store_file *f, char *err, size_t errlen);
	void (*file_abandon)(struct store_file *f);
	int (*stage_finish)(struct store_stage *st, char *err, size_t errlen);
	int (*stage_prepare)(struct store_stage *st, const char *xact_id, int backend_pid,
	                     const char *ask_dbname, char *err, size_t errlen); /* optional */
	void (*stage_counts)(const struct store_stage *st,
	                     struct store_stage_counts *c); /* optional */
	int (*stage_commit)(struct store_stage *st, char *err, size_t errlen);
	int (*stage_remove_old)(struct store_stage *st, char *err, size_t errlen); /* NULL: 0 */
	const char *(*stage_where)(const struct store_stage *st);
	void (*stage_abort)(struct store_stage *st);
	void (*stage_close)(struct store_stage *st);
	void (*stage_remove_leftover)(struct store *s, const char *job_id);
	int (*tidy)(struct store *s, char *err, size_t errlen); /* optional */
	/* Optional: NULL lists the folder at stage_where. */
	int (*stage_view)(struct store_stage *st, struct store **out, char *err, size_t errlen);

	/* NULL: a driver with no old files to take (old_remove and old_close then NULL too) */
	int (*old_take)(struct store *s, struct store_old **out, char *err, size_t errlen);
	int (*old_remove)(struct store_old *o, store_old_done_fn done, void *ctx);
	void (*old_close)(struct store_old *o);
};

/* The heads of store.h's handles; a driver's own structs begin with them. */
struct store {
	const struct store_driver *driver;
};

struct store_list {
	const struct store_driver *driver;
};

struct store_read {
	const struct store_driver *driver;
};

struct store_stage {
	const struct store_driver *driver;
	struct store *store; /* set by store.c, which closes it with the stage */
};

struct store_file {
	const struct store_driver *driver;
};

struct store_old {
	const struct store_driver *driver;
};

/*
 * store_folder_new: the folder driver's store for dir_fd/dir, staging with t's owner, group
 * and modes (t may be NULL for a store that is only listed, read, or tidied). 0 or -1 with err.
 */
int store_folder_new(int dir_fd, const char *dir, const struct restore_target *t,
                     struct store **out, char *err, size_t errlen);

#endif
