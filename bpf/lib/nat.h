/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * nat.h — address and port translation of one packet in place.
 *
 * sl_nat_parse() finds the IP and TCP/UDP headers with the parse helpers of parse.h (VLAN
 * tags, IPv4 options and IPv6 extension headers included) and fills the flow key. Only
 * whole, unfragmented, well-formed TCP and UDP packets are translated (every checksum of
 * the result can be verified from scratch); anything else returns nonzero: fragments,
 * anything parse.h marks as cut short or malformed, and IPv6 packets with a routing
 * header that has segments left (their destination is not the final one, and the L4
 * checksum covers the final one, not the address we would change).
 *
 * sl_nat_rewrite() writes a new destination (forward: client to backend) or source
 * (reply: backend to client) address and port and fixes every checksum that covers them:
 * the IPv4 header checksum, and the TCP or UDP checksum through its pseudo-header.
 * UDP over IPv4 without a checksum (0) stays without one; UDP over IPv6 without one gets
 * one computed from scratch (IPv6 does not allow 0); a computed UDP checksum of 0 is sent
 * as 0xffff (RFC 768).
 */
#ifndef SLUICE_BPF_NAT_H
#define SLUICE_BPF_NAT_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/csum.h"
#include "lib/parse.h"

#define SL_TCP_SYN 0x02
#define SL_TCP_ACK 0x10

/* A parsed packet. Header positions are offsets from ctx->data, not pointers, so the code
 * after parsing can live in a global function that the verifier checks once, instead of
 * once per header layout the parser can produce. */
struct sl_nat_pkt {
	struct sl_flow key;
	__u32 l3_off;    /* IPv4 or IPv6 header */
	__u32 l4_off;    /* TCP or UDP header */
	__u32 hash;      /* sl_flow_hash(&key), once the caller computed it */
	__u8 tcp_flags;
	__u8 syn;        /* TCP SYN without ACK: the start of a connection */
	__u8 pad[2];
};

#define SL_NAT_MAX_OFF 512 /* headers start within this many bytes of the frame */

/* 0 when n describes a translatable packet; 1 for anything else, SL_STAT_FRAGMENT for
 * a fragment (which carries no ports to translate). */
static __always_inline int sl_nat_parse(struct xdp_md *ctx, struct sl_nat_pkt *n)
{
	void *data = (void *)(long)ctx->data;
	struct sl_cursor c = { .pos = data, .end = (void *)(long)ctx->data_end };
	struct sl_pkt p = {};
	__be16 proto;
	int r;

	if (sl_parse_eth(&c, &proto))
		return 1;
	n->l3_off = c.pos - data;
	if (proto == bpf_htons(ETH_P_IP))
		r = sl_parse_ipv4(&c, &p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		r = sl_parse_ipv6(&c, &p);
	else
		return 1;
	if (r || (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP))
		return 1;
	if (p.stat == SL_STAT_FRAGMENT)
		return SL_STAT_FRAGMENT;
	if (p.stat || !p.l4_seen || p.routed)
		return 1;
	n->l4_off = c.pos - data;
	if (n->l4_off > SL_NAT_MAX_OFF)
		return 1;
	__builtin_memcpy(n->key.src, p.src, 16);
	__builtin_memcpy(n->key.dst, p.dst, 16);
	n->key.sport = bpf_htons(p.sport);
	n->key.dport = bpf_htons(p.dport);
	n->key.proto = p.proto;
	n->key.family = p.family;
	n->tcp_flags = p.tcp_flags;
	n->syn = p.proto == IPPROTO_TCP && (p.tcp_flags & (SL_TCP_SYN | SL_TCP_ACK)) == SL_TCP_SYN;
	return 0;
}

/* The IP and L4 headers of n in the packet, bounds-checked for the header sizes.
 * 0, or -1 when they are not all there. */
static __always_inline int sl_nat_headers(struct xdp_md *ctx, const struct sl_nat_pkt *n, void **l3, void **l4)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 o3 = n->l3_off, o4 = n->l4_off;

	/* The compiler may know these bounds from the parser and drop the checks; the
	 * verifier, which saw the offsets go through the stack, needs to see them. */
	asm volatile("" : "+r"(o3), "+r"(o4));
	if (o3 > SL_NAT_MAX_OFF || o4 > SL_NAT_MAX_OFF)
		return -1;
	*l3 = data + o3;
	*l4 = data + o4;
	if (*l3 + (n->key.family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr)) > end)
		return -1;
	if (*l4 + (n->key.proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr)) > end)
		return -1;
	return 0;
}

/* Sums UDP over IPv6 from scratch (it arrived without a checksum) and writes the result.
 * 0 or -1. Not inlined: the fast path need not carry its stack. */
static __noinline int sl_nat_udp6_full(struct xdp_md *ctx, const struct sl_nat_pkt *n)
{
	void *end = (void *)(long)ctx->data_end, *l3, *l4;
	struct ipv6hdr *ip6;
	struct udphdr *uh;
	__u32 len;
	__s64 body;
	__u64 s;
	__u16 c;

	if (sl_nat_headers(ctx, n, &l3, &l4))
		return -1;
	ip6 = l3;
	uh = l4;
	if ((void *)(ip6 + 1) > end || (void *)(uh + 1) > end)
		return -1;
	len = bpf_ntohs(uh->len);
	if (len < sizeof(*uh))
		return -1;
	uh->check = 0;
	body = sl_csum_l4_full(ctx, n->l4_off, len);
	if (body < 0)
		return -1;
	/* The helper may have moved nothing, but the verifier forgets packet bounds across it. */
	if (sl_nat_headers(ctx, n, &l3, &l4))
		return -1;
	ip6 = l3;
	uh = l4;
	end = (void *)(long)ctx->data_end;
	if ((void *)(ip6 + 1) > end || (void *)(uh + 1) > end)
		return -1;
	s = sl_csum_add128((__u64)body, &ip6->saddr);
	s = sl_csum_add128(s, &ip6->daddr);
	s += bpf_htonl(len) + bpf_htonl(IPPROTO_UDP);
	c = (__u16)~sl_csum_fold(s);
	uh->check = c ? c : 0xffff;
	return 0;
}

/*
 * Writes to's address and port as the destination (reply == 0) or the source (reply == 1)
 * of the packet n, fixing the checksums. 0; -1 when the headers are cut short (nothing
 * was changed); -2 when UDP over IPv6 arrived without a checksum and is too long to sum
 * (the packet was changed and carries no valid checksum: drop it).
 */
static __always_inline int sl_nat_rewrite(struct xdp_md *ctx, const struct sl_nat_pkt *n, const struct sl_nat *to,
					  int reply)
{
	void *end = (void *)(long)ctx->data_end, *l3, *l4;
	int udp = n->key.proto == IPPROTO_UDP;
	__u16 *l4sum;
	__be16 *port;
	__u64 d = 0;

	if (sl_nat_headers(ctx, n, &l3, &l4))
		return -1;
	if (udp) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > end)
			return -1;
		l4sum = (__u16 *)&uh->check;
	} else {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > end)
			return -1;
		l4sum = (__u16 *)&th->check;
	}
	/* Source port is the first field of both TCP and UDP, destination the second. */
	port = (__be16 *)l4 + (reply ? 0 : 1);
	if ((void *)(port + 1) > end)
		return -1;
	d = sl_csum_diff16(d, *port, to->port);

	if (n->key.family == 4) {
		struct iphdr *ip = l3;
		__be32 *addr, na;

		if ((void *)(ip + 1) > end)
			return -1;
		addr = reply ? &ip->saddr : &ip->daddr;
		__builtin_memcpy(&na, to->addr, 4);
		ip->check = sl_csum_apply(ip->check, sl_csum_diff32(0, *addr, na));
		d = sl_csum_diff32(d, *addr, na);
		*addr = na;
		*port = to->port;
		if (udp && *l4sum == 0)
			return 0; /* no checksum: stays so */
	} else {
		struct ipv6hdr *ip6 = l3;
		struct in6_addr *addr;

		if ((void *)(ip6 + 1) > end)
			return -1;
		addr = reply ? &ip6->saddr : &ip6->daddr;
		d = sl_csum_diff128(d, addr, to->addr);
		__builtin_memcpy(addr, to->addr, 16);
		*port = to->port;
		if (udp && *l4sum == 0)
			return sl_nat_udp6_full(ctx, n) ? -2 : 0;
	}
	*l4sum = sl_csum_apply(*l4sum, d);
	if (udp && *l4sum == 0)
		*l4sum = 0xffff;
	return 0;
}

#endif
