#!/usr/bin/env bash
# package.sh - scripts/package builds a Debian package that installs, runs and purges cleanly.
#
# It builds restore-worker_<VERSION>_<arch>.deb with scripts/package into the test's folder (the
# program is compiled once more, on every CPU: the longest part) and checks:
#   - the name and control fields: CMakeLists.txt's VERSION, Depends with postgresql-client and
#     the libraries; lintian (scripts/package runs it) reports no error (E:);
#   - dpkg-deb -c lists the program, the three units in /lib/systemd/system, the sysusers.d and
#     tmpfiles.d entries, the example configuration, both man pages (compressed), the bash
#     completion and the README the units name, and nothing under /usr/local;
#   - installed into a throwaway root with dpkg --root (as root): dpkg runs the maintainer
#     scripts outside a chroot (--force-script-chrootless, DPKG_ROOT set, which they honour:
#     systemd-sysusers and systemd-tmpfiles get --root) since the root holds no shell or
#     libraries, and takes the host's libraries for the dependencies (--force-depends); then the
#     root's restore-worker --version prints VERSION, the user and folders exist with
#     setup-host's owners and modes, the units run /usr/bin/restore-worker and are not enabled,
#     man reads both pages;
#   - purged: nothing is left but the user and group (kept, as Debian keeps system users) and
#     dpkg's own files; purged again after the operator's data was put in (a backup, a finished
#     job, the configuration): those are kept, the worker's lock and metrics files and the
#     empty folders are not.
# Not root: the install and purge cases are skipped (dpkg --root needs root).
#
# RW_PACKAGE_DEB=FILE tests that package instead of building one (the build case is skipped).
# RW_PACKAGE_CHROOT=1 (off by default; root, network) also makes a fresh Debian 12 root with
# debootstrap from the host's own mirror (/etc/apt/sources.list*), apt-installs the .deb there
# (pulling its dependencies), runs restore-worker --version, apt purges it and its dependencies,
# and checks that the root holds what it held before but the user and group.
#
# Nothing here needs the database; lib.sh is sourced for its case bookkeeping.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SRC=$TESTS_DIR/..
VERSION=$(sed -n 's/^project(restore-worker VERSION \([0-9][0-9.]*\) .*/\1/p' "$SRC/CMakeLists.txt")
for tool in dpkg-buildpackage dpkg-deb lintian dh; do
	if ! command -v "$tool" >/dev/null; then
		echo "ok - package # SKIP $tool is missing (scripts/deps installs it)"
		TESTS_FINISHED=1
		exit 77
	fi
done

OUT=$TEST_ROOT/out
DEB=

case_begin build
start=$(date +%s)
if [ -n "${RW_PACKAGE_DEB:-}" ]; then
	case_skip build "RW_PACKAGE_DEB names the package to test: $RW_PACKAGE_DEB"
	DEB=$RW_PACKAGE_DEB
elif "$SRC/scripts/package" "$OUT" >"$CASE_DIR/out" 2>"$CASE_DIR/err"; then
	DEB=$(tail -n 1 "$CASE_DIR/out")
	echo "# scripts/package took $(($(date +%s) - start)) s"
	assert_eq "the package's name" "restore-worker_${VERSION}_$(dpkg --print-architecture).deb" "$(basename "$DEB")"
	[ -f "$DEB" ] || fail "scripts/package printed $DEB, which is not there"
else
	fail "scripts/package failed: $(tail -n 5 "$CASE_DIR/err" | tr '\n' ' ')"
fi
if [ -z "${RW_PACKAGE_DEB:-}" ]; then
	grep '^package: lintian: ' "$CASE_DIR/err" | sed 's/^package: /# /' || true
	grep -q '^package: lintian: E: ' "$CASE_DIR/err" && fail "lintian reports errors"
	case_end
fi

if [ -z "$DEB" ] || [ ! -f "$DEB" ]; then
	finish
	exit
fi

case_begin contents
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's,^\./,/,; s,/$,,' | sort >"$CASE_DIR/files"
for f in /usr/bin/restore-worker /lib/systemd/system/restore-worker.service \
	/lib/systemd/system/restore-worker-backup@.service /lib/systemd/system/restore-worker-backup@.timer \
	/usr/lib/sysusers.d/restore-worker.conf /usr/lib/tmpfiles.d/restore-worker.conf \
	/usr/share/doc/restore-worker/examples/config.yaml.example /usr/share/doc/restore-worker/README.md \
	/usr/share/doc/restore-worker/copyright /usr/share/doc/restore-worker/changelog.gz \
	/usr/share/man/man1/restore-worker.1.gz /usr/share/man/man5/restore-worker.yaml.5.gz \
	/usr/share/bash-completion/completions/restore-worker; do
	grep -qxF "$f" "$CASE_DIR/files" || fail "the package lacks $f"
done
grep -q '^/usr/local' "$CASE_DIR/files" && fail "the package has files in /usr/local: $(grep '^/usr/local' "$CASE_DIR/files" | head -n 3 | tr '\n' ' ')"
assert_eq "Package" restore-worker "$(dpkg-deb -f "$DEB" Package)"
assert_eq "Version" "$VERSION" "$(dpkg-deb -f "$DEB" Version)"
depends=$(dpkg-deb -f "$DEB" Depends)
for dep in postgresql-client libpq5 libarchive13 libyaml-0-2 libjansson4 libc6; do
	grep -q "\(^\|, \)$dep\( \|,\|\$\)" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
case_end

# root_files: the files, links and folders under root $1, as /paths, sorted, but dpkg's
# database and log.
root_files() {
	(cd "$1" && find . -mindepth 1 ! -path './var/lib/dpkg' ! -path './var/lib/dpkg/*' \
		! -path './var/log' ! -path './var/log/*' | sed 's,^\.,,' | sort)
}

# new_root: an empty root with a dpkg database, in $1, and the folders every Debian system has
# (base-files', systemd's) where the package's scripts write.
new_root() {
	mkdir -p "$1"/var/lib/dpkg/{info,updates,triggers} "$1"/etc "$1"/var/{backups,spool} "$1"/var/lib/systemd
	: >"$1/var/lib/dpkg/status"
	: >"$1/var/lib/dpkg/available"
}

# dpkg_root: run dpkg in root $1 with the rest as its arguments; output in $CASE_DIR/dpkg.out.
dpkg_root() {
	local root=$1
	shift
	dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null "$@" \
		>"$CASE_DIR/dpkg.out" 2>&1
}

if [ "$(id -u)" -ne 0 ]; then
	case_skip install_into_a_root "dpkg --root needs root"
	case_skip purge "dpkg --root needs root"
	finish
	exit
fi

ROOT=$TEST_ROOT/root
case_begin install_into_a_root
new_root "$ROOT"
root_files "$ROOT" >"$TEST_ROOT/files.before"
if ! dpkg_root "$ROOT" -i "$DEB"; then
	fail "dpkg --root -i failed: $(tail -n 5 "$CASE_DIR/dpkg.out" | tr '\n' ' ')"
else
	assert_eq "dpkg's status" "install ok installed" \
		"$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${Status}' restore-worker)"
	assert_eq "the root's restore-worker --version" "restore-worker $VERSION" \
		"$("$ROOT/usr/bin/restore-worker" --version 2>&1)"
	IFS=: read -r _ _ uid gid _ home _ < <(grep '^restore-worker:' "$ROOT/etc/passwd" 2>/dev/null || echo ':::::::')
	[ -n "$uid" ] || fail "postinst made no user restore-worker"
	assert_eq "restore-worker's home" /var/lib/restore-worker "$home"
	for row in "/var/spool/restore-worker|2775|$uid|$gid" "/var/spool/restore-worker/incoming|2775|$uid|$gid" \
		"/var/spool/restore-worker/done|750|$uid|$gid" "/var/spool/restore-worker/locks|750|$uid|$gid" \
		"/var/lib/restore-worker|750|$uid|$gid" "/var/backups/restore-worker|750|$uid|$gid" \
		"/etc/restore-worker|750|0|$gid"; do
		IFS='|' read -r dir mode owner group <<<"$row"
		assert_eq "$dir (mode owner group)" "$mode $owner $group" \
			"$(stat -c '%a %u %g' "$ROOT$dir" 2>/dev/null || echo missing)"
	done
	for unit in restore-worker.service restore-worker-backup@.service; do
		assert_eq "$unit's ExecStart program" /usr/bin/restore-worker \
			"$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$ROOT/lib/systemd/system/$unit")"
	done
	enabled=$(find "$ROOT/etc/systemd" -name 'restore-worker*' 2>/dev/null | sed "s,^$ROOT,," | tr '\n' ' ') || true
	[ -z "$enabled" ] || fail "units enabled at install: $enabled"
	for page in man1/restore-worker.1.gz man5/restore-worker.yaml.5.gz; do
		MANWIDTH=80 man -l "$ROOT/usr/share/man/$page" 2>"$CASE_DIR/man.err" | grep -q '^NAME' ||
			fail "man -l $page: $(head -n 2 "$CASE_DIR/man.err" | tr '\n' ' ')"
	done
fi
case_end

case_begin purge
if ! dpkg_root "$ROOT" -P restore-worker; then
	fail "dpkg --root -P failed: $(tail -n 5 "$CASE_DIR/dpkg.out" | tr '\n' ' ')"
fi
# Left: the user and group (sysusers' files, with their backups), nothing else.
root_files "$ROOT" | grep -v -x -e '/etc/passwd-\{0,1\}' -e '/etc/group-\{0,1\}' \
	-e '/etc/shadow-\{0,1\}' -e '/etc/gshadow-\{0,1\}' -e '/etc/\.pwd\.lock' >"$CASE_DIR/files.after" || true
assert_same_file "the root after purge (vs before install)" "$TEST_ROOT/files.before" "$CASE_DIR/files.after"
grep -q '^restore-worker:' "$ROOT/etc/passwd" || fail "purge removed the user restore-worker"

# Again, with the operator's data and the worker's state in its folders.
if dpkg_root "$ROOT" -i "$DEB"; then
	JOB=22222222-2222-4222-8222-222222222222
	keep=(/var/backups/restore-worker/acceptance/files_and_database-0a1b2c3d-202612060230.tar.gz
		"/var/spool/restore-worker/done/$JOB/report.json" /var/spool/restore-worker/incoming/app.tar.gz
		/etc/restore-worker/config.yaml /var/lib/restore-worker/backup-$JOB.dump)
	for f in "${keep[@]}"; do
		mkdir -p "$(dirname "$ROOT$f")"
		echo data >"$ROOT$f"
	done
	mkdir -p "$ROOT/var/spool/restore-worker/incoming/acceptance"
	: >"$ROOT/var/spool/restore-worker/locks/acceptance.lock"
	echo '{}' >"$ROOT/var/spool/restore-worker/metrics.state"
	: >"$ROOT/var/spool/restore-worker/metrics.lock"
	dpkg_root "$ROOT" -P restore-worker || fail "dpkg --root -P failed: $(tail -n 5 "$CASE_DIR/dpkg.out" | tr '\n' ' ')"
	for f in "${keep[@]}"; do
		[ "$(cat "$ROOT$f" 2>/dev/null)" = data ] || fail "purge removed the operator's $f"
	done
	for f in /var/spool/restore-worker/locks /var/spool/restore-worker/metrics.state \
		/var/spool/restore-worker/metrics.lock /var/spool/restore-worker/incoming/acceptance \
		/var/spool/restore-worker/active /var/spool/restore-worker/failed /var/spool/restore-worker/tmp \
		/usr/bin/restore-worker /lib/systemd/system/restore-worker.service; do
		[ -e "$ROOT$f" ] && fail "purge left $f"
	done
	grep -q "kept /var/backups/restore-worker" "$CASE_DIR/dpkg.out" ||
		fail "purge does not say it kept /var/backups/restore-worker"
else
	fail "dpkg --root -i (again) failed: $(tail -n 5 "$CASE_DIR/dpkg.out" | tr '\n' ' ')"
fi
case_end

# The package in a fresh Debian 12, with apt: behind RW_PACKAGE_CHROOT=1.
if [ "${RW_PACKAGE_CHROOT:-0}" != 1 ]; then
	finish
	exit
fi

# host_mirror: the Debian mirror the host's apt uses (its first "deb" source of the debian archive).
host_mirror() {
	{
		sed -n 's/^URIs: *\(.*\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
		sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | grep -v -e security -e '^$' | head -n 1 || true
}

CHROOT=$TEST_ROOT/chroot
umount_chroot() {
	umount "$CHROOT/proc" 2>/dev/null || true
}
# lib_cleanup takes the script's exit status from $?: give it back after the umount.
trap 'rw_status=$?; set +e; umount_chroot; (exit $rw_status); lib_cleanup' EXIT

case_begin chroot_apt_install_and_purge
mirror=$(host_mirror)
if [ -z "$mirror" ] || ! command -v debootstrap >/dev/null; then
	fail "no Debian mirror in /etc/apt/sources.list* or no debootstrap"
else
	start=$(date +%s)
	if ! debootstrap --variant=minbase bookworm "$CHROOT" "$mirror" >"$CASE_DIR/debootstrap.log" 2>&1; then
		fail "debootstrap failed: $(tail -n 3 "$CASE_DIR/debootstrap.log" | tr '\n' ' ')"
	else
		echo "# debootstrap --variant=minbase bookworm took $(($(date +%s) - start)) s"
		mount -t proc proc "$CHROOT/proc"
		in_chroot() { chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
		in_chroot apt-get update -qq >"$CASE_DIR/apt.log" 2>&1 || fail "apt-get update in the chroot failed"
		snapshot() {
			(cd "$CHROOT" && find . -xdev -mindepth 1 \( -path ./proc -o -path ./var/lib/dpkg -o -path ./var/lib/apt \
				-o -path ./var/cache -o -path ./var/log -o -path ./tmp -o -path ./run \) -prune -o -print |
				sed 's,^\.,,' | sort)
		}
		snapshot >"$CASE_DIR/before"
		cp "$DEB" "$CHROOT/tmp/"
		if in_chroot apt-get install -y "/tmp/$(basename "$DEB")" >>"$CASE_DIR/apt.log" 2>&1; then
			grep -E '^(Setting up|The following NEW)' "$CASE_DIR/apt.log" | sed 's/^/# apt: /' | head -n 40
			assert_eq "restore-worker --version in the chroot" "restore-worker $VERSION" \
				"$(in_chroot restore-worker --version 2>&1)"
			in_chroot id restore-worker >/dev/null 2>&1 || fail "no user restore-worker in the chroot"
			assert_eq "/var/spool/restore-worker in the chroot" "2775 restore-worker restore-worker" \
				"$(in_chroot stat -c '%a %U %G' /var/spool/restore-worker 2>&1)"
			in_chroot systemctl is-enabled restore-worker.service >"$CASE_DIR/enabled" 2>&1 || true
			assert_eq "restore-worker.service enabled?" disabled "$(cat "$CASE_DIR/enabled")"
			in_chroot apt-get purge -y --autoremove restore-worker >>"$CASE_DIR/apt.log" 2>&1 ||
				fail "apt purge failed: $(tail -n 3 "$CASE_DIR/apt.log" | tr '\n' ' ')"
			rm -f "$CHROOT/tmp/$(basename "$DEB")"
			snapshot >"$CASE_DIR/after"
			# What the purge of the package and its dependencies left, counted in the log (apt's
			# autoremove keeps what remaining packages recommend, systemd's purge leaves
			# /etc/machine-id); what is the package's (a path naming restore-worker, dpkg's
			# database too) fails the case.
			diff "$CASE_DIR/before" "$CASE_DIR/after" | grep '^[<>]' >"$CASE_DIR/changed" || true
			echo "# after apt purge --autoremove: $(grep -c '^>' "$CASE_DIR/changed") paths more than before, $(grep -c '^<' "$CASE_DIR/changed") fewer, e.g. $(grep -v -e perl -e /share/ "$CASE_DIR/changed" | head -n 8 | tr '\n' ' ')"
			(cd "$CHROOT" && find . -xdev -path ./proc -prune -o -name '*restore-worker*' -print) >"$CASE_DIR/left"
			[ -s "$CASE_DIR/left" ] && fail "apt purge left $(head -n 5 "$CASE_DIR/left" | tr '\n' ' ')"
			grep -q '^restore-worker:' "$CHROOT/etc/passwd" || fail "purge removed the user restore-worker"
		else
			fail "apt-get install ./$(basename "$DEB") failed: $(tail -n 5 "$CASE_DIR/apt.log" | tr '\n' ' ')"
		fi
		umount_chroot
		echo "# the chroot case took $(($(date +%s) - start)) s"
	fi
fi
case_end

finish
