#!/usr/bin/env bash
# metrics.sh - the metrics file for node_exporter's textfile collector (config metrics_file).
#
# A real worker with metrics_file set: at start the file holds every family (HELP and TYPE),
# runs_total 0 for each result of each configured target and no timestamp series. After a
# success, a rejection (random bytes) and a failure (a dump whose index fails in pg_restore)
# into target acceptance it holds exactly those counts, the last run's and the last success's
# finish times as the reports say them (to the millisecond), the last run's duration, the
# bytes restored, and nothing for target test but zero counters; `promtool check metrics`
# accepts it. A reader in the background reads the file over and over while the jobs run:
# every read is complete (ends with a newline, holds every HELP line and the last series), and
# every distinct version it saw passes promtool. After a restart the counters go on from where
# they were (metrics.state in the spool); a corrupt metrics.state is logged and the counters
# start from zero; a metrics_file in a folder that does not exist fails no job. Configuration
# errors name the file, the line and the key. Two workers sharing a spool and a metrics file
# both write the spool's running jobs, so the file says 1 while either restores, whichever
# worker wrote it last.
#
# promtool comes with Debian's prometheus package, installed here when missing (as root, or
# with sudo that asks no password); without it the test is skipped (exit 77).
set -euo pipefail

if ! command -v promtool >/dev/null; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			echo "ok - metrics # SKIP promtool is missing (apt-get install prometheus) and we are not root"
			exit 77
		fi
	fi
	echo "# installing prometheus for promtool" >&2
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq >&2
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
	if ! command -v promtool >/dev/null; then
		echo "ok - metrics # SKIP promtool is still missing after installing prometheus"
		exit 77
	fi
fi

source "$(dirname "$0")/worker_lib.sh"

make_good_archive
head -c 65536 /dev/urandom >"$A/random.tar.gz"

# A dump that is valid but fails in pg_restore after the data is in (as in failures.sh): the
# index on f(a) calls a function naming its table without a schema.
make_index_fails_db src_index
make_snapshot "$A/index_fails.tar.gz" src_index 3

FAMILIES=(restore_worker_runs_total restore_worker_restored_bytes_total
	restore_worker_last_run_timestamp_seconds restore_worker_last_success_timestamp_seconds
	restore_worker_last_duration_seconds restore_worker_missing_files
	restore_worker_backup_runs_total restore_worker_backup_last_success_timestamp_seconds
	restore_worker_backup_last_duration_seconds restore_worker_backup_last_size_bytes
	restore_worker_queue_length restore_worker_running_jobs)

# metric: print the value of the sample $1 (name and labels exactly as written) in file $2,
# or "absent".
metric() {
	awk -v s="$1" 'index($0, s " ") == 1 { print substr($0, length(s) + 2); found = 1 }
		END { if (!found) print "absent" }' "$2"
}

# runs: print target $1's runs_total for succeeded, rejected, failed, partial in file $2.
runs() {
	local r out=()
	for r in succeeded rejected failed partial; do
		out+=("$(metric "restore_worker_runs_total{target=\"$1\",result=\"$r\"}" "$2")")
	done
	echo "${out[*]}"
}

# ms: print a metric's value (seconds with three decimals) as milliseconds.
ms() {
	echo "${1/./}" | sed 's/^0*//'
}

# assert_promtool: fail unless `promtool check metrics` accepts file $1 ($2 names it).
assert_promtool() {
	local out
	if ! out=$(promtool check metrics <"$1" 2>&1); then
		fail "promtool check metrics rejects $2: $(echo "$out" | head -n 3 | tr '\n' ' ')"
	elif [ -n "$out" ]; then
		fail "promtool check metrics complains about $2: $(echo "$out" | head -n 3 | tr '\n' ' ')"
	fi
}

# complete_file: true when file $1 is a whole metrics file: it ends with a newline and holds
# every family's HELP and TYPE and the last series.
complete_file() {
	local f
	[ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -tx1 | tr -d ' ')" = 0a ] || return 1
	for f in "${FAMILIES[@]}"; do
		grep -q "^# HELP $f " "$1" && grep -q "^# TYPE $f " "$1" || return 1
	done
	grep -q '^restore_worker_running_jobs [0-9]*$' "$1"
}

# metrics_runs_total: true once file $1 counts $2 runs in all.
metrics_runs_total() {
	[ -f "$1" ] && [ "$(awk '/^restore_worker_runs_total\{/ { n += $2 } END { print n + 0 }' "$1")" = "$2" ]
}

# reader: read file $1 until $2 exists, with no process per read (bash's read, one open: one
# version), as fast as it can; every distinct content read goes into folder $3 (checked later:
# a read that caught a half-written file is a content of its own), and the count of reads into
# $3.count.
reader() {
	local file=$1 stop=$2 dir=$3 n=0 content i=0
	local -A seen=()
	mkdir -p "$dir"
	while [ ! -e "$stop" ]; do
		content=
		if [ -e "$file" ] && { IFS= read -r -d '' content <"$file" || [ -n "$content" ]; }; then
			n=$((n + 1))
			seen[$content]=1
		fi
	done 2>/dev/null
	for content in "${!seen[@]}"; do
		i=$((i + 1))
		printf '%s' "$content" >"$dir/$i"
	done
	echo "$n" >"$dir.count"
}

# report_of: print the path of the report whose source is $1.
report_of() {
	local f
	for f in $(report_files); do
		if [ "$(jq -r .source "$f")" = "$1" ]; then
			echo "$f"
		fi
	done
}

# 1. Configuration errors name the file, the line and the key.
case_begin config_errors
for row in "relative|metrics/restore_worker.prom|is not an absolute path" \
	"not_prom|/var/lib/node_exporter/restore_worker.txt|does not end in .prom" \
	"only_suffix|/var/lib/node_exporter/.prom|does not end in .prom" \
	"empty||must not be empty"; do
	IFS='|' read -r name value message <<<"$row"
	printf 'work_dir: %s\nmetrics_file: %s\ntargets:\n  a:\n    database: "dbname=a"\n    blob_dir: /srv/a\n    plan_quota: 1GB\n' \
		"$WORK_DIR" "$value" >"$CASE_DIR/$name.yaml"
	run_worker -c "$CASE_DIR/$name.yaml" status
	assert_exit 2
	grep -q "^restore-worker: .*$name.yaml:2: metrics_file: .*$message" "$CASE_DIR/err" ||
		grep -q "$name.yaml:2: metrics_file: .*$message" "$CASE_DIR/err" ||
		fail "$name: the error does not say '$name.yaml:2: metrics_file: ... $message': $(head -c 300 "$CASE_DIR/err")"
done
case_end

# 2. At start, then after a success, a rejection and a failure.
worker_case_begin success_rejection_failure
worker_targets acceptance test
TEXTFILE_DIR=$CASE_DIR/textfile
METRICS=$TEXTFILE_DIR/restore_worker.prom
mkdir -p "$TEXTFILE_DIR"
write_worker_config "$CASE_DIR/config.yaml"
echo "metrics_file: $METRICS" >>"$CASE_DIR/config.yaml"
T0=$(date +%s)
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready && WAIT_SECONDS=10 WAIT_WHAT="the metrics file at start" wait_for test -f "$METRICS"; then
	cp "$METRICS" "$CASE_DIR/start.prom"
	complete_file "$CASE_DIR/start.prom" || fail "the file at start is not complete"
	assert_promtool "$CASE_DIR/start.prom" "the file at start"
	assert_eq "runs of acceptance at start" "0 0 0 0" "$(runs acceptance "$CASE_DIR/start.prom")"
	assert_eq "runs of test at start" "0 0 0 0" "$(runs test "$CASE_DIR/start.prom")"
	assert_eq "restored bytes of test at start" 0 \
		"$(metric 'restore_worker_restored_bytes_total{target="test"}' "$CASE_DIR/start.prom")"
	assert_eq "timestamp series at start" 0 \
		"$(grep -c -e '^restore_worker_last_' -e '^restore_worker_missing_files{' "$CASE_DIR/start.prom" || true)"
	assert_eq "running jobs at start" 0 "$(metric restore_worker_running_jobs "$CASE_DIR/start.prom")"

	reader "$METRICS" "$CASE_DIR/reader.stop" "$CASE_DIR/versions" &
	READER_PID=$!
	drop_file "$GOOD" "" good.tar.gz
	drop_file "$A/random.tar.gz" "" random.tar.gz
	drop_file "$A/index_fails.tar.gz" "" index_fails.tar.gz
	wait_reports 3 || true
	WAIT_SECONDS=10 WAIT_WHAT="the metrics file counting 3 runs" wait_for metrics_runs_total "$METRICS" 3 || true
	sleep 0.5
	touch "$CASE_DIR/reader.stop"
	wait "$READER_PID" || fail "the reader failed"
fi
T1=$(date +%s)
cp "$METRICS" "$CASE_DIR/after.prom" 2>/dev/null || : >"$CASE_DIR/after.prom"
assert_report_count 3
GOOD_REPORT=$(report_of good.tar.gz)
LAST_REPORT=$(for f in $(report_files); do echo "$(rfc3339_ms "$(jq -r .finished_at "$f")") $f"; done | sort -n | tail -n 1 | cut -d' ' -f2)
assert_eq "statuses of the three jobs" "failed rejected succeeded" \
	"$(for f in $(report_files); do jq -r .status "$f"; done | sort | tr '\n' ' ' | sed 's/ $//')"

assert_promtool "$CASE_DIR/after.prom" "the file after the jobs"
complete_file "$CASE_DIR/after.prom" || fail "the file after the jobs is not complete"
assert_eq "runs of acceptance (succeeded rejected failed partial)" "1 1 1 0" "$(runs acceptance "$CASE_DIR/after.prom")"
assert_eq "runs of test" "0 0 0 0" "$(runs test "$CASE_DIR/after.prom")"
LAST_RUN=$(metric 'restore_worker_last_run_timestamp_seconds{target="acceptance"}' "$CASE_DIR/after.prom")
LAST_SUCCESS=$(metric 'restore_worker_last_success_timestamp_seconds{target="acceptance"}' "$CASE_DIR/after.prom")
LAST_DURATION=$(metric 'restore_worker_last_duration_seconds{target="acceptance"}' "$CASE_DIR/after.prom")
if [ "$LAST_RUN" = absent ] || [ "$LAST_SUCCESS" = absent ] || [ "$LAST_DURATION" = absent ]; then
	fail "a series of acceptance is missing: last_run $LAST_RUN, last_success $LAST_SUCCESS, last_duration $LAST_DURATION"
else
	[ "${LAST_RUN%.*}" -ge "$T0" ] && [ "${LAST_RUN%.*}" -le "$T1" ] ||
		fail "last_run $LAST_RUN is not within the test's window $T0..$T1"
	assert_eq "last_run (ms) vs the last report's finished_at" \
		"$(rfc3339_ms "$(jq -r .finished_at "$LAST_REPORT")")" "$(ms "$LAST_RUN")"
	assert_eq "last_success (s) vs the success's finished_at" \
		"$(date -d "$(jq -r .finished_at "$GOOD_REPORT")" +%s)" "${LAST_SUCCESS%.*}"
	assert_eq "last_success (ms) vs the success's finished_at" \
		"$(rfc3339_ms "$(jq -r .finished_at "$GOOD_REPORT")")" "$(ms "$LAST_SUCCESS")"
	if [ "$(jq 'has("timings")' "$LAST_REPORT")" = true ]; then
		EXPECTED_DURATION=$(jq -r .timings.total_s "$LAST_REPORT" | awk '{ printf "%.3f", $1 }')
	else
		EXPECTED_DURATION=$(($(rfc3339_ms "$(jq -r .finished_at "$LAST_REPORT")") - $(rfc3339_ms "$(jq -r .started_at "$LAST_REPORT")")))
		EXPECTED_DURATION=$(awk -v ms="$EXPECTED_DURATION" 'BEGIN { printf "%.3f", ms / 1000 }')
	fi
	assert_eq "last_duration vs the last report ($(jq -r .source "$LAST_REPORT"))" "$EXPECTED_DURATION" "$LAST_DURATION"
fi
EXPECTED_BYTES=$(jq -s 'map((if .database.status == "restored" then .database.decompressed_bytes else 0 end)
	+ (if .files.status == "restored" then .files.bytes else 0 end)) | add' $(report_files))
GOOD_BYTES=$(jq '.database.decompressed_bytes + .files.bytes' "$GOOD_REPORT")
assert_eq "the bytes only the success restored" "$GOOD_BYTES" "$EXPECTED_BYTES"
assert_eq "restored bytes of acceptance" "$GOOD_BYTES" \
	"$(metric 'restore_worker_restored_bytes_total{target="acceptance"}' "$CASE_DIR/after.prom")"
[ "$GOOD_BYTES" -gt 12288 ] || fail "the success restored only $GOOD_BYTES bytes"
if [ "$(jq '.files.missing.count // "absent"' "$LAST_REPORT")" = '"absent"' ]; then
	assert_eq "missing files of acceptance (the last report has no files.missing)" absent \
		"$(metric 'restore_worker_missing_files{target="acceptance"}' "$CASE_DIR/after.prom")"
else
	assert_eq "missing files of acceptance" "$(jq .files.missing.count "$LAST_REPORT")" \
		"$(metric 'restore_worker_missing_files{target="acceptance"}' "$CASE_DIR/after.prom")"
fi
assert_eq "series of target test beyond the counters" 0 \
	"$(grep -c -e '^restore_worker_last_[a-z_]*{target="test"}' -e '^restore_worker_missing_files{target="test"}' "$CASE_DIR/after.prom" || true)"
assert_eq "queue length after the jobs" 0 "$(metric restore_worker_queue_length "$CASE_DIR/after.prom")"
assert_eq "running jobs after the jobs" 0 "$(metric restore_worker_running_jobs "$CASE_DIR/after.prom")"
assert_eq "files in the textfile folder" restore_worker.prom "$(ls -A "$TEXTFILE_DIR" | tr '\n' ' ' | sed 's/ $//')"

READS=$(cat "$CASE_DIR/versions.count" 2>/dev/null || echo 0)
VERSIONS=$(find "$CASE_DIR/versions" -type f 2>/dev/null | wc -l)
echo "# the reader read the file $READS times and saw $VERSIONS versions"
[ "$READS" -ge 200 ] || fail "the reader read the file only $READS times"
[ "$VERSIONS" -ge 3 ] || fail "the reader saw only $VERSIONS versions of the file"
SAW_BUSY=false
for v in "$CASE_DIR"/versions/*; do
	[ -f "$v" ] || continue
	complete_file "$v" || fail "the reader saw an incomplete file: $(tail -c 200 "$v" | tr '\n' '|')"
	assert_promtool "$v" "the version $(basename "$v") the reader saw"
	if [ "$(metric restore_worker_running_jobs "$v")" = 1 ] || [ "$(metric restore_worker_queue_length "$v")" != 0 ]; then
		SAW_BUSY=true
	fi
done
assert_eq "a version showed a running or a queued job" true "$SAW_BUSY"
if [ "${ITEST_VERBOSE:-0}" = 1 ]; then
	sed 's/^/#   metrics: /' "$CASE_DIR/after.prom"
	sed 's/^/#   metrics.state: /' "$SPOOL/metrics.state"
	echo
fi
worker_subcase_end

# 3. The counters survive a restart, and go on from there.
worker_subcase_begin counters_survive_restart
worker_stop "$WORKER_PID"
[ -f "$SPOOL/metrics.state" ] || fail "there is no metrics.state in the spool"
jq -e 'type == "object"' "$SPOOL/metrics.state" >/dev/null 2>&1 || fail "metrics.state is not a JSON object"
rm -f "$METRICS"
worker_start "$CASE_DIR/config.yaml"
if WAIT_SECONDS=10 WAIT_WHAT="the metrics file after the restart" wait_for test -f "$METRICS"; then
	cp "$METRICS" "$CASE_DIR/restart.prom"
	assert_eq "runs of acceptance after the restart" "1 1 1 0" "$(runs acceptance "$CASE_DIR/restart.prom")"
	for s in 'restore_worker_last_run_timestamp_seconds{target="acceptance"}' \
		'restore_worker_last_success_timestamp_seconds{target="acceptance"}' \
		'restore_worker_last_duration_seconds{target="acceptance"}' \
		'restore_worker_restored_bytes_total{target="acceptance"}'; do
		assert_eq "$s after the restart" "$(metric "$s" "$CASE_DIR/after.prom")" "$(metric "$s" "$CASE_DIR/restart.prom")"
	done
	drop_file "$GOOD" "" good-again.tar.gz
	wait_reports 4 || true
	WAIT_SECONDS=10 WAIT_WHAT="the metrics file counting 4 runs" wait_for metrics_runs_total "$METRICS" 4 || true
	cp "$METRICS" "$CASE_DIR/again.prom"
	assert_promtool "$CASE_DIR/again.prom" "the file after the restart and another success"
	assert_eq "runs of acceptance after another success" "2 1 1 0" "$(runs acceptance "$CASE_DIR/again.prom")"
	AGAIN_REPORT=$(report_of good-again.tar.gz)
	assert_eq "restored bytes after another success" \
		"$((GOOD_BYTES + $(jq '.database.decompressed_bytes + .files.bytes' "$AGAIN_REPORT")))" \
		"$(metric 'restore_worker_restored_bytes_total{target="acceptance"}' "$CASE_DIR/again.prom")"
	assert_eq "last_success (ms) after another success" \
		"$(rfc3339_ms "$(jq -r .finished_at "$AGAIN_REPORT")")" \
		"$(ms "$(metric 'restore_worker_last_success_timestamp_seconds{target="acceptance"}' "$CASE_DIR/again.prom")")"
fi
worker_stop "$WORKER_PID"
worker_subcase_end

# 4. A corrupt metrics.state: a warning, counting from zero, and a good state after the next job.
worker_subcase_begin corrupt_state_starts_from_zero
echo '{"acceptance/runs_succeeded": 2, "acceptance/runs_failed": ' >"$SPOOL/metrics.state"
rm -f "$METRICS"
: >"$WORKER_LOG"
worker_start "$CASE_DIR/config.yaml"
if WAIT_SECONDS=10 WAIT_WHAT="the metrics file with a corrupt state" wait_for test -f "$METRICS"; then
	assert_eq "runs of acceptance with a corrupt state" "0 0 0 0" "$(runs acceptance "$METRICS")"
	grep -q 'metrics: metrics.state is unreadable' "$WORKER_LOG" || fail "no warning about the corrupt metrics.state"
	drop_file "$A/random.tar.gz" "" random-again.tar.gz
	wait_reports 5 || true
	WAIT_SECONDS=10 WAIT_WHAT="the metrics file counting 1 run" wait_for metrics_runs_total "$METRICS" 1 || true
	assert_eq "runs of acceptance after a job" "0 1 0 0" "$(runs acceptance "$METRICS")"
	jq -e '."acceptance/runs_rejected" == 1' "$SPOOL/metrics.state" >/dev/null 2>&1 ||
		fail "metrics.state was not written anew: $(head -c 200 "$SPOOL/metrics.state")"
fi
worker_stop "$WORKER_PID"
worker_subcase_end

# 5. A metrics_file whose folder does not exist fails no job; the worker says why.
worker_subcase_begin unwritable_metrics_file_fails_no_job
write_worker_config "$CASE_DIR/config.yaml"
echo "metrics_file: $CASE_DIR/no-such-folder/restore_worker.prom" >>"$CASE_DIR/config.yaml"
: >"$WORKER_LOG"
worker_start "$CASE_DIR/config.yaml"
drop_file "$GOOD" "" good-third.tar.gz
wait_reports 6 || true
load_report good-third.tar.gz "done" "$GOOD"
assert_report .status succeeded
grep -q "metrics: cannot open the folder of $CASE_DIR/no-such-folder/restore_worker.prom" "$WORKER_LOG" ||
	fail "no warning about the metrics file's folder"
assert_eq "warnings about the metrics file's folder (a lasting problem is logged once)" 1 \
	"$(grep -c 'metrics: cannot open the folder' "$WORKER_LOG")"
worker_stop "$WORKER_PID"
worker_case_end

# file_version: print what tells one write of file $1 from the next (each is a new file
# renamed over it: a new inode, a new modification time).
file_version() {
	stat -c '%i %y' "$1" 2>/dev/null || echo absent
}

# rewritten_running: SIGHUP worker $1 (a reload rewrites the metrics file), wait until file $2
# is a new version, and print its running_jobs ("timeout" when no new version came).
rewritten_running() {
	local before polls=0
	before=$(file_version "$2")
	kill -HUP "$1"
	while [ "$(file_version "$2")" = "$before" ]; do
		if [ "$polls" -ge 50 ]; then
			echo timeout
			return
		fi
		sleep 0.2
		polls=$((polls + 1))
	done
	cp "$2" "$CASE_DIR/rewritten.prom"
	metric restore_worker_running_jobs "$CASE_DIR/rewritten.prom"
}

# 6. Two workers on one spool and one metrics file: while one of them restores (a pg_restore
# that pauses half-way), the file says 1 running job whichever worker wrote it last (each is
# made to write it in turn, twice); once the job is filed, 0.
worker_case_begin two_workers_one_spool
worker_targets acceptance
METRICS=$CASE_DIR/textfile/restore_worker.prom
mkdir -p "$CASE_DIR/textfile"
make_slow_pg_restore "$CASE_DIR/slow_pg_restore" 6 once
write_worker_config "$CASE_DIR/config.yaml" pg_restore="$CASE_DIR/slow_pg_restore"
echo "metrics_file: $METRICS" >>"$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
FIRST=$WORKER_PID
worker_start "$CASE_DIR/config.yaml"
SECOND=$WORKER_PID
if wait_spool_ready && WAIT_SECONDS=10 WAIT_WHAT="the metrics file at start" wait_for test -f "$METRICS"; then
	drop_file "$GOOD" "" good.tar.gz
	if WAIT_SECONDS=30 WAIT_WHAT="the restore reaching its pause" wait_for test -e "$CASE_DIR/slow.started"; then
		SEEN=()
		for pid in "$FIRST" "$SECOND" "$FIRST" "$SECOND"; do
			SEEN+=("$(rewritten_running "$pid" "$METRICS")")
		done
		assert_eq "running_jobs written by each worker in turn while one restores" "1 1 1 1" "${SEEN[*]}"
	fi
	wait_reports 1 || true
	load_report good.tar.gz "done" "$GOOD"
	assert_report .status succeeded
	SEEN=()
	for pid in "$FIRST" "$SECOND"; do
		SEEN+=("$(rewritten_running "$pid" "$METRICS")")
	done
	assert_eq "running_jobs written by each worker once the job is filed" "0 0" "${SEEN[*]}"
fi
worker_stop "$FIRST"
worker_stop "$SECOND"
worker_case_end

finish
