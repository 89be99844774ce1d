/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * maps.h — the inspection program's maps. A policy generation is one inner map per
 * table below, held in slot 0 or 1 of each ARRAY_OF_MAPS; sl_ctl names the live slot.
 * The agent fills every table of the idle slot, then flips sl_ctl.slot with one 4-byte
 * map update: a packet reads the slot once and sees one whole generation.
 *
 * Inner-map templates must match what agent/datapath.c creates (type, key and value
 * sizes, flags, and max_entries unless BPF_F_INNER_MAP is set). Inner templates give
 * sizes rather than types: clang emits only forward declarations for types that
 * appear nowhere but in an inner template, and libbpf cannot size those.
 */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"

/* Address intervals -> class ids (one entry holding the whole table). */
struct sl_ivl4_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_ivl4));
};

struct sl_ivl6_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_ivl6));
};

/* Port -> classes of that port as source and as destination. */
struct sl_ports_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_PORTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_port_classes));
};

/* (IP protocol << 8 | TCP flags) -> class id. */
struct sl_l4_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_L4_KEYS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
};

/* Class id -> rule bitmap; sized per generation to its number of classes. */
struct sl_bitmaps_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_bitmap));
};

/* Rule index (priority order) -> what to do. */
struct sl_rules_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_RULES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_rule));
};

#define SL_OUTER(name, inner)                                 \
	struct {                                              \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);      \
		__uint(max_entries, SL_GEN_SLOTS);             \
		__type(key, __u32);                            \
		__array(values, struct inner);                 \
	} name SEC(".maps")

SL_OUTER(sl_src4, sl_ivl4_map);      /* source IPv4 intervals */
SL_OUTER(sl_dst4, sl_ivl4_map);      /* destination IPv4 intervals */
SL_OUTER(sl_src6, sl_ivl6_map);      /* source IPv6 intervals */
SL_OUTER(sl_dst6, sl_ivl6_map);      /* destination IPv6 intervals */
SL_OUTER(sl_ports, sl_ports_map);    /* port classes */
SL_OUTER(sl_l4, sl_l4_map);          /* protocol + TCP flag classes */
SL_OUTER(sl_bitmaps, sl_bitmaps_map); /* class bitmaps */
SL_OUTER(sl_rules, sl_rules_map);    /* rule actions */

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

#endif
