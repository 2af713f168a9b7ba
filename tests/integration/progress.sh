#!/usr/bin/env bash
# progress.sh - a running restore shows how far it got.
#
# pg_restore's script is slowed to about 1 MiB/s by a stand-in, so that a restore of a dump of
# some 12 MiB takes over 10 seconds:
#  - the worker: while the job runs, `status --json` shows it running with a progress object
#    whose phase is database and whose database_bytes grow, archive_size the archive's size;
#    progress.json is in the job's folder while it runs and gone once the job is filed;
#    `status` (text) shows the phase with a percentage;
#  - restore on a terminal (under script(1)): the live line is redrawn with \r and erased
#    (\r ESC [K) before every other line and at the end, so the output ends on a clean line;
#  - restore with strategy swap on a terminal: the live line counts the TOC entries done, of
#    the dump's entries as inspect counts them;
#  - restore without a terminal: no carriage return at all, and a progress line every 10 s.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

command -v script >/dev/null || { echo "ok - progress # SKIP script(1) is missing"; exit 77; }

make_source_db big
sql_as_app big "create table \"shop\$bulk\" (id bigint primary key, payload text);
	insert into \"shop\$bulk\" select i, repeat(md5(i::text), 3) from generate_series(1, 110000) i" >/dev/null
A=$TEST_ROOT/archives
mkdir -p "$A"
make_snapshot "$A/big.tar.gz" big 3
snapshot_db_state big >"$TEST_ROOT/big.state"

# The stand-in: pg_restore's script (--file=-) comes out at about 1 MiB/s; every other use
# of pg_restore (--list, --version) is the real one.
SLOW=$TEST_ROOT/pg_restore_slow
cat >"$SLOW" <<EOF
#!/usr/bin/env bash
case " \$* " in *" --file=- "*) ;; *) exec "$PGBIN/pg_restore" "\$@" ;; esac
"$PGBIN/pg_restore" "\$@" | while :; do
	dd bs=256k count=1 iflag=fullblock status=none >"$TEST_ROOT/chunk.\$\$" || exit 1
	[ -s "$TEST_ROOT/chunk.\$\$" ] || break
	cat "$TEST_ROOT/chunk.\$\$"
	sleep 0.25
done
rm -f "$TEST_ROOT/chunk.\$\$"
exit "\${PIPESTATUS[0]}"
EOF
chmod 755 "$SLOW"

# collect_progress: poll status --json until the job is filed; write each running job's
# progress object, one a line, to $1.
collect_progress() {
	local polls=0
	: >"$1"
	while [ "$polls" -lt 300 ]; do
		"$RESTORE_WORKER" -c "$CASE_DIR/config.yaml" status --json 2>/dev/null |
			jq -c '.active[] | select(.running) | .progress // empty' >>"$1" || true
		if [ "$(count_reports)" -ge 1 ]; then
			return 0
		fi
		sleep 0.5
		polls=$((polls + 1))
	done
}

worker_case_begin worker_status_shows_growing_progress
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml" "pg_restore=$SLOW"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready
drop_file "$A/big.tar.gz"
# The text form, once the job is in its database phase.
WAIT_WHAT="status showing the database phase" wait_for bash -c \
	"'$RESTORE_WORKER' -c '$CASE_DIR/config.yaml' status | grep -q '^running .*: database [0-9]*%'"
JOB_DIR=$(find "$SPOOL/active" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -n "$JOB_DIR" ] && [ -s "$JOB_DIR/progress.json" ] || fail "no progress.json in the running job's folder"
collect_progress "$CASE_DIR/progress.lines"
wait_reports 1
load_report big.tar.gz done "$A/big.tar.gz"
assert_report .status succeeded
DB_BYTES=$(jq -r 'select(.phase == "database") | .database_bytes' "$CASE_DIR/progress.lines" | awk '!seen[$0]++')
DISTINCT=$(echo "$DB_BYTES" | grep -c . || true)
[ "$DISTINCT" -ge 3 ] || fail "status --json showed $DISTINCT distinct database_bytes values (want 3 or more)"
SORTED=$(echo "$DB_BYTES" | sort -n)
assert_eq "database_bytes in the order seen (vs sorted)" "$SORTED" "$DB_BYTES"
SIZE=$(stat -c %s "$A/big.tar.gz")
assert_eq "archive_size" "$SIZE" "$(jq -r .archive_size "$CASE_DIR/progress.lines" | sort -u | tail -n 1)"
[ "$(jq -s 'any(.[]; .database_size > 0 and .database_bytes <= .database_size)' "$CASE_DIR/progress.lines")" = true ] ||
	fail "no progress object with database_bytes within database_size"
[ "$(jq -s 'any(.[]; .eta_s != null and .eta_s >= 0)' "$CASE_DIR/progress.lines")" = true ] ||
	fail "no progress object with an estimate of the time left"
DONE_DIR=$(find "$SPOOL/done" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ ! -e "$DONE_DIR/progress.json" ] || fail "progress.json is still in the finished job's folder"
snapshot_db_state "$(target_db acceptance)" >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/big.state" "$CASE_DIR/after.db"
worker_case_end

# restore_without_a_terminal's restore (over 10 s of a stand-in that mostly sleeps) runs in the
# background beside the two cases on a terminal; its case checks it after them.
case_begin restore_without_a_terminal
make_target_db target3
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=target3
sed -i "s|^pg_restore: .*|pg_restore: $SLOW|" "$CASE_DIR/config.yaml"
(run_worker -c "$CASE_DIR/config.yaml" restore "$A/big.tar.gz"; echo "$RW_STATUS" >"$CASE_DIR/status") &
NOTTY_PID=$!

case_begin restore_on_a_terminal
make_target_db target2
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=target2
sed -i "s|^pg_restore: .*|pg_restore: $SLOW|" "$CASE_DIR/config.yaml"
set +e
script -qfec "'$RESTORE_WORKER' -c '$CASE_DIR/config.yaml' restore '$A/big.tar.gz'" /dev/null \
	>"$CASE_DIR/tty" 2>&1 </dev/null
RW_STATUS=$?
set -e
assert_exit 0
grep -q $'\r\e\[Kdatabase: ' "$CASE_DIR/tty" || fail "no live database line redrawn in place"
grep -q 'succeeded' "$CASE_DIR/tty" || fail "the outcome line is missing"
# Every live line is erased before the next line of the log begins: no line holds both.
if tr -d '\r' <"$CASE_DIR/tty" | sed 's/\x1b\[K/\n/g' | grep -q 'elapsed.*restore-worker: '; then
	fail "a log line was written after a live line that was not erased"
fi
[ "$(tail -c 1 "$CASE_DIR/tty" | od -An -c | tr -d ' ')" = '\n' ] ||
	fail "the output does not end on a clean line"
LAST=$(tr '\r' '\n' <"$CASE_DIR/tty" | sed 's/\x1b\[K//g' | grep -v '^$' | tail -n 1)
case $LAST in *elapsed*) fail "the last line is a progress line: $LAST" ;; esac
case_end

# strategy swap: the live line counts the TOC entries pg_restore --jobs has finished.
case_begin swap_on_a_terminal_counts_entries
sql postgres "alter role app createdb"
make_target_db target4
old_blobs
write_config "$CASE_DIR/config.yaml" dbname=target4 strategy=swap restore_jobs=2
set +e
script -qfec "'$RESTORE_WORKER' -c '$CASE_DIR/config.yaml' restore '$A/big.tar.gz'" /dev/null \
	>"$CASE_DIR/tty" 2>&1 </dev/null
RW_STATUS=$?
set -e
sql postgres "alter role app nocreatedb"
assert_exit 0
ENTRIES=$(tr '\r' '\n' <"$CASE_DIR/tty" | sed 's/\x1b\[K//g' |
	sed -n 's/^database: \([0-9]*\) of \([0-9]*\) entries.*/\1 \2/p' | sort -n -u)
[ -n "$ENTRIES" ] || fail "no live line counting entries"
TOTAL=$("$RESTORE_WORKER" inspect --json "$A/big.tar.gz" | jq -r .dump.toc_entries)
echo "$ENTRIES" | awk -v total="$TOTAL" '$2 != total || $1 > total { bad = 1 } END { exit bad }' ||
	fail "entries counted against another total than the dump's $TOTAL TOC entries: $(echo "$ENTRIES" | tail -n 1)"
snapshot_db_state target4 >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/big.state" "$CASE_DIR/after.db"
case_end

case_begin restore_without_a_terminal
wait "$NOTTY_PID" || true
RW_STATUS=$(cat "$CASE_DIR/status" 2>/dev/null || echo "none (the background restore left no status)")
assert_exit 0
if grep -q $'\r' "$CASE_DIR/err"; then
	fail "stderr holds a carriage return without a terminal"
fi
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z restore-worker: database: .* elapsed' "$CASE_DIR/err" ||
	fail "no progress line in the log of a restore that took over 10 s"
case_end

finish
