#!/usr/bin/env bash
# worker_lib.sh - fixtures and assertions for the daemon's tests (tests/integration/worker_*.sh).
#
# Sourced after nothing else: it sources lib.sh (the cluster, the source database, archives,
# state snapshots, case bookkeeping) and adds what the daemon needs on top: a configuration
# with a spool and several targets, workers started in the background and stopped with SIGTERM,
# dropping files into the spool the way producers do (write into tmp/, rename into incoming/),
# waiting for reports in done/ and failed/, and a pg_restore stand-in that pauses half-way so a
# restore can be caught in progress.
#
# The daemon's state is judged by what it leaves behind (reports, the spool's folders, the target
# databases and blob folders), never by its log lines; the log is printed when a case fails.
#
# ctest leaves it out (tests/CMakeLists.txt skips *lib.sh); run directly, it has no cases and
# says so.

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	echo "worker_lib.sh holds the helpers of the worker_*.sh tests and has no cases of its own"
	echo "0 passed, 0 failed"
	exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKER_PIDS=() # workers of the current case still to be reaped
SLOW_PIDS_FILE=$TEST_ROOT/slow_pg_restore.pids

# pid_running: true while process $1 exists and is not a zombie waiting to be reaped.
pid_running() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# wait_gone: wait (5 s at most) until process $1 has ended; the status says whether it did.
wait_gone() {
	local polls=0
	while pid_running "$1"; do
		[ "$polls" -lt 25 ] || return 1
		sleep 0.2
		polls=$((polls + 1))
	done
}


# worker_cleanup: the EXIT trap; kill what the tests started that may still run (workers, and
# the pg_restore stand-ins a killed worker left behind), then lib.sh's cleanup.
worker_cleanup() {
	local status=$? pid
	for pid in "${WORKER_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -f "$SLOW_PIDS_FILE" ]; then
		while read -r pid; do
			if pid_running "$pid"; then
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done <"$SLOW_PIDS_FILE"
	fi
	# lib_cleanup takes the exit status from $?; errexit must not end the trap on it.
	set +e
	(exit "$status")
	lib_cleanup
}
trap worker_cleanup EXIT

# make_good_archive: the source database src, the snapshot $A/good.tar.gz made from it with
# three tree files (unpacked in $A/good.tar.gz.d), and the states a restore must reproduce:
# $TEST_ROOT/src.state (database) and $TEST_ROOT/tree.state (files).
make_good_archive() {
	A=$TEST_ROOT/archives
	mkdir -p "$A"
	make_source_db src
	GOOD=$A/good.tar.gz
	make_snapshot "$GOOD" src 3
	snapshot_db_state src >"$TEST_ROOT/src.state"
	FILES_ONLY=1 snapshot_dir_state "$GOOD.d/tree" >"$TEST_ROOT/tree.state"
}

# worker_case_begin: start case $1 (lib.sh's case_begin) with an empty spool folder SPOOL.
worker_case_begin() {
	case_begin "$1"
	WORKER_CASE=$1
	SPOOL=$CASE_DIR/spool
	WORKER_LOG=$CASE_DIR/worker.log
	mkdir -p "$SPOOL"
	: >"$WORKER_LOG"
	WORKER_PIDS=()
	TARGETS=()
}

# worker_subcase_begin: start case $1 that goes on with the spool, targets, workers and
# folders of the case before it (a row of a table checked against one worker).
worker_subcase_begin() {
	CASE_NAME=$1
	CASE_ERRORS=()
}

# worker_subcase_end: print the result, and after a failure the end of the workers' log; the
# workers go on running for the subcases that follow.
worker_subcase_end() {
	local failed_before=$TESTS_FAILED
	case_end
	if [ "$TESTS_FAILED" -gt "$failed_before" ] && [ -s "$WORKER_LOG" ]; then
		tail -n 25 "$WORKER_LOG" | sed 's/^/#   worker: /'
	fi
}

# worker_case_end: as worker_subcase_end, then kill the workers the case left running.
worker_case_end() {
	local pid
	worker_subcase_end
	for pid in "${WORKER_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	WORKER_PIDS=()
}

# target_db: the database of target $1 in the current case.
target_db() {
	echo "${WORKER_CASE}_$1"
}

# target_blob: the blob folder of target $1 in the current case.
target_blob() {
	echo "$BLOB_PARENT/$1"
}

# worker_targets: make targets $@ for the current case: database <case>_<name> filled by
# make_target_db, blob folder BLOB_PARENT/<name> holding three old files; their states are saved
# as "before". TARGETS lists the names for write_worker_config (the first is the default).
worker_targets() {
	local t
	TARGETS=("$@")
	for t in "$@"; do
		make_target_db "$(target_db "$t")"
		BLOB_DIR=$(target_blob "$t") old_blobs
		save_target before "$t"
	done
}

# save_target: save the state of target $2 (database and blob folder) as "$1".
save_target() {
	snapshot_db_state "$(target_db "$2")" >"$CASE_DIR/$1.$2.db"
	snapshot_dir_state "$(target_blob "$2")" >"$CASE_DIR/$1.$2.files"
}

# assert_target_unchanged: fail unless target $1's database and blob folder are as "before".
assert_target_unchanged() {
	save_target now "$1"
	assert_same_file "database of target $1 (vs before)" "$CASE_DIR/before.$1.db" "$CASE_DIR/now.$1.db"
	assert_same_file "blob_dir of target $1 (vs before)" "$CASE_DIR/before.$1.files" "$CASE_DIR/now.$1.files"
}

# assert_target_restored: fail unless target $1's database equals the source and its blob
# folder holds exactly the archive's tree files, or, when $2 is db_only, is as "before".
assert_target_restored() {
	snapshot_db_state "$(target_db "$1")" >"$CASE_DIR/now.$1.db"
	assert_same_file "database of target $1 (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/now.$1.db"
	if [ "${2:-}" = db_only ]; then
		snapshot_dir_state "$(target_blob "$1")" >"$CASE_DIR/now.$1.files"
		assert_same_file "blob_dir of target $1 (vs before)" "$CASE_DIR/before.$1.files" "$CASE_DIR/now.$1.files"
	else
		FILES_ONLY=1 snapshot_dir_state "$(target_blob "$1")" >"$CASE_DIR/now.$1.files"
		assert_same_file "blob_dir of target $1 (vs tree)" "$TEST_ROOT/tree.state" "$CASE_DIR/now.$1.files"
	fi
}

# assert_no_leftovers: fail unless work_dir is empty and the blob folders' parent holds only the
# targets' blob folders (no staging).
assert_no_leftovers() {
	wait_old_files "$BLOB_PARENT" || fail "the old files were still being removed after 10 s"
	assert_work_dir_empty
	assert_eq "entries beside the blob folders" "$(printf '%s\n' "${TARGETS[@]}" | sort | tr '\n' ' ')" \
		"$(find "$BLOB_PARENT" -mindepth 1 -maxdepth 1 -printf '%P\n' | sort | tr '\n' ' ')"
}

# write_worker_config: write config file $1 for the targets in TARGETS (plan_quota 10GB each);
# key=value arguments override the top-level defaults (spool_dir, work_dir, pg_restore,
# default_target, settle_seconds 1, rescan_seconds 2, max_parallel_jobs 1, max_attempts 3,
# retention_days unset); an empty value drops the key.
write_worker_config() {
	local file=$1 kv key t
	shift
	local -A c=([spool_dir]=$SPOOL [work_dir]=$WORK_DIR [pg_restore]=$PGBIN/pg_restore
		[default_target]=${TARGETS[0]} [settle_seconds]=1 [rescan_seconds]=2
		[max_parallel_jobs]=1 [max_attempts]=3 [retention_days]="")
	for kv in "$@"; do
		c[${kv%%=*}]=${kv#*=}
	done
	{
		for key in spool_dir work_dir pg_restore default_target settle_seconds rescan_seconds \
			max_parallel_jobs max_attempts retention_days; do
			if [ -n "${c[$key]}" ]; then
				echo "$key: ${c[$key]}"
			fi
		done
		echo "targets:"
		for t in "${TARGETS[@]}"; do
			echo "  $t:"
			echo "    database: \"host=$PGHOST dbname=$(target_db "$t") user=app\""
			echo "    blob_dir: $(target_blob "$t")"
			echo "    plan_quota: 10GB"
		done
	} >"$file"
}

# make_slow_pg_restore: write a pg_restore stand-in $1 that runs the real one, passes on its SQL
# up to the first TOC entry past the middle, touches $CASE_DIR/slow.started (after writing the pid
# of the process that started it, the job's, into $CASE_DIR/slow.parent), pauses $2 seconds,
# then passes on the rest. While it pauses it writes a blank line (harmless between entries)
# every 0.2 s, so it dies of SIGPIPE as soon as its reader is gone, as a real pg_restore would.
# With $3 = once, only its first run in the case pauses; later runs are the real pg_restore.
make_slow_pg_restore() {
	local once=false
	[ "${3:-}" = once ] && once=true
	cat >"$1" <<-EOF
		#!/usr/bin/env bash
		real=$PGBIN/pg_restore
		case " \$* " in *" --version "*) exec "\$real" "\$@" ;; esac
		if $once && [ -e "$CASE_DIR/slow.started" ]; then exec "\$real" "\$@"; fi
		echo \$\$ >>"$SLOW_PIDS_FILE"
		sql=\$(mktemp "$CASE_DIR/slow-sql.XXXXXX")
		trap 'rm -f "\$sql"' EXIT
		"\$real" "\$@" >"\$sql" || exit
		size=\$(stat -c %s "\$sql")
		cut=\$(grep -b '^-- Name: ' "\$sql" | cut -d: -f1 |
			awk -v h=\$((size / 2)) '{ last = \$1 } \$1 >= h { print; found = 1; exit } END { if (!found) print last }')
		head -c "\$cut" "\$sql"
		echo \$PPID >"$CASE_DIR/slow.parent"
		touch "$CASE_DIR/slow.started"
		end=\$((SECONDS + $2))
		while [ "\$SECONDS" -lt "\$end" ]; do
			echo || exit 1
			sleep 0.2
		done
		tail -c +\$((cut + 1)) "\$sql"
	EOF
	chmod 755 "$1"
}

# A background job of a non-interactive shell starts with SIGINT ignored; the worker is started
# with it restored to the default, as it would be under systemd or in a terminal.
DEFAULT_SIGINT=()
if env --default-signal=INT true 2>/dev/null; then
	DEFAULT_SIGINT=(env --default-signal=INT)
fi

# worker_start: start `restore-worker -c $1 run` in the background, its output appended to
# WORKER_LOG; its pid goes into WORKER_PID and WORKER_PIDS.
worker_start() {
	"${DEFAULT_SIGINT[@]}" "$RESTORE_WORKER" -c "$1" run >>"$WORKER_LOG" 2>&1 &
	WORKER_PID=$!
	WORKER_PIDS+=("$WORKER_PID")
}

# forget_worker: drop pid $1 from WORKER_PIDS once it has been reaped.
forget_worker() {
	local pid rest=()
	for pid in "${WORKER_PIDS[@]}"; do
		[ "$pid" = "$1" ] || rest+=("$pid")
	done
	WORKER_PIDS=("${rest[@]}")
}

# worker_stop: send SIGTERM (or signal $2) to worker $1 (default WORKER_PID); fail unless it
# exits with status 0 within 10 seconds.
worker_stop() {
	local pid=${1:-$WORKER_PID} signal=${2:-TERM} tenths=0 status=0
	kill -"$signal" "$pid" 2>/dev/null || true
	while pid_running "$pid" && [ "$tenths" -lt 100 ]; do
		sleep 0.1
		tenths=$((tenths + 1))
	done
	if pid_running "$pid"; then
		fail "the worker did not exit within 10 s of SIG$signal"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || status=$?
	[ "$status" = 0 ] || fail "the worker's exit status after SIG$signal: expected 0, got $status"
	forget_worker "$pid"
}

# worker_kill: kill worker $1 (default WORKER_PID) with SIGKILL and reap it.
worker_kill() {
	local pid=${1:-$WORKER_PID}
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget_worker "$pid"
}

# workers_alive: true while at least one worker of the case runs.
workers_alive() {
	local pid
	for pid in "${WORKER_PIDS[@]}"; do
		pid_running "$pid" && return 0
	done
	return 1
}

# wait_for: poll every 0.2 s until command "$@" succeeds; fail the case with WAIT_WHAT after
# WAIT_SECONDS (default 60) or as soon as no worker runs; the status says whether it succeeded.
wait_for() {
	local limit=$((${WAIT_SECONDS:-60} * 5)) polls=0
	until "$@"; do
		if ! workers_alive; then
			fail "${WAIT_WHAT:-$*}: no worker is running (see its log)"
			return 1
		fi
		if [ "$polls" -ge "$limit" ]; then
			fail "${WAIT_WHAT:-$*}: not after ${WAIT_SECONDS:-60} s"
			return 1
		fi
		sleep 0.2
		polls=$((polls + 1))
	done
}

# spool_ready: true once the worker made incoming/ and incoming/<target>/ for every target.
spool_ready() {
	local t
	for t in "${TARGETS[@]}"; do
		[ -d "$SPOOL/incoming/$t" ] || return 1
	done
}

# wait_spool_ready: wait until the worker has made the spool's folders (10 s at most).
wait_spool_ready() {
	WAIT_SECONDS=10 WAIT_WHAT="the worker making incoming/<target>/ for every target" wait_for spool_ready
}

# report_files: print the report.json paths in done/ and failed/ that hold valid JSON.
# One jq reads them all (a jq per file made the waits and load_report quadratic in the number of
# reports); the last value of each file decides, as with jq -e. Should any file not parse (one
# being written by hand, say), each is judged alone as before.
report_files() {
	local f files=()
	for f in "$SPOOL"/done/*/report.json "$SPOOL"/failed/*/report.json; do
		[ -f "$f" ] && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0
	if ! jq -n -r 'reduce inputs as $x ({}; .[input_filename] = ($x | type == "object"))
		| to_entries[] | select(.value) | .key' "${files[@]}" 2>/dev/null; then
		for f in "${files[@]}"; do
			if jq -e 'type == "object"' "$f" >/dev/null 2>&1; then
				echo "$f"
			fi
		done
	fi
}

# count_reports: print how many reports done/ and failed/ hold.
count_reports() {
	report_files | wc -l
}

# reports_at_least: true once done/ and failed/ hold $1 reports or more.
reports_at_least() {
	[ "$(count_reports)" -ge "$1" ]
}

# wait_reports: wait until done/ and failed/ hold $1 reports (WAIT_SECONDS, default 60).
wait_reports() {
	WAIT_WHAT="waiting for $1 report(s) in done/ or failed/" wait_for reports_at_least "$1"
}

# assert_report_count: fail unless done/ and failed/ hold exactly $1 reports.
assert_report_count() {
	local sources
	sources=$(report_files | xargs -r jq -r .source | sort | tr '\n' ' ')
	assert_eq "reports in done/ and failed/ (sources: $sources)" "$1" "$(count_reports)"
}

# load_report: make the one report whose source is $1 the current report ($CASE_DIR/out, read
# by lib.sh's assert_report), with REPORT_DIR its job folder and REPORT_WHERE done or failed;
# fail unless there is exactly one such report, in folder $2 (done or failed), named after its
# job_id, holding the dropped file $1 beside it (its content compared with file $3 if given).
load_report() {
	local f matches=()
	REPORT_DIR=
	REPORT_WHERE=
	# One jq for all the reports: the paths (job folders, one line each) whose .source, as
	# jq -r prints it, is $1.
	while IFS= read -r f; do
		matches+=("$f")
	done < <(report_files | xargs -r -d '\n' jq -n -r --arg s "$1" \
		'reduce inputs as $x ([]; if ($x.source | tostring) == $s then . + [input_filename] else . end) | .[]')
	if [ ${#matches[@]} -ne 1 ]; then
		fail "reports with source $1: expected 1, found ${#matches[@]} (sources: $(report_files | xargs -r jq -r .source | tr '\n' ' '))"
		: >"$CASE_DIR/out"
		return 0
	fi
	cp "${matches[0]}" "$CASE_DIR/out"
	REPORT_DIR=$(dirname "${matches[0]}")
	REPORT_WHERE=$(basename "$(dirname "$REPORT_DIR")")
	assert_eq "the folder holding the report of $1" "$2" "$REPORT_WHERE"
	assert_report .job_id "$(basename "$REPORT_DIR")"
	if [ ! -e "$REPORT_DIR/$1" ] && [ ! -L "$REPORT_DIR/$1" ]; then
		fail "$REPORT_WHERE/$(basename "$REPORT_DIR")/ does not hold the dropped file $1"
	elif [ -n "${3:-}" ]; then
		cmp -s "$3" "$REPORT_DIR/$1" || fail "$REPORT_WHERE/$(basename "$REPORT_DIR")/$1 differs from what was dropped"
	fi
}

# assert_refused: fail unless the current report says the job was refused or failed, with a
# one-line error.
assert_refused() {
	assert_report_true '(.status == "rejected" or .status == "failed")' 'status is "rejected" or "failed"'
	assert_error_line
}

# drop_file: copy file $1 into tmp/ as $3 (default: its own name), then rename it into
# incoming/$2 (incoming/ when $2 is empty), as a producer does.
drop_file() {
	local name=${3:-$(basename "$1")} into=$SPOOL/incoming${2:+/$2}
	mkdir -p "$SPOOL/tmp" "$into"
	cp "$1" "$SPOOL/tmp/$name"
	mv "$SPOOL/tmp/$name" "$into/$name"
}

# drop_job: write a job file named $1 with content $3 (printf's %b escapes) into tmp/, then
# rename it into incoming/$2; a copy stays in $CASE_DIR/jobs/$1 for comparisons.
drop_job() {
	mkdir -p "$CASE_DIR/jobs"
	printf '%b' "$3" >"$CASE_DIR/jobs/$1"
	drop_file "$CASE_DIR/jobs/$1" "$2"
}

# active_jobs: print the job folders in active/, one a line.
active_jobs() {
	ls -A "$SPOOL/active" 2>/dev/null || true
}

# rfc3339_ms: print RFC 3339 time $1 as milliseconds since the epoch.
rfc3339_ms() {
	date -d "$1" +%s%3N
}

# assert_no_overlap: fail unless the reports $2... (report.json paths), of target $1, ran one
# after the other: sorted by started_at, each starts at or after the previous one finished.
assert_no_overlap() {
	local target=$1 f start finish prev_finish=0 prev_id=
	shift
	while read -r start finish f; do
		if [ "$start" -lt "$prev_finish" ]; then
			fail "target $target: job $(basename "$(dirname "$f")") started before job $prev_id finished"
		fi
		prev_finish=$finish
		prev_id=$(basename "$(dirname "$f")")
	done < <(for f in "$@"; do
		echo "$(rfc3339_ms "$(jq -r .started_at "$f")") $(rfc3339_ms "$(jq -r .finished_at "$f")") $f"
	done | sort -n)
}
