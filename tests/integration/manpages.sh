#!/usr/bin/env bash
# manpages.sh - the man pages tell the truth and read cleanly.
#
# doc/restore-worker.1 names every command the program accepts (the "Commands:" of
# restore-worker --help, read as help.sh reads it): each has a SYNOPSIS line, rendered, that
# shows every option its COMMAND --help lists, and an entry (.It Cm COMMAND) in COMMANDS whose
# text names each of those options again (.Fl -OPTION, for --OPTION); its EXIT STATUS gives README's exit
# statuses in README's words. doc/restore-worker.yaml.5 has an entry (.It Cm KEY) for every
# configuration key the parser accepts, at its level: "Top-level keys", "Target keys", or a
# target's s3: and azure: mappings' "S3 keys" and "Azure keys" (the keys
# the program lists when it refuses an unknown one, as shipped_files.sh asks them, and every
# config_scalar_is(key, "...") of worker/config*.c). Both pages render without a message from
# mandoc -T lint (level warning) and from man --warnings, the groff run lintian makes.
#
# The other way round too: a command, option or key the pages document and the program does not
# accept fails the case.
#
# Nothing here needs the database; lib.sh is sourced for its case bookkeeping.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SRC=$TESTS_DIR/..
README=$SRC/README.md
PAGE1=$SRC/doc/restore-worker.1
PAGE5=$SRC/doc/restore-worker.yaml.5

if ! command -v mandoc >/dev/null; then
	echo "ok - manpages # SKIP mandoc is missing (scripts/deps installs it)"
	TESTS_FINISHED=1
	exit 77
fi

# section: the lines of file $2 from the line "$1" to the next blank line, both left out.
section() {
	sed -n "/^$1\$/,/^\$/p" "$2" | sed '1d;$d'
}

# help_commands: the commands in --help's "Commands:" section (file $1), one a line.
help_commands() {
	section Commands: "$1" | sed -n 's/^  \([a-z][a-z-]*\)  *[^ ].*$/\1/p'
}

# help_options: the long options in COMMAND --help's "Options:" section (file $1) but --config
# and --help, which every command takes, one a line.
help_options() {
	section Options: "$1" | grep -v -e '--config' -e '--help' |
		sed -n 's/^  \(-., \)\{0,1\}\(--[a-z][a-z-]*\).*$/\2/p' | sort -u
}

# render: page $1 as plain text (mandoc, overstrikes removed).
render() {
	mandoc -T ascii "$1" | sed 's/.\x08//g'
}

# rendered_section: the lines of rendered page $2 under heading $1 (up to the next heading).
rendered_section() {
	awk -v s="$1" '/^[A-Z]/ { inside = ($0 == s); next } inside' "$2"
}

# synopsis_entries: rendered page $1's SYNOPSIS, one line per "restore-worker ..." entry
# (wrapped lines joined).
synopsis_entries() {
	rendered_section SYNOPSIS "$1" | awk '
		/^ *restore-worker( |$)/ { if (line != "") print line; line = $0; sub(/^ +/, "", line); next }
		/^ *$/ { if (line != "") print line; line = ""; next }
		{ sub(/^ +/, " "); line = line $0 }
		END { if (line != "") print line }'
}

# synopsis_command: the command of a SYNOPSIS entry (stdin), or nothing for the forms without.
synopsis_command() {
	sed 's/^restore-worker //; s/^\[-c config\] //' | awk '$1 !~ /^-/ && $1 != "command" { print $1 }'
}

# source_block: the lines of mdoc file $2 from ".It Cm $1" to the next ".It Cm" or ".Sh".
source_block() {
	awk -v c="$1" '
		$0 ~ "^\\.It Cm " c "( |$)" { inside = 1; print; next }
		inside && /^\.(It Cm |Sh )/ { inside = 0 }
		inside' "$2"
}

# page_keys: the keys with an entry (.It Cm KEY) under ".Ss $1" of page $2, one a line.
page_keys() {
	awk -v s="$1" '/^\.S[hs] / { inside = ($0 == ".Ss " s); next }
		inside && /^\.It Cm [a-z_0-9]+( |$)/ { print $3 }' "$2" | sort -u
}

# note_extra: fail the case for the names of list $2 that list $3 (the program's) lacks: a page
# must not document what the program does not accept; $1 says what they are.
note_extra() {
	local extra
	extra=$(comm -23 "$2" "$3" | tr '\n' ' ')
	[ -z "$extra" ] || fail "$1 documented but not accepted by restore-worker: $extra"
}

case_begin commands_and_options
run_worker --help
assert_exit 0
help_commands "$CASE_DIR/out" | sort -u >"$TEST_ROOT/commands"
[ -s "$TEST_ROOT/commands" ] || fail "restore-worker --help lists no commands"
render "$PAGE1" >"$TEST_ROOT/page1.txt"
synopsis_entries "$TEST_ROOT/page1.txt" >"$CASE_DIR/synopsis"
[ -s "$CASE_DIR/synopsis" ] || fail "no SYNOPSIS entries in restore-worker(1)"
synopsis_command <"$CASE_DIR/synopsis" | sort -u >"$CASE_DIR/page.commands"
missing=$(comm -23 "$TEST_ROOT/commands" "$CASE_DIR/page.commands" | tr '\n' ' ')
[ -z "$missing" ] || fail "commands with no SYNOPSIS line in restore-worker(1): $missing"
note_extra commands "$CASE_DIR/page.commands" "$TEST_ROOT/commands"
checked=0
for cmd in $(cat "$TEST_ROOT/commands"); do
	"$RESTORE_WORKER" "$cmd" --help >"$CASE_DIR/help.$cmd" 2>/dev/null || fail "$cmd --help failed"
	help_options "$CASE_DIR/help.$cmd" >"$CASE_DIR/options.$cmd"
	grep "^restore-worker \(\[-c config\] \)\{0,1\}$cmd\( \|$\)" "$CASE_DIR/synopsis" |
		grep -o -e '--[a-z][a-z-]*' | sort -u >"$CASE_DIR/page.options.$cmd" || true
	missing=$(comm -23 "$CASE_DIR/options.$cmd" "$CASE_DIR/page.options.$cmd" | tr '\n' ' ')
	[ -z "$missing" ] || fail "restore-worker(1)'s SYNOPSIS of $cmd lacks $missing"
	note_extra "$cmd's options" "$CASE_DIR/page.options.$cmd" "$CASE_DIR/options.$cmd"
	source_block "$cmd" "$PAGE1" >"$CASE_DIR/block.$cmd"
	if [ ! -s "$CASE_DIR/block.$cmd" ]; then
		fail "restore-worker(1) has no entry '.It Cm $cmd' in COMMANDS"
		continue
	fi
	for opt in $(cat "$CASE_DIR/options.$cmd"); do
		grep -q "Fl ${opt#-}\( \|\$\)" "$CASE_DIR/block.$cmd" ||
			fail "restore-worker(1)'s entry of $cmd does not describe $opt"
		checked=$((checked + 1))
	done
done
[ "$checked" -ge 5 ] || fail "only $checked options found in the commands' help"
# The options every command takes, and --version.
for opt in -c --config -h --help -V --version; do
	grep -q "Fl ${opt#-}\( \|\$\)\|Fl ${opt}\( \|\$\)" "$PAGE1" ||
		fail "restore-worker(1) does not name $opt"
done
case_end

case_begin exit_statuses_as_in_readme
sed -n '/^## Command line$/,/^## /p' "$README" | sed -n 's/^| \([0-9]\) | \(.*\) |$/\1 \2/p' \
	>"$CASE_DIR/readme.exit"
[ "$(wc -l <"$CASE_DIR/readme.exit")" -ge 4 ] || fail "no exit status table in README's Command line"
rendered_section "EXIT STATUS" "$TEST_ROOT/page1.txt" | tr -s ' \n' '  ' >"$CASE_DIR/page.exit"
while IFS= read -r line; do
	grep -qF -- "$line" "$CASE_DIR/page.exit" || fail "restore-worker(1)'s EXIT STATUS lacks '$line'"
done <"$CASE_DIR/readme.exit"
case_end

case_begin every_config_key
for level in top target s3 azure; do
	expected_keys $level >"$TEST_ROOT/accepted.$level"
	[ "$(wc -l <"$TEST_ROOT/accepted.$level")" -ge 3 ] ||
		fail "no list of $level keys in the unknown-key error: $(cat "$TEST_ROOT/unknown-$level.err")"
done
page_keys "Top-level keys" "$PAGE5" >"$CASE_DIR/page.top"
page_keys "Target keys" "$PAGE5" >"$CASE_DIR/page.target"
page_keys "S3 keys" "$PAGE5" >"$CASE_DIR/page.s3"
page_keys "Azure keys" "$PAGE5" >"$CASE_DIR/page.azure"
for level in top target s3 azure; do
	missing=$(comm -23 "$TEST_ROOT/accepted.$level" "$CASE_DIR/page.$level" | tr '\n' ' ')
	[ -z "$missing" ] || fail "restore-worker.yaml(5) has no $level-level entry for: $missing"
	note_extra "$level-level keys" "$CASE_DIR/page.$level" "$TEST_ROOT/accepted.$level"
done
grep -ho 'config_scalar_is(key, "[a-z_0-9]*")' "$SRC"/worker/config*.c |
	sed 's/.*"\(.*\)")/\1/' | sort -u >"$CASE_DIR/parsed"
[ -s "$CASE_DIR/parsed" ] || fail "no config_scalar_is(key, \"...\") found in worker/config*.c"
sort -u "$CASE_DIR"/page.{top,target,s3,azure} >"$CASE_DIR/page.all"
missing=$(comm -23 "$CASE_DIR/parsed" "$CASE_DIR/page.all" | tr '\n' ' ')
[ -z "$missing" ] || fail "keys worker/config*.c reads that restore-worker.yaml(5) lacks: $missing"
case_end

# Both pages read cleanly: mandoc's lint and groff as man(1) and lintian run it.
case_begin pages_render_without_warnings
for page in "$PAGE1" "$PAGE5"; do
	mandoc -T lint -W warning "$page" >"$CASE_DIR/lint" 2>&1 || true
	[ -s "$CASE_DIR/lint" ] && fail "mandoc -T lint: $(head -n 5 "$CASE_DIR/lint" | tr '\n' ' ')"
	if command -v man >/dev/null; then
		LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" \
			>"$CASE_DIR/groff.out" 2>"$CASE_DIR/groff.err" || fail "man -l $(basename "$page") failed"
		[ -s "$CASE_DIR/groff.err" ] && fail "man --warnings $(basename "$page"): $(head -n 5 "$CASE_DIR/groff.err" | tr '\n' ' ')"
		[ -s "$CASE_DIR/groff.out" ] || fail "man -l $(basename "$page") printed nothing"
	else
		fail "man is missing (scripts/deps installs man-db)"
	fi
	grep -q '^NAME' <(render "$page") || fail "$(basename "$page") renders no NAME section"
done
case_end

finish
