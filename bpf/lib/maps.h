/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * maps.h — the inspection program's maps.
 *
 * A policy generation lives in one of two slots. The fixed-size tables (address
 * intervals, ports, protocol classes, rules) are plain arrays holding both slots side by
 * side, which the agent writes through mmap; the rule bitmaps, whose size follows the
 * policy, are an inner map per slot in an ARRAY_OF_MAPS. sl_ctl names the live slot: the
 * agent fills the idle slot, then flips sl_ctl.slot with one 4-byte update, so a packet
 * reads the slot once and sees one whole generation. Before it writes a slot again, the
 * agent waits for an RCU grace period (an ARRAY_OF_MAPS update does that), so no packet
 * that started under the old generation can still be reading it.
 */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"

/* Address intervals -> class ids; entry slot * 2 + 0 is the source table, + 1 the destination. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS * 2);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_ivl4);
} sl_ivl4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS * 2);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_ivl6);
} sl_ivl6 SEC(".maps");

/* Port -> classes as source and destination, per slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_port_table);
} sl_ports SEC(".maps");

/* (IP protocol << 8 | TCP flags) -> class, per slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_l4_table);
} sl_l4 SEC(".maps");

/* Rule index (priority order) -> what to do, per slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_rule_table);
} sl_rules SEC(".maps");

/* Class id -> rule bitmap; sized per generation to its number of classes. Inner
 * templates give sizes rather than types: clang emits only forward declarations for
 * types that appear nowhere but in an inner template, and libbpf cannot size those. */
struct sl_bitmaps_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_bitmap));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_GEN_SLOTS);
	__type(key, __u32);
	__array(values, struct sl_bitmaps_map);
} sl_bitmaps SEC(".maps");

/* The generation switch: which slot is live. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_ctl);
} sl_ctl SEC(".maps");

/* Per slot: rule and word counts of the generation in it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_GEN_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_gen_info);
} sl_gen SEC(".maps");

/* Per-rule packets and bytes by stable counter slot (survives generation switches). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct sl_counter);
} sl_rule_counters SEC(".maps");

/* Rule name of each counter slot, so a restarted agent can map counters back to rules.
 * Only user space touches it (through mmap). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_RULES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, char[SL_NAME_LEN]);
} sl_rule_names SEC(".maps");

/* Datapath counters by enum sl_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_stats SEC(".maps");

/* Sampled packets for user space (metadata + first snaplen bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SL_SAMPLE_RING);
} sl_samples SEC(".maps");

/* Per-CPU count of samples since the last forced wakeup (batched wakeups). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sl_sample_batch SEC(".maps");

/* Rate-limit buckets of per-rule limits, by counter slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct sl_bucket);
} sl_rl_rule SEC(".maps");

/* Rate-limit buckets of per-source limits; LRU, so a flood of sources cannot exhaust it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_RL_SOURCES);
	__type(key, struct sl_rl_key);
	__type(value, struct sl_bucket);
} sl_rl_source SEC(".maps");

/* The next program in the chain (slot 0: the rewrite program), tail-called on pass. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sl_chain SEC(".maps");

/* What is pinned: ABI version and object hash, checked before adoption. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_meta);
} sl_meta SEC(".maps");

/* Per-source packets, bytes, SYNs, SYN-ACKs and destination-port sketch for the agent's
 * detectors, per CPU: two halves of SL_AGG_SETS sets; the datapath counts into the half
 * sl_agg_ctl names while the agent reads and clears the other (see lib/aggregates.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * SL_AGG_SETS);
	__type(key, __u32);
	__type(value, struct sl_agg_set);
} sl_agg_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_agg_ctl);
} sl_agg_ctl SEC(".maps");

/* The same summed over every source, never evicted (the agent diffs successive reads). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_agg);
} sl_agg_total SEC(".maps");

#endif
