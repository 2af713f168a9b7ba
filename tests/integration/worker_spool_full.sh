#!/usr/bin/env bash
# worker_spool_full.sh - a restore that succeeds while the spool's filesystem is full.
#
# The spool is a small tmpfs (mounted in a private mount namespace, so it goes away with the
# test). A pg_restore stand-in pauses half-way; while it pauses, the tmpfs is filled to the last
# page, so the restore commits but its report.json cannot be written. Then:
#  - the job stays in active/, its claim marked finished (succeeded, as `status` shows), and it
#    is never restored again: a row written into the target after the restore survives several rescans; once
#    space returns, the job's own report is filed in done/;
#  - the worker killed while the report is pending: the next worker files the job in done/ from
#    the outcome its claim records (with a warning saying so), again without restoring it;
#  - the same for a rehearsal of the database alone (a job file with dry_run and db_only): the
#    report made from the claim says so (dry_run, db_only, nothing restored), the target is
#    unchanged, and the metrics count no run and no success for it.
# Needs root (mount); skipped otherwise.
set -euo pipefail

if [ "${RW_IN_MOUNT_NS:-}" != 1 ]; then
	if [ "$(id -u)" -ne 0 ] || ! unshare --mount --propagation private true 2>/dev/null; then
		echo "ok - spool_full # SKIP needs root to mount a tmpfs in a private mount namespace"
		exit 77
	fi
	RW_IN_MOUNT_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

source "$(dirname "$0")/worker_lib.sh"

# spool_full_cleanup: the EXIT trap: unmount the spool's tmpfs, then worker_lib.sh's cleanup.
spool_full_cleanup() {
	local status=$?
	if [ -n "${SPOOL:-}" ]; then
		umount -l "$SPOOL" 2>/dev/null || true
	fi
	(exit "$status")
	worker_cleanup
}
trap spool_full_cleanup EXIT

make_good_archive

MARKER="insert into \"module\$two\".\"thing\$x\" values ('written after the restore', 1)"
MARKER_COUNT="select count(*) from \"module\$two\".\"thing\$x\" where k = 'written after the restore'"

# target_is_restored: true once target t1's database equals the source.
target_is_restored() {
	snapshot_db_state "$(target_db t1)" >"$CASE_DIR/poll.db" 2>/dev/null
	cmp -s "$TEST_ROOT/src.state" "$CASE_DIR/poll.db"
}

# claim_finished: true once the one job in active/ has a claim marked finished.
claim_finished() {
	grep -qx 'phase=finished' "$SPOOL"/active/*/claim 2>/dev/null
}

# fill_spool: write $SPOOL/filler until the tmpfs has no page left.
fill_spool() {
	dd if=/dev/zero of="$SPOOL/filler" bs=4096 >/dev/null 2>&1 || true
	[ "$(df --output=avail -B1 "$SPOOL" | tail -n 1 | tr -d ' ')" -lt 4096 ] || fail "the spool's tmpfs is not full"
}

# restore_into_full_spool: start case $1 on a tmpfs spool; restore the good archive into target
# t1 with the spool filled during the restore; return once the claim says finished, the target
# was restored, a marker row was written into it and three rescans went by.
restore_into_full_spool() {
	worker_case_begin "$1"
	mount -t tmpfs -o size=16m tmpfs "$SPOOL"
	worker_targets t1
	make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 2 once
	write_worker_config "$CASE_DIR/slow.yaml" pg_restore="$CASE_DIR/slow_pg_restore"
	write_worker_config "$CASE_DIR/config.yaml"
	worker_start "$CASE_DIR/slow.yaml"
	wait_spool_ready || return 1
	drop_file "$GOOD" "" good.tar.gz
	WAIT_WHAT="the restore reaching the stand-in's pause" wait_for test -e "$CASE_DIR/slow.started" || return 1
	fill_spool
	WAIT_WHAT="the target restored" wait_for target_is_restored || return 1
	WAIT_WHAT="the claim marked finished" wait_for claim_finished || return 1
	sql_as_app "$(target_db t1)" "$MARKER"
	sleep 7 # rescan_seconds is 2: three rescans, each of which could adopt the job
	assert_eq "reports in done/ and failed/ while the spool is full" 0 "$(count_reports)"
	assert_eq "jobs in active/ while the spool is full" 1 "$(active_jobs | grep -c .)"
	run_worker -c "$CASE_DIR/config.yaml" status --json
	assert_report '.active | map("\(.phase) \(.status)") | join(",")' "finished succeeded"
	assert_eq "marker rows in the target (it must not be restored again)" 1 \
		"$(sql "$(target_db t1)" "$MARKER_COUNT")"
}

# assert_filed_once: the job is in done/ with a succeeded report, restored exactly once.
assert_filed_once() {
	load_report good.tar.gz done "$GOOD"
	assert_report .status succeeded
	assert_report .database.status restored
	assert_report .files.status restored
	assert_report .files.count 3
	assert_report .target t1
	assert_eq "marker rows in the target (it must not be restored again)" 1 \
		"$(sql "$(target_db t1)" "$MARKER_COUNT")"
	assert_eq "jobs left in active/" "" "$(active_jobs)"
	assert_no_leftovers
}

restore_into_full_spool report_filed_when_space_returns || true
rm -f "$SPOOL/filler"
wait_reports 1 || true
assert_filed_once
assert_report '[.warnings[] | select(contains("claim"))] | length' 0
worker_stop
umount "$SPOOL" || fail "cannot unmount the spool's tmpfs"
worker_case_end

restore_into_full_spool report_filed_by_next_worker || true
worker_kill
rm -f "$SPOOL/filler"
worker_start "$CASE_DIR/config.yaml"
wait_reports 1 || true
assert_filed_once
assert_report_true '[.warnings[] | select(contains("claim"))] | length == 1' \
	"a warning says the report was made from the claim's record"
worker_stop
umount "$SPOOL" || fail "cannot unmount the spool's tmpfs"
worker_case_end

# A rehearsal of the database alone, filed by the next worker from its claim: the report must
# be a rehearsal's, and a rehearsal counts for no target in the metrics.
worker_case_begin rehearsal_filed_by_next_worker
mount -t tmpfs -o size=16m tmpfs "$SPOOL"
worker_targets t1
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 2 once
write_worker_config "$CASE_DIR/slow.yaml" pg_restore="$CASE_DIR/slow_pg_restore"
write_worker_config "$CASE_DIR/config.yaml"
echo "metrics_file: $CASE_DIR/metrics.prom" >>"$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/slow.yaml"
if wait_spool_ready; then
	drop_job rehearse.yaml "" "archive: $GOOD\ndry_run: true\ndb_only: true\n"
	WAIT_WHAT="the rehearsal reaching the stand-in's pause" wait_for test -e "$CASE_DIR/slow.started" &&
		fill_spool &&
		WAIT_WHAT="the claim marked finished" wait_for claim_finished || true
fi
worker_kill
rm -f "$SPOOL/filler"
worker_start "$CASE_DIR/config.yaml"
wait_reports 1 || true
load_report rehearse.yaml done
assert_report .status succeeded
assert_report .dry_run true
assert_report .db_only true
assert_report .database.status unchanged
assert_report .files.status skipped
assert_target_unchanged t1
worker_stop
RUNS=$(awk '/^restore_worker_runs_total\{target="t1"/ { n += $2 } END { print n + 0 }' \
	"$CASE_DIR/metrics.prom" 2>/dev/null || echo "(no metrics file)")
assert_eq "runs of target t1 in the metrics (a rehearsal counts for none)" 0 "$RUNS"
assert_eq "last_success series of target t1 in the metrics" 0 \
	"$(grep -c '^restore_worker_last_success_timestamp_seconds{target="t1"}' "$CASE_DIR/metrics.prom" || true)"
umount "$SPOOL" || fail "cannot unmount the spool's tmpfs"
worker_case_end

finish
