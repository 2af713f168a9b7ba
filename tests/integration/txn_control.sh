#!/usr/bin/env bash
# txn_control.sh - a dump whose SQL would end, begin or break the restore's transaction.
#
# A TOC entry's definition is free text: a table comment rewritten byte for byte (same length,
# so the TOC stays valid) as `c';COMMIT;--ccc...` makes pg_restore send a COMMIT in the middle
# of the restore. Such a dump must be refused before anything is touched, naming the entry:
#  - inspect exits 1 and names it (text and --json);
#  - restore --dry-run, restore (strategy transaction) and restore with strategy swap each exit 1
#    with status "rejected"; the target's database and files are exactly as before, nothing is
#    left beside them and no database was created;
#  - the same for a table dumped with --inserts whose data is rewritten to hold a COMMIT;
#  - COPY data rewritten so that a COMMIT follows its end marker (the dump reader does not read
#    COPY data): the executor refuses the entry before sending it; status "failed", unchanged;
#  - a DO block committing inside: sent, refused by the server inside the restore's
#    transaction; status "failed", unchanged.
# And no false alarm: a dump with a table named "commit", function bodies holding COMMIT in
# dollar quotes and strings, a procedure that commits, a BEGIN ATOMIC body and table data that
# reads "'; COMMIT; --" restores (as -Fc and as compressed --inserts), equal to its source.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v perl >/dev/null || { echo "# perl is missing: the dumps cannot be rewritten"; exit 77; }

C40=cccccccccccccccccccccccccccccccccccccccc
D40=dddddddddddddddddddddddddddddddddddddddd

sql postgres "alter role app createdb" # strategy swap needs it
create_db src
sql_as_app src - >/dev/null <<EOF
create table t (id integer primary key, note text);
insert into t values (1, 'one'), (2, 'two'), (3, '$D40');
comment on table t is '$C40';
create table "commit" (id integer primary key, what text);
insert into "commit" values (1, ''';COMMIT;--'), (2, 'end; rollback; begin');
create function says_commit() returns text language plpgsql as \$\$
begin
	-- COMMIT;
	return 'x'';COMMIT;--';
end
\$\$;
create procedure commits() language plpgsql as \$\$ begin commit; end \$\$;
create function atomic_case(a integer) returns integer language sql
begin atomic
	select case when a > 0 then 1 else 2 end;
end;
EOF
snapshot_db_state src >"$TEST_ROOT/src.state"
GOOD=$TEST_ROOT/good
make_snapshot_dir "$GOOD" src 2
INSERTS_GOOD=$TEST_ROOT/database-inserts.backup
"$PGBIN/pg_dump" -O -x -Fc --inserts -d src -f "$INSERTS_GOOD"
INSERTS_PLAIN=$TEST_ROOT/inserts-z0.backup
"$PGBIN/pg_dump" -O -x -Fc -Z 0 --inserts -d src -f "$INSERTS_PLAIN"
COMMENT_ID=$("$PGBIN/pg_restore" -l "$GOOD/db/db.backup" | sed -n 's/^\([0-9]*\); .* COMMENT public TABLE t .*/\1/p')
DATA_ID=$("$PGBIN/pg_restore" -l "$INSERTS_PLAIN" | sed -n 's/^\([0-9]*\); .* TABLE DATA public t .*/\1/p')

# A database whose only table data is t's, for the COPY data case.
create_db src_copy
sql_as_app src_copy "create table t (id integer, note text); insert into t values (1, 'one'), (2, '$D40')"
COPY_PLAIN=$TEST_ROOT/copy-z0.backup
"$PGBIN/pg_dump" -O -x -Fc -Z 0 -d src_copy -f "$COPY_PLAIN"
COPY_ID=$("$PGBIN/pg_restore" -l "$COPY_PLAIN" | sed -n 's/^\([0-9]*\); .* TABLE DATA public t .*/\1/p')

# pad: print $1 lengthened with character $3 to $2 characters.
pad() {
	local s=$1
	while [ "${#s}" -lt "$2" ]; do s+=$3; done
	printf '%s' "$s"
}

# rewrite: copy file $1 to $2 with the perl regex $3 replaced by the text $4 (and $5 by $6);
# fail unless the size is the same and the file changed.
rewrite() {
	P=$3 R=$4 P2=${5:-} R2=${6:-} perl -0777 -pe \
		's/$ENV{P}/$ENV{R}/; s/$ENV{P2}/$ENV{R2}/ if length $ENV{P2}' "$1" >"$2"
	assert_eq "size of the rewritten $(basename "$2")" "$(stat -c %s "$1")" "$(stat -c %s "$2")"
	if cmp -s "$1" "$2"; then fail "$(basename "$2") was not rewritten"; fi
}

# The rewritten dumps, checked as the first case.
case_begin fixture_dumps_as_intended

# The table comment 'ccc...' as `'c';COMMIT;--ccc...'`.
BAD=$TEST_ROOT/bad
cp -a "$GOOD" "$BAD"
rewrite "$GOOD/db/db.backup" "$BAD/db/db.backup" "'c{40}" "$(pad "'c';COMMIT;--" 41 c)"
pack_snapshot "$TEST_ROOT/bad.tar.gz" "$BAD"
EXPECTED="TOC entry $COMMENT_ID (COMMENT public TABLE t) holds COMMIT"

# A DO block that commits, in the comment's place.
DO=$TEST_ROOT/database-do.backup
rewrite "$GOOD/db/db.backup" "$DO" "'c{40}" "$(pad "'c';DO \$\$BEGIN COMMIT;END\$\$;--" 41 c)"

# --inserts data: the row 'ddd...' as `'d');COMMIT;--ddd...`.
INSERTS_BAD=$TEST_ROOT/database-inserts-bad.backup
rewrite "$INSERTS_PLAIN" "$INSERTS_BAD" "'d{40}" "$(pad "'d');COMMIT;--" 41 d)"

# COPY data: the last row's 'ddd...' as `d`, the end marker, `COMMIT;` and a comment; pg_dump's
# own end marker then becomes a comment line.
COPY_BAD=$TEST_ROOT/database-copy-bad.backup
rewrite "$COPY_PLAIN" "$COPY_BAD" "d{40}" "$(pad $'d\n\\.\nCOMMIT;\n--' 40 d)" \
	'\\\.\n\n\n' $'--\n\n\n'

"$PGBIN/pg_restore" -f - "$BAD/db/db.backup" | grep -q "^COMMENT ON TABLE public.t IS 'c';COMMIT;--c*';\$" ||
	fail "the rewritten dump does not say COMMENT ...'c';COMMIT;--"
"$PGBIN/pg_restore" -f - "$INSERTS_BAD" | grep -q "^INSERT INTO public.t VALUES (3, 'd');COMMIT;--d*');\$" ||
	fail "the rewritten --inserts dump does not hold the COMMIT"
"$PGBIN/pg_restore" -f - "$COPY_BAD" | grep -qx 'COMMIT;' ||
	fail "the rewritten COPY data does not hold the COMMIT line"
[ -n "$COMMENT_ID" ] && [ -n "$DATA_ID" ] && [ -n "$COPY_ID" ] || fail "TOC entries not found"
case_end

case_begin inspect_names_the_entry
run_worker inspect "$TEST_ROOT/bad.tar.gz"
assert_exit 1
grep -hF "$EXPECTED" "$CASE_DIR/out" "$CASE_DIR/err" | grep -q "refused: " ||
	fail "inspect's text does not say it is refused, naming the entry"
run_worker inspect --json "$TEST_ROOT/bad.tar.gz"
assert_exit 1
report_is_one_object
assert_report_true ".problems | length == 1 and (.[0] | contains(\"$EXPECTED\"))" \
	"problems names the entry"
case_end

# One target and one blob_dir for the cases that must leave them alone: a change would last
# until the next check. Their state is saved once, as capture_state does.
make_target_db target
case_begin shared # not a case: its folders are the shared blob_dir and the saved state
SHARED_BLOB_PARENT=$BLOB_PARENT
SHARED_BLOB_DIR=$BLOB_DIR
old_blobs
capture_state before target

# target_case_begin: case $1 on the shared target and blob_dir, "before" their saved state,
# with config keys $@.
target_case_begin() {
	case_begin "$1"
	shift
	BLOB_PARENT=$SHARED_BLOB_PARENT
	BLOB_DIR=$SHARED_BLOB_DIR
	cp "$TEST_ROOT/case.shared/before."* "$CASE_DIR/"
	write_config "$CASE_DIR/config.yaml" dbname=target "$@"
}

# assert_left_alone: fail unless the last run exited 1 with status $1 and an error holding each
# of the rest, left work_dir empty and created no database beside the target.
assert_left_alone() {
	local status=$1 expected
	shift
	assert_exit 1
	report_is_one_object
	assert_report .status "$status"
	assert_error_line
	for expected in "$@"; do
		assert_report_true ".error | contains(\"$expected\")" "the error says $expected"
	done
	assert_work_dir_empty
	assert_eq "databases beside the target" "" \
		"$(sql postgres "select datname from pg_database where datname like 'target\_%'")"
}

target_case_begin dry_run_refused
run_worker -c "$CASE_DIR/config.yaml" restore --dry-run --json "$TEST_ROOT/bad.tar.gz"
assert_left_alone rejected "$EXPECTED"
assert_unchanged target
case_end

target_case_begin restore_refused
run_worker -c "$CASE_DIR/config.yaml" restore --json "$TEST_ROOT/bad.tar.gz"
assert_left_alone rejected "$EXPECTED"
assert_unchanged target
case_end

target_case_begin swap_restore_refused strategy=swap
for dry_run in --dry-run ""; do
	run_worker -c "$CASE_DIR/config.yaml" restore ${dry_run:+"$dry_run"} --json "$TEST_ROOT/bad.tar.gz"
	assert_left_alone rejected "$EXPECTED"
done
assert_unchanged target
case_end

target_case_begin inserts_data_refused
for dry_run in --dry-run ""; do
	run_worker -c "$CASE_DIR/config.yaml" restore --db-only ${dry_run:+"$dry_run"} --json "$INSERTS_BAD"
	assert_left_alone rejected "TOC entry $DATA_ID (TABLE DATA public t) holds COMMIT"
done
assert_unchanged target
case_end

# The dump reader does not read COPY data: the executor refuses the entry before sending it.
target_case_begin copy_data_tail_refused_by_executor
for dry_run in --dry-run ""; do
	run_worker -c "$CASE_DIR/config.yaml" restore --db-only ${dry_run:+"$dry_run"} --json "$COPY_BAD"
	assert_left_alone failed "restoring $COPY_ID; " \
		"holds COMMIT, which would commit the restore's transaction halfway"
done
assert_unchanged target
case_end

# DO is sent: inside the restore's transaction the server refuses its COMMIT.
target_case_begin do_block_commit_refused_by_server
for dry_run in --dry-run ""; do
	run_worker -c "$CASE_DIR/config.yaml" restore --db-only ${dry_run:+"$dry_run"} --json "$DO"
	assert_left_alone failed "invalid transaction termination"
done
assert_unchanged target
case_end

# good_case: case $1: restore $2 ($3: more options) into the target; it must succeed, the
# target equal to the source.
good_case() {
	case_begin "$1"
	write_config "$CASE_DIR/config.yaml" dbname=target
	# shellcheck disable=SC2086 # options are words
	run_worker -c "$CASE_DIR/config.yaml" restore $3 --json "$2"
	assert_exit 0
	assert_report .status succeeded
	snapshot_db_state target >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	assert_eq "the procedure that commits, called outside a transaction" "" \
		"$(sql_as_app target "call commits()")"
	case_end
}

pack_snapshot "$TEST_ROOT/good.tar.gz" "$GOOD"
good_case commit_in_bodies_and_names_restores "$TEST_ROOT/good.tar.gz" ""
good_case inserts_dump_restores "$INSERTS_GOOD" --db-only

finish
