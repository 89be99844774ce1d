// SPDX-License-Identifier: Apache-2.0
/*
 * test_monitor_path.c — the kernel half of inspection in user space, run with
 * BPF_PROG_TEST_RUN: the per-source aggregates (packets, bytes, SYNs, SYN-ACKs, RSTs, the
 * destination-port sketch) read and reset with batch operations, the totals as deltas,
 * an LRU that keeps working past its size; and sampled packets consumed from the ring
 * buffer by the batched consumer (samples.h) and parsed by the monitor into API usage.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "aggregates.h"
#include "common/log.h"
#include "common/policy.h"
#include "datapath.h"
#include "monitor.h"
#include "outbox.h"
#include "pkt.h"
#include "policy_build.h"
#include "priv.h"
#include "samples.h"
#include "sluice_abi.h"

#define TCP 6
#define UDP 17

static void run(struct dp *dp, const struct pkt_spec *s, const char *payload, int repeat)
{
	struct pkt_spec t = *s;
	uint8_t buf[512];
	size_t len;

	t.payload = payload ? strlen(payload) : 0;
	len = pkt__build(&t, buf);
	if (payload)
		memcpy(buf + len - t.payload, payload, t.payload);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len, .repeat = (__u32)repeat);
	assert_int_equal(bpf_prog_test_run_opts(dp__prog_fd(dp), &o), 0);
}

static int setup(void **state)
{
	struct dp_opts o = { 0 };
	struct dp *dp = dp__open(&o);
	Sluice__V1__Policy *p = pb_new();
	Sluice__V1__Rule *r = pb_rule(p, "sample-web", 1, SLUICE__V1__ACTION__ACTION_PASS);
	char err[256];

	assert_non_null(dp);
	/* Aggregates need a live policy (the program parses only then); this one samples port 80. */
	r->match->proto = TCP;
	pb_dport(r, 80, 80);
	r->sample = calloc(1, sizeof(*r->sample));
	sluice__v1__sample__init(r->sample);
	r->sample->one_in = 1;
	r->sample->snaplen = 256;
	assert_int_equal(dp__apply(dp, p, err, sizeof(err)), 0);
	policy__free(p);
	*state = dp;
	return 0;
}

static int teardown(void **state)
{
	dp__close(*state);
	return 0;
}

static const struct agg_source *find(const struct agg_source *v, size_t n, const char *addr)
{
	struct pkt_spec s = { .family = 4, .src = addr, .dst = addr };
	uint8_t buf[512];

	pkt__build(&s, buf);
	for (size_t i = 0; i < n; i++)
		if (v[i].family == 4 && memcmp(v[i].addr, buf + 14 + 12, 4) == 0)
			return &v[i];
	return NULL;
}

static void test_aggregates(void **state)
{
	struct dp *dp = *state;
	struct agg_reader *r;
	const struct agg_source *v, *a;
	struct agg_source total;
	int src_fd, total_fd, ctl_fd;
	size_t n;

	dp__aggregates_fds(dp, &src_fd, &total_fd, &ctl_fd);
	r = agg_reader__new(src_fd, total_fd, ctl_fd);
	assert_non_null(r);
	agg_reader__collect(r, &v, &n, &total); /* start from zero */

	/* 10.7.0.1 scans 50 ports with SYNs; 10.7.0.2 answers with SYN-ACKs and RSTs; 10.7.0.3
	 * sends UDP from a high port to 53 and back from 53 (a reply: not a try). */
	for (uint16_t port = 1000; port < 1050; port++) {
		struct pkt_spec s = { 4, "10.7.0.1", "10.0.0.1", TCP, 40000, port, .tcp_flags = 0x02 };

		run(dp, &s, NULL, 1);
	}
	run(dp, &(struct pkt_spec){ 4, "10.7.0.2", "10.0.0.1", TCP, 80, 40000, .tcp_flags = 0x12 }, NULL, 7);
	run(dp, &(struct pkt_spec){ 4, "10.7.0.2", "10.0.0.1", TCP, 80, 40000, .tcp_flags = 0x04 }, NULL, 3);
	run(dp, &(struct pkt_spec){ 4, "10.7.0.3", "10.0.0.53", UDP, 33333, 53 }, NULL, 4);
	run(dp, &(struct pkt_spec){ 4, "10.7.0.3", "10.0.0.53", UDP, 53, 33333 }, NULL, 4);

	assert_int_equal(agg_reader__collect(r, &v, &n, &total), 0);
	assert_int_equal(n, 3);
	a = find(v, n, "10.7.0.1");
	assert_non_null(a);
	assert_int_equal(a->packets, 50);
	assert_int_equal(a->syns, 50);
	assert_true(agg__distinct_ports(a->ports) > 42 && agg__distinct_ports(a->ports) < 58);
	a = find(v, n, "10.7.0.2");
	assert_int_equal(a->synacks, 7);
	assert_int_equal(a->rsts, 3);
	assert_int_equal(a->syns, 0);
	assert_true(agg__distinct_ports(a->ports) == 0);
	a = find(v, n, "10.7.0.3");
	assert_int_equal(a->packets, 8);
	assert_true(agg__distinct_ports(a->ports) > 0.5 && agg__distinct_ports(a->ports) < 1.5);
	assert_int_equal(total.packets, 68);
	assert_int_equal(total.syns, 50);
	assert_true(total.bytes > 68 * 40);

	/* Read and reset: the next interval starts empty, the totals are deltas. */
	assert_int_equal(agg_reader__collect(r, &v, &n, &total), 0);
	assert_int_equal(n, 0);
	assert_int_equal(total.packets, 0);

	/* More sources than a CPU's table holds: it keeps counting, and a flood of new
	 * addresses takes the slots of quiet sources, never of the busy one (10.7.0.9).
	 * One CPU, so that the table is one table. */
	cpu_set_t one, was;

	assert_int_equal(sched_getaffinity(0, sizeof(was), &was), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	run(dp, &(struct pkt_spec){ 4, "10.7.0.9", "10.0.0.1", UDP, 5000, 9 }, NULL, 50);
	for (int i = 0; i < 3 * SL_AGG_SOURCES; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.%d.%d.%d", 100 + (i >> 16), (i >> 8) & 255, i & 255);
		run(dp, &(struct pkt_spec){ 4, ip, "10.0.0.1", UDP, 5000, 9 }, NULL, 1);
	}
	assert_int_equal(agg_reader__collect(r, &v, &n, &total), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(was), &was), 0);
	assert_true(n > SL_AGG_SOURCES * 3 / 4 && n <= SL_AGG_SOURCES);
	assert_int_equal(total.packets, 3 * SL_AGG_SOURCES + 50);
	a = find(v, n, "10.7.0.9");
	assert_non_null(a);
	assert_int_equal(a->packets, 50);

	/* Counting goes on while the agent reads: nothing counted twice or lost. */
	uint64_t sum = 0;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 1000; i++) {
			char ip[32];

			snprintf(ip, sizeof(ip), "10.8.%d.%d", i >> 8, i & 255);
			run(dp, &(struct pkt_spec){ 4, ip, "10.0.0.1", UDP, 5000, 9 }, NULL, 1);
		}
		assert_int_equal(agg_reader__collect(r, &v, &n, &total), 0);
		assert_int_equal(total.packets, 1000);
		for (size_t i = 0; i < n; i++)
			sum += v[i].packets;
	}
	assert_int_equal(sum, 4000);
	agg_reader__free(r);
}

static const char *slot_name(void *ctx, uint32_t slot)
{
	return dp__slot_name(ctx, slot);
}

static void on_sample(void *ctx, const struct sl_sample *s, size_t len)
{
	monitor__handle_sample(ctx, s, len);
}

static void test_samples_to_usage(void **state)
{
	struct dp *dp = *state;
	struct monitor_opts mo = { 0 };
	struct monitor *mon = monitor__new(&mo);
	struct samples_opts so = { .ring_fd = dp__samples_fd(dp), .poll_ms = 10, .batch_max = 16 };
	struct samples *s;
	struct samples_stats st;
	struct rpc_buf bufs[8];
	Sluice__V1__Policy *p = pb_new();
	Sluice__V1__Rule *r = pb_rule(p, "sample-web", 1, SLUICE__V1__ACTION__ACTION_PASS);
	Sluice__V1__AgentMessage *m;
	int got = 0;
	size_t nb;

	r->sample = calloc(1, sizeof(*r->sample));
	sluice__v1__sample__init(r->sample);
	r->sample->one_in = 1;
	assert_int_equal(monitor__set_policy(mon, p, slot_name, dp), 0);
	so.ops.on_sample = on_sample;
	so.ops.ctx = mon;
	s = samples__new(&so);
	assert_non_null(s);
	while (samples__poll(s, 0) > 0) /* what earlier tests left */
		;
	run(dp, &(struct pkt_spec){ 4, "10.8.0.1", "10.0.0.1", TCP, 40000, 80, .tcp_flags = 0x18 },
	    "GET /v1/things/42 HTTP/1.1\r\nHost: api\r\n\r\n", 100);
	/* 100 records in batches of at most 16, whatever the wakeups did. */
	for (int i = 0; i < 50 && got < 100; i++)
		got += samples__poll(s, 10);
	assert_int_equal(got, 100);
	samples__stats(s, &st);
	assert_true(st.batches >= 100 / 16);
	assert_int_equal(st.malformed, 0);
	monitor__report_usage(mon, 1);
	nb = outbox__take(monitor__outbox(mon), bufs, 8);
	assert_int_equal(nb, 1);
	m = sluice__v1__agent_message__unpack(NULL, bufs[0].len, bufs[0].data);
	assert_non_null(m);
	assert_int_equal(m->api_usage->n_entries, 1);
	assert_string_equal(m->api_usage->entries[0]->api, "10.0.0.1:80");
	assert_string_equal(m->api_usage->entries[0]->path_prefix, "/v1/things/{id}");
	assert_string_equal(m->api_usage->entries[0]->consumer, "10.8.0.1");
	assert_int_equal(m->api_usage->entries[0]->requests, 100);
	sluice__v1__agent_message__free_unpacked(m, NULL);
	free(bufs[0].data);
	samples__free(s);
	monitor__free(mon);
	policy__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_samples_to_usage, setup, teardown),
	};

	priv__require_root("test_monitor_path");
	log__init("test_monitor_path", LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
