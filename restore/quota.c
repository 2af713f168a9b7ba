/*
 * quota.c - the plan quota rule, in one place.
 */
#include "quota.h"

#include <stdio.h>

void
quota_format_size(uint64_t bytes, char *buf, size_t buflen)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double value = (double)bytes;
	int unit = 0;

	while (value >= 1024 && unit < 5) {
		value /= 1024;
		unit++;
	}
	if (unit == 0)
		snprintf(buf, buflen, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(buf, buflen, "%.2f %s (%llu bytes)", value, units[unit],
		         (unsigned long long)bytes);
}

uint64_t
quota_stop_after(uint64_t overhead, uint64_t quota)
{
	if (overhead >= quota)
		return 1; /* nothing fits, not even an empty dump's first byte */
	return quota - overhead;
}

int
quota_check(uint64_t decompressed, int at_least, uint64_t overhead, uint64_t quota, char *err,
            size_t errlen)
{
	char d[64], o[64], q[64];

	/* decompressed + overhead <= quota, without overflowing the sum. */
	if (overhead <= quota && decompressed <= quota - overhead)
		return 0;
	quota_format_size(decompressed, d, sizeof(d));
	quota_format_size(overhead, o, sizeof(o));
	quota_format_size(quota, q, sizeof(q));
	snprintf(err, errlen,
	         "the dump decompresses to %s%s, which with the restore overhead of %s exceeds the "
	         "plan quota of %s; raise plan_quota or restore a smaller backup",
	         at_least ? "more than " : "", d, o, q);
	return -1;
}

uint64_t
quota_swap_overhead(uint64_t current, uint64_t overhead)
{
	return current > UINT64_MAX - overhead ? UINT64_MAX : current + overhead;
}

int
quota_check_swap(uint64_t current, uint64_t decompressed, int at_least, uint64_t overhead,
                 uint64_t quota, char *err, size_t errlen)
{
	uint64_t beside = quota_swap_overhead(current, overhead);
	char c[64], d[64], o[64], q[64];

	/* current + decompressed + overhead <= quota, without overflowing the sum. */
	if (beside <= quota && decompressed <= quota - beside)
		return 0;
	quota_format_size(current, c, sizeof(c));
	quota_format_size(decompressed, d, sizeof(d));
	quota_format_size(overhead, o, sizeof(o));
	quota_format_size(quota, q, sizeof(q));
	snprintf(err, errlen,
	         "strategy swap keeps the target database (now %s) until the restored one "
	         "replaces it, and with the dump's decompressed size of %s%s and the restore "
	         "overhead of %s that exceeds the plan quota of %s; raise plan_quota, restore a "
	         "smaller backup or use strategy: transaction",
	         c, at_least ? "more than " : "", d, o, q);
	return -1;
}
