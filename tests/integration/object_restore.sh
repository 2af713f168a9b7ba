#!/usr/bin/env bash
# object_restore.sh - restores, rehearsals, file checks and backups of a target whose files live
# in object storage: an S3 bucket (s3rver) with a prefix and a suffix, and an Azure container
# (azurite, which checks SharedKey signatures), judged by what the store holds afterwards (every
# object's name, size and MD5, listed with objtool), the database and the exit status.
#
# The backup holds 7 files: 6 of 4 KiB and one of 9 MiB (a multipart upload). Before each case
# the store is seeded: a foreign object outside the prefix (S3) or of another name, an object
# under the prefix that is no file's, the backup's first file with the same content (kept), its
# second with other content (replaced), and a file the backup does not hold (deleted). Cases,
# for each store:
#  - restore: the store holds exactly the backup's files at <prefix><uuid><suffix> and the
#    foreign objects, as they were; files.objects counts 5 uploaded, 1 kept, 1 replaced, 1
#    deleted; the file check finds nothing missing; nothing is left in work_dir;
#  - a database failure mid-restore: the store exactly as seeded (names, sizes, MD5s);
#  - --dry-run: the store as seeded, files.objects saying what would be done;
#  - wrong credentials: refused, the store and the database as they were, the secret nowhere in
#    the output;
#  - check: the object store access line ok, and failed with wrong credentials;
#  - --db-only: the store untouched, the file check lists it: 5 missing, 1 orphaned;
#  - backup of the restored target, then that backup restored into the emptied store: the same.
# S3 only: a worker killed (SIGKILL) while it uploads leaves its journal, which a rehearsal
# leaves alone (the store as the kill left it); a failing restore
# then finds the store as seeded (the killed one undone, its own undone), and the rerun succeeds;
# and the daemon: a restore killed midway is undone as the worker starts; then the same restore
# through it (a file dropped into the spool), with keep_previous: its undo point holds the
# store's files as they were.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"
source "$(dirname "$0")/object_lib.sh"
# object_lib.sh's EXIT trap stops the servers and calls lib.sh's cleanup; the workers need
# worker_lib.sh's too.
trap 'st=$?; for p in "${OBJECT_SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; (exit $st); worker_cleanup' EXIT

s3_start
azure_start

A=$TEST_ROOT/archives
mkdir -p "$A"
UUIDS=()
for i in 1 2 3 4 5 6 7; do
	UUIDS+=("$(new_uuid)")
done
EXTRA=$(new_uuid)

# The source: a Mendix-like database whose system$filedocument names the 7 files.
make_source_db src
{
	echo 'create table "system$filedocument" (id bigint primary key, "__uuid__" varchar(36), hascontents boolean);'
	for i in "${!UUIDS[@]}"; do
		echo "insert into \"system\$filedocument\" values ($i, '${UUIDS[$i]}', true);"
	done
} | sql_as_app src - >/dev/null
fingerprint_as_file() { snapshot_db_fingerprint "$1" >"$2"; }
fingerprint_as_file src "$TEST_ROOT/src.fp"

# tree_dir: lay out the 7 files in folder $1/tree (the same content for every archive).
T=$TEST_ROOT/tree
for i in "${!UUIDS[@]}"; do
	u=${UUIDS[$i]}
	mkdir -p "$T/tree/${u:0:2}/${u:2:2}"
	if [ "$i" = 6 ]; then
		head -c $((9 * 1024 * 1024 + 123)) /dev/urandom >"$T/tree/${u:0:2}/${u:2:2}/$u"
	else
		head -c 4096 /dev/urandom >"$T/tree/${u:0:2}/${u:2:2}/$u"
	fi
done

# make_archive: archive $1 from database $2 with the 7 files.
make_archive() {
	mkdir -p "$1.d/db"
	dump_custom "$2" "$1.d/db/db.backup"
	cp -r "$T/tree" "$1.d/tree"
	echo '{"modelVersion":"1.0.0.1"}' >"$1.d/.metadata"
	pack_snapshot "$1" "$1.d"
}
make_archive "$A/good.tar.gz" src
make_index_fails_db bad
sql_as_app bad 'create table "system$filedocument" (id bigint primary key, "__uuid__" varchar(36), hascontents boolean)' >/dev/null
make_archive "$A/bad.tar.gz" bad

file_of() { echo "$T/tree/${1:0:2}/${1:2:2}/$1"; }
md5_of() { md5sum "$1" | cut -d' ' -f1; }

# Each store: its objtool, the keys' prefix and suffix, and its config block.
declare -A PREFIX=([s3]=acceptance/ [azure]=) SUFFIX=([s3]=.bin [azure]=)
declare -A FOREIGN=([s3]="other-app/notes.txt" [azure]="notes/readme.txt")
declare -A NOTFILE=([s3]="acceptance/readme.txt" [azure]="${UUIDS[0]}.txt")

objtool_of() {
	local kind=$1
	shift
	"objtool_$kind" "$@"
}

# store_block: the target's store keys for store $1 (secret file $2, default the right one).
store_block() {
	if [ "$1" = s3 ]; then
		printf 's3={endpoint: "%s", region: %s, bucket: %s, prefix: "%s", suffix: "%s", access_key_id: S3RVER, secret_access_key_file: %s}' \
			"$RW_S3_ENDPOINT" "$RW_S3_REGION" "$RW_S3_BUCKET" "${PREFIX[s3]}" "${SUFFIX[s3]}" "${2:-$TEST_ROOT/s3.secret}"
	else
		printf 'azure={blob_endpoint: "%s", account_name: %s, account_key_file: %s, container: %s}' \
			"$RW_AZ_ENDPOINT" "$RW_AZ_ACCOUNT" "${2:-$RW_AZ_KEY_FILE}" "$RW_AZ_CONTAINER"
	fi
}
echo S3RVER >"$TEST_ROOT/s3.secret"
chmod 600 "$TEST_ROOT/s3.secret"

# config_for: write $CASE_DIR/config.yaml for store $1 into database $2 (more key=value after).
config_for() {
	local kind=$1 db=$2
	shift 2
	write_config "$CASE_DIR/config.yaml" dbname="$db" blob_dir= "$(store_block "$kind" "${SECRET:-}")" "$@"
}

# store_state: every object of store $1: name, size, MD5 (sorted).
store_state() {
	objtool_of "$1" ls | sort
}

# key_of: the object key of file uuid $2 in store $1.
key_of() { echo "${PREFIX[$1]}$2${SUFFIX[$1]}"; }

# seed: empty store $1, then put the seeded objects.
seed() {
	local kind=$1 f=$TEST_ROOT/seed.tmp
	# shellcheck disable=SC2046 # one name a word
	objtool_of "$kind" ls | cut -f1 | while read -r k; do objtool_of "$kind" rm "$k"; done
	echo "another app's file" >"$f"
	objtool_of "$kind" put "${FOREIGN[$kind]}" "$f"
	echo "not a file document" >"$f"
	objtool_of "$kind" put "${NOTFILE[$kind]}" "$f"
	objtool_of "$kind" put "$(key_of "$kind" "${UUIDS[0]}")" "$(file_of "${UUIDS[0]}")"
	echo "the old content of the second file" >"$f"
	objtool_of "$kind" put "$(key_of "$kind" "${UUIDS[1]}")" "$f"
	echo "a file the backup does not hold" >"$f"
	objtool_of "$kind" put "$(key_of "$kind" "$EXTRA")" "$f"
}

# expected_state: what store $1 holds after the restore: the foreign objects and the backup's.
expected_state() {
	local kind=$1 u f
	{
		printf '%s\t%s\t%s\n' "${FOREIGN[$kind]}" 19 "$(echo "another app's file" | md5sum | cut -d' ' -f1)"
		printf '%s\t%s\t%s\n' "${NOTFILE[$kind]}" 20 "$(echo "not a file document" | md5sum | cut -d' ' -f1)"
		for u in "${UUIDS[@]}"; do
			f=$(file_of "$u")
			printf '%s\t%s\t%s\n' "$(key_of "$kind" "$u")" "$(stat -c %s "$f")" "$(md5_of "$f")"
		done
	} | sort
}

# assert_store: fail with message $1 unless store $2 holds what file $3 lists.
assert_store() {
	store_state "$2" >"$CASE_DIR/store.now"
	cmp -s "$3" "$CASE_DIR/store.now" ||
		fail "$1: the store differs: $(diff "$3" "$CASE_DIR/store.now" | sed -n '2,7p' | tr '\n' ' ')"
}

for kind in s3 azure; do
	case_begin "${kind}_restore_exact"
	make_target_db "t_$kind"
	seed "$kind"
	expected_state "$kind" >"$TEST_ROOT/$kind.expected"
	config_for "$kind" "t_$kind"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
	assert_exit 0
	assert_report .status succeeded
	assert_report .files.status restored
	assert_report '.files.objects | [.uploaded, .kept, .replaced, .deleted] | join(" ")' "5 1 1 1"
	assert_report '[.files.missing.count, .files.orphaned.count] | join(" ")' "0 0"
	assert_store "after the restore" "$kind" "$TEST_ROOT/$kind.expected"
	fingerprint_as after "t_$kind"
	assert_fingerprint "the restored database" "$TEST_ROOT/src.fp" "$CASE_DIR/after.fp"
	assert_work_dir_empty
	case_end

	case_begin "${kind}_db_failure_unchanged"
	make_target_db "t_${kind}_bad"
	seed "$kind"
	store_state "$kind" >"$CASE_DIR/seeded"
	fingerprint_as before "t_${kind}_bad"
	config_for "$kind" "t_${kind}_bad"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/bad.tar.gz"
	assert_exit 1
	assert_report .status failed
	assert_report .files.status unchanged
	assert_store "after the failed restore" "$kind" "$CASE_DIR/seeded"
	fingerprint_as after "t_${kind}_bad"
	assert_fingerprint "the database" "$CASE_DIR/before.fp" "$CASE_DIR/after.fp"
	assert_work_dir_empty
	case_end

	case_begin "${kind}_dry_run_unchanged"
	seed "$kind"
	store_state "$kind" >"$CASE_DIR/seeded"
	config_for "$kind" "t_${kind}_bad"
	run_worker -c "$CASE_DIR/config.yaml" restore --json --dry-run "$A/good.tar.gz"
	assert_exit 0
	assert_report '[.status, .dry_run, .files.status] | join(" ")' "succeeded true unchanged"
	assert_report '.files.objects | [.uploaded, .kept, .replaced, .deleted, .uploaded_bytes] | join(" ")' "5 1 1 1 0"
	assert_store "after the rehearsal" "$kind" "$CASE_DIR/seeded"
	assert_work_dir_empty
	case_end

	case_begin "${kind}_wrong_credentials_refused"
	echo "WRONGSECRETxyz" >"$CASE_DIR/wrong.secret"
	if [ "$kind" = azure ]; then
		echo "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk=" >"$CASE_DIR/wrong.secret"
	fi
	SECRET=$CASE_DIR/wrong.secret config_for "$kind" "t_${kind}_bad"
	[ "$kind" = s3 ] && sed -i 's/access_key_id: S3RVER/access_key_id: NOTS3RVER/' "$CASE_DIR/config.yaml"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
	assert_exit 1
	assert_report_true '.status == "rejected" or .status == "failed"' "refused or failed"
	assert_error_line
	assert_report .database.status unchanged
	grep -qF "$(cat "$CASE_DIR/wrong.secret")" "$CASE_DIR/out" "$CASE_DIR/err" &&
		fail "the secret appears in the output"
	assert_store "after the refusal" "$kind" "$CASE_DIR/../case.${kind}_dry_run_unchanged/seeded"
	fingerprint_as after "t_${kind}_bad"
	assert_fingerprint "the database" "$CASE_DIR/../case.${kind}_db_failure_unchanged/before.fp" "$CASE_DIR/after.fp"
	assert_work_dir_empty
	case_end

	case_begin "${kind}_check"
	config_for "$kind" "t_${kind}_bad"
	run_worker -c "$CASE_DIR/config.yaml" check --json
	assert_report '[.checks[] | select(.name == "object store access") | .status] | join(" ")' ok
	SECRET=$CASE_DIR/../case.${kind}_wrong_credentials_refused/wrong.secret config_for "$kind" "t_${kind}_bad"
	[ "$kind" = s3 ] && sed -i 's/access_key_id: S3RVER/access_key_id: NOTS3RVER/' "$CASE_DIR/config.yaml"
	run_worker -c "$CASE_DIR/config.yaml" check --json
	assert_report '[.checks[] | select(.name == "object store access") | .status] | join(" ")' failed
	assert_store "after the checks" "$kind" "$CASE_DIR/../case.${kind}_dry_run_unchanged/seeded"
	case_end

	case_begin "${kind}_db_only_file_check"
	config_for "$kind" "t_${kind}_bad"
	run_worker -c "$CASE_DIR/config.yaml" restore --json --db-only "$A/good.tar.gz"
	assert_exit 0
	assert_report .files.status skipped
	assert_report '[.files.missing.count, .files.orphaned.count] | join(" ")' "5 1"
	assert_report .files.orphaned.uuids[0] "$EXTRA"
	assert_store "after --db-only" "$kind" "$CASE_DIR/../case.${kind}_dry_run_unchanged/seeded"
	case_end

	case_begin "${kind}_backup_round_trip"
	config_for "$kind" "t_$kind"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
	assert_exit 0
	run_worker -c "$CASE_DIR/config.yaml" backup --output "$CASE_DIR/backup.tar.gz"
	assert_exit 0
	mkdir "$CASE_DIR/x"
	tar -xzf "$CASE_DIR/backup.tar.gz" -C "$CASE_DIR/x" tree 2>/dev/null || fail "the backup holds no tree/"
	(cd "$T" && find tree -type f -exec md5sum {} + | sort) >"$CASE_DIR/tree.want"
	(cd "$CASE_DIR/x" && find tree -type f -exec md5sum {} + | sort) >"$CASE_DIR/tree.got" || true
	assert_same_file "the backup's tree" "$CASE_DIR/tree.want" "$CASE_DIR/tree.got"
	objtool_of "$kind" ls | cut -f1 | while read -r k; do
		[[ $k == "${FOREIGN[$kind]}" || $k == "${NOTFILE[$kind]}" ]] || objtool_of "$kind" rm "$k"
	done
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$CASE_DIR/backup.tar.gz"
	assert_exit 0
	assert_report '.files.objects | [.uploaded, .kept, .replaced, .deleted] | join(" ")' "7 0 0 0"
	assert_store "after the round trip" "$kind" "$TEST_ROOT/$kind.expected"
	case_end
done

# kill_midway: start a restore of $MANY with config $1 (database $2) and kill it (SIGKILL) once
# its journal records 20 uploads; fail unless it left its journal.
kill_midway() {
	local pid i j
	"$RESTORE_WORKER" -c "$1" restore --json "$MANY" >"$CASE_DIR/out" 2>"$CASE_DIR/err" &
	pid=$!
	for ((i = 0; i < 400; i++)); do
		j=$(ls "$WORK_DIR"/objects-*.journal 2>/dev/null | head -n 1) || true
		[ -n "$j" ] && [ "$(grep -c '^N ' "$j")" -ge 20 ] && break
		sleep 0.02
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	ls "$WORK_DIR"/objects-*.journal >/dev/null 2>&1 || fail "the killed restore left no journal"
	wait_sessions_gone "$2"
}

case_begin s3_killed_upload_undone_then_rerun
seed s3
store_state s3 >"$CASE_DIR/seeded"
# Many files, so that the kill lands while they go up.
mkdir -p "$CASE_DIR/many.d/db"
cp "$A/good.tar.gz.d/db/db.backup" "$CASE_DIR/many.d/db/"
cp -r "$T/tree" "$CASE_DIR/many.d/tree"
# More than 1024 files: the mapped records of the listing and of the staged files grow.
python3 - "$CASE_DIR/many.d/tree" <<'PY'
import os, sys, uuid
for _ in range(1100):
    u = str(uuid.uuid4())
    d = os.path.join(sys.argv[1], u[0:2], u[2:4])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, u), "wb") as f:
        f.write(os.urandom(4096))
PY
pack_snapshot "$CASE_DIR/many.tar.gz" "$CASE_DIR/many.d"
config_for s3 t_s3_bad
MANY=$CASE_DIR/many.tar.gz
kill_midway "$CASE_DIR/config.yaml" t_s3_bad
# A rehearsal changes nothing, not even the killed restore's leftovers.
store_state s3 >"$CASE_DIR/killed"
run_worker -c "$CASE_DIR/config.yaml" restore --json --dry-run "$A/good.tar.gz"
assert_exit 0
assert_store "after a rehearsal over the killed restore's leftovers" s3 "$CASE_DIR/killed"
ls "$WORK_DIR"/objects-*.journal >/dev/null 2>&1 || fail "the rehearsal removed the killed restore's journal"
# The next restore (one that fails) undoes the killed one first, then itself.
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/bad.tar.gz"
assert_exit 1
assert_store "after the killed restore and a failed one" s3 "$CASE_DIR/seeded"
# The killed restore's dump copy stays (a worker removes a killed job's; restore cannot know).
left=$(cd "$WORK_DIR" && ls -A | grep -v '^restore-.*\.dump$' || true)
[ -z "$left" ] || fail "work_dir holds more than the killed restore's dump: $left"
# The many files restored whole: the store holds them and the foreign objects.
run_worker -c "$CASE_DIR/config.yaml" restore --json "$MANY"
assert_exit 0
assert_report '.files.objects | [.uploaded, .kept, .replaced, .deleted] | join(" ")' "1105 1 1 1"
{
	grep -F -e "${FOREIGN[s3]}" -e "${NOTFILE[s3]}" "$TEST_ROOT/s3.expected"
	python3 - "$CASE_DIR/many.d/tree" "${PREFIX[s3]}" "${SUFFIX[s3]}" <<'PY'
import hashlib, os, sys
root, prefix, suffix = sys.argv[1:4]
for folder, _, names in os.walk(root):
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            b = f.read()
        print(f"{prefix}{name}{suffix}\t{len(b)}\t{hashlib.md5(b).hexdigest()}")
PY
} | sort >"$CASE_DIR/many.expected"
assert_store "after the many files" s3 "$CASE_DIR/many.expected"
# Then the backup of 7: the 1100 others deleted.
run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/good.tar.gz"
assert_exit 0
assert_report '.files.objects | [.uploaded, .kept, .replaced, .deleted] | join(" ")' "0 7 0 1100"
assert_store "after the rerun" s3 "$TEST_ROOT/s3.expected"
case_end

no_journal() { ! ls "$WORK_DIR"/objects-*.journal >/dev/null 2>&1; }

worker_case_begin s3_through_the_worker
seed s3
store_state s3 >"$CASE_DIR/seeded"
TARGETS=(acceptance)
make_target_db t_s3_worker
write_worker_config "$CASE_DIR/config.yaml"
# The worker's target: the S3 store instead of blob_dir.
sed -i "s|^    database: .*|    database: \"host=$PGHOST dbname=t_s3_worker user=app\"|; /^    blob_dir:/d" "$CASE_DIR/config.yaml"
store_block s3 | sed 's/^s3=/    s3: /' >>"$CASE_DIR/config.yaml"
printf '\n    keep_previous: true\n' >>"$CASE_DIR/config.yaml"
# A restore killed midway, then the worker: it undoes it as it starts.
kill_midway "$CASE_DIR/config.yaml" t_s3_worker
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
WAIT_WHAT="the worker undoing the killed restore" wait_for no_journal
assert_store "after the worker started" s3 "$CASE_DIR/seeded"
drop_file "$A/good.tar.gz"
wait_reports 1
load_report good.tar.gz done
assert_report .status succeeded
assert_report '.files.objects | [.uploaded, .kept, .replaced, .deleted] | join(" ")' "5 1 1 1"
assert_store "after the worker's restore" s3 "$TEST_ROOT/s3.expected"
# keep_previous: the undo point holds the store's files as they were (the seeded three).
prev=$(report .previous_backup)
if [ -f "$prev" ]; then
	mkdir "$CASE_DIR/prev"
	tar -xzf "$prev" -C "$CASE_DIR/prev" tree
	assert_eq "files in the undo point" 3 "$(find "$CASE_DIR/prev/tree" -type f | wc -l)"
	assert_eq "the undo point's copy of the file the backup lacks" "a file the backup does not hold" \
		"$(cat "$CASE_DIR/prev/tree/${EXTRA:0:2}/${EXTRA:2:2}/$EXTRA")"
	assert_eq "the undo point's copy of the replaced file" "the old content of the second file" \
		"$(cat "$CASE_DIR/prev/tree/${UUIDS[1]:0:2}/${UUIDS[1]:2:2}/${UUIDS[1]}")"
else
	fail "no undo point (previous_backup: $prev)"
fi
worker_stop
worker_case_end

finish
