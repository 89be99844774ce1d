/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * aggregates.h — per-source traffic aggregates for the agent's detectors: every parsed
 * packet adds to its source's entry in sl_agg_src (packets, bytes, SYNs, SYN-ACKs, RSTs,
 * and a sketch of the destination ports it tries) and to sl_agg_total. Per-CPU values, so no
 * atomics; the agent sums the CPUs, and reads and deletes sl_agg_src every interval.
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

static __always_inline void sl_aggregate(const struct sl_pkt *p, __u32 bytes)
{
	struct sl_agg_key key = { .family = p->family };
	__u32 zero = 0, syn = 0, synack = 0, rst = 0;
	__s32 port_bit = -1;
	struct sl_agg *a;

	__builtin_memcpy(key.addr, p->src, sizeof(key.addr));
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
	a = bpf_map_lookup_elem(&sl_agg_src, &key);
	if (!a) {
		struct sl_agg fresh = {};

		bpf_map_update_elem(&sl_agg_src, &key, &fresh, BPF_NOEXIST);
		a = bpf_map_lookup_elem(&sl_agg_src, &key);
		if (!a)
			return;
	}
	sl_agg_add(a, bytes, syn, synack, rst, port_bit);
}

#endif
