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
	(exit "$status")
	lib_cleanup
}
trap object_cleanup EXIT

# object_servers_dir: print the folder scripts/object-servers made ready (exit the script if it
# cannot: the message says why).
object_servers_dir() {
	local dir
	if ! dir=$("$TESTS_DIR/../scripts/object-servers" 2>"$TEST_ROOT/object-servers.err"); then
		echo "object_lib.sh: the object servers are not available: $(tail -n 1 "$TEST_ROOT/object-servers.err")" >&2
		exit 1
	fi
	echo "$dir"
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
	dir=$(object_servers_dir)
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
	dir=$(object_servers_dir)
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

# objtool_s3: run objtool on s3rver's bucket (options, then the command and its arguments).
objtool_s3() {
	local opts=()
	while [ $# -gt 0 ] && [[ $1 == --* ]]; do
		opts+=("$1")
		[ "$1" = --sse ] || { opts+=("$2"); shift; }
		shift
	done
	"$OBJTOOL" "${opts[@]}" s3 "$RW_S3_ENDPOINT" "$RW_S3_REGION" "$RW_S3_BUCKET" "$@"
}

# objtool_azure: run objtool on azurite's container with the development key (options first).
objtool_azure() {
	local opts=()
	while [ $# -gt 0 ] && [[ $1 == --* ]]; do
		opts+=("$1")
		[ "$1" = --sse ] || { opts+=("$2"); shift; }
		shift
	done
	[[ " ${opts[*]} " == *" --key-file "* || " ${opts[*]} " == *" --sas-file "* ]] ||
		opts+=(--key-file "$RW_AZ_KEY_FILE")
	"$OBJTOOL" "${opts[@]}" azure "$RW_AZ_ENDPOINT" "$RW_AZ_ACCOUNT" "$RW_AZ_CONTAINER" "$@"
}
