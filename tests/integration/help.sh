#!/usr/bin/env bash
# help.sh - the help tells the truth: restore-worker --help lists every command the program
# accepts, one line each, and the README's commands; restore-worker COMMAND --help shows that
# command's usage and exactly the options it accepts; an unknown command or option is refused
# with exit status 2 and a message (the two lines README shows); -c CONFIG is taken after the
# command too; the exit statuses are README's words; scripts/setup-host --help shows its usage.
#
# Nothing here needs the database; lib.sh is sourced for its case bookkeeping.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

README=$TESTS_DIR/../README.md

# section: the lines of file $2 from the line "$1" to the next blank line, both left out.
section() {
	sed -n "/^$1\$/,/^\$/p" "$2" | sed '1d;$d'
}

# help_commands: the commands in --help's "Commands:" section (in file $1), one a line.
help_commands() {
	section Commands: "$1" | sed -n 's/^  \([a-z][a-z-]*\)  *[^ ].*$/\1/p'
}

# help_options: the options in COMMAND --help's "Options:" section (in file $1), one a line, as
# "--name" or "--name=VALUE" for those that take a value; -c/--config, which every command
# takes (case config_after_command), is left out.
help_options() {
	section Options: "$1" | grep -v -e '--config' |
		sed -n 's/^  \(-., \)\{0,1\}\(--[a-z][a-z-]*\)\( \([A-Z][A-Z]*\)\)\{0,1\}  .*$/\2 \4/p' |
		while read -r name value; do
			if [ -n "$value" ]; then echo "$name=x"; else echo "$name"; fi
		done
}

# readme_synopsis: the lines of README's "## Command line" block that start with restore-worker.
readme_synopsis() {
	sed -n '/^## Command line$/,/^## /p' "$README" | sed -n '/^```$/,/^```$/p' |
		grep '^restore-worker '
}

# readme_commands: the commands README's synopsis documents, one a line.
readme_commands() {
	readme_synopsis | sed 's/^restore-worker //; s/\[[^]]*\] *//g' | awk '{print $1}' |
		grep -v -e '^-' -e '^COMMAND$' | sort -u
}

# readme_options: the options README's synopsis gives command $1, one a line, sorted.
readme_options() {
	readme_synopsis | sed 's/\[-c CONFIG\] //' | awk -v c="$1" '$2 == c' |
		grep -o -e '--[a-z][a-z-]*' | sort -u || true
}

case_begin top_level_help
run_worker --help
assert_exit 0
[ -s "$CASE_DIR/err" ] && fail "--help wrote to stderr"
cp "$CASE_DIR/out" "$TEST_ROOT/help.txt"
help_commands "$TEST_ROOT/help.txt" >"$TEST_ROOT/help.commands"
[ -s "$TEST_ROOT/help.commands" ] || fail "--help lists no commands"
assert_eq "lines of the Commands section (one per command)" \
	"$(wc -l <"$TEST_ROOT/help.commands")" "$(section Commands: "$TEST_ROOT/help.txt" | wc -l)"
assert_eq "commands listed twice" "" "$(sort "$TEST_ROOT/help.commands" | uniq -d)"
run_worker -h
assert_exit 0
assert_same_file "-h (vs --help)" "$TEST_ROOT/help.txt" "$CASE_DIR/out"
case_end

case_begin readme_commands_in_help
readme_commands >"$CASE_DIR/readme.commands"
[ -s "$CASE_DIR/readme.commands" ] || fail "no commands found in README's synopsis"
sort "$TEST_ROOT/help.commands" >"$CASE_DIR/help.commands"
assert_same_file "commands in --help (vs README)" "$CASE_DIR/readme.commands" "$CASE_DIR/help.commands"
case_end

# Every command --help lists is one the program accepts, with a help of its own that lists
# the options it accepts, and no other.
all_options=$(
	for cmd in $(cat "$TEST_ROOT/help.commands"); do
		"$RESTORE_WORKER" "$cmd" --help >"$TEST_ROOT/help.$cmd" 2>/dev/null || true
		help_options "$TEST_ROOT/help.$cmd"
	done | sort -u
)
for cmd in $(cat "$TEST_ROOT/help.commands"); do
	case_begin "command_help_$cmd"
	run_worker "$cmd" --help
	assert_exit 0
	[ -s "$CASE_DIR/err" ] && fail "$cmd --help wrote to stderr"
	first=$(head -n 1 "$CASE_DIR/out")
	[[ $first =~ ^Usage:\ restore-worker\ (\[-c\ CONFIG\]\ )?$cmd( |$) ]] ||
		fail "$cmd --help does not begin with its usage: '$first'"
	grep -qxF "  ${first#Usage: }" "$TEST_ROOT/help.txt" ||
		fail "--help does not show $cmd's usage line '${first#Usage: }'"
	run_worker "$cmd" -h
	assert_exit 0
	assert_eq "$cmd -h (vs --help)" "$first" "$(head -n 1 "$CASE_DIR/out")"
	run_worker -c "$CASE_DIR/no-such-config.yaml" "$cmd" --help
	assert_exit 0
	help_options "$TEST_ROOT/help.$cmd" >"$CASE_DIR/options"
	grep -qx -e '--help' "$CASE_DIR/options" || fail "$cmd --help does not list --help"
	for opt in $all_options --no-such-option; do
		run_worker "$cmd" "$opt" --help
		if grep -qxF -e "$opt" "$CASE_DIR/options"; then
			[ "$RW_STATUS" = 0 ] || fail "$cmd refuses $opt, which its help lists (exit $RW_STATUS)"
		else
			[ "$RW_STATUS" = 2 ] || fail "$cmd accepts $opt, which its help does not list (exit $RW_STATUS)"
			grep -q "unknown option ${opt%%=*}" "$CASE_DIR/err" ||
				fail "$cmd $opt: no 'unknown option' message"
		fi
	done
	if readme_synopsis | grep -q "^restore-worker \(\[-c CONFIG\] \)\{0,1\}$cmd\( \|$\)"; then
		assert_eq "$cmd's options in README (vs its --help)" "$(readme_options "$cmd")" \
			"$(grep -v -x -e '--help' "$CASE_DIR/options" | sed 's/=x$//' | sort -u)"
	fi
	case_end
done

case_begin unknown_command
for args in "frobnicate" "frobnicate --help" "--config"; do
	run_worker $args
	assert_exit 2
	[ -s "$CASE_DIR/out" ] && fail "'$args' wrote to stdout"
	assert_eq "lines on stderr for '$args'" 2 "$(wc -l <"$CASE_DIR/err")"
done
run_worker frobnicate
grep -q "unknown command 'frobnicate'" "$CASE_DIR/err" || fail "no 'unknown command' message"
run_worker
assert_exit 2
grep -q "no command given" "$CASE_DIR/err" || fail "no 'no command given' message"
case_end

# The exit statuses: the README's table says the same words as --help and restore --help.
case_begin exit_statuses_as_in_readme
sed -n '/^## Command line$/,/^## /p' "$README" | sed -n 's/^| \([0-9]\) | \(.*\) |$/\1  \2/p' \
	>"$CASE_DIR/readme.exit"
[ "$(wc -l <"$CASE_DIR/readme.exit")" -ge 4 ] || fail "no exit status table in README's Command line"
for args in --help "restore --help"; do
	# shellcheck disable=SC2086 # args are words
	run_worker $args
	# The lines after "Exit status:", each status on one line (continuation lines joined).
	sed -n '/^Exit status:$/,$p' "$CASE_DIR/out" | sed '1d' |
		awk '/^  [0-9]  / { if (line != "") print line; line = substr($0, 3); next }
		     /^     [^ ]/ { sub(/^ +/, ""); line = line " " $0; next }
		     END { if (line != "") print line }' >"$CASE_DIR/help.exit"
	assert_same_file "exit statuses of '$args' (vs README)" "$CASE_DIR/readme.exit" "$CASE_DIR/help.exit"
done
case_end

# -c CONFIG (--config CONFIG), which every command's help lists, is taken after the command too,
# and wins over one before it.
case_begin config_after_command
for form in "--config $CASE_DIR/after.yaml" "--config=$CASE_DIR/after.yaml"; do
	# shellcheck disable=SC2086 # form is words
	run_worker status $form --help
	[ "$RW_STATUS" = 0 ] || fail "status $form --help: exit $RW_STATUS"
done
for cmd in $(cat "$TEST_ROOT/help.commands"); do
	run_worker "$cmd" -c "$CASE_DIR/after.yaml" --help
	[ "$RW_STATUS" = 0 ] || fail "$cmd -c after.yaml --help: exit $RW_STATUS"
	operand=
	grep -q "^Usage: .* [A-Z][A-Z_]*\$" "$TEST_ROOT/help.$cmd" && operand=$CASE_DIR/no-such-archive.tar.gz
	# shellcheck disable=SC2086 # no operand: no word
	run_worker -c "$CASE_DIR/before.yaml" "$cmd" -c "$CASE_DIR/after.yaml" $operand
	assert_exit 2
	grep -q "unknown option" "$CASE_DIR/err" && fail "$cmd refuses -c after it"
	grep -qF "$CASE_DIR/after.yaml" "$CASE_DIR/err" ||
		fail "$cmd -c after.yaml: no complaint about the missing after.yaml"
	grep -qF "$CASE_DIR/before.yaml" "$CASE_DIR/err" && fail "$cmd read before.yaml, not the -c after it"
done
case_end

# A usage error is the two lines README's Command line shows: what is wrong, where to look.
case_begin usage_error_as_in_readme
run_worker restore --bogus
assert_exit 2
sed -n '/^## Command line$/,/^## /p' "$README" | grep -A1 -x "restore-worker: restore: unknown option --bogus" \
	>"$CASE_DIR/readme.usage" || fail "README's Command line shows no usage error"
assert_same_file "the usage error (vs README)" "$CASE_DIR/readme.usage" "$CASE_DIR/err"
case_end

# scripts/setup-host --help prints its usage (the header comment), not its code, and names
# every option it takes.
case_begin setup_host_help
SETUP_HOST=$TESTS_DIR/../scripts/setup-host
for opt in --help -h; do
	set +e
	"$SETUP_HOST" $opt >"$CASE_DIR/out" 2>"$CASE_DIR/err"
	RW_STATUS=$?
	set -e
	assert_exit 0
	grep -q "^Usage: scripts/setup-host \[" "$CASE_DIR/out" || fail "setup-host $opt shows no usage line"
	grep -v '^#' "$SETUP_HOST" | grep -vx '' | grep -qxFf "$CASE_DIR/out" &&
		fail "setup-host $opt prints lines of its code: $(grep -v '^#' "$SETUP_HOST" | grep -vx '' | grep -xFf "$CASE_DIR/out" | head -n 2 | tr '\n' ' ')"
done
for opt in $(grep -o '^[[:space:]]*\(-[a-z] | \)\{0,1\}--[a-z][a-z-]*)' "$SETUP_HOST" | grep -o -- '--[a-z-]*'); do
	grep -q -- "$opt" "$CASE_DIR/out" || fail "setup-host --help does not name $opt"
done
case_end

case_begin version
run_worker --version
assert_exit 0
grep -qx 'restore-worker [0-9][0-9.]*' "$CASE_DIR/out" || fail "--version prints '$(cat "$CASE_DIR/out")'"
case_end

finish
