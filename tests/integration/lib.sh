# lib.sh - shared fixtures and assertions for the integration tests.
#
# Sourced by every tests/integration/*.sh. It starts a throwaway PostgreSQL 15 cluster on a Unix
# socket (stopped and removed again on exit), creates the non-superuser role `app` that the worker
# connects as, and offers helpers to build source and target databases, snapshot archives and
# configuration files, to capture the state of a database or a folder, and to record test cases.
#
# Environment: RESTORE_WORKER (the binary under test) and TESTS_DIR (the source tests folder), as
# set by tests/CMakeLists.txt. Exported for the helpers: PGHOST (the socket folder) and
# PGUSER=postgres (a superuser). Runs as root (the cluster then runs as the `postgres` user) or as an
# ordinary user (the cluster runs as that user).
#
# Other server versions: PG_SERVER_BIN names a folder holding initdb, pg_ctl and postgres of
# another build (for example one that scripts/pg-servers fetched) to run the cluster from; the
# client tools (psql, pg_dump, pg_restore) stay the Debian 15 ones in PGBIN. Set for a whole test,
# or for one call of cluster_start after cluster_stop, as tests/integration/server_matrix.sh does.
# snapshot_db_fingerprint describes a database in SQL, for servers pg_dump 15 cannot dump (16+).

PGBIN=/usr/lib/postgresql/15/bin
PG_SERVER_BIN=${PG_SERVER_BIN:-$PGBIN}

if [ -z "${RESTORE_WORKER:-}" ] || [ ! -x "$RESTORE_WORKER" ]; then
	echo "lib.sh: RESTORE_WORKER must name the restore-worker binary (got '${RESTORE_WORKER:-}')" >&2
	exit 2
fi
for tool in "$PG_SERVER_BIN/initdb" "$PG_SERVER_BIN/pg_ctl" "$PGBIN/pg_dump" "$PGBIN/psql" jq tar gzip \
	sha256sum timeout unshare; do
	command -v "$tool" >/dev/null || { echo "lib.sh: $tool is missing (run scripts/deps)" >&2; exit 2; }
done

unset PGDATABASE PGPORT PGPASSWORD PGSERVICE PGOPTIONS PGHOSTADDR PGSSLMODE PGAPPNAME
export LC_ALL=C

# The temporary root: everything a test makes lives below it and goes away at exit.
TEST_ROOT=$(mktemp -d /tmp/rw-itest.XXXXXX)
chmod 755 "$TEST_ROOT"
# PG_DIR: cluster data, socket and log; owned by whoever runs the cluster. It lives on a memory
# file system when /dev/shm has 4 GiB free or more (RW_TEST_PG_TMPFS=0 keeps it under TEST_ROOT):
# nothing in it outlives the test, and a disk spends seconds writing and then deleting the few
# hundred MB that a script's databases and WAL take (CREATE DATABASE copies 7 MB each time).
PG_DIR=$TEST_ROOT/pg
if [ "${RW_TEST_PG_TMPFS:-1}" != 0 ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
	[ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')" -ge 4194304 ] 2>/dev/null; then
	PG_DIR=$(mktemp -d /dev/shm/rw-itest-pg.XXXXXX)
	chmod 755 "$PG_DIR"
fi
mkdir -p "$PG_DIR/sock"
export PGHOST=$PG_DIR/sock
export PGUSER=postgres

TESTS_PASSED=0
TESTS_FAILED=0
TESTS_SKIPPED=0
TESTS_FINISHED=0
TESTS_STARTED=$EPOCHREALTIME # for the time finish prints
CASE_NAME=
CASE_ERRORS=()

# as_cluster_owner: run a command as the user that owns the cluster (postgres when we are root).
as_cluster_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$PG_DIR" && runuser -u postgres -- "$@")
	else
		(cd "$PG_DIR" && "$@")
	fi
}

# cluster_start: initdb a fresh cluster under PG_DIR with PG_SERVER_BIN's server and start it
# listening on the socket only.
cluster_start() {
	CLUSTER_BIN=$PG_SERVER_BIN
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$PG_DIR"
	fi
	as_cluster_owner "$CLUSTER_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C \
		--no-sync >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -w -l "$PG_DIR/server.log" \
		-o "-c listen_addresses='' -k $PGHOST -c unix_socket_permissions=0777 -c fsync=off" \
		start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
	CLUSTER_VERSION_NUM=$(sql postgres "show server_version_num")
}

# cluster_stop: stop the cluster and remove its data folder, so that cluster_start can make
# another one (its server log stays, appended to by the next).
cluster_stop() {
	as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null || return 1
	rm -rf "$PG_DIR/data"
}

# lib_cleanup: the EXIT trap; stop the cluster, remove the temporary root, keep the exit status.
lib_cleanup() {
	local status=$?
	if [ "$TESTS_FINISHED" -eq 0 ]; then
		echo "not ok - script aborted (exit status $status) before its summary" >&2
		[ "$status" -eq 0 ] && status=1
	fi
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		as_cluster_owner "$CLUSTER_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$TEST_ROOT" "$PG_DIR"
	exit "$status"
}
trap lib_cleanup EXIT

# sql: run SQL as the superuser in database $1 and print the result unaligned, one row a line.
sql() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"
}

# sql_as_app: run SQL (or a script on stdin when $2 is "-") as role app in database $1.
sql_as_app() {
	if [ "$2" = - ]; then
		PGUSER=app "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$1" -f -
	else
		PGUSER=app "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"
	fi
}

# new_uuid: print a fresh lowercase uuid.
new_uuid() {
	if command -v uuidgen >/dev/null; then
		uuidgen | tr 'A-F' 'a-f'
	else
		cat /proc/sys/kernel/random/uuid
	fi
}

# create_db: create database $1 owned by role $2 (default app) as a copy of database $3 (default
# template1), which nobody may be connected to. On servers 15 and later with STRATEGY FILE_COPY:
# the files are copied instead of written page by page to the WAL, in a third of the time.
create_db() {
	local strategy=
	[ "${CLUSTER_VERSION_NUM:-0}" -lt 150000 ] || strategy=" strategy file_copy"
	sql postgres "create database \"$1\" owner \"${2:-app}\" template \"${3:-template1}\"$strategy"
}

# make_source_db: create database $1 owned by app, holding the objects a backup must carry over.
make_source_db() {
	create_db "$1"
	sql_as_app "$1" - >/dev/null <<-'EOF'
		create table "shop$order" (
			id integer primary key, customer text not null, total numeric(14, 4),
			placed timestamp, placed_tz timestamptz, photo bytea);
		insert into "shop$order"
			select i, 'customer ' || i || ' ' || md5(i::text) || md5((i * 7)::text),
				i * 1.2345, timestamp '2018-11-21 01:21:00' + i * interval '1 minute',
				timestamptz '2018-11-21 01:21:00+01' + i * interval '1 hour',
				decode(md5(i::text) || md5((i + 1)::text), 'hex')
			from generate_series(1, 3000) i;
		create table "shop$line" (id integer primary key, "order" integer references "shop$order",
			note text default 'none');
		insert into "shop$line" select i, i % 3000 + 1, 'line ' || i from generate_series(1, 500) i;
		create sequence "mendixsystem$seq" start 1000;
		select nextval('"mendixsystem$seq"'), nextval('"mendixsystem$seq"');
		create view "shop$bigorder" as select id, total from "shop$order" where total > 100;
		create function "shop$order_count"() returns bigint language sql stable
			as 'select count(*) from public."shop$order"';
		create index "idx_shop$order_customer" on "shop$order" (customer);
		comment on table "shop$order" is 'orders placed in the shop';
		select lo_from_bytea(0, decode(repeat(md5('large object'), 40), 'hex'));
		create schema "module$two";
		create table "module$two"."thing$x" (k text primary key, v numeric);
		insert into "module$two"."thing$x" values ('pi', 3.14159265358979), ('e', 2.71828182845905);
	EOF
}

# make_index_fails_db: create database $1 (make_source_db) with a dump that is valid but fails in
# pg_restore after the data is in: the index on f(a) calls a function naming its table without
# a schema, and pg_restore runs with an empty search_path.
make_index_fails_db() {
	make_source_db "$1"
	sql_as_app "$1" - >/dev/null <<'EOF'
create table lookup (k integer);
insert into lookup values (1), (2), (3);
create function f(integer) returns integer immutable language sql
	as 'select count(*)::int from lookup where k = $1';
create table t (a integer);
insert into t select i % 10 from generate_series(1, 2000) i;
create index t_f_idx on t (f(a));
EOF
}

# wait_sessions_gone: wait (10 s at most) until nobody is connected to database $1 (the server
# has noticed that a killed worker's connection is gone); fail the case otherwise.
wait_sessions_gone() {
	local polls=0
	until [ "$(sql postgres "select count(*) from pg_stat_activity where datname = '$1'")" = 0 ]; do
		if [ "$polls" -ge 50 ]; then
			fail "a session on $1 was still there after 10 s"
			return 0
		fi
		sleep 0.2
		polls=$((polls + 1))
	done
}

# make_target_db: create database $1 owned by app with content a good restore must replace:
# other tables, a type, a sequence, a view, a function, a schema the backup lacks, a schema the
# backup also has (with another table), and a large object.
make_target_db() {
	# The mark lives in the cluster's data folder, so that a new cluster (cluster_stop and
	# cluster_start) gets a new template, and a call in a subshell counts too.
	if [ ! -e "$PG_DIR/data/rwtest_target_template.made" ]; then
		make_target_template rwtest_target_template
		: >"$PG_DIR/data/rwtest_target_template.made"
	fi
	create_db "$1" app rwtest_target_template
}

# make_target_template: create database $1 with the content of make_target_db, built once per
# cluster and copied by make_target_db (one CREATE DATABASE instead of a script for each target).
make_target_template() {
	create_db "$1"
	sql_as_app "$1" - >/dev/null <<-'EOF'
		create table "shop$order" (id integer primary key, legacy text);
		insert into "shop$order" values (1, 'old order');
		create table "old$stuff" (id integer, what text);
		insert into "old$stuff" values (42, 'must be gone after a restore');
		create type "old$mood" as enum ('sad', 'happy');
		create table "old$typed" (m "old$mood");
		create sequence "old$seq";
		create view "old$view" as select id, what from "old$stuff";
		create function "old$fn"() returns integer language sql as 'select 1';
		create schema legacy;
		create table legacy.junk (x integer);
		insert into legacy.junk values (1), (2);
		create schema "module$two";
		create table "module$two"."other$t" (y integer);
		select lo_from_bytea(0, '\xdeadbeef');
	EOF
	# psql's session may outlive psql by a moment; a copy of the database then fails.
	wait_sessions_gone "$1"
}

# old_blobs: put three small files in BLOB_DIR, in the tree layout (the state a refused or
# failed restore must leave alone).
old_blobs() {
	local uuid i
	for i in 1 2 3; do
		uuid=$(new_uuid)
		mkdir -p "$BLOB_DIR/${uuid:0:2}/${uuid:2:2}"
		echo "old file $i" >"$BLOB_DIR/${uuid:0:2}/${uuid:2:2}/$uuid"
	done
}

# dump_custom: pg_dump database $1 the Mendix way (-O -x -Fc) into file $2.
dump_custom() {
	"$PGBIN/pg_dump" -O -x -Fc -d "$1" -f "$2"
}

# make_snapshot_dir: lay out a snapshot's content in folder $1 (.metadata, db/db.backup, and
# $3 tree files of random content, FILE_SIZE bytes each, default 4096) from database $2.
make_snapshot_dir() {
	local dir=$1 db=$2 nfiles=$3 size=${FILE_SIZE:-4096} i uuid files_size=0
	mkdir -p "$dir/db"
	dump_custom "$db" "$dir/db/db.backup"
	for ((i = 0; i < nfiles; i++)); do
		uuid=$(new_uuid)
		mkdir -p "$dir/tree/${uuid:0:2}/${uuid:2:2}"
		head -c "$size" /dev/urandom >"$dir/tree/${uuid:0:2}/${uuid:2:2}/$uuid"
		files_size=$((files_size + size))
	done
	printf '{"duration":"0","dumpSize":"%s","modelVersion":"1.0.0.40","databaseSize":"%s","filesSize":"%s"}\n' \
		"$(stat -c %s "$dir/db/db.backup")" "$(sql postgres "select pg_database_size('$db')")" \
		"$files_size" >"$dir/.metadata"
}

# pack_snapshot: tar (gzip unless $1 ends in .tar) the folder $2 into archive $1, members in the
# order .metadata, db, tree as Mendix writes them; extra tar options may follow.
pack_snapshot() {
	local out=$1 dir=$2 members=() m
	shift 2
	for m in .metadata db tree; do
		[ -e "$dir/$m" ] && members+=("$m")
	done
	local z=-z
	[[ $out == *.tar ]] && z=
	tar -c $z -f "$out" --owner=0 --group=0 --format=gnu "$@" -C "$dir" "${members[@]}"
}

# make_snapshot: build the full snapshot archive $1 from database $2 with $3 tree files; the
# unpacked content stays in $1.d for comparisons.
make_snapshot() {
	make_snapshot_dir "$1.d" "$2" "$3"
	pack_snapshot "$1" "$1.d"
}

# expected_keys: the keys the program says it expects at level $1 (top, target, or a target's
# s3 or azure mapping), one a line (from its refusal of an unknown key): what README, the example
# and the man pages must list.
expected_keys() {
	local cfg=$TEST_ROOT/unknown-$1.yaml
	case $1 in
	top)
		write_config "$cfg"
		echo "no_such_key_rw: 1" >>"$cfg"
		;;
	s3) write_config "$cfg" blob_dir= "s3={region: r, bucket: b, no_such_key_rw: 1}" ;;
	azure) write_config "$cfg" blob_dir= "azure={account_name: a, container: c, no_such_key_rw: 1}" ;;
	*) write_config "$cfg" no_such_key_rw=1 ;;
	esac
	"$RESTORE_WORKER" -c "$cfg" inspect "$TEST_ROOT/no-such-archive" 2>"$TEST_ROOT/unknown-$1.err" || true
	sed -n "s/.*unknown key 'no_such_key_rw' (expected \(.*\))\$/\1/p" "$TEST_ROOT/unknown-$1.err" |
		sed 's/ or /, /g' | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sed '/^$/d' | sort -u
}

# snapshot_db_state: print what a backup of database $1 must reproduce: its plain pg_dump and
# its large objects with the md5 of their content. Left out of the dump: comment lines, blank
# lines and the random \restrict keys.
snapshot_db_state() {
	"$PGBIN/pg_dump" -O -x -d "$1" |
		grep -v -e '^--' -e '^$' -e '^\\restrict ' -e '^\\unrestrict '
	echo "-- large objects"
	sql "$1" "select oid, md5(lo_get(oid)) from pg_largeobject_metadata order by oid"
}

# snapshot_db_fingerprint: print what a restore must reproduce of database $1, in SQL alone, so
# that it works on every server from 12 to 18 with the PGBIN client (pg_dump 15 refuses 16+):
# the user schemas, extensions, types, relations with their columns, constraints, indexes,
# triggers, rules, policies, sequences with their values, views, functions, comments and large
# objects (each with its md5), then every table's row count and the md5 of its rows as text,
# sorted. Names and definitions come from the server's own deparsers (pg_get_*def), which differ
# between major versions: compare fingerprints taken on one server. OIDs appear only for large
# objects (a restore keeps theirs). Output settings are fixed so that the rows' text does not
# depend on the session.
snapshot_db_fingerprint() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$1" -f - <<-'EOF'
		set timezone = 'UTC';
		set datestyle = 'ISO, YMD';
		set intervalstyle = 'postgres';
		set extra_float_digits = 1;
		set bytea_output = 'hex';
		\set user_ns '(n.nspname !~ ''^pg_'' and n.nspname <> ''information_schema'')'
		\echo -- schemas
		select nspname, pg_get_userbyid(nspowner), coalesce(nspacl::text, '-')
			from pg_namespace n where :user_ns order by 1;
		\echo -- extensions
		select e.extname, e.extversion, n.nspname from pg_extension e
			join pg_namespace n on n.oid = e.extnamespace order by 1;
		\echo -- types
		select n.nspname, t.typname, t.typtype, pg_get_userbyid(t.typowner),
			coalesce(format_type(nullif(t.typbasetype, 0), t.typtypmod), '-'), t.typnotnull,
			coalesce(t.typdefault, '-'),
			coalesce((select string_agg(e.enumlabel, ',' order by e.enumsortorder)
				from pg_enum e where e.enumtypid = t.oid), '-')
			from pg_type t join pg_namespace n on n.oid = t.typnamespace and :user_ns
			where not exists (select from pg_type a where a.typarray = t.oid)
				and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')
			order by 1, 2;
		\echo -- relations
		select n.nspname, c.relname, c.relkind, c.relpersistence, pg_get_userbyid(c.relowner),
			coalesce(c.relacl::text, '-'), coalesce(c.reloptions::text, '-'),
			coalesce(pg_get_expr(c.relpartbound, c.oid), '-'),
			coalesce((select string_agg(quote_ident(pn.nspname) || '.' || quote_ident(p.relname), ','
				order by i.inhseqno) from pg_inherits i join pg_class p on p.oid = i.inhparent
				join pg_namespace pn on pn.oid = p.relnamespace where i.inhrelid = c.oid), '-')
			from pg_class c join pg_namespace n on n.oid = c.relnamespace and :user_ns
			where c.relkind in ('r', 'p', 'v', 'm', 'f', 'c', 'S') order by 1, 2;
		\echo -- columns
		select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			a.attidentity, a.attgenerated, coalesce(pg_get_expr(d.adbin, d.adrelid), '-'),
			coalesce(co.collname, '-')
			from pg_attribute a join pg_class c on c.oid = a.attrelid
			join pg_namespace n on n.oid = c.relnamespace and :user_ns
			left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
			left join pg_collation co on co.oid = a.attcollation and a.attcollation <> 100
			where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
			order by 1, 2, a.attnum;
		\echo -- constraints
		select n.nspname, coalesce(c.relname, format_type(co.contypid, null)), co.conname,
			co.contype, pg_get_constraintdef(co.oid)
			from pg_constraint co join pg_namespace n on n.oid = co.connamespace and :user_ns
			left join pg_class c on c.oid = co.conrelid order by 1, 2, 3, 5;
		\echo -- indexes
		select schemaname, tablename, indexname, indexdef from pg_indexes
			where schemaname !~ '^pg_' and schemaname <> 'information_schema' order by 1, 2, 3;
		\echo -- triggers
		select n.nspname, c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid)
			from pg_trigger t join pg_class c on c.oid = t.tgrelid
			join pg_namespace n on n.oid = c.relnamespace and :user_ns
			where not t.tgisinternal order by 1, 2, 3;
		\echo -- rules
		select schemaname, tablename, rulename, definition from pg_rules
			where schemaname !~ '^pg_' and schemaname <> 'information_schema' order by 1, 2, 3;
		\echo -- policies
		select schemaname, tablename, policyname, permissive, roles::text, cmd,
			coalesce(qual, '-'), coalesce(with_check, '-') from pg_policies
			where schemaname !~ '^pg_' and schemaname <> 'information_schema' order by 1, 2, 3;
		\echo -- sequences
		select n.nspname, c.relname, format_type(s.seqtypid, null), s.seqstart, s.seqincrement,
			s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
			coalesce((select quote_ident(tn.nspname) || '.' || quote_ident(t.relname) || '.' ||
				quote_ident(a.attname) from pg_depend dep join pg_class t on t.oid = dep.refobjid
				join pg_namespace tn on tn.oid = t.relnamespace
				join pg_attribute a on a.attrelid = t.oid and a.attnum = dep.refobjsubid
				where dep.classid = 'pg_class'::regclass and dep.objid = c.oid
				and dep.refclassid = 'pg_class'::regclass and dep.deptype in ('a', 'i')), '-')
			from pg_sequence s join pg_class c on c.oid = s.seqrelid
			join pg_namespace n on n.oid = c.relnamespace and :user_ns order by 1, 2;
		select format('select %L, last_value, is_called from %I.%I', 'value ' || n.nspname || '.' || c.relname,
			n.nspname, c.relname)
			from pg_class c join pg_namespace n on n.oid = c.relnamespace and :user_ns where c.relkind = 'S'
			order by n.nspname, c.relname \gexec
		\echo -- views
		select n.nspname, c.relname, pg_get_viewdef(c.oid)
			from pg_class c join pg_namespace n on n.oid = c.relnamespace and :user_ns where c.relkind in ('v', 'm')
			order by 1, 2;
		\echo -- functions
		select n.nspname, p.oid::regprocedure::text, p.prokind, pg_get_userbyid(p.proowner),
			coalesce(p.proacl::text, '-'),
			case when p.prokind = 'a' then '-' else pg_get_functiondef(p.oid) end
			from pg_proc p join pg_namespace n on n.oid = p.pronamespace and :user_ns
			where not exists (select from pg_depend dep where dep.classid = 'pg_proc'::regclass
				and dep.objid = p.oid and dep.deptype = 'e')
			order by 1, 2;
		\echo -- comments
		select pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
			from pg_description d
			where d.objoid >= 16384 or (d.classoid = 'pg_namespace'::regclass
				and d.objoid in (select n.oid from pg_namespace n where :user_ns))
			order by 1, 2;
		\echo -- large objects
		select oid, pg_get_userbyid(lomowner), coalesce(lomacl::text, '-'), md5(lo_get(oid))
			from pg_largeobject_metadata order by oid;
		\echo -- rows
		select format('select %L, count(*), coalesce(md5(string_agg(r::text, E''\n'' '
				'order by r::text collate "C")), ''-'') from only %I.%I r',
			'rows ' || n.nspname || '.' || c.relname, n.nspname, c.relname)
			from pg_class c join pg_namespace n on n.oid = c.relnamespace and :user_ns
			where c.relkind = 'r' or (c.relkind = 'm' and c.relispopulated)
			order by n.nspname, c.relname \gexec
	EOF
}

# fingerprint_as: save the fingerprint of database $2 as $CASE_DIR/$1.fp.
fingerprint_as() {
	snapshot_db_fingerprint "$2" >"$CASE_DIR/$1.fp"
}

# assert_fingerprint: fail with message $1 unless fingerprint files $2 (expected) and $3 are
# equal; the first differing lines go into the message.
assert_fingerprint() {
	cmp -s "$2" "$3" ||
		fail "$1 differs: $(diff "$2" "$3" | sed -n 's/^< /expected: /p; s/^> /found: /p' | sed -n 1,6p |
			cut -c1-160 | tr '\n' ' ')"
}

# snapshot_dir_state: print every entry below folder $1, sorted, with its type, and a sha256 for
# regular files; "(absent)" when the folder does not exist. FILES_ONLY=1 lists regular files only.
snapshot_dir_state() {
	local dir=$1 path line
	if [ ! -e "$dir" ]; then
		echo "(absent)"
		return
	fi
	# One find and one sha256sum for the whole folder (a process or three per entry made this a
	# tenth of some scripts' time); the output is the same as stat -c %F and sha256sum per entry.
	local -A type=() sum=()
	while IFS= read -r -d '' line; do
		type[${line:2}]=${line:0:1}
	done < <(cd "$dir" && find . -mindepth 1 -printf '%y %P\0')
	while IFS= read -r -d '' line; do
		sum[${line:66}]=${line:0:64}
	done < <(cd "$dir" && find . -mindepth 1 -type f -printf '%P\0' | xargs -0 -r sha256sum -z -- 2>/dev/null)
	(cd "$dir" && find . -mindepth 1 -printf '%P\n' | sort) | while IFS= read -r path; do
		case ${type[$path]:-} in
		f) echo "file $path ${sum[$path]:-}" ;;
		*) [ "${FILES_ONLY:-0}" = 1 ] && continue
			case ${type[$path]:-} in
			d) echo "directory $path" ;;
			l) echo "symbolic link $path" ;;
			*) echo "$(stat -c %F "$dir/$path") $path" ;;
			esac ;;
		esac
	done
}

# write_config: write config file $1 for one target "acceptance"; key=value arguments override
# the defaults (work_dir, pg_restore, default_target, dbname, database, blob_dir, plan_quota,
# restore_overhead, max_dump_version); an empty value drops the key; any other key=value is
# written into the target as it is (to test unknown keys).
write_config() {
	local file=$1 kv key
	shift
	local -A c=([work_dir]=$WORK_DIR [pg_restore]=$PGBIN/pg_restore [default_target]=acceptance
		[dbname]=target [database]="" [blob_dir]=$BLOB_DIR [plan_quota]=10GB
		[restore_overhead]="" [max_dump_version]="")
	local extra=()
	for kv in "$@"; do
		key=${kv%%=*}
		if [ -n "${c[$key]+set}" ]; then
			c[$key]=${kv#*=}
		else
			extra+=("    $key: ${kv#*=}")
		fi
	done
	[ -n "${c[database]}" ] || c[database]="host=$PGHOST dbname=${c[dbname]} user=app"
	{
		[ -n "${c[work_dir]}" ] && echo "work_dir: ${c[work_dir]}"
		[ -n "${c[pg_restore]}" ] && echo "pg_restore: ${c[pg_restore]}"
		[ -n "${c[default_target]}" ] && echo "default_target: ${c[default_target]}"
		echo "targets:"
		echo "  acceptance:"
		echo "    database: \"${c[database]}\""
		[ -n "${c[blob_dir]}" ] && echo "    blob_dir: ${c[blob_dir]}"
		[ -n "${c[plan_quota]}" ] && echo "    plan_quota: ${c[plan_quota]}"
		[ -n "${c[restore_overhead]}" ] && echo "    restore_overhead: ${c[restore_overhead]}"
		[ -n "${c[max_dump_version]}" ] && echo "    max_dump_version: \"${c[max_dump_version]}\""
		[ ${#extra[@]} -eq 0 ] || printf '%s\n' "${extra[@]}"
	} >"$file"
}

# old_files_held: is any old tree (.<name>.old-<job id>) in folder $1 held by its removal? (The
# removal's flock on it, looked up in /proc/locks by inode, without taking it.)
old_files_held() {
	local d ino
	for d in "$1"/.*.old-*; do
		ino=$(stat -c %i "$d" 2>/dev/null) || continue
		awk -v ino="$ino" '$2 == "FLOCK" { n = split($6, f, ":"); if (f[n] == ino) found = 1 } END { exit !found }' /proc/locks && return 0
	done
	return 1
}

# wait_old_files: restore returns before the old files it swapped out are removed (by a process
# of its own); wait (10 s at most) until no old tree in folder $1 (default BLOB_PARENT) is held
# by its removal: each is then removed, or left for good.
wait_old_files() {
	local parent=${1:-${BLOB_PARENT:-}} i
	[ -n "$parent" ] && [ -d "$parent" ] || return 0
	for ((i = 0; i < 200; i++)); do
		old_files_held "$parent" || return 0
		sleep 0.05
	done
	echo "# the old files in $parent were still being removed after 10 s" >&2
	return 1
}

# run_worker: run restore-worker with the given arguments (2 minutes at most); its stdout goes to
# $CASE_DIR/out, its stderr to $CASE_DIR/err, and its exit status into RW_STATUS. Then it waits
# for the removal of the old files in BLOB_PARENT (wait_old_files), so that the checks that
# follow see the folder as it stays.
run_worker() {
	set +e
	timeout -k 5 120 "$RESTORE_WORKER" "$@" >"$CASE_DIR/out" 2>"$CASE_DIR/err"
	RW_STATUS=$?
	wait_old_files
	set -e
}

# case_begin: start test case $1 with a fresh folder CASE_DIR, a work_dir WORK_DIR and a
# blob_dir BLOB_DIR (not created) whose parent BLOB_PARENT holds nothing else.
case_begin() {
	CASE_NAME=$1
	CASE_ERRORS=()
	CASE_STARTED=$EPOCHREALTIME
	CASE_DIR=$TEST_ROOT/case.$1
	WORK_DIR=$CASE_DIR/work
	BLOB_PARENT=$CASE_DIR/blobs
	BLOB_DIR=$BLOB_PARENT/files
	mkdir -p "$CASE_DIR" "$WORK_DIR" "$BLOB_PARENT"
}

# fail: record a failure of the current case (the case goes on, so every failure is listed).
fail() {
	CASE_ERRORS+=("$*")
}

# case_end: print "ok - NAME" or "not ok - NAME: reasons" with the worker's last stderr and
# stdout (also after "ok" when ITEST_VERBOSE=1).
case_end() {
	local took
	took=$(awk -v a="${CASE_STARTED:-$EPOCHREALTIME}" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	if [ ${#CASE_ERRORS[@]} -eq 0 ]; then
		echo "ok - $CASE_NAME # ${took} s"
		TESTS_PASSED=$((TESTS_PASSED + 1))
		if [ "${ITEST_VERBOSE:-0}" = 1 ]; then
			sed 's/^/#   stderr: /' "$CASE_DIR/err" 2>/dev/null || true
			sed 's/^/#   stdout: /' "$CASE_DIR/out" 2>/dev/null || true
		fi
	else
		local joined
		joined=$(printf '%s; ' "${CASE_ERRORS[@]}")
		echo "not ok - $CASE_NAME: ${joined%; } # ${took} s"
		TESTS_FAILED=$((TESTS_FAILED + 1))
		if [ -s "$CASE_DIR/err" ]; then
			sed -n '1,20s/^/#   stderr: /p' "$CASE_DIR/err"
		fi
		if [ -s "$CASE_DIR/out" ]; then
			head -c 3000 "$CASE_DIR/out" | sed 's/^/#   stdout: /'
			echo
		fi
	fi
}

# case_skip: print that case $1 was skipped and why ($2).
case_skip() {
	echo "ok - $1 # SKIP $2"
	TESTS_SKIPPED=$((TESTS_SKIPPED + 1))
}

# finish: print the closing count line and exit 1 if any case failed.
finish() {
	TESTS_FINISHED=1
	awk -v a="$TESTS_STARTED" -v b="$EPOCHREALTIME" 'BEGIN { printf "# %.1f s in all\n", b - a }'
	if [ "$TESTS_SKIPPED" -gt 0 ]; then
		echo "$TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
	else
		echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
	fi
	[ "$TESTS_FAILED" -eq 0 ] && [ "$TESTS_PASSED" -gt 0 ]
}

# assert_eq: fail the case with message $1 unless $2 equals $3.
assert_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# assert_exit: fail unless the last run_worker exited with status $1.
assert_exit() {
	[ "$RW_STATUS" = "$1" ] || fail "exit status: expected $1, got $RW_STATUS"
}

# assert_same_file: fail with message $1 unless files $2 and $3 have the same content.
assert_same_file() {
	cmp -s "$2" "$3" || fail "$1 differs: $(diff "$2" "$3" | sed -n 1,5p | tr '\n' ' ')"
}

# report_is_one_object: fail unless the worker's stdout is exactly one JSON object.
report_is_one_object() {
	local one
	one=$(jq -s 'length == 1 and (.[0] | type == "object")' "$CASE_DIR/out" 2>/dev/null) || one=false
	[ "$one" = true ] || fail "stdout is not exactly one JSON object"
}

# report: print the result of jq filter $1 on the worker's report (raw), or "(no report)".
report() {
	jq -r "$1" "$CASE_DIR/out" 2>/dev/null || echo "(no report)"
}

# assert_report: fail unless jq filter $1 on the report prints $2.
assert_report() {
	assert_eq "report $1" "$2" "$(report "$1")"
}

# assert_report_true: fail unless jq filter $1 on the report is true (message $2 explains it).
assert_report_true() {
	[ "$(report "$1")" = true ] || fail "report: ${2:-$1} does not hold"
}

# assert_error_line: fail unless the report's .error is a non-empty string of one line.
assert_error_line() {
	assert_report_true '.error | type == "string" and length > 0 and (contains("\n") | not)' \
		".error is a non-empty single line"
}

# capture_state: save the state of database $2 and of BLOB_DIR and its parent as "$1".
capture_state() {
	snapshot_db_state "$2" >"$CASE_DIR/$1.db"
	snapshot_dir_state "$BLOB_DIR" >"$CASE_DIR/$1.files"
	ls -A "$BLOB_PARENT" >"$CASE_DIR/$1.parent"
}

# assert_unchanged: fail unless database $1, BLOB_DIR and its parent are as saved in "before",
# and work_dir is empty.
assert_unchanged() {
	capture_state after "$1"
	assert_same_file "database" "$CASE_DIR/before.db" "$CASE_DIR/after.db"
	assert_same_file "blob_dir" "$CASE_DIR/before.files" "$CASE_DIR/after.files"
	assert_same_file "blob_dir's parent" "$CASE_DIR/before.parent" "$CASE_DIR/after.parent"
	assert_work_dir_empty
}

# assert_work_dir_empty: fail unless WORK_DIR holds nothing.
assert_work_dir_empty() {
	local left
	left=$(ls -A "$WORK_DIR")
	[ -z "$left" ] || fail "work_dir not empty: $(echo "$left" | tr '\n' ' ')"
}

cluster_start
sql postgres "create role app login"
