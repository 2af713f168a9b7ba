#!/usr/bin/env bash
# failures.sh - restores that start and then fail, and the quota boundary.
#
# A restore that fails half-way (a dump whose index creation fails after the data was loaded;
# pg_restore dying or cut short; a blob folder or work_dir whose file system fills up) must leave
# the target database and the blob folder exactly as they were, with nothing left in work_dir or
# beside blob_dir. The quota rule accepts decompressed_bytes + restore_overhead == plan_quota and
# refuses one byte less. A target database that does not exist is refused and not created.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

make_source_db src
A=$TEST_ROOT/archives
mkdir -p "$A"
make_snapshot "$A/good.tar.gz" src 3

# A dump that is valid but fails in pg_restore after the data is in: the index on f(a) calls a
# function naming its table without a schema, and pg_restore runs with an empty search_path.
make_index_fails_db src_index
make_snapshot "$A/index_fails.tar.gz" src_index 3
create_db scratch
if "$PGBIN/pg_restore" --exit-on-error -U app -d scratch "$A/index_fails.tar.gz.d/db/db.backup" 2>/dev/null; then
	echo "fixture error: pg_restore accepts the dump whose index must fail" >&2
	exit 1
fi

case_begin index_creation_fails_after_data
make_target_db t_index
old_blobs
capture_state before t_index
write_config "$CASE_DIR/config.yaml" dbname=t_index
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/index_fails.tar.gz"
assert_exit 1
report_is_one_object
assert_report .status failed
assert_error_line
assert_report_true '(.database.errors | type == "array" and length > 0)' "database.errors is not empty"
assert_report_true '(.database.errors | all(.toc_entry | type == "string" and length > 0))' \
	"every database error names its toc_entry"
assert_report_true '(.database.errors | all(.message | type == "string" and length > 0))' \
	"every database error has a message"
assert_report .database.status unchanged
assert_report .files.status unchanged
assert_unchanged t_index
case_end

# pg_restore itself fails half-way through the SQL it streams: killed (as by the OOM killer),
# exiting 1, or exiting 0 with its output cut short. A wrapper in place of pg_restore passes on
# the first 60% of the real output (or all but the last entry), then behaves as the case says.
# Table: name | ending.
make_pg_restore_wrapper() {
	cat >"$1" <<-EOF
		#!/usr/bin/env bash
		real=$PGBIN/pg_restore
		case " \$* " in *" --version "*) exec "\$real" "\$@" ;; esac
		if [ $2 = exit0_last_entry_missing ]; then
			"\$real" "\$@" >"\$0.sql"
			last=\$(grep -n '^-- Name: ' "\$0.sql" | tail -n 1 | cut -d: -f1)
			head -n \$((last - 2)) "\$0.sql"
			exit 0
		fi
		total=\$("\$real" "\$@" | wc -c)
		"\$real" "\$@" | head -c \$((total * 60 / 100))
		case $2 in
		killed) kill -KILL \$\$ ;;
		exit1) exit 1 ;;
		exit0) exit 0 ;;
		esac
	EOF
	chmod 755 "$1"
}
for row in "pg_restore_killed_midway|killed" "pg_restore_exits_1_midway|exit1" \
	"pg_restore_output_cut_exit_0|exit0" "pg_restore_last_entry_missing_exit_0|exit0_last_entry_missing"; do
	IFS='|' read -r name ending <<<"$row"
	case_begin "$name"
	make_pg_restore_wrapper "$CASE_DIR/pg_restore" "$ending"
	make_target_db "t_$name"
	old_blobs
	capture_state before "t_$name"
	write_config "$CASE_DIR/config.yaml" dbname="t_$name" pg_restore="$CASE_DIR/pg_restore"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
	assert_exit 1
	report_is_one_object
	assert_report .status failed
	assert_error_line
	assert_unchanged "t_$name"
	case_end
done

# Disk full: a small tmpfs mounted (in a private mount namespace) on blob_dir's parent, whose
# tree files do not fit, or on work_dir, where the dump does not fit. The states of the blob
# folder and of work_dir are taken inside the namespace, before the tmpfs goes away.
# Table: name | what the tmpfs is mounted on | its size.
DISK_FULL_CASES=(
	"blob_folder_disk_full|BLOB_PARENT|256k"
	"work_dir_disk_full|WORK_DIR|64k"
)
if ! unshare --mount --map-root-user true 2>/dev/null; then
	for row in "${DISK_FULL_CASES[@]}"; do
		case_skip "${row%%|*}" "unshare --mount --map-root-user is not permitted here"
	done
else
	FILE_SIZE=131072 make_snapshot "$A/big_files.tar.gz" src 3
	export -f snapshot_dir_state new_uuid old_blobs
	for row in "${DISK_FULL_CASES[@]}"; do
		IFS='|' read -r name mount_on size <<<"$row"
		case_begin "$name"
		make_target_db "t_$name"
		snapshot_db_state "t_$name" >"$CASE_DIR/before.db"
		write_config "$CASE_DIR/config.yaml" dbname="t_$name"
		export RESTORE_WORKER CASE_DIR BLOB_DIR BLOB_PARENT WORK_DIR
		# shellcheck disable=SC2016 # the script expands its variables itself, in the namespace
		ARCHIVE=$A/big_files.tar.gz MOUNT_ON=${!mount_on} SIZE=$size \
			unshare --mount --map-root-user bash -euo pipefail -c '
			mount -t tmpfs -o "size=$SIZE" tmpfs "$MOUNT_ON"
			old_blobs
			snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/before.files"
			ls -A "$BLOB_PARENT" >"$CASE_DIR/before.parent"
			set +e
			timeout -k 5 120 "$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" restore --json "$ARCHIVE" \
				>"$CASE_DIR/out" 2>"$CASE_DIR/err"
			echo $? >"$CASE_DIR/status"
			set -e
			snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
			ls -A "$BLOB_PARENT" >"$CASE_DIR/after.parent"
			ls -A "$WORK_DIR" >"$CASE_DIR/after.work"
		' || fail "the namespace script failed"
		RW_STATUS=$(cat "$CASE_DIR/status" 2>/dev/null || echo none)
		assert_exit 1
		report_is_one_object
		assert_report_true '(.status == "failed" or .status == "rejected")' 'status is "failed" or "rejected"'
		assert_error_line
		[ -s "$CASE_DIR/before.files" ] || fail "no old files were made"
		snapshot_db_state "t_$name" >"$CASE_DIR/after.db"
		assert_same_file "database" "$CASE_DIR/before.db" "$CASE_DIR/after.db"
		assert_same_file "blob_dir" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
		assert_same_file "blob_dir's parent" "$CASE_DIR/before.parent" "$CASE_DIR/after.parent"
		[ ! -s "$CASE_DIR/after.work" ] || fail "work_dir not empty: $(tr '\n' ' ' <"$CASE_DIR/after.work")"
		case_end
	done
fi

# The quota boundary, read from inspect: a table of (name | plan_quota | restore_overhead |
# expected exit), with D the dump's decompressed size and O the default overhead (2.25GB).
case_begin quota_inspect
run_worker inspect --json "$A/good.tar.gz"
D=$(report .dump.decompressed_bytes)
if ! [[ $D =~ ^[1-9][0-9]*$ ]]; then
	fail "inspect gives no decompressed_bytes (got '$D'); the quota cases cannot run"
	case_end
else
	case_end
	O=2415919104
	QUOTA_CASES=(
		"quota_exact_no_overhead|$((D))B|0B|0"
		"quota_one_byte_short_no_overhead|$((D - 1))B|0B|1"
		"quota_exact_default_overhead|$((D + O))B||0"
		"quota_one_byte_short_default_overhead|$((D + O - 1))B||1"
		"quota_exact_overhead_in_mib|$((D + 3 * 1048576))B|3MiB|0"
		"quota_one_byte_short_overhead_in_mb|$((D + 3 * 1048576 - 1))B|3MB|1"
	)
	for row in "${QUOTA_CASES[@]}"; do
		IFS='|' read -r name quota overhead expect <<<"$row"
		case_begin "$name"
		make_target_db "t_$name"
		old_blobs
		capture_state before "t_$name"
		write_config "$CASE_DIR/config.yaml" dbname="t_$name" plan_quota="$quota" restore_overhead="$overhead"
		run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
		assert_exit "$expect"
		report_is_one_object
		assert_report .database.quota_bytes "${quota%B}"
		assert_report .database.overhead_bytes "$((${quota%B} - D + (expect == 1 ? 1 : 0)))"
		if [ "$expect" = 0 ]; then
			assert_report .status succeeded
			assert_report .database.decompressed_bytes "$D"
			snapshot_db_state "t_$name" >"$CASE_DIR/after.db"
			snapshot_db_state src >"$CASE_DIR/src.db"
			assert_same_file "target database (vs source)" "$CASE_DIR/src.db" "$CASE_DIR/after.db"
			FILES_ONLY=1 snapshot_dir_state "$A/good.tar.gz.d/tree" >"$CASE_DIR/tree.files"
			FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
			assert_same_file "blob_dir (vs tree)" "$CASE_DIR/tree.files" "$CASE_DIR/after.files"
			assert_eq "entries beside blob_dir" files "$(find "$BLOB_PARENT" -mindepth 1 -maxdepth 1 -printf '%P ' | sed 's/ $//')"
			assert_work_dir_empty
		else
			assert_report .status rejected
			assert_error_line
			# The measurement may stop early once the quota is exceeded: a lower bound is fine.
			assert_report_true '(.database.decompressed_bytes + .database.overhead_bytes > .database.quota_bytes)' \
				"decompressed_bytes + overhead_bytes > quota_bytes"
			assert_unchanged "t_$name"
		fi
		case_end
	done
fi

# A target database that does not exist is refused, and not created.
case_begin target_database_missing
old_blobs
capture_state before src
write_config "$CASE_DIR/config.yaml" dbname=no_such_database
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_error_line
assert_eq "databases named no_such_database" 0 \
	"$(sql postgres "select count(*) from pg_database where datname = 'no_such_database'")"
assert_unchanged src
case_end

finish
