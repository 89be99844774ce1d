// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * rewrite.bpf.c — sluice's XDP routing rewrite: weighted Maglev DNAT with conntrack and
 * reverse NAT. A packet to a route's frontend (VIP, protocol, port) goes to the backend
 * its flow has, or, when the flow is new, to the one the route's Maglev table names;
 * a reply from a backend gets the VIP back as its source, so clients only see the VIP.
 * Everything else passes untouched. Translated packets go on through the kernel stack,
 * or, when sl_rw_fib is set, straight out by bpf_fib_lookup + redirect where the route
 * and neighbour are known.
 *
 * It runs after the inspection program, which tail-calls it (slot 0 of sl_chain) for
 * every packet it passes. A tail call rather than libxdp's dispatcher: inspection owns
 * the interface's bpf_link, so replacing inspection is one bpf_link_update and replacing
 * this program is one prog-array update, each atomic, and no packet can skip either
 * (a dispatcher swap replaces the whole chain's program, and needs libxdp's pinning
 * layout on every node). A dropped packet never reaches here, so rewrite never undoes a
 * verdict.
 *
 * Order of lookups, cheapest first: the per-CPU flow cache (established flows end there,
 * in sl_rewrite itself); then, in sl_rw_slow and by the live generation's port filter,
 * conntrack and the frontends for packets to a frontend port, or the reverse table for
 * packets from a backend port. A TCP SYN always starts a new flow (a client reusing a
 * port gets the current table, not the old backend). See lib/conntrack.h for flow state,
 * lib/nat.h for the rewrite, lib/rw_maps.h for the maps.
 *
 * Not translated (passed untouched): IP fragments (no ports to find the flow by; counted
 * as rewrite_fragment), packets cut short or with lengths that disagree (the inspection
 * program counts those, see its verdict table), IPv6 packets whose routing header has
 * segments left, and ICMP errors about a translated flow (their quoted header keeps the
 * backend's address).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/conntrack.h"
#include "lib/fwd.h"
#include "lib/nat.h"
#include "lib/rw_maps.h"

/* Load-time setting: forward translated packets with bpf_fib_lookup + redirect. */
const volatile __u32 sl_rw_fib = 0;

static __always_inline int port_in(const __u64 *bits, __be16 port)
{
	__u32 p = bpf_ntohs(port);

	return (bits[(p >> 6) & 1023] >> (p & 63)) & 1;
}

/*
 * A packet to a frontend port: its flow's conntrack entry, or a new flow's backend from
 * the route's Maglev table (writing the conntrack and reverse entries). With *nat set:
 * 0 for an existing flow, 1 for a new one; or -1 when the packet is not for a route.
 * Not inlined: its stack would add to the fast path's.
 */
static __noinline int forward(const struct sl_nat_pkt *n, __u32 slot, __u64 now, struct sl_nat *nat)
{
	struct sl_fe_key fk = { .port = n->key.dport, .proto = n->key.proto, .family = n->key.family, .slot = slot };
	struct sl_rw_route_table *routes;
	struct sl_maglev_row *row;
	struct sl_rw_backend *b;
	struct sl_flow rk = {};
	struct sl_nat rv = {};
	struct sl_nat *ct;
	__u64 r, bi; /* 64-bit: a spilled 32-bit scalar loses the verifier's bounds */
	__u32 *ri;
	void *maglev;
	int put;

	if (!n->syn) {
		ct = bpf_map_lookup_elem(&sl_ct, &n->key);
		if (ct && sl_ct_fresh(ct, n->key.proto, now)) {
			if (now - ct->seen_ns >= SL_FC_TOUCH_NS)
				ct->seen_ns = now;
			*nat = *ct;
			nat->seen_ns = now;
			sl_rw_stat(SL_RW_STAT_CT_HIT);
			return 0;
		}
	}
	__builtin_memcpy(fk.vip, n->key.dst, 16);
	ri = bpf_map_lookup_elem(&sl_rw_frontends, &fk);
	if (!ri) {
		sl_rw_stat(SL_RW_STAT_NO_ROUTE);
		return -1;
	}
	r = *ri & (SL_MAX_ROUTES - 1);
	routes = bpf_map_lookup_elem(&sl_rw_routes, &slot);
	maglev = bpf_map_lookup_elem(&sl_rw_maglev, &slot);
	row = NULL;
	if (maglev) {
		__u32 key = (__u32)r;

		row = bpf_map_lookup_elem(maglev, &key);
	}
	if (!routes || !row) {
		sl_rw_stat(SL_RW_STAT_NO_TABLE);
		return -1;
	}
	bi = row->backend[sl_maglev_index(n->hash)] & (SL_MAX_BACKENDS - 1);
	b = &routes->route[r].backend[bi];

	__builtin_memcpy(nat->addr, b->addr, 16);
	nat->port = b->port;
	nat->pad = 0;
	nat->backend = b->counter;
	nat->seen_ns = now;
	put = sl_ct_put(&sl_ct, &n->key, nat, now);

	/* Replies come from the backend to the client: give them the VIP and port back. */
	__builtin_memcpy(rk.src, b->addr, 16);
	__builtin_memcpy(rk.dst, n->key.src, 16);
	rk.sport = b->port;
	rk.dport = n->key.sport;
	rk.proto = n->key.proto;
	rk.family = n->key.family;
	__builtin_memcpy(rv.addr, n->key.dst, 16);
	rv.port = n->key.dport;
	rv.backend = b->counter;
	rv.seen_ns = now;
	sl_ct_put(&sl_rnat, &rk, &rv, now);

	sl_rw_stat(SL_RW_STAT_NEW_FLOW);
	return put != 1;
}

/* Where every translated packet ends: the rewrite, the backend's counters (count: 0 when
 * the flow cache counted it), forwarding. */
static __always_inline int translate(struct xdp_md *ctx, struct sl_nat_pkt *n, const struct sl_nat *to, int reply,
				     int new_flow, int count)
{
	__u32 bytes = ctx->data_end - ctx->data;
	int r = sl_nat_rewrite(ctx, n, to, reply);

	if (r == -2) {
		sl_rw_stat(SL_RW_STAT_CSUM_LONG);
		return XDP_DROP;
	}
	if (r)
		return XDP_PASS;
	if (count)
		sl_rw_count(to->backend, 1, bytes, reply, new_flow);
	if (sl_rw_fib) {
		r = sl_fwd_fib(ctx, n);
		if (r == XDP_REDIRECT)
			sl_rw_stat(SL_RW_STAT_FIB_REDIRECT);
		return r;
	}
	return XDP_PASS;
}

/*
 * Packets the flow cache did not have: conntrack and new flows for packets to a frontend
 * port, the reverse table for packets from a backend port. fi is the packet's flow cache
 * slot, epoch the flow cache epoch read before anything else. A global function: the
 * verifier checks it once, whatever header layout (VLAN tags, IPv4 options, IPv6
 * extension headers) the parser met. Returns the XDP verdict.
 */
__noinline int sl_rw_slow(struct xdp_md *ctx, struct sl_nat_pkt *n, __u32 fi, __u64 epoch)
{
	__u32 slot, zero = 0, pi;
	struct sl_rw_filter *f;
	struct sl_rw_ctl *ctl;
	struct sl_nat nat;
	int new_flow;
	__u64 now;

	if (!n)
		return XDP_PASS;
	now = bpf_ktime_get_coarse_ns();
	n->hash = sl_flow_hash(&n->key);
	ctl = bpf_map_lookup_elem(&sl_rw_ctl, &zero);
	if (!ctl)
		return XDP_PASS;
	slot = ctl->slot & 1;
	f = bpf_map_lookup_elem(&sl_rw_filter, &slot);
	if (!f)
		return XDP_PASS;
	pi = n->key.proto == IPPROTO_UDP;
	if (port_in(f->fwd[pi & 1], n->key.dport) && (new_flow = forward(n, slot, now, &nat)) >= 0) {
		sl_fc_put(&n->key, fi & (SL_FLOW_CACHE - 1), &nat, SL_FC_FWD, epoch);
		return translate(ctx, n, &nat, 0, new_flow, 1);
	}
	if (port_in(f->rev[pi & 1], n->key.sport)) {
		struct sl_nat *rv = bpf_map_lookup_elem(&sl_rnat, &n->key);

		if (rv && sl_ct_fresh(rv, n->key.proto, now)) {
			if (now - rv->seen_ns >= SL_FC_TOUCH_NS)
				rv->seen_ns = now;
			nat = *rv;
			nat.seen_ns = now;
			sl_rw_stat(SL_RW_STAT_REPLY);
			sl_fc_put(&n->key, fi & (SL_FLOW_CACHE - 1), &nat, SL_FC_REV, epoch);
			return translate(ctx, n, &nat, 1, 0, 1);
		}
	}
	return XDP_PASS;
}

SEC("xdp")
int sl_rewrite(struct xdp_md *ctx)
{
	struct sl_nat_pkt n = {};
	struct sl_fc_entry *e;
	__u64 epoch, now;
	__u32 fi;
	int r = sl_nat_parse(ctx, &n);

	if (r) {
		if (r == SL_STAT_FRAGMENT)
			sl_rw_stat(SL_RW_STAT_FRAGMENT);
		return XDP_PASS;
	}
	/* Established flows: the per-CPU copy of their entry. Reading the clock and updating
	 * the backend's counters cost as much as the rest of this path, so a copy does both
	 * every SL_FC_CLOCK_EVERY packets. */
	fi = sl_fc_index(&n.key);
	epoch = sl_rw_epoch;
	e = sl_fc_get(&n.key, fi, epoch);
	if (e && !(n.syn && e->dir == SL_FC_FWD)) {
		if (sl_fc_count(e, ctx->data_end - ctx->data)) {
			now = bpf_ktime_get_coarse_ns();
			if (now - e->nat.seen_ns >= SL_FC_TOUCH_NS)
				sl_fc_touch(e, now);
		}
		return translate(ctx, &n, &e->nat, e->dir == SL_FC_REV, 0, 0);
	}
	return sl_rw_slow(ctx, &n, fi, epoch);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
