/*
 * fuzz_dump.c - the custom-format dump reader, dump_scan(), on any bytes.
 *
 * The input is the dump. It is handed out in pieces of changing, odd sizes (the reader must
 * not care where a read ends), once with no limits and once with a stop_after and a
 * max_minor taken from the input's length, so that the over-limit and too-new exits run too.
 * dump_identify() sees the first bytes as the archive walk would show them.
 */
#include <string.h>

#include "dump.h"
#include "fuzz.h"

struct memory_source {
	const uint8_t *data;
	size_t size, pos;
	unsigned step;
};

/* memory_read: the next piece of the input, 1 to 1031 bytes as step goes round. */
static ssize_t
memory_read(void *ctx, void *buf, size_t len)
{
	struct memory_source *src = ctx;
	size_t n = src->size - src->pos;
	size_t piece = 1 + (src->step++ * 257) % 1031;

	if (n > len)
		n = len;
	if (n > piece)
		n = piece;
	memcpy(buf, src->data + src->pos, n);
	src->pos += n;
	return (ssize_t)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memory_source src = {data, size, 0, 0};
	struct dump_info info;
	char err[512];
	int rc;

	(void)dump_kind_describe(
	    dump_identify(data, size < DUMP_IDENTIFY_BYTES ? size : DUMP_IDENTIFY_BYTES));

	memset(&info, 0, sizeof(info));
	rc = dump_scan(memory_read, &src, 0, 0, &info, err, sizeof(err));
	if (rc < 0 && memchr(err, '\0', sizeof(err)) == NULL)
		fuzz_fail("dump_scan failed without a message");
	if (rc == 0 && info.over_limit)
		fuzz_fail("dump_scan stopped over a limit it was not given");

	src = (struct memory_source){data, size, 0, 7};
	memset(&info, 0, sizeof(info));
	rc = dump_scan(memory_read, &src, 1 + size % 4096, 10 + (int)(size % 6), &info, err,
	               sizeof(err));
	if (rc == 0 && !info.over_limit && info.decompressed_bytes > 1 + size % 4096)
		fuzz_fail("dump_scan passed stop_after without saying so");
	return 0;
}
