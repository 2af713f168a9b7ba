#!/usr/bin/env bash
# backup.sh - restore-worker backup against a real PostgreSQL and real files: what it writes is
# what inspect accepts and restore restores exactly, in the documented format; what it refuses
# and how it fails leave nothing behind.
#
# Cases: a full snapshot's round trip into a second target (database and files equal), its
# entries and their order, the dump's header, .metadata's keys and values; the same for
# --db-only; modelVersion from mendixsystem$version; a pg_dump newer than max_dump_version
# refused with nothing written; blob_dir entries outside the layout left out with warnings;
# pg_dump failing, a database that does not exist, an unwritable output folder and a full disk:
# exit 1, no .part, work_dir empty; the password only in pg_dump's environment; retention
# (--keep, also with --output under another name, --to-backup-dir with backup_dir, backup_keep
# and stale .part files); --output -; a file rewritten while it is copied fails the backup;
# the current folder by default; usage errors.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SNAPSHOT_RE='^files_and_database-[0-9a-f]{8}-[0-9]{12}\.tar\.gz$'
DBONLY_RE='^database-[0-9a-f]{8}-[0-9]{12}\.backup$'

# make_blobs: put $2 files of random sizes (1 to 20000 bytes) into folder $1, in the layout.
make_blobs() {
	local dir=$1 n=$2 i uuid
	for ((i = 0; i < n; i++)); do
		uuid=$(new_uuid)
		mkdir -p "$dir/${uuid:0:2}/${uuid:2:2}"
		head -c $((RANDOM % 20000 + 1)) /dev/urandom >"$dir/${uuid:0:2}/${uuid:2:2}/$uuid"
	done
}

# source_config: config file $1 whose target "acceptance" is database $2 with blob_dir $3;
# more key=value arguments go to write_config, TOP_KEYS (lines) go to the top.
source_config() {
	local file=$1 db=$2 blobs=$3
	shift 3
	BLOB_DIR=$blobs write_config "$file.body" dbname="$db" "$@"
	{ printf '%s\n' "${TOP_KEYS:-}" | sed '/^$/d'; cat "$file.body"; } >"$file"
	rm -f "$file.body"
}

# only_file: the one file of folder $1 (fails the case unless there is exactly one).
only_file() {
	local n
	n=$(find "$1" -mindepth 1 -maxdepth 1 | wc -l)
	[ "$n" = 1 ] || fail "$1 holds $n entries, expected 1: $(ls -A "$1" | tr '\n' ' ')"
	find "$1" -mindepth 1 -maxdepth 1 | head -n 1
}

# assert_nothing_left: fail unless folder $1 is empty and work_dir too.
assert_nothing_left() {
	local left
	left=$(ls -A "$1")
	[ -z "$left" ] || fail "left in $1: $(echo "$left" | tr '\n' ' ')"
	assert_work_dir_empty
}

make_source_db src
make_blobs "$TEST_ROOT/src_blobs" 50
SRC_BLOBS=$TEST_ROOT/src_blobs

case_begin full_snapshot_round_trip
source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
mkdir "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 0
report_is_one_object
assert_report .status succeeded
assert_report .kind full_snapshot
assert_report .files.count 50
assert_report '.files.bytes == .files.measured_bytes' true
assert_report .database.dump_version 1.14
# The test database has no system$filedocument: every file is backed up, and one warning says
# that no file could be left out for DeleteAfterDownload.
assert_report '[.warnings[] | select(contains("no table system$filedocument"))] | length' 1
assert_report '.warnings | length' 1
assert_report .files.left_out_by_design 0
ARCHIVE=$(only_file "$CASE_DIR/dest")
[[ $(basename "$ARCHIVE") =~ $SNAPSHOT_RE ]] || fail "archive name $(basename "$ARCHIVE")"
assert_report .archive "$ARCHIVE"
assert_report .archive_bytes "$(stat -c %s "$ARCHIVE")"
assert_report ".job_id[0:8]" "$(basename "$ARCHIVE" | cut -d- -f2)"
assert_work_dir_empty
# Restored into a second target, database and files equal the source's.
make_target_db dst_full
write_config "$CASE_DIR/dst.yaml" dbname=dst_full
run_worker -c "$CASE_DIR/dst.yaml" restore --json "$ARCHIVE"
assert_exit 0
assert_report .status succeeded
# The test database has no system$filedocument, so the file check is skipped with a warning;
# no other warning (such as a size that does not match .metadata) may appear.
assert_report '[.warnings[] | select(contains("system$filedocument") | not)] | length' 0
snapshot_db_state src >"$CASE_DIR/src.db"
snapshot_db_state dst_full >"$CASE_DIR/dst.db"
assert_same_file "restored database (vs the source)" "$CASE_DIR/src.db" "$CASE_DIR/dst.db"
FILES_ONLY=1 snapshot_dir_state "$SRC_BLOBS" >"$CASE_DIR/src.files"
FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/dst.files"
assert_same_file "restored files (vs blob_dir)" "$CASE_DIR/src.files" "$CASE_DIR/dst.files"
# inspect accepts it.
run_worker inspect --json "$ARCHIVE"
assert_exit 0
assert_report .archive_kind full_snapshot
assert_report '.problems | length' 0
assert_report '.warnings | length' 0
assert_report .files.count 50
cp "$ARCHIVE" "$TEST_ROOT/full.tar.gz"
case_end

case_begin snapshot_layout
A=$TEST_ROOT/full.tar.gz
tar tzf "$A" >"$CASE_DIR/names"
assert_eq "first entry" .metadata "$(sed -n 1p "$CASE_DIR/names")"
assert_eq "second entry" db/db.backup "$(sed -n 2p "$CASE_DIR/names")"
assert_eq "entries" 52 "$(wc -l <"$CASE_DIR/names")"
sed -n '3,$p' "$CASE_DIR/names" >"$CASE_DIR/tree"
bad=$(grep -Ev '^tree/([0-9a-f]{2})/([0-9a-f]{2})/\1\2[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' \
	"$CASE_DIR/tree" || true)
[ -z "$bad" ] || fail "tree entries outside the format: $bad"
sort -c "$CASE_DIR/tree" 2>/dev/null || fail "tree entries are not in sorted order"
(cd "$SRC_BLOBS" && find . -type f -printf 'tree/%P\n' | sort) >"$CASE_DIR/expected.tree"
assert_same_file "tree entries (vs blob_dir)" "$CASE_DIR/expected.tree" "$CASE_DIR/tree"
# Every entry a regular file (no folder entries), owned by 0.
types=$(tar tvzf "$A" | cut -c1 | sort -u | tr -d '\n')
assert_eq "entry types" - "$types"
mkdir "$CASE_DIR/x"
tar xzf "$A" -C "$CASE_DIR/x"
# The dump: custom format (byte 11 is 1), archive version 1.14, made with -O -x.
assert_eq "dump magic" PGDMP "$(head -c 5 "$CASE_DIR/x/db/db.backup")"
assert_eq "dump version and format" "1 14 1" \
	"$(od -An -tu1 -j5 -N6 "$CASE_DIR/x/db/db.backup" | awk '{print $1, $2, $6}')"
"$PGBIN/pg_restore" -l "$CASE_DIR/x/db/db.backup" >/dev/null || fail "pg_restore -l cannot read db/db.backup"
"$PGBIN/pg_restore" -f - "$CASE_DIR/x/db/db.backup" | grep -qE '^(ALTER .* OWNER TO|GRANT) ' &&
	fail "the dump holds owners or grants (not made with -O -x)"
# .metadata: the documented keys, string values, the real sizes.
M=$CASE_DIR/x/.metadata
assert_eq ".metadata keys" '["databaseSize","dumpSize","duration","filesSize"]' "$(jq -c 'keys' "$M")"
assert_eq ".metadata values all strings" true "$(jq '[.[] | type == "string"] | all' "$M")"
assert_eq "dumpSize" "$(stat -c %s "$CASE_DIR/x/db/db.backup")" "$(jq -r .dumpSize "$M")"
assert_eq "filesSize" "$(find "$SRC_BLOBS" -type f -printf '%s\n' | awk '{s += $1} END {print s}')" \
	"$(jq -r .filesSize "$M")"
size=$(sql src "select pg_database_size('src')")
assert_eq "databaseSize" "$size" "$(jq -r .databaseSize "$M")"
[[ $(jq -r .duration "$M") =~ ^[0-9]+$ ]] || fail "duration is not whole seconds: $(jq -r .duration "$M")"
case_end

case_begin db_only_round_trip
source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
mkdir "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --db-only --output "$CASE_DIR/dest" --json
assert_exit 0
assert_report .status succeeded
assert_report .kind database_only
assert_report .files.count 0
ARCHIVE=$(only_file "$CASE_DIR/dest")
[[ $(basename "$ARCHIVE") =~ $DBONLY_RE ]] || fail "archive name $(basename "$ARCHIVE")"
assert_eq "dump magic" PGDMP "$(head -c 5 "$ARCHIVE")"
assert_report .database.dump_bytes "$(stat -c %s "$ARCHIVE")"
assert_report .archive_bytes "$(stat -c %s "$ARCHIVE")"
assert_work_dir_empty
run_worker inspect --json "$ARCHIVE"
assert_exit 0
assert_report .archive_kind database_only
make_target_db dst_db
mkdir -p "$BLOB_DIR"
old_blobs
snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/before.files"
write_config "$CASE_DIR/dst.yaml" dbname=dst_db
run_worker -c "$CASE_DIR/dst.yaml" restore --json "$ARCHIVE"
assert_exit 0
assert_report .status succeeded
snapshot_db_state src >"$CASE_DIR/src.db"
snapshot_db_state dst_db >"$CASE_DIR/dst.db"
assert_same_file "restored database (vs the source)" "$CASE_DIR/src.db" "$CASE_DIR/dst.db"
snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
assert_same_file "blob_dir (left alone)" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
case_end

case_begin model_version
sql postgres "create database mv owner app"
sql_as_app mv "create table \"mendixsystem\$version\" (versionnumber varchar(30), lastsyncdate varchar(30),
	modelversion varchar(255), mendixversion varchar(255));
	insert into \"mendixsystem\$version\" values ('4.2', '20181121 01:21:00', '1.0.0.40', '9.24.0')"
source_config "$CASE_DIR/src.yaml" mv "$CASE_DIR/noblobs"
mkdir "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 0
assert_report .database.model_version 1.0.0.40
ARCHIVE=$(only_file "$CASE_DIR/dest")
assert_eq ".metadata modelVersion" 1.0.0.40 "$(tar xzOf "$ARCHIVE" .metadata | jq -r .modelVersion)"
assert_eq "entries (no blob_dir: no files)" ".metadata db/db.backup" "$(tar tzf "$ARCHIVE" | tr '\n' ' ' | sed 's/ $//')"
assert_report .files.count 0
# A table without the column: no modelVersion.
sql_as_app mv "alter table \"mendixsystem\$version\" drop column modelversion"
rm -f "$CASE_DIR/dest"/*
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 0
assert_report .database.model_version null
ARCHIVE=$(only_file "$CASE_DIR/dest")
assert_eq ".metadata has modelVersion" false "$(tar xzOf "$ARCHIVE" .metadata | jq 'has("modelVersion")')"
case_end

case_begin pg_dump_newer_than_allowed
source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS" max_dump_version=1.13
mkdir "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 1
report_is_one_object
assert_report .status rejected
assert_error_line
report .error | grep -q "archive version 1.14" || fail "the error does not give the version pg_dump writes"
report .error | grep -q "newer than the target's max_dump_version 1.13" || fail "the error does not give the limit"
# No pg_dump older than the server's own dumps it: the way out is the limit.
report .error | grep -q 'set max_dump_version: "1.14" for target acceptance' || fail "the error does not say what to set"
assert_nothing_left "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --db-only --output "$CASE_DIR/dest"
assert_exit 1
grep -q "newer than the target's max_dump_version" "$CASE_DIR/err" || fail "no refusal on stderr"
assert_nothing_left "$CASE_DIR/dest"
case_end

case_begin blob_dir_entries_outside_the_layout
B=$CASE_DIR/blobs_mixed
make_blobs "$B" 5
u=$(new_uuid)
echo stray >"$B/readme.txt"
mkdir -p "$B/${u:0:2}/${u:2:2}" "$B/zz"
ln -s /etc/passwd "$B/${u:0:2}/${u:2:2}/$u"
w=$(new_uuid)
mkdir -p "$B/${w:0:2}/${w:2:2}/$w"
v=$(new_uuid)
mkdir -p "$B/${v:0:2}/${v:2:2}"
echo upper >"$B/${v:0:2}/${v:2:2}/$(echo "$v" | tr a-f A-F)"
x=$(new_uuid)
echo misplaced >"$B/${v:0:2}/${v:2:2}/$x"
# A top-level xx that is a symbolic link: a pair no file above took (else ln would go inside it).
for link in ff fe fd fc; do
	[ -e "$B/$link" ] || break
done
ln -s "$SRC_BLOBS" "$B/$link"
source_config "$CASE_DIR/src.yaml" src "$B"
mkdir "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 0
assert_report .status succeeded
assert_report .files.count 5
assert_report .files.skipped 7
for what in "readme.txt left out" "zz left out" "${u:0:2}/${u:2:2}/$u left out: a symbolic link" \
	"${w:0:2}/${w:2:2}/$w left out: a folder where a file belongs" "not named by a lowercase UUID" \
	"$x left out: not in its UUID's xx/yy folder" "$link left out: a symbolic link"; do
	report '.warnings[]' | grep -qF "$what" || fail "no warning with '$what'"
done
ARCHIVE=$(only_file "$CASE_DIR/dest")
assert_eq "tree entries" 5 "$(tar tzf "$ARCHIVE" | grep -c '^tree/')"
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest"
assert_exit 0
grep -q "warning: blob_dir entry readme.txt left out" "$CASE_DIR/err" || fail "no warning on stderr"
case_end

case_begin pg_dump_fails
cat >"$CASE_DIR/pg_dump" <<-EOF
	#!/bin/sh
	[ "\$1" = --version ] && exec "$PGBIN/pg_dump" --version
	while [ \$# -gt 0 ]; do [ "\$1" = -f ] && echo partial >"\$2"; shift; done
	echo "pg_dump: error: simulated failure half-way" >&2
	exit 1
EOF
chmod +x "$CASE_DIR/pg_dump"
TOP_KEYS="pg_dump: $CASE_DIR/pg_dump" source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
mkdir "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 1
assert_report .status failed
assert_error_line
report .error | grep -q "pg_dump of database src failed: simulated failure half-way" ||
	fail "the error does not say what pg_dump said"
assert_nothing_left "$CASE_DIR/dest"
# A database that does not exist.
source_config "$CASE_DIR/nodb.yaml" no_such_db "$SRC_BLOBS"
run_worker -c "$CASE_DIR/nodb.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 1
assert_report .status failed
report .error | grep -q 'database "no_such_db" does not exist' || fail "the error does not name the database"
assert_nothing_left "$CASE_DIR/dest"
# pg_dump that cannot be run.
TOP_KEYS="pg_dump: $CASE_DIR/no-such-pg_dump" source_config "$CASE_DIR/src2.yaml" src "$SRC_BLOBS"
run_worker -c "$CASE_DIR/src2.yaml" backup --output "$CASE_DIR/dest"
assert_exit 1
assert_nothing_left "$CASE_DIR/dest"
case_end

case_begin password_only_in_the_environment
cat >"$CASE_DIR/pg_dump" <<-EOF
	#!/bin/sh
	[ "\$1" = --version ] && exec "$PGBIN/pg_dump" --version
	echo "\$*" >"$CASE_DIR/argv"
	echo "\${PGPASSWORD:-none} \${PGHOST:-none} \${PGUSER:-none} \${PGAPPNAME:-none} \${LC_MESSAGES:-none} \${LC_ALL:-none}" >"$CASE_DIR/env"
	exec "$PGBIN/pg_dump" "\$@"
EOF
chmod +x "$CASE_DIR/pg_dump"
TOP_KEYS="pg_dump: $CASE_DIR/pg_dump" source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS" \
	database="host=$PGHOST dbname=src user=app password=Secr3tPw"
mkdir "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --db-only --output "$CASE_DIR/dest/db.backup" --json
assert_exit 0
[ -f "$CASE_DIR/dest/db.backup" ] || fail "--output FILE did not write that file"
grep -q Secr3tPw "$CASE_DIR/argv" && fail "the password is on pg_dump's command line"
assert_eq "pg_dump's command line" "-O -x -Fc --verbose -f $WORK_DIR/backup-$(report .job_id).dump --dbname=dbname='src'" \
	"$(cat "$CASE_DIR/argv")"
# Its messages in English (they are read), whatever LC_ALL the caller has (lib.sh sets C).
assert_eq "pg_dump's environment" "Secr3tPw $PGHOST app restore-worker C none" "$(cat "$CASE_DIR/env")"
grep -q Secr3tPw "$CASE_DIR/out" "$CASE_DIR/err" && fail "the password is in the output"
case_end

# An output folder that cannot be written, and a disk that fills: in a mount namespace of our
# own (root there, so a read-only mount is what refuses).
if ! unshare --mount --map-root-user true 2>/dev/null; then
	case_skip unwritable_output_folder "unshare --mount --map-root-user is not permitted here"
	case_skip output_disk_full "unshare --mount --map-root-user is not permitted here"
else
	for row in "unwritable_output_folder|ro,size=1m|Read-only file system" \
		"output_disk_full|size=256k|No space left on device"; do
		IFS='|' read -r name options message <<<"$row"
		case_begin "$name"
		source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
		mkdir "$CASE_DIR/dest"
		export RESTORE_WORKER CASE_DIR WORK_DIR
		# shellcheck disable=SC2016 # the script expands its variables itself, in the namespace
		OPTIONS=$options unshare --mount --map-root-user bash -euo pipefail -c '
			mount -t tmpfs -o "$OPTIONS" tmpfs "$CASE_DIR/dest"
			set +e
			timeout -k 5 120 "$RESTORE_WORKER" -c "$CASE_DIR/src.yaml" backup \
				--output "$CASE_DIR/dest" --json >"$CASE_DIR/out" 2>"$CASE_DIR/err"
			echo $? >"$CASE_DIR/status"
			set -e
			ls -A "$CASE_DIR/dest" >"$CASE_DIR/left"
		' || fail "the namespace script failed"
		RW_STATUS=$(cat "$CASE_DIR/status" 2>/dev/null || echo none)
		assert_exit 1
		report_is_one_object
		assert_report .status failed
		assert_error_line
		report .error | grep -q "$message" || fail "the error does not say '$message'"
		[ ! -s "$CASE_DIR/left" ] || fail "left in the output folder: $(tr '\n' ' ' <"$CASE_DIR/left")"
		assert_work_dir_empty
		case_end
	done
fi

case_begin keep_newest
source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
O=$CASE_DIR/dest
mkdir "$O"
touch "$O/files_and_database-00000000-201801010000.tar.gz" "$O/files_and_database-11111111-201901010000.tar.gz" \
	"$O/database-22222222-201801010000.backup" "$O/notes.txt" "$O/files_and_database-old.tar.gz"
for i in 1 2 3; do
	run_worker -c "$CASE_DIR/src.yaml" backup --output "$O" --keep 2 --json
	assert_exit 0
	cp "$CASE_DIR/out" "$CASE_DIR/run$i.json"
	sleep 1
done
assert_report '.removed | length' 1
ls "$O" | grep -E "$SNAPSHOT_RE" | grep -v -e -201801010000 -e -201901010000 >"$CASE_DIR/kept"
assert_eq "full snapshots kept" 2 "$(wc -l <"$CASE_DIR/kept")"
assert_eq "the newest kept" "$(basename "$(jq -r .archive "$CASE_DIR/run3.json")")" \
	"$(ls -t "$O" | grep -E "$SNAPSHOT_RE" | head -n 1)"
[ -e "$(jq -r .archive "$CASE_DIR/run1.json")" ] && fail "the oldest backup is still there"
for f in database-22222222-201801010000.backup notes.txt files_and_database-old.tar.gz; do
	[ -e "$O/$f" ] || fail "$f (not this kind of backup) was removed"
done
assert_eq "removed by the first run (the new one and the newest other kept)" \
	'["files_and_database-00000000-201801010000.tar.gz"]' "$(jq -c .removed "$CASE_DIR/run1.json")"
assert_eq "removed by the second run" \
	'["files_and_database-11111111-201901010000.tar.gz"]' "$(jq -c .removed "$CASE_DIR/run2.json")"
case_end

case_begin keep_with_another_output_name
# --output DIR/latest.backup --keep 1: the file written has no Mendix name, so it is not
# counted; the newest Mendix-named backup of its kind is kept, the older one goes.
source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
O=$CASE_DIR/dest
mkdir "$O"
touch "$O/database-00000000-201801010000.backup" "$O/database-11111111-201901010000.backup"
run_worker -c "$CASE_DIR/src.yaml" backup --db-only --output "$O/latest.backup" --keep 1 --json
assert_exit 0
assert_eq "files left" "database-11111111-201901010000.backup latest.backup" "$(ls "$O" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "removed" '["database-00000000-201801010000.backup"]' "$(jq -c .removed "$CASE_DIR/out")"
case_end

case_begin to_backup_dir
mkdir "$CASE_DIR/backups" "$CASE_DIR/spool"
TOP_KEYS=$(printf 'backup_dir: %s\nbackup_keep: 2\nspool_dir: %s' "$CASE_DIR/backups" "$CASE_DIR/spool") \
	source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
D=$CASE_DIR/backups/acceptance
mkdir "$D"
touch "$D/files_and_database-33333333-201801010000.tar.gz.part" "$D/other.part"
for i in 1 2 3; do
	run_worker -c "$CASE_DIR/src.yaml" backup --to-backup-dir --json
	assert_exit 0
	sleep 1
done
assert_eq "backups kept in backup_dir/acceptance" 2 "$(ls "$D" | grep -cE "$SNAPSHOT_RE")"
[ -e "$D/files_and_database-33333333-201801010000.tar.gz.part" ] && fail "a stale .part was left"
[ -e "$D/other.part" ] || fail "other.part (not ours) was removed"
run_worker -c "$CASE_DIR/src.yaml" backup --to-backup-dir --keep 1 --db-only
assert_exit 0
assert_eq "database-only backups" 1 "$(ls "$D" | grep -cE "$DBONLY_RE")"
assert_eq "full snapshots (another kind)" 2 "$(ls "$D" | grep -cE "$SNAPSHOT_RE")"
# Without backup_dir, --to-backup-dir is a configuration error.
source_config "$CASE_DIR/nodir.yaml" src "$SRC_BLOBS"
run_worker -c "$CASE_DIR/nodir.yaml" backup --to-backup-dir
assert_exit 2
grep -q "has no backup_dir" "$CASE_DIR/err" || fail "no message about backup_dir"
case_end

# --to-backup-dir creates backup_dir when it is missing (mode 0750 less the umask), but not its
# parent: a backup_dir whose parent is missing is refused with a message naming that parent.
case_begin to_backup_dir_creates_backup_dir
TOP_KEYS="backup_dir: $CASE_DIR/backups" source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
saved_umask=$(umask)
umask 022
run_worker -c "$CASE_DIR/src.yaml" backup --to-backup-dir --db-only --json
umask "$saved_umask"
assert_exit 0
[ -d "$CASE_DIR/backups/acceptance" ] || fail "backup_dir/acceptance was not created"
assert_eq "backup_dir's mode" 750 "$(stat -c %a "$CASE_DIR/backups" 2>/dev/null)"
assert_eq "database-only backups in backup_dir/acceptance" 1 \
	"$(ls "$CASE_DIR/backups/acceptance" 2>/dev/null | grep -cE "$DBONLY_RE")"
TOP_KEYS="backup_dir: $CASE_DIR/missing/backups" source_config "$CASE_DIR/deep.yaml" src "$SRC_BLOBS"
run_worker -c "$CASE_DIR/deep.yaml" backup --to-backup-dir --db-only
assert_exit 1
[ -e "$CASE_DIR/missing" ] && fail "backup_dir's missing parent was created"
grep -qF "its parent folder $CASE_DIR/missing does not exist" "$CASE_DIR/err" ||
	fail "the error does not name backup_dir's missing parent"
assert_work_dir_empty
case_end

case_begin output_to_stdout
source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
mkdir "$CASE_DIR/cwd"
set +e
(cd "$CASE_DIR/cwd" && timeout 120 "$RESTORE_WORKER" -c "$CASE_DIR/src.yaml" backup --output - \
	>"$CASE_DIR/stdout.tar.gz" 2>"$CASE_DIR/err")
RW_STATUS=$?
set -e
assert_exit 0
assert_eq "files in the current folder" "" "$(ls -A "$CASE_DIR/cwd")"
assert_eq "entries" 52 "$(tar tzf "$CASE_DIR/stdout.tar.gz" | wc -l)"
grep -q "backup written: -" "$CASE_DIR/err" || fail "no outcome on stderr"
run_worker inspect --json "$CASE_DIR/stdout.tar.gz"
assert_exit 0
assert_report '.problems | length' 0
# Database only, to stdout.
set +e
"$RESTORE_WORKER" -c "$CASE_DIR/src.yaml" backup --db-only --output - >"$CASE_DIR/db.backup" 2>"$CASE_DIR/err"
RW_STATUS=$?
set -e
assert_exit 0
"$PGBIN/pg_restore" -l "$CASE_DIR/db.backup" >/dev/null || fail "pg_restore -l cannot read the dump from stdout"
assert_work_dir_empty
case_end

case_begin file_rewritten_while_copied
# A file of blob_dir rewritten in place while the backup copies it. The backup writes to a pipe
# (--output - into a FIFO) that is read a little at a time, only until the file's descriptor
# has been read from (its offset in /proc/PID/fdinfo); the backup then waits on the full pipe
# in the middle of the file, and the rewrite falls inside the copy every time. Then the pipe is
# drained. The backup must fail naming the file instead of archiving a mixture.
B=$CASE_DIR/blobs_rewritten
u=$(new_uuid)
F=$B/${u:0:2}/${u:2:2}/$u
mkdir -p "$(dirname "$F")"
head -c 2M /dev/urandom >"$F"
source_config "$CASE_DIR/src.yaml" src "$B"
mkfifo "$CASE_DIR/pipe"
"$RESTORE_WORKER" -c "$CASE_DIR/src.yaml" backup --output - >"$CASE_DIR/pipe" 2>"$CASE_DIR/err" &
pid=$!
exec 3<"$CASE_DIR/pipe"
pos=0
for ((reads = 0; reads < 1000 && pos == 0; reads++)); do
	for fd in /proc/"$pid"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$F" ] &&
			pos=$(awk '/^pos:/ {print $2}' "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null || echo 0)
	done
	[ "${pos:-0}" -gt 0 ] && break
	pos=0
	kill -0 "$pid" 2>/dev/null || break
	dd bs=64k count=1 status=none <&3 >>"$CASE_DIR/stdout.tar.gz" # one read(): what is there
done
if [ "$pos" -gt 0 ] && [ "$pos" -lt $((2 * 1024 * 1024)) ]; then
	head -c 2M /dev/urandom | dd of="$F" conv=notrunc bs=1M status=none
else
	fail "the backup was never seen half-way through copying the file (offset $pos)"
fi
cat <&3 >>"$CASE_DIR/stdout.tar.gz"
exec 3<&-
set +e
wait "$pid"
RW_STATUS=$?
set -e
assert_exit 1
grep -qF "$F changed while it was copied" "$CASE_DIR/err" || fail "the error does not name the file that changed"
assert_work_dir_empty
case_end

case_begin output_default_current_folder
source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
mkdir "$CASE_DIR/cwd"
set +e
(cd "$CASE_DIR/cwd" && timeout 120 "$RESTORE_WORKER" -c "$CASE_DIR/src.yaml" backup --db-only \
	>"$CASE_DIR/out" 2>"$CASE_DIR/err")
RW_STATUS=$?
set -e
assert_exit 0
ls "$CASE_DIR/cwd" | grep -qE "$DBONLY_RE" || fail "no backup in the current folder: $(ls -A "$CASE_DIR/cwd")"
[ -s "$CASE_DIR/out" ] && fail "stdout is not empty without --json"
case_end

case_begin usage_errors
source_config "$CASE_DIR/src.yaml" src "$SRC_BLOBS"
for args in "--output - --json" "--keep 0" "--keep x" "--output - --keep 2" \
	"--output $CASE_DIR --to-backup-dir" "--target nosuch" "ARCHIVE"; do
	# shellcheck disable=SC2086 # split on purpose
	run_worker -c "$CASE_DIR/src.yaml" backup $args
	assert_exit 2
	[ -s "$CASE_DIR/out" ] && fail "'$args' wrote to stdout"
done
assert_eq "files made" "" "$(ls -A "$CASE_DIR" | grep -E "$SNAPSHOT_RE" || true)"
case_end

finish
