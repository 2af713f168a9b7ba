/*
 * job_child.c - a job's child process (see job.h): it refuses what cannot be restored (a file
 * gone, linked twice or not regular; a job file that cannot be read, or that names an archive
 * inside the spool; a target not defined), runs the restore with the claim's steps recorded
 * before each is taken, shows its progress, and writes its report (job.c files it).
 *
 * SIGTERM (the worker stops) cancels the restore, which rolls back, and the job is run again at
 * the next start; SIGUSR1 (restore-worker cancel, daemon_cancel.c) cancels it the same way
 * but files it, with status cancelled: it is never run again. Once the commit begins, or the
 * outcome is known, SIGUSR1 is ignored: it is too late to cancel.
 *
 * Diagnostics: one line per event on stderr, with the job id (notify.c).
 */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "database.h"
#include "io.h"
#include "jobfile.h"
#include "notify.h"
#include "progress_view.h"
#include "report.h"
#include "restore.h"

static volatile sig_atomic_t child_cancel;
static volatile sig_atomic_t child_cancel_asked;  /* SIGUSR1: restore-worker cancel */
static volatile sig_atomic_t child_cancel_closed; /* committing or finished: too late */

/*
 * path_in_folder: does path lie inside folder? Both are resolved first (symbolic links, "."
 * and ".."), path as far as it exists, so no other spelling of a path inside escapes.
 */
static bool
path_in_folder(const char *folder, const char *path)
{
	char folder_real[PATH_MAX], parent[PATH_MAX], real[PATH_MAX + NAME_MAX + 2];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (realpath(folder, folder_real) == NULL)
		snprintf(folder_real, sizeof(folder_real), "%s", folder);
	if (realpath(path, real) == NULL) {
		snprintf(parent, sizeof(parent), "%.*s", slash != NULL ? (int)(slash - path) : 0,
		         path);
		if (slash != NULL && realpath(parent[0] != '\0' ? parent : "/", real) != NULL)
			snprintf(real + strlen(real), sizeof(real) - strlen(real), "/%s",
			         slash + 1);
		else
			snprintf(real, sizeof(real), "%s", path);
	}
	n = strlen(folder_real);
	while (n > 1 && folder_real[n - 1] == '/')
		n--;
	return strncmp(real, folder_real, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* child_sleep: wait up to seconds, or until SIGTERM; true when told to stop. */
static bool
child_sleep(int seconds)
{
	struct timespec ts = {0, 100 * 1000 * 1000};

	for (int i = 0; i < seconds * 10 && !child_cancel; i++)
		(void)nanosleep(&ts, NULL);
	return child_cancel != 0;
}

/*
 * child_file: the end of a job child whose restore ran: record the outcome in the claim (in
 * place: that needs no free space), then write report.json. While the report cannot be
 * written (a full spool), the child keeps it and tries again every rescan_seconds: the job
 * stays in active/, marked finished, and is never restored again. Stopped meanwhile, it
 * exits JOB_EXIT_UNFILED and whoever files the job makes its report from the claim's record.
 * The old files a restore swapped out are left to the worker, which removes them in the
 * background (old_files.c) once this process has ended.
 */
static void __attribute__((noreturn))
child_file(const struct job_env *env, struct spool_claim *claim, struct report *report,
           int exit_status)
{
	char err[512], *json, status[16];

	child_cancel_closed = 1;
	job_claim_take_outcome(claim, report);
	if (spool_claim_finished(claim, err, sizeof(err)) < 0)
		log_line(LOG_PRIORITY_ERROR, claim->job_id, "%s", err);
	snprintf(status, sizeof(status), "%s", report->status);
	json = report_json(report);
	report_free(report);
	if (json == NULL)
		_exit(JOB_EXIT_UNFILED); /* out of memory: the parent files it from the claim */
	for (;;) {
		int rc = spool_write_atomic(claim->job_fd, "report.json", json, strlen(json), err,
		                            sizeof(err));

		if (rc == 0) {
			/* Not before: it is what status shows while the report cannot be written.
			 */
			(void)unlinkat(claim->job_fd, PROGRESS_FILE, 0);
			_exit(exit_status);
		}
		log_line(LOG_PRIORITY_ERROR, claim->job_id,
		         "finished (%s) but cannot write its report: %s; the job stays in active/ "
		         "and writing the report is tried again in %d s",
		         status, err, env->config->rescan_seconds);
		if (child_sleep(env->config->rescan_seconds))
			_exit(JOB_EXIT_UNFILED);
	}
}

/* What child_before_commit needs. */
struct child_commit {
	struct spool_claim *claim;
	struct restore_commit_point point; /* filled in by the engine */
};

/*
 * child_before_commit: record that the commit begins, and what is needed to learn later
 * what became of it: from now on the target may change.
 */
static int
child_before_commit(void *ctx, char *err, size_t errlen)
{
	struct child_commit *cc = ctx;

	/* From here SIGUSR1 is ignored; one that came first stops the commit. */
	child_cancel_closed = 1;
	if (child_cancel_asked) {
		snprintf(err, errlen, "cancelled (restore-worker cancel) before its commit");
		return -1;
	}
	job_claim_commit_point(cc->claim, &cc->point);
	cc->claim->phase = SPOOL_PHASE_COMMITTING;
	return spool_claim_save(cc->claim, err, errlen);
}

/*
 * child_outcome_known: record the restore's outcome as finished before ANALYZE: a job child
 * that dies during it is then filed with that outcome, not as an interrupted commit.
 */
static void
child_outcome_known(void *ctx, const struct report *report)
{
	struct spool_claim *claim = ctx;
	char err[512];

	child_cancel_closed = 1;
	job_claim_take_outcome(claim, report);
	if (spool_claim_finished(claim, err, sizeof(err)) < 0)
		log_line(LOG_PRIORITY_ERROR, claim->job_id, "%s", err);
}

/*
 * child_signal: SIGTERM in a job child: cancel the restore; it rolls back. SIGUSR1 the same,
 * unless the commit has begun, and the job is then filed as cancelled.
 */
static void
child_signal(int sig)
{
	if (sig == SIGUSR1) {
		if (child_cancel_closed)
			return;
		child_cancel_asked = 1;
	}
	child_cancel = 1;
	database_cancel_running();
}

/*
 * child_cancelled: the report of a restore stopped by restore-worker cancel and rolled back:
 * status cancelled, and why instead of the engine's error (the server's complaints about the
 * statements it was told to cancel are no errors of the backup).
 */
static void
child_cancelled(struct report *report)
{
	free(report->error);
	report->error = NULL;
	report_part_forget_errors(&report->database);
	report_part_forget_errors(&report->files);
	report_set_error(report, "cancelled",
	                 "cancelled (restore-worker cancel) while it ran; the restore was stopped "
	                 "and rolled back: the target was left as it was");
}

#define PROGRESS_WRITE_SECONDS 1.0  /* progress.json at most this often */
#define PROGRESS_LOG_SECONDS   10.0 /* a progress line in the log this often */

/* What a job child does with the engine's progress figures. */
struct child_progress {
	const struct spool_claim *claim;
	const char *phase;           /* the last written (the engine's constant strings) */
	double last_write, last_log; /* the figures' elapsed_s */
};

/* child_progress: progress.json in the job folder, and now and then a line in the log. */
static void
child_progress(void *ctx, const struct restore_progress *p)
{
	struct child_progress *cp = ctx;
	if (p->phase != cp->phase || p->elapsed_s - cp->last_write >= PROGRESS_WRITE_SECONDS) {
		char *json = progress_view_json(p, cp->claim->job_id);

		if (json != NULL)
			(void)progress_view_write(cp->claim->job_fd, json);
		free(json);
		cp->last_write = p->elapsed_s;
		cp->phase = p->phase;
	}
	if (p->elapsed_s - cp->last_log >= PROGRESS_LOG_SECONDS) {
		char line[512];

		progress_view_line(p, line, sizeof(line));
		log_line(LOG_PRIORITY_INFO, cp->claim->job_id, "%s", line);
		cp->last_log = p->elapsed_s;
	}
}

/* child_log_progress: the engine's lines, at the priority each one's shape says. */
static void
child_log_progress(void *ctx, const char *line)
{
	(void)ctx;
	/* The engine's lines already begin with "job <id>: ". */
	log_engine_line(line);
}

/*
 * child_source: what the claimed file asks for, or why it is refused: the archive's path into
 * archive (the dropped file itself, or the archive a job file names) and a job file's options
 * into jf and ro; 0, or -1 with the reason in err. Only a regular file with one link is
 * taken, never through a link, and a job file may not name an archive inside the spool.
 */
static int
child_source(const struct job_env *env, const struct spool_claim *claim, struct jobfile *jf,
             struct restore_options *ro, char *archive, size_t archivelen, char *err, size_t errlen)
{
	struct stat st;

	if (fstatat(claim->job_fd, claim->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "%s vanished from active/%s", claim->name, claim->job_id);
		return -1;
	}
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		snprintf(
		    err, errlen,
		    "%s has another hard link: write it in tmp/ and rename() it into incoming/",
		    claim->name);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
		         "%s is %s; incoming/ takes regular files only, and it was not followed",
		         claim->name,
		         S_ISLNK(st.st_mode)    ? "a symbolic link"
		         : S_ISFIFO(st.st_mode) ? "a FIFO"
		         : S_ISDIR(st.st_mode)  ? "a folder"
		                                : "not a regular file");
		return -1;
	}
	snprintf(archive, archivelen, "%s/active/%s/%s", env->config->spool_dir, claim->job_id,
	         claim->name);
	if (spool_name_is_jobfile(claim->name)) {
		size_t len;
		char *text = io_read_small(claim->job_fd, claim->name, JOBFILE_MAX, &len);

		if (text == NULL) {
			snprintf(err, errlen, "cannot read %s: %s", claim->name, strerror(errno));
			return -1;
		}
		if (jobfile_parse(claim->name, text, len, jf, err, errlen) < 0) {
			free(text);
			return -1;
		}
		free(text);
		/* Relative to the folder the job file was dropped in. */
		if (jf->archive[0] == '/')
			snprintf(archive, archivelen, "%s", jf->archive);
		else
			snprintf(archive, archivelen, "%s/incoming%s%s/%s", env->config->spool_dir,
			         claim->folder[0] != '\0' ? "/" : "", claim->folder, jf->archive);
		ro->db_only = jf->db_only;
		ro->dry_run = jf->dry_run;
		/*
		 * An archive inside the spool is a job of its own (or becomes one when dropped):
		 * taking it here too would restore the same backup twice, or fail when the
		 * other job moved it away first.
		 */
		if (path_in_folder(env->config->spool_dir, archive)) {
			snprintf(err, errlen,
			         "%s names archive %s, which lies inside the spool folder %s; keep "
			         "archives that job files name outside the spool, or drop the "
			         "archive itself into incoming/",
			         claim->name, jf->archive, env->config->spool_dir);
			return -1;
		}
	}
	return 0;
}

void
job_child_run(const struct job_env *env, struct spool_claim *claim, const char *target_name)
{
	const struct config_target *ct = config_target_find(env->config, target_name);
	struct restore_target target;
	struct restore_options ro;
	struct report report;
	struct jobfile jf = {0};
	struct child_progress progress = {.claim = claim};
	struct child_commit commit = {.claim = claim};
	struct timespec now;
	char *previous = NULL;
	struct sigaction sa;
	sigset_t none;
	char archive[PATH_MAX], err[1024];
	int status;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = child_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL); /* blocked by the worker until here: none is lost */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	memset(&ro, 0, sizeof(ro));
	if (child_source(env, claim, &jf, &ro, archive, sizeof(archive), err, sizeof(err)) < 0)
		goto refuse;
	if (ct == NULL) {
		snprintf(err, sizeof(err), "target '%s' is not defined in %s", target_name,
		         env->config_path);
		goto refuse;
	}

	config_restore_target(ct, &target);
	ro.archive = archive;
	ro.target = &target;
	ro.work_dir = env->config->work_dir;
	ro.pg_restore = env->config->pg_restore;
	ro.pg_client_dirs = (const char *const *)env->config->pg_client_dirs;
	ro.job_id = claim->job_id;
	ro.holds_target_lock = true; /* taken by the parent, shared with this process */
	ro.cancel = &child_cancel;
	ro.log = child_log_progress;
	ro.progress = child_progress;
	ro.progress_ctx = &progress;
	ro.before_commit = child_before_commit;
	ro.commit_ctx = &commit;
	ro.commit_point = &commit.point;
	ro.outcome_known = child_outcome_known;
	ro.outcome_ctx = claim;
	ro.keep_old_files = true; /* the worker removes them in the background */
	ro.pg_dump = env->config->pg_dump;
	/* What a report made from the claim needs (the worker may die before the report). */
	claim->dry_run = ro.dry_run;
	claim->db_only = ro.db_only;
	clock_gettime(CLOCK_REALTIME, &now);
	claim->started_at_ms =
	    (unsigned long long)now.tv_sec * 1000ULL + (unsigned long long)now.tv_nsec / 1000000ULL;
	if (spool_claim_save(claim, err, sizeof(err)) < 0)
		log_line(LOG_PRIORITY_ERROR, claim->job_id, "%s", err);
	if (ct->keep_previous && !ro.dry_run) {
		ro.previous_keep = ct->previous_keep;
		ro.previous_dir = previous =
		    spool_previous_dir(env->spool, ct->name, err, sizeof(err));
		if (previous == NULL) {
			/* Before anything changed: the job fails, the target as it was. */
			jobfile_free(&jf);
			if (job_claim_report_init(&report, claim, target_name) < 0)
				_exit(JOB_EXIT_UNFILED);
			report_set_error(&report, "failed", "%s; nothing was restored", err);
			child_file(env, claim, &report, RESTORE_EXIT_UNCHANGED);
		}
	}
	status = restore_run(&ro, &report);
	jobfile_free(&jf);
	if (child_cancel_asked && status == RESTORE_EXIT_UNCHANGED) {
		child_cancelled(&report); /* rolled back, and filed: never run again */
		log_line(LOG_PRIORITY_WARNING, claim->job_id, "%s", report.error);
	} else if (child_cancel && status == RESTORE_EXIT_UNCHANGED)
		_exit(JOB_EXIT_INTERRUPTED); /* rolled back; the parent puts the job back */
	/* The report names what was dropped, whatever it pointed to. */
	free(report.source);
	report.source = strdup(claim->name);
	child_file(env, claim, &report, status);

refuse:
	jobfile_free(&jf);
	if (report_init(&report, claim->job_id, claim->name, target_name, false) < 0)
		_exit(JOB_EXIT_UNFILED);
	report_set_error(&report, "rejected", "%s", err);
	clock_gettime(CLOCK_REALTIME, &report.finished_at);
	child_file(env, claim, &report, RESTORE_EXIT_UNCHANGED);
}
