#!/usr/bin/env bash
# db_database_objects.sh - objects outside any schema are emptied with the rest, or refused.
#
# pg_dump dumps publications, event triggers, extensions, casts, foreign-data wrappers and
# servers, procedural languages, access methods, subscriptions and large objects besides the
# schemas. A restore must leave the target holding exactly the backup's: what the role (the
# database owner, not a superuser) made is dropped; what a superuser made and the role may not
# drop is dropped with the schemas when it depends on them, and otherwise refuses the restore
# before anything changes (status rejected, exit 1, the object named). Restored as a superuser,
# the same targets are emptied, but a subscription is never dropped.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

make_source_db src
sql_as_app src - >/dev/null <<'EOF'
set client_min_messages = error;
create extension citext;
create table tagged (name citext primary key);
insert into tagged values ('One'), ('two');
create publication pub for table "shop$order";
EOF
A=$TEST_ROOT/archives
mkdir -p "$A"
make_snapshot "$A/good.tar.gz" src 2
snapshot_db_state src >"$TEST_ROOT/src.state"

# assert_restored: fail unless database $1 equals the source.
assert_restored() {
	snapshot_db_state "$1" >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
}

# A publication the backup has restores twice; one it lacks is gone.
case_begin publication_restored_twice
make_target_db t_pub
sql_as_app t_pub 'set client_min_messages = error; create publication stale_pub for table "old$stuff"'
write_config "$CASE_DIR/config.yaml" dbname=t_pub
for run in first second; do
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
	assert_exit 0
	[ "$(report .status)" = succeeded ] || fail "$run restore: $(report .status): $(report .error)"
	assert_restored t_pub
done
case_end

# What the owner made, and what a superuser made that depends on the schemas the restore
# drops (an extension in public and the foreign server the owner made on its wrapper, an event
# trigger whose function is in public), all go.
case_begin owner_objects_emptied
make_target_db t_owner
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d t_owner -f - >/dev/null <<'EOF'
create extension hstore schema public;
create extension postgres_fdw schema public;
grant usage on foreign data wrapper postgres_fdw to app;
create function public.rw_noop() returns event_trigger language plpgsql as 'begin end';
create event trigger rw_public_evt on ddl_command_end execute function public.rw_noop();
EOF
sql_as_app t_owner - >/dev/null <<'EOF'
set client_min_messages = error;
create schema ext;
create extension pg_trgm schema ext;
create extension citext;
create type legacy.mood as enum ('sad', 'happy');
create function legacy.mood_int(legacy.mood) returns integer language sql immutable
	as 'select 1';
create cast (legacy.mood as integer) with function legacy.mood_int(legacy.mood);
create publication app_pub for table legacy.junk;
create publication pub;
create server app_srv foreign data wrapper postgres_fdw options (dbname 'x');
create user mapping for app server app_srv;
EOF
write_config "$CASE_DIR/config.yaml" dbname=t_owner
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
assert_exit 0
assert_report .status succeeded
assert_restored t_owner
assert_eq "event triggers, servers, wrappers left" "0 0 0" \
	"$(sql t_owner "select (select count(*) from pg_event_trigger) || ' ' || (select count(*) from pg_foreign_server) || ' ' || (select count(*) from pg_foreign_data_wrapper)")"
case_end

# What only a superuser can make and the owner may not drop. Table: name | SQL run as the
# superuser in the target | what the refusal names | what a superuser's restore ends with.
REFUSALS=(
	"event_trigger|create function pg_catalog.rw_evt() returns event_trigger language plpgsql as 'begin end'; create event trigger rw_evt on ddl_command_start execute function pg_catalog.rw_evt()|event trigger rw_evt (owner postgres)|succeeded"
	"foreign_data_wrapper|create foreign data wrapper rw_fdw; create server rw_srv foreign data wrapper rw_fdw|foreign-data wrapper rw_fdw (owner postgres)|succeeded"
	"language|create function pg_catalog.rw_handler() returns language_handler as 'plpgsql', 'plpgsql_call_handler' language c; create language rw_lang handler pg_catalog.rw_handler|language rw_lang (owner postgres)|succeeded"
	"cast|create cast (text as bigint) with inout|cast (text AS bigint)|succeeded"
	"access_method|create access method rw_am type table handler heap_tableam_handler|access method rw_am|succeeded"
	"publication|create publication su_pub|publication su_pub (owner postgres)|succeeded"
	"extension_in_pg_catalog|create extension adminpack|extension adminpack (owner postgres)|succeeded"
	"schema|create schema su_schema; create table su_schema.t (x integer)|schema su_schema (owner postgres)|succeeded"
	"large_object|select lo_create(0)|large object|succeeded"
	"subscription|create subscription rw_sub connection 'dbname=nowhere' publication p with (connect = false)|subscription rw_sub|rejected"
)
for row in "${REFUSALS[@]}"; do
	IFS='|' read -r name setup names superuser_status <<<"$row"
	case_begin "refused_$name"
	make_target_db "t_$name"
	sql "t_$name" "set client_min_messages = error; $setup" >/dev/null
	old_blobs
	capture_state before "t_$name"
	write_config "$CASE_DIR/config.yaml" dbname="t_$name"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
	assert_exit 1
	report_is_one_object
	assert_report .status rejected
	assert_error_line
	[[ $(report .error) == *"$names"* ]] || fail "the refusal does not name '$names': $(report .error)"
	assert_unchanged "t_$name"
	case_end

	case_begin "superuser_$name"
	capture_state before "t_$name"
	write_config "$CASE_DIR/config.yaml" dbname="t_$name" database="host=$PGHOST dbname=t_$name user=postgres"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
	assert_report .status "$superuser_status"
	if [ "$superuser_status" = succeeded ]; then
		assert_exit 0
		assert_restored "t_$name"
	else
		assert_exit 1
		[[ $(report .error) == *"$names"* ]] || fail "the refusal does not name '$names': $(report .error)"
		assert_unchanged "t_$name"
	fi
	case_end
done

finish
