/*
 * blobstore.h - the old names of the blob folder, kept while restore/restore.c still uses them
 * (issue 19: the integrator converts its calls to store.h, then drops the transitional part
 * below; the worker's includes of this header may then name store_folder.h instead).
 *
 * The blob folder is now the folder driver of the file store: store.h is the interface,
 * store_folder.h the driver's own parts (which this header still brings in for the job claim,
 * the spool, the configuration and the tests).
 */
#ifndef BLOBSTORE_H
#define BLOBSTORE_H

#include "store.h"
#include "store_folder.h"

/*
 * Transitional: "struct blobstore" is the store's stage, so that restore.c's and the archive
 * walk's pointers to it are store.h's, and each old call is its store.h namesake.
 */
#define blobstore store_stage

/* blobstore_finish: store_stage_finish(). */
static inline int
blobstore_finish(struct store_stage *st, char *err, size_t errlen)
{
	return store_stage_finish(st, err, errlen);
}

/* blobstore_commit: store_stage_commit(). */
static inline int
blobstore_commit(struct store_stage *st, char *err, size_t errlen)
{
	return store_stage_commit(st, err, errlen);
}

/* blobstore_remove_old: store_stage_remove_old(). */
static inline int
blobstore_remove_old(struct store_stage *st, char *err, size_t errlen)
{
	return store_stage_remove_old(st, err, errlen);
}

/* blobstore_staging_path: store_stage_where(). */
static inline const char *
blobstore_staging_path(const struct store_stage *st)
{
	return store_stage_where(st);
}

/* blobstore_abort: store_stage_abort(). */
static inline void
blobstore_abort(struct store_stage *st)
{
	store_stage_abort(st);
}

/* blobstore_close: store_stage_close(). */
static inline void
blobstore_close(struct store_stage *st)
{
	store_stage_close(st);
}

#endif
