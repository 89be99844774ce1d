// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_metrics.c — the agent's Prometheus families (agent/agent_metrics.h) from
 * a hand-made Status snapshot: per-rule counters with awkward rule names, packets,
 * drops and other datapath outcomes by reason, capacity, interfaces, revision,
 * controller stream state; and `promtool check metrics` on the result when installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_metrics.h"
#include "common/metrics.h"

struct snap {
	const Sluice__V1__Status *st;
	const struct session_info *info;
};

static int collect(struct metrics_writer *w, void *arg)
{
	const struct snap *s = arg;

	return agent_metrics__write(w, s->st, s->info);
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("expected to find\n%s\nin\n%s", needle, text);
}

static void test_families(void **state)
{
	Sluice__V1__RuleCounters r1 = SLUICE__V1__RULE_COUNTERS__INIT, r2 = SLUICE__V1__RULE_COUNTERS__INIT;
	Sluice__V1__RuleCounters *rules[] = { &r1, &r2 };
	Sluice__V1__InterfaceState i1 = SLUICE__V1__INTERFACE_STATE__INIT, *ifaces[] = { &i1 };
	Sluice__V1__Status__DropReasonsEntry d[4] = { SLUICE__V1__STATUS__DROP_REASONS_ENTRY__INIT,
						      SLUICE__V1__STATUS__DROP_REASONS_ENTRY__INIT,
						      SLUICE__V1__STATUS__DROP_REASONS_ENTRY__INIT,
						      SLUICE__V1__STATUS__DROP_REASONS_ENTRY__INIT };
	Sluice__V1__Status__DropReasonsEntry *drops[] = { &d[0], &d[1], &d[2], &d[3] };
	Sluice__V1__Status st = SLUICE__V1__STATUS__INIT;
	struct session_info info = { .node_id = "gw-1", .controller = "10.0.0.1:7443", .connected = true,
				     .reconnects = 3 };
	struct snap snap = { &st, &info };
	struct metrics *m = metrics__new();
	char *out = NULL;
	FILE *p;

	(void)state;
	r1.name = "block-telnet";
	r1.packets = 12;
	r1.bytes = 840;
	r1.samples = 2;
	r1.samples_lost = 1;
	r1.rate_limited = 0;
	r2.name = "odd \"name\" \\ here";
	r2.packets = 1ull << 40;
	r2.rate_limited = 5;
	i1.name = "eth0";
	i1.xdp_mode = "native";
	i1.attached = true;
	d[0].key = "packets", d[0].value = 100;
	d[1].key = "no_match", d[1].value = 70;
	d[2].key = "drop_rule", d[2].value = 12;
	d[3].key = "drop_rate_limit", d[3].value = 5;
	st.rules = rules, st.n_rules = 2;
	st.interfaces = ifaces, st.n_interfaces = 1;
	st.drop_reasons = drops, st.n_drop_reasons = 4;
	st.rules_used = 2;
	st.rule_capacity = 16384;
	st.applied_revision = 7;
	st.last_error = "";

	assert_int_equal(metrics__add_collector(m, collect, &snap), 0);
	assert_int_equal(metrics__render(m, &out, NULL), 0);
	assert_contains(out, "# TYPE sluice_agent_rule_packets_total counter\n"
			     "sluice_agent_rule_packets_total{rule=\"block-telnet\"} 12\n"
			     "sluice_agent_rule_packets_total{rule=\"odd \\\"name\\\" \\\\ here\"} 1099511627776\n");
	assert_contains(out, "sluice_agent_rule_bytes_total{rule=\"block-telnet\"} 840\n");
	assert_contains(out, "sluice_agent_rule_samples_total{rule=\"block-telnet\"} 2\n");
	assert_contains(out, "sluice_agent_rule_samples_lost_total{rule=\"block-telnet\"} 1\n");
	assert_contains(out, "sluice_agent_rule_rate_limited_packets_total{rule=\"odd \\\"name\\\" \\\\ here\"} 5\n");
	assert_contains(out, "\nsluice_agent_packets_total 100\n");
	assert_contains(out, "# TYPE sluice_agent_drops_total counter\n"
			     "sluice_agent_drops_total{reason=\"drop_rule\"} 12\n"
			     "sluice_agent_drops_total{reason=\"drop_rate_limit\"} 5\n");
	assert_contains(out, "sluice_agent_datapath_events_total{reason=\"no_match\"} 70\n");
	assert_null(strstr(out, "sluice_agent_datapath_events_total{reason=\"drop_rule\"}"));
	assert_null(strstr(out, "sluice_agent_datapath_events_total{reason=\"packets\"}"));
	assert_contains(out, "\nsluice_agent_rules_used 2\n");
	assert_contains(out, "\nsluice_agent_rules_capacity 16384\n");
	assert_contains(out, "sluice_agent_interface_attached{interface=\"eth0\",xdp_mode=\"native\"} 1\n");
	assert_contains(out, "\nsluice_agent_applied_revision 7\n");
	assert_contains(out, "\nsluice_agent_apply_failing 0\n");
	assert_contains(out, "\nsluice_agent_controller_connected 1\n");
	assert_contains(out, "\nsluice_agent_controller_reconnects_total 3\n");
	assert_contains(out, "sluice_agent_build_info{version=\"" SLUICE_VERSION "\",node=\"gw-1\"} 1\n");

	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		p = popen("promtool check metrics", "w");
		assert_non_null(p);
		fputs(out, p);
		assert_int_equal(pclose(p), 0);
	}
	free(out);

	/* A failing apply and a lost stream show. */
	st.last_error = "revision 8: rule 'x': too many prefixes";
	info.connected = false;
	assert_int_equal(metrics__render(m, &out, NULL), 0);
	assert_contains(out, "\nsluice_agent_apply_failing 1\n");
	assert_contains(out, "\nsluice_agent_controller_connected 0\n");
	free(out);
	metrics__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
