#!/usr/bin/env bash
# objclient.sh - the object client (restore/objclient/objclient.h) against real protocol servers:
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
#   if_match        get with an ETag (head's) reads that version; after an overwrite it does not
#   many            40 small objects written at once over at most 4 connections: 40 requests, 4
#                   at once, at most 4 connections opened (reused); ls lists them; rm deletes them
#   missing         get and head of a missing object exit 3, get naming it
#   probe           objclient_probe lists, writes and deletes: ok, and leaves nothing behind
#   wrong_creds     refused credentials: ls, put and probe fail with one clear line naming the
#                   cause, nothing is written, and the secret appears in no output
#   azure_sas       a shared access signature (from a file, '?' first) instead of the key: put,
#                   get, copy, ls and rm work; one signed with another key is refused (its
#                   signature in no output) and writes nothing
#   open_errors     credentials that cannot be loaded (no key id, a relative secret file without
#                   $CREDENTIALS_DIRECTORY, a missing or non-base64 key file, no Azure credentials):
#                   one line naming the target and the cause (not the bad key)
#   unreachable     a server that does not listen: probe says it is unreachable
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/object_lib.sh"

s3_start files
azure_start files

objtool_fixtures
for service in s3 azure; do
	objtool_cases "$service"
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

# azure_sas_token: print an account SAS (version 2021-08-06, blob service, all resource types,
# read, write, delete, list, add, create, until 2030) signed with base64 key $1.
azure_sas_token() {
	local expiry=2030-01-01T00:00:00Z hexkey sig
	hexkey=$(printf '%s' "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n' "$RW_AZ_ACCOUNT" rwdlac b sco "" "$expiry" "" "" \
		2021-08-06 "" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 -w0)
	sig=${sig//+/%2B}
	sig=${sig//\//%2F}
	sig=${sig//=/%3D}
	echo "?sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=$expiry&sig=$sig"
}

case_begin azure_sas
azure_sas_token "$AZURITE_KEY" >"$CASE_DIR/sas"
tool_ok azure --sas-file "$CASE_DIR/sas" put sas/small "$F/small"
assert_object azure sas/small "$F/small"
tool_ok azure --sas-file "$CASE_DIR/sas" cp sas/small sas/copy
tool_ok azure --sas-file "$CASE_DIR/sas" ls sas/
assert_eq "ls sas/ with the SAS" "$(ls_line sas/copy "$F/small")
$(ls_line sas/small "$F/small")" "$(cat "$CASE_DIR/out")"
tool_ok azure --sas-file "$CASE_DIR/sas" get sas/copy
cmp -s "$CASE_DIR/out" "$F/small" || fail "get with the SAS: sas/copy does not hold the source"
tool_ok azure --sas-file "$CASE_DIR/sas" rm sas/small sas/copy
tool_ok azure ls sas/
assert_eq "ls sas/ after rm with the SAS" "" "$(cat "$CASE_DIR/out")"
# A SAS signed with another key: refused, and its signature in no output.
azure_sas_token "$(head -c 64 /dev/urandom | base64 -w0)" >"$CASE_DIR/wrong.sas"
run_tool azure --sas-file "$CASE_DIR/wrong.sas" put sas/intruder "$F/small"
assert_eq "put with a wrong SAS: exit status" 1 "$TOOL_STATUS"
grep -q 'HTTP 403' "$CASE_DIR/err" || fail "put with a wrong SAS: the error does not say the server refused it"
wrong_sig=$(sed 's/.*sig=//' "$CASE_DIR/wrong.sas")
! grep -q -F -- "$wrong_sig" "$CASE_DIR/out" "$CASE_DIR/err" || fail "the SAS's signature is in the output"
tool_ok azure ls sas/
assert_eq "ls sas/ after the refused put" "" "$(cat "$CASE_DIR/out")"
case_end

case_begin open_errors
# Credentials that cannot be loaded: one line naming the target and the cause, no request sent.
set +e
env -u AWS_ACCESS_KEY_ID "$OBJTOOL" s3 "$RW_S3_ENDPOINT" us-east-1 files ls >"$CASE_DIR/out" 2>"$CASE_DIR/err"
assert_eq "no access key id: exit status" 1 "$?"
grep -q 'target objtool: s3 has no access_key_id and AWS_ACCESS_KEY_ID is not set' "$CASE_DIR/err" ||
	fail "no access key id: $(cat "$CASE_DIR/err")"
env -u CREDENTIALS_DIRECTORY "$OBJTOOL" --secret-file s3.secret s3 "$RW_S3_ENDPOINT" us-east-1 files ls \
	>"$CASE_DIR/out" 2>"$CASE_DIR/err"
assert_eq "a relative secret file without CREDENTIALS_DIRECTORY: exit status" 1 "$?"
grep -q 's3 secret_access_key_file s3.secret is a relative path and \$CREDENTIALS_DIRECTORY is not set' \
	"$CASE_DIR/err" || fail "relative secret file: $(cat "$CASE_DIR/err")"
"$OBJTOOL" --key-file "$CASE_DIR/none" azure "$RW_AZ_ENDPOINT" "$RW_AZ_ACCOUNT" files ls >"$CASE_DIR/out" 2>"$CASE_DIR/err"
assert_eq "a missing key file: exit status" 1 "$?"
grep -q "cannot open azure account_key_file $CASE_DIR/none: No such file or directory" "$CASE_DIR/err" ||
	fail "missing key file: $(cat "$CASE_DIR/err")"
echo 'not base64!' >"$CASE_DIR/bad.key"
"$OBJTOOL" --key-file "$CASE_DIR/bad.key" azure "$RW_AZ_ENDPOINT" "$RW_AZ_ACCOUNT" files ls >"$CASE_DIR/out" 2>"$CASE_DIR/err"
assert_eq "a key that is not base64: exit status" 1 "$?"
grep -q 'the azure account key is not base64' "$CASE_DIR/err" || fail "bad key: $(cat "$CASE_DIR/err")"
! grep -q 'not base64!' "$CASE_DIR/err" || fail "the bad key is in the message"
env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_SAS_TOKEN "$OBJTOOL" azure "$RW_AZ_ENDPOINT" "$RW_AZ_ACCOUNT" files ls \
	>"$CASE_DIR/out" 2>"$CASE_DIR/err"
assert_eq "no azure credentials: exit status" 1 "$?"
grep -q 'neither AZURE_STORAGE_KEY nor AZURE_STORAGE_SAS_TOKEN is set' "$CASE_DIR/err" ||
	fail "no azure credentials: $(cat "$CASE_DIR/err")"
set -e
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
