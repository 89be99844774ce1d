// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_golden.c — golden output of every `get` and `describe` (and audit, diff and
 * a top frame): tables for people (plain and -o wide) and the JSON and YAML for scripts,
 * rendered from fixed objects at a fixed time and compared byte for byte with
 * tests/data/golden/. A change in output fails here first; when it is meant, rewrite the
 * files with SLUICE_UPDATE_GOLDEN=1 and review the diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "cli/top.h"
#include "common/policy.h"
#include "common/policy_diff.h"

#define NOW 1800000000 /* 2027-01-15T08:00:00Z */

static char *out;
static size_t outlen;

static FILE *open_out(void)
{
	FILE *f = open_memstream(&out, &outlen);

	assert_non_null(f);
	return f;
}

/* Compares what f collected with tests/data/golden/name (or rewrites it). */
static void golden(FILE *f, const char *name)
{
	const char *data = getenv("SLUICE_TEST_DATA"), *update = getenv("SLUICE_UPDATE_GOLDEN");
	char path[512], *want = NULL;
	size_t len = 0;
	FILE *g;

	fclose(f);
	assert_non_null(data);
	snprintf(path, sizeof(path), "%s/golden/%s", data, name);
	if (update && update[0] == '1') {
		g = fopen(path, "w");
		assert_non_null(g);
		fputs(out, g);
		fclose(g);
	}
	g = fopen(path, "r");
	if (!g) {
		print_error("%s is missing; run with SLUICE_UPDATE_GOLDEN=1 to write it\n", path);
		fail();
	}
	assert_int_equal(getdelim(&want, &len, '\0', g) >= 0 || feof(g), 1);
	fclose(g);
	if (strcmp(want ? want : "", out) != 0) {
		print_error("%s differs; got:\n%s\n", path, out);
		fail();
	}
	free(want);
	free(out);
	out = NULL;
}

/* Writes j as o asks to a golden file. */
static void golden_data(enum cli_output fmt, json_t *j, const char *name)
{
	struct cli_opts o = { .output = fmt };
	FILE *f = open_out();

	assert_int_equal(cli_render__data(&o, j, f), 0);
	golden(f, name);
}

/* ---- fixtures ------------------------------------------------------------------------ */

struct fleet {
	Sluice__V1__AgentInfo a, b, *list[2];
	Sluice__V1__AgentInfo__LabelsEntry l1, l2, *labels[2];
	Sluice__V1__Status st;
	Sluice__V1__RuleCounters c1, c2, *counters[2];
	Sluice__V1__InterfaceState if1, *ifs[1];
	Sluice__V1__Status__DropReasonsEntry d1, *drops[1];
	char *ifnames[2];
};

static void fleet_init(struct fleet *x)
{
	sluice__v1__agent_info__init(&x->a);
	sluice__v1__agent_info__init(&x->b);
	sluice__v1__agent_info__labels_entry__init(&x->l1);
	sluice__v1__agent_info__labels_entry__init(&x->l2);
	x->l1.key = "zone";
	x->l1.value = "a";
	x->l2.key = "env";
	x->l2.value = "lab";
	x->labels[0] = &x->l1;
	x->labels[1] = &x->l2;
	sluice__v1__rule_counters__init(&x->c1);
	sluice__v1__rule_counters__init(&x->c2);
	x->c1.name = "block-telnet";
	x->c1.packets = 12;
	x->c1.bytes = 720;
	x->c2.name = "orders-api-limit";
	x->c2.packets = 1234567;
	x->c2.bytes = 987654321;
	x->counters[0] = &x->c1;
	x->counters[1] = &x->c2;
	sluice__v1__interface_state__init(&x->if1);
	x->if1.name = "g1a";
	x->if1.xdp_mode = "native";
	x->if1.attached = true;
	x->if1.link_id = 7;
	x->if1.prog_id = 42;
	x->ifs[0] = &x->if1;
	sluice__v1__status__drop_reasons_entry__init(&x->d1);
	x->d1.key = "malformed";
	x->d1.value = 3;
	x->drops[0] = &x->d1;
	sluice__v1__status__init(&x->st);
	x->st.applied_revision = 7;
	x->st.applied_hash = "ee28d9acb123dadb76e0610cba1ac39c";
	x->st.n_rules = 2;
	x->st.rules = x->counters;
	x->st.n_interfaces = 1;
	x->st.interfaces = x->ifs;
	x->st.rules_used = 5;
	x->st.rule_capacity = 16384;
	x->st.unix_time = NOW - 4;
	x->st.n_drop_reasons = 1;
	x->st.drop_reasons = x->drops;
	x->ifnames[0] = "g1a";
	x->ifnames[1] = "g1b";
	x->a.node_id = "gw1";
	x->a.n_labels = 2;
	x->a.labels = x->labels;
	x->a.state = SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED;
	x->a.state_since_unix = NOW - 180;
	x->a.desired_revision = 7;
	x->a.applied_revision = 7;
	x->a.applied_hash = "ee28d9acb123dadb76e0610cba1ac39c";
	x->a.last_seen_unix = NOW - 4;
	x->a.agent_version = "0.1.0";
	x->a.kernel = "6.18.0";
	x->a.n_interfaces = 2;
	x->a.interfaces = x->ifnames;
	x->a.status = &x->st;
	x->b.node_id = "gw-long-name";
	x->b.state = SLUICE__V1__AGENT_STATE__AGENT_STATE_NACKED;
	x->b.state_since_unix = NOW - 7300;
	x->b.desired_revision = 7;
	x->b.applied_revision = 6;
	x->b.last_error = "revision 7: rule 'x': map full";
	x->b.last_seen_unix = NOW - 30;
	x->list[0] = &x->a;
	x->list[1] = &x->b;
}

static Sluice__V1__Policy *load(const char *file)
{
	char path[512], err[512];
	Sluice__V1__Policy *p = NULL;

	snprintf(path, sizeof(path), "%s/%s", getenv("SLUICE_TEST_DATA"), file);
	if (policy_yaml__parse_file(path, 0, &p, err, sizeof(err))) {
		print_error("%s\n", err);
		fail();
	}
	return p;
}

static void revisions_init(Sluice__V1__RevisionInfo *r, Sluice__V1__RevisionInfo **list)
{
	for (int i = 0; i < 2; i++) {
		sluice__v1__revision_info__init(&r[i]);
		list[i] = &r[i];
	}
	r[0].revision = 7;
	r[0].hash = "ee28d9acb123dadb76e0610cba1ac39c4f3b2a1908e7d6c5b4a3928170f6e5d4";
	r[0].author = "alice";
	r[0].message = "block telnet";
	r[0].created_unix = NOW - 7200;
	r[0].rules = 5;
	r[0].routes = 1;
	r[1].revision = 6;
	r[1].hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	r[1].author = "insecure:ipv4:127.0.0.1:40000";
	r[1].created_unix = NOW - 90000;
	r[1].rules = 4;
}

/* ---- the tests ------------------------------------------------------------------------ */

static void test_agents(void **state)
{
	struct fleet x;
	json_t *a;
	FILE *f;

	fleet_init(&x);
	f = open_out();
	cli_render__agents_table(x.list, 2, NOW, false, f);
	golden(f, "get_agents.txt");
	f = open_out();
	cli_render__agents_table(x.list, 2, NOW, true, f);
	golden(f, "get_agents_wide.txt");
	a = json_array();
	json_array_append_new(a, cli_render__agent_json(&x.a));
	json_array_append_new(a, cli_render__agent_json(&x.b));
	golden_data(CLI_OUT_JSON, json_incref(a), "get_agents.json");
	golden_data(CLI_OUT_YAML, a, "get_agents.yaml");

	f = open_out();
	cli_render__agent_describe(&x.a, NOW, f);
	golden(f, "describe_agent.txt");
	f = open_out();
	cli_render__agent_describe(&x.b, NOW, f);
	golden(f, "describe_agent_nacked.txt");
	golden_data(CLI_OUT_JSON, cli_render__agent_json(&x.a), "describe_agent.json");
}

static void test_revisions(void **state)
{
	Sluice__V1__RevisionInfo r[2], *list[2];
	Sluice__V1__Policy *p = load("policy_good.yaml");
	json_t *a;
	FILE *f;

	revisions_init(r, list);
	f = open_out();
	cli_render__revisions_table(list, 2, NOW, false, f);
	golden(f, "get_revisions.txt");
	f = open_out();
	cli_render__revisions_table(list, 2, NOW, true, f);
	golden(f, "get_revisions_wide.txt");
	a = json_array();
	json_array_append_new(a, cli_render__revision_json(list[0]));
	json_array_append_new(a, cli_render__revision_json(list[1]));
	golden_data(CLI_OUT_JSON, a, "get_revisions.json");

	f = open_out();
	cli_render__revision_describe(list[0], p, NOW, f);
	golden(f, "describe_revision.txt");
	golden_data(CLI_OUT_JSON, cli_render__revision_doc(list[0], p), "describe_revision.json");
	golden_data(CLI_OUT_YAML, cli_render__revision_doc(list[0], p), "describe_revision.yaml");
	policy__free(p);
}

static void test_policy(void **state)
{
	Sluice__V1__Policy *p = load("policy_good.yaml");
	FILE *f;

	f = open_out();
	cli_render__rules_table(p, f, NULL);
	golden(f, "get_rules.txt");
	golden_data(CLI_OUT_JSON, cli_render__policy_doc(p, CLI_CMD_GET_RULES), "get_rules.json");
	f = open_out();
	cli_render__routes_table(p, f, NULL);
	golden(f, "get_routes.txt");
	golden_data(CLI_OUT_JSON, cli_render__policy_doc(p, CLI_CMD_GET_ROUTES), "get_routes.json");
	golden_data(CLI_OUT_YAML, cli_render__policy_doc(p, CLI_CMD_GET_POLICY), "get_policy.yaml");
	golden_data(CLI_OUT_JSON, cli_render__policy_doc(p, CLI_CMD_GET_POLICY), "get_policy.json");
	policy__free(p);
}

static void test_audit_diff_top(void **state)
{
	Sluice__V1__AuditEntry e[2], *list[2] = { &e[0], &e[1] };
	Sluice__V1__Policy *from = load("policy_good.yaml"), *to = load("policy_good_v2.yaml");
	struct policy_diff d;
	struct cli_top *t;
	struct fleet x;
	json_t *a;
	FILE *f;

	for (int i = 0; i < 2; i++) {
		sluice__v1__audit_entry__init(&e[i]);
		e[i].action = "apply";
		e[i].after_hash = i ? "0123456789abcdef0123456789abcdef" : "ee28d9acb123dadb76e0610cba1ac39c";
		e[i].before_hash = i ? "" : "0123456789abcdef0123456789abcdef";
	}
	e[0].id = 2;
	e[0].time_unix = NOW - 60;
	e[0].who = "alice";
	e[0].object = "revision 7";
	e[0].detail = "block telnet";
	e[1].id = 1;
	e[1].time_unix = NOW - 90000;
	e[1].who = "bob";
	e[1].object = "revision 6";
	f = open_out();
	cli_render__audit_table(list, 2, NOW, false, f);
	golden(f, "audit.txt");
	a = json_array();
	json_array_append_new(a, cli_render__audit_json(&e[0]));
	json_array_append_new(a, cli_render__audit_json(&e[1]));
	golden_data(CLI_OUT_JSON, a, "audit.json");

	assert_int_equal(policy_diff__compute(from, to, &d), 0);
	f = open_out();
	policy_diff__print(&d, f, false);
	golden(f, "diff.txt");
	golden_data(CLI_OUT_JSON, policy_diff__json(&d), "diff.json");
	policy_diff__clear(&d);

	fleet_init(&x);
	t = cli_top__new();
	assert_int_equal(cli_top__update(t, x.list, 2, NOW), 0);
	x.c1.packets += 50;
	x.c1.bytes += 3000;
	x.c2.packets += 250000;
	x.c2.bytes += 250000000;
	x.st.unix_time += 5;
	assert_int_equal(cli_top__update(t, x.list, 2, NOW + 2), 0);
	f = open_out();
	cli_top__print(t, "sluice top: 2 agents (1 reporting), every 2s", false, 0, f);
	golden(f, "top.txt");
	golden_data(CLI_OUT_JSON, cli_top__json(t, NOW + 2), "top.json");
	cli_top__free(t);
	policy__free(from);
	policy__free(to);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agents),
		cmocka_unit_test(test_revisions),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_audit_diff_top),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
