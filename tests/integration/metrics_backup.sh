#!/usr/bin/env bash
# metrics_backup.sh - backups are as observable as restores: their metrics, the runs by hand
# counted, and their progress.
#
# Metrics (a spool and a metrics_file, no worker running): a real backup of target acceptance
# by hand writes the four backup series (runs by result, the last success's finished_at to the
# millisecond, its timings.total_s, the archive's size on disk) and every target's
# restore_worker_runs_total with the result cancelled (0); a failed and a rejected backup count
# as such and leave the success's gauges as they were; a restore by hand (of that backup, into
# target test with keep_previous) counts in runs_total, and its undo point is no backup; a
# rehearsal counts nothing; a worker started afterwards (a second process) writes the same
# counters from metrics.state; a metrics.state as the version before wrote it (no cancelled, no
# backup fields) is read with its counters, and the next backup adds its own. promtool accepts
# the files when it is installed (else that case is skipped).
#
# Progress (pg_dump is a stand-in that runs the real one and passes on its --verbose lines,
# pausing after each table): on a terminal (script(1)) the live line names each table of the
# database as "table N of 3" (the database's three tables, by their real names) and then the
# files archived ("3 of 3 files"), and is erased before the outcome; without a terminal, a
# backup over 10 s logs a progress line naming a real table, has no carriage return, and with
# --json its stdout is the one JSON object.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

command -v script >/dev/null || { echo "ok - metrics_backup # SKIP script(1) is missing"; exit 77; }

# The tables of make_source_db's databases, as pg_dump names them.
TABLES='module$two.thing$x public.shop$line public.shop$order'

# metric: print the value of sample $1 (name and labels exactly as written) in file $2, or
# "absent".
metric() {
	awk -v s="$1" 'index($0, s " ") == 1 { print substr($0, length(s) + 2); found = 1 }
		END { if (!found) print "absent" }' "$2"
}

# runs: print target $1's restore_worker_runs_total for succeeded, rejected, failed, partial,
# cancelled in file $2.
runs() {
	local r out=()
	for r in succeeded rejected failed partial cancelled; do
		out+=("$(metric "restore_worker_runs_total{target=\"$1\",result=\"$r\"}" "$2")")
	done
	echo "${out[*]}"
}

# backups: print target $1's restore_worker_backup_runs_total for succeeded, rejected, failed
# in file $2.
backups() {
	local r out=()
	for r in succeeded rejected failed; do
		out+=("$(metric "restore_worker_backup_runs_total{target=\"$1\",result=\"$r\"}" "$2")")
	done
	echo "${out[*]}"
}

# gauges: print target $1's three backup gauges (last success, duration, size) in file $2.
gauges() {
	echo "$(metric "restore_worker_backup_last_success_timestamp_seconds{target=\"$1\"}" "$2")" \
		"$(metric "restore_worker_backup_last_duration_seconds{target=\"$1\"}" "$2")" \
		"$(metric "restore_worker_backup_last_size_bytes{target=\"$1\"}" "$2")"
}

# ms: print a metric's value (seconds with three decimals) as milliseconds.
ms() {
	echo "${1/./}" | sed 's/^0*//'
}

# keep_prom: copy the metrics file to $CASE_DIR/$1.prom (an empty file when there is none).
keep_prom() {
	cp "$METRICS" "$CASE_DIR/$1.prom" 2>/dev/null || : >"$CASE_DIR/$1.prom"
}

# make_slow_pg_dump: write a pg_dump stand-in $1 that runs the real one and passes on what it
# says on stderr line by line, pausing $2 seconds after each line naming a table it dumps: the
# dump is made at once, only its progress reaches restore-worker slowly. Without --verbose
# (--version) it is the real one.
make_slow_pg_dump() {
	cat >"$1" <<-EOF
		#!/usr/bin/env bash
		case " \$* " in *" --verbose "*) ;; *) exec "$PGBIN/pg_dump" "\$@" ;; esac
		"$PGBIN/pg_dump" "\$@" 2>&1 | while IFS= read -r line; do
			printf '%s\n' "\$line" >&2
			case \$line in *"dumping contents of table"*) sleep $2 ;; esac
		done
		exit "\${PIPESTATUS[0]}"
	EOF
	chmod 755 "$1"
}

make_source_db src
# The source of the metrics cases' target acceptance: a copy, made before the background
# backup connects to src (a database being copied must have no session).
wait_sessions_gone src
create_db metrics_src app src
PROMS=()

# The backup without a terminal takes over 10 s (three tables, 4 s each): it runs in the
# background while the metrics cases run, and is checked at the end.
case_begin backup_progress_without_a_terminal
old_blobs
make_slow_pg_dump "$CASE_DIR/pg_dump" 4
write_config "$CASE_DIR/config.yaml.body" dbname=src
{ echo "pg_dump: $CASE_DIR/pg_dump"; cat "$CASE_DIR/config.yaml.body"; } >"$CASE_DIR/config.yaml"
mkdir "$CASE_DIR/dest"
(run_worker -c "$CASE_DIR/config.yaml" backup --output "$CASE_DIR/dest" --json
	echo "$RW_STATUS" >"$CASE_DIR/status") &
NOTTY_PID=$!

# 1. A backup by hand writes the backup series, and every target has the cancelled result.
worker_case_begin backup_series_by_hand
TARGETS=(acceptance test)
create_db "$(target_db acceptance)" app metrics_src
BLOB_DIR=$(target_blob acceptance) old_blobs
make_target_db "$(target_db test)"
BLOB_DIR=$(target_blob test) old_blobs
METRICS=$CASE_DIR/textfile/restore_worker.prom
mkdir -p "$CASE_DIR/textfile" "$CASE_DIR/backups"
write_worker_config "$CASE_DIR/config.yaml"
sed -i "/^    plan_quota: /a\\    keep_previous: true" "$CASE_DIR/config.yaml"
echo "metrics_file: $METRICS" >>"$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" backup --target acceptance --output "$CASE_DIR/backups" --json
assert_exit 0
report_is_one_object
assert_report .status succeeded
cp "$CASE_DIR/out" "$CASE_DIR/backup.json"
ARCHIVE=$(report .archive)
keep_prom first
PROMS+=("$CASE_DIR/first.prom")
assert_eq "backups of acceptance (succeeded rejected failed)" "1 0 0" "$(backups acceptance "$CASE_DIR/first.prom")"
assert_eq "backups of test" "0 0 0" "$(backups test "$CASE_DIR/first.prom")"
read -r SUCCESS DURATION SIZE <<<"$(gauges acceptance "$CASE_DIR/first.prom")"
assert_eq "last backup success (ms) vs the result's finished_at" \
	"$(rfc3339_ms "$(report .finished_at)")" "$(ms "$SUCCESS")"
assert_eq "last backup duration vs the result's timings.total_s" \
	"$(report .timings.total_s | awk '{ printf "%.3f", $1 }')" "$DURATION"
assert_eq "last backup size vs the archive on disk" "$(stat -c %s "$ARCHIVE" 2>/dev/null || echo none)" "$SIZE"
assert_eq "last backup size vs the result's archive_bytes" "$(report .archive_bytes)" "$SIZE"
assert_eq "backup gauges of test (never backed up)" "absent absent absent" "$(gauges test "$CASE_DIR/first.prom")"
assert_eq "restore runs of acceptance, with cancelled" "0 0 0 0 0" "$(runs acceptance "$CASE_DIR/first.prom")"
assert_eq "restore runs of test, with cancelled" "0 0 0 0 0" "$(runs test "$CASE_DIR/first.prom")"
assert_eq "queue length" 0 "$(metric restore_worker_queue_length "$CASE_DIR/first.prom")"
assert_eq "running jobs" 0 "$(metric restore_worker_running_jobs "$CASE_DIR/first.prom")"
assert_eq "metrics.state: backups of acceptance" 1 \
	"$(jq '."acceptance/backup_runs_succeeded"' "$SPOOL/metrics.state" 2>/dev/null || echo none)"
worker_subcase_end

# 2. A failed and a rejected backup count as such; the success's gauges stay.
worker_subcase_begin failed_and_rejected_backups_by_hand
run_worker -c "$CASE_DIR/config.yaml" backup --target acceptance \
	--output "$CASE_DIR/no-such-folder/x.tar.gz" --json
assert_exit 1
assert_report .status failed
sed 's/^\(    plan_quota: .*\)$/\1\n    max_dump_version: "1.13"/' "$CASE_DIR/config.yaml" >"$CASE_DIR/old_max.yaml"
run_worker -c "$CASE_DIR/old_max.yaml" backup --target acceptance --output "$CASE_DIR/backups" --json
assert_exit 1
assert_report .status rejected
keep_prom failed
PROMS+=("$CASE_DIR/failed.prom")
assert_eq "backups of acceptance after a failure and a rejection" "1 1 1" "$(backups acceptance "$CASE_DIR/failed.prom")"
assert_eq "backup gauges of acceptance after them (vs after the success)" \
	"$(gauges acceptance "$CASE_DIR/first.prom")" "$(gauges acceptance "$CASE_DIR/failed.prom")"
assert_eq "archives in the backup folder" 1 "$(find "$CASE_DIR/backups" -type f | wc -l)"
worker_subcase_end

# 3. A restore by hand counts in runs_total; its undo point (keep_previous) is no backup; a
# rehearsal counts nothing.
worker_subcase_begin restore_by_hand_counted
run_worker -c "$CASE_DIR/config.yaml" restore --target test --json "$ARCHIVE"
assert_exit 0
assert_report .status succeeded
RESTORE_FINISHED=$(report .finished_at)
assert_eq "undo points of test" 1 "$(find "$SPOOL/previous/test" -type f 2>/dev/null | wc -l)"
keep_prom restored
PROMS+=("$CASE_DIR/restored.prom")
assert_eq "restore runs of test" "1 0 0 0 0" "$(runs test "$CASE_DIR/restored.prom")"
assert_eq "last run of test (ms) vs the report's finished_at" "$(rfc3339_ms "$RESTORE_FINISHED")" \
	"$(ms "$(metric 'restore_worker_last_run_timestamp_seconds{target="test"}' "$CASE_DIR/restored.prom")")"
assert_eq "backups of test (the undo point is none)" "0 0 0" "$(backups test "$CASE_DIR/restored.prom")"
assert_eq "backups of acceptance" "1 1 1" "$(backups acceptance "$CASE_DIR/restored.prom")"
run_worker -c "$CASE_DIR/config.yaml" restore --target test --dry-run --json "$ARCHIVE"
assert_exit 0
assert_report .dry_run true
keep_prom rehearsed
assert_eq "restore runs of test after a rehearsal" "1 0 0 0 0" "$(runs test "$CASE_DIR/rehearsed.prom")"
worker_subcase_end

# 4. A worker started now reads the counters back from metrics.state.
worker_subcase_begin counters_read_back_by_a_worker
rm -f "$METRICS"
worker_start "$CASE_DIR/config.yaml"
if WAIT_SECONDS=10 WAIT_WHAT="the worker's metrics file" wait_for test -s "$METRICS"; then
	keep_prom worker
	PROMS+=("$CASE_DIR/worker.prom")
	for t in acceptance test; do
		assert_eq "backups of $t, as the worker writes them" "$(backups $t "$CASE_DIR/restored.prom")" \
			"$(backups $t "$CASE_DIR/worker.prom")"
		assert_eq "backup gauges of $t, as the worker writes them" "$(gauges $t "$CASE_DIR/restored.prom")" \
			"$(gauges $t "$CASE_DIR/worker.prom")"
		assert_eq "restore runs of $t, as the worker writes them" "$(runs $t "$CASE_DIR/restored.prom")" \
			"$(runs $t "$CASE_DIR/worker.prom")"
	done
fi
worker_stop "$WORKER_PID"
worker_subcase_end

# 5. metrics.state as the version before wrote it: its counters read, the backup's added.
worker_subcase_begin old_state_file_read
printf '%s' '{"version": 1, "acceptance/runs_succeeded": 5, "acceptance/runs_rejected": 0,
 "acceptance/runs_failed": 2, "acceptance/runs_partial": 1, "acceptance/restored_bytes": 12345,
 "acceptance/last_run": 1714564980.5, "acceptance/last_duration": 3.25,
 "acceptance/last_success": 1714564800.25, "test/runs_succeeded": 0, "test/runs_rejected": 0,
 "test/runs_failed": 0, "test/runs_partial": 0, "test/restored_bytes": 0}' >"$SPOOL/metrics.state"
run_worker -c "$CASE_DIR/config.yaml" backup --target acceptance --db-only --output "$CASE_DIR/backups" --json
assert_exit 0
assert_report .status succeeded
keep_prom old
PROMS+=("$CASE_DIR/old.prom")
grep -q 'metrics.state is unreadable' "$CASE_DIR/err" && fail "the old metrics.state was called unreadable"
assert_eq "restore runs of acceptance from the old file" "5 0 2 1 0" "$(runs acceptance "$CASE_DIR/old.prom")"
assert_eq "restored bytes from the old file" 12345 \
	"$(metric 'restore_worker_restored_bytes_total{target="acceptance"}' "$CASE_DIR/old.prom")"
assert_eq "last run from the old file" 1714564980.500 \
	"$(metric 'restore_worker_last_run_timestamp_seconds{target="acceptance"}' "$CASE_DIR/old.prom")"
assert_eq "last success from the old file" 1714564800.250 \
	"$(metric 'restore_worker_last_success_timestamp_seconds{target="acceptance"}' "$CASE_DIR/old.prom")"
assert_eq "backups of acceptance after the old file" "1 0 0" "$(backups acceptance "$CASE_DIR/old.prom")"
assert_eq "last backup size vs the bare dump on disk" "$(stat -c %s "$(report .archive)" 2>/dev/null || echo none)" \
	"$(metric 'restore_worker_backup_last_size_bytes{target="acceptance"}' "$CASE_DIR/old.prom")"
assert_eq "metrics.state after: acceptance's restore and backup runs" "5 2 1 0 1" \
	"$(jq -r '[."acceptance/runs_succeeded", ."acceptance/runs_failed", ."acceptance/runs_partial",
		."acceptance/runs_cancelled", ."acceptance/backup_runs_succeeded"] | map(tostring) | join(" ")' \
		"$SPOOL/metrics.state" 2>/dev/null || echo none)"
worker_case_end

case_begin promtool_accepts_the_files
if command -v promtool >/dev/null; then
	for f in "${PROMS[@]}"; do
		out=$(promtool check metrics <"$f" 2>&1) || fail "promtool rejects $(basename "$f"): $(echo "$out" | head -n 3 | tr '\n' ' ')"
		[ -z "$out" ] || fail "promtool complains about $(basename "$f"): $(echo "$out" | head -n 3 | tr '\n' ' ')"
	done
	assert_eq "files checked" 5 "${#PROMS[@]}"
	case_end
else
	case_skip promtool_accepts_the_files "promtool is missing (apt-get install prometheus)"
fi

# 6. On a terminal: the live line names each table, then counts the files; it is erased.
case_begin backup_progress_on_a_terminal
old_blobs
make_slow_pg_dump "$CASE_DIR/pg_dump" 0.6
write_config "$CASE_DIR/config.yaml.body" dbname=src
{ echo "pg_dump: $CASE_DIR/pg_dump"; cat "$CASE_DIR/config.yaml.body"; } >"$CASE_DIR/config.yaml"
mkdir "$CASE_DIR/dest"
set +e
script -qfec "'$RESTORE_WORKER' -c '$CASE_DIR/config.yaml' backup --output '$CASE_DIR/dest'" /dev/null \
	>"$CASE_DIR/tty" 2>&1 </dev/null
RW_STATUS=$?
set -e
assert_exit 0
tr '\r' '\n' <"$CASE_DIR/tty" | sed 's/\x1b\[K//g' >"$CASE_DIR/lines"
assert_eq "the tables the live line names (of 3 each)" "$TABLES" \
	"$(sed -n 's/^dump: table [0-9]* of 3 (\(.*\)), .* written; .* elapsed$/\1/p' "$CASE_DIR/lines" | sort -u | tr '\n' ' ' | sed 's/ $//')"
assert_eq "the table numbers the live line shows" "1 2 3" \
	"$(sed -n 's/^dump: table \([0-9]*\) of 3 .*/\1/p' "$CASE_DIR/lines" | sort -u | tr '\n' ' ' | sed 's/ $//')"
FILE_BYTES=$(find "$BLOB_DIR" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }')
grep -q "^files: 3 of 3 files, $FILE_BYTES B of $FILE_BYTES B (100%); .* elapsed\$" "$CASE_DIR/lines" ||
	fail "no live line with the 3 files archived: $(grep '^files: ' "$CASE_DIR/lines" | tail -n 1)"
grep -q $'\r\e\[Kdump: table ' "$CASE_DIR/tty" || fail "no live line redrawn in place"
grep -q 'backup written: ' "$CASE_DIR/tty" || fail "the outcome line is missing"
if tr -d '\r' <"$CASE_DIR/tty" | sed 's/\x1b\[K/\n/g' | grep -q 'elapsed.*restore-worker: '; then
	fail "a log line was written after a live line that was not erased"
fi
[ "$(tail -c 1 "$CASE_DIR/tty" | od -An -c | tr -d ' ')" = '\n' ] || fail "the output does not end on a clean line"
case_end

# 7. Without a terminal: a line every 10 s naming a real table; stdout is the JSON alone.
case_begin backup_progress_without_a_terminal
wait "$NOTTY_PID" || true
RW_STATUS=$(cat "$CASE_DIR/status" 2>/dev/null || echo "none (the background backup left no status)")
assert_exit 0
report_is_one_object
assert_report .status succeeded
grep -q $'\r' "$CASE_DIR/err" && fail "stderr holds a carriage return without a terminal"
LINE=$(grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z restore-worker: dump: table [0-9]+ of 3 \(.*\), .* written; 0:1[0-9] elapsed$' \
	"$CASE_DIR/err" | head -n 1)
if [ -z "$LINE" ]; then
	fail "no progress line in the log of a backup that took over 10 s"
else
	NAMED=$(echo "$LINE" | sed 's/.* of 3 (\(.*\)), .*/\1/')
	case " $TABLES " in *" $NAMED "*) ;; *) fail "the progress line names '$NAMED', not a table of the database" ;; esac
fi
case_end

finish
