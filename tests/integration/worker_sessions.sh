#!/usr/bin/env bash
# worker_sessions.sh - other sessions on a target database, as the worker meets them.
#
# A worker killed while its statement ran leaves a server session behind until that statement
# ends. The worker that holds the target's lock knows no live worker uses the target, so it
# ends sessions named restore-worker and goes on; the application's own sessions are never
# ended (the job is refused). A manual `restore` with the same spool takes the same lock, so it
# is refused while the worker restores that target, and the worker's job is not disturbed.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive

# hold_session: start a session on database $1 named $2 (application_name) that runs a long
# statement, as a dead worker's busy backend would; its pid goes to SESSION_PID.
hold_session() {
	PGAPPNAME=$2 PGUSER=app psql -X -q -d "$1" -c "select pg_sleep(120)" >/dev/null 2>&1 &
	SESSION_PID=$!
	WAIT_WHAT="the $2 session on $1" wait_for session_count_is "$1" "$2" 1
}

# session_count_is: true when database $1 holds $3 sessions named $2.
session_count_is() {
	[ "$(sql postgres "select count(*) from pg_stat_activity
		where datname = '$1' and application_name = '$2'")" = "$3" ]
}

SESSION_PID=

# 1. A busy session named restore-worker (a dead worker's) is ended; the job succeeds.
worker_case_begin orphan_session_is_ended
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready && hold_session "$(target_db acceptance)" restore-worker; then
	drop_file "$GOOD" "" after-crash.tar.gz
	wait_reports 1 || true
fi
worker_stop
load_report after-crash.tar.gz done "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
assert_no_leftovers
if [ -n "${SESSION_PID:-}" ] && pid_running "$SESSION_PID"; then
	fail "the orphaned session is still running"
	kill "$SESSION_PID" 2>/dev/null || true
fi
worker_case_end

# 2. The application's session is never ended: the job is refused, the target unchanged.
worker_case_begin application_session_is_kept
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
save_target before acceptance
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready && hold_session "$(target_db acceptance)" myapp; then
	drop_file "$GOOD" "" while-app-runs.tar.gz
	wait_reports 1 || true
fi
worker_stop
load_report while-app-runs.tar.gz failed "$GOOD"
assert_report .status rejected
assert_target_unchanged acceptance
assert_no_leftovers
[ -n "${SESSION_PID:-}" ] && pid_running "$SESSION_PID" || fail "the application's session was ended"
assert_eq "myapp sessions on the target" true \
	"$(session_count_is "$(target_db acceptance)" myapp 1 && echo true || echo false)"
[ -z "${SESSION_PID:-}" ] || kill "$SESSION_PID" 2>/dev/null || true
SESSION_PID=
worker_case_end

# 3. A manual restore of a target the worker is restoring is refused; the job still succeeds.
worker_case_begin manual_restore_while_worker_restores
worker_targets acceptance
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 4
write_worker_config "$CASE_DIR/config.yaml" pg_restore="$CASE_DIR/slow_pg_restore"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_file "$GOOD" "" by-worker.tar.gz
	if WAIT_WHAT="the worker's restore reaching the pause" wait_for test -e "$CASE_DIR/slow.started"; then
		set +e
		"$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" restore --json "$GOOD" >"$CASE_DIR/manual.json" \
			2>"$CASE_DIR/manual.err"
		status=$?
		set -e
		assert_eq "the manual restore's exit status" 1 "$status"
		assert_eq "the manual restore's status" rejected "$(jq -r .status "$CASE_DIR/manual.json")"
	fi
	wait_reports 1 || true
fi
worker_stop
load_report by-worker.tar.gz done "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
assert_no_leftovers
worker_case_end

finish
