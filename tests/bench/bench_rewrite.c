// SPDX-License-Identifier: Apache-2.0
/*
 * bench_rewrite.c — per-packet cost of the routing rewrite (see bench_rewrite.h).
 *
 * test_run repeats one buffer, and the program writes into it, so every route here sends
 * its flows to a backend at the VIP's own address and port: each repeat does the whole
 * translation (lookups, checksum updates, counters) and leaves the frame as it found it.
 * Established flows are made by one SYN each first; then ACKs of those flows are timed
 * (the per-CPU flow cache path) and SYNs (a new flow each time: frontend, Maglev table,
 * conntrack and reverse entries written). 256 flows from random clients; at 1,000 routes
 * each flow goes to a random route.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bench_rewrite.h"
#include "bench_run.h"
#include "common/policy.h"
#include "pkt.h"
#include "policy_build.h"
#include "rewrite.h"
#include "rewrite_floor.skel.h"
#include "sluice_abi.h"

#define RW_NPKT 256

struct rw_frames {
	uint8_t buf[RW_NPKT][BENCH_FRAME];
	uint32_t len[RW_NPKT];
};

static uint64_t rng = 0xD1B54A32D192ED03ULL;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32);
}

static void vip_of(uint32_t i, char *buf, size_t len)
{
	snprintf(buf, len, "10.100.%u.%u", i >> 8, i & 255);
}

static Sluice__V1__Backend *backend(const char *addr, uint32_t weight)
{
	Sluice__V1__Backend *b = calloc(1, sizeof(*b));

	sluice__v1__backend__init(b);
	b->addr.len = 4;
	b->addr.data = calloc(1, 4);
	inet_pton(AF_INET, addr, b->addr.data);
	b->port = 80;
	b->weight = weight;
	b->tag = strdup(weight ? "v1" : "v2");
	return b;
}

/* base's rules (or none) and n routes: VIP i tcp/80 -> itself (weight 1) and a spare
 * backend of weight 0, which gets no flows. */
static Sluice__V1__Policy *with_routes(const Sluice__V1__Policy *base, uint32_t n)
{
	Sluice__V1__Policy *p = base ? policy__dup(base) : pb_new();
	char name[32], vip[32], spare[32];

	if (!p)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		Sluice__V1__Route *r = calloc(1, sizeof(*r));
		Sluice__V1__Frontend *f = calloc(1, sizeof(*f));

		sluice__v1__route__init(r);
		sluice__v1__frontend__init(f);
		snprintf(name, sizeof(name), "route-%u", i);
		vip_of(i, vip, sizeof(vip));
		snprintf(spare, sizeof(spare), "10.101.%u.%u", i >> 8, i & 255);
		r->name = strdup(name);
		f->vip.len = 4;
		f->vip.data = calloc(1, 4);
		inet_pton(AF_INET, vip, f->vip.data);
		f->proto = 6;
		f->port = 80;
		r->frontend = f;
		PB_APPEND(r->backends, r->n_backends, backend(vip, 1));
		PB_APPEND(r->backends, r->n_backends, backend(spare, 0));
		PB_APPEND(p->routes, p->n_routes, r);
	}
	return p;
}

/* Flow i of a set: a random client to a random one of n routes' VIPs, as SYN and ACK. */
static void make_flow(struct rw_frames *syn, struct rw_frames *ack, int i, uint32_t n_routes)
{
	char src[32], dst[32];
	struct pkt_spec s = { .family = 4, .src = src, .dst = dst, .proto = 6, .dport = 80, .payload = 10 };

	snprintf(src, sizeof(src), "172.%u.%u.%u", 16 + rnd() % 16, rnd() % 256, rnd() % 254 + 1);
	vip_of(rnd() % n_routes, dst, sizeof(dst));
	s.sport = (uint16_t)(1024 + rnd() % 60000);
	s.tcp_flags = 0x02;
	syn->len[i] = (uint32_t)pkt__build(&s, syn->buf[i]);
	s.tcp_flags = 0x10;
	ack->len[i] = (uint32_t)pkt__build(&s, ack->buf[i]);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int verdict(int prog_fd, const uint8_t *frame, uint32_t len)
{
	uint8_t copy[BENCH_FRAME];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = copy, .data_size_in = len, .repeat = 1);

	memcpy(copy, frame, len);
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	return (int)o.retval;
}

static int apply(struct dp *dp, Sluice__V1__Policy *p)
{
	char err[256] = "";
	int ret = p ? dp__apply(dp, p, err, sizeof(err)) : -1;

	if (ret)
		fprintf(stderr, "bench: apply routes: %s\n", p ? err : "out of memory");
	policy__free(p);
	return ret;
}

/* Slow-path runs (conntrack hits, new flows) the rewrite program counted so far. */
static uint64_t slow_runs(struct rw *rw)
{
	uint64_t st[SL_RW_STAT_MAX];

	if (rw__stats(rw, st))
		return 0;
	return st[SL_RW_STAT_CT_HIT] + st[SL_RW_STAT_NEW_FLOW];
}

/*
 * Makes the flows of syn established (one SYN each), then times their ACKs and SYNs on
 * the rewrite program. Says how many timed ACK runs missed the flow cache.
 */
static void time_paths(struct rw *rw, const struct rw_frames *syn, const struct rw_frames *ack, int repeat,
		       double *hit, double *fresh)
{
	int fd = rw__prog_fd(rw);
	uint64_t before;

	rw__flush_flows(rw);
	bench__measure(fd, syn->buf, syn->len, RW_NPKT, 1);
	before = slow_runs(rw);
	*hit = bench__measure(fd, ack->buf, ack->len, RW_NPKT, repeat);
	if (slow_runs(rw) - before > (uint64_t)RW_NPKT * BENCH_ROUNDS * 2)
		fprintf(stderr, "bench: warning: %llu established-flow runs missed the flow cache\n",
			(unsigned long long)(slow_runs(rw) - before));
	*fresh = bench__measure(fd, syn->buf, syn->len, RW_NPKT, repeat);
}

int bench_rewrite__run(struct dp *dp, const Sluice__V1__Policy *rules_1k, int repeat, struct bench_rw *out)
{
	static const uint32_t routes[2] = { 1, 1000 };
	static struct rw_frames syn, ack;
	struct rw *rw = dp__rewrite(dp);
	struct rewrite_floor *fl = rewrite_floor__open_and_load();
	double t0;
	int ret = -1;

	if (!fl) {
		fprintf(stderr, "bench: cannot load the rewrite floor program\n");
		return -1;
	}
	inet_pton(AF_INET, "10.100.0.0", (void *)fl->bss->floor_to.addr);
	fl->bss->floor_to.port = htons(80);

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < RW_NPKT; i++)
			make_flow(&syn, &ack, i, routes[k]);
		if (k == 0)
			out->floor_ns = bench__measure(bpf_program__fd(fl->progs.floor_rewrite), ack.buf, ack.len, RW_NPKT,
						       repeat);
		t0 = now_ms();
		if (apply(dp, with_routes(NULL, routes[k])))
			goto cleanup;
		if (k == 1)
			out->apply_ms_1k = now_ms() - t0;
		time_paths(rw, &syn, &ack, repeat, &out->ct_hit_ns[k], &out->new_flow_ns[k]);
	}

	/* 1,000 rules and 1,000 routes; flows the rules let through. */
	if (apply(dp, with_routes(rules_1k, 1000)) || rw__set_chained(rw, false))
		goto cleanup;
	for (int i = 0; i < RW_NPKT; i++) {
		int tries = 0;

		do
			make_flow(&syn, &ack, i, 1000);
		while ((verdict(dp__prog_fd(dp), ack.buf[i], ack.len[i]) != XDP_PASS ||
			verdict(dp__prog_fd(dp), syn.buf[i], syn.len[i]) != XDP_PASS) && ++tries < 100);
	}
	rw__flush_flows(rw);
	bench__measure(rw__prog_fd(rw), syn.buf, syn.len, RW_NPKT, 1);
	out->inspect_1k_ns = bench__measure(dp__prog_fd(dp), ack.buf, ack.len, RW_NPKT, repeat);
	if (rw__set_chained(rw, true))
		goto cleanup;
	out->rewrite_1k_ns = bench__measure(rw__prog_fd(rw), ack.buf, ack.len, RW_NPKT, repeat);
	out->chain_1k_ns = bench__measure(dp__prog_fd(dp), ack.buf, ack.len, RW_NPKT, repeat);
	ret = 0;
cleanup:
	rewrite_floor__destroy(fl);
	return ret;
}
