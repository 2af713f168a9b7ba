/*
 * object_names.c - the names an object store driver gives (store_object.h): a file document's
 * key, <prefix><uuid><suffix>; a restore's copy aside,
 * <prefix>.restore-worker/<job>/<uuid><suffix>; and the files of a restore's state in work_dir,
 * objects-<job><ext>. Nothing else.
 */
#include "store_object.h"

#include <stdio.h>
#include <string.h>

#include "blobtree.h"

/* object_key: <prefix><uuid><suffix>. */
int
object_key(const struct object_store *os, const char *uuid, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s%s", os->prefix, uuid, os->suffix);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* object_aside_key: <prefix>.restore-worker/<job>/<uuid><suffix>. */
int
object_aside_key(const struct object_store *os, const char *job_id, const char *uuid, char *buf,
                 size_t len)
{
	int n = snprintf(buf, len, "%s%s%s/%s%s", os->prefix, OBJECT_ASIDE_FOLDER, job_id, uuid,
	                 os->suffix);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* object_uuid_of: the UUID of a file document's key: <prefix><lowercase uuid><suffix>. */
bool
object_uuid_of(const struct object_store *os, const char *key, char uuid[37])
{
	size_t plen = strlen(os->prefix), slen = strlen(os->suffix), klen = strlen(key);

	if (klen != plen + 36 + slen || strncmp(key, os->prefix, plen) != 0 ||
	    strcmp(key + plen + 36, os->suffix) != 0)
		return false;
	memcpy(uuid, key + plen, 36);
	uuid[36] = '\0';
	return blobtree_is_uuid(uuid);
}

/* object_path: <state_dir>/objects-<job_id><ext>. */
int
object_path(const char *state_dir, const char *job_id, const char *ext, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/objects-%s%s", state_dir, job_id, ext);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}
