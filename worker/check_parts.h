/*
 * check_parts.h - what check.c (the tables, the database's checks) and check_files.c (the
 * file system's checks) share; not for the rest of the program.
 */
#ifndef CHECK_PARTS_H
#define CHECK_PARTS_H

#include <stddef.h>

#include "check.h"
#include "config.h"

struct database;

/* What the checks of one target share. */
struct check_target {
	const struct config *config;
	const struct config_target *t;
	struct database *db; /* NULL until the login, or when it failed */
	int server_major;    /* the server's major version, once logged in */
};

/* A check of one target: fills msg with one sentence naming the target. */
typedef enum check_status check_fn(struct check_target *ct, char *msg, size_t len);

/* A check of the host, once (target: only that target's figures count, when not NULL). */
typedef enum check_status host_check_fn(const struct config *config, const char *target, char *msg,
                                        size_t len);

/* check_quota: plan_quota leaves room for a dump after restore_overhead. */
check_fn check_quota;

/*
 * check_blob_swap: blob_dir's parent is a writable folder, blob_dir (when it exists) a folder
 * on the parent's filesystem and no mount point, and that filesystem can exchange folders.
 */
check_fn check_blob_swap;

/*
 * check_blob_access: the restored tree can be given the owner, group and modes the
 * application needs; for a bucket or a container, the credentials are taken and the rights
 * to list, write and delete are there (store_check_access, restore/store/store.h).
 */
check_fn check_blob_access;

/* check_hooks: the programs of before_restore and after_restore can be run by this user. */
check_fn check_hooks;

/* check_spool: the worker's user can use spool_dir's folders and locks (spool_check_usable). */
host_check_fn check_spool;

/* check_work_dir: work_dir is a writable folder with room for the largest dump's copy. */
host_check_fn check_work_dir;

/* check_user_name: the name of the user this process runs as, for messages. */
void check_user_name(char *buf, size_t len);

#endif
