#!/usr/bin/env bash
# old_dumps.sh - dumps that old pg_dump versions wrote restore exactly, leaving out only the
# environment entries, and dumps newer than pg_restore reads are refused (issue 7).
#
# On the PostgreSQL 15 cluster lib.sh starts. For each old-format dump (tests/tools/olddump:
# archive 1.10 to 1.14 with the entries pg_dump 8.3, 8.4, 9.6, 10 and 14 wrote, a custom comment
# on schema public, data offsets unset as on a pipe), as the owner role app and as the
# superuser:
#   <dump>_inspect      inspect --json lists in dump.skipped exactly the environment entries
#                       (SCHEMA public, COMMENT ON SCHEMA public when it is the stock comment,
#                       EXTENSION plpgsql and its COMMENT or PROCEDURAL LANGUAGE plpgsql), each
#                       with a reason;
#   <dump>_as_<role>    restore --json into a target that held another state: succeeded, the
#                       same database.skipped as inspect's, the database equal (snapshot_db_state)
#                       to a fresh one that `pg_restore -O -x` filled from the dump as the same
#                       role (whose only errors must be on those environment entries), the rows
#                       and sequence olddump wrote, and the comment of schema public (a custom
#                       one is restored, not skipped).
# Nothing else is ever skipped: a dump one of whose other entries fails (an old dump whose table
# comment names a missing table; a pg_dump 15 dump creating an extension the server does not
# have) fails as app and as superuser, the target unchanged, no other entry in skipped.
# Too new: a pg_dump 15 dump rewritten into an archive 1.15 header is refused (rejected, exit 1,
# target unchanged) naming 1.15, the pg_dump that wrote it and `pg_restore:` in the
# configuration; max_dump_version 1.13 refuses a 1.14 dump naming max_dump_version; inspect
# reads the 1.15 dump, measures its data (equal to what its tables and large object hold) and
# reports the problem.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/olddump_lib.sh"

PG_RESTORE=$PGBIN/pg_restore
A=$TEST_ROOT/dumps
mkdir -p "$A"
STOCK_COMMENT="standard public schema"

# The environment entries, as pg_restore -l names them without ids and owner ("DESC NS TAG").
ENV_PUBLIC="SCHEMA - public"
ENV_PUBLIC_COMMENT="COMMENT - SCHEMA public"
ENV_EXTENSION="EXTENSION - plpgsql"
ENV_EXTENSION_COMMENT="COMMENT - EXTENSION plpgsql"
ENV_LANGUAGE="PROCEDURAL LANGUAGE - plpgsql"
# An environment entry's TOC entry as pg_restore -v names it when it fails.
ENV_ERRORS='^[0-9]+; [0-9]+ [0-9]+ (SCHEMA public|COMMENT SCHEMA public|EXTENSION plpgsql|COMMENT EXTENSION plpgsql|PROCEDURAL LANGUAGE plpgsql) '

# listed_entries: dump $1's TOC entries as pg_restore -l lists them, one a line, each as the
# report names a TOC entry (the owner, the last field, left out).
listed_entries() {
	"$PG_RESTORE" -l "$1" | grep -v '^;' | sed -E 's/ [^ ]*$//'
}

# expected_skipped: the JSON array of the TOC entries of dump $1 (in TOC order) that are among
# the "DESC NS TAG" keys that follow.
expected_skipped() {
	local dump=$1
	shift
	listed_entries "$dump" | while IFS= read -r entry; do
		local key=${entry#*; * * } want
		for want in "$@"; do
			if [ "$key" = "$want" ]; then
				printf '%s\n' "$entry"
			fi
		done
	done | jq -R . | jq -cs .
}

# check_skipped: fail unless jq path $1 (an array of {toc_entry, reason}) in the report lists
# exactly the entries of JSON array $2, in order, each with a reason naming what it left out.
check_skipped() {
	assert_eq "$1 entries" "$2" "$(report "[$1[].toc_entry]" | jq -c .)"
	assert_report_true "all($1[]; (keys == [\"reason\", \"toc_entry\"]) and (.reason | type == \"string\" and length > 0)
		and (if (.toc_entry | test(\"plpgsql\")) then (.reason | test(\"plpgsql\")) else (.reason | test(\"public\")) end))" \
		"every entry of $1 has a reason that names public or plpgsql"
}

# reference_db: create database $1 owned by app and fill it from dump $2 with `pg_restore -v -O
# -x` (best effort) as role $3; its errors go to $CASE_DIR/$1.errors. Fails the case if
# pg_restore fails on anything but the environment entries, unless $4 is "any".
reference_db() {
	local db=$1 dump=$2 role=$3
	create_db "$db"
	set +e
	PGUSER=$role "$PG_RESTORE" -v -O -x -d "$db" "$dump" 2>"$CASE_DIR/$db.err"
	set -e
	old_dump_restore_errors "$CASE_DIR/$db.err" >"$CASE_DIR/$db.errors"
	if [ "${4:-}" != any ] && grep -Ev "$ENV_ERRORS" "$CASE_DIR/$db.errors" >"$CASE_DIR/$db.other"; then
		fail "pg_restore as $role fails besides the environment entries: $(tr '\n' ' ' <"$CASE_DIR/$db.other")"
	fi
}

# db_state: snapshot_db_state of database $1 with each table's COPY rows sorted. A restore in one
# transaction creates each table and copies its rows in that transaction, so COPY skips the free
# space map and may lay rows out in another physical order than pg_restore without -1 does: the
# content is what must be equal, not the order pg_dump reads it back in.
db_state() {
	snapshot_db_state "$1" | awk '
		copying && $0 == "\\." { close("sort"); copying = 0 }
		copying { print | "sort"; next }
		{ print }
		/^COPY .* FROM stdin;$/ { fflush(); copying = 1 }'
}

# role_conninfo: the target's connection string for database $1 as role $2.
role_conninfo() {
	echo "host=$PGHOST dbname=$1 user=$2"
}

# check_old_dump: the cases of one dump. $1 name, $2 archive version, $3 profile, $4 the comment
# schema public must have after a restore, then the environment keys it holds (as
# expected_skipped takes them), "--", and olddump's options.
check_old_dump() {
	local name=$1 version=$2 profile=$3 comment=$4 keys=() role db ref out
	shift 4
	while [ "$1" != -- ]; do
		keys+=("$1")
		shift
	done
	shift
	local dump=$A/$name.dump

	case_begin "${name}_inspect"
	if ! make_old_dump "$version" "$profile" "$dump" "$@" 2>"$CASE_DIR/err"; then
		fail "olddump failed"
		case_end
		return
	fi
	EXPECTED=$(expected_skipped "$dump" "${keys[@]}")
	assert_eq "environment entries in the dump" "${#keys[@]}" "$(jq length <<<"$EXPECTED")"
	run_worker inspect --json "$dump"
	assert_exit 0
	report_is_one_object
	assert_report .dump.version "$version"
	assert_report '.problems | length' 0
	check_skipped .dump.skipped "$EXPECTED"
	report '.dump.skipped' | jq -c . >"$CASE_DIR/inspect.skipped"
	local inspect_skipped=$CASE_DIR/inspect.skipped
	case_end

	for role in app postgres; do
		case_begin "${name}_as_$role"
		db=t_${name//./_}_$role
		ref=ref_${name//./_}_$role
		reference_db "$ref" "$dump" "$role"
		db_state "$ref" >"$CASE_DIR/reference.db"
		make_target_db "$db"
		write_config "$CASE_DIR/config.yaml" database="$(role_conninfo "$db" "$role")"
		run_worker -c "$CASE_DIR/config.yaml" restore --json "$dump"
		assert_exit 0
		report_is_one_object
		assert_report .status succeeded
		assert_report .database.status restored
		assert_report .database.dump_version "$version"
		assert_report .database.errors '[]'
		check_skipped .database.skipped "$EXPECTED"
		assert_eq "database.skipped (vs inspect's dump.skipped)" "$(cat "$inspect_skipped")" \
			"$(report .database.skipped | jq -c .)"
		db_state "$db" >"$CASE_DIR/after.db"
		assert_same_file "target database (vs pg_restore -O -x as $role)" "$CASE_DIR/reference.db" \
			"$CASE_DIR/after.db"
		if ! out=$(old_dump_check_db "$db" "$dump"); then
			fail "restored data differs from the dump's: $(tr '\n' ' ' <<<"$out")"
		fi
		assert_eq "comment on schema public" "$comment" \
			"$(sql "$db" "select obj_description('public'::regnamespace, 'pg_namespace')")"
		assert_eq "comment on schema public in the reference" "$comment" \
			"$(sql "$ref" "select obj_description('public'::regnamespace, 'pg_namespace')")"
		assert_eq "objects left from the target's old state" 0 \
			"$(sql "$db" "select count(*) from pg_class where relname like 'old$%'")"
		assert_work_dir_empty
		case_end
	done
}

check_old_dump v1.10_pg83 1.10 pg83 "$STOCK_COMMENT" "$ENV_PUBLIC" "$ENV_PUBLIC_COMMENT" "$ENV_LANGUAGE" --
check_old_dump v1.11_pg84 1.11 pg84 "$STOCK_COMMENT" "$ENV_PUBLIC" "$ENV_PUBLIC_COMMENT" "$ENV_LANGUAGE" -- \
	--table-comment
check_old_dump v1.12_pg96 1.12 pg96 "$STOCK_COMMENT" "$ENV_PUBLIC" "$ENV_PUBLIC_COMMENT" "$ENV_EXTENSION" \
	"$ENV_EXTENSION_COMMENT" --
check_old_dump v1.12_pg96_offsets_unset 1.12 pg96 "$STOCK_COMMENT" "$ENV_PUBLIC" "$ENV_PUBLIC_COMMENT" \
	"$ENV_EXTENSION" "$ENV_EXTENSION_COMMENT" -- --offsets unset --rows 5000
check_old_dump v1.13_pg10 1.13 pg10 "$STOCK_COMMENT" "$ENV_PUBLIC" "$ENV_PUBLIC_COMMENT" "$ENV_EXTENSION" \
	"$ENV_EXTENSION_COMMENT" -- --table-comment
check_old_dump v1.13_pg10_custom_public_comment 1.13 pg10 "the app's own schema" "$ENV_PUBLIC" \
	"$ENV_EXTENSION" "$ENV_EXTENSION_COMMENT" -- --public-comment "the app's own schema"
check_old_dump v1.14_pg14 1.14 pg14 "$STOCK_COMMENT" --

# Nothing else is skipped. Each failing dump: name | its builder (leaves the dump in DUMP) | a
# regex of the TOC entry that must fail (as pg_restore -v and the report name it) | what the
# server's error says | the environment keys the dump holds (comma-separated).

# failing_old_dump: an archive 1.13 dump (pg_dump 10's entries) whose table comment names a
# table that does not exist ("shop$customer" rewritten in place as "shop$nocustom", same length).
# shellcheck disable=SC2016 # literal $ in the table name
failing_old_dump() {
	DUMP=$CASE_DIR/failing.dump
	make_old_dump 1.13 pg10 "$CASE_DIR/good.dump" --table-comment
	sed 's/"shop\$customer" IS '\''customers/"shop$nocustom" IS '\''customers/' "$CASE_DIR/good.dump" >"$DUMP"
	assert_eq "size of the rewritten dump" "$(stat -c %s "$CASE_DIR/good.dump")" "$(stat -c %s "$DUMP")"
	assert_eq "rewritten comments" 1 "$(grep -ac 'shop\$nocustom" IS' "$DUMP")"
}

# failing_extension_dump: a pg_dump 15 dump of a database with extension citext, rewritten in
# place to create extension "nosuch", which the server does not have.
failing_extension_dump() {
	DUMP=$CASE_DIR/failing.dump
	create_db src_ext
	sql_as_app src_ext "create extension citext; create table t (x integer); insert into t values (1)"
	dump_custom src_ext "$CASE_DIR/good.dump"
	sql postgres "drop database src_ext"
	sed 's/citext/nosuch/g' "$CASE_DIR/good.dump" >"$DUMP"
	assert_eq "size of the rewritten dump" "$(stat -c %s "$CASE_DIR/good.dump")" "$(stat -c %s "$DUMP")"
	listed_entries "$DUMP" | grep -q 'EXTENSION - nosuch$' || fail "the rewritten dump lists no EXTENSION nosuch"
}

FAILING=(
	"old_dump_failing_table_comment|failing_old_dump|^[0-9]+; 0 0 COMMENT (public )?TABLE \"shop\\\$customer\"|relation \"public.shop\$nocustom\" does not exist|$ENV_PUBLIC,$ENV_PUBLIC_COMMENT,$ENV_EXTENSION,$ENV_EXTENSION_COMMENT"
	"pg15_dump_missing_extension|failing_extension_dump|^[0-9]+; 3079 [0-9]+ EXTENSION (- )?nosuch|extension \"nosuch\" is not available|"
)
for row in "${FAILING[@]}"; do
	IFS='|' read -r name builder entry message env <<<"$row"
	for role in app postgres; do
		case_begin "${name}_as_$role"
		$builder
		IFS=, read -r -a keys <<<"$env"
		EXPECTED=$(expected_skipped "$DUMP" ${keys[@]+"${keys[@]}"})
		ref=ref_${name}_$role
		reference_db "$ref" "$DUMP" "$role" any
		grep -E "$entry" "$CASE_DIR/$ref.errors" | grep -qF "$message" ||
			fail "pg_restore as $role does not fail on /$entry/ with '$message': $(tr '\n' ' ' <"$CASE_DIR/$ref.errors")"
		make_target_db "t_${name}_$role"
		capture_state before "t_${name}_$role"
		write_config "$CASE_DIR/config.yaml" database="$(role_conninfo "t_${name}_$role" "$role")"
		run_worker -c "$CASE_DIR/config.yaml" restore --json "$DUMP"
		assert_exit 1
		report_is_one_object
		assert_report .status failed
		assert_report .database.status unchanged
		assert_error_line
		[[ $(report .error) == *"$message"* ]] || fail "the error does not say '$message': $(report .error)"
		grep -Eq "restoring ${entry#^} failed" <<<"$(report .error)" ||
			fail "the error does not name the entry /$entry/: $(report .error)"
		assert_report_true "[.database.errors[].toc_entry | test($(jq -Rn --arg e "$entry" '$e'))] == [true]" \
			"database.errors names the failing entry alone"
		# What skipped lists, if anything, is the environment entries alone.
		assert_report_true "[.database.skipped[].toc_entry] - $EXPECTED == []" \
			"database.skipped lists only environment entries"
		assert_unchanged "t_${name}_$role"
		case_end
	done
done

# Too new. A pg_dump 15 dump (archive 1.14) and the same rewritten as archive 1.15 by
# as_archive_1_15.

# as_archive_1_15: write dump $1 (archive 1.14) as archive 1.15 into $2: byte 6 is the minor
# version, and the compression, a 5-byte Int at offset 11 in 1.14 (a sign byte, then 4 bytes
# little endian: the zlib level, -1 for the default), is one byte in 1.15 (0 none, 1 gzip).
as_archive_1_15() {
	local level0 level1 level2 level3 algorithm='\x01'
	read -r _ level0 level1 level2 level3 < <(od -A n -t u1 -j 11 -N 5 "$1")
	[ "$((level0 + level1 + level2 + level3))" -eq 0 ] && algorithm='\x00'
	{
		head -c 6 "$1"
		printf '\x0f'
		head -c 11 "$1" | tail -c 4
		printf '%b' "$algorithm"
		tail -c +17 "$1"
	} >"$2"
}

make_source_db src
D14=$A/pg15.dump
D15=$A/pg15-as-1.15.dump
dump_custom src "$D14"
as_archive_1_15 "$D14" "$D15"
PG_DUMP_VERSION=$("$PG_RESTORE" -l "$D14" | sed -n 's/^;     Dumped by pg_dump version: //p')
# What the dump's data streams inflate to, measured in the source: each table's COPY text and
# pg_dump's 5-byte terminator, and each large object's bytes.
MEASURED=$(sql src "select sum(octet_length(lo_get(oid))) from pg_largeobject_metadata")
# shellcheck disable=SC2016 # literal $ in the table names
for table in '"shop$order"' '"shop$line"' '"module$two"."thing$x"'; do
	MEASURED=$((MEASURED + $(sql src "copy $table to stdout" | wc -c) + 5))
done

case_begin too_new_1.15_refused
assert_eq "header of the 1.15 dump" "80 71 68 77 80 1 15 0 4 8 1 1" \
	"$(od -A n -t u1 -N 12 "$D15" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
"$PG_RESTORE" -l "$D15" >/dev/null 2>"$CASE_DIR/pg_restore.err" && fail "pg_restore 15 reads the 1.15 dump"
grep -q 'unsupported version (1.15)' "$CASE_DIR/pg_restore.err" ||
	fail "pg_restore 15 does not refuse it as 1.15: $(cat "$CASE_DIR/pg_restore.err")"
make_target_db t_too_new
capture_state before t_too_new
write_config "$CASE_DIR/config.yaml" dbname=t_too_new
run_worker -c "$CASE_DIR/config.yaml" restore --json "$D15"
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_report .database.status unchanged
assert_error_line
for part in "archive version 1.15" "pg_dump $PG_DUMP_VERSION" "pg_restore: in the configuration" \
	"PostgreSQL 16 or later"; do
	[[ $(report .error) == *"$part"* ]] || fail "the refusal does not say '$part': $(report .error)"
done
assert_unchanged t_too_new
case_end

case_begin max_dump_version_1.13_refuses_1.14
make_target_db t_max_version
capture_state before t_max_version
write_config "$CASE_DIR/config.yaml" dbname=t_max_version max_dump_version=1.13
run_worker -c "$CASE_DIR/config.yaml" restore --json "$D14"
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_error_line
for part in "archive version 1.14" "max_dump_version" "1.13"; do
	[[ $(report .error) == *"$part"* ]] || fail "the refusal does not say '$part': $(report .error)"
done
assert_unchanged t_max_version
case_end

case_begin too_new_1.15_inspect
run_worker inspect --json "$D14"
assert_exit 0
assert_report .dump.decompressed_bytes "$MEASURED"
run_worker inspect --json "$D15"
assert_exit 1
report_is_one_object
assert_report .dump.format custom
assert_report .dump.version 1.15
assert_report .dump.compression zlib
assert_report .dump.pg_dump_version "$PG_DUMP_VERSION"
assert_report .dump.decompressed_bytes "$MEASURED"
assert_report_true '(.problems | map(select(contains("1.15") and contains("pg_restore: in the configuration"))) | length) == 1' \
	"one problem names 1.15 and pg_restore: in the configuration"
# Uncompressed (pg_dump -Z 0): the compression byte is 0.
"$PGBIN/pg_dump" -O -x -Fc -Z 0 -d src -f "$CASE_DIR/uncompressed.dump"
as_archive_1_15 "$CASE_DIR/uncompressed.dump" "$CASE_DIR/uncompressed-1.15.dump"
assert_eq "compression byte of the uncompressed 1.15 dump" 0 \
	"$(od -A n -t u1 -j 11 -N 1 "$CASE_DIR/uncompressed-1.15.dump" | tr -d ' ')"
run_worker inspect --json "$CASE_DIR/uncompressed-1.15.dump"
assert_exit 1
assert_report .dump.version 1.15
assert_report .dump.compression none
assert_report .dump.decompressed_bytes "$MEASURED"
assert_report_true '(.problems | map(select(contains("1.15"))) | length) == 1' "one problem names 1.15"
case_end

finish
