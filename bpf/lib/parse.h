/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * parse.h — packet parsing for the inspection program: one helper per header, each
 * checking bounds before it reads. sl_parse() fills a struct sl_pkt with what
 * classification needs, or returns the sl_stat reason it could not.
 *
 * Defined outcomes (the verdicts that follow from them are listed in inspect.bpf.c):
 * - up to SL_MAX_VLANS 802.1Q/802.1ad tags are skipped; a frame with more is not IP to
 *   us (SL_STAT_NON_IP), as is any other ethertype;
 * - a frame too short for its Ethernet, VLAN or IP header, or for the IPv4 options its
 *   IHL announces, is not classified (SL_STAT_TRUNCATED); nor is an IP header with the
 *   wrong version, an IHL below 5 or an IPv4 total length below its header
 *   (SL_STAT_BAD_HEADER);
 * - IPv6 extension headers (hop-by-hop, routing, destination options, fragment, AH) are
 *   walked up to SL_MAX_EXT_HDRS; a longer chain is classified on addresses with the
 *   extension header as protocol (SL_STAT_EXT_LIMIT);
 * - fragments other than the first, and packets whose L4 header is cut short by the frame
 *   or lies beyond the IP length, are classified with ports 0 and no TCP flags, so only
 *   rules without port or flag conditions match them (SL_STAT_FRAGMENT,
 *   SL_STAT_TRUNCATED);
 * - an IP length beyond the frame, a TCP data offset below 5 or beyond the IP length, a
 *   UDP length below 8 or beyond the IP length: classified with the ports and flags that
 *   are there, marked (SL_STAT_TRUNCATED, SL_STAT_BAD_HEADER), so the rewrite leaves
 *   the packet alone (the kernel drops it).
 * p->stat holds one reason: SL_STAT_FRAGMENT for a fragment (SL_STAT_TRUNCATED when a
 * first fragment's L4 header is cut short), else the first one met.
 */
#ifndef SLUICE_BPF_PARSE_H
#define SLUICE_BPF_PARSE_H

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

#ifndef SL_MAX_VLANS
#define SL_MAX_VLANS 2
#endif
#ifndef SL_MAX_EXT_HDRS
#define SL_MAX_EXT_HDRS 6
#endif

#define SL_IPV4_FRAG_MASK 0x3fff /* MF flag + fragment offset */
#define SL_IPV4_OFF_MASK 0x1fff

struct sl_pkt {
	__u8 family;    /* 4 or 6 */
	__u8 proto;     /* L4 protocol after extension headers */
	__u8 tcp_flags; /* 0 unless a full TCP header was seen */
	__u8 l4_seen;   /* ports and flags are real */
	__u16 sport;    /* host order; 0 when not known */
	__u16 dport;
	__u8 src[16];   /* IPv4 in the first 4 bytes */
	__u8 dst[16];
	__u32 stat;     /* why the packet is classified partially or is malformed (see above), else 0 */
	__u8 routed;    /* an IPv6 routing header with segments left: dst is not the final one */
	__u8 pad[3];
} __attribute__((aligned(8))); /* read as 64-bit words by the verdict cache (lib/vcache.h) */

struct sl_cursor {
	void *pos;
	void *end;
};

struct sl_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Ethernet and VLAN tags: puts the ethertype (network order; any value, 0 included) in
 * *proto and returns 0, or returns -1 when the frame is cut short. */
static __always_inline int sl_parse_eth(struct sl_cursor *c, __be16 *proto)
{
	struct ethhdr *eth = c->pos;
	__be16 et;

	if ((void *)(eth + 1) > c->end)
		return -1;
	et = eth->h_proto;
	c->pos = eth + 1;
#pragma unroll
	for (int i = 0; i < SL_MAX_VLANS; i++) {
		struct sl_vlan_hdr *vh = c->pos;

		if (et != bpf_htons(ETH_P_8021Q) && et != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > c->end)
			return -1;
		et = vh->proto;
		c->pos = vh + 1;
	}
	*proto = et;
	return 0;
}

/* Ports and flags from a TCP or UDP header at the cursor. room is how many L4 bytes the
 * IP header says there are. A header cut short (by the frame or by room) leaves ports
 * and flags 0 and marks the packet truncated; it is still classified. A whole header
 * whose own length field disagrees with room marks the packet too (see above). */
static __always_inline int sl_parse_l4(struct sl_cursor *c, struct sl_pkt *p, __u32 room)
{
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;
		__u32 doff;

		if ((void *)(th + 1) > c->end || room < sizeof(*th)) {
			p->stat = SL_STAT_TRUNCATED;
			return 0;
		}
		p->sport = bpf_ntohs(th->source);
		p->dport = bpf_ntohs(th->dest);
		p->tcp_flags = ((__u8 *)th)[13];
		p->l4_seen = 1;
		doff = (((__u8 *)th)[12] >> 4) * 4;
		if (!p->stat && doff < sizeof(*th))
			p->stat = SL_STAT_BAD_HEADER;
		else if (!p->stat && doff > room)
			p->stat = SL_STAT_TRUNCATED;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;
		__u32 ulen;

		if ((void *)(uh + 1) > c->end || room < sizeof(*uh)) {
			p->stat = SL_STAT_TRUNCATED;
			return 0;
		}
		p->sport = bpf_ntohs(uh->source);
		p->dport = bpf_ntohs(uh->dest);
		p->l4_seen = 1;
		ulen = bpf_ntohs(uh->len);
		if (!p->stat && ulen < sizeof(*uh))
			p->stat = SL_STAT_BAD_HEADER;
		else if (!p->stat && ulen > room)
			p->stat = SL_STAT_TRUNCATED;
	}
	return 0;
}

static __always_inline int sl_parse_ipv4(struct sl_cursor *c, struct sl_pkt *p)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > c->end)
		return SL_STAT_TRUNCATED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (ip->version != 4 || ip->ihl < 5 || tot < hlen)
		return SL_STAT_BAD_HEADER;
	if (c->pos + hlen > c->end)
		return SL_STAT_TRUNCATED;
	if (c->pos + tot > c->end)
		p->stat = SL_STAT_TRUNCATED; /* the rest of the packet is missing */
	p->family = 4;
	p->proto = ip->protocol;
	__builtin_memcpy(p->src, &ip->saddr, 4);
	__builtin_memcpy(p->dst, &ip->daddr, 4);
	if (ip->frag_off & bpf_htons(SL_IPV4_FRAG_MASK)) {
		p->stat = SL_STAT_FRAGMENT;
		/* Only the first fragment carries the L4 header. */
		if (ip->frag_off & bpf_htons(SL_IPV4_OFF_MASK))
			return 0;
	}
	c->pos += hlen;
	return sl_parse_l4(c, p, tot - hlen);
}

struct sl_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

/* The L4 bytes of an IPv6 packet whose payload is plen bytes, used of them by
 * extension headers. */
static __always_inline __u32 sl_room6(__u32 plen, __u32 used)
{
	return used < plen ? plen - used : 0;
}

static __always_inline int sl_parse_ipv6(struct sl_cursor *c, struct sl_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 plen, used = 0;
	__u8 nh;

	if ((void *)(ip6 + 1) > c->end)
		return SL_STAT_TRUNCATED;
	if (ip6->version != 6)
		return SL_STAT_BAD_HEADER;
	p->family = 6;
	__builtin_memcpy(p->src, &ip6->saddr, 16);
	__builtin_memcpy(p->dst, &ip6->daddr, 16);
	nh = ip6->nexthdr;
	plen = bpf_ntohs(ip6->payload_len);
	c->pos = ip6 + 1;
	if (c->pos + plen > c->end)
		p->stat = SL_STAT_TRUNCATED; /* the rest of the packet is missing */

#pragma unroll
	for (int i = 0; i < SL_MAX_EXT_HDRS; i++) {
		struct sl_ext_hdr *eh = c->pos;
		__u32 len;

		switch (nh) {
		case IPPROTO_ROUTING:
			/* Segments left (byte 3) != 0: the packet is on its way to another hop. */
			if (c->pos + 4 > c->end)
				goto truncated;
			if (((__u8 *)eh)[3])
				p->routed = 1;
			/* fallthrough */
		case IPPROTO_HOPOPTS:
		case IPPROTO_DSTOPTS:
			if ((void *)(eh + 1) > c->end)
				goto truncated;
			nh = eh->nexthdr;
			len = (eh->hdrlen + 1) * 8;
			c->pos += len;
			used += len;
			continue;
		case IPPROTO_AH:
			if ((void *)(eh + 1) > c->end)
				goto truncated;
			nh = eh->nexthdr;
			len = (eh->hdrlen + 2) * 4;
			c->pos += len;
			used += len;
			continue;
		case IPPROTO_FRAGMENT: {
			__be16 *off = c->pos + 2;

			if ((void *)(off + 1) > c->end)
				goto truncated;
			nh = eh->nexthdr;
			p->stat = SL_STAT_FRAGMENT;
			if (*off & bpf_htons(0xfff8)) { /* not the first fragment */
				p->proto = nh;
				return 0;
			}
			c->pos += 8;
			used += 8;
			continue;
		}
		default:
			p->proto = nh;
			return sl_parse_l4(c, p, sl_room6(plen, used));
		}
	}
	p->proto = nh;
	/* SL_MAX_EXT_HDRS walked: the L4 header, or one extension header too many (classify
	 * on addresses only). */
	if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS && nh != IPPROTO_AH &&
	    nh != IPPROTO_FRAGMENT)
		return sl_parse_l4(c, p, sl_room6(plen, used));
	p->stat = SL_STAT_EXT_LIMIT;
	return 0;
truncated:
	p->proto = nh;
	p->stat = SL_STAT_TRUNCATED;
	return 0;
}

/* Parses the frame. Returns 0 when p can be classified, else the sl_stat reason. */
static __always_inline int sl_parse(struct xdp_md *ctx, struct sl_pkt *p)
{
	struct sl_cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	__be16 proto;

	if (sl_parse_eth(&c, &proto))
		return SL_STAT_TRUNCATED;
	if (proto == bpf_htons(ETH_P_IP))
		return sl_parse_ipv4(&c, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return sl_parse_ipv6(&c, p);
	return SL_STAT_NON_IP;
}

#endif
