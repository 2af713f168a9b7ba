#!/usr/bin/env bash
# blob_exchange.sh - the swap of the blob folder is proved before the database is touched.
#
# Cases, each in a mount namespace of its own (mounts made there vanish with it; root only,
# else skipped):
#  - blob_dir in an overlayfs lower layer (a container image's): the kernel will not move it
#    (EXDEV). The rehearsal and the restore both fail, saying why and what to do, with the
#    database, blob_dir and its folder unchanged;
#  - blob_dir a mount point (EBUSY): the restore fails the same way, the target unchanged;
#  - the same overlay with blob_dir made in the upper layer: the restore succeeds (the proof
#    refuses what cannot be swapped, not overlayfs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

make_source_db src
make_snapshot "$TEST_ROOT/good.tar.gz" src 2
snapshot_db_state src >"$TEST_ROOT/src.db"
export -f snapshot_dir_state
export RESTORE_WORKER TEST_ROOT

# in_namespace: run bash script $1 in a mount namespace of its own (its mounts are private to
# it and vanish with it), with CASE_DIR, BLOB_DIR, BLOB_PARENT and CONFIG exported; the case
# fails when the script does. Real root, not a user namespace: there overlayfs cannot set its
# trusted.* attributes and refuses to move even a folder of its upper layer.
in_namespace() {
	export CASE_DIR BLOB_DIR BLOB_PARENT CONFIG="$CASE_DIR/config.yaml"
	unshare --mount --propagation private bash -euo pipefail -c "$1" || fail "the namespace script failed"
}

# mount_overlay: (in the namespace) mount an overlay on BLOB_PARENT whose lower layer is
# CASE_DIR/lower.
# shellcheck disable=SC2016 # expanded in the namespace
MOUNT_OVERLAY='mkdir -p "$CASE_DIR/lower" "$CASE_DIR/upper" "$CASE_DIR/ovl-work"
mount -t overlay overlay -o "lowerdir=$CASE_DIR/lower,upperdir=$CASE_DIR/upper,workdir=$CASE_DIR/ovl-work" "$BLOB_PARENT"
'
# RUN: (in the namespace) run the restore with the arguments in $ARGS; its stdout, stderr and
# exit status go to CASE_DIR/out$TAG, err$TAG and status$TAG.
# shellcheck disable=SC2016 # expanded in the namespace
RUN='run() {
	set +e
	timeout -k 5 120 "$RESTORE_WORKER" -c "$CONFIG" restore --json "$@" "$TEST_ROOT/good.tar.gz" \
		>"$CASE_DIR/out$TAG" 2>"$CASE_DIR/err$TAG"
	echo $? >"$CASE_DIR/status$TAG"
	set -e
}
'
# shellcheck disable=SC2016 # expanded in the namespace
STATE='state() {
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/$1.files"
	ls -A "$BLOB_PARENT" >"$CASE_DIR/$1.parent"
}
'

# assert_refused: the outcome saved with tag $1 is exit 1, status rejected, the database
# unchanged, and one line of error naming blob_dir, with $2 in it, saying what to do.
assert_refused() {
	cp "$CASE_DIR/out$1" "$CASE_DIR/out"
	cp "$CASE_DIR/err$1" "$CASE_DIR/err"
	RW_STATUS=$(cat "$CASE_DIR/status$1" 2>/dev/null || echo none)
	assert_exit 1
	assert_report '[.status, .database.status, (.error | contains("\n"))] | join(" ")' "rejected unchanged false"
	report .error | grep -qF "blob_dir $BLOB_DIR cannot be swapped for the restored files" ||
		fail "the error does not say that blob_dir cannot be swapped"
	report .error | grep -qF "$2" || fail "the error does not say '$2'"
	report .error | grep -qF -- "--db-only" || fail "the error does not say what to do"
}

# assert_target_unchanged: the shared target's database is as it was before any case.
assert_target_unchanged() {
	snapshot_db_state t_blob >"$CASE_DIR/after.db"
	assert_same_file "database" "$TEST_ROOT/before.db" "$CASE_DIR/after.db"
}

mkdir "$TEST_ROOT/probe" "$TEST_ROOT/probe/l" "$TEST_ROOT/probe/u" "$TEST_ROOT/probe/w" "$TEST_ROOT/probe/m"
# shellcheck disable=SC2016 # expanded by that bash
if [ "$(id -u)" -ne 0 ] || ! unshare --mount --propagation private bash -c 'd=$TEST_ROOT/probe &&
	mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m"' 2>/dev/null; then
	for name in overlay_lower_blob_dir_refused mount_point_blob_dir_refused overlay_upper_blob_dir_restores; do
		case_skip "$name" "needs root and overlayfs in a mount namespace"
	done
	finish
	exit
fi

# One target for every case: the refusals leave it as it was, the last case restores it.
make_target_db t_blob
snapshot_db_state t_blob >"$TEST_ROOT/before.db"

case_begin overlay_lower_blob_dir_refused
BLOB_DIR=$CASE_DIR/lower/files old_blobs
write_config "$CASE_DIR/config.yaml" dbname=t_blob
# shellcheck disable=SC2016 # expanded in the namespace
in_namespace "$MOUNT_OVERLAY$RUN$STATE"'
state before
TAG=.dry run --dry-run
TAG=.real run
state after
'
assert_refused .dry "Invalid cross-device link"
assert_report .dry_run true
assert_refused .real "Invalid cross-device link"
report .error | grep -qF "overlayfs lower layer" || fail "the error does not name the likely cause"
assert_target_unchanged
assert_same_file "blob_dir" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
assert_same_file "blob_dir's folder" "$CASE_DIR/before.parent" "$CASE_DIR/after.parent"
assert_eq "blob_dir's files" 3 "$(grep -c '^file ' "$CASE_DIR/after.files")"
assert_work_dir_empty
case_end

case_begin mount_point_blob_dir_refused
mkdir -p "$BLOB_DIR" "$CASE_DIR/volume"
BLOB_DIR=$CASE_DIR/volume old_blobs
write_config "$CASE_DIR/config.yaml" dbname=t_blob
# shellcheck disable=SC2016 # expanded in the namespace
in_namespace "$RUN$STATE"'
mount --bind "$CASE_DIR/volume" "$BLOB_DIR"
state before
TAG=.real run
state after
'
assert_refused .real "it is a mount point"
assert_target_unchanged
assert_same_file "blob_dir" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
assert_same_file "blob_dir's folder" "$CASE_DIR/before.parent" "$CASE_DIR/after.parent"
assert_work_dir_empty
case_end

case_begin overlay_upper_blob_dir_restores
write_config "$CASE_DIR/config.yaml" dbname=t_blob
# shellcheck disable=SC2016 # expanded in the namespace
in_namespace "$MOUNT_OVERLAY$RUN$STATE"'
mkdir "$BLOB_DIR"
echo old >"$BLOB_DIR/old.txt"
TAG= run
FILES_ONLY=1 snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/after.files"
'
RW_STATUS=$(cat "$CASE_DIR/status" 2>/dev/null || echo none)
assert_exit 0
assert_report .status succeeded
snapshot_db_state t_blob >"$CASE_DIR/after.db"
assert_same_file "database (vs the source)" "$TEST_ROOT/src.db" "$CASE_DIR/after.db"
(cd "$TEST_ROOT/good.tar.gz.d/tree" && FILES_ONLY=1 snapshot_dir_state .) >"$CASE_DIR/expected.files"
assert_same_file "blob_dir (vs the backup's files)" "$CASE_DIR/expected.files" "$CASE_DIR/after.files"
case_end

finish
