#!/usr/bin/env bash
# install.sh - `cmake --install` gives a host what it needs, wherever the prefix: the binary, the
# units running that binary (not /usr/local's when the prefix is /usr), the nightly backup's
# units, sysusers.d and tmpfiles.d entries that systemd finds under the prefix and that make the
# user and the folders (spool and its subfolders, work_dir, backup_dir, the configuration's
# folder) with the owners and modes scripts/setup-host gives them.
#
# The build tree is the one holding RESTORE_WORKER (RW_BUILD_DIR to name another). Installs go
# into a DESTDIR under the test's folder; systemd-sysusers and systemd-tmpfiles run with --root
# there. Nothing here needs the database; lib.sh is sourced for its case bookkeeping.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BUILD_DIR=${RW_BUILD_DIR:-$(dirname "$RESTORE_WORKER")}
SRC=$TESTS_DIR/..
if [ ! -f "$BUILD_DIR/cmake_install.cmake" ] || ! command -v cmake >/dev/null; then
	echo "ok - install # SKIP $BUILD_DIR is no build tree (set RW_BUILD_DIR)"
	TESTS_FINISHED=1
	exit 77
fi

# install_to: cmake --install the build into DESTDIR $1 with prefix $2; fails the case if it fails.
install_to() {
	if ! DESTDIR=$1 cmake --install "$BUILD_DIR" --prefix "$2" >"$CASE_DIR/install.log" 2>&1; then
		fail "cmake --install --prefix $2 failed: $(tail -n 3 "$CASE_DIR/install.log" | tr '\n' ' ')"
		return 1
	fi
}

# check_units: the units installed in DESTDIR $1 with prefix $2 run $2/bin/restore-worker,
# point at $2's README, and are the source units otherwise.
check_units() {
	local dest=$1 prefix=$2 unit installed
	for unit in restore-worker.service restore-worker-backup@.service restore-worker-backup@.timer; do
		installed=$dest$prefix/lib/systemd/system/$unit
		[ -f "$installed" ] || { fail "$unit was not installed in $prefix/lib/systemd/system"; continue; }
		grep -q '/usr/local' "$installed" && [ "$prefix" != /usr/local ] &&
			fail "$unit still names /usr/local: $(grep '/usr/local' "$installed" | head -n 1)"
		diff <(grep -v -e '^ExecStart=' -e '^Documentation=' "$SRC/systemd/$unit") \
			<(grep -v -e '^ExecStart=' -e '^Documentation=' "$installed") >/dev/null ||
			fail "$unit differs from systemd/$unit in more than ExecStart= and Documentation="
		case $unit in
		*.service)
			assert_eq "$unit's ExecStart program" "$prefix/bin/restore-worker" \
				"$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$installed")"
			assert_eq "$unit's Documentation" "file://$prefix/share/doc/restore-worker/README.md" \
				"$(sed -n 's/^Documentation=//p' "$installed")"
			;;
		esac
	done
	[ -x "$dest$prefix/bin/restore-worker" ] || fail "$prefix/bin/restore-worker was not installed"
	[ -f "$dest$prefix/share/doc/restore-worker/README.md" ] || fail "the README was not installed"
}

for prefix in /usr /opt/restore-worker /usr/local; do
	case_begin "units_run_the_installed_binary_prefix_${prefix//\//_}"
	DEST=$CASE_DIR/dest
	install_to "$DEST" "$prefix" && check_units "$DEST" "$prefix"
	case_end
done

# The sysusers.d and tmpfiles.d entries, where systemd looks for them under the prefix /usr,
# make the user and the folders in a root of their own.
case_begin sysusers_and_tmpfiles_make_user_and_folders
DEST=$CASE_DIR/root
if ! install_to "$DEST" /usr; then
	case_end
elif ! command -v systemd-sysusers >/dev/null || ! command -v systemd-tmpfiles >/dev/null; then
	case_skip sysusers_and_tmpfiles_make_user_and_folders "no systemd-sysusers or systemd-tmpfiles here"
elif [ "$(id -u)" -ne 0 ]; then
	case_skip sysusers_and_tmpfiles_make_user_and_folders "systemd-tmpfiles needs root to give the folders their owner"
else
	[ -f "$DEST/usr/lib/sysusers.d/restore-worker.conf" ] || fail "no /usr/lib/sysusers.d/restore-worker.conf"
	[ -f "$DEST/usr/lib/tmpfiles.d/restore-worker.conf" ] || fail "no /usr/lib/tmpfiles.d/restore-worker.conf"
	mkdir -p "$DEST/etc"
	systemd-sysusers --root="$DEST" >"$CASE_DIR/sysusers.out" 2>&1 ||
		fail "systemd-sysusers --root failed: $(tail -n 2 "$CASE_DIR/sysusers.out" | tr '\n' ' ')"
	IFS=: read -r _ _ uid gid _ home _ < <(grep '^restore-worker:' "$DEST/etc/passwd" 2>/dev/null || echo ':::::::')
	[ -n "$uid" ] || fail "systemd-sysusers made no user restore-worker"
	assert_eq "restore-worker's home" /var/lib/restore-worker "$home"
	assert_eq "restore-worker's group" "$gid" "$(sed -n 's/^restore-worker:[^:]*:\([0-9]*\):.*/\1/p' "$DEST/etc/group" 2>/dev/null)"
	systemd-tmpfiles --create --root="$DEST" >"$CASE_DIR/tmpfiles.out" 2>&1 ||
		fail "systemd-tmpfiles --create --root failed: $(tail -n 2 "$CASE_DIR/tmpfiles.out" | tr '\n' ' ')"
	# What scripts/setup-host makes: folder | mode | owner | group.
	for row in "/var/spool/restore-worker|2775|$uid|$gid" "/var/spool/restore-worker/tmp|2775|$uid|$gid" \
		"/var/spool/restore-worker/incoming|2775|$uid|$gid" "/var/spool/restore-worker/active|750|$uid|$gid" \
		"/var/spool/restore-worker/done|750|$uid|$gid" "/var/spool/restore-worker/failed|750|$uid|$gid" \
		"/var/spool/restore-worker/locks|750|$uid|$gid" "/var/lib/restore-worker|750|$uid|$gid" \
		"/var/backups/restore-worker|750|$uid|$gid" "/etc/restore-worker|750|0|$gid"; do
		IFS='|' read -r dir mode owner group <<<"$row"
		assert_eq "$dir (mode owner group)" "$mode $owner $group" \
			"$(stat -c '%a %u %g' "$DEST$dir" 2>/dev/null || echo missing)"
	done
	case_end
fi

finish
