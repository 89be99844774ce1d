// SPDX-License-Identifier: Apache-2.0
/*
 * test_policy_diff.c — common/policy_diff: rules and routes added, removed and changed
 * field by field, ties reordered among equal priorities, the JSON and text forms, and
 * a diff of two large policies staying fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/policy.h"
#include "common/policy_diff.h"

static Sluice__V1__Policy *parse(const char *text)
{
	Sluice__V1__Policy *p = NULL;
	char err[512];

	if (policy_yaml__parse_string("t.yaml", text, strlen(text), 0, &p, err, sizeof(err)))
		fail_msg("test policy does not parse: %s", err);
	return p;
}

static const char base[] = "rules:\n"
			   "  - name: block-telnet\n"
			   "    priority: 10\n"
			   "    match: { proto: tcp, dst_ports: [23] }\n"
			   "    action: drop\n"
			   "  - name: count-all\n"
			   "    priority: 50\n"
			   "    action: count\n"
			   "  - name: old-rule\n"
			   "    priority: 60\n"
			   "    action: pass\n"
			   "routes:\n"
			   "  - name: orders-api\n"
			   "    frontend: { vip: 10.10.0.10, proto: tcp, port: 80 }\n"
			   "    backends:\n"
			   "      - { addr: 10.20.0.11, port: 8080, weight: 90, tag: v1 }\n"
			   "      - { addr: 10.20.0.12, port: 8080, weight: 10, tag: v2 }\n";

static const char next[] = "rules:\n"
			   "  - name: block-ssh\n"
			   "    priority: 5\n"
			   "    match: { proto: tcp, dst_ports: [22] }\n"
			   "    action: drop\n"
			   "  - name: block-telnet\n"
			   "    priority: 10\n"
			   "    match: { proto: tcp, dst_ports: [23, 2323] }\n"
			   "    action: drop\n"
			   "    sample: { one_in: 10 }\n"
			   "  - name: count-all\n"
			   "    priority: 50\n"
			   "    action: count\n"
			   "routes:\n"
			   "  - name: orders-api\n"
			   "    frontend: { vip: 10.10.0.10, proto: tcp, port: 80 }\n"
			   "    backends:\n"
			   "      - { addr: 10.20.0.11, port: 8080, weight: 90, tag: v1 }\n"
			   "      - { addr: 10.20.0.12, port: 8080, weight: 30, tag: v2 }\n";

static const struct policy_diff_entry *find(const struct policy_diff *d, enum policy_diff_kind kind,
					    const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->entries[i].kind == kind && strcmp(d->entries[i].name, name) == 0)
			return &d->entries[i];
	return NULL;
}

static const struct policy_diff_field *field(const struct policy_diff_entry *e, const char *path)
{
	for (size_t i = 0; e && i < e->n_fields; i++)
		if (strcmp(e->fields[i].path, path) == 0)
			return &e->fields[i];
	return NULL;
}

static char *text_of(const json_t *v)
{
	static char buf[256];

	return (char *)policy_diff__value_text(v, buf, sizeof(buf));
}

static void test_identical_policies(void **state)
{
	Sluice__V1__Policy *a = parse(base), *b = parse(base);
	struct policy_diff d;
	char sum[128];
	json_t *j;

	assert_int_equal(policy_diff__compute(a, b, &d), 0);
	assert_int_equal(d.n, 0);
	policy_diff__summary(&d, sum, sizeof(sum));
	assert_string_equal(sum, "no changes");
	j = policy_diff__json(&d);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "rules"), "changed")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(j, "summary"), "routes"),
							      "added")),
			 0);
	json_decref(j);
	policy_diff__clear(&d);
	policy__free(a);
	policy__free(b);
}

static void test_added_removed_changed(void **state)
{
	Sluice__V1__Policy *a = parse(base), *b = parse(next);
	const struct policy_diff_entry *e;
	const struct policy_diff_field *f;
	struct policy_diff d;
	char sum[256];

	assert_int_equal(policy_diff__compute(a, b, &d), 0);
	assert_int_equal(d.count[POLICY_DIFF_RULE][POLICY_DIFF_ADDED], 1);
	assert_int_equal(d.count[POLICY_DIFF_RULE][POLICY_DIFF_REMOVED], 1);
	assert_int_equal(d.count[POLICY_DIFF_RULE][POLICY_DIFF_CHANGED], 1);
	assert_int_equal(d.count[POLICY_DIFF_ROUTE][POLICY_DIFF_CHANGED], 1);
	assert_int_equal(d.n, 4);

	/* Order: the newer policy's rules, then removed rules, then routes. */
	assert_string_equal(d.entries[0].name, "block-ssh");
	assert_int_equal(d.entries[0].op, POLICY_DIFF_ADDED);
	assert_string_equal(d.entries[1].name, "block-telnet");
	assert_string_equal(d.entries[2].name, "old-rule");
	assert_int_equal(d.entries[2].op, POLICY_DIFF_REMOVED);
	assert_int_equal(d.entries[3].kind, POLICY_DIFF_ROUTE);

	e = find(&d, POLICY_DIFF_RULE, "block-telnet");
	assert_non_null(e);
	assert_int_equal(e->op, POLICY_DIFF_CHANGED);
	assert_int_equal(e->n_fields, 2);
	f = field(e, "match.dst_ports");
	assert_non_null(f);
	assert_string_equal(text_of(f->before), "[23]");
	assert_string_equal(text_of(f->after), "[23, 2323]");
	f = field(e, "sample");
	assert_non_null(f);
	assert_null(f->before);
	assert_string_equal(text_of(f->after), "{\"one_in\": 10, \"snaplen\": 256}");
	/* count-all moved in the file, but its priority has no rival: not a change. */
	assert_null(find(&d, POLICY_DIFF_RULE, "count-all"));

	e = find(&d, POLICY_DIFF_ROUTE, "orders-api");
	assert_non_null(e);
	assert_int_equal(e->n_fields, 1);
	f = field(e, "backends[1].weight");
	assert_non_null(f);
	assert_int_equal(json_integer_value(f->before), 10);
	assert_int_equal(json_integer_value(f->after), 30);

	policy_diff__summary(&d, sum, sizeof(sum));
	assert_string_equal(sum, "rules: 1 added, 1 removed, 1 changed; routes: 0 added, 0 removed, 1 changed");
	policy_diff__clear(&d);
	assert_int_equal(d.n, 0);
	policy_diff__clear(NULL);
	policy__free(a);
	policy__free(b);
}

static void test_tie_order_is_a_change(void **state)
{
	static const char ab[] = "rules:\n"
				 "  - { name: a, priority: 10, action: drop }\n"
				 "  - { name: b, priority: 10, action: pass }\n"
				 "  - { name: c, priority: 20, action: pass }\n";
	static const char ba[] = "rules:\n"
				 "  - { name: c, priority: 20, action: pass }\n"
				 "  - { name: b, priority: 10, action: pass }\n"
				 "  - { name: a, priority: 10, action: drop }\n";
	Sluice__V1__Policy *a = parse(ab), *b = parse(ba);
	const struct policy_diff_field *f;
	struct policy_diff d;

	assert_int_equal(policy_diff__compute(a, b, &d), 0);
	assert_int_equal(d.count[POLICY_DIFF_RULE][POLICY_DIFF_CHANGED], 2);
	assert_null(find(&d, POLICY_DIFF_RULE, "c")); /* alone at its priority */
	f = field(find(&d, POLICY_DIFF_RULE, "a"), "position");
	assert_non_null(f);
	assert_int_equal(json_integer_value(f->before), 1);
	assert_int_equal(json_integer_value(f->after), 3);
	policy_diff__clear(&d);
	policy__free(a);
	policy__free(b);
}

static void test_against_nothing(void **state)
{
	Sluice__V1__Policy *b = parse(next);
	struct policy_diff d;

	assert_int_equal(policy_diff__compute(NULL, b, &d), 0);
	assert_int_equal(d.count[POLICY_DIFF_RULE][POLICY_DIFF_ADDED], 3);
	assert_int_equal(d.count[POLICY_DIFF_ROUTE][POLICY_DIFF_ADDED], 1);
	policy_diff__clear(&d);
	assert_int_equal(policy_diff__compute(b, NULL, &d), 0);
	assert_int_equal(d.count[POLICY_DIFF_RULE][POLICY_DIFF_REMOVED], 3);
	policy_diff__clear(&d);
	policy__free(b);
}

static void test_json_and_text(void **state)
{
	Sluice__V1__Policy *a = parse(base), *b = parse(next);
	struct policy_diff d;
	json_t *j, *changed, *c0;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(policy_diff__compute(a, b, &d), 0);
	j = policy_diff__json(&d);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(json_object_get(j, "rules"), "added"), 0), "name")),
			    "block-ssh");
	changed = json_object_get(json_object_get(j, "rules"), "changed");
	assert_int_equal(json_array_size(changed), 1);
	c0 = json_array_get(json_object_get(json_array_get(changed, 0), "changes"), 0);
	assert_string_equal(json_string_value(json_object_get(c0, "field")), "match.dst_ports");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(c0, "after"), 1)), 2323);
	c0 = json_array_get(json_object_get(json_array_get(changed, 0), "changes"), 1);
	assert_true(json_is_null(json_object_get(c0, "before")));
	json_decref(j);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	policy_diff__print(&d, f, false);
	fclose(f);
	assert_non_null(strstr(text, "+ rule block-ssh: {\"name\": \"block-ssh\""));
	assert_non_null(strstr(text, "~ rule block-telnet\n    match.dst_ports: [23] -> [23, 2323]\n"));
	assert_non_null(strstr(text, "    sample: (none) -> {\"one_in\": 10, \"snaplen\": 256}\n"));
	assert_non_null(strstr(text, "- rule old-rule: "));
	assert_non_null(strstr(text, "~ route orders-api\n    backends[1].weight: 10 -> 30\n"));
	assert_null(strchr(text, '\033'));
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	policy_diff__print(&d, f, true);
	fclose(f);
	assert_non_null(strstr(text, "\033[32m+ rule block-ssh"));
	free(text);
	policy_diff__clear(&d);
	policy__free(a);
	policy__free(b);
}

/* Two 16,384-rule policies differing in one rule: the diff must not be quadratic. */
static void test_large_policies(void **state)
{
	size_t n = POLICY_DEFAULT_CAPACITY, len = 0;
	char *ya = NULL, *yb = NULL;
	Sluice__V1__Policy *a, *b;
	struct policy_diff d;
	struct timespec t0, t1;
	FILE *fa, *fb;
	double ms;

	fa = open_memstream(&ya, &len);
	fb = open_memstream(&yb, &len);
	fputs("rules:\n", fa);
	fputs("rules:\n", fb);
	for (size_t i = 0; i < n; i++) {
		fprintf(fa, "  - { name: r%zu, priority: %zu, match: { proto: tcp, dst_ports: [%zu] }, action: drop }\n",
			i, i % 100, i % 60000 + 1);
		fprintf(fb, "  - { name: r%zu, priority: %zu, match: { proto: tcp, dst_ports: [%zu] }, action: drop }\n",
			i, i % 100, i == 7 ? 9 : i % 60000 + 1);
	}
	fclose(fa);
	fclose(fb);
	a = parse(ya);
	b = parse(yb);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(policy_diff__compute(a, b, &d), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("diff of two %zu-rule policies: %.1f ms\n", n, ms);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.entries[0].name, "r7");
	assert_true(ms < 5000);
	policy_diff__clear(&d);
	policy__free(a);
	policy__free(b);
	free(ya);
	free(yb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identical_policies), cmocka_unit_test(test_added_removed_changed),
		cmocka_unit_test(test_tie_order_is_a_change), cmocka_unit_test(test_against_nothing),
		cmocka_unit_test(test_json_and_text),	    cmocka_unit_test(test_large_policies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
