#!/usr/bin/env bash
# completion.sh - the bash completion (completion/restore-worker.bash) offers what the program
# takes. A bash with no rc files runs the completion function as bash does on TAB (COMP_WORDS
# and COMP_CWORD set, _restore_worker called); the test compares its COMPREPLY:
#   - the commands: every command restore-worker --help lists (and a prefix picks one);
#   - each command's options: every option its COMMAND --help lists;
#   - --target: the targets of the configuration named by -c, --config FILE, --config=FILE
#     (split at "=" as bash splits it), $RESTORE_WORKER_CONFIG, before or after the command;
#     each one a target the program accepts, and config.yaml.example's are its two;
#   - archives: *.tar.gz, *.tgz, *.tar, *.backup and folders, not other files; latest and the
#     backups of backup_dir and previous/ for restore and submit, not for inspect;
#   - job ids: status every job of the spool (active, done, failed, queued job files), cancel
#     the queued and active ones only.
#
# Nothing here needs the database; lib.sh is sourced for its case bookkeeping.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SRC=$TESTS_DIR/..
COMPLETION=$SRC/completion/restore-worker.bash
# No configuration but the ones the cases name: not the host's /etc/restore-worker/config.yaml.
unset RESTORE_WORKER_CONFIG
NO_CONFIG=$TEST_ROOT/no-config.yaml

# section: the lines of file $2 from the line "$1" to the next blank line, both left out.
section() {
	sed -n "/^$1\$/,/^\$/p" "$2" | sed '1d;$d'
}

# help_commands: the commands in --help's "Commands:" section (file $1), one a line.
help_commands() {
	section Commands: "$1" | sed -n 's/^  \([a-z][a-z-]*\)  *[^ ].*$/\1/p'
}

# help_options: the long options in COMMAND --help's "Options:" section (file $1), one a line.
help_options() {
	section Options: "$1" | sed -n 's/^  \(-., \)\{0,1\}\(--[a-z][a-z-]*\).*$/\2/p' | sort -u
}

# One bash (no rc files) sources the completion and answers every query, as bash does on TAB
# (COMP_WORDS and COMP_CWORD set, _restore_worker called, in a subshell of its own each): a query
# is the folder to run in, RESTORE_WORKER_CONFIG and the words, NUL-terminated; the answer is
# COMPREPLY, one a line, then a line holding only the record separator (\x1e).
coproc COMPLETER {
	bash --norc --noprofile -c '
		source "$1" || exit 1
		while IFS= read -r -d "" dir && IFS= read -r -d "" config && IFS= read -r -d "" n; do
			words=()
			for ((k = 0; k < n; k++)); do
				IFS= read -r -d "" w
				words+=("$w")
			done
			(
				cd "$dir" || exit
				COMP_WORDS=("${words[@]}")
				COMP_CWORD=$((n - 1))
				COMP_LINE="${words[*]}"
				COMP_POINT=${#COMP_LINE}
				COMPREPLY=()
				RESTORE_WORKER_CONFIG=$config _restore_worker restore-worker \
					"${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
				printf "%s\n" "${COMPREPLY[@]}"
			)
			printf "\x1e\n"
		done' completer "$COMPLETION" 2>"$TEST_ROOT/completer.err"
}

# complete_words: set COMPLETED to what the completion offers (sorted, one a line) for the
# command line of words $@ (the last one is the word being completed), run in folder
# $COMPLETE_DIR (default CASE_DIR) with RESTORE_WORKER_CONFIG (default: a file that is not there).
complete_words() {
	local word line
	local -a got=()
	printf '%s\0%s\0%s\0' "${COMPLETE_DIR:-$CASE_DIR}" "${RESTORE_WORKER_CONFIG:-$NO_CONFIG}" "$#" >&"${COMPLETER[1]}"
	for word in "$@"; do
		printf '%s\0' "$word" >&"${COMPLETER[1]}"
	done
	COMPLETED=
	while IFS= read -r -t 30 line <&"${COMPLETER[0]}"; do
		[ "$line" = $'\x1e' ] && break
		[ -n "$line" ] && got+=("$line")
	done
	[ "$line" = $'\x1e' ] || fail "the completion gave no answer to '$*': $(cat "$TEST_ROOT/completer.err")"
	[ ${#got[@]} -eq 0 ] || COMPLETED=$(printf '%s\n' "${got[@]}" | sort -u)
}

# assert_offers: fail unless completing words $2... offers exactly the lines of $1.
assert_offers() {
	local want=$1
	shift
	complete_words "$@"
	assert_eq "completion of '$*'" "$want" "$COMPLETED"
}

# assert_includes: fail unless completing words $2... offers every word of $1.
assert_includes() {
	local want=$1 word
	shift
	complete_words "$@"
	for word in $want; do
		grep -qxF -- "$word" <<<"$COMPLETED" || fail "completion of '$*' lacks $word (offers: $(echo $COMPLETED))"
	done
}

# assert_excludes: fail if completing words $2... offers a word of $1.
assert_excludes() {
	local unwanted=$1 word
	shift
	complete_words "$@"
	for word in $unwanted; do
		grep -qxF -- "$word" <<<"$COMPLETED" && fail "completion of '$*' offers $word"
	done
	return 0
}

case_begin script_loads
bash --norc -n "$COMPLETION" 2>"$CASE_DIR/err" || fail "bash -n: $(cat "$CASE_DIR/err")"
bash --norc -c 'source "$1" && complete -p restore-worker' _ "$COMPLETION" >"$CASE_DIR/out" 2>"$CASE_DIR/err" ||
	fail "sourcing it registers no completion for restore-worker"
grep -q -- '-F _restore_worker restore-worker' "$CASE_DIR/out" || fail "complete -p says: $(cat "$CASE_DIR/out")"
case_end

case_begin commands_and_options
"$RESTORE_WORKER" --help >"$CASE_DIR/help"
help_commands "$CASE_DIR/help" >"$CASE_DIR/commands"
[ -s "$CASE_DIR/commands" ] || fail "restore-worker --help lists no commands"
assert_includes "$(cat "$CASE_DIR/commands")" restore-worker ''
assert_offers restore restore-worker rest
assert_includes "--config --help --version" restore-worker --
for cmd in $(cat "$CASE_DIR/commands"); do
	"$RESTORE_WORKER" "$cmd" --help >"$CASE_DIR/help.$cmd"
	options=$(help_options "$CASE_DIR/help.$cmd")
	[ -n "$options" ] || fail "$cmd --help lists no options"
	assert_includes "$options" restore-worker "$cmd" --
	assert_includes "$options" restore-worker -c some.yaml "$cmd" --
done
# Each command's own, not another's.
assert_excludes "--target --json" restore-worker run --
assert_excludes "--target --output" restore-worker status --
assert_offers --db-only restore-worker restore --db
# issue 21's (README "Command line"): submit --wait, list, cancel.
assert_includes "list cancel" restore-worker ''
assert_includes "--wait" restore-worker submit --
assert_includes "--target --json" restore-worker list --
case_end

case_begin targets_from_the_configuration
cat >"$CASE_DIR/c.yaml" <<EOF
# a comment
work_dir: $WORK_DIR
default_target: acceptance
targets:
  # the targets
  acceptance:
    database: "host=/nowhere dbname=a"
    blob_dir: $BLOB_DIR
    plan_quota: 1GB
  prod-eu.2:
    database: "host=/nowhere dbname=b"
    blob_dir: $BLOB_DIR-2
    plan_quota: 1GB

  "test":
    database: "host=/nowhere dbname=c"
    blob_dir: $BLOB_DIR-3
    plan_quota: 1GB
backup_keep: 3
EOF
targets=$'acceptance\nprod-eu.2\ntest'
assert_offers "$targets" restore-worker -c "$CASE_DIR/c.yaml" restore --target ''
assert_offers "$targets" restore-worker --config "$CASE_DIR/c.yaml" backup --target ''
assert_offers "$targets" restore-worker --config = "$CASE_DIR/c.yaml" check --target ''
assert_offers "$targets" restore-worker list -c "$CASE_DIR/c.yaml" --target ''
RESTORE_WORKER_CONFIG=$CASE_DIR/c.yaml complete_words restore-worker check --target = ''
assert_eq "targets after --target = (split at =)" "$targets" "$COMPLETED"
assert_offers prod-eu.2 restore-worker -c "$CASE_DIR/c.yaml" submit --target pr
RESTORE_WORKER_CONFIG=$CASE_DIR/c.yaml complete_words restore-worker restore --target ''
assert_eq "targets from \$RESTORE_WORKER_CONFIG" "$targets" "$COMPLETED"
assert_offers "" restore-worker -c "$CASE_DIR/no-such.yaml" restore --target ''
# Each is a target the program accepts: check --target NAME with no database to reach fails its
# checks (exit 1), an unknown target is a configuration error (exit 2).
for t in $targets; do
	run_worker -c "$CASE_DIR/c.yaml" check --target "$t"
	[ "$RW_STATUS" = 1 ] || fail "check --target $t: exit $RW_STATUS (expected 1: a known target whose database is not there)"
done
run_worker -c "$CASE_DIR/c.yaml" check --target prod
assert_exit 2
# config.yaml.example's targets.
assert_offers $'acceptance\ntest' restore-worker -c "$SRC/config.yaml.example" restore --target ''
case_end

case_begin archives
mkdir -p "$CASE_DIR/sub" "$CASE_DIR/backups/acceptance" "$CASE_DIR/spool/previous/acceptance" "$CASE_DIR/backups/test"
touch "$CASE_DIR/a.tar.gz" "$CASE_DIR/b.tgz" "$CASE_DIR/c.tar" "$CASE_DIR/d.backup" "$CASE_DIR/notes.txt" \
	"$CASE_DIR/sub/e.tar.gz" \
	"$CASE_DIR/backups/acceptance/files_and_database-0a1b2c3d-202612060230.tar.gz" \
	"$CASE_DIR/backups/acceptance/notes.txt" \
	"$CASE_DIR/spool/previous/acceptance/database-1a2b3c4d-202612051200.backup" \
	"$CASE_DIR/backups/test/database-2b3c4d5e-202612040100.backup"
cat >"$CASE_DIR/c.yaml" <<EOF
spool_dir: $CASE_DIR/spool
work_dir: $WORK_DIR
backup_dir: '$CASE_DIR/backups'   # a comment
targets:
  acceptance:
    blob_dir: $BLOB_DIR
EOF
assert_includes "a.tar.gz b.tgz c.tar d.backup sub latest" restore-worker restore ''
assert_excludes "notes.txt c.yaml" restore-worker restore ''
assert_includes "a.tar.gz sub" restore-worker submit --target acceptance ''
assert_includes "a.tar.gz sub" restore-worker inspect ''
assert_excludes "latest" restore-worker inspect ''
assert_offers sub/e.tar.gz restore-worker restore sub/
assert_offers latest restore-worker restore --db-only la
# Once the archive is given: the options, no more archives.
assert_includes "--json --dry-run" restore-worker restore a.tar.gz ''
assert_excludes "a.tar.gz latest" restore-worker restore a.tar.gz ''
# The backups by name, of the target given, else of every target.
assert_offers $'files_and_database-0a1b2c3d-202612060230.tar.gz' \
	restore-worker -c "$CASE_DIR/c.yaml" restore --target acceptance files_
assert_offers $'database-1a2b3c4d-202612051200.backup\ndatabase-2b3c4d5e-202612040100.backup' \
	restore-worker -c "$CASE_DIR/c.yaml" submit database-
assert_offers $'database-1a2b3c4d-202612051200.backup' \
	restore-worker -c "$CASE_DIR/c.yaml" submit --target acceptance database-
case_end

case_begin job_ids
SPOOL=$CASE_DIR/spool
mkdir -p "$SPOOL"/{incoming/acceptance,active,done,failed,tmp,locks}
ACTIVE=11111111-1111-4111-8111-111111111111
DONE=22222222-2222-4222-8222-222222222222
FAILED=33333333-3333-4333-8333-333333333333
QUEUED=44444444-4444-4444-8444-444444444444
mkdir "$SPOOL/active/$ACTIVE" "$SPOOL/done/$DONE" "$SPOOL/failed/$FAILED"
touch "$SPOOL/incoming/submit-$QUEUED.yaml" "$SPOOL/incoming/acceptance/app.tar.gz"
cat >"$CASE_DIR/c.yaml" <<EOF
spool_dir: "$SPOOL"
work_dir: $WORK_DIR
targets:
  acceptance:
    blob_dir: $BLOB_DIR
EOF
assert_offers "$(printf '%s\n' $ACTIVE $DONE $FAILED $QUEUED | sort)" restore-worker -c "$CASE_DIR/c.yaml" status ''
assert_offers "$(printf '%s\n' $ACTIVE $QUEUED | sort)" restore-worker -c "$CASE_DIR/c.yaml" cancel ''
assert_offers "$DONE" restore-worker status -c "$CASE_DIR/c.yaml" 2
assert_excludes "$ACTIVE $QUEUED" restore-worker -c "$CASE_DIR/c.yaml" cancel "$ACTIVE" ''
case_end

finish
