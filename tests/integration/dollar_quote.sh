#!/usr/bin/env bash
# dollar_quote.sh - function bodies whose dollar-quote tags are long, and one-line messages.
#
# pg_dump quotes a function body with $$, and lengthens the tag ($_$, $_X$, $_XX$, ...) until
# the body does not contain it: a body holding a 70-character "$_XXXXXXX_X..." string gets a
# 71-character tag. The restore must follow such a body to its end whatever the tag's length,
# so that a "-- Name: ..." line inside it is never taken for one of pg_restore's entry
# headers, and the restored bodies must be exactly the source's.
#
# Then a restore that fails with a server message holding newlines: the report's error and
# every line the program writes are still one line per message.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# dq_string: "$" and the first $1 - 1 characters of pg_dump's tag suffixes "_XXXXXXX" repeated.
dq_string() {
	local out='$' suffixes=_XXXXXXX i
	for ((i = 0; i < $1 - 1; i++)); do
		out+=${suffixes:i % 8:1}
	done
	printf '%s' "$out"
}

S70=$(dq_string 70)
S300=$(dq_string 300)
S5000=$(dq_string 5000)

create_db src
sql_as_app src - >/dev/null <<EOF
create table before_fn (id integer primary key, note text);
insert into before_fn select i, 'before ' || i from generate_series(1, 50) i;

create function public.long_tag() returns text language plpgsql as \$body\$
begin
-- Name: x; Type: TABLE; Schema: public; Owner: -
-- PostgreSQL database dump complete
	return '$S70';
end
\$body\$;

create function public.longer_tag(a integer) returns text language sql as \$body\$
select '$S300' || \$\$
-- Name: y; Type: TABLE DATA; Schema: public; Owner: -
\$\$ || a::text
\$body\$;

create function public.very_long_tag() returns text language plpgsql as \$body\$
begin
	-- a tag longer than any fixed buffer of the past: $S5000
	return '
-- Name: z; Type: FUNCTION; Schema: public; Owner: -
';
end
\$body\$;

create table after_fn (id integer primary key, what text default public.long_tag());
insert into after_fn (id) select i from generate_series(1, 20) i;
EOF
snapshot_db_state src >"$TEST_ROOT/src.state"
sql src "select proname, md5(prosrc) from pg_proc where pronamespace = 'public'::regnamespace order by proname" \
	>"$TEST_ROOT/src.bodies"
DUMP=$TEST_ROOT/database-longtag.backup
dump_custom src "$DUMP"

# The dump really uses the long tags this test is about.
case_begin dump_has_long_tags
"$PGBIN/pg_restore" -f - "$DUMP" >"$CASE_DIR/script.sql"
for n in 70 300 5000; do
	tag="$(dq_string $((n + 1)))\$"
	grep -qF -- "$tag" "$CASE_DIR/script.sql" || fail "the dump has no $((n + 1))-character tag"
done
case_end

case_begin long_tags_restored
create_db target
sql_as_app target "create table old_t (x integer)"
write_config "$CASE_DIR/config.yaml"
run_worker -c "$CASE_DIR/config.yaml" restore --db-only --json "$DUMP"
assert_exit 0
report_is_one_object
assert_report .status succeeded
snapshot_db_state target >"$CASE_DIR/after.db"
assert_same_file "target database (vs source)" "$TEST_ROOT/src.state" "$CASE_DIR/after.db"
sql target "select proname, md5(prosrc) from pg_proc where pronamespace = 'public'::regnamespace order by proname" \
	>"$CASE_DIR/after.bodies"
assert_same_file "function bodies (vs source)" "$TEST_ROOT/src.bodies" "$CASE_DIR/after.bodies"
assert_eq "long_tag()" "$S70" "$(sql target "select public.long_tag()")"
assert_eq "after_fn default" "$S70" "$(sql target "select distinct what from after_fn")"
assert_eq "after_fn rows" 20 "$(sql target "select count(*) from after_fn")"
assert_work_dir_empty
case_end

# A restore that fails with a message of several lines: an index whose function raises, with
# a newline in the message, only in the target database.
case_begin error_message_one_line
create_db src2
sql_as_app src2 - >/dev/null <<'EOF'
create function public.picky(x integer) returns integer language plpgsql immutable as $$
begin
	if current_database() = 'target2' then
		raise exception E'picky refuses\nthis database\r\tfor good';
	end if;
	return x;
end
$$;
create table t (x integer);
insert into t values (1), (2);
create index t_picky on t (public.picky(x));
EOF
dump_custom src2 "$CASE_DIR/picky.backup"
create_db target2
write_config "$CASE_DIR/config.yaml" dbname=target2
run_worker -c "$CASE_DIR/config.yaml" restore --db-only --json "$CASE_DIR/picky.backup"
assert_exit 1
report_is_one_object
assert_report .status failed
assert_error_line
assert_report_true '.error | contains("picky refuses this database")' \
	".error holds the server's message, its line breaks made spaces"
assert_report_true '.error | explode | all(. >= 32 and . != 127)' ".error holds no control character"
case_end

finish
