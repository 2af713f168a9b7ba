#!/usr/bin/env bash
# restore_success.sh - restores that must succeed, one case per kind of archive or option.
#
# Each case restores into a target database pre-filled with different content and a blob_dir
# holding other files, then checks the whole outcome: the target database dumps exactly like the
# source (schema, data, sequences, large objects), blob_dir holds exactly the tree files (or is
# untouched when files are not part of the restore), the report says so, and nothing is left in
# work_dir or beside blob_dir.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NFILES=6
make_source_db src
snapshot_db_state src >"$TEST_ROOT/src.state"

# The archives, all made from the same source database.
A=$TEST_ROOT/archives
mkdir -p "$A"
SNAP=$A/files_and_database-fc9e126f-201811210121.tar.gz
make_snapshot "$SNAP" src "$NFILES"
TREE=$SNAP.d/tree
cp "$SNAP" "$A/files_and_database-fc9e126f-201811210121.tgz"
pack_snapshot "$A/files_and_database-fc9e126f-201811210121.tar" "$SNAP.d"
cp "$SNAP" "$A/snapshot-named-like-a-dump.backup"
mkdir -p "$A/notree.d"
cp -r "$SNAP.d/.metadata" "$SNAP.d/db" "$A/notree.d/"
pack_snapshot "$A/files_and_database-notree.tar.gz" "$A/notree.d"
cp "$SNAP.d/db/db.backup" "$A/database-fc9e126f-201811210121.backup"
gzip -c "$SNAP.d/db/db.backup" >"$A/database-fc9e126f-201811210121.backup.gz"
cp "$SNAP.d/db/db.backup" "$A/dump-named-like-a-snapshot.tar.gz"
tar -czf "$A/dot-slash.tar.gz" -C "$SNAP.d" .
(cd "$SNAP.d" && find . -type f -printf '%P\n' | sort) >"$A/files.list"
tar -czf "$A/no-folder-entries.tar.gz" -C "$SNAP.d" --no-recursion -T "$A/files.list"
tar -czf "$A/tree-first.tar.gz" -C "$SNAP.d" tree db .metadata
pack_snapshot "$A/pax.tar.gz" "$SNAP.d" --format=pax
cp -a "$SNAP.d" "$A/emptyfile.d"
EMPTY_UUID=$(new_uuid)
mkdir -p "$A/emptyfile.d/tree/${EMPTY_UUID:0:2}/${EMPTY_UUID:2:2}"
: >"$A/emptyfile.d/tree/${EMPTY_UUID:0:2}/${EMPTY_UUID:2:2}/$EMPTY_UUID"
pack_snapshot "$A/emptyfile.tar.gz" "$A/emptyfile.d"

# make_old_blobs: fill folder $1 with files a full restore must remove or overwrite: three
# files of other uuids and one at the path of a tree file but with other content.
make_old_blobs() {
	local uuid i first
	for i in 1 2 3; do
		uuid=$(new_uuid)
		mkdir -p "$1/${uuid:0:2}/${uuid:2:2}"
		echo "old file $i" >"$1/${uuid:0:2}/${uuid:2:2}/$uuid"
	done
	first=$(cd "$TREE" && find . -type f -printf '%P\n' | sort | sed -n 1p)
	mkdir -p "$1/$(dirname "$first")"
	echo "old content of a file the backup also holds" >"$1/$first"
}

# check_database_restored: the target database $1 now holds exactly the source's objects.
check_database_restored() {
	snapshot_db_state "$1" >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	assert_eq "old\$stuff tables left" 0 "$(sql "$1" "select count(*) from pg_class where relname = 'old\$stuff'")"
	assert_eq "schema legacy left" 0 "$(sql "$1" "select count(*) from pg_namespace where nspname = 'legacy'")"
	assert_eq "large objects" "$(sql src "select count(*) from pg_largeobject_metadata")" \
		"$(sql "$1" "select count(*) from pg_largeobject_metadata")"
	assert_eq "order rows" 3000 "$(sql "$1" "select count(*) from public.\"shop\$order\"")"
}

# check_report: the report of a successful restore of archive $1 of kind $2, db_only $3, whose
# files part has status $4.
check_report() {
	report_is_one_object
	assert_report .status succeeded
	assert_report 'has("error")' false
	assert_report .source "$(basename "$1")"
	assert_report .target acceptance
	assert_report .archive_kind "$2"
	assert_report .db_only "$3"
	assert_report_true '(.job_id | type == "string" and length > 0)' "job_id is a non-empty string"
	assert_report_true '(.started_at | type == "string" and length > 0) and (.finished_at | type == "string" and length > 0)' \
		"started_at and finished_at are set"
	assert_report_true '(.warnings | type == "array")' "warnings is an array"
	assert_report .database.status restored
	assert_report .database.dump_version 1.14
	assert_report .database.errors '[]'
	assert_report_true '(.database.decompressed_bytes | type == "number" and . > 0)' "database.decompressed_bytes > 0"
	assert_report .files.status "$4"
	if [ "$4" = restored ]; then
		assert_report .files.count "$(find "$CASE_DIR/expected.tree" -type f | wc -l)"
		assert_report .files.bytes "$(find "$CASE_DIR/expected.tree" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
		assert_report .files.errors '[]'
	fi
	if [ "$2" = full_snapshot ]; then
		assert_report .metadata.dumpSize "$(jq -r .dumpSize "$SNAP.d/.metadata")"
		assert_report .metadata.filesSize "$(jq -r .filesSize "$SNAP.d/.metadata")"
	fi
	if [ "$3" = true ]; then
		assert_report_true '(.warnings | length > 0)' "a --db-only restore warns"
	fi
}

# check_files: blob_dir after a restore whose files part is $1: "tree" (exactly the tree files of
# folder $2), "empty" (no files) or "unchanged" (as before); nothing beside blob_dir either way.
check_files() {
	case $1 in
	tree | empty)
		mkdir -p "$CASE_DIR/expected.tree"
		[ "$1" = empty ] || cp -r "$2/." "$CASE_DIR/expected.tree/"
		FILES_ONLY=1 snapshot_dir_state "$CASE_DIR/expected.tree" >"$CASE_DIR/expected.files"
		FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
		assert_same_file "blob_dir (vs tree)" "$CASE_DIR/expected.files" "$CASE_DIR/after.files"
		[ -d "$BLOB_DIR" ] || fail "blob_dir does not exist after the restore"
		assert_eq "entries beside blob_dir" files "$(find "$BLOB_PARENT" -mindepth 1 -maxdepth 1 -printf '%P ' | sed 's/ $//')"
		;;
	unchanged)
		snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
		assert_same_file "blob_dir (vs before)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
		ls -A "$BLOB_PARENT" >"$CASE_DIR/after.parent"
		assert_same_file "blob_dir's parent" "$CASE_DIR/before.parent" "$CASE_DIR/after.parent"
		;;
	esac
	assert_work_dir_empty
}

# The table: name | archive | worker options | archive_kind | files part | blob_dir beforehand |
# the tree the files part must match (default: the snapshot's).
CASES=(
	"full_snapshot|$SNAP||full_snapshot|tree|old"
	"tgz_name|$A/files_and_database-fc9e126f-201811210121.tgz||full_snapshot|tree|old"
	"uncompressed_tar|$A/files_and_database-fc9e126f-201811210121.tar||full_snapshot|tree|old"
	"snapshot_named_like_a_dump|$A/snapshot-named-like-a-dump.backup||full_snapshot|tree|old"
	"snapshot_without_tree|$A/files_and_database-notree.tar.gz||full_snapshot|empty|old"
	"blob_dir_absent_before|$SNAP||full_snapshot|tree|absent"
	"db_only|$SNAP|--db-only|full_snapshot|unchanged|old"
	"db_only_blob_dir_absent|$SNAP|--db-only|full_snapshot|unchanged|absent"
	"bare_dump|$A/database-fc9e126f-201811210121.backup||database_only|unchanged|old"
	"bare_dump_gzip|$A/database-fc9e126f-201811210121.backup.gz||database_only|unchanged|old"
	"bare_dump_named_like_a_snapshot|$A/dump-named-like-a-snapshot.tar.gz||database_only|unchanged|old"
	"member_names_with_dot_slash|$A/dot-slash.tar.gz||full_snapshot|tree|old"
	"no_folder_entries|$A/no-folder-entries.tar.gz||full_snapshot|tree|old"
	"tree_before_dump|$A/tree-first.tar.gz||full_snapshot|tree|old"
	"pax_format|$A/pax.tar.gz||full_snapshot|tree|old"
	"empty_tree_file|$A/emptyfile.tar.gz||full_snapshot|tree|old|$A/emptyfile.d/tree"
)

for row in "${CASES[@]}"; do
	IFS='|' read -r name archive opts kind files blobs tree <<<"$row"
	case_begin "$name"
	make_target_db "t_$name"
	[ "$blobs" = absent ] || make_old_blobs "$BLOB_DIR"
	capture_state before "t_$name"
	write_config "$CASE_DIR/config.yaml" dbname="t_$name"
	db_only=false
	[ "$opts" = --db-only ] && db_only=true
	# shellcheck disable=SC2086 # opts is zero or one word
	run_worker -c "$CASE_DIR/config.yaml" restore $opts --json "$archive"
	assert_exit 0
	check_files "$files" "${tree:-$TREE}"
	check_report "$archive" "$kind" "$db_only" "$([ "$files" = unchanged ] && echo skipped || echo restored)"
	check_database_restored "t_$name"
	case_end
done

# Restoring the same backup twice: the second restore replaces the first one's result.
case_begin restore_twice
make_target_db t_twice
make_old_blobs "$BLOB_DIR"
write_config "$CASE_DIR/config.yaml" dbname=t_twice
run_worker -c "$CASE_DIR/config.yaml" restore --json "$SNAP"
assert_exit 0
run_worker -c "$CASE_DIR/config.yaml" restore --json "$SNAP"
assert_exit 0
check_files tree "$TREE"
check_report "$SNAP" full_snapshot false restored
check_database_restored t_twice
case_end

# --target picks a target other than the default; the default target is left alone.
case_begin other_target
make_target_db t_default
make_target_db t_other
make_old_blobs "$BLOB_DIR"
capture_state before t_default
write_config "$CASE_DIR/config.yaml" dbname=t_default
mkdir -p "$CASE_DIR/other"
cat >>"$CASE_DIR/config.yaml" <<EOF
  other:
    database: "host=$PGHOST dbname=t_other user=app"
    blob_dir: $CASE_DIR/other/files
    plan_quota: 10GB
EOF
run_worker -c "$CASE_DIR/config.yaml" restore --target other --json "$SNAP"
assert_exit 0
assert_report .target other
assert_report .status succeeded
check_database_restored t_other
FILES_ONLY=1 snapshot_dir_state "$TREE" >"$CASE_DIR/expected.files"
FILES_ONLY=1 snapshot_dir_state "$CASE_DIR/other/files" >"$CASE_DIR/other.files"
assert_same_file "other target's blob_dir (vs tree)" "$CASE_DIR/expected.files" "$CASE_DIR/other.files"
assert_unchanged t_default
case_end

# Database content that must survive the trip through pg_restore's script: text that looks
# like the script's own lines (in table data, function bodies, dollar quotes, a comment, a
# default, an identifier), a procedure that commits, and a large object of more than 1 MiB.
# Each is a bare dump of its own database.
tricky_sql() {
	case $1 in
	data_like_script_lines)
		cat <<-'EOF'
			create table "note$text" (id integer primary key, body text);
			insert into "note$text" values (1, '--'), (2, '-- Name: fake; Type: TABLE; Schema: public; Owner: -'),
				(3, '\.'), (4, 'COMMIT;'), (5, E'multi\nline\n--\n-- Name: x; Type: TABLE; Schema: public; Owner: -\n--'),
				(6, E'tab\there'), (7, 'back\slash'), (8, 'unicode ✓ €'), (9, null), (10, ''),
				(11, '-- PostgreSQL database dump complete'), (12, 'BEGIN;');
		EOF
		;;
	function_comment_name_line)
		cat <<-'EOF'
			create function "shop$label"(n text) returns text language plpgsql as $$
			begin
			-- Name: the customer's display name, upper case
			return upper(n);
			end $$;
		EOF
		;;
	function_comment_data_for_line)
		cat <<-'EOF'
			create function "shop$copy"() returns integer language plpgsql as $$
			begin
			-- Data for Name: orders are counted here
			return 1;
			end $$;
		EOF
		;;
	function_comment_dump_complete_line)
		cat <<-'EOF'
			create function "shop$done"() returns integer language plpgsql as $$
			begin
			-- PostgreSQL database dump complete
			return 2;
			end $$;
			create table "after$done" (x integer);
			insert into "after$done" values (7);
		EOF
		;;
	table_comment_with_name_line)
		cat <<-'EOF'
			create table "doc$page" (id integer);
			comment on table "doc$page" is E'Pages of the manual.\n-- Name: kept as written';
		EOF
		;;
	procedure_that_commits)
		cat <<-'EOF'
			create table "batch$log" (n integer);
			create procedure "batch$run"() language plpgsql as $$
			begin
			insert into "batch$log" values (1);
			COMMIT;
			end $$;
		EOF
		;;
	dollar_quotes_inside_body)
		cat <<-'EOF'
			create function "shop$dollars"() returns text language plpgsql as $f$
			begin
			return '$$ and $_$ inside';
			-- Name: after the dollars; Type: TABLE; Schema: public; Owner: -
			end $f$;
		EOF
		;;
	default_with_name_line)
		cat <<-'EOF'
			create table "shop$default" (id integer,
				note text default E'first line\n-- Name: second line; Type: TABLE; Schema: public; Owner: -');
			insert into "shop$default" (id) values (1);
		EOF
		;;
	identifier_with_newline)
		cat <<-'EOF'
			create table "odd
			-- Name: name; Type: TABLE; Schema: public; Owner: -
			--" ("col""quote" integer, "x FROM stdin;" text);
			insert into "odd
			-- Name: name; Type: TABLE; Schema: public; Owner: -
			--" values (1, 'a'), (2, 'b');
		EOF
		;;
	large_object_over_1mib)
		cat <<-'EOF'
			select lo_from_bytea(0, convert_to(repeat(md5('big object'), 50000), 'UTF8'));
		EOF
		;;
	esac
}
for name in data_like_script_lines function_comment_name_line function_comment_data_for_line \
	function_comment_dump_complete_line table_comment_with_name_line procedure_that_commits \
	dollar_quotes_inside_body default_with_name_line identifier_with_newline large_object_over_1mib; do
	case_begin "$name"
	create_db "s_$name"
	tricky_sql "$name" | sql_as_app "s_$name" - >/dev/null
	dump_custom "s_$name" "$CASE_DIR/database-$name.backup"
	snapshot_db_state "s_$name" >"$CASE_DIR/source.db"
	make_target_db "t_$name"
	write_config "$CASE_DIR/config.yaml" dbname="t_$name"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$CASE_DIR/database-$name.backup"
	assert_exit 0
	assert_report .status succeeded
	snapshot_db_state "t_$name" >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$CASE_DIR/source.db" "$CASE_DIR/after.db"
	assert_work_dir_empty
	case_end
done

finish
