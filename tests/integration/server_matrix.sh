#!/usr/bin/env bash
# server_matrix.sh - restores into real PostgreSQL servers of each major version, 12 to 18, as
# the database's owner (role app, not a superuser).
#
# For each server in RW_SERVERS (default "12 18"; "all" is 12 13 14 15 16 17 18; "none" skips
# the test) it starts a cluster of that version (one at a time, from a build that
# scripts/pg-servers fetches and caches) and runs the cases, each named <server>_<case>:
#   reference         a fresh database filled by `pg_restore -O -x` as app is the expected state
#                     (on 12-15 it must also equal the source database the dump was made from);
#   full_restore      into a target holding another state: succeeded, the database equals the
#                     reference, blob_dir holds exactly the archive's tree files;
#   restore_again     the same archive over the result: succeeded, still equal;
#   db_only           --db-only: the database equals the reference, blob_dir is untouched;
#   failure_midway    pg_restore (a stand-in) exits 1 after passing on half of its SQL: status
#                     failed, the target database and blob_dir are unchanged;
#   old_dump          an archive 1.12 dump as pg_dump 9.6 wrote it (tests/tools/olddump), into a
#                     target holding another state: succeeded, the database equals a fresh one
#                     that `pg_restore -O -x` filled from it as app (whose only errors are on the
#                     environment entries), database.skipped lists exactly SCHEMA public, its
#                     stock COMMENT, EXTENSION plpgsql and its COMMENT, each with a reason;
#   foreign_owned_refused
#                     the target holds a schema owned by the superuser with a table in it (and,
#                     before 15, a table of the superuser's in public, which the owner cannot
#                     drop with public): rejected, exit 1, the error names each object with
#                     "(owner postgres)" and "REASSIGN OWNED", the database and blob_dir unchanged;
#   swap_no_createdb_rejected
#                     strategy swap (restore_jobs 2) as app, which owns the target but lacks
#                     CREATEDB: rejected, exit 1, the error names CREATEDB, the database (its OID
#                     too) and blob_dir unchanged, no database <target>_rw_... made;
#   swap_full_restore app is given CREATEDB (still not a superuser); the target holds another
#                     state and an environment: settings (ALTER DATABASE ... SET, also a list
#                     setting; ALTER ROLE app IN DATABASE ... SET), CONNECT and TEMPORARY granted
#                     to role reader and TEMPORARY revoked from PUBLIC, a connection limit and a
#                     comment. strategy swap, restore_jobs 2: succeeded, pg_restore --jobs=2 ran,
#                     the target has a new OID, owner app, and equals the reference, blob_dir
#                     holds exactly the archive's tree files, no database <target>_rw_... remains;
#   swap_environment  after that swap the target's environment (settings, grants, connection
#                     limit, comment, owner, encoding, collation) is as before;
#   swap_again        the same archive swapped in over the result: succeeded, the same checks.
# The source database is made on the server under test when pg_dump 15 can dump it (12 to 15);
# for 16 and later on the Debian PostgreSQL 15 cluster, once, and that archive serves every one.
# States are compared with lib.sh's snapshot_db_fingerprint, taken on the server under test.
#
# A server that cannot be fetched (no network) fails its case "<server>_server", unless
# RW_SERVERS_SKIP_UNAVAILABLE=1 asks to skip it (the test exits 77 when nothing ran then).
set -euo pipefail
unset PG_SERVER_BIN # the first cluster is the Debian 15 one: it can make the 16+ archive
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/olddump_lib.sh"

SERVERS=${RW_SERVERS:-12 18}
case $SERVERS in
all) SERVERS="12 13 14 15 16 17 18" ;;
none)
	echo "ok - server_matrix # SKIP RW_SERVERS=none"
	TESTS_FINISHED=1
	exit 77
	;;
esac
for v in $SERVERS; do
	if ! [[ $v =~ ^1[2-8]$ ]]; then
		echo "server_matrix: RW_SERVERS names '$v'; servers are 12 to 18, all or none" >&2
		TESTS_FINISHED=1
		exit 2
	fi
done
PG_SERVERS=$TESTS_DIR/../scripts/pg-servers
NFILES=4
A=$TEST_ROOT/archives
mkdir -p "$A"
OLD_DUMP=$A/pg96.dump
make_old_dump 1.12 pg96 "$OLD_DUMP"
# The environment entries of OLD_DUMP, as the report names them without their ids, and the
# TOC entries pg_restore may fail on ("already exists", "must be owner") for that reason.
OLD_DUMP_SKIPPED='["SCHEMA - public","COMMENT - SCHEMA public","EXTENSION - plpgsql","COMMENT - EXTENSION plpgsql"]'
ENV_ERRORS='^[0-9]+; [0-9]+ [0-9]+ (SCHEMA public|COMMENT SCHEMA public|EXTENSION plpgsql|COMMENT EXTENSION plpgsql) '

# The archive for servers 16 and later, made here on the Debian 15 cluster.
for v in $SERVERS; do
	if [ "$v" -ge 16 ]; then
		make_source_db src15
		make_snapshot "$A/debian15.tar.gz" src15 "$NFILES"
		break
	fi
done
cluster_stop

# make_failing_pg_restore: write a pg_restore stand-in $1 that runs the real one, passes on its
# SQL up to the first TOC entry past the middle (up to the "--" line that opens the entry's
# header), and exits 1, as a pg_restore that dies half-way would. Asked for its version or a TOC
# list, it is the real one.
make_failing_pg_restore() {
	cat >"$1" <<-EOF
		#!/usr/bin/env bash
		real=$PGBIN/pg_restore
		case " \$* " in *" --version "* | *" -l "* | *" --list "*) exec "\$real" "\$@" ;; esac
		sql=\$(mktemp "$CASE_DIR/sql.XXXXXX")
		trap 'rm -f "\$sql"' EXIT
		"\$real" "\$@" >"\$sql" || exit
		size=\$(stat -c %s "\$sql")
		cut=\$(grep -b '^-- TOC entry ' "\$sql" | cut -d: -f1 | awk -v h=\$((size / 2)) '\$1 >= h { print \$1 - 3; exit }')
		head -c "\${cut:-\$((size / 2))}" "\$sql"
		echo "pg_restore: error: stand-in failing half-way" >&2
		exit 1
	EOF
	chmod 755 "$1"
}

# check_restored: the last restore (of ARCHIVE into database $1) succeeded with a database equal
# to the reference; $2 is "tree" (blob_dir holds exactly the tree files, and no warning) or
# "unchanged" (--db-only).
check_restored() {
	assert_exit 0
	report_is_one_object
	assert_report .status succeeded
	assert_report .database.status restored
	fingerprint_as after "$1"
	assert_fingerprint "target database (vs reference)" "$SERVER_DIR/reference.fp" "$CASE_DIR/after.fp"
	if [ "$2" = tree ]; then
		# The test database is no Mendix one: the file check says it was skipped, nothing else.
		assert_report '[.warnings[] | select(contains("the file check was skipped") | not)] | tojson' '[]'
		assert_report .files.status restored
		FILES_ONLY=1 snapshot_dir_state "$ARCHIVE.d/tree" >"$CASE_DIR/tree.files"
		FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
		assert_same_file "blob_dir (vs tree)" "$CASE_DIR/tree.files" "$CASE_DIR/after.files"
	else
		assert_report .files.status skipped
		snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
		assert_same_file "blob_dir (vs before)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
	fi
	assert_work_dir_empty
}

# swap_strays: print the databases named like a swap's beside database $1 ($1_rw_...) on one line.
swap_strays() {
	sql postgres "select datname from pg_database where datname like '$1\\_rw\\_%' order by 1" | tr '\n' ' '
}

# db_environment: print what of database $1 a swap must carry over, in SQL that every server from
# 12 to 18 runs: its settings (also per role), grants, connection limit, comment, owner,
# encoding and collation.
db_environment() {
	sql postgres "select coalesce(r.rolname, '-'), s.setconfig::text from pg_db_role_setting s
		join pg_database d on d.oid = s.setdatabase left join pg_roles r on r.oid = s.setrole
		where d.datname = '$1' order by 1"
	sql postgres "select coalesce(datacl::text, 'default'), datconnlimit,
		coalesce(shobj_description(oid, 'pg_database'), '-'), pg_get_userbyid(datdba),
		pg_encoding_to_char(encoding), datcollate, datctype from pg_database where datname = '$1'"
}

# check_swapped: the last restore (strategy swap, restore_jobs 2, of ARCHIVE into target_swap)
# succeeded as check_restored tree says, with pg_restore --jobs=2 into a new database (another
# OID than $1) owned by app, and no database is left beside the target.
check_swapped() {
	check_restored target_swap tree
	grep -q 'pg_restore --jobs=2' "$CASE_DIR/err" || fail "the log does not say pg_restore --jobs=2 ran"
	[ "$(sql postgres "select oid from pg_database where datname = 'target_swap'")" != "$1" ] ||
		fail "the target's OID did not change (was the backup swapped in?)"
	assert_eq "the target's owner" app \
		"$(sql postgres "select pg_get_userbyid(datdba) from pg_database where datname = 'target_swap'")"
	assert_eq "databases left beside the target" "" "$(swap_strays target_swap)"
}

# run_server: start a cluster of server $1 (server binaries in folder $2) and run its cases.
run_server() {
	local s=pg$1
	SERVER_DIR=$TEST_ROOT/$s
	mkdir -p "$SERVER_DIR"

	case_begin "${s}_server"
	if ! PG_SERVER_BIN=$2 cluster_start >"$CASE_DIR/err" 2>&1; then
		fail "the PostgreSQL $1 cluster does not start"
		case_end
		cluster_stop >/dev/null 2>&1 || rm -rf "$PG_DIR/data"
		return
	fi
	sql postgres "create role app login"
	assert_eq "server version" "$1" "$(sql postgres "select current_setting('server_version_num')::int / 10000")"
	case_end

	case_begin "${s}_reference"
	if [ "$1" -le 15 ]; then
		ARCHIVE=$A/$s.tar.gz
		make_source_db src
		make_snapshot "$ARCHIVE" src "$NFILES"
		fingerprint_as source src
	else
		ARCHIVE=$A/debian15.tar.gz
	fi
	sql postgres "create database ref owner app"
	PGUSER=app "$PGBIN/pg_restore" -O -x --exit-on-error -d ref "$ARCHIVE.d/db/db.backup" \
		>"$CASE_DIR/out" 2>"$CASE_DIR/err" || fail "pg_restore -O -x into a fresh database fails"
	fingerprint_as reference ref
	cp "$CASE_DIR/reference.fp" "$SERVER_DIR/reference.fp"
	grep -qF "rows public.shop\$order|3000|" "$SERVER_DIR/reference.fp" ||
		fail "the reference lacks the 3000 rows of shop\$order"
	if [ "$1" -le 15 ]; then
		assert_fingerprint "reference (vs source database)" "$CASE_DIR/source.fp" "$CASE_DIR/reference.fp"
	fi
	case_end

	case_begin "${s}_full_restore"
	make_target_db target
	old_blobs
	write_config "$CASE_DIR/config.yaml" dbname=target
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE"
	check_restored target tree
	case_end
	local first_blob_dir=$BLOB_DIR first_work_dir=$WORK_DIR

	case_begin "${s}_restore_again"
	BLOB_DIR=$first_blob_dir
	WORK_DIR=$first_work_dir
	write_config "$CASE_DIR/config.yaml" dbname=target
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE"
	check_restored target tree
	case_end

	case_begin "${s}_db_only"
	make_target_db target_db_only
	old_blobs
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/before.files"
	write_config "$CASE_DIR/config.yaml" dbname=target_db_only
	run_worker -c "$CASE_DIR/config.yaml" restore --db-only --json "$ARCHIVE"
	check_restored target_db_only unchanged
	case_end

	case_begin "${s}_failure_midway"
	make_target_db target_failure
	old_blobs
	fingerprint_as before target_failure
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/before.files"
	make_failing_pg_restore "$CASE_DIR/pg_restore"
	write_config "$CASE_DIR/config.yaml" dbname=target_failure pg_restore="$CASE_DIR/pg_restore"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE"
	assert_exit 1
	report_is_one_object
	assert_report .status failed
	assert_error_line
	assert_report_true '(.error | test("pg_restore"))' "the error names pg_restore's failure"
	assert_report .database.status unchanged
	fingerprint_as after target_failure
	assert_fingerprint "target database (vs before)" "$CASE_DIR/before.fp" "$CASE_DIR/after.fp"
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
	assert_same_file "blob_dir (vs before)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
	assert_work_dir_empty
	case_end

	case_begin "${s}_old_dump"
	sql postgres "create database ref_old owner app"
	set +e
	PGUSER=app "$PGBIN/pg_restore" -v -O -x -d ref_old "$OLD_DUMP" 2>"$CASE_DIR/ref.err"
	set -e
	old_dump_restore_errors "$CASE_DIR/ref.err" >"$CASE_DIR/ref.errors"
	sed 's/^/# pg_restore errors (reference): /' "$CASE_DIR/ref.errors"
	if grep -Ev "$ENV_ERRORS" "$CASE_DIR/ref.errors" >"$CASE_DIR/ref.other"; then
		fail "pg_restore as app fails besides the environment entries: $(tr '\n' ' ' <"$CASE_DIR/ref.other")"
	fi
	fingerprint_as reference ref_old
	make_target_db target_old
	fingerprint_as before target_old
	write_config "$CASE_DIR/config.yaml" dbname=target_old
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$OLD_DUMP"
	assert_exit 0
	report_is_one_object
	assert_report .status succeeded
	assert_report .database.status restored
	assert_report .database.dump_version 1.12
	assert_eq "database.skipped" "$OLD_DUMP_SKIPPED" \
		"$(report '[.database.skipped[].toc_entry | sub("^[0-9]+; [0-9]+ [0-9]+ "; "")]' | jq -c .)"
	assert_report_true 'all(.database.skipped[]; .reason | type == "string" and length > 0)' \
		"every skipped entry has a reason"
	fingerprint_as after target_old
	assert_fingerprint "target database (vs pg_restore -O -x as app)" "$CASE_DIR/reference.fp" \
		"$CASE_DIR/after.fp"
	cmp -s "$CASE_DIR/before.fp" "$CASE_DIR/after.fp" && fail "the target database did not change"
	local out
	if ! out=$(old_dump_check_db target_old "$OLD_DUMP"); then
		fail "restored data differs from the dump's: $(tr '\n' ' ' <<<"$out")"
	fi
	assert_work_dir_empty
	case_end

	case_begin "${s}_foreign_owned_refused"
	make_target_db target_foreign
	old_blobs
	local names=("schema su_schema (owner postgres)")
	sql target_foreign "create schema su_schema; create table su_schema.su_t (x integer);
		insert into su_schema.su_t values (1)"
	if [ "$1" -lt 15 ]; then
		sql target_foreign "create table public.su_table (x integer); insert into public.su_table values (2)"
		names+=("table public.su_table (owner postgres)")
	fi
	fingerprint_as before target_foreign
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/before.files"
	write_config "$CASE_DIR/config.yaml" dbname=target_foreign
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE"
	assert_exit 1
	report_is_one_object
	assert_report .status rejected
	assert_report .database.status unchanged
	assert_error_line
	local name
	for name in "${names[@]}" "REASSIGN OWNED"; do
		[[ $(report .error) == *"$name"* ]] || fail "the refusal does not name '$name': $(report .error)"
	done
	fingerprint_as after target_foreign
	assert_fingerprint "target database (vs before)" "$CASE_DIR/before.fp" "$CASE_DIR/after.fp"
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
	assert_same_file "blob_dir (vs before)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
	assert_work_dir_empty
	case_end

	# strategy swap. A role without CREATEDB first; then app gets CREATEDB for the rest.
	case_begin "${s}_swap_no_createdb_rejected"
	assert_eq "role app (superuser, CREATEDB)" "f f" \
		"$(sql postgres "select rolsuper, rolcreatedb from pg_roles where rolname = 'app'" | tr '|' ' ')"
	make_target_db target_swap
	old_blobs
	local oid
	oid=$(sql postgres "select oid from pg_database where datname = 'target_swap'")
	fingerprint_as before target_swap
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/before.files"
	write_config "$CASE_DIR/config.yaml" dbname=target_swap strategy=swap restore_jobs=2
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE"
	assert_exit 1
	report_is_one_object
	assert_report .status rejected
	assert_report .database.status unchanged
	assert_error_line
	assert_report_true '(.error | contains("CREATEDB"))' "the error names CREATEDB"
	fingerprint_as after target_swap
	assert_fingerprint "target database (vs before)" "$CASE_DIR/before.fp" "$CASE_DIR/after.fp"
	assert_eq "the target's OID" "$oid" "$(sql postgres "select oid from pg_database where datname = 'target_swap'")"
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
	assert_same_file "blob_dir (vs before)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
	assert_eq "databases beside the target" "" "$(swap_strays target_swap)"
	assert_work_dir_empty
	case_end

	case_begin "${s}_swap_full_restore"
	sql postgres "alter role app createdb"
	assert_eq "role app (superuser, CREATEDB)" "f t" \
		"$(sql postgres "select rolsuper, rolcreatedb from pg_roles where rolname = 'app'" | tr '|' ' ')"
	sql postgres "drop database target_swap"
	make_target_db target_swap
	old_blobs
	sql postgres "create role reader login"
	sql postgres "alter database target_swap set work_mem = '12MB'"
	sql postgres "alter database target_swap set search_path = \"\$user\", public, \"odd, name\""
	sql postgres "alter role app in database target_swap set statement_timeout = '5min'"
	sql postgres "grant connect, temporary on database target_swap to reader"
	sql postgres "revoke temporary on database target_swap from public"
	sql postgres "alter database target_swap connection limit 50"
	sql postgres "comment on database target_swap is 'acceptance: it''s the test environment'"
	db_environment target_swap >"$SERVER_DIR/swap_env.before"
	oid=$(sql postgres "select oid from pg_database where datname = 'target_swap'")
	write_config "$CASE_DIR/config.yaml" dbname=target_swap strategy=swap restore_jobs=2
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE"
	check_swapped "$oid"
	db_environment target_swap >"$SERVER_DIR/swap_env.after"
	case_end
	local swap_blob_dir=$BLOB_DIR swap_work_dir=$WORK_DIR

	case_begin "${s}_swap_environment"
	grep -q 'work_mem=12MB' "$SERVER_DIR/swap_env.before" ||
		fail "the fixture did not set work_mem: $(tr '\n' ' ' <"$SERVER_DIR/swap_env.before")"
	assert_same_file "the target's environment (vs before)" "$SERVER_DIR/swap_env.before" \
		"$SERVER_DIR/swap_env.after"
	case_end

	case_begin "${s}_swap_again"
	BLOB_DIR=$swap_blob_dir
	WORK_DIR=$swap_work_dir
	oid=$(sql postgres "select oid from pg_database where datname = 'target_swap'")
	write_config "$CASE_DIR/config.yaml" dbname=target_swap strategy=swap restore_jobs=2
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE"
	check_swapped "$oid"
	db_environment target_swap >"$CASE_DIR/env.after"
	assert_same_file "the target's environment (vs before the first swap)" \
		"$SERVER_DIR/swap_env.before" "$CASE_DIR/env.after"
	case_end

	cluster_stop
}

for v in $SERVERS; do
	started=$SECONDS
	if ! bin=$("$PG_SERVERS" "$v" 2>"$TEST_ROOT/pg-servers.err"); then
		why=$(grep -v '^pg-servers: fetching' "$TEST_ROOT/pg-servers.err" | tail -n 1)
		if [ "${RW_SERVERS_SKIP_UNAVAILABLE:-0}" = 1 ]; then
			case_skip "pg${v}_server" "${why:-scripts/pg-servers $v failed}"
		else
			case_begin "pg${v}_server"
			fail "${why:-scripts/pg-servers $v failed} (RW_SERVERS_SKIP_UNAVAILABLE=1 skips an unavailable server)"
			case_end
		fi
		continue
	fi
	sed 's/^/# /' "$TEST_ROOT/pg-servers.err"
	run_server "$v" "$bin"
	echo "# pg$v: $((SECONDS - started)) s"
done

if [ "$TESTS_PASSED" -eq 0 ] && [ "$TESTS_FAILED" -eq 0 ]; then
	echo "0 passed, 0 failed, $TESTS_SKIPPED skipped"
	TESTS_FINISHED=1
	exit 77
fi
finish
