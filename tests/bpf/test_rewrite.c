// SPDX-License-Identifier: Apache-2.0
/*
 * test_rewrite.c — the routing rewrite program run with BPF_PROG_TEST_RUN on crafted
 * frames: the rewritten bytes and every checksum recomputed from scratch, for IPv4 and
 * IPv6, TCP and UDP, untagged and with one or two VLAN tags, in both directions (client to
 * VIP becomes client to backend; backend to client becomes VIP to client); UDP without a
 * checksum; conntrack keeping flows on their backend across weight changes and backend
 * removal (drain), a SYN on a reused port taking the new table, counters per backend,
 * the weighted split of new flows, chaining after inspection (dropped packets are never
 * rewritten), and refused route sets leaving the live generation alone. Every run gets
 * a fresh copy of its input: the program writes into the frame.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "common/log.h"
#include "common/policy.h"
#include "datapath.h"
#include "rewrite.h"
#include "sluice_abi.h"
#include "pkt.h"
#include "pkt_csum.h"
#include "policy_build.h"
#include "priv.h"
#include "rw_fixture.h"

#define SYN 0x02
#define ACK 0x10

#define CLIENT4 "192.168.7.1"
#define CLIENT6 "2001:db8:c::1"

static uint64_t rng = 0x243F6A8885A308D3ULL;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32);
}

/* ---- policies ------------------------------------------------------------------------ */

static void apply_ok(struct dp *dp, Sluice__V1__Policy *p)
{
	char err[256] = "";

	if (dp__apply(dp, p, err, sizeof(err)))
		fail_msg("apply failed: %s", err);
	policy__free(p);
}

/* ---- frames -------------------------------------------------------------------------- */

/* A frame with random payload and valid checksums (udp_csum0: UDP without a checksum). */
static struct frame mk(int family, const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport,
		       uint8_t flags, int vlans, bool udp_csum0)
{
	struct pkt_spec s = { .family = family, .src = src, .dst = dst, .proto = proto, .sport = sport,
			      .dport = dport, .tcp_flags = flags, .vlans = vlans, .payload = 37 };
	struct pkt_loc loc;
	struct frame f;

	f.len = (uint32_t)pkt__build(&s, f.b);
	assert_int_equal(pkt__locate(f.b, f.len, &loc), 0);
	for (size_t i = loc.l4 + (proto == TCP ? 20 : 8); i < f.len; i++)
		f.b[i] = (uint8_t)rnd();
	if (proto == TCP) /* sequence and ack numbers: anything */
		for (int i = 4; i < 12; i++)
			f.b[loc.l4 + i] = (uint8_t)rnd();
	assert_int_equal(pkt__fill_l4_csum(f.b, f.len), 0);
	if (udp_csum0)
		pkt__put16(f.b + loc.csum, 0);
	else
		assert_null(pkt__check_csums(f.b, f.len));
	return f;
}

/* Runs prog on a fresh copy of in; out receives the result. Returns the verdict. */
static int run(int prog_fd, const struct frame *in, struct frame *out)
{
	int r = frame__run(prog_fd, in, out);

	assert_true(r >= 0);
	return r;
}

static void addr_of(const struct frame *f, bool dst, uint8_t out[16], uint16_t *port)
{
	struct pkt_loc loc;

	assert_int_equal(pkt__locate(f->b, f->len, &loc), 0);
	memset(out, 0, 16);
	if (loc.family == 4)
		memcpy(out, f->b + loc.l3 + (dst ? 16 : 12), 4);
	else
		memcpy(out, f->b + loc.l3 + (dst ? 24 : 8), 16);
	*port = pkt__get16(f->b + loc.l4 + (dst ? 2 : 0));
}

static void text_addr(int family, const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, text, out), 1);
}

/*
 * Checks that out is in with the destination (or, for a reply, the source) changed to
 * addr:port, and that only those bytes and the checksums differ.
 */
static void expect_rewrite(const struct frame *in, const struct frame *out, bool reply, const uint8_t addr[16],
			   uint16_t port)
{
	struct pkt_loc loc;
	uint8_t want[512];
	const char *bad;
	size_t alen;

	assert_int_equal(out->len, in->len);
	assert_int_equal(pkt__locate(in->b, in->len, &loc), 0);
	alen = loc.family == 4 ? 4 : 16;
	memcpy(want, in->b, in->len);
	if (loc.family == 4)
		memcpy(want + loc.l3 + (reply ? 12 : 16), addr, alen);
	else
		memcpy(want + loc.l3 + (reply ? 8 : 24), addr, alen);
	pkt__put16(want + loc.l4 + (reply ? 0 : 2), port);
	/* Checksums are checked from scratch below; compare everything else. */
	if (loc.family == 4)
		memcpy(want + loc.l3 + 10, out->b + loc.l3 + 10, 2);
	memcpy(want + loc.csum, out->b + loc.csum, 2);
	if (memcmp(want, out->b, in->len) != 0) {
		for (size_t i = 0; i < in->len; i++)
			if (want[i] != out->b[i])
				fail_msg("byte %zu: 0x%02x, want 0x%02x", i, out->b[i], want[i]);
	}
	bad = pkt__check_csums(out->b, out->len);
	if (bad)
		fail_msg("after rewrite: %s does not verify", bad);
}

/* ---- fixture ------------------------------------------------------------------------- */

struct fx {
	struct dp *dp;
	struct rw *rw;
	int prog;
};

static int setup(void **state)
{
	struct dp_opts o = { 0 };
	struct fx *fx = calloc(1, sizeof(*fx));

	*state = fx;
	fx->dp = dp__open(&o);
	assert_non_null(fx->dp);
	fx->rw = dp__rewrite(fx->dp);
	assert_non_null(fx->rw);
	fx->prog = rw__prog_fd(fx->rw);
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	dp__close(fx->dp);
	free(fx);
	return 0;
}

/* Which backend of a two-backend route got the frame: 0 or 1 (fails on anything else). */
static int which(const struct frame *out, int family, const char *b0, const char *b1, uint16_t bport)
{
	uint8_t got[16], a0[16], a1[16];
	uint16_t port;

	addr_of(out, true, got, &port);
	text_addr(family, b0, a0);
	text_addr(family, b1, a1);
	assert_int_equal(port, bport);
	if (memcmp(got, a0, 16) == 0)
		return 0;
	if (memcmp(got, a1, 16) == 0)
		return 1;
	fail_msg("destination is neither backend");
	return -1;
}

/* ---- tests --------------------------------------------------------------------------- */

struct rcase {
	int family;
	uint8_t proto;
	const char *client, *vip;
	uint16_t vport, bport;
	const char *b0, *b1;
};

static const struct rcase rcases[] = {
	{ 4, TCP, CLIENT4, VIP4, 80, 8080, "10.20.0.11", "10.20.0.12" },
	{ 4, UDP, CLIENT4, VIP4, 53, 5353, "10.20.0.21", "10.20.0.22" },
	{ 6, TCP, CLIENT6, VIP6, 443, 8443, "2001:db8:1::11", "2001:db8:1::12" },
	{ 6, UDP, CLIENT6, VIP6, 53, 5353, "2001:db8:1::21", "2001:db8:1::22" },
};

/* Forward and reply for every family, protocol and VLAN depth; bytes and checksums. */
static void test_rewrite_both_directions(void **state)
{
	struct fx *fx = *state;

	apply_ok(fx->dp, routes_policy(50, 50));
	for (size_t c = 0; c < sizeof(rcases) / sizeof(rcases[0]); c++) {
		const struct rcase *rc = &rcases[c];

		for (int vlans = 0; vlans <= 2; vlans++) {
			uint16_t cport = (uint16_t)(20000 + c * 10 + vlans);
			struct frame in = mk(rc->family, rc->client, rc->vip, rc->proto, cport, rc->vport, SYN, vlans, false);
			struct frame out, rin, rout;
			uint8_t baddr[16], vip[16];
			const char *bname;
			uint16_t bport;
			int b;

			assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
			b = which(&out, rc->family, rc->b0, rc->b1, rc->bport);
			bname = b ? rc->b1 : rc->b0;
			addr_of(&out, true, baddr, &bport);
			expect_rewrite(&in, &out, false, baddr, bport);

			/* The backend answers the client: the client must see the VIP. */
			rin = mk(rc->family, bname, rc->client, rc->proto, rc->bport, cport, SYN | ACK, vlans, false);
			assert_int_equal(run(fx->prog, &rin, &rout), XDP_PASS);
			text_addr(rc->family, rc->vip, vip);
			expect_rewrite(&rin, &rout, true, vip, rc->vport);

			/* Later packets of the flow (conntrack, then the flow cache) go the same way. */
			for (int i = 0; i < 3; i++) {
				struct frame more = mk(rc->family, rc->client, rc->vip, rc->proto, cport, rc->vport, ACK, vlans, false);

				assert_int_equal(run(fx->prog, &more, &out), XDP_PASS);
				assert_int_equal(which(&out, rc->family, rc->b0, rc->b1, rc->bport), b);
				expect_rewrite(&more, &out, false, baddr, bport);
				assert_int_equal(run(fx->prog, &rin, &rout), XDP_PASS);
				expect_rewrite(&rin, &rout, true, vip, rc->vport);
			}
		}
	}
}

/* UDP without a checksum: stays without one over IPv4, gets a real one over IPv6. */
static void test_udp_zero_checksum(void **state)
{
	struct fx *fx = *state;

	apply_ok(fx->dp, routes_policy(50, 50));
	for (int family = 4; family <= 6; family += 2) {
		const struct rcase *rc = family == 4 ? &rcases[1] : &rcases[3];

		for (int vlans = 0; vlans <= 1; vlans++) {
			struct frame in = mk(family, rc->client, rc->vip, UDP, (uint16_t)(31000 + vlans), 53, 0, vlans, true);
			struct frame out, rin, rout;
			struct pkt_loc loc;
			uint8_t baddr[16], vip[16];
			uint16_t bport;
			char bname[64];

			assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
			assert_int_equal(pkt__locate(out.b, out.len, &loc), 0);
			addr_of(&out, true, baddr, &bport);
			expect_rewrite(&in, &out, false, baddr, bport);
			if (family == 4)
				assert_int_equal(pkt__get16(out.b + loc.csum), 0);
			else
				assert_int_not_equal(pkt__get16(out.b + loc.csum), 0);

			inet_ntop(family == 4 ? AF_INET : AF_INET6, baddr, bname, sizeof(bname));
			rin = mk(family, bname, rc->client, UDP, bport, (uint16_t)(31000 + vlans), 0, vlans, true);
			assert_int_equal(run(fx->prog, &rin, &rout), XDP_PASS);
			text_addr(family, rc->vip, vip);
			expect_rewrite(&rin, &rout, true, vip, 53);
		}
	}
}

/* Traffic that is not for a route, and fragments, pass byte for byte. */
static void test_unrouted_untouched(void **state)
{
	struct fx *fx = *state;
	struct frame cases[] = {
		mk(4, CLIENT4, VIP4, TCP, 1234, 81, SYN, 0, false),     /* VIP, other port */
		mk(4, CLIENT4, "10.10.0.11", TCP, 1234, 80, SYN, 0, false), /* frontend port, other address */
		mk(4, CLIENT4, VIP4, UDP, 1234, 80, 0, 0, false),       /* tcp route, udp packet */
		mk(6, CLIENT6, VIP6, TCP, 1234, 80, SYN, 1, false),
		mk(4, "10.20.0.11", CLIENT4, TCP, 8080, 4444, ACK, 0, false), /* a backend, no flow */
	};
	struct pkt_spec frag = { .family = 4, .src = CLIENT4, .dst = VIP4, .proto = TCP, .sport = 1, .dport = 80,
				 .frag_first = true };
	struct frame f, out;
	uint64_t st[SL_RW_STAT_MAX], before;

	apply_ok(fx->dp, routes_policy(50, 50));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(fx->prog, &cases[i], &out), XDP_PASS);
		assert_int_equal(out.len, cases[i].len);
		if (memcmp(out.b, cases[i].b, out.len) != 0)
			fail_msg("case %zu was changed", i);
	}
	assert_int_equal(rw__stats(fx->rw, st), 0);
	before = st[SL_RW_STAT_FRAGMENT];
	f.len = (uint32_t)pkt__build(&frag, f.b);
	assert_int_equal(run(fx->prog, &f, &out), XDP_PASS);
	assert_memory_equal(out.b, f.b, f.len);
	assert_int_equal(rw__stats(fx->rw, st), 0);
	assert_int_equal(st[SL_RW_STAT_FRAGMENT], before + 1);
}

/* New flows split by weight (90/10); each flow sticks to its backend. */
static void test_weighted_split(void **state)
{
	struct fx *fx = *state;
	int n = 1000, got[2] = { 0, 0 };

	apply_ok(fx->dp, routes_policy(90, 10));
	for (int i = 0; i < n; i++) {
		char src[32];
		struct frame in, out;

		snprintf(src, sizeof(src), "172.16.%u.%u", rnd() % 256, rnd() % 254 + 1);
		in = mk(4, src, VIP4, TCP, (uint16_t)(1024 + rnd() % 60000), 80, SYN, 0, false);
		assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
		got[which(&out, 4, "10.20.0.11", "10.20.0.12", 8080)]++;
	}
	/* The inputs are fixed (seeded), so this is deterministic; 3 points is 3 sigma at this n. */
	if (abs(got[0] * 100 / n - 90) > 3)
		fail_msg("split %d/%d, want 90/10", got[0], got[1]);
}

/*
 * Established flows keep their backend when weights change and when their backend is
 * removed (it drains); new flows follow the new table; a SYN on a reused port is new.
 */
static void test_conntrack_survives_changes(void **state)
{
	struct fx *fx = *state;
	struct frame in, out;
	int first[64], moved = 0;
	uint8_t a1[16];
	struct sl_rw_counter c;
	bool draining = false;
	Sluice__V1__Policy *p;

	assert_int_equal(rw__flush_flows(fx->rw), 0);
	apply_ok(fx->dp, routes_policy(50, 50));
	for (int i = 0; i < 64; i++) {
		in = mk(4, CLIENT4, VIP4, TCP, (uint16_t)(40000 + i), 80, SYN, 0, false);
		assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
		first[i] = which(&out, 4, "10.20.0.11", "10.20.0.12", 8080);
	}
	/* 10.20.0.11 leaves the route; 10.20.0.12 takes every new flow. */
	p = pb_new();
	pb_add_backend(pb_route(p, "web4", VIP4, TCP, 80), "10.20.0.12", 8080, 1, "v2");
	apply_ok(fx->dp, p);
	for (int i = 0; i < 64; i++) {
		in = mk(4, CLIENT4, VIP4, TCP, (uint16_t)(40000 + i), 80, ACK, 0, false);
		assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
		if (which(&out, 4, "10.20.0.11", "10.20.0.12", 8080) != first[i])
			fail_msg("established flow %d moved", i);
		moved += first[i] == 0;
	}
	assert_true(moved > 0); /* some flows were on the backend that left */
	text_addr(4, "10.20.0.11", a1);
	assert_int_equal(rw__backend_counters(fx->rw, "web4", a1, 4, 8080, &c, &draining), 0);
	assert_true(draining);
	for (int i = 0; i < 64; i++) {
		/* New flows, and SYNs on ports whose old flows may have gone to 10.20.0.11. */
		in = mk(4, CLIENT4, VIP4, TCP, (uint16_t)(i < 32 ? 50000 + i : 40000 + i - 32), 80, SYN, 0, false);
		assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
		assert_int_equal(which(&out, 4, "10.20.0.11", "10.20.0.12", 8080), 1);
		/* and the connection's next packet follows the SYN */
		in = mk(4, CLIENT4, VIP4, TCP, (uint16_t)(i < 32 ? 50000 + i : 40000 + i - 32), 80, ACK, 0, false);
		assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
		assert_int_equal(which(&out, 4, "10.20.0.11", "10.20.0.12", 8080), 1);
	}
}

/* Per-backend counters: new flows, packets and bytes each way; status lists them. */
static void test_counters_and_status(void **state)
{
	struct fx *fx = *state;
	struct sl_rw_counter c0, c1;
	Sluice__V1__Status st = SLUICE__V1__STATUS__INIT;
	uint8_t a[16];
	struct frame in, out, rin;
	const Sluice__V1__RouteCounters *web = NULL;
	uint64_t flows = 0, pkts = 0;

	assert_int_equal(rw__flush_flows(fx->rw), 0);
	apply_ok(fx->dp, routes_policy(100, 0));
	text_addr(4, "10.20.0.11", a);
	assert_int_equal(rw__backend_counters(fx->rw, "web4", a, 4, 8080, &c0, NULL), 0);
	for (int i = 0; i < 10; i++) {
		in = mk(4, CLIENT4, VIP4, TCP, (uint16_t)(41000 + i), 80, SYN, 0, false);
		assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
		assert_int_equal(which(&out, 4, "10.20.0.11", "10.20.0.12", 8080), 0);
		rin = mk(4, "10.20.0.11", CLIENT4, TCP, 8080, (uint16_t)(41000 + i), SYN | ACK, 0, false);
		assert_int_equal(run(fx->prog, &rin, &out), XDP_PASS);
	}
	assert_int_equal(rw__backend_counters(fx->rw, "web4", a, 4, 8080, &c1, NULL), 0);
	assert_int_equal(c1.new_flows - c0.new_flows, 10);
	assert_int_equal(c1.packets - c0.packets, 10);
	assert_int_equal(c1.bytes - c0.bytes, 10 * in.len);
	assert_int_equal(c1.reply_packets - c0.reply_packets, 10);
	assert_int_equal(c1.reply_bytes - c0.reply_bytes, 10 * rin.len);

	/* Established flows are counted in the flow cache first, then in batches: the
	 * reported counts are exact all the same. */
	for (int i = 0; i < 13; i++) {
		in = mk(4, CLIENT4, VIP4, TCP, 41000, 80, ACK, 0, false);
		assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
		assert_int_equal(run(fx->prog, &rin, &out), XDP_PASS);
	}
	c0 = c1;
	assert_int_equal(rw__backend_counters(fx->rw, "web4", a, 4, 8080, &c1, NULL), 0);
	assert_int_equal(c1.new_flows - c0.new_flows, 0);
	assert_int_equal(c1.packets - c0.packets, 13);
	assert_int_equal(c1.bytes - c0.bytes, 13 * in.len);
	assert_int_equal(c1.reply_packets - c0.reply_packets, 13);

	assert_int_equal(dp__fill_status(fx->dp, &st), 0);
	assert_int_equal(st.routes_used, 4);
	assert_int_equal(st.route_capacity, SL_MAX_ROUTES);
	for (size_t i = 0; i < st.n_routes; i++)
		if (strcmp(st.routes[i]->name, "web4") == 0)
			web = st.routes[i];
	assert_non_null(web);
	assert_non_null(web->frontend);
	assert_int_equal(web->frontend->port, 80);
	assert_true(web->n_backends >= 2);
	assert_string_equal(web->backends[0]->tag, "v1");
	assert_int_equal(web->backends[0]->port, 8080);
	assert_memory_equal(web->backends[0]->addr.data, a, 4);
	for (size_t k = 0; k < web->n_backends; k++) {
		flows += web->backends[k]->new_flows;
		pkts += web->backends[k]->reply_packets;
	}
	assert_true(flows >= 10 && pkts >= 10);
	assert_true(st.n_rewrite_reasons == SL_RW_STAT_MAX);
}

/* Through inspection: a dropped packet is never rewritten, a passed one is. */
static void test_chained_after_inspection(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__Policy *p = routes_policy(50, 50);
	Sluice__V1__Rule *r = pb_rule(p, "block-client-port", 10, SLUICE__V1__ACTION__ACTION_DROP);
	struct frame in, out;

	r->match->proto = TCP;
	pb_sport(r, 6666, 6666);
	apply_ok(fx->dp, p);
	in = mk(4, CLIENT4, VIP4, TCP, 6666, 80, SYN, 0, false);
	assert_int_equal(run(dp__prog_fd(fx->dp), &in, &out), XDP_DROP);
	in = mk(4, CLIENT4, VIP4, TCP, 6667, 80, SYN, 1, false);
	assert_int_equal(run(dp__prog_fd(fx->dp), &in, &out), XDP_PASS);
	which(&out, 4, "10.20.0.11", "10.20.0.12", 8080);
	assert_null(pkt__check_csums(out.b, out.len));
	/* With no rules at all, inspection still hands packets on. */
	apply_ok(fx->dp, routes_policy(50, 50));
	in = mk(6, CLIENT6, VIP6, UDP, 6668, 53, 0, 0, false);
	assert_int_equal(run(dp__prog_fd(fx->dp), &in, &out), XDP_PASS);
	which(&out, 6, "2001:db8:1::21", "2001:db8:1::22", 5353);
}

/* Refused route sets change nothing: the live generation keeps translating. */
static void test_refused_routes_keep_live(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__Policy *p;
	Sluice__V1__Route *r;
	struct frame in, out;
	char err[256] = "";
	char addr[32];

	apply_ok(fx->dp, routes_policy(50, 50));
	p = routes_policy(50, 50);
	r = pb_route(p, "too-many", "10.10.0.99", TCP, 80);
	for (int i = 0; i < SL_MAX_BACKENDS + 1; i++) {
		snprintf(addr, sizeof(addr), "10.30.%d.%d", i / 200, i % 200 + 1);
		pb_add_backend(r, addr, 80, 1, "x");
	}
	assert_int_equal(dp__apply(fx->dp, p, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "too-many"));
	policy__free(p);
	in = mk(4, CLIENT4, VIP4, TCP, 7000, 80, SYN, 0, false);
	assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
	which(&out, 4, "10.20.0.11", "10.20.0.12", 8080);
	in = mk(4, CLIENT4, "10.10.0.99", TCP, 7000, 80, SYN, 0, false);
	assert_int_equal(run(fx->prog, &in, &out), XDP_PASS);
	assert_memory_equal(out.b, in.b, in.len);
}

/*
 * With a pin directory: a restarted agent adopts the pinned rewrite program and maps, so
 * established flows keep their backend across the restart and a new policy; removing the
 * pins removes the rewrite's too.
 */
static void test_pins_adopted(void **state)
{
	char root[] = "/tmp/sluice-test-rw-XXXXXX", pin_dir[PATH_MAX], path[PATH_MAX];
	struct dp_opts o = { 0 };
	struct frame in, out;
	int first[16];
	struct dp *dp;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_int_equal(mount("bpf", root, "bpf", 0, "mode=0700"), 0);
	snprintf(pin_dir, sizeof(pin_dir), "%s/node", root);
	o.pin_dir = pin_dir;

	dp = dp__open(&o);
	assert_non_null(dp);
	assert_false(dp__adopted(dp));
	apply_ok(dp, routes_policy(50, 50));
	for (int i = 0; i < 16; i++) {
		in = mk(4, CLIENT4, VIP4, TCP, (uint16_t)(42000 + i), 80, SYN, 0, false);
		assert_int_equal(run(dp__prog_fd(dp), &in, &out), XDP_PASS);
		first[i] = which(&out, 4, "10.20.0.11", "10.20.0.12", 8080);
	}
	dp__close(dp);
	snprintf(path, sizeof(path), "%s/prog_rewrite", pin_dir);
	assert_int_equal(access(path, F_OK), 0);

	dp = dp__open(&o);
	assert_non_null(dp);
	assert_true(dp__adopted(dp));
	apply_ok(dp, routes_policy(1, 99));
	for (int i = 0; i < 16; i++) {
		in = mk(4, CLIENT4, VIP4, TCP, (uint16_t)(42000 + i), 80, ACK, 0, false);
		assert_int_equal(run(dp__prog_fd(dp), &in, &out), XDP_PASS);
		if (which(&out, 4, "10.20.0.11", "10.20.0.12", 8080) != first[i])
			fail_msg("flow %d changed backend across the restart", i);
	}
	dp__close(dp);

	/* A different program (another load-time setting) of the same ABI: loaded against
	 * the pinned maps and swapped into the chain; flows still stay put. */
	o.rewrite_fib = true;
	dp = dp__open(&o);
	assert_non_null(dp);
	for (int i = 0; i < 16; i++) {
		in = mk(4, CLIENT4, VIP4, TCP, (uint16_t)(42000 + i), 80, ACK, 0, false);
		assert_int_equal(run(dp__prog_fd(dp), &in, &out), XDP_PASS);
		if (which(&out, 4, "10.20.0.11", "10.20.0.12", 8080) != first[i])
			fail_msg("flow %d changed backend across the program upgrade", i);
	}
	dp__close(dp);

	/* Pins of another rewrite ABI: replaced (flows start over), and the agent still starts. */
	{
		struct sl_rw_meta meta;
		__u32 zero = 0;
		int fd;

		snprintf(path, sizeof(path), "%s/rw_map_sl_rw_meta", pin_dir);
		fd = bpf_obj_get(path);
		assert_true(fd >= 0);
		assert_int_equal(bpf_map_lookup_elem(fd, &zero, &meta), 0);
		meta.abi_version = 999;
		assert_int_equal(bpf_map_update_elem(fd, &zero, &meta, BPF_ANY), 0);
		close(fd);
	}
	dp = dp__open(&o);
	assert_non_null(dp);
	apply_ok(dp, routes_policy(50, 50));
	in = mk(4, CLIENT4, VIP4, TCP, 42100, 80, SYN, 0, false);
	assert_int_equal(run(dp__prog_fd(dp), &in, &out), XDP_PASS);
	which(&out, 4, "10.20.0.11", "10.20.0.12", 8080);
	dp__close(dp);
	snprintf(path, sizeof(path), "%s/prog_rewrite", pin_dir);

	assert_int_equal(dp__destroy_pins(pin_dir), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(umount(root), 0);
	assert_int_equal(rmdir(root), 0);
}

/*
 * With sl_rw_fib set, a translated packet whose route and neighbour the kernel knows leaves
 * by redirect: next-hop MACs, TTL (hop limit) one lower, checksums still right. Runs in a
 * network namespace of its own (made by unshare, gone with the process): a veth pair, a
 * client side and a backend side, and a permanent neighbour entry for the backend. Last
 * test: the process stays in that namespace.
 */
static void test_fib_redirect(void **state)
{
	static const uint8_t nh_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xaa };
	struct rw *rw;
	struct frame in, out;
	struct xdp_md xctx = { 0 };
	uint8_t b4[16], b6[16];
	struct pkt_loc loc;

	(void)state;
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	assert_int_equal(system("ip link set lo up && ip link add rwt0 type veth peer name rwt1 && "
				"ip link set rwt0 address 02:00:00:00:00:01 && ip link set rwt0 up && ip link set rwt1 up && "
				"ip addr add 10.20.0.254/24 dev rwt0 && ip addr add 192.168.7.254/24 dev rwt1 && "
				"ip -6 addr add 2001:db8:1::254/64 dev rwt0 nodad && ip -6 addr add 2001:db8:c::254/64 dev rwt1 nodad && "
				"ip neigh add 10.20.0.11 lladdr 02:00:00:00:00:aa dev rwt0 nud permanent && "
				"ip -6 neigh add 2001:db8:1::11 lladdr 02:00:00:00:00:aa dev rwt0 nud permanent && "
				"sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1"),
			 0);
	rw = rw__open(&(struct rw_opts){ .chain_fd = -1, .fib = true });
	assert_non_null(rw);
	{
		char err[256] = "";
		Sluice__V1__Policy *p = routes_policy(100, 0);

		if (rw__apply(rw, p, err, sizeof(err)))
			fail_msg("apply: %s", err);
		policy__free(p);
	}
	xctx.ingress_ifindex = if_nametoindex("rwt1");
	text_addr(4, "10.20.0.11", b4);
	text_addr(6, "2001:db8:1::11", b6);
	for (int family = 4; family <= 6; family += 2) {
		const struct rcase *rc = family == 4 ? &rcases[0] : &rcases[2];
		struct frame copy;

		in = mk(family, rc->client, rc->vip, TCP, 43000, rc->vport, SYN, 0, false);
		copy = in;
		xctx.data_end = in.len;
		{
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = copy.b, .data_size_in = in.len, .data_out = out.b,
				    .data_size_out = sizeof(out.b), .ctx_in = &xctx, .ctx_size_in = sizeof(xctx), .repeat = 1);

			assert_int_equal(bpf_prog_test_run_opts(rw__prog_fd(rw), &o), 0);
			assert_int_equal(o.retval, XDP_REDIRECT);
			out.len = o.data_size_out;
		}
		assert_memory_equal(out.b, nh_mac, 6);
		assert_memory_equal(out.b + 6, "\x02\x00\x00\x00\x00\x01", 6);
		assert_int_equal(pkt__locate(out.b, out.len, &loc), 0);
		assert_int_equal(out.b[loc.l3 + (family == 4 ? 8 : 7)], 63);
		assert_memory_equal(out.b + loc.l3 + (family == 4 ? 16 : 24), family == 4 ? b4 : b6, family == 4 ? 4 : 16);
		assert_null(pkt__check_csums(out.b, out.len));

		/* Tagged frames go through the stack. */
		in = mk(family, rc->client, rc->vip, TCP, 43001, rc->vport, SYN, 1, false);
		assert_int_equal(run(rw__prog_fd(rw), &in, &out), XDP_PASS);
	}
	rw__close(rw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite_both_directions),
		cmocka_unit_test(test_udp_zero_checksum),
		cmocka_unit_test(test_unrouted_untouched),
		cmocka_unit_test(test_weighted_split),
		cmocka_unit_test(test_conntrack_survives_changes),
		cmocka_unit_test(test_counters_and_status),
		cmocka_unit_test(test_chained_after_inspection),
		cmocka_unit_test(test_refused_routes_keep_live),
		cmocka_unit_test(test_pins_adopted),
		cmocka_unit_test(test_fib_redirect), /* last: it leaves the process in its own namespace */
	};

	priv__require_root("test_rewrite");
	log__init("test_rewrite", getenv("SLUICE_TEST_DEBUG") ? LOG_DEBUG : LOG_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
