/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * aggregates.h — per-source traffic aggregates for the agent's detectors: every parsed
 * packet adds to its source's slot in sl_agg_src (packets, bytes, SYNs, SYN-ACKs, RSTs,
 * and a sketch of the destination ports it tries) and to sl_agg_total. Per-CPU values, so
 * no atomics; the agent sums the CPUs.
 *
 * sl_agg_src is a set-associative table rather than a hash map: a source's set (four
 * slots) follows from its address by one multiply, and the slot is found by comparing
 * four keys, which costs a few ns where an LRU hash lookup cost ~30 (the whole
 * inspection program took ~40 % longer). A source that finds its set full takes the
 * slot that counted the fewest packets, so a flood of new addresses cannot push out the
 * busy sources the detectors name; what that slot had counted this interval is lost, as
 * an LRU eviction loses it. The table has two halves: the packet counts into the half
 * sl_agg_ctl names, and every interval the agent names the other half, reads the one
 * it left, and clears what it read (agent/aggregates.c), so no count is read twice or
 * reset while a packet adds to it.
 *
 * API: sl_aggregate(p, bytes), after sl_parse() succeeded.
 */
#ifndef SLUICE_BPF_AGGREGATES_H
#define SLUICE_BPF_AGGREGATES_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/maps.h"
#include "lib/parse.h"

#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04
#define SL_TCP_ACK 0x10
#define SL_PROTO_TCP 6
#define SL_PROTO_UDP 17

static __always_inline void sl_agg_add(struct sl_agg *a, __u32 bytes, __u32 syn, __u32 synack, __u32 rst,
				       __s32 port_bit)
{
	a->packets++;
	a->bytes += bytes;
	a->syns += syn;
	a->synacks += synack;
	a->rsts += rst;
	if (port_bit >= 0)
		a->ports[(port_bit >> 6) & (SL_AGG_PORT_WORDS - 1)] |= 1ULL << (port_bit & 63);
}

/* A source's set: a multiplicative hash of its address (64-bit halves, as on the wire). */
static __always_inline __u32 sl_agg_set_of(__u64 a0, __u64 a1)
{
	__u64 x = (a0 ^ (a1 * 0x9E3779B97F4A7C15ULL)) * 0xFF51AFD7ED558CCDULL;

	return (__u32)(x >> 32) & (SL_AGG_SETS - 1);
}

/* Whether slot w holds source p. */
static __always_inline int sl_agg_is(const struct sl_agg_slot *w, const struct sl_pkt *p)
{
	const __u32 *a = (const __u32 *)w->key.addr, *b = (const __u32 *)p->src;

	return w->key.family == p->family && ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/* p's slot in this CPU's copy of its set: the one it has, else a free one, else the one
 * that counted the fewest packets, emptied and made p's. */
static __always_inline struct sl_agg_slot *sl_agg_slot_of(struct sl_agg_set *set, const struct sl_pkt *p)
{
	struct sl_agg_slot *w, *pick = &set->way[0];

#pragma unroll
	for (int i = 0; i < SL_AGG_WAYS; i++) {
		w = &set->way[i];
		if (sl_agg_is(w, p))
			return w;
	}
#pragma unroll
	for (int i = 1; i < SL_AGG_WAYS; i++) {
		w = &set->way[i];
		if (pick->key.family && (!w->key.family || w->agg.packets < pick->agg.packets))
			pick = w;
	}
	__builtin_memset(pick, 0, sizeof(*pick));
	pick->key.family = p->family;
	__builtin_memcpy(pick->key.addr, p->src, sizeof(pick->key.addr));
	return pick;
}

static __always_inline void sl_aggregate(const struct sl_pkt *p, __u32 bytes)
{
	__u32 zero = 0, syn = 0, synack = 0, rst = 0, idx;
	const __u64 *src = (const __u64 *)p->src;
	struct sl_agg_ctl *ctl;
	struct sl_agg_set *set;
	__s32 port_bit = -1;
	struct sl_agg *a;

	if (p->l4_seen && p->proto == SL_PROTO_TCP && (p->tcp_flags & SL_TCP_SYN)) {
		if (p->tcp_flags & SL_TCP_ACK) {
			synack = 1;
		} else {
			syn = 1;
			port_bit = (__s32)sl_agg_port_bit(p->dport);
		}
	} else if (p->l4_seen && p->proto == SL_PROTO_TCP && (p->tcp_flags & SL_TCP_RST)) {
		rst = 1;
	} else if (p->l4_seen && p->proto == SL_PROTO_UDP && p->sport > p->dport) {
		/* A client port to a service port; replies (service to client) are not tries. */
		port_bit = (__s32)sl_agg_port_bit(p->dport);
	}

	a = bpf_map_lookup_elem(&sl_agg_total, &zero);
	if (a)
		sl_agg_add(a, bytes, syn, synack, rst, port_bit);
	ctl = bpf_map_lookup_elem(&sl_agg_ctl, &zero);
	if (!ctl)
		return;
	idx = (ctl->half & 1) * SL_AGG_SETS + sl_agg_set_of(src[0], src[1]);
	set = bpf_map_lookup_elem(&sl_agg_src, &idx);
	if (set)
		sl_agg_add(&sl_agg_slot_of(set, p)->agg, bytes, syn, synack, rst, port_bit);
}

#endif
