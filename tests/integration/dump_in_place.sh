#!/usr/bin/env bash
# dump_in_place.sh - a bare dump is handed to pg_restore where it lies, without a copy in
# work_dir, and only as the bytes the walk measured (issue 20).
#
# A pg_restore stand-in writes down, as it starts, what it was given to read and what work_dir
# holds, optionally changes the archive, then runs the real pg_restore:
#  - a bare uncompressed dump: pg_restore reads /dev/fd/N, the archive's own inode; work_dir
#    holds no copy while it runs; the target ends as the source;
#  - the same with strategy swap and pg_restore --jobs=2 (its workers reopen the file);
#  - an old dump (archive 1.13) whose environment entries are left out with pg_restore -L: its
#    pg_restore --list reads /dev/fd/N too;
#  - a gzip-compressed bare dump is still copied into work_dir (pg_restore cannot seek in
#    gzip), and restores;
#  - the archive rewritten in place (same size, one digit of a row changed: pg_restore would
#    restore it) after the walk measured it: failed, the error says it changed, the target
#    as it was, nothing left in work_dir; the same with strategy swap and a byte appended.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/olddump_lib.sh"

make_source_db src
snapshot_db_state src >"$TEST_ROOT/src.state"
A=$TEST_ROOT/archives
mkdir -p "$A"
# -Z0: the rows stand in the dump as text, so that a changed digit still restores.
"$PGBIN/pg_dump" -O -x -Fc -Z0 -d src -f "$A/plain.backup"
dump_custom src "$A/dumped.backup"
gzip -c "$A/dumped.backup" >"$A/dumped.backup.gz"
make_old_dump 1.13 - "$A/old.backup" --rows 500
sql postgres "alter role app createdb"

# make_stand_in: write pg_restore stand-in $1; its restoring run records the file it reads
# ($CASE_DIR/read.path, read.inode) and work_dir's content (read.work_dir), then runs the
# shell command $2 (may be empty), then the real pg_restore; a --list run records the file it
# reads in list.path.
make_stand_in() {
	cat >"$1" <<-EOF
		#!/usr/bin/env bash
		real=$PGBIN/pg_restore
		case " \$* " in *" --version "*) exec "\$real" "\$@" ;; esac
		for a; do case \$a in -*) ;; *) dump=\$a; break ;; esac; done
		case " \$* " in *" --list "*) echo "\$dump" >"$CASE_DIR/list.path"; exec "\$real" "\$@" ;; esac
		echo "\$dump" >"$CASE_DIR/read.path"
		stat -L -c %i "\$dump" >"$CASE_DIR/read.inode"
		ls -A "$WORK_DIR" >"$CASE_DIR/read.work_dir"
		$2
		exec "\$real" "\$@"
	EOF
	chmod 755 "$1"
}

# restore_case: restore archive $1 into a fresh target with stand-in command $2 and config
# settings $3...; the state before is saved as "before".
restore_case() {
	local archive=$1 modify=$2
	shift 2
	make_target_db "$CASE_NAME"
	old_blobs
	capture_state before "$CASE_NAME"
	make_stand_in "$CASE_DIR/pg_restore" "$modify"
	write_config "$CASE_DIR/config.yaml" dbname="$CASE_NAME" pg_restore="$CASE_DIR/pg_restore" "$@"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$archive"
}

# assert_read_in_place: pg_restore read archive $1 itself through /dev/fd, with no copy beside.
assert_read_in_place() {
	grep -qx '/dev/fd/[0-9]*' "$CASE_DIR/read.path" 2>/dev/null ||
		fail "pg_restore read $(cat "$CASE_DIR/read.path" 2>/dev/null || echo nothing), not /dev/fd/N"
	assert_eq "inode pg_restore read (vs the archive's)" "$(stat -c %i "$1")" \
		"$(cat "$CASE_DIR/read.inode" 2>/dev/null)"
	if grep -q 'restore-.*\.dump$' "$CASE_DIR/read.work_dir" 2>/dev/null; then
		fail "work_dir held a dump copy while pg_restore ran: $(tr '\n' ' ' <"$CASE_DIR/read.work_dir")"
	fi
}

# assert_restored: succeeded, the target is the source, work_dir is empty.
assert_restored() {
	assert_exit 0
	assert_report .status succeeded
	snapshot_db_state "$CASE_NAME" >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	assert_work_dir_empty
}

case_begin bare_dump_read_in_place
restore_case "$A/plain.backup" ""
assert_restored
assert_read_in_place "$A/plain.backup"
case_end

case_begin swap_jobs_read_in_place
restore_case "$A/dumped.backup" "" strategy=swap restore_jobs=2
assert_restored
assert_read_in_place "$A/dumped.backup"
case_end

case_begin old_dump_listed_in_place
restore_case "$A/old.backup" ""
assert_exit 0
assert_report .status succeeded
assert_report_true '.database.skipped | length > 0' "environment entries were left out"
grep -qx '/dev/fd/[0-9]*' "$CASE_DIR/list.path" 2>/dev/null ||
	fail "pg_restore --list read $(cat "$CASE_DIR/list.path" 2>/dev/null || echo nothing), not /dev/fd/N"
out=$(old_dump_check_db "$CASE_NAME" "$A/old.backup") || fail "restored data differs: $(tr '\n' ' ' <<<"$out")"
assert_read_in_place "$A/old.backup"
assert_work_dir_empty
case_end

case_begin gzip_dump_copied
restore_case "$A/dumped.backup.gz" ""
assert_restored
grep -q '^restore-.*\.dump$' "$CASE_DIR/read.work_dir" 2>/dev/null ||
	fail "no dump copy in work_dir while pg_restore read the gzip dump"
case_end

# changed_case: the archive $1 is changed by command $2 once the walk has measured it.
changed_case() {
	cp "$1" "$CASE_DIR/archive.backup"
	sleep 0.05 # older than a tick of the file system's clock: read in place
	restore_case "$CASE_DIR/archive.backup" "$2" "${@:3}"
	assert_exit 1
	assert_report .status failed
	assert_error_line
	assert_report_true '.error | contains("changed while it was restored")' \
		"the error says the archive changed"
	assert_read_in_place "$CASE_DIR/archive.backup"
	assert_unchanged "$CASE_NAME"
}

case_begin rewritten_after_measured_fails
AT=$(grep -boa 'customer 2500 ' "$A/plain.backup" | head -n 1 | cut -d: -f1)
[ -n "$AT" ] || fail "fixture: no row 'customer 2500' in the uncompressed dump"
changed_case "$A/plain.backup" \
	"printf 9 | dd of='$CASE_DIR/archive.backup' bs=1 seek=$((${AT:-0} + 9)) conv=notrunc status=none"
case_end

case_begin swap_grown_after_measured_fails
changed_case "$A/dumped.backup" "printf x >>'$CASE_DIR/archive.backup'" strategy=swap restore_jobs=2
leftovers=$(sql postgres "select count(*) from pg_database where datname like '${CASE_NAME}_rw_%'")
assert_eq "databases the swap left" 0 "$leftovers"
case_end

finish
