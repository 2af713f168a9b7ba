#!/usr/bin/env bash
# db_password.sh - no part of a password ever shows in a report, on stderr or in the worker's log.
#
# libpq quotes what it read from a connection string in its errors (a host name, a port, a
# database name), and a URI whose password holds an unescaped '/' or '@' is read otherwise than
# it looks: pieces of the password become the port or the host. Each case restores with such a
# connection string and greps the report (restore --json), stderr and, for the worker, its log
# and report.json for every fragment of the password. Passwords with quotes and spaces, passwords
# read from a passfile and percent-encoded ones must work when right and stay hidden when wrong;
# a missing database is still refused as such (rejected), not as a failure.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_source_db src
A=$TEST_ROOT/archives
mkdir -p "$A"
dump_custom src "$A/src.backup"
snapshot_db_state src >"$TEST_ROOT/src.state"

# Role pwuser logs in with a password (scram) on the socket; everyone else keeps trust.
PW_RIGHT="Sec r3t'x"
sql postgres "create role pwuser login password 'Sec r3t''x'"
as_cluster_owner bash -c 'f=$1/data/pg_hba.conf; { echo "local all pwuser scram-sha-256"; cat "$f"; } >"$f.new" && mv "$f.new" "$f"' _ "$PG_DIR"
sql postgres "select pg_reload_conf()" >/dev/null

# write_pw_config: write config file $1 whose target's database is the conninfo $2 (a YAML
# single-quoted scalar, so quotes and backslashes reach libpq as written).
write_pw_config() {
	local quoted=${2//\'/\'\'}
	cat >"$1" <<-EOF
		work_dir: $WORK_DIR
		pg_restore: $PGBIN/pg_restore
		default_target: acceptance
		targets:
		  acceptance:
		    database: '$quoted'
		    blob_dir: $BLOB_DIR
		    plan_quota: 10GB
	EOF
}

# assert_hidden: fail for every fragment ($2...) found in file $1 (named in the message).
assert_hidden() {
	local file=$1 fragment
	shift
	for fragment in "$@"; do
		if grep -qF -- "$fragment" "$file"; then
			fail "$(basename "$file") shows '$fragment': $(grep -F -- "$fragment" "$file" | head -n 2 | tr '\n' ' ')"
		fi
	done
}

# Table: name | conninfo (@SOCK@ is the socket folder, @CASE@ the case folder) | expected status
# | what the error must contain | fragments of the password that must not show (space-separated).
CASES=(
	"uri_slash_in_password|postgresql://app:Secr3t/Tail@localhost/app|failed|percent-encode|Secr3t r3t Tail ecr"
	"uri_at_in_password|postgresql://app:Secr3t@Tail@localhost/app|failed|percent-encode|Secr3t r3t Tail ecr"
	"uri_at_in_password_socket|postgresql://pwuser:Secr3t@Tail@/t_uri_at?host=@SOCK@|failed|password authentication failed|Secr3t r3t Tail ecr"
	"uri_encoded_wrong_password|postgresql://pwuser:Wr0ng%2FT41l@/t_uri_enc?host=@SOCK@|failed|password authentication failed|Wr0ng T41l %2F"
	"uri_password_parameter|postgresql:///t_uri_par?host=@SOCK@&user=pwuser&password=Qu3ry%40Secr3t|failed|password authentication failed|Qu3ry Secr3t"
	"keyvalue_quoted_wrong_password|host=@SOCK@ dbname=t_kv user=pwuser password='Sec r3t\\'y'|failed|password authentication failed|Sec r3t r3t\\'y r3t'y"
	"keyvalue_missing_database|host=@SOCK@ dbname=t_nosuch user=pwuser password='Sec r3t\\'x'|rejected|does not exist|Sec r3t r3t\\'x r3t'x"
	"passfile_wrong_password|host=@SOCK@ dbname=t_pf user=pwuser passfile=@CASE@/pgpass|failed|password authentication failed|Fil3Secr3t Secr3t"
)
for row in "${CASES[@]}"; do
	IFS='|' read -r name conninfo status expect fragments <<<"$row"
	case_begin "$name"
	db=$(sed -n 's/.*dbname=\([a-z_]*\).*/\1/p; s/.*\/\(t_[a-z_]*\)?.*/\1/p' <<<"$conninfo" | head -n 1)
	if [ -n "$db" ] && [ "$db" != t_nosuch ]; then
		make_target_db "$db"
		capture_state before "$db"
	fi
	printf '*:*:*:pwuser:Fil3Secr3t\n' >"$CASE_DIR/pgpass"
	chmod 600 "$CASE_DIR/pgpass"
	conninfo=${conninfo//@SOCK@/$PGHOST}
	conninfo=${conninfo//@CASE@/$CASE_DIR}
	write_pw_config "$CASE_DIR/config.yaml" "$conninfo"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/src.backup"
	assert_exit 1
	report_is_one_object
	assert_report .status "$status"
	assert_error_line
	[[ $(report .error) == *"$expect"* ]] || fail "the error does not say '$expect': $(report .error)"
	read -ra hidden <<<"$fragments"
	assert_hidden "$CASE_DIR/out" "${hidden[@]}"
	assert_hidden "$CASE_DIR/err" "${hidden[@]}"
	if [ -n "$db" ] && [ "$db" != t_nosuch ]; then
		assert_unchanged "$db"
	fi
	case_end
done

# The right password, with a quote and a space, given in key=value form, in a passfile and
# percent-encoded in a URI: the restore succeeds and nothing shows the password.
printf '*:*:*:pwuser:%s\n' "${PW_RIGHT//:/\\:}" >"$TEST_ROOT/pgpass.right"
chmod 600 "$TEST_ROOT/pgpass.right"
GOOD_CASES=(
	"keyvalue_quoted_right_password|host=@SOCK@ dbname=t_ok_kv user=pwuser password='Sec r3t\\'x'"
	"passfile_right_password|host=@SOCK@ dbname=t_ok_pf user=pwuser passfile=$TEST_ROOT/pgpass.right"
	"uri_encoded_right_password|postgresql://pwuser:Sec%20r3t%27x@/t_ok_uri?host=@SOCK@"
)
for row in "${GOOD_CASES[@]}"; do
	IFS='|' read -r name conninfo <<<"$row"
	case_begin "$name"
	db=$(sed -n 's/.*dbname=\([a-z_]*\).*/\1/p; s/.*\/\(t_[a-z_]*\)?.*/\1/p' <<<"$conninfo" | head -n 1)
	sql postgres "create database $db owner pwuser"
	write_pw_config "$CASE_DIR/config.yaml" "${conninfo//@SOCK@/$PGHOST}"
	run_worker -c "$CASE_DIR/config.yaml" restore --json "$A/src.backup"
	assert_exit 0
	assert_report .status succeeded
	snapshot_db_state "$db" >"$CASE_DIR/after.db"
	assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
	assert_hidden "$CASE_DIR/out" "Sec r3t" "r3t'x" "r3t\\'x"
	assert_hidden "$CASE_DIR/err" "Sec r3t" "r3t'x" "r3t\\'x"
	case_end
done

# The worker: its log (the target's connection string at start, the job's outcome) and the
# job's report.json show no part of the password.
worker_case_begin worker_log_and_report
TARGETS=(acceptance)
make_target_db "$(target_db acceptance)"
mkdir -p "$(target_blob acceptance)"
cat >"$CASE_DIR/config.yaml" <<-EOF
	spool_dir: $SPOOL
	work_dir: $WORK_DIR
	pg_restore: $PGBIN/pg_restore
	default_target: acceptance
	settle_seconds: 1
	rescan_seconds: 2
	targets:
	  acceptance:
	    database: "postgresql://app:Secr3t/Tail@localhost/app"
	    blob_dir: $(target_blob acceptance)
	    plan_quota: 10GB
	  second:
	    database: "postgresql://app:Secr3t@Tail@localhost/app"
	    blob_dir: $(target_blob acceptance)2
	    plan_quota: 10GB
EOF
TARGETS=(acceptance second)
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	cp "$A/src.backup" "$SPOOL/tmp/a.backup" && mv "$SPOOL/tmp/a.backup" "$SPOOL/incoming/acceptance/"
	cp "$A/src.backup" "$SPOOL/tmp/b.backup" && mv "$SPOOL/tmp/b.backup" "$SPOOL/incoming/second/"
	two_reports() { [ "$(report_files | wc -l)" -ge 2 ]; }
	WAIT_WHAT="two reports in failed/" wait_for two_reports || true
	worker_stop
	assert_eq "reports in failed/" 2 "$(find "$SPOOL/failed" -name report.json | wc -l)"
	for f in $(report_files); do
		assert_hidden "$f" Secr3t r3t Tail ecr
	done
	assert_hidden "$WORKER_LOG" Secr3t r3t Tail ecr
	grep -q 'postgresql://app:\*\*\*@localhost/app' "$WORKER_LOG" ||
		fail "the worker's log does not show the masked connection string"
fi
worker_case_end

finish
