// SPDX-License-Identifier: Apache-2.0
/*
 * test_inspect.c — the inspection program run with BPF_PROG_TEST_RUN on crafted
 * frames: every verdict of a policy that exercises priorities, CIDR nesting, port
 * ranges, protocols, TCP flags, count rules, IPv6, VLANs, IP options, fragments and
 * malformed frames; counters; generation switches; refused policies that must leave
 * the live generation untouched; rate limits against real time; sampling.
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
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "common/log.h"
#include "common/policy.h"
#include "datapath.h"
#include "sluice_abi.h"
#include "pkt.h"
#include "policy_build.h"
#include "priv.h"

#define TCP 6
#define UDP 17
#define ICMP 1

static int run(struct dp *dp, const struct pkt_spec *s)
{
	uint8_t buf[512];
	size_t len = pkt__build(s, buf);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len, .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(dp__prog_fd(dp), &o), 0);
	return (int)o.retval;
}

static int run_raw(struct dp *dp, const uint8_t *buf, size_t len)
{
	uint8_t copy[512];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = copy, .data_size_in = (__u32)len, .repeat = 1);

	memcpy(copy, buf, len);
	assert_int_equal(bpf_prog_test_run_opts(dp__prog_fd(dp), &o), 0);
	return (int)o.retval;
}

static uint64_t stat_of(struct dp *dp, enum sl_stat k)
{
	uint64_t st[SL_STAT_MAX];

	assert_int_equal(dp__stats(dp, st), 0);
	return st[k];
}

static uint64_t packets_of(struct dp *dp, const char *rule)
{
	uint64_t pk = 0, by = 0;

	assert_int_equal(dp__rule_counter(dp, rule, &pk, &by), 0);
	return pk;
}

static int setup(void **state)
{
	struct dp_opts o = { 0 };
	struct dp *dp = dp__open(&o);

	assert_non_null(dp);
	*state = dp;
	return 0;
}

static int teardown(void **state)
{
	dp__close(*state);
	return 0;
}

/* The policy most tests use. Priorities deliberately out of file order. */
static Sluice__V1__Policy *policy_a(void)
{
	Sluice__V1__Policy *p = pb_new();
	Sluice__V1__Rule *r;

	r = pb_rule(p, "block-telnet", 10, SLUICE__V1__ACTION__ACTION_DROP);
	r->match->proto = TCP;
	pb_dport(r, 23, 23);
	r = pb_rule(p, "allow-admin-telnet", 5, SLUICE__V1__ACTION__ACTION_PASS);
	pb_src(r, "10.1.0.0/16");
	r->match->proto = TCP;
	pb_dport(r, 23, 23);
	r = pb_rule(p, "block-doc-net", 20, SLUICE__V1__ACTION__ACTION_DROP);
	pb_dst(r, "192.0.2.0/24");
	r = pb_rule(p, "allow-doc-host", 15, SLUICE__V1__ACTION__ACTION_PASS);
	pb_dst(r, "192.0.2.7");
	r = pb_rule(p, "count-udp", 1, SLUICE__V1__ACTION__ACTION_COUNT);
	r->match->proto = UDP;
	r = pb_rule(p, "drop-udp-range", 30, SLUICE__V1__ACTION__ACTION_DROP);
	r->match->proto = UDP;
	pb_dport(r, 9000, 9010);
	pb_dport(r, 9005, 9020); /* overlapping ranges within one rule */
	r = pb_rule(p, "drop-v6-doc", 40, SLUICE__V1__ACTION__ACTION_DROP);
	pb_src(r, "2001:db8::/32");
	r->match->proto = TCP;
	r = pb_rule(p, "drop-syn-8080", 50, SLUICE__V1__ACTION__ACTION_DROP);
	r->match->proto = TCP;
	pb_dport(r, 8080, 8080);
	r->match->tcp_flags_set = 0x02;
	r->match->tcp_flags_unset = 0x10;
	r = pb_rule(p, "drop-from-port-666", 60, SLUICE__V1__ACTION__ACTION_DROP);
	r->match->proto = UDP;
	pb_sport(r, 666, 666);
	pb_src(r, "10.0.0.0/8");
	pb_src(r, "172.16.0.0/12");
	return p;
}

static void apply_ok(struct dp *dp, Sluice__V1__Policy *p)
{
	char err[256] = "";
	int ret = dp__apply(dp, p, err, sizeof(err));

	if (ret)
		fail_msg("apply failed: %s", err);
}

static void test_no_policy_passes(void **state)
{
	struct dp *dp = *state;
	struct pkt_spec s = { .family = 4, .src = "10.2.0.1", .dst = "10.0.0.1", .proto = TCP, .dport = 23 };
	uint64_t before = stat_of(dp, SL_STAT_NO_POLICY);

	assert_int_equal(run(dp, &s), XDP_PASS);
	assert_int_equal(stat_of(dp, SL_STAT_NO_POLICY), before + 1);
}

static void test_verdicts(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *p = policy_a();
	struct {
		struct pkt_spec s;
		int verdict;
		const char *why;
	} cases[] = {
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23 }, XDP_DROP, "telnet blocked" },
		{ { 4, "10.1.2.3", "10.0.0.1", TCP, 40000, 23 }, XDP_PASS, "admin telnet: higher priority pass" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 24 }, XDP_PASS, "port 24 unmatched" },
		{ { 4, "10.2.0.1", "10.0.0.1", UDP, 40000, 23 }, XDP_PASS, "udp 23 is not tcp 23" },
		{ { 4, "10.2.0.1", "192.0.2.5", TCP, 40000, 80 }, XDP_DROP, "doc net dropped" },
		{ { 4, "10.2.0.1", "192.0.2.7", TCP, 40000, 80 }, XDP_PASS, "doc host: /32 inside /24 passes" },
		{ { 4, "10.2.0.1", "192.0.3.7", TCP, 40000, 80 }, XDP_PASS, "outside the /24" },
		{ { 4, "10.2.0.1", "192.0.2.9", ICMP, 0, 0 }, XDP_DROP, "icmp to doc net" },
		{ { 4, "10.2.0.1", "10.0.0.1", UDP, 40000, 9000 }, XDP_DROP, "udp range low edge" },
		{ { 4, "10.2.0.1", "10.0.0.1", UDP, 40000, 9020 }, XDP_DROP, "second range high edge" },
		{ { 4, "10.2.0.1", "10.0.0.1", UDP, 40000, 9021 }, XDP_PASS, "just past the ranges" },
		{ { 4, "10.2.0.1", "10.0.0.1", UDP, 40000, 8999 }, XDP_PASS, "just before the ranges" },
		{ { 4, "10.9.9.9", "10.0.0.1", UDP, 666, 53 }, XDP_DROP, "source port 666 from 10/8" },
		{ { 4, "172.20.1.1", "10.0.0.1", UDP, 666, 53 }, XDP_DROP, "source port 666 from 172.16/12" },
		{ { 4, "192.168.1.1", "10.0.0.1", UDP, 666, 53 }, XDP_PASS, "source port 666 from elsewhere" },
		{ { 6, "2001:db8::1", "2001:db8::2", TCP, 40000, 80 }, XDP_DROP, "v6 doc source" },
		{ { 6, "2001:db9::1", "2001:db8::2", TCP, 40000, 80 }, XDP_PASS, "v6 other source" },
		{ { 6, "2001:db9::1", "2001:db8::2", TCP, 40000, 23 }, XDP_DROP, "v6 telnet blocked (rule has no address)" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 8080, 0x02 }, XDP_DROP, "SYN to 8080" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 8080, 0x12 }, XDP_PASS, "SYN-ACK to 8080" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 8080, 0x10 }, XDP_PASS, "ACK to 8080" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23, 0, 1 }, XDP_DROP, "VLAN-tagged telnet" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23, 0, 2 }, XDP_DROP, "QinQ telnet" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23, 0, 0, 3 }, XDP_DROP, "IPv4 options (IHL 8)" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23, 0, 0, 0, true }, XDP_DROP, "first fragment has ports" },
		{ { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23, 0, 0, 0, false, true }, XDP_PASS,
		  "later fragment: no ports, so port rules cannot match" },
		{ { 4, "10.2.0.1", "192.0.2.5", TCP, 40000, 23, 0, 0, 0, false, true }, XDP_DROP,
		  "later fragment still meets address rules" },
		{ { 6, "2001:db9::1", "2001:db8::2", TCP, 40000, 23, 0, 0, 0, false, false, 2 }, XDP_DROP,
		  "v6 with two extension headers" },
		{ { 6, "2001:db9::1", "2001:db8::2", TCP, 40000, 23, 0, 1, 0, false, false, 1 }, XDP_DROP,
		  "v6 in VLAN with extension header" },
		{ { 6, "2001:db9::1", "2001:db8::2", TCP, 40000, 23, 0, 0, 0, false, true }, XDP_PASS,
		  "v6 later fragment: no ports" },
		{ { 6, "2001:db8::1", "2001:db8::2", TCP, 40000, 23, 0, 0, 0, false, false, 8 }, XDP_PASS,
		  "v6 beyond the extension bound: protocol unknown, so tcp rules cannot match" },
	};

	apply_ok(dp, p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = run(dp, &cases[i].s);

		if (got != cases[i].verdict)
			fail_msg("case %zu (%s): verdict %d, want %d", i, cases[i].why, got, cases[i].verdict);
	}
	policy__free(p);
}

static void test_counters_and_reasons(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *p = policy_a();
	struct pkt_spec telnet = { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23 };
	struct pkt_spec dns = { 4, "10.2.0.1", "10.0.0.1", UDP, 40000, 53 };
	struct pkt_spec udp_drop = { 4, "10.2.0.1", "10.0.0.1", UDP, 40000, 9001 };
	struct pkt_spec frag = { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23, 0, 0, 0, false, true };
	uint64_t pk = 0, by = 0, frag0;
	uint8_t buf[512];

	apply_ok(dp, p);
	assert_int_equal(dp__rule_counter(dp, "block-telnet", &pk, &by), 0);
	uint64_t t0 = pk, b0 = by, c0 = packets_of(dp, "count-udp"), u0 = packets_of(dp, "drop-udp-range");

	for (int i = 0; i < 5; i++)
		assert_int_equal(run(dp, &telnet), XDP_DROP);
	assert_int_equal(run(dp, &dns), XDP_PASS);
	assert_int_equal(run(dp, &udp_drop), XDP_DROP);
	assert_int_equal(dp__rule_counter(dp, "block-telnet", &pk, &by), 0);
	assert_int_equal(pk - t0, 5);
	assert_int_equal(by - b0, 5 * pkt__build(&telnet, buf));
	/* A count rule counts and lets lower-priority rules decide. */
	assert_int_equal(packets_of(dp, "count-udp") - c0, 2);
	assert_int_equal(packets_of(dp, "drop-udp-range") - u0, 1);

	frag0 = stat_of(dp, SL_STAT_FRAGMENT);
	run(dp, &frag);
	assert_int_equal(stat_of(dp, SL_STAT_FRAGMENT), frag0 + 1);

	/* Malformed frames: a defined verdict (pass) and a reason, never XDP_ABORTED. */
	uint64_t tr0 = stat_of(dp, SL_STAT_TRUNCATED), bad0 = stat_of(dp, SL_STAT_BAD_HEADER);
	uint64_t nonip0 = stat_of(dp, SL_STAT_NON_IP);
	size_t len = pkt__build(&telnet, buf);

	assert_int_equal(run_raw(dp, buf, 20), XDP_PASS); /* cut inside the IPv4 header */
	assert_int_equal(stat_of(dp, SL_STAT_TRUNCATED), tr0 + 1);
	assert_int_equal(run_raw(dp, buf, 14 + 20 + 10), XDP_PASS); /* TCP cut: no ports, telnet rule cannot match */
	assert_int_equal(stat_of(dp, SL_STAT_TRUNCATED), tr0 + 2);
	buf[14] = 0x44; /* IHL 4 */
	assert_int_equal(run_raw(dp, buf, len), XDP_PASS);
	assert_int_equal(stat_of(dp, SL_STAT_BAD_HEADER), bad0 + 1);
	buf[12] = 0x08;
	buf[13] = 0x06; /* ARP */
	assert_int_equal(run_raw(dp, buf, len), XDP_PASS);
	assert_int_equal(stat_of(dp, SL_STAT_NON_IP), nonip0 + 1);
	policy__free(p);
}

static void test_generation_switch(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *a = policy_a(), *b = pb_new();
	struct pkt_spec telnet = { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23 };
	struct pkt_spec http = { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 80 };
	Sluice__V1__Rule *r;

	apply_ok(dp, a);
	assert_int_equal(run(dp, &telnet), XDP_DROP);
	uint64_t kept = packets_of(dp, "block-telnet");

	/* b keeps "block-telnet" by name but makes it pass, and blocks http. */
	r = pb_rule(b, "block-telnet", 10, SLUICE__V1__ACTION__ACTION_PASS);
	r->match->proto = TCP;
	pb_dport(r, 23, 23);
	r = pb_rule(b, "block-http", 10, SLUICE__V1__ACTION__ACTION_DROP);
	r->match->proto = TCP;
	pb_dport(r, 80, 80);
	apply_ok(dp, b);
	assert_int_equal(run(dp, &telnet), XDP_PASS);
	assert_int_equal(run(dp, &http), XDP_DROP);
	assert_int_equal(dp__rules_used(dp), 2);
	/* Counters continue for a rule whose name is unchanged; a new rule starts at 0. */
	assert_int_equal(packets_of(dp, "block-telnet"), kept + 1);
	assert_int_equal(packets_of(dp, "block-http"), 1);
	uint64_t pk, by;
	assert_int_equal(dp__rule_counter(dp, "block-doc-net", &pk, &by), -ENOENT);

	/* And back: a rule that returns gets a fresh counter. */
	apply_ok(dp, a);
	assert_int_equal(run(dp, &telnet), XDP_DROP);
	assert_int_equal(run(dp, &http), XDP_PASS);
	assert_int_equal(packets_of(dp, "block-doc-net"), 0);
	policy__free(a);
	policy__free(b);
}

static int run_n(struct dp *dp, const struct pkt_spec *s, uint32_t repeat)
{
	uint8_t buf[512];
	size_t len = pkt__build(s, buf);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len, .repeat = repeat);

	assert_int_equal(bpf_prog_test_run_opts(dp__prog_fd(dp), &o), 0);
	return (int)o.retval;
}

/*
 * The verdict cache (bpf/lib/vcache.h): repeats of one packet are decided from it, and
 * count as classified ones do, count rules included (up to SL_VC_COUNTS cached; with
 * more the packet is classified each time); a generation switch retires every entry.
 */
static void test_verdict_cache(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *p = pb_new(), *q = pb_new();
	struct pkt_spec few = { 4, "10.9.0.1", "10.0.0.1", UDP, 40000, 53 };
	struct pkt_spec many = { 4, "10.9.0.1", "10.0.0.1", UDP, 40000, 54 };
	char name[32];
	Sluice__V1__Rule *r;

	/* Two count rules for port 53, five for port 54; then a drop for both. */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "count-%d", i);
		r = pb_rule(p, name, (uint32_t)i, SLUICE__V1__ACTION__ACTION_COUNT);
		r->match->proto = UDP;
		pb_dport(r, i < 2 ? 53 : 54, 54);
	}
	r = pb_rule(p, "drop-dns", 10, SLUICE__V1__ACTION__ACTION_DROP);
	r->match->proto = UDP;
	pb_dport(r, 53, 54);
	apply_ok(dp, p);

	uint64_t hits0 = stat_of(dp, SL_STAT_NO_MATCH);
	assert_int_equal(run_n(dp, &few, 100), XDP_DROP);
	assert_int_equal(packets_of(dp, "count-0"), 100);
	assert_int_equal(packets_of(dp, "count-1"), 100);
	assert_int_equal(packets_of(dp, "drop-dns"), 100);
	assert_int_equal(run_n(dp, &many, 100), XDP_DROP);
	assert_int_equal(packets_of(dp, "count-0"), 200);
	assert_int_equal(packets_of(dp, "count-1"), 200);
	for (int i = 2; i < 5; i++) {
		snprintf(name, sizeof(name), "count-%d", i);
		assert_int_equal(packets_of(dp, name), 100);
	}
	assert_int_equal(packets_of(dp, "drop-dns"), 200);
	assert_int_equal(stat_of(dp, SL_STAT_NO_MATCH), hits0);

	/* The same rule names, now passing: the cached drop must not outlive its generation. */
	r = pb_rule(q, "drop-dns", 10, SLUICE__V1__ACTION__ACTION_PASS);
	r->match->proto = UDP;
	pb_dport(r, 53, 54);
	apply_ok(dp, q);
	assert_int_equal(run_n(dp, &few, 10), XDP_PASS);
	assert_int_equal(packets_of(dp, "drop-dns"), 210);
	apply_ok(dp, p);
	assert_int_equal(run_n(dp, &few, 10), XDP_DROP);
	/* And with no rule deciding, the cached "no match" counts as one. */
	few.dport = 80;
	assert_int_equal(run_n(dp, &few, 10), XDP_PASS);
	assert_int_equal(stat_of(dp, SL_STAT_NO_MATCH), hits0 + 10);
	policy__free(p);
	policy__free(q);
}

static void test_refused_policy_keeps_live_generation(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *a = policy_a(), *big = pb_new(), *rl = pb_new();
	struct pkt_spec telnet = { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 23 };
	char err[256] = "", name[32];
	Sluice__V1__Rule *r;

	apply_ok(dp, a);
	for (uint32_t i = 0; i <= dp__rule_capacity(dp); i++) {
		snprintf(name, sizeof(name), "r%u", i);
		r = pb_rule(big, name, i, SLUICE__V1__ACTION__ACTION_PASS);
		r->match->proto = TCP;
	}
	assert_int_equal(dp__apply(dp, big, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "capacity"));
	assert_int_equal(run(dp, &telnet), XDP_DROP);

	r = pb_rule(rl, "limit", 1, SLUICE__V1__ACTION__ACTION_RATE_LIMIT); /* no pps or bps */
	err[0] = '\0';
	assert_int_equal(dp__apply(dp, rl, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rule 'limit'"));
	assert_int_equal(run(dp, &telnet), XDP_DROP);
	assert_int_equal(dp__rules_used(dp), a->n_rules);
	policy__free(a);
	policy__free(big);
	policy__free(rl);
}

/* Many rules: the deciding rule sits past the first 64-rule words. */
static void test_many_rules(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *p = pb_new();
	char name[32], cidr[32];
	Sluice__V1__Rule *r;

	for (uint32_t i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "r%u", i);
		snprintf(cidr, sizeof(cidr), "10.%u.%u.0/24", i / 256, i % 256);
		r = pb_rule(p, name, 100 + i, i % 2 ? SLUICE__V1__ACTION__ACTION_DROP : SLUICE__V1__ACTION__ACTION_PASS);
		pb_dst(r, cidr);
		r->match->proto = i % 3 ? TCP : UDP;
		pb_dport(r, 1000 + i, 1000 + i);
	}
	apply_ok(dp, p);
	for (uint32_t i = 0; i < 2000; i += 97) {
		char dst[32];
		struct pkt_spec s = { 4, "192.168.0.1", dst, (uint8_t)(i % 3 ? TCP : UDP), 5555, (uint16_t)(1000 + i) };

		snprintf(dst, sizeof(dst), "10.%u.%u.9", i / 256, i % 256);
		assert_int_equal(run(dp, &s), i % 2 ? XDP_DROP : XDP_PASS);
		s.dport++;
		assert_int_equal(run(dp, &s), XDP_PASS);
	}
	policy__free(p);
}

static Sluice__V1__RateLimit *rate(uint64_t pps, uint64_t burst, Sluice__V1__RateLimitPer per)
{
	Sluice__V1__RateLimit *rl = calloc(1, sizeof(*rl));

	sluice__v1__rate_limit__init(rl);
	rl->pps = pps;
	rl->burst = burst;
	rl->per = per;
	return rl;
}

/*
 * Sends packets as fast as test_run goes for about `secs`. A call sends its packets at
 * some instant inside it, so the bucket may have been refilling until anywhere between
 * the start of the last call (*lo) and the end of the flood (*hi): seconds since start.
 */
static void flood(struct dp *dp, const struct pkt_spec *s, double secs, double *lo, double *hi)
{
	uint8_t buf[512];
	size_t len = pkt__build(s, buf);
	struct timespec t0, t1;
	double el = 0, last_start = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len, .repeat = 200);

		last_start = el;
		assert_int_equal(bpf_prog_test_run_opts(dp__prog_fd(dp), &o), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	} while (el < secs);
	*lo += last_start;
	*hi += el;
}

/* Packets passed by the rule within 10% of [rate * lo + burst, rate * hi + burst]. */
static void assert_passed_near(struct dp *dp, const char *rule, double lo, double hi)
{
	struct sl_counter c;
	double passed;

	assert_int_equal(dp__rule_counters(dp, rule, &c), 0);
	passed = (double)(c.packets - c.rl_drops);
	if (passed < lo * 0.9 || passed > hi * 1.1)
		fail_msg("rule %s passed %.0f packets (%llu matched, %llu rate-limited); expected %.0f..%.0f +-10%%", rule,
			 passed, (unsigned long long)c.packets, (unsigned long long)c.rl_drops, lo, hi);
	assert_true(c.rl_drops > 0);
}

/* A token bucket held to its rate within 10% over one second of real time. */
static void test_rate_limit_per_rule(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *p = pb_new();
	Sluice__V1__Rule *r = pb_rule(p, "limit-udp", 1, SLUICE__V1__ACTION__ACTION_RATE_LIMIT);
	struct pkt_spec a = { 4, "10.2.0.1", "10.0.0.1", UDP, 40000, 53 };
	struct pkt_spec b = { 4, "10.2.0.2", "10.0.0.1", UDP, 40000, 53 };
	double lo = 0, hi = 0;

	r->match->proto = UDP;
	/* test_run calls come with gaps (tens of ms on a busy VM); a burst of half a second
	 * of tokens keeps the bucket from overflowing in a gap, so rate * time + burst holds. */
	r->rate_limit = rate(2000, 1000, SLUICE__V1__RATE_LIMIT_PER__PER_RULE);
	apply_ok(dp, p);
	flood(dp, &a, 0.75, &lo, &hi);
	flood(dp, &b, 0.75, &lo, &hi); /* another source shares the rule's one bucket */
	assert_passed_near(dp, "limit-udp", 2000 * lo + 1000, 2000 * hi + 1000);
	policy__free(p);
}

/* Per-source buckets: each source gets the whole rate. */
static void test_rate_limit_per_source(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *p = pb_new();
	Sluice__V1__Rule *r = pb_rule(p, "limit-src", 1, SLUICE__V1__ACTION__ACTION_RATE_LIMIT);
	struct pkt_spec a = { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 80 };
	struct pkt_spec b = { 6, "2001:db8::1", "2001:db8::2", TCP, 40000, 80 };
	double lo = 0, hi = 0;

	r->match->proto = TCP;
	r->rate_limit = rate(1000, 500, SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE);
	apply_ok(dp, p);
	flood(dp, &a, 0.75, &lo, &hi);
	flood(dp, &b, 0.75, &lo, &hi);
	/* Each source had its own bucket for its own half: rate * total time + 2 bursts. */
	assert_passed_near(dp, "limit-src", 1000 * lo + 1000, 1000 * hi + 1000);
	policy__free(p);
}

struct sample_seen {
	int n;
	uint32_t cap_len, pkt_len;
	uint8_t first[64];
};

static int on_sample(void *ctx, void *data, size_t len)
{
	struct sample_seen *seen = ctx;
	const struct sl_sample *s = data;

	assert_true(len >= sizeof(*s));
	if (seen->n++ == 0) {
		seen->cap_len = s->cap_len;
		seen->pkt_len = s->pkt_len;
		memcpy(seen->first, s->data, sizeof(seen->first));
	}
	return 0;
}

/* Every sampled packet reaches user space with its first snaplen bytes; a full ring
 * buffer is counted as lost, never silently. */
static void test_sampling(void **state)
{
	struct dp *dp = *state;
	Sluice__V1__Policy *p = pb_new();
	Sluice__V1__Rule *r = pb_rule(p, "sample-all", 1, SLUICE__V1__ACTION__ACTION_PASS);
	struct pkt_spec s = { 4, "10.2.0.1", "10.0.0.1", TCP, 40000, 80 };
	struct sample_seen seen = { 0 };
	struct ring_buffer *rb;
	struct sl_counter c;
	uint8_t buf[512];
	size_t len = pkt__build(&s, buf);

	r->sample = calloc(1, sizeof(*r->sample));
	sluice__v1__sample__init(r->sample);
	r->sample->one_in = 1;
	r->sample->snaplen = 48;
	apply_ok(dp, p);
	rb = ring_buffer__new(dp__samples_fd(dp), on_sample, &seen, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb); /* drop what earlier tests left */
	seen.n = 0;
	for (int i = 0; i < 10; i++)
		assert_int_equal(run(dp, &s), XDP_PASS);
	ring_buffer__consume(rb);
	assert_int_equal(seen.n, 10);
	assert_int_equal(seen.cap_len, 48);
	assert_int_equal(seen.pkt_len, len);
	assert_memory_equal(seen.first, buf, 48);
	assert_int_equal(dp__rule_counters(dp, "sample-all", &c), 0);
	assert_int_equal(c.samples, 10);
	assert_int_equal(c.samples_lost, 0);

	/* Nobody consumes: the ring fills and the rest is counted as lost. */
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len, .repeat = 30000);
	assert_int_equal(bpf_prog_test_run_opts(dp__prog_fd(dp), &o), 0);
	assert_int_equal(dp__rule_counters(dp, "sample-all", &c), 0);
	assert_true(c.samples_lost > 0);
	assert_int_equal(c.samples + c.samples_lost, 30010);
	ring_buffer__free(rb);
	policy__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_policy_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verdicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_and_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verdict_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_policy_keeps_live_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_per_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_per_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sampling, setup, teardown),
	};

	priv__require_root("test_inspect");
	log__init("test_inspect", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
