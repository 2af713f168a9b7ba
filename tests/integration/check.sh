#!/usr/bin/env bash
# check.sh - restore-worker check [--target NAME] [--json]: one line per check, ok, warning or
# failed; exit 0 when nothing failed, 1 when something did, 2 for usage or configuration errors.
#  - a good configuration: every check ok, exit 0; --json has target, name, status, message;
#  - a login that fails (a role that does not exist, a password in the connection string):
#    failed, exit 1, the target named, the password nowhere;
#  - strategy swap with a role without CREATEDB: the rights check fails;
#  - spool_dir with a folder its owner cannot write: failed, naming it;
#  - plan_quota 512MiB with the default 2.25GB overhead: a warning (exit 0), and a warning at
#    load for the other commands (status);
#  - a pg_dump whose archive version exceeds max_dump_version: a warning;
#  - blob_dir's parent not writable by the worker's user (nobody, when run as root): failed;
#  - run by root, check judges as spool_dir's owner (the worker's user): a blob_dir parent
#    only root can write fails;
#  - --target NAME checks only that target; an unknown target is a usage error (2);
#  - run makes the checks at its start, logs each, and goes on after a failed one.
# Not tested: a pg_dump older than the server (failed), which needs a second PostgreSQL
# installation.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sql postgres "create database target owner app"

# statuses: "name=status" of each check in the JSON on stdout, one a line.
statuses() {
	jq -r '.checks[] | "\(.name)=\(.status)"' "$CASE_DIR/out"
}

# status_of: the status of check $1 (of target $2 when given) in the JSON on stdout.
status_of() {
	jq -r --arg n "$1" --arg t "${2:-}" \
		'[.checks[] | select(.name == $n and ($t == "" or .target == $t)) | .status] | join(",")' \
		"$CASE_DIR/out"
}

case_begin good_config_all_ok
write_config "$CASE_DIR/config.yaml" plan_quota=3GB
mkdir -p "$BLOB_DIR"
run_worker -c "$CASE_DIR/config.yaml" check --json
assert_exit 0
jq -e 'type == "object" and .status == "ok" and (.checks | length) >= 6 and
	all(.checks[]; has("target") and has("name") and has("status") and has("message"))' \
	"$CASE_DIR/out" >/dev/null || fail "the JSON lacks its fields: $(head -c 300 "$CASE_DIR/out")"
assert_eq "checks not ok" "" "$(statuses | grep -v '=ok$' || true)"
for name in "database login" "database rights" "pg_restore version" "pg_dump version" \
	"plan quota" "blob_dir swap" "blob_dir access"; do
	assert_eq "$name of acceptance" ok "$(status_of "$name" acceptance)"
done
assert_eq "work_dir free space" ok "$(status_of "work_dir free space")"
run_worker -c "$CASE_DIR/config.yaml" check
assert_exit 0
assert_eq "lines on stdout (one per check)" 10 "$(wc -l <"$CASE_DIR/out")"
assert_eq "lines not ok" "" "$(grep -v ' \.\.\. ok: ' "$CASE_DIR/out" || true)"
assert_eq "what the probe left beside blob_dir" "$(basename "$BLOB_DIR")" "$(ls -A "$BLOB_PARENT")"
case_end

case_begin login_fails_without_password
write_config "$CASE_DIR/config.yaml" plan_quota=3GB \
	database="host=$PGHOST dbname=target user=nosuchrole password=Sekr3tPw0rd"
run_worker -c "$CASE_DIR/config.yaml" check
assert_exit 1
cat "$CASE_DIR/out" "$CASE_DIR/err" >"$CASE_DIR/all"
run_worker -c "$CASE_DIR/config.yaml" check --json
assert_exit 1
cat "$CASE_DIR/out" "$CASE_DIR/err" >>"$CASE_DIR/all"
grep -q Sekr3tPw0rd "$CASE_DIR/all" && fail "the password is in the output"
assert_eq "overall status" failed "$(jq -r .status "$CASE_DIR/out")"
assert_eq "database login" failed "$(status_of "database login" acceptance)"
jq -e '.checks[] | select(.name == "database login") | .message | test("acceptance")' \
	"$CASE_DIR/out" >/dev/null || fail "the login's message does not name the target"
case_end

case_begin swap_without_createdb_fails
write_config "$CASE_DIR/config.yaml" plan_quota=3GB strategy=swap
run_worker -c "$CASE_DIR/config.yaml" check --json
assert_exit 1
assert_eq "database login" ok "$(status_of "database login" acceptance)"
assert_eq "database rights" failed "$(status_of "database rights" acceptance)"
case_end

case_begin quota_below_overhead_warns
write_config "$CASE_DIR/config.yaml" plan_quota=512MiB
run_worker -c "$CASE_DIR/config.yaml" check --json
assert_exit 0
assert_eq "overall status" warning "$(jq -r .status "$CASE_DIR/out")"
assert_eq "plan quota" warning "$(status_of "plan quota" acceptance)"
assert_eq "configuration" warning "$(status_of configuration acceptance)"
# Every command warns at load: status, with a spool.
mkdir "$CASE_DIR/spool"
echo "spool_dir: $CASE_DIR/spool" >>"$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" status
assert_exit 0
grep -q 'warning.*targets\.acceptance\.plan_quota' "$CASE_DIR/err" ||
	fail "status does not warn about plan_quota at load"
case_end

case_begin pg_dump_newer_than_max_dump_version_warns
write_config "$CASE_DIR/config.yaml" plan_quota=3GB max_dump_version=1.13
run_worker -c "$CASE_DIR/config.yaml" check --json
assert_exit 0
assert_eq "pg_dump version" warning "$(status_of "pg_dump version" acceptance)"
case_end

case_begin blob_parent_not_writable_fails
write_config "$CASE_DIR/config.yaml" plan_quota=3GB
as_user=()
if [ "$(id -u)" -eq 0 ]; then
	as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	chown nobody: "$WORK_DIR"
else
	chmod 555 "$BLOB_PARENT"
fi
set +e
timeout -k 5 120 "${as_user[@]}" "$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" check --json \
	>"$CASE_DIR/out" 2>"$CASE_DIR/err"
RW_STATUS=$?
set -e
[ "$(id -u)" -eq 0 ] || chmod 755 "$BLOB_PARENT"
assert_exit 1
assert_eq "blob_dir swap" failed "$(status_of "blob_dir swap" acceptance)"
assert_eq "database login" ok "$(status_of "database login" acceptance)"
assert_eq "work_dir free space" ok "$(status_of "work_dir free space")"
assert_eq "what is in blob_dir's parent" "" "$(ls -A "$BLOB_PARENT")"
case_end

case_begin target_option_checks_one_target
write_config "$CASE_DIR/config.yaml" plan_quota=3GB
cat >>"$CASE_DIR/config.yaml" <<-EOF
	  broken:
	    database: "host=$PGHOST dbname=no_such_database user=app"
	    blob_dir: $BLOB_PARENT/broken
	    plan_quota: 3GB
EOF
run_worker -c "$CASE_DIR/config.yaml" check --json
assert_exit 1
assert_eq "database login of broken" failed "$(status_of "database login" broken)"
run_worker -c "$CASE_DIR/config.yaml" check --json --target acceptance
assert_exit 0
assert_eq "targets checked" "acceptance" \
	"$(jq -r '[.checks[].target | select(. != null)] | unique | join(",")' "$CASE_DIR/out")"
assert_eq "database login of acceptance" ok "$(status_of "database login" acceptance)"
run_worker -c "$CASE_DIR/config.yaml" check --target no_such_target
assert_exit 2
[ -s "$CASE_DIR/out" ] && fail "an unknown target printed checks"
case_end

case_begin spool_unusable_fails
write_config "$CASE_DIR/config.yaml" plan_quota=3GB
mkdir -p "$BLOB_DIR" "$CASE_DIR/spool/incoming"
echo "spool_dir: $CASE_DIR/spool" >>"$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" check --json
assert_exit 0
assert_eq "spool, a usable one" ok "$(status_of spool)"
# incoming/ that the spool's owner cannot write (as root: the spool is nobody's, as the
# service user's would be, and incoming/ root's, as a root command could have left it).
chmod 555 "$CASE_DIR/spool/incoming"
[ "$(id -u)" -eq 0 ] && chown nobody "$CASE_DIR/spool"
run_worker -c "$CASE_DIR/config.yaml" check --json
assert_exit 1
assert_eq "spool, incoming/ not writable" failed "$(status_of spool)"
jq -e '.checks[] | select(.name == "spool") | .message | test("incoming")' \
	"$CASE_DIR/out" >/dev/null || fail "the spool's message does not name incoming/"
case_end

case_begin root_checks_as_the_workers_user
if [ "$(id -u)" -ne 0 ]; then
	case_skip "needs root (check switches to the spool's owner only when run by root)"
else
	write_config "$CASE_DIR/config.yaml" plan_quota=3GB
	mkdir -p "$BLOB_DIR" "$CASE_DIR/spool"
	echo "spool_dir: $CASE_DIR/spool" >>"$CASE_DIR/config.yaml"
	chmod 755 "$CASE_DIR" "$BLOB_PARENT"
	chmod 644 "$CASE_DIR/config.yaml"
	chown -R nobody "$CASE_DIR/spool" "$WORK_DIR"
	# blob_dir's parent is root's: root could stage there, the worker (nobody) cannot.
	run_worker -c "$CASE_DIR/config.yaml" check --json
	assert_exit 1
	assert_eq "blob_dir swap, judged as nobody" failed "$(status_of "blob_dir swap" acceptance)"
	jq -e '.checks[] | select(.name == "blob_dir swap") | .message | test("nobody")' \
		"$CASE_DIR/out" >/dev/null || fail "the message does not name the worker's user"
	assert_eq "database login, as nobody" ok "$(status_of "database login" acceptance)"
	chown -R nobody:nogroup "$BLOB_PARENT"
	run_worker -c "$CASE_DIR/config.yaml" check --json
	assert_exit 0
	assert_eq "blob_dir swap, parent now nobody's" ok "$(status_of "blob_dir swap" acceptance)"
	# A configuration only root can read: root loads it, the worker's user could not.
	chmod 600 "$CASE_DIR/config.yaml"
	run_worker -c "$CASE_DIR/config.yaml" check --json
	assert_exit 1
	assert_eq "configuration, unreadable by nobody" failed "$(status_of configuration)"
	# Root's environment does not reach the checks: PGPORT=1 would make the login fail.
	chmod 644 "$CASE_DIR/config.yaml"
	PGPORT=1 run_worker -c "$CASE_DIR/config.yaml" check --json
	assert_exit 0
	assert_eq "database login, without root's PGPORT" ok "$(status_of "database login" acceptance)"
fi
case_end

case_begin run_logs_checks_and_goes_on
write_config "$CASE_DIR/config.yaml" plan_quota=3GB dbname=no_such_database
mkdir "$CASE_DIR/spool"
echo "spool_dir: $CASE_DIR/spool" >>"$CASE_DIR/config.yaml"
"$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" run >"$CASE_DIR/run.log" 2>&1 &
run_pid=$!
for _ in $(seq 100); do
	grep -q 'work_dir free space' "$CASE_DIR/run.log" && break
	sleep 0.1
done
grep -q 'acceptance: database login \.\.\. failed' "$CASE_DIR/run.log" ||
	fail "run did not log the failed login at its start"
grep -q 'work_dir free space \.\.\. ok' "$CASE_DIR/run.log" ||
	fail "run did not log the checks after the login at its start"
kill -0 "$run_pid" 2>/dev/null || fail "run stopped after a failed check"
kill -TERM "$run_pid" 2>/dev/null || true
set +e
wait "$run_pid"
RW_STATUS=$?
set -e
assert_exit 0
case_end

finish
