#!/usr/bin/env bash
# chaos.sh - fault injection into the daemon, then its invariants checked (run by scripts/chaos).
#
# Two workers share one spool with three targets: t1 (strategy transaction, full snapshots),
# t2 (strategy swap, full snapshots) and t3 (transaction, database only: bare dumps and job
# files with db_only). Each target gets one job at a time, drawn at random: good archives
# (two snapshots, a bare dump), an archive whose dump fails in the database, random bytes
# (refused), rehearsals (dry_run) and db_only job files. Meanwhile, every 1 to 3 seconds, one
# fault: kill -9 of a worker, of a job's child process or of a pg_restore; SIGTERM of a
# worker; `pg_ctl restart -m immediate` of the server; pg_terminate_backend of the worker's
# sessions. A worker that is gone is started again a moment later (faults.sh).
#
# The invariants, each broken one reported with the job id and what was seen:
#   - after each job's report (no other job runs on its target then), the target holds exactly
#     one known state: the database and the files of the same archive ever applied, or the
#     initial state (t3: the database of one of them, the initial files);
#   - the report tells the truth: succeeded means the target holds that archive's state (a
#     rehearsal: the state before); rejected or failed means the state before; a report's
#     database.status and files.status say what is observed (restored: the archive's,
#     unchanged: the state before); a rehearsal's report says dry_run; a good archive is never
#     rejected, a bad one never succeeds;
#   - exactly one report per job, and every job gets one;
#   - nothing is left behind once the workers stopped and one started again (which tidies
#     swaps): no claim in active/, nothing in work_dir, no staging folder beside the blob
#     folders and no <target>_rw_* database, unless a partial report names it;
#   - a worker stops within 30 s of SIGTERM, with status 0, and never dies by itself.
#
# Environment: RESTORE_WORKER, TESTS_DIR, OLDDUMP (as tests/CMakeLists.txt sets them),
# CHAOS_MINUTES (of faults, default 3), CHAOS_SEED (the random choices; default the time),
# CHAOS_ROWS (rows of the sources' big table, default 40000: a restore takes a second or two),
# CHAOS_KEEP (a folder to copy the event log, the workers' log and the reports into).
# Exit status 0 when no invariant was broken, 1 otherwise.
set -uo pipefail

MINUTES=${CHAOS_MINUTES:-3}
SEED=${CHAOS_SEED:-$(date +%s)}
ROWS=${CHAOS_ROWS:-40000}
RANDOM=$SEED
NWORKERS=2
JOB_TIMEOUT=240 # seconds a job may take to get its report, faults and retries included

# shellcheck source=tests/integration/worker_lib.sh
source "$(dirname "$0")/../integration/worker_lib.sh"

# now: seconds since the epoch, with milliseconds.
now() {
	echo "${EPOCHREALTIME:0:-3}"
}

# elapsed: whole seconds since the run began.
elapsed() {
	echo $((${EPOCHREALTIME%.*} - START))
}

# event: a line in the event log (and on stdout with CHAOS_VERBOSE=1).
event() {
	echo "$(elapsed)s $*" >>"$EVENTS"
	if [ "${CHAOS_VERBOSE:-0}" = 1 ]; then
		echo "# $(elapsed)s $*"
	fi
}

declare -A VIOLATION_KINDS=() STATUSES=()
VIOLATIONS=()

# Which point of issue 16 a kind of violation matches, when one does.
declare -A ISSUE_POINT=(
	[mixed_state]="points 17, 18" [unknown_state]="" [success_not_applied]="point 17"
	[failure_changed_target]="point 17" [status_misstated]="points 17, 18"
	[rehearsal_changed_target]="point 1" [rehearsal_not_flagged]="point 10"
	[good_archive_rejected]="point 20" [bad_archive_succeeded]="" [no_report]=""
	[second_report]="" [unknown_report]="" [claim_left]="" [work_dir_left]=""
	[staging_left]="points 17, 18" [database_left]="points 4, 5, 17" [incoming_left]=""
	[worker_ignored_sigterm]="point 6" [worker_stop_status]="" [worker_died]=""
)

# violate: record a broken invariant: kind $1, job id $2 (or -), what was seen ($3...).
violate() {
	local kind=$1 job=$2
	shift 2
	VIOLATIONS+=("job $job: $kind: $*${ISSUE_POINT[$kind]:+ [issue 16 ${ISSUE_POINT[$kind]}]}")
	VIOLATION_KINDS[$kind]=$((${VIOLATION_KINDS[$kind]:-0} + 1))
	event "VIOLATION $kind job $job: $*"
}

# db_snapshot: write what a restore of database $1 must reproduce into file $2 (as lib.sh's
# snapshot_db_state, but failing when pg_dump or psql fail, as during a server restart).
db_snapshot() {
	"$PGBIN/pg_dump" -O -x -d "$1" >"$2.raw" 2>>"$EVENTS" || return 1
	grep -v -e '^--' -e '^$' -e '^\\restrict ' -e '^\\unrestrict ' "$2.raw" >"$2"
	echo "-- large objects" >>"$2"
	sql "$1" "select oid, md5(lo_get(oid)) from pg_largeobject_metadata order by oid" \
		>>"$2" 2>>"$EVENTS" || return 1
	rm -f "$2.raw"
}

# files_snapshot: write the regular files below folder $1 with their sha256 into file $2.
files_snapshot() {
	FILES_ONLY=1 snapshot_dir_state "$1" >"$2"
}

# hash_of: the md5 of file $1.
hash_of() {
	md5sum <"$1" | cut -d' ' -f1
}

# Known states: DB_KEY[hash] and FILES_KEY[hash] name the archive (or init-<target>) whose
# database or files have that fingerprint; ARCH_DB[key] and ARCH_FILES[key] the reverse.
declare -A DB_KEY=() FILES_KEY=() ARCH_DB=() ARCH_FILES=()

# learn_db: database $2's state is archive $1's.
learn_db() {
	db_snapshot "$2" "$STATES/$1.db" || { echo "chaos: cannot snapshot database $2" >&2; exit 2; }
	ARCH_DB[$1]=$(hash_of "$STATES/$1.db")
	DB_KEY[${ARCH_DB[$1]}]=${DB_KEY[${ARCH_DB[$1]}]:-$1}
}

# learn_files: folder $2's files are archive $1's.
learn_files() {
	files_snapshot "$2" "$STATES/$1.files"
	ARCH_FILES[$1]=$(hash_of "$STATES/$1.files")
	FILES_KEY[${ARCH_FILES[$1]}]=$1
}

# observe: fingerprint target $1 into OBS_DB and OBS_FILES (hashes); retried while the server
# restarts; false when it cannot be read at all.
observe() {
	local try
	for ((try = 0; try < 10; try++)); do
		if db_snapshot "$(target_db "$1")" "$CASE_DIR/obs.db"; then
			OBS_DB=$(hash_of "$CASE_DIR/obs.db")
			files_snapshot "$(target_blob "$1")" "$CASE_DIR/obs.files"
			OBS_FILES=$(hash_of "$CASE_DIR/obs.files")
			return 0
		fi
		sleep 1
	done
	return 1
}

# name_db, name_files: the archive a fingerprint belongs to, or "unknown <hash>".
name_db() {
	echo "${DB_KEY[$1]:-unknown ${1:0:8}}"
}
name_files() {
	echo "${FILES_KEY[$1]:-unknown ${1:0:8}}"
}

# --- The fixtures. ---

worker_case_begin chaos
EVENTS=$CASE_DIR/events.log
STATES=$CASE_DIR/states
A=$TEST_ROOT/archives
mkdir -p "$STATES" "$A"
: >"$EVENTS"
START=${EPOCHREALTIME%.*}
sql postgres "alter role app createdb" >/dev/null

# make_chaos_source: database $1 (make_source_db) with a table of ROWS rows, salted with $2.
make_chaos_source() {
	make_source_db "$1"
	sql_as_app "$1" "create table chaos_rows as select i, md5(i::text || '$2') as v
		from generate_series(1, $ROWS) i; alter table chaos_rows add primary key (i)"
}

echo "# chaos: seed $SEED, $MINUTES minute(s) of faults, $ROWS rows; building the archives"
make_chaos_source s1 one
make_chaos_source s2 two
sql_as_app s2 'update "shop$order" set total = total + 1 where id % 2 = 0' >/dev/null
make_chaos_source s3 three
sql_as_app s3 'delete from "shop$line" where id > 100' >/dev/null
make_index_fails_db fdb
make_snapshot "$A/a1.tar.gz" s1 2
make_snapshot "$A/a2.tar.gz" s2 3
dump_custom s3 "$A/a3.backup"
make_snapshot "$A/f1.tar.gz" fdb 2
dump_custom fdb "$A/f1.backup"
head -c 65536 /dev/urandom >"$A/r1.tar.gz"
learn_db a1 s1
learn_db a2 s2
learn_db a3 s3
learn_files a1 "$A/a1.tar.gz.d/tree"
learn_files a2 "$A/a2.tar.gz.d/tree"

TARGETS=(t1 t2 t3)
declare -A STRATEGY=([t1]=transaction [t2]=swap [t3]=transaction)
declare -A T_DB=() T_FILES=() T_JOB=()
for t in "${TARGETS[@]}"; do
	make_target_db "$(target_db "$t")"
	BLOB_DIR=$(target_blob "$t") old_blobs
	learn_db "init-$t" "$(target_db "$t")"
	learn_files "init-$t" "$(target_blob "$t")"
	T_DB[$t]=${ARCH_DB[init-$t]}
	T_FILES[$t]=${ARCH_FILES[init-$t]}
	T_JOB[$t]=
done

CONFIG=$CASE_DIR/config.yaml
{
	echo "spool_dir: $SPOOL"
	echo "work_dir: $WORK_DIR"
	echo "pg_restore: $PGBIN/pg_restore"
	echo "default_target: t1"
	echo "settle_seconds: 1"
	echo "rescan_seconds: 2"
	echo "max_parallel_jobs: 2"
	echo "max_attempts: 3"
	echo "targets:"
	for t in "${TARGETS[@]}"; do
		echo "  $t:"
		echo "    database: \"host=$PGHOST dbname=$(target_db "$t") user=app\""
		echo "    blob_dir: $(target_blob "$t")"
		echo "    plan_quota: 10GB"
		echo "    strategy: ${STRATEGY[$t]}"
		[ "${STRATEGY[$t]}" = swap ] && echo "    restore_jobs: 2"
	done
} >"$CONFIG"

# --- The workers and the faults (faults.sh). ---

# shellcheck source=tests/chaos/faults.sh
source "$(dirname "$0")/faults.sh"

# --- The jobs. ---

declare -a J_SRC=() J_TARGET=() J_ARCH=() J_DRY=() J_DBONLY=() J_PREV_DB=() J_PREV_FILES=() J_T0=() J_ID=()
declare -A J_BY_SRC=() REPORTS_SEEN=()
NJOBS=0

# submit: give target $1 its next job, drawn at random from what suits the target.
submit() {
	local t=$1 r=$((RANDOM % 100)) arch dry=0 dbonly=0 name job=$NJOBS jobfile=0
	if [ "$t" = t3 ]; then
		if [ $r -lt 35 ]; then arch=a3
		elif [ $r -lt 60 ]; then arch=a1 dbonly=1 jobfile=1
		elif [ $r -lt 75 ]; then arch=f1 dbonly=1
		elif [ $r -lt 87 ]; then arch=r1
		else arch=a3 dry=1 jobfile=1
		fi
		[ "$arch" = a3 ] && dbonly=1
	else
		if [ $r -lt 30 ]; then arch=a1
		elif [ $r -lt 60 ]; then arch=a2
		elif [ $r -lt 75 ]; then arch=f1
		elif [ $r -lt 87 ]; then arch=r1
		else arch=$([ $((RANDOM % 2)) = 0 ] && echo a1 || echo a2) dry=1 jobfile=1
		fi
	fi
	local file=$A/$arch.tar.gz
	[ "$t" = t3 ] && [ "$arch" = f1 ] && file=$A/f1.backup
	[ "$arch" = a3 ] && file=$A/a3.backup
	if [ $jobfile = 1 ]; then
		name=$(printf 'c%04d-%s' "$job" "$arch")
		[ $dry = 1 ] && name+=-dry
		[ $dbonly = 1 ] && name+=-dbonly
		name+=.yaml
		drop_job "$name" "$t" "archive: $file\ndb_only: $([ $dbonly = 1 ] && echo true || echo false)\ndry_run: $([ $dry = 1 ] && echo true || echo false)\n"
	else
		name=$(printf 'c%04d-%s.%s' "$job" "$arch" "$([[ $file == *.tar.gz ]] && echo tar.gz || echo backup)")
		drop_file "$file" "$t" "$name"
	fi
	J_SRC[$job]=$name J_TARGET[$job]=$t J_ARCH[$job]=$arch J_DRY[$job]=$dry J_DBONLY[$job]=$dbonly
	J_PREV_DB[$job]=${T_DB[$t]} J_PREV_FILES[$job]=${T_FILES[$t]} J_T0[$job]=${EPOCHREALTIME%.*} J_ID[$job]=
	J_BY_SRC[$name]=$job
	T_JOB[$t]=$job
	NJOBS=$((NJOBS + 1))
	event "job $name into $t"
}

# check_report: judge report $1 (report.json) of job $2 against the target as it is now.
check_report() {
	local f=$1 job=$2 t=${J_TARGET[$2]} arch=${J_ARCH[$2]} id status dbs fs dry want_db want_files
	local prev_db=${J_PREV_DB[$2]} prev_files=${J_PREV_FILES[$2]} where
	id=$(jq -r .job_id "$f")
	status=$(jq -r .status "$f")
	dbs=$(jq -r '.database.status // "null"' "$f")
	fs=$(jq -r '.files.status // "null"' "$f")
	dry=$(jq -r .dry_run "$f")
	J_ID[$job]=$id
	STATUSES[$status]=$((${STATUSES[$status]:-0} + 1))
	where="$t, ${J_SRC[$job]}, $status"
	event "report of ${J_SRC[$job]}: $id $status (database $dbs, files $fs)"
	if ! observe "$t"; then
		violate unknown_state "$id" "$where: the target's database cannot be read"
		return
	fi
	T_DB[$t]=$OBS_DB
	T_FILES[$t]=$OBS_FILES
	local seen
	seen="database $(name_db "$OBS_DB"), files $(name_files "$OBS_FILES")"
	# One known state: the database and the files of one archive (t3: the files never change).
	if [ -z "${DB_KEY[$OBS_DB]:-}" ] || [ -z "${FILES_KEY[$OBS_FILES]:-}" ]; then
		violate unknown_state "$id" "$where: the target holds $seen"
	elif [ "$t" = t3 ] && [ "$OBS_FILES" != "${ARCH_FILES[init-t3]}" ]; then
		violate mixed_state "$id" "$where: database-only target's files changed: $seen"
	elif [ "$t" != t3 ] && [ "${DB_KEY[$OBS_DB]}" != "${FILES_KEY[$OBS_FILES]}" ] &&
		! { [[ ${DB_KEY[$OBS_DB]} == init-* ]] && [ "${FILES_KEY[$OBS_FILES]}" = "init-$t" ]; }; then
		violate mixed_state "$id" "$where (database.status $dbs, files.status $fs): the target holds $seen"
	fi
	# What the archive should have done.
	if [ "${J_DRY[$job]}" = 1 ]; then
		[ "$dry" = true ] || violate rehearsal_not_flagged "$id" "$where: a rehearsal's report says dry_run $dry"
		if [ "$OBS_DB" != "$prev_db" ] || [ "$OBS_FILES" != "$prev_files" ]; then
			violate rehearsal_changed_target "$id" "$where: before database $(name_db "$prev_db"), files $(name_files "$prev_files"); after $seen"
		fi
	fi
	case $arch in
	a1 | a2 | a3)
		[ "$status" = rejected ] && violate good_archive_rejected "$id" "$where: $(jq -r .error "$f")"
		;;
	f1 | r1)
		[ "$status" = succeeded ] && violate bad_archive_succeeded "$id" "$where"
		;;
	esac
	# Random bytes are refused, or fail when something else ended the job first (its process
	# killed, the server gone before the archive was read): never anything else.
	if [ "$arch" = r1 ] && [ "$status" != rejected ] && [ "$status" != failed ]; then
		violate bad_archive_succeeded "$id" "$where: random bytes were not refused"
	fi
	# The report against what is observed.
	want_db=${ARCH_DB[$arch]:-}
	want_files=$([ "${J_DBONLY[$job]}" = 1 ] && echo "$prev_files" || echo "${ARCH_FILES[$arch]:-}")
	if [ "${J_DRY[$job]}" = 1 ]; then
		want_db=$prev_db want_files=$prev_files
	fi
	case $status in
	succeeded)
		if [ "$OBS_DB" != "$want_db" ] || [ "$OBS_FILES" != "$want_files" ]; then
			violate success_not_applied "$id" "$where: expected database $(name_db "$want_db"), files $(name_files "$want_files"); the target holds $seen"
		fi
		;;
	rejected | failed)
		if [ "$OBS_DB" != "$prev_db" ] || [ "$OBS_FILES" != "$prev_files" ]; then
			violate failure_changed_target "$id" "$where (database.status $dbs, files.status $fs): before database $(name_db "$prev_db"), files $(name_files "$prev_files"); after $seen"
		fi
		;;
	esac
	# database.status and files.status, where they can be checked.
	case $dbs in
	restored) [ "$OBS_DB" = "$want_db" ] && [ "${J_DRY[$job]}" = 0 ] ||
		violate status_misstated "$id" "$where: database.status restored, but the target holds $seen" ;;
	unchanged) [ "$OBS_DB" = "$prev_db" ] ||
		violate status_misstated "$id" "$where: database.status unchanged, but before $(name_db "$prev_db"), now $seen" ;;
	esac
	case $fs in
	restored) [ "$OBS_FILES" = "$want_files" ] && [ "${J_DRY[$job]}" = 0 ] ||
		violate status_misstated "$id" "$where: files.status restored, but the target holds $seen" ;;
	unchanged | skipped) [ "$OBS_FILES" = "$prev_files" ] ||
		violate status_misstated "$id" "$where: files.status $fs, but before $(name_files "$prev_files"), now $seen" ;;
	esac
}

# collect_reports: judge every report that appeared since the last call.
collect_reports() {
	local d f src job
	for d in "$SPOOL"/done/* "$SPOOL"/failed/*; do
		[ -d "$d" ] && [ -z "${REPORTS_SEEN[$d]:-}" ] || continue
		f=$d/report.json
		if ! jq -e 'type == "object"' "$f" >/dev/null 2>&1; then
			sleep 0.1 # just moved in: look again
			jq -e 'type == "object"' "$f" >/dev/null 2>&1 || {
				REPORTS_SEEN[$d]=1
				violate unknown_report "$(basename "$d")" "$d has no valid report.json"
				continue
			}
		fi
		REPORTS_SEEN[$d]=1
		src=$(jq -r .source "$f")
		job=${J_BY_SRC[$src]:-}
		if [ -z "$job" ]; then
			violate unknown_report "$(basename "$d")" "a report for $src, which no job dropped"
		elif [ -n "${J_ID[$job]}" ]; then
			violate second_report "$(basename "$d")" "a second report for $src (the first: ${J_ID[$job]})"
		else
			check_report "$f" "$job"
			T_JOB[${J_TARGET[$job]}]=
		fi
	done
}

# overdue: report jobs waiting longer than JOB_TIMEOUT (all of them with $1 = all); their
# targets get no more jobs.
overdue() {
	local t job id
	for t in "${TARGETS[@]}"; do
		job=${T_JOB[$t]}
		[ -n "$job" ] && [ "$job" != stuck ] || continue
		if [ "${1:-}" = all ] || [ $((${EPOCHREALTIME%.*} - J_T0[job])) -gt $JOB_TIMEOUT ]; then
			id=$(grep -l -s -x -F "name=${J_SRC[$job]}" "$SPOOL"/active/*/claim | head -n 1)
			id=${id%/claim}
			violate no_report "${id##*/}" "$t, ${J_SRC[$job]}: no report $((${EPOCHREALTIME%.*} - J_T0[job])) s after it was dropped${id:+ (in active/: $(grep -s '^phase=\|^attempts=' "$id/claim" | tr '\n' ' '))}"
			T_JOB[$t]=stuck
		fi
	done
}

# --- The run. ---

for ((i = 0; i < NWORKERS; i++)); do
	start_worker "$i"
done
WORKERS_AT_FIRST=$NWORKERS
wait_spool_ready || { echo "chaos: the workers did not make the spool" >&2; exit 2; }
echo "# chaos: running (event log: $EVENTS)"
# From here on stderr goes to the event log (the shell's notes on workers killed by signals,
# the server's and pg_dump's complaints during restarts); a reason to give up goes to fd 3.
exec 3>&2 2>>"$EVENTS"
END_FAULTS=$((${EPOCHREALTIME%.*} + MINUTES * 60))
NEXT_FAULT=$((${EPOCHREALTIME%.*} + 2))
while [ "${EPOCHREALTIME%.*}" -lt "$END_FAULTS" ]; do
	tend_workers
	collect_reports
	for t in "${TARGETS[@]}"; do
		[ -n "${T_JOB[$t]}" ] || submit "$t"
	done
	if [ "${EPOCHREALTIME%.*}" -ge "$NEXT_FAULT" ]; then
		fault
		NEXT_FAULT=$((${EPOCHREALTIME%.*} + 1 + RANDOM % 3))
	fi
	overdue
	sleep 0.2
done

# The faults stop; the jobs in flight get their reports.
event "faults stop; waiting for the jobs in flight"
tend_workers now
DRAIN_END=$((${EPOCHREALTIME%.*} + JOB_TIMEOUT))
while [ "${EPOCHREALTIME%.*}" -lt "$DRAIN_END" ]; do
	tend_workers now
	collect_reports
	busy=false
	for t in "${TARGETS[@]}"; do
		[ -n "${T_JOB[$t]}" ] && [ "${T_JOB[$t]}" != stuck ] && busy=true
	done
	$busy || break
	overdue
	sleep 0.2
done
overdue all

# Every worker stops; one starts again (it tidies what interrupted swaps left) and stops.
stop_all() {
	local i tenths
	for ((i = 0; i < NWORKERS; i++)); do
		if [ "${W_STATE[$i]}" = up ]; then
			kill -TERM "${W_PID[$i]}" 2>/dev/null
			W_STATE[$i]=term
			W_SINCE[$i]=$(now)
		fi
	done
	for ((tenths = 0; tenths < 400; tenths++)); do
		sleep 0.1
		NO_RESTART=1 tend_workers
		for ((i = 0; i < NWORKERS; i++)); do
			[ "${W_STATE[$i]}" = down ] || continue 2
		done
		return
	done
}
stop_all
collect_reports
NWORKERS=1
start_worker 0
wait_spool_ready
for ((i = 0; i < 50; i++)); do
	[ -z "$(sql postgres "select datname from pg_database where datname like 'chaos\_t_\_rw\_%'")" ] && break
	sleep 0.2
done
stop_all

# --- Nothing left behind. ---

# named_by_partial: true when a partial report of target $1 names $2.
named_by_partial() {
	local f
	for f in "$SPOOL"/failed/*/report.json; do
		[ -f "$f" ] || continue
		jq -e --arg t "$1" --arg n "$2" '.status == "partial" and .target == $t and
			(tostring | contains($n))' "$f" >/dev/null 2>&1 && return 0
	done
	return 1
}

for d in "$SPOOL"/active/*; do
	[ -e "$d" ] || continue
	violate claim_left "$(basename "$d")" "active/ still holds it: $(grep -s '^name=\|^phase=\|^attempts=\|^status=' "$d/claim" | tr '\n' ' ')"
done
while IFS= read -r f; do
	[ -n "$f" ] && violate incoming_left - "incoming/ still holds $f"
done < <(find "$SPOOL/incoming" -type f -printf '%P\n' 2>/dev/null)
while IFS= read -r f; do
	[ -n "$f" ] || continue
	id=$(echo "$f" | grep -o '[0-9a-f]\{8\}-[0-9a-f-]\{27\}' | head -n 1)
	violate work_dir_left "${id:--}" "work_dir still holds $f"
done < <(ls -A "$WORK_DIR")
while IFS= read -r f; do
	[ -n "$f" ] || continue
	case " ${TARGETS[*]} " in *" $f "*) continue ;; esac
	t=${f#.}
	t=${t%%.*}
	id=$(echo "$f" | grep -o '[0-9a-f]\{8\}-[0-9a-f-]\{27\}' | head -n 1)
	if named_by_partial "$t" "$f"; then
		event "staging $f kept, as a partial report of $t says"
	else
		violate staging_left "${id:--}" "beside the blob folders: $f ($(find "$BLOB_PARENT/$f" -type f | wc -l) files), which no partial report names"
	fi
done < <(ls -A "$BLOB_PARENT")
while IFS= read -r db; do
	[ -n "$db" ] || continue
	t=${db#chaos_}
	t=${t%%_rw_*}
	if named_by_partial "$t" "$db"; then
		event "database $db kept, as a partial report of $t says"
	else
		violate database_left - "database $db is still there after the worker started again"
	fi
done < <(sql postgres "select datname from pg_database where datname like 'chaos\_t_\_rw\_%' order by 1")
for t in "${TARGETS[@]}"; do
	[ "${T_JOB[$t]}" != stuck ] || continue
	if observe "$t"; then
		if [ "$OBS_DB" != "${T_DB[$t]}" ] || [ "$OBS_FILES" != "${T_FILES[$t]}" ]; then
			violate unknown_state - "$t changed after its last job: database $(name_db "$OBS_DB"), files $(name_files "$OBS_FILES")"
		fi
	fi
done
# Exactly one report per job, counted once more over the whole spool.
while read -r n src; do
	violate second_report - "$n reports for $src"
done < <(jq -r .source "$SPOOL"/done/*/report.json "$SPOOL"/failed/*/report.json 2>/dev/null |
	sort | uniq -c | awk '$1 > 1')

# --- The summary. ---

if [ -n "${CHAOS_KEEP:-}" ]; then
	mkdir -p "$CHAOS_KEEP/reports"
	cp "$EVENTS" "$WORKER_LOG" "$CONFIG" "$CHAOS_KEEP/"
	for f in "$SPOOL"/done/*/report.json "$SPOOL"/failed/*/report.json; do
		[ -f "$f" ] && cp "$f" "$CHAOS_KEEP/reports/$(basename "$(dirname "$f")").json"
	done
fi
faults_total=0
faults_line=()
for k in kill_worker kill_job_child kill_pg_restore sigterm_worker server_restart terminate_backends; do
	faults_total=$((faults_total + ${FAULTS[$k]:-0}))
	faults_line+=("$k ${FAULTS[$k]:-0}${MISSES[$k]:+ (+${MISSES[$k]} with nothing to hit)}")
done
statuses_line=()
for k in succeeded rejected failed partial; do
	statuses_line+=("$k ${STATUSES[$k]:-0}")
done
echo "chaos: seed $SEED, $MINUTES minute(s) of faults, $WORKERS_AT_FIRST workers on one spool, targets t1 (transaction), t2 (swap), t3 (transaction, database only)"
echo "jobs: $NJOBS ($(IFS=,; echo "${statuses_line[*]}" | sed 's/,/, /g'))"
echo "faults: $faults_total ($(IFS=,; echo "${faults_line[*]}" | sed 's/,/, /g'))"
echo "violations: ${#VIOLATIONS[@]}"
for k in "${!VIOLATION_KINDS[@]}"; do
	echo "  $k: ${VIOLATION_KINDS[$k]}${ISSUE_POINT[$k]:+ (issue 16 ${ISSUE_POINT[$k]})}"
done | sort
for v in "${VIOLATIONS[@]}"; do
	echo "  - $v"
done
export TESTS_FINISHED=1 # for lib.sh's trap: this script printed its own summary
[ ${#VIOLATIONS[@]} -eq 0 ]
