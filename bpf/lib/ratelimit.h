/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * ratelimit.h — rate limits as the generic cell rate algorithm (GCRA), the exact
 * equivalent of a token bucket kept as one 64-bit "theoretical arrival time" (TAT) per
 * bucket, updated with compare-and-swap so every CPU shares one bucket without locks.
 *
 * sl_rate_ok() returns 1 when the packet conforms (and charges the bucket), 0 when it
 * exceeds the rate plus burst. Buckets are per rule (array by counter slot) or per
 * source address (LRU hash, so a flood of addresses evicts old buckets, never fails).
 */
#ifndef SLUICE_BPF_RATELIMIT_H
#define SLUICE_BPF_RATELIMIT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/maps.h"
#include "lib/parse.h"

#define SL_RL_CAS_TRIES 4

static __always_inline struct sl_bucket *sl_bucket_of(const struct sl_rule *r, const struct sl_pkt *p, __u64 now)
{
	struct sl_rl_key key = { .counter = r->counter, .family = p->family };
	struct sl_bucket *b, fresh = { .tat = now };

	if (!(r->rl_flags & SL_RL_PER_SOURCE))
		return bpf_map_lookup_elem(&sl_rl_rule, &key.counter);
	__builtin_memcpy(key.addr, p->src, 16);
	b = bpf_map_lookup_elem(&sl_rl_source, &key);
	if (b)
		return b;
	bpf_map_update_elem(&sl_rl_source, &key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sl_rl_source, &key);
}

static __always_inline int sl_rate_ok(const struct sl_rule *r, const struct sl_pkt *p, __u32 bytes)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 units = (r->rl_flags & SL_RL_BYTES) ? bytes : 1;
	__u64 cost = (units * r->rl_cost_q16) >> 16;
	struct sl_bucket *b = sl_bucket_of(r, p, now);

	if (!b)
		return 1; /* no bucket (cannot happen for the array): do not drop on our own failure */
	for (int i = 0; i < SL_RL_CAS_TRIES; i++) {
		__u64 tat = b->tat, start = tat > now ? tat : now;

		/* Conforms while the backlog before this packet stays within the burst. */
		if (start - now > r->rl_tau_ns)
			return 0;
		if (__sync_val_compare_and_swap(&b->tat, tat, start + cost) == tat)
			return 1;
	}
	return 1; /* heavy contention on one bucket: let it through rather than spin */
}

#endif
