/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * vcache.h — the per-CPU verdict cache: what classification decided for a packet's
 * fields, so the packets after the first of a flow skip the interval searches and the
 * bitmap walk. A packet's verdict depends only on the fields classification reads
 * (family, addresses, protocol, ports, TCP flags: the first 40 bytes of struct sl_pkt)
 * and on the generation, so an entry holds those fields, the generation it was computed
 * under, the deciding rule (or none) and the count rules that matched before it. An entry
 * is trusted only while its generation is the live one: a switch retires every entry at
 * once, without touching them.
 *
 * Direct-mapped, one slot per field set (sl_vc_index): a collision just replaces the
 * older entry. Only what classification decides is cached; everything a packet does with
 * the verdict (counters, sampling, rate limits, aggregates) is still done per packet.
 * Packets classified partially (fragments, bad or cut headers: p->stat set) are never
 * cached, nor verdicts with more than SL_VC_COUNTS count rules.
 *
 * API: sl_vc_get(p, generation, &slot) before classifying; on a miss classification
 * fills entry slot through sl_vc_start(), sl_vc_add_count() and sl_vc_finish().
 */
#ifndef SLUICE_BPF_VCACHE_H
#define SLUICE_BPF_VCACHE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/parse.h"

/* Entries 0 .. SL_VERDICT_CACHE - 1 by sl_vc_index(); one more, never looked up, takes
 * the counts of packets that cannot be cached, so classification always has an entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_VERDICT_CACHE + 1);
	__type(key, __u32);
	__type(value, struct sl_vc_entry);
} sl_vcache SEC(".maps");

/* Load-time switch, for measuring classification itself: 0 never reads the cache. */
const volatile __u32 sl_vc_on = 1;

_Static_assert(__builtin_offsetof(struct sl_pkt, stat) == SL_VC_KEY_WORDS * 8,
	       "the verdict cache key is struct sl_pkt up to stat");
_Static_assert(SL_MAX_RULES <= 65536, "count rules are cached as 16-bit counter slots");

static __always_inline __u32 sl_vc_index(const __u64 *k)
{
	__u64 x = k[0] ^ k[1] ^ k[2] ^ k[3] ^ (k[4] * 0x9E3779B97F4A7C15ULL);

	return (__u32)((x * 0xFF51AFD7ED558CCDULL) >> 32) & (SL_VERDICT_CACHE - 1);
}

/*
 * The cached verdict of p under generation gen, or NULL. *slot gets the entry to give
 * classification (sl_vc_start): p's own, or the spare one when p cannot be cached.
 */
static __always_inline struct sl_vc_entry *sl_vc_get(const struct sl_pkt *p, __u64 gen, __u32 *slot)
{
	const __u64 *k = (const __u64 *)p;
	struct sl_vc_entry *e;
	__u32 i;

	*slot = SL_VERDICT_CACHE;
	if (!sl_vc_on || p->stat)
		return NULL;
	i = sl_vc_index(k);
	*slot = i;
	e = bpf_map_lookup_elem(&sl_vcache, &i);
	if (!e || e->generation != gen ||
	    ((e->key[0] ^ k[0]) | (e->key[1] ^ k[1]) | (e->key[2] ^ k[2]) | (e->key[3] ^ k[3]) | (e->key[4] ^ k[4])))
		return NULL;
	return e;
}

/*
 * Entry slot, emptied for classification to fill: no generation is 0, so it matches
 * nothing until sl_vc_finish(). Only this CPU writes it, and XDP does not nest.
 */
static __always_inline struct sl_vc_entry *sl_vc_start(__u32 slot)
{
	struct sl_vc_entry *e = bpf_map_lookup_elem(&sl_vcache, &slot);

	if (e) {
		e->generation = 0;
		e->n_counts = 0;
	}
	return e;
}

/* A count rule (its counter slot) matched. The count is read from map memory rather
 * than kept on the stack: a stack value the verifier knows exactly would make every
 * bpf_loop step a new state. */
static __always_inline void sl_vc_add_count(struct sl_vc_entry *e, __u32 counter)
{
	__u32 n = e->n_counts;

	if (n < SL_VC_COUNTS)
		e->counts[n] = (__u16)counter;
	e->n_counts = n < SL_VC_COUNTS ? n + 1 : SL_VC_COUNTS + 1;
}

/* Classification of p under generation gen ended with match (rule index or -1): the
 * entry becomes valid, unless it is the spare or holds more count rules than it can. */
static __always_inline void sl_vc_finish(struct sl_vc_entry *e, const struct sl_pkt *p, __u32 slot, __u64 gen,
					 __s32 match)
{
	const __u64 *k = (const __u64 *)p;

	if (slot >= SL_VERDICT_CACHE || e->n_counts > SL_VC_COUNTS)
		return;
	for (int i = 0; i < SL_VC_KEY_WORDS; i++)
		e->key[i] = k[i];
	e->match = match;
	e->generation = gen;
}

#endif
