/*
 * fuzz_jobfile.c - the job file parser, jobfile_parse(), on any bytes.
 *
 * The input is the job file. A parsed job has an archive path and a target no longer than
 * JOBFILE_TARGET_MAX; writing it back with jobfile_write() and parsing that gives the same job.
 */
#include <string.h>

#include "fuzz.h"
#include "jobfile.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jobfile job, again;
	char err[512];
	char *text;

	memset(&job, 0, sizeof(job));
	err[0] = '\0';
	if (jobfile_parse("job.yaml", (const char *)data, size, &job, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			fuzz_fail("jobfile_parse failed without a message");
		jobfile_free(&job);
		return 0;
	}
	if (job.archive == NULL)
		fuzz_fail("a parsed job has no archive");
	if (job.target != NULL && strlen(job.target) > JOBFILE_TARGET_MAX)
		fuzz_fail("a parsed job's target is longer than %d bytes", JOBFILE_TARGET_MAX);

	text = jobfile_write(job.archive, job.target, job.db_only, job.dry_run);
	if (text == NULL)
		fuzz_fail("jobfile_write ran out of memory");
	memset(&again, 0, sizeof(again));
	if (jobfile_parse("again.yaml", text, strlen(text), &again, err, sizeof(err)) < 0)
		fuzz_fail("a written job file does not parse: %s", err);
	if (strcmp(again.archive, job.archive) != 0 ||
	    (again.target == NULL) != (job.target == NULL) ||
	    (job.target != NULL && strcmp(again.target, job.target) != 0) ||
	    again.db_only != job.db_only || again.dry_run != job.dry_run)
		fuzz_fail("a written job file parses to another job");
	jobfile_free(&again);
	free(text);
	jobfile_free(&job);
	return 0;
}
