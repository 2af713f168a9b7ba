#!/usr/bin/env bash
# file_graph.sh - the graph of which source file calls which, from the symbols each object file
# defines and uses (nm), and whether it has a loop (issue 19: none between files of restore/ and
# worker/). Each object file is a node, named by its source file (dump.c for dump.c.o); an edge
# runs from a file to each other file defining a function or variable it uses.
#
#   file_graph.sh OBJECT...          exit 0 with "ok - no loop between N files (E edges)",
#                                    1 listing each loop tsort finds, 2 when nm fails
#   file_graph.sh --edges OBJECT...  print the edges, "user.c defining.c", one per line
set -euo pipefail

edges_only=0
if [ "${1:-}" = --edges ]; then
	edges_only=1
	shift
fi
[ $# -gt 0 ] || { echo "usage: file_graph.sh [--edges] OBJECT..." >&2; exit 2; }

# nm -A prints "object:value type symbol" for what an object defines and "object: U symbol"
# for what it uses; one awk pass joins them.
listing=$(nm -A "$@") || { echo "file_graph.sh: nm cannot read the objects" >&2; exit 2; }
edges=$(awk '
	{
		node = $1; sub(/:[^:]*$/, "", node); sub(/.*\//, "", node); sub(/\.o$/, "", node)
		if ($2 == "U") used[node, $3] = 1
		else if ($2 ~ /^[TDBR]$/) defined_in[$3] = node
	}
	END {
		for (key in used) {
			split(key, part, SUBSEP)
			target = defined_in[part[2]]
			if (target != "" && target != part[1])
				print part[1], target
		}
	}' <<<"$listing" | sort -u)
if [ "$edges_only" = 1 ]; then
	echo "$edges"
	exit 0
fi
if [ -z "$edges" ]; then
	echo "not ok - no file calls another: nm's listing was not understood" >&2
	exit 1
fi
loops=$(tsort <<<"$edges" 2>&1 >/dev/null || true)
if [ -n "$loops" ]; then
	echo "not ok - the files call each other in a loop (each loop as tsort lists it; fix by moving"
	echo "#   what both use into a lower file, or with a callback):"
	sed 's/^/#   /' <<<"$loops"
	exit 1
fi
echo "ok - no loop between $# files ($(wc -l <<<"$edges") edges)"
