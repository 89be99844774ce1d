/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * classify.h — bit-vector classification of a parsed packet against the live
 * generation (the design of bpf-iptables): five table lookups (source and destination
 * address interval, source and destination port, protocol with TCP flags) each give a class whose
 * bitmap holds one bit per rule that the field allows; the AND of the five bitmaps, read
 * lowest bit first, lists the matching rules in priority order.
 *
 * sl_classify() counts every matching count rule, stops at the first rule of any other
 * action and returns that rule's index, or -1 when no such rule matched. Each bitmap
 * carries a summary (one bit per 64-rule word that is not zero); the AND of the
 * summaries names the only words worth reading, so the cost grows with the words where
 * every field allows some rule, not with the rule count.
 */
#ifndef SLUICE_BPF_CLASSIFY_H
#define SLUICE_BPF_CLASSIFY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/vcache.h"

#define SL_FIELDS 5

static __always_inline __u32 sl_ctz64(__u64 x)
{
	__u32 n = 0;

	if (!(x & 0xffffffffULL)) {
		n += 32;
		x >>= 32;
	}
	if (!(x & 0xffff)) {
		n += 16;
		x >>= 16;
	}
	if (!(x & 0xff)) {
		n += 8;
		x >>= 8;
	}
	if (!(x & 0xf)) {
		n += 4;
		x >>= 4;
	}
	if (!(x & 0x3)) {
		n += 2;
		x >>= 2;
	}
	if (!(x & 0x1))
		n += 1;
	return n;
}

/* Counts a packet of `bytes` for the rule whose counter slot is slot. */
static __always_inline void sl_count_slot(__u32 slot, __u32 bytes)
{
	struct sl_counter *c = bpf_map_lookup_elem(&sl_rule_counters, &slot);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline void sl_count_rule(const struct sl_rule *r, __u32 bytes)
{
	sl_count_slot(r->counter, bytes);
}

struct sl_match_ctx {
	struct sl_bitmap *bm[SL_FIELDS];
	struct sl_rule_table *rules; /* this generation's rules */
	__u32 bytes;          /* frame length, for the counters */
	__s32 match;          /* index of the deciding rule, or -1 */
	__u32 sw;             /* summary word being consumed */
	__u32 w;              /* bitmap word whose matches are in x */
	__u64 x;              /* matching rules of word w not yet visited */
	struct sl_vc_entry *vc; /* where the count rules matched go (the verdict cache entry) */
	__u64 cand[SL_SUMMARY_WORDS]; /* words where every field allows some rule */
};

/*
 * bpf_loop callback, one step: either load the next candidate 64-rule word, or visit
 * its lowest matching rule (count it; stop there unless it is a count rule). One step per
 * call keeps the verifier's work flat. Returns 1 to stop.
 */
static long sl_match_step(__u32 iter, void *data)
{
	struct sl_match_ctx *m = data;
	__u32 w, idx;
	__u64 c = 0;
	struct sl_rule *r;

	if (!m->x) {
		for (int i = 0; i < SL_SUMMARY_WORDS; i++) {
			if (m->sw >= SL_SUMMARY_WORDS)
				return 1;
			c = m->cand[m->sw & (SL_SUMMARY_WORDS - 1)];
			if (c)
				break;
			m->sw++;
		}
		if (!c)
			return 1;
		w = (m->sw & (SL_SUMMARY_WORDS - 1)) * 64 + sl_ctz64(c);
		m->cand[m->sw & (SL_SUMMARY_WORDS - 1)] = c & (c - 1);
		/* The compiler drops a bound it can prove; the verifier needs to see one. */
		asm volatile("%0 &= %1" : "+r"(w) : "i"(SL_MAX_WORDS - 1));
		m->w = w;
		m->x = m->bm[0]->w[w] & m->bm[1]->w[w] & m->bm[2]->w[w] & m->bm[3]->w[w] & m->bm[4]->w[w];
		return 0;
	}
	idx = (m->w * 64 + sl_ctz64(m->x)) & (SL_MAX_RULES - 1);
	m->x &= m->x - 1;
	r = &m->rules->rule[idx];
	sl_count_rule(r, m->bytes);
	if (r->action != SL_ACT_COUNT) {
		m->match = (__s32)idx;
		return 1;
	}
	sl_vc_add_count(m->vc, r->counter);
	return 0;
}

static __always_inline struct sl_bitmap *sl_bitmap_of(void *bitmaps, __u32 cls)
{
	return bpf_map_lookup_elem(bitmaps, &cls);
}

#define SL_IVL_MASK (SL_MAX_IVL - 1)
#define SL_IVL_STEPS 17 /* log2(SL_MAX_IVL) */

/*
 * The searches below are branch-free: a branch per step would make the verifier walk
 * every path of the search. These give 0 or 1 by arithmetic; the empty asm keeps the
 * compiler from turning them back into compares and jumps.
 */
static __always_inline __u64 sl_lt64(__u64 x, __u64 y) /* x < y, unsigned */
{
	__u64 r;

	asm volatile("" : "+r"(x), "+r"(y));
	r = ((~x & y) | ((~x | y) & (x - y))) >> 63;
	return r;
}

static __always_inline __u64 sl_eq64(__u64 x, __u64 y)
{
	__u64 d = x ^ y;

	asm volatile("" : "+r"(d));
	return ((d | (0 - d)) >> 63) ^ 1;
}

/* Class of a host-order IPv4 address in interval table `table`: 0 or -1. */
static __always_inline int sl_addr_class4(__u32 table, __u32 a, __u32 *cls)
{
	struct sl_ivl4 *iv = bpf_map_lookup_elem(&sl_ivl4, &table);
	__u32 x = a >> 16;
	__u64 base, n;

	if (!iv)
		return -1;
	/* Last k in [top[x], top[x + 1]] with start[k] <= a; start[top[x]] <= a by construction. */
	base = iv->top[x];
	n = (__u64)iv->top[x + 1] - base + 1;
	for (int i = 0; i < SL_IVL_STEPS; i++) {
		__u64 half = n / 2, mid = (base + half) & SL_IVL_MASK;

		if (n <= 1)
			break;
		base += half * (1 - sl_lt64(a, iv->start[mid]));
		n -= half;
	}
	*cls = iv->cls[base & SL_IVL_MASK];
	return 0;
}

/* The same for IPv6, whose address is (high, low) 64-bit halves, over the whole table. */
static __always_inline int sl_addr_class6(__u32 table, __u64 ah, __u64 al, __u32 *cls)
{
	struct sl_ivl6 *iv = bpf_map_lookup_elem(&sl_ivl6, &table);
	__u64 base = 0, n;

	if (!iv)
		return -1;
	n = iv->n;
	for (int i = 0; i < SL_IVL_STEPS + 1; i++) {
		__u64 half = n / 2, mid = (base + half) & SL_IVL_MASK;
		__u64 sh = iv->start[mid][0], sl = iv->start[mid][1];
		/* start <= a: sh < ah, or sh == ah and not al < sl */
		__u64 le = sl_lt64(sh, ah) | (sl_eq64(sh, ah) & (1 - sl_lt64(al, sl)));

		if (n <= 1)
			break;
		base += half * le;
		n -= half;
	}
	*cls = iv->cls[base & SL_IVL_MASK];
	return 0;
}

/*
 * Classifies p against generation slot (whose info is gi). Returns the index of the
 * deciding rule and points *rule at it, or -1 when no rule decided (no match, or a
 * table missing an entry the agent always writes, which only a bug could cause). Counts
 * every rule it visits, and remembers the verdict in the verdict cache slot vc (see
 * lib/vcache.h) unless the tables were incomplete.
 */
static __always_inline __s32 sl_classify(const struct sl_pkt *p, __u32 slot, const struct sl_gen_info *gi,
					 __u32 bytes, __u32 vc, struct sl_rule **rule)
{
	struct sl_match_ctx m = { .bytes = bytes, .match = -1, .vc = sl_vc_start(vc) };
	__u32 cls[SL_FIELDS];
	struct sl_port_table *pt;
	struct sl_l4_table *lt;
	void *bitmaps;
	int err;

	if (p->family == 4) {
		__u32 s4, d4;

		__builtin_memcpy(&s4, p->src, 4);
		__builtin_memcpy(&d4, p->dst, 4);
		err = sl_addr_class4(slot * 2, bpf_ntohl(s4), &cls[0]);
		err |= sl_addr_class4(slot * 2 + 1, bpf_ntohl(d4), &cls[1]);
	} else {
		__u64 s6[2], d6[2];

		__builtin_memcpy(s6, p->src, 16);
		__builtin_memcpy(d6, p->dst, 16);
		err = sl_addr_class6(slot * 2, bpf_be64_to_cpu(s6[0]), bpf_be64_to_cpu(s6[1]), &cls[0]);
		err |= sl_addr_class6(slot * 2 + 1, bpf_be64_to_cpu(d6[0]), bpf_be64_to_cpu(d6[1]), &cls[1]);
	}
	if (err || !m.vc)
		return -1;

	pt = bpf_map_lookup_elem(&sl_ports, &slot);
	lt = bpf_map_lookup_elem(&sl_l4, &slot);
	bitmaps = bpf_map_lookup_elem(&sl_bitmaps, &slot);
	m.rules = bpf_map_lookup_elem(&sl_rules, &slot);
	if (!pt || !lt || !bitmaps || !m.rules)
		return -1;
	cls[2] = pt->port[p->sport].sport;
	cls[3] = pt->port[p->dport].dport;
	cls[4] = lt->cls[((__u32)p->proto << 8) | p->tcp_flags];
#pragma unroll
	for (int i = 0; i < SL_FIELDS; i++) {
		m.bm[i] = sl_bitmap_of(bitmaps, cls[i]);
		if (!m.bm[i])
			return -1;
	}
	__u64 any = 0;
#pragma unroll
	for (int j = 0; j < SL_SUMMARY_WORDS; j++) {
		m.cand[j] = m.bm[0]->summary[j] & m.bm[1]->summary[j] & m.bm[2]->summary[j] & m.bm[3]->summary[j] &
			    m.bm[4]->summary[j];
		any |= m.cand[j];
	}
	/* At most one step per word and one per rule. */
	if (any)
		bpf_loop(gi->n_words + gi->n_rules, sl_match_step, &m, 0);
	sl_vc_finish(m.vc, p, vc, gi->generation, m.match);
	if (m.match < 0)
		return -1;
	*rule = &m.rules->rule[m.match & (SL_MAX_RULES - 1)];
	return m.match;
}

#endif
