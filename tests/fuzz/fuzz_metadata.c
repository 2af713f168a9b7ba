/*
 * fuzz_metadata.c - the .metadata parser, json_parse_members(), on any bytes.
 *
 * The input is the .metadata text (it may hold NUL bytes: the parser is given its length).
 * On success every member has a name and a value, and json_member_find() finds the first
 * member of each name.
 */
#include <string.h>

#include "fuzz.h"
#include "json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_member *members = NULL;
	size_t count = 0;
	char err[256];

	err[0] = '\0';
	if (json_parse_members((const char *)data, size, &members, &count, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			fuzz_fail("json_parse_members failed without a message");
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		const char *found;

		if (members[i].name == NULL || members[i].value == NULL)
			fuzz_fail("member %zu has no name or no value", i);
		found = json_member_find(members, count, members[i].name);
		if (found == NULL)
			fuzz_fail("json_member_find does not find member %zu", i);
	}
	json_members_free(members, count);
	return 0;
}
