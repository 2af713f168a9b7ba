#!/usr/bin/env bash
# old_files.sh - the old files a restore swaps out are removed off the critical path (issue 20).
#  - restore returns (exit 0, its report printed) while its old files are still being removed:
#    right after it exits, blob_dir holds exactly the backup's files and the old ones wait, held
#    by their removal, in .files.old-<job id>, which is gone a little later;
#  - a restore removes what a killed removal left of earlier old files beside its blob_dir
#    (.files.old-<job id>), and nothing else: not another blob_dir's old files, not a staging
#    folder;
#  - the worker files a job while its old files are still being removed; killed (SIGKILL) during
#    that removal, it leaves the rest under the old files' name, blob_dir holding exactly the
#    backup's files; started again, it removes the rest, the report unchanged.
# The old trees hold enough files (OLD_FILES) that removing them takes a good while after the
# restore is over.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

OLD_FILES=${OLD_FILES:-30000}

make_good_archive

# many_old_files: put OLD_FILES small files into folder $1 (created).
many_old_files() {
	mkdir -p "$1/00/00"
	(cd "$1/00/00" && seq -f 'old%g' 1 "$OLD_FILES" | xargs touch)
}

# assert_blob_is_backup: fail unless folder $1 holds exactly the backup's tree files.
assert_blob_is_backup() {
	FILES_ONLY=1 snapshot_dir_state "$1" >"$CASE_DIR/now.files"
	assert_same_file "blob_dir $1 (vs the backup's tree)" "$TEST_ROOT/tree.state" "$CASE_DIR/now.files"
	[ ! -e "$1/00/00" ] || fail "blob_dir $1 still holds old files"
}

case_begin restore_returns_before_the_old_files_are_gone
make_target_db cli_target
many_old_files "$BLOB_DIR"
write_config "$CASE_DIR/config.yaml" dbname=cli_target
set +e
timeout -k 5 120 "$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" restore --json "$GOOD" >"$CASE_DIR/out" 2>"$CASE_DIR/err"
RW_STATUS=$?
set -e
# At once, before anything else: what restore leaves as it returns.
OLD=$BLOB_PARENT/.files.old-$(report .job_id)
[ -d "$OLD" ] && old_there=yes || old_there=no
old_files_held "$BLOB_PARENT" && held=yes || held=no
assert_exit 0
assert_report .status succeeded
assert_report .files.status restored
assert_eq "the old files beside blob_dir as restore returned" yes "$old_there"
assert_eq "the old files held by their removal as restore returned" yes "$held"
assert_blob_is_backup "$BLOB_DIR"
wait_old_files || fail "the old files were still being removed 10 s after restore returned"
assert_eq "entries beside blob_dir once the removal is over" files "$(ls -A "$BLOB_PARENT" | tr '\n' ' ' | sed 's/ $//')"
assert_blob_is_backup "$BLOB_DIR"
assert_work_dir_empty
case_end

case_begin restore_removes_what_a_killed_removal_left
make_target_db cli_target2
old_blobs
LEFT=.files.old-$(new_uuid)
STAGING=.files.staging-$(new_uuid)
OTHER=.other.old-$(new_uuid)
for d in "$LEFT" "$STAGING" "$OTHER"; do
	mkdir -p "$BLOB_PARENT/$d/ab/cd"
	echo "in $d" >"$BLOB_PARENT/$d/ab/cd/f"
done
write_config "$CASE_DIR/config.yaml" dbname=cli_target2
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
assert_eq "entries beside blob_dir" "$(printf '%s\n' "$OTHER" "$STAGING" files | sort | tr '\n' ' ')" \
	"$(ls -A "$BLOB_PARENT" | sort | tr '\n' ' ')"
assert_eq "the staging folder's file" "in $STAGING" "$(cat "$BLOB_PARENT/$STAGING/ab/cd/f" 2>/dev/null)"
assert_eq "the other blob_dir's old file" "in $OTHER" "$(cat "$BLOB_PARENT/$OTHER/ab/cd/f" 2>/dev/null)"
assert_blob_is_backup "$BLOB_DIR"
case_end

# The worker: SIGKILL while it removes a job's old files, then a new start finishes.
worker_case_begin worker_killed_during_removal_finishes_at_start
worker_targets acceptance
BLOB=$(target_blob acceptance)
OLD_FILES=$((OLD_FILES * 2)) many_old_files "$BLOB"
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready || true
drop_file "$GOOD"
# A tight poll (no jq): the job is filed once its old files are held by their removal, which
# must still be at work when the worker is killed.
REPORT=
for ((i = 0; i < 3000; i++)); do
	REPORT=$(compgen -G "$SPOOL/done/*/report.json" | head -n 1 || true)
	[ -z "$REPORT" ] || break
	sleep 0.02
done
if [ -n "$REPORT" ]; then
	OLD=$BLOB_PARENT/.acceptance.old-$(basename "$(dirname "$REPORT")")
	REMOVAL=$(pgrep -P "$WORKER_PID" || true)
	[ -d "$OLD" ] && old_there=yes || old_there=no
	worker_kill "$WORKER_PID"
	assert_eq "the old files beside blob_dir as the job was filed" yes "$old_there"
	[ -n "$REMOVAL" ] || fail "no removal process beside the worker as the job was filed"
	if [ -n "$REMOVAL" ]; then
		wait_gone "$REMOVAL" || fail "the removal $REMOVAL outlived its killed worker by 5 s"
	fi
	load_report good.tar.gz done
	cp "$CASE_DIR/out" "$CASE_DIR/report.before"
	assert_report .status succeeded
	[ -d "$OLD" ] || fail "the old files were all removed before the worker was killed (make OLD_FILES larger?)"
	old_files_held "$BLOB_PARENT" && fail "the old files are still held after their removal was killed"
	assert_target_restored acceptance
	assert_blob_is_backup "$BLOB"
	worker_start "$CASE_DIR/config.yaml"
	WAIT_SECONDS=60 WAIT_WHAT="the old files removed after the new start" wait_for test ! -e "$OLD" || true
	assert_target_restored acceptance
	assert_blob_is_backup "$BLOB"
	assert_report_count 1
	load_report good.tar.gz done
	assert_same_file "the job's report after the new start" "$CASE_DIR/report.before" "$CASE_DIR/out"
	assert_no_leftovers
	worker_stop
else
	fail "no report in done/ after 60 s"
fi
worker_case_end

finish
