// SPDX-License-Identifier: Apache-2.0
/*
 * test_policy_monitor.c — the policy's monitoring settings (common/policy_monitor.c):
 * tls_only and deprecated_paths on rules and routes and the detectors section parsed
 * from YAML, rendered back as JSON that parses to the same content hash, and refused
 * with the file position and the field when wrong.
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

static const char good[] = "rules:\n"
			   "  - name: web\n"
			   "    match: { proto: tcp, dst_ports: [80] }\n"
			   "    action: pass\n"
			   "    sample: { one_in: 100 }\n"
			   "    tls_only: yes\n"
			   "    deprecated_paths: /v0/\n"
			   "routes:\n"
			   "  - name: orders-api\n"
			   "    frontend: { vip: 10.10.0.10, proto: tcp, port: 80 }\n"
			   "    backends: [{ addr: 10.20.0.11, port: 8080 }]\n"
			   "    deprecated_paths: [\"/v1/\", \"/beta/\"]\n"
			   "detectors:\n"
			   "  port_scan: { min: 30, window: 3s, sigma: 5.5, severity: critical,\n"
			   "               mitigate: { action: drop, ttl: 10m } }\n"
			   "  syn_flood: { min: 1000, mitigate: { action: rate_limit, pps: 50 } }\n"
			   "  new_talker: { enabled: false }\n";

static Sluice__V1__Policy *parse_ok(const char *text)
{
	Sluice__V1__Policy *p = NULL;
	char err[512];

	if (policy_yaml__parse_string("t.yaml", text, strlen(text), 0, &p, err, sizeof(err)))
		fail_msg("refused: %s", err);
	return p;
}

static void expect_error(const char *text, const char *want)
{
	Sluice__V1__Policy *p = NULL;
	char err[512] = "";

	if (policy_yaml__parse_string("t.yaml", text, strlen(text), 0, &p, err, sizeof(err)) == 0) {
		policy__free(p);
		fail_msg("accepted, expected: %s", want);
	}
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_parse(void **state)
{
	Sluice__V1__Policy *p = parse_ok(good);
	const Sluice__V1__Detectors *d = p->detectors;

	assert_true(p->rules[0]->tls_only);
	assert_int_equal(p->rules[0]->n_deprecated_paths, 1);
	assert_string_equal(p->rules[0]->deprecated_paths[0], "/v0/");
	assert_false(p->routes[0]->tls_only);
	assert_int_equal(p->routes[0]->n_deprecated_paths, 2);
	assert_string_equal(p->routes[0]->deprecated_paths[1], "/beta/");
	assert_non_null(d);
	assert_true(d->port_scan->min == 30);
	assert_int_equal(d->port_scan->window_seconds, 3);
	assert_true(d->port_scan->sigma == 5.5);
	assert_int_equal(d->port_scan->severity, SLUICE__V1__ALERT_SEVERITY__SEVERITY_CRITICAL);
	assert_int_equal(d->port_scan->mitigate->action, SLUICE__V1__ACTION__ACTION_DROP);
	assert_int_equal(d->port_scan->mitigate->ttl_seconds, 600);
	assert_int_equal(d->syn_flood->mitigate->action, SLUICE__V1__ACTION__ACTION_RATE_LIMIT);
	assert_int_equal(d->syn_flood->mitigate->pps, 50);
	assert_true(d->new_talker->disabled);
	assert_null(d->volume);
	policy__free(p);
}

static void test_json_round_trip(void **state)
{
	Sluice__V1__Policy *p = parse_ok(good), *q;
	char h1[POLICY_HASH_HEX], h2[POLICY_HASH_HEX];
	json_t *j = policy_json__from_policy(p);
	char *text = json_dumps(j, JSON_PRESERVE_ORDER);

	assert_non_null(text);
	assert_non_null(strstr(text, "\"tls_only\": true"));
	assert_non_null(strstr(text, "\"detectors\""));
	q = parse_ok(text);
	assert_int_equal(policy__hash(p, h1), 0);
	assert_int_equal(policy__hash(q, h2), 0);
	assert_string_equal(h1, h2);
	/* Detector settings are content: changing one changes the hash. */
	q->detectors->port_scan->min = 31;
	assert_int_equal(policy__hash(q, h2), 0);
	assert_string_not_equal(h1, h2);
	free(text);
	json_decref(j);
	policy__free(p);
	policy__free(q);
}

static void test_refused(void **state)
{
	expect_error("detectors:\n  port_scan: { severity: loud }\n",
		     "t.yaml:2:26: detector 'port_scan': severity: 'loud' is not a severity");
	expect_error("detectors:\n  port_scans: {}\n", "unknown key 'port_scans'");
	expect_error("detectors:\n  volume: { sigma: -1 }\n", "sigma: '-1' is negative");
	expect_error("detectors:\n  volume: { mitigate: { action: rate_limit } }\n",
		     "detectors.volume.mitigate: pps: a rate_limit mitigation needs pps above 0");
	expect_error("detectors:\n  volume: { mitigate: { action: pass } }\n", "'pass' is not allowed (drop or rate_limit)");
	expect_error("detectors:\n  volume: { window: 2 days }\n", "is not an interval");
	expect_error("rules:\n  - name: r\n    action: pass\n    tls_only: true\n",
		     "t.yaml:4:15: rule 'r': tls_only: compliance is checked on sampled packets");
	expect_error("rules:\n  - name: r\n    action: pass\n    tls_only: maybe\n", "'maybe' is not true or false");
	expect_error("routes:\n  - name: a\n    frontend: { vip: 10.0.0.1, proto: tcp, port: 80 }\n"
		     "    backends: [{ addr: 10.0.0.2 }]\n    deprecated_paths: [\"/ok/\", \"v1\"]\n",
		     "t.yaml:5:32: route 'a': deprecated_paths: 'v1' is not a path prefix");
	expect_error("routes:\n  - name: a\n    frontend: { vip: 10.0.0.1, proto: tcp, port: 80 }\n"
		     "    backends: [{ addr: 10.0.0.2 }]\n    deprecated_paths: { a: b }\n",
		     "expected a path prefix or a list of them");
	expect_error("detectors: {}\ndetectors: {}\n", "detectors");
}

/* Tiny numbers are numbers: strtod's ERANGE on underflow is not a refusal, and a
 * denormal renders to JSON and reads back exactly. Too large ones are out of range. */
static void test_tiny_and_huge_numbers(void **state)
{
	Sluice__V1__Policy *p = parse_ok("detectors:\n  volume: { sigma: 1e-320, min: 4.9406564584124654e-324 }\n"), *q;
	json_t *j;
	char *text, err[512];

	assert_true(p->detectors->volume->sigma > 0 && p->detectors->volume->sigma < 1e-300);
	assert_true(p->detectors->volume->min > 0);
	j = policy_json__from_policy(p);
	text = json_dumps(j, 0);
	assert_int_equal(policy_yaml__parse_string("t.json", text, strlen(text), 0, &q, err, sizeof(err)), 0);
	assert_true(q->detectors->volume->sigma == p->detectors->volume->sigma);
	assert_true(q->detectors->volume->min == p->detectors->volume->min);
	free(text);
	json_decref(j);
	policy__free(p);
	policy__free(q);
	p = parse_ok("detectors:\n  volume: { min: 1e-400 }\n"); /* underflows to 0 */
	assert_true(p->detectors->volume->min == 0);
	policy__free(p);
	expect_error("detectors:\n  volume: { min: 1e400 }\n", "min: '1e400' is out of range");
	expect_error("detectors:\n  volume: { min: nan }\n", "min: 'nan' is out of range");
	expect_error("detectors:\n  volume: { min: 3x }\n", "min: '3x' is not a number");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_tiny_and_huge_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
