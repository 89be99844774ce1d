// SPDX-License-Identifier: Apache-2.0
/*
 * bench_events.c — sampled events consumed and parsed per second on one core: the
 * inspection program samples every packet of a mix (HTTP requests, TLS ClientHellos, DNS
 * queries, bare ACKs) into the ring buffer, driven by BPF_PROG_TEST_RUN on one CPU, while
 * the agent's consumer (samples.h, batched wakeups) feeds each record to the monitor's
 * parsers and API usage on the other CPU. The rate is records over the consumer thread's
 * CPU time. Baselines in the same run: the same consumer with a handler that does
 * nothing (the cost of the ring buffer itself), and the parsers alone on records replayed
 * from memory (no ring, no wakeups). Samples the kernel could not queue (ring full) are
 * counted and reported; they come from the consumer losing its CPU to other work.
 *
 * Usage: bench_events [SECONDS]   (default 5 per phase)
 * Prints a table and, on its last line, one JSON object (see tests/bench/run.sh).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "common/policy.h"
#include "datapath.h"
#include "monitor.h"
#include "pkt.h"
#include "policy_build.h"
#include "samples.h"
#include "sluice_abi.h"

#define NFRAMES 4
#define REPEAT 20000

struct frame {
	uint8_t buf[512];
	uint32_t len;
};

struct phase {
	struct dp *dp;
	struct monitor *mon; /* NULL: the baseline's empty handler */
	double secs;
	atomic_bool producing;
	uint64_t produced_runs;
	struct frame f[NFRAMES];
	/* results */
	uint64_t records;
	double consumer_cpu_s, wall_s;
};

static double now_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void frame(struct frame *f, const struct pkt_spec *s, const void *payload, size_t plen)
{
	struct pkt_spec t = *s;

	t.payload = plen;
	f->len = (uint32_t)pkt__build(&t, f->buf);
	memcpy(f->buf + f->len - plen, payload, plen);
}

static void make_frames(struct frame *f)
{
	static const char http[] = "GET /v1/orders/12345/items?expand=1 HTTP/1.1\r\nHost: orders.example.com\r\n"
				   "User-Agent: bench\r\nAccept: */*\r\n\r\n";
	static const uint8_t hello[] = {
		0x16, 0x03, 0x01, 0x00, 0x55, 0x01, 0x00, 0x00, 0x51, 0x03, 0x03, [11 ... 42] = 0xab, 0x00, 0x00, 0x04,
		0x13, 0x01, 0x13, 0x02, 0x01, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x17, 0x00, 0x15, 0x00, 0x00, 0x12,
		'o', 'r', 'd', 'e', 'r', 's', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0x00, 0x10,
		0x00, 0x05, 0x00, 0x03, 0x02, 'h', '2',
	};
	static const uint8_t dns[] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'e', 'x',
				       'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1 };
	struct pkt_spec web = { 4, "10.1.0.7", "10.10.0.10", 6, 40000, 80, .tcp_flags = 0x18 };
	struct pkt_spec tls = { 4, "10.1.0.8", "10.10.0.10", 6, 40001, 443, .tcp_flags = 0x18 };
	struct pkt_spec udp = { 4, "10.1.0.9", "10.10.0.53", 17, 40002, 53, .vlans = 0 };
	struct pkt_spec ack = { 4, "10.1.0.7", "10.10.0.10", 6, 40000, 80, .tcp_flags = 0x10 };

	frame(&f[0], &web, http, sizeof(http) - 1);
	frame(&f[1], &tls, hello, sizeof(hello));
	frame(&f[2], &udp, dns, sizeof(dns));
	frame(&f[3], &ack, "", 0);
}

static void *producer(void *arg)
{
	struct phase *ph = arg;
	double end = now_s(CLOCK_MONOTONIC) + ph->secs;

	pin(0);
	for (int i = 0; now_s(CLOCK_MONOTONIC) < end; i++) {
		struct frame *f = &ph->f[i % NFRAMES];
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->buf, .data_size_in = f->len, .repeat = REPEAT);

		if (bpf_prog_test_run_opts(dp__prog_fd(ph->dp), &o))
			break;
		ph->produced_runs += REPEAT;
	}
	atomic_store(&ph->producing, false);
	return NULL;
}

static void on_sample(void *ctx, const struct sl_sample *s, size_t len)
{
	if (ctx)
		monitor__handle_sample(ctx, s, len);
}

static const char *slot_name(void *ctx, uint32_t slot)
{
	return dp__slot_name(ctx, slot);
}

/* Runs one phase: the producer on CPU 0, the consumer here on CPU 1. */
static int run_phase(struct phase *ph)
{
	struct samples_opts so = { .ring_fd = dp__samples_fd(ph->dp), .poll_ms = 50 };
	struct samples_stats st;
	struct samples *s;
	pthread_t t;
	double cpu0, wall0;
	int idle = 0;

	so.ops.on_sample = on_sample;
	so.ops.ctx = ph->mon;
	s = samples__new(&so);
	if (!s)
		return -errno;
	while (samples__poll(s, 0) > 0) /* leftovers */
		;
	pin(1);
	atomic_store(&ph->producing, true);
	cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
	wall0 = now_s(CLOCK_MONOTONIC);
	pthread_create(&t, NULL, producer, ph);
	while (atomic_load(&ph->producing) || idle < 3) {
		int n = samples__poll(s, 50);

		idle = n > 0 ? 0 : idle + 1;
	}
	ph->consumer_cpu_s = now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	ph->wall_s = now_s(CLOCK_MONOTONIC) - wall0;
	pthread_join(t, NULL);
	samples__stats(s, &st);
	ph->records = st.records;
	samples__free(s);
	return 0;
}

/* The monitor's per-record cost alone: the frames as sample records, replayed. */
static double parse_only(struct monitor *mon, const struct frame *f, double secs)
{
	static struct sl_sample rec[NFRAMES];
	double t0 = now_s(CLOCK_THREAD_CPUTIME_ID), t;
	uint64_t n = 0;

	for (int i = 0; i < NFRAMES; i++) {
		rec[i].counter = 0;
		rec[i].cap_len = f[i].len < SL_MAX_SNAPLEN ? f[i].len : SL_MAX_SNAPLEN;
		rec[i].pkt_len = f[i].len;
		memcpy(rec[i].data, f[i].buf, rec[i].cap_len);
	}
	do {
		for (int k = 0; k < 10000; k++, n++)
			monitor__handle_sample(mon, &rec[n % NFRAMES], sizeof(rec[0]));
		t = now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
	} while (t < secs);
	return (double)n / t;
}

static uint64_t lost_of(struct dp *dp)
{
	struct sl_counter c;

	return dp__rule_counters(dp, "sample-all", &c) == 0 ? c.samples_lost : 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	struct dp_opts o = { 0 };
	struct monitor_opts mo = { 0 };
	Sluice__V1__Policy *p = pb_new();
	Sluice__V1__Rule *r = pb_rule(p, "sample-all", 1, SLUICE__V1__ACTION__ACTION_PASS);
	struct phase base = { 0 }, full = { 0 };
	uint64_t lost0, lost_base, lost_full;
	double raw_rate, rate, parse_rate;
	char err[256];

	log__init("bench_events", LOG_WARN);
	if (secs <= 0 || secs > 600) {
		fprintf(stderr, "usage: bench_events [SECONDS] (0 < SECONDS <= 600)\n");
		return 2;
	}
	r->sample = calloc(1, sizeof(*r->sample));
	sluice__v1__sample__init(r->sample);
	r->sample->one_in = 1;
	r->sample->snaplen = SL_MAX_SNAPLEN;
	base.dp = full.dp = dp__open(&o);
	if (!base.dp || dp__apply(base.dp, p, err, sizeof(err))) {
		fprintf(stderr, "bench_events: cannot load the datapath (root and BPF needed): %s\n", err);
		return 1;
	}
	full.mon = monitor__new(&mo);
	if (!full.mon || monitor__set_policy(full.mon, p, slot_name, full.dp)) {
		fprintf(stderr, "bench_events: cannot set up the monitor\n");
		return 1;
	}
	make_frames(base.f);
	make_frames(full.f);
	base.secs = full.secs = secs;

	lost0 = lost_of(base.dp);
	if (run_phase(&base))
		return 1;
	lost_base = lost_of(base.dp) - lost0;
	lost0 = lost_of(full.dp);
	if (run_phase(&full))
		return 1;
	lost_full = lost_of(full.dp) - lost0;
	monitor__report_usage(full.mon, 0); /* what the interval gathered, as the agent would send it */
	parse_rate = parse_only(full.mon, full.f, secs / 3);
	monitor__report_usage(full.mon, 0);

	raw_rate = base.records / (base.consumer_cpu_s > 0 ? base.consumer_cpu_s : 1);
	rate = full.records / (full.consumer_cpu_s > 0 ? full.consumer_cpu_s : 1);
	printf("%-28s %14s %14s %12s %12s\n", "phase", "records", "per CPU-s", "ns/record", "lost");
	printf("%-28s %14llu %14.0f %12.1f %12llu\n", "ring buffer only (baseline)", (unsigned long long)base.records,
	       raw_rate, 1e9 / raw_rate, (unsigned long long)lost_base);
	printf("%-28s %14llu %14.0f %12.1f %12llu\n", "consumed and parsed", (unsigned long long)full.records, rate,
	       1e9 / rate, (unsigned long long)lost_full);
	printf("%-28s %14s %14.0f %12.1f %12s\n", "parsers alone (replayed)", "-", parse_rate, 1e9 / parse_rate, "-");
	printf("wall rate %.0f/s with the producer on the other CPU (the producer is the limit)\n",
	       full.records / full.wall_s);
	printf("{\"bench\":\"events\",\"events_per_s\":%.0f,\"lost\":%llu,\"produced\":%llu,\"ring_only_per_s\":%.0f,"
	       "\"ratio_to_ring_only\":%.3f,\"parse_only_per_s\":%.0f,\"wall_events_per_s\":%.0f}\n",
	       rate, (unsigned long long)lost_full, (unsigned long long)full.produced_runs, raw_rate, rate / raw_rate,
	       parse_rate, full.records / full.wall_s);
	monitor__free(full.mon);
	dp__close(base.dp);
	policy__free(p);
	return 0;
}
