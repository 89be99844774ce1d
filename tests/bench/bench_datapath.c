// SPDX-License-Identifier: Apache-2.0
/*
 * bench_datapath.c — per-packet cost of the inspection program with BPF_PROG_TEST_RUN,
 * beside two baselines measured in the same run: a bare parse-and-pass program (the
 * floor) and xdp-filter's xdpfilt_alw_all from Debian's xdp-tools. Many packets with
 * random addresses and ports, each run with a large repeat. "inspect N" classifies every
 * packet (the verdict cache off: a flow's first packet); "cached verdict" is the same
 * program as it runs, where repeats of a packet are decided by the verdict cache (the
 * packets of an established flow).
 * Also the agent's time to compile a 10k-rule policy and switch to it, and the routing
 * rewrite's figures (bench_rewrite.c): alone, against its own floor, and chained.
 *
 * Prints a table and, on its last line, one JSON object (see tests/bench/run.sh).
 * With SLUICE_BENCH_APPLY_ROUNDS=N it only times dp__apply: N rounds of 0, 100, 1k and
 * 10k rules (as the full run applies them), one line per 10k apply, then a summary.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <net/if.h>
#include <sched.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "common/policy.h"
#include "bench_rewrite.h"
#include "bench_run.h"
#include "datapath.h"
#include "floor.skel.h"
#include "pkt.h"
#include "policy_build.h"
#include "rewrite.h"

#define NPKT 256

static const char *xdpfilter_obj = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o";

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct frames {
	uint8_t buf[NPKT][512]; /* pkt__build writes up to 512 bytes */
	uint32_t len[NPKT];
};

static void make_frames(struct frames *f)
{
	for (int i = 0; i < NPKT; i++) {
		char src[32], dst[32];
		struct pkt_spec s = { .family = 4, .src = src, .dst = dst, .proto = 6 };

		snprintf(src, sizeof(src), "%u.%u.%u.%u", rnd() % 223 + 1, rnd() % 256, rnd() % 256, rnd() % 256);
		snprintf(dst, sizeof(dst), "%u.%u.%u.%u", rnd() % 223 + 1, rnd() % 256, rnd() % 256, rnd() % 256);
		s.sport = (uint16_t)(1024 + rnd() % 60000);
		s.dport = (uint16_t)(1 + rnd() % 65535);
		s.payload = 10; /* 64-byte frames */
		f->len[i] = (uint32_t)pkt__build(&s, f->buf[i]);
	}
}

/* ns per run of prog_fd over every frame (see bench_run.h). */
static double measure(int prog_fd, const struct frames *f, int repeat)
{
	return bench__measure(prog_fd, f->buf, f->len, NPKT, repeat);
}

/*
 * A fleet-like rule set: service ACLs on destination /16../32 prefixes and ports, half
 * with a source prefix, a few wide rules, drop and pass mixed, random priorities.
 */
static Sluice__V1__Policy *ruleset(uint32_t n)
{
	Sluice__V1__Policy *p = pb_new();
	char name[32], cidr[48];

	for (uint32_t i = 0; i < n; i++) {
		Sluice__V1__Rule *r;
		uint32_t len = 16 + rnd() % 17, port = 1 + rnd() % 65000;

		snprintf(name, sizeof(name), "rule-%u", i);
		r = pb_rule(p, name, rnd() % 1000, rnd() % 3 ? SLUICE__V1__ACTION__ACTION_DROP : SLUICE__V1__ACTION__ACTION_PASS);
		uint32_t a = rnd() & (len == 32 ? ~0u : ~(~0u >> len));
		snprintf(cidr, sizeof(cidr), "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, len);
		pb_dst(r, cidr);
		if (rnd() % 2) {
			uint32_t sl = 8 + rnd() % 17, sa = rnd() & ~(~0u >> sl);

			snprintf(cidr, sizeof(cidr), "%u.%u.%u.%u/%u", sa >> 24, (sa >> 16) & 255, (sa >> 8) & 255, sa & 255, sl);
			pb_src(r, cidr);
		}
		r->match->proto = rnd() % 4 ? 6 : 17;
		pb_dport(r, port, port + (rnd() % 4 ? 0 : rnd() % 100));
	}
	return p;
}

/*
 * Packets/s through the real XDP path: BPF_F_TEST_XDP_LIVE_FRAMES injects the frame as
 * if received on a veth that this process makes in a network namespace of its own (gone
 * when the process exits). The frame hits a drop rule, so the figure is XDP's own cost.
 */
static double live_mpps(int prog_fd, const uint8_t *frame, uint32_t len)
{
	const uint32_t repeat = 1u << 21;
	struct xdp_md ctx = { .data_end = len };
	double t0, t1;

	if (unshare(CLONE_NEWNET) ||
	    system("ip link add slbench0 type veth peer name slbench1 && ip link set dev slbench0 up && "
		   "ip link set dev slbench1 up") != 0) {
		fprintf(stderr, "bench: cannot make a veth pair in a private namespace\n");
		return 0;
	}
	ctx.ingress_ifindex = if_nametoindex("slbench0");
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat, .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = 64);
	t0 = now_ns();
	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		fprintf(stderr, "bench: live-frames run failed: %s\n", strerror(errno));
		return 0;
	}
	t1 = now_ns();
	return repeat / ((t1 - t0) / 1e9) / 1e6;
}

static int load_xdpfilter(struct bpf_object **objp)
{
	struct bpf_object *obj = bpf_object__open_file(xdpfilter_obj, NULL);
	struct bpf_program *prog;
	struct bpf_map *map;

	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "bench: cannot open %s (install xdp-tools)\n", xdpfilter_obj);
		return -1;
	}
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL); /* pinning off: leave nothing behind */
	if (bpf_object__load(obj)) {
		fprintf(stderr, "bench: cannot load %s\n", xdpfilter_obj);
		return -1;
	}
	prog = bpf_object__find_program_by_name(obj, "xdpfilt_alw_all");
	if (!prog)
		prog = bpf_object__next_program(obj, NULL);
	*objp = obj;
	return bpf_program__fd(prog);
}

/* SLUICE_BENCH_APPLY_ROUNDS: the 10k apply alone, round after round; 0 or 1 (failed). */
static int apply_rounds(struct dp *dp, int rounds)
{
	static const uint32_t sizes[] = { 0, 100, 1000, 10000 };
	double min = 1e9, max = 0, sum = 0;
	char err[256];

	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 4; i++) {
			Sluice__V1__Policy *p = ruleset(sizes[i]);
			double t0 = now_ns(), ms;

			if (dp__apply(dp, p, err, sizeof(err))) {
				fprintf(stderr, "bench: apply %u rules: %s\n", sizes[i], err);
				return 1;
			}
			ms = (now_ns() - t0) / 1e6;
			policy__free(p);
			if (sizes[i] == 10000) {
				printf("round %d: compile+switch 10k rules: %.1f ms\n", r, ms);
				min = ms < min ? ms : min;
				max = ms > max ? ms : max;
				sum += ms;
			}
			/* The full run measures packets between applies: leave the agent that pause. */
			struct timespec pause = { 0, 200 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
	}
	printf("compile+switch 10k rules over %d rounds: min %.1f, mean %.1f, max %.1f ms\n", rounds, min,
	       sum / rounds, max);
	return 0;
}

int main(int argc, char **argv)
{
	static struct frames f;
	static const uint32_t sizes[] = { 0, 100, 1000, 10000 };
	double inspect[4], cached[4], floor_ns, xf_ns, compile_ms = 0, mpps = 0;
	struct bpf_object *xf_obj = NULL;
	struct dp_opts o = { 0 }, o_nc = { .no_verdict_cache = true };
	Sluice__V1__Policy *live_policy = NULL;
	struct bench_rw rwb = { 0 };
	static uint8_t live_frame[512];
	uint32_t live_frame_len = 0;
	struct floor *fl;
	struct dp *dp, *dp_nc;
	int repeat = argc > 1 ? atoi(argv[1]) : 2000, xf_fd;
	char err[256];

	log__init("bench", getenv("SLUICE_BENCH_DEBUG") ? LOG_DEBUG : LOG_WARN);
	make_frames(&f);
	fl = floor__open_and_load();
	xf_fd = load_xdpfilter(&xf_obj);
	dp = dp__open(&o);
	dp_nc = dp__open(&o_nc);
	if (!fl || xf_fd < 0 || !dp || !dp_nc) {
		fprintf(stderr, "bench: setup failed (root and BPF needed)\n");
		return 1;
	}
	/* The inspection figures are inspection alone; the rewrite is timed on its own below. */
	rw__set_chained(dp__rewrite(dp), false);
	rw__set_chained(dp__rewrite(dp_nc), false);
	if (getenv("SLUICE_BENCH_APPLY_ROUNDS")) {
		int rounds = atoi(getenv("SLUICE_BENCH_APPLY_ROUNDS")), rc;

		rc = apply_rounds(dp, rounds > 0 ? rounds : 1);
		dp__close(dp);
		return rc;
	}
	floor_ns = measure(bpf_program__fd(fl->progs.floor_parse_pass), &f, repeat);
	xf_ns = measure(xf_fd, &f, repeat);

	for (int i = 0; i < 4; i++) {
		Sluice__V1__Policy *p = ruleset(sizes[i]);
		double t0 = now_ns();

		if (dp__apply(dp, p, err, sizeof(err))) {
			fprintf(stderr, "bench: apply %u rules: %s\n", sizes[i], err);
			return 1;
		}
		if (sizes[i] == 10000)
			compile_ms = (now_ns() - t0) / 1e6;
		if (dp__apply(dp_nc, p, err, sizeof(err))) {
			fprintf(stderr, "bench: apply %u rules: %s\n", sizes[i], err);
			return 1;
		}
		/* Each apply leaves a thread waiting out the retired slot's grace period: let
		 * it finish, as it does between a live agent's applies. */
		nanosleep(&(struct timespec){ 0, 300 * 1000 * 1000 }, NULL);
		inspect[i] = measure(dp__prog_fd(dp_nc), &f, repeat);
		cached[i] = measure(dp__prog_fd(dp), &f, repeat);
		if (sizes[i] == 1000) {
			/* A frame the 1k-rule set drops: the first rule's destination and port. */
			const Sluice__V1__Rule *r = p->rules[0];
			char dst[32], src[32] = "10.0.0.1";
			uint8_t frame[512];
			struct pkt_spec sp = { .family = 4, .src = src, .dst = dst, .proto = (uint8_t)r->match->proto,
					       .sport = 1234, .dport = (uint16_t)r->match->dst_ports[0]->lo, .payload = 10 };

			inet_ntop(AF_INET, r->match->dst[0]->addr.data, dst, sizeof(dst));
			if (r->match->n_src)
				inet_ntop(AF_INET, r->match->src[0]->addr.data, src, sizeof(src));
			live_frame_len = (uint32_t)pkt__build(&sp, frame);
			memcpy(live_frame, frame, live_frame_len);
			live_policy = policy__dup(p);
		}
		policy__free(p);
	}
	if (!live_policy || bench_rewrite__run(dp, live_policy, repeat, &rwb))
		return 1;
	rw__set_chained(dp__rewrite(dp), false);
	/* Last: it moves this process into a network namespace of its own. */
	if (live_policy && dp__apply(dp, live_policy, err, sizeof(err)) == 0)
		mpps = live_mpps(dp__prog_fd(dp), live_frame, live_frame_len);
	policy__free(live_policy);

	printf("%-28s %10s %10s\n", "program", "ns/packet", "x floor");
	printf("%-28s %10.1f %10.2f\n", "floor (parse+pass)", floor_ns, 1.0);
	printf("%-28s %10.1f %10.2f\n", "xdp-filter alw_all", xf_ns, xf_ns / floor_ns);
	for (int i = 0; i < 4; i++)
		printf("inspect %-20u %10.1f %10.2f\n", sizes[i], inspect[i], inspect[i] / floor_ns);
	for (int i = 0; i < 4; i++)
		printf("inspect %-5u, cached verdict %6.1f %10.2f\n", sizes[i], cached[i], cached[i] / floor_ns);
	printf("\n1k rules / xdp-filter alw_all: %.2f (target <= 1.5)\n", inspect[2] / xf_ns);
	printf("10k rules / 1k rules:          %.2f (target <= 3)\n", inspect[3] / inspect[2]);
	printf("compile+switch 10k rules:      %.1f ms (target <= 100)\n", compile_ms);
	printf("live frames, 1k rules, veth:   %.2f Mpps\n", mpps);
	printf("\n%-28s %10s %10s\n", "rewrite", "ns/packet", "x floor");
	printf("%-28s %10.1f %10.2f\n", "floor (rewrite, no lookup)", rwb.floor_ns, 1.0);
	printf("%-28s %10.1f %10.2f\n", "conntrack hit, 1 route", rwb.ct_hit_ns[0], rwb.ct_hit_ns[0] / rwb.floor_ns);
	printf("%-28s %10.1f %10.2f\n", "conntrack hit, 1k routes", rwb.ct_hit_ns[1], rwb.ct_hit_ns[1] / rwb.floor_ns);
	printf("%-28s %10.1f %10.2f\n", "new flow, 1 route", rwb.new_flow_ns[0], rwb.new_flow_ns[0] / rwb.floor_ns);
	printf("%-28s %10.1f %10.2f\n", "new flow, 1k routes", rwb.new_flow_ns[1], rwb.new_flow_ns[1] / rwb.floor_ns);
	printf("%-28s %10.1f\n", "inspect alone, 1k rules", rwb.inspect_1k_ns);
	printf("%-28s %10.1f\n", "rewrite alone, 1k routes", rwb.rewrite_1k_ns);
	printf("%-28s %10.1f\n", "chained, 1k rules+1k routes", rwb.chain_1k_ns);
	printf("apply 1k routes (Maglev tables, switch): %.1f ms\n", rwb.apply_ms_1k);
	printf("\nconntrack hit / floor (1k):    %.2f (target <= 1.5)\n", rwb.ct_hit_ns[1] / rwb.floor_ns);
	printf("chained 1k/1k:                 %.1f ns (target <= 100)\n", rwb.chain_1k_ns);
	printf("chained / (inspect + rewrite): %.2f (target <= 1.2)\n",
	       rwb.chain_1k_ns / (rwb.inspect_1k_ns + rwb.rewrite_1k_ns));
	printf("{\"bench\":\"datapath\",\"floor_ns\":%.1f,\"xdpfilter_alw_all_ns\":%.1f,"
	       "\"inspect_ns\":{\"0\":%.1f,\"100\":%.1f,\"1000\":%.1f,\"10000\":%.1f},"
	       "\"inspect_cached_ns\":{\"0\":%.1f,\"100\":%.1f,\"1000\":%.1f,\"10000\":%.1f},\"compile_ms_10000\":%.1f,"
	       "\"live_mpps\":%.2f,\"ratio_1k_vs_xdpfilter\":%.2f,\"ratio_10k_vs_1k\":%.2f,"
	       "\"rewrite_floor_ns\":%.1f,\"rewrite_ct_hit_ns\":{\"1\":%.1f,\"1000\":%.1f},"
	       "\"rewrite_new_flow_ns\":{\"1\":%.1f,\"1000\":%.1f},\"chain_1k_ns\":%.1f,"
	       "\"inspect_1k_alone_ns\":%.1f,\"rewrite_1k_alone_ns\":%.1f,\"ratio_ct_hit_vs_floor\":%.2f,"
	       "\"ratio_chain_vs_sum\":%.2f,\"rewrite_apply_ms_1000\":%.1f}\n",
	       floor_ns, xf_ns, inspect[0], inspect[1], inspect[2], inspect[3], cached[0], cached[1], cached[2], cached[3],
	       compile_ms, mpps, inspect[2] / xf_ns,
	       inspect[3] / inspect[2], rwb.floor_ns, rwb.ct_hit_ns[0], rwb.ct_hit_ns[1], rwb.new_flow_ns[0],
	       rwb.new_flow_ns[1], rwb.chain_1k_ns, rwb.inspect_1k_ns, rwb.rewrite_1k_ns,
	       rwb.ct_hit_ns[1] / rwb.floor_ns, rwb.chain_1k_ns / (rwb.inspect_1k_ns + rwb.rewrite_1k_ns),
	       rwb.apply_ms_1k);
	dp__close(dp);
	dp__close(dp_nc);
	floor__destroy(fl);
	bpf_object__close(xf_obj);
	return 0;
}
