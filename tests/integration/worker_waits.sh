#!/usr/bin/env bash
# worker_waits.sh - no job waits in silence, and `status` reads as an operator reads it.
#
# The worker runs as an unprivileged user (nobody, when the test runs as root) and the operator
# as root, as the shipped unit and a shell on the host have it:
#  - `status` creates nothing in a spool (fresh or missing) and says when it is empty; an
#    unknown JOB_ID exits 1 naming it;
#  - root's `submit` and `restore` leave the spool's folders, the job file and the target's
#    lock to the spool's owner: the worker then restores both jobs (database and files), the
#    submitted one under the id submit printed; another user's file that the spool's owner
#    hard-linked in as a lock is not given to it by root's restore; root's submit of an archive the worker's user
#    cannot read is refused at once, leaving nothing in the spool;
#  - a spool folder the worker cannot write makes `run` exit 2 at start, naming the folder and
#    its owner;
#  - a folder or lock that becomes unusable while the worker runs: the job waits, status
#    --json gives the reason, and the job runs as soon as the folder or lock is usable again;
#  - a symbolic link, a FIFO and a hard link made in place in incoming/ are refused with a
#    report in failed/ at once (the hard link after the settle time), without a restart; a
#    hard link whose other name goes within the settle time (maildir style) is restored;
#  - status lists jobs oldest first, by their archive (not their job file), with a job file's
#    own target, a rehearsal marked as one; status JOB_ID shows that job alone.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive

# Who the worker runs as: nobody when we are root (the spool then belongs to nobody).
AS_ROOT=0
WORKER_AS=()
if [ "$(id -u)" -eq 0 ]; then
	AS_ROOT=1
	WORKER_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi

# give_to_worker: the case's spool, work_dir and blob folders belong to the worker's user.
give_to_worker() {
	chmod 755 "$CASE_DIR"
	if [ "$AS_ROOT" = 1 ]; then
		chown -R nobody: "$SPOOL" "$WORK_DIR" "$BLOB_PARENT"
	fi
}

# worker_start_as: start `run` with config $1 as the worker's user (WORKER_PID, WORKER_PIDS).
worker_start_as() {
	"${WORKER_AS[@]}" "$RESTORE_WORKER" -c "$1" run >>"$WORKER_LOG" 2>&1 &
	WORKER_PID=$!
	WORKER_PIDS+=("$WORKER_PID")
}

# spool_status: `status --json` as the operator into $CASE_DIR/out.
spool_status() {
	run_worker -c "$CASE_DIR/config.yaml" status --json "$@"
}

# queued_reason: true once status --json says why queued file $1 waits and the reason holds $2.
queued_reason() {
	spool_status
	jq -e --arg n "$1" --arg r "$2" \
		'.queued | map(select(.name == $n and (.waiting // "" | contains($r)))) | length == 1' \
		"$CASE_DIR/out" >/dev/null 2>&1
}

# report_of: print the report.json of the job whose source is $1, in done/ or failed/.
report_of() {
	local f
	for f in $(report_files); do
		if [ "$(jq -r .source "$f")" = "$1" ]; then
			echo "$f"
		fi
	done
}

# has_report: true once the job whose source is $1 has its report.
has_report() {
	[ -n "$(report_of "$1")" ]
}

# 1. status reads a spool without creating anything in it, and says when it is empty.
worker_case_begin status_of_a_fresh_spool
TARGETS=(acceptance) # status needs no database
write_worker_config "$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" status
assert_exit 0
assert_eq "what status printed on an empty spool" \
	"the spool $SPOOL is empty: no job queued, active, done or failed" "$(cat "$CASE_DIR/out")"
assert_eq "what status created in the spool" "" "$(ls -A "$SPOOL")"
spool_status
assert_exit 0
assert_report '[.queued, .active, .done, .failed] | map(length) | join(" ")' "0 0 0 0"
run_worker -c "$CASE_DIR/config.yaml" status 0b3d7c4e-0000-4000-8000-000000000000
assert_exit 1
grep -q "no job 0b3d7c4e-0000-4000-8000-000000000000 in $SPOOL" "$CASE_DIR/err" ||
	fail "status JOB_ID of an unknown job does not say so: $(cat "$CASE_DIR/err")"
rm -rf "$SPOOL"
run_worker -c "$CASE_DIR/config.yaml" status
assert_exit 0
[ ! -e "$SPOOL" ] || fail "status created the missing spool_dir $SPOOL"
case_end

# 2. A spool folder the worker cannot write: run exits 2 at start, naming it and its owner.
worker_case_begin unusable_folder_refused_at_start
TARGETS=(acceptance) # refused before any database is used
write_worker_config "$CASE_DIR/config.yaml"
mkdir -p "$SPOOL/incoming"
give_to_worker
if [ "$AS_ROOT" = 1 ]; then
	chown root: "$SPOOL/incoming"
	OWNER=root
else
	chmod 555 "$SPOOL/incoming"
	OWNER=$(id -un)
fi
worker_start_as "$CASE_DIR/config.yaml"
STATUS=0
if wait_gone "$WORKER_PID"; then
	wait "$WORKER_PID" || STATUS=$?
	forget_worker "$WORKER_PID"
	assert_eq "run's exit status with an unwritable incoming/" 2 "$STATUS"
	grep -q "$SPOOL/incoming is owned by $OWNER:" "$WORKER_LOG" ||
		fail "run does not name $SPOOL/incoming and its owner $OWNER: $(tail -n 3 "$WORKER_LOG")"
else
	fail "run went on with an unwritable $SPOOL/incoming"
fi
chmod 755 "$SPOOL/incoming"
worker_case_end

# 3. One worker, as the service runs it, for the rest. Root's status, submit and restore leave
# the worker a spool it can use: it restores the submitted job (under the id submit printed)
# and the job of the target root restored by hand.
worker_case_begin operator_as_root
worker_targets acceptance rw2
write_worker_config "$CASE_DIR/config.yaml"
give_to_worker
if [ "$AS_ROOT" = 0 ]; then
	case_skip operator_as_root "needs root (the operator as root, the worker as nobody)"
	CASE_ERRORS=()
	worker_start_as "$CASE_DIR/config.yaml"
	wait_spool_ready
else
	run_worker -c "$CASE_DIR/config.yaml" status
	assert_exit 0
	assert_eq "what root's status created in the spool" "" "$(ls -A "$SPOOL")"
	# An archive only root can read: submit refuses it now, not the worker later.
	mkdir -m 700 "$CASE_DIR/root-only"
	cp "$GOOD" "$CASE_DIR/root-only/"
	run_worker -c "$CASE_DIR/config.yaml" submit --target rw2 "$CASE_DIR/root-only/$(basename "$GOOD")"
	assert_exit 1
	grep -q "nobody" "$CASE_DIR/err" || fail "the refusal does not name the worker's user: $(cat "$CASE_DIR/err")"
	assert_eq "what the refused submit left in the spool" "" "$(ls -A "$SPOOL")"
	run_worker -c "$CASE_DIR/config.yaml" submit --target rw2 "$GOOD"
	assert_exit 0
	JOB=$(head -n 1 "$CASE_DIR/out")
	SUBMIT_ID=$(sed -n 's/.*queued job \([0-9a-f-]*\) .*/\1/p' "$CASE_DIR/err")
	[ -n "$SUBMIT_ID" ] || fail "submit printed no job id: $(cat "$CASE_DIR/err")"
	# A manual restore by root takes (and leaves) locks/acceptance.lock.
	run_worker -c "$CASE_DIR/config.yaml" restore --db-only --target acceptance "$GOOD"
	assert_exit 0
	for f in "$SPOOL"/* "$JOB" "$SPOOL/locks/acceptance.lock"; do
		assert_eq "the owner of $f (root's submit, restore)" nobody "$(stat -c %U "$f")"
	done
	# The spool's owner links another user's file in as a lock: root's restore must not give
	# it away (only what root made itself is handed to the spool's owner).
	install -o daemon -g daemon -m 0666 /dev/null "$CASE_DIR/daemons-file"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		ln "$CASE_DIR/daemons-file" "$SPOOL/locks/rw2.lock"
	run_worker -c "$CASE_DIR/config.yaml" restore --db-only --target rw2 "$GOOD"
	assert_exit 0
	assert_eq "the owner of daemon's file linked in as a lock" daemon:daemon \
		"$(stat -c %U:%G "$CASE_DIR/daemons-file")"
	rm "$SPOOL/locks/rw2.lock"
	# Dropped by a producer of the worker's own (root's mkdir -p would block it, rightly).
	mkdir "$SPOOL/incoming/acceptance"
	chown nobody: "$SPOOL/incoming/acceptance"
	drop_file "$GOOD" acceptance
	worker_start_as "$CASE_DIR/config.yaml"
	WAIT_SECONDS=20 wait_reports 2 || true
	assert_report_count 2
	load_report good.tar.gz done "$GOOD"
	assert_report .status succeeded
	assert_report .target acceptance
	assert_target_restored acceptance
	load_report "$(basename "$JOB")" done
	assert_report .status succeeded
	assert_report .target rw2
	assert_report .job_id "$SUBMIT_ID"
	assert_target_restored rw2
	worker_subcase_end
fi
# The same worker: what waits says why, and runs once the cause is gone; links and FIFOs made
# in place are refused at once; status reads as the operator reads it.
# block: make $1 unusable for the worker (root's, or read-only when we are not root).
block() {
	if [ "$AS_ROOT" = 1 ]; then
		chown root: "$1" || fail "$1 is missing"
	else
		chmod a-w "$1" || fail "$1 is missing"
	fi
}

# unblock: give $1 back to the worker.
unblock() {
	if [ "$AS_ROOT" = 1 ]; then
		chown nobody: "$1" || true
	else
		chmod u+w "$1" || true
	fi
}

worker_subcase_begin folder_that_became_unusable
block "$SPOOL/incoming/rw2"
drop_job late.yaml rw2 "archive: $GOOD\ndb_only: true\n"
WAIT_SECONDS=10 WAIT_WHAT="status --json giving why late.yaml waits" \
	wait_for queued_reason late.yaml "$SPOOL/incoming/rw2" || true
unblock "$SPOOL/incoming/rw2"
WAIT_SECONDS=20 WAIT_WHAT="late.yaml's report" wait_for has_report late.yaml || true
REPORT=$(report_of late.yaml)
[ -n "$REPORT" ] && assert_eq "late.yaml's job once its folder is usable" succeeded "$(jq -r .status "$REPORT")"
worker_subcase_end

worker_subcase_begin lock_left_unusable
block "$SPOOL/locks/rw2.lock"
drop_job locked.yaml rw2 "archive: $GOOD\ndb_only: true\n"
WAIT_SECONDS=10 WAIT_WHAT="status --json giving why locked.yaml waits" \
	wait_for queued_reason locked.yaml "locks/rw2.lock" || true
unblock "$SPOOL/locks/rw2.lock"
WAIT_SECONDS=20 WAIT_WHAT="locked.yaml's report" wait_for has_report locked.yaml || true
REPORT=$(report_of locked.yaml)
[ -n "$REPORT" ] && assert_eq "locked.yaml's job once its lock is usable" "succeeded restored" \
	"$(jq -r '"\(.status) \(.database.status)"' "$REPORT")"
worker_subcase_end

worker_subcase_begin links_made_in_place_refused_at_once
cp "$GOOD" "$CASE_DIR/hard.src"
ln -s "$GOOD" "$SPOOL/incoming/symlink.tar.gz"
mkfifo "$SPOOL/incoming/fifo.tar.gz"
ln "$CASE_DIR/hard.src" "$SPOOL/incoming/hardlink.tar.gz"
# Maildir style: linked in, then its other name removed, within the settle time: restored.
cp "$GOOD" "$SPOOL/tmp/maildir.src"
ln "$SPOOL/tmp/maildir.src" "$SPOOL/incoming/maildir.tar.gz"
rm "$SPOOL/tmp/maildir.src"
# The same while the worker is stopped: it reads the link's creation after the other name went.
kill -STOP "$WORKER_PID"
cp "$GOOD" "$SPOOL/tmp/late.src"
ln "$SPOOL/tmp/late.src" "$SPOOL/incoming/maildir-late.tar.gz"
rm "$SPOOL/tmp/late.src"
kill -CONT "$WORKER_PID"
for name in symlink.tar.gz fifo.tar.gz hardlink.tar.gz maildir.tar.gz maildir-late.tar.gz; do
	WAIT_SECONDS=20 WAIT_WHAT="$name's report" wait_for has_report "$name" || true
done
for row in "symlink.tar.gz|a symbolic link" "fifo.tar.gz|a FIFO" "hardlink.tar.gz|has another hard link"; do
	IFS='|' read -r name what <<<"$row"
	REPORT=$(report_of "$name")
	if [ -z "$REPORT" ]; then
		continue
	fi
	assert_eq "the folder of $name's report" failed "$(basename "$(dirname "$(dirname "$REPORT")")")"
	[ -e "$(dirname "$REPORT")/$name" ] || [ -L "$(dirname "$REPORT")/$name" ] ||
		fail "$name is not beside its report"
	assert_eq "$name's status, and whether its error says it is $what" "rejected true" \
		"$(jq -r --arg w "$what" '"\(.status) \(.error | contains($w))"' "$REPORT")"
done
for name in maildir.tar.gz maildir-late.tar.gz; do
	REPORT=$(report_of "$name")
	[ -n "$REPORT" ] && assert_eq "$name, linked in then unlinked from tmp/" succeeded \
		"$(jq -r .status "$REPORT")"
done
worker_subcase_end

worker_subcase_begin status_as_an_operator_reads_it
worker_stop "$WORKER_PID"
# Queued while no worker runs: a job file naming its own target, a rehearsal by submit.
drop_job own_target.yaml "" "archive: $GOOD\ntarget: rw2\n"
run_worker -c "$CASE_DIR/config.yaml" submit --dry-run "$GOOD"
SUBMIT_ID=$(sed -n 's/.*queued job \([0-9a-f-]*\) .*/\1/p' "$CASE_DIR/err")
spool_status
assert_exit 0
assert_report '.queued | map("\(.name) \(.archive) \(.target) \(.dry_run)") | join(",")' \
	"own_target.yaml $GOOD rw2 false,submit-$SUBMIT_ID.yaml $GOOD acceptance true"
assert_report ".queued[1].job_id" "$SUBMIT_ID"
assert_report '.failed | map(.archive) | sort | join(",")' "fifo.tar.gz,hardlink.tar.gz,symlink.tar.gz"
assert_report_true "(.done | map(select(.source | endswith(\".yaml\"))) | map(.archive == \"$GOOD\") | all)" \
	"done lists each job file's archive"
LINES=$(jq '[.queued, .active, .done, .failed] | map(length) | add' "$CASE_DIR/out")
for state in queued done failed; do
	assert_report_true "(.$state | map(.time) | . == sort)" "$state listed oldest first"
done
run_worker -c "$CASE_DIR/config.yaml" status
assert_exit 0
assert_eq "status lines" "$LINES" "$(wc -l <"$CASE_DIR/out")"
cut -c11-29 "$CASE_DIR/out" >"$CASE_DIR/times"
sort "$CASE_DIR/times" | cmp -s - "$CASE_DIR/times" || fail "status' lines are not oldest first: $(cat "$CASE_DIR/out")"
grep -q "^queued .* own_target.yaml\|^queued .* $SUBMIT_ID good.tar.gz -> acceptance \[rehearsal\]" "$CASE_DIR/out" ||
	fail "status does not show the submitted rehearsal by its id and archive: $(cat "$CASE_DIR/out")"
grep -q "^queued .* - *good.tar.gz -> rw2$" "$CASE_DIR/out" ||
	fail "status does not show own_target.yaml's archive and target rw2: $(cat "$CASE_DIR/out")"
run_worker -c "$CASE_DIR/config.yaml" status "$SUBMIT_ID"
assert_exit 0
assert_eq "status JOB_ID's lines" 1 "$(wc -l <"$CASE_DIR/out")"
grep -q "^queued .* $SUBMIT_ID good.tar.gz -> acceptance \[rehearsal\]" "$CASE_DIR/out" ||
	fail "status JOB_ID does not show the job: $(cat "$CASE_DIR/out")"
spool_status "$SUBMIT_ID"
assert_exit 0
assert_report '"\(.state) \(.job_id) \(.dry_run)"' "queued $SUBMIT_ID true"
worker_case_end

finish
