// SPDX-License-Identifier: Apache-2.0
/*
 * test_policy.c — the policy model: YAML parsing into the expected fields, errors
 * that name file:line:col and the field, validation without positions (the
 * controller's path), the content hash, directory merge, the JSON rendering and its
 * round trip back through the YAML parser, capacity, and the text helpers.
 * Fixtures are in tests/data (SLUICE_TEST_DATA, else found next to this file).
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

static char err[1024];

static const char *data_dir(void)
{
	static char dir[4096];
	const char *env = getenv("SLUICE_TEST_DATA");

	if (env && env[0])
		return env;
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s", __FILE__);
		*strrchr(dir, '/') = '\0';
		strncat(dir, "/../data", sizeof(dir) - strlen(dir) - 1);
	}
	return dir;
}

static const char *data(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", data_dir(), name);
	return path;
}

static Sluice__V1__Policy *parse_ok(const char *text)
{
	Sluice__V1__Policy *p = NULL;
	int rc = policy_yaml__parse_string("t.yaml", text, strlen(text), 0, &p, err, sizeof(err));

	if (rc)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(p);
	return p;
}

static void hash_of(const char *text, char out[POLICY_HASH_HEX])
{
	Sluice__V1__Policy *p = parse_ok(text);

	assert_int_equal(policy__hash(p, out), 0);
	policy__free(p);
}

static void assert_cidr(const Sluice__V1__Cidr *c, const char *want)
{
	char buf[POLICY_ADDR_STR];

	assert_int_equal(policy__format_cidr(c->addr.data, c->addr.len, c->prefix_len, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void test_good_file(void **state)
{
	Sluice__V1__Policy *p = NULL;
	const Sluice__V1__Rule *r;
	const Sluice__V1__Route *rt;

	assert_int_equal(policy_yaml__parse_file(data("policy_good.yaml"), 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p->n_rules, 5);
	assert_int_equal(p->n_routes, 1);

	r = p->rules[0];
	assert_string_equal(r->name, "block-telnet");
	assert_int_equal(r->priority, 10);
	assert_int_equal(r->match->proto, 6);
	assert_int_equal(r->match->n_dst_ports, 1);
	assert_int_equal(r->match->dst_ports[0]->lo, 23);
	assert_int_equal(r->match->dst_ports[0]->hi, 23);
	assert_int_equal(r->action, SLUICE__V1__ACTION__ACTION_DROP);
	assert_null(r->rate_limit);
	assert_null(r->sample);

	r = p->rules[1];
	assert_string_equal(r->name, "orders-api-limit");
	assert_int_equal(r->match->n_dst, 1);
	assert_cidr(r->match->dst[0], "10.10.0.10");
	assert_int_equal(r->match->dst[0]->prefix_len, 32);
	assert_int_equal(r->match->n_dst_ports, 2);
	assert_int_equal(r->match->dst_ports[1]->lo, 8000);
	assert_int_equal(r->match->dst_ports[1]->hi, 8100);
	assert_int_equal(r->action, SLUICE__V1__ACTION__ACTION_RATE_LIMIT);
	assert_non_null(r->rate_limit);
	assert_int_equal(r->rate_limit->pps, 1000);
	assert_int_equal(r->rate_limit->bps, 0);
	assert_int_equal(r->rate_limit->burst, 200);
	assert_int_equal(r->rate_limit->per, SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE);
	assert_int_equal(r->sample->one_in, 100);
	assert_int_equal(r->sample->snaplen, 128);

	r = p->rules[2];
	assert_int_equal(r->priority, POLICY_DEFAULT_PRIORITY);
	assert_int_equal(r->match->n_src, 2);
	assert_cidr(r->match->src[0], "2001:db8::/32");
	assert_cidr(r->match->src[1], "2001:db8:1::1");
	assert_int_equal(r->match->src[1]->prefix_len, 128);
	assert_int_equal(r->match->src_ports[0]->lo, 1024);
	assert_int_equal(r->match->src_ports[0]->hi, 65535);
	assert_int_equal(r->match->tcp_flags_set, 2);    /* syn */
	assert_int_equal(r->match->tcp_flags_unset, 16); /* ack */
	assert_int_equal(r->action, SLUICE__V1__ACTION__ACTION_COUNT);
	assert_int_equal(r->sample->snaplen, POLICY_DEFAULT_SNAPLEN);

	assert_int_equal(p->rules[3]->match->proto, 1);
	assert_int_equal(p->rules[3]->action, SLUICE__V1__ACTION__ACTION_PASS);
	r = p->rules[4];
	assert_int_equal(r->match->proto, 17);
	assert_int_equal(r->rate_limit->bps, 125000000);
	assert_int_equal(r->rate_limit->per, SLUICE__V1__RATE_LIMIT_PER__PER_RULE);

	rt = p->routes[0];
	assert_string_equal(rt->name, "orders-api");
	assert_int_equal(rt->frontend->vip.len, 4);
	assert_int_equal(rt->frontend->proto, 6);
	assert_int_equal(rt->frontend->port, 80);
	assert_int_equal(rt->n_backends, 3);
	assert_int_equal(rt->backends[0]->weight, 90);
	assert_string_equal(rt->backends[1]->tag, "v2");
	assert_int_equal(rt->backends[2]->weight, POLICY_DEFAULT_WEIGHT);
	assert_int_equal(rt->backends[2]->port, 80); /* the frontend's port */
	assert_string_equal(rt->backends[2]->tag, "");

	assert_non_null(p->rollout);
	assert_int_equal(p->rollout->n_selector, 1);
	assert_string_equal(p->rollout->selector[0]->key, "env");
	assert_string_equal(p->rollout->selector[0]->value, "prod");
	assert_int_equal(p->rollout->canary_percent, 10);
	assert_int_equal(p->rollout->batch_percent, 25);
	assert_int_equal(p->rollout->interval_seconds, 300);
	policy__free(p);
}

static void test_empty_inputs(void **state)
{
	Sluice__V1__Policy *p = NULL;
	const char *const empties[] = { "", "# only a comment\n", "---\n", "rules:\nroutes: []\n", "{}\n" };

	assert_int_equal(policy_yaml__parse_file(data("policy_empty.yaml"), 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p->n_rules, 0);
	assert_int_equal(p->n_routes, 0);
	assert_null(p->rollout);
	policy__free(p);
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		p = parse_ok(empties[i]);
		assert_int_equal(p->n_rules + p->n_routes, 0);
		policy__free(p);
	}
}

/* Each bad input: the error must contain every one of want[] (file:line:col, object, field, detail). */
struct bad_case {
	const char *yaml;
	const char *want[3];
};

static const struct bad_case bad_cases[] = {
	{ "rules:\n  - name: a\n    match: { proto: tcp, dst_ports: [80, 70000] }\n    action: drop\n",
	  { "t.yaml:3:42: ", "rule 'a': dst_ports: 70000 is not a port (1-65535)" } },
	{ "rules:\n  - name: a\n    match: { proto: tcp, dst_ports: [0] }\n    action: drop\n",
	  { "t.yaml:3:38:", "dst_ports: 0 is not a port" } },
	{ "rules:\n  - name: a\n    match: { proto: tcp, dst_ports: \"9000-8000\" }\n    action: drop\n",
	  { "t.yaml:3:37:", "rule 'a': dst_ports:", "backwards" } },
	{ "rules:\n  - name: a\n    match: { proto: tcp, src_ports: [x] }\n    action: drop\n",
	  { "t.yaml:3:38:", "src_ports: 'x' is not a port or a range" } },
	{ "rules:\n  - name: a\n    match:\n      dst: 10.0.0.1/8\n    action: drop\n",
	  { "t.yaml:4:12:", "rule 'a': dst:", "host bits set, did you mean 10.0.0.0/8" } },
	{ "rules:\n  - name: a\n    match: { src: [10.0.0.0/8, 10.0.0.300] }\n    action: drop\n",
	  { "t.yaml:3:32:", "rule 'a': src: '10.0.0.300' is not a CIDR" } },
	{ "rules:\n  - name: a\n    match: { src: 2001:db8::1/129 }\n    action: drop\n",
	  { "t.yaml:3:19:", "src:", "is not a CIDR" } },
	{ "rules:\n  - name: a\n    match: { dst_ports: [80] }\n    action: drop\n",
	  { "t.yaml:3:25:", "rule 'a': dst_ports:", "set proto: tcp or udp" } },
	{ "rules:\n  - name: a\n    match: { proto: icmp, dst_ports: [80] }\n    action: drop\n",
	  { "t.yaml:3:38:", "dst_ports: proto icmp has no ports", "set proto: tcp or udp" } },
	{ "rules:\n  - name: a\n    match: { proto: udp, tcp_flags: syn }\n    action: drop\n",
	  { "t.yaml:3:37:", "rule 'a': tcp_flags:", "set proto: tcp" } },
	{ "rules:\n  - name: a\n    match: { proto: tcp, tcp_flags: \"syn,bogus\" }\n    action: drop\n",
	  { "t.yaml:3:37:", "tcp_flags: 'bogus' is not a TCP flag" } },
	{ "rules:\n  - name: a\n    match: { proto: tcp, tcp_flags: \"syn,!syn\" }\n    action: drop\n",
	  { "t.yaml:3:37:", "tcp_flags: syn must be both set and clear" } },
	{ "rules:\n  - name: a\n    match: { proto: gre }\n    action: drop\n",
	  { "t.yaml:3:21:", "proto: 'gre' is not an IP protocol" } },
	{ "rules:\n  - name: a\n    action: drop\n  - name: b\n    action: pass\n  - name: a\n    action: count\n",
	  { "t.yaml:6:11: rule 'a': name: duplicate name, first used at t.yaml:2:11" } },
	{ "rules:\n  - name: a\n    action: drop\n    descr: x\n",
	  { "t.yaml:4:5: rule 'a': unknown key 'descr'", "allowed: name, priority, match, action, sample" } },
	{ "rules:\n  - name: a\n    match: { proto: tcp, ports: [80] }\n    action: drop\n",
	  { "t.yaml:3:26: rule 'a': match: unknown key 'ports'",
	    "allowed: src, dst, proto, src_ports, dst_ports, tcp_flags" } },
	{ "rules:\n  - name: a\n    match: { proto: tcp, dst_ports: { a: 1 } }\n    action: drop\n",
	  { "t.yaml:3:37:", "dst_ports: expected a port, a \"LO-HI\" range or a list of them, got a map" } },
	{ "rules:\n  name: a\n  action: drop\n", { "t.yaml:2:3: rules: expected a list of rules", "got a map" } },
	{ "rules:\n  - name: a\n    match: [ tcp ]\n    action: drop\n",
	  { "t.yaml:3:12: rule 'a': match: expected a map", "got a list" } },
	{ "rules:\n  - name: a\n    priority: high\n    action: drop\n",
	  { "t.yaml:3:15: rule 'a': priority: 'high' is not a number" } },
	{ "rules:\n  - name: a\n    match: { proto: tcp }\n", { "t.yaml:2:5: rule 'a': action: missing" } },
	{ "rules:\n  - name: a\n    action: reject\n", { "t.yaml:3:13: rule 'a': action: 'reject' is not an action" } },
	{ "rules:\n  - name: a\n    action: rate_limit\n", { "t.yaml:3:13:", "rate_limit needs its parameters" } },
	{ "rules:\n  - name: a\n    action: { rate_limit: { pps: 10, bps: 10 } }\n",
	  { "t.yaml:3:27: rule 'a': rate_limit: set exactly one of pps and bps" } },
	{ "rules:\n  - name: a\n    action: { rate_limit: { pps: 10, per: host } }\n",
	  { "t.yaml:3:43: rule 'a': rate_limit.per: 'host' is not allowed" } },
	{ "rules:\n  - name: a\n    action: drop\n    sample: { one_in: 10, snaplen: 1500 }\n",
	  { "t.yaml:4:36: rule 'a': sample.snaplen: 1500 is too large (at most 256)" } },
	{ "rules:\n  - name: a\n    action: drop\n    sample: { snaplen: 64 }\n",
	  { "t.yaml:4:13: rule 'a': sample.one_in: missing" } },
	{ "rules:\n  - action: drop\n", { "t.yaml:2:5: rule #1: name: missing" } },
	{ "rules:\n  - name: has space\n    action: drop\n", { "t.yaml:2:11: rule 'has space': name: ' ' is not allowed" } },
	{ "rules:\n  - name: a\n    match: { src: 10.0.0.0/8, dst: 2001:db8::/32 }\n    action: drop\n",
	  { "t.yaml:3:36:", "dst: only IPv6 addresses but src has only IPv4" } },
	{ "rules:\n  - name: a\n    match: { src: [] }\n    action: drop\n",
	  { "t.yaml:3:19: rule 'a': src: empty list (leave src out to match any)" } },
	{ "rules:\n  - name: a\n    action: drop\n    action: pass\n",
	  { "t.yaml:4:5: rule 'a': key 'action' given twice, first on line 3" } },
	{ "rules:\n  - name: a\n    action: drop\n  - [ b ]\n", { "t.yaml:4:5: rule #2: expected a map" } },
	{ "routes:\n  - name: r\n    frontend: { vip: 10.0.0.1, proto: tcp, port: 80 }\n"
	  "    backends:\n      - { addr: 10.0.0.2, weight: 0 }\n      - { addr: 10.0.0.3, weight: 0 }\n",
	  { "t.yaml:5:7: route 'r': backends: weights sum to 0" } },
	{ "routes:\n  - name: r\n    frontend: { vip: 10.0.0.1, proto: tcp, port: 80 }\n"
	  "    backends:\n      - { addr: 10.0.0.2 }\n      - { addr: 2001:db8::2, port: 81 }\n",
	  { "t.yaml:6:17: route 'r': backends[1].addr: 2001:db8::2 is IPv6 but the vip is IPv4" } },
	{ "routes:\n  - name: r\n    frontend: { vip: 10.0.0.1/32, proto: tcp, port: 80 }\n    backends: []\n",
	  { "t.yaml:3:22: route 'r': frontend.vip: '10.0.0.1/32' is not an address" } },
	{ "routes:\n  - name: r\n    frontend: { vip: 10.0.0.1, proto: icmp, port: 80 }\n    backends: [{ addr: 10.0.0.2 }]\n",
	  { "t.yaml:3:39: route 'r': frontend.proto: icmp cannot be routed (tcp or udp)" } },
	{ "routes:\n  - name: r\n    frontend: { vip: 10.0.0.1, proto: tcp, port: 80 }\n"
	  "    backends: [{ addr: 10.0.0.2, port: 0 }]\n",
	  { "t.yaml:4:40: route 'r': backends[0].port: 0 is not a port" } },
	{ "routes:\n  - name: r\n    frontend: { vip: 10.0.0.1, proto: tcp, port: 80 }\n"
	  "    backends: [{ addr: 10.0.0.2, prot: 1 }]\n",
	  { "t.yaml:4:34: route 'r': backends[0]: unknown key 'prot' (allowed: addr, port, weight, tag)" } },
	{ "routes:\n  - name: r\n    frontend: { vip: 10.0.0.1, proto: tcp, port: 80 }\n    backends: [{ addr: 10.0.0.2 }]\n"
	  "  - name: s\n    frontend: { vip: 10.0.0.1, proto: tcp, port: 80 }\n    backends: [{ addr: 10.0.0.3 }]\n",
	  { "t.yaml:6:15: route 's': frontend:", "already served by route 'r'" } },
	{ "rollout:\n  canary: 150%\n", { "t.yaml:2:11: rollout: canary: 150% is more than 100%" } },
	{ "rollout:\n  interval: soon\n", { "t.yaml:2:13: rollout: interval: 'soon' is not an interval" } },
	{ "rollout:\n  selector: [ a ]\n", { "t.yaml:2:13: rollout: selector: expected a map of labels" } },
	{ "rollout:\n  selector: { \"env=prod\": x }\n",
	  { "t.yaml:2:13: rollout: selector: label 'env=prod': '=' is not allowed in a label name" } },
	{ "rollout:\n  selector: { env: \"prod,dev\" }\n",
	  { "t.yaml:2:13: rollout: selector: label 'env': ',' is not allowed in a label value" } },
	{ "rollout:\n  selector: { zone: eu/1 }\n", { "label 'zone': '/' is not allowed in a label value" } },
	{ "rulez: []\n", { "t.yaml:1:1: unknown key 'rulez' (allowed: rules, routes, rollout, detectors)" } },
	{ "- a\n- b\n", { "t.yaml:1:1: expected a map (keys: rules, routes, rollout, detectors), got a list" } },
	{ "rules:\n  - name: a\n    action: drop\n   bad: indent\n", { "t.yaml:4:", "YAML syntax" } },
};

static void test_bad_inputs(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		Sluice__V1__Policy *p = NULL;
		int rc = policy_yaml__parse_string("t.yaml", c->yaml, strlen(c->yaml), 0, &p, err, sizeof(err));

		if (rc != -EINVAL) {
			print_error("case %zu: expected -EINVAL, got %d (%s)\n", i, rc, err);
			fail();
		}
		assert_null(p);
		for (size_t k = 0; k < 3 && c->want[k]; k++) {
			if (!strstr(err, c->want[k])) {
				print_error("case %zu: error\n  %s\nlacks\n  %s\n", i, err, c->want[k]);
				fail();
			}
		}
	}
}

static void test_bad_file_names_file(void **state)
{
	Sluice__V1__Policy *p = NULL;
	char want[4200];

	assert_int_equal(policy_yaml__parse_file(data("policy_bad_port.yaml"), 0, &p, err, sizeof(err)), -EINVAL);
	assert_null(p);
	snprintf(want, sizeof(want), "%s:5:42: rule 'orders-api-limit': dst_ports: 70000 is not a port (1-65535)",
		 data("policy_bad_port.yaml"));
	assert_string_equal(err, want);

	assert_int_equal(policy_yaml__parse_file(data("no-such-file.yaml"), 0, &p, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no-such-file.yaml: cannot open"));
}

static void test_directory_merge(void **state)
{
	Sluice__V1__Policy *p = NULL;
	char want[4200];

	assert_int_equal(policy_yaml__parse_file(data("policy_dir"), 0, &p, err, sizeof(err)), 0);
	/* 10-base.yaml before 20-web.yml; notes.txt and .hidden.yaml skipped */
	assert_int_equal(p->n_rules, 2);
	assert_string_equal(p->rules[0]->name, "base-drop-telnet");
	assert_string_equal(p->rules[1]->name, "web-allow");
	assert_int_equal(p->n_routes, 1);
	assert_string_equal(p->routes[0]->name, "dns");
	assert_int_equal(p->routes[0]->backends[1]->port, 53);
	policy__free(p);

	/* A duplicate across files names both places. */
	assert_int_equal(policy_yaml__parse_file(data("policy_dupdir"), 0, &p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/policy_dupdir/b.yaml:5:11: rule 'same': name: duplicate name, first used at %s/policy_dupdir/a.yaml:2:11",
		 data_dir(), data_dir());
	assert_non_null(strstr(err, want));
}

static void test_stdin(void **state)
{
	Sluice__V1__Policy *p = NULL;

	assert_non_null(freopen(data("policy_good.yaml"), "r", stdin));
	assert_int_equal(policy_yaml__parse_file("-", 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p->n_rules, 5);
	policy__free(p);
}

static void test_hash(void **state)
{
	char a[POLICY_HASH_HEX], b[POLICY_HASH_HEX], c[POLICY_HASH_HEX], d[POLICY_HASH_HEX];

	hash_of("rules:\n  - name: x\n    match: { proto: tcp, dst_ports: [80] }\n    action: drop\n", a);
	assert_int_equal(strlen(a), 64);
	/* Same content, other spelling: block style, key order, a single port, a comment,
	 * the default priority written out, and a rollout hint (not content). */
	hash_of("# same\nrules:\n- action: drop\n  priority: 1000\n  match:\n    dst_ports: 80\n    proto: TCP\n"
		"  name: x\nrollout: { canary: 10% }\n",
		b);
	assert_string_equal(a, b);
	hash_of("rules:\n  - name: x\n    match: { proto: tcp, dst_ports: [81] }\n    action: drop\n", c);
	assert_string_not_equal(a, c);
	hash_of("rules:\n  - name: x\n    match: { proto: tcp, dst_ports: [80] }\n    action: pass\n", d);
	assert_string_not_equal(a, d);
	hash_of("rules:\n  - name: y\n    match: { proto: tcp, dst_ports: [80] }\n    action: drop\n", d);
	assert_string_not_equal(a, d);
	{
		/* An API client may leave a match out where the parser writes an empty one:
		 * the same rule, so the same hash (and `get policy -o json | apply -f -` is no change). */
		Sluice__V1__Policy *p = parse_ok("rules:\n  - name: any\n    action: drop\n  - name: x\n    action: pass\n");
		Sluice__V1__Match *m = p->rules[0]->match;

		assert_int_equal(policy__hash(p, c), 0);
		p->rules[0]->match = NULL;
		assert_int_equal(policy__hash(p, d), 0);
		assert_string_equal(c, d);
		p->rules[0]->match = m;
		policy__free(p);
	}
	assert_int_equal(policy__hash(NULL, d), -EINVAL);
}

static void test_json_round_trip(void **state)
{
	Sluice__V1__Policy *p = NULL, *q;
	char h1[POLICY_HASH_HEX], h2[POLICY_HASH_HEX];
	json_t *j, *again;
	char *text, *text2;

	assert_int_equal(policy_yaml__parse_file(data("policy_good.yaml"), 0, &p, err, sizeof(err)), 0);
	j = policy_json__from_policy(p);
	assert_non_null(j);
	text = json_dumps(j, JSON_INDENT(2));
	assert_non_null(text);
	q = parse_ok(text);
	assert_int_equal(policy__hash(p, h1), 0);
	assert_int_equal(policy__hash(q, h2), 0);
	assert_string_equal(h1, h2);
	/* the rollout hint survives too, and a second trip prints the same text */
	again = policy_json__from_policy(q);
	text2 = json_dumps(again, JSON_INDENT(2));
	assert_string_equal(text, text2);

	/* spot checks on the schema */
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "rules"), 0),
								"action")),
			    "drop");
	{
		json_t *r1 = json_array_get(json_object_get(j, "rules"), 1);
		json_t *m = json_object_get(r1, "match");
		json_t *rl = json_object_get(json_object_get(r1, "action"), "rate_limit");

		assert_string_equal(json_string_value(json_object_get(m, "proto")), "tcp");
		assert_int_equal(json_integer_value(json_array_get(json_object_get(m, "dst_ports"), 0)), 80);
		assert_string_equal(json_string_value(json_array_get(json_object_get(m, "dst_ports"), 1)), "8000-8100");
		assert_string_equal(json_string_value(json_array_get(json_object_get(m, "dst"), 0)), "10.10.0.10");
		assert_int_equal(json_integer_value(json_object_get(rl, "pps")), 1000);
		assert_string_equal(json_string_value(json_object_get(rl, "per")), "source");
		assert_null(json_object_get(rl, "bps"));
	}
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "rollout"), "interval")), "5m");
	free(text);
	free(text2);
	json_decref(j);
	json_decref(again);
	policy__free(q);
	policy__free(p);
}

static void test_capacity(void **state)
{
	static const char three[] = "rules:\n  - { name: a, action: drop }\n  - { name: b, action: drop }\n"
				    "  - { name: c, action: drop }\n";
	Sluice__V1__Policy *p = NULL;

	assert_int_equal(policy_yaml__parse_string("t.yaml", three, strlen(three), 3, &p, err, sizeof(err)), 0);
	policy__free(p);
	p = NULL;
	assert_int_equal(policy_yaml__parse_string("t.yaml", three, strlen(three), 2, &p, err, sizeof(err)), -EINVAL);
	assert_null(p);
	assert_non_null(strstr(err, "t.yaml:4:5: rules: 3 rules, more than the capacity of 2"));
	assert_int_equal(policy__validate(NULL, 0, err, sizeof(err)), -EINVAL);
}

/* The controller's path: a policy from the wire, no positions. */
static void test_validate_without_positions(void **state)
{
	Sluice__V1__Policy *p = parse_ok("rules:\n  - name: a\n    match: { dst: 10.0.0.0/8 }\n    action: drop\n");
	Sluice__V1__Rule *r = p->rules[0];

	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), 0);
	r->match->dst[0]->addr.data[3] = 1;
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rule 'a': dst: 10.0.0.1/8: host bits set, did you mean 10.0.0.0/8?");
	r->match->dst[0]->addr.data[3] = 0;
	r->action = SLUICE__V1__ACTION__ACTION_RATE_LIMIT;
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rule 'a': action: rate_limit needs its parameters"));
	/* From the wire a rate can exceed what the policy file (and its JSON) can say. */
	r->rate_limit = malloc(sizeof(*r->rate_limit));
	sluice__v1__rate_limit__init(r->rate_limit);
	r->rate_limit->pps = (uint64_t)INT64_MAX + 1;
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rule 'a': rate_limit.pps: 9223372036854775808 is too large (at most 9223372036854775807)");
	r->rate_limit->pps = 10;
	r->rate_limit->burst = UINT64_MAX;
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rate_limit.burst: 18446744073709551615 is too large"));
	r->rate_limit->burst = INT64_MAX;
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), 0);
	sluice__v1__rate_limit__free_unpacked(r->rate_limit, NULL);
	r->rate_limit = NULL;
	r->action = SLUICE__V1__ACTION__ACTION_DROP;
	assert_int_equal(policy__validate(p, 1, err, sizeof(err)), 0);
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), 0);
	policy__free(p);

	/* A selector straight from the wire (ApplyPolicyRequest): the YAML parser's checks
	 * did not run, so validation holds the label rules itself. */
	p = parse_ok("rollout:\n  selector: { env: prod, zone: eu-1, k8s.io/role: gw }\n");
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), 0);
	free(p->rollout->selector[1]->key);
	p->rollout->selector[1]->key = strdup("env");
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rollout: selector: label 'env' given twice (keep one)");
	free(p->rollout->selector[1]->key);
	p->rollout->selector[1]->key = strdup("zo\tne");
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rollout: selector: label 'zo\tne': '?' is not allowed in a label name (letters, digits, '.', '_', '/', '-')");
	policy__free(p);
}

/* Bytes protobuf-c decodes but whose own encoding it refuses (field number 0 behind an
 * overlong tag) must not become a revision nobody can read back. */
static void test_validate_refuses_undecodable(void **state)
{
	static const uint8_t bytes[] = { 0x0a, 0x06, 0x0a, 0x01, 'a', 0x80, 0x00, 0x01 };
	Sluice__V1__Policy *p = policy__unpack(bytes, sizeof(bytes));

	if (!p)
		skip(); /* this protobuf-c refuses field number 0 in any spelling */
	assert_int_equal(p->n_rules, 1);
	assert_int_equal(policy__validate(p, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "policy: holds a field that does not decode once encoded again"));
	policy__free(p);
}

static void test_pack_unpack_dup(void **state)
{
	Sluice__V1__Policy *p = NULL, *u, *d;
	char h1[POLICY_HASH_HEX], h2[POLICY_HASH_HEX], h3[POLICY_HASH_HEX];
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(policy_yaml__parse_file(data("policy_good.yaml"), 0, &p, err, sizeof(err)), 0);
	assert_int_equal(policy__pack(p, &buf, &len), 0);
	u = policy__unpack(buf, len);
	assert_non_null(u);
	d = policy__dup(u);
	assert_non_null(d);
	policy__hash(p, h1);
	policy__hash(u, h2);
	policy__hash(d, h3);
	assert_string_equal(h1, h2);
	assert_string_equal(h1, h3);
	assert_int_equal(d->rollout->canary_percent, 10);
	free(buf);
	policy__free(u);
	policy__free(d);
	policy__free(p);
	policy__free(NULL);

	errno = 0;
	assert_null(policy__unpack((const uint8_t *)"\xff\xff\xff", 3));
	assert_int_equal(errno, EBADMSG);
	/* an empty policy packs to nothing and still round-trips */
	p = policy__new();
	assert_int_equal(policy__pack(p, &buf, &len), 0);
	assert_int_equal(len, 0);
	u = policy__unpack(buf, len);
	assert_non_null(u);
	free(buf);
	policy__free(u);
	policy__free(p);
}

static void test_text_helpers(void **state)
{
	uint8_t a[16];
	size_t alen;
	uint32_t plen, lo, hi, set = 0, unset = 0, v;
	char buf[64], pb[8];

	assert_int_equal(policy__parse_cidr("10.1.2.0/24", a, &alen, &plen), 0);
	assert_int_equal(alen, 4);
	assert_int_equal(plen, 24);
	assert_int_equal(policy__parse_cidr("::/0", a, &alen, &plen), 0);
	assert_int_equal(alen, 16);
	assert_int_equal(plen, 0);
	assert_int_equal(policy__parse_cidr("10.1.2.0/33", a, &alen, &plen), -EINVAL);
	assert_int_equal(policy__parse_cidr("10.1.2.0/", a, &alen, &plen), -EINVAL);
	assert_int_equal(policy__parse_cidr("10.1.2.0/08", a, &alen, &plen), -EINVAL);
	assert_int_equal(policy__parse_cidr("10.1.2", a, &alen, &plen), -EINVAL);
	assert_int_equal(policy__parse_cidr("fe80::1%eth0", a, &alen, &plen), -EINVAL);
	assert_int_equal(policy__parse_cidr("10.1.2.3/20", a, &alen, &plen), 0);
	policy__mask_addr(a, alen, plen);
	assert_int_equal(policy__format_cidr(a, alen, plen, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.1.0.0/20");
	assert_int_equal(policy__format_cidr(a, 5, 8, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(policy__format_cidr(a, alen, plen, buf, 4), -ENOSPC);

	assert_int_equal(policy__parse_port_range("8000-8100", &lo, &hi), 0);
	assert_int_equal(lo, 8000);
	assert_int_equal(hi, 8100);
	assert_int_equal(policy__parse_port_range(" 22 ", &lo, &hi), 0);
	assert_int_equal(hi, 22);
	assert_int_equal(policy__parse_port_range("-5", &lo, &hi), -EINVAL);
	assert_int_equal(policy__parse_port_range("99999999999", &lo, &hi), -ERANGE);
	assert_int_equal(policy__format_port_range(1, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1-2");

	assert_int_equal(policy__parse_tcp_flags("SYN, !ack,fin", &set, &unset, NULL, 0), 0);
	assert_int_equal(set, 3);
	assert_int_equal(unset, 16);
	assert_int_equal(policy__format_tcp_flags(set, unset, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "fin,syn,!ack");
	assert_int_equal(policy__parse_tcp_flags("syn,,ack", &set, &unset, buf, sizeof(buf)), -EINVAL);

	assert_int_equal(policy__parse_proto("icmpv6", &v), 0);
	assert_int_equal(v, 58);
	assert_int_equal(policy__parse_proto("47", &v), 0);
	assert_string_equal(policy__proto_name(47, pb), "47");
	assert_string_equal(policy__proto_name(0, pb), "any");
	assert_int_equal(policy__parse_proto("256", &v), -ERANGE);
	assert_string_equal(policy__action_name(SLUICE__V1__ACTION__ACTION_RATE_LIMIT), "rate_limit");

	assert_int_equal(policy__parse_interval("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(policy__parse_interval("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(policy__parse_interval("m", &v), -EINVAL);
	assert_int_equal(policy__parse_percent("25%", &v), 0);
	assert_int_equal(v, 25);
	assert_int_equal(policy__parse_percent("%", &v), -EINVAL);
}

/* The lab example in deploy/examples must stay valid. */
static void test_deploy_example(void **state)
{
	char path[4200];
	Sluice__V1__Policy *p = NULL;

	snprintf(path, sizeof(path), "%s/../../deploy/examples/policy.yaml", data_dir());
	if (policy_yaml__parse_file(path, 0, &p, err, sizeof(err)))
		print_error("%s\n", err);
	assert_non_null(p);
	assert_int_equal(p->n_rules, 7);
	assert_int_equal(p->n_routes, 1);
	assert_int_equal(p->routes[0]->n_backends, 2);
	assert_string_equal(p->rules[0]->name, "block-telnet");
	policy__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_empty_inputs),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_bad_file_names_file),
		cmocka_unit_test(test_directory_merge),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_validate_without_positions),
		cmocka_unit_test(test_validate_refuses_undecodable),
		cmocka_unit_test(test_pack_unpack_dup),
		cmocka_unit_test(test_text_helpers),
		cmocka_unit_test(test_deploy_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
