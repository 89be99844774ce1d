// SPDX-License-Identifier: Apache-2.0
/*
 * test_generations.c — what dp__apply reuses from one generation to the next, run with
 * BPF_PROG_TEST_RUN: a slot's bitmap map written over by a smaller policy keeps an older
 * generation's words past n_words (and its rules past n_rules), which no packet may
 * ever read; applies back to back, each writing the slot the one before retired; and a
 * route generation that is not switched when its routes are unchanged, but is when
 * they change.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "common/log.h"
#include "common/policy.h"
#include "datapath.h"
#include "rewrite_int.h"
#include "sluice_abi.h"
#include "pkt.h"
#include "policy_build.h"
#include "priv.h"
#include "rw_fixture.h"

static int run_tcp(struct dp *dp, uint16_t dport)
{
	struct pkt_spec s = { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.7", .proto = TCP,
			      .sport = 40000, .dport = dport, .tcp_flags = 0x02, .payload = 10 };
	uint8_t buf[512];
	size_t len = pkt__build(&s, buf);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len, .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(dp__prog_fd(dp), &o), 0);
	return (int)o.retval;
}

static uint64_t no_match(struct dp *dp)
{
	uint64_t st[SL_STAT_MAX];

	assert_int_equal(dp__stats(dp, st), 0);
	return st[SL_STAT_NO_MATCH];
}

/*
 * n rules, prefix-i, that drop TCP to ports 0..65535-i: every one matches TCP port 80,
 * and the ports make n classes whose bitmaps are nearly all ones.
 */
static Sluice__V1__Policy *drop_all(uint32_t n, const char *prefix)
{
	Sluice__V1__Policy *p = pb_new();
	char name[32];

	for (uint32_t i = 0; i < n; i++) {
		Sluice__V1__Rule *r;

		snprintf(name, sizeof(name), "%s-%u", prefix, i);
		r = pb_rule(p, name, 10, SLUICE__V1__ACTION__ACTION_DROP);
		r->match->proto = TCP;
		pb_dport(r, 0, 65535 - i);
	}
	return p;
}

/* 100 rules, name-0..99: drop TCP to dport, then to 1000..1098 (two bitmap words, and
 * enough rules that the match loop could reach a third word). */
static Sluice__V1__Policy *drop_port(const char *name, uint16_t dport)
{
	Sluice__V1__Policy *p = pb_new();
	char rname[32];

	for (uint16_t i = 0; i < 100; i++) {
		Sluice__V1__Rule *r;

		snprintf(rname, sizeof(rname), "%s-%u", name, i);
		r = pb_rule(p, rname, 10, SLUICE__V1__ACTION__ACTION_DROP);
		r->match->proto = TCP;
		pb_dport(r, i ? 999 + i : dport, i ? 999 + i : dport);
	}
	return p;
}

/* routes_policy(w1, w2) without web4's second backend. */
static Sluice__V1__Policy *one_left(uint32_t w1, uint32_t w2)
{
	Sluice__V1__Policy *p = routes_policy(w1, w2);

	sluice__v1__backend__free_unpacked(p->routes[0]->backends[1], NULL);
	p->routes[0]->n_backends = 1;
	return p;
}

static void apply(struct dp *dp, Sluice__V1__Policy *p)
{
	char err[256] = "";

	if (dp__apply(dp, p, err, sizeof(err)))
		fail_msg("apply: %s", err);
	policy__free(p);
}

/*
 * 2000 rules that drop TCP port 80 fill 32 words of 2000 bitmaps with ones; a 100-rule policy
 * written over them into the same slot (two applies later) leaves those words and rules
 * in place. A packet its rule does not match must find no rule.
 */
static void test_stale_words_never_read(void **state)
{
	struct dp_opts o = { 0 };
	struct dp *dp = dp__open(&o);
	uint64_t before;

	(void)state;
	assert_non_null(dp);
	apply(dp, drop_all(2000, "wide"));
	assert_int_equal(run_tcp(dp, 80), XDP_DROP);
	apply(dp, drop_port("ssh-a", 22));
	apply(dp, drop_port("ssh-b", 22)); /* the slot of the 2000 rules */
	for (int round = 0; round < 4; round++) {
		before = no_match(dp);
		assert_int_equal(run_tcp(dp, 80), XDP_PASS);
		assert_int_equal(no_match(dp), before + 1);
		assert_int_equal(run_tcp(dp, 22), XDP_DROP);
		apply(dp, drop_port(round % 2 ? "ssh-b" : "ssh-a", 22));
	}
	/* And back up: a wide policy over slots that held small ones. */
	apply(dp, drop_all(3000, "wider"));
	assert_int_equal(run_tcp(dp, 80), XDP_DROP);
	dp__close(dp);
}

/* Applies in quick succession, sizes up and down: each must be live at once and whole. */
static void test_back_to_back(void **state)
{
	static const uint32_t sizes[] = { 1, 700, 64, 65, 3000, 1, 0, 130, 2 };
	struct dp_opts o = { 0 };
	struct dp *dp = dp__open(&o);

	(void)state;
	assert_non_null(dp);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Rule 0 passes TCP 22 ahead of the rest, which drop TCP 80. */
		Sluice__V1__Policy *p = drop_all(sizes[i], "all");
		Sluice__V1__Rule *r = pb_rule(p, "ssh", 1, SLUICE__V1__ACTION__ACTION_PASS);

		r->match->proto = TCP;
		pb_dport(r, 22, 22);
		apply(dp, p);
		assert_int_equal(dp__rules_used(dp), sizes[i] + 1);
		assert_int_equal(run_tcp(dp, 22), XDP_PASS);
		assert_int_equal(run_tcp(dp, 80), sizes[i] ? XDP_DROP : XDP_PASS);
	}
	dp__close(dp);
}

static __u32 route_slot(struct dp *dp)
{
	struct rw *rw = dp__rewrite(dp);
	struct sl_rw_ctl ctl = { 0 };
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(rw->map_fd[R_CTL], &zero, &ctl), 0);
	return ctl.slot;
}

/* Routes unchanged: no switch (it would cost a grace period); changed: a switch. */
static void test_routes_unchanged_not_switched(void **state)
{
	struct dp_opts o = { 0 };
	struct dp *dp = dp__open(&o);
	__u32 s0, s1;

	(void)state;
	assert_non_null(dp);
	apply(dp, routes_policy(1, 1));
	s0 = route_slot(dp);
	apply(dp, routes_policy(1, 1));
	assert_int_equal(route_slot(dp), s0);
	/* The same routes beside other rules: still nothing to switch. */
	Sluice__V1__Policy *p = routes_policy(1, 1);
	pb_rule(p, "extra", 5, SLUICE__V1__ACTION__ACTION_DROP);
	apply(dp, p);
	assert_int_equal(route_slot(dp), s0);
	assert_int_equal(rw__routes_used(dp__rewrite(dp)), 4);
	/* A weight changes: switched. */
	apply(dp, routes_policy(1, 2));
	s1 = route_slot(dp);
	assert_int_not_equal(s1, s0);
	/* A backend leaves (it drains): every apply switches while one drains. */
	apply(dp, one_left(1, 2));
	assert_int_equal(route_slot(dp), s0);
	apply(dp, one_left(1, 2));
	assert_int_equal(route_slot(dp), s1);
	/* No routes at all, twice. */
	apply(dp, pb_new());
	assert_int_equal(rw__routes_used(dp__rewrite(dp)), 0);
	dp__close(dp);

	/* A fresh agent knows no live routes: its first commit always switches. */
	dp = dp__open(&o);
	assert_non_null(dp);
	s0 = route_slot(dp);
	apply(dp, pb_new());
	assert_int_not_equal(route_slot(dp), s0);
	s1 = route_slot(dp);
	apply(dp, pb_new());
	assert_int_equal(route_slot(dp), s1);
	dp__close(dp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stale_words_never_read),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_routes_unchanged_not_switched),
	};

	priv__require_root("test_generations");
	log__init("test_generations", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
