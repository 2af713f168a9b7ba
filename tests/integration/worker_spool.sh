#!/usr/bin/env bash
# worker_spool.sh - the daemon takes what is dropped into its spool and restores it.
#
# A real worker (`restore-worker run`) against a real cluster: archives (snapshots, a bare dump)
# renamed into incoming/ go to the default target, archives in incoming/<target>/ to that target;
# job files name an archive (absolutely or relative to their folder), a target (which wins over
# the folder) and db_only, and the archive stays where it is; names repeat or hold spaces; a file
# copied in place slowly is taken only once complete; what was dropped while no worker ran is
# done at start; SIGINT stops the worker, SIGHUP reloads its configuration; old job folders go
# after retention_days; `submit` queues a job and `status --json` lists it. Each case checks the
# report in done/<job-id>/ beside the dropped file, and the targets' databases and blob folders
# against the source.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive
GOOD_SHA=$(sha256sum <"$GOOD")

# check_succeeded: the current report is a success of target $1, db_only $2, for an archive of
# kind $3.
check_succeeded() {
	assert_report .status succeeded
	assert_report 'has("error")' false
	assert_report .target "$1"
	assert_report .db_only "$2"
	assert_report .archive_kind "$3"
}

# check_good_untouched: the archive job files name is still where it was, unchanged.
check_good_untouched() {
	assert_eq "the archive a job file named ($GOOD)" "$GOOD_SHA" "$(sha256sum <"$GOOD" 2>/dev/null || echo missing)"
}

# 1. An archive renamed into incoming/ (via tmp/) is restored into the default target.
worker_case_begin archive_renamed_into_incoming
worker_targets acceptance test
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_file "$GOOD" "" files_and_database-fc9e126f-201811210121.tar.gz
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report files_and_database-fc9e126f-201811210121.tar.gz "done" "$GOOD"
check_succeeded acceptance false full_snapshot
assert_report .files.count 3
assert_target_restored acceptance
assert_target_unchanged test
assert_no_leftovers
assert_eq "incoming/ after the job" "acceptance test" "$(find "$SPOOL/incoming" -mindepth 1 -maxdepth 1 -printf '%P\n' 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
assert_eq "active/ after the job" "" "$(active_jobs)"
worker_case_end

# 2. An archive in incoming/<target>/ goes to that target; the default target is untouched.
worker_case_begin archive_in_target_folder
worker_targets acceptance test
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_file "$GOOD" test for-test.tar.gz
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report for-test.tar.gz "done" "$GOOD"
check_succeeded test false full_snapshot
assert_target_restored test
assert_target_unchanged acceptance
assert_no_leftovers
worker_case_end

# 2b. A bare custom-format dump (a database-only backup) dropped into incoming/: the database
# is restored, the blob folder left alone.
worker_case_begin bare_dump_dropped
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_file "$GOOD.d/db/db.backup" "" database-fc9e126f-201811210121.backup
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report database-fc9e126f-201811210121.backup "done" "$GOOD.d/db/db.backup"
check_succeeded acceptance false database_only
assert_report .files.status skipped
assert_target_restored acceptance db_only
assert_no_leftovers
worker_case_end

# 3. A job file with db_only: true naming the archive by its absolute path: the database is
# restored, the blob folder left alone, and the archive stays where it is.
worker_case_begin job_file_db_only
worker_targets acceptance test
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_job restore-db-only.yaml "" "archive: $GOOD\ndb_only: true\n"
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report restore-db-only.yaml "done" "$CASE_DIR/jobs/restore-db-only.yaml"
check_succeeded acceptance true full_snapshot
assert_report .files.status skipped
assert_target_restored acceptance db_only
assert_target_unchanged test
check_good_untouched
assert_no_leftovers
worker_case_end

# 3b. A job file dropped into incoming/test/ without a target key, naming its archive relative to
# that folder: the archive is found from where the job file was dropped, not from where the worker
# moved it, and the job goes to target test.
worker_case_begin job_file_relative_archive_in_target_folder
worker_targets acceptance test
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_job relative.yml test "archive: $(realpath -m --relative-to="$SPOOL/incoming/test" "$GOOD")\n"
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report relative.yml "done" "$CASE_DIR/jobs/relative.yml"
check_succeeded test false full_snapshot
assert_target_restored test
assert_target_unchanged acceptance
check_good_untouched
assert_no_leftovers
worker_case_end

# 3c. A job file's target key wins over the incoming/<target>/ folder it was dropped in.
worker_case_begin job_file_target_key_overrides_folder
worker_targets acceptance test third
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_job to-third.yaml test "archive: $GOOD\ntarget: third\n"
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report to-third.yaml "done" "$CASE_DIR/jobs/to-third.yaml"
check_succeeded third false full_snapshot
assert_target_restored third
assert_target_unchanged test
assert_target_unchanged acceptance
assert_no_leftovers
worker_case_end

# 3d. The same name dropped twice, one after the other, and a name with spaces and non-ASCII
# letters: three jobs, three job ids, all done.
worker_case_begin same_name_twice_and_unusual_names
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
ODD_NAME="backup 2018-11-21 (copie d'été).tar.gz"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_file "$GOOD" "" same.tar.gz
	wait_reports 1 || true
	drop_file "$GOOD" "" same.tar.gz
	wait_reports 2 || true
	drop_file "$GOOD" "" "$ODD_NAME"
	wait_reports 3 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 3
assert_eq "job ids" 3 "$(report_files | xargs -r jq -r .job_id | sort -u | wc -l)"
assert_eq "reports of same.tar.gz in done/, succeeded" 2 \
	"$(report_files | xargs -r jq -r 'select(.source == "same.tar.gz" and .status == "succeeded") | .job_id' | wc -l)"
for f in $(report_files); do
	[ -f "$(dirname "$f")/$(jq -r .source "$f")" ] || fail "$(dirname "$f") lacks the dropped file"
done
load_report "$ODD_NAME" "done" "$GOOD"
check_succeeded acceptance false full_snapshot
assert_target_restored acceptance
assert_no_leftovers
worker_case_end

# SIGINT stops an idle worker as SIGTERM does: exit status 0 within seconds.
worker_case_begin sigint_stops_worker
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
wait_spool_ready || true
worker_stop "$WORKER_PID" INT
worker_case_end

# SIGHUP reloads the configuration: a target added is served (its incoming/<target>/ made); a
# broken configuration is refused and the old one kept, and the worker goes on.
worker_case_begin sighup_reloads_configuration
worker_targets acceptance test
TARGETS=(acceptance)
write_worker_config "$CASE_DIR/config.yaml"
TARGETS=(acceptance test)
worker_start "$CASE_DIR/config.yaml"
if WAIT_SECONDS=10 WAIT_WHAT="the worker making incoming/acceptance/" wait_for test -d "$SPOOL/incoming/acceptance"; then
	write_worker_config "$CASE_DIR/config.yaml"
	kill -HUP "$WORKER_PID"
	if wait_spool_ready; then
		drop_file "$GOOD" test after-reload.tar.gz
		wait_reports 1 || true
	fi
	printf 'targets: [unclosed\n' >"$CASE_DIR/config.yaml"
	kill -HUP "$WORKER_PID"
	sleep 1
	pid_running "$WORKER_PID" || fail "the worker stopped on a broken configuration at SIGHUP"
	drop_file "$GOOD" test after-bad-reload.tar.gz
	wait_reports 2 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 2
load_report after-reload.tar.gz "done" "$GOOD"
check_succeeded test false full_snapshot
load_report after-bad-reload.tar.gz "done" "$GOOD"
check_succeeded test false full_snapshot
assert_target_restored test
assert_target_unchanged acceptance
assert_no_leftovers
worker_case_end

# age_job: make the finished job folder of source $1 look 40 days old (its report's times and
# the modification times of the folder and what it holds); print the folder.
age_job() {
	local f dir old
	old=$(date -u -d '-40 days' +%Y-%m-%dT%H:%M:%S.000Z)
	for f in $(report_files); do
		[ "$(jq -r .source "$f")" = "$1" ] || continue
		dir=$(dirname "$f")
		jq -c --arg t "$old" '.started_at = $t | .finished_at = $t' "$f" >"$f.new"
		mv "$f.new" "$f"
		touch -h -d '-40 days' "$dir"/* "$dir"
		echo "$dir"
	done
}

# retention_days: finished job folders older than it are removed (from done/ and failed/) at a
# later scan; recent ones stay; retention_days 0 keeps everything.
worker_case_begin retention_removes_old_job_folders
worker_targets acceptance
write_worker_config "$CASE_DIR/keep.yaml" retention_days=0
write_worker_config "$CASE_DIR/prune.yaml" retention_days=30
worker_start "$CASE_DIR/keep.yaml"
if wait_spool_ready; then
	drop_file "$GOOD" "" old.tar.gz
	drop_job old-bad.yaml "" "archive: $A/does-not-exist.tar.gz\n"
	drop_file "$GOOD" "" recent.tar.gz
	wait_reports 3 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 3
OLD_DIRS="$(age_job old.tar.gz) $(age_job old-bad.yaml)"
worker_start "$CASE_DIR/keep.yaml"
sleep 3.5 # a rescan with retention_days 0
worker_stop "$WORKER_PID"
assert_report_count 3
worker_start "$CASE_DIR/prune.yaml"
# shellcheck disable=SC2016,SC2086 # the inner script expands "$d" itself; OLD_DIRS is a list of folders without spaces
WAIT_SECONDS=15 WAIT_WHAT="the job folders 40 days old being removed" \
	wait_for bash -c 'for d; do [ ! -e "$d" ] || exit 1; done' - $OLD_DIRS || true
sleep 0.5
worker_stop "$WORKER_PID"
assert_report_count 1
load_report recent.tar.gz "done" "$GOOD"
assert_report .status succeeded
worker_case_end

# 4. An archive copied in place slowly, in eight appends 0.4 s apart (less than settle_seconds),
# is taken only once complete: restored whole, never refused as truncated.
worker_case_begin slow_copy_in_place
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
mkdir -p "$CASE_DIR/chunks"
split -n 8 "$GOOD" "$CASE_DIR/chunks/part-"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	for chunk in "$CASE_DIR"/chunks/part-*; do
		cat "$chunk" >>"$SPOOL/incoming/slow.tar.gz"
		sleep 0.4
	done
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report slow.tar.gz "done" "$GOOD"
check_succeeded acceptance false full_snapshot
assert_target_restored acceptance
assert_no_leftovers
worker_case_end

# 4b. An archive copied in place by a writer that keeps it open and pauses half-way for 3 s
# (longer than settle_seconds, as a stalled network copy does): still restored whole.
worker_case_begin copy_paused_while_open
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
HALF=$(($(stat -c %s "$GOOD") / 2))
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	exec 3>"$SPOOL/incoming/paused.tar.gz"
	head -c "$HALF" "$GOOD" >&3
	sleep 3
	tail -c +$((HALF + 1)) "$GOOD" >&3
	exec 3>&-
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report paused.tar.gz "done" "$GOOD"
check_succeeded acceptance false full_snapshot
assert_target_restored acceptance
assert_no_leftovers
worker_case_end

# 5. Files dropped while no worker runs (an archive into incoming/, a job file naming target
# test, and an archive copied in place long ago) are all done once a worker starts.
worker_case_begin dropped_while_down
worker_targets acceptance test third
write_worker_config "$CASE_DIR/config.yaml"
drop_file "$GOOD" "" while-down.tar.gz
drop_job while-down-test.yaml "" "archive: $GOOD\ntarget: test\n"
mkdir -p "$SPOOL/incoming/third"
cp "$GOOD" "$SPOOL/incoming/third/copied-in-place.tar.gz"
touch -d '-1 hour' "$SPOOL/incoming/third/copied-in-place.tar.gz"
worker_start "$CASE_DIR/config.yaml"
wait_reports 3 || true
worker_stop "$WORKER_PID"
assert_report_count 3
load_report while-down.tar.gz "done" "$GOOD"
check_succeeded acceptance false full_snapshot
load_report while-down-test.yaml "done" "$CASE_DIR/jobs/while-down-test.yaml"
check_succeeded test false full_snapshot
load_report copied-in-place.tar.gz "done" "$GOOD"
check_succeeded third false full_snapshot
assert_target_restored acceptance
assert_target_restored test
assert_target_restored third
check_good_untouched
assert_no_leftovers
worker_case_end

# 11. `submit` queues a job (also while no worker runs, and with an archive path relative to the
# current folder) and prints its file; `status --json` lists it as queued, then as done with its
# status; the worker restores it.
worker_case_begin submit_and_status
worker_targets acceptance test
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	# A relative archive path is taken from the current folder, not from the job file's.
	pushd "$A" >/dev/null
	run_worker -c "$CASE_DIR/config.yaml" submit --target test "$(basename "$GOOD")"
	popd >/dev/null
	assert_exit 0
	JOB1=$(head -n 1 "$CASE_DIR/out")
	assert_eq "lines submit printed" 1 "$(wc -l <"$CASE_DIR/out")"
	[[ $JOB1 == "$SPOOL/incoming/"* ]] || fail "submit printed '$JOB1', not a file in $SPOOL/incoming/"
	wait_reports 1 || true
fi
worker_stop "$WORKER_PID"
NAME1=$(basename "${JOB1:-none}")
load_report "$NAME1" "done"
ID1=$(basename "${REPORT_DIR:-none}")
check_succeeded test false full_snapshot
assert_target_restored test
assert_target_unchanged acceptance
run_worker -c "$CASE_DIR/config.yaml" status --json
assert_exit 0
report_is_one_object
assert_report_true "(.done | map(select(.job_id == \"$ID1\")) | length == 1)" "done lists job $ID1 once"
assert_report "(.done[] | select(.job_id == \"$ID1\") | [.status, .source, .target] | join(\" \"))" \
	"succeeded $NAME1 test"
assert_report '[.queued, .active, .failed] | map(length) | join(" ")' "0 0 0"

# While no worker runs, a submitted job waits in incoming/ and status lists it as queued.
run_worker -c "$CASE_DIR/config.yaml" submit --db-only "$GOOD"
assert_exit 0
JOB2=$(head -n 1 "$CASE_DIR/out")
NAME2=$(basename "${JOB2:-none}")
[ -f "$JOB2" ] || fail "the job file submit printed ('$JOB2') does not exist"
[[ $JOB2 == "$SPOOL/incoming/"* ]] || fail "submit printed '$JOB2', not a file in $SPOOL/incoming/"
assert_eq "files left in tmp/ by submit" "" "$(ls -A "$SPOOL/tmp" 2>/dev/null)"
run_worker -c "$CASE_DIR/config.yaml" status --json
assert_exit 0
report_is_one_object
assert_report "(.queued | map(select(.name == \"$NAME2\")) | map(.target) | join(\" \"))" acceptance
worker_start "$CASE_DIR/config.yaml"
wait_reports 2 || true
worker_stop "$WORKER_PID"
assert_report_count 2
load_report "$NAME2" "done"
check_succeeded acceptance true full_snapshot
assert_target_restored acceptance db_only
check_good_untouched
run_worker -c "$CASE_DIR/config.yaml" status --json
assert_exit 0
report_is_one_object
assert_report '[.done[] | .status] | sort | join(" ")' "succeeded succeeded"
assert_report '[.queued, .active, .failed] | map(length) | join(" ")' "0 0 0"
assert_no_leftovers
worker_case_end

finish
