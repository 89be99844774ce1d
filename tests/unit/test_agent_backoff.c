// SPDX-License-Identifier: Apache-2.0
/* test_agent_backoff.c — reconnect backoff: exponential growth, cap, full-jitter bounds,
 * no overflow, and that the jitter really spreads over the whole range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "session.h"

static void test_ceiling_grows_then_caps(void **state)
{
	assert_int_equal(session__backoff_ceiling_ms(0, 200, 10000), 200);
	assert_int_equal(session__backoff_ceiling_ms(1, 200, 10000), 400);
	assert_int_equal(session__backoff_ceiling_ms(2, 200, 10000), 800);
	assert_int_equal(session__backoff_ceiling_ms(5, 200, 10000), 6400);
	assert_int_equal(session__backoff_ceiling_ms(6, 200, 10000), 10000);
	assert_int_equal(session__backoff_ceiling_ms(7, 200, 10000), 10000);
	for (unsigned a = 1; a < 100; a++)
		assert_true(session__backoff_ceiling_ms(a, 200, 10000) >= session__backoff_ceiling_ms(a - 1, 200, 10000));
}

static void test_no_overflow(void **state)
{
	assert_int_equal(session__backoff_ceiling_ms(1000000, 200, 10000), 10000);
	assert_int_equal(session__backoff_ceiling_ms(64, UINT32_MAX / 2, UINT32_MAX), UINT32_MAX);
	assert_int_equal(session__backoff_ceiling_ms(40, 1, UINT32_MAX), UINT32_MAX);
	assert_true(session__backoff_ms(1000000, 200, 10000, UINT64_MAX) <= 10000);
}

static void test_base_above_cap(void **state)
{
	assert_int_equal(session__backoff_ceiling_ms(0, 500, 100), 100);
	assert_int_equal(session__backoff_ceiling_ms(3, 500, 100), 100);
}

static void test_delay_within_bounds(void **state)
{
	uint64_t x = 88172645463325252ULL;

	for (unsigned a = 0; a < 20; a++) {
		uint32_t ceiling = session__backoff_ceiling_ms(a, 200, 10000);

		for (int i = 0; i < 1000; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			assert_true(session__backoff_ms(a, 200, 10000, x) <= ceiling);
		}
	}
	/* The extremes of the range are reachable. */
	assert_int_equal(session__backoff_ms(0, 200, 10000, 0), 0);
	assert_int_equal(session__backoff_ms(0, 200, 10000, 200), 200);
	assert_int_equal(session__backoff_ms(9, 200, 10000, 10000), 10000);
}

static void test_full_jitter_spreads(void **state)
{
	/* Full jitter: draws at the cap land in every tenth of [0, cap]. */
	unsigned buckets[10] = { 0 };
	uint64_t x = 0x9E3779B97F4A7C15ULL;

	for (int i = 0; i < 10000; i++) {
		uint32_t d;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		d = session__backoff_ms(10, 200, 10000, x);
		buckets[d >= 10000 ? 9 : d / 1000]++;
	}
	for (int b = 0; b < 10; b++)
		assert_true(buckets[b] > 700 && buckets[b] < 1300);
}

static void test_pure(void **state)
{
	assert_int_equal(session__backoff_ms(3, 200, 10000, 123456789), session__backoff_ms(3, 200, 10000, 123456789));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling_grows_then_caps),
		cmocka_unit_test(test_no_overflow),
		cmocka_unit_test(test_base_above_cap),
		cmocka_unit_test(test_delay_within_bounds),
		cmocka_unit_test(test_full_jitter_spreads),
		cmocka_unit_test(test_pure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
