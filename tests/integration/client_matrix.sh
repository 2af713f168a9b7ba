#!/usr/bin/env bash
# client_matrix.sh - the PostgreSQL client (pg_dump, pg_restore) the worker picks by itself per
# job, against real servers 15 to 18 and real clients 15 (Debian's), 17 and 18 (scripts/pg-clients).
#
# Every configuration names `pg_client_dirs: [<pg-clients cache>, /usr/lib/postgresql]` and pins
# neither pg_dump nor pg_restore (but where a case pins one on purpose). Servers: 15, 17 and 18
# (RW_SERVERS=all adds 16; RW_SERVERS=none skips the test; RW_CLIENT_MATRIX_SERVERS names a list of
# its own, for a run by hand), one cluster at a time; 15 is Debian's, the others come from
# scripts/pg-servers. A bare dump DUMP17 is written once by client 17's `pg_dump -O -x -Fc` (archive
# 1.16) from a small source database src (tables with rows, a sequence, a view, system$filedocument
# with three files in its blob_dir), made with the same SQL on every server, so the restored
# database is compared (lib.sh's snapshot_db_fingerprint, on the server under test) with src there.
# Cases, each <server>_<case>:
#   backup_round_trip      backup of src: database.pg_dump_version's major is the lowest client
#                          major at least the server's (15->15, 16->17, 17->17, 18->18), the
#                          dump's archive 1.14 (15) or 1.16 (16+; those targets have
#                          max_dump_version "1.16"); src and its files changed, then that backup
#                          restored: succeeded, src and blob_dir as at the backup,
#                          database.pg_restore.version's major 15 (1.14) or 17 (1.16);
#   backup_refused_at_default  (16+) default max_dump_version: rejected, exit 1, the error names
#                          max_dump_version, nothing in the output folder; check's "pg_dump
#                          version" is a warning naming max_dump_version;
#   dump17                 (17, 18) DUMP17 into a target holding other content, max_dump_version
#                          "1.16": succeeded, equal to src, pg_restore 17 used;
#   dump17_at_default      (17, 18) the same at the default max_dump_version: rejected, the error
#                          names max_dump_version, the target unchanged;
#   dump17                 (15, 16) restored (then equal to src, by pg_restore 17) or
#                          rejected/failed with the target unchanged: which is printed as a comment;
#   swap                   (17) strategy swap, restore_jobs 2, DUMP17: succeeded, equal, nothing left;
#   keep_previous          (17) DUMP17 with keep_previous: succeeded, its undo point in the spool's
#                          previous/acceptance/ is a dump of archive 1.16 (its header), and restored
#                          gives back the target as it was;
#   no_reader              (17) pg_client_dirs [/usr/lib/postgresql] and PATH /usr/bin:/bin (client 15
#                          only): DUMP17 with max_dump_version "1.16" rejected, the error names
#                          "PostgreSQL 17 or later" and "postgresql-client-17", the target unchanged;
#   pinned_pg_dump_too_old (17) pg_dump pinned to 15's: the backup is rejected, "PostgreSQL 17 or
#                          later", nothing in the output folder.
# And without a server: inspect (-c CONFIG inspect --json DUMP17: pg_restore.version "17.*") and
# inspect_no_reader (client 15 only: pg_restore null). At the end, a table of client major x
# server major x case as TAP comments, and the test's time.
#
# A server that cannot be fetched fails its case "<server>_server", clients 17 and 18 that cannot
# be the test (case "clients"), unless RW_SERVERS_SKIP_UNAVAILABLE=1 asks to skip them (the
# server's cases; the whole test, exit 77, for the clients).
set -euo pipefail
unset PG_SERVER_BIN # the first cluster is Debian's 15: it serves the 15 cases and DUMP17's source
source "$(dirname "$0")/lib.sh"

STARTED=$SECONDS
SERVERS="15 17 18"
case ${RW_SERVERS:-} in
all) SERVERS="15 16 17 18" ;;
none)
	echo "ok - client_matrix # SKIP RW_SERVERS=none"
	TESTS_FINISHED=1
	exit 77
	;;
esac
SERVERS=${RW_CLIENT_MATRIX_SERVERS:-$SERVERS}
for v in $SERVERS; do
	if ! [[ $v =~ ^1[5-8]$ ]]; then
		echo "client_matrix: the servers are 15 to 18, not '$v'" >&2
		TESTS_FINISHED=1
		exit 2
	fi
done
SCRIPTS=$TESTS_DIR/../scripts
A=$TEST_ROOT/archives
mkdir -p "$A"
DUMP17=$A/database-pg17.backup
MATRIX=()

# The three files of src's system$filedocument rows.
FILE_UUIDS=(0a1b2c3d-0000-4000-8000-000000000001 5e6f7a8b-0000-4000-8000-000000000002
	c9d0e1f2-0000-4000-8000-000000000003)

# make_src: create database src owned by app with the source's content, and its blob_dir $1
# holding the files its system$filedocument names.
make_src() {
	create_db src
	sql_as_app src - >/dev/null <<-'EOF'
		create table "shop$order" (id integer primary key, customer text not null,
			total numeric(14, 4), placed timestamptz);
		insert into "shop$order" select i, 'customer ' || i, i * 1.25,
			timestamptz '2024-05-01 10:00:00+00' + i * interval '1 hour' from generate_series(1, 40) i;
		create table "shop$line" (id integer primary key, "order" integer references "shop$order",
			note text default 'none');
		insert into "shop$line" select i, i % 40 + 1, 'line ' || i from generate_series(1, 80) i;
		create sequence "mendixsystem$seq" start 1000;
		select nextval('"mendixsystem$seq"'), nextval('"mendixsystem$seq"');
		create view "shop$bigorder" as select id, total from "shop$order" where total > 20;
		create table "system$filedocument" (id bigint primary key, "__uuid__" text,
			name text, hascontents boolean);
		insert into "system$filedocument" values
			(1, '0a1b2c3d-0000-4000-8000-000000000001', 'a.txt', true),
			(2, '5e6f7a8b-0000-4000-8000-000000000002', 'b.txt', true),
			(3, 'c9d0e1f2-0000-4000-8000-000000000003', 'c.txt', true);
	EOF
	make_src_files "$1"
}

# make_src_files: the files of src's system$filedocument rows in folder $1.
make_src_files() {
	local u
	for u in "${FILE_UUIDS[@]}"; do
		mkdir -p "$1/${u:0:2}/${u:2:2}"
		echo "the file $u" >"$1/${u:0:2}/${u:2:2}/$u"
	done
}

# mconfig: write config file $1 for target acceptance on database $2 (blob_dir BLOB_DIR, work_dir
# WORK_DIR). key=value arguments: pg_client_dirs replaces the default list, pg_dump, pg_restore
# and spool_dir go to the top, any other key into the target (quote values YAML needs quoted).
mconfig() {
	local file=$1 db=$2 kv dirs="[$CLIENTS, /usr/lib/postgresql]" top=() target=()
	shift 2
	for kv in "$@"; do
		case ${kv%%=*} in
		pg_client_dirs) dirs=${kv#*=} ;;
		pg_dump | pg_restore | spool_dir) top+=("${kv%%=*}: ${kv#*=}") ;;
		*) target+=("    ${kv%%=*}: ${kv#*=}") ;;
		esac
	done
	{
		echo "work_dir: $WORK_DIR"
		echo "pg_client_dirs: $dirs"
		[ ${#top[@]} -eq 0 ] || printf '%s\n' "${top[@]}"
		echo "default_target: acceptance"
		echo "targets:"
		echo "  acceptance:"
		echo "    database: \"host=$PGHOST dbname=$db user=app\""
		echo "    blob_dir: $BLOB_DIR"
		echo "    plan_quota: 10GB"
		[ ${#target[@]} -eq 0 ] || printf '%s\n' "${target[@]}"
	} >"$file"
}

# archive_version: print the archive version ("1.16") in the header of custom-format dump $1.
archive_version() {
	head -c 8 "$1" | od -An -tu1 | awk '$1 == 80 && $2 == 71 && $3 == 68 && $4 == 77 && $5 == 80 {
		print $6 "." $7; found = 1 } END { if (!found) print "(not a custom-format dump)" }'
}

# major_of: print the major of version string $1 ("17.12 (Debian ...)" gives 17), or "-".
major_of() {
	[[ $1 =~ ^([0-9]+)\. ]] && echo "${BASH_REMATCH[1]}" || echo -
}

# dump_major_for: the pg_dump major the worker must pick for server $1 (clients 15, 17, 18 here).
dump_major_for() {
	case $1 in
	12 | 13 | 14 | 15) echo 15 ;;
	16 | 17) echo 17 ;;
	*) echo "$1" ;;
	esac
}

# mcase_end: end the case, and note it in the matrix: the client it used $1 ("pg_restore 17"),
# the server's major $2.
mcase_end() {
	local result=ok
	[ ${#CASE_ERRORS[@]} -eq 0 ] || result="not ok"
	MATRIX+=("$(printf '%-28s %-6s %-32s %s' "$1" "$2" "$CASE_NAME" "$result")")
	case_end
}

# assert_rejected_unchanged: the last restore into database $1 was refused (exit 1, rejected,
# database unchanged) with an error holding each of the further arguments, and the database's
# fingerprint is as in $CASE_DIR/before.fp.
assert_rejected_unchanged() {
	local db=$1 want
	shift
	assert_exit 1
	report_is_one_object
	assert_report .status rejected
	assert_report .database.status unchanged
	assert_error_line
	for want in "$@"; do
		[[ $(report .error) == *"$want"* ]] || fail "the error does not name '$want': $(report .error)"
	done
	fingerprint_as after "$db"
	assert_fingerprint "target database (vs before)" "$CASE_DIR/before.fp" "$CASE_DIR/after.fp"
	assert_work_dir_empty
}

# assert_restored_src: the last restore into database $1 succeeded and it equals src (as in
# $SERVER_DIR/src.fp), with pg_restore of major $2 reading a dump of pg_dump major $3.
assert_restored_src() {
	assert_exit 0
	report_is_one_object
	assert_report .status succeeded
	assert_report .database.status restored
	assert_eq "database.pg_restore.version's major" "$2" "$(major_of "$(report .database.pg_restore.version)")"
	assert_eq "database.pg_dump_version's major" "$3" "$(major_of "$(report .database.pg_dump_version)")"
	fingerprint_as after "$1"
	assert_fingerprint "target database (vs src)" "$SERVER_DIR/src.fp" "$CASE_DIR/after.fp"
	assert_work_dir_empty
}

# assert_nothing_in: fail unless folder $1 holds nothing.
assert_nothing_in() {
	local left
	left=$(ls -A "$1")
	[ -z "$left" ] || fail "left in $(basename "$1"): $(echo "$left" | tr '\n' ' ')"
}

# check_status: the status and message of check $1 in check --json's output, as "status: message".
check_status() {
	jq -r --arg n "$1" '[.checks[] | select(.name == $n) | "\(.status): \(.message)"] | join("; ")' \
		"$CASE_DIR/out" 2>/dev/null || echo "(no JSON)"
}

# case_backup_round_trip: server $1's src backed up by the pg_dump the worker picks, changed,
# and restored from that backup to its state at the backup.
case_backup_round_trip() {
	local v=$1 dmajor version rmajor=15 max=()
	dmajor=$(dump_major_for "$v")
	version=1.14
	if [ "$v" -ge 16 ]; then
		version=1.16
		rmajor=17
		max=(max_dump_version='"1.16"')
	fi
	case_begin "pg${v}_backup_round_trip"
	BLOB_DIR=$SRC_BLOBS
	mconfig "$CASE_DIR/config.yaml" src "${max[@]}"
	mkdir "$CASE_DIR/dest"
	run_worker -c "$CASE_DIR/config.yaml" backup --output "$CASE_DIR/dest" --json
	assert_exit 0
	report_is_one_object
	assert_report .status succeeded
	assert_report .kind full_snapshot
	assert_report .database.dump_version "$version"
	assert_eq "database.pg_dump_version's major" "$dmajor" "$(major_of "$(report .database.pg_dump_version)")"
	assert_eq "database.server_version's major" "$v" "$(major_of "$(report .database.server_version)")"
	[[ $(report .database.pg_dump) == */"$dmajor"/bin/pg_dump ]] ||
		fail "database.pg_dump is not a pg_dump $dmajor: $(report .database.pg_dump)"
	local archive
	archive=$(report .archive)
	[ -f "$archive" ] || fail "the backup's archive is not there: $archive"
	if [ -f "$archive" ]; then
		mkdir "$CASE_DIR/x"
		tar -xzf "$archive" -C "$CASE_DIR/x" db/db.backup
		assert_eq "the archive's dump header" "$version" "$(archive_version "$CASE_DIR/x/db/db.backup")"
	fi
	local dump_version
	dump_version=$(report .database.pg_dump_version)
	assert_work_dir_empty
	fingerprint_as at_backup src
	FILES_ONLY=1 snapshot_dir_state "$SRC_BLOBS" >"$CASE_DIR/at_backup.files"

	# Changed after the backup: rows, a view, a file gone, one more.
	sql_as_app src "insert into \"shop\$order\" values (99, 'late', 1, now());
		delete from \"shop\$line\" where id > 70; drop view \"shop\$bigorder\";
		select nextval('\"mendixsystem\$seq\"')" >/dev/null
	rm "$SRC_BLOBS/${FILE_UUIDS[0]:0:2}/${FILE_UUIDS[0]:2:2}/${FILE_UUIDS[0]}"
	echo new >"$SRC_BLOBS/${FILE_UUIDS[1]:0:2}/${FILE_UUIDS[1]:2:2}/5e6f7a8b-0000-4000-8000-0000000000ff"
	fingerprint_as changed src
	cmp -s "$CASE_DIR/at_backup.fp" "$CASE_DIR/changed.fp" && fail "the change did not change src"

	if [ -f "$archive" ]; then
		run_worker -c "$CASE_DIR/config.yaml" restore --json "$archive"
		assert_exit 0
		report_is_one_object
		assert_report .status succeeded
		assert_report .database.status restored
		assert_report .files.status restored
		assert_report .database.dump_version "$version"
		# The version's number: the dump's header may add the build's ("17.12 (Debian ...)").
		assert_eq "database.pg_dump_version (vs the backup's)" "${dump_version%% *}" \
			"$(report .database.pg_dump_version | cut -d' ' -f1)"
		assert_report .files.missing.count 0
		assert_eq "database.pg_restore.version's major" "$rmajor" \
			"$(major_of "$(report .database.pg_restore.version)")"
		fingerprint_as after src
		assert_fingerprint "src (vs at the backup)" "$CASE_DIR/at_backup.fp" "$CASE_DIR/after.fp"
		FILES_ONLY=1 snapshot_dir_state "$SRC_BLOBS" >"$CASE_DIR/after.files"
		assert_same_file "blob_dir (vs at the backup)" "$CASE_DIR/at_backup.files" "$CASE_DIR/after.files"
		assert_work_dir_empty
	fi
	mcase_end "pg_dump $(major_of "$dump_version"), pg_restore $(major_of "$(report .database.pg_restore.version)")" "$v"
}

# case_backup_refused_at_default: server $1 (16+) at the default max_dump_version: the backup
# is refused, nothing written, and check warns.
case_backup_refused_at_default() {
	local v=$1
	case_begin "pg${v}_backup_refused_at_default"
	BLOB_DIR=$SRC_BLOBS
	mconfig "$CASE_DIR/config.yaml" src
	mkdir "$CASE_DIR/dest"
	run_worker -c "$CASE_DIR/config.yaml" backup --output "$CASE_DIR/dest" --json
	assert_exit 1
	report_is_one_object
	assert_report .status rejected
	assert_error_line
	local want
	for want in max_dump_version 1.16; do
		[[ $(report .error) == *"$want"* ]] || fail "the error does not name $want: $(report .error)"
	done
	assert_nothing_in "$CASE_DIR/dest"
	assert_work_dir_empty
	run_worker -c "$CASE_DIR/config.yaml" check --target acceptance --json
	[ "$RW_STATUS" != 2 ] || fail "check: exit status 2"
	local got
	got=$(check_status "pg_dump version")
	[[ $got == "warning: "*max_dump_version* ]] ||
		fail "check's pg_dump version is not a warning naming max_dump_version: '$got'"
	mcase_end "pg_dump $(dump_major_for "$v")" "$v"
}

# case_dump17: DUMP17 into server $1: with max_dump_version "1.16" restored (15: or refused,
# unchanged); at the default (17+) refused, unchanged.
case_dump17() {
	local v=$1
	case_begin "pg${v}_dump17"
	make_target_db t_dump17
	fingerprint_as before t_dump17
	mconfig "$CASE_DIR/config.yaml" t_dump17 max_dump_version='"1.16"'
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$DUMP17"
	if [ "$v" -ge 17 ] || [ "$RW_STATUS" = 0 ]; then
		assert_restored_src t_dump17 17 17
		assert_report .database.dump_version 1.16
		[ "$v" -ge 17 ] || echo "# pg${v}_dump17: restored (pg_restore $(report .database.pg_restore.version))"
	else
		assert_exit 1
		report_is_one_object
		assert_report_true '.status == "rejected" or .status == "failed"' "status rejected or failed"
		assert_report .database.status unchanged
		assert_error_line
		fingerprint_as after t_dump17
		assert_fingerprint "target database (vs before)" "$CASE_DIR/before.fp" "$CASE_DIR/after.fp"
		assert_work_dir_empty
		echo "# pg${v}_dump17: $(report .status), target unchanged: $(report .error | cut -c1-300)"
	fi
	mcase_end "pg_restore $(major_of "$(report .database.pg_restore.version)")" "$v"

	[ "$v" -ge 17 ] || return 0
	case_begin "pg${v}_dump17_at_default"
	make_target_db t_dump17_default
	fingerprint_as before t_dump17_default
	mconfig "$CASE_DIR/config.yaml" t_dump17_default
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$DUMP17"
	assert_rejected_unchanged t_dump17_default max_dump_version
	mcase_end "pg_restore (none: refused)" "$v"
}

# case_swap: server $1, strategy swap with two jobs, DUMP17.
case_swap() {
	local v=$1
	case_begin "pg${v}_swap"
	make_target_db t_swap
	local oid
	oid=$(sql postgres "select oid from pg_database where datname = 't_swap'")
	mconfig "$CASE_DIR/config.yaml" t_swap max_dump_version='"1.16"' strategy=swap restore_jobs=2
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$DUMP17"
	assert_restored_src t_swap 17 17
	[ "$(sql postgres "select oid from pg_database where datname = 't_swap'")" != "$oid" ] ||
		fail "the target's OID did not change (was it swapped?)"
	assert_eq "databases beside the target" "" \
		"$(sql postgres "select datname from pg_database where datname like 't\\_swap\\_rw\\_%'" | tr '\n' ' ')"
	mcase_end "pg_restore $(major_of "$(report .database.pg_restore.version)")" "$v"
}

# case_keep_previous: server $1, DUMP17 into a target with keep_previous; its undo point is an
# archive 1.16 dump, and restoring it gives the target back.
case_keep_previous() {
	local v=$1
	case_begin "pg${v}_keep_previous"
	make_target_db t_keep
	fingerprint_as before t_keep
	mkdir "$CASE_DIR/spool"
	mconfig "$CASE_DIR/config.yaml" t_keep spool_dir="$CASE_DIR/spool" max_dump_version='"1.16"' \
		keep_previous=true
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$DUMP17"
	assert_restored_src t_keep 17 17
	local previous
	previous=$(report .previous_backup)
	case $previous in
	"$CASE_DIR"/spool/previous/acceptance/database-*.backup)
		assert_eq "the undo point's dump header" 1.16 "$(archive_version "$previous")"
		;;
	"$CASE_DIR"/spool/previous/acceptance/files_and_database-*.tar.gz)
		mkdir "$CASE_DIR/x"
		tar -xzf "$previous" -C "$CASE_DIR/x" db/db.backup
		assert_eq "the undo point's dump header" 1.16 "$(archive_version "$CASE_DIR/x/db/db.backup")"
		;;
	*) fail "previous_backup is no backup in the spool's previous/acceptance/: $previous" ;;
	esac
	local rmajor
	rmajor=$(major_of "$(report .database.pg_restore.version)")
	if [ -f "$previous" ]; then
		mconfig "$CASE_DIR/undo.yaml" t_keep max_dump_version='"1.16"'
		run_worker -c "$CASE_DIR/undo.yaml" restore --json "$previous"
		assert_exit 0
		assert_report .status succeeded
		assert_eq "the undo's pg_restore major" 17 "$(major_of "$(report .database.pg_restore.version)")"
		fingerprint_as undone t_keep
		assert_fingerprint "target database after the undo (vs before)" "$CASE_DIR/before.fp" \
			"$CASE_DIR/undone.fp"
	fi
	mcase_end "pg_restore $rmajor" "$v"
}

# case_no_reader: server $1; only client 15 to be found: DUMP17 is refused, saying what to install.
case_no_reader() {
	local v=$1
	case_begin "pg${v}_no_reader"
	make_target_db t_no_reader
	fingerprint_as before t_no_reader
	mconfig "$CASE_DIR/config.yaml" t_no_reader pg_client_dirs='[/usr/lib/postgresql]' \
		max_dump_version='"1.16"'
	PATH=/usr/bin:/bin run_worker -c "$CASE_DIR/config.yaml" restore --json "$DUMP17"
	assert_rejected_unchanged t_no_reader "PostgreSQL 17 or later" postgresql-client-17
	mcase_end "pg_restore (15 only found)" "$v"
}

# case_pinned_pg_dump_too_old: server $1 with pg_dump pinned to 15's: the backup is refused.
case_pinned_pg_dump_too_old() {
	local v=$1
	case_begin "pg${v}_pinned_pg_dump_too_old"
	BLOB_DIR=$SRC_BLOBS
	mconfig "$CASE_DIR/config.yaml" src pg_dump="$PGBIN/pg_dump" max_dump_version='"1.16"'
	mkdir "$CASE_DIR/dest"
	run_worker -c "$CASE_DIR/config.yaml" backup --output "$CASE_DIR/dest" --json
	assert_exit 1
	report_is_one_object
	assert_report .status rejected
	assert_error_line
	[[ $(report .error) == *"PostgreSQL $v or later"* ]] ||
		fail "the error does not name 'PostgreSQL $v or later': $(report .error)"
	assert_report .database.pg_dump "$PGBIN/pg_dump"
	assert_nothing_in "$CASE_DIR/dest"
	assert_work_dir_empty
	mcase_end "pg_dump 15 (pinned)" "$v"
}

# run_server: the cases of server $1 on the running cluster.
run_server() {
	local v=$1
	SERVER_DIR=$TEST_ROOT/pg$v
	SRC_BLOBS=$SERVER_DIR/blobs/files
	mkdir -p "$SERVER_DIR/blobs"
	sql postgres "alter role app createdb"
	if [ "$(sql postgres "select count(*) from pg_database where datname = 'src'")" = 0 ]; then
		make_src "$SRC_BLOBS"
	else
		make_src_files "$SRC_BLOBS"
	fi
	snapshot_db_fingerprint src >"$SERVER_DIR/src.fp"

	case_backup_round_trip "$v"
	[ "$v" -lt 16 ] || case_backup_refused_at_default "$v"
	case_dump17 "$v"
	if [ "$v" = 17 ]; then
		case_swap "$v"
		case_keep_previous "$v"
		case_no_reader "$v"
		case_pinned_pg_dump_too_old "$v"
	fi
}

# The clients. A missing one fails (or skips) the whole test: every case needs them.
if ! CLIENT_BINS=$("$SCRIPTS/pg-clients" 17 18 2>"$TEST_ROOT/pg-clients.err"); then
	why=$(grep -v '^pg-clients: fetching' "$TEST_ROOT/pg-clients.err" | tail -n 1)
	if [ "${RW_SERVERS_SKIP_UNAVAILABLE:-0}" = 1 ]; then
		case_skip clients "${why:-scripts/pg-clients 17 18 failed}"
		TESTS_FINISHED=1
		exit 77
	fi
	case_begin clients
	fail "${why:-scripts/pg-clients 17 18 failed} (RW_SERVERS_SKIP_UNAVAILABLE=1 skips)"
	case_end
	finish || exit 1
fi
CLIENTS=$(dirname "$(dirname "$(head -n 1 <<<"$CLIENT_BINS")")")

# DUMP17, by client 17 from src on the Debian 15 cluster (lib.sh's first).
case_begin dump17_written
make_src "$TEST_ROOT/pg15/blobs/files"
PGUSER=app "$CLIENTS/17/bin/pg_dump" -O -x -Fc -d src -f "$DUMP17" 2>"$CASE_DIR/err" ||
	fail "pg_dump 17 of src fails"
assert_eq "DUMP17's header" 1.16 "$(archive_version "$DUMP17")"
mcase_end "pg_dump 17" 15

case_begin inspect
mconfig "$CASE_DIR/config.yaml" src max_dump_version='"1.16"'
run_worker -c "$CASE_DIR/config.yaml" inspect --json "$DUMP17"
report_is_one_object
assert_report .dump.version 1.16
[[ $(report .pg_restore.version) == 17.* ]] ||
	fail "pg_restore.version is not 17.*: $(report .pg_restore.version)"
[[ $(report .pg_restore.path) == */17/bin/pg_restore ]] ||
	fail "pg_restore.path is not a pg_restore 17: $(report .pg_restore.path)"
mcase_end "pg_restore $(major_of "$(report .pg_restore.version)")" -

case_begin inspect_no_reader
mconfig "$CASE_DIR/config.yaml" src pg_client_dirs='[/usr/lib/postgresql]' max_dump_version='"1.16"'
PATH=/usr/bin:/bin run_worker -c "$CASE_DIR/config.yaml" inspect --json "$DUMP17"
report_is_one_object
assert_report .dump.version 1.16
assert_report '.pg_restore == null and has("pg_restore")' true
mcase_end "pg_restore (15 only found)" -

# Each server: its cluster (15's is lib.sh's Debian one, running already; the others fetched).
CLUSTER_SERVER=15
for v in $SERVERS; do
	started=$SECONDS
	if [ "$v" != "$CLUSTER_SERVER" ]; then
		bin=$PGBIN
		if [ "$v" != 15 ] && ! bin=$("$SCRIPTS/pg-servers" "$v" 2>"$TEST_ROOT/pg-servers.err"); then
			why=$(grep -v '^pg-servers: fetching' "$TEST_ROOT/pg-servers.err" | tail -n 1)
			if [ "${RW_SERVERS_SKIP_UNAVAILABLE:-0}" = 1 ]; then
				case_skip "pg${v}_server" "${why:-scripts/pg-servers $v failed}"
			else
				case_begin "pg${v}_server"
				fail "${why:-scripts/pg-servers $v failed} (RW_SERVERS_SKIP_UNAVAILABLE=1 skips)"
				case_end
			fi
			continue
		fi
		[ -z "$CLUSTER_SERVER" ] || cluster_stop
		CLUSTER_SERVER=
		case_begin "pg${v}_server"
		if ! PG_SERVER_BIN=$bin cluster_start >"$CASE_DIR/err" 2>&1; then
			fail "the PostgreSQL $v cluster does not start"
			case_end
			rm -rf "$PG_DIR/data"
			continue
		fi
		CLUSTER_SERVER=$v
		sql postgres "create role app login"
		assert_eq "server version" "$v" "$(sql postgres "select current_setting('server_version_num')::int / 10000")"
		case_end
	fi
	run_server "$v"
	echo "# pg$v: $((SECONDS - started)) s"
done

echo "# client matrix (client, server major, case, result):"
printf '#   %s\n' "${MATRIX[@]}"
echo "# client_matrix: $((SECONDS - STARTED)) s"
finish
