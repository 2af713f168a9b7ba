#!/usr/bin/env bash
# large_app.sh - a large Mendix-like application on a server with the DEFAULT lock settings
# (max_connections 100, max_locks_per_transaction 64), restored over itself as the owner role
# with CREATEDB:
#  - the source: 2000 entities (a table with a bigint primary key, a varchar(200) column and an
#    indexed owner column, one row each) and an association table per 2 entities (two foreign
#    keys, a composite primary key, one row); the target `large`, owned by app, holds the same
#    schema already, so every restore replaces it with itself;
#  - strategy transaction: rejected before anything changes, exit 1; the message names
#    max_locks_per_transaction, the estimate and the lock table's size, and the setting that
#    makes it fit;
#  - strategy swap (restore_jobs 2), twice: each succeeded, the target equals the source, no
#    database named like large_rw_% left beside it;
#  - ALTER SYSTEM SET max_locks_per_transaction to the figure the refusal gave, restart:
#    strategy transaction succeeded, the target equals the source.
# The restores get more time than run_worker's 2 minutes (a slow machine running the ASan
# build beside other tests).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ENTITIES=2000
BATCH=250 # entities per transaction of the source's DDL
RESTORE_TIMEOUT=${LARGE_APP_TIMEOUT:-400}
SECONDS=0
T_LAST=0

# phase: note how long the step just done took (printed as a TAP comment).
phase() {
	echo "# ${1}: $((SECONDS - T_LAST))s"
	T_LAST=$SECONDS
}

# run_worker_long: run_worker with RESTORE_TIMEOUT seconds instead of 2 minutes.
run_worker_long() {
	set +e
	timeout -k 5 "$RESTORE_TIMEOUT" "$RESTORE_WORKER" "$@" >"$CASE_DIR/out" 2>"$CASE_DIR/err"
	RW_STATUS=$?
	set -e
	[ "$RW_STATUS" != 124 ] || fail "restore-worker took more than ${RESTORE_TIMEOUT}s"
}

# restart_with: set server settings ($@ as name=value) with ALTER SYSTEM and restart.
restart_with() {
	local kv
	for kv in "$@"; do
		sql postgres "alter system set ${kv%%=*} = '${kv#*=}'"
	done
	as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -w -m fast restart >/dev/null
}

# stray_databases: print the databases named like a swap's beside `large`, one a line.
stray_databases() {
	sql postgres "select datname from pg_database where datname like 'large\_rw\_%' order by 1"
}

# The default lock settings. lib.sh's cluster_start sets neither, but initdb may pick a smaller
# max_connections on a machine with little shared memory: reset both and restart if so.
case_begin default_lock_settings
if [ "$(sql postgres "show max_connections")" != 100 ] ||
	[ "$(sql postgres "show max_locks_per_transaction")" != 64 ]; then
	restart_with max_connections=100 max_locks_per_transaction=64
fi
assert_eq "max_connections" 100 "$(sql postgres "show max_connections")"
assert_eq "max_locks_per_transaction" 64 "$(sql postgres "show max_locks_per_transaction")"
SLOTS=$(sql postgres "select current_setting('max_connections')::int
	+ current_setting('max_prepared_transactions')::int
	+ current_setting('autovacuum_max_workers')::int + 1
	+ current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int")
echo "# server process slots: $SLOTS, lock table: $((64 * SLOTS))"
case_end

# The source, built with psql in transactions of BATCH entities: all 2000 in one transaction
# hold about 19000 locks, more than the default lock table's documented size (7808), and would
# fit only in the server's undocumented excess; 250 hold about 2400 and take no longer.
create_db src
{
	for ((i = 1; i <= ENTITIES; i++)); do
		if ((i % BATCH == 1)); then echo "begin;"; fi
		echo "create table \"mod\$entity$i\" (id bigint primary key, name varchar(200), owner bigint);"
		echo "create index \"idx_mod\$entity${i}_owner\" on \"mod\$entity$i\" (owner);"
		echo "insert into \"mod\$entity$i\" values ($i, 'entity $i', $i);"
		if ((i % 2 == 0)); then
			echo "create table \"mod\$assoc$((i - 1))\" (a bigint references \"mod\$entity$((i - 1))\", b bigint references \"mod\$entity$i\", primary key (a, b));"
			echo "insert into \"mod\$assoc$((i - 1))\" values ($((i - 1)), $i);"
		fi
		if ((i % BATCH == 0)); then echo "commit;"; fi
	done
} | sql_as_app src - >/dev/null
A=$TEST_ROOT/archives
mkdir -p "$A"
dump_custom src "$A/large.backup"
snapshot_db_state src >"$TEST_ROOT/src.state"
assert_eq "tables in the source" $((ENTITIES + ENTITIES / 2)) \
	"$(sql src "select count(*) from pg_tables where schemaname = 'public'")"
phase "source built, dumped and captured"

# The target: owned by app (the swap needs the owner), with the source's schema and rows: a
# copy of the source (a file copy, a fraction of what pg_restore of 5000 tables takes).
sql postgres "alter role app createdb"
wait_sessions_gone src
create_db large app src
phase "target filled"

case_begin transaction_refused_by_the_lock_budget
write_config "$CASE_DIR/config.yaml" dbname=large
snapshot_db_state large >"$CASE_DIR/before.db"
OID_BEFORE=$(sql postgres "select oid from pg_database where datname = 'large'")
run_worker_long -c "$CASE_DIR/config.yaml" restore --json "$A/large.backup"
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_report .database.status unchanged
assert_error_line
assert_report_true '(.error | contains("max_locks_per_transaction"))' "the error names max_locks_per_transaction"
NEED=$(report '.error' | sed -n 's/.*would hold about \([0-9]*\) locks.*/\1/p')
HAVE=$(report '.error' | sed -n 's/.*lock table holds (\([0-9]*\):.*/\1/p')
RAISE=$(report '.error' | sed -n 's/.*raise max_locks_per_transaction to at least \([0-9]*\) .*/\1/p')
echo "# refusal: estimate ${NEED:-?}, lock table ${HAVE:-?}, raise to ${RAISE:-?}"
assert_eq "the lock table's size in the error" $((64 * SLOTS)) "$HAVE"
[[ $NEED =~ ^[0-9]+$ && $HAVE =~ ^[0-9]+$ && $NEED -gt $HAVE ]] ||
	fail "the error gives no estimate above the table's size (estimate '$NEED', table '$HAVE')"
if [[ $NEED =~ ^[0-9]+$ && $RAISE =~ ^[0-9]+$ ]]; then
	assert_eq "the setting the error gives (estimate / slots, rounded up)" \
		$(((NEED + SLOTS - 1) / SLOTS)) "$RAISE"
else
	fail "the error gives no setting to raise to (got '$RAISE')"
fi
snapshot_db_state large >"$CASE_DIR/after.db"
assert_same_file "target database (vs before)" "$CASE_DIR/before.db" "$CASE_DIR/after.db"
assert_eq "the target's OID" "$OID_BEFORE" "$(sql postgres "select oid from pg_database where datname = 'large'")"
assert_work_dir_empty
case_end
phase "transaction refused"

case_begin swap_succeeds_twice
write_config "$CASE_DIR/config.yaml" dbname=large strategy=swap restore_jobs=2
for run in 1 2; do
	OID_BEFORE=$(sql postgres "select oid from pg_database where datname = 'large'")
	run_worker_long -c "$CASE_DIR/config.yaml" restore --json "$A/large.backup"
	[ "$RW_STATUS" = 0 ] || fail "swap $run: exit status: expected 0, got $RW_STATUS"
	assert_eq "swap $run: report .status" succeeded "$(report .status)"
	snapshot_db_state large >"$CASE_DIR/after.db"
	assert_same_file "target database after swap $run (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	[ "$(sql postgres "select oid from pg_database where datname = 'large'")" != "$OID_BEFORE" ] ||
		fail "swap $run: the target's OID did not change (was the backup swapped in?)"
	assert_eq "swap $run: databases left beside large" "" "$(stray_databases | tr '\n' ' ')"
	assert_work_dir_empty
	phase "swap $run"
done
case_end

case_begin transaction_fits_with_the_setting_the_message_gives
if [[ ${RAISE:-} =~ ^[0-9]+$ ]]; then
	restart_with max_locks_per_transaction="$RAISE"
	assert_eq "max_locks_per_transaction after the restart" "$RAISE" \
		"$(sql postgres "show max_locks_per_transaction")"
	write_config "$CASE_DIR/config.yaml" dbname=large
	run_worker_long -c "$CASE_DIR/config.yaml" restore --json "$A/large.backup"
	assert_exit 0
	assert_report .status succeeded
	assert_report .database.status restored
	snapshot_db_state large >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	assert_work_dir_empty
else
	fail "the refusal gave no setting to try"
fi
case_end
phase "transaction with the raised setting"

echo "# total: ${SECONDS}s"
finish
