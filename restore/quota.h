/*
 * quota.h - the plan quota rule: a database must be able to hold the dump's decompressed
 * size plus the restore overhead (Mendix: 2.25 GB). The decompressed size is always the one
 * measured from the dump's data, never what .metadata claims.
 */
#ifndef QUOTA_H
#define QUOTA_H

#include <stddef.h>
#include <stdint.h>

/*
 * quota_check: 0 when decompressed + overhead <= quota; otherwise -1 with a sentence in err
 * that gives all three figures. at_least says decompressed is a lower bound (the measurement
 * stopped once it was clear the quota could not be met).
 */
int quota_check(uint64_t decompressed, int at_least, uint64_t overhead, uint64_t quota, char *err,
                size_t errlen);

/*
 * quota_check_swap: the rule of strategy swap, where the target's database and the new one
 * both exist until the swap: 0 when current + decompressed + overhead <= quota; otherwise -1
 * with a sentence in err that gives all four figures (at_least as for quota_check).
 */
int quota_check_swap(uint64_t current, uint64_t decompressed, int at_least, uint64_t overhead,
                     uint64_t quota, char *err, size_t errlen);

/* quota_swap_overhead: overhead + current, what a swap needs beside the dump (saturating). */
uint64_t quota_swap_overhead(uint64_t current, uint64_t overhead);

/* quota_stop_after: the decompressed size past which measuring can stop (0: never). */
uint64_t quota_stop_after(uint64_t overhead, uint64_t quota);

/* quota_format_size: "2.25 GiB (2415919104 bytes)" into buf. */
void quota_format_size(uint64_t bytes, char *buf, size_t buflen);

#endif
