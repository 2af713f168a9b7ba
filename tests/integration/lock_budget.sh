#!/usr/bin/env bash
# lock_budget.sh - a restore that cannot fit the server's lock table is refused before anything
# changes, and the setting its message names makes it fit.
#
# The cluster runs with a small lock table (max_connections 20: 42 process slots, times the
# default max_locks_per_transaction of 64), so that a Mendix-like schema of 250 entities (a
# table with a primary key and one more index each, and an association table with two foreign
# keys per two entities) restores into an empty database but not over itself:
#  - into an empty database: succeeded, equal to the source;
#  - over itself: rejected, exit 1, the message names max_locks_per_transaction (and strategy: swap), the estimate
#    and the table's size, and the target is unchanged;
#  - after ALTER SYSTEM SET max_locks_per_transaction to the figure the message gives and a
#    restart: succeeded, equal to the source.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ENTITIES=250

# restart_with: set server settings ($@ as name=value) with ALTER SYSTEM and restart.
restart_with() {
	local kv
	for kv in "$@"; do
		sql postgres "alter system set ${kv%%=*} = '${kv#*=}'"
	done
	as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -w -m fast restart >/dev/null
}

restart_with max_connections=20

# The source: ENTITIES tables of a module, and ENTITIES/2 association tables.
create_db src
{
	echo "begin;"
	for ((i = 1; i <= ENTITIES; i++)); do
		echo "create table \"mod\$entity$i\" (id bigint primary key, name varchar(200), owner bigint, changed timestamp);"
		echo "create index \"idx_mod\$entity${i}_owner\" on \"mod\$entity$i\" (owner);"
		echo "insert into \"mod\$entity$i\" values ($i, 'entity $i', $i, '2020-01-01');"
	done
	for ((i = 1; i <= ENTITIES; i += 2)); do
		echo "create table \"mod\$assoc$i\" (a bigint references \"mod\$entity$i\", b bigint references \"mod\$entity$((i + 1))\", primary key (a, b));"
		echo "insert into \"mod\$assoc$i\" values ($i, $((i + 1)));"
	done
	echo "commit;"
} | sql_as_app src - >/dev/null
A=$TEST_ROOT/archives
mkdir -p "$A"
dump_custom src "$A/many.backup"
snapshot_db_state src >"$TEST_ROOT/src.state"

case_begin into_empty_database_fits
create_db target
write_config "$CASE_DIR/config.yaml" dbname=target
cp "$CASE_DIR/config.yaml" "$TEST_ROOT/config.yaml"
run_worker -c "$TEST_ROOT/config.yaml" restore --json "$A/many.backup"
assert_exit 0
assert_report .status succeeded
snapshot_db_state target >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
case_end

case_begin over_itself_refused_before_anything_changes
snapshot_db_state target >"$CASE_DIR/before.db"
run_worker -c "$TEST_ROOT/config.yaml" restore --json "$A/many.backup"
assert_exit 1
assert_report .status rejected
assert_error_line
assert_report_true '(.error | contains("max_locks_per_transaction"))' "the error names max_locks_per_transaction"
assert_report_true '(.error | contains("strategy: swap"))' "the error offers strategy: swap"
NEED=$(report '.error' | sed -n 's/.*would hold about \([0-9]*\) locks.*/\1/p')
HAVE=$(report '.error' | sed -n 's/.*lock table holds (\([0-9]*\):.*/\1/p')
RAISE=$(report '.error' | sed -n 's/.*at least \([0-9]*\) .*/\1/p')
[[ $NEED =~ ^[0-9]+$ && $HAVE =~ ^[0-9]+$ && $NEED -gt $HAVE ]] ||
	fail "the error gives no estimate above the table's size (estimate '$NEED', table '$HAVE')"
[[ $RAISE =~ ^[0-9]+$ && $RAISE -gt 64 ]] || fail "the error gives no setting above 64 to raise to (got '$RAISE')"
snapshot_db_state target >"$CASE_DIR/after.db"
assert_same_file "target database (vs before)" "$CASE_DIR/before.db" "$CASE_DIR/after.db"
assert_work_dir_empty
case_end

case_begin fits_with_the_setting_the_message_gives
if [[ ${RAISE:-} =~ ^[0-9]+$ ]]; then
	restart_with max_locks_per_transaction="$RAISE"
	assert_eq "max_locks_per_transaction after the restart" "$RAISE" \
		"$(sql postgres "show max_locks_per_transaction")"
	run_worker -c "$TEST_ROOT/config.yaml" restore --json "$A/many.backup"
	assert_exit 0
	assert_report .status succeeded
	snapshot_db_state target >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
else
	fail "the refusal gave no setting to try"
fi
case_end

finish
