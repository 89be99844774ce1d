// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_compile.c — the agent's compilers without the kernel: compile__policy()
 * (agent/compile.c: rules into address interval tables, port and protocol classes and
 * rule bitmaps) and maglev__build() (agent/maglev.c: a route's backend table).
 *
 * The input is not text: its bytes pick the fields of a valid policy (up to 300 rules of
 * IPv4 or IPv6 CIDRs from a small pool so they overlap, protocols, port ranges, TCP
 * flags, priorities with many ties, every action; up to 3 routes of up to 8 weighted
 * backends), then the packets to classify. Checks:
 *  - the validator accepts what was built, and a valid policy compiles;
 *  - the tables are well-formed (intervals sorted, the IPv4 direct index agrees with
 *    them, classes in range, summaries match their bitmaps, rules in priority order);
 *  - for each packet, looking it up in the tables the way the XDP program does
 *    (bpf/lib/classify.h) decides on the same rule and counts the same count rules as
 *    the reference classifier (tests/lib/refclass.h);
 *  - a rate limit's burst tolerance is what its parameters say (or saturated), never wrapped;
 *  - each Maglev table names only backends with weight, in proportion to weight.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "compile.h"
#include "maglev.h"
#include "policy_build.h"
#include "refclass.h"
#include "sluice_abi.h"

#define MAX_RULES 300
#define MAX_PACKETS 16

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct in *in)
{
	return (uint16_t)(u8(in) << 8 | u8(in));
}

static uint64_t u64(struct in *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | u8(in);
	return v;
}

/* An address of family fam (4 or 6) near a few others, so prefixes nest and overlap. */
static void addr_of(struct in *in, int fam, uint8_t *a)
{
	static const uint8_t first[] = { 10, 192, 0, 255 };
	size_t len = fam == 4 ? 4 : 16;
	uint8_t pick = u8(in);

	memset(a, 0, 16);
	a[0] = first[pick & 3];
	if (fam == 6 && (pick & 4))
		a[1] = 0x01; /* 0a01:: / c001:: ... */
	for (size_t i = 1; i < len && (pick >> 3) > i; i++)
		a[i] = u8(in) & ((pick & 0x80) ? 0xff : 0x03);
	if (pick == 0xff)
		for (size_t i = 0; i < len; i++)
			a[i] = u8(in);
}

static Sluice__V1__Cidr *cidr(struct in *in, int fam)
{
	Sluice__V1__Cidr *c = calloc(1, sizeof(*c));
	size_t len = fam == 4 ? 4 : 16;
	uint8_t a[16];

	if (!c)
		abort();
	sluice__v1__cidr__init(c);
	addr_of(in, fam, a);
	c->prefix_len = u8(in) % (len * 8 + 1);
	policy__mask_addr(a, len, c->prefix_len);
	c->addr.len = len;
	c->addr.data = malloc(len);
	if (!c->addr.data)
		abort();
	memcpy(c->addr.data, a, len);
	return c;
}

static Sluice__V1__PortRange *port_range(struct in *in)
{
	static const uint16_t near[] = { 1, 22, 53, 80, 443, 1024, 8080, 65535 };
	Sluice__V1__PortRange *r = calloc(1, sizeof(*r));
	uint8_t pick = u8(in);

	if (!r)
		abort();
	sluice__v1__port_range__init(r);
	r->lo = pick & 8 ? u16(in) : near[pick & 7];
	if (r->lo == 0)
		r->lo = 1;
	r->hi = r->lo + (pick >> 4) * (pick >> 4);
	if (r->hi > 65535)
		r->hi = 65535;
	return r;
}

static void rule_of(struct in *in, Sluice__V1__Policy *p, size_t i)
{
	static const uint32_t protos[] = { 0, 6, 17, 6, 17, 1, 58, 47 };
	char name[16];
	uint8_t b = u8(in), how = u8(in);
	int fam = (b & 3) == 1 ? 6 : 4; /* 0, 2: IPv4; 1: IPv6; 3: either (no CIDR) */
	Sluice__V1__Rule *r;
	Sluice__V1__Match *m;

	snprintf(name, sizeof(name), "r%zu", i);
	r = pb_rule(p, name, (b >> 2) % 6 * 10, (Sluice__V1__Action)(how & 3));
	m = r->match;
	for (int k = (b & 3) == 3 ? 3 : (how >> 2) % 3; k < 2; k++)
		PB_APPEND(m->src, m->n_src, cidr(in, fam));
	for (int k = (b & 3) == 3 ? 3 : (how >> 4) % 3; k < 2; k++)
		PB_APPEND(m->dst, m->n_dst, cidr(in, fam));
	m->proto = protos[(how >> 6) | ((b >> 5) & 4)];
	if ((m->proto == 1 && fam == 6) || (m->proto == 58 && fam == 4))
		m->proto = 0;
	if (m->proto == 6 || m->proto == 17) {
		uint8_t np = u8(in);

		for (int k = 0; k < (np & 3) && k < 2; k++)
			PB_APPEND(m->src_ports, m->n_src_ports, port_range(in));
		for (int k = 0; k < ((np >> 2) & 3) && k < 2; k++)
			PB_APPEND(m->dst_ports, m->n_dst_ports, port_range(in));
		if (m->proto == 6 && (np & 0x10)) {
			m->tcp_flags_set = u8(in) & 0x3f;
			m->tcp_flags_unset = u8(in) & 0x3f & ~m->tcp_flags_set;
		}
	}
	if (r->action == SLUICE__V1__ACTION__ACTION_RATE_LIMIT) {
		uint8_t f = u8(in);
		Sluice__V1__RateLimit *rl = calloc(1, sizeof(*rl));

		if (!rl)
			abort();
		sluice__v1__rate_limit__init(rl);
		/* up to INT64_MAX, what a policy file can hold */
		if (f & 1)
			rl->bps = f & 2 ? (u64(in) | 1) & INT64_MAX : (uint64_t)u16(in) + 1;
		else
			rl->pps = f & 2 ? (u64(in) | 1) & INT64_MAX : (uint64_t)u16(in) + 1;
		rl->burst = f & 4 ? u64(in) & INT64_MAX : f & 8 ? u16(in) : 0;
		rl->per = f & 16 ? SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE : SLUICE__V1__RATE_LIMIT_PER__PER_RULE;
		r->rate_limit = rl;
	}
}

static void route_of(struct in *in, Sluice__V1__Policy *p, size_t i)
{
	Sluice__V1__Route *rt = calloc(1, sizeof(*rt));
	Sluice__V1__Frontend *f = calloc(1, sizeof(*f));
	uint8_t b = u8(in), n = 1 + (b & 7);
	size_t len = b & 8 ? 16 : 4;
	uint32_t sum = 0;
	char name[16];

	if (!rt || !f)
		abort();
	sluice__v1__route__init(rt);
	sluice__v1__frontend__init(f);
	snprintf(name, sizeof(name), "rt%zu", i);
	rt->name = strdup(name);
	f->proto = b & 16 ? 17 : 6;
	f->port = 80 + (uint32_t)i;
	f->vip.len = len;
	f->vip.data = calloc(1, len);
	if (!rt->name || !f->vip.data)
		abort();
	f->vip.data[0] = 10;
	f->vip.data[len - 1] = (uint8_t)(i + 1);
	rt->frontend = f;
	for (uint8_t k = 0; k < n; k++) {
		Sluice__V1__Backend *be = calloc(1, sizeof(*be));
		uint8_t w = u8(in);

		if (!be)
			abort();
		sluice__v1__backend__init(be);
		be->addr.len = len;
		be->addr.data = calloc(1, len);
		if (!be->addr.data)
			abort();
		be->addr.data[0] = 10;
		be->addr.data[1] = 2;
		be->addr.data[len - 1] = (uint8_t)(k | (w & 0x80 ? u8(in) & 0xf8 : 0)); /* each once */
		be->port = 8080;
		be->weight = w & 0x40 ? u16(in) * (uint32_t)u16(in) : (w & 0x3f) % 5;
		sum += be->weight;
		PB_APPEND(rt->backends, rt->n_backends, be);
	}
	if (sum == 0)
		rt->backends[0]->weight = 1;
	PB_APPEND(p->routes, p->n_routes, rt);
}

/* ---- the tables, looked up as bpf/lib/classify.h does --------------------------------- */

static uint32_t class4(const struct sl_ivl4 *iv, uint32_t a)
{
	uint32_t lo = 0, hi = iv->n - 1, x = a >> 16;

	while (lo < hi) { /* last start <= a */
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (iv->start[mid] <= a)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (lo < iv->top[x] || lo > iv->top[x + 1]) {
		fprintf(stderr, "IPv4 index: %08x is in interval %u, outside top[%u..%u] = %u..%u\n", a, lo, x, x + 1,
			iv->top[x], iv->top[x + 1]);
		abort();
	}
	return iv->cls[lo];
}

static bool le6(const __u64 s[2], uint64_t h, uint64_t l)
{
	return s[0] < h || (s[0] == h && s[1] <= l);
}

static uint32_t class6(const struct sl_ivl6 *iv, const uint8_t *addr)
{
	uint64_t h = 0, l = 0;
	uint32_t lo = 0, hi = iv->n - 1;

	for (int i = 0; i < 8; i++) {
		h = h << 8 | addr[i];
		l = l << 8 | addr[8 + i];
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (le6(iv->start[mid], h, l))
			lo = mid;
		else
			hi = mid - 1;
	}
	return iv->cls[lo];
}

static void check_tables(const struct compile_gen *g, const Sluice__V1__Policy *p)
{
	const struct sl_ivl4 *t4[2] = { g->src4, g->dst4 };
	const struct sl_ivl6 *t6[2] = { g->src6, g->dst6 };

	if (g->n_rules != p->n_rules || g->n_words != (p->n_rules ? (p->n_rules + 63) / 64 : 1))
		abort();
	for (uint32_t bit = 0; bit < g->n_rules; bit++) {
		const Sluice__V1__Rule *r = p->rules[g->order[bit]];

		if (g->order[bit] >= p->n_rules)
			abort();
		if (bit) { /* priority, then position */
			const Sluice__V1__Rule *q = p->rules[g->order[bit - 1]];

			if (q->priority > r->priority || (q->priority == r->priority && g->order[bit - 1] > g->order[bit])) {
				fprintf(stderr, "rule order: %s before %s\n", q->name, r->name);
				abort();
			}
		}
		if (g->rules[bit].action != (uint32_t)r->action)
			abort(); /* sl_action and Action share their numbers */
	}
	for (int f = 0; f < 2; f++) {
		if (t4[f]->n < 1 || t4[f]->n > SL_MAX_IVL || t4[f]->start[0] != 0 || t6[f]->n < 1 ||
		    t6[f]->n > SL_MAX_IVL || t6[f]->start[0][0] || t6[f]->start[0][1])
			abort();
		for (uint32_t k = 0; k < t4[f]->n; k++) {
			if ((k && t4[f]->start[k] <= t4[f]->start[k - 1]) || t4[f]->cls[k] >= g->n_classes) {
				fprintf(stderr, "IPv4 table %d: interval %u is out of order or of class\n", f, k);
				abort();
			}
		}
		for (uint32_t k = 0; k < t6[f]->n; k++) {
			if ((k && le6(t6[f]->start[k], t6[f]->start[k - 1][0], t6[f]->start[k - 1][1])) ||
			    t6[f]->cls[k] >= g->n_classes) {
				fprintf(stderr, "IPv6 table %d: interval %u is out of order or of class\n", f, k);
				abort();
			}
		}
	}
	for (uint32_t c = 0; c < g->n_classes; c++) {
		const uint64_t *bm = compile__bitmap(g, c), *sum = g->summaries + (size_t)c * SL_SUMMARY_WORDS;

		for (uint32_t w = 0; w < SL_MAX_WORDS; w++) {
			bool set = (sum[w / 64] >> (w % 64)) & 1;

			if (set != (w < g->n_words && bm[w] != 0)) {
				fprintf(stderr, "class %u: summary bit %u says %d\n", c, w, set);
				abort();
			}
		}
		if (g->n_rules % 64 && bm[g->n_words - 1] >> (g->n_rules % 64)) {
			fprintf(stderr, "class %u: bits beyond the last rule\n", c);
			abort();
		}
	}
	for (uint32_t k = 0; k < SL_PORTS; k++)
		if (g->ports[k].sport >= g->n_classes || g->ports[k].dport >= g->n_classes)
			abort();
	for (uint32_t k = 0; k < SL_L4_KEYS; k++)
		if (g->l4[k] >= g->n_classes)
			abort();
}

/* The deciding rule's policy index (-1: none), counted[] set for count rules before it. */
static int table_classify(const struct compile_gen *g, const struct ref_pkt *k, bool *counted)
{
	uint32_t cls[5];
	uint8_t flags = k->has_ports && k->proto == 6 ? k->tcp_flags : 0;
	uint16_t sport = k->has_ports ? k->sport : 0, dport = k->has_ports ? k->dport : 0;

	if (k->family == 4) {
		cls[0] = class4(g->src4, (uint32_t)k->src[0] << 24 | k->src[1] << 16 | k->src[2] << 8 | k->src[3]);
		cls[1] = class4(g->dst4, (uint32_t)k->dst[0] << 24 | k->dst[1] << 16 | k->dst[2] << 8 | k->dst[3]);
	} else {
		cls[0] = class6(g->src6, k->src);
		cls[1] = class6(g->dst6, k->dst);
	}
	cls[2] = g->ports[sport].sport;
	cls[3] = g->ports[dport].dport;
	cls[4] = g->l4[(uint32_t)k->proto << 8 | flags];
	for (uint32_t w = 0; w < g->n_words; w++) {
		uint64_t x = ~0ULL;

		for (int f = 0; f < 5; f++)
			x &= compile__bitmap(g, cls[f])[w];
		for (; x; x &= x - 1) {
			uint32_t bit = w * 64 + (uint32_t)__builtin_ctzll(x);

			if (g->rules[bit].action != SL_ACT_COUNT)
				return (int)g->order[bit];
			counted[g->order[bit]] = true;
		}
	}
	return -1;
}

/* A packet: often inside a rule's match (so rules do match), sometimes anywhere. */
static void packet_of(struct in *in, const Sluice__V1__Policy *p, struct ref_pkt *k)
{
	static const uint8_t protos[] = { 6, 17, 1, 58, 6, 17, 47, 0 };
	uint8_t b = u8(in);
	const Sluice__V1__Match *m = p->n_rules ? p->rules[u16(in) % p->n_rules]->match : NULL;

	memset(k, 0, sizeof(*k));
	k->family = b & 1 ? 6 : 4;
	if (m && (m->n_src || m->n_dst))
		k->family = (m->n_src ? m->src[0] : m->dst[0])->addr.len == 16 ? 6 : 4;
	addr_of(in, k->family, k->src);
	addr_of(in, k->family, k->dst);
	k->proto = protos[(b >> 1) & 7];
	if (m && m->proto && (b & 16))
		k->proto = (uint8_t)m->proto;
	k->has_ports = (k->proto == 6 || k->proto == 17) && !(b & 32);
	k->sport = u16(in);
	k->dport = u16(in);
	k->tcp_flags = u8(in);
	if (!m || (b & 64))
		return;
	/* Inside the rule's first CIDRs and port ranges, with the host bits from the input. */
	for (int f = 0; f < 2; f++) {
		const Sluice__V1__Cidr *c = f ? (m->n_dst ? m->dst[0] : NULL) : (m->n_src ? m->src[0] : NULL);
		uint8_t *a = f ? k->dst : k->src;

		if (!c || c->addr.len != (k->family == 4 ? 4u : 16u))
			continue;
		for (uint32_t bit = 0; bit < c->prefix_len; bit++) {
			uint8_t mask = (uint8_t)(0x80 >> (bit % 8));

			a[bit / 8] = (uint8_t)((a[bit / 8] & ~mask) | (c->addr.data[bit / 8] & mask));
		}
	}
	if (m->n_src_ports)
		k->sport = (uint16_t)(m->src_ports[0]->lo + k->sport % (m->src_ports[0]->hi - m->src_ports[0]->lo + 1));
	if (m->n_dst_ports)
		k->dport = (uint16_t)(m->dst_ports[0]->lo + k->dport % (m->dst_ports[0]->hi - m->dst_ports[0]->lo + 1));
	if (b & 128)
		k->tcp_flags = (uint8_t)((k->tcp_flags | m->tcp_flags_set) & ~m->tcp_flags_unset);
}

static void check_rate_limits(const struct compile_gen *g, const Sluice__V1__Policy *p)
{
	for (uint32_t bit = 0; bit < g->n_rules; bit++) {
		const Sluice__V1__RateLimit *rl = p->rules[g->order[bit]]->rate_limit;
		uint64_t rate, burst;
		unsigned __int128 cost, tau;

		if (g->rules[bit].action != SL_ACT_RATE_LIMIT)
			continue;
		rate = rl->pps ? rl->pps : rl->bps;
		burst = rl->burst ? rl->burst : rate;
		cost = ((unsigned __int128)1000000000ULL << 16) / rate;
		if (cost == 0)
			cost = 1;
		tau = ((burst - (rl->bps ? 0 : 1)) * cost) >> 16;
		if (tau > UINT64_MAX)
			tau = UINT64_MAX;
		if (g->rules[bit].rl_cost_q16 != (uint64_t)cost || g->rules[bit].rl_tau_ns != (uint64_t)tau) {
			fprintf(stderr, "rule '%s': rate %llu burst %llu: cost %llu tau %llu, wanted tau %llu\n",
				p->rules[g->order[bit]]->name, (unsigned long long)rate, (unsigned long long)burst,
				(unsigned long long)g->rules[bit].rl_cost_q16,
				(unsigned long long)g->rules[bit].rl_tau_ns, (unsigned long long)tau);
			abort();
		}
	}
}

static void check_maglev(const Sluice__V1__Route *rt)
{
	static uint8_t table[SL_MAGLEV_SIZE];
	struct maglev_backend mb[8];
	uint32_t count[8] = { 0 };
	uint64_t total = 0;
	size_t n = rt->n_backends;

	for (size_t k = 0; k < n; k++) {
		uint8_t id[18] = { 0 };

		memcpy(id, rt->backends[k]->addr.data, rt->backends[k]->addr.len);
		id[16] = (uint8_t)(rt->backends[k]->port >> 8);
		id[17] = (uint8_t)rt->backends[k]->port;
		mb[k].id = maglev__id(id, sizeof(id));
		mb[k].weight = rt->backends[k]->weight;
		total += mb[k].weight;
	}
	if (maglev__build(mb, n, SL_MAGLEV_SIZE, table) != 0)
		abort();
	for (uint32_t e = 0; e < SL_MAGLEV_SIZE; e++) {
		if (table[e] >= n || mb[table[e]].weight == 0) {
			fprintf(stderr, "route '%s': entry %u names backend %u\n", rt->name, e, table[e]);
			abort();
		}
		count[table[e]]++;
	}
	/* Turns come in proportion to weight: off by at most 1 + n * weight / total. */
	for (size_t k = 0; k < n; k++) {
		double want = (double)SL_MAGLEV_SIZE * mb[k].weight / (double)total;
		double slack = 1.0 + (double)n * mb[k].weight / (double)total + 1e-6;

		if (count[k] < want - slack || count[k] > want + slack) {
			fprintf(stderr, "route '%s': backend %zu of weight %u has %u entries, wanted %.1f\n", rt->name, k,
				mb[k].weight, count[k], want);
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	Sluice__V1__Policy *p = pb_new();
	struct compile_gen *g = NULL;
	size_t n_rules = u16(&in) % (MAX_RULES + 1), n_routes = u8(&in) % 4;
	char err[1024];

	for (size_t i = 0; i < n_rules && in.n; i++)
		rule_of(&in, p, i);
	for (size_t i = 0; i < n_routes; i++)
		route_of(&in, p, i);
	if (policy__validate(p, 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "the fuzzer built an invalid policy: %s\n", err);
		abort();
	}
	if (compile__policy(p, 0, &g, err, sizeof(err)) != 0) {
		fprintf(stderr, "a valid policy of %zu rules does not compile: %s\n", p->n_rules, err);
		abort();
	}
	check_tables(g, p);
	check_rate_limits(g, p);
	for (int i = 0; i < MAX_PACKETS; i++) {
		bool ref_counted[MAX_RULES] = { false }, counted[MAX_RULES] = { false };
		struct ref_pkt k;
		int want, got;

		packet_of(&in, p, &k);
		want = ref_classify(p, &k, ref_counted);
		got = table_classify(g, &k, counted);
		if (want != got || memcmp(ref_counted, counted, sizeof(counted)) != 0) {
			fprintf(stderr, "packet %d (IPv%d proto %u ports %u->%u%s flags 0x%02x): the tables decide %d, the reference %d%s\n",
				i, k.family, k.proto, k.sport, k.dport, k.has_ports ? "" : " unknown", k.tcp_flags,
				got, want, want == got ? " (count rules differ)" : "");
			abort();
		}
	}
	for (size_t i = 0; i < p->n_routes; i++)
		check_maglev(p->routes[i]);
	compile__free(g);
	policy__free(p);
	return 0;
}
