#!/usr/bin/env bash
# olddump.sh - dumps in the formats old pg_dump versions wrote (tests/tools/olddump), as
# PostgreSQL 15's pg_restore and restore-worker's inspect read them.
#
# For each archive version (1.10 to 1.14) and profile: pg_restore -l lists exactly the entries
# that pg_dump version wrote; pg_restore reading the dump from a pipe sets up the session as
# the archive says (SEARCHPATH, or search_path per entry for older archives); pg_restore -O -x
# into a fresh database as superuser restores every table with exactly the rows written
# (row counts and the md5 of COPY TO STDOUT), the sequence, the keys, indexes and comments. Its
# only errors are the environment entries issue 7 is about (CREATE SCHEMA public: "already
# exists"; for 8.x dumps CREATE PROCEDURAL LANGUAGE plpgsql), recorded in the output as
# "# pg_restore errors". And `inspect --json` reads 1.12 to 1.14 (version, TOC entries,
# decompressed size equal to what was written), 1.10 and 1.11 included.
#
# It does not restore these dumps with restore-worker: that is issue 7's work.
set -euo pipefail
if [ -z "${OLDDUMP:-}" ] || [ ! -x "$OLDDUMP" ]; then
	echo "olddump.sh: OLDDUMP must name the olddump binary (got '${OLDDUMP:-}')" >&2
	exit 2
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/olddump_lib.sh"

PG_RESTORE=$PGBIN/pg_restore
A=$TEST_ROOT/dumps
mkdir -p "$A"
DB_COUNT=0

# expected_toc: the "DESC NAMESPACE TAG OWNER" lines pg_restore -l must list for profile $1
# with entry flags: public schema ($2), public comment ($3), plpgsql ($4), table comment ($5),
# three tables ($6), all 0 or 1.
# shellcheck disable=SC2016 # the $ in table names is literal
expected_toc() {
	local profile=$1 public=$2 comment=$3 plpgsql=$4 table_comment=$5 three=$6
	local modern=0
	[ "$profile" = pg14 ] && modern=1
	[ "$public" = 1 ] && echo "SCHEMA - public postgres"
	[ "$comment" = 1 ] && echo "COMMENT - SCHEMA public postgres"
	if [ "$plpgsql" = 1 ]; then
		case $profile in
		pg83 | pg84) echo "PROCEDURAL LANGUAGE - plpgsql postgres" ;;
		*)
			echo "EXTENSION - plpgsql "
			echo "COMMENT - EXTENSION plpgsql "
			;;
		esac
	fi
	echo 'TABLE public shop$customer mendix'
	[ "$table_comment" = 1 ] && echo 'COMMENT public TABLE "shop$customer" mendix'
	echo 'SEQUENCE public shop$customer_id_seq mendix'
	echo 'SEQUENCE OWNED BY public shop$customer_id_seq mendix'
	echo 'TABLE public shop$order mendix'
	[ "$three" = 1 ] && echo 'TABLE public mendixsystem$version mendix'
	if [ "$modern" = 1 ]; then
		echo 'DEFAULT public shop$customer id mendix'
	else
		echo 'DEFAULT public id mendix'
	fi
	echo 'TABLE DATA public shop$customer mendix'
	echo 'TABLE DATA public shop$order mendix'
	[ "$three" = 1 ] && echo 'TABLE DATA public mendixsystem$version mendix'
	echo 'SEQUENCE SET public shop$customer_id_seq mendix'
	if [ "$modern" = 1 ]; then
		echo 'CONSTRAINT public shop$customer shop$customer_pkey mendix'
		echo 'CONSTRAINT public shop$order shop$order_pkey mendix'
	else
		echo 'CONSTRAINT public shop$customer_pkey mendix'
		echo 'CONSTRAINT public shop$order_pkey mendix'
	fi
	echo 'INDEX public idx_shop$customer_name mendix'
	echo 'INDEX public idx_shop$order_customer mendix'
	if [ "$modern" = 1 ]; then
		echo 'FK CONSTRAINT public shop$order shop$order_customer_fkey mendix'
	else
		echo 'FK CONSTRAINT public shop$order_customer_fkey mendix'
	fi
	return 0
}

# listed_toc: the entries pg_restore -l lists for dump $1, without their dump ids and oids.
listed_toc() {
	"$PG_RESTORE" -l "$1" | grep -v '^;' | sed -E 's/^[0-9]+; [0-9]+ [0-9]+ //'
}

# check_old_dump: one case. $1 name, $2 archive version, $3 profile, then olddump options.
# EXPECT_* variables say what the dump holds (see expected_toc), EXPECT_ERRORS the pg_restore
# errors (a regex of the TOC entries allowed and required to fail, or empty for none).
check_old_dump() {
	local name=$1 version=$2 profile=$3
	shift 3
	local dump=$A/$name.dump db out
	case_begin "$name"
	if ! make_old_dump "$version" "$profile" "$dump" "$@" 2>"$CASE_DIR/err"; then
		fail "olddump failed"
		case_end
		return
	fi

	# The summary's decompressed size is the COPY text olddump saved plus 5 bytes a table.
	local copy_bytes ntables
	copy_bytes=$(cat "$dump.data"/*.copy | wc -c)
	ntables=$(old_dump_tables "$dump" | wc -l)
	assert_eq "decompressed_bytes in the summary" "$((copy_bytes + 5 * ntables))" \
		"$(old_dump_decompressed "$dump")"

	# What pg_restore 15 lists.
	"$PG_RESTORE" -l "$dump" >"$CASE_DIR/list" 2>"$CASE_DIR/err" || fail "pg_restore -l failed"
	grep -q "^;     Dump Version: $version-0\$" "$CASE_DIR/list" ||
		fail "pg_restore -l does not say Dump Version: $version-0"
	grep -q "^;     TOC Entries: $(old_dump_toc_entries "$dump")\$" "$CASE_DIR/list" ||
		fail "pg_restore -l gives another TOC entry count than olddump wrote"
	expected_toc "$profile" "$EXPECT_PUBLIC" "$EXPECT_PUBLIC_COMMENT" "$EXPECT_PLPGSQL" \
		"$EXPECT_TABLE_COMMENT" "$EXPECT_THREE" >"$CASE_DIR/toc.expected"
	listed_toc "$dump" >"$CASE_DIR/toc.listed"
	assert_same_file "pg_restore -l" "$CASE_DIR/toc.expected" "$CASE_DIR/toc.listed"

	# Read sequentially from a pipe, as a script: the session set-up the archive asks for.
	if ! cat "$dump" | "$PG_RESTORE" -O -x -f - >"$CASE_DIR/script.sql" 2>"$CASE_DIR/err"; then
		fail "pg_restore from a pipe failed"
	fi
	grep -q "^SET client_encoding = 'UTF8';" "$CASE_DIR/script.sql" ||
		fail "the script does not set the ENCODING entry's client_encoding"
	if [ "$EXPECT_SEARCHPATH" = 1 ]; then
		grep -q "^SELECT pg_catalog.set_config('search_path', '', false);" "$CASE_DIR/script.sql" ||
			fail "the script does not run the SEARCHPATH entry"
	else
		grep -q '^SET search_path = public, pg_catalog;' "$CASE_DIR/script.sql" ||
			fail "the script does not set search_path per entry (an archive without SEARCHPATH)"
	fi
	[ "$(grep -c '^\\\.$' "$CASE_DIR/script.sql")" = "$(old_dump_tables "$dump" | wc -l)" ] ||
		fail "the script does not hold one COPY block per table"

	# Restored as superuser into a fresh database.
	DB_COUNT=$((DB_COUNT + 1))
	db=old$DB_COUNT
	sql postgres "create database $db"
	set +e
	"$PG_RESTORE" -v -O -x -d "$db" "$dump" 2>"$CASE_DIR/restore.err"
	local status=$?
	set -e
	old_dump_restore_errors "$CASE_DIR/restore.err" >"$CASE_DIR/errors"
	if [ -s "$CASE_DIR/errors" ]; then
		sed 's/^/# pg_restore errors: /' "$CASE_DIR/errors"
	fi
	if [ -n "$EXPECT_ERRORS" ]; then
		[ "$status" = 1 ] || fail "pg_restore exited $status, expected 1 (errors ignored)"
		if grep -Ev "$EXPECT_ERRORS" "$CASE_DIR/errors" >"$CASE_DIR/errors.other"; then
			fail "pg_restore errors besides the environment entries: $(tr '\n' ' ' <"$CASE_DIR/errors.other")"
		fi
		local want
		while IFS= read -r want; do
			grep -Eq "$want" "$CASE_DIR/errors" || fail "no pg_restore error for $want"
		done < <(tr '|' '\n' <<<"$EXPECT_ERRORS")
	else
		[ "$status" = 0 ] || fail "pg_restore exited $status, expected 0"
		[ ! -s "$CASE_DIR/errors" ] || fail "pg_restore errors: $(tr '\n' ' ' <"$CASE_DIR/errors")"
	fi
	if ! out=$(old_dump_check_db "$db" "$dump"); then
		fail "restored data differs: $(tr '\n' ' ' <<<"$out")"
	fi
	assert_eq "primary and foreign keys" 3 "$(sql "$db" "select count(*) from pg_constraint
		where conrelid in ('public.\"shop\$customer\"'::regclass, 'public.\"shop\$order\"'::regclass)")"
	assert_eq "indexes" 4 "$(sql "$db" "select count(*) from pg_indexes where schemaname = 'public'")"
	# shellcheck disable=SC2016 # a literal $
	assert_eq "sequence owned by shop\$customer.id" 'public."shop$customer_id_seq"' \
		"$(sql "$db" "select pg_get_serial_sequence('public.\"shop\$customer\"', 'id')")"
	if [ "$EXPECT_TABLE_COMMENT" = 1 ]; then
		assert_eq "table comment" "customers of the shop" \
			"$(sql "$db" "select obj_description('public.\"shop\$customer\"'::regclass, 'pg_class')")"
	fi
	assert_eq "comment on schema public" "$EXPECT_PUBLIC_COMMENT_TEXT" \
		"$(sql "$db" "select obj_description('public'::regnamespace, 'pg_namespace')")"

	# What inspect says.
	run_worker inspect --json "$dump"
	if [ "$EXPECT_INSPECT" = read ]; then
		assert_exit 0
		report_is_one_object
		assert_report .dump.format custom
		assert_report .dump.version "$version"
		assert_report .dump.toc_entries "$(old_dump_toc_entries "$dump")"
		assert_report .dump.decompressed_bytes "$(old_dump_decompressed "$dump")"
		assert_report .dump.written_to_pipe "$EXPECT_PIPE"
		assert_report .dump.compression "$EXPECT_COMPRESSION"
		assert_report .dump.dbname mendix
		assert_report '.problems | length' 0
	else
		# No profile expects a refusal now: 1.10 and 1.11 are read since issue 7.
		assert_exit 1
		report_is_one_object
		assert_report_true "(.problems | map(select(contains(\"archive version $version\"))) | length) > 0" \
			"a problem names archive version $version"
		echo "# inspect: $(report '.problems | join("; ")')"
	fi
	case_end
}

# expect: set the EXPECT_* variables for a profile's defaults, then apply key=value overrides.
expect() {
	local profile=$1 kv
	shift
	EXPECT_PUBLIC=1 EXPECT_PUBLIC_COMMENT=1 EXPECT_PLPGSQL=1 EXPECT_TABLE_COMMENT=0 EXPECT_THREE=1
	EXPECT_PUBLIC_COMMENT_TEXT="standard public schema"
	EXPECT_SEARCHPATH=0 EXPECT_INSPECT=read EXPECT_PIPE=false EXPECT_COMPRESSION=zlib
	EXPECT_ERRORS='SCHEMA public '
	case $profile in
	pg83 | pg84)
		EXPECT_ERRORS='SCHEMA public |PROCEDURAL LANGUAGE plpgsql '
		;;
	pg10) EXPECT_SEARCHPATH=1 ;;
	pg14)
		EXPECT_PUBLIC=0 EXPECT_PUBLIC_COMMENT=0 EXPECT_PLPGSQL=0 EXPECT_SEARCHPATH=1
		EXPECT_ERRORS=
		;;
	esac
	for kv in "$@"; do
		eval "EXPECT_${kv%%=*}=\${kv#*=}"
	done
}

expect pg83
check_old_dump v1.10_pg83 1.10 pg83
expect pg84 TABLE_COMMENT=1
check_old_dump v1.11_pg84 1.11 pg84 --table-comment
expect pg96
check_old_dump v1.12_pg96 1.12 pg96
expect pg96 THREE=0 COMPRESSION=none
check_old_dump v1.12_pg96_uncompressed_two_tables 1.12 pg96 -Z 0 --tables 2
expect pg96 PIPE=true
check_old_dump v1.12_pg96_big_written_to_pipe 1.12 pg96 --rows 60000 --offsets unset
expect pg96
check_old_dump v1.12_pg96_empty_tables 1.12 pg96 --rows 0
expect pg10 TABLE_COMMENT=1
check_old_dump v1.13_pg10 1.13 pg10 --table-comment
expect pg10 PUBLIC_COMMENT_TEXT="the app's own schema" PIPE=true
check_old_dump v1.13_pg10_custom_public_comment 1.13 pg10 --public-comment "the app's own schema" \
	--offsets unset
expect pg10 PUBLIC_COMMENT=0 PLPGSQL=0
check_old_dump v1.13_pg10_only_public_schema 1.13 pg10 --no-public-comment --no-plpgsql
expect pg14
check_old_dump v1.14_pg14 1.14 pg14
expect pg10 TABLE_COMMENT=1
check_old_dump v1.14_with_pg10_entries 1.14 pg10 --table-comment -Z 9

# The tool's own contract: the same command writes the same bytes; usage errors exit 2.
case_begin olddump_reproducible
make_old_dump 1.12 - "$A/again1.dump" --rows 500
make_old_dump 1.12 - "$A/again2.dump" --rows 500
cmp -s "$A/again1.dump" "$A/again2.dump" || fail "two runs wrote different dumps"
set +e
"$OLDDUMP" --version 1.9 -o "$A/bad.dump" >/dev/null 2>&1
[ $? = 2 ] || fail "--version 1.9 is not a usage error"
"$OLDDUMP" --version 1.12 --profile pg99 -o "$A/bad.dump" >/dev/null 2>&1
[ $? = 2 ] || fail "an unknown profile is not a usage error"
"$OLDDUMP" --help >"$CASE_DIR/out" 2>&1 || fail "--help failed"
set -e
grep -q -- '--profile' "$CASE_DIR/out" || fail "--help does not document --profile"
case_end

finish
