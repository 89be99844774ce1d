// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_top.c — the rates behind `sluicectl top`: per-rule packet and byte rates
 * from successive status reports, summed over agents; unknown until an agent has sent
 * two reports; a repeated report keeps its rate; a counter reset or an OFFLINE or
 * stale agent gives no rate; and the frame printed plain (piped) or redrawn with ANSI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/top.h"

#define T0 1800000000

/* Two agents, each with counters for two rules. */
struct fleet {
	Sluice__V1__AgentInfo a[2], *list[2];
	Sluice__V1__Status st[2];
	Sluice__V1__RuleCounters c[2][2], *cp[2][2];
};

static void fleet_init(struct fleet *f)
{
	static char *nodes[] = { "gw1", "gw2" }, *rules[] = { "block-telnet", "count-all" };

	for (int i = 0; i < 2; i++) {
		sluice__v1__agent_info__init(&f->a[i]);
		sluice__v1__status__init(&f->st[i]);
		f->a[i].node_id = nodes[i];
		f->a[i].state = SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED;
		f->a[i].status = &f->st[i];
		f->st[i].n_rules = 2;
		f->st[i].rules = f->cp[i];
		for (int k = 0; k < 2; k++) {
			sluice__v1__rule_counters__init(&f->c[i][k]);
			f->c[i][k].name = rules[k];
			f->cp[i][k] = &f->c[i][k];
		}
		f->list[i] = &f->a[i];
	}
}

static void report(struct fleet *f, int agent, int64_t t, uint64_t telnet, uint64_t all)
{
	f->st[agent].unix_time = (uint64_t)t;
	f->c[agent][0].packets = telnet;
	f->c[agent][0].bytes = telnet * 60;
	f->c[agent][1].packets = all;
	f->c[agent][1].bytes = all * 1000;
}

static const struct cli_top_row *row(const struct cli_top *t, const char *name)
{
	size_t n;
	const struct cli_top_row *r = cli_top__rows(t, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0)
			return &r[i];
	fail_msg("no row %s", name);
	return NULL;
}

static void test_rates(void **state)
{
	struct cli_top *t = cli_top__new();
	struct fleet f;
	size_t n, agents, reporting;

	fleet_init(&f);
	report(&f, 0, T0, 100, 1000);
	report(&f, 1, T0, 0, 50);
	assert_int_equal(cli_top__update(t, f.list, 2, T0 + 1), 0);
	assert_false(cli_top__measured(t));
	assert_true(row(t, "count-all")->pps < 0);
	assert_int_equal(row(t, "count-all")->packets, 1050);
	assert_int_equal(row(t, "count-all")->agents, 2);

	/* gw1 reports again 5 s later; gw2 does not yet */
	report(&f, 0, T0 + 5, 600, 11000);
	assert_int_equal(cli_top__update(t, f.list, 2, T0 + 6), 0);
	assert_true(cli_top__measured(t));
	assert_true(row(t, "block-telnet")->pps == 100.0);
	assert_true(row(t, "block-telnet")->bps == 6000.0);
	assert_true(row(t, "count-all")->pps == 2000.0);

	/* the same reports polled again: the rates stay */
	assert_int_equal(cli_top__update(t, f.list, 2, T0 + 7), 0);
	assert_true(row(t, "count-all")->pps == 2000.0);

	/* gw2's second report adds its rate to the sum; rows are fastest first */
	report(&f, 1, T0 + 10, 0, 550);
	assert_int_equal(cli_top__update(t, f.list, 2, T0 + 11), 0);
	assert_true(row(t, "count-all")->pps == 2050.0);
	assert_string_equal(cli_top__rows(t, &n)[0].name, "count-all");
	assert_int_equal(n, 2);

	/* gw1 restarted (counters went down): its rate is unknown for this report */
	report(&f, 0, T0 + 15, 3, 30);
	assert_int_equal(cli_top__update(t, f.list, 2, T0 + 16), 0);
	assert_true(row(t, "count-all")->pps == 50.0);
	assert_true(row(t, "block-telnet")->pps == 0.0);

	/* OFFLINE and stale agents are left out */
	f.a[0].state = SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE;
	assert_int_equal(cli_top__update(t, f.list, 2, T0 + 16), 0);
	cli_top__agents(t, &agents, &reporting);
	assert_int_equal(agents, 2);
	assert_int_equal(reporting, 1);
	assert_int_equal(row(t, "count-all")->agents, 1);
	assert_int_equal(cli_top__update(t, f.list, 2, T0 + 10 + CLI_TOP_STALE_S + 1), 0);
	cli_top__agents(t, &agents, &reporting);
	assert_int_equal(reporting, 0);
	cli_top__rows(t, &n);
	assert_int_equal(n, 0);
	cli_top__free(t);
	cli_top__free(NULL);
}

static char *frame(const struct cli_top *t, bool ansi)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cli_top__print(t, "sluice top: 2 agents", ansi, 0, f);
	fclose(f);
	return out;
}

static void test_frames(void **state)
{
	struct cli_top *t = cli_top__new();
	struct fleet f;
	char *text;
	json_t *j;

	fleet_init(&f);
	report(&f, 0, T0, 100, 1000);
	report(&f, 1, T0, 0, 50);
	cli_top__update(t, f.list, 2, T0);
	report(&f, 0, T0 + 5, 6100, 1001000);
	cli_top__update(t, f.list, 2, T0 + 5);

	text = frame(t, false);
	assert_string_equal(text, "sluice top: 2 agents\n"
				  "RULE           AGENTS   PKTS/S   BYTES/S   PACKETS   BYTES\n"
				  "count-all      2        200k/s   200MB/s   1.0M      1.0GB\n"
				  "block-telnet   2        1.2k/s   72kB/s    6.1k      366kB\n");
	assert_null(strchr(text, '\033'));
	free(text);

	/* on a terminal: cursor home first, each line clears its rest, and below the table */
	text = frame(t, true);
	assert_memory_equal(text, "\033[Hsluice top: 2 agents\033[K\n", strlen("\033[Hsluice top: 2 agents\033[K\n"));
	assert_non_null(strstr(text, "1.0GB\033[K\n"));
	assert_string_equal(text + strlen(text) - 3, "\033[J");
	free(text);

	j = cli_top__json(t, T0 + 5);
	assert_string_equal(json_string_value(json_object_get(j, "time")), "2027-01-15T08:00:05Z");
	assert_int_equal(json_integer_value(json_object_get(j, "reporting")), 2);
	/* by name for scripts; gw2 has no rate yet, but gw1 has: the sum is known */
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "rules"), 0), "name")),
			    "block-telnet");
	assert_true(json_real_value(json_object_get(json_array_get(json_object_get(j, "rules"), 0), "pps")) == 1200.0);
	json_decref(j);
	cli_top__free(t);

	t = cli_top__new();
	text = frame(t, false);
	assert_non_null(strstr(text, "no agent has reported status yet"));
	free(text);
	cli_top__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
