// SPDX-License-Identifier: Apache-2.0
/*
 * compile.c — policy -> generation tables (see compile.h and bpf/lib/classify.h).
 *
 * Rules get bit positions in priority order (priority, then position in the policy).
 * For every packet field the value space is cut into classes whose members are allowed
 * by exactly the same rules; each class's bitmap is interned, so fields and classes
 * with equal bitmaps share one entry:
 *   - addresses: every distinct CIDR of a field gets the bitmap of the rules that list
 *     it or any shorter prefix containing it, plus the rules without that field (0/0 is
 *     always present); the CIDRs then cut the address space into disjoint intervals,
 *     each with the class of the longest prefix containing it;
 *   - ports: the boundaries of all ranges cut 0..65535 into intervals, swept once;
 *   - protocol and TCP flags: one class per (protocol, flags) key.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

#define MAX_CLASSES (1u << 20)

struct builder {
	struct compile_gen *g;
	uint32_t cap_classes;
	/* open-addressing index over g->bitmaps for interning */
	uint32_t *index;
	uint32_t index_size; /* power of two */
	uint64_t *class_hash; /* [cap_classes] hash of each interned bitmap */
	uint64_t *zkey;       /* [n_rules] random key per rule bit: a bitmap's hash is the XOR of
			       * its set bits' keys, so a one-bit change updates it in O(1) */
	uint64_t *scratch;   /* one bitmap */
	uint64_t scratch_hash;
	uint64_t *wild;      /* rules that do not constrain the field being built */
	uint64_t wild_hash;
};

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* Hash of a whole bitmap, for the few places that build one from scratch. */
static uint64_t hash_bitmap(const struct builder *b, const uint64_t *bm)
{
	uint64_t h = 0;

	for (uint32_t w = 0; w < b->g->n_words; w++) {
		for (uint64_t x = bm[w]; x; x &= x - 1)
			h ^= b->zkey[w * 64 + (uint32_t)__builtin_ctzll(x)];
	}
	return h;
}

static int index_grow(struct builder *b)
{
	uint32_t size = b->index_size ? b->index_size * 2 : 1024;
	uint32_t *idx = malloc(sizeof(*idx) * size);

	if (!idx)
		return -ENOMEM;
	memset(idx, 0xff, sizeof(*idx) * size);
	for (uint32_t c = 0; c < b->g->n_classes; c++) {
		uint32_t i = (uint32_t)b->class_hash[c] & (size - 1);

		while (idx[i] != UINT32_MAX)
			i = (i + 1) & (size - 1);
		idx[i] = c;
	}
	free(b->index);
	b->index = idx;
	b->index_size = size;
	return 0;
}

/* Returns the class id of bitmap bm (first n_words words) whose hash is h, adding it if
 * new; -errno. */
static int64_t intern(struct builder *b, const uint64_t *bm, uint64_t h)
{
	struct compile_gen *g = b->g;
	uint32_t nw = g->n_words;
	uint32_t i;

	if (g->n_classes * 2 >= b->index_size && index_grow(b))
		return -ENOMEM;
	for (i = (uint32_t)h & (b->index_size - 1); b->index[i] != UINT32_MAX; i = (i + 1) & (b->index_size - 1)) {
		uint32_t c = b->index[i];

		if (b->class_hash[c] == h && memcmp(compile__bitmap(g, c), bm, nw * sizeof(uint64_t)) == 0)
			return c;
	}
	if (g->n_classes >= MAX_CLASSES)
		return -E2BIG;
	if (g->n_classes == b->cap_classes) {
		uint32_t cap = b->cap_classes ? b->cap_classes * 2 : 64;
		uint64_t *bms = realloc(g->bitmaps, (size_t)cap * nw * sizeof(*bms));
		uint64_t *sums, *hs;

		if (!bms)
			return -ENOMEM;
		g->bitmaps = bms;
		sums = realloc(g->summaries, (size_t)cap * SL_SUMMARY_WORDS * sizeof(*sums));
		if (!sums)
			return -ENOMEM;
		g->summaries = sums;
		hs = realloc(b->class_hash, (size_t)cap * sizeof(*hs));
		if (!hs)
			return -ENOMEM;
		b->class_hash = hs;
		b->cap_classes = cap;
	}
	uint64_t *sum = g->summaries + (size_t)g->n_classes * SL_SUMMARY_WORDS;

	memcpy(g->bitmaps + (size_t)g->n_classes * nw, bm, nw * sizeof(uint64_t));
	memset(sum, 0, SL_SUMMARY_WORDS * sizeof(*sum));
	for (uint32_t w = 0; w < nw; w++) {
		if (bm[w])
			sum[w / 64] |= 1ULL << (w % 64);
	}
	b->class_hash[g->n_classes] = h;
	b->index[i] = g->n_classes;
	return g->n_classes++;
}

/* Sets or clears a rule bit of the scratch bitmap, keeping its hash current. */
static inline void scratch_set(struct builder *b, uint32_t bit)
{
	uint64_t m = 1ULL << (bit % 64);

	if (!(b->scratch[bit / 64] & m)) {
		b->scratch[bit / 64] |= m;
		b->scratch_hash ^= b->zkey[bit];
	}
}

static inline void scratch_clear(struct builder *b, uint32_t bit)
{
	uint64_t m = 1ULL << (bit % 64);

	if (b->scratch[bit / 64] & m) {
		b->scratch[bit / 64] &= ~m;
		b->scratch_hash ^= b->zkey[bit];
	}
}

static inline void bit_set(uint64_t *bm, uint32_t i)
{
	bm[i / 64] |= 1ULL << (i % 64);
}

/* ---- rule order ------------------------------------------------------------------- */

static int cmp_order(const void *a, const void *b, void *arg)
{
	const Sluice__V1__Policy *p = arg;
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	uint32_t pa = p->rules[ia]->priority, pb = p->rules[ib]->priority;

	if (pa != pb)
		return pa < pb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static const Sluice__V1__Match empty_match = SLUICE__V1__MATCH__INIT;

static const Sluice__V1__Match *match_of(const struct compile_gen *g, const Sluice__V1__Policy *p, uint32_t bit)
{
	const Sluice__V1__Match *m = p->rules[g->order[bit]]->match;

	return m ? m : &empty_match;
}

/* ---- prefixes --------------------------------------------------------------------- */

struct pfx {
	uint8_t addr[16];
	uint32_t len;
	uint32_t rule; /* bit position; UINT32_MAX for the 0/0 root */
};

static int cmp_pfx(const void *a, const void *b, void *arg)
{
	const struct pfx *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, *(const size_t *)arg);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

_Static_assert(SL_MAX_RULES < 0xffffff, "rule bit positions fit the 24 bits sort_pfx4 gives them");

/*
 * The order of cmp_pfx for IPv4 prefixes, by radix sort of one 64-bit key per prefix:
 * address, then length, then rule (the root's UINT32_MAX last). 0, -ERANGE when a
 * length does not fit its 8 bits (v untouched), or -ENOMEM.
 */
static int sort_pfx4(struct pfx *v, size_t n)
{
	uint64_t *key = malloc(n * sizeof(*key)), *tmp = malloc(n * sizeof(*tmp));
	uint32_t *count = malloc((65536 + 1) * sizeof(*count));
	int ret = 0;

	if (!key || !tmp || !count) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].len > 0xff) {
			ret = -ERANGE;
			goto cleanup;
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t a = (uint32_t)v[i].addr[0] << 24 | (uint32_t)v[i].addr[1] << 16 | (uint32_t)v[i].addr[2] << 8 |
			     v[i].addr[3];
		uint64_t rule = v[i].rule == UINT32_MAX ? 0xffffff : v[i].rule;

		key[i] = (uint64_t)a << 32 | (uint64_t)(v[i].len & 0xff) << 24 | rule;
	}
	for (unsigned shift = 0; shift < 64; shift += 16) {
		memset(count, 0, (65536 + 1) * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[((key[i] >> shift) & 0xffff) + 1]++;
		for (uint32_t d = 1; d <= 65536; d++)
			count[d] += count[d - 1];
		for (size_t i = 0; i < n; i++)
			tmp[count[(key[i] >> shift) & 0xffff]++] = key[i];
		memcpy(key, tmp, n * sizeof(*key));
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t a = (uint32_t)(key[i] >> 32), rule = (uint32_t)(key[i] & 0xffffff);

		memset(&v[i], 0, sizeof(v[i]));
		v[i].addr[0] = (uint8_t)(a >> 24);
		v[i].addr[1] = (uint8_t)(a >> 16);
		v[i].addr[2] = (uint8_t)(a >> 8);
		v[i].addr[3] = (uint8_t)a;
		v[i].len = (uint32_t)(key[i] >> 24) & 0xff;
		v[i].rule = rule == 0xffffff ? UINT32_MAX : rule;
	}
cleanup:
	free(key);
	free(tmp);
	free(count);
	return ret;
}

static bool pfx_contains(const struct pfx *outer, const struct pfx *inner)
{
	uint32_t full = outer->len / 8, rest = outer->len % 8;

	if (outer->len > inner->len)
		return false;
	if (memcmp(outer->addr, inner->addr, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((outer->addr[full] & mask) != (inner->addr[full] & mask))
			return false;
	}
	return true;
}

struct pfx_cls {
	uint8_t addr[16];
	uint32_t len;
	uint32_t cls;
};

typedef unsigned __int128 u128;

static u128 addr_value(const uint8_t *addr, size_t alen)
{
	u128 v = 0;

	for (size_t i = 0; i < alen; i++)
		v = v << 8 | addr[i];
	return v;
}

struct ivl_list {
	u128 *start;
	uint32_t *cls;
	size_t n;
};

/* Appends an interval start; a start at the same position replaces the last one, and a
 * class equal to the previous interval's extends that interval instead. */
static void ivl_emit(struct ivl_list *o, u128 pos, uint32_t cls)
{
	if (o->n && o->start[o->n - 1] == pos)
		o->n--;
	if (o->n && o->cls[o->n - 1] == cls)
		return;
	o->start[o->n] = pos;
	o->cls[o->n] = cls;
	o->n++;
}

/*
 * Cuts the address space into intervals from prefixes in preorder (root 0/0 first):
 * each prefix starts an interval of its class, and where it ends its parent's class
 * resumes. Fills o (room for 2 * n + 1 entries).
 */
static void prefixes_to_intervals(const struct pfx_cls *v, size_t n, size_t alen, struct ivl_list *o)
{
	unsigned bits = (unsigned)alen * 8;
	u128 max = bits == 128 ? ~(u128)0 : (((u128)1 << bits) - 1);
	struct {
		u128 end;
		uint32_t cls;
	} stack[130];
	int depth = 0;

	o->n = 0;
	for (size_t i = 0; i < n; i++) {
		u128 start = addr_value(v[i].addr, alen);
		unsigned host = bits - v[i].len;
		u128 end = host == 128 ? max : start + (((u128)1 << host) - 1);

		while (depth > 0 && start > stack[depth - 1].end) {
			u128 e = stack[--depth].end;

			if (depth > 0 && e < max)
				ivl_emit(o, e + 1, stack[depth - 1].cls);
		}
		ivl_emit(o, start, v[i].cls);
		stack[depth].end = end;
		stack[depth].cls = v[i].cls;
		depth++;
	}
	while (depth > 1) {
		u128 e = stack[--depth].end;

		if (e < max)
			ivl_emit(o, e + 1, stack[depth - 1].cls);
	}
}

static int write_ivl(const struct pfx_cls *v, size_t n, size_t alen, void *out)
{
	struct ivl_list o = { 0 };
	int ret = 0;

	o.start = malloc((2 * n + 1) * sizeof(*o.start));
	o.cls = malloc((2 * n + 1) * sizeof(*o.cls));
	if (!o.start || !o.cls) {
		ret = -ENOMEM;
		goto cleanup;
	}
	prefixes_to_intervals(v, n, alen, &o);
	if (o.n > SL_MAX_IVL) {
		ret = -E2BIG;
		goto cleanup;
	}
	if (alen == 4) {
		struct sl_ivl4 *iv = out;
		size_t k = 0;

		iv->n = (uint32_t)o.n;
		for (size_t i = 0; i < o.n; i++) {
			iv->start[i] = (uint32_t)o.start[i];
			iv->cls[i] = o.cls[i];
		}
		/* top[x]: the interval holding x << 16 (the last start <= it). */
		for (uint64_t x = 0; x < SL_IVL_TOP; x++) {
			while (k + 1 < o.n && o.start[k + 1] <= (u128)(x << 16))
				k++;
			iv->top[x] = (uint32_t)k;
		}
	} else {
		struct sl_ivl6 *iv = out;

		iv->n = (uint32_t)o.n;
		for (size_t i = 0; i < o.n; i++) {
			iv->start[i][0] = (uint64_t)(o.start[i] >> 64);
			iv->start[i][1] = (uint64_t)o.start[i];
			iv->cls[i] = o.cls[i];
		}
	}
cleanup:
	free(o.start);
	free(o.cls);
	return ret;
}

/*
 * Builds one address table: field 0 = src, 1 = dst; alen 4 or 16. out is a zeroed
 * struct sl_ivl4 (alen 4) or struct sl_ivl6.
 */
static int build_prefixes(struct builder *b, const Sluice__V1__Policy *p, int field, size_t alen, void *out,
			  char *err, size_t errlen)
{
	struct compile_gen *g = b->g;
	uint32_t nw = g->n_words;
	struct pfx *v = NULL;
	size_t n = 0, cap = 64, n_uniq = 0;
	struct {
		struct pfx *p;
		uint32_t cls;
	} stack[130];
	int depth = 0, ret = 0;
	struct pfx_cls *entries = NULL;

	memset(b->wild, 0, SL_MAX_WORDS * sizeof(uint64_t));
	v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[n++] = (struct pfx){ .len = 0, .rule = UINT32_MAX };
	for (uint32_t bit = 0; bit < g->n_rules; bit++) {
		const Sluice__V1__Match *m = match_of(g, p, bit);
		size_t nc = field == 0 ? m->n_src : m->n_dst;
		Sluice__V1__Cidr **cs = field == 0 ? m->src : m->dst;

		if (nc == 0) {
			bit_set(b->wild, bit);
			continue;
		}
		for (size_t i = 0; i < nc; i++) {
			if (cs[i]->addr.len != 4 && cs[i]->addr.len != 16) {
				snprintf(err, errlen, "rule '%s': %s: address of %zu bytes", p->rules[g->order[bit]]->name,
					 field == 0 ? "src" : "dst", cs[i]->addr.len);
				ret = -EINVAL;
				goto cleanup;
			}
			if (cs[i]->addr.len != alen)
				continue;
			if (n == cap) {
				struct pfx *nv = realloc(v, 2 * cap * sizeof(*v));

				if (!nv) {
					ret = -ENOMEM;
					goto cleanup;
				}
				v = nv;
				cap *= 2;
			}
			v[n] = (struct pfx){ .len = cs[i]->prefix_len, .rule = bit };
			memcpy(v[n].addr, cs[i]->addr.data, alen);
			n++;
		}
	}
	if (alen == 4)
		ret = sort_pfx4(v, n);
	if (alen != 4 || ret == -ERANGE) { /* IPv6, or a length the validator should have refused */
		qsort_r(v, n, sizeof(*v), cmp_pfx, &alen);
		ret = 0;
	}
	if (ret)
		goto cleanup;

	entries = malloc(n * sizeof(*entries));
	if (!entries) {
		ret = -ENOMEM;
		goto cleanup;
	}
	/* Preorder walk: the stack holds the chain of prefixes containing the current one. */
	for (size_t i = 0; i < n;) {
		struct pfx *cur = &v[i];
		size_t j = i;
		int64_t cls;

		while (depth > 0 && !pfx_contains(stack[depth - 1].p, cur))
			depth--;
		if (depth > 0) {
			memcpy(b->scratch, compile__bitmap(g, stack[depth - 1].cls), nw * sizeof(uint64_t));
			b->scratch_hash = b->class_hash[stack[depth - 1].cls];
		} else {
			memcpy(b->scratch, b->wild, nw * sizeof(uint64_t));
			b->scratch_hash = hash_bitmap(b, b->wild);
		}
		for (; j < n && v[j].len == cur->len && memcmp(v[j].addr, cur->addr, alen) == 0; j++) {
			if (v[j].rule != UINT32_MAX)
				scratch_set(b, v[j].rule);
		}
		cls = intern(b, b->scratch, b->scratch_hash);
		if (cls < 0) {
			ret = (int)cls;
			goto cleanup;
		}
		if (depth >= (int)(sizeof(stack) / sizeof(stack[0]))) {
			ret = -EINVAL;
			goto cleanup;
		}
		stack[depth].p = cur;
		stack[depth].cls = (uint32_t)cls;
		depth++;
		memcpy(entries[n_uniq].addr, cur->addr, 16);
		entries[n_uniq].len = cur->len;
		entries[n_uniq].cls = (uint32_t)cls;
		n_uniq++;
		i = j;
	}
	if (n_uniq > SL_MAX_PREFIXES) {
		snprintf(err, errlen, "policy has %zu distinct %s IPv%d prefixes; the datapath holds %d", n_uniq,
			 field == 0 ? "source" : "destination", alen == 4 ? 4 : 6, SL_MAX_PREFIXES);
		ret = -E2BIG;
		goto cleanup;
	}
	ret = write_ivl(entries, n_uniq, alen, out);
cleanup:
	free(entries);
	free(v);
	return ret;
}

/* ---- ports ------------------------------------------------------------------------ */

struct port_event {
	uint32_t at;  /* port where the change applies */
	uint32_t bit;
	int delta;    /* +1 range starts, -1 range ended before `at` */
};

/*
 * Sorts events by position with one counting pass (positions are 0..SL_PORTS). The order
 * of events at one position does not matter: the sweep applies all of them before it
 * reads the bitmap. Replaces *ev; 0 or -ENOMEM.
 */
static int sort_events(struct port_event **ev, size_t n)
{
	uint32_t *start = calloc(SL_PORTS + 2, sizeof(*start));
	struct port_event *out = malloc(n * sizeof(*out));

	if (!start || !out) {
		free(start);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		start[(*ev)[i].at + 1]++;
	for (uint32_t at = 1; at < SL_PORTS + 2; at++)
		start[at] += start[at - 1];
	for (size_t i = 0; i < n; i++)
		out[start[(*ev)[i].at]++] = (*ev)[i];
	free(start);
	free(*ev);
	*ev = out;
	return 0;
}

/* Fills ports[].sport (field 0) or ports[].dport (field 1). */
static int build_ports(struct builder *b, const Sluice__V1__Policy *p, int field)
{
	struct compile_gen *g = b->g;
	uint32_t nw = g->n_words;
	struct port_event *ev = NULL;
	uint32_t *active = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	memset(b->wild, 0, SL_MAX_WORDS * sizeof(uint64_t));
	for (uint32_t bit = 0; bit < g->n_rules; bit++) {
		const Sluice__V1__Match *m = match_of(g, p, bit);
		size_t nr = field == 0 ? m->n_src_ports : m->n_dst_ports;
		Sluice__V1__PortRange **rs = field == 0 ? m->src_ports : m->dst_ports;

		if (nr == 0) {
			bit_set(b->wild, bit);
			continue;
		}
		if (n + 2 * nr > cap) {
			size_t ncap = (n + 2 * nr) * 2;
			struct port_event *nev = realloc(ev, ncap * sizeof(*ev));

			if (!nev) {
				ret = -ENOMEM;
				goto cleanup;
			}
			ev = nev;
			cap = ncap;
		}
		for (size_t i = 0; i < nr; i++) {
			uint32_t lo = rs[i]->lo, hi = rs[i]->hi ? rs[i]->hi : rs[i]->lo;

			if (lo > hi || hi > 65535) {
				ret = -EINVAL;
				goto cleanup;
			}
			ev[n++] = (struct port_event){ .at = lo, .bit = bit, .delta = 1 };
			ev[n++] = (struct port_event){ .at = hi + 1, .bit = bit, .delta = -1 };
		}
	}
	if (n) { /* ev is NULL when no rule has ports */
		ret = sort_events(&ev, n);
		if (ret)
			goto cleanup;
	}
	/* A rule may list overlapping ranges: count how many of its ranges are open. */
	active = calloc(g->n_rules ? g->n_rules : 1, sizeof(*active));
	if (!active) {
		ret = -ENOMEM;
		goto cleanup;
	}
	memcpy(b->scratch, b->wild, nw * sizeof(uint64_t));
	b->scratch_hash = hash_bitmap(b, b->wild);
	for (uint32_t port = 0, e = 0; port < SL_PORTS;) {
		uint32_t next;
		int64_t cls;

		for (; e < n && ev[e].at == port; e++) {
			uint32_t bit = ev[e].bit;

			active[bit] += ev[e].delta;
			if (active[bit])
				scratch_set(b, bit);
			else
				scratch_clear(b, bit); /* rules with ranges are never wildcards */
		}
		next = e < n ? ev[e].at : SL_PORTS;
		if (next > SL_PORTS)
			next = SL_PORTS;
		cls = intern(b, b->scratch, b->scratch_hash);
		if (cls < 0) {
			ret = (int)cls;
			goto cleanup;
		}
		for (; port < next; port++) {
			if (field == 0)
				g->ports[port].sport = (uint32_t)cls;
			else
				g->ports[port].dport = (uint32_t)cls;
		}
	}
cleanup:
	free(active);
	free(ev);
	return ret;
}

/* ---- protocol and TCP flags --------------------------------------------------------- */

static int build_l4(struct builder *b, const Sluice__V1__Policy *p)
{
	struct compile_gen *g = b->g;
	uint32_t nw = g->n_words;
	size_t words = SL_MAX_WORDS * sizeof(uint64_t);
	uint64_t *proto_bm = calloc(256, words), *flags_bm = calloc(256, words);
	int ret = 0;

	if (!proto_bm || !flags_bm) {
		ret = -ENOMEM;
		goto cleanup;
	}
	/* Rules without a protocol (or flag) condition go to every value in one pass below. */
	memset(b->wild, 0, SL_MAX_WORDS * sizeof(uint64_t));
	memset(b->scratch, 0, SL_MAX_WORDS * sizeof(uint64_t));
	for (uint32_t bit = 0; bit < g->n_rules; bit++) {
		const Sluice__V1__Match *m = match_of(g, p, bit);

		if (m->proto == 0)
			bit_set(b->wild, bit);
		else
			bit_set(proto_bm + (m->proto & 0xff) * SL_MAX_WORDS, bit);
		if (!m->tcp_flags_set && !m->tcp_flags_unset) {
			bit_set(b->scratch, bit);
			continue;
		}
		for (uint32_t f = 0; f < 256; f++) {
			if ((f & m->tcp_flags_set) == m->tcp_flags_set && (f & m->tcp_flags_unset) == 0)
				bit_set(flags_bm + f * SL_MAX_WORDS, bit);
		}
	}
	for (uint32_t v = 0; v < 256; v++) {
		for (uint32_t w = 0; w < nw; w++) {
			proto_bm[v * SL_MAX_WORDS + w] |= b->wild[w];
			flags_bm[v * SL_MAX_WORDS + w] |= b->scratch[w];
		}
	}
	for (uint32_t proto = 0; proto < 256; proto++) {
		for (uint32_t f = 0; f < 256; f++) {
			/* Only TCP packets carry flags; the program looks others up with flags 0. */
			uint32_t fl = proto == 6 ? f : 0;
			int64_t cls;

			if (proto != 6 && f > 0) {
				g->l4[proto << 8 | f] = g->l4[proto << 8];
				continue;
			}
			for (uint32_t w = 0; w < nw; w++)
				b->scratch[w] = proto_bm[proto * SL_MAX_WORDS + w] & flags_bm[fl * SL_MAX_WORDS + w];
			cls = intern(b, b->scratch, hash_bitmap(b, b->scratch));
			if (cls < 0) {
				ret = (int)cls;
				goto cleanup;
			}
			g->l4[proto << 8 | f] = (uint32_t)cls;
		}
	}
cleanup:
	free(proto_bm);
	free(flags_bm);
	return ret;
}

/* ---- rules ------------------------------------------------------------------------ */

/* GCRA parameters (see struct sl_rule): cost per packet or byte, and the tolerance that
 * lets `burst` units through at once. burst 0 means one second's worth. */
static int compile_rate_limit(const Sluice__V1__Rule *r, struct sl_rule *out, char *err, size_t errlen)
{
	const Sluice__V1__RateLimit *rl = r->rate_limit;
	unsigned __int128 tau;
	uint64_t rate, burst;

	if (!rl || (!rl->pps == !rl->bps)) {
		snprintf(err, errlen, "rule '%s': rate_limit: needs exactly one of pps and bps", r->name);
		return -EINVAL;
	}
	rate = rl->pps ? rl->pps : rl->bps;
	burst = rl->burst ? rl->burst : rate;
	out->action = SL_ACT_RATE_LIMIT;
	out->rl_flags = (rl->per == SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE ? SL_RL_PER_SOURCE : 0) |
			(rl->bps ? SL_RL_BYTES : 0);
	out->rl_cost_q16 = (1000000000ULL << 16) / rate;
	if (out->rl_cost_q16 == 0)
		out->rl_cost_q16 = 1;
	/* A deep bucket at a slow rate passes 64 bits (bps: 1, burst: 300000 already does):
	 * saturate, which the datapath reads as "never over the burst", rather than wrap
	 * to a small tolerance that would drop nearly everything. */
	tau = ((unsigned __int128)(burst - (rl->bps ? 0 : 1)) * out->rl_cost_q16) >> 16;
	out->rl_tau_ns = tau > UINT64_MAX ? UINT64_MAX : (uint64_t)tau;
	return 0;
}

static int build_rules(struct compile_gen *g, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	for (uint32_t bit = 0; bit < g->n_rules; bit++) {
		const Sluice__V1__Rule *r = p->rules[g->order[bit]];
		struct sl_rule *out = &g->rules[bit];

		switch (r->action) {
		case SLUICE__V1__ACTION__ACTION_PASS:
			out->action = SL_ACT_PASS;
			break;
		case SLUICE__V1__ACTION__ACTION_DROP:
			out->action = SL_ACT_DROP;
			break;
		case SLUICE__V1__ACTION__ACTION_COUNT:
			out->action = SL_ACT_COUNT;
			break;
		case SLUICE__V1__ACTION__ACTION_RATE_LIMIT:
			if (compile_rate_limit(r, out, err, errlen))
				return -EINVAL;
			break;
		default:
			snprintf(err, errlen, "rule '%s': action: unknown action %d", r->name, (int)r->action);
			return -EINVAL;
		}
		if (r->sample && r->sample->one_in > 0) {
			out->sample_one_in = r->sample->one_in;
			out->snaplen = r->sample->snaplen && r->sample->snaplen < SL_MAX_SNAPLEN ? r->sample->snaplen
												   : SL_MAX_SNAPLEN;
		}
	}
	return 0;
}

int compile__policy(const Sluice__V1__Policy *p, uint32_t capacity, struct compile_gen **out, char *err,
		    size_t errlen)
{
	struct builder b = { 0 };
	struct compile_gen *g;
	int ret;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (capacity == 0 || capacity > SL_MAX_RULES)
		capacity = SL_MAX_RULES;
	if (p->n_rules > capacity) {
		snprintf(err, errlen, "policy has %zu rules; this agent's capacity is %u", p->n_rules, capacity);
		return -E2BIG;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	b.g = g;
	g->n_rules = (uint32_t)p->n_rules;
	g->n_words = (g->n_rules + 63) / 64;
	if (g->n_words == 0)
		g->n_words = 1; /* an empty policy still gets the all-zero class */
	g->rules = calloc(g->n_rules ? g->n_rules : 1, sizeof(*g->rules));
	g->order = calloc(g->n_rules ? g->n_rules : 1, sizeof(*g->order));
	g->ports = calloc(SL_PORTS, sizeof(*g->ports));
	g->l4 = calloc(SL_L4_KEYS, sizeof(*g->l4));
	g->src4 = calloc(1, sizeof(*g->src4));
	g->dst4 = calloc(1, sizeof(*g->dst4));
	g->src6 = calloc(1, sizeof(*g->src6));
	g->dst6 = calloc(1, sizeof(*g->dst6));
	b.scratch = calloc(SL_MAX_WORDS, sizeof(uint64_t));
	b.wild = calloc(SL_MAX_WORDS, sizeof(uint64_t));
	b.zkey = malloc(SL_MAX_RULES * sizeof(uint64_t));
	if (b.zkey) {
		for (uint32_t i = 0; i < SL_MAX_RULES; i++)
			b.zkey[i] = splitmix64(i);
	}
	if (!g->rules || !g->order || !g->ports || !g->l4 || !g->src4 || !g->dst4 || !g->src6 || !g->dst6 ||
	    !b.scratch || !b.wild || !b.zkey) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (uint32_t i = 0; i < g->n_rules; i++)
		g->order[i] = i;
	qsort_r(g->order, g->n_rules, sizeof(*g->order), cmp_order, (void *)p);

	ret = build_rules(g, p, err, errlen);
	if (ret)
		goto cleanup;
	ret = build_prefixes(&b, p, 0, 4, g->src4, err, errlen);
	if (!ret)
		ret = build_prefixes(&b, p, 1, 4, g->dst4, err, errlen);
	if (!ret)
		ret = build_prefixes(&b, p, 0, 16, g->src6, err, errlen);
	if (!ret)
		ret = build_prefixes(&b, p, 1, 16, g->dst6, err, errlen);
	if (!ret)
		ret = build_ports(&b, p, 0);
	if (!ret)
		ret = build_ports(&b, p, 1);
	if (!ret)
		ret = build_l4(&b, p);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory compiling %u rules", g->n_rules);
		else if (ret == -E2BIG && !err[0])
			snprintf(err, errlen, "policy needs more than %u rule classes", MAX_CLASSES);
		else if (!err[0])
			snprintf(err, errlen, "policy cannot be compiled: %s", strerror(-ret));
		goto cleanup;
	}
	*out = g;
	g = NULL;
cleanup:
	free(b.index);
	free(b.class_hash);
	free(b.zkey);
	free(b.scratch);
	free(b.wild);
	compile__free(g);
	return ret;
}

void compile__export_bitmap(const struct compile_gen *g, uint32_t cls, struct sl_bitmap *out)
{
	memcpy(out->summary, g->summaries + (size_t)cls * SL_SUMMARY_WORDS, sizeof(out->summary));
	memcpy(out->w, compile__bitmap(g, cls), g->n_words * sizeof(uint64_t));
}

void compile__free(struct compile_gen *g)
{
	if (!g)
		return;
	free(g->rules);
	free(g->order);
	free(g->src4);
	free(g->dst4);
	free(g->src6);
	free(g->dst6);
	free(g->ports);
	free(g->l4);
	free(g->bitmaps);
	free(g->summaries);
	free(g);
}
