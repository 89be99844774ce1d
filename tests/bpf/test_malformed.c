// SPDX-License-Identifier: Apache-2.0
/*
 * test_malformed.c — malformed frames through both XDP programs with BPF_PROG_TEST_RUN:
 * inspection alone, the routing rewrite alone, and the chain the agent runs (inspection
 * tail-calls the rewrite for what it passes). Frames cut at every byte of every header,
 * IPv4 options and lengths that lie, fragments, IPv6 extension chains (longer than the
 * parser walks, cut short, with AH, ESP, no next header), TCP data offsets and UDP
 * lengths that lie, frames of 0 and 1 byte (the kernel refuses to run XDP on less than
 * an Ethernet header: checked too), then thousands of seeded random mutations of valid
 * frames (byte flips, truncations, inserted VLAN tags, header fields).
 *
 * For every frame: the verdict is one of those documented for its class (the table at
 * the top of bpf/inspect.bpf.c, bpf/lib/parse.h), the matching reason counter moved and
 * no other, XDP_ABORTED never; the chain drops what inspection drops and otherwise
 * returns exactly what the rewrite alone returns; a frame the rewrite changed was one it
 * could parse completely, only its addresses, ports and checksums changed, and every
 * checksum (IPv4 header, TCP/UDP with the v4 or v6 pseudo-header) verifies from scratch.
 *
 * SLUICE_MALFORMED_FRAMES sets the number of random frames (default 3000),
 * SLUICE_MALFORMED_SEED the seed (default: from the clock; printed either way). The
 * summary lines ("malformed: ...") list frames, verdicts and reasons per class.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

#define ICMP 1
#define ICMP6 58
#define SYN 0x02

#define CLIENT4 "192.168.7.1"
#define CLIENT6 "2001:db8:c::1"
#define DOC4 "192.0.2.5"         /* inside drop-doc: dropped whenever it is classified */
#define DOC6 "2001:db8:d0c::5"
#define PLAIN4 "10.0.0.1"        /* no address rule: only port rules decide */
#define PLAIN6 "2001:db8:99::1"

/* What the rewrite must do with a frame. */
enum rw_want { RW_NONE, RW_XLATE, RW_FRAG };

/* ---- per-class tallies, printed at the end ------------------------------------------- */

struct cls {
	char name[40];
	uint64_t frames, refused, insp[2], chain[2], reason[SL_STAT_MAX], unclassified, translated, rw_fragment;
};

static struct cls classes[64];
static size_t n_classes;
static uint64_t total_frames, total_rewritten, total_csum_ok, total_aborted, random_frames;
static unsigned long long seed;

static struct cls *cls_of(const char *name)
{
	for (size_t i = 0; i < n_classes; i++)
		if (strcmp(classes[i].name, name) == 0)
			return &classes[i];
	assert_true(n_classes < sizeof(classes) / sizeof(classes[0]));
	snprintf(classes[n_classes].name, sizeof(classes[n_classes].name), "%s", name);
	return &classes[n_classes++];
}

static const char *const stat_names[] = SL_STAT_NAMES;

/* ---- fixture ------------------------------------------------------------------------- */

/* dp runs the chain as the agent does; alone is a second datapath with the same policy
 * whose rewrite is not chained, for inspection alone (emptying dp's chain slot around
 * every run would wait for an RCU grace period each time). */
struct fx {
	struct dp *dp, *alone;
	struct rw *rw;
	int insp, insp_alone, rwp;
};

static struct fx F;

/*
 * Rules: count-all counts every classified packet (so a classified packet is one that
 * moved its counter); telnet over TCP and UDP 9999 are dropped by port; the documentation
 * prefixes are dropped by address alone. Routes: rw_fixture.h's four.
 */
static Sluice__V1__Policy *malformed_policy(void)
{
	Sluice__V1__Policy *p = routes_policy(50, 50);
	Sluice__V1__Rule *r;

	pb_rule(p, "count-all", 1, SLUICE__V1__ACTION__ACTION_COUNT);
	r = pb_rule(p, "drop-telnet", 10, SLUICE__V1__ACTION__ACTION_DROP);
	r->match->proto = TCP;
	pb_dport(r, 23, 23);
	r = pb_rule(p, "drop-udp-9999", 11, SLUICE__V1__ACTION__ACTION_DROP);
	r->match->proto = UDP;
	pb_dport(r, 9999, 9999);
	r = pb_rule(p, "drop-doc", 20, SLUICE__V1__ACTION__ACTION_DROP);
	pb_dst(r, "192.0.2.0/24");
	pb_dst(r, "2001:db8:d0c::/48");
	return p;
}

static int group_setup(void **state)
{
	struct dp_opts o = { 0 };
	Sluice__V1__Policy *p;
	char err[256] = "";

	(void)state;
	F.dp = dp__open(&o);
	assert_non_null(F.dp);
	F.rw = dp__rewrite(F.dp);
	assert_non_null(F.rw);
	F.insp = dp__prog_fd(F.dp);
	F.rwp = rw__prog_fd(F.rw);
	F.alone = dp__open(&o);
	assert_non_null(F.alone);
	assert_int_equal(rw__set_chained(dp__rewrite(F.alone), false), 0);
	F.insp_alone = dp__prog_fd(F.alone);
	p = malformed_policy();
	if (dp__apply(F.dp, p, err, sizeof(err)) || dp__apply(F.alone, p, err, sizeof(err)))
		fail_msg("apply failed: %s", err);
	policy__free(p);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_classes; i++) {
		const struct cls *c = &classes[i];
		char reasons[256] = "";
		size_t n = 0;

		for (int k = SL_STAT_NON_IP; k <= SL_STAT_EXT_LIMIT; k++)
			if (c->reason[k])
				n += (size_t)snprintf(reasons + n, sizeof(reasons) - n, "%s%s:%llu", n ? "," : "",
						      stat_names[k], (unsigned long long)c->reason[k]);
		printf("malformed: class=%s frames=%llu refused=%llu inspect=pass:%llu,drop:%llu unclassified=%llu "
		       "reasons=%s rewrite=translated:%llu,fragment:%llu chain=pass:%llu,drop:%llu\n",
		       c->name, (unsigned long long)c->frames, (unsigned long long)c->refused,
				 (unsigned long long)c->insp[0],
		       (unsigned long long)c->insp[1], (unsigned long long)c->unclassified, n ? reasons : "none",
		       (unsigned long long)c->translated, (unsigned long long)c->rw_fragment,
		       (unsigned long long)c->chain[0], (unsigned long long)c->chain[1]);
	}
	printf("malformed: total frames=%llu aborted=%llu rewritten=%llu checksums_verified=%llu random=%llu "
	       "seed=%llu\n",
	       (unsigned long long)total_frames, (unsigned long long)total_aborted,
	       (unsigned long long)total_rewritten, (unsigned long long)total_csum_ok,
	       (unsigned long long)random_frames, seed);
	fflush(stdout);
	dp__close(F.alone);
	dp__close(F.dp);
	return 0;
}

/* ---- running one frame through the three ---------------------------------------------- */

struct result {
	int insp, rw, chain;
	int reason;      /* the enum sl_stat reason counter that moved, 0 for none */
	bool classified; /* count-all counted it */
	bool modified;   /* the rewrite changed the frame */
	uint64_t rw_st[SL_RW_STAT_MAX];
};

static void counters(uint64_t st[SL_STAT_MAX], uint64_t *counted)
{
	uint64_t by;

	assert_int_equal(dp__stats(F.alone, st), 0);
	assert_int_equal(dp__rule_counter(F.alone, "count-all", counted, &by), 0);
}

static const char *verdict_name(int v)
{
	static char buf[16];

	switch (v) {
	case XDP_ABORTED: return "aborted";
	case XDP_DROP: return "drop";
	case XDP_PASS: return "pass";
	case XDP_TX: return "tx";
	case XDP_REDIRECT: return "redirect";
	}
	snprintf(buf, sizeof(buf), "%d", v);
	return buf;
}

static void hexdump(const char *what, const struct frame *f)
{
	fprintf(stderr, "%s (%u bytes):", what, f->len);
	for (uint32_t i = 0; i < f->len; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", f->b[i]);
	fprintf(stderr, "\n");
}

/*
 * A frame the rewrite changed: it must be one whose headers the checker understands
 * completely, with only addresses, ports and checksums changed, and every checksum
 * verifying from scratch.
 */
static void check_rewritten(const char *what, const struct frame *in, const struct frame *out)
{
	struct pkt_loc loc;
	const char *bad;

	if (out->len != in->len)
		fail_msg("%s: the rewrite changed the length %u -> %u", what, in->len, out->len);
	if (pkt__locate(in->b, in->len, &loc)) {
		hexdump("input", in);
		fail_msg("%s: the rewrite changed a frame that is not a whole, well-formed TCP/UDP packet", what);
	}
	for (size_t i = 0; i < in->len; i++) {
		/* IPv4: header checksum and addresses; IPv6: addresses */
		bool addr = loc.family == 4 ? (i >= loc.l3 + 10 && i < loc.l3 + 20)
					    : (i >= loc.l3 + 8 && i < loc.l3 + 40);
		bool ports = i >= loc.l4 && i < loc.l4 + 4;
		bool csum = i >= loc.csum && i < loc.csum + 2;

		if (in->b[i] != out->b[i] && !addr && !ports && !csum) {
			hexdump("input", in);
			fail_msg("%s: the rewrite changed byte %zu (0x%02x -> 0x%02x): no address, port or checksum",
				 what, i, in->b[i], out->b[i]);
		}
	}
	bad = pkt__check_csums(out->b, out->len);
	if (bad) {
		hexdump("input", in);
		hexdump("output", out);
		fail_msg("%s: after the rewrite the %s does not verify", what, bad);
	}
	total_csum_ok++;
}

/* Runs in through inspection alone, the rewrite alone and the chain; checks what holds
 * for every frame and tallies it under class cls. */
static void run3(const char *cls, const char *what, const struct frame *in, struct result *r)
{
	uint64_t s0[SL_STAT_MAX], s1[SL_STAT_MAX], c0, c1, w0[SL_RW_STAT_MAX], w1[SL_RW_STAT_MAX];
	struct frame out_rw = { .len = 0 }, out_chain = { .len = 0 };
	struct cls *c = cls_of(cls);
	int moved = 0;

	memset(r, 0, sizeof(*r));
	if (in->len < 14) {
		/* The kernel refuses to run XDP on less than an Ethernet header (nor does a
		 * driver hand it such a frame): all three runs must say so. */
		if (frame__run(F.insp_alone, in, NULL) != -EINVAL || frame__run(F.rwp, in, NULL) != -EINVAL ||
		    frame__run(F.insp, in, NULL) != -EINVAL)
			fail_msg("%s: a %u-byte frame was not refused", what, in->len);
		r->insp = r->rw = r->chain = -EINVAL;
		total_frames++;
		c->frames++;
		c->refused++;
		return;
	}
	counters(s0, &c0);
	r->insp = frame__run(F.insp_alone, in, NULL);
	counters(s1, &c1);
	assert_int_equal(rw__stats(F.rw, w0), 0);
	r->rw = frame__run(F.rwp, in, &out_rw);
	assert_int_equal(rw__stats(F.rw, w1), 0);
	r->chain = frame__run(F.insp, in, &out_chain);
	total_frames++;
	c->frames++;

	if (r->insp < 0 || r->rw < 0 || r->chain < 0)
		fail_msg("%s: test_run refused a %u-byte frame: %s", what, in->len,
			 strerror(-(r->insp < 0 ? r->insp : r->rw < 0 ? r->rw : r->chain)));
	if (r->insp == XDP_ABORTED || r->rw == XDP_ABORTED || r->chain == XDP_ABORTED) {
		total_aborted++;
		hexdump("frame", in);
		fail_msg("%s: XDP_ABORTED (inspect %d, rewrite %d, chain %d)", what, r->insp, r->rw, r->chain);
	}

	/* Inspection: exactly one reason or none, and the verdict the counters explain. */
	assert_int_equal(s1[SL_STAT_PACKETS] - s0[SL_STAT_PACKETS], 1);
	r->classified = c1 - c0 == 1;
	for (int k = SL_STAT_NON_IP; k <= SL_STAT_EXT_LIMIT; k++) {
		if (s1[k] == s0[k])
			continue;
		if (s1[k] - s0[k] != 1 || moved++)
			fail_msg("%s: more than one reason counter moved", what);
		r->reason = k;
	}
	if (!r->classified) {
		if (r->reason != SL_STAT_NON_IP && r->reason != SL_STAT_TRUNCATED && r->reason != SL_STAT_BAD_HEADER)
			fail_msg("%s: not classified, but the reason is %s", what,
				 r->reason ? stat_names[r->reason] : "none");
		if (r->insp != XDP_PASS)
			fail_msg("%s: not classified, but inspection says %s", what, verdict_name(r->insp));
	} else {
		if (r->reason == SL_STAT_NON_IP)
			fail_msg("%s: classified as non-IP", what);
		if ((r->insp == XDP_DROP) != (s1[SL_STAT_DROP_RULE] - s0[SL_STAT_DROP_RULE] == 1) ||
		    (r->insp == XDP_PASS) != (s1[SL_STAT_NO_MATCH] - s0[SL_STAT_NO_MATCH] == 1))
			fail_msg("%s: inspection says %s, the counters disagree", what, verdict_name(r->insp));
	}
	if (r->insp != XDP_PASS && r->insp != XDP_DROP)
		fail_msg("%s: inspection says %s", what, verdict_name(r->insp));

	/* The rewrite: passes (fib off), or drops only what it cannot checksum (counted). */
	for (int k = 0; k < SL_RW_STAT_MAX; k++)
		r->rw_st[k] = w1[k] - w0[k];
	if (r->rw != XDP_PASS && !(r->rw == XDP_DROP && r->rw_st[SL_RW_STAT_CSUM_LONG] == 1))
		fail_msg("%s: the rewrite says %s", what, verdict_name(r->rw));
	r->modified = out_rw.len != in->len || memcmp(out_rw.b, in->b, in->len) != 0;
	if (r->modified) {
		check_rewritten(what, in, &out_rw);
		total_rewritten++;
	}

	/* The chain: inspection's drop, else exactly what the rewrite alone did. */
	if (r->insp == XDP_DROP) {
		if (r->chain != XDP_DROP)
			fail_msg("%s: inspection drops, the chain says %s", what, verdict_name(r->chain));
	} else if (r->chain != r->rw || out_chain.len != out_rw.len || memcmp(out_chain.b, out_rw.b, out_rw.len) != 0) {
		fail_msg("%s: the chain (%s) differs from the rewrite alone (%s)", what, verdict_name(r->chain),
			 verdict_name(r->rw));
	}

	c->insp[r->insp == XDP_DROP]++;
	c->chain[r->chain == XDP_DROP]++;
	c->reason[r->reason]++;
	c->unclassified += !r->classified;
	c->translated += r->modified;
	c->rw_fragment += r->rw_st[SL_RW_STAT_FRAGMENT];
}

struct want {
	int reason;      /* enum sl_stat, 0 for none */
	bool classified;
	int verdict;     /* of inspection alone */
	enum rw_want rw;
};

/* The documented outcomes: unclassified with a reason (inspection passes, the rewrite
 * leaves it), or classified (reason 0 for none) with a verdict and what the rewrite does. */
#define UNCLASSIFIED(reason) ((struct want){ (reason), false, XDP_PASS, RW_NONE })
#define CLASSIFIED(reason, verdict, rw) ((struct want){ (reason), true, (verdict), (rw) })

/* run3, then the documented outcome of the frame's class. */
static void expect(const char *cls, const char *what, const struct frame *f, struct want w)
{
	struct result r;

	run3(cls, what, f, &r);
	if (f->len < 14)
		return; /* refused by the kernel (run3 checked) */
	if (r.reason != w.reason || r.classified != w.classified || r.insp != w.verdict) {
		hexdump("frame", f);
		fail_msg("%s: inspection %s, reason %s, %sclassified; want %s, %s, %sclassified", what,
			 verdict_name(r.insp), r.reason ? stat_names[r.reason] : "none", r.classified ? "" : "not ",
			 verdict_name(w.verdict), w.reason ? stat_names[w.reason] : "none", w.classified ? "" : "not ");
	}
	if (w.rw == RW_XLATE && !r.modified)
		fail_msg("%s: the rewrite did not translate it", what);
	if (w.rw != RW_XLATE && (r.modified || r.rw != XDP_PASS))
		fail_msg("%s: the rewrite touched it (%s)", what, verdict_name(r.rw));
	if ((w.rw == RW_FRAG) != (r.rw_st[SL_RW_STAT_FRAGMENT] == 1))
		fail_msg("%s: rewrite_fragment moved by %llu", what, (unsigned long long)r.rw_st[SL_RW_STAT_FRAGMENT]);
}

/* ---- building frames ------------------------------------------------------------------ */

/* A valid frame with a patterned payload and valid checksums; vlans 0..2 (802.1ad outer
 * with two). TCP carries SYN. */
static struct frame mkf(int family, const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport,
			int vlans, size_t payload)
{
	struct pkt_spec s = { .family = family, .src = src, .dst = dst, .proto = proto, .sport = sport,
			      .dport = dport, .vlans = vlans, .payload = payload };
	struct frame f;

	f.len = (uint32_t)pkt__build(&s, f.b);
	for (uint32_t i = f.len - (uint32_t)payload; i < f.len; i++)
		f.b[i] = (uint8_t)(i * 7 + 1);
	if (proto == TCP || proto == UDP)
		assert_int_equal(pkt__fill_l4_csum(f.b, f.len), 0);
	return f;
}

static struct frame mk_spec(struct pkt_spec s)
{
	struct frame f;

	f.len = (uint32_t)pkt__build(&s, f.b);
	pkt__fill_l4_csum(f.b, f.len); /* fragments keep theirs 0: nobody can check them */
	return f;
}

static void ins(struct frame *f, size_t off, const void *bytes, size_t n)
{
	assert_true(off <= f->len && f->len + n <= FRAME_MAX);
	memmove(f->b + off + n, f->b + off, f->len - off);
	memcpy(f->b + off, bytes, n);
	f->len += (uint32_t)n;
}

static size_t l3_of(const struct frame *f)
{
	size_t off = 12;

	while (off + 2 <= f->len && (pkt__get16(f->b + off) == 0x8100 || pkt__get16(f->b + off) == 0x88a8))
		off += 4;
	return off + 2;
}

static void add_vlan(struct frame *f, uint16_t tpid)
{
	uint8_t tag[4] = { (uint8_t)(tpid >> 8), (uint8_t)tpid, 0, 30 };

	ins(f, 12, tag, 4);
}

/* IPv4 header fields, with the header checksum made valid again (over what is there). */
static void ip4_fix(struct frame *f)
{
	size_t l3 = l3_of(f), hl = (size_t)(f->b[l3] & 15) * 4;

	if (hl < 20)
		hl = 20;
	if (l3 + hl > f->len)
		hl = f->len - l3;
	pkt__put16(f->b + l3 + 10, 0);
	pkt__put16(f->b + l3 + 10, pkt__csum_fold(pkt__csum_add(0, f->b + l3, hl)));
}

/* Puts an IPv6 extension header first in the chain. type: 0 hop-by-hop, 60 destination
 * options, 43 routing (segments left: arg), 44 fragment (arg: the offset/flags word),
 * 51 AH; len: its length in bytes (a multiple of 8; AH a multiple of 4). */
static void ext6(struct frame *f, uint8_t type, size_t len, uint16_t arg)
{
	size_t l3 = l3_of(f);
	uint8_t h[64] = { 0 };

	assert_true(len >= 8 && len <= sizeof(h));
	h[0] = f->b[l3 + 6];
	if (type == 51) {
		h[1] = (uint8_t)(len / 4 - 2);
		memcpy(h + 4, "\x00\x00\x10\x01\x00\x00\x00\x01", 8); /* SPI, sequence */
	} else if (type == 44) {
		pkt__put16(h + 2, arg);
		memcpy(h + 4, "\x12\x34\x56\x78", 4);
	} else {
		h[1] = (uint8_t)(len / 8 - 1);
		if (type == 43) {
			h[2] = 4; /* segment routing */
			h[3] = (uint8_t)arg;
			if (len >= 24)
				memcpy(h + 8, "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x77", 16);
		} else {
			h[2] = 1; /* PadN */
			h[3] = (uint8_t)(len - 4);
		}
	}
	ins(f, l3 + 40, h, len);
	f->b[l3 + 6] = type;
	pkt__put16(f->b + l3 + 4, (uint16_t)(pkt__get16(f->b + l3 + 4) + len));
}

/* After editing: valid checksums again where the checker can tell what they cover. */
static void refill(struct frame *f)
{
	pkt__fill_l4_csum(f->b, f->len);
}

static struct frame cut(struct frame f, uint32_t len)
{
	if (len < f.len)
		f.len = len;
	return f;
}

/* ---- the crafted cases ----------------------------------------------------------------- */

/* Where a sweep's frame has its headers, to know the documented outcome of each cut. */
struct layout {
	size_t l3, ip_end, l4, l4hdr; /* ip_end: end of the IPv4 header with options / IPv6 fixed header */
	bool excess_vlans;            /* more tags than the parser skips */
	enum { BY_PORT, BY_ADDR, TO_VIP } kind;
};

static struct layout layout_of(const struct frame *f, uint8_t proto, int tags)
{
	struct layout l = { 0 };
	size_t l3 = l3_of(f);

	l.l3 = l3;
	l.excess_vlans = tags > 2;
	if (pkt__get16(f->b + l3 - 2) == 0x0800) {
		l.ip_end = l3 + (size_t)(f->b[l3] & 15) * 4;
		l.l4 = l.ip_end;
	} else {
		struct pkt_loc loc;

		l.ip_end = l3 + 40;
		l.l4 = pkt__locate(f->b, f->len, &loc) == 0 ? loc.l4 : l3 + 40;
	}
	l.l4hdr = proto == TCP ? 20 : proto == UDP ? 8 : 0;
	return l;
}

/* Every cut of f, from 0 bytes to whole: the outcome parse.h documents for each. */
static void sweep(const char *cls, struct frame f, uint8_t proto, int tags, int kind)
{
	struct layout l = layout_of(&f, proto, tags);
	char what[96];

	l.kind = kind;
	for (uint32_t t = 0; t <= f.len; t++) {
		struct frame c = cut(f, t);
		struct want w = { SL_STAT_TRUNCATED, false, XDP_PASS, RW_NONE };
		bool ports = l.l4hdr && t >= l.l4 + l.l4hdr;

		snprintf(what, sizeof(what), "%s cut at %u of %u", cls, t, f.len);
		if (l.excess_vlans) {
			w.reason = t < 14 + 8 ? SL_STAT_TRUNCATED : SL_STAT_NON_IP;
		} else if (t < l.ip_end) {
			/* Ethernet, tags, the IP header (with its options) cut: unclassified. */
		} else {
			w.classified = true;
			w.reason = t == f.len ? 0 : SL_STAT_TRUNCATED;
			if (l.kind == BY_ADDR || (l.kind == BY_PORT && ports))
				w.verdict = XDP_DROP;
			if (l.kind == TO_VIP && t == f.len)
				w.rw = RW_XLATE;
		}
		expect(cls, what, &c, w);
	}
}

static void test_truncated_everywhere(void **state)
{
	struct frame f;

	(void)state;
	sweep("cut-eth-ipv4-tcp", mkf(4, CLIENT4, PLAIN4, TCP, 40000, 23, 0, 6), TCP, 0, BY_PORT);
	sweep("cut-vlan-ipv4-udp", mkf(4, CLIENT4, PLAIN4, UDP, 40000, 9999, 1, 6), UDP, 1, BY_PORT);
	sweep("cut-qinq-ipv6-tcp", mkf(6, CLIENT6, PLAIN6, TCP, 40000, 23, 2, 6), TCP, 2, BY_PORT);
	f = mkf(4, CLIENT4, PLAIN4, TCP, 40000, 23, 2, 6);
	add_vlan(&f, 0x88a8);
	sweep("cut-3vlan-ipv4-tcp", f, TCP, 3, BY_PORT);
	sweep("cut-ipv4-icmp", mkf(4, CLIENT4, DOC4, ICMP, 0, 0, 0, 6), ICMP, 0, BY_ADDR);
	sweep("cut-ipv6-icmp", mkf(6, CLIENT6, DOC6, ICMP6, 0, 0, 1, 6), ICMP6, 1, BY_ADDR);
	f = mk_spec((struct pkt_spec){ .family = 4, .src = CLIENT4, .dst = PLAIN4, .proto = TCP, .sport = 40000,
				      .dport = 23, .ipv4_options = 3, .payload = 4 });
	sweep("cut-ipv4-options-tcp", f, TCP, 0, BY_PORT);
	f = mkf(6, CLIENT6, PLAIN6, UDP, 40000, 9999, 0, 4);
	ext6(&f, 60, 8, 0);
	ext6(&f, 43, 24, 0);
	ext6(&f, 0, 16, 0);
	refill(&f);
	sweep("cut-ipv6-ext-udp", f, UDP, 0, BY_PORT);
	sweep("cut-vip4-tcp", mkf(4, CLIENT4, VIP4, TCP, 40001, 80, 0, 6), TCP, 0, TO_VIP);
	sweep("cut-vip6-udp", mkf(6, CLIENT6, VIP6, UDP, 40001, 53, 1, 6), UDP, 1, TO_VIP);
}

/* IPv4 headers that lie: IHL, total length, version. */
static void test_ipv4_header(void **state)
{
	struct frame base = mkf(4, CLIENT4, PLAIN4, TCP, 40000, 23, 0, 10), vip = mkf(4, CLIENT4, VIP4, TCP, 40002, 80,
				0, 10);
	size_t l3 = 14;
	struct frame f;

	(void)state;
	for (int ihl = 0; ihl < 5; ihl++) {
		f = base;
		f.b[l3] = (uint8_t)(0x40 | ihl);
		ip4_fix(&f);
		expect("ipv4-ihl-below-5", "IHL < 5", &f, UNCLASSIFIED(SL_STAT_BAD_HEADER));
	}
	for (int words = 1; words <= 10; words += 3) {
		f = mk_spec((struct pkt_spec){ .family = 4, .src = CLIENT4, .dst = PLAIN4, .proto = TCP, .sport = 40000,
					      .dport = 23, .ipv4_options = words, .payload = 4 });
		expect("ipv4-options", "IHL > 5, NOP options", &f, CLASSIFIED(0, XDP_DROP, RW_NONE));
		f = mk_spec((struct pkt_spec){ .family = 4, .src = CLIENT4, .dst = VIP4, .proto = TCP, .sport = 40003,
					      .dport = 80, .ipv4_options = words, .payload = 4 });
		expect("ipv4-options", "IHL > 5 to a VIP", &f, CLASSIFIED(0, XDP_PASS, RW_XLATE));
	}
	/* IHL 15 on a frame with 40 bytes of IP: the header runs past the total length. */
	f = base;
	f.b[l3] = 0x4f;
	ip4_fix(&f);
	expect("ipv4-ihl-beyond-length", "IHL 15, total length 50", &f, UNCLASSIFIED(SL_STAT_BAD_HEADER));
	/* ... and past the frame, the total length saying so. */
	f = base;
	f.b[l3] = 0x4f;
	pkt__put16(f.b + l3 + 2, 80);
	ip4_fix(&f);
	expect("ipv4-options-truncated", "IHL 15 beyond the frame", &f, UNCLASSIFIED(SL_STAT_TRUNCATED));

	/* Total length beyond the frame: classified with the ports that are there, not translated. */
	f = base;
	pkt__put16(f.b + l3 + 2, (uint16_t)(f.len - l3 + 20));
	ip4_fix(&f);
	expect("ipv4-length-beyond-frame", "total length > frame", &f,
	       CLASSIFIED(SL_STAT_TRUNCATED, XDP_DROP, RW_NONE));
	f = vip;
	pkt__put16(f.b + l3 + 2, (uint16_t)(f.len - l3 + 20));
	ip4_fix(&f);
	expect("ipv4-length-beyond-frame", "total length > frame, to a VIP", &f,
	       CLASSIFIED(SL_STAT_TRUNCATED, XDP_PASS, RW_NONE));
	f = base;
	pkt__put16(f.b + l3 + 2, 0xffff);
	ip4_fix(&f);
	expect("ipv4-length-beyond-frame", "total length 65535", &f, CLASSIFIED(SL_STAT_TRUNCATED, XDP_DROP, RW_NONE));

	/* Shorter than the frame: Ethernet padding after a whole packet is fine... */
	{
		uint8_t pad[6] = { 0 };

		f = vip;
		ins(&f, f.len, pad, sizeof(pad));
		expect("ipv4-length-below-frame", "padding after the packet, to a VIP", &f,
		       CLASSIFIED(0, XDP_PASS, RW_XLATE));
		f = base;
		ins(&f, f.len, pad, sizeof(pad));
		expect("ipv4-length-below-frame", "padding after the packet", &f, CLASSIFIED(0, XDP_DROP, RW_NONE));
	}
	/* ... but an L4 header outside the packet is not one. */
	f = base;
	pkt__put16(f.b + l3 + 2, 20 + 10);
	ip4_fix(&f);
	expect("ipv4-length-below-frame", "TCP header beyond the total length", &f,
	       CLASSIFIED(SL_STAT_TRUNCATED, XDP_PASS, RW_NONE));
	f = vip;
	pkt__put16(f.b + l3 + 2, 20 + 10);
	ip4_fix(&f);
	expect("ipv4-length-below-frame", "TCP header beyond the total length, to a VIP", &f,
	       CLASSIFIED(SL_STAT_TRUNCATED, XDP_PASS, RW_NONE));
	for (uint16_t tot = 0; tot < 20; tot += 7) {
		f = base;
		pkt__put16(f.b + l3 + 2, tot);
		ip4_fix(&f);
		expect("ipv4-length-below-header", "total length < IHL", &f, UNCLASSIFIED(SL_STAT_BAD_HEADER));
	}
	/* Version nibble. */
	for (int v = 0; v < 16; v++) {
		if (v == 4)
			continue;
		f = base;
		f.b[l3] = (uint8_t)(v << 4 | 5);
		ip4_fix(&f);
		expect("ipv4-bad-version", "IPv4 ethertype, bad version", &f, UNCLASSIFIED(SL_STAT_BAD_HEADER));
	}
	f = mkf(6, CLIENT6, PLAIN6, TCP, 40000, 23, 0, 10);
	f.b[14] = 0x45;
	expect("ipv6-bad-version", "IPv6 ethertype, version 4", &f, UNCLASSIFIED(SL_STAT_BAD_HEADER));
	/* IPv6 payload length beyond the frame, and too short for the TCP header. */
	f = mkf(6, CLIENT6, PLAIN6, TCP, 40000, 23, 0, 10);
	pkt__put16(f.b + 18, 200);
	expect("ipv6-length-beyond-frame", "payload length > frame", &f,
	       CLASSIFIED(SL_STAT_TRUNCATED, XDP_DROP, RW_NONE));
	f = mkf(6, CLIENT6, VIP6, TCP, 40004, 443, 0, 10);
	pkt__put16(f.b + 18, 12);
	expect("ipv6-length-below-frame", "TCP header beyond the payload length, to a VIP", &f,
	       CLASSIFIED(SL_STAT_TRUNCATED, XDP_PASS, RW_NONE));
	/* Not IP at all. */
	f = base;
	pkt__put16(f.b + 12, 0x0806);
	expect("eth-non-ip", "ARP ethertype", &f, UNCLASSIFIED(SL_STAT_NON_IP));
}

/* Zero-length, 1-byte and other sub-Ethernet frames: the kernel refuses to run XDP on
 * them (a driver never hands XDP less than an Ethernet header); 14 bytes of Ethernet
 * alone are cut short. */
static void test_tiny_frames(void **state)
{
	struct frame f = mkf(4, CLIENT4, PLAIN4, TCP, 40000, 23, 0, 0);

	(void)state;
	for (uint32_t t = 0; t < 14; t++)
		expect(t < 2 ? "tiny-0-1-byte" : "tiny-below-ethernet", "sub-Ethernet frame",
		       &(struct frame){ .len = t },
		       (struct want){ 0 });
	expect("tiny-0-1-byte", "1 byte of a real frame", &(struct frame){ .b = { f.b[0] }, .len = 1 },
	       (struct want){ 0 });
	expect("tiny-ethernet-only", "14 zero bytes: ethertype 0", &(struct frame){ .len = 14 },
	       UNCLASSIFIED(SL_STAT_NON_IP));
	f.len = 14;
	expect("tiny-ethernet-only", "IPv4 ethertype, no IP header", &f,
	       UNCLASSIFIED(SL_STAT_TRUNCATED));
}

/* IPv4 fragments: first (MF), middle (MF + offset), last (offset), towards a port rule,
 * an address rule and a route's VIP. */
static void test_ipv4_fragments(void **state)
{
	const uint16_t frag[3] = { 0x2000, 0x2000 | 185, 370 };
	const char *name[3] = { "ipv4-fragment-first", "ipv4-fragment-middle", "ipv4-fragment-last" };

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct frame f;
		bool first = i == 0;

		f = mkf(4, CLIENT4, PLAIN4, TCP, 40000, 23, 0, 16);
		pkt__put16(f.b + 20, frag[i]);
		ip4_fix(&f);
		expect(name[i], "to a port rule", &f,
		       CLASSIFIED(SL_STAT_FRAGMENT, first ? XDP_DROP : XDP_PASS, RW_FRAG));
		f = mkf(4, CLIENT4, DOC4, UDP, 40000, 53, 0, 16);
		pkt__put16(f.b + 20, frag[i]);
		ip4_fix(&f);
		expect(name[i], "to an address rule", &f, CLASSIFIED(SL_STAT_FRAGMENT, XDP_DROP, RW_FRAG));
		f = mkf(4, CLIENT4, VIP4, TCP, 40005, 80, 0, 16);
		pkt__put16(f.b + 20, frag[i]);
		ip4_fix(&f);
		expect(name[i], "to a route VIP", &f, CLASSIFIED(SL_STAT_FRAGMENT, XDP_PASS, RW_FRAG));
		/* A first UDP fragment's length is the whole datagram's: not a bad length. */
		f = mkf(4, CLIENT4, VIP4, UDP, 40005, 53, 1, 16);
		if (first)
			pkt__put16(f.b + 18 + 20 + 4, 1000);
		pkt__put16(f.b + 18 + 6, frag[i]);
		ip4_fix(&f);
		expect(name[i], "UDP to a route VIP", &f, CLASSIFIED(SL_STAT_FRAGMENT, XDP_PASS, RW_FRAG));
	}
}

/* IPv6 extension chains. */
static void test_ipv6_extensions(void **state)
{
	static const struct {
		const char *cls;
		int n;
		uint8_t type[8];
		size_t len[8];
		uint16_t arg[8];
		int reason;
		bool ports;  /* classified with ports */
		bool xlate;  /* translated when to a VIP */
		bool frag;   /* a fragment (rewrite_fragment) */
	} cases[] = {
		{ "ipv6-ext-hop-by-hop", 1, { 0 }, { 8 }, { 0 }, 0, true, true },
		{ "ipv6-ext-hop-by-hop", 1, { 0 }, { 64 }, { 0 }, 0, true, true },
		{ "ipv6-ext-routing", 1, { 43 }, { 24 }, { 0 }, 0, true, true },
		{ "ipv6-ext-routing-segments-left", 1, { 43 }, { 24 }, { 1 }, 0, true, false },
		{ "ipv6-ext-destination", 1, { 60 }, { 16 }, { 0 }, 0, true, true },
		{ "ipv6-ext-fragment-first", 1, { 44 }, { 8 }, { 1 }, SL_STAT_FRAGMENT, true, false, true },
		{ "ipv6-ext-fragment-later", 1, { 44 }, { 8 }, { 0x100 }, SL_STAT_FRAGMENT, false, false, true },
		{ "ipv6-ext-fragment-later", 1, { 44 }, { 8 }, { 0x101 }, SL_STAT_FRAGMENT, false, false, true },
		{ "ipv6-ext-ah", 1, { 51 }, { 24 }, { 0 }, 0, true, true },
		{ "ipv6-ext-chain", 4, { 0, 43, 51, 60 }, { 8, 24, 24, 8 }, { 0 }, 0, true, true },
		{ "ipv6-ext-chain", 5, { 0, 60, 43, 44, 60 }, { 8, 8, 24, 8, 8 }, { 0, 0, 0, 1, 0 }, SL_STAT_FRAGMENT,
		true,
		  false, true },
		{ "ipv6-ext-chain-at-limit", 6, { 0, 60, 60, 60, 60, 60 }, { 8, 8, 8, 8, 8, 8 }, { 0 }, 0, true, true },
		{ "ipv6-ext-chain-over-limit", 7, { 0, 60, 60, 60, 60, 60, 60 }, { 8, 8, 8, 8, 8, 8, 8 }, { 0 },
		  SL_STAT_EXT_LIMIT, false, false },
		{ "ipv6-ext-chain-over-limit", 8, { 0, 43, 60, 51, 60, 60, 60, 60 }, { 8, 24, 8, 24, 8, 8, 8, 8 },
		{ 0 },
		  SL_STAT_EXT_LIMIT, false, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int target = 0; target < 3; target++) {
			/* 0: TCP to a port rule; 1: UDP to an address rule; 2: TCP to a VIP */
			struct frame f = target == 0 ? mkf(6, CLIENT6, PLAIN6, TCP, 40000, 23, 0, 8)
				       : target == 1 ? mkf(6, CLIENT6, DOC6, UDP, 40000, 53, 1, 8)
						     : mkf(6, CLIENT6, VIP6, TCP, (uint16_t)(41000 + i), 443, 0, 8);
			struct want w = { cases[i].reason, true, XDP_PASS, RW_NONE };
			char what[96];

			for (int k = cases[i].n - 1; k >= 0; k--)
				ext6(&f, cases[i].type[k], cases[i].len[k], cases[i].arg[k]);
			refill(&f);
			if (target == 0 && cases[i].ports)
				w.verdict = XDP_DROP;
			if (target == 1)
				w.verdict = XDP_DROP;
			/* Every TCP/UDP fragment counts as rewrite_fragment, for a route or not. */
			if (cases[i].frag)
				w.rw = RW_FRAG;
			else if (target == 2 && cases[i].xlate)
				w.rw = RW_XLATE;
			snprintf(what, sizeof(what), "%s #%zu, target %d", cases[i].cls, i, target);
			expect(cases[i].cls, what, &f, w);
		}
	}

	/* A header whose length runs past the frame, and one cut in its first bytes. */
	for (int target = 0; target < 2; target++) {
		struct frame f = target ? mkf(6, CLIENT6, VIP6, TCP, 41100, 443, 0, 8) : mkf(6, CLIENT6, PLAIN6, TCP,
					      40000, 23, 0, 8);

		ext6(&f, 60, 8, 0);
		ext6(&f, 0, 8, 0);
		f.b[14 + 40 + 8 + 1] = 255; /* destination options of 2 KB */
		expect("ipv6-ext-truncated", "extension header longer than the frame", &f,
		       CLASSIFIED(SL_STAT_TRUNCATED, XDP_PASS, RW_NONE));
		f.len = 14 + 40 + 8 + 1;
		expect("ipv6-ext-truncated", "extension header cut after 1 byte", &f,
		       CLASSIFIED(SL_STAT_TRUNCATED, XDP_PASS, RW_NONE));
	}
	/* ESP and no next header: no ports to see, the address rules still apply. */
	for (int k = 0; k < 2; k++) {
		uint8_t proto = k ? 59 : 50;
		struct frame f = mkf(6, CLIENT6, PLAIN6, proto, 0, 0, 0, k ? 0 : 24);

		expect(k ? "ipv6-no-next-header" : "ipv6-esp", "to a plain address", &f,
		       CLASSIFIED(0, XDP_PASS, RW_NONE));
		f = mkf(6, CLIENT6, DOC6, proto, 0, 0, 0, k ? 0 : 24);
		expect(k ? "ipv6-no-next-header" : "ipv6-esp", "to an address rule", &f,
		       CLASSIFIED(0, XDP_DROP, RW_NONE));
		f = mkf(6, CLIENT6, VIP6, proto, 0, 0, 0, k ? 0 : 24);
		expect(k ? "ipv6-no-next-header" : "ipv6-esp", "to a VIP", &f, CLASSIFIED(0, XDP_PASS, RW_NONE));
		f = mkf(6, CLIENT6, DOC6, proto, 0, 0, 0, k ? 0 : 24);
		ext6(&f, 0, 8, 0);
		expect(k ? "ipv6-no-next-header" : "ipv6-esp", "after hop-by-hop", &f,
		       CLASSIFIED(0, XDP_DROP, RW_NONE));
	}
}

/* TCP data offsets and UDP lengths that lie. */
static void test_l4_lengths(void **state)
{
	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		const char *client = family == 4 ? CLIENT4 : CLIENT6, *plain = family == 4 ? PLAIN4 : PLAIN6;
		const char *vip = family == 4 ? VIP4 : VIP6;
		uint16_t vtcp = family == 4 ? 80 : 443;
		size_t l4 = 14 + (family == 4 ? 20 : 40);

		for (int doff = 0; doff < 16; doff++) {
			struct frame f = mkf(family, client, plain, TCP, 40000, 23, 0, 12), v;
			/* 12 bytes of payload: data offsets 5..8 fit, 9..15 run past the packet */
			int reason = doff < 5 ? SL_STAT_BAD_HEADER : doff > 8 ? SL_STAT_TRUNCATED : 0;
			const char *cls = doff < 5 ? "tcp-doff-below-5"
					: doff > 8 ? "tcp-doff-beyond-packet" : "tcp-doff-options";

			f.b[l4 + 12] = (uint8_t)(doff << 4);
			refill(&f);
			expect(cls, "to a port rule", &f, CLASSIFIED(reason, XDP_DROP, RW_NONE));
			v = mkf(family, client, vip, TCP, (uint16_t)(42000 + doff), vtcp, 0, 12);
			v.b[l4 + 12] = (uint8_t)(doff << 4);
			refill(&v);
			expect(cls, "to a VIP", &v, CLASSIFIED(reason, XDP_PASS, reason ? RW_NONE : RW_XLATE));
		}
		for (int k = 0; k < 6; k++) {
			/* 20 bytes of payload: UDP length 28 is right; 8..27 leave bytes after the
			 * datagram (allowed), below 8 or above 28 lie. */
			static const uint16_t ulen[6] = { 0, 7, 8, 20, 29, 0xffff };
			int reason = ulen[k] < 8 ? SL_STAT_BAD_HEADER : ulen[k] > 28 ? SL_STAT_TRUNCATED : 0;
			const char *cls = ulen[k] < 8 ? "udp-length-below-8"
					: ulen[k] > 28 ? "udp-length-beyond-packet" : "udp-length-short-of-packet";
			struct frame f = mkf(family, client, plain, UDP, 40000, 9999, 0, 20), v;

			pkt__put16(f.b + l4 + 4, ulen[k]);
			refill(&f);
			expect(cls, "to a port rule", &f, CLASSIFIED(reason, XDP_DROP, RW_NONE));
			for (int zero = 0; zero < 2; zero++) {
				v = mkf(family, client, vip, UDP, (uint16_t)(43000 + k * 2 + zero), 53, 0, 20);
				pkt__put16(v.b + l4 + 4, ulen[k]);
				refill(&v);
				if (zero) /* no checksum: v4 keeps none, v6 gets one computed over the UDP length */
					pkt__put16(v.b + l4 + 6, 0);
				expect(cls, "to a VIP", &v, CLASSIFIED(reason, XDP_PASS, reason ? RW_NONE : RW_XLATE));
			}
		}
	}
}

/* ---- random mutations --------------------------------------------------------------- */

static uint64_t rs;

static uint32_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return (uint32_t)((rs * 0x2545F4914F6CDD1DULL) >> 32);
}

/* The reply a backend sends to a translated frame: addresses and ports swapped. */
static struct frame reply_to(const struct frame *out)
{
	struct frame r = *out;
	struct pkt_loc loc;
	uint8_t t[16];
	size_t a = 4;

	assert_int_equal(pkt__locate(r.b, r.len, &loc), 0);
	if (loc.family == 6)
		a = 16;
	{
		uint8_t *src = r.b + loc.l3 + (loc.family == 4 ? 12 : 8), *dst = src + a;

		memcpy(t, src, a);
		memcpy(src, dst, a);
		memcpy(dst, t, a);
	}
	memcpy(t, r.b + loc.l4, 2);
	memcpy(r.b + loc.l4, r.b + loc.l4 + 2, 2);
	memcpy(r.b + loc.l4 + 2, t, 2);
	if (loc.proto == TCP)
		r.b[loc.l4 + 13] = 0x12; /* SYN-ACK */
	refill(&r);
	return r;
}

static void mutate(struct frame *f)
{
	int n = 1 + (int)(rnd() % 3);

	for (int i = 0; i < n; i++) {
		switch (rnd() % 6) {
		case 0: /* a byte of the headers */
			if (f->len)
				f->b[rnd() % (f->len < 96 ? f->len : 96)] ^= (uint8_t)(1 + rnd() % 255);
			break;
		case 1: /* any byte */
			if (f->len)
				f->b[rnd() % f->len] ^= (uint8_t)(1 + rnd() % 255);
			break;
		case 2: /* cut */
			f->len = rnd() % (f->len + 1);
			break;
		case 3: /* a VLAN tag more */
			if (f->len >= 12 && f->len + 4 <= FRAME_MAX)
				add_vlan(f, rnd() & 1 ? 0x8100 : 0x88a8);
			break;
		case 4: { /* a 16-bit field of the IP or L4 header set to an edge value */
			static const uint16_t edge[] = { 0, 1, 4, 5, 7, 8, 20, 40, 0x00ff, 0x0100, 0x7fff, 0xffff };
			size_t l3 = l3_of(f), at = l3 + rnd() % 64;
			uint16_t v = rnd() & 1 ? edge[rnd() % (sizeof(edge) / sizeof(edge[0]))] : (uint16_t)rnd();

			if (at + 2 <= f->len)
				pkt__put16(f->b + at, v);
			break;
		}
		default: { /* the IPv4 IHL / IPv6 next header / TCP data offset nibble or byte */
			size_t l3 = l3_of(f);

			if (l3 + 7 <= f->len) {
				if (pkt__get16(f->b + l3 - 2) == 0x0800)
					f->b[l3] = (uint8_t)((f->b[l3] & 0xf0) | (rnd() & 15));
				else
					f->b[l3 + 6] = (uint8_t[]){ 0, 43, 44, 50, 51, 59, 60, 6, 17, 58 }[rnd() % 10];
			}
			break;
		}
		}
	}
	/* Checksums valid wherever the checker can tell what they cover, so a translated frame
	 * must come out verifying: the rewrite fixes them incrementally, it cannot repair them. */
	refill(f);
}

static void test_random_mutations(void **state)
{
	const char *e_n = getenv("SLUICE_MALFORMED_FRAMES"), *e_seed = getenv("SLUICE_MALFORMED_SEED");
	unsigned long n = e_n ? strtoul(e_n, NULL, 10) : 3000;
	struct frame pool[64];
	size_t np = 0;

	(void)state;
	seed = e_seed ? strtoull(e_seed, NULL,
				 0) : (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
	printf("malformed: random frames=%lu seed=%llu (SLUICE_MALFORMED_SEED=%llu reproduces them)\n", n, seed, seed);
	fflush(stdout);
	rs = seed ? seed : 1;

	for (int vlans = 0; vlans <= 2; vlans++) {
		pool[np++] = mkf(4, CLIENT4, PLAIN4, TCP, 40000, 23, vlans, 12);
		pool[np++] = mkf(4, CLIENT4, DOC4, UDP, 40000, 53, vlans, 12);
		pool[np++] = mkf(4, CLIENT4, DOC4, ICMP, 0, 0, vlans, 12);
		pool[np++] = mkf(6, CLIENT6, PLAIN6, UDP, 40000, 9999, vlans, 12);
		pool[np++] = mkf(6, CLIENT6, DOC6, ICMP6, 0, 0, vlans, 12);
		for (int k = 0; k < 2; k++) {
			pool[np++] = mkf(4, CLIENT4, VIP4, k ? UDP : TCP, (uint16_t)(44000 + vlans * 4 + k),
					 k ? 53 : 80, vlans, 12);
			pool[np++] = mkf(6, CLIENT6, VIP6, k ? UDP : TCP, (uint16_t)(44000 + vlans * 4 + k),
					 k ? 53 : 443, vlans, 12);
		}
	}
	pool[np] = mk_spec((struct pkt_spec){ .family = 4, .src = CLIENT4, .dst = VIP4, .proto = TCP, .sport = 44100,
					     .dport = 80, .ipv4_options = 2, .payload = 12 });
	np++;
	pool[np] = mkf(6, CLIENT6, VIP6, UDP, 44101, 53, 0, 12);
	ext6(&pool[np], 60, 8, 0);
	ext6(&pool[np], 51, 24, 0);
	ext6(&pool[np], 0, 8, 0);
	refill(&pool[np]);
	np++;
	/* Replies from the backends the VIP frames went to: the reverse path, too. */
	for (size_t i = 0, m = np; i < m; i++) {
		struct frame out;

		if (frame__run(F.rwp, &pool[i], &out) == XDP_PASS && memcmp(out.b, pool[i].b, out.len) != 0)
			pool[np++] = reply_to(&out);
	}
	assert_true(np <= sizeof(pool) / sizeof(pool[0]));

	for (unsigned long i = 0; i < n; i++) {
		struct frame f = pool[rnd() % np];
		struct result r;
		char what[64];

		mutate(&f);
		snprintf(what, sizeof(what), "random frame %lu (seed %llu)", i, seed);
		run3("random", what, &f, &r);
		random_frames++;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_ipv4_header),
		cmocka_unit_test(test_tiny_frames),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv6_extensions),
		cmocka_unit_test(test_l4_lengths),
		cmocka_unit_test(test_random_mutations),
	};

	priv__require_root("test_malformed");
	log__init("test_malformed", LOG_WARN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
