// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_roundtrip.c — what `get policy|rules|routes -o json|yaml` prints reads back
 * through `apply -f` (policy_yaml__parse_file) as the same policy, with the same content
 * hash, so applying it says "unchanged": the whole policy as one file, and rules and
 * routes as two files in a directory, in JSON and in YAML.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "common/policy.h"

static char dir[] = "/tmp/sluice-rt-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static Sluice__V1__Policy *parse(const char *path)
{
	Sluice__V1__Policy *p = NULL;
	char err[1024];

	if (policy_yaml__parse_file(path, 0, &p, err, sizeof(err))) {
		print_error("%s\n", err);
		fail();
	}
	return p;
}

/* Writes what `get WHAT -o FMT` prints for p to dir/name. */
static void save(const Sluice__V1__Policy *p, enum cli_cmd what, enum cli_output fmt, const char *sub,
		 const char *name)
{
	struct cli_opts o = { .output = fmt };
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(cli_render__data(&o, cli_render__policy_doc(p, what), f), 0);
	fclose(f);
}

static void assert_same(const Sluice__V1__Policy *a, const char *path)
{
	Sluice__V1__Policy *b = parse(path);
	char ha[POLICY_HASH_HEX], hb[POLICY_HASH_HEX];

	assert_int_equal(policy__hash(a, ha), 0);
	assert_int_equal(policy__hash(b, hb), 0);
	if (strcmp(ha, hb) != 0) {
		print_error("%s reads back as a different policy\n", path);
		fail();
	}
	assert_int_equal(b->n_rules, a->n_rules);
	assert_int_equal(b->n_routes, a->n_routes);
	policy__free(b);
}

static void test_round_trip(void **state)
{
	static const struct {
		enum cli_output fmt;
		const char *ext;
	} fmts[] = { { CLI_OUT_JSON, "json" }, { CLI_OUT_YAML, "yaml" } };
	char path[512];
	Sluice__V1__Policy *p;

	snprintf(path, sizeof(path), "%s/policy_good.yaml", getenv("SLUICE_TEST_DATA"));
	p = parse(path);
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		char sub[32], name[32];

		/* the whole policy in one file, rollout hint included */
		snprintf(sub, sizeof(sub), "whole-%s", fmts[i].ext);
		snprintf(name, sizeof(name), "policy.%s", fmts[i].ext);
		save(p, CLI_CMD_GET_POLICY, fmts[i].fmt, sub, name);
		snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
		assert_same(p, path);
		/* rules and routes saved apart, applied as a directory */
		snprintf(sub, sizeof(sub), "parts-%s", fmts[i].ext);
		snprintf(name, sizeof(name), "rules.%s", fmts[i].ext);
		save(p, CLI_CMD_GET_RULES, fmts[i].fmt, sub, name);
		snprintf(name, sizeof(name), "routes.%s", fmts[i].ext);
		save(p, CLI_CMD_GET_ROUTES, fmts[i].fmt, sub, name);
		snprintf(path, sizeof(path), "%s/%s", dir, sub);
		assert_same(p, path);
	}
	policy__free(p);
}

/* A policy with rules only round-trips from the rules file alone. */
static void test_rules_only(void **state)
{
	static const char yaml[] = "rules:\n  - { name: a, match: { dst: [10.0.0.0/8, \"2001:db8::/32\"] }, action: drop }\n"
				   "  - { name: b, priority: 5, match: { proto: udp, src_ports: [\"1-1024\"] }, action: count }\n";
	Sluice__V1__Policy *p = NULL;
	char err[512], path[512];

	assert_int_equal(policy_yaml__parse_string("x.yaml", yaml, strlen(yaml), 0, &p, err, sizeof(err)), 0);
	save(p, CLI_CMD_GET_RULES, CLI_OUT_JSON, "rules-only", "rules.json");
	snprintf(path, sizeof(path), "%s/rules-only/rules.json", dir);
	assert_same(p, path);
	policy__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rules_only),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
