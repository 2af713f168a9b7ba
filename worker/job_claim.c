/*
 * job_claim.c - what a job's claim tells about its outcome (see job.h): the outcome recorded
 * in it before the report is written, the report made from it when the report could not be
 * written, and the truth about a job whose worker died after its commit had begun.
 *
 * Such a job's claim records, just before the COMMIT was sent, the transaction's id and
 * server process, and the staging folder's inode. Whoever files the job asks the server
 * whether that transaction committed (ending the process if it still waits: it has lost its
 * client), and looks whether the staging folder is still beside blob_dir (the files were not
 * swapped in) or is blob_dir now (they were: renames keep the inode). Its report then says
 * what is where; where the server cannot be asked, the database's status is "unknown" and
 * the staged files are kept. A bucket's or a container's staged files are where the store's
 * journal in work_dir says: the leftover removal (store_stage_remove_leftover) finishes or
 * undoes them once the server has said what became of the transaction, and the journal is
 * kept while it cannot say.
 *
 * Diagnostics: none of its own; the caller logs and files the report.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_folder.h"
#include "database.h"
#include "job.h"

#define OUTCOME_WAIT_SECONDS 10 /* the daemon's loop waits this long at most for an answer */

int
job_staging_path(const char *blob_dir, const char *job_id, char *buf, size_t buflen)
{
	const char *slash = strrchr(blob_dir, '/');
	int n;

	if (blob_dir[0] != '/' || slash == NULL || slash[1] == '\0')
		return -1;
	n = snprintf(buf, buflen, "%.*s/.%s%s%s", (int)(slash - blob_dir), blob_dir, slash + 1,
	             BLOBSTORE_STAGING_INFIX, job_id);
	return n < 0 || (size_t)n >= buflen ? -1 : 0;
}

void
job_claim_commit_point(struct spool_claim *claim, const struct restore_commit_point *point)
{
	char staging[PATH_MAX];
	struct stat st;

	snprintf(claim->xact_id, sizeof(claim->xact_id), "%s", point->xact_id);
	claim->backend_pid = point->backend_pid;
	snprintf(claim->new_oid, sizeof(claim->new_oid), "%s", point->new_oid);
	claim->staging_dev = claim->staging_ino = 0;
	if (!claim->db_only &&
	    job_staging_path(claim->blob_dir, claim->job_id, staging, sizeof(staging)) == 0 &&
	    lstat(staging, &st) == 0 && S_ISDIR(st.st_mode)) {
		claim->staging_dev = (unsigned long long)st.st_dev;
		claim->staging_ino = (unsigned long long)st.st_ino;
	}
}

void
job_claim_take_outcome(struct spool_claim *claim, const struct report *report)
{
	snprintf(claim->status, sizeof(claim->status), "%s", report->status);
	snprintf(claim->database_status, sizeof(claim->database_status), "%s",
	         report->database.status);
	snprintf(claim->files_status, sizeof(claim->files_status), "%s", report->files.status);
	snprintf(claim->archive_kind, sizeof(claim->archive_kind), "%s",
	         report->archive_kind != NULL ? report->archive_kind : "");
	claim->decompressed = report->decompressed_bytes;
	claim->dry_run = report->dry_run;
	claim->db_only = report->db_only;
	claim->files_count = report->file_count;
	claim->files_bytes = report->file_bytes;
	snprintf(claim->error, sizeof(claim->error), "%s",
	         report->error != NULL ? report->error : "");
}

/* known: the string among known[] equal to s (one that lives for ever), or fallback. */
static const char *
known(const char *s, const char *const *names, size_t n, const char *fallback)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return names[i];
	return fallback;
}

int
job_claim_report_init(struct report *report, const struct spool_claim *claim, const char *target)
{
	static const char *const kinds[] = {"full_snapshot", "database_only"};

	if (report_init(report, claim->job_id, claim->name, target, claim->db_only) < 0)
		return -1;
	report->dry_run = claim->dry_run;
	report->archive_kind = known(claim->archive_kind, kinds, 2, NULL);
	if (claim->started_at_ms > 0) {
		report->started_at.tv_sec = (time_t)(claim->started_at_ms / 1000);
		report->started_at.tv_nsec = (long)(claim->started_at_ms % 1000) * 1000000L;
	}
	clock_gettime(CLOCK_REALTIME, &report->finished_at);
	return 0;
}

int
job_claim_report(struct report *report, const struct spool_claim *claim, const char *target)
{
	static const char *const statuses[] = {"succeeded", "rejected", "partial", "failed",
	                                       "cancelled"};
	static const char *const parts[] = {"restored", "partial", "skipped", "unchanged",
	                                    "unknown"};
	const char *status = known(claim->status, statuses, 5, "failed");

	if (job_claim_report_init(report, claim, target) < 0)
		return -1;
	if (claim->error[0] != '\0')
		report_set_error(report, status, "%s", claim->error);
	else
		report->status = status;
	report->database.status = known(claim->database_status, parts, 5, "unknown");
	report->files.status = known(claim->files_status, parts, 5, "unknown");
	report->decompressed_bytes = claim->decompressed;
	report->file_count = claim->files_count;
	report->file_bytes = claim->files_bytes;
	return 0;
}

/* Where the backup's files are, by the staging folder's inode recorded as the commit began. */
enum files_place {
	FILES_NONE,      /* nothing was staged (database only) */
	FILES_STAGED,    /* still in the staging folder: blob_dir holds the old files */
	FILES_SWAPPED,   /* blob_dir is the staging folder now: the old files are at its name */
	FILES_NOT_FOUND, /* neither */
	FILES_OBJECTS,   /* in a bucket or a container, as the store's journal records */
};

/* files_place: where the backup's staged files are; their folder's (or journal's) path into
 * staging. */
static enum files_place
files_place(const struct spool_claim *claim, char *staging, size_t len)
{
	struct stat st;
	int n;

	if (claim->blob_dir[0] != '/' && claim->blob_dir[0] != '\0') {
		/* An object store: its driver's journal says whether anything was staged. */
		n = snprintf(staging, len, RESTORE_OBJECT_JOURNAL_FORMAT, claim->work_dir,
		             claim->job_id);
		if (n < 0 || (size_t)n >= len)
			return FILES_NOT_FOUND;
		return lstat(staging, &st) == 0 ? FILES_OBJECTS : FILES_NONE;
	}
	if (claim->staging_ino == 0)
		return FILES_NONE;
	if (job_staging_path(claim->blob_dir, claim->job_id, staging, len) < 0)
		return FILES_NOT_FOUND;
	if (lstat(staging, &st) == 0 && (unsigned long long)st.st_ino == claim->staging_ino &&
	    (unsigned long long)st.st_dev == claim->staging_dev)
		return FILES_STAGED;
	if (lstat(claim->blob_dir, &st) == 0 &&
	    (unsigned long long)st.st_ino == claim->staging_ino &&
	    (unsigned long long)st.st_dev == claim->staging_dev)
		return FILES_SWAPPED;
	return FILES_NOT_FOUND;
}

/* ask_server: what became of the claim's transaction, asked on the target's server. */
static enum database_outcome
ask_server(const struct config *config, const struct spool_claim *claim, const char *target,
           char *why, size_t whylen)
{
	const struct config_target *ct = target != NULL ? config_target_find(config, target) : NULL;

	if (ct == NULL) {
		snprintf(why, whylen, "the configuration no longer defines target %s",
		         target != NULL ? target : "(none)");
		return DATABASE_OUTCOME_UNKNOWN;
	}
	/*
	 * Any database of the cluster can tell. A swap's transaction, still waiting (for a
	 * synchronous standby), holds the lock on the target's database that a new connection to
	 * it needs: its maintenance database is asked instead.
	 */
	return database_ask_outcome(ct->database,
	                            ct->strategy != RESTORE_STRATEGY_SWAP ? NULL
	                            : ct->maintenance_database != NULL    ? ct->maintenance_database
	                                                                  : "postgres",
	                            claim->xact_id, claim->backend_pid, OUTCOME_WAIT_SECONDS, why,
	                            whylen);
}

int
job_claim_committing_report(const struct config *config, const struct spool_claim *claim,
                            const char *target, const char *how, struct report *report,
                            bool *keep_staging)
{
	char staging[PATH_MAX] = "", why[512] = "";
	enum files_place place = files_place(claim, staging, sizeof(staging));
	enum database_outcome outcome;
	const char *db_truth;

	if (job_claim_report_init(report, claim, target) < 0)
		return -1;
	/* The files are swapped in only after the COMMIT returned: then it committed. */
	outcome = place == FILES_SWAPPED ? DATABASE_COMMITTED
	                                 : ask_server(config, claim, target, why, sizeof(why));
	*keep_staging =
	    outcome != DATABASE_ROLLED_BACK &&
	    (place == FILES_STAGED || (place == FILES_OBJECTS && outcome != DATABASE_COMMITTED));
	report->files.status = place == FILES_NONE      ? "skipped"
	                       : place == FILES_SWAPPED ? "restored"
	                       : place == FILES_STAGED  ? "unchanged"
	                                                : "unknown";
	switch (outcome) {
	case DATABASE_COMMITTED:
		report->database.status = "restored";
		db_truth = "the database restore committed";
		break;
	case DATABASE_ROLLED_BACK:
		report->database.status = "unchanged";
		report->files.status = place == FILES_NONE ? "skipped" : "unchanged";
		report_set_error(report, "failed",
		                 "%s as the database restore was committing; the server says its "
		                 "transaction %s was rolled back: the target was left as it was",
		                 how, claim->xact_id);
		return 0;
	default:
		report->database.status = "unknown";
		db_truth = "the database may hold the backup or be as it was";
		break;
	}
	if (place == FILES_SWAPPED || (place == FILES_NONE && outcome == DATABASE_COMMITTED)) {
		report_warn(report,
		            "%s after %s%s; this report was made from the job's claim: the file "
		            "check's results and ANALYZE are not in it",
		            how, db_truth,
		            place == FILES_SWAPPED ? " and the backup's files were swapped in"
		                                   : "");
		return 0;
	}
	if (place == FILES_OBJECTS)
		report_set_error(
		    report, "partial",
		    "%s after the commit of the database restore had begun: %s%s%s%s; the "
		    "backup's files in %s are as the journal %s records, %s",
		    how, db_truth, why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" : "",
		    claim->blob_dir, staging,
		    outcome == DATABASE_COMMITTED
		        ? "and their commit is finished from it now (check the files, or restore "
		          "the "
		          "backup again)"
		        : "kept: the next restore into the target finishes or undoes them (restore "
		          "the backup again to be sure)");
	else if (place == FILES_STAGED)
		report_set_error(
		    report, "partial",
		    "%s after the commit of the database restore had begun, before the "
		    "backup's files were swapped in: %s%s%s%s; %s still holds the old "
		    "files and %s the backup's (kept): swap them in, or restore the "
		    "backup again",
		    how, db_truth, why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" : "",
		    claim->blob_dir, staging);
	else
		report_set_error(
		    report, "partial",
		    "%s after the commit of the database restore had begun: %s%s%s%s%s; "
		    "restore the backup again to be sure",
		    how, db_truth, why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" : "",
		    place == FILES_NOT_FOUND ? ", and the backup's staged files were "
		                               "not found"
		                             : "");
	return 0;
}
