/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * conntrack.h — flow state of the rewrite program: the conntrack and reverse LRUs, the
 * per-CPU flow cache in front of them, and the per-backend counters.
 *
 * The LRUs are the truth: a flow's conntrack entry (client side) names its backend, and
 * the matching reverse entry (backend side) names the VIP to give replies. Both are
 * written when a flow starts and refreshed while it lives; an entry idle longer than its
 * protocol's timeout counts as absent.
 *
 * The flow cache keeps a copy of entries per CPU, one slot per flow (sl_fc_index), so a
 * packet of an established flow costs one array lookup and a key compare instead of a
 * hash-map walk. A copy is only trusted while its epoch equals sl_rw_epoch, which every change of
 * an entry's backend bumps (a TCP port reused for a new connection, a flow back after its
 * timeout, a reverse entry taken over by another VIP): routine inserts leave it alone,
 * so the cache survives generation switches. While a flow uses its copy, the copy
 * refreshes the LRU entries every SL_FC_TOUCH_NS (it looks at the clock every
 * SL_FC_CLOCK_EVERY packets) so they neither age out nor get evicted. A copy is not aged
 * itself: if another CPU finds the LRU entry timed out and picks another backend, that
 * change bumps the epoch and retires the copy.
 */
#ifndef SLUICE_BPF_CONNTRACK_H
#define SLUICE_BPF_CONNTRACK_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/rw_maps.h"

#define SL_NS_PER_S 1000000000ull

static __always_inline void sl_rw_stat(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&sl_rw_stats, &reason);

	if (v)
		(*v)++;
}

static __always_inline void sl_rw_epoch_bump(void)
{
	__sync_fetch_and_add(&sl_rw_epoch, 1);
	sl_rw_stat(SL_RW_STAT_REPICK);
}

static __always_inline int sl_flow_eq(const struct sl_flow *a, const struct sl_flow *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

/* An entry idle for longer than its protocol's timeout no longer holds the flow. */
static __always_inline int sl_ct_fresh(const struct sl_nat *e, __u8 proto, __u64 now)
{
	__u64 idle = proto == IPPROTO_TCP ? SL_CT_TCP_IDLE_S * SL_NS_PER_S : SL_CT_UDP_IDLE_S * SL_NS_PER_S;

	return now - e->seen_ns < idle;
}

/* Flow k's slot in the flow cache: one multiply, not the full flow hash (that one is
 * only needed when a flow is new). */
static __always_inline __u32 sl_fc_index(const struct sl_flow *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 x = w[0] ^ w[1] ^ w[2] ^ w[3] ^ (w[4] * 0x9E3779B97F4A7C15ULL);

	return (__u32)((x * 0xFF51AFD7ED558CCDULL) >> 32) & (SL_FLOW_CACHE - 1);
}

/* The flow cache slot i (whatever it holds). */
static __always_inline struct sl_fc_entry *sl_fc_slot(__u32 i)
{
	return bpf_map_lookup_elem(&sl_rw_cache, &i);
}

/* The cached entry of flow k (whose slot is i), or NULL. */
static __always_inline struct sl_fc_entry *sl_fc_get(const struct sl_flow *k, __u32 i, __u64 epoch)
{
	struct sl_fc_entry *e = sl_fc_slot(i);

	if (!e || e->epoch != epoch || !sl_flow_eq(&e->key, k))
		return NULL;
	return e;
}

/* Adds packets and bytes to or from backend slot b (this CPU's counters). */
static __always_inline void sl_rw_count(__u32 b, __u32 packets, __u64 bytes, int reply, int new_flow)
{
	struct sl_rw_counter *c = bpf_map_lookup_elem(&sl_rw_counters, &b);

	if (!c)
		return;
	if (reply) {
		c->reply_packets += packets;
		c->reply_bytes += bytes;
	} else {
		c->packets += packets;
		c->bytes += bytes;
	}
	c->new_flows += new_flow;
}

/*
 * Counts a packet of a cached flow in the copy, and every SL_FC_CLOCK_EVERY packets adds
 * the copy's counts to the backend's: a separate counter update per packet would cost as
 * much as the rest of the path. Returns nonzero when it did (time to look at the clock).
 * The agent adds what copies hold to the counters it reports.
 */
static __always_inline int sl_fc_count(struct sl_fc_entry *e, __u32 bytes)
{
	e->bytes += bytes;
	if ((++e->pkts & (SL_FC_CLOCK_EVERY - 1)) != 0)
		return 0;
	sl_rw_count(e->nat.backend, SL_FC_CLOCK_EVERY, e->bytes, e->dir == SL_FC_REV, 0);
	e->bytes = 0;
	return 1;
}

/* Puts flow k's entry into cache slot i, first adding what the slot's previous flow
 * counted there to that flow's backend. */
static __always_inline void sl_fc_put(const struct sl_flow *k, __u32 i, const struct sl_nat *nat, __u32 dir,
				      __u64 epoch)
{
	struct sl_fc_entry *e = sl_fc_slot(i);
	__u32 pending;

	if (!e)
		return;
	pending = e->pkts & (SL_FC_CLOCK_EVERY - 1);
	if (pending || e->bytes)
		sl_rw_count(e->nat.backend, pending, e->bytes, e->dir == SL_FC_REV, 0);
	e->key = *k;
	e->nat = *nat;
	e->dir = dir;
	e->epoch = epoch;
	e->pkts = 0;
	e->bytes = 0;
}

/*
 * Keeps a cached flow's LRU entry alive: a lookup marks it used, and its clock moves on;
 * an entry the LRU dropped anyway is put back from the copy.
 */
static __always_inline void sl_fc_touch(struct sl_fc_entry *e, __u64 now)
{
	void *map = e->dir == SL_FC_FWD ? (void *)&sl_ct : (void *)&sl_rnat;
	struct sl_nat *ct = bpf_map_lookup_elem(map, &e->key);

	e->nat.seen_ns = now;
	if (ct)
		ct->seen_ns = now;
	else
		bpf_map_update_elem(map, &e->key, &e->nat, BPF_NOEXIST);
}

/*
 * Writes entry v for flow k into map (conntrack or reverse), replacing what was there.
 * When an old entry named another address or port, cached copies of it may be stale:
 * bump the epoch. Returns 1 when a live entry said the same already (a retransmitted
 * SYN), 0 when the entry is new or changed, -1 when the map refused it.
 */
static __always_inline int sl_ct_put(void *map, const struct sl_flow *k, const struct sl_nat *v, __u64 now)
{
	struct sl_nat *old = bpf_map_lookup_elem(map, k);
	int changed = 0, same = 0;

	if (old) {
		__u64 a[2], b[2];

		__builtin_memcpy(a, old->addr, 16);
		__builtin_memcpy(b, v->addr, 16);
		changed = ((a[0] ^ b[0]) | (a[1] ^ b[1])) != 0 || old->port != v->port;
		same = !changed && sl_ct_fresh(old, k->proto, now);
	}
	if (bpf_map_update_elem(map, k, v, BPF_ANY)) {
		sl_rw_stat(SL_RW_STAT_CT_FULL);
		return -1;
	}
	if (changed)
		sl_rw_epoch_bump();
	return same;
}

#endif
