# shellcheck shell=bash
# object_lib.sh - object storage servers for the integration tests, sourced after lib.sh.
#
# s3_start starts s3rver (S3) and azure_start azurite (Azure Blob), from the folder that
# scripts/object-servers fetched (and caches: it fetches nothing the second time), on a free port
# of 127.0.0.1, as the user running the test, their data under TEST_ROOT; both stop when the
# script exits (the EXIT trap, then lib.sh's cleanup). OBJTOOL is the test tool that drives the
# object client (tests/tools/objtool.c; set by tests/CMakeLists.txt, else found beside
# RESTORE_WORKER); objtool_s3 and objtool_azure run it on the started server's bucket or container.
#
#   s3_start [BUCKET]     exports RW_S3_ENDPOINT, RW_S3_REGION, RW_S3_BUCKET (default files),
#                         RW_S3_DIR (s3rver's data folder: <bucket>/<key>._S3rver_object), and
#                         AWS_ACCESS_KEY_ID=S3RVER, AWS_SECRET_ACCESS_KEY=S3RVER (s3rver's)
#   azure_start [CONTAINER]  exports RW_AZ_ENDPOINT, RW_AZ_ACCOUNT=devstoreaccount1, RW_AZ_KEY_FILE
#                         (azurite's published development key, in a file), RW_AZ_CONTAINER
#                         (default files, created)
#
# s3rver does not check signatures (it refuses an unknown access key id); azurite checks
# SharedKey and SAS signatures.

OBJTOOL=${OBJTOOL:-$(dirname "$RESTORE_WORKER")/tests/objtool}
[ -x "$OBJTOOL" ] || { echo "object_lib.sh: OBJTOOL must name the objtool binary (got '$OBJTOOL')" >&2; exit 2; }
command -v node >/dev/null || { echo "object_lib.sh: node is missing (run scripts/object-servers)" >&2; exit 2; }
OBJECT_SERVER_PIDS=()
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

# object_cleanup: the EXIT trap: stop the servers this script started, then lib.sh's cleanup.
object_cleanup() {
	local status=$? pid
	for pid in "${OBJECT_SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${OBJECT_SERVER_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	set +e
	(exit "$status") # lib_cleanup takes the status from $?
	lib_cleanup
}
trap object_cleanup EXIT

# object_servers_ready: set OBJECT_SERVERS_DIR to the folder scripts/object-servers made ready
# (once; exit the script if it cannot: the message says why).
object_servers_ready() {
	[ -n "${OBJECT_SERVERS_DIR:-}" ] && return 0
	if ! OBJECT_SERVERS_DIR=$("$TESTS_DIR/../scripts/object-servers" 2>"$TEST_ROOT/object-servers.err"); then
		echo "object_lib.sh: the object servers are not available: $(tail -n 1 "$TEST_ROOT/object-servers.err")" >&2
		exit 1
	fi
}

# object_server_port: wait (20 s at most) until server $1 (pid $2) writes the line matching sed
# expression $4 (printing the port) into log $3; print the port, or fail and return 1.
object_server_port() {
	local name=$1 pid=$2 log=$3 expr=$4 port polls=0
	while :; do
		port=$(sed -n "$expr" "$log" 2>/dev/null | head -n 1)
		[ -n "$port" ] && { echo "$port"; return 0; }
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "object_lib.sh: $name exited before listening: $(tail -n 3 "$log" | tr '\n' ' ')" >&2
			return 1
		fi
		if [ "$polls" -ge 200 ]; then
			echo "object_lib.sh: $name was not listening after 20 s: $(tail -n 3 "$log" | tr '\n' ' ')" >&2
			return 1
		fi
		sleep 0.1
		polls=$((polls + 1))
	done
}

# s3_start: start s3rver with bucket $1 (default files).
s3_start() {
	local dir port pid
	object_servers_ready
	dir=$OBJECT_SERVERS_DIR
	export RW_S3_BUCKET=${1:-files} RW_S3_REGION=us-east-1 RW_S3_DIR=$TEST_ROOT/s3rver
	mkdir -p "$RW_S3_DIR"
	node "$dir/node_modules/s3rver/bin/s3rver.js" -d "$RW_S3_DIR" -a 127.0.0.1 -p 0 \
		--configure-bucket "$RW_S3_BUCKET" >"$TEST_ROOT/s3rver.log" 2>&1 &
	pid=$!
	OBJECT_SERVER_PIDS+=("$pid")
	port=$(object_server_port s3rver "$pid" "$TEST_ROOT/s3rver.log" 's/^S3rver listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p') ||
		return 1
	export RW_S3_ENDPOINT=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	unset AWS_SESSION_TOKEN
}

# azure_start: start azurite's blob service with container $1 (default files), created.
azure_start() {
	local dir port pid
	object_servers_ready
	dir=$OBJECT_SERVERS_DIR
	export RW_AZ_ACCOUNT=devstoreaccount1 RW_AZ_CONTAINER=${1:-files} RW_AZ_KEY_FILE=$TEST_ROOT/azurite.key
	mkdir -p "$TEST_ROOT/azurite"
	(umask 077 && echo "$AZURITE_KEY" >"$RW_AZ_KEY_FILE")
	node "$dir/node_modules/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 --blobPort 0 \
		-l "$TEST_ROOT/azurite" --disableTelemetry --silent >"$TEST_ROOT/azurite.log" 2>&1 &
	pid=$!
	OBJECT_SERVER_PIDS+=("$pid")
	port=$(object_server_port azurite "$pid" "$TEST_ROOT/azurite.log" \
		's/.*successfully listens on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p') || return 1
	export RW_AZ_ENDPOINT=http://127.0.0.1:$port/$RW_AZ_ACCOUNT
	objtool_azure mkbucket || { echo "object_lib.sh: cannot create azurite's container $RW_AZ_CONTAINER" >&2; return 1; }
}

# objtool_split: split the arguments into OBJTOOL_OPTS (the leading options, which objtool wants
# before the service) and OBJTOOL_ARGS (the command and its arguments).
objtool_split() {
	OBJTOOL_OPTS=()
	while [ $# -gt 0 ] && [[ $1 == --* ]]; do
		OBJTOOL_OPTS+=("$1")
		case $1 in --sse | --stats) ;; *) OBJTOOL_OPTS+=("$2"); shift ;; esac
		shift
	done
	OBJTOOL_ARGS=("$@")
}

# objtool_s3: run objtool on s3rver's bucket (options, then the command and its arguments).
objtool_s3() {
	objtool_split "$@"
	"$OBJTOOL" "${OBJTOOL_OPTS[@]}" s3 "$RW_S3_ENDPOINT" "$RW_S3_REGION" "$RW_S3_BUCKET" \
		"${OBJTOOL_ARGS[@]}"
}

# objtool_azure: run objtool on azurite's container with the development key (options first).
objtool_azure() {
	objtool_split "$@"
	[[ " ${OBJTOOL_OPTS[*]} " == *" --key-file "* || " ${OBJTOOL_OPTS[*]} " == *" --sas-file "* ]] ||
		OBJTOOL_OPTS+=(--key-file "$RW_AZ_KEY_FILE")
	"$OBJTOOL" "${OBJTOOL_OPTS[@]}" azure "$RW_AZ_ENDPOINT" "$RW_AZ_ACCOUNT" "$RW_AZ_CONTAINER" \
		"${OBJTOOL_ARGS[@]}"
}

# Shared by the tests that drive objtool (objclient.sh, s3_swift.sh): the files they upload, and
# the cases each service runs (objtool_cases).

# objtool_fixtures: make the files the cases upload, in F.
objtool_fixtures() {
	F=$TEST_ROOT/files
	mkdir -p "$F"
	echo "small file" >"$F/small"
	head -c 100000 /dev/urandom >"$F/medium"
	: >"$F/empty"
	mkdir -p "$F/many"
	for i in $(seq 10 49); do
		echo "file $i" >"$F/many/f$i"
	done
	head -c $((20 * 1024 * 1024 + 12345)) /dev/urandom >"$F/big"
	WEIRD='app/dir/a name+with=odd&chars;é'
}

# md5_of: the hex MD5 of file $1.
md5_of() {
	md5sum "$1" | cut -d' ' -f1
}

# ls_line: the line objtool ls prints for object $1 holding file $2.
ls_line() {
	printf '%s\t%s\t%s\n' "$1" "$(stat -c %s "$2")" "$(md5_of "$2")"
}

# run_tool: run objtool for service $1 (s3 or azure) with the rest as arguments, its stdout and
# stderr in CASE_DIR/out and CASE_DIR/err, its status in TOOL_STATUS.
run_tool() {
	local service=$1
	shift
	set +e
	"objtool_$service" "$@" >"$CASE_DIR/out" 2>"$CASE_DIR/err"
	TOOL_STATUS=$?
	set -e
}

# tool_ok: run_tool, and fail the case unless it succeeded.
tool_ok() {
	run_tool "$@"
	[ "$TOOL_STATUS" = 0 ] || fail "objtool ${*:2} exited $TOOL_STATUS: $(head -c 400 "$CASE_DIR/err")"
}

# assert_object: fail unless object $2 of service $1 holds exactly file $3.
assert_object() {
	set +e
	"objtool_$1" get "$2" >"$CASE_DIR/got" 2>"$CASE_DIR/err"
	local status=$?
	set -e
	[ "$status" = 0 ] || fail "get $2 exited $status: $(head -c 400 "$CASE_DIR/err")"
	cmp -s "$CASE_DIR/got" "$3" || fail "object $2 does not hold $(basename "$3")"
}

# objtool_cases: the cases of service $1 (s3, azure, swift: objtool_$1 runs objtool on it), each
# named <service>_<case> (tests/integration/objclient.sh lists them); the bucket starts empty.
objtool_cases() {
	case_begin "${1}_put_get_ls"
	tool_ok "$1" put top "$F/small"
	tool_ok "$1" put app/acceptance/medium "$F/medium"
	tool_ok "$1" put "$WEIRD" "$F/empty"
	tool_ok "$1" ls
	{
		ls_line "$WEIRD" "$F/empty"
		ls_line app/acceptance/medium "$F/medium"
		ls_line top "$F/small"
	} | sort >"$CASE_DIR/expected"
	assert_same_file "ls" "$CASE_DIR/expected" "$CASE_DIR/out"
	assert_object "$1" top "$F/small"
	assert_object "$1" app/acceptance/medium "$F/medium"
	assert_object "$1" "$WEIRD" "$F/empty"
	tool_ok "$1" head app/acceptance/medium
	assert_eq "head" "$(ls_line app/acceptance/medium "$F/medium")" "$(cut -f1-3 "$CASE_DIR/out")"
	if [ "$1" = s3 ]; then
		# s3rver keeps an object's bytes in a plain file beside its metadata.
		cmp -s "$RW_S3_DIR/$RW_S3_BUCKET/app/acceptance/medium._S3rver_object" "$F/medium" ||
			fail "s3rver's file of app/acceptance/medium does not hold the source"
	fi
	case_end

	case_begin "${1}_prefix"
	tool_ok "$1" --page-size 1 ls
	"objtool_$1" ls >"$CASE_DIR/one_page"
	assert_same_file "ls in pages of one object" "$CASE_DIR/one_page" "$CASE_DIR/out"
	tool_ok "$1" ls app/
	{
		ls_line "$WEIRD" "$F/empty"
		ls_line app/acceptance/medium "$F/medium"
	} | sort >"$CASE_DIR/expected"
	assert_same_file "ls app/" "$CASE_DIR/expected" "$CASE_DIR/out"
	tool_ok "$1" ls app/acceptance/
	assert_eq "ls app/acceptance/" "$(ls_line app/acceptance/medium "$F/medium")" "$(cat "$CASE_DIR/out")"
	tool_ok "$1" ls nothing/
	assert_eq "ls nothing/" "" "$(cat "$CASE_DIR/out")"
	case_end

	case_begin "${1}_multipart"
	tool_ok "$1" --part-size $((5 * 1024 * 1024)) --max-connections 4 put app/big "$F/big"
	assert_object "$1" app/big "$F/big"
	tool_ok "$1" ls app/big
	if [ "$1" = azure ]; then
		assert_eq "ls app/big" "$(ls_line app/big "$F/big")" "$(cat "$CASE_DIR/out")"
	else
		assert_eq "ls app/big (name and size)" "$(ls_line app/big "$F/big" | cut -f1-2)" \
			"$(cut -f1-2 "$CASE_DIR/out")"
	fi
	case_end

	case_begin "${1}_copy"
	tool_ok "$1" cp app/acceptance/medium "app/copy of medium"
	assert_object "$1" "app/copy of medium" "$F/medium"
	assert_object "$1" app/acceptance/medium "$F/medium"
	case_end

	case_begin "${1}_rm"
	tool_ok "$1" rm "app/copy of medium" never-there
	tool_ok "$1" ls app/
	{
		ls_line "$WEIRD" "$F/empty"
		ls_line app/acceptance/medium "$F/medium"
		ls_line app/big "$F/big"
	} | sort >"$CASE_DIR/expected"
	assert_eq "ls after rm" "$(cut -f1-2 "$CASE_DIR/expected")" "$(cut -f1-2 "$CASE_DIR/out")"
	case_end

	# A read of one version (a backup's): its ETag reads it, another version's does not. s3rver
	# ignores If-Match (s3_swift.sh runs the case on Swift).
	if [ "$1" = s3 ]; then
		case_skip "${1}_if_match" "s3rver does not implement If-Match"
	else
		case_begin "${1}_if_match"
		tool_ok "$1" put app/versioned "$F/small"
		tool_ok "$1" head app/versioned
		etag=$(cut -f4 "$CASE_DIR/out")
		tool_ok "$1" get app/versioned "$etag"
		cmp -s "$CASE_DIR/out" "$F/small" || fail "get with the current ETag does not read the object"
		tool_ok "$1" put app/versioned "$F/medium"
		run_tool "$1" get app/versioned "$etag"
		assert_eq "get with the ETag of the version before: exit status" 3 "$TOOL_STATUS"
		grep -q 'no such object of that ETag' "$CASE_DIR/err" || fail "get with an old ETag: wrong message"
		tool_ok "$1" rm app/versioned
		case_end
	fi

	case_begin "${1}_many"
	tool_ok "$1" --max-connections 4 --stats putdir many/ "$F/many"
	assert_eq "requests" "requests	40" "$(grep '^requests' "$CASE_DIR/out")"
	assert_eq "most requests at once" "most_at_once	4" "$(grep '^most_at_once' "$CASE_DIR/out")"
	connections=$(sed -n 's/^connections\t//p' "$CASE_DIR/out")
	if [ "${connections:-0}" -lt 1 ] || [ "${connections:-0}" -gt 4 ]; then
		fail "40 requests over at most 4 connections took ${connections:-?} connections"
	fi
	tool_ok "$1" ls many/
	paste <(cd "$F/many" && stat -c '%n	%s' f*) <(cd "$F/many" && md5sum f* | cut -d' ' -f1) |
		sed 's|^|many/|' >"$CASE_DIR/expected"
	assert_same_file "ls many/" "$CASE_DIR/expected" "$CASE_DIR/out"
	local keys
	mapfile -t keys < <(cut -f1 "$CASE_DIR/expected")
	tool_ok "$1" rm "${keys[@]}"
	tool_ok "$1" ls many/
	assert_eq "ls many/ after rm" "" "$(cat "$CASE_DIR/out")"
	case_end

	case_begin "${1}_missing"
	run_tool "$1" get app/none
	assert_eq "get of a missing object: exit status" 3 "$TOOL_STATUS"
	grep -q 'app/none: no such object' "$CASE_DIR/err" || fail "get's message does not name the missing object"
	run_tool "$1" head app/none
	assert_eq "head of a missing object: exit status" 3 "$TOOL_STATUS"
	case_end

	case_begin "${1}_probe"
	"objtool_$1" ls | sort >"$CASE_DIR/before"
	tool_ok "$1" --prefix app/ probe
	"objtool_$1" ls | sort >"$CASE_DIR/after"
	assert_same_file "the objects after the probe" "$CASE_DIR/before" "$CASE_DIR/after"
	case_end
}
