#!/usr/bin/env bash
# backup_leftout.sh - a backup leaves out the files of the file documents marked
# DeleteAfterDownload, judged in the dump's own snapshot, and the file check after a restore
# counts them apart from the missing ones (README: "Backups", "After the restore").
#
# Cases (one real cluster, tiny fixtures):
#  - snapshot_judges: database docs has system$filedocument rows KEEP (false), DROP (true) and
#    FLIP (false); pg_dump is held on a lock (another session holds ACCESS EXCLUSIVE on a table
#    of docs, taken before the backup began) until FLIP has been set to true and committed.
#    The archive holds exactly the files of KEEP and FLIP (the dump says FLIP is false, so its
#    file stays), .metadata's filesSize is their sizes' sum, the result says 2 left out.
#  - restore_counts_apart: that archive restored: files.left_out_by_design 2, files.missing 0,
#    FLIP false in the restored database and its file there, DROP's files absent.
#  - files_query_counts_missing: with a files_query the left-out rule does not apply: the
#    same restore counts DROP's rows as missing.
#  - no_column: a table without deleteafterdownload: every file backed up, and a warning.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mapfile -t KEEP < <(for i in 1 2 3; do new_uuid; done)
mapfile -t DROP < <(for i in 1 2; do new_uuid; done)
FLIP=$(new_uuid)

# put_file: file of uuid $2 in blob folder $1, $3 bytes.
put_file() {
	mkdir -p "$1/${2:0:2}/${2:2:2}"
	head -c "$3" /dev/urandom >"$1/${2:0:2}/${2:2:2}/$2"
}

# tree_name: the archive's entry for uuid $1.
tree_name() {
	echo "tree/${1:0:2}/${1:2:2}/$1"
}

create_db docs
sql_as_app docs - >/dev/null <<EOF
create table "system\$filedocument" (id bigint primary key, "__uuid__" varchar(36),
	hascontents boolean, deleteafterdownload boolean, name varchar(400));
insert into "system\$filedocument" values
	(1, '${KEEP[0]}', true, false, 'keep 1'), (2, '${KEEP[1]}', true, false, 'keep 2'),
	(3, '${KEEP[2]}', true, null, 'keep 3'), (4, '${DROP[0]}', true, true, 'drop 1'),
	(5, upper('${DROP[1]}'), true, true, 'drop 2'), (6, '$FLIP', true, false, 'flip');
create table "zz\$gate" (id integer);
EOF
DOCS_BLOBS=$TEST_ROOT/docs_blobs
SIZE=100
for u in "${KEEP[@]}" "${DROP[@]}" "$FLIP"; do
	put_file "$DOCS_BLOBS" "$u" "$SIZE"
	SIZE=$((SIZE + 1000))
done

# pg_dump_waiting: whether a session of restore-worker (pg_dump) waits for a lock in docs.
pg_dump_waiting() {
	[ "$(sql postgres "select count(*) from pg_locks l join pg_stat_activity a using (pid)
		where not l.granted and a.datname = 'docs' and a.application_name = 'restore-worker'")" != 0 ]
}

case_begin snapshot_judges
BLOB_DIR=$DOCS_BLOBS write_config "$CASE_DIR/src.yaml" dbname=docs
mkdir "$CASE_DIR/dest"
mkfifo "$CASE_DIR/gate"
PGUSER=app "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d docs <"$CASE_DIR/gate" >/dev/null &
GATE_PID=$!
exec 3>"$CASE_DIR/gate"
echo 'begin; lock table "zz$gate" in access exclusive mode; select pg_sleep(0);' >&3
for ((i = 0; i < 100; i++)); do
	[ "$(sql docs "select count(*) from pg_locks where mode = 'AccessExclusiveLock'
		and relation = '\"zz\$gate\"'::regclass and granted")" = 1 ] && break
	sleep 0.05
done
set +e
timeout -k 5 120 "$RESTORE_WORKER" -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest" \
	--json >"$CASE_DIR/out" 2>"$CASE_DIR/err" &
BACKUP_PID=$!
set -e
WAITED=no
for ((i = 0; i < 200; i++)); do
	if pg_dump_waiting; then
		WAITED=yes
		break
	fi
	sleep 0.05
done
assert_eq "pg_dump waited for the lock" yes "$WAITED"
# Flipped after the dump's snapshot was taken, while pg_dump waits.
sql docs "update \"system\$filedocument\" set deleteafterdownload = true where id = 6"
echo 'commit;' >&3
exec 3>&-
wait "$GATE_PID" || fail "the session holding the lock failed"
set +e
wait "$BACKUP_PID"
RW_STATUS=$?
set -e
assert_exit 0
assert_report .status succeeded
assert_report .files.left_out_by_design 2
assert_report .files.count 4
assert_report '.files.bytes == .files.measured_bytes' true
assert_report '.warnings | length' 0
ARCHIVE=$(find "$CASE_DIR/dest" -name 'files_and_database-*.tar.gz')
tar tzf "$ARCHIVE" | grep '^tree/' | sort >"$CASE_DIR/tree"
for u in "${KEEP[@]}" "$FLIP"; do tree_name "$u"; done | sort >"$CASE_DIR/tree.expected"
assert_same_file "the archive's files" "$CASE_DIR/tree.expected" "$CASE_DIR/tree"
HELD=0
for u in "${KEEP[@]}" "$FLIP"; do
	HELD=$((HELD + $(stat -c %s "$DOCS_BLOBS/${u:0:2}/${u:2:2}/$u")))
done
assert_eq ".metadata filesSize" "$HELD" "$(tar xzf "$ARCHIVE" .metadata -O | jq -r .filesSize)"
assert_eq "FLIP in docs now" t "$(sql docs "select deleteafterdownload from \"system\$filedocument\" where id = 6")"
grep -q '2 files of blob_dir left out by design' "$CASE_DIR/err" ||
	fail "the log does not say how many files were left out"
cp "$ARCHIVE" "$TEST_ROOT/docs.tar.gz"
case_end

case_begin restore_counts_apart
make_target_db dst
write_config "$CASE_DIR/dst.yaml" dbname=dst
run_worker -c "$CASE_DIR/dst.yaml" restore --json "$TEST_ROOT/docs.tar.gz"
assert_exit 0
assert_report .status succeeded
assert_report .files.left_out_by_design 2
assert_report .files.missing.count 0
assert_report .files.orphaned.count 0
assert_report .files.count 4
assert_eq "FLIP in the restored database" f \
	"$(sql dst "select deleteafterdownload from \"system\$filedocument\" where id = 6")"
[ -f "$BLOB_DIR/${FLIP:0:2}/${FLIP:2:2}/$FLIP" ] || fail "FLIP's file was not restored"
for u in "${DROP[@]}"; do
	[ ! -e "$BLOB_DIR/${u:0:2}/${u:2:2}/$u" ] || fail "DROP's file $u was restored"
done
case_end

case_begin files_query_counts_missing
make_target_db dst_query
write_config "$CASE_DIR/dst.yaml" dbname=dst_query \
	"files_query='select \"__uuid__\" from \"system\$filedocument\" where hascontents'"
run_worker -c "$CASE_DIR/dst.yaml" restore --json "$TEST_ROOT/docs.tar.gz"
assert_exit 0
assert_report .files.left_out_by_design 0
assert_report .files.missing.count 2
case_end

case_begin no_column
create_db olddocs
U=$(new_uuid)
sql_as_app olddocs "create table \"system\$filedocument\" (id bigint primary key,
	\"__uuid__\" varchar(36), hascontents boolean);
	insert into \"system\$filedocument\" values (1, '$U', true)" >/dev/null
put_file "$BLOB_DIR" "$U" 10
put_file "$BLOB_DIR" "${DROP[0]}" 20
write_config "$CASE_DIR/src.yaml" dbname=olddocs
mkdir "$CASE_DIR/dest"
run_worker -c "$CASE_DIR/src.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 0
assert_report .status succeeded
assert_report .files.count 2
assert_report .files.left_out_by_design 0
assert_report .files.measured_bytes 30
assert_report_true '[.warnings[] | select(contains("deleteafterdownload"))] | length == 1' \
	"a warning says the column is missing"
case_end

finish
