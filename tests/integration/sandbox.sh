#!/usr/bin/env bash
# sandbox.sh - the systemd unit's sandbox stays tight, and the worker works inside what it
# allows.
#  - systemd-analyze security --offline rates systemd/restore-worker.service 2.0 or lower;
#  - the unit keeps the settings the worker's safety relies on (no capability, no new
#    privileges, the database reachable on localhost and unix sockets only), and not the two
#    that would keep the restored files from the application's group and setgid folders;
#  - the daemon, run as an unprivileged user (nobody, when the test runs as root) with no
#    capability at all (empty bounding, inheritable and ambient sets) and no_new_privs, as
#    setpriv(1) can apply them without systemd: a full snapshot dropped into its spool is
#    restored, database and files.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

UNIT=$TESTS_DIR/../systemd/restore-worker.service

case_begin unit_rated_2_or_lower
if ! command -v systemd-analyze >/dev/null; then
	case_skip "systemd-analyze is not installed"
else
	RATING=$(systemd-analyze security --offline=yes "$UNIT" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ -n "$RATING" ] || fail "systemd-analyze printed no overall exposure level"
	awk -v r="$RATING" 'BEGIN { exit !(r <= 2.0) }' ||
		fail "the unit is rated $RATING, above 2.0"
	# The same limit through systemd-analyze's own check (its scale is ten times finer).
	systemd-analyze security --offline=yes --threshold=20 "$UNIT" >/dev/null 2>&1 ||
		fail "systemd-analyze security --threshold=20 refuses the unit"
fi
case_end

case_begin unit_keeps_what_safety_relies_on
for line in 'CapabilityBoundingSet=' 'NoNewPrivileges=yes' 'IPAddressDeny=any' \
	'IPAddressAllow=localhost' 'ProtectSystem=strict' \
	'SystemCallFilter=~@privileged @resources' 'MemoryDenyWriteExecute=yes'; do
	grep -qxF "$line" "$UNIT" || fail "the unit lacks $line"
done
# Not these: the restored files must get the application's group (unmapped under PrivateUsers)
# and its folders' setgid bit (forbidden by RestrictSUIDSGID).
for setting in PrivateUsers RestrictSUIDSGID; do
	! grep -q "^$setting=" "$UNIT" || fail "the unit sets $setting=, which keeps the restored files from the application's group"
done
case_end

worker_case_begin daemon_without_privileges
make_good_archive
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
	# The worker's folders belong to the user it runs as; the rest of the case stays root's.
	chown -R nobody: "$SPOOL" "$WORK_DIR" "$BLOB_PARENT"
	chmod 755 "$CASE_DIR"
	RUN_AS=(--reuid=nobody --regid=nogroup --clear-groups)
fi
setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set=-all "${RUN_AS[@]}" \
	"$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" run >>"$WORKER_LOG" 2>&1 &
WORKER_PID=$!
WORKER_PIDS+=("$WORKER_PID")
wait_spool_ready
# The running worker has no capability and no way to gain one.
STATUS_FILE=/proc/$WORKER_PID/status
assert_eq "the worker's effective capabilities" 0000000000000000 "$(awk '/^CapEff:/ { print $2 }' "$STATUS_FILE")"
assert_eq "the worker's bounding set" 0000000000000000 "$(awk '/^CapBnd:/ { print $2 }' "$STATUS_FILE")"
assert_eq "the worker's no_new_privs" 1 "$(awk '/^NoNewPrivs:/ { print $2 }' "$STATUS_FILE")"
if [ "$(id -u)" -eq 0 ]; then
	assert_eq "the worker's user" "$(id -u nobody)" "$(awk '/^Uid:/ { print $2 }' "$STATUS_FILE")"
fi
# Dropped as the worker's user would find it from a producer of its own group: its file.
cp "$GOOD" "$SPOOL/tmp/good.tar.gz"
[ "$(id -u)" -ne 0 ] || chown nobody: "$SPOOL/tmp/good.tar.gz"
mv "$SPOOL/tmp/good.tar.gz" "$SPOOL/incoming/good.tar.gz"
wait_reports 1
load_report good.tar.gz done "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
worker_case_end

finish
