#!/usr/bin/env bash
# analyze.sh - ANALYZE after a restore never holds the outcome back, and nothing after the
# database work changes it or talks past the log.
#
#  - strategy transaction: another session takes SHARE UPDATE EXCLUSIVE on a restored table
#    right at the commit (its LOCK waited on the old table of that name, which the restore's
#    transaction dropped, and falls on the restored one when it commits): the restore succeeds
#    in bounded time, the database is the backup's, a warning names the skipped table, the
#    others are analyzed;
#  - strategy swap: ANALYZE runs in the new database before the swap, so a session that locks a
#    table as soon as the target's name holds the new database changes nothing: every table
#    has its statistics, no warning names one;
#  - in the same two restores, a files_query that raises a warning and calls setval() changes
#    nothing: the sequence holds the backup's value, the check fails with a warning, and the
#    query's warning reaches the log with the job's id; with strategy swap as the
#    non-superuser owner, stderr holds no raw server notice (ANALYZE of the catalogs made 48
#    "WARNING:  skipping "pg_authid" ...");
#  - restore_jobs 1: the largest table (shop$order) is analyzed first, before the tables whose
#    names sort ahead of it (pg_stat_user_tables.last_analyze);
#  - restore_jobs 3, a dump whose tables take 0.5 s each to analyze: at least two ANALYZE
#    statements run at once; one of their connections is ended (pg_terminate_backend) and its
#    table goes to another: every table analyzed, no warning names one;
#  - the role's connection limit lets ANALYZE have 2 of its 4 connections: every table analyzed,
#    no warning names one;
#  - SIGTERM while ANALYZE waits for such a lock (on several tables): the process ends at once,
#    the restore succeeded (it committed), a warning says ANALYZE was interrupted;
#  - the daemon: a worker killed -9 while its job's ANALYZE waits: the next worker files the job
#    as what it was, succeeded with the database and the files restored;
#  - a pg_dump 18 dump carrying statistics (STATISTICS DATA entries) restored by pg_restore 18
#    into a server 18: the tables analyzed at the source get their statistics from the dump and
#    are not analyzed again (last_analyze null, pg_stats rows there); the one never analyzed
#    there is. Skipped unless client 18 (RW_PG_CLIENTS_DIR, default build/pg-clients) and server
#    18 (RW_PG_SERVERS_DIR, default build/pg-servers) were fetched (scripts/pg-clients,
#    scripts/pg-servers); run last, on a cluster of its own.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

A=$TEST_ROOT/archives
mkdir -p "$A"

# The source: make_source_db's, plus tables "zz$1".."zz$4" that a blocker also locks, a
# function that raises a warning (for a files_query), and a table "a$slow" whose ANALYZE takes
# 0.2 s (its expression index takes 10 ms a row): after a swap, ANALYZE reaches "shop$order"
# only after it, so a blocker that must connect first is there in time.
LOCKED=('public."shop$order"' 'public."zz$1"' 'public."zz$2"' 'public."zz$3"' 'public."zz$4"')
make_source_db src
sql_as_app src - >/dev/null <<'EOF'
create table "zz$1" (i integer); create table "zz$2" (i integer);
create table "zz$3" (i integer); create table "zz$4" (i integer);
insert into "zz$1" select generate_series(1, 50);
create function "a$slow_id"(i integer) returns integer language plpgsql immutable as $$
begin
	perform pg_catalog.pg_sleep(0.01);
	return i;
end $$;
create table "a$slow" (i integer);
insert into "a$slow" select generate_series(1, 20);
create index "a$slow_idx" on "a$slow" (public."a$slow_id"(i));
create function "noisy$uuids"() returns setof text language plpgsql as $$
begin
	raise warning 'noisy files_query';
	return;
end $$;
EOF
GOOD=$A/good.tar.gz
make_snapshot "$GOOD" src 3
snapshot_db_state src >"$TEST_ROOT/src.state"
FILES_ONLY=1 snapshot_dir_state "$GOOD.d/tree" >"$TEST_ROOT/tree.state"
SEQ_SQL='select last_value from "mendixsystem$seq"'
SEQ_BEFORE=$(sql src "$SEQ_SQL")
# A files_query that raises a warning, then calls setval().
NOISY_SETVAL="files_query='select * from public.\"noisy\$uuids\"() union all select \
pg_catalog.setval(''public.\"mendixsystem\$seq\"'', 1)::text'"

# PAR: a bare dump of tables "slow$1".."slow$3" whose ANALYZE takes 0.5 s each (an expression
# index whose function takes 10 ms a row), and two plain ones.
create_db par
sql_as_app par - >/dev/null <<'EOF'
create function "p$slow_id"(i integer) returns integer language plpgsql immutable as $$
begin
	perform pg_catalog.pg_sleep(0.01);
	return i;
end $$;
create table "slow$1" (i integer); create table "slow$2" (i integer);
create table "slow$3" (i integer); create table "plain$a" (i integer);
create table "plain$b" (t text);
insert into "slow$1" select generate_series(1, 50); insert into "slow$2" select generate_series(1, 50);
insert into "slow$3" select generate_series(1, 50); insert into "plain$a" select generate_series(1, 99);
insert into "plain$b" values ('b');
create index on "slow$1" (public."p$slow_id"(i)); create index on "slow$2" (public."p$slow_id"(i));
create index on "slow$3" (public."p$slow_id"(i));
EOF
PAR=$A/par.backup
dump_custom par "$PAR"

sql postgres "alter role app createdb"

# target_with_lock_tables: make_target_db $1, plus the zz tables a blocker locks in it.
target_with_lock_tables() {
	make_target_db "$1"
	sql_as_app "$1" 'create table "zz$1" (i integer); create table "zz$2" (i integer);
		create table "zz$3" (i integer); create table "zz$4" (i integer)' >/dev/null
}

# poll: run "$@" every 0.1 s until it succeeds; false after POLL_SECONDS (default 30).
poll() {
	local tenths=$((${POLL_SECONDS:-30} * 10))
	until "$@"; do
		tenths=$((tenths - 1))
		[ "$tenths" -gt 0 ] || return 1
		sleep 0.1
	done
}

# blocker_start: in the background, as application rw-blocker in database $1, begin, run $2
# (the LOCK), and hold it for 40 s; its pid in BLOCKER_PID.
blocker_start() {
	PGAPPNAME=rw-blocker "$PGBIN/psql" -X -q -d "$1" -c "begin; $2; select pg_sleep(40)" \
		>"$CASE_DIR/blocker.out" 2>&1 &
	BLOCKER_PID=$!
}

# blocker_stop: end the blocker's session and reap it.
blocker_stop() {
	sql postgres "select pg_terminate_backend(pid) from pg_stat_activity
		where application_name = 'rw-blocker'" >/dev/null
	kill "$BLOCKER_PID" 2>/dev/null || true
	wait "$BLOCKER_PID" 2>/dev/null || true
}

# lock_at_commit: once the slow pg_restore paused (the restore's transaction has dropped the
# old tables of database $1), lock tables $2... from another session: the LOCK waits for the
# restore's commit, then takes the restored tables of those names.
lock_at_commit() {
	local db=$1
	shift
	POLL_SECONDS=60 poll test -e "$CASE_DIR/slow.started" || fail "the slow pg_restore never started"
	blocker_start "$db" "lock table $(IFS=,; echo "$*") in share update exclusive mode"
}

# lock_after_swap: lock tables $2... of database $1 from another session as soon as its name
# holds another database (the swap's commit).
lock_after_swap() {
	local db=$1 oid
	shift
	oid=$(sql postgres "select oid from pg_database where datname = '$db'")
	PGAPPNAME=rw-blocker "$PGBIN/psql" -X -q -d postgres >"$CASE_DIR/blocker.out" 2>&1 <<EOF &
do \$\$ begin
	for i in 1 .. 30000 loop
		exit when (select oid from pg_database where datname = '$db') <> $oid;
		perform pg_sleep(0.002);
	end loop;
end \$\$;
\\c $db
begin;
lock table $(IFS=,; echo "$*") in share update exclusive mode;
select pg_sleep(40);
EOF
	BLOCKER_PID=$!
}

# analyze_waits: true while a restore-worker session's ANALYZE waits for a lock.
analyze_waits() {
	[ "$(sql postgres "select count(*) from pg_stat_activity where application_name =
		'restore-worker' and wait_event_type = 'Lock' and query like 'ANALYZE%'")" -ge 1 ]
}

# assert_analyzed_but: fail unless every user table of database $1 but those named $2... has
# been analyzed (by the restore: autovacuum is off for the restored tables' size).
assert_analyzed_but() {
	local db=$1 not left
	shift
	not=$(printf "'%s'," "$@")
	left=$(sql "$db" "select string_agg(format('%I.%I', schemaname, relname), ' ') from
		pg_stat_user_tables where last_analyze is null and format('%I.%I', schemaname, relname)
		not in (${not%,})")
	[ -z "$left" ] || fail "tables of $db not analyzed: $left"
}

# assert_no_table_warned: fail if a warning of the report says a table was not analyzed.
assert_no_table_warned() {
	assert_report_true '(.warnings | all(contains("not analyzed") | not))' \
		"no warning says a table was not analyzed: $(report '.warnings | join(" | ")')"
}

# max_analyzes_at_once: until the restore ($RESTORE_PID) ends, poll how many restore-worker
# sessions run ANALYZE at once; the most seen in MAX_AT_ONCE. With $1 = terminate, end the first
# one seen analyzing a slow$ table (pg_terminate_backend, in the same query).
max_analyzes_at_once() {
	local row n terminate=false terminated=
	[ "${1:-}" != terminate ] || terminate=true
	MAX_AT_ONCE=0
	while pid_running "$RESTORE_PID"; do
		row=$(sql postgres "with a as (select pid, query from pg_stat_activity where
			application_name = 'restore-worker' and state = 'active' and query like 'ANALYZE%')
			select count(*) || ' ' || coalesce((select pg_terminate_backend(min(pid))::text from a
				where $terminate and query like 'ANALYZE%slow%'), '') from a")
		n=${row%% *}
		[ "$n" -le "$MAX_AT_ONCE" ] || MAX_AT_ONCE=$n
		if [ "${row#* }" = true ]; then
			terminated=yes
			terminate=false
		fi
		sleep 0.05
	done
	[ "${1:-}" != terminate ] || [ -n "$terminated" ] || fail "no ANALYZE connection was ended"
}

# assert_files_query_wrote_nothing: NOISY_SETVAL's setval() failed (read-only) and left the
# sequence of database $1 at the backup's value; its warning went to the log, with the job's id.
assert_files_query_wrote_nothing() {
	assert_report_true '(.warnings | any(contains("file check failed") and contains("read-only")))' \
		"a warning says the file check failed, as its query would write"
	assert_eq "the restored sequence (vs the backup's)" "$SEQ_BEFORE" "$(sql "$1" "$SEQ_SQL")"
	grep -qF "job $(report .job_id): the server said during the file check: WARNING: noisy files_query" \
		"$CASE_DIR/err" || fail "the files_query's warning is not in the log with the job's id"
}

# assert_no_raw_notices: fail if the restore's stderr holds a server notice as libpq prints it.
assert_no_raw_notices() {
	assert_eq "raw server notices on stderr" 0 \
		"$(grep -cE '^(WARNING|NOTICE|INFO|LOG|DEBUG[0-9]?):  ' "$CASE_DIR/err" || true)"
}

# restore_start: run restore-worker "$@" in the background (stdout in $CASE_DIR/out, stderr in
# $CASE_DIR/err); its pid in RESTORE_PID.
restore_start() {
	RESTORE_T0=$SECONDS
	"$RESTORE_WORKER" "$@" >"$CASE_DIR/out" 2>"$CASE_DIR/err" &
	RESTORE_PID=$!
}

# restore_wait: wait up to $1 seconds for the restore to end (fail, and kill it, after); its exit
# status in RW_STATUS, the seconds it took in RESTORE_TOOK.
restore_wait() {
	if ! POLL_SECONDS=$1 poll eval '! pid_running "$RESTORE_PID"'; then
		fail "the restore was still running after $1 s"
		kill -KILL "$RESTORE_PID" 2>/dev/null || true
	fi
	RW_STATUS=0
	wait "$RESTORE_PID" || RW_STATUS=$?
	RESTORE_TOOK=$((SECONDS - RESTORE_T0))
}

# Two things after the database work, in one restore per strategy.
case_begin transaction_locked_table_skipped_files_query_writes_nothing
target_with_lock_tables t_lock
old_blobs
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 1
write_config "$CASE_DIR/config.yaml" dbname=t_lock pg_restore="$CASE_DIR/slow_pg_restore" \
	"$NOISY_SETVAL"
restore_start -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
lock_at_commit t_lock 'public."shop$order"'
restore_wait 20
blocker_stop
assert_exit 0
assert_report .status succeeded
assert_report .database.status restored
assert_report_true '(.warnings | any(contains("shop$order") and contains("not analyzed")))' \
	"a warning names the locked table shop\$order"
snapshot_db_state t_lock >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
assert_analyzed_but t_lock 'public."shop$order"'
assert_files_query_wrote_nothing t_lock
case_end

# Strategy swap, as the non-superuser owner app: ANALYZE is done before the swap, so a lock taken
# right after it changes nothing; also no raw notice on stderr.
case_begin swap_analyzed_before_swap_files_query_writes_nothing_no_raw_notices
make_target_db t_swap
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=t_swap strategy=swap restore_jobs=2 "$NOISY_SETVAL"
restore_start -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
lock_after_swap t_swap 'public."shop$order"'
restore_wait 20
blocker_stop
assert_exit 0
assert_report .status succeeded
assert_report .database.status restored
assert_no_table_warned
snapshot_db_state t_swap >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
assert_analyzed_but t_swap
assert_files_query_wrote_nothing t_swap
assert_no_raw_notices
assert_eq "databases beside the target" "" \
	"$(sql postgres "select datname from pg_database where datname like 't\_swap\_rw\_%'")"
case_end

case_begin largest_table_first
make_target_db t_order
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=t_order restore_jobs=1
run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
wait_sessions_gone t_order # their statistics are flushed as they end
assert_analyzed_but t_order
assert_eq "tables analyzed before the largest, shop\$order" "" "$(sql t_order "select
	string_agg(format('%I.%I', schemaname, relname), ' ') from pg_stat_user_tables where
	last_analyze < (select last_analyze from pg_stat_user_tables where relname = 'shop\$order')")"
case_end

case_begin parallel_connection_lost_table_goes_to_another
make_target_db t_par
write_config "$CASE_DIR/config.yaml" dbname=t_par restore_jobs=3
restore_start -c "$CASE_DIR/config.yaml" restore --json "$PAR"
max_analyzes_at_once terminate
restore_wait 30
assert_exit 0
assert_report .status succeeded
[ "$MAX_AT_ONCE" -ge 2 ] || fail "at most $MAX_AT_ONCE ANALYZE ran at once (restore_jobs 3)"
[ "$MAX_AT_ONCE" -le 3 ] || fail "$MAX_AT_ONCE ANALYZE ran at once (restore_jobs 3)"
assert_no_table_warned
wait_sessions_gone t_par # their statistics are flushed as they end
assert_analyzed_but t_par
case_end

case_begin connection_limit_leaves_fewer_connections
make_target_db t_limit
write_config "$CASE_DIR/config.yaml" dbname=t_limit restore_jobs=4
sql postgres "alter role app connection limit 2"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$PAR"
sql postgres "alter role app connection limit -1"
assert_exit 0
assert_report .status succeeded
assert_no_table_warned
wait_sessions_gone t_limit # their statistics are flushed as they end
assert_analyzed_but t_limit
case_end

case_begin sigterm_while_analyze_waits
target_with_lock_tables t_term
old_blobs
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 1
write_config "$CASE_DIR/config.yaml" dbname=t_term pg_restore="$CASE_DIR/slow_pg_restore"
restore_start -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
lock_at_commit t_term "${LOCKED[@]}"
POLL_SECONDS=20 poll analyze_waits || fail "the restore's ANALYZE never waited for the lock"
RESTORE_T0=$SECONDS
kill -TERM "$RESTORE_PID"
# Five locked tables: without the cancel, ANALYZE would wait 2 s for each.
restore_wait 3
blocker_stop
assert_exit 0
assert_report .status succeeded
assert_report .database.status restored
assert_report_true '(.warnings | any(contains("ANALYZE was interrupted")))' \
	"a warning says ANALYZE was interrupted"
snapshot_db_state t_term >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
case_end

worker_case_begin worker_killed_during_analyze
worker_targets acceptance
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 1
write_worker_config "$CASE_DIR/config.yaml" pg_restore="$CASE_DIR/slow_pg_restore"
sql_as_app "$(target_db acceptance)" 'create table "zz$1" (i integer)' >/dev/null
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
drop_file "$GOOD"
lock_at_commit "$(target_db acceptance)" 'public."shop$order"' 'public."zz$1"'
WAIT_SECONDS=30 WAIT_WHAT="the job's ANALYZE waiting for the lock" wait_for analyze_waits
worker_kill # its job child dies with it
blocker_stop
worker_start "$CASE_DIR/config.yaml"
wait_reports 1
load_report good.tar.gz done "$GOOD"
assert_report .status succeeded
assert_report .database.status restored
assert_report .files.status restored
assert_target_restored acceptance
assert_no_leftovers
worker_case_end

# A pg_dump 18 dump with statistics, on a server 18 (the last case: the cluster is replaced).
CLIENT18=${RW_PG_CLIENTS_DIR:-$TESTS_DIR/../build/pg-clients}/18/bin
SERVER18=$(ls -d "${RW_PG_SERVERS_DIR:-$TESTS_DIR/../build/pg-servers}"/18.*/native/bin 2>/dev/null |
	tail -n 1 || true)
if [ ! -x "$CLIENT18/pg_restore" ] || [ ! -x "$CLIENT18/pg_dump" ]; then
	case_skip pg18_restored_statistics_not_analyzed_again "client 18 not fetched (scripts/pg-clients 18)"
elif [ -z "$SERVER18" ] || [ ! -x "$SERVER18/postgres" ]; then
	case_skip pg18_restored_statistics_not_analyzed_again "server 18 not fetched (scripts/pg-servers 18)"
else
	case_begin pg18_restored_statistics_not_analyzed_again
	cluster_stop
	PG_SERVER_BIN=$SERVER18 cluster_start
	sql postgres "create role app login createdb"
	create_db st
	sql_as_app st - >/dev/null <<'EOF'
create table "st$a" (i integer, t text); create table "st$b" (i integer);
create table "st$never" (i integer) with (autovacuum_enabled = false);
insert into "st$a" select i, 'a' || i from generate_series(1, 500) i;
insert into "st$b" select generate_series(1, 300);
insert into "st$never" select generate_series(1, 200);
analyze "st$a"; analyze "st$b";
EOF
	PGUSER=app "$CLIENT18/pg_dump" -O -x -Fc --statistics -d st -f "$A/st18.backup" 2>"$CASE_DIR/err" ||
		fail "pg_dump 18 of st fails"
	"$CLIENT18/pg_restore" -l "$A/st18.backup" | grep -q ' STATISTICS DATA public st\$a ' ||
		fail "the dump carries no statistics for st\$a"
	make_target_db t18
	write_config "$CASE_DIR/config.yaml" dbname=t18 pg_restore="$CLIENT18/pg_restore" \
		max_dump_version=1.16
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/st18.backup"
	assert_exit 0
	assert_report .status succeeded
	wait_sessions_gone t18
	assert_eq "tables analyzed by the restore" "st\$never" "$(sql t18 "select
		string_agg(relname, ' ' order by relname) from pg_stat_user_tables
		where last_analyze is not null")"
	assert_eq "tables with column statistics" "st\$a st\$b st\$never" "$(sql t18 "select
		string_agg(distinct tablename, ' ' order by tablename) from pg_stats where
		schemaname = 'public'")"
	case_end
fi

finish
