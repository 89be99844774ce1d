// SPDX-License-Identifier: Apache-2.0
/*
 * test_differential.c — the inspection program against the reference classifier
 * (tests/lib/refclass.h) on random rule sets and random packets. Rule sets of 1 to
 * 10,000 rules draw CIDRs, port ranges and protocols from small pools so rules overlap
 * and nest; packets draw from the same pools. For every packet the verdict, the deciding
 * rule (its counter moves by one) and the count rules that matched must agree.
 *
 * SLUICE_DIFF_LONG=1 runs the long version (more seeds, sizes and packets).
 * SLUICE_DIFF_SEED=N fixes the seed to replay a failure.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "common/log.h"
#include "common/policy.h"
#include "datapath.h"
#include "sluice_abi.h"
#include "pkt.h"
#include "policy_build.h"
#include "priv.h"
#include "refclass.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static const uint8_t v4_pool[][4] = { { 10, 0, 0, 0 }, { 10, 1, 0, 0 }, { 10, 1, 2, 0 }, { 192, 168, 0, 0 },
				      { 172, 16, 0, 0 }, { 192, 0, 2, 0 } };
static const uint16_t port_pool[] = { 22, 23, 53, 80, 443, 1000, 8080, 9000, 65535 };
static const uint8_t protos[] = { 0, 0, 6, 6, 17, 17, 1, 58 };

static void rnd_addr(int family, uint8_t *out)
{
	memset(out, 0, 16);
	if (family == 4) {
		if (rnd_below(10) == 0) {
			for (int i = 0; i < 4; i++)
				out[i] = (uint8_t)rnd();
			return;
		}
		memcpy(out, v4_pool[rnd_below(sizeof(v4_pool) / 4)], 4);
		out[2] ^= (uint8_t)(rnd_below(4) == 0 ? rnd_below(4) : 0);
		out[3] = (uint8_t)rnd_below(8);
	} else {
		out[0] = 0x20;
		out[1] = 0x01;
		out[2] = 0x0d;
		out[3] = 0xb8;
		out[5] = (uint8_t)rnd_below(3);
		out[15] = (uint8_t)rnd_below(8);
		if (rnd_below(10) == 0)
			out[0] = 0xfd;
	}
}

static Sluice__V1__Cidr *rnd_cidr(int family)
{
	Sluice__V1__Cidr *c = calloc(1, sizeof(*c));
	uint32_t bits = family == 4 ? 32 : 128;
	uint8_t a[16];

	sluice__v1__cidr__init(c);
	rnd_addr(family, a);
	c->prefix_len = family == 4 ? 8 + rnd_below(25) : 16 + rnd_below(113);
	if (rnd_below(30) == 0)
		c->prefix_len = 0;
	for (uint32_t b = c->prefix_len; b < bits; b++)
		a[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	c->addr.len = family == 4 ? 4 : 16;
	c->addr.data = malloc(16);
	memcpy(c->addr.data, a, 16);
	return c;
}

static void rnd_ports(Sluice__V1__PortRange ***rs, size_t *n)
{
	int k = 1 + (int)rnd_below(3);

	for (int i = 0; i < k; i++) {
		uint32_t lo = port_pool[rnd_below(sizeof(port_pool) / sizeof(port_pool[0]))];
		uint32_t hi = lo + rnd_below(3) * rnd_below(40);

		if (lo > 5 && rnd_below(3) == 0)
			lo -= rnd_below(5);
		if (hi > 65535)
			hi = 65535;
		PB_APPEND(*rs, *n, pb_range(lo, hi));
	}
}

static Sluice__V1__Policy *rnd_policy(uint32_t n)
{
	Sluice__V1__Policy *p = pb_new();
	char name[32];

	for (uint32_t i = 0; i < n; i++) {
		static const Sluice__V1__Action acts[] = { SLUICE__V1__ACTION__ACTION_PASS, SLUICE__V1__ACTION__ACTION_DROP,
							  SLUICE__V1__ACTION__ACTION_DROP, SLUICE__V1__ACTION__ACTION_COUNT };
		Sluice__V1__Rule *r;
		Sluice__V1__Match *m;

		snprintf(name, sizeof(name), "r%u", i);
		r = pb_rule(p, name, rnd_below(n / 2 + 2), acts[rnd_below(4)]);
		m = r->match;
		for (int f = 0; f < 2; f++) {
			if (rnd_below(3) == 0)
				continue;
			int k = 1 + (int)rnd_below(2);
			for (int j = 0; j < k; j++) {
				Sluice__V1__Cidr *c = rnd_cidr(rnd_below(3) ? 4 : 6);

				if (f == 0)
					PB_APPEND(m->src, m->n_src, c);
				else
					PB_APPEND(m->dst, m->n_dst, c);
			}
		}
		m->proto = protos[rnd_below(sizeof(protos))];
		if (m->proto == 6 || m->proto == 17) {
			if (rnd_below(2))
				rnd_ports(&m->dst_ports, &m->n_dst_ports);
			if (rnd_below(5) == 0)
				rnd_ports(&m->src_ports, &m->n_src_ports);
		}
		if (m->proto == 6 && rnd_below(4) == 0) {
			m->tcp_flags_set = rnd_below(2) ? 0x02 : 0x10;
			m->tcp_flags_unset = m->tcp_flags_set == 0x02 ? 0x10 : (rnd_below(2) ? 0x01 : 0);
		}
	}
	return p;
}

static void rnd_packet(struct ref_pkt *rp)
{
	static const uint8_t tcp_flags[] = { 0x02, 0x12, 0x10, 0x18, 0x11, 0x04 };

	memset(rp, 0, sizeof(*rp));
	rp->family = rnd_below(3) ? 4 : 6;
	rnd_addr(rp->family, rp->src);
	rnd_addr(rp->family, rp->dst);
	rp->proto = protos[rnd_below(sizeof(protos))];
	if (rp->proto == 0)
		rp->proto = 6;
	if (rp->family == 4 && rp->proto == 58)
		rp->proto = 1;
	if (rp->family == 6 && rp->proto == 1)
		rp->proto = 58;
	rp->has_ports = rnd_below(20) != 0;
	if (rp->proto == 6 || rp->proto == 17) {
		rp->sport = rnd_below(4) ? (uint16_t)(1024 + rnd_below(60000))
					 : (uint16_t)(port_pool[rnd_below(9)] + rnd_below(3));
		rp->dport = (uint16_t)(port_pool[rnd_below(9)] + (rnd_below(2) ? rnd_below(45) : 0));
		if (rp->dport == 0)
			rp->dport = 1;
	} else {
		rp->has_ports = rp->has_ports && false;
	}
	if (rp->proto == 6)
		rp->tcp_flags = tcp_flags[rnd_below(sizeof(tcp_flags))];
}

static int run_packet(struct dp *dp, const struct ref_pkt *rp)
{
	char src[64], dst[64];
	struct pkt_spec s = { 0 };
	uint8_t buf[512];
	size_t len;
	int af = rp->family == 6 ? AF_INET6 : AF_INET;

	inet_ntop(af, rp->src, src, sizeof(src));
	inet_ntop(af, rp->dst, dst, sizeof(dst));
	s.family = rp->family;
	s.src = src;
	s.dst = dst;
	s.proto = rp->proto;
	s.sport = rp->sport;
	s.dport = rp->dport;
	s.tcp_flags = rp->tcp_flags ? rp->tcp_flags : 0x02;
	s.frag_later = !rp->has_ports;
	s.vlans = (int)rnd_below(3) == 0;
	len = pkt__build(&s, buf);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len, .repeat = 1);
	assert_int_equal(bpf_prog_test_run_opts(dp__prog_fd(dp), &o), 0);
	return (int)o.retval;
}

static uint64_t counter(struct dp *dp, const char *name)
{
	uint64_t pk = 0, by = 0;

	assert_int_equal(dp__rule_counter(dp, name, &pk, &by), 0);
	return pk;
}

static void differential(uint64_t seed, uint32_t n_rules, uint32_t n_packets)
{
	struct dp_opts o = { 0 };
	struct dp *dp = dp__open(&o);
	Sluice__V1__Policy *p;
	bool *counted;
	char err[256] = "";
	uint64_t st[SL_STAT_MAX];

	assert_non_null(dp);
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	p = rnd_policy(n_rules);
	counted = calloc(n_rules, sizeof(*counted));
	if (dp__apply(dp, p, err, sizeof(err)))
		fail_msg("seed %llu rules %u: apply failed: %s", (unsigned long long)seed, n_rules, err);
	for (uint32_t i = 0; i < n_packets; i++) {
		struct ref_pkt rp;
		int want, got, verdict_want;
		uint64_t before = 0, nomatch_before;

		rnd_packet(&rp);
		want = ref_classify(p, &rp, counted);
		verdict_want = want >= 0 && p->rules[want]->action == SLUICE__V1__ACTION__ACTION_DROP ? XDP_DROP : XDP_PASS;
		/* Twice: classified, then (a whole packet) from the verdict cache. */
		for (int pass = 0; pass < 2; pass++) {
			if (want >= 0)
				before = counter(dp, p->rules[want]->name);
			assert_int_equal(dp__stats(dp, st), 0);
			nomatch_before = st[SL_STAT_NO_MATCH];
			uint64_t *cbefore = NULL;
			if (n_rules <= 300) {
				cbefore = calloc(n_rules, sizeof(*cbefore));
				for (uint32_t r = 0; r < n_rules; r++)
					if (p->rules[r]->action == SLUICE__V1__ACTION__ACTION_COUNT)
						cbefore[r] = counter(dp, p->rules[r]->name);
			}

			got = run_packet(dp, &rp);
			if (got != verdict_want)
				fail_msg("seed %llu rules %u packet %u run %d: verdict %d, reference %d (rule %d)",
					 (unsigned long long)seed, n_rules, i, pass + 1, got, verdict_want, want);
			if (want >= 0 && counter(dp, p->rules[want]->name) != before + 1)
				fail_msg("seed %llu rules %u packet %u: deciding rule %s did not count the packet",
					 (unsigned long long)seed, n_rules, i, p->rules[want]->name);
			assert_int_equal(dp__stats(dp, st), 0);
			if (want < 0 && st[SL_STAT_NO_MATCH] != nomatch_before + 1)
				fail_msg("seed %llu rules %u packet %u: reference found no rule, the program did",
					 (unsigned long long)seed, n_rules, i);
			if (cbefore) {
				for (uint32_t r = 0; r < n_rules; r++) {
					if (p->rules[r]->action != SLUICE__V1__ACTION__ACTION_COUNT)
						continue;
					if (counter(dp, p->rules[r]->name) - cbefore[r] != (counted[r] ? 1u : 0u))
						fail_msg("seed %llu rules %u packet %u: count rule %s moved %llu, reference %d",
							 (unsigned long long)seed, n_rules, i, p->rules[r]->name,
							 (unsigned long long)(counter(dp, p->rules[r]->name) - cbefore[r]), counted[r]);
				}
				free(cbefore);
			}
		}
	}
	free(counted);
	policy__free(p);
	dp__close(dp);
}

static uint64_t base_seed(void)
{
	const char *s = getenv("SLUICE_DIFF_SEED");

	return s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
}

static void test_differential(void **state)
{
	bool lng = getenv("SLUICE_DIFF_LONG") && strcmp(getenv("SLUICE_DIFF_LONG"), "1") == 0;
	static const uint32_t quick[] = { 1, 5, 63, 64, 65, 200, 1000, 10000 };
	static const uint32_t full[] = { 1, 2, 5, 17, 63, 64, 65, 128, 200, 500, 1000, 3000, 10000 };
	const uint32_t *sizes = lng ? full : quick;
	size_t n_sizes = lng ? sizeof(full) / sizeof(full[0]) : sizeof(quick) / sizeof(quick[0]);
	uint64_t seed = base_seed();
	int seeds = lng ? 10 : 2;

	(void)state;
	printf("differential: seed %llu (replay with SLUICE_DIFF_SEED)\n", (unsigned long long)seed);
	for (int k = 0; k < seeds; k++) {
		for (size_t i = 0; i < n_sizes; i++)
			differential(seed + (uint64_t)k * 1000 + i, sizes[i], lng ? 20000 : (sizes[i] <= 300 ? 1500 : 3000));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
	};

	priv__require_root("test_differential");
	log__init("test_differential", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
