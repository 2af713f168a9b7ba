#!/usr/bin/env bash
# after_restore.sh - what a restore checks and does once the database is in, and the rehearsal.
#
# The source is a Mendix-like database whose system$filedocument names 6 files with contents
# (one of them in uppercase), one without contents and one NULL; the snapshot's tree holds 3 of
# those 6 and 2 files no row names. So every check below knows the exact answer:
#  - a full restore: succeeded, files.missing 3 and files.orphaned 2 with their UUIDs (sorted),
#    a warning counting the missing files; every table analyzed (pg_stat_user_tables);
#  - --db-only over a blob_dir holding the tree's files: the same counts, from blob_dir;
#  - a database-only backup (the bare dump): the same;
#  - files_query (unqualified: it runs with the database's search_path): its UUIDs are checked;
#  - a failing files_query: a warning, the restore still succeeds;
#  - a database without system$filedocument: succeeded, files.missing null, a warning says why;
#  - --dry-run (full, --db-only, strategy swap): succeeded with dry_run true and the file check,
#    the target (database, its OID, blob_dir, its parent, work_dir) exactly as before, no
#    database left beside it;
#  - --dry-run of a dump that fails mid-restore: failed, with the same TOC entry as the real
#    restore then reports;
#  - the worker: a job file with dry_run: true is filed in done/ with dry_run true and the
#    file check, the target unchanged, and no run counted in the metrics; the archive itself
#    then restored: counted, restore_worker_missing_files 3.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

A=$TEST_ROOT/archives
mkdir -p "$A"

# Six UUIDs the database names with contents: HAVE1-3 are in the tree (HAVE2 stored uppercase),
# MISS1-3 are not; GONE has no contents (no file expected); ORPH1-2 are files no row names. Each
# pair is generated sorted so that the expected lists are sorted too.
sorted_uuids() {
	local i
	for ((i = 0; i < $1; i++)); do new_uuid; done | LC_ALL=C sort
}
mapfile -t HAVE < <(sorted_uuids 3)
mapfile -t MISS < <(sorted_uuids 3)
mapfile -t ORPH < <(sorted_uuids 2)
GONE=$(new_uuid)

make_source_db src
sql_as_app src - >/dev/null <<EOF
create table "system\$filedocument" (id bigint primary key, "__uuid__" varchar(36),
	hascontents boolean, name varchar(400));
insert into "system\$filedocument" values
	(1, '${HAVE[0]}', true, 'have 1'), (2, upper('${HAVE[1]}'), true, 'have 2'),
	(3, '${HAVE[2]}', true, 'have 3'), (4, '${MISS[0]}', true, 'miss 1'),
	(5, '${MISS[1]}', true, 'miss 2'), (6, '${MISS[2]}', true, 'miss 3'),
	(7, '$GONE', false, 'no contents'), (8, null, true, 'no uuid');
EOF
snapshot_db_state src >"$TEST_ROOT/src.state"

# The snapshot: HAVE and ORPH files in its tree.
S=$A/mendix.tar.gz.d
mkdir -p "$S/db"
dump_custom src "$S/db/db.backup"
for u in "${HAVE[@]}" "${ORPH[@]}"; do
	mkdir -p "$S/tree/${u:0:2}/${u:2:2}"
	echo "file $u" >"$S/tree/${u:0:2}/${u:2:2}/$u"
done
echo '{"duration":"0","modelVersion":"1.0.0.40"}' >"$S/.metadata"
pack_snapshot "$A/mendix.tar.gz" "$S"
cp "$S/db/db.backup" "$A/mendix.backup"
FILES_STATE=$(FILES_ONLY=1 snapshot_dir_state "$S/tree")

# A database without the table.
make_source_db plain
make_snapshot "$A/plain.tar.gz" plain 2

# A dump that fails mid-restore (failures.sh): the index on f(a) needs a search_path.
make_index_fails_db src_index
make_snapshot "$A/index_fails.tar.gz" src_index 2

uuids_json() {
	printf '%s\n' "$@" | jq -R . | jq -sc .
}
MISS_JSON=$(uuids_json "${MISS[@]}")
ORPH_JSON=$(uuids_json "${ORPH[@]}")

# assert_file_check: the report's file check found MISS missing and ORPH orphaned.
assert_file_check() {
	assert_report .files.missing.count 3
	assert_report '.files.missing.uuids | tojson' "$MISS_JSON"
	assert_report .files.orphaned.count 2
	assert_report '.files.orphaned.uuids | tojson' "$ORPH_JSON"
	assert_report_true '(.warnings | any(contains("3 files the restored database refers to")))' \
		"a warning counts the 3 missing files"
}

# assert_analyzed: fail unless every user table of database $1 has been analyzed.
assert_analyzed() {
	local polls=0 left
	# The statistics of a just-ended ANALYZE may take a moment to be visible.
	until left=$(sql "$1" "select count(*) from pg_stat_user_tables where last_analyze is null") &&
		[ "$left" = 0 ]; do
		if [ "$polls" -ge 25 ]; then
			fail "$left tables of $1 were not analyzed"
			return 0
		fi
		sleep 0.2
		polls=$((polls + 1))
	done
	[ "$(sql "$1" "select count(*) from pg_stat_user_tables")" -ge 3 ] ||
		fail "database $1 has fewer user tables than the backup"
}

# tree_blobs: fill BLOB_DIR with exactly the snapshot's tree.
tree_blobs() {
	mkdir -p "$BLOB_DIR"
	cp -a "$S/tree/." "$BLOB_DIR/"
}

case_begin full_restore_checks_files_and_analyzes
make_target_db target
old_blobs
write_config "$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/mendix.tar.gz"
assert_exit 0
report_is_one_object
assert_report .status succeeded
assert_report .dry_run false
assert_file_check
assert_report_true '(.timings.analyze_s | type == "number")' "timings.analyze_s is a number"
snapshot_db_state target >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
assert_eq "blob_dir (vs tree)" "$FILES_STATE" "$(FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR")"
assert_analyzed target
case_end

case_begin db_only_checks_blob_dir
make_target_db target2
tree_blobs
capture_state before target2
write_config "$CASE_DIR/config.yaml" dbname=target2
run_worker -c "$CASE_DIR/config.yaml" restore --json --db-only "$A/mendix.tar.gz"
assert_exit 0
assert_report .status succeeded
assert_report .files.status skipped
assert_file_check
assert_report_true '(.warnings | any(contains("--db-only") and contains("3 files") and contains("missing there")))' \
	"the --db-only warning counts the missing files"
assert_eq "blob_dir (vs before)" "$(cat "$CASE_DIR/before.files")" "$(snapshot_dir_state "$BLOB_DIR")"
case_end

case_begin database_only_backup_checks_blob_dir
make_target_db target3
tree_blobs
write_config "$CASE_DIR/config.yaml" dbname=target3
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/mendix.backup"
assert_exit 0
assert_report .status succeeded
assert_report .archive_kind database_only
assert_file_check
case_end

case_begin custom_files_query
make_target_db target4
old_blobs
# Unqualified: the query runs with the database's own search_path.
write_config "$CASE_DIR/config.yaml" dbname=target4 \
	"files_query='select \"__uuid__\" from \"system\$filedocument\" where id in (1, 2, 4)'"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/mendix.tar.gz"
assert_exit 0
assert_report .status succeeded
assert_report .files.missing.count 1
assert_report '.files.missing.uuids | tojson' "[\"${MISS[0]}\"]"
assert_report .files.orphaned.count 3
assert_report '.files.orphaned.uuids | tojson' "$(uuids_json "${HAVE[2]}" "${ORPH[@]}" | jq -c 'sort')"
case_end

case_begin failing_files_query_warns
make_target_db target5
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=target5 "files_query='select nope from nowhere'"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/mendix.tar.gz"
assert_exit 0
assert_report .status succeeded
assert_report .files.missing null
assert_report_true '(.warnings | any(contains("file check") and contains("nowhere")))' \
	"a warning says the file check failed and why"
snapshot_db_state target5 >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
case_end

case_begin database_without_filedocument
make_target_db target6
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=target6
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/plain.tar.gz"
assert_exit 0
assert_report .status succeeded
assert_report .files.missing null
assert_report .files.orphaned null
assert_report_true '(.warnings | any(contains("system$filedocument")))' \
	"a warning says the database has no system\$filedocument"
assert_analyzed target6
case_end

# The rehearsal: everything is done, then rolled back.
case_begin dry_run_full
make_target_db rehearse
old_blobs
capture_state before rehearse
OID_BEFORE=$(sql postgres "select oid from pg_database where datname = 'rehearse'")
write_config "$CASE_DIR/config.yaml" dbname=rehearse
run_worker -c "$CASE_DIR/config.yaml" restore --json --dry-run "$A/mendix.tar.gz"
assert_exit 0
report_is_one_object
assert_report .status succeeded
assert_report .dry_run true
assert_report .database.status unchanged
assert_report .files.status unchanged
assert_file_check
assert_unchanged rehearse
assert_eq "the target's OID" "$OID_BEFORE" "$(sql postgres "select oid from pg_database where datname = 'rehearse'")"
case_end

case_begin dry_run_db_only
make_target_db rehearse2
tree_blobs
capture_state before rehearse2
write_config "$CASE_DIR/config.yaml" dbname=rehearse2
run_worker -c "$CASE_DIR/config.yaml" restore --json --dry-run --db-only "$A/mendix.tar.gz"
assert_exit 0
assert_report .status succeeded
assert_report .dry_run true
assert_report .database.status unchanged
assert_file_check
assert_unchanged rehearse2
case_end

case_begin dry_run_swap
sql postgres "alter role app createdb"
make_target_db rehearse3
old_blobs
capture_state before rehearse3
OID_BEFORE=$(sql postgres "select oid from pg_database where datname = 'rehearse3'")
write_config "$CASE_DIR/config.yaml" dbname=rehearse3 strategy=swap restore_jobs=2
run_worker -c "$CASE_DIR/config.yaml" restore --json --dry-run "$A/mendix.tar.gz"
assert_exit 0
assert_report .status succeeded
assert_report .dry_run true
assert_report .database.status unchanged
assert_file_check
assert_unchanged rehearse3
assert_eq "the target's OID" "$OID_BEFORE" "$(sql postgres "select oid from pg_database where datname = 'rehearse3'")"
assert_eq "databases beside the target" "" "$(sql postgres "select datname from pg_database where datname like 'rehearse3\_rw\_%'")"
sql postgres "alter role app nocreatedb"
case_end

case_begin dry_run_fails_as_the_restore_would
make_target_db rehearse4
old_blobs
capture_state before rehearse4
write_config "$CASE_DIR/config.yaml" dbname=rehearse4
run_worker -c "$CASE_DIR/config.yaml" restore --json --dry-run "$A/index_fails.tar.gz"
assert_exit 1
assert_report .status failed
assert_report .dry_run true
REHEARSED=$(report '.database.errors[0].toc_entry')
[ -n "$REHEARSED" ] && [ "$REHEARSED" != null ] || fail "the rehearsal names no TOC entry"
assert_unchanged rehearse4
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/index_fails.tar.gz"
assert_exit 1
assert_report .status failed
assert_report .dry_run false
assert_eq "the real restore's failing TOC entry (vs the rehearsal's)" "$REHEARSED" \
	"$(report '.database.errors[0].toc_entry')"
case_end

worker_case_begin job_file_dry_run
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
echo "metrics_file: $CASE_DIR/restore_worker.prom" >>"$CASE_DIR/config.yaml"
printf 'archive: %s\ndry_run: true\n' "$A/mendix.tar.gz" >"$CASE_DIR/rehearse.yaml"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
drop_file "$CASE_DIR/rehearse.yaml"
wait_reports 1
load_report rehearse.yaml done "$CASE_DIR/rehearse.yaml"
assert_report .status succeeded
assert_report .dry_run true
assert_report .database.status unchanged
assert_file_check
assert_target_unchanged acceptance
# A rehearsal is no run of the target in the metrics.
assert_eq "runs_total (succeeded) after a rehearsal" 0 \
	"$(sed -n 's/^restore_worker_runs_total{target="acceptance",result="succeeded"} //p' "$CASE_DIR/restore_worker.prom")"
# The real restore: the metrics count it, with the files it found missing.
drop_file "$A/mendix.tar.gz"
wait_reports 2
load_report mendix.tar.gz done "$A/mendix.tar.gz"
assert_report .status succeeded
assert_file_check
WAIT_WHAT="the metrics counting the restore" wait_for grep -q \
	'^restore_worker_runs_total{target="acceptance",result="succeeded"} 1$' "$CASE_DIR/restore_worker.prom"
assert_eq "restore_worker_missing_files" 3 \
	"$(sed -n 's/^restore_worker_missing_files{target="acceptance"} //p' "$CASE_DIR/restore_worker.prom")"
worker_case_end

finish
