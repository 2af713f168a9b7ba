#!/usr/bin/env bash
# backup_names.sh - backups by name: `list` shows the backups in backup_dir and the undo points
# in previous/, and restore and submit take `latest` or a backup's bare name as ARCHIVE.
#
# One configuration, two targets (acceptance with keep_previous, other), one cluster. Real
# backups: B1 (a full snapshot of state v1) and B2 (database-only, v2) by `backup
# --to-backup-dir`, then a restore of B1 into acceptance while it holds v3, which leaves the undo
# point P1 (v3) in previous/acceptance/. Cases:
#  - list: the three, newest first (P1, B2, B1), in the text table and in --json (every field,
#    in order); --target of an unknown target is a usage error;
#  - restore --target acceptance latest restores P1: the database holds v3 again;
#  - latest of a target without backups is refused (exit 1), naming the folders looked in;
#  - B2's bare name, found in backup_dir/acceptance/, restores into the other target (v2);
#  - a name in two targets' folders is refused as ambiguous (exit 1, both named), and a name
#    found nowhere as missing (exit 1, with --json a rejected report): the target unchanged,
#    no undo point made;
#  - a file of a backup's name that is no backup is listed without archive version, with a
#    warning; a snapshot cut short after its dump still shows its version (only its head is
#    read); a folder that cannot be read makes list exit 1, the others still listed;
#  - submit latest and submit NAME write the backup's absolute path into the job file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BACKUPS=$TEST_ROOT/backups
SPOOL=$TEST_ROOT/spool
CONFIG=$TEST_ROOT/config.yaml
EMPTY_CWD=$TEST_ROOT/cwd # the current folder of every run: no backup is a file here
mkdir -p "$TEST_ROOT/work" "$TEST_ROOT/blobs_a" "$TEST_ROOT/blobs_b" "$BACKUPS" "$EMPTY_CWD"
cat >"$CONFIG" <<EOF
work_dir: $TEST_ROOT/work
pg_restore: $PGBIN/pg_restore
spool_dir: $SPOOL
backup_dir: $BACKUPS
default_target: acceptance
targets:
  acceptance:
    database: "host=$PGHOST dbname=names_a user=app"
    blob_dir: $TEST_ROOT/blobs_a/files
    plan_quota: 10GB
    keep_previous: true
  other:
    database: "host=$PGHOST dbname=names_b user=app"
    blob_dir: $TEST_ROOT/blobs_b/files
    plan_quota: 10GB
EOF

# rw: run_worker with the configuration, from the empty current folder.
rw() {
	pushd "$EMPTY_CWD" >/dev/null
	run_worker -c "$CONFIG" "$@"
	popd >/dev/null
}

# set_mark: the state of database $1 is $2 (the one row of table mark).
set_mark() {
	sql_as_app "$1" "update mark set v = '$2'"
}

# mark: the state of database $1.
mark() {
	sql "$1" "select v from mark"
}

# stamp_time: the time of backup name $1 as list shows it ($2: text, or json).
stamp_time() {
	local s
	s=$(sed -E 's/.*-([0-9]{12})\..*/\1/' <<<"$1")
	if [ "$2" = json ]; then
		echo "${s:0:4}-${s:4:2}-${s:6:2}T${s:8:2}:${s:10:2}:00Z"
	else
		echo "${s:0:4}-${s:4:2}-${s:6:2} ${s:8:2}:${s:10:2}"
	fi
}

create_db names_a
create_db names_b
sql_as_app names_a "create table mark (v text); insert into mark values ('v1');
	create table t (id integer primary key, what text);
	insert into t select i, md5(i::text) from generate_series(1, 200) i"
BLOB_DIR=$TEST_ROOT/blobs_a/files old_blobs
STATES=$TEST_ROOT/states
mkdir "$STATES"

case_begin backups_made
BLOB_PARENT=$TEST_ROOT/blobs_a
snapshot_db_fingerprint names_a >"$STATES/v1.fp"
rw backup --target acceptance --to-backup-dir --json
assert_exit 0
B1=$(report .archive)
set_mark names_a v2
snapshot_db_fingerprint names_a >"$STATES/v2.fp"
rw backup --to-backup-dir --db-only --json
assert_exit 0
B2=$(report .archive)
set_mark names_a v3
snapshot_db_fingerprint names_a >"$STATES/v3.fp"
rw restore --target acceptance --json "$B1"
assert_exit 0
P1=$(report .previous_backup)
assert_eq "state after restoring B1" v1 "$(mark names_a)"
case $B1 in "$BACKUPS"/acceptance/files_and_database-*.tar.gz) ;; *) fail "B1 is $B1" ;; esac
case $B2 in "$BACKUPS"/acceptance/database-*.backup) ;; *) fail "B2 is $B2" ;; esac
case $P1 in "$SPOOL"/previous/acceptance/files_and_database-*.tar.gz) ;; *) fail "P1 is $P1" ;; esac
case_end

case_begin list_text
rw list
assert_exit 0
assert_eq "lines (a heading and three backups)" 4 "$(wc -l <"$CASE_DIR/out")"
head -n 1 "$CASE_DIR/out" | grep -qE '^TIME \(UTC\) +TARGET +SOURCE +KIND +SIZE +VERSION +NAME$' ||
	fail "the heading is '$(head -n 1 "$CASE_DIR/out")'"
i=2
for spec in "$P1 previous full" "$B2 backup db" "$B1 backup full"; do
	read -r path source kind <<<"$spec"
	name=$(basename "$path")
	line=$(sed -n "${i}p" "$CASE_DIR/out")
	pattern="^$(stamp_time "$name" text)  acceptance  $source +$kind +[0-9.]+ (B|KiB|MiB)  1\\.14 +$name\$"
	[[ $line =~ $pattern ]] || fail "line $i is '$line', expected /$pattern/"
	i=$((i + 1))
done
rw list --target nosuch
assert_exit 2
grep -q "has no target 'nosuch'" "$CASE_DIR/err" || fail "no message about the unknown target"
case_end

case_begin list_json
rw list --json
assert_exit 0
report_is_one_object
assert_report '.backups | map(.name) | join(" ")' \
	"$(basename "$P1") $(basename "$B2") $(basename "$B1")"
assert_report '.backups | map(keys_unsorted | join(",")) | unique | join(" ")' \
	"name,path,target,source,kind,time,bytes,archive_version"
i=0
for spec in "$P1 previous full_snapshot" "$B2 backup_dir database_only" "$B1 backup_dir full_snapshot"; do
	read -r path source kind <<<"$spec"
	assert_report ".backups[$i] | [.path, .target, .source, .kind, .time, .bytes, .archive_version] | map(tostring) | join(\" \")" \
		"$path acceptance $source $kind $(stamp_time "$path" json) $(stat -c %s "$path") 1.14"
	i=$((i + 1))
done
rw list --json --target other
assert_exit 0
assert_report '.backups | length' 0
rw list --target other
assert_exit 0
assert_eq "list of a target without backups" "no backups in $BACKUPS/other or $SPOOL/previous/other" \
	"$(cat "$CASE_DIR/out")"
case_end

case_begin latest_without_backups_refused
snapshot_db_fingerprint names_b >"$CASE_DIR/before.fp"
rw restore --target other latest
assert_exit 1
grep -qF "no backup of target other in $BACKUPS/other or $SPOOL/previous/other" "$CASE_DIR/err" ||
	fail "no message naming the folders looked in"
snapshot_db_fingerprint names_b >"$CASE_DIR/after.fp"
assert_fingerprint "names_b" "$CASE_DIR/before.fp" "$CASE_DIR/after.fp"
case_end

case_begin restore_latest
BLOB_PARENT=$TEST_ROOT/blobs_a
rw restore --target acceptance --json latest
assert_exit 0
assert_report .status succeeded
assert_report .source "$(basename "$P1")"
grep -qF "latest is $P1" "$CASE_DIR/err" || fail "restore does not say which backup latest is"
snapshot_db_fingerprint names_a >"$CASE_DIR/after.fp"
assert_fingerprint "names_a after restoring latest (vs v3, P1's)" "$STATES/v3.fp" "$CASE_DIR/after.fp"
P2=$(report .previous_backup)
case_end

case_begin bare_name_of_another_target
rw restore --target other --json "$(basename "$B2")"
assert_exit 0
assert_report .status succeeded
assert_report .archive_kind database_only
snapshot_db_fingerprint names_b >"$CASE_DIR/after.fp"
assert_fingerprint "names_b after restoring B2 by its name (vs v2)" "$STATES/v2.fp" "$CASE_DIR/after.fp"
case_end

# refused_unchanged: run restore with the arguments given, expect exit 1 and acceptance as it
# was: its database, its files, no new undo point, work_dir empty.
refused_unchanged() {
	BLOB_PARENT=$TEST_ROOT/blobs_a
	snapshot_db_fingerprint names_a >"$CASE_DIR/before.fp"
	snapshot_dir_state "$TEST_ROOT/blobs_a" >"$CASE_DIR/before.files"
	ls "$SPOOL/previous/acceptance" >"$CASE_DIR/before.previous"
	rw restore "$@"
	assert_exit 1
	snapshot_db_fingerprint names_a >"$CASE_DIR/after.fp"
	assert_fingerprint names_a "$CASE_DIR/before.fp" "$CASE_DIR/after.fp"
	snapshot_dir_state "$TEST_ROOT/blobs_a" >"$CASE_DIR/after.files"
	assert_same_file "blob_dir and its folder" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
	ls "$SPOOL/previous/acceptance" >"$CASE_DIR/after.previous"
	assert_same_file "previous/acceptance" "$CASE_DIR/before.previous" "$CASE_DIR/after.previous"
	[ -z "$(ls -A "$TEST_ROOT/work")" ] || fail "work_dir not empty: $(ls -A "$TEST_ROOT/work")"
}

case_begin ambiguous_name_refused
mkdir -p "$BACKUPS/other"
cp "$B1" "$BACKUPS/other/"
refused_unchanged --target acceptance "$(basename "$B1")"
grep -qF "several backups have that name ($B1, $BACKUPS/other/$(basename "$B1"))" "$CASE_DIR/err" ||
	fail "the refusal does not name both backups"
case_end

case_begin missing_name_refused
refused_unchanged --json files_and_database-12345678-201901010000.tar.gz
assert_report .status rejected
assert_report_true '.error | contains("files_and_database-12345678-201901010000.tar.gz: no such file here, nor a backup of that name in ")' \
	"the error says the name is neither a file here nor a backup"
assert_report_true ".error | contains(\"$BACKUPS/acceptance, $SPOOL/previous/acceptance, $BACKUPS/other or $SPOOL/previous/other\")" \
	"the error names the folders looked in"
case_end

case_begin unreadable_backup_listed_without_version
JUNK=$BACKUPS/other/files_and_database-0badc0de-201801010000.tar.gz
echo "not a backup" >"$JUNK"
rw list --target other --json
assert_exit 0
assert_report '.backups | map([.name, (.archive_version | tostring)] | join(" ")) | join(", ")' \
	"$(basename "$B1") 1.14, $(basename "$JUNK") null"
grep -qF "warning: $JUNK: " "$CASE_DIR/err" || fail "no warning naming $JUNK"
rm -f "$JUNK"
case_end

# The version is read from the archive's first entries only: a snapshot cut short in its files
# (after db/db.backup) still shows its version, without a warning; reading it whole would fail.
case_begin version_read_from_the_head_only
CUT=$BACKUPS/other/files_and_database-0000beef-201701010000.tar.gz
FILE_SIZE=300000 make_snapshot_dir "$CASE_DIR/snap" names_a 3
pack_snapshot "$CUT" "$CASE_DIR/snap"
truncate -s -200000 "$CUT"
rw inspect "$CUT"
assert_exit 1 # the archive is truncated: reading it whole refuses it
rw list --target other --json
assert_exit 0
assert_report ".backups | map(select(.path == \"$CUT\") | .archive_version) | join(\" \")" 1.14
grep -q warning "$CASE_DIR/err" && fail "a warning: $(cat "$CASE_DIR/err")"
rm -f "$CUT"
case_end

case_begin unreadable_folder_fails_list
mkdir -p "$SPOOL/previous"
echo "a file where a folder belongs" >"$SPOOL/previous/other"
rw list --json
assert_exit 1
grep -qF "cannot read the folder $SPOOL/previous/other" "$CASE_DIR/err" ||
	fail "no message naming the folder that cannot be read"
assert_report '.backups | map(select(.target == "acceptance")) | length' 4
rm -f "$SPOOL/previous/other"
case_end

case_begin submit_by_name
rw list --json --target acceptance
NEWEST=$(report '.backups[0].path')
assert_eq "the newest backup of acceptance (the undo point of restore latest)" "${P2:-P2}" "$NEWEST"
rw submit --target acceptance latest
assert_exit 0
JOB=$(head -n 1 "$CASE_DIR/out")
assert_eq "the job file's archive" "\"$NEWEST\"" "$(sed -n 's/^archive: //p' "$JOB" 2>/dev/null)"
rw submit "$(basename "$B2")"
assert_exit 0
JOB=$(head -n 1 "$CASE_DIR/out")
assert_eq "the job file's archive" "\"$B2\"" "$(sed -n 's/^archive: //p' "$JOB" 2>/dev/null)"
rw submit --target other latest
assert_exit 0
JOB=$(head -n 1 "$CASE_DIR/out")
assert_eq "the job file's archive (other's only backup)" "\"$BACKUPS/other/$(basename "$B1")\"" \
	"$(sed -n 's/^archive: //p' "$JOB" 2>/dev/null)"
rw submit nosuch.backup
assert_exit 1
ls "$SPOOL/incoming" | grep -c '^submit-' >"$CASE_DIR/count" || true
assert_eq "job files written (none for the missing name)" 3 "$(cat "$CASE_DIR/count")"
case_end

finish
