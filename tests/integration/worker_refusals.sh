#!/usr/bin/env bash
# worker_refusals.sh - what the daemon must refuse or ignore, one input at a time, and keep going.
#
# Three tables of scenarios, each dropped at once into the spool of one running worker:
#  - bad job files (malformed YAML, not a mapping, unknown target, missing or absent archive,
#    unknown key, wrong types) and bad archives (random bytes, truncated, empty): each fails alone,
#    with its own report in failed/<job-id>/ beside the dropped file (status rejected or failed,
#    a one-line error);
#  - symlinks, hard links and FIFOs in incoming/: refused with a report, never followed, what they
#    point to untouched;
#  - a job file naming a FIFO, and incoming/<target>/ replaced by a symlink: refused or not
#    followed, without blocking the worker;
#  - names the spool protocol says to ignore (.*, *.part, *.tmp, *.partial): left alone, no report.
# After each table the target is unchanged, nothing more is reported on later scans, and a good
# archive dropped afterwards is still restored: the worker kept running.
set -euo pipefail
source "$(dirname "$0")/worker_lib.sh"

make_good_archive
GOOD_SHA=$(sha256sum <"$GOOD")
head -c 65536 /dev/urandom >"$A/random.tar.gz"
head -c $(($(stat -c %s "$GOOD") * 2 / 3)) "$GOOD" >"$A/truncated.tar.gz"
: >"$A/empty.tar.gz"

# check_good_archive_restored: drop the good archive as $1 into incoming/, wait for report
# number $2, and check that it succeeded into target acceptance.
check_good_archive_restored() {
	drop_file "$GOOD" "" "$1"
	wait_reports "$2" || true
	assert_report_count "$2"
	load_report "$1" "done" "$GOOD"
	assert_report .status succeeded
	assert_target_restored acceptance
}

# Table: dropped file name | folder below incoming/ | job (printf %b text) or file:<archive>.
BAD_INPUTS=(
	"malformed.yaml||archive: [unclosed\n"
	"not-a-mapping.yaml||just a string\n"
	"empty-job.yaml||"
	"unknown-target.yaml||archive: $GOOD\ntarget: nosuch\n"
	"missing-archive.yaml||archive: $A/does-not-exist.tar.gz\n"
	"no-archive-key.yaml||target: acceptance\n"
	"unknown-key.yaml||archive: $GOOD\ncolour: blue\n"
	"duplicate-key.yaml||archive: $GOOD\narchive: $GOOD\n"
	"db-only-not-a-bool.yml||archive: $GOOD\ndb_only: maybe\n"
	"archive-is-a-list.yaml||archive:\n  - $GOOD\n"
	"archive-is-a-folder.yaml||archive: $A\n"
	"names-a-bad-archive.yaml|acceptance|archive: $A/random.tar.gz\n"
	"random.tar.gz||file:$A/random.tar.gz"
	"truncated.tar.gz|acceptance|file:$A/truncated.tar.gz"
	"empty.tar.gz||file:$A/empty.tar.gz"
)

worker_case_begin bad_inputs_dropped
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
RANDOM_SHA=$(sha256sum <"$A/random.tar.gz")
worker_start "$CASE_DIR/config.yaml"
mkdir -p "$CASE_DIR/inputs"
if wait_spool_ready; then
	for row in "${BAD_INPUTS[@]}"; do
		IFS='|' read -r name folder what <<<"$row"
		if [[ $what == file:* ]]; then
			cp "${what#file:}" "$CASE_DIR/inputs/$name"
		else
			printf '%b' "$what" >"$CASE_DIR/inputs/$name"
		fi
		drop_file "$CASE_DIR/inputs/$name" "$folder"
	done
	wait_reports ${#BAD_INPUTS[@]} || true
fi
assert_report_count ${#BAD_INPUTS[@]}
worker_subcase_end

for row in "${BAD_INPUTS[@]}"; do
	IFS='|' read -r name folder what <<<"$row"
	worker_subcase_begin "refused_${name//[.-]/_}"
	load_report "$name" "failed" "$CASE_DIR/inputs/$name"
	assert_refused
	worker_subcase_end
done

worker_subcase_begin bad_inputs_change_nothing_and_worker_goes_on
pid_running "$WORKER_PID" || fail "the worker is no longer running"
assert_target_unchanged acceptance
assert_eq "the archive job files named ($GOOD)" "$GOOD_SHA" "$(sha256sum <"$GOOD" 2>/dev/null || echo missing)"
assert_eq "the bad archive a job file named" "$RANDOM_SHA" "$(sha256sum <"$A/random.tar.gz" 2>/dev/null || echo missing)"
assert_eq "active/" "" "$(active_jobs)"
check_good_archive_restored good.tar.gz $((${#BAD_INPUTS[@]} + 1))
worker_stop "$WORKER_PID"
assert_no_leftovers
worker_case_end

# Table: dropped file name | how it is made in tmp/ (then renamed into incoming/) | what it
# points to (a file that must stay untouched), if anything.
LINK_INPUTS=(
	"symlink.tar.gz|ln -s $A/link-target.tar.gz|$A/link-target.tar.gz"
	"symlink-job.yaml|ln -s $A/link-target.yaml|$A/link-target.yaml"
	"dangling-symlink.tar.gz|ln -s $A/nowhere.tar.gz|"
	"symlink-to-folder.tar.gz|ln -s $A|"
	"hardlink.tar.gz|ln $A/hard-target.tar.gz|$A/hard-target.tar.gz"
	"hardlink-job.yaml|ln $A/hard-target.yaml|$A/hard-target.yaml"
	"fifo.tar.gz|mkfifo|"
)
cp "$GOOD" "$A/link-target.tar.gz"
cp "$GOOD" "$A/hard-target.tar.gz"
printf 'archive: %s\n' "$GOOD" >"$A/link-target.yaml"
printf 'archive: %s\n' "$GOOD" >"$A/hard-target.yaml"

worker_case_begin links_and_fifos_dropped
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
for row in "${LINK_INPUTS[@]}"; do
	IFS='|' read -r name make pointee <<<"$row"
	[ -z "$pointee" ] || sha256sum <"$pointee" >"$CASE_DIR/$name.pointee.sha"
done
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	mkdir -p "$SPOOL/tmp"
	for row in "${LINK_INPUTS[@]}"; do
		IFS='|' read -r name make pointee <<<"$row"
		$make "$SPOOL/tmp/$name"
		mv "$SPOOL/tmp/$name" "$SPOOL/incoming/$name"
	done
	wait_reports ${#LINK_INPUTS[@]} || true
fi
assert_report_count ${#LINK_INPUTS[@]}
worker_subcase_end

for row in "${LINK_INPUTS[@]}"; do
	IFS='|' read -r name make pointee <<<"$row"
	worker_subcase_begin "refused_${name//[.-]/_}"
	load_report "$name" "failed"
	assert_refused
	if [ -n "$REPORT_DIR" ] && [[ $make == "ln -s"* ]] && [ ! -L "$REPORT_DIR/$name" ] &&
		[ -f "$REPORT_DIR/$name" ]; then
		fail "failed/$(basename "$REPORT_DIR")/$name is a regular file: the symlink was followed"
	fi
	if [ -n "$pointee" ]; then
		assert_eq "what $name pointed to ($pointee)" "$(cat "$CASE_DIR/$name.pointee.sha")" \
			"$(sha256sum <"$pointee" 2>/dev/null || echo missing)"
	fi
	worker_subcase_end
done

worker_subcase_begin links_change_nothing_and_worker_goes_on
pid_running "$WORKER_PID" || fail "the worker is no longer running (a FIFO may have blocked it)"
assert_target_unchanged acceptance
assert_eq "incoming/ after the refusals" acceptance "$(find "$SPOOL/incoming" -mindepth 1 -maxdepth 1 -printf '%P\n' 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
# One more scan (settle 1 s + rescan 2 s) must not report anything again.
sleep 3.5
assert_report_count ${#LINK_INPUTS[@]}
check_good_archive_restored good.tar.gz $((${#LINK_INPUTS[@]} + 1))
worker_stop "$WORKER_PID"
assert_no_leftovers
worker_case_end

# A job file naming a FIFO as its archive is refused like any unreadable archive; it must not
# hang its job (and with it every later job of the target) waiting for a writer.
worker_case_begin job_naming_a_fifo_is_refused
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
mkfifo "$CASE_DIR/archive-fifo"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	drop_job names-a-fifo.yaml "" "archive: $CASE_DIR/archive-fifo\n"
	WAIT_SECONDS=20 wait_reports 1 || true
	load_report names-a-fifo.yaml "failed" "$CASE_DIR/jobs/names-a-fifo.yaml"
	assert_refused
	assert_target_unchanged acceptance
	WAIT_SECONDS=15 check_good_archive_restored after-fifo.tar.gz 2
fi
worker_stop "$WORKER_PID"
assert_no_leftovers
worker_case_end

# incoming/<target>/ replaced by a symlink to another folder while the worker runs: what lies
# there is not taken (not restored, not moved); the worker goes on with incoming/.
worker_case_begin target_folder_symlink_not_followed
worker_targets acceptance test
write_worker_config "$CASE_DIR/config.yaml"
mkdir -p "$CASE_DIR/elsewhere"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	rmdir "$SPOOL/incoming/test"
	ln -s "$CASE_DIR/elsewhere" "$SPOOL/incoming/test"
	cp "$GOOD" "$CASE_DIR/elsewhere/lure.tar.gz"
	sleep 3.5 # a rescan
	drop_file "$GOOD" "" control.tar.gz
	wait_reports 1 || true
	sleep 3.5
fi
worker_stop "$WORKER_PID"
load_report control.tar.gz "done" "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
assert_target_unchanged test
assert_eq "reports of lure.tar.gz" 0 "$(report_files | xargs -r jq -r 'select(.source == "lure.tar.gz") | .job_id' | wc -l)"
assert_eq "successful jobs" 1 "$(report_files | xargs -r jq -r 'select(.status == "succeeded") | .job_id' | wc -l)"
assert_eq "the file in the folder incoming/test pointed to" "$GOOD_SHA" \
	"$(sha256sum <"$CASE_DIR/elsewhere/lure.tar.gz" 2>/dev/null || echo missing)"
TARGETS=(acceptance test)
assert_no_leftovers
worker_case_end

# Names to ignore, written in place where a producer writes partial files: they stay as they
# are, with no report, also after later scans. The good archive arrives the rsync way, as a
# hidden file in incoming/ renamed to its final name, and only then is taken.
IGNORED=(
	".hidden.tar.gz"
	"acceptance/.hidden-in-target-folder.tar.gz"
	".hidden-job.yaml"
	"copying.tar.gz.part"
	"acceptance/copying-in-target-folder.tar.gz.part"
	"copying.tar.gz.tmp"
	"copying.tar.gz.partial"
	"job.yaml.part"
)
worker_case_begin ignored_names_left_alone
worker_targets acceptance
write_worker_config "$CASE_DIR/config.yaml"
worker_start "$CASE_DIR/config.yaml"
if wait_spool_ready; then
	for name in "${IGNORED[@]}"; do
		if [[ $name == *.yaml* ]]; then
			printf 'archive: %s\n' "$GOOD" >"$SPOOL/incoming/$name"
		else
			cp "$GOOD" "$SPOOL/incoming/$name"
		fi
	done
	(cd "$SPOOL/incoming" && find . -type f -printf '%P\n' | sort | xargs sha256sum) >"$CASE_DIR/ignored.before"
	cp "$GOOD" "$SPOOL/incoming/.good.tar.gz.Xy12ab"
	sleep 3.5
	assert_report_count 0
	mv "$SPOOL/incoming/.good.tar.gz.Xy12ab" "$SPOOL/incoming/good.tar.gz"
	wait_reports 1 || true
	sleep 3.5
fi
worker_stop "$WORKER_PID"
assert_report_count 1
load_report good.tar.gz "done" "$GOOD"
assert_report .status succeeded
assert_target_restored acceptance
(cd "$SPOOL/incoming" 2>/dev/null && find . -type f -printf '%P\n' | sort | xargs -r sha256sum) \
	>"$CASE_DIR/ignored.after" || true
assert_same_file "the ignored files in incoming/" "$CASE_DIR/ignored.before" "$CASE_DIR/ignored.after"
assert_no_leftovers
worker_case_end

finish
