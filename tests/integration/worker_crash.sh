#!/usr/bin/env bash
# worker_crash.sh - the daemon interrupted, and the daemon with company.
#
# A pg_restore stand-in pauses half-way through its SQL so that a restore can be caught in
# progress, with the database transaction open, the dump in work_dir and the files staged beside
# blob_dir. Then:
#  - SIGKILL: the job's process dies with its worker and the target is unchanged; the next worker
#    (or the other worker sharing the spool) runs the job again from the start and it succeeds
#    (same job id; a job file's relative archive path still resolves), leaving nothing in
#    work_dir or beside blob_dir; with max_attempts 1 the job is instead failed with a report
#    saying it was interrupted;
#  - SIGTERM: the worker exits 0 within seconds, the target is unchanged, and after a restart the
#    job runs again and succeeds (the interrupted run is not counted as an attempt);
#  - the job's own process killed: that job fails alone, the worker goes on;
#  - two workers on one spool (max_parallel_jobs 2 each), six jobs over three targets: each job
#    done once, and never two restores of one target at once; one worker with max_parallel_jobs 1
#    never runs two restores at once.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive


# The stand-in itself must yield a good restore, only a slower one: checked with `restore`.
case_begin fixture_slow_pg_restore_restores
make_target_db fixture_target
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 1
write_config "$CASE_DIR/config.yaml" dbname=fixture_target pg_restore="$CASE_DIR/slow_pg_restore"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
[ -e "$CASE_DIR/slow.started" ] || fail "the stand-in never reached its pause"
snapshot_db_state fixture_target >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
case_end

# start_slow_job: start a worker with the slow pg_restore (pausing $1 s, on its first run only)
# and config overrides $2...; drop the good archive as $JOB_NAME into incoming/$JOB_FOLDER (or,
# with JOB_TEXT set, a job file $JOB_NAME holding JOB_TEXT) and wait until
# its restore pauses; ACTIVE is then the job folder in active/ and JOB_PROCESS the process that
# started pg_restore. The status says whether the restore got there.
start_slow_job() {
	local pause=$1
	shift
	make_slow_pg_restore "$CASE_DIR/slow_pg_restore" "$pause" once
	write_worker_config "$CASE_DIR/slow.yaml" pg_restore="$CASE_DIR/slow_pg_restore" "$@"
	write_worker_config "$CASE_DIR/config.yaml" "$@"
	ACTIVE=
	worker_start "$CASE_DIR/slow.yaml"
	wait_spool_ready || return 1
	if [ -n "${JOB_TEXT:-}" ]; then
		drop_job "$JOB_NAME" "${JOB_FOLDER:-}" "$JOB_TEXT"
	else
		drop_file "$GOOD" "${JOB_FOLDER:-}" "$JOB_NAME"
	fi
	WAIT_WHAT="the restore reaching the stand-in's pause" wait_for test -e "$CASE_DIR/slow.started" || return 1
	ACTIVE=$(active_jobs)
	JOB_PROCESS=$(cat "$CASE_DIR/slow.parent")
	assert_eq "job folders in active/ during the restore" 1 "$(printf '%s' "$ACTIVE" | grep -c .)"
}


# 8. SIGKILL during a restore (which status --json lists as active); the next worker runs the
# job again and it succeeds.
worker_case_begin sigkill_during_restore_runs_again
worker_targets acceptance
JOB_NAME=killed.tar.gz
if start_slow_job 30; then
	run_worker -c "$CASE_DIR/config.yaml" status --json
	assert_exit 0
	assert_report "(.active | map(select(.job_id == \"$ACTIVE\")) | map(\"\\(.name) \\(.target) \\(.attempts)\") | join(\",\"))" \
		"killed.tar.gz acceptance 1"
	worker_kill "$WORKER_PID"
	# The job's process must die with its worker: left alone, it could commit the restore.
	wait_gone "$JOB_PROCESS" || fail "the job's process $JOB_PROCESS outlived its killed worker by 5 s"
	assert_report_count 0
	assert_target_unchanged acceptance
	wait_sessions_gone "$(target_db acceptance)"
	worker_start "$CASE_DIR/config.yaml"
	wait_reports 1 || true
	worker_stop "$WORKER_PID"
fi
assert_report_count 1
load_report killed.tar.gz "done" "$GOOD"
assert_report .status succeeded
assert_report .job_id "$ACTIVE"
assert_target_restored acceptance
assert_no_leftovers
assert_eq "active/ at the end" "" "$(active_jobs)"
worker_case_end

# 8a. SIGKILL during the restore of a job file dropped into incoming/test/ that names its archive
# relative to that folder: the run again finds the archive from where the job file was dropped,
# restores target test, and the archive stays where it is.
worker_case_begin sigkill_during_job_file_restore_runs_again
worker_targets acceptance test
GOOD_SHA=$(sha256sum <"$GOOD")
JOB_NAME=relative-job.yaml JOB_FOLDER=test
JOB_TEXT="archive: $(realpath -m --relative-to="$SPOOL/incoming/test" "$GOOD")\n"
if start_slow_job 30; then
	worker_kill "$WORKER_PID"
	wait_sessions_gone "$(target_db test)"
	worker_start "$CASE_DIR/config.yaml"
	wait_reports 1 || true
	worker_stop "$WORKER_PID"
fi
JOB_FOLDER='' JOB_TEXT=''
assert_report_count 1
load_report relative-job.yaml "done" "$CASE_DIR/jobs/relative-job.yaml"
assert_report .status succeeded
assert_report .target test
assert_target_restored test
assert_target_unchanged acceptance
assert_eq "the archive the job file named" "$GOOD_SHA" "$(sha256sum <"$GOOD" 2>/dev/null || echo missing)"
assert_no_leftovers
worker_case_end

# 8c. Two workers share the spool and the one running a restore is killed: the other one finds
# the orphaned job at its next scan and runs it again to success.
worker_case_begin surviving_worker_runs_orphaned_job
worker_targets acceptance
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 30 once
write_worker_config "$CASE_DIR/config.yaml" pg_restore="$CASE_DIR/slow_pg_restore"
worker_start "$CASE_DIR/config.yaml"
FIRST=$WORKER_PID
worker_start "$CASE_DIR/config.yaml"
SECOND=$WORKER_PID
SURVIVOR=
if wait_spool_ready; then
	drop_file "$GOOD" "" orphan.tar.gz
	if WAIT_WHAT="the restore reaching the stand-in's pause" wait_for test -e "$CASE_DIR/slow.started"; then
		JOB_PROCESS=$(cat "$CASE_DIR/slow.parent")
		OWNER=$(sed 's/.*) //' "/proc/$JOB_PROCESS/stat" 2>/dev/null | cut -d' ' -f2)
		if [ "$JOB_PROCESS" = "$FIRST" ] || [ "$OWNER" = "$FIRST" ]; then
			worker_kill "$FIRST"
			SURVIVOR=$SECOND
		elif [ "$JOB_PROCESS" = "$SECOND" ] || [ "$OWNER" = "$SECOND" ]; then
			worker_kill "$SECOND"
			SURVIVOR=$FIRST
		else
			fail "cannot tell which worker runs the job (job process $JOB_PROCESS, its parent $OWNER)"
		fi
		WAIT_SECONDS=30 wait_reports 1 || true
	fi
fi
[ -z "$SURVIVOR" ] || worker_stop "$SURVIVOR"
assert_report_count 1
load_report orphan.tar.gz "done" "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
assert_no_leftovers
assert_eq "active/ at the end" "" "$(active_jobs)"
worker_case_end

# 8b. With max_attempts 1, a job whose worker was killed is not run again: it is failed with a
# report saying it was interrupted, and the target is as before.
worker_case_begin sigkill_with_max_attempts_1_fails_job
worker_targets acceptance
JOB_NAME=killed-once.tar.gz
if start_slow_job 30 max_attempts=1; then
	worker_kill "$WORKER_PID"
	wait_sessions_gone "$(target_db acceptance)"
	worker_start "$CASE_DIR/config.yaml"
	wait_reports 1 || true
	worker_stop "$WORKER_PID"
fi
assert_report_count 1
load_report killed-once.tar.gz "failed" "$GOOD"
assert_report .status failed
assert_error_line
assert_report_true '(.error | test("interrupt"; "i"))' "the error says the job was interrupted"
assert_report .job_id "$ACTIVE"
assert_target_unchanged acceptance
assert_no_leftovers
worker_case_end

# 9. SIGTERM during a restore: the worker exits 0 within seconds, the target is unchanged, and
# after a restart the job runs again and succeeds. The interrupted run does not count as an
# attempt: with max_attempts 1 the job still runs again.
worker_case_begin sigterm_during_restore_rolls_back_and_resumes
worker_targets acceptance
JOB_NAME=terminated.tar.gz
if start_slow_job 30 max_attempts=1; then
	worker_stop "$WORKER_PID"
	assert_report_count 0
	assert_target_unchanged acceptance
	assert_no_leftovers
	worker_start "$CASE_DIR/config.yaml"
	wait_reports 1 || true
	worker_stop "$WORKER_PID"
fi
assert_report_count 1
load_report terminated.tar.gz "done" "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
assert_no_leftovers
assert_eq "active/ at the end" "" "$(active_jobs)"
worker_case_end

# 9b. The job's own process killed during a restore (a crash inside one job): that job fails
# with a report saying its process died of a signal, the target is unchanged, nothing is left
# behind, and the worker goes on with the next job.
worker_case_begin job_process_killed_fails_alone
worker_targets acceptance
JOB_NAME=child-killed.tar.gz
if start_slow_job 30; then
	if [ "$JOB_PROCESS" = "$WORKER_PID" ]; then
		fail "pg_restore was started by the worker itself, not by a process of the job"
	else
		kill -KILL "$JOB_PROCESS"
		wait_reports 1 || true
		assert_report_count 1
		load_report child-killed.tar.gz "failed" "$GOOD"
		assert_report .status failed
		assert_error_line
		assert_report_true '(.error | test("signal"; "i"))' "the error says the job's process died of a signal"
		assert_target_unchanged acceptance
		assert_no_leftovers
		pid_running "$WORKER_PID" || fail "the worker did not survive its job's process"
		wait_sessions_gone "$(target_db acceptance)"
		drop_file "$GOOD" "" after-crash.tar.gz
		wait_reports 2 || true
		load_report after-crash.tar.gz "done" "$GOOD"
		assert_report .status succeeded
		assert_target_restored acceptance
	fi
fi
worker_stop "$WORKER_PID"
assert_no_leftovers
worker_case_end

# check_no_overlap_per_target: for each target, its reports' [started_at, finished_at] do not
# overlap; with "all", no two reports at all overlap.
check_no_overlap_per_target() {
	local t files
	if [ "${1:-}" = all ]; then
		mapfile -t files < <(report_files)
		assert_no_overlap "(any)" "${files[@]}"
		return 0
	fi
	for t in "${TARGETS[@]}"; do
		mapfile -t files < <(report_files | while read -r f; do
			[ "$(jq -r .target "$f")" = "$t" ] && echo "$f"
		done)
		assert_eq "reports for target $t" 2 "${#files[@]}"
		[ "${#files[@]}" -eq 0 ] || assert_no_overlap "$t" "${files[@]}"
	done
}

# check_all_done: every report is in done/, succeeded, with a distinct job id.
check_all_done() {
	local f
	assert_eq "reports in failed/" 0 "$(find "$SPOOL/failed" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
	assert_eq "distinct job ids" "$1" "$(report_files | xargs -r jq -r .job_id | sort -u | wc -l)"
	for f in $(report_files); do
		[ "$(jq -r .status "$f")" = succeeded ] ||
			fail "job $(jq -r .source "$f"): status $(jq -r .status "$f"): $(jq -r '.error // ""' "$f")"
	done
}

# 10. Two workers share the spool (max_parallel_jobs 2 each); six jobs over three targets.
worker_case_begin two_workers_never_share_a_target
worker_targets acceptance test third
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 2
write_worker_config "$CASE_DIR/config.yaml" pg_restore="$CASE_DIR/slow_pg_restore" max_parallel_jobs=2
worker_start "$CASE_DIR/config.yaml"
FIRST=$WORKER_PID
worker_start "$CASE_DIR/config.yaml"
SECOND=$WORKER_PID
if wait_spool_ready; then
	for t in "${TARGETS[@]}"; do
		drop_file "$GOOD" "$t" "$t-1.tar.gz"
		drop_file "$GOOD" "$t" "$t-2.tar.gz"
	done
	WAIT_SECONDS=120 wait_reports 6 || true
fi
worker_stop "$FIRST"
worker_stop "$SECOND"
assert_report_count 6
for t in "${TARGETS[@]}"; do
	for n in 1 2; do
		load_report "$t-$n.tar.gz" "done" "$GOOD"
		assert_report .target "$t"
	done
done
check_all_done 6
check_no_overlap_per_target
for t in "${TARGETS[@]}"; do
	assert_target_restored "$t"
done
assert_no_leftovers
worker_case_end

# 10b. One worker with max_parallel_jobs 1 runs one restore at a time, also over three targets.
worker_case_begin max_parallel_jobs_1_one_at_a_time
worker_targets acceptance test third
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 2
write_worker_config "$CASE_DIR/config.yaml" pg_restore="$CASE_DIR/slow_pg_restore" max_parallel_jobs=1
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	for t in "${TARGETS[@]}"; do
		drop_file "$GOOD" "$t" "$t.tar.gz"
	done
	WAIT_SECONDS=90 wait_reports 3 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 3
check_all_done 3
check_no_overlap_per_target all
for t in "${TARGETS[@]}"; do
	assert_target_restored "$t"
done
assert_no_leftovers
worker_case_end

finish
