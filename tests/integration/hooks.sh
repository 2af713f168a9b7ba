#!/usr/bin/env bash
# hooks.sh - a target's before_restore and after_restore, and allow_restore: false (README
# "Hooks", "What is refused before anything changes").
#
# The hook is one script, run with a record file, a mode and the target database: it writes its
# RESTORE_WORKER_* environment, how many bytes its stdin held and whether the target still holds
# the table the restore removes into <record>.<hook>, appends its name to <record>.order, stops
# the "application" (an idle psql session on the target, whose pid <record>.app holds) when
# there is one, says a line on stdout and one on stderr, then acts as its mode says:
#  - ok: before and after run in that order around a restore that the application's session
#    would refuse without the hook, with the environment of the contract (a stale
#    RESTORE_WORKER_STATUS and systemd's NOTIFY_SOCKET of the worker's own left out);
#    before_restore sees the target as it was, after_restore the restored one; the report's
#    hooks say so;
#  - fail (exit 3) as before_restore: rejected, the database and the files unchanged,
#    after_restore still run with RESTORE_WORKER_STATUS=rejected;
#  - fail as after_restore: succeeded, the target restored, a warning;
#  - hang with hook_timeout_seconds 1: rejected, timed_out, the target's table still there, and
#    the hook's child that ignores SIGTERM is gone too (SIGKILL to the process group);
#  - a rehearsal with --db-only: both hooks get RESTORE_WORKER_DRY_RUN=1 and _DB_ONLY=1, and
#    after_restore still finds the table the restore would remove;
#  - block, and SIGTERM to restore-worker meanwhile: the hook is stopped, the restore fails with
#    the target as it was (after_restore, run with RESTORE_WORKER_STATUS=cancelled, finds the
#    table the restore removes).
# allow_restore: false: restore is refused (rejected, nothing read: archive_kind unknown) without
# running a hook, the target unchanged; check shows it and a hook whose program is missing;
# backup still works; a running worker files an archive dropped for it, and a job file naming
# it, in failed/ with status rejected, the target unchanged.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive

HOOK=$TEST_ROOT/hook
cat >"$HOOK" <<'EOF'
#!/bin/sh
# hook RECORD MODE DB
record=$1 mode=$2 db=$3
{
	env | grep '^RESTORE_WORKER_' | sort
	echo "notify_socket=$(env | grep -c '^NOTIFY_SOCKET=')"
	echo "stdin_bytes=$(wc -c)"
	echo "old_table=$(@PSQL@ -X -At -d "$db" -c "select count(*) from pg_class where relname = 'old\$stuff'")"
} >"$record.$RESTORE_WORKER_HOOK"
echo "$RESTORE_WORKER_HOOK" >>"$record.order"
if [ -f "$record.app" ]; then
	kill "$(cat "$record.app")" 2>/dev/null || true
fi
echo "said by $RESTORE_WORKER_HOOK"
echo "warned by $RESTORE_WORKER_HOOK" >&2
case $mode in
fail) exit 3 ;;
hang)
	(trap '' TERM; exec sleep 60) &
	echo $! >"$record.grandchild"
	sleep 60 ;;
block)
	echo $$ >"$record.pid"
	sleep 60 ;;
esac
exit 0
EOF
sed -i "s|@PSQL@|$PGBIN/psql|" "$HOOK"
chmod 755 "$HOOK"

# hook_config: config.yaml in CASE_DIR for target database $1 with before_restore in mode $2 and
# after_restore in mode $3 (none: no such hook), then any other key=value for write_config.
hook_config() {
	local db=$1 before=$2 after=$3 args=()
	shift 3
	[ "$before" = none ] || args+=("before_restore=[$HOOK, $CASE_DIR/rec, $before, $db]")
	[ "$after" = none ] || args+=("after_restore=[$HOOK, $CASE_DIR/rec, $after, $db]")
	write_config "$CASE_DIR/config.yaml" dbname="$db" "${args[@]}" "$@"
}

# hook_env: the value of variable $2 (RESTORE_WORKER_ left out) hook $1 was given, or "(unset)".
hook_env() {
	local line
	line=$(grep "^RESTORE_WORKER_$2=" "$CASE_DIR/rec.$1" 2>/dev/null) || { echo "(unset)"; return; }
	echo "${line#*=}"
}

# app_connect: an idle session of "the application" on database $1 (psql reading a FIFO this
# script holds open), its pid in rec.app for the hook to stop; waits until the server has it.
app_connect() {
	local polls=0
	mkfifo "$CASE_DIR/app.in"
	PGAPPNAME=app "$PGBIN/psql" -X -q -d "$1" <"$CASE_DIR/app.in" >/dev/null 2>&1 &
	echo $! >"$CASE_DIR/rec.app"
	exec 8>"$CASE_DIR/app.in"
	until [ "$(sql postgres "select count(*) from pg_stat_activity where application_name = 'app'")" = 1 ]; do
		[ "$polls" -lt 50 ] || { fail "the application's session did not appear"; return 0; }
		sleep 0.1
		polls=$((polls + 1))
	done
}

case_begin hooks_run_in_order
make_target_db t1
old_blobs
hook_config t1 ok ok
app_connect t1
# What the worker's own environment holds for itself is not the hooks'.
RESTORE_WORKER_STATUS=stale NOTIFY_SOCKET=$CASE_DIR/no-socket \
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
exec 8>&-
assert_exit 0
report_is_one_object
assert_report .status succeeded
snapshot_db_state t1 >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
assert_eq "hooks run, in order" "before_restore after_restore" "$(tr '\n' ' ' <"$CASE_DIR/rec.order" | sed 's/ $//')"
job=$(report .job_id)
for h in before_restore after_restore; do
	assert_eq "$h: RESTORE_WORKER_HOOK" "$h" "$(hook_env $h HOOK)"
	assert_eq "$h: RESTORE_WORKER_TARGET" acceptance "$(hook_env $h TARGET)"
	assert_eq "$h: RESTORE_WORKER_JOB_ID" "$job" "$(hook_env $h JOB_ID)"
	assert_eq "$h: RESTORE_WORKER_ARCHIVE" "$GOOD" "$(hook_env $h ARCHIVE)"
	assert_eq "$h: RESTORE_WORKER_DRY_RUN" 0 "$(hook_env $h DRY_RUN)"
	assert_eq "$h: RESTORE_WORKER_DB_ONLY" 0 "$(hook_env $h DB_ONLY)"
	assert_eq "$h: its stdin" "stdin_bytes=0" "$(grep '^stdin_bytes=' "$CASE_DIR/rec.$h")"
	assert_eq "$h: NOTIFY_SOCKET given" "notify_socket=0" "$(grep '^notify_socket=' "$CASE_DIR/rec.$h")"
	assert_report ".hooks.$h | [.argv0, .exit_status, .signal, .timed_out, (.duration_s | type)] | tojson" \
		"[\"$HOOK\",0,null,false,\"number\"]"
	grep -q "job $job: $h: said by $h" "$CASE_DIR/err" || fail "$h's stdout is not in the log"
	grep -q "job $job: $h: warned by $h" "$CASE_DIR/err" || fail "$h's stderr is not in the log"
done
assert_eq "before_restore: RESTORE_WORKER_STATUS" "(unset)" "$(hook_env before_restore STATUS)"
assert_eq "after_restore: RESTORE_WORKER_STATUS" succeeded "$(hook_env after_restore STATUS)"
assert_eq "the target before before_restore" "old_table=1" "$(grep '^old_table=' "$CASE_DIR/rec.before_restore")"
assert_eq "the target by after_restore" "old_table=0" "$(grep '^old_table=' "$CASE_DIR/rec.after_restore")"
pid_running "$(cat "$CASE_DIR/rec.app")" && fail "the application was not stopped"
case_end

case_begin before_restore_fails_refuses
make_target_db t2
old_blobs
hook_config t2 fail ok
capture_state before t2
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status rejected
assert_error_line
assert_report .error "target acceptance: before_restore $HOOK exited with status 3; the restore was refused and the target left as it was"
assert_report '.hooks.before_restore | [.exit_status, .signal, .timed_out] | tojson' '[3,null,false]'
assert_unchanged t2
assert_eq "hooks run, in order" "before_restore after_restore" "$(tr '\n' ' ' <"$CASE_DIR/rec.order" | sed 's/ $//')"
assert_eq "after_restore: RESTORE_WORKER_STATUS" rejected "$(hook_env after_restore STATUS)"
assert_report .hooks.after_restore.exit_status 0
case_end

case_begin after_restore_fails_warns
make_target_db t3
old_blobs
hook_config t3 none fail
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
assert_report .hooks.before_restore null
assert_report .hooks.after_restore.exit_status 3
assert_report_true "(.warnings | any(. == \"target acceptance: after_restore $HOOK exited with status 3; the restore's outcome (succeeded) stands\"))" \
	"a warning says after_restore failed"
snapshot_db_state t3 >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
assert_eq "after_restore: RESTORE_WORKER_STATUS" succeeded "$(hook_env after_restore STATUS)"
case_end

case_begin hook_timeout_kills_its_group
make_target_db t4
old_blobs
hook_config t4 hang none hook_timeout_seconds=1
started=$SECONDS
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status rejected
assert_report .error "target acceptance: before_restore $HOOK exceeded its time limit of 1 s (hook_timeout_seconds) and was stopped; the restore was refused and the target left as it was"
assert_report '.hooks.before_restore | [.exit_status, .signal, .timed_out] | tojson' '[null,15,true]'
assert_report_true '.hooks.before_restore.duration_s >= 1 and .hooks.before_restore.duration_s < 10' \
	"before_restore ran about its time limit"
[ $((SECONDS - started)) -lt 30 ] || fail "the restore took $((SECONDS - started)) s"
if [ -s "$CASE_DIR/rec.grandchild" ]; then
	pid_running "$(cat "$CASE_DIR/rec.grandchild")" && fail "the hook's child that ignores SIGTERM still runs"
else
	fail "the hook did not start its child"
fi
assert_eq "the target's table the restore removes" 1 "$(sql t4 "select count(*) from \"old\$stuff\"")"
assert_work_dir_empty
case_end

case_begin rehearsal_tells_the_hooks
make_target_db t5
old_blobs
hook_config t5 ok ok
run_worker -c "$CASE_DIR/config.yaml" restore --json --dry-run --db-only "$GOOD"
assert_exit 0
assert_report .status succeeded
assert_report .dry_run true
for h in before_restore after_restore; do
	assert_eq "$h: RESTORE_WORKER_DRY_RUN" 1 "$(hook_env $h DRY_RUN)"
	assert_eq "$h: RESTORE_WORKER_DB_ONLY" 1 "$(hook_env $h DB_ONLY)"
done
assert_eq "the target by after_restore" "old_table=1" "$(grep '^old_table=' "$CASE_DIR/rec.after_restore")"
assert_work_dir_empty
case_end

case_begin sigterm_during_before_restore
make_target_db t6
old_blobs
hook_config t6 block ok
set +e
"$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" restore --json "$GOOD" >"$CASE_DIR/out" 2>"$CASE_DIR/err" &
rw=$!
for ((i = 0; i < 100; i++)); do
	[ -s "$CASE_DIR/rec.pid" ] && break
	sleep 0.1
done
kill -TERM "$rw"
wait "$rw"
RW_STATUS=$?
set -e
assert_exit 1
assert_report .status failed
assert_report .error "target acceptance: before_restore $HOOK was stopped: the restore was cancelled; the target was left as it was"
if [ -s "$CASE_DIR/rec.pid" ]; then
	pid_running "$(cat "$CASE_DIR/rec.pid")" && fail "before_restore still runs"
else
	fail "before_restore did not start"
fi
assert_eq "after_restore: RESTORE_WORKER_STATUS" cancelled "$(hook_env after_restore STATUS)"
assert_eq "the target by after_restore" "old_table=1" "$(grep '^old_table=' "$CASE_DIR/rec.after_restore")"
assert_work_dir_empty
case_end

case_begin protected_target_refuses_restore
make_target_db t7
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=t7 allow_restore=false \
	"before_restore=[$TEST_ROOT/no-such-hook, stop]" "after_restore=[$HOOK, $CASE_DIR/rec, ok, t7]"
capture_state before t7
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status rejected
assert_report .error "target acceptance does not allow restores (allow_restore: false); nothing was read or changed"
assert_report .archive_kind unknown
assert_report '.hooks | tojson' '{"before_restore":null,"after_restore":null}'
[ -e "$CASE_DIR/rec.order" ] && fail "a hook ran"
assert_unchanged t7
run_worker -c "$CASE_DIR/config.yaml" check --target acceptance --json
assert_exit 1
assert_report '.checks[] | select(.name == "restores") | .status' ok
assert_report '.checks[] | select(.name == "hooks") | .status' failed
assert_report_true '.checks[] | select(.name == "hooks") | .message | contains("no-such-hook")' \
	"the hooks check names the missing program"
run_worker -c "$CASE_DIR/config.yaml" backup --json --output "$CASE_DIR/t7.tar.gz"
assert_exit 0
[ -s "$CASE_DIR/t7.tar.gz" ] || fail "backup wrote nothing"
case_end

worker_case_begin protected_target_refuses_spool_jobs
worker_targets prod
write_worker_config "$CASE_DIR/config.yaml"
echo "    allow_restore: false" >>"$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
drop_file "$GOOD" prod
drop_job job.yaml "" "archive: $GOOD\ntarget: prod\n"
wait_reports 2
for source in good.tar.gz job.yaml; do
	load_report "$source" failed
	assert_report .status rejected
	assert_report .error "target prod does not allow restores (allow_restore: false); nothing was read or changed"
done
worker_stop
assert_target_unchanged prod
worker_case_end

finish
