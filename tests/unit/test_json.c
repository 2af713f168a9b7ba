/*
 * test_json.c - the JSON writer and parser (restore/common/json.c, through jansson): the
 * writer's text (member order kept, counters as integers up to 2^63 - 1, seconds as reals
 * rounded to milliseconds, strings repaired to UTF-8 and escaped), and a table of texts the
 * parser must take, with the members it gives, or refuse, with the reason it must give.
 */
#include <jansson.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int passed, failed;

/* check: count one case; print it when it fails. */
static void
check(bool ok, const char *name, const char *got, const char *expected)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("not ok - %s: got '%s', expected '%s'\n", name, got != NULL ? got : "(null)",
	       expected != NULL ? expected : "(null)");
}

/* check_text: text (freed here) must be expected, byte for byte. */
static void
check_text(const char *name, char *text, const char *expected)
{
	check(text != NULL && expected != NULL ? strcmp(text, expected) == 0 : text == expected,
	      name, text, expected);
	free(text);
}

/* A report's shape: nesting, every kind of value, numbers as jansson prints them. */
static void
test_writer_report(void)
{
	struct json_writer w = {0};

	json_begin_object(&w);
	json_key(&w, "job_id");
	json_string(&w, "j1");
	json_key(&w, "dry_run");
	json_bool(&w, false);
	json_key(&w, "previous_backup");
	json_null(&w);
	json_key(&w, "warnings");
	json_begin_array(&w);
	json_end_array(&w);
	json_key(&w, "database");
	json_begin_object(&w);
	json_key(&w, "decompressed_bytes");
	json_uint(&w, 0);
	json_key(&w, "quota_bytes");
	json_uint(&w, 18446744073709551615ULL);
	json_key(&w, "big");
	json_uint(&w, 9223372036854775807ULL);
	json_end_object(&w);
	json_key(&w, "uuids");
	json_begin_array(&w);
	json_string(&w, "a");
	json_string(&w, "-1");
	json_uint(&w, 7);
	json_fixed3(&w, 0.5);
	json_end_array(&w);
	json_key(&w, "timings");
	json_begin_object(&w);
	json_key(&w, "zebra_s");
	json_fixed3(&w, 0.812);
	json_key(&w, "apple_s");
	json_fixed3(&w, 4.31);
	json_key(&w, "zero_s");
	json_fixed3(&w, 0);
	json_key(&w, "negative_s");
	json_fixed3(&w, -2);
	json_key(&w, "huge_s");
	json_fixed3(&w, 1e13);
	json_key(&w, "time");
	json_fixed3(&w, 1714564800.25);
	json_end_object(&w);
	json_end_object(&w);
	check_text("writer: a report", json_finish(&w),
	           "{\"job_id\":\"j1\",\"dry_run\":false,\"previous_backup\":null,\"warnings\":[],"
	           "\"database\":{\"decompressed_bytes\":0,\"quota_bytes\":9223372036854775807,"
	           "\"big\":9223372036854775807},\"uuids\":[\"a\",\"-1\",7,0.5],"
	           "\"timings\":{\"zebra_s\":0.812,\"apple_s\":4.31,\"zero_s\":0.0,"
	           "\"negative_s\":0.0,\"huge_s\":0.0,\"time\":1714564800.25}}");
}

/* written: the text of [value] as json_uint or json_fixed3 (seconds) writes it, into buf. */
static bool
written(bool seconds, uint64_t count, double s, char *buf, size_t buflen)
{
	struct json_writer w = {0};
	char *text;

	json_begin_array(&w);
	if (seconds)
		json_fixed3(&w, s);
	else
		json_uint(&w, count);
	json_end_array(&w);
	text = json_finish(&w);
	snprintf(buf, buflen, "%s", text != NULL ? text : "(failed)");
	free(text);
	return text != NULL;
}

/* Counters past what a double holds exactly are exact integers; above 2^63 - 1 clamped. */
static void
test_writer_counters(void)
{
	static const struct {
		const char *name;
		uint64_t in;
		const char *out;
		json_int_t value;
	} cases[] = {
	    {"zero", 0, "[0]", 0},
	    {"2^53 + 1 (no double holds it)", 9007199254740993ULL, "[9007199254740993]",
	     9007199254740993LL},
	    {"UINT32_MAX * 3", 4294967295ULL * 3, "[12884901885]", 12884901885LL},
	    {"INT64_MAX", 9223372036854775807ULL, "[9223372036854775807]", INT64_MAX},
	    {"INT64_MAX + 1 clamped", 9223372036854775808ULL, "[9223372036854775807]", INT64_MAX},
	    {"UINT64_MAX clamped", UINT64_MAX, "[9223372036854775807]", INT64_MAX},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64], name[128];
		json_error_t error;
		json_t *back;
		bool ok;

		written(false, cases[i].in, 0, text, sizeof(text));
		back = json_loads(text, 0, &error);
		ok = strcmp(text, cases[i].out) == 0 && back != NULL &&
		     json_is_integer(json_array_get(back, 0)) &&
		     json_integer_value(json_array_get(back, 0)) == cases[i].value;
		json_decref(back);
		snprintf(name, sizeof(name), "writer counter: %s", cases[i].name);
		check(ok, name, text, cases[i].out);
	}
}

/* Seconds are reals rounded to milliseconds, read back as the same double. */
static void
test_writer_seconds(void)
{
	static const struct {
		const char *name;
		double in;
		const char *out;
		long long ms; /* the value read back, times 1000 */
	} cases[] = {
	    {"4.31 without a binary tail", 4.31, "[4.31]", 4310},
	    {"0.1 + 0.2", 0.1 + 0.2, "[0.3]", 300},
	    {"rounded down", 1.23449, "[1.234]", 1234},
	    {"rounded up", 1.23456, "[1.235]", 1235},
	    {"under half a millisecond", 0.0004, "[0.0]", 0},
	    {"over half a millisecond", 0.0006, "[0.001]", 1},
	    {"whole seconds stay a real", 2.0, "[2.0]", 2000},
	    {"a time stamp", 1714564800.2504, "[1714564800.25]", 1714564800250},
	    {"the largest", 999999999999.999, "[999999999999.999]", 999999999999999},
	    {"1e12 is out of range", 1e12, "[0.0]", 0},
	    {"negative", -0.5, "[0.0]", 0},
	    {"not a number", NAN, "[0.0]", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64], name[128];
		json_error_t error;
		json_t *back;
		bool ok;

		written(true, 0, cases[i].in, text, sizeof(text));
		back = json_loads(text, 0, &error);
		ok = strcmp(text, cases[i].out) == 0 && back != NULL &&
		     json_is_real(json_array_get(back, 0)) &&
		     json_real_value(json_array_get(back, 0)) == (double)cases[i].ms / 1000;
		json_decref(back);
		snprintf(name, sizeof(name), "writer seconds: %s", cases[i].name);
		check(ok, name, text, cases[i].out);
	}
}

/* Members come out in the order written, however many and whatever their names hash to. */
static void
test_writer_key_order(void)
{
	struct json_writer w = {0};
	struct json_member *m = NULL;
	char err[256] = "", key[16], *text;
	unsigned seed = 7;
	int order[64], wrong = 0;
	size_t n = 0;

	for (int i = 0; i < 64; i++)
		order[i] = i;
	for (int i = 63; i > 0; i--) { /* a shuffle: neither sorted nor reverse */
		int j = rand_r(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	json_begin_object(&w);
	for (int i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "k%02d", order[i]);
		json_key(&w, key);
		json_uint(&w, (uint64_t)i);
	}
	json_key(&w, "zebra");
	json_begin_object(&w);
	json_key(&w, "z");
	json_bool(&w, true);
	json_key(&w, "a");
	json_null(&w);
	json_end_object(&w);
	json_end_object(&w);
	text = json_finish(&w);
	if (text == NULL || json_parse_members(text, strlen(text), &m, &n, err, sizeof(err)) < 0 ||
	    n != 64) {
		check(false, "writer: key order", text != NULL ? err : "(failed)", "64 members");
		free(text);
		json_members_free(m, n);
		return;
	}
	for (int i = 0; i < 64; i++) {
		char value[16];

		snprintf(key, sizeof(key), "k%02d", order[i]);
		snprintf(value, sizeof(value), "%d", i);
		if (strcmp(m[i].name, key) != 0 || strcmp(m[i].value, value) != 0)
			wrong++;
	}
	check(wrong == 0, "writer: 64 keys in the order written", wrong == 0 ? "" : "reordered",
	      "in order");
	check(strstr(text, "\"zebra\":{\"z\":true,\"a\":null}}") != NULL,
	      "writer: nested keys in the order written", text,
	      "...\"zebra\":{\"z\":true,\"a\":null}}");
	json_members_free(m, n);
	free(text);
}

/* Strings: any bytes in, valid UTF-8 JSON out. */
static void
test_writer_strings(void)
{
	static const struct {
		const char *name, *in, *out;
	} cases[] = {
	    {"plain", "db/db.backup", "\"db/db.backup\""},
	    {"quotes and backslashes", "a\"b\\c", "\"a\\\"b\\\\c\""},
	    {"control characters", "a\nb\r\tc\x01\x1f\x7f", "\"a\\nb\\r\\tc\\u0001\\u001F\x7f\""},
	    {"valid UTF-8 kept", "tabl\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80",
	     "\"tabl\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80\""},
	    {"Latin-1 byte", "caf\xe9.txt", "\"caf\xef\xbf\xbd.txt\""},
	    {"lone continuation bytes", "\x80\xbf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
	    {"truncated sequence at the end", "a\xe2\x82", "\"a\xef\xbf\xbd\xef\xbf\xbd\""},
	    {"overlong slash", "\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
	    {"surrogate", "\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
	    {"past U+10FFFF", "\xf4\x90\x80\x80",
	     "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
	    {"a file name with both", "tree/\xff\n\x1b[31m\xc3",
	     "\"tree/\xef\xbf\xbd\\n\\u001B[31m\xef\xbf\xbd\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_writer w = {0};
		char expected[256], name[128];

		json_begin_object(&w);
		json_key(&w, cases[i].in); /* the same repair for names */
		json_string(&w, cases[i].in);
		json_end_object(&w);
		snprintf(expected, sizeof(expected), "{%s:%s}", cases[i].out, cases[i].out);
		snprintf(name, sizeof(name), "writer string: %s", cases[i].name);
		check_text(name, json_finish(&w), expected);
	}
}

/* Every string of random bytes gives text jansson reads back, as one string. */
static void
test_writer_random_bytes(void)
{
	unsigned seed = 12;
	int bad = 0;

	for (int round = 0; round < 20000; round++) {
		struct json_writer w = {0};
		char in[24], *text;
		size_t n = 1 + (size_t)(rand_r(&seed) % (sizeof(in) - 1));
		json_error_t error;
		json_t *back;

		for (size_t k = 0; k < n - 1; k++)
			in[k] = (char)(1 + rand_r(&seed) % 255);
		in[n - 1] = '\0';
		json_begin_array(&w);
		json_string(&w, in);
		json_end_array(&w);
		text = json_finish(&w);
		back = text != NULL ? json_loads(text, JSON_REJECT_DUPLICATES, &error) : NULL;
		if (back == NULL || json_array_size(back) != 1 ||
		    !json_is_string(json_array_get(back, 0)))
			bad++;
		json_decref(back);
		free(text);
	}
	check(bad == 0, "writer: random bytes always give valid JSON", bad == 0 ? "" : "failures",
	      "none");
}

/* Misuse fails json_finish instead of writing something that is not JSON. */
static void
test_writer_misuse(void)
{
	struct json_writer w = {0};

	json_begin_object(&w);
	json_string(&w, "no key");
	json_end_object(&w);
	check_text("writer: a member without a name", json_finish(&w), NULL);

	memset(&w, 0, sizeof(w));
	json_begin_object(&w);
	json_key(&w, "open");
	json_begin_array(&w);
	check_text("writer: not ended", json_finish(&w), NULL);

	memset(&w, 0, sizeof(w));
	for (int i = 0; i < JSON_DEPTH_MAX + 1; i++)
		json_begin_array(&w);
	for (int i = 0; i < JSON_DEPTH_MAX + 1; i++)
		json_end_array(&w);
	check_text("writer: too deep", json_finish(&w), NULL);

	memset(&w, 0, sizeof(w));
	check_text("writer: nothing written", json_finish(&w), NULL);
}

struct parse_case {
	const char *name;
	const char *text;
	size_t len;           /* 0: strlen(text) */
	const char *expected; /* "name=value;..." of the members, or NULL: refused */
	const char *error;    /* a substring of the refusal */
};

static const struct parse_case parse_cases[] = {
    {"metadata", "{\"duration\":\"0\",\"modelVersion\":\"1.0.0.40\",\"dumpSize\":\"123\"}", 0,
     "duration=0;modelVersion=1.0.0.40;dumpSize=123;", NULL},
    {"numbers keep their text", "{\"n\":18,\"big\":9223372036854775807,\"z\":0,\"neg\":-5}", 0,
     "n=18;big=9223372036854775807;z=0;neg=-5;", NULL},
    {"reals read back as the same", "{\"t\":4.310,\"u\":0.1,\"w\":1714564800.250,\"e\":1.0e3}", 0,
     "t=4.31;u=0.1;w=1714564800.25;e=1e+03;", NULL},
    {"a whole real stays a real", "{\"r\":2.0}", 0, "r=2.0;", NULL},
    {"nested values checked and skipped",
     "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"t\":true,\"s\":\"x\",\"n\":null}", 0, "s=x;", NULL},
    {"escapes", "{\"s\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\n\"}", 0,
     "s=a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\n;", NULL},
    {"white space", " \r\n\t{ \"a\" : \"b\" } \n", 0, "a=b;", NULL},
    {"empty object", "{}", 0, "", NULL},
    {"duplicate key", "{\"duration\":\"0\",\"duration\":\"1\"}", 0, NULL,
     "is refused: a key appears twice in one object"},
    {"duplicate key, nested", "{\"a\":{\"x\":1,\"x\":2}}", 0, NULL, "a key appears twice"},
    {"NUL escape", "{\"s\":\"a\\u0000b\"}", 0, NULL, "a string holds a NUL character"},
    {"NUL byte in the text", "{\"s\":\"a\0b\"}", 11, NULL, "is not valid JSON"},
    {"invalid UTF-8 in a string", "{\"s\":\"caf\xe9\"}", 0, NULL, "it is not valid UTF-8"},
    {"invalid UTF-8 in a key", "{\"\xff\":\"x\"}", 0, NULL, "it is not valid UTF-8"},
    {"lone surrogate escape", "{\"s\":\"\\ud800\"}", 0, NULL, "is not valid JSON"},
    {"32 levels", "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0, "",
     NULL},
    {"33 levels", "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
     NULL, "nested deeper than 32 levels"},
    {"truncated", "{\"duration\":\"0\",\"dumpSize\":", 0, NULL, "is not valid JSON"},
    {"trailing comma", "{\"a\":1,}", 0, NULL, "is not valid JSON"},
    {"text after the object", "{} {}", 0, NULL, "is not valid JSON"},
    {"an array", "[1]", 0, NULL, "expected an object"},
    {"a string", "\"x\"", 0, NULL, "is not valid JSON"},
    {"empty", "", 0, NULL, "is not valid JSON"},
    {"comment", "{/* */}", 0, NULL, "is not valid JSON"},
    {"single quotes", "{'a':1}", 0, NULL, "is not valid JSON"},
    {"leading zero", "{\"a\":01}", 0, NULL, "is not valid JSON"},
};

/* members_text: "name=value;" for each member. */
static void
members_text(const struct json_member *m, size_t n, char *buf, size_t buflen)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < buflen; i++)
		used +=
		    (size_t)snprintf(buf + used, buflen - used, "%s=%s;", m[i].name, m[i].value);
}

static void
test_parser(void)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct json_member *m = NULL;
		size_t n = 0, len = c->len != 0 ? c->len : strlen(c->text);
		char err[256] = "", got[512], name[128];
		int rc = json_parse_members(c->text, len, &m, &n, err, sizeof(err));

		snprintf(name, sizeof(name), "parse: %s", c->name);
		if (c->expected != NULL) {
			members_text(m, n, got, sizeof(got));
			check(rc == 0 && strcmp(got, c->expected) == 0, name, rc == 0 ? got : err,
			      c->expected);
		} else {
			check(rc == -1 && m == NULL && n == 0 && strstr(err, c->error) != NULL,
			      name, rc == 0 ? "accepted" : err, c->error);
		}
		json_members_free(m, n);
	}
}

/* The size limit is checked before parsing: 4 MiB of white space passes, one byte more not. */
static void
test_parser_size(void)
{
	size_t len = JSON_TEXT_MAX + 1;
	char *text = malloc(len), err[256] = "";
	struct json_member *m = NULL;
	size_t n = 0;
	int rc;

	if (text == NULL) {
		check(false, "parse: size", "no memory", "");
		return;
	}
	memset(text, ' ', len);
	memcpy(text, "{\"a\":\"b\"}", 9);
	rc = json_parse_members(text, JSON_TEXT_MAX, &m, &n, err, sizeof(err));
	check(rc == 0 && n == 1, "parse: 4 MiB exactly", err, "accepted");
	json_members_free(m, n);
	rc = json_parse_members(text, len, &m, &n, err, sizeof(err));
	check(rc == -1 && strstr(err, "larger than 4 MiB") != NULL, "parse: over 4 MiB", err,
	      "larger than 4 MiB");
	json_members_free(m, n);
	free(text);
}

/* What the writer writes, the parser reads back: a report's numbers as callers parse them. */
static void
test_round_trip(void)
{
	struct json_writer w = {0};
	struct json_member *m = NULL;
	size_t n = 0;
	char err[256] = "", got[512], *text;

	json_begin_object(&w);
	json_key(&w, "name");
	json_string(&w, "caf\xe9\n");
	json_key(&w, "count");
	json_uint(&w, 42);
	json_key(&w, "elapsed_s");
	json_fixed3(&w, 12.5);
	json_end_object(&w);
	text = json_finish(&w);
	if (text != NULL && json_parse_members(text, strlen(text), &m, &n, err, sizeof(err)) == 0)
		members_text(m, n, got, sizeof(got));
	else
		snprintf(got, sizeof(got), "refused: %s", err);
	check(strcmp(got, "name=caf\xef\xbf\xbd\n;count=42;elapsed_s=12.5;") == 0, "round trip",
	      got, "name=caf\xef\xbf\xbd\n;count=42;elapsed_s=12.5;");
	json_members_free(m, n);
	free(text);
}

int
main(void)
{
	test_writer_report();
	test_writer_counters();
	test_writer_seconds();
	test_writer_key_order();
	test_writer_strings();
	test_writer_random_bytes();
	test_writer_misuse();
	test_parser();
	test_parser_size();
	test_round_trip();
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
