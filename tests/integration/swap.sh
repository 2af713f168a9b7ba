#!/usr/bin/env bash
# swap.sh - strategy swap: the backup is restored into a new database beside the target with
# pg_restore --jobs, then the names are swapped; the target's name holds the old state or the
# new one, never a mixture, and no database is left beside it.
#  - a role without CREATEDB: rejected before anything changes;
#  - success: the target equals the source, the files are swapped, no stray database; the same
#    again over itself;
#  - database-level settings (also per role, also a list setting), grants, the connection limit
#    and the comment survive the swap;
#  - the connection's password reaches pg_restore in its environment, not its command line;
#  - the new keys' configuration errors name the file, the line and the key;
#  - an application connected at swap time: failed, the target unchanged, no stray database;
#  - pg_restore failing half-way: failed, the target unchanged, the new database dropped;
#  - kill -9 of the worker during the parallel restore: the rerun succeeds, no stray database;
#  - kill -9 of the worker inside the swap's transaction (its renames waiting for a lock): the
#    target is as it was, the next worker drops the new database at its start and runs the job
#    again, which succeeds;
#  - a worker's start drops exactly the databases a swap into the target left (marked so by
#    their comment), with the target's owner, and logs each;
#  - the quota counts the target's current size: refused with the four figures;
#  - a logical replication slot on the target: rejected, unchanged;
#  - many entities (1200 tables with a primary key and an index) on a small lock table
#    (max_connections 20): strategy transaction is refused by the lock budget, strategy swap
#    succeeds twice.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive

# stray_databases: print the databases named like a swap's (target_rw_...), one a line.
stray_databases() {
	sql postgres "select datname from pg_database where datname like '${1:-target}\_rw\_%' order by 1"
}

# assert_no_stray: fail unless no database is named like a swap's beside target $1.
assert_no_stray() {
	assert_eq "databases left beside ${1:-target}" "" "$(stray_databases "${1:-target}" | tr '\n' ' ')"
}

# db_environment: print what belongs to the environment of database $1: its settings (also
# per role), grants, connection limit and comment.
db_environment() {
	sql postgres "select coalesce(r.rolname, '-'), s.setconfig::text from pg_db_role_setting s
		join pg_database d on d.oid = s.setdatabase left join pg_roles r on r.oid = s.setrole
		where d.datname = '$1' order by 1"
	sql postgres "select coalesce(datacl::text, 'default'), datconnlimit,
		coalesce(shobj_description(oid, 'pg_database'), '-'), pg_get_userbyid(datdba),
		pg_encoding_to_char(encoding), datcollate, datctype from pg_database where datname = '$1'"
}

# swap_case_begin: case $1 with a target database "target" (make_target_db, owned by app), old
# files in BLOB_DIR, the state saved as "before", and a config with strategy swap ($@ more keys).
swap_case_begin() {
	case_begin "$1"
	shift
	sql postgres "drop database if exists target with (force)"
	make_target_db target
	old_blobs
	capture_state before target
	write_config "$CASE_DIR/config.yaml" dbname=target strategy=swap "$@"
}

# assert_restored: fail unless target equals the source, BLOB_DIR holds the archive's files,
# nothing is left in work_dir or beside blob_dir, and no stray database exists.
assert_restored() {
	snapshot_db_state target >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
	assert_same_file "blob_dir (vs tree)" "$TEST_ROOT/tree.state" "$CASE_DIR/after.files"
	assert_eq "entries beside blob_dir" "files" "$(ls -A "$BLOB_PARENT" | tr '\n' ' ' | sed 's/ $//')"
	assert_work_dir_empty
	assert_no_stray
}

# A pg_restore stand-in $1: for the restore itself (--jobs), run $2 (shell code) around the
# real one; everything else (--version, --list) is the real pg_restore.
make_standin() {
	cat >"$1" <<-EOF
		#!/usr/bin/env bash
		real=$PGBIN/pg_restore
		case " \$* " in *" --jobs="*) ;; *) exec "\$real" "\$@" ;; esac
		$2
	EOF
	chmod 755 "$1"
}

case_begin fixture_no_createdb
assert_eq "role app has CREATEDB" f "$(sql postgres "select rolcreatedb from pg_roles where rolname = 'app'")"
case_end

swap_case_begin role_without_createdb_rejected
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_report .database.status unchanged
assert_error_line
assert_report_true '(.error | contains("CREATEDB"))' "the error names CREATEDB"
assert_report_true '(.error | contains("strategy: transaction"))' "the error names the other strategy"
assert_unchanged target
assert_no_stray
case_end

sql postgres "alter role app createdb"

swap_case_begin swap_succeeds
OID_BEFORE=$(sql postgres "select oid from pg_database where datname = 'target'")
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
report_is_one_object
assert_report .status succeeded
assert_report .database.status restored
assert_report .files.status restored
assert_report .files.count 3
assert_report '[.warnings[] | select(contains("the file check was skipped") | not)] | length' 0
assert_restored
[ "$(sql postgres "select oid from pg_database where datname = 'target'")" != "$OID_BEFORE" ] ||
	fail "the target's OID did not change (was the backup swapped in?)"
assert_eq "the target's owner" app "$(sql postgres "select pg_get_userbyid(datdba) from pg_database where datname = 'target'")"
grep -q 'pg_restore --jobs=' "$CASE_DIR/err" || fail "the log does not say pg_restore --jobs ran"
case_end

worker_subcase_begin swap_again_over_itself
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
assert_restored
case_end

swap_case_begin environment_survives_the_swap restore_jobs=3 maintenance_database=template1
sql postgres "create role reader login"
sql postgres "alter database target set work_mem = '12MB'"
sql postgres "alter database target set search_path = \"\$user\", public, \"odd, name\""
sql postgres "alter role app in database target set statement_timeout = '5min'"
sql postgres "grant connect, temporary on database target to reader"
sql postgres "revoke temporary on database target from public"
sql postgres "alter database target connection limit 50"
sql postgres "comment on database target is 'acceptance: it''s the test environment'"
db_environment target >"$CASE_DIR/env.before"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
assert_restored
db_environment target >"$CASE_DIR/env.after"
assert_same_file "the target's environment (vs before)" "$CASE_DIR/env.before" "$CASE_DIR/env.after"
grep -q 'work_mem=12MB' "$CASE_DIR/env.after" || fail "work_mem is not set on the target: $(cat "$CASE_DIR/env.after")"
grep -q 'pg_restore --jobs=3' "$CASE_DIR/err" || fail "restore_jobs 3 was not used"
case_end

# The connection's password reaches pg_restore in its environment, never on its command line;
# its messages are in English.
swap_case_begin password_kept_off_the_command_line pg_restore="$TEST_ROOT/standin_args" \
	database="host=$PGHOST dbname=target user=app password=Secr3tPw"
make_standin "$TEST_ROOT/standin_args" "printf '%s\\n' \"\$*\" >\"$CASE_DIR/args\"
printenv PGPASSWORD >\"$CASE_DIR/password\" || true
echo \"\${LC_MESSAGES:-none} \${LC_ALL:-none}\" >\"$CASE_DIR/locale\"
exec \"\$real\" \"\$@\""
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
assert_restored
grep -q -- '--jobs=' "$CASE_DIR/args" || fail "the stand-in did not record pg_restore's arguments"
if grep -q Secr3tPw "$CASE_DIR/args" "$CASE_DIR/out" "$CASE_DIR/err"; then
	fail "the password shows on pg_restore's command line, in the report or in the log"
fi
assert_eq "PGPASSWORD in pg_restore's environment" Secr3tPw "$(cat "$CASE_DIR/password" 2>/dev/null)"
# Its --verbose lines are read: in English, whatever LC_ALL the caller has (lib.sh sets C).
assert_eq "pg_restore's LC_MESSAGES and LC_ALL" "C none" "$(cat "$CASE_DIR/locale" 2>/dev/null)"
case_end

# Configuration errors name the file, the line and the key.
case_begin config_errors
for kv in strategy=bogus restore_jobs=0 restore_jobs=65 maintenance_database=\"\"; do
	write_config "$CASE_DIR/config.yaml" dbname=target "$kv"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
	assert_exit 2
	grep -q "config.yaml:[0-9]*: targets.acceptance.${kv%%=*}: " "$CASE_DIR/err" ||
		fail "$kv: the error does not name the file, the line and the key: $(head -c 300 "$CASE_DIR/err")"
done
case_end

# An application connects once pg_restore is done, and stays until the swap has failed.
swap_case_begin application_connected_at_swap_time pg_restore="$TEST_ROOT/standin_wait"
make_standin "$TEST_ROOT/standin_wait" "\"\$real\" \"\$@\" || exit; touch \"$CASE_DIR/restored\"; sleep 3"
set +e
timeout -k 5 120 "$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" restore --json "$GOOD" \
	>"$CASE_DIR/out" 2>"$CASE_DIR/err" &
RW_PID=$!
set -e
for ((i = 0; i < 300; i++)); do
	[ -e "$CASE_DIR/restored" ] && break
	sleep 0.1
done
[ -e "$CASE_DIR/restored" ] || fail "the stand-in never finished restoring"
PGAPPNAME=theapp "$PGBIN/psql" -X -q -d target -U app -c "select pg_sleep(30)" >/dev/null 2>&1 &
APP_PID=$!
set +e
wait "$RW_PID"
RW_STATUS=$?
set -e
sql postgres "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'theapp'" >/dev/null
wait "$APP_PID" 2>/dev/null || true
assert_exit 1
assert_report .status failed
assert_error_line
assert_report_true '(.error | contains("theapp"))' "the error names the connected application"
assert_unchanged target
assert_no_stray
case_end

swap_case_begin pg_restore_fails_half_way pg_restore="$TEST_ROOT/standin_fail"
make_standin "$TEST_ROOT/standin_fail" "
list=\$(mktemp \"$CASE_DIR/list.XXXXXX\")
\"\$real\" --list \"\${@: -1}\" >\"\$list.all\"
head -n \$((\$(wc -l <\"\$list.all\") / 2)) \"\$list.all\" >\"\$list\"
\"\$real\" \"\$@\" --use-list=\"\$list\" || exit
echo 'pg_restore: error: simulated failure half-way' >&2
exit 1"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status failed
assert_report .database.status unchanged
assert_error_line
assert_report_true '(.error | contains("simulated failure half-way"))' "the error gives pg_restore's"
assert_unchanged target
assert_no_stray
case_end

# The target's current size counts: the dump and the overhead fit the quota, the target beside
# them does not.
swap_case_begin quota_counts_the_current_size plan_quota=5MB restore_overhead=1MB
CURRENT=$(sql postgres "select pg_database_size('target')")
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status rejected
assert_error_line
DECOMPRESSED=$(report .database.decompressed_bytes)
for figure in "($CURRENT bytes)" "$DECOMPRESSED bytes" "(1048576 bytes)" "(5242880 bytes)"; do
	assert_report_true "(.error | contains(\"$figure\"))" "the error gives $figure"
done
assert_unchanged target
assert_no_stray
write_config "$CASE_DIR/config.yaml" dbname=target plan_quota=5MB restore_overhead=1MB
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
case_end

# swap_worker_config: a daemon's config ($1) for target acceptance (database target, blob_dir
# BLOB_DIR) with strategy swap and pg_restore $2.
swap_worker_config() {
	cat >"$1" <<-EOF
		spool_dir: $SPOOL
		work_dir: $WORK_DIR
		pg_restore: $2
		default_target: acceptance
		settle_seconds: 1
		rescan_seconds: 2
		targets:
		  acceptance:
		    database: "host=$PGHOST dbname=target user=app"
		    blob_dir: $BLOB_DIR
		    plan_quota: 10GB
		    strategy: swap
		    restore_jobs: 2
	EOF
}

# kill -9 of the worker while pg_restore --jobs runs: the job runs again and succeeds.
worker_case_begin kill_during_parallel_restore
TARGETS=(acceptance)
sql postgres "drop database if exists target"
make_target_db target
BLOB_DIR=$(target_blob acceptance) old_blobs
BLOB_DIR=$(target_blob acceptance)
make_standin "$TEST_ROOT/standin_kill" "
if [ ! -e \"$CASE_DIR/killed.once\" ]; then
	touch \"$CASE_DIR/killed.once\"
	\"\$real\" \"\$@\" &
	echo \$! >>\"$SLOW_PIDS_FILE\"
	echo \$\$ >>\"$SLOW_PIDS_FILE\"
	touch \"$CASE_DIR/slow.started\"
	sleep 60
	exit 1
fi
exec \"\$real\" \"\$@\""
swap_worker_config "$CASE_DIR/config.yaml" "$TEST_ROOT/standin_kill"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
drop_file "$GOOD"
WAIT_WHAT="the parallel restore starting" wait_for test -e "$CASE_DIR/slow.started"
sleep 0.5
[ -n "$(stray_databases)" ] || fail "no new database beside the target while pg_restore ran"
worker_kill
worker_start "$CASE_DIR/config.yaml"
wait_reports 1
load_report good.tar.gz done "$GOOD"
assert_report .status succeeded
assert_target_restored_db() {
	snapshot_db_state target >"$CASE_DIR/now.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/now.db"
	FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/now.files"
	assert_same_file "blob_dir (vs tree)" "$TEST_ROOT/tree.state" "$CASE_DIR/now.files"
}
assert_target_restored_db
assert_no_leftovers
assert_no_stray
worker_case_end

# sql_is: true when query $2 on database postgres prints $1.
sql_is() {
	[ "$(sql postgres "$2")" = "$1" ]
}

# poll_sql_is: wait up to 30 s (no worker needed) until query $2 prints $1; fail with $3.
poll_sql_is() {
	local polls=0
	until sql_is "$1" "$2"; do
		if [ "$polls" -ge 150 ]; then
			fail "$3: not after 30 s"
			return 1
		fi
		sleep 0.2
		polls=$((polls + 1))
	done
}

# kill -9 of the worker inside the swap's transaction: once pg_restore is done, the stand-in
# has a superuser session lock pg_database against writes, so the swap's renames wait. The
# target is exactly as it was, and the next worker removes the new database and runs the job
# again.
worker_case_begin kill_during_swap_transaction
TARGETS=(acceptance)
sql postgres "drop database if exists target"
make_target_db target
BLOB_DIR=$(target_blob acceptance) old_blobs
BLOB_DIR=$(target_blob acceptance)
capture_state before target
LOCK_QUERY="select count(*) from pg_locks l join pg_stat_activity a using (pid)
	where a.application_name = 'lock-holder' and l.granted
	and l.relation = 'pg_catalog.pg_database'::regclass"
make_standin "$TEST_ROOT/standin_lock" "
\"\$real\" \"\$@\" || exit
[ -e \"$CASE_DIR/locked.once\" ] && exit 0
touch \"$CASE_DIR/locked.once\"
PGAPPNAME=lock-holder PGUSER=postgres setsid \"$PGBIN/psql\" -X -q -h \"$PGHOST\" -d postgres \\
	-c 'begin' -c 'lock table pg_catalog.pg_database in share row exclusive mode' \\
	-c 'select pg_sleep(300)' </dev/null >/dev/null 2>&1 &
until [ \"\$(PGUSER=postgres \"$PGBIN/psql\" -X -At -h \"$PGHOST\" -d postgres -c \"$LOCK_QUERY\")\" = 1 ]; do
	sleep 0.1
done"
swap_worker_config "$CASE_DIR/config.yaml" "$TEST_ROOT/standin_lock"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
drop_file "$GOOD"
WAIT_WHAT="the swap's renames waiting for the lock" wait_for sql_is 1 "select count(*)
	from pg_stat_activity where application_name = 'restore-worker' and wait_event_type = 'Lock'
	and query like '%RENAME TO%'"
NEW_DB=$(stray_databases)
[ -n "$NEW_DB" ] || fail "no new database beside the target while its swap waited"
worker_kill
sql postgres "select pg_terminate_backend(pid) from pg_stat_activity
	where application_name = 'lock-holder'" >/dev/null
poll_sql_is 0 "select count(*) from pg_stat_activity
	where application_name in ('restore-worker', 'lock-holder')" "the killed swap's session ending"
# The staging and the dump the dead job left stay for the next worker: database and files only.
capture_state after target
assert_same_file "database (vs before)" "$CASE_DIR/before.db" "$CASE_DIR/after.db"
assert_same_file "blob_dir (vs before)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
assert_eq "databases beside the target after the kill" "$NEW_DB" "$(stray_databases)"
worker_start "$CASE_DIR/config.yaml"
wait_reports 1
load_report good.tar.gz done "$GOOD"
assert_report .status succeeded
grep -q "dropped database $NEW_DB," "$WORKER_LOG" ||
	fail "the worker's log does not name the database it dropped at its start"
assert_target_restored_db
assert_no_leftovers
assert_no_stray
worker_case_end

# A worker's start drops what an interrupted swap left (marked by its comment as a swap's into
# this very target, owned by the target's owner; or, unmarked, named exactly <target>_rw_<8 hex>,
# as a swap killed between its CREATE DATABASE and its marker leaves it) and nothing else, with
# no job to run: not a database merely named alike, nor one marked for another target, nor
# another owner's.
worker_case_begin start_removes_swap_leftovers
TARGETS=(acceptance)
sql postgres "drop database if exists target"
make_target_db target
BLOB_DIR=$(target_blob acceptance) old_blobs
BLOB_DIR=$(target_blob acceptance)
capture_state before target
swap_worker_config "$CASE_DIR/config.yaml" "$PGBIN/pg_restore"
for db in target_rw_0123abcd target_rw_89abcdef_old target_rw_0123abcd_new target_rw_0123ABCD \
	target_rw_fedcba98 target_rw_76543210 target_rw_aaaabbbb; do
	create_db "$db"
done
sql postgres "comment on database target_rw_0123abcd is 'restore-worker: job 0123abcd-0000-4000-8000-000000000000 restores database target'"
sql postgres "comment on database target_rw_89abcdef_old is 'restore-worker: job 89abcdef-0000-4000-8000-000000000000 swapped out database target'"
sql postgres "comment on database target_rw_76543210 is 'restore-worker: job 76543210-0000-4000-8000-000000000000 restores database target2'"
sql postgres "alter database target_rw_fedcba98 owner to postgres"
sql postgres "comment on database target_rw_fedcba98 is 'restore-worker: job fedcba98-0000-4000-8000-000000000000 restores database target'"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
WAIT_WHAT="the leftovers dropped" wait_for sql_is 0 "select count(*) from pg_database
	where datname in ('target_rw_0123abcd', 'target_rw_89abcdef_old', 'target_rw_aaaabbbb')"
assert_eq "databases beside the target" \
	"target_rw_0123ABCD target_rw_0123abcd_new target_rw_76543210 target_rw_fedcba98 " \
	"$(stray_databases | tr '\n' ' ')"
grep -q 'dropped database target_rw_89abcdef_old' "$WORKER_LOG" ||
	fail "the worker's log does not name the database it dropped"
assert_unchanged target
for db in target_rw_0123abcd_new target_rw_0123ABCD target_rw_fedcba98 target_rw_76543210; do
	sql postgres "drop database if exists \"$db\""
done
worker_case_end

# From here on the server has logical decoding (for a slot) and a small lock table (for many
# entities): one restart for both.
sql postgres "alter system set max_connections = 20"
sql postgres "alter system set wal_level = logical"
as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -w -m fast restart >/dev/null

# A logical replication slot belongs to the target's OID, which a swap changes: refused.
swap_case_begin logical_slot_refused
sql target "select pg_create_logical_replication_slot('app_slot', 'test_decoding')" >/dev/null
capture_state before target
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status rejected
assert_error_line
assert_report_true '(.error | contains("app_slot"))' "the error names the slot"
assert_unchanged target
assert_no_stray
sql postgres "select pg_drop_replication_slot('app_slot')" >/dev/null
case_end

# Many entities on a small lock table: the transaction cannot hold them all, the swap can.
ENTITIES=1200
create_db many
{
	echo "begin;"
	for ((i = 1; i <= ENTITIES; i++)); do
		echo "create table \"mod\$entity$i\" (id bigint primary key, name varchar(200), owner bigint);"
		echo "create index \"idx_mod\$entity${i}_owner\" on \"mod\$entity$i\" (owner);"
		echo "insert into \"mod\$entity$i\" values ($i, 'entity $i', $i);"
	done
	echo "commit;"
} | sql_as_app many - >/dev/null
dump_custom many "$A/many.backup"
snapshot_db_state many >"$TEST_ROOT/many.state"

case_begin many_entities_transaction_refused
create_db manyt
"$PGBIN/pg_restore" -O -x -d manyt -U app "$A/many.backup"
snapshot_db_state manyt >"$CASE_DIR/before.db"
write_config "$CASE_DIR/config.yaml" dbname=manyt
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/many.backup"
assert_exit 1
assert_report .status rejected
assert_report_true '(.error | contains("max_locks_per_transaction"))' "the error names max_locks_per_transaction"
snapshot_db_state manyt >"$CASE_DIR/after.db"
assert_same_file "target database (vs before)" "$CASE_DIR/before.db" "$CASE_DIR/after.db"
case_end

worker_subcase_begin many_entities_swap_succeeds_twice
write_config "$CASE_DIR/config.yaml" dbname=manyt strategy=swap restore_jobs=4
for run in 1 2; do
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/many.backup"
	assert_exit 0
	assert_report .status succeeded
	snapshot_db_state manyt >"$CASE_DIR/after.db"
	assert_same_file "target database after swap $run (vs source)" "$TEST_ROOT/many.state" "$CASE_DIR/after.db"
	assert_no_stray manyt
done
case_end

finish
