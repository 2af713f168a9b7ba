#!/usr/bin/env bash
# worker_cancel.sh - following a job (submit --wait) and cancelling one (cancel), with a real
# worker restoring into a real target.
#
#  - a cancel request written while no worker runs outlives it: the next worker files the
#    queued job cancelled (its job file beside the report) and never restores it;
#  - one worker whose first restore the pg_restore stand-in (worker_lib.sh) pauses half-way:
#    submit --wait follows it, and SIGINT ends the waiting only (exit 130; the job goes on);
#    a second job, queued behind it (its target busy, which its submit --wait says), is
#    cancelled: filed in failed/ with status cancelled, its job file kept, the archive
#    untouched, and its submit --wait exits 1; then the paused restore is cancelled: rolled
#    back, filed cancelled, the target (database and files) exactly as before, nothing left in
#    work_dir or beside blob_dir, no request left; status lists both as cancelled;
#  - cancel of a filed job, of an unknown id and of something that is no id exits 1;
#  - submit --wait exits 0 for a restore that succeeds (the target restored), 1 for a refused
#    one;
#  - a job whose COMMIT has begun (made to wait for a standby that does not exist, as in
#    commit_unknown.sh) is not cancelled: cancel says too late (exit 1) and asks nothing, a
#    request written by hand is dropped by the worker, and the job goes on to succeed.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive
GOOD_SHA=$(sha256sum <"$GOOD")

# reap: wait (at most $2 s) for background process $1 to end; its exit status into REAPED.
reap() {
	local polls=0
	while pid_running "$1" && [ "$polls" -lt $(($2 * 5)) ]; do
		sleep 0.2
		polls=$((polls + 1))
	done
	if pid_running "$1"; then
		fail "process $1 still ran after $2 s"
		kill -KILL "$1" 2>/dev/null || true
	fi
	REAPED=0
	wait "$1" || REAPED=$?
}

# submit_bg: start `submit --wait $2` in the background (SIGINT at its default), its stdout and
# stderr into $CASE_DIR/$1.out and $1.err, its pid into SUBMIT_PID; once submit has printed the
# job file's path, the job's id goes into JOB_ID (the status says whether it did within 10 s).
submit_bg() {
	"${DEFAULT_SIGINT[@]}" "$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" submit --wait "$2" \
		>"$CASE_DIR/$1.out" 2>"$CASE_DIR/$1.err" &
	SUBMIT_PID=$!
	JOB_ID=
	WAIT_SECONDS=10 WAIT_WHAT="submit printing the path of its job file" \
		wait_for grep -q '/submit-.*\.yaml$' "$CASE_DIR/$1.out" || return 1
	JOB_ID=$(sed -n 's|.*/submit-\(.*\)\.yaml$|\1|p' "$CASE_DIR/$1.out")
}

# job_says: true when jq filter $2 on `status --json $1` is true.
job_says() {
	run_worker -c "$CASE_DIR/config.yaml" status --json "$1"
	[ "$(report "$2")" = true ]
}

# request_gone: true once there is no cancel request for job $1.
request_gone() {
	[ ! -e "$SPOOL/cancel/$1" ]
}

# write_request: ask for job $1 to be cancelled by hand, as the spool protocol says.
write_request() {
	mkdir -p "$SPOOL/cancel"
	date -u +%FT%TZ >"$SPOOL/cancel/.$1.tmp"
	mv "$SPOOL/cancel/.$1.tmp" "$SPOOL/cancel/$1"
}

# assert_cancelled_report: the report of job $1 is in failed/, says cancelled (target
# acceptance, the target as it was), has the job file submit wrote beside it, and the request
# is gone.
assert_cancelled_report() {
	if [ ! -f "$SPOOL/failed/$1/report.json" ]; then
		fail "no report in failed/$1/"
		return 0
	fi
	cp "$SPOOL/failed/$1/report.json" "$CASE_DIR/out"
	assert_report .status cancelled
	assert_report .job_id "$1"
	assert_report .target acceptance
	assert_report .database.status unchanged
	assert_error_line
	[ -f "$SPOOL/failed/$1/submit-$1.yaml" ] || fail "failed/$1/ does not hold the job file"
	# The worker drops the request once it has filed the job (this very moment, or just after).
	if ! request_gone "$1"; then
		WAIT_SECONDS=5 WAIT_WHAT="the worker dropping the request cancel/$1" wait_for request_gone "$1" || true
	fi
}

# 1. A request written while no worker runs: the next worker files the queued job cancelled.
worker_case_begin cancel_requested_while_no_worker_runs
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" submit "$GOOD"
assert_exit 0
ID=$(sed -n 's|.*/submit-\(.*\)\.yaml$|\1|p' "$CASE_DIR/out")
write_request "$ID"
worker_start "$CASE_DIR/config.yaml"
WAIT_SECONDS=20 wait_reports 1 || true
worker_stop "$WORKER_PID"
assert_cancelled_report "$ID"
assert_target_unchanged acceptance
assert_eq "the archive" "$GOOD_SHA" "$(sha256sum <"$GOOD")"
assert_no_leftovers
worker_case_end

# 2. One worker, its first restore paused: wait, interrupt the waiting, cancel a queued job and
# the running one; then the exit statuses of cancel and of submit --wait; then too late.
worker_case_begin wait_and_cancel
worker_targets acceptance
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 30 once
# Two slots: the second job then waits for its target, not for a slot.
write_worker_config "$CASE_DIR/config.yaml" pg_restore="$CASE_DIR/slow_pg_restore" max_parallel_jobs=2
echo "    analyze: false" >>"$CASE_DIR/config.yaml" # its commit would wait for the standby too
worker_start "$CASE_DIR/config.yaml"
FIRST= SECOND=
if wait_spool_ready && submit_bg first "$GOOD"; then
	FIRST=$JOB_ID FIRST_PID=$SUBMIT_PID
	WAIT_WHAT="the restore reaching the stand-in's pause" wait_for test -e "$CASE_DIR/slow.started" || true
	job_says "$FIRST" '.state == "active" and .running and .phase == "restoring"' ||
		fail "status of the paused job: $(cat "$CASE_DIR/out")"
	if submit_bg second "$GOOD"; then
		SECOND=$JOB_ID SECOND_PID=$SUBMIT_PID
		WAIT_SECONDS=10 WAIT_WHAT="the second job waiting for its busy target" \
			wait_for job_says "$SECOND" '.state == "queued" and (.waiting // "" | contains("busy"))' || true
	fi
fi
worker_subcase_end

worker_subcase_begin sigint_ends_the_waiting_only
if [ -n "$FIRST" ]; then
	kill -INT "$FIRST_PID"
	reap "$FIRST_PID" 5
	assert_eq "exit status of submit --wait after SIGINT" 130 "$REAPED"
	grep -q "job $FIRST goes on" "$CASE_DIR/first.err" || fail "submit does not say the job goes on: $(tail -n 2 "$CASE_DIR/first.err")"
	job_says "$FIRST" '.state == "active" and .running' || fail "the job did not go on: $(cat "$CASE_DIR/out")"
else
	fail "the first job never got going"
fi
worker_subcase_end

worker_subcase_begin cancel_queued_job
if [ -n "$SECOND" ]; then
	grep -q "waits: target acceptance is busy" "$CASE_DIR/second.err" ||
		fail "submit --wait does not say why the job waits: $(cat "$CASE_DIR/second.err")"
	run_worker -c "$CASE_DIR/config.yaml" cancel "$SECOND"
	assert_exit 0
	reap "$SECOND_PID" 10
	assert_eq "exit status of submit --wait for the cancelled job" 1 "$REAPED"
	grep -q "job $SECOND: cancelled" "$CASE_DIR/second.err" || fail "submit --wait does not give the outcome: $(tail -n 2 "$CASE_DIR/second.err")"
	assert_cancelled_report "$SECOND"
	assert_eq "the archive" "$GOOD_SHA" "$(sha256sum <"$GOOD")"
	job_says "$FIRST" '.state == "active" and .running' || fail "the running job was touched: $(cat "$CASE_DIR/out")"
else
	fail "the second job was never queued"
fi
worker_subcase_end

worker_subcase_begin cancel_running_restore
if [ -n "$FIRST" ]; then
	run_worker -c "$CASE_DIR/config.yaml" cancel "$FIRST"
	assert_exit 0
	assert_cancelled_report "$FIRST"
	assert_target_unchanged acceptance
	wait_sessions_gone "$(target_db acceptance)"
	assert_no_leftovers
	assert_eq "active/ after the cancel" "" "$(active_jobs)"
	for pid in $(cat "$SLOW_PIDS_FILE" 2>/dev/null); do
		wait_gone "$pid" || fail "the pg_restore stand-in $pid outlived the cancel by 5 s"
	done
	run_worker -c "$CASE_DIR/config.yaml" status
	assert_eq "jobs status lists as cancelled" 2 "$(grep -c -e "^cancelled .* $FIRST " -e "^cancelled .* $SECOND " "$CASE_DIR/out")"
fi
worker_subcase_end

worker_subcase_begin cancel_refuses_what_it_cannot_cancel
for id in "$FIRST" "$(new_uuid)" ../done; do
	run_worker -c "$CASE_DIR/config.yaml" cancel "$id"
	[ "$RW_STATUS" = 1 ] || fail "cancel $id: exit status $RW_STATUS, expected 1"
done
run_worker -c "$CASE_DIR/config.yaml" cancel
assert_exit 2
worker_subcase_end

worker_subcase_begin submit_wait_exit_statuses
run_worker -c "$CASE_DIR/config.yaml" submit --wait "$GOOD"
assert_exit 0
grep -q ': succeeded (report: ' "$CASE_DIR/err" || fail "no outcome line for the restore that succeeded"
assert_target_restored acceptance
printf 'not a backup\n' >"$CASE_DIR/bad.tar.gz"
run_worker -c "$CASE_DIR/config.yaml" submit --wait "$CASE_DIR/bad.tar.gz"
assert_exit 1
grep -q ': rejected: ' "$CASE_DIR/err" || fail "no outcome line for the refused restore"
worker_subcase_end

# Too late: the restore's COMMIT waits for a standby that does not exist (its session commits
# with synchronous_commit on; every other commits locally).
worker_subcase_begin cancel_past_the_commit_is_too_late
sql postgres "alter system set synchronous_commit = local"
sql postgres "alter system set synchronous_standby_names = 'nobody'"
sql postgres "select pg_reload_conf()" >/dev/null
if submit_bg third "$GOOD"; then
	THIRD=$JOB_ID THIRD_PID=$SUBMIT_PID
	WAIT_SECONDS=30 WAIT_WHAT="the restore's COMMIT waiting for the standby" wait_for \
		job_says "$THIRD" '.state == "active" and .phase == "committing"' || true
	run_worker -c "$CASE_DIR/config.yaml" cancel "$THIRD"
	assert_exit 1
	grep -q "too late" "$CASE_DIR/err" || fail "cancel does not say it is too late"
	request_gone "$THIRD" || fail "cancel asked for a job past its commit point to be cancelled"
	write_request "$THIRD"
	WAIT_SECONDS=10 WAIT_WHAT="the worker dropping a request too late" wait_for request_gone "$THIRD" || true
	job_says "$THIRD" '.state == "active"' || fail "the job did not wait in its commit: $(cat "$CASE_DIR/out")"
fi
sql postgres "alter system reset synchronous_standby_names"
sql postgres "alter system reset synchronous_commit"
sql postgres "select pg_reload_conf()" >/dev/null
if [ -n "${THIRD_PID:-}" ]; then
	reap "$THIRD_PID" 30
	assert_eq "exit status of submit --wait for the job that went on" 0 "$REAPED"
	cp "$SPOOL/done/$THIRD/report.json" "$CASE_DIR/out" 2>/dev/null || : >"$CASE_DIR/out"
	assert_report .status succeeded
	assert_target_restored acceptance
fi
worker_stop "$WORKER_PID"
worker_case_end

finish
