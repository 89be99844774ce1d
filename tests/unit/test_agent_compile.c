// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_compile.c — the agent's map compiler (agent/compile.c) in user space:
 * rules land in priority order with their verdicts, and a rate limit's GCRA parameters
 * are what its rate and burst say, saturating instead of wrapping for deep buckets.
 * (The tables themselves are held to the reference classifier by tests/bpf and
 * tests/fuzz/fuzz_compile.c.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/policy.h"
#include "compile.h"

static struct compile_gen *compile_ok(const char *yaml, Sluice__V1__Policy **out)
{
	struct compile_gen *g = NULL;
	char err[512];

	if (policy_yaml__parse_string("t.yaml", yaml, strlen(yaml), 0, out, err, sizeof(err)))
		fail_msg("refused: %s", err);
	if (compile__policy(*out, 0, &g, err, sizeof(err)))
		fail_msg("does not compile: %s", err);
	return g;
}

static void test_priority_order(void **state)
{
	Sluice__V1__Policy *p = NULL;
	struct compile_gen *g = compile_ok("rules:\n"
					   "  - { name: late, action: pass }\n"
					   "  - { name: first, priority: 5, action: drop }\n"
					   "  - { name: tie, action: count }\n",
					   &p);

	assert_int_equal(g->n_rules, 3);
	assert_int_equal(g->order[0], 1);
	assert_int_equal(g->order[1], 0); /* equal priority: file order */
	assert_int_equal(g->order[2], 2);
	assert_int_equal(g->rules[0].action, SL_ACT_DROP);
	assert_int_equal(g->rules[2].action, SL_ACT_COUNT);
	compile__free(g);
	policy__free(p);
}

static void test_rate_limit_burst(void **state)
{
	Sluice__V1__Policy *p = NULL;
	struct compile_gen *g = compile_ok("rules:\n"
					   "  - { name: pps, action: { rate_limit: { pps: 1000, burst: 200 } } }\n"
					   "  - { name: slow-deep, action: { rate_limit: { bps: 1, burst: 300000 } } }\n"
					   "  - { name: huge, action: { rate_limit: { pps: 1, burst: 9223372036854775807 } } }\n",
					   &p);

	/* 1000 pps: 1 ms a packet, 199 packets of tolerance beyond the first */
	assert_int_equal(g->rules[0].rl_cost_q16, (1000000000ULL << 16) / 1000);
	assert_int_equal(g->rules[0].rl_tau_ns, 199 * 1000000ULL);
	/* 1 byte/s with a 300000-byte bucket: 300000 s of tolerance, past 64 bits in Q16 */
	assert_int_equal(g->rules[1].rl_tau_ns, 300000ULL * 1000000000ULL);
	/* beyond what 64 bits of ns hold: saturated, never wrapped to a small tolerance */
	assert_int_equal(g->rules[2].rl_tau_ns, UINT64_MAX);
	compile__free(g);
	policy__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority_order),
		cmocka_unit_test(test_rate_limit_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
