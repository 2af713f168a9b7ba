#!/usr/bin/env bash
# swap_edges.sh - strategy swap at its edges (issue 16), one cluster, tiny fixtures:
#  - two targets whose names share their first 47 bytes: a rehearsal and a restore into one
#    while the other's swap waits before its pg_restore leave the other's new database alone;
#  - a target whose name is not ASCII (café): what a killed swap left is dropped by the next;
#  - one swap for three: database-wide default privileges (ALTER DEFAULT PRIVILEGES FOR ROLE
#    app) survive it and apply to the restored tables, as with strategy transaction; the file
#    check on the new database sees the target's search_path (a files_query naming its table
#    without a schema); a template database stays a template, no undroppable old copy left;
#  - a rehearsal runs the swap's transaction: a setting the role may not set (ALTER DATABASE ...
#    SET log_min_duration_statement) fails it as it fails the real swap, target unchanged;
#  - the role's idle_session_timeout does not end pg_restore's idle connections (restore_jobs 2).
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

# The source: schema mx with table doc naming one file the archive lacks, and a table in public.
create_db edge_src
sql_as_app edge_src - >/dev/null <<-'EOF'
	create schema mx;
	create table mx.doc (id text);
	insert into mx.doc values ('0b6fb6a2-4f0e-4b55-9f34-3c1f0f5b7d21');
	create table "shop$item" (id integer primary key, what text);
	insert into "shop$item" values (1, 'one'), (2, 'two');
EOF
A=$TEST_ROOT/archives
mkdir -p "$A"
EDGE=$A/edge.tar.gz
make_snapshot "$EDGE" edge_src 1
snapshot_db_state edge_src >"$TEST_ROOT/edge.state"

# db_is_restored: fail unless database $1 holds what edge_src holds.
db_is_restored() {
	snapshot_db_state "$1" >"$CASE_DIR/now.db"
	assert_same_file "database $1 (vs source)" "$TEST_ROOT/edge.state" "$CASE_DIR/now.db"
}

# strays: the databases named like a swap's beside target $1 (a LIKE prefix, escaped).
strays() {
	sql postgres "select datname from pg_database where datname like '$1\_rw\_%' order by 1" |
		tr '\n' ' '
}

# edge_case_begin: case $1 on target database $2 (created empty, owned by app, unless it
# exists: cases go on from the state the one before left), config.yaml for it with strategy
# swap and no ANALYZE (nothing here is about it), $@ more keys.
edge_case_begin() {
	case_begin "$1"
	EDGE_DB=$2
	shift 2
	[ "$(sql postgres "select count(*) from pg_database where datname = '$EDGE_DB'")" = 1 ] ||
		create_db "$EDGE_DB"
	write_config "$CASE_DIR/config.yaml" dbname="$EDGE_DB" strategy=swap analyze=false "$@"
}

# make_gate: a pg_restore stand-in $1 that, for the restore itself (--jobs), touches
# $CASE_DIR/gate.waiting and waits (30 s at most) for $CASE_DIR/gate.open, then runs the real
# one; everything else is the real pg_restore.
make_gate() {
	cat >"$1" <<-EOF
		#!/usr/bin/env bash
		real=$PGBIN/pg_restore
		case " \$* " in *" --jobs="*) ;; *) exec "\$real" "\$@" ;; esac
		touch "$CASE_DIR/gate.waiting"
		for ((i = 0; i < 300; i++)); do
			[ -e "$CASE_DIR/gate.open" ] && exec "\$real" "\$@"
			sleep 0.1
		done
		exit 1
	EOF
	chmod 755 "$1"
}

sql postgres "alter role app createdb"
sql postgres "create role reader login"

# Issue 16.4: alpha and bravo share 47 bytes, the part a swap's name keeps of a long target.
P=$(printf 'p%.0s' {1..47})
ALPHA=${P}_alpha
BRAVO=${P}_bravo
edge_case_begin long_names_share_a_prefix "$BRAVO" pg_restore="$TEST_ROOT/gate"
make_gate "$TEST_ROOT/gate"
create_db "$ALPHA"
mkdir -p "$CASE_DIR/alpha_work" "$CASE_DIR/alpha_blobs/files"
write_config "$CASE_DIR/alpha.yaml" dbname="$ALPHA" strategy=swap work_dir="$CASE_DIR/alpha_work" \
	blob_dir="$CASE_DIR/alpha_blobs/files" analyze=false
timeout -k 5 120 "$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" restore --json "$EDGE" \
	>"$CASE_DIR/bravo.out" 2>"$CASE_DIR/bravo.err" &
BRAVO_PID=$!
polls=0
until [ -e "$CASE_DIR/gate.waiting" ] || [ "$polls" -ge 300 ]; do
	sleep 0.1
	polls=$((polls + 1))
done
BRAVO_NEW=$(strays "$P")
[ -n "$BRAVO_NEW" ] || fail "no new database beside $BRAVO while its restore waited"
run_worker -c "$CASE_DIR/alpha.yaml" restore --dry-run --json "$EDGE"
assert_exit 0
assert_report .status succeeded
assert_eq "databases beside the targets after alpha's rehearsal" "$BRAVO_NEW" "$(strays "$P")"
run_worker -c "$CASE_DIR/alpha.yaml" restore --json "$EDGE"
assert_exit 0
assert_report .status succeeded
assert_eq "databases beside the targets after alpha's restore" "$BRAVO_NEW" "$(strays "$P")"
db_is_restored "$ALPHA"
touch "$CASE_DIR/gate.open"
set +e
wait "$BRAVO_PID"
BRAVO_STATUS=$?
set -e
assert_eq "bravo's exit status" 0 "$BRAVO_STATUS"
assert_eq "bravo's status" succeeded "$(jq -r .status "$CASE_DIR/bravo.out")"
db_is_restored "$BRAVO"
assert_eq "databases beside the targets at the end" "" "$(strays "$P")"
case_end

# Issue 16.5: a swap into café killed during pg_restore leaves café_rw_<hex>; the next drops it.
edge_case_begin non_ascii_target_leftover_dropped café pg_restore="$TEST_ROOT/killer"
cat >"$TEST_ROOT/killer" <<-EOF
	#!/usr/bin/env bash
	case " \$* " in *" --jobs="*) kill -9 \$PPID; exit 1 ;; esac
	exec $PGBIN/pg_restore "\$@"
EOF
chmod 755 "$TEST_ROOT/killer"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$EDGE"
[ "$RW_STATUS" -eq 137 ] || fail "the first restore was not killed (exit $RW_STATUS)"
[ -n "$(strays café)" ] || fail "the killed swap left no database beside café"
rm -rf "${WORK_DIR:?}"/*
write_config "$CASE_DIR/config.yaml" dbname=café strategy=swap analyze=false
run_worker -c "$CASE_DIR/config.yaml" restore --json "$EDGE"
assert_exit 0
assert_report .status succeeded
assert_eq "databases beside café" "" "$(strays café)"
db_is_restored café
case_end

# Issues 16.7, 16.13, 16.14: one swap into a target with database-wide default privileges, a
# search_path and the template flag; a subcase for each.
# 16.7: the default privileges still apply to the restored tables.
edge_case_begin default_privileges_survive target files_query='select id from doc'
sql_as_app target "alter default privileges for role app grant select on tables to reader"
sql_as_app target "alter default privileges for role app revoke execute on functions from public"
sql postgres "alter database target set search_path = mx, public"
sql postgres "alter database target is_template true"
DEFACL_SQL="select defaclobjtype, defaclacl::text from pg_default_acl where defaclnamespace = 0 order by 1"
DEFACL=$(sql target "$DEFACL_SQL")
run_worker -c "$CASE_DIR/config.yaml" restore --json "$EDGE"
assert_exit 0
assert_report .status succeeded
db_is_restored target
assert_eq "default privileges after the swap" "$DEFACL" "$(sql target "$DEFACL_SQL")"
assert_eq "reader may read a restored table" t \
	"$(sql target "select has_table_privilege('reader', 'public.\"shop\$item\"', 'select')")"
case_end

# 16.14: the file check on the new database used the target's search_path (files_query names
# its table without a schema): it ran and found the file the archive lacks.
worker_subcase_begin files_query_sees_the_search_path
assert_report .files.missing.count 1
assert_report '.files.missing.uuids[0]' 0b6fb6a2-4f0e-4b55-9f34-3c1f0f5b7d21
case_end

# 16.13: the template stays a template; its old copy stopped being one and was dropped.
worker_subcase_begin template_target
assert_report '[.warnings[] | select(contains("template") or contains("dropped"))] | length' 0
assert_eq "the target is a template" t "$(sql postgres "select datistemplate from pg_database where datname = 'target'")"
assert_eq "databases beside the target" "" "$(strays target)"
sql postgres "alter database target is_template false"
sql postgres "alter database target reset all"
case_end

# Issue 16.9: the rehearsal fails where the swap would: a setting only a superuser may set.
edge_case_begin rehearsal_runs_the_swap_transaction target
sql postgres "alter database target set log_min_duration_statement = 250"
old_blobs
capture_state before target
run_worker -c "$CASE_DIR/config.yaml" restore --dry-run --json "$EDGE"
assert_exit 1
assert_report .status failed
assert_report .dry_run true
assert_report_true '(.error | contains("permission denied"))' "the error says permission denied"
assert_unchanged target
assert_eq "databases beside the target" "" "$(strays target)"
assert_eq "the target's settings" "{log_min_duration_statement=250}" \
	"$(sql postgres "select setconfig::text from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase where d.datname = 'target'")"
sql postgres "alter database target reset all"
case_end

# Issue 16.12: the role's idle_session_timeout would end pg_restore's idle worker connection
# while the other worker loads a slow table (a CHECK calling pg_sleep); its two indexes then
# go to both workers at once.
create_db idle_src
sql_as_app idle_src - >/dev/null <<-'EOF'
	create function slow_ok(v integer) returns boolean language plpgsql immutable
		as 'begin perform pg_catalog.pg_sleep(0.25); return true; end';
	create table slow (id integer, v integer check (slow_ok(v)));
	insert into slow select i, i from generate_series(1, 4) i;
	create index slow_v on slow (v);
	create index slow_id on slow (id);
	create table fast (id integer);
	insert into fast values (1);
EOF
IDLE=$A/idle.tar.gz
make_snapshot "$IDLE" idle_src 1
edge_case_begin idle_session_timeout_of_the_role target restore_jobs=2
sql postgres "alter role app set idle_session_timeout = '500ms'"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$IDLE"
sql postgres "alter role app reset idle_session_timeout"
assert_exit 0
assert_report .status succeeded
assert_eq "rows restored" "4 1" "$(sql target "select (select count(*) from slow) || ' ' || (select count(*) from fast)")"
assert_eq "databases beside the target" "" "$(strays target)"
case_end

finish
