/*
 * test_jobfile.c - job files: what is accepted, what is refused and how the refusal reads,
 * and that what submit writes parses back to the same request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobfile.h"

struct jobfile_case {
	const char *name;
	const char *text;
	const char *archive; /* expected, or NULL when refused */
	const char *target;
	int db_only;
	const char *error; /* a substring of the refusal */
};

static const struct jobfile_case cases[] = {
    {"minimal", "archive: /b/x.tar.gz\n", "/b/x.tar.gz", NULL, 0, NULL},
    {"all keys", "archive: x.tar.gz\ntarget: acceptance\ndb_only: true\n", "x.tar.gz", "acceptance",
     1, NULL},
    {"db_only false", "archive: /x\ndb_only: false\n", "/x", NULL, 0, NULL},
    {"db_only yes", "archive: /x\ndb_only: yes\n", "/x", NULL, 1, NULL},
    {"quoted path", "archive: \"/b/with space.tar.gz\"\n", "/b/with space.tar.gz", NULL, 0, NULL},
    {"flow style", "{archive: /x, target: t}\n", "/x", "t", 0, NULL},
    {"unknown key", "archive: /x\ntraget: t\n", NULL, NULL, 0,
     "job.yaml:2: unknown key 'traget' (expected archive, target, db_only or dry_run)"},
    {"missing archive", "target: t\n", NULL, NULL, 0, "missing required key 'archive'"},
    {"empty archive", "archive: \"\"\n", NULL, NULL, 0, "archive: must not be empty"},
    {"archive as a list", "archive: [a, b]\n", NULL, NULL, 0,
     "job.yaml:1: archive: expected a string, found a list"},
    {"db_only not a boolean", "archive: /x\ndb_only: maybe\n", NULL, NULL, 0,
     "job.yaml:2: db_only: 'maybe' is not true or false"},
    {"duplicate key", "archive: /x\narchive: /y\n", NULL, NULL, 0, "duplicate key 'archive'"},
    {"malformed YAML", "archive: [/x\n", NULL, NULL, 0, "malformed YAML"},
    {"not a mapping", "- /x\n", NULL, NULL, 0, "a job file must be a mapping"},
    {"empty file", "", NULL, NULL, 0, "a job file must be a mapping"},
    {"target of the longest length",
     "archive: /x\ntarget: t234567890123456789012345678901234567890123456789012345678901234\n",
     "/x", "t234567890123456789012345678901234567890123456789012345678901234", 0, NULL},
    {"target one byte too long",
     "archive: /x\ntarget: t2345678901234567890123456789012345678901234567890123456789012345\n",
     NULL, NULL, 0,
     "job.yaml:2: target: 't2345678901234567890...' is 65 bytes long; a target name has at "
     "most 64"},
    {"target that a buffer of 80 would cut",
     "archive: /x\ntarget: "
     "acceptance.........................................................................x\n",
     NULL, NULL, 0, "is 84 bytes long; a target name has at most 64"},
    {"target holding a NUL", "archive: /x\ntarget: \"acceptance\\0other\"\n", NULL, NULL, 0,
     "job.yaml:2: target: must not hold a NUL character"},
    {"archive holding a NUL", "archive: \"/x\\0.tar.gz\"\n", NULL, NULL, 0,
     "job.yaml:1: archive: must not hold a NUL character"},
};

int
main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct jobfile_case *c = &cases[i];
		struct jobfile job;
		char err[512] = "";
		int rc =
		    jobfile_parse("job.yaml", c->text, strlen(c->text), &job, err, sizeof(err));
		int ok;

		if (c->archive != NULL)
			ok = rc == 0 && strcmp(job.archive, c->archive) == 0 &&
			     ((c->target == NULL && job.target == NULL) ||
			      (c->target != NULL && job.target != NULL &&
			       strcmp(job.target, c->target) == 0)) &&
			     job.db_only == (c->db_only != 0);
		else
			ok = rc < 0 && strstr(err, c->error) != NULL && strchr(err, '\n') == NULL;
		if (ok) {
			passed++;
		} else {
			failed++;
			printf("not ok - %s: rc %d, error '%s'\n", c->name, rc, err);
		}
		if (rc == 0)
			jobfile_free(&job);
	}

	/* What submit writes must read back as the same request, whatever the path holds. */
	{
		const char *archive = "/srv/a \"quoted\" \\ path: #1.tar.gz";
		char *text = jobfile_write(archive, "acceptance", true, false);
		struct jobfile job;
		char err[512];

		if (text != NULL &&
		    jobfile_parse("w.yaml", text, strlen(text), &job, err, sizeof(err)) == 0) {
			if (strcmp(job.archive, archive) == 0 && job.target != NULL &&
			    strcmp(job.target, "acceptance") == 0 && job.db_only)
				passed++;
			else
				failed++, printf("not ok - round trip: got '%s'\n", job.archive);
			jobfile_free(&job);
		} else {
			failed++;
			printf("not ok - round trip: %s\n", text == NULL ? "no text" : err);
		}
		free(text);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
