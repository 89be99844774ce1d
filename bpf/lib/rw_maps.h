/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * rw_maps.h — the rewrite program's maps.
 *
 * Route generations are double-buffered like the inspection program's (lib/maps.h): the
 * per-slot tables (routes, port filter, frontends keyed with their slot, and one Maglev
 * map per slot in an ARRAY_OF_MAPS) are filled in the idle slot, then sl_rw_ctl.slot flips
 * with one 4-byte update. Before it writes a slot again the agent waits for an RCU grace
 * period (by re-installing that slot's Maglev map), so no packet can still read it.
 *
 * Flow state is not generational: conntrack, the reverse table, the flow cache and the
 * counters outlive every switch, which is what keeps established flows on their backend.
 */
#ifndef SLUICE_BPF_RW_MAPS_H
#define SLUICE_BPF_RW_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"

/* The generation switch: which slot is live. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_rw_ctl);
} sl_rw_ctl SEC(".maps");

/* Per slot: route count and generation number. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_rw_gen_info);
} sl_rw_gen SEC(".maps");

/* Per slot: the routes (backends and their counter slots), by route index. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_rw_route_table);
} sl_rw_routes SEC(".maps");

/* Per slot: which ports can start a forward or reply lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_rw_filter);
} sl_rw_filter SEC(".maps");

/* (slot, VIP, protocol, port) -> route index; both slots' frontends side by side. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_GEN_SLOTS * SL_MAX_ROUTES);
	__type(key, struct sl_fe_key);
	__type(value, __u32);
} sl_rw_frontends SEC(".maps");

/* Route index -> Maglev table; sized per generation to its route count. As in lib/maps.h
 * the inner template gives sizes rather than a type. */
struct sl_maglev_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_maglev_row));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_GEN_SLOTS);
	__type(key, __u32);
	__array(values, struct sl_maglev_map);
} sl_rw_maglev SEC(".maps");

/* Conntrack: client-side flow -> backend. LRU, each CPU evicting from its own lists. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CT_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct sl_flow);
	__type(value, struct sl_nat);
} sl_ct SEC(".maps");

/* Reverse: backend-side flow (backend -> client) -> the VIP and port to give back. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CT_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct sl_flow);
	__type(value, struct sl_nat);
} sl_rnat SEC(".maps");

/* Per-CPU direct-mapped cache of conntrack and reverse entries, by flow hash. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_FLOW_CACHE);
	__type(key, __u32);
	__type(value, struct sl_fc_entry);
} sl_rw_cache SEC(".maps");

/* Bumped whenever a flow's conntrack or reverse entry changes backend: every flow cache
 * entry filled before is stale. The agent bumps it too when it flushes flows. A global in
 * a section (an array map) of its own: every packet reads it, and a global is one load
 * where a map lookup is several instructions. */
__u64 sl_rw_epoch SEC(".data.epoch");

/* Per backend counter slot: new flows, packets and bytes each way (survives switches). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_RW_BACKEND_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_rw_counter);
} sl_rw_counters SEC(".maps");

/* Who each counter slot belongs to, and whether it drains. Only the agent touches it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_RW_BACKEND_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_rw_backend_info);
} sl_rw_backends SEC(".maps");

/* Rewrite counters by enum sl_rw_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_RW_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_rw_stats SEC(".maps");

/* What is pinned: ABI version and object hash, checked before adoption. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_rw_meta);
} sl_rw_meta SEC(".maps");

#endif
