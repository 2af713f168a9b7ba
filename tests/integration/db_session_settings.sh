#!/usr/bin/env bash
# db_session_settings.sh - the restore means the same whatever the target's settings say.
#
# Each setting the restore's SQL (the emptying, and pg_dump's script) relies on is given a
# hostile value at the database level (ALTER DATABASE ... SET) and at the role level (ALTER ROLE
# app SET), one at a time and then all at once. The target holds schemas named pg + something
# (pgapp, which the backup also has, and pgold, which it lacks) and a schema whose name LATIN1
# cannot encode; the backup holds a NULL inside an array, an XML fragment, dates and intervals,
# text LATIN1 cannot encode. After each restore the target must equal the backup exactly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

make_source_db src
sql_as_app src - >/dev/null <<'EOF'
create schema pgapp;
create table pgapp.kept (id integer primary key, tags text[], doc xml, d date, i interval,
	note text);
insert into pgapp.kept values
	(1, '{a,NULL,"NULL",b}', 'fragment <b>one</b> two', '2018-11-21', '-1 days +02:03:04', 'prix 5 €'),
	(2, '{NULL}', '<doc/>', '1999-01-08', '1 year 2 mons -3 days -04:05:06.5', 'back\slash'),
	(3, NULL, NULL, '2018-02-01', '-00:00:01', E'tab\there');
create view pgapp.nulls as select id from pgapp.kept where note = NULL or tags[2] is null;
EOF
A=$TEST_ROOT/archives
mkdir -p "$A"
make_snapshot "$A/good.tar.gz" src 2
snapshot_db_state src >"$TEST_ROOT/src.state"

# make_hostile_target: make_target_db $1, plus the schemas a pattern or an encoding can miss.
make_hostile_target() {
	make_target_db "$1"
	sql_as_app "$1" - >/dev/null <<-'EOF'
		create schema pgapp;
		create table pgapp.stale (x integer);
		create schema pgold;
		create table pgold.t (y text);
		create schema "pgäpp€";
		create table "pgäpp€"."tâble€" (z integer);
	EOF
}

# Table: setting | hostile value, as SQL after "SET setting =".
SETTINGS=(
	"standard_conforming_strings|off"
	"search_path|pgapp, pgold, public"
	"client_encoding|'LATIN1'"
	"check_function_bodies|on"
	"lock_timeout|'1ms'"
	"statement_timeout|'5ms'"
	"idle_in_transaction_session_timeout|'1ms'"
	"idle_session_timeout|'50ms'"
	"xmloption|document"
	"row_security|off"
	"default_transaction_read_only|on"
	"default_transaction_isolation|serializable"
	"default_transaction_deferrable|on"
	"array_nulls|off"
	"transform_null_equals|on"
	"backslash_quote|off"
	"DateStyle|'SQL, DMY'"
	"IntervalStyle|sql_standard"
	"synchronous_commit|off"
	"exit_on_error|on"
	"client_min_messages|debug1"
	"application_name|'not-the-worker'"
	"session_replication_role|replica"
)

# restore_with: restore good.tar.gz into a fresh hostile target $1 whose database or role
# ($2: database | role) has the settings given as "name|value" rows ($3...); the target must then
# equal the source.
restore_with() {
	local db=$1 level=$2 row name value
	shift 2
	make_hostile_target "$db"
	for row in "$@"; do
		IFS='|' read -r name value <<<"$row"
		if [ "$level" = database ]; then
			sql postgres "alter database \"$db\" set $name = $value"
		else
			sql postgres "alter role app set $name = $value"
		fi
	done
	write_config "$CASE_DIR/config.yaml" dbname="$db"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
	# The snapshot is taken under the defaults (pg_dump shows some settings in its output).
	sql postgres "alter role app reset all"
	sql postgres "alter database \"$db\" reset all"
	assert_exit 0
	assert_report .status succeeded
	snapshot_db_state "$db" >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	assert_eq "schemas" "module\$two pgapp public" \
		"$(sql "$db" "select string_agg(nspname, ' ' order by nspname) from pg_namespace where nspname !~ '^(pg_|information_schema$)'")"
}

for level in database role; do
	for row in "${SETTINGS[@]}"; do
		name=${row%%|*}
		case_begin "${level}_${name,,}"
		restore_with "t_${level}_${name,,}" "$level" "$row"
		case_end
	done
	case_begin "${level}_all_at_once"
	restore_with "t_${level}_all" "$level" "${SETTINGS[@]}"
	case_end
done

finish
