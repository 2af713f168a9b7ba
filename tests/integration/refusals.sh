#!/usr/bin/env bash
# refusals.sh - archives and targets that must be refused before anything changes.
#
# A table of scenarios: each names a builder that makes (or mutilates) the archive, the config or
# the target. For each the worker must exit 1 with status "rejected" and a one-line error, and the
# target database, blob_dir and the folder around it must be exactly as before, work_dir empty,
# and nothing written outside (archive entries that try to escape).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

make_source_db src
BASE=$TEST_ROOT/base/files_and_database-fc9e126f-201811210121.tar.gz
mkdir -p "$(dirname "$BASE")"
make_snapshot "$BASE" src 3
DUMP=$BASE.d/db/db.backup

# Builders: each runs with CASE_DIR set, leaves the archive to restore in ARCHIVE, and may add
# config overrides to CONFIG_ARGS, set AFTER_CASE to a command checking and undoing what it set
# up, or set SKIP_REASON and return 77 when it cannot run here.

# copy_base: a mutable copy of the good snapshot's content in folder S.
copy_base() {
	S=$CASE_DIR/s
	cp -a "$BASE.d" "$S"
}

# pack: tar and gzip S into ARCHIVE.
pack() {
	ARCHIVE=$CASE_DIR/backup.tar.gz
	pack_snapshot "$ARCHIVE" "$S"
}

# tree_path: a fresh valid tree path tree/xx/yy/<uuid> in S, its folders made.
tree_path() {
	local uuid
	uuid=$(new_uuid)
	mkdir -p "$S/tree/${uuid:0:2}/${uuid:2:2}"
	echo "$S/tree/${uuid:0:2}/${uuid:2:2}/$uuid"
}

# with_extra_member: pack S, then append file evil under the name $1 (absolute names kept).
with_extra_member() {
	ARCHIVE=$CASE_DIR/backup.tar.gz
	echo "this must not be written anywhere" >"$CASE_DIR/evil"
	pack_snapshot "$CASE_DIR/backup.tar" "$S"
	tar -r -f "$CASE_DIR/backup.tar" -P --transform "s,^evil,$1," -C "$CASE_DIR" evil 2>/dev/null
	gzip -c "$CASE_DIR/backup.tar" >"$ARCHIVE"
	rm "$CASE_DIR/backup.tar"
}

# with_dump: replace db/db.backup in S by pg_dump output with the options given.
with_dump() {
	rm -rf "$S/db/db.backup"
	"$PGBIN/pg_dump" -O -x "$@" -d src -f "$S/db/db.backup"
}

# must_not_restore: fail the fixture unless pg_restore itself refuses dump $1 (so the case
# really tests a corrupt dump).
must_not_restore() {
	if "$PGBIN/pg_restore" -f /dev/null "$1" 2>/dev/null; then
		echo "fixture error: pg_restore accepts the mutilated dump $1" >&2
		exit 1
	fi
}

# flip_bytes: overwrite 8 bytes of file $1 at $2 percent of its length.
flip_bytes() {
	local off=$(($(stat -c %s "$1") * $2 / 100))
	printf '\xff\x00\xff\x00\xff\x00\xff\x00' | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
}

build_archive_missing() { ARCHIVE=$CASE_DIR/does-not-exist.tar.gz; }
build_archive_is_a_directory() {
	ARCHIVE=$CASE_DIR/folder.tar.gz
	mkdir "$ARCHIVE"
}
build_archive_unreadable() {
	[ "$(id -u)" -ne 0 ] || { SKIP_REASON="root reads any file"; return 77; }
	ARCHIVE=$CASE_DIR/unreadable.tar.gz
	cp "$BASE" "$ARCHIVE"
	chmod 000 "$ARCHIVE"
}
build_archive_empty() {
	ARCHIVE=$CASE_DIR/empty.tar.gz
	: >"$ARCHIVE"
}
build_archive_truncated_gzip() {
	ARCHIVE=$CASE_DIR/truncated.tar.gz
	head -c $(($(stat -c %s "$BASE") / 2)) "$BASE" >"$ARCHIVE"
}
build_archive_truncated_tar() {
	copy_base
	pack_snapshot "$CASE_DIR/full.tar" "$S"
	ARCHIVE=$CASE_DIR/truncated.tar
	head -c $(($(stat -c %s "$CASE_DIR/full.tar") / 2)) "$CASE_DIR/full.tar" >"$ARCHIVE"
}
build_archive_truncated_tree_file() {
	copy_base
	pack_snapshot "$CASE_DIR/full.tar" "$S" --blocking-factor=1 # no padding: the cut hits the last file
	ARCHIVE=$CASE_DIR/truncated.tar
	head -c $(($(stat -c %s "$CASE_DIR/full.tar") - 3000)) "$CASE_DIR/full.tar" >"$ARCHIVE"
}
build_not_an_archive() {
	ARCHIVE=$CASE_DIR/backup.tar.gz
	printf 'this is a text file, not a backup\n%.0s' {1..300} >"$ARCHIVE"
}
build_gzip_of_text() {
	ARCHIVE=$CASE_DIR/backup.tar.gz
	printf 'this is a text file, not a backup\n%.0s' {1..300} | gzip >"$ARCHIVE"
}
build_metadata_malformed() {
	copy_base
	printf '{"duration":"0","dumpSize":' >"$S/.metadata"
	pack
}
build_no_dump() {
	copy_base
	rm -r "$S/db"
	pack
}
build_db_folder_without_dump() {
	copy_base
	rm "$S/db/db.backup"
	pack
}
build_files_only() {
	copy_base
	rm -r "$S/db" "$S/.metadata"
	pack
}
build_dump_plain_sql() {
	copy_base
	with_dump -Fp
	pack
}
build_dump_gzipped_sql() {
	copy_base
	rm "$S/db/db.backup"
	"$PGBIN/pg_dump" -O -x -Fp -d src | gzip >"$S/db/db.backup"
	pack
}
build_dump_tar_format() {
	copy_base
	with_dump -Ft
	pack
}
build_dump_directory_format() {
	copy_base
	with_dump -Fd
	pack
}
build_bare_plain_sql() {
	ARCHIVE=$CASE_DIR/database-fc9e126f-201811210121.backup
	"$PGBIN/pg_dump" -O -x -Fp -d src -f "$ARCHIVE"
}
build_bare_tar_format() {
	ARCHIVE=$CASE_DIR/database-fc9e126f-201811210121.backup
	"$PGBIN/pg_dump" -O -x -Ft -d src -f "$ARCHIVE"
}
build_random_bytes() {
	ARCHIVE=$CASE_DIR/backup.tar.gz
	head -c 20000 /dev/urandom >"$ARCHIVE"
}
build_zip_archive() {
	copy_base
	ARCHIVE=$CASE_DIR/backup.zip
	(cd "$S" && zip -q -r "$ARCHIVE" .metadata db tree)
}
build_dump_version_too_new() {
	ARCHIVE=$BASE
	CONFIG_ARGS+=(max_dump_version=1.13)
}
build_dump_data_corrupt_middle() {
	copy_base
	flip_bytes "$S/db/db.backup" 50
	must_not_restore "$S/db/db.backup"
	pack
}
build_dump_data_corrupt_end() {
	copy_base
	flip_bytes "$S/db/db.backup" 90
	must_not_restore "$S/db/db.backup"
	pack
}
build_dump_truncated() {
	copy_base
	head -c $(($(stat -c %s "$DUMP") * 80 / 100)) "$DUMP" >"$S/db/db.backup"
	must_not_restore "$S/db/db.backup"
	pack
}
build_bare_dump_truncated() {
	ARCHIVE=$CASE_DIR/database-fc9e126f-201811210121.backup
	head -c $(($(stat -c %s "$DUMP") * 80 / 100)) "$DUMP" >"$ARCHIVE"
}
build_entry_absolute_path() {
	copy_base
	with_extra_member "$TEST_ROOT/escaped/evil"
}
build_entry_dotdot_in_tree() {
	copy_base
	with_extra_member "tree/../../escaped-evil"
}
build_entry_dotdot_at_top() {
	copy_base
	with_extra_member "../escaped-evil"
}
build_entry_symlink_in_tree() {
	copy_base
	ln -s /etc/passwd "$(tree_path)"
	pack
}
build_entry_symlink_as_dump() {
	copy_base
	cp "$DUMP" "$CASE_DIR/outside.backup"
	rm "$S/db/db.backup"
	ln -s "$CASE_DIR/outside.backup" "$S/db/db.backup"
	pack
}
build_entry_hardlink_in_tree() {
	copy_base
	ln "$(find "$S/tree" -type f | sed -n 1p)" "$(tree_path)"
	pack
	grep -q '^h' <<<"$(tar -tvzf "$ARCHIVE")" || { echo "fixture error: no hard link in $ARCHIVE" >&2; exit 1; }
}
build_entry_fifo_in_tree() {
	copy_base
	mkfifo "$(tree_path)"
	pack
}
build_entry_device_in_tree() {
	copy_base
	mknod "$(tree_path)" c 1 3 2>/dev/null || { SKIP_REASON="mknod needs root"; return 77; }
	pack
}
build_dump_is_a_directory() {
	copy_base
	rm "$S/db/db.backup"
	mkdir "$S/db/db.backup"
	pack
}
build_tree_file_is_a_directory() {
	copy_base
	mkdir "$(tree_path)"
	pack
}
build_tree_name_not_a_uuid() {
	copy_base
	mkdir -p "$S/tree/ab/cd"
	echo x >"$S/tree/ab/cd/abcd-not-a-uuid"
	pack
}
build_tree_uuid_uppercase() {
	copy_base
	local uuid
	uuid=$(new_uuid | tr 'a-f' 'A-F')
	mkdir -p "$S/tree/${uuid:0:2}/${uuid:2:2}"
	echo x >"$S/tree/${uuid:0:2}/${uuid:2:2}/$uuid"
	pack
}
build_tree_folders_do_not_match_uuid() {
	copy_base
	local uuid
	uuid=$(new_uuid)
	uuid=ff${uuid:2}
	mkdir -p "$S/tree/00/11"
	echo x >"$S/tree/00/11/$uuid"
	pack
}
build_tree_file_one_level() {
	copy_base
	local uuid
	uuid=$(new_uuid)
	mkdir -p "$S/tree/${uuid:0:2}"
	echo x >"$S/tree/${uuid:0:2}/$uuid"
	pack
}
build_tree_file_at_top_of_tree() {
	copy_base
	echo x >"$S/tree/$(new_uuid)"
	pack
}
build_tree_file_twice() {
	copy_base
	pack_snapshot "$CASE_DIR/backup.tar" "$S"
	tar -r -f "$CASE_DIR/backup.tar" -C "$S" "$(cd "$S" && find tree -type f | sed -n 1p)"
	ARCHIVE=$CASE_DIR/backup.tar
}
build_dump_twice() {
	copy_base
	pack_snapshot "$CASE_DIR/backup.tar" "$S"
	tar -r -f "$CASE_DIR/backup.tar" -C "$S" db/db.backup
	ARCHIVE=$CASE_DIR/backup.tar
}
build_target_database_missing() {
	ARCHIVE=$BASE
	CONFIG_ARGS+=(dbname=no_such_database)
	AFTER_CASE="assert_eq 'databases named no_such_database' 0 \"\$(sql postgres \"select count(*) from pg_database where datname = 'no_such_database'\")\""
}
build_target_in_use() {
	ARCHIVE=$BASE
	PGAPPNAME=myapp PGUSER=app "$PGBIN/psql" -X -q -d "$TARGET_DB" -c 'select pg_sleep(60)' >/dev/null 2>&1 &
	BUSY_PID=$!
	local i
	for i in $(seq 100); do
		[ "$(busy_sessions)" = 1 ] && break
		sleep 0.1
	done
	[ "$(busy_sessions)" = 1 ] || { echo "fixture error: the myapp session did not start" >&2; exit 1; }
	AFTER_CASE="assert_eq 'myapp sessions after the refusal' 1 \"\$(busy_sessions)\"; kill $BUSY_PID 2>/dev/null || true; wait $BUSY_PID 2>/dev/null || true"
}
busy_sessions() {
	sql postgres "select count(*) from pg_stat_activity where application_name = 'myapp' and datname = '$TARGET_DB'"
}
build_quota_exceeded() {
	ARCHIVE=$BASE
	CONFIG_ARGS+=(plan_quota=100kB restore_overhead=0B)
}
build_quota_below_default_overhead() {
	ARCHIVE=$BASE
	CONFIG_ARGS+=(plan_quota=2GB)
}

CASES=(
	archive_missing archive_is_a_directory archive_unreadable archive_empty
	archive_truncated_gzip archive_truncated_tar archive_truncated_tree_file
	not_an_archive gzip_of_text metadata_malformed
	no_dump db_folder_without_dump files_only
	dump_plain_sql dump_gzipped_sql dump_tar_format dump_directory_format bare_plain_sql
	bare_tar_format random_bytes zip_archive
	dump_version_too_new dump_data_corrupt_middle dump_data_corrupt_end dump_truncated
	bare_dump_truncated
	entry_absolute_path entry_dotdot_in_tree entry_dotdot_at_top entry_symlink_in_tree
	entry_symlink_as_dump entry_hardlink_in_tree entry_fifo_in_tree entry_device_in_tree
	dump_is_a_directory tree_file_is_a_directory
	tree_name_not_a_uuid tree_uuid_uppercase tree_folders_do_not_match_uuid
	tree_file_one_level tree_file_at_top_of_tree tree_file_twice dump_twice
	target_database_missing target_in_use quota_exceeded quota_below_default_overhead
)

# The report's archive_kind where the case decides it: unknown for what is neither a
# snapshot's tar nor a custom-format dump; a pg_dump -Ft archive is a tar, but no snapshot.
declare -A KIND=(
	[archive_missing]=unknown [archive_empty]=unknown [not_an_archive]=unknown
	[gzip_of_text]=unknown [bare_plain_sql]=unknown [bare_tar_format]=unknown
	[random_bytes]=unknown [zip_archive]=unknown
	[dump_plain_sql]=full_snapshot [dump_tar_format]=full_snapshot [metadata_malformed]=full_snapshot
	[bare_dump_truncated]=database_only [dump_version_too_new]=full_snapshot
)
# What the error must say, where the case decides it.
declare -A SAYS=(
	[bare_tar_format]="pg_dump -Ft" [dump_tar_format]="pg_dump -Fc"
)

# One target database serves every case, as each must leave it exactly as it was: its state is
# taken once (and again after a case that changed it, which then failed), not for each case.
TARGET_DB=t_target
fresh_target() {
	sql postgres "drop database if exists $TARGET_DB"
	make_target_db "$TARGET_DB"
	snapshot_db_state "$TARGET_DB" >"$TEST_ROOT/target.db"
}
fresh_target

for name in "${CASES[@]}"; do
	case_begin "$name"
	CONFIG_ARGS=()
	AFTER_CASE=
	SKIP_REASON=
	old_blobs
	status=0
	"build_$name" || status=$?
	if [ "$status" = 77 ]; then
		case_skip "$name" "$SKIP_REASON"
		continue
	fi
	[ "$status" = 0 ] || { echo "builder for $name failed" >&2; exit 1; }
	cp "$TEST_ROOT/target.db" "$CASE_DIR/before.db"
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/before.files"
	ls -A "$BLOB_PARENT" >"$CASE_DIR/before.parent"
	write_config "$CASE_DIR/config.yaml" dbname="$TARGET_DB" "${CONFIG_ARGS[@]}"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE"
	assert_exit 1
	report_is_one_object
	assert_report .status rejected
	assert_error_line
	[ -z "${KIND[$name]:-}" ] || assert_report .archive_kind "${KIND[$name]}"
	[ -z "${SAYS[$name]:-}" ] || grep -qF -- "${SAYS[$name]}" <<<"$(report .error)" ||
		fail "the error does not say '${SAYS[$name]}'"
	assert_unchanged "$TARGET_DB"
	escaped=$(find "$TEST_ROOT" -name 'escaped*' | sed -n 1,3p)
	[ -z "$escaped" ] || fail "archive entries written outside: $escaped"
	[ -z "$AFTER_CASE" ] || eval "$AFTER_CASE"
	cmp -s "$CASE_DIR/before.db" "$CASE_DIR/after.db" || fresh_target
	case_end
done

finish
