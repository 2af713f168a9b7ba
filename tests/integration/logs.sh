#!/usr/bin/env bash
# logs.sh - the log an operator filters: what restore, backup and run write on stderr.
#
# Under journald (JOURNAL_STREAM names the file stderr goes to, as systemd sets it for a unit)
# every line begins with its priority and the reason of a refusal or failure is <3>; anywhere
# else every line begins with a UTC timestamp. A refused archive's reason is the last line, with
# no warnings about its entries after it (a tar of a blob folder, not a backup); an archive cut
# short after its dump is refused as truncated, naming it, without database errors from the
# restore it stopped ("(preamble): the restore was interrupted"); the timings line has the
# analyze figure. Each case also checks the exit status, the report and that the target is
# unchanged (or restored).
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

STAMP_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z restore-worker: '

make_source_db src
snapshot_db_state src >"$TEST_ROOT/src.state"
BASE=$TEST_ROOT/base/files_and_database-fc9e126f-201811210121.tar.gz
mkdir -p "$(dirname "$BASE")"
make_snapshot "$BASE" src 3
# A blob folder's content packed as it is, not a backup: 3 files, and their folders, all outside
# the layout (9 entries, unless two files share a folder).
BLOBS_TAR=$TEST_ROOT/base/blobs.tar.gz
tar -czf "$BLOBS_TAR" -C "$BASE.d/tree" .
BLOBS_ENTRIES=$(tar -tzf "$BLOBS_TAR" | grep -cv '^\./$')

# journal_stream: $JOURNAL_STREAM for stderr written to file $1 (created empty), as journald sets it.
journal_stream() {
	: >"$1"
	stat -c '%d:%i' "$1"
}

# run_under_journald: run_worker with JOURNAL_STREAM naming $CASE_DIR/err.
run_under_journald() {
	local stream
	stream=$(journal_stream "$CASE_DIR/err")
	set +e
	JOURNAL_STREAM=$stream timeout -k 5 120 "$RESTORE_WORKER" "$@" >"$CASE_DIR/out" 2>>"$CASE_DIR/err"
	RW_STATUS=$?
	set -e
}

# assert_lines: fail unless every line of log $1 matches extended regex $2 (what: $3).
assert_lines() {
	local bad
	[ -s "$1" ] || { fail "$3: the log is empty"; return 0; }
	bad=$(grep -cvE "$2" "$1" || true)
	[ "$bad" = 0 ] || fail "$3: $bad line(s) do not, first: $(grep -vE "$2" "$1" | head -n 1)"
}

# assert_reason_last: fail unless the last line of log $1 holds the report's error after
# prefix $2 (a regex: the priority, or the timestamp).
assert_reason_last() {
	local last error
	last=$(tail -n 1 "$1")
	error=$(report .error)
	[[ $last == *"$error" ]] || fail "the last line is not the refusal: $last"
	grep -qE "$2" <<<"$last" || fail "the refusal's line does not begin with $2: $last"
}

# 1. A tar of a blob folder under journald: refused, the reason at <3> and last, every line
# with a priority, no "ignored an unexpected entry" warning (before: one a line after the
# refusal, 9 lines), none in the report either: the refusal names them.
case_begin blob_folder_tar_refused_under_journald
make_target_db target
old_blobs
capture_state before target
write_config "$CASE_DIR/config.yaml"
run_under_journald -c "$CASE_DIR/config.yaml" restore "$BLOBS_TAR"
assert_exit 1
assert_lines "$CASE_DIR/err" '^<[0-7]>' "every line has a journald priority"
grep -qE '^<3>job [0-9a-f-]{36}: rejected: blobs\.tar\.gz: holds no database dump' \
	<<<"$(tail -n 1 "$CASE_DIR/err")" || fail "the last line is not the refusal at <3>"
grep -q 'ignored' "$CASE_DIR/err" && fail "a warning about an ignored entry was logged"
run_under_journald -c "$CASE_DIR/config.yaml" restore --json "$BLOBS_TAR"
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_error_line
assert_report_true "(.error | contains(\"blobs.tar.gz\") and contains(\"no database dump\") and contains(\"$BLOBS_ENTRIES entries\"))" \
	"the error names the archive, the missing dump and the $BLOBS_ENTRIES entries outside the layout"
assert_report .warnings '[]'
assert_unchanged target
assert_reason_last "$CASE_DIR/err" '^<3>job [0-9a-f-]{36}: rejected: '
case_end

# 2. A dump cut short (head -c), outside the journal: refused as truncated, naming the file,
# every line stamped, the reason last, no "TOC entry (preamble)".
case_begin cut_dump_refused_with_timestamps
make_target_db target_cut
old_blobs
capture_state before target_cut
write_config "$CASE_DIR/config.yaml" dbname=target_cut
DUMP=$BASE.d/db/db.backup
head -c $(($(stat -c %s "$DUMP") / 2)) "$DUMP" >"$CASE_DIR/db-cut.backup"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$CASE_DIR/db-cut.backup"
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_report_true '(.error | startswith("db-cut.backup: ") and contains("truncated"))' \
	"the error names db-cut.backup and says it is truncated"
assert_report .database.errors '[]'
assert_unchanged target_cut
assert_lines "$CASE_DIR/err" "$STAMP_RE" "every line begins with a UTC timestamp"
assert_reason_last "$CASE_DIR/err" "${STAMP_RE}job [0-9a-f-]{36}: rejected: "
grep -q 'preamble' "$CASE_DIR/err" && fail "the log speaks of the preamble"
case_end

# 3. An archive cut short in its tree, after the dump: the database restore has begun (the
# pg_restore stand-in waits 3 s before it runs the real one, long enough for the walk to reach
# the cut) and is stopped. The refusal says truncated, naming the archive; neither the report
# nor the log has database errors, which before were "(preamble): the restore was interrupted".
case_begin archive_cut_after_its_dump
make_target_db target_tree
old_blobs
capture_state before target_tree
cat >"$CASE_DIR/pg_restore" <<-EOF
	#!/usr/bin/env bash
	case " \$* " in *" --file=- "*) sleep 3 </dev/null >/dev/null 2>&1 ;; esac
	exec "$PGBIN/pg_restore" "\$@"
EOF
chmod +x "$CASE_DIR/pg_restore"
write_config "$CASE_DIR/config.yaml" dbname=target_tree pg_restore="$CASE_DIR/pg_restore"
cp -a "$BASE.d" "$CASE_DIR/s"
for i in 1 2 3 4 5 6 7 8; do
	uuid=$(new_uuid)
	mkdir -p "$CASE_DIR/s/tree/${uuid:0:2}/${uuid:2:2}"
	head -c 262144 /dev/urandom >"$CASE_DIR/s/tree/${uuid:0:2}/${uuid:2:2}/$uuid"
done
pack_snapshot "$CASE_DIR/full.tar.gz" "$CASE_DIR/s"
head -c $(($(stat -c %s "$CASE_DIR/full.tar.gz") * 9 / 10)) "$CASE_DIR/full.tar.gz" >"$CASE_DIR/cut.tar.gz"
run_worker -c "$CASE_DIR/config.yaml" restore "$CASE_DIR/cut.tar.gz"
assert_exit 1
grep -q 'database error' "$CASE_DIR/err" && fail "the log has a database error"
grep -q 'preamble' "$CASE_DIR/err" && fail "the log speaks of the preamble"
grep -qE "${STAMP_RE}job [0-9a-f-]{36}: rejected: cut\.tar\.gz: .*truncated" "$CASE_DIR/err" ||
	fail "no refusal saying cut.tar.gz is truncated"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$CASE_DIR/cut.tar.gz"
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_report_true '(.error | startswith("cut.tar.gz: ") and contains("truncated"))' \
	"the error names cut.tar.gz and says it is truncated"
assert_report .database.errors '[]'
assert_unchanged target_tree
case_end

# 4. A restore that succeeds: every line stamped, the timings line has the analyze figure of
# the report's timings, the outcome is the last line.
case_begin timings_line_has_analyze
make_target_db target_ok
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=target_ok
run_worker -c "$CASE_DIR/config.yaml" restore --json "$BASE"
assert_exit 0
report_is_one_object
assert_report .status succeeded
snapshot_db_state target_ok >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
assert_lines "$CASE_DIR/err" "$STAMP_RE" "every line begins with a UTC timestamp"
TIMINGS=$(report '.timings | "read \(.read_s) s, database \(.database_s) s, files \(.files_s) s (beside the database), swap \(.swap_s) s, analyze \(.analyze_s) s, total \(.total_s) s"')
# jq prints 0.250 as 0.25: compare the figures as numbers.
LOGGED=$(sed -nE 's/.*: timings: (.*)$/\1/p' "$CASE_DIR/err")
[ -n "$LOGGED" ] || fail "no timings line"
assert_eq "the timings line's figures (read, database, files, swap, analyze, total)" \
	"$(grep -oE '[0-9]+\.?[0-9]*' <<<"$TIMINGS" | awk '{ printf "%.3f ", $1 }')" \
	"$(grep -oE '[0-9]+\.[0-9]+' <<<"$LOGGED" | awk '{ printf "%.3f ", $1 }')"
# The outcome ends the restore's log (only the old files' removal, after the report, follows).
grep -qE "${STAMP_RE}job [0-9a-f-]{36}: succeeded$" "$CASE_DIR/err" || fail "no outcome line"
sed -n '/: succeeded$/,$p' "$CASE_DIR/err" | grep -q 'warning' && fail "a warning after the outcome"
case_end

# 5. backup: outside the journal every line is stamped; under journald a backup of a database
# that does not exist fails with its reason at <3>, writing nothing.
case_begin backup_timestamps_and_priorities
mkdir -p "$CASE_DIR/blobs" "$CASE_DIR/dest" "$CASE_DIR/dest2"
BLOB_DIR=$CASE_DIR/blobs write_config "$CASE_DIR/src.yaml" dbname=src
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest"
assert_exit 0
assert_eq "backups written" 1 "$(find "$CASE_DIR/dest" -name 'files_and_database-*.tar.gz' | wc -l)"
assert_lines "$CASE_DIR/err" "$STAMP_RE" "backup: every line begins with a UTC timestamp"
grep -qE "${STAMP_RE}backup written: " "$CASE_DIR/err" || fail "no stamped 'backup written' line"
BLOB_DIR=$CASE_DIR/blobs write_config "$CASE_DIR/nodb.yaml" dbname=no_such_db
run_under_journald -c "$CASE_DIR/nodb.yaml" backup --output "$CASE_DIR/dest2"
assert_exit 1
assert_eq "what the failed backup left" "" "$(ls -A "$CASE_DIR/dest2")"
assert_work_dir_empty
assert_lines "$CASE_DIR/err" '^<[0-7]>' "failed backup: every line has a journald priority"
grep -qE '^<3>backup (failed|rejected): .*no_such_db' "$CASE_DIR/err" ||
	fail "no <3> line with the backup's reason"
case_end

# 6. run under journald: the job's reason is <3> (it was <6>, and only "finished: not
# succeeded" a warning), every line has a priority, no warning about ignored entries.
worker_case_begin run_under_journald
TARGETS=(t1)
worker_targets t1
write_worker_config "$CASE_DIR/config.yaml"
JOURNAL_STREAM=$(journal_stream "$WORKER_LOG") worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_file "$BLOBS_TAR"
	WAIT_SECONDS=30 WAIT_WHAT="the report of blobs.tar.gz" wait_reports 1 || true
fi
worker_stop
load_report blobs.tar.gz failed
assert_report .status rejected
assert_report .warnings '[]'
assert_target_unchanged t1
assert_lines "$WORKER_LOG" '^<[0-7]>' "every line has a journald priority"
grep -qE '^<3>job [0-9a-f-]{36}: rejected: blobs\.tar\.gz: holds no database dump' "$WORKER_LOG" ||
	fail "the job's reason is not at <3>"
grep -q 'ignored' "$WORKER_LOG" && fail "a warning about an ignored entry was logged"
worker_case_end

finish
