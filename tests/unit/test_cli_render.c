// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_render.c — what sluicectl prints, without a controller: aligned tables,
 * ages and times, the stable JSON of an AgentInfo and a RevisionInfo, the agent and
 * rule tables, describe pages, and the error text for failed calls (which must name
 * the address tried and how to choose another).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/table.h"
#include "common/policy.h"

#define NOW 1800000000 /* 2027-01-15T08:00:00Z */

static char *buf;
static size_t buflen;

static FILE *mem(void)
{
	FILE *f = open_memstream(&buf, &buflen);

	assert_non_null(f);
	return f;
}

static void test_table(void **state)
{
	static const char *const hdr[] = { "NAME", "STATE", "NOTE" };
	const char *r1[] = { "a", "SYNCED", "x" }, *r2[] = { "longer-name", "", "trailing" },
		   *r3[] = { "h…", "NACKED", NULL };
	struct cli_table *t = cli_table__new(3, hdr);
	FILE *f;

	assert_non_null(t);
	assert_int_equal(cli_table__add(t, r1), 0);
	assert_int_equal(cli_table__add(t, r2), 0);
	assert_int_equal(cli_table__add(t, r3), 0);
	assert_int_equal(cli_table__rows(t), 3);
	f = mem();
	cli_table__print(t, f, "  ");
	fclose(f);
	/* columns 3 apart, "…" one column wide, empty cells "-", last column not padded */
	assert_string_equal(buf, "  NAME          STATE    NOTE\n"
				 "  a             SYNCED   x\n"
				 "  longer-name   -        trailing\n"
				 "  h…            NACKED   -\n");
	free(buf);
	cli_table__free(t);
	cli_table__free(NULL);
}

static void test_ages_and_times(void **state)
{
	static const struct {
		int64_t s;
		const char *want;
	} ages[] = { { -5, "0s" },   { 0, "0s" },    { 12, "12s" },   { 59, "59s" },	 { 60, "1m" },
		     { 3599, "59m" }, { 3600, "1h" }, { 86399, "23h" }, { 86400, "1d" }, { 864000, "10d" } };
	char b[48];

	for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
		cli_fmt__age(ages[i].s, b, sizeof(b));
		assert_string_equal(b, ages[i].want);
	}
	cli_fmt__since(0, NOW, b, sizeof(b));
	assert_string_equal(b, "-");
	cli_fmt__since(NOW - 180, NOW, b, sizeof(b));
	assert_string_equal(b, "3m");
	cli_fmt__time(NOW, b, sizeof(b));
	assert_string_equal(b, "2027-01-15T08:00:00Z");
	cli_fmt__time(0, b, sizeof(b));
	assert_string_equal(b, "-");
	cli_fmt__short_hash("ee28d9acb123dadb76e0610cba1ac39c", b, sizeof(b));
	assert_string_equal(b, "ee28d9acb123…");
	cli_fmt__short_hash("", b, sizeof(b));
	assert_string_equal(b, "-");
}

/* One agent with everything set, one that never reported. */
struct fixture {
	Sluice__V1__AgentInfo a, b;
	Sluice__V1__AgentInfo__LabelsEntry l1, l2, *labels[2];
	Sluice__V1__Status st;
	Sluice__V1__RuleCounters c1, c2, *counters[2];
	Sluice__V1__InterfaceState if1, *ifs[1];
	Sluice__V1__Status__DropReasonsEntry d1, *drops[1];
	char *ifnames[2];
	Sluice__V1__AgentInfo *list[2];
};

static void fixture_init(struct fixture *x)
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
	sluice__v1__status__init(&x->st);
	sluice__v1__rule_counters__init(&x->c1);
	sluice__v1__rule_counters__init(&x->c2);
	x->c1.name = "block-telnet";
	x->c1.packets = 12;
	x->c1.bytes = 720;
	x->c2.name = "lab-tcp-8080-allow";
	x->c2.packets = 123456;
	x->c2.bytes = 98765432;
	x->counters[0] = &x->c1;
	x->counters[1] = &x->c2;
	sluice__v1__interface_state__init(&x->if1);
	x->if1.name = "veth-gw1";
	x->if1.xdp_mode = "native";
	x->if1.link_id = 7;
	x->if1.prog_id = 42;
	x->if1.attached = 1;
	x->ifs[0] = &x->if1;
	sluice__v1__status__drop_reasons_entry__init(&x->d1);
	x->d1.key = "malformed";
	x->d1.value = 3;
	x->drops[0] = &x->d1;
	x->st.applied_revision = 7;
	x->st.applied_hash = "ee28d9acb123";
	x->st.n_rules = 2;
	x->st.rules = x->counters;
	x->st.n_interfaces = 1;
	x->st.interfaces = x->ifs;
	x->st.rules_used = 6;
	x->st.rule_capacity = 16384;
	x->st.unix_time = NOW - 5;
	x->st.n_drop_reasons = 1;
	x->st.drop_reasons = x->drops;

	x->a.node_id = "gw1";
	x->a.n_labels = 2;
	x->a.labels = x->labels;
	x->a.state = SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED;
	x->a.state_since_unix = NOW - 180;
	x->a.desired_revision = 7;
	x->a.applied_revision = 7;
	x->a.applied_hash = "ee28d9acb123";
	x->a.last_seen_unix = NOW - 12;
	x->a.agent_version = "0.1.0";
	x->a.kernel = "6.18.0";
	x->ifnames[0] = "veth-gw1";
	x->ifnames[1] = "veth-gw1b";
	x->a.n_interfaces = 2;
	x->a.interfaces = x->ifnames;
	x->a.status = &x->st;

	x->b.node_id = "gw-long-name";
	x->b.state = SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE;
	x->b.state_since_unix = NOW - 7200;
	x->b.desired_revision = 7;
	x->b.last_error = "nack: rule 'x': map full";
	x->list[0] = &x->a;
	x->list[1] = &x->b;
}

static void test_agent_json(void **state)
{
	struct fixture x;
	json_t *j, *st, *rules;

	fixture_init(&x);
	j = cli_render__agent_json(&x.a);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "node_id")), "gw1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "labels"), "env")), "lab");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "SYNCED");
	assert_string_equal(json_string_value(json_object_get(j, "state_since")), "2027-01-15T07:57:00Z");
	assert_int_equal(json_integer_value(json_object_get(j, "desired_revision")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "applied_revision")), 7);
	assert_string_equal(json_string_value(json_object_get(j, "applied_hash")), "ee28d9acb123");
	assert_string_equal(json_string_value(json_object_get(j, "last_error")), "");
	assert_string_equal(json_string_value(json_object_get(j, "last_seen")), "2027-01-15T07:59:48Z");
	assert_string_equal(json_string_value(json_object_get(j, "agent_version")), "0.1.0");
	assert_string_equal(json_string_value(json_object_get(j, "kernel")), "6.18.0");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "interfaces"), 1)), "veth-gw1b");
	rules = json_object_get(j, "rules");
	assert_int_equal(json_array_size(rules), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rules, 1), "name")), "lab-tcp-8080-allow");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 1), "packets")), 123456);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 1), "bytes")), 98765432);
	st = json_object_get(j, "status");
	assert_int_equal(json_integer_value(json_object_get(st, "rules_used")), 6);
	assert_int_equal(json_integer_value(json_object_get(st, "rule_capacity")), 16384);
	assert_string_equal(json_string_value(json_object_get(st, "reported")), "2027-01-15T07:59:55Z");
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(st, "interfaces"), 0), "attached")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(st, "interfaces"), 0),
							    "prog_id")),
			 42);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "drop_reasons"), "malformed")), 3);
	/* the keys come in the documented order */
	{
		static const char *const keys[] = { "node_id",	    "labels",	    "state",	      "state_since",
						    "desired_revision", "applied_revision", "applied_hash", "last_error",
						    "last_seen",	    "agent_version",    "kernel",	    "interfaces",
						    "rules",	    "status" };
		const char *key;
		json_t *v;
		size_t i = 0;

		json_object_foreach (j, key, v) {
			assert_true(i < sizeof(keys) / sizeof(keys[0]));
			assert_string_equal(key, keys[i++]);
		}
		assert_int_equal(i, sizeof(keys) / sizeof(keys[0]));
	}
	json_decref(j);

	/* never seen, no status: nulls and empty lists, not missing keys */
	j = cli_render__agent_json(&x.b);
	assert_true(json_is_null(json_object_get(j, "last_seen")));
	assert_true(json_is_null(json_object_get(j, "status")));
	assert_int_equal(json_array_size(json_object_get(j, "rules")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "OFFLINE");
	assert_string_equal(json_string_value(json_object_get(j, "last_error")), "nack: rule 'x': map full");
	json_decref(j);
	assert_string_equal(cli_render__state_name((Sluice__V1__AgentState)99), "UNKNOWN");
}

static void test_agents_table_and_describe(void **state)
{
	struct fixture x;
	FILE *f;

	fixture_init(&x);
	f = mem();
	cli_render__agents_table(x.list, 2, NOW, false, f);
	fclose(f);
	assert_string_equal(buf,
			    "NAME           STATE     REVISION   APPLIED   RULES     LAST-SEEN   AGE   LABELS\n"
			    "gw1            SYNCED    7          7         6/16384   12s         3m    env=lab,zone=a\n"
			    "gw-long-name   OFFLINE   7          -         -         -           2h    -\n");
	free(buf);

	f = mem();
	cli_render__agent_describe(&x.a, NOW, f);
	fclose(f);
	assert_non_null(strstr(buf, "Node:              gw1\n"));
	assert_non_null(strstr(buf, "Labels:            env=lab, zone=a\n"));
	assert_non_null(strstr(buf, "State:             SYNCED since 2027-01-15T07:57:00Z (3m ago)\n"));
	assert_non_null(strstr(buf, "Last seen:         2027-01-15T07:59:48Z (12s ago)\n"));
	assert_non_null(strstr(buf, "Interfaces:        veth-gw1, veth-gw1b\n"));
	assert_non_null(strstr(buf, "Rules used:        6 of 16384\n"));
	assert_non_null(strstr(buf, "  INTERFACE   XDP-MODE   ATTACHED   LINK   PROG\n"
				    "  veth-gw1    native     yes        7      42\n"));
	assert_non_null(strstr(buf, "  RULE                 PACKETS   BYTES   SAMPLED   SAMPLES-LOST   RATE-LIMITED\n"
				    "  block-telnet         12        720B    0         0              0\n"
				    "  lab-tcp-8080-allow   123k      99MB    0         0              0\n"));
	assert_non_null(strstr(buf, "  DROP-REASON   PACKETS\n  malformed     3\n"));
	free(buf);

	f = mem();
	cli_render__agent_describe(&x.b, NOW, f);
	fclose(f);
	assert_non_null(strstr(buf, "Last error:        nack: rule 'x': map full\n"));
	assert_non_null(strstr(buf, "Last seen:         never\n"));
	assert_non_null(strstr(buf, "none reported yet"));
	free(buf);
}

static void test_revisions(void **state)
{
	Sluice__V1__RevisionInfo r = SLUICE__V1__REVISION_INFO__INIT, *list[1] = { &r };
	json_t *j;
	FILE *f;

	r.revision = 3;
	r.hash = "0123456789abcdef0123";
	r.author = "alice";
	r.message = "block telnet";
	r.created_unix = NOW - 7200;
	r.rules = 6;
	j = cli_render__revision_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "revision")), 3);
	assert_string_equal(json_string_value(json_object_get(j, "created")), "2027-01-15T06:00:00Z");
	assert_string_equal(json_string_value(json_object_get(j, "author")), "alice");
	assert_int_equal(json_integer_value(json_object_get(j, "routes")), 0);
	json_decref(j);
	f = mem();
	cli_render__revisions_table(list, 1, NOW, false, f);
	fclose(f);
	assert_string_equal(buf, "REVISION   HASH            AUTHOR   AGE   RULES   ROUTES   MESSAGE\n"
				 "3          0123456789ab…   alice    2h    6       0        block telnet\n");
	free(buf);
}

static void test_rules_table(void **state)
{
	static const char yaml[] = "rules:\n"
				   "  - { name: late, action: count }\n"
				   "  - name: first\n    priority: 5\n"
				   "    match: { src: 10.0.0.0/8, proto: tcp, dst_ports: [22, \"8000-8100\"], tcp_flags: \"syn,!ack\" }\n"
				   "    action: { rate_limit: { pps: 100, burst: 10, per: source } }\n"
				   "    sample: { one_in: 50, snaplen: 64 }\n"
				   "routes:\n  - name: web\n    frontend: { vip: 2001:db8::10, proto: tcp, port: 443 }\n"
				   "    backends: [{ addr: 2001:db8::11, weight: 3, tag: v1 }, { addr: 2001:db8::12 }]\n";
	Sluice__V1__Policy *p = NULL;
	char err[512];
	FILE *f;

	assert_int_equal(policy_yaml__parse_string("t.yaml", yaml, strlen(yaml), 0, &p, err, sizeof(err)), 0);
	f = mem();
	cli_render__rules_table(p, f, NULL);
	fclose(f);
	/* evaluation order: priority 5 before the default 1000 */
	assert_string_equal(
		buf,
		"NAME    PRIORITY   PROTO   SRC          DST   SRC-PORTS   DST-PORTS      TCP-FLAGS   ACTION                                  SAMPLE\n"
		"first   5          tcp     10.0.0.0/8   any   any         22,8000-8100   syn,!ack    rate_limit 100pps burst=10 per=source   1/50 64B\n"
		"late    1000       any     any          any   any         any            -           count                                   -\n");
	free(buf);
	f = mem();
	cli_render__routes_table(p, f, NULL);
	fclose(f);
	assert_string_equal(buf, "NAME   FRONTEND                 BACKENDS\n"
				 "web    [2001:db8::10]:443/tcp   [2001:db8::11]:443 w=3 v1, [2001:db8::12]:443 w=1\n");
	free(buf);
	policy__free(p);
}

static void test_error_text(void **state)
{
	struct cli_opts o = { .controller = "10.9.9.9:7443", .controller_from = CLI_ADDR_ENV, .timeout_ms = 2000 };
	struct rpc_status st = { .code = RPC_UNAVAILABLE, .message = "failed to connect to all addresses" };
	char b[1200];

	cli_conn__describe(&o, "get agents", &st, b, sizeof(b));
	assert_non_null(strstr(b, "get agents: cannot reach the controller at 10.9.9.9:7443 (from SLUICE_CONTROLLER)"));
	assert_non_null(strstr(b, "--controller ADDR"));
	assert_non_null(strstr(b, "SLUICE_CONTROLLER=ADDR"));
	st.code = RPC_DEADLINE_EXCEEDED;
	cli_conn__describe(&o, "apply", &st, b, sizeof(b));
	assert_non_null(strstr(b, "did not answer within 2000 ms"));
	assert_non_null(strstr(b, "--timeout"));
	st.code = RPC_PERMISSION_DENIED;
	cli_conn__describe(&o, "apply", &st, b, sizeof(b));
	assert_non_null(strstr(b, "O=sluice:operator"));
	st.code = RPC_INVALID_ARGUMENT;
	snprintf(st.message, sizeof(st.message), "rule 'a': dst_ports: 0 is not a port (1-65535)");
	cli_conn__describe(&o, "apply", &st, b, sizeof(b));
	assert_non_null(strstr(b, "the controller refused it: rule 'a': dst_ports: 0 is not a port"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ages_and_times),
		cmocka_unit_test(test_agent_json),
		cmocka_unit_test(test_agents_table_and_describe),
		cmocka_unit_test(test_revisions),
		cmocka_unit_test(test_rules_table),
		cmocka_unit_test(test_error_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
