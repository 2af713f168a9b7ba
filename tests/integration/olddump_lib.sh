# shellcheck shell=bash
# olddump_lib.sh - old-format dumps for the integration tests, written by tests/tools/olddump.
#
# Sourced after lib.sh (it uses PGBIN, sql and the cluster lib.sh started). pg_dump 15 cannot
# write what pg_dump 8.x, 9.x and 10 wrote (archive versions 1.10 to 1.13, with SCHEMA public,
# plpgsql and their comments in the TOC), so olddump writes such dumps, and these helpers say
# what restoring one must give: the tables' row counts and the md5 of their COPY text.
#
# Environment: OLDDUMP, the olddump binary (set by tests/CMakeLists.txt).
#
#   make_old_dump VERSION PROFILE OUT [olddump options...]
#       writes OUT ("-" as PROFILE: the profile that wrote VERSION), its COPY text into
#       OUT.data/ and olddump's summary into OUT.summary
#   old_dump_tables OUT            the tables OUT holds, one a line
#   old_dump_rows OUT TABLE        the rows OUT holds for TABLE
#   old_dump_toc_entries OUT       the number of TOC entries
#   old_dump_decompressed OUT      what inspect must report as decompressed_bytes
#   old_dump_expected_state OUT    "table NAME ROWS MD5" per table and "sequence NAME VALUE"
#   old_dump_db_state DB OUT       the same lines, read from database DB
#   old_dump_check_db DB OUT       prints the differences; fails unless DB holds OUT's data
#   old_dump_restore_errors ERR    pg_restore -v's stderr ERR as "TOC ENTRY | ERROR" lines
#
# Profiles (olddump --help): pg83 (1.10), pg84 (1.11), pg96 (1.12), pg10 (1.13), pg14 (1.14).

if [ -z "${OLDDUMP:-}" ] || [ ! -x "$OLDDUMP" ]; then
	echo "olddump_lib.sh: OLDDUMP must name the olddump binary (got '${OLDDUMP:-}')" >&2
	exit 2
fi

# make_old_dump: write old-format dump $3 of archive version $1 with profile $2 (options follow).
make_old_dump() {
	local version=$1 profile=$2 out=$3 args=()
	shift 3
	[ "$profile" = - ] || args+=(--profile "$profile")
	rm -rf "$out.data"
	mkdir -p "$out.data"
	"$OLDDUMP" --version "$version" "${args[@]}" -o "$out" --data-dir "$out.data" "$@" >"$out.summary"
}

# old_dump_summary_value: the value after key $2 in dump $1's summary.
old_dump_summary_value() {
	awk -v key="$2" '$1 == key { print $2 }' "$1.summary"
}

old_dump_tables() {
	awk '$1 == "table" { print $2 }' "$1.summary"
}

old_dump_rows() {
	awk -v t="$2" '$1 == "table" && $2 == t { print $4 }' "$1.summary"
}

old_dump_toc_entries() {
	old_dump_summary_value "$1" toc_entries
}

old_dump_decompressed() {
	old_dump_summary_value "$1" decompressed_bytes
}

# old_dump_expected_state: what a database restored from dump $1 must hold, table by table.
old_dump_expected_state() {
	local out=$1 table
	for table in $(old_dump_tables "$out"); do
		echo "table $table $(old_dump_rows "$out" "$table") $(md5sum <"$out.data/$table.copy" | cut -d' ' -f1)"
	done
	awk '$1 == "sequence" { print "sequence " $2 " " $3 }' "$out.summary"
}

# old_dump_db_state: the same lines for database $1, for the tables of dump $2. The checksum is
# the md5 of what the server's COPY ... TO STDOUT writes, ordered by the first column (olddump
# writes rows in that order; a table's physical order after COPY is not guaranteed), which is
# the COPY text the dump holds.
old_dump_db_state() {
	local db=$1 out=$2 table rows sum seq
	for table in $(old_dump_tables "$out"); do
		rows=$(sql "$db" "select count(*) from public.\"$table\"" 2>/dev/null) || rows=missing
		sum=$(sql "$db" "copy (select * from public.\"$table\" order by 1) to stdout" 2>/dev/null |
			md5sum | cut -d' ' -f1)
		echo "table $table $rows $sum"
	done
	for seq in $(awk '$1 == "sequence" { print $2 }' "$out.summary"); do
		echo "sequence $seq $(sql "$db" "select last_value from public.\"$seq\"" 2>/dev/null || echo missing)"
	done
}

# old_dump_check_db: print how database $1 differs from dump $2's content; fail if it does.
old_dump_check_db() {
	diff <(old_dump_expected_state "$2") <(old_dump_db_state "$1" "$2") | sed -n '/^[<>]/p'
	return "${PIPESTATUS[0]}"
}

# old_dump_restore_errors: the errors in pg_restore's stderr $1, one "TOC ENTRY | ERROR" line
# each ("-" when pg_restore named no TOC entry). pg_restore 15 names the entry ("from TOC entry
# 3; 2615 2200 SCHEMA public postgres") only with -v.
old_dump_restore_errors() {
	awk '
		/^pg_restore: from TOC entry / { sub(/^pg_restore: from TOC entry /, ""); entry = $0; next }
		/^pg_restore: error: / {
			msg = $0
			sub(/^pg_restore: error: (could not execute query: )?/, "", msg)
			print (entry == "" ? "-" : entry) " | " msg
			entry = ""
		}' "$1"
}
