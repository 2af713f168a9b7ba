/*
 * test_conninfo.c - conninfo_redact(), and the secrets conninfo_scrub() masks in messages.
 *
 * Redaction: a table of connection strings (the URIs of issue 6 whose password holds an
 * unescaped '/' or '@', key=value passwords with quotes and spaces, passfile), each with the
 * fragments that must not come out and the text that must. Scrubbing: a table of connection
 * strings with a message as libpq or the server words it, the fragments that must be gone and
 * the text that must stay. Prints one line per failure and "N passed, M failed"; exits 1 if any
 * failed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "conninfo.h"

static unsigned passed, failed;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fail: print one failure line and count it. */
static void
fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed++;
}

/* shows_any: the first of up to four fragments that text contains, or NULL. */
static const char *
shows_any(const char *text, const char *const fragments[4])
{
	for (int i = 0; i < 4 && fragments[i] != NULL; i++)
		if (strstr(text, fragments[i]) != NULL)
			return fragments[i];
	return NULL;
}

/* lacks_any: the first of up to four fragments that text lacks, or NULL. */
static const char *
lacks_any(const char *text, const char *const fragments[4])
{
	for (int i = 0; i < 4 && fragments[i] != NULL; i++)
		if (strstr(text, fragments[i]) == NULL)
			return fragments[i];
	return NULL;
}

struct redact_case {
	const char *conninfo;
	const char *hidden[4];
	const char *shown[4];
};

static const struct redact_case redact_cases[] = {
    {"postgresql://app:Secr3t/Tail@localhost/app",
     {"Secr3t", "r3t", "Tail"},
     {"postgresql://app:***@localhost/app"}},
    {"postgresql://app:Secr3t@Tail@localhost/app",
     {"Secr3t", "r3t", "Tail"},
     {"postgresql://app:***@localhost/app"}},
    {"postgresql://app:Sec%2Fr3t@db/x?password=Qu3ry&sslmode=require",
     {"Sec", "r3t", "Qu3ry"},
     {"app:***@db/x", "password=***", "sslmode=require"}},
    {"host=db user=app password='Sec r3t\\'x' dbname=x",
     {"Sec", "r3t"},
     {"password=***", "host=db", "user=app", "dbname=x"}},
    {"host=db user=app passfile=/etc/app/pgpass dbname=x",
     {NULL},
     {"passfile=/etc/app/pgpass", "user=app"}},
    {"host=db password='Sec r3t", {"Sec", "r3t"}, {"(invalid connection string, not shown)"}},
};

/* test_redact: passwords never come out of conninfo_redact or config_conninfo_redact. */
static void
test_redact(void)
{
	for (size_t i = 0; i < sizeof(redact_cases) / sizeof(redact_cases[0]); i++) {
		const struct redact_case *c = &redact_cases[i];
		char out[512], via_config[512];
		const char *bad;

		conninfo_redact(c->conninfo, out, sizeof(out));
		config_conninfo_redact(c->conninfo, via_config, sizeof(via_config));
		if ((bad = shows_any(out, c->hidden)) != NULL)
			fail("redact \"%s\" shows \"%s\": \"%s\"", c->conninfo, bad, out);
		else if ((bad = lacks_any(out, c->shown)) != NULL)
			fail("redact \"%s\" lacks \"%s\": \"%s\"", c->conninfo, bad, out);
		else if (strcmp(out, via_config) != 0)
			fail("config_conninfo_redact \"%s\" differs: \"%s\"", c->conninfo,
			     via_config);
		else
			passed++;
	}
}

struct scrub_case {
	const char *conninfo;
	int init;       /* what conninfo_secrets_init returns */
	bool ambiguous; /* what it finds */
	const char *message;
	const char *hidden[4];
	const char *shown[4];
};

static const struct scrub_case scrub_cases[] = {
    /* libpq takes "app" for the host and "Secr3t" for the port. */
    {"postgresql://app:Secr3t/Tail@localhost/app",
     0,
     true,
     "invalid integer value \"Secr3t\" for connection option \"port\"",
     {"Secr3t", "r3t", "ecr"},
     {"invalid integer value \"***\" for connection option \"port\""}},
    {"postgresql://app:Secr3t/Tail@localhost/app",
     0,
     true,
     "database Tail@localhost/app as user app on host app port Secr3t",
     {"Secr3t", "Tail"},
     {"database ***@localhost/app", "port ***", "user app"}},
    /* libpq takes "Secr3t" for the password and "Tail@localhost" for the host. */
    {"postgresql://app:Secr3t@Tail@localhost/app",
     0,
     true,
     "could not translate host name \"Tail@localhost\" to address: Name or service not known",
     {"Tail", "Secr3t"},
     {"could not translate host name \"***@localhost\" to address: Name or service not known"}},
    /* Percent-encoded pieces are masked decoded too. */
    {"postgresql://app:Sec%2Fr3t@Ta%69l@db/x",
     0,
     true,
     "could not translate host name \"Tail@db\" to address",
     {"Tail", "Sec", "r3t"},
     {"\"***@db\""}},
    /* A URI read as it looks: only the password is a secret; "pass" in "password" stays. */
    {"postgresql://app:pass@db/x",
     0,
     false,
     "FATAL:  password authentication failed for user \"app\"",
     {NULL},
     {"FATAL:  password authentication failed for user \"app\""}},
    {"postgresql://app:Secr3t@db/x",
     0,
     false,
     "something quoting \"Secr3t\" and Secr3t.",
     {"Secr3t"},
     {"something quoting \"***\" and ***."}},
    /* key=value: the password with its quote and space, as libpq read it. */
    {"host=db user=app password='Sec r3t\\'x'",
     0,
     false,
     "quoting Sec r3t'x here; password authentication failed for user \"app\"",
     {"Sec r3t", "r3t'x"},
     {"quoting *** here", "password authentication failed for user \"app\""}},
    {"host=db user=app sslpassword=K3yPass passfile=/etc/pgpass",
     0,
     false,
     "could not use K3yPass; password retrieved from file \"/etc/pgpass\"",
     {"K3yPass"},
     {"password retrieved from file \"/etc/pgpass\""}},
    /* No secrets: a bare database name, or a string without a password. */
    {"appdb",
     0,
     false,
     "database \"appdb\" does not exist",
     {NULL},
     {"database \"appdb\" does not exist"}},
    {"host=db dbname=x", 0, false, "FATAL:  role \"x\" does not exist", {NULL}, {"role \"x\""}},
    /* What libpq cannot parse has no secrets to find: it must not be quoted at all. */
    {"host=db password='Sec r3t", -1, false, "", {NULL}, {NULL}},
    {"postgresql://app:Secr3t@[::1/app", -1, false, "", {NULL}, {NULL}},
};

/* test_scrub: each message loses every secret of its connection string and keeps the rest. */
static void
test_scrub(void)
{
	for (size_t i = 0; i < sizeof(scrub_cases) / sizeof(scrub_cases[0]); i++) {
		const struct scrub_case *c = &scrub_cases[i];
		struct conninfo_secrets secrets;
		char text[512];
		const char *bad;
		int rc = conninfo_secrets_init(&secrets, c->conninfo);

		snprintf(text, sizeof(text), "%s", c->message);
		if (rc == 0)
			conninfo_scrub(&secrets, text, sizeof(text));
		if (rc != c->init)
			fail("secrets of \"%s\": returned %d, not %d", c->conninfo, rc, c->init);
		else if (secrets.ambiguous != c->ambiguous)
			fail("secrets of \"%s\": ambiguous is %d", c->conninfo, secrets.ambiguous);
		else if ((bad = shows_any(text, c->hidden)) != NULL)
			fail("scrub \"%s\" with \"%s\" shows \"%s\": \"%s\"", c->message,
			     c->conninfo, bad, text);
		else if ((bad = lacks_any(text, c->shown)) != NULL)
			fail("scrub \"%s\" with \"%s\" lacks \"%s\": \"%s\"", c->message,
			     c->conninfo, bad, text);
		else
			passed++;
		conninfo_secrets_free(&secrets);
	}
}

/* test_scrub_small: the result is cut to its buffer and stays terminated. */
static void
test_scrub_small(void)
{
	struct conninfo_secrets secrets;
	char text[8] = "a Tail";

	if (conninfo_secrets_init(&secrets, "postgresql://u:S3@Tail@h/d") != 0) {
		fail("secrets of a short URI: not parsed");
		return;
	}
	conninfo_scrub(&secrets, text, 5);
	if (strcmp(text, "a **") != 0)
		fail("scrub into 5 bytes: \"%s\"", text);
	else
		passed++;
	conninfo_secrets_free(&secrets);
}

/* main: run every table; exit 0 only if all passed. */
int
main(void)
{
	test_redact();
	test_scrub();
	test_scrub_small();
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
