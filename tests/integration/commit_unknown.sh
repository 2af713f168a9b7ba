#!/usr/bin/env bash
# commit_unknown.sh - the truth of an outcome when the server's reply is lost or the worker dies.
#
# A COMMIT is made to wait the way a real one can: the server has synchronous_standby_names
# naming a standby that does not exist, so a session with synchronous_commit on waits after
# its commit is written locally. Terminating that backend (pg_terminate_backend) then ends the
# connection without a reply, while the transaction is committed.
#  - strategy transaction, the reply lost: the server, asked again, says committed; the restore
#    finishes the file exchange and succeeds (before: failed, the files thrown away, a mix);
#  - strategy swap, the reply lost (the stand-in turns synchronous_commit on once pg_restore is
#    done): the same, the old database dropped, no stray database;
#  - the server stopped while the COMMIT waits, and the restore told to stop while it waits for
#    the server: partial, database.status "unknown", the staged files kept (and named) and
#    blob_dir untouched; the server, started again, shows the backup committed;
#  - the worker killed while the COMMIT waits: the next worker asks the server (ending the
#    backend still waiting), and files the job partial with database.status "restored",
#    files.status "unchanged" and the staged files kept where the report says;
#  - the server stopped during the checks before a restore: failed (may be retried), never
#    rejected.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive

# standby_wait: $1 = on: COMMITs of sessions with synchronous_commit on wait for a standby that
# does not exist; off: no standby is waited for (and every waiting COMMIT goes on).
standby_wait() {
	if [ "$1" = on ]; then
		sql postgres "alter system set synchronous_standby_names = 'nobody'"
	else
		sql postgres "alter system reset synchronous_standby_names"
	fi
	sql postgres "select pg_reload_conf()" >/dev/null
}

# Sessions commit without waiting unless they ask for it (the restore's session does).
sql postgres "alter system set synchronous_commit = local"
sql postgres "select pg_reload_conf()" >/dev/null

# waiting_commit: print the pid of a restore-worker backend whose COMMIT waits for the standby.
waiting_commit() {
	sql postgres "select pid from pg_stat_activity where application_name = 'restore-worker'
		and wait_event = 'SyncRep' limit 1"
}

# wait_waiting_commit: wait (30 s at most) for a waiting COMMIT; its pid into WAITING_PID.
wait_waiting_commit() {
	local polls=0
	WAITING_PID=
	until WAITING_PID=$(waiting_commit) && [ -n "$WAITING_PID" ]; do
		if [ "$polls" -ge 150 ]; then
			fail "no COMMIT of the restore waited for the standby within 30 s"
			return 1
		fi
		sleep 0.2
		polls=$((polls + 1))
	done
}

# server_stop_crash / server_start: stop the server at once (as a crash), start it again.
server_stop_crash() {
	as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null
}
server_start() {
	as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -w -l "$PG_DIR/server.log" \
		-o "-c listen_addresses='' -k $PGHOST -c unix_socket_permissions=0777 -c fsync=off" \
		start >/dev/null
}

# restore_begin: case $1 with target database "target" (old content, old files, saved as
# "before") and a configuration without ANALYZE (its commit would wait too); $@ more keys.
restore_begin() {
	case_begin "$1"
	shift
	sql postgres "drop database if exists target with (force)"
	make_target_db target
	old_blobs
	capture_state before target
	write_config "$CASE_DIR/config.yaml" dbname=target analyze=false "$@"
}

# restore_in_background: restore the good archive (--json), stdout and stderr into the case's
# out and err; its pid into RESTORE_PID.
restore_in_background() {
	"${DEFAULT_SIGINT[@]}" "$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" restore --json "$GOOD" \
		>"$CASE_DIR/out" 2>"$CASE_DIR/err" &
	RESTORE_PID=$!
}

# restore_wait: wait for the background restore; its exit status into RW_STATUS.
restore_wait() {
	RW_STATUS=0
	wait "$RESTORE_PID" || RW_STATUS=$?
}

# assert_restored_whole: the target equals the source, blob_dir holds the backup's files,
# nothing is left beside it or in work_dir, and no database is left beside the target.
assert_restored_whole() {
	snapshot_db_state target >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
	assert_same_file "blob_dir (vs tree)" "$TEST_ROOT/tree.state" "$CASE_DIR/after.files"
	assert_eq "entries beside blob_dir" "files" "$(ls -A "$BLOB_PARENT" | tr '\n' ' ' | sed 's/ $//')"
	assert_work_dir_empty
	assert_eq "databases beside the target" "" \
		"$(sql postgres "select string_agg(datname, ' ') from pg_database where datname like 'target\_rw\_%'")"
}

# 17. Strategy transaction: the COMMIT's reply is lost (its backend terminated while it waits
# for the standby); the server says it committed, so the files are swapped in too.
restore_begin transaction_reply_lost_committed
standby_wait on
restore_in_background
if wait_waiting_commit; then
	sql postgres "select pg_terminate_backend($WAITING_PID)" >/dev/null
fi
standby_wait off
restore_wait
assert_exit 0
assert_report .status succeeded
assert_report .database.status restored
assert_report .files.status restored
assert_report_true '[.warnings[] | select(contains("reply") and contains("committed"))] | length == 1' \
	"a warning says the reply was lost and the server says it committed"
assert_restored_whole
case_end

# 17. Strategy swap: the same for the swap's renames. The swap's own session commits
# synchronously (as the transaction strategy's does), so its CREATE DATABASE and the marker on
# it would wait too: the stand-in names the standby only once pg_restore is done, so that the
# first commit to wait is the swap's.
restore_begin swap_reply_lost_committed strategy=swap pg_restore="$TEST_ROOT/commit_waits"
sql postgres "alter role app createdb"
cat >"$TEST_ROOT/commit_waits" <<EOF
#!/usr/bin/env bash
real=$PGBIN/pg_restore
case " \$* " in *" --jobs="*) ;; *) exec "\$real" "\$@" ;; esac
"\$real" "\$@" || exit
PGUSER=postgres "$PGBIN/psql" -X -q -At -h "$PGHOST" -d postgres \\
	-c "alter system set synchronous_standby_names = 'nobody'" -c "select pg_reload_conf()" >/dev/null
EOF
chmod 755 "$TEST_ROOT/commit_waits"
restore_in_background
if wait_waiting_commit; then
	sql postgres "select pg_terminate_backend($WAITING_PID)" >/dev/null
fi
standby_wait off
restore_wait
assert_exit 0
assert_report .status succeeded
assert_report .database.status restored
assert_report .files.status restored
assert_restored_whole
case_end

# 17. The server is gone while the COMMIT waits, and the restore is told to stop while it
# waits to ask it: partial, the database's outcome unknown, every copy kept. The server,
# started again, shows the backup committed: "unchanged" would have been false.
restore_begin server_gone_outcome_unknown
standby_wait on
restore_in_background
if wait_waiting_commit; then
	server_stop_crash
fi
kill -TERM "$RESTORE_PID" 2>/dev/null || true
restore_wait
server_start
standby_wait off
assert_exit 3
assert_report .status partial
assert_report .database.status unknown
assert_report .files.status unchanged
STAGING=$BLOB_PARENT/.files.staging-$(report .job_id)
assert_report_true "(.error | contains(\"$STAGING\"))" "the error names the staging folder $STAGING"
capture_state after target
assert_same_file "blob_dir (vs before)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
FILES_ONLY=1 snapshot_dir_state "$STAGING" >"$CASE_DIR/staged.files" 2>/dev/null || true
assert_same_file "the kept staging folder (vs tree)" "$TEST_ROOT/tree.state" "$CASE_DIR/staged.files"
assert_same_file "target database (vs source): the COMMIT did take place" \
	"$TEST_ROOT/src.state" "$CASE_DIR/after.db"
case_end

# 18. The worker killed while its COMMIT waits: the next worker ends the backend still
# waiting, asks the server, and files the truth: the database restored, the files not, and
# where the backup's files are.
worker_case_begin worker_killed_during_commit
worker_targets t1
write_worker_config "$CASE_DIR/config.yaml"
echo "    analyze: false" >>"$CASE_DIR/config.yaml"
standby_wait on
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready || true
drop_file "$GOOD" "" good.tar.gz
if wait_waiting_commit; then
	worker_kill
	assert_eq "the killed worker's COMMIT still waits" "$WAITING_PID" "$(waiting_commit)"
	worker_start "$CASE_DIR/config.yaml"
	wait_reports 1 || true
fi
standby_wait off
load_report good.tar.gz failed "$GOOD"
assert_report .status partial
assert_report .database.status restored
assert_report .files.status unchanged
STAGING=$BLOB_PARENT/.t1.staging-$(report .job_id)
assert_report_true "(.error | contains(\"$STAGING\"))" "the error names the staging folder $STAGING"
FILES_ONLY=1 snapshot_dir_state "$STAGING" >"$CASE_DIR/staged.files" 2>/dev/null || true
assert_same_file "the kept staging folder (vs tree)" "$TEST_ROOT/tree.state" "$CASE_DIR/staged.files"
snapshot_db_state "$(target_db t1)" >"$CASE_DIR/now.t1.db"
assert_same_file "database of target t1 (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/now.t1.db"
snapshot_dir_state "$(target_blob t1)" >"$CASE_DIR/now.t1.files"
assert_same_file "blob_dir of target t1 (vs before)" "$CASE_DIR/before.t1.files" "$CASE_DIR/now.t1.files"
worker_stop
worker_case_end

# 20. The server stopped during the checks before a restore: failed, not rejected. A
# superuser's session named restore-worker (which the role cannot end, but sees: it may read
# all statistics) holds the restore in its wait for a dead worker's sessions, with the
# target's lock held (spool_dir), until the server is stopped.
restore_begin server_gone_during_checks_failed
sql postgres "grant pg_read_all_stats to app"
sed -i "1i spool_dir: $CASE_DIR/spool" "$CASE_DIR/config.yaml"
PGAPPNAME=restore-worker "$PGBIN/psql" -X -q -d target -c "select pg_sleep(60)" \
	>/dev/null 2>&1 </dev/null &
HOLDER_PID=$!
# app_sessions_named: true once $1 sessions of role $2 named restore-worker are on the server.
app_sessions_named() {
	local polls=0
	until [ "$(sql postgres "select count(*) from pg_stat_activity where usename = '$2'
		and application_name = 'restore-worker'")" = "$1" ]; do
		if [ "$polls" -ge 150 ]; then
			fail "no session of role $2 named restore-worker after 30 s"
			return 1
		fi
		sleep 0.2
		polls=$((polls + 1))
	done
}
app_sessions_named 1 postgres || true
restore_in_background
app_sessions_named 1 app || true
server_stop_crash
restore_wait
wait "$HOLDER_PID" 2>/dev/null || true
server_start
sql postgres "revoke pg_read_all_stats from app"
assert_exit 1
assert_report .status failed
assert_error_line
capture_state after target
assert_same_file "database (vs before)" "$CASE_DIR/before.db" "$CASE_DIR/after.db"
assert_same_file "blob_dir (vs before)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
case_end

finish
