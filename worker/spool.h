/*
 * spool.h - the spool protocol (documented in README.md; producers depend on it).
 *
 *	<spool>/tmp/                 producers write here, then rename() into incoming/
 *	<spool>/incoming/            an archive or job file here goes to default_target
 *	<spool>/incoming/<target>/   ... to <target>
 *	<spool>/active/<job-id>/     claimed by a worker: the dropped file and "claim"
 *	<spool>/done/<job-id>/       succeeded: the dropped file and report.json
 *	<spool>/failed/<job-id>/     otherwise: the same
 *	<spool>/locks/<target>.lock  held by whoever restores into <target>
 *	<spool>/cancel/<job-id>      a request to cancel that job (restore-worker cancel)
 *
 * A claim is a rename of the dropped file into active/<job-id>/, so exactly one worker wins.
 * The claiming worker holds an open-file-description lock on active/<job-id>/claim for as long
 * as the job runs; a claim nobody holds belongs to a worker that died. Locks die with their
 * holder, on this host or (over NFS locking) another.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#define SPOOL_NAME_MAX   255
#define SPOOL_REPORT_MAX (4 * 1024 * 1024) /* report.json is a few KiB */

struct spool {
	char *dir;
	int root_fd; /* spool_dir itself; -1 when it does not exist (spool_open_existing) */
	int tmp_fd, incoming_fd, active_fd, done_fd, failed_fd, locks_fd;
};

#define SPOOL_ERROR_MAX 1000 /* the part of a job's error kept in its claim */

/* How far a claimed job got; what a worker that adopts it may do depends on it. */
enum spool_phase {
	SPOOL_PHASE_WAITING,    /* claimed, no attempt started yet */
	SPOOL_PHASE_RESTORING,  /* an attempt runs: until it commits, the target is as it was */
	SPOOL_PHASE_COMMITTING, /* the database commit began: the target may have changed */
	SPOOL_PHASE_FINISHED,   /* the outcome (status, error) is known; report.json may lag */
};

/*
 * What a claim knows about its job; kept in active/<job-id>/claim. The record has a fixed
 * size and is rewritten in place, so recording a job's progress or outcome never needs free
 * space on the spool's filesystem once the claim exists.
 */
struct spool_claim {
	char job_id[37];
	char name[SPOOL_NAME_MAX + 1]; /* the dropped file, as named in incoming/ */
	char folder[80];               /* "" for incoming/, else the <target> subfolder */
	char target[80];               /* the target it restores into, once known */
	int attempts;                  /* restores started so far */
	enum spool_phase phase;
	char work_dir[4096]; /* where the attempt keeps its dump copy */
	char blob_dir[4096]; /* beside which the attempt stages files; for a bucket or a container,
	                        its name (restore_target_store_name), which starts with no '/' */
	/* What the report needs that the outcome below does not say, recorded as the job starts: */
	bool dry_run, db_only;
	unsigned long long started_at_ms; /* the attempt's start, Unix time in milliseconds */
	/* With SPOOL_PHASE_COMMITTING, what is needed to learn later what became of the commit: */
	char xact_id[24];               /* the committing transaction (txid_current()) */
	int backend_pid;                /* the server process committing it */
	char new_oid[16];               /* strategy swap: the new database's OID */
	unsigned long long staging_dev; /* the staging folder's device and inode as the commit */
	unsigned long long staging_ino; /* began (0: none), to tell whether it was swapped in */
	/* With SPOOL_PHASE_FINISHED, the outcome as the report gives it: */
	char status[16];                 /* succeeded, rejected, failed, partial, cancelled */
	char database_status[16];        /* database.status */
	char files_status[16];           /* files.status */
	char archive_kind[16];           /* archive_kind ("" for unknown) */
	unsigned long long decompressed; /* database.decompressed_bytes */
	unsigned long long files_count;  /* files.count */
	unsigned long long files_bytes;  /* files.bytes */
	char error[SPOOL_ERROR_MAX + 1]; /* error, or "" */
	int fd;                          /* the locked claim file; -1 when not held */
	int job_fd;                      /* active/<job-id>/ */
};

/*
 * spool_open: open (creating what is missing) the spool's folders; 0 or -1 with err. Run by
 * root, what it creates is given the owner of the folder it is created in, as is everything
 * the functions below create (lock files, job folders, claims, files written atomically).
 */
int spool_open(const char *dir, struct spool *sp, char *err, size_t errlen);

/*
 * spool_open_existing: open the spool's folders that exist and create nothing (reading a
 * spool needs nothing new); those missing, or the whole spool, stay -1. 0 or -1 with err.
 */
int spool_open_existing(const char *dir, struct spool *sp, char *err, size_t errlen);

/*
 * spool_check_usable: may the worker's user (the caller; when the caller is root, the owner
 * of spool_dir) use spool_dir, its folders, their target and job folders and its lock files?
 * What is missing counts as usable when it can be created. 0, or -1 with one sentence in
 * msg naming the path, its owner and mode, and the user. (spool_check.c)
 */
int spool_check_usable(const char *spool_dir, char *msg, size_t msglen);

/* spool_describe_owner: "owned by USER:GROUP, mode 0755" for dir_fd/name, into buf. */
void spool_describe_owner(int dir_fd, const char *name, char *buf, size_t buflen);

/*
 * spool_submit_job_id: the job id a job file written by submit carries in its name
 * (submit-<job id>.yaml) into id; false for any other name. The worker gives the job that id.
 */
bool spool_submit_job_id(const char *name, char id[37]);

/*
 * The worker's reasons why jobs wait, for status: a JSON object whose keys are
 * "incoming/[<folder>/]<name>" or "active/<job id>" and whose values are the reasons.
 * Replaced atomically whenever they change; removed when the worker stops.
 */
#define SPOOL_WAITS_FILE "waits.json"

/*
 * Cancel requests (spool_cancel.c): <spool>/cancel/<job-id>, written by restore-worker cancel
 * (through a temporary file and a rename), removed by the worker once the job is filed.
 */
#define SPOOL_CANCEL_DIR "cancel"

/* spool_job_id_valid: is job_id a job id as the worker names job folders (a lowercase UUID)? */
bool spool_job_id_valid(const char *job_id);

/* spool_cancel_open: open <spool>/cancel/ (creating it when create); its fd, or -1 with err. */
int spool_cancel_open(const struct spool *sp, bool create, char *err, size_t errlen);

/* spool_cancel_request: ask for job_id to be cancelled (cancel/<job_id>); 0 or -1 with err. */
int spool_cancel_request(int cancel_fd, const char *job_id, char *err, size_t errlen);

/* spool_cancel_requested: is there a request to cancel job_id (cancel_fd may be -1)? */
bool spool_cancel_requested(int cancel_fd, const char *job_id);

/* spool_cancel_forget: remove the request for job_id (none is fine); 0, or -1 with errno. */
int spool_cancel_forget(int cancel_fd, const char *job_id);

/* spool_close: close the folders. */
void spool_close(struct spool *sp);

/* spool_ensure_target: create incoming/<target>/ if missing; 0 or -1 with err. */
int spool_ensure_target(struct spool *sp, const char *target, char *err, size_t errlen);

/* spool_name_ignored: an in-flight upload (.name, *.part, *.tmp, *.partial)? */
bool spool_name_ignored(const char *name);

/* spool_name_is_jobfile: a job file (*.yaml, *.yml)? */
bool spool_name_is_jobfile(const char *name);

/*
 * spool_previous_dir: <spool>/previous/<target>/, created when missing: where the backups
 * made before restores into target go (keep_previous). Its path (malloc'd), or NULL with err.
 */
char *spool_previous_dir(const struct spool *sp, const char *target, char *err, size_t errlen);

/* spool_lock_target: lock <target>; its descriptor, -1 with errno EAGAIN when busy. */
int spool_lock_target(struct spool *sp, const char *target);

/* spool_unlock: release a lock taken by spool_lock_target (fd may be -1). */
void spool_unlock(int fd);

/*
 * spool_claim: claim incoming/[folder/]name as job job_id. Returns 0 when claimed (the claim
 * is held), 1 when another worker took it first, -1 with err on failure.
 */
int spool_claim(struct spool *sp, const char *folder, const char *name, const char *job_id,
                struct spool_claim *claim, char *err, size_t errlen);

/* spool_adopt: take over active/<job_id> if its worker is gone: 0 adopted, 1 alive, -1 bad. */
int spool_adopt(struct spool *sp, const char *job_id, struct spool_claim *claim, char *err,
                size_t errlen);

/*
 * spool_claim_peek: read the claim in job folder job_fd without taking it, and whether a
 * worker holds it (*running); 0, or -1 when there is no readable claim. Nothing is held.
 */
int spool_claim_peek(int job_fd, struct spool_claim *claim, bool *running);

/* spool_claim_save: write the claim's fields durably, in place; 0 or -1 with err. */
int spool_claim_save(struct spool_claim *claim, char *err, size_t errlen);

/* spool_phase_name: "waiting", "restoring", "committing" or "finished". */
const char *spool_phase_name(enum spool_phase phase);

/* spool_claim_reload: read the claim's fields again (another process may have saved them). */
int spool_claim_reload(struct spool_claim *claim);

/*
 * spool_claim_finished: record a job's outcome in its claim (the caller has set the claim's
 * outcome fields), before its report is written; 0 or -1 with err.
 */
int spool_claim_finished(struct spool_claim *claim, char *err, size_t errlen);

/* spool_has_job_file: is the dropped file still in active/<job-id>/? */
bool spool_has_job_file(const struct spool_claim *claim);

/*
 * spool_finish: write report_json as report.json (unless NULL: it is there already), move
 * the job to done/ (succeeded) or failed/, and release the claim; 0 or -1 with err (the job
 * then stays in active/).
 */
int spool_finish(struct spool *sp, struct spool_claim *claim, bool succeeded,
                 const char *report_json, char *err, size_t errlen);

/* spool_discard: remove an empty, unusable claim (no job file); releases it. */
void spool_discard(struct spool *sp, struct spool_claim *claim);

/* spool_release: let go of the claim; the job stays in active/ for a later start. */
void spool_release(struct spool_claim *claim);

/* spool_write_atomic: dir_fd/name := data, via a temporary file, fsync and rename. */
int spool_write_atomic(int dir_fd, const char *name, const char *data, size_t len, char *err,
                       size_t errlen);

/* Between spool.c and spool_claim.c (not for the rest of the program). */

#define SPOOL_CLAIM_FILE "claim" /* in active/<job-id>/ */

/*
 * spool_own_like_folder: when root, give fd (just created in dir_fd) the folder's owner and
 * group; 0 or -1. Only a folder or a file with one link, owned by root, is given away.
 */
int spool_own_like_folder(int dir_fd, int fd);

/* spool_lock_fd: an exclusive OFD lock on the whole file, without waiting; 0 or -1. */
int spool_lock_fd(int fd);

#endif
