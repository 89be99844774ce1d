// SPDX-License-Identifier: Apache-2.0
/*
 * test_policy_delta.c — common/policy_delta: a delta rebuilds exactly the target (same
 * content hash) from its base for edits, additions, removals and moves of rules and
 * routes; a one-rule edit of a large policy is a small delta; a delta that reaches past
 * its base is refused.
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

#include "common/policy.h"
#include "common/policy_delta.h"

/* n rules r0..r(n-1); rule `edited` gets another port; `drop` (if < n) is left out;
 * `extra` adds a rule "new" at the front; routes: one, or none. */
static Sluice__V1__Policy *make(size_t n, size_t edited, size_t drop, int extra, int routes)
{
	Sluice__V1__Policy *p = NULL;
	char *text = NULL, err[512];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fputs("rules:\n", f);
	if (extra)
		fputs("  - { name: new, priority: 1, action: drop }\n", f);
	for (size_t i = 0; i < n; i++)
		if (i != drop)
			fprintf(f, "  - { name: r%zu, priority: %zu, match: { proto: tcp, dst_ports: [%zu] }, action: drop }\n", i,
				i + 10, i == edited ? 9 : i % 60000 + 100);
	if (routes)
		fputs("routes:\n  - name: api\n    frontend: { vip: 10.10.0.10, proto: tcp, port: 80 }\n"
		      "    backends: [ { addr: 10.20.0.11, port: 8080, weight: 90 } ]\n",
		      f);
	fclose(f);
	if (policy_yaml__parse_string("t.yaml", text, len, 0, &p, err, sizeof(err)))
		fail_msg("%s", err);
	free(text);
	return p;
}

/* Packs the delta base -> target, applies it to base, and checks the result's hash. */
static size_t round_trip(const Sluice__V1__Policy *base, const Sluice__V1__Policy *target)
{
	char want[POLICY_HASH_HEX], got[POLICY_HASH_HEX], bh[POLICY_HASH_HEX];
	Sluice__V1__PolicyDelta *d;
	Sluice__V1__Policy *out;
	uint8_t *buf;
	size_t len;

	Sluice__V1__Policy empty = SLUICE__V1__POLICY__INIT;

	assert_int_equal(policy__hash(base ? base : &empty, bh), 0);
	assert_int_equal(policy_delta__pack(base, 7, bh, target, &buf, &len), 0);
	d = sluice__v1__policy_delta__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(d);
	assert_int_equal(d->base_revision, 7);
	assert_string_equal(d->base_hash, bh);
	assert_int_equal(policy_delta__apply(base, d, &out), 0);
	assert_int_equal(policy__hash(target, want), 0);
	assert_int_equal(policy__hash(out, got), 0);
	assert_string_equal(got, want);
	policy__free(out);
	sluice__v1__policy_delta__free_unpacked(d, NULL);
	return len;
}

static void test_edits_round_trip(void **state)
{
	Sluice__V1__Policy *base = make(50, 99, 99, 0, 1);
	Sluice__V1__Policy *t[] = {
		make(50, 3, 99, 0, 1), /* one rule edited */
		make(50, 99, 7, 0, 1), /* one removed */
		make(50, 99, 99, 1, 1), /* one added in front */
		make(50, 3, 7, 1, 0),	/* all of it, and the route gone */
		make(0, 99, 99, 0, 0),	/* nothing left */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		round_trip(base, t[i]);
		policy__free(t[i]);
	}
	round_trip(NULL, base); /* from nothing: every entry new */
	policy__free(base);
}

static void test_small_edit_is_small(void **state)
{
	Sluice__V1__Policy *base = make(5000, 99999, 99999, 0, 0), *t = make(5000, 2500, 99999, 0, 0);
	uint8_t *full;
	size_t full_len, len;

	assert_int_equal(policy__pack(t, &full, &full_len), 0);
	free(full);
	len = round_trip(base, t);
	print_message("5000 rules, one edited: delta %zu bytes, whole policy %zu\n", len, full_len);
	assert_true(len < 300);
	assert_true(full_len > 100000);
	policy__free(base);
	policy__free(t);
}

static void test_bad_delta_refused(void **state)
{
	Sluice__V1__Policy *base = make(3, 99, 99, 0, 0), *out = NULL;
	Sluice__V1__PolicyPiece piece = SLUICE__V1__POLICY_PIECE__INIT, empty = SLUICE__V1__POLICY_PIECE__INIT;
	Sluice__V1__PolicyPiece *pieces[] = { &piece };
	Sluice__V1__PolicyDelta d = SLUICE__V1__POLICY_DELTA__INIT;

	piece.copy_from = 2;
	piece.copy_count = 2; /* reaches past the base's three rules */
	d.n_rules = 1;
	d.rules = pieces;
	assert_int_equal(policy_delta__apply(base, &d, &out), -EINVAL);
	assert_null(out);
	pieces[0] = &empty; /* neither a run nor a rule */
	assert_int_equal(policy_delta__apply(base, &d, &out), -EINVAL);
	policy__free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edits_round_trip),
		cmocka_unit_test(test_small_edit_is_small),
		cmocka_unit_test(test_bad_delta_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
