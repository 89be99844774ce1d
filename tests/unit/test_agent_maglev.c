// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_maglev.c — the weighted Maglev tables the rewrite program picks new flows'
 * backends from: random flows, hashed and indexed exactly as the datapath does
 * (sl_flow_hash, sl_maglev_index), land on each backend within 2 points of its weight's
 * share; removing or adding one backend of N moves about 1/N of flows (replacing one,
 * which is both, about 2/N); a weight-0 backend gets none; bad input is refused.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "maglev.h"
#include "sluice_abi.h"

#define M SL_MAGLEV_SIZE
#define FLOWS 200000

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Random client flows to one VIP:port, as the datapath keys them. */
static uint32_t *flow_entries(void)
{
	uint32_t *e = malloc(FLOWS * sizeof(*e));

	assert_non_null(e);
	for (int i = 0; i < FLOWS; i++) {
		struct sl_flow f = { .proto = 6, .family = 4 };
		uint32_t src = rnd();

		memcpy(f.src, &src, 4);
		memcpy(f.dst, "\x0a\x0a\x00\x0a", 4);
		f.sport = (uint16_t)rnd();
		f.dport = 0x5000; /* 80, network order */
		e[i] = sl_maglev_index(sl_flow_hash(&f));
		assert_true(e[i] < M);
	}
	return e;
}

static void backends(struct maglev_backend *b, size_t n, const uint32_t *weights, uint32_t first_id)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t id = first_id + (uint32_t)i;

		b[i].id = maglev__id(&id, sizeof(id));
		b[i].weight = weights ? weights[i] : 1;
	}
}

/* Share of flows per backend against the weights: within 2 points each. */
static void check_shares(const uint32_t *weights, size_t n)
{
	struct maglev_backend b[64];
	uint8_t *t = malloc(M);
	uint32_t *e = flow_entries();
	uint64_t count[64] = { 0 }, wsum = 0;

	backends(b, n, weights, 1000);
	assert_int_equal(maglev__build(b, n, M, t), 0);
	for (int i = 0; i < FLOWS; i++)
		count[t[e[i]]]++;
	for (size_t i = 0; i < n; i++)
		wsum += weights[i];
	for (size_t i = 0; i < n; i++) {
		double share = (double)count[i] / FLOWS, want = (double)weights[i] / (double)wsum;

		if (fabs(share - want) > 0.02)
			fail_msg("backend %zu of %zu: %.2f%% of flows, weight says %.2f%%", i, n, 100 * share, 100 * want);
	}
	free(t);
	free(e);
}

static void test_shares_follow_weights(void **state)
{
	static const uint32_t w9010[] = { 90, 10 }, w5050[] = { 50, 50 }, w1234[] = { 1, 2, 3, 4 },
			      wskew[] = { 1000, 1, 1, 1, 1, 1 }, w0[] = { 3, 0, 1 };
	uint32_t eq[10], many[64];

	check_shares(w9010, 2);
	check_shares(w5050, 2);
	check_shares(w1234, 4);
	check_shares(wskew, 6);
	check_shares(w0, 3);
	for (int i = 0; i < 10; i++)
		eq[i] = 1;
	check_shares(eq, 10);
	for (int i = 0; i < 64; i++)
		many[i] = 1 + (uint32_t)i % 5;
	check_shares(many, 64);
}

static void test_weight_zero_gets_nothing(void **state)
{
	static const uint32_t w[] = { 5, 0, 5 };
	struct maglev_backend b[3];
	uint8_t *t = malloc(M);

	backends(b, 3, w, 7);
	assert_int_equal(maglev__build(b, 3, M, t), 0);
	for (uint32_t i = 0; i < M; i++)
		assert_int_not_equal(t[i], 1);
	free(t);
}

/* Fraction of flows whose backend id differs between two tables. */
static double moved(const uint8_t *t1, const struct maglev_backend *b1, const uint8_t *t2,
		    const struct maglev_backend *b2, const uint32_t *e)
{
	int n = 0;

	for (int i = 0; i < FLOWS; i++)
		n += b1[t1[e[i]]].id != b2[t2[e[i]]].id;
	return (double)n / FLOWS;
}

/*
 * Removing or adding one backend of N moves about 1/N of flows (the ideal: the departing
 * backend's flows, or the newcomer's share). Replacing one backend by another is both at
 * once: the departing backend's 1/N moves, and the newcomer, whose permutation is its own,
 * takes its 1/N from everyone, so about 2/N moves; no scheme that places the newcomer
 * independently of the one it replaces can do better.
 */
static void check_moved(const char *what, size_t n, double f, double ideal)
{
	print_message("N=%zu %s: %.1f%% of flows moved (ideal %.1f%%)\n", n, what, 100 * f, 100 * ideal);
	if (f < ideal * 0.9 || f > ideal * 1.6)
		fail_msg("N=%zu: %s moved %.1f%% of flows, want about %.1f%%", n, what, 100 * f, 100 * ideal);
}

static void test_one_change_moves_one_nth(void **state)
{
	static const size_t sizes[] = { 3, 5, 10, 20 };
	uint8_t *t1 = malloc(M), *t2 = malloc(M);
	uint32_t *e = flow_entries();
	struct maglev_backend b1[32], b2[32];

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		backends(b1, n, NULL, 100);
		assert_int_equal(maglev__build(b1, n, M, t1), 0);

		/* remove one (the last, and one in the middle) */
		assert_int_equal(maglev__build(b1, n - 1, M, t2), 0);
		check_moved("removing the last backend", n, moved(t1, b1, t2, b1, e), 1.0 / (double)n);
		memcpy(b2, b1, n * sizeof(*b1));
		memmove(&b2[1], &b2[2], (n - 2) * sizeof(*b2));
		assert_int_equal(maglev__build(b2, n - 1, M, t2), 0);
		check_moved("removing backend 1", n, moved(t1, b1, t2, b2, e), 1.0 / (double)n);

		/* add one: from N to N + 1 */
		memcpy(b2, b1, n * sizeof(*b1));
		b2[n].id = maglev__id("added", 5);
		b2[n].weight = 1;
		assert_int_equal(maglev__build(b2, n + 1, M, t2), 0);
		check_moved("adding a backend", n, moved(t1, b1, t2, b2, e), 1.0 / (double)(n + 1));

		/* replace backend 1 with a new one */
		memcpy(b2, b1, n * sizeof(*b1));
		b2[1].id = maglev__id("replacement", 11);
		assert_int_equal(maglev__build(b2, n, M, t2), 0);
		check_moved("replacing backend 1", n, moved(t1, b1, t2, b2, e), 2.0 / (double)n * (1.0 - 1.0 / (double)n));
	}
	free(t1);
	free(t2);
	free(e);
}

/* The same input gives the same table (agents on every node agree). */
static void test_deterministic(void **state)
{
	static const uint32_t w[] = { 7, 3, 9 };
	struct maglev_backend b[3];
	uint8_t *t1 = malloc(M), *t2 = malloc(M);

	backends(b, 3, w, 55);
	assert_int_equal(maglev__build(b, 3, M, t1), 0);
	assert_int_equal(maglev__build(b, 3, M, t2), 0);
	assert_memory_equal(t1, t2, M);
	free(t1);
	free(t2);
}

static void test_refuses_bad_input(void **state)
{
	struct maglev_backend b[256];
	uint8_t *t = malloc(M);

	backends(b, 256, NULL, 1);
	assert_int_equal(maglev__build(b, 0, M, t), -EINVAL);
	assert_int_equal(maglev__build(b, 256, M, t), -EINVAL);
	assert_int_equal(maglev__build(b, 3, 3, t), -EINVAL);
	b[0].weight = b[1].weight = 0;
	assert_int_equal(maglev__build(b, 2, M, t), -EINVAL);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares_follow_weights),
		cmocka_unit_test(test_weight_zero_gets_nothing),
		cmocka_unit_test(test_one_change_moves_one_nth),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_refuses_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
