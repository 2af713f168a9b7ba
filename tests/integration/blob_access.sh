#!/usr/bin/env bash
# blob_access.sh - the restored files are the application's to use, with the worker run as the
# shipped unit runs it: an unprivileged user with umask 027, a member of the application's
# group (as scripts/setup-host --app-user makes it), blob_dir owned by the application's user,
# group-owned by its group, setgid and group-writable.
#  - a restore of a full snapshot (with keep_previous) gives every restored folder blob_dir's
#    group and mode (2770) and every file its files' mode (0660): the application's user reads
#    every restored file and creates files in a restored xx/yy folder and in blob_dir;
#  - the same for the undo point of that restore restored again, and for a backup
#    (restore-worker backup) restored again;
#  - the target's blob_group, blob_dir_mode and blob_file_mode give a blob_dir restored for the
#    first time; a bad value is a configuration error naming the key;
#  - a blob_dir whose group the worker is not a member of refuses the restore before anything
#    changes (rejected, exit 1), saying which group and what to do;
#  - old files the worker cannot remove (a folder the application made without group write)
#    are left, whole, in .files.old-<job id>, which the report's warning names; no staging
#    folder is left.
# Needs root (to create the two users); skipped otherwise.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
	for c in backup_then_restore restore_then_undo \
		keys_give_a_new_blob_dir keys_checked_at_load group_not_joined_is_refused \
		old_files_left_are_kept_and_named; do
		case_skip "$c" "needs root, useradd and setpriv to run the worker and the application as two users"
	done
	TESTS_FINISHED=1
	exit 77
fi

# Two users of this run only: the worker (in the application's group) and the application;
# OTHER_GROUP is a group the worker is not a member of.
WORKER_USER=rwtw$$
APP_USER=rwta$$
OTHER_GROUP=rwtx$$
users_cleanup() {
	local status=$?
	userdel "$WORKER_USER" >/dev/null 2>&1 || true
	userdel "$APP_USER" >/dev/null 2>&1 || true
	groupdel "$WORKER_USER" >/dev/null 2>&1 || true
	groupdel "$APP_USER" >/dev/null 2>&1 || true
	groupdel "$OTHER_GROUP" >/dev/null 2>&1 || true
	(exit "$status")
	lib_cleanup
}
trap users_cleanup EXIT
id "$APP_USER" >/dev/null 2>&1 || useradd --system --no-create-home --user-group "$APP_USER"
id "$WORKER_USER" >/dev/null 2>&1 || useradd --system --no-create-home --user-group "$WORKER_USER"
getent group "$OTHER_GROUP" >/dev/null || groupadd --system "$OTHER_GROUP"
usermod -a -G "$APP_USER" "$WORKER_USER" # what setup-host --app-user does
APP_GROUP=$APP_USER

make_source_db src
GOOD=$TEST_ROOT/archives/good.tar.gz
mkdir -p "$TEST_ROOT/archives"
make_snapshot "$GOOD" src 4
make_target_db target

# as_worker / as_app: run a command as that user with its groups and umask 027 / 007.
as_worker() {
	setpriv --reuid="$WORKER_USER" --regid="$WORKER_USER" --init-groups -- \
		bash -c 'umask 027 && exec "$@"' as_worker "$@"
}
as_app() {
	setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups -- \
		bash -c 'umask 007 && exec "$@"' as_app "$@"
}

# run_as_worker: run_worker as the worker's user.
run_as_worker() {
	set +e
	timeout -k 5 120 setpriv --reuid="$WORKER_USER" --regid="$WORKER_USER" --init-groups -- \
		bash -c 'umask 027 && exec "$@"' run_as_worker "$RESTORE_WORKER" "$@" \
		>"$CASE_DIR/out" 2>"$CASE_DIR/err"
	RW_STATUS=$?
	wait_old_files # removed in the background
	set -e
}

# blob_case_begin: case $1, its folders reachable by both users, the worker's own work_dir and
# spool, and BLOB_PARENT as setup-host --blob-dir leaves it (the app's group, setgid, g+rwx).
blob_case_begin() {
	case_begin "$1"
	shift
	chmod 755 "$CASE_DIR"
	SPOOL=$CASE_DIR/spool
	mkdir -p "$SPOOL"
	chown "$WORKER_USER:" "$WORK_DIR" "$SPOOL"
	chgrp "$APP_GROUP" "$BLOB_PARENT"
	chmod 2775 "$BLOB_PARENT"
	write_config "$CASE_DIR/config.yaml" "$@"
	sed -i "1i spool_dir: $SPOOL" "$CASE_DIR/config.yaml"
}

# app_blob_dir: BLOB_DIR made by the application (2770) holding two files it wrote (0660).
app_blob_dir() {
	local u1 u2
	u1=$(new_uuid)
	u2=$(new_uuid)
	install -d -o "$APP_USER" -g "$APP_GROUP" -m 2770 "$BLOB_DIR"
	as_app bash -c 'for u in "$@"; do d=$0/${u:0:2}/${u:2:2}; mkdir -p "$d" && echo "old $u" >"$d/$u" || exit 1; done' \
		"$BLOB_DIR" "$u1" "$u2"
}

# assert_tree_access: every folder of BLOB_DIR (itself too) is the worker's, group the app's,
# mode $1; every file the same with mode $2.
assert_tree_access() {
	local want="$WORKER_USER:$APP_GROUP" bad
	[ -d "$BLOB_DIR" ] || { fail "no blob_dir"; return 0; }
	bad=$(find "$BLOB_DIR" \( -type d -printf 'd %u:%g %m %p\n' \) -o -printf 'f %u:%g %m %p\n' |
		awk -v d="$want $1" -v f="$want $2" '($1 == "d" && $2 " " $3 != d) ||
			($1 == "f" && $2 " " $3 != f)' | head -3 | tr '\n' ';')
	[ -z "$bad" ] || fail "not $want with folders $1 and files $2: $bad"
}

# assert_app_uses: the application's user reads every file of folder $1 (the tree restored) in
# BLOB_DIR with the same content, and creates a file in a restored xx/yy folder and in
# BLOB_DIR (the one in xx/yy named as Mendix names files).
assert_app_uses() {
	local yy uuid problems
	[ -n "$(cd "$1" && find . -type f)" ] || fail "no restored file to read in $1"
	yy=$(cd "$BLOB_DIR" && find . -mindepth 2 -maxdepth 2 -type d -printf '%P\n' | head -1)
	uuid=${yy:0:2}${yy:3:2}$(new_uuid | cut -c5-)
	problems=$(as_app bash -c 'cd "$1" && find . -type f -printf "%P\n" | while IFS= read -r rel; do
			cmp -s "$1/$rel" "$0/$rel" || echo "cannot read $rel as it was backed up;"
		done
		echo new >"$0/$2/$3" || echo "cannot create a file in the restored folder $2;"
		echo new >"$0/app-made" || echo "cannot create a file in blob_dir;"' \
		"$BLOB_DIR" "$1" "$yy" "$uuid" 2>&1)
	[ -z "$problems" ] || fail "the application's user: $problems"
}

# assert_nothing_beside: BLOB_PARENT holds blob_dir alone.
assert_nothing_beside() {
	assert_eq "blob_dir's parent" files "$(ls -A "$BLOB_PARENT" | tr '\n' ' ' | sed 's/ $//')"
}

blob_case_begin backup_then_restore
app_blob_dir
uuid=$(new_uuid)
as_app mkdir -p "$BLOB_DIR/${uuid:0:2}/${uuid:2:2}"
as_app bash -c "head -c 3000 /dev/urandom >'$BLOB_DIR/${uuid:0:2}/${uuid:2:2}/$uuid'"
cp -a "$BLOB_DIR" "$CASE_DIR/backed-up"
mkdir "$CASE_DIR/dest"
chown "$WORKER_USER:" "$CASE_DIR/dest"
run_as_worker -c "$CASE_DIR/config.yaml" backup --output "$CASE_DIR/dest" --json
assert_exit 0
BACKUP=$(report .archive)
run_as_worker -c "$CASE_DIR/config.yaml" restore --json "$BACKUP"
assert_exit 0
assert_report .status succeeded
assert_report .files.count 3
assert_tree_access 2770 660
assert_app_uses "$CASE_DIR/backed-up"
assert_nothing_beside
case_end

# A restore with keep_previous, then its undo point restored.
blob_case_begin restore_then_undo keep_previous=true
app_blob_dir
cp -a "$BLOB_DIR" "$CASE_DIR/before"
run_as_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
assert_report .files.status restored
assert_tree_access 2770 660
assert_app_uses "$GOOD.d/tree"
assert_nothing_beside
UNDO=$(report .previous_backup)
[ -f "$UNDO" ] || fail "no undo point: previous_backup is '$UNDO'"
sed -i '/keep_previous/d' "$CASE_DIR/config.yaml"
run_as_worker -c "$CASE_DIR/config.yaml" restore --json "$UNDO"
assert_exit 0
assert_report .status succeeded
assert_tree_access 2770 660
assert_app_uses "$CASE_DIR/before"
assert_nothing_beside
case_end

# A first restore (no blob_dir yet) takes the keys; the parent's group is not the one asked.
blob_case_begin keys_give_a_new_blob_dir blob_group="$APP_GROUP" blob_dir_mode='"2750"' \
	blob_file_mode='"0640"'
chgrp "$WORKER_USER" "$BLOB_PARENT"
chmod 0775 "$BLOB_PARENT"
run_as_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
assert_tree_access 2750 640
FILE=$(find "$BLOB_DIR" -type f 2>/dev/null | head -1 || true)
[ -z "$FILE" ] || as_app cat "$FILE" >/dev/null || fail "the app cannot read $FILE"
case_end

case_begin keys_checked_at_load
for kv in 'blob_dir_mode="0570"|is not a folder mode' 'blob_file_mode="2660"|is not a file mode' \
	"blob_group=no-such-group-$$|is not a group"; do
	write_config "$CASE_DIR/config.yaml" "${kv%|*}"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
	assert_exit 2
	grep -q "targets.acceptance.${kv%%=*}: .*${kv#*|}" "$CASE_DIR/err" ||
		fail "the error for ${kv%|*} does not name the key and the reason: $(head -1 "$CASE_DIR/err")"
done
case_end

blob_case_begin group_not_joined_is_refused
app_blob_dir
chgrp -R "$OTHER_GROUP" "$BLOB_DIR"
chmod 2770 "$BLOB_DIR"
chmod 0770 "$BLOB_PARENT" # writable by the worker still, through the app's group
sql_as_app target 'create table "still$here" (x integer)'
snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/before.files"
run_as_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 1
assert_report .status rejected
assert_report .database.status unchanged
assert_error_line
for word in "$BLOB_DIR" "$OTHER_GROUP" "$WORKER_USER" usermod; do
	report .error | grep -qF -- "$word" || fail "the error does not say $word: $(report .error)"
done
assert_eq "the target's tables" 'still$here' "$(sql target "select relname from pg_class where relname = 'still\$here'")"
snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
assert_same_file "blob_dir" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
assert_nothing_beside
assert_work_dir_empty
assert_eq "blob_dir's group" "$OTHER_GROUP" "$(stat -c %G "$BLOB_DIR")"
case_end

blob_case_begin old_files_left_are_kept_and_named
app_blob_dir
as_app mkdir -m 0755 "$BLOB_DIR/ab"
as_app bash -c "echo precious >'$BLOB_DIR/ab/kept'"
run_as_worker -c "$CASE_DIR/config.yaml" restore --json "$GOOD"
assert_exit 0
assert_report .status succeeded
JOB=$(report .job_id)
OLD=$BLOB_PARENT/.files.old-$JOB
assert_eq "the old file kept" precious "$(cat "$OLD/ab/kept" 2>/dev/null || echo '(missing)')"
assert_eq "blob_dir's parent" ".files.old-$JOB files" "$(ls -A "$BLOB_PARENT" | sort | tr '\n' ' ' | sed 's/ $//')"
assert_app_uses "$GOOD.d/tree"
case_end

finish
