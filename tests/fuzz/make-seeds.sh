#!/usr/bin/env bash
# make-seeds.sh - regenerate the fuzz targets' seed corpora in tests/fuzz/corpus/<target>/.
#
#   tests/fuzz/make-seeds.sh [BUILD_DIR]
#
# The seeds are small (a few KB a corpus) and made the way the tests make their inputs: a tiny
# database dumped by the real pg_dump 15 (-O -x -Fc, with and without compression), dumps of
# archive versions 1.10 to 1.14 from tests/tools/olddump (BUILD_DIR/tests/olddump; BUILD_DIR
# defaults to what scripts/build prints), snapshots packed like tests/integration/lib.sh's
# pack_snapshot (tar.gz and tar), the .metadata Mendix writes, pg_restore's script of the
# dump for the SQL scanner, configurations after config.yaml.example, job files as
# `restore-worker submit` writes them, and connection strings with messages after
# tests/unit/test_conninfo.c. Only files named seed-* are replaced: past findings (crash-*,
# and any other name) stay. Starts a throwaway PostgreSQL 15 cluster (as the postgres user
# when run by root) and removes it again.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
corpus=$root/tests/fuzz/corpus
PGBIN=/usr/lib/postgresql/15/bin
build=${1:-$(scripts/build)}
olddump=$root/$build/tests/olddump
[ -x "$olddump" ] || olddump=$build/tests/olddump
[ -x "$olddump" ] || { echo "make-seeds: no olddump in $build/tests (build first)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/rw-seeds.XXXXXX)
chmod 755 "$tmp"
export PGHOST=$tmp/sock PGUSER=postgres LC_ALL=C
unset PGDATABASE PGPORT PGPASSWORD PGSERVICE
mkdir -p "$PGHOST"

# as_owner: run a command as the cluster's owner (postgres when we are root).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$tmp" && runuser -u postgres -- "$@")
	else
		(cd "$tmp" && "$@")
	fi
}

cleanup() {
	if [ -f "$tmp/data/postmaster.pid" ]; then
		as_owner "$PGBIN/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] && chown postgres: "$tmp" "$PGHOST"
as_owner "$PGBIN/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
	>"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }
as_owner "$PGBIN/pg_ctl" -D "$tmp/data" -w -l "$tmp/server.log" \
	-o "-c listen_addresses='' -k $PGHOST -c fsync=off" start >/dev/null

# A tiny application database: a table with a sequence and a comment, a view, and a function
# whose dollar-quoted body holds what the SQL scanner must not take for an entry header.
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'create database app'
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d app >/dev/null <<'EOF'
create table "shop$order" (id serial primary key, customer text, total numeric(8, 2));
insert into "shop$order" (customer, total) values ('a', 1.5), ('b''s', 2), (E'c\td', null);
comment on table "shop$order" is 'orders; -- not a comment';
create view "shop$big" as select id from "shop$order" where total > 1;
create function "shop$f"() returns text language plpgsql as $body$
begin
	return $x$
--
-- Name: fake; Type: TABLE; Schema: public; Owner: -
--
$x$ || '/* no */';
end
$body$;
EOF

out=$tmp/out
mkdir -p "$out"
"$PGBIN/pg_dump" -O -x -Fc -d app -f "$out/app.backup"
"$PGBIN/pg_dump" -O -x -Fc -Z 0 -d app -f "$out/app-z0.backup"
"$PGBIN/pg_restore" -f "$out/app.sql" "$out/app.backup"

# seeds: replace the seed-* files of corpus $1 with the files given as NAME=PATH.
seeds() {
	local target=$1 pair
	shift
	mkdir -p "$corpus/$target"
	rm -f "$corpus/$target"/seed-*
	for pair in "$@"; do
		cp "${pair#*=}" "$corpus/$target/seed-${pair%%=*}"
	done
}

# The dump reader: pg_dump 15, and old pg_dump versions as olddump writes them.
"$olddump" --version 1.10 --rows 2 -Z 0 -o "$out/old-1.10-z0.backup" >/dev/null
"$olddump" --version 1.12 --rows 2 --offsets unset -o "$out/old-1.12-pipe.backup" >/dev/null
"$olddump" --version 1.14 --rows 2 -Z 1 --table-comment -o "$out/old-1.14.backup" >/dev/null
seeds dump pg15="$out/app.backup" pg15-z0="$out/app-z0.backup" \
	old-1.10-z0="$out/old-1.10-z0.backup" old-1.12-pipe="$out/old-1.12-pipe.backup" \
	old-1.14="$out/old-1.14.backup"

# The archive walk: snapshots as Mendix packs them, a bare dump, a gzipped dump.
snap=$out/snap
uuid=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
mkdir -p "$snap/db" "$snap/tree/0a/1b"
cp "$out/app.backup" "$snap/db/db.backup"
printf 'file content\n' >"$snap/tree/0a/1b/$uuid"
printf '{"duration":"0","dumpSize":"%s","modelVersion":"1.0.0.40","databaseSize":"8000000","filesSize":"13"}\n' \
	"$(stat -c %s "$snap/db/db.backup")" >"$snap/.metadata"
tar -c -z -f "$out/snapshot.tar.gz" --owner=0 --group=0 --format=gnu -C "$snap" .metadata db tree
tar -c -f "$out/snapshot.tar" --record-size=512 --owner=0 --group=0 --format=gnu -C "$snap" .metadata db tree
tar -c -z -f "$out/dotslash.tar.gz" --owner=0 --group=0 --format=ustar -C "$snap" ./.metadata ./db/db.backup
gzip -9 -n -c "$out/old-1.10-z0.backup" >"$out/dump.backup.gz"
seeds archive_walk snapshot.tar.gz="$out/snapshot.tar.gz" snapshot.tar="$out/snapshot.tar" \
	dotslash.tar.gz="$out/dotslash.tar.gz" bare.backup="$out/app-z0.backup" \
	dump.backup.gz="$out/dump.backup.gz"

# .metadata.
printf '{"a": [1, 2.5e-3, true, false, null, {"b": "\\u00e9\\ud83d\\ude00\\n"}], "c": -0, "d": ""}' \
	>"$out/nested.json"
printf '{}' >"$out/empty.json"
seeds metadata mendix="$snap/.metadata" nested="$out/nested.json" empty="$out/empty.json"

# The SQL scanner: pg_restore's script of the tiny database, and the quoting forms.
printf "select 'it''s', E'a\\\\'b', \"q\"\"id\", \$\$x\$\$, \$t\$ \$ \$t\$; /* a /* nested */ */ -- end\n" \
	>"$out/quotes.sql"
# The statement splitter's verdicts: transaction control, comments, BEGIN ATOMIC, DO.
cat >"$out/statements.sql" <<'EOF'
COMMENT ON TABLE t IS 'c';COMMIT;--c
/* x */ end transaction; SAVEPOINT s; create unique index concurrently i on t (a);
CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN begin > 0 THEN 1 END; END;
DO $$BEGIN COMMIT; END$$; SELECT E'\'';' ; rollback
EOF
seeds sqlscan pg_restore="$out/app.sql" quotes="$out/quotes.sql" statements="$out/statements.sql"

# The configuration, after config.yaml.example (work_dir must exist: /tmp does).
cat >"$out/full.yaml" <<'EOF'
spool_dir: /var/spool/restore-worker
work_dir: /tmp
settle_seconds: 2
rescan_seconds: 30
retention_days: 30
max_parallel_jobs: 1
max_attempts: 3
pg_restore: /usr/lib/postgresql/15/bin/pg_restore
metrics_file: /var/lib/prometheus/node-exporter/restore_worker.prom
default_target: acceptance
targets:
  acceptance:
    database: "host=/var/run/postgresql dbname=app_acceptance user=mendix password='S3cr et'"
    blob_dir: /srv/app/acceptance/files
    plan_quota: 10GB
    restore_overhead: 2.25GB
    max_dump_version: "1.14"
    strategy: swap
    restore_jobs: 4
    maintenance_database: postgres
    analyze: false
    files_query: 'select "__uuid__" from "system$filedocument" where hascontents'
    before_restore: [/usr/bin/systemctl, stop, app-acceptance]
    after_restore:
      - /usr/bin/systemctl
      - start
      - app-acceptance
    hook_timeout_seconds: 300
    allow_restore: false
  test:
    database: postgresql://app:Secr3t@localhost/app
    blob_dir: /srv/app/test/files
    plan_quota: 512MiB
EOF
cat >"$out/minimal.yaml" <<'EOF'
work_dir: /tmp
targets:
  a: {database: dbname=a, blob_dir: /srv/a, plan_quota: 1TB}
EOF
printf 'work_dir: &w /tmp\ntargets:\n  a:\n    database: *w\n    blob_dir: /x\n    plan_quota: 10 GB\n' \
	>"$out/bad.yaml"
cat >"$out/objects.yaml" <<'EOF'
work_dir: /tmp
targets:
  s:
    database: dbname=s
    plan_quota: 1GB
    s3:
      endpoint: http://127.0.0.1:9000
      region: eu-west-1
      bucket: app-files
      prefix: "s/"
      suffix: ".bin"
      server_side_encryption: true
      access_key_id: AKIAEXAMPLE
      secret_access_key_file: s.s3-secret
      session_token_file: /run/credentials/s.token
      max_connections: 128
  a:
    database: dbname=a
    plan_quota: 1GB
    azure: {account_name: devstoreaccount1, account_key_file: a.key, container: files}
EOF
seeds config full.yaml="$out/full.yaml" minimal.yaml="$out/minimal.yaml" bad.yaml="$out/bad.yaml" \
	objects.yaml="$out/objects.yaml"

# Job files, as restore-worker submit writes them, and by hand.
printf 'archive: /srv/backups/files_and_database-fc9e126f-201811210121.tar.gz\ntarget: acceptance\ndb_only: false\ndry_run: true\n' \
	>"$out/job1.yaml"
printf '# by hand\narchive: "backup \\u00e9.tar.gz"\ndb_only: yes\n' >"$out/job2.yaml"
printf '{archive: x.backup, target: t, dry_run: false}\n' >"$out/job3.yaml"
seeds jobfile submit.yaml="$out/job1.yaml" hand.yaml="$out/job2.yaml" flow.yaml="$out/job3.yaml"

# Connection strings, a NUL, and a message that quotes them.
printf 'host=db user=app password=Secr3t dbname=x\0FATAL:  password authentication failed for user "app" (Secr3t)' \
	>"$out/keyvalue"
printf 'postgresql://app:Secr3t/Tail@localhost/app\0could not translate host name "Tail@localhost" to address: Secr3t' \
	>"$out/uri-slash"
printf 'postgresql://app:Sec%%2Fr3t@db/x?password=Qu3ry&sslmode=require\0invalid sslmode "Qu3ry" Sec/r3t' \
	>"$out/uri-params"
printf "host=db password='Sec r3t\\\\'x' sslpassword=K3y\0Sec r3t'x K3y" >"$out/quoted"
seeds conninfo keyvalue="$out/keyvalue" uri-slash="$out/uri-slash" uri-params="$out/uri-params" \
	quoted="$out/quoted"

# Sizes.
i=0
sizes=()
for s in 10GB 2.25GB 512MiB 123456B 123456 0.5kB 1.5 18446744073709551615 16777216TiB 1.0000000000000000000000000000000000000000001TB; do
	printf '%s' "$s" >"$out/size$i"
	sizes+=("$i=$out/size$i")
	i=$((i + 1))
done
seeds size "${sizes[@]}"

du -sh "$corpus"/* >&2
