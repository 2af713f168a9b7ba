#!/usr/bin/env bash
# inspect.sh - `inspect --json` on good and bad archives, and the command line's own errors.
#
# inspect must describe an archive (kind, metadata, dump header, files) without a config or a
# database, agree with what restore reports, and exit 1 with problems listed when the archive
# would be refused. Usage and configuration errors exit 2 and change nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NFILES=4
make_source_db src
A=$TEST_ROOT/archives
mkdir -p "$A"
SNAP=$A/files_and_database-fc9e126f-201811210121.tar.gz
make_snapshot "$SNAP" src "$NFILES"
DUMP=$SNAP.d/db/db.backup
BARE=$A/database-fc9e126f-201811210121.backup
cp "$DUMP" "$BARE"
gzip -c "$DUMP" >"$BARE.gz"
mkdir -p "$A/plain.d/db"
cp "$SNAP.d/.metadata" "$A/plain.d/"
"$PGBIN/pg_dump" -O -x -Fp -d src -f "$A/plain.d/db/db.backup"
pack_snapshot "$A/plain_sql.tar.gz" "$A/plain.d"
head -c $(($(stat -c %s "$SNAP") / 2)) "$SNAP" >"$A/truncated.tar.gz"
cp -a "$SNAP.d" "$A/badname.d"
mkdir -p "$A/badname.d/tree/ab/cd"
echo x >"$A/badname.d/tree/ab/cd/abcd-not-a-uuid"
pack_snapshot "$A/badname.tar.gz" "$A/badname.d"
"$PGBIN/pg_dump" -O -x -Fp -d src -f "$A/database-plain.backup"
TOC_ENTRIES=$("$PGBIN/pg_restore" -l "$DUMP" | sed -n 's/^;[[:space:]]*TOC Entries: //p')

# check_dump_header: the .dump part of an inspect report on the good dump.
check_dump_header() {
	assert_report .dump.format custom
	assert_report .dump.version 1.14
	assert_report .dump.toc_entries "$TOC_ENTRIES"
	assert_report .dump.dbname src
	assert_report_true '(.dump.pg_dump_version | type == "string" and startswith("15."))' \
		'dump.pg_dump_version starts with "15."'
	assert_report_true '(.dump.decompressed_bytes | type == "number" and . > 0)' "dump.decompressed_bytes > 0"
	assert_report_true 'has("problems") and (.problems | type == "array" and length == 0)' "problems is []"
}

case_begin inspect_full_snapshot
run_worker inspect --json "$SNAP"
assert_exit 0
report_is_one_object
assert_report .archive_kind full_snapshot
check_dump_header
assert_report .files.count "$NFILES"
assert_report .files.bytes $((NFILES * 4096))
assert_eq "metadata (vs .metadata)" "$(jq -S -c . "$SNAP.d/.metadata")" "$(report '.metadata | tostring' | jq -S -c . 2>/dev/null)"
INSPECT_BYTES=$(report .dump.decompressed_bytes)
# The same archive restored: the report gives the same decompressed size.
make_target_db target
write_config "$CASE_DIR/config.yaml" dbname=target
run_worker -c "$CASE_DIR/config.yaml" restore --json "$SNAP"
assert_exit 0
assert_report .database.decompressed_bytes "$INSPECT_BYTES"
case_end

# Bare dumps (plain file and gzip-wrapped) are database_only, whatever their names.
for row in "inspect_bare_dump|$BARE" "inspect_bare_dump_gzip|$BARE.gz"; do
	IFS='|' read -r name archive <<<"$row"
	case_begin "$name"
	run_worker inspect --json "$archive"
	assert_exit 0
	report_is_one_object
	assert_report .archive_kind database_only
	check_dump_header
	assert_report .dump.decompressed_bytes "$INSPECT_BYTES"
	case_end
done

# Archives restore would refuse: exit 1 and the problems listed.
for row in "inspect_snapshot_with_plain_sql|$A/plain_sql.tar.gz" \
	"inspect_bare_plain_sql|$A/database-plain.backup" "inspect_truncated|$A/truncated.tar.gz" \
	"inspect_bad_tree_name|$A/badname.tar.gz"; do
	IFS='|' read -r name archive <<<"$row"
	case_begin "$name"
	run_worker inspect --json "$archive"
	assert_exit 1
	report_is_one_object
	assert_report_true '(.problems | type == "array" and length > 0)' "problems is not empty"
	case_end
done

# Inputs of no known kind: archive_kind "unknown" (not database_only, not full_snapshot), exit 1,
# and the refusal says what the input is where it can. Table: name | file | a word the problem
# must hold.
"$PGBIN/pg_dump" -O -x -Ft -d src -f "$A/database-tar.backup"
printf 'this is a text file, not a backup\n%.0s' {1..300} >"$A/text.backup"
head -c 20000 /dev/urandom >"$A/random.backup"
(cd "$A" && zip -q zip.backup text.backup)
printf 'select 1;\n' | gzip >"$A/gzipped-sql.backup"
for row in "inspect_kind_tar_format_dump|$A/database-tar.backup|pg_dump -Ft" \
	"inspect_kind_text|$A/text.backup|neither" "inspect_kind_random_bytes|$A/random.backup|neither" \
	"inspect_kind_zip|$A/zip.backup|neither" "inspect_kind_plain_sql|$A/database-plain.backup|plain SQL" \
	"inspect_kind_gzipped_sql|$A/gzipped-sql.backup|gzip"; do
	IFS='|' read -r name archive word <<<"$row"
	case_begin "$name"
	run_worker inspect --json "$archive"
	assert_exit 1
	report_is_one_object
	assert_report .archive_kind unknown
	assert_report_true "(.problems | length == 1 and (.[0] | contains(\"$word\")))" "the problem names '$word'"
	case_end
done
case_begin inspect_kind_tar_format_dump_says_use_fc
run_worker inspect --json "$A/database-tar.backup"
assert_report_true '(.problems[0] | contains("pg_dump -Fc"))' "the problem says to use pg_dump -Fc"
case_end
case_begin inspect_kind_snapshot_with_plain_sql
run_worker inspect --json "$A/plain_sql.tar.gz"
assert_exit 1
assert_report .archive_kind full_snapshot
case_end

case_begin inspect_missing_archive
run_worker inspect --json "$A/does-not-exist.tar.gz"
assert_exit 1
case_end

case_begin help
run_worker --help
assert_exit 0
grep -q inspect "$CASE_DIR/out" "$CASE_DIR/err" || fail "--help does not mention inspect"
grep -q restore "$CASE_DIR/out" "$CASE_DIR/err" || fail "--help does not mention restore"
case_end

case_begin version
run_worker --version
assert_exit 0
grep -Eq '[0-9]+\.[0-9]+' "$CASE_DIR/out" || fail "--version prints no version number on stdout"
case_end

# Usage and configuration errors: exit 2, the target untouched. Table: name | config overrides
# (or "none" for no config file, "yaml" for a syntax error) | worker arguments after -c CONFIG.
make_target_db t_usage
USAGE_CASES=(
	"unknown_command||frobnicate $SNAP"
	"no_command||"
	"restore_without_archive||restore --json"
	"inspect_without_archive||inspect --json"
	"unknown_restore_option||restore --bogus --json $SNAP"
	"two_archives||restore --json $SNAP $SNAP"
	"config_unknown_target_key|colour=blue|restore --json $SNAP"
	"config_bad_size|plan_quota=10 GB|restore --json $SNAP"
	"config_unknown_size_unit|plan_quota=10XB|restore --json $SNAP"
	"config_negative_size|restore_overhead=-1GB|restore --json $SNAP"
	"config_bad_max_dump_version|max_dump_version=latest|restore --json $SNAP"
	"config_without_work_dir|work_dir=|restore --json $SNAP"
	"config_work_dir_missing|work_dir=/nonexistent/rw-work|restore --json $SNAP"
	"config_without_plan_quota|plan_quota=|restore --json $SNAP"
	"config_without_blob_dir|blob_dir=|restore --json $SNAP"
	"config_default_target_unknown|default_target=production|restore --json $SNAP"
	"config_missing_file|none|restore --json $SNAP"
	"config_yaml_syntax_error|yaml|restore --json $SNAP"
	"unknown_target_option||restore --target production --json $SNAP"
)
for row in "${USAGE_CASES[@]}"; do
	IFS='|' read -r name config args <<<"$row"
	case_begin "$name"
	mkdir -p "$BLOB_DIR"
	echo "old" >"$BLOB_DIR/keep"
	capture_state before t_usage
	case $config in
	none) ;;
	yaml)
		write_config "$CASE_DIR/config.yaml" dbname=t_usage
		printf 'targets: [unclosed\n' >>"$CASE_DIR/config.yaml"
		;;
	*)
		overrides=(dbname=t_usage)
		[ -z "$config" ] || overrides+=("$config")
		write_config "$CASE_DIR/config.yaml" "${overrides[@]}"
		;;
	esac
	# shellcheck disable=SC2086 # args are words
	run_worker -c "$CASE_DIR/config.yaml" $args
	assert_exit 2
	assert_unchanged t_usage
	case_end
done

finish
