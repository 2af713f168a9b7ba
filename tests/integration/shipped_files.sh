#!/usr/bin/env bash
# shipped_files.sh - the documentation and the shipped files tell the truth.
#
# The configuration's keys: config.yaml.example ("Every key is listed here") and the YAML block
# of README.md's "## Configuration" list exactly the keys the parser accepts, at the top level,
# under a target, and in a target's s3: and azure: mappings. The keys the parser accepts are asked of the program itself: a
# configuration with an unknown key is refused with the list of the keys it expects ("unknown
# key 'x' (expected a, b or c)"). That list is then checked against the parser: each key in it
# is taken as a key (a wrong value gives another error than "unknown key"), and each key
# worker/config*.c reads (config_scalar_is(key, "...")) is in it. Keys commented out in the
# example ("# key: value", the optional ones that need more set-up) count as listed, and the
# example with them uncommented must load; so must the example with its commented-out s3: block
# ("    # s3:" and its "    #   key: value" lines), then its azure: block, taken in instead of
# the first target's blob_dir.
#
# README's metrics table: the metrics worker/metrics_text.c names, with their units.
#
# `cmake --install` gives a host what it needs, wherever the prefix: the binary, the units
# running that binary (not /usr/local's when the prefix is /usr), the nightly backup's units,
# sysusers.d and tmpfiles.d entries that systemd finds under the prefix and that make the user
# and the folders (spool and its subfolders, work_dir, backup_dir, the configuration's folder)
# with the owners and modes scripts/setup-host gives them. The build tree is the one holding
# RESTORE_WORKER (RW_BUILD_DIR names another); installs go into a DESTDIR under the test's
# folder, and systemd-sysusers and systemd-tmpfiles run with --root there.
#
# Nothing here needs the database; lib.sh is sourced for its case bookkeeping.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SRC=$TESTS_DIR/..
EXAMPLE=$SRC/config.yaml.example
README=$SRC/README.md

# loads: does configuration file $1 load? (inspect of a missing archive exits 1 once the
# configuration loaded, 2 when it did not; the first line of stderr is left in $CASE_DIR/err.)
loads() {
	run_worker -c "$1" inspect --json "$TEST_ROOT/no-such-archive.tar.gz"
	[ "$RW_STATUS" = 1 ]
}

# yaml_keys: the keys of YAML file $2 at level $1: top (column 0) or target (4 spaces in, under
# targets: NAME:), one a line; with $3 "commented", also the commented-out ones ("# key: ").
yaml_keys() {
	local indent=''
	[ "$1" = target ] && indent='    '
	if [ "${3:-}" = commented ]; then sed "s/^\($indent\)# /\1/" "$2"; else cat "$2"; fi |
		sed -n "s/^$indent\([a-z_][a-z_0-9]*\):\( .*\)\{0,1\}\$/\1/p" | sort -u
}

# yaml_store_keys: the keys of the s3: or azure: mapping ($1) of a target in YAML file $2 (6
# spaces in, under "    s3:"), the commented-out ones ("    # s3:", "    #   key: ", and in such
# a block "    #   # key: ") included, one a line.
yaml_store_keys() {
	sed 's/^    # /    /; s/^      # /      /' "$2" | awk -v m="$1" '
		$0 ~ "^    " m ":( |$)" { inside = 1; next }
		inside && /^      [a-z_]/ { key = $1; sub(/:.*/, "", key); print key; next }
		inside && !/^ *$/ { inside = 0 }' | sort -u
}

# store_taken_in: YAML file $2 with its commented-out $1 mapping (s3 or azure) taken in, and
# the blob_dir it replaces (the first) left out.
store_taken_in() {
	awk -v m="$1" '
		!dropped && /^    blob_dir:/ { dropped = 1; next }
		$0 ~ "^    # " m ":$" { print "    " m ":"; inside = 1; next }
		inside && /^    #   / { sub(/^    #   /, "      "); print; next }
		{ inside = 0; print }' "$2"
}

# readme_config: the YAML block of README.md's "## Configuration" section.
readme_config() {
	sed -n '/^## Configuration$/,/^## /p' "$README" | sed -n '/^```yaml$/,/^```$/p' | sed '1d;$d'
}

# compare: fail unless key lists $2 (documented) and $3 (accepted) are equal; $1 names them.
compare() {
	local missing extra
	missing=$(comm -13 "$2" "$3" | tr '\n' ' ')
	extra=$(comm -23 "$2" "$3" | tr '\n' ' ')
	[ -z "$missing" ] || fail "$1 lacks keys the parser accepts: $missing"
	[ -z "$extra" ] || fail "$1 lists keys the parser refuses: $extra"
}

case_begin parser_key_lists
for level in top target s3 azure; do
	expected_keys $level >"$TEST_ROOT/accepted.$level"
	[ "$(wc -l <"$TEST_ROOT/accepted.$level")" -ge 3 ] ||
		fail "no list of $level keys in the unknown-key error: $(cat "$TEST_ROOT/unknown-$level.err")"
done
# Each key of the lists is one the parser takes: a mapping as its value is refused for
# another reason than an unknown key.
declare -A required=([s3]="region bucket" [azure]="account_name container")
for level in top target s3 azure; do
	for key in $(cat "$TEST_ROOT/accepted.$level"); do
		if [ $level = s3 ] || [ $level = azure ]; then
			# The mapping's required keys but the one tried, then that one as a mapping.
			others=$(printf '%s\n' ${required[$level]} | grep -vx "$key" | sed 's/$/: x, /' | tr -d '\n')
			write_config "$CASE_DIR/c.yaml" blob_dir= "$level={$others$key: {a: 1}}"
		elif [ "$key" = targets ]; then
			printf 'work_dir: %s\ntargets: {a: 1}\n' "$WORK_DIR" >"$CASE_DIR/c.yaml"
		elif [ $level = top ]; then
			write_config "$CASE_DIR/c.yaml"
			sed -i "/^$key:/d" "$CASE_DIR/c.yaml"
			printf '%s: {a: 1}\n' "$key" >>"$CASE_DIR/c.yaml"
		else
			write_config "$CASE_DIR/c.yaml"
			sed -i "/^    $key:/d" "$CASE_DIR/c.yaml"
			printf '    %s: {a: 1}\n' "$key" >>"$CASE_DIR/c.yaml"
		fi
		loads "$CASE_DIR/c.yaml" && fail "$level key $key: {a: 1} was accepted"
		grep -q "unknown key '$key'" "$CASE_DIR/err" && fail "the $level key $key the error lists is refused as unknown"
	done
done
# Each key the parser reads is in the lists (its four levels together).
grep -ho 'config_scalar_is(key, "[a-z_0-9]*")' "$SRC"/worker/config*.c |
	sed 's/.*"\(.*\)")/\1/' | sort -u >"$CASE_DIR/parsed"
[ -s "$CASE_DIR/parsed" ] || fail "no config_scalar_is(key, \"...\") found in worker/config*.c"
sort -u "$TEST_ROOT"/accepted.{top,target,s3,azure} >"$CASE_DIR/listed"
missing=$(comm -23 "$CASE_DIR/parsed" "$CASE_DIR/listed" | tr '\n' ' ')
[ -z "$missing" ] || fail "keys worker/config*.c reads but its unknown-key error does not list: $missing"
case_end

case_begin example_lists_every_key
for level in top target; do
	yaml_keys $level "$EXAMPLE" commented >"$CASE_DIR/example.$level"
	compare "config.yaml.example ($level level)" "$CASE_DIR/example.$level" "$TEST_ROOT/accepted.$level"
done
for level in s3 azure; do
	yaml_store_keys $level "$EXAMPLE" >"$CASE_DIR/example.$level"
	compare "config.yaml.example ($level: mapping)" "$CASE_DIR/example.$level" "$TEST_ROOT/accepted.$level"
done
# The example loads (with a work_dir that exists here), also with its commented-out keys.
mkdir -p "$CASE_DIR/lib"
sed "s,^work_dir: .*,work_dir: $CASE_DIR/lib," "$EXAMPLE" >"$CASE_DIR/example.yaml"
loads "$CASE_DIR/example.yaml" || fail "config.yaml.example does not load: $(head -n 1 "$CASE_DIR/err")"
sed 's/^\( *\)# \([a-z_][a-z_0-9]*: \)/\1\2/' "$CASE_DIR/example.yaml" >"$CASE_DIR/uncommented.yaml"
loads "$CASE_DIR/uncommented.yaml" ||
	fail "config.yaml.example with its commented-out keys taken in does not load: $(head -n 1 "$CASE_DIR/err")"
for level in s3 azure; do
	store_taken_in $level "$CASE_DIR/example.yaml" >"$CASE_DIR/$level.yaml"
	grep -q "^    $level:\$" "$CASE_DIR/$level.yaml" || fail "config.yaml.example has no commented-out $level: block"
	loads "$CASE_DIR/$level.yaml" ||
		fail "config.yaml.example with its $level: block instead of blob_dir does not load: $(head -n 1 "$CASE_DIR/err")"
done
case_end

case_begin readme_lists_every_key
readme_config >"$CASE_DIR/readme.yaml"
[ -s "$CASE_DIR/readme.yaml" ] || fail "no yaml block in README's Configuration section"
for level in top target; do
	yaml_keys $level "$CASE_DIR/readme.yaml" >"$CASE_DIR/readme.$level"
	compare "README's Configuration ($level level)" "$CASE_DIR/readme.$level" "$TEST_ROOT/accepted.$level"
done
for level in s3 azure; do
	yaml_store_keys $level "$CASE_DIR/readme.yaml" >"$CASE_DIR/readme.$level"
	compare "README's Configuration ($level: mapping)" "$CASE_DIR/readme.$level" "$TEST_ROOT/accepted.$level"
done
case_end

# README's metrics table: the metrics worker/metrics_text.c names, each once, and a metric in
# seconds (its name ends in _seconds, as Prometheus names units) is said to be in seconds.
case_begin readme_metrics_table
sed -n '/^### Metrics$/,/^### /p' "$README" | sed -n 's/^| `\(restore_worker_[a-z_]*\)[{`].*$/\1/p' |
	sort >"$CASE_DIR/readme.metrics"
grep -o '"restore_worker_[a-z_]*"' "$SRC/worker/metrics_text.c" | tr -d '"' | sort -u >"$CASE_DIR/written.metrics"
[ -s "$CASE_DIR/written.metrics" ] || fail "no \"restore_worker_...\" names in worker/metrics_text.c"
assert_same_file "metrics in README's table (vs worker/metrics_text.c)" "$CASE_DIR/written.metrics" "$CASE_DIR/readme.metrics"
while IFS= read -r line; do
	name=$(sed 's/^| `\([a-z_]*\).*/\1/' <<<"$line")
	meaning=${line##*| gauge | }
	meaning=${meaning##*| counter | }
	case $name in
	*_seconds)
		grep -qw seconds <<<"$meaning" || fail "$name: README does not say its unit, seconds"
		grep -qw milliseconds <<<"$meaning" && fail "$name: README says milliseconds for a value in seconds"
		;;
	esac
done < <(sed -n '/^### Metrics$/,/^### /p' "$README" | grep '^| `restore_worker_')
case_end

# The install.
BUILD_DIR=${RW_BUILD_DIR:-$(dirname "$RESTORE_WORKER")}

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

if [ ! -f "$BUILD_DIR/cmake_install.cmake" ] || ! command -v cmake >/dev/null; then
	case_skip install "$BUILD_DIR is no build tree (set RW_BUILD_DIR), or cmake is missing"
	finish
	exit
fi

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
