/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * sluice_abi.h — the kernel/user ABI: every struct that crosses between the BPF
 * programs and the agent, with fixed-width fields and no pointers, plus the limits
 * both sides size their maps by. SL_ABI_VERSION changes whenever a layout here
 * changes; an agent adopts pinned maps only when the pinned version equals its own.
 *
 * Classification (see bpf/lib/classify.h): every rule has an index in priority
 * order (0 wins). Each packet field is looked up in its own table and yields a class
 * id; a class id names a bitmap with one bit per rule that the field's value allows.
 * The AND of the field bitmaps, lowest set bit first, gives the matching rules.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

#define SL_ABI_VERSION 6

#ifndef SL_MAX_RULES
#define SL_MAX_RULES 16384 /* rules per generation; a multiple of 64 */
#endif
#define SL_MAX_WORDS (SL_MAX_RULES / 64)
#define SL_SUMMARY_WORDS (SL_MAX_WORDS / 64) /* one summary bit per bitmap word */
#define SL_MAX_SNAPLEN 256
#define SL_SAMPLE_RING (4u << 20)  /* ring buffer bytes */
#define SL_SAMPLE_WAKEUP_EVERY 64  /* samples between forced consumer wakeups, per CPU */
#define SL_RL_SOURCES 65536        /* per-source rate-limit buckets (LRU) */
#ifndef SL_MAX_PREFIXES
#define SL_MAX_PREFIXES 65535 /* distinct CIDRs per address table per generation */
#endif
#define SL_MAX_IVL 131072     /* address intervals per table: >= 2 * SL_MAX_PREFIXES + 1, a power of 2 */
#define SL_IVL_TOP 65537      /* IPv4 direct index: one entry per /16, plus an end marker */
#define SL_PORTS 65536
#define SL_L4_KEYS 65536 /* (IP protocol << 8) | TCP flags */
#define SL_NAME_LEN 64
#define SL_GEN_SLOTS 2 /* the live generation and the one being built or retired */

/*
 * Address tables. The agent turns a field's CIDRs into the sorted, disjoint intervals
 * they cut the address space into; interval k covers [start[k], start[k + 1]) and has
 * class cls[k] (the class of the longest prefix that contains it). A lookup finds the
 * last start <= address. IPv4 narrows the search with a direct index: top[x] is the
 * interval that holds address x << 16, so an address in /16 x lies in an interval
 * between top[x] and top[x + 1]. Addresses are host-order integers.
 */
struct sl_ivl4 {
	__u32 n;                  /* intervals in use, >= 1; start[0] == 0 */
	__u32 pad;
	__u32 top[SL_IVL_TOP];
	__u32 start[SL_MAX_IVL];
	__u32 cls[SL_MAX_IVL];
};

struct sl_ivl6 {
	__u32 n;
	__u32 pad;
	__u64 start[SL_MAX_IVL][2]; /* [0] high 64 bits, [1] low 64 bits */
	__u32 cls[SL_MAX_IVL];
};

/* Port table entry: the class of a port as source and as destination. */
struct sl_port_classes {
	__u32 sport;
	__u32 dport;
};

struct sl_port_table {
	struct sl_port_classes port[SL_PORTS];
};

/* Protocol and TCP flags table: class of (IP protocol << 8 | TCP flags). */
struct sl_l4_table {
	__u32 cls[SL_L4_KEYS];
};

/*
 * One class's rule bitmap: bit i of word i/64 set = rule i allows this field value.
 * summary bit j set = w[j] is not zero, so a packet visits only the words where every
 * field has some rule.
 */
struct sl_bitmap {
	__u64 summary[SL_SUMMARY_WORDS];
	__u64 w[SL_MAX_WORDS];
};

enum sl_action {
	SL_ACT_PASS = 0,
	SL_ACT_DROP = 1,
	SL_ACT_COUNT = 2, /* count, then keep looking at lower-priority rules */
	SL_ACT_RATE_LIMIT = 3,
};

#define SL_RL_PER_SOURCE 1u /* one bucket per source address, else one per rule */
#define SL_RL_BYTES 2u      /* the rate counts bytes, else packets */

/*
 * A rule as the datapath sees it, indexed by priority order. Rate limits use the
 * generic cell rate algorithm: each packet (or byte) moves a bucket's theoretical
 * arrival time forward by rl_cost_q16 / 65536 ns; a packet that would move it more
 * than rl_tau_ns past now exceeds the burst and is dropped.
 */
struct sl_rule {
	__u32 action;        /* enum sl_action */
	__u32 counter;       /* slot in sl_rule_counters; stable while the rule's name is */
	__u32 sample_one_in; /* 0: no sampling */
	__u32 snaplen;       /* <= SL_MAX_SNAPLEN */
	__u64 rl_cost_q16;   /* ns per packet or byte, << 16 */
	__u64 rl_tau_ns;     /* burst tolerance */
	__u32 rl_flags;      /* SL_RL_* */
	__u32 pad;
};

struct sl_rule_table {
	struct sl_rule rule[SL_MAX_RULES];
};

/* Rate-limit bucket: theoretical arrival time in ns (bpf_ktime_get_ns clock). */
struct sl_bucket {
	__u64 tat;
};

struct sl_rl_key {
	__u32 counter; /* the rule's counter slot */
	__u32 family;
	__u8 addr[16];
};

/* Sample record in the ring buffer: metadata, then the first cap_len bytes. */
struct sl_sample {
	__u64 ts_ns;
	__u32 counter;  /* the rule's counter slot */
	__u32 ifindex;
	__u32 pkt_len;
	__u32 cap_len;
	__u8 data[SL_MAX_SNAPLEN];
};

/*
 * Per-source traffic aggregates (bpf/lib/aggregates.h), read and reset by the agent every
 * interval. ports is a linear-counting sketch of the distinct destination ports the source
 * opened (TCP SYN without ACK) or sent to (UDP from a higher to a lower port): bit
 * sl_agg_port_bit(dport) is set, and n bits clear of m estimate m * ln(m / n) ports.
 */
#define SL_AGG_SOURCES 16384  /* sources tracked per interval and CPU: a power of 2 */
#define SL_AGG_WAYS 4         /* slots per set (a source has one set, by its address) */
#define SL_AGG_SETS (SL_AGG_SOURCES / SL_AGG_WAYS) /* sets per half */
#define SL_AGG_PORT_BITS 512
#define SL_AGG_PORT_WORDS (SL_AGG_PORT_BITS / 64)

struct sl_agg_key {
	__u32 family;  /* 4 or 6; 0: a free slot */
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
};

struct sl_agg {
	__u64 packets;
	__u64 bytes;
	__u64 syns;    /* TCP SYN without ACK */
	__u64 synacks; /* TCP SYN with ACK */
	__u64 rsts;    /* TCP RST */
	__u64 ports[SL_AGG_PORT_WORDS];
};

/* A per-source slot: whose it is, and what it counted this interval. */
struct sl_agg_slot {
	struct sl_agg_key key;
	__u32 pad;
	struct sl_agg agg;
};

struct sl_agg_set {
	struct sl_agg_slot way[SL_AGG_WAYS];
};

/* Which half of sl_agg_src the datapath counts into (the agent reads the other). */
struct sl_agg_ctl {
	__u32 half; /* 0 or 1 */
	__u32 pad;
};

/* The sketch bit of a destination port: a mixing hash to 9 bits, random-like even for
 * consecutive ports (as a scan sends them), which linear counting assumes. */
static inline __u32 sl_agg_port_bit(__u16 port)
{
	__u32 x = (__u32)port * 0x9E3779B1u;

	x ^= x >> 15;
	x *= 0x85EBCA77u;
	x ^= x >> 13;
	return x >> (32 - 9);
}

/* Per generation slot: how much of the bitmaps to read. */
struct sl_gen_info {
	__u32 n_rules;
	__u32 n_words;     /* ceil(n_rules / 64) */
	__u64 generation;  /* increases with every switch */
	__u64 revision;    /* the controller's revision compiled into this generation */
	__u8 hash[32];     /* that revision's content hash (raw sha256) */
};

/* The switch: one 4-byte write moves every packet to the other slot. */
struct sl_ctl {
	__u32 slot;        /* live generation slot, 0 or 1 */
	__u32 pad;
};

struct sl_counter {
	__u64 packets;
	__u64 bytes;
	__u64 samples;      /* samples written to the ring buffer */
	__u64 samples_lost; /* samples dropped because the ring buffer was full */
	__u64 rl_drops;     /* packets dropped by this rule's rate limit */
};

/* Datapath counters by reason, one shared list for kernel and user space. */
enum sl_stat {
	SL_STAT_PACKETS = 0,  /* every packet the program saw */
	SL_STAT_NO_POLICY,    /* no generation live yet: passed */
	SL_STAT_NON_IP,       /* not IPv4/IPv6: passed unclassified */
	SL_STAT_TRUNCATED,    /* headers cut short: passed unclassified; L4 header or IP length cut
			       * short: classified with what is there (bpf/lib/parse.h) */
	SL_STAT_BAD_HEADER,   /* bad version, IHL < 5, total length < IHL: passed unclassified;
			       * TCP data offset < 5, UDP length < 8: classified with the ports */
	SL_STAT_FRAGMENT,     /* IP fragment: classified without ports */
	SL_STAT_EXT_LIMIT,    /* more IPv6 extension headers than we walk: classified without ports */
	SL_STAT_NO_MATCH,     /* classified, no rule matched: passed */
	SL_STAT_DROP_RULE,    /* dropped by a drop rule */
	SL_STAT_DROP_RATE,    /* dropped by a rate limit */
	SL_STAT_MAX,
};

#define SL_STAT_NAMES                                                                                    \
	{ "packets", "no_policy", "non_ip", "truncated", "bad_header", "fragment", "ext_limit", "no_match", \
	  "drop_rule", "drop_rate_limit" }

/* Identity of what is pinned, checked before adoption. */
struct sl_meta {
	__u32 abi_version;
	__u32 max_rules;
	__u8 obj_hash[32]; /* sha256 of the BPF object the pinned program was loaded from */
};

/*
 * ---- Routing rewrite (bpf/rewrite.bpf.c) ------------------------------------------------
 *
 * The rewrite program has maps and pins of its own, versioned by SL_RW_ABI_VERSION, so
 * either program can be upgraded or replaced without touching the other's state.
 *
 * A route maps a frontend (VIP, protocol, port) to weighted backends. A new flow picks its
 * backend in the route's Maglev table (SL_MAGLEV_SIZE entries, each a backend index, filled
 * by the agent in proportion to the weights) at sl_maglev_index(sl_flow_hash(flow));
 * conntrack remembers the choice, so the flow stays there when the table changes. Replies
 * are found by the backend-side tuple and given the VIP back. Addresses and ports here are
 * in network order, as on the wire.
 */
#define SL_RW_ABI_VERSION 2

#ifndef SL_MAX_ROUTES
#define SL_MAX_ROUTES 1024 /* routes per generation */
#endif
#ifndef SL_MAX_BACKENDS
#define SL_MAX_BACKENDS 64 /* backends per route: a power of 2, <= 256 (Maglev entries are one byte) */
#endif
#ifndef SL_MAGLEV_SIZE
#define SL_MAGLEV_SIZE 16381 /* Maglev table entries per route: a prime, >> SL_MAX_BACKENDS */
#endif
#ifndef SL_RW_BACKEND_SLOTS
#define SL_RW_BACKEND_SLOTS 16384 /* backend counter slots: live plus draining backends */
#endif
#ifndef SL_CT_ENTRIES
#define SL_CT_ENTRIES 262144 /* conntrack flows, and as many reverse entries (LRU) */
#endif
#ifndef SL_FLOW_CACHE
#define SL_FLOW_CACHE 4096 /* per-CPU flow cache entries: a power of 2 */
#endif
#ifndef SL_CT_TCP_IDLE_S
#define SL_CT_TCP_IDLE_S 3600 /* a TCP flow idle this long is new again */
#endif
#ifndef SL_CT_UDP_IDLE_S
#define SL_CT_UDP_IDLE_S 120
#endif
#define SL_FC_TOUCH_NS 1000000000ull /* a cached flow refreshes its conntrack entries this often, */
#define SL_FC_CLOCK_EVERY 8           /* looking at the clock (and adding its counts to the backend's)
				       * every this many packets: a power of 2 */
#define SL_RW_TAG_LEN 32

/* A flow as it is on the wire; IPv4 addresses in the first 4 bytes, the rest 0. Eight-byte
 * aligned: it is hashed and compared as five 64-bit words. */
struct sl_flow {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family; /* 4 or 6 */
	__u8 pad[2];
} __attribute__((aligned(8)));

/* What a translated flow's packets get: the destination (forward) or source (reply)
 * address and port to write, and whose counters they go to. */
struct sl_nat {
	__u8 addr[16];
	__be16 port;
	__u16 pad;
	__u32 backend; /* slot in sl_rw_counters */
	__u64 seen_ns; /* coarse clock (bpf_ktime_get_coarse_ns) of the flow's last refresh */
};

/* Per-CPU flow cache entry: a conntrack (dir 0) or reverse (dir 1) entry, valid while
 * epoch equals sl_rw_epoch (bumped whenever a flow's entry changes backend). */
struct sl_fc_entry {
	struct sl_flow key;
	struct sl_nat nat; /* nat.seen_ns: when the copy last refreshed the LRU entry */
	__u64 epoch;
	__u64 bytes;       /* bytes of packets not yet added to the backend's counters */
	__u32 dir;
	__u32 pkts;        /* packets through this copy (wraps); the last pkts % SL_FC_CLOCK_EVERY
			    * of them are not yet in the backend's counters (see lib/conntrack.h) */
};

#define SL_FC_FWD 0
#define SL_FC_REV 1

#ifndef SL_VERDICT_CACHE
#define SL_VERDICT_CACHE 4096 /* per-CPU verdict cache entries (bpf/lib/vcache.h): a power of 2 */
#endif
#define SL_VC_COUNTS 3    /* count rules a cached verdict carries; more are not cached */
#define SL_VC_KEY_WORDS 5 /* the classified fields of a packet, as 64-bit words */

/* Per-CPU verdict cache entry: classification's answer for one set of packet fields,
 * valid while generation is the live generation's. */
struct sl_vc_entry {
	__u64 key[SL_VC_KEY_WORDS];
	__u64 generation;
	__s32 match;                /* deciding rule index in the generation, or -1: none */
	__u16 counts[SL_VC_COUNTS]; /* counter slots of the count rules that matched first */
	__u16 n_counts;             /* how many matched; more than SL_VC_COUNTS: not cacheable */
	__u32 pad;
};

struct sl_rw_backend {
	__u8 addr[16];
	__be16 port;
	__u16 pad;
	__u32 counter; /* slot in sl_rw_counters */
};

/* A route of one generation, by index. */
struct sl_rw_route {
	__u32 n_backends;
	__u32 pad;
	struct sl_rw_backend backend[SL_MAX_BACKENDS];
};

struct sl_rw_route_table {
	struct sl_rw_route route[SL_MAX_ROUTES];
};

/* One route's Maglev table: backend indices. */
struct sl_maglev_row {
	__u8 backend[SL_MAGLEV_SIZE];
};

/* Frontend -> route index, for one generation slot. */
struct sl_fe_key {
	__u8 vip[16];
	__be16 port;
	__u8 proto;
	__u8 family;
	__u32 slot;
};

/*
 * Which ports can start a lookup at all, per slot: fwd has frontend ports (of live routes,
 * and of routes whose backends still drain), rev the ports of live and draining backends.
 * Index 0 is TCP, 1 UDP; bit p % 64 of word p / 64 is port p (host order).
 */
struct sl_rw_filter {
	__u64 fwd[2][1024];
	__u64 rev[2][1024];
};

/* The rewrite generation switch: the live slot. */
struct sl_rw_ctl {
	__u32 slot;
	__u32 pad;
};

struct sl_rw_gen_info {
	__u32 n_routes;
	__u32 pad;
	__u64 generation;
};

/* Per backend counter slot, per CPU. */
struct sl_rw_counter {
	__u64 new_flows;
	__u64 packets; /* client -> backend */
	__u64 bytes;
	__u64 reply_packets; /* backend -> client */
	__u64 reply_bytes;
};

/* What a backend counter slot holds; only the agent reads and writes it (through mmap),
 * so a restarted agent knows which backends drain and whose counters are whose. */
struct sl_rw_backend_info {
	char route[SL_NAME_LEN];
	char tag[SL_RW_TAG_LEN];
	__u8 addr[16];
	__u8 vip[16];
	__be16 port;
	__be16 vport;
	__u8 family;
	__u8 proto;
	__u8 state; /* enum sl_rw_backend_state */
	__u8 pad;
	__u32 weight;
	__u32 pad2;
	__u64 idle_since_ns; /* CLOCK_MONOTONIC when its counters last stood still (draining) */
	__u64 last_packets;  /* packets + reply packets at the last look (draining) */
};

enum sl_rw_backend_state {
	SL_RW_SLOT_FREE = 0,
	SL_RW_SLOT_LIVE = 1,
	SL_RW_SLOT_DRAINING = 2, /* removed: serves the flows it has, gets no new ones */
};

/* Rewrite counters by reason (slow paths only: the flow cache path counts per backend). */
enum sl_rw_stat {
	SL_RW_STAT_CT_HIT = 0,   /* translated from conntrack (flow cache miss) */
	SL_RW_STAT_NEW_FLOW,     /* new flow: backend picked in the Maglev table */
	SL_RW_STAT_REPLY,        /* reply translated from the reverse table (flow cache miss) */
	SL_RW_STAT_REPICK,       /* a flow's entry changed backend (port reuse, timeout) */
	SL_RW_STAT_FRAGMENT,     /* IP fragment (no ports to find a flow by): passed untranslated */
	SL_RW_STAT_NO_ROUTE,     /* frontend port but no frontend: passed untranslated */
	SL_RW_STAT_NO_TABLE,     /* a generation table missing (only a bug causes it) */
	SL_RW_STAT_CT_FULL,      /* conntrack insert failed */
	SL_RW_STAT_CSUM_LONG,    /* IPv6 UDP without a checksum, too long to sum: dropped */
	SL_RW_STAT_FIB_REDIRECT, /* forwarded by bpf_fib_lookup + redirect */
	SL_RW_STAT_MAX,
};

#define SL_RW_STAT_NAMES                                                                                   \
	{ "rewrite_ct_hit", "rewrite_new_flow", "rewrite_reply", "rewrite_repick", "rewrite_fragment",      \
	  "rewrite_no_route", "rewrite_no_table", "rewrite_ct_full", "rewrite_csum_long", "rewrite_fib_redirect" }

/* Identity of the pinned rewrite program and maps, checked before adoption. */
struct sl_rw_meta {
	__u32 abi_version;
	__u32 max_routes;
	__u8 obj_hash[32];
};

/*
 * The flow hash: picks the Maglev entry of a new flow. Plain arithmetic, so the agent and its tests compute exactly what the datapath does. The five
 * words are multiplied independently (the CPU overlaps them) and then mixed once.
 */
static inline __u32 sl_flow_hash(const struct sl_flow *f)
{
	__u64 w[5], h;

	__builtin_memcpy(w, f, sizeof(w));
	h = (w[0] ^ 0x5ca1ab1e) * 0x9E3779B97F4A7C15ULL;
	h ^= (w[1] + 1) * 0xC2B2AE3D27D4EB4FULL;
	h ^= (w[2] + 2) * 0x165667B19E3779F9ULL;
	h ^= (w[3] + 3) * 0xD6E8FEB86659FD93ULL;
	h ^= (w[4] + 4) * 0xFF51AFD7ED558CCDULL;
	h ^= h >> 32;
	h *= 0xC4CEB9FE1A85EC53ULL;
	h ^= h >> 29;
	return (__u32)(h >> 32) ^ (__u32)h;
}

/* The Maglev entry of flow hash h: h scaled to [0, SL_MAGLEV_SIZE) by a multiply and a
 * shift (no division, and a bound the verifier can see). */
static inline __u32 sl_maglev_index(__u32 h)
{
	return (__u32)(((__u64)h * SL_MAGLEV_SIZE) >> 32);
}

#endif
