#!/usr/bin/env bash
# worker_claims.sh - which file a job takes, when, and what a dead attempt leaves behind.
#
#  - a job file naming an archive inside the spool is refused with a report that says why; the
#    archive dropped beside it is restored once, as its own job (also for an absolute path that
#    reaches the spool through a symbolic link);
#  - an archive renamed into incoming/ and then written again in place while its target is busy
#    is taken only once the writer has closed it and it has settled, not half-written;
#  - a restore killed with its worker, on a target that the surviving worker's configuration no
#    longer defines after SIGHUP: its staging folder and dump copy are removed all the same.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive


# 1. A job file beside the archive it names, in incoming/: the archive is written in place (it
# settles for a second) while the job file arrives by rename and is taken at once. A second job
# file names a path inside the spool through a symbolic link.
worker_case_begin job_file_naming_archive_in_spool_is_refused
worker_targets t1
ln -s "$SPOOL" "$CASE_DIR/spool-link"
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	cp "$GOOD" "$SPOOL/incoming/inside.tar.gz"
	drop_job beside.yaml "" 'archive: inside.tar.gz\n'
	drop_job linked.yaml "" "archive: $CASE_DIR/spool-link/incoming/elsewhere.tar.gz\n"
	wait_reports 3 || true
fi
worker_stop
assert_report_count 3
load_report beside.yaml failed "$CASE_DIR/jobs/beside.yaml"
assert_report .status rejected
assert_error_line
assert_report_true '(.error | contains("inside the spool"))' "the error says the archive is inside the spool"
load_report linked.yaml failed "$CASE_DIR/jobs/linked.yaml"
assert_report .status rejected
assert_report_true '(.error | contains("inside the spool"))' "the error says the archive is inside the spool"
load_report inside.tar.gz done "$GOOD"
assert_report .status succeeded
assert_target_restored t1
assert_no_leftovers
worker_case_end

# 2. Renamed in, then written again in place while its target is busy with a slow restore: it
# must wait for its writer to close it, then settle, and be restored whole.
worker_case_begin rewritten_in_place_while_waiting_is_taken_whole
worker_targets t1
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 3 once
write_worker_config "$CASE_DIR/config.yaml" pg_restore="$CASE_DIR/slow_pg_restore"
worker_start "$CASE_DIR/config.yaml"
SIZE=$(stat -c %s "$GOOD")
HALF=$((SIZE / 2))
if wait_spool_ready; then
	drop_file "$GOOD" "" first.tar.gz
	if WAIT_WHAT="the first restore reaching the stand-in's pause" wait_for test -e "$CASE_DIR/slow.started"; then
		drop_file "$GOOD" "" second.tar.gz
		exec {WRITER}>"$SPOOL/incoming/second.tar.gz"
		head -c "$HALF" "$GOOD" >&"$WRITER"
		wait_reports 1 || true
		sleep 3 # settle_seconds is 1: the worker had time to take it, were it going to
		assert_eq "reports while second.tar.gz is still open for writing" 1 "$(count_reports)"
		[ -f "$SPOOL/incoming/second.tar.gz" ] || fail "second.tar.gz was taken while still open for writing"
		tail -c +$((HALF + 1)) "$GOOD" >&"$WRITER"
		exec {WRITER}>&-
		wait_reports 2 || true
	fi
fi
worker_stop
assert_report_count 2
load_report first.tar.gz done "$GOOD"
assert_report .status succeeded
load_report second.tar.gz done "$GOOD"
assert_report .status succeeded
assert_target_restored t1
assert_no_leftovers
worker_case_end

# 3. Two workers share the spool. The first is caught restoring into t2 (its dump copied into
# work_dir, its files staged beside t2's blob folder); the second reloads a configuration without
# t2 (SIGHUP), then the first is killed. The second adopts the job, refuses it (t2 is not
# defined any more), and removes what the dead attempt left, found from the job's claim.
worker_case_begin leftovers_of_a_target_removed_by_sighup_are_removed
worker_targets t1 t2
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 60 once
write_worker_config "$CASE_DIR/slow.yaml" pg_restore="$CASE_DIR/slow_pg_restore"
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/slow.yaml"
FIRST=$WORKER_PID
if wait_spool_ready; then
	drop_file "$GOOD" t2 gone.tar.gz
	if WAIT_WHAT="the restore reaching the stand-in's pause" wait_for test -e "$CASE_DIR/slow.started"; then
		compgen -G "$BLOB_PARENT/.t2.staging-*" >/dev/null || fail "no staging folder beside t2's blob folder during the restore"
		[ -n "$(ls -A "$WORK_DIR")" ] || fail "no dump copy in work_dir during the restore"
		worker_start "$CASE_DIR/config.yaml"
		SECOND=$WORKER_PID
		sleep 1
		TARGETS=(t1)
		write_worker_config "$CASE_DIR/config.yaml"
		TARGETS=(t1 t2)
		kill -HUP "$SECOND"
		sleep 1
		worker_kill "$FIRST"
		wait_sessions_gone "$(target_db t2)"
		wait_reports 1 || true
		worker_stop "$SECOND"
	fi
fi
assert_report_count 1
load_report gone.tar.gz failed "$GOOD"
assert_refused
assert_report_true '(.error | contains("t2"))' "the error names target t2"
assert_target_unchanged t2
assert_no_leftovers
worker_case_end

finish
