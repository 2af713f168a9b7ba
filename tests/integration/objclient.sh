#!/usr/bin/env bash
# objclient.sh - the object client (restore/store/objclient.h) against real protocol servers:
# s3rver (S3) and azurite (Azure Blob, which checks SharedKey signatures), driven by objtool
# (tests/tools/objtool.c). For each of s3 and azure, the cases, each named <service>_<case>:
#   put_get_ls      three objects (one under a prefix, one whose name needs percent-encoding):
#                   ls lists exactly them with their sizes and MD5s, get returns their bytes,
#                   head gives size and MD5; s3: s3rver's copy on disk equals the source
#   prefix          ls PREFIX lists exactly the objects under the prefix; in pages of one object,
#                   ls lists the same as in one page
#   multipart       a 20 MiB object in 5 MiB parts (four at once): its bytes round-trip, ls gives
#                   its size (azure: and the whole object's MD5, set by the block list)
#   copy            a server-side copy: the copy's bytes equal the source's, the source stays
#   rm              rm deletes (ls no longer lists it); deleting a missing object is no error
#   missing         get of a missing object fails naming it; head exits 3
#   probe           objclient_probe lists, writes and deletes: ok, and leaves nothing behind
#   wrong_creds     refused credentials: ls, put and probe fail with one clear line naming the
#                   cause, nothing is written, and the secret appears in no output
#   unreachable     a server that does not listen: probe says it is unreachable
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/object_lib.sh"

F=$TEST_ROOT/files
mkdir -p "$F"
echo "small file" >"$F/small"
head -c 100000 /dev/urandom >"$F/medium"
: >"$F/empty"
head -c $((20 * 1024 * 1024 + 12345)) /dev/urandom >"$F/big"
WEIRD='app/dir/a name+with=odd&chars;é'

s3_start files
azure_start files

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

# clear_bucket: delete every object of service $1.
clear_bucket() {
	local keys
	mapfile -t keys < <("objtool_$1" ls | cut -f1)
	[ ${#keys[@]} -eq 0 ] || "objtool_$1" rm "${keys[@]}"
}

for service in s3 azure; do
	set -e
	case_begin "${service}_put_get_ls"
	tool_ok "$service" put top "$F/small"
	tool_ok "$service" put app/acceptance/medium "$F/medium"
	tool_ok "$service" put "$WEIRD" "$F/empty"
	tool_ok "$service" ls
	{
		ls_line "$WEIRD" "$F/empty"
		ls_line app/acceptance/medium "$F/medium"
		ls_line top "$F/small"
	} | sort >"$CASE_DIR/expected"
	assert_same_file "ls" "$CASE_DIR/expected" "$CASE_DIR/out"
	assert_object "$service" top "$F/small"
	assert_object "$service" app/acceptance/medium "$F/medium"
	assert_object "$service" "$WEIRD" "$F/empty"
	tool_ok "$service" head app/acceptance/medium
	assert_eq "head" "$(ls_line app/acceptance/medium "$F/medium")" "$(cut -f1-3 "$CASE_DIR/out")"
	if [ "$service" = s3 ]; then
		# s3rver keeps an object's bytes in a plain file beside its metadata.
		cmp -s "$RW_S3_DIR/$RW_S3_BUCKET/app/acceptance/medium._S3rver_object" "$F/medium" ||
			fail "s3rver's file of app/acceptance/medium does not hold the source"
	fi
	case_end

	case_begin "${service}_prefix"
	tool_ok "$service" --page-size 1 ls
	"objtool_$service" ls >"$CASE_DIR/one_page"
	assert_same_file "ls in pages of one object" "$CASE_DIR/one_page" "$CASE_DIR/out"
	tool_ok "$service" ls app/
	{
		ls_line "$WEIRD" "$F/empty"
		ls_line app/acceptance/medium "$F/medium"
	} | sort >"$CASE_DIR/expected"
	assert_same_file "ls app/" "$CASE_DIR/expected" "$CASE_DIR/out"
	tool_ok "$service" ls app/acceptance/
	assert_eq "ls app/acceptance/" "$(ls_line app/acceptance/medium "$F/medium")" "$(cat "$CASE_DIR/out")"
	tool_ok "$service" ls nothing/
	assert_eq "ls nothing/" "" "$(cat "$CASE_DIR/out")"
	case_end

	case_begin "${service}_multipart"
	tool_ok "$service" --part-size $((5 * 1024 * 1024)) --max-connections 4 put app/big "$F/big"
	assert_object "$service" app/big "$F/big"
	tool_ok "$service" ls app/big
	if [ "$service" = azure ]; then
		assert_eq "ls app/big" "$(ls_line app/big "$F/big")" "$(cat "$CASE_DIR/out")"
	else
		assert_eq "ls app/big (name and size)" "$(ls_line app/big "$F/big" | cut -f1-2)" \
			"$(cut -f1-2 "$CASE_DIR/out")"
	fi
	case_end

	case_begin "${service}_copy"
	tool_ok "$service" cp app/acceptance/medium "app/copy of medium"
	assert_object "$service" "app/copy of medium" "$F/medium"
	assert_object "$service" app/acceptance/medium "$F/medium"
	tool_ok "$service" cp app/big app/big.copy
	assert_object "$service" app/big.copy "$F/big"
	case_end

	case_begin "${service}_rm"
	tool_ok "$service" rm "app/copy of medium" app/big.copy never-there
	tool_ok "$service" ls app/
	{
		ls_line "$WEIRD" "$F/empty"
		ls_line app/acceptance/medium "$F/medium"
		ls_line app/big "$F/big"
	} | sort >"$CASE_DIR/expected"
	assert_eq "ls after rm" "$(cut -f1-2 "$CASE_DIR/expected")" "$(cut -f1-2 "$CASE_DIR/out")"
	case_end

	case_begin "${service}_missing"
	run_tool "$service" get app/none
	assert_eq "get of a missing object: exit status" 1 "$TOOL_STATUS"
	grep -q 'app/none: no such object' "$CASE_DIR/err" || fail "get's message does not name the missing object"
	run_tool "$service" head app/none
	assert_eq "head of a missing object: exit status" 3 "$TOOL_STATUS"
	case_end

	case_begin "${service}_probe"
	"objtool_$service" ls | sort >"$CASE_DIR/before"
	tool_ok "$service" --prefix app/ probe
	"objtool_$service" ls | sort >"$CASE_DIR/after"
	assert_same_file "the objects after the probe" "$CASE_DIR/before" "$CASE_DIR/after"
	case_end
done

# Refused credentials: s3rver refuses an unknown access key id (it does not check signatures:
# tests/integration/s3_swift.sh does); azurite checks the SharedKey signature.
case_begin s3_wrong_creds
secret="s3-secret-$(new_uuid)"
"objtool_s3" ls >"$CASE_DIR/before"
for cmd in "ls" "put app/intruder $F/small" "probe"; do
	# shellcheck disable=SC2086 # cmd is words
	AWS_ACCESS_KEY_ID=UNKNOWNKEY AWS_SECRET_ACCESS_KEY=$secret run_tool s3 $cmd
	assert_eq "$cmd with an unknown key id: exit status" 1 "$TOOL_STATUS"
	[ "$(wc -l <"$CASE_DIR/err")" = 1 ] || fail "$cmd: the error is not one line"
	grep -q 'InvalidAccessKeyId' "$CASE_DIR/err" || fail "$cmd: the error does not say the key id is refused"
	! grep -q -- "$secret" "$CASE_DIR/out" "$CASE_DIR/err" || fail "$cmd: the secret is in the output"
done
grep -q 'the credentials are refused' "$CASE_DIR/err" || fail "probe does not say the credentials are refused"
"objtool_s3" ls >"$CASE_DIR/after"
assert_same_file "the bucket after refused requests" "$CASE_DIR/before" "$CASE_DIR/after"
case_end

case_begin azure_wrong_creds
# A valid base64 key of 64 bytes, not the account's.
head -c 64 /dev/urandom | base64 -w0 >"$CASE_DIR/wrong.key"
secret=$(cat "$CASE_DIR/wrong.key")
"objtool_azure" ls >"$CASE_DIR/before"
for cmd in "ls" "put app/intruder $F/small" "probe"; do
	# shellcheck disable=SC2086 # cmd is words
	run_tool azure --key-file "$CASE_DIR/wrong.key" $cmd
	assert_eq "$cmd with a wrong key: exit status" 1 "$TOOL_STATUS"
	[ "$(wc -l <"$CASE_DIR/err")" = 1 ] || fail "$cmd: the error is not one line"
	grep -q 'HTTP 403' "$CASE_DIR/err" || fail "$cmd: the error does not say the server refused it"
	! grep -q -F -- "$secret" "$CASE_DIR/out" "$CASE_DIR/err" || fail "$cmd: the key is in the output"
	! grep -q -F -- "$AZURITE_KEY" "$CASE_DIR/out" "$CASE_DIR/err" || fail "$cmd: the account key is in the output"
done
grep -q 'the credentials are refused' "$CASE_DIR/err" || fail "probe does not say the credentials are refused"
"objtool_azure" ls >"$CASE_DIR/after"
assert_same_file "the container after refused requests" "$CASE_DIR/before" "$CASE_DIR/after"
case_end

case_begin unreachable
# Port 1: nothing listens there (a privileged port no test server takes).
set +e
"$OBJTOOL" s3 http://127.0.0.1:1 us-east-1 files probe >"$CASE_DIR/out" 2>"$CASE_DIR/err"
TOOL_STATUS=$?
set -e
assert_eq "probe of an unreachable server: exit status" 1 "$TOOL_STATUS"
grep -q 'is unreachable' "$CASE_DIR/err" || fail "probe does not say the server is unreachable"
case_end

finish
