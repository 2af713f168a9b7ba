/*
 * job_id.c - a new job's id (job_id.h): a random UUID from libuuid, in lowercase.
 */
#include "job_id.h"

#include <uuid/uuid.h>

/* restore_new_job_id: a new lowercase UUID into buf (job_id.h). */
void
restore_new_job_id(char buf[37])
{
	uuid_t uu;

	uuid_generate(uu);
	uuid_unparse_lower(uu, buf);
}
