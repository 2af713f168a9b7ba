#!/usr/bin/env bash
# undo.sh - keep_previous: every restore first backs the target up, so it can be undone.
#  - the worker: a restore into a target with keep_previous names its backup in the report
#    (previous_backup, in <spool>/previous/<target>/, a full snapshot); dropping that file
#    into incoming/<target>/ gives back the target as it was, database and files;
#  - restore --db-only: the backup before it is the database alone (database-*.backup);
#  - previous_keep 2: after three restores two backups are left;
#  - restores that fail in the database (target unchanged) remove their backups: the undo point
#    of the last restore that changed the target stays, and only such count toward previous_keep;
#  - a worker killed between its backup and the commit: the rerun removes that attempt's backup,
#    so the job leaves one undo point;
#  - a refused restore (over the quota) makes no backup;
#  - a backup that fails (pg_dump that exits 1): the restore fails, the target unchanged;
#  - keep_previous without spool_dir is a configuration error.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive

# undo_config: the worker's config $1 for TARGETS with keep_previous (more target keys: $@).
undo_config() {
	local file=$1 kv
	shift
	write_worker_config "$file"
	for kv in keep_previous=true "$@"; do
		sed -i "/^    plan_quota: /a\\    ${kv%%=*}: ${kv#*=}" "$file"
	done
}

worker_case_begin worker_restore_then_undo
worker_targets acceptance
undo_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
drop_file "$GOOD" acceptance
wait_reports 1
load_report good.tar.gz done "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
PREVIOUS=$(report .previous_backup)
case $PREVIOUS in
"$SPOOL"/previous/acceptance/files_and_database-????????-????????????.tar.gz) ;;
*) fail "previous_backup is not a full snapshot in the spool's previous/acceptance/: $PREVIOUS" ;;
esac
[ -f "$PREVIOUS" ] || fail "the backup the report names is not there: $PREVIOUS"
"$RESTORE_WORKER" inspect "$PREVIOUS" >/dev/null 2>&1 || fail "inspect refuses the backup made before the restore"
# Undo: the backup, dropped like any other.
drop_file "$PREVIOUS" acceptance
wait_reports 2
load_report "$(basename "$PREVIOUS")" done "$PREVIOUS"
assert_report .status succeeded
assert_target_unchanged acceptance
worker_case_end

# A worker killed after the backup before the restore and before the commit: that backup holds
# the target as it still is; the rerun removes it before it backs up again, so the job leaves one
# undo point, the one its report names.
worker_case_begin killed_attempt_leaves_one_undo_point
worker_targets acceptance
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 30 once
undo_config "$CASE_DIR/config.yaml"
sed "s|^pg_restore: .*|pg_restore: $CASE_DIR/slow_pg_restore|" "$CASE_DIR/config.yaml" >"$CASE_DIR/slow.yaml"
worker_start "$CASE_DIR/slow.yaml"
wait_spool_ready
drop_file "$GOOD" acceptance
if WAIT_WHAT="the restore reaching the stand-in's pause" wait_for test -e "$CASE_DIR/slow.started"; then
	assert_eq "backups while the first attempt runs" 1 "$(ls "$SPOOL/previous/acceptance" | grep -c .)"
	JOB_PROCESS=$(cat "$CASE_DIR/slow.parent")
	worker_kill "$WORKER_PID"
	wait_gone "$JOB_PROCESS" || fail "the job's process outlived its killed worker by 5 s"
	wait_sessions_gone "$(target_db acceptance)"
	assert_target_unchanged acceptance
	# As if the rerun came a minute later or more: the attempt's backup gets an older stamp.
	for f in "$SPOOL"/previous/acceptance/files_and_database-*.tar.gz; do
		mv "$f" "${f%-????????????.tar.gz}-202001010000.tar.gz"
	done
	worker_start "$CASE_DIR/config.yaml"
	wait_reports 1 || true
	worker_stop "$WORKER_PID"
fi
load_report good.tar.gz done "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
assert_eq "backups in previous/acceptance/ after the rerun" "$(basename "$(report .previous_backup)")" \
	"$(ls "$SPOOL/previous/acceptance" | tr '\n' ' ' | sed 's/ $//')"
worker_case_end

case_begin db_only_backs_up_the_database_alone
make_target_db undo2
old_blobs
SPOOL=$CASE_DIR/spool
write_config "$CASE_DIR/config.yaml" dbname=undo2 keep_previous=true
sed -i "1i spool_dir: $SPOOL" "$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" restore --json --db-only "$GOOD"
assert_exit 0
assert_report .status succeeded
case $(report .previous_backup) in
"$SPOOL"/previous/acceptance/database-????????-????????????.backup) ;;
*) fail "previous_backup is not a database-only backup: $(report .previous_backup)" ;;
esac
case_end

case_begin previous_keep_keeps_the_newest
make_target_db undo3
old_blobs
SPOOL=$CASE_DIR/spool
write_config "$CASE_DIR/config.yaml" dbname=undo3 keep_previous=true previous_keep=2
sed -i "1i spool_dir: $SPOOL" "$CASE_DIR/config.yaml"
NAMES=()
for run in 1 2 3; do
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
	assert_exit 0
	NAMES+=("$(basename "$(report .previous_backup)")")
	sleep 1 # the names carry the minute; the newest is also told by modification time
done
assert_eq "backups kept" "$(printf '%s\n' "${NAMES[1]}" "${NAMES[2]}" | sort | tr '\n' ' ')" \
	"$(ls "$SPOOL/previous/acceptance" | sort | tr '\n' ' ')"
case_end

case_begin failed_restores_keep_the_undo_point
# previous_keep 2: a good restore (its backup P1 holds the state before it), then twice an
# archive that passes every check and fails in the database. The failures left the target as
# it was: their backups go, P1 stays; the next good restore's backup P2 is kept beside P1.
make_index_fails_db src_index
make_snapshot "$CASE_DIR/fails.tar.gz" src_index 1
make_target_db undo6
old_blobs
SPOOL=$CASE_DIR/spool
write_config "$CASE_DIR/config.yaml" dbname=undo6 keep_previous=true previous_keep=2
sed -i "1i spool_dir: $SPOOL" "$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
P1=$(report .previous_backup)
capture_state before undo6
for run in 1 2; do
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$CASE_DIR/fails.tar.gz"
	assert_exit 1
	assert_report .status failed
	assert_report .database.status unchanged
	assert_report .previous_backup null
	assert_eq "backups after failure $run" "$(basename "$P1")" "$(ls "$SPOOL/previous/acceptance" | tr '\n' ' ' | sed 's/ $//')"
done
assert_unchanged undo6
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
P2=$(report .previous_backup)
assert_eq "backups after the next good restore" "$(printf '%s\n' "$(basename "$P1")" "$(basename "$P2")" | sort | tr '\n' ' ')" \
	"$(ls "$SPOOL/previous/acceptance" | sort | tr '\n' ' ')"
case_end

case_begin refused_restore_makes_no_backup
make_target_db undo4
old_blobs
capture_state before undo4
SPOOL=$CASE_DIR/spool
write_config "$CASE_DIR/config.yaml" dbname=undo4 keep_previous=true plan_quota=1GB
sed -i "1i spool_dir: $SPOOL" "$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status rejected
assert_report .previous_backup null
assert_eq "files in previous/acceptance" "" "$(ls -A "$SPOOL/previous/acceptance" 2>/dev/null)"
assert_unchanged undo4
case_end

case_begin failed_backup_fails_the_restore
make_target_db undo5
old_blobs
capture_state before undo5
SPOOL=$CASE_DIR/spool
printf '#!/bin/sh\ncase "$*" in *--version*) exec %s "$@" ;; esac\necho "pg_dump: error: no" >&2\nexit 1\n' \
	"$PGBIN/pg_dump" >"$CASE_DIR/pg_dump_fails"
chmod 755 "$CASE_DIR/pg_dump_fails"
write_config "$CASE_DIR/config.yaml" dbname=undo5 keep_previous=true
sed -i "1i spool_dir: $SPOOL\npg_dump: $CASE_DIR/pg_dump_fails" "$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status failed
assert_error_line
assert_report_true '(.error | contains("backup before the restore failed"))' "the error says the backup failed"
assert_report .database.status unchanged
assert_unchanged undo5
assert_eq "files in previous/acceptance" "" "$(ls -A "$SPOOL/previous/acceptance" 2>/dev/null)"
case_end

case_begin keep_previous_needs_spool_dir
write_config "$CASE_DIR/config.yaml" keep_previous=true
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 2
grep -q 'keep_previous: needs spool_dir' "$CASE_DIR/err" || fail "the error does not say keep_previous needs spool_dir"
case_end

finish
