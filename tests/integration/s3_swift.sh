#!/usr/bin/env bash
# s3_swift.sh - the object client's S3 side against a server that checks AWS Signature V4:
# OpenStack Swift with its s3api middleware (and slo, for multipart uploads), from Debian's
# packages. Behind a switch: RW_SWIFT=1 runs it (installing swift-proxy, swift-account,
# swift-container and swift-object with apt-get when they are missing: root or sudo), else it is
# skipped (exit 77).
#
# One Swift of one replica, everything under TEST_ROOT, run as the user running the test: rings of
# one device, the account, container and object servers and the proxy (tempauth user test:tester,
# key testing; s3api's region us-east-1). The cases, each named swift_<case>, are those of
# objclient.sh (object_lib.sh's objtool_cases: put/get/ls with a name that needs encoding, listing
# by prefix and in pages, a 20 MiB multipart upload, copy, rm, missing objects, probe), signed
# requests all; and:
#   wrong_secret    a wrong secret key: SignatureDoesNotMatch on ls, put and probe, one line
#                   naming the cause, the secret in no output, nothing written
#   sse             server_side_encryption: writes, multipart uploads and copies carry
#                   x-amz-server-side-encryption: AES256 (the proxy runs Swift's encryption)
#   secret_file     the secret read from a file relative to $CREDENTIALS_DIRECTORY
#   restore         restore-worker itself: a restore into the bucket under a prefix (the
#                   objects exact), again (all kept), and a backup of it (the tree exact)
#   retries         (last) the object server stopped: a write gets 503, is sent 4 times in all,
#                   and fails naming the object and the status
set -euo pipefail
if [ "${RW_SWIFT:-0}" != 1 ]; then
	echo "s3_swift.sh: skipped (RW_SWIFT=1 runs it: it installs Swift from Debian's packages)"
	exit 77
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/object_lib.sh"

declare -A SWIFT_PID # of each server: account, container, object, proxy
SWIFT_PACKAGES=(swift-proxy swift-account swift-container swift-object)
PYTHON=/usr/bin/python3 # Debian's, which has the swift modules (not a python3 earlier in PATH)

# swift_install: install Debian's Swift packages when one is missing (exit the script if it
# cannot).
swift_install() {
	local p missing=() sudo=()
	for p in "${SWIFT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		sudo -n true 2>/dev/null || { echo "s3_swift.sh: ${missing[*]} missing and not root (no sudo)" >&2; exit 1; }
		sudo=(sudo -n)
	fi
	echo "# installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		>"$TEST_ROOT/apt.log" 2>&1 || {
		echo "s3_swift.sh: apt-get install ${missing[*]} failed: $(tail -n 2 "$TEST_ROOT/apt.log" | tr '\n' ' ')" >&2
		exit 1
	}
}

# free_ports: print $1 free TCP ports of 127.0.0.1.
free_ports() {
	"$PYTHON" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
	s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])' "$1"
}

# wait_port: wait (30 s at most) until something listens on port $1 of 127.0.0.1 (server $2,
# log $3); fail otherwise.
wait_port() {
	local polls=0
	until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
		if [ "$polls" -ge 300 ]; then
			echo "s3_swift.sh: swift's $2 server was not listening after 30 s: $(tail -n 3 "$3" | tr '\n' ' ')" >&2
			return 1
		fi
		sleep 0.1
		polls=$((polls + 1))
	done
}

# swift_start: make and start a one-replica Swift under TEST_ROOT/swift; exports RW_SWIFT_ENDPOINT.
swift_start() {
	local sw=$TEST_ROOT/swift t port user ports
	user=$(id -un)
	mkdir -p "$sw/conf" "$sw/node/d1" "$sw/log"
	read -r -a ports < <(free_ports 4)
	declare -A PORT=([account]=${ports[0]} [container]=${ports[1]} [object]=${ports[2]} [proxy]=${ports[3]})
	cat >"$sw/conf/swift.conf" <<-EOF
		[swift-hash]
		swift_hash_path_suffix = rwtest
		swift_hash_path_prefix = rwtest
		[storage-policy:0]
		name = gold
		default = yes
	EOF
	for t in account container object; do
		port=${PORT[$t]}
		{
			swift-ring-builder "$sw/conf/$t.builder" create 4 1 1
			swift-ring-builder "$sw/conf/$t.builder" add "r1z1-127.0.0.1:$port/d1" 100
			swift-ring-builder "$sw/conf/$t.builder" rebalance
		} >>"$sw/log/rings.log" 2>&1 || { echo "s3_swift.sh: cannot build the $t ring: $(tail -n 2 "$sw/log/rings.log")" >&2; return 1; }
		cat >"$sw/conf/$t-server.conf" <<-EOF
			[DEFAULT]
			bind_ip = 127.0.0.1
			bind_port = $port
			devices = $sw/node
			mount_check = false
			disable_fallocate = true
			swift_dir = $sw/conf
			user = $user
			workers = 0
			log_name = $t
			[pipeline:main]
			pipeline = $t-server
			[app:$t-server]
			use = egg:swift#$t
		EOF
	done
	cat >"$sw/conf/proxy-server.conf" <<-EOF
		[DEFAULT]
		bind_ip = 127.0.0.1
		bind_port = ${PORT[proxy]}
		swift_dir = $sw/conf
		user = $user
		workers = 0
		log_name = proxy
		[pipeline:main]
		pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo dlo keymaster encryption proxy-logging proxy-server
		[app:proxy-server]
		use = egg:swift#proxy
		account_autocreate = true
		[filter:catch_errors]
		use = egg:swift#catch_errors
		[filter:gatekeeper]
		use = egg:swift#gatekeeper
		[filter:proxy-logging]
		use = egg:swift#proxy_logging
		[filter:cache]
		use = egg:swift#memcache
		[filter:listing_formats]
		use = egg:swift#listing_formats
		[filter:s3api]
		use = egg:swift#s3api
		location = us-east-1
		[filter:tempauth]
		use = egg:swift#tempauth
		user_test_tester = testing .admin
		[filter:copy]
		use = egg:swift#copy
		[filter:slo]
		use = egg:swift#slo
		[filter:dlo]
		use = egg:swift#dlo
		[filter:keymaster]
		use = egg:swift#keymaster
		encryption_root_secret = $(head -c 32 /dev/urandom | base64 -w0)
		[filter:encryption]
		use = egg:swift#encryption
	EOF
	for t in account container object proxy; do
		"$PYTHON" "/usr/bin/swift-$t-server" "$sw/conf/$t-server.conf" >"$sw/log/$t.log" 2>&1 &
		OBJECT_SERVER_PIDS+=($!)
		SWIFT_PID[$t]=$!
	done
	for t in account container object proxy; do
		wait_port "${PORT[$t]}" "$t" "$sw/log/$t.log" || return 1
	done
	export RW_SWIFT_ENDPOINT=http://127.0.0.1:${PORT[proxy]} RW_SWIFT_BUCKET=files
}

# objtool_swift: run objtool on Swift's bucket, as tempauth's test:tester (options first).
objtool_swift() {
	objtool_split "$@"
	AWS_ACCESS_KEY_ID=${SWIFT_KEY_ID:-test:tester} AWS_SECRET_ACCESS_KEY=${SWIFT_SECRET-testing} \
		"$OBJTOOL" "${OBJTOOL_OPTS[@]}" s3 "$RW_SWIFT_ENDPOINT" us-east-1 "$RW_SWIFT_BUCKET" \
		"${OBJTOOL_ARGS[@]}"
}

swift_install
swift_start
objtool_swift mkbucket >/dev/null || { echo "s3_swift.sh: cannot create the bucket on swift" >&2; exit 1; }

objtool_fixtures
objtool_cases swift

case_begin swift_wrong_secret
secret="swift-secret-$(new_uuid)"
objtool_swift ls >"$CASE_DIR/before"
for cmd in "ls" "put app/intruder $F/small" "probe"; do
	# shellcheck disable=SC2086 # cmd is words
	SWIFT_SECRET=$secret run_tool swift $cmd
	assert_eq "$cmd with a wrong secret: exit status" 1 "$TOOL_STATUS"
	[ "$(wc -l <"$CASE_DIR/err")" = 1 ] || fail "$cmd: the error is not one line"
	grep -q 'SignatureDoesNotMatch' "$CASE_DIR/err" || fail "$cmd: the error does not say the signature is refused"
	! grep -q -- "$secret" "$CASE_DIR/out" "$CASE_DIR/err" || fail "$cmd: the secret is in the output"
done
grep -q 'the credentials are refused' "$CASE_DIR/err" || fail "probe does not say the credentials are refused"
objtool_swift ls >"$CASE_DIR/after"
assert_same_file "the bucket after refused requests" "$CASE_DIR/before" "$CASE_DIR/after"
case_end

case_begin swift_sse
# server_side_encryption: s3api accepts x-amz-server-side-encryption only with Swift's encryption
# (keymaster, encryption) in the pipeline, as here; every write carries it.
tool_ok swift --sse put app/sse "$F/medium"
assert_object swift app/sse "$F/medium"
tool_ok swift --sse --part-size $((5 * 1024 * 1024)) put app/sse-big "$F/big"
assert_object swift app/sse-big "$F/big"
tool_ok swift --sse cp app/sse app/sse-copy
assert_object swift app/sse-copy "$F/medium"
case_end

case_begin swift_secret_file
mkdir -p "$CASE_DIR/credentials"
printf 'testing\n' >"$CASE_DIR/credentials/swift.secret"
CREDENTIALS_DIRECTORY=$CASE_DIR/credentials SWIFT_SECRET='' run_tool swift --secret-file swift.secret put app/by-file "$F/small"
assert_eq "put with the secret from a file: exit status" 0 "$TOOL_STATUS"
assert_object swift app/by-file "$F/small"
case_end

case_begin swift_restore
# The store driver's whole request mix (listing by prefix, puts, a multipart upload, copies
# aside, deletions), signed: a restore into the bucket under prefix app2/, a second one (same
# content: all kept, the 9 MiB file by its multipart ETag), then a backup of it whose tree is
# the snapshot's.
make_source_db src
S=$CASE_DIR/snap
mkdir -p "$S/db"
dump_custom src "$S/db/db.backup"
for size in 10 4096 $((9 * 1024 * 1024 + 7)); do
	u=$(new_uuid)
	mkdir -p "$S/tree/${u:0:2}/${u:2:2}"
	head -c "$size" /dev/urandom >"$S/tree/${u:0:2}/${u:2:2}/$u"
	printf '%s\t%s\t%s\n' "app2/$u" "$size" "$(md5sum <"$S/tree/${u:0:2}/${u:2:2}/$u" | cut -d' ' -f1)"
done | sort >"$CASE_DIR/want"
echo '{}' >"$S/.metadata"
pack_snapshot "$CASE_DIR/snap.tar.gz" "$S"
make_target_db t_swift
printf 'testing\n' >"$CASE_DIR/secret"
write_config "$CASE_DIR/config.yaml" dbname=t_swift blob_dir= \
	"s3={endpoint: \"$RW_SWIFT_ENDPOINT\", region: us-east-1, bucket: $RW_SWIFT_BUCKET, prefix: app2/, access_key_id: \"test:tester\", secret_access_key_file: $CASE_DIR/secret}"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY # the secret from the file alone
run_worker -c "$CASE_DIR/config.yaml" restore --json "$CASE_DIR/snap.tar.gz"
assert_report '[.status, (.files.objects | .uploaded, .kept)] | join(" ")' "succeeded 3 0"
# Names and sizes (a multipart object's ETag is no MD5 on S3: objtool says -); the content is
# compared through the backup below.
objtool_swift ls app2/ | sort | cut -f1,2 >"$CASE_DIR/got"
cut -f1,2 "$CASE_DIR/want" >"$CASE_DIR/want.names"
assert_same_file "the bucket under app2/" "$CASE_DIR/want.names" "$CASE_DIR/got"
run_worker -c "$CASE_DIR/config.yaml" restore --json "$CASE_DIR/snap.tar.gz"
assert_report '[.status, (.files.objects | .uploaded, .kept, .replaced, .deleted)] | join(" ")' "succeeded 0 3 0 0"
run_worker -c "$CASE_DIR/config.yaml" backup --output "$CASE_DIR/backup.tar.gz"
assert_exit 0
mkdir "$CASE_DIR/x"
tar -xzf "$CASE_DIR/backup.tar.gz" -C "$CASE_DIR/x" tree || fail "the backup holds no tree/"
(cd "$S" && find tree -type f -exec md5sum {} + | sort) >"$CASE_DIR/tree.want"
(cd "$CASE_DIR/x" && find tree -type f -exec md5sum {} + | sort) >"$CASE_DIR/tree.got" || true
assert_same_file "the backup's tree" "$CASE_DIR/tree.want" "$CASE_DIR/tree.got"
case_end

case_begin swift_retries
# The object server stopped: the proxy answers a write with 503, which the client sends four
# times in all (three retries) before it gives up, naming the object and the status.
kill "${SWIFT_PID[object]}"
wait "${SWIFT_PID[object]}" 2>/dev/null || true
run_tool swift --stats put app/while-down "$F/small"
assert_eq "put while the object server is down: exit status" 1 "$TOOL_STATUS"
assert_eq "requests sent" "requests	4" "$(grep '^requests' "$CASE_DIR/out")"
grep -q 'app/while-down: .*HTTP 503.*, 4 times' "$CASE_DIR/err" ||
	fail "the error does not name the object, the 503 and the 4 attempts"
case_end

finish
