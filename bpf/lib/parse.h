/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * parse.h — packet parsing for the inspection program: one helper per header, each
 * checking bounds before it reads. sl_parse() fills a struct sl_pkt with what
 * classification needs, or returns the sl_stat reason it could not.
 *
 * Defined outcomes: up to SL_MAX_VLANS 802.1Q/802.1ad tags are skipped; IPv4 options
 * are skipped by IHL; IPv6 extension headers (hop-by-hop, routing, destination
 * options, fragment, AH) are walked up to SL_MAX_EXT_HDRS. Fragments other than the
 * first, packets whose extension chain is longer than we walk and packets whose L4
 * header is cut short are classified with ports 0 and no TCP flags, so only rules
 * without port or flag conditions match them. Frames too short for their Ethernet or
 * IP header are not classified (sl_parse returns the reason).
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
	__u32 stat;     /* SL_STAT_FRAGMENT / SL_STAT_EXT_LIMIT when classified partially, else 0 */
};

struct sl_cursor {
	void *pos;
	void *end;
};

struct sl_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Ethernet and VLAN tags: returns the ethertype (network order) or 0 if truncated. */
static __always_inline __be16 sl_parse_eth(struct sl_cursor *c)
{
	struct ethhdr *eth = c->pos;
	__be16 proto;

	if ((void *)(eth + 1) > c->end)
		return 0;
	proto = eth->h_proto;
	c->pos = eth + 1;
#pragma unroll
	for (int i = 0; i < SL_MAX_VLANS; i++) {
		struct sl_vlan_hdr *vh = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > c->end)
			return 0;
		proto = vh->proto;
		c->pos = vh + 1;
	}
	return proto;
}

/* Ports and flags from a TCP or UDP header at the cursor. A header cut short leaves
 * ports and flags 0 and marks the packet truncated; it is still classified. */
static __always_inline int sl_parse_l4(struct sl_cursor *c, struct sl_pkt *p)
{
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;

		if ((void *)(th + 1) > c->end) {
			p->stat = SL_STAT_TRUNCATED;
			return 0;
		}
		p->sport = bpf_ntohs(th->source);
		p->dport = bpf_ntohs(th->dest);
		p->tcp_flags = ((__u8 *)th)[13];
		p->l4_seen = 1;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;

		if ((void *)(uh + 1) > c->end) {
			p->stat = SL_STAT_TRUNCATED;
			return 0;
		}
		p->sport = bpf_ntohs(uh->source);
		p->dport = bpf_ntohs(uh->dest);
		p->l4_seen = 1;
	}
	return 0;
}

static __always_inline int sl_parse_ipv4(struct sl_cursor *c, struct sl_pkt *p)
{
	struct iphdr *ip = c->pos;
	__u32 hlen;

	if ((void *)(ip + 1) > c->end)
		return SL_STAT_TRUNCATED;
	if (ip->version != 4 || ip->ihl < 5)
		return SL_STAT_BAD_HEADER;
	hlen = ip->ihl * 4;
	if (c->pos + hlen > c->end)
		return SL_STAT_TRUNCATED;
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
	return sl_parse_l4(c, p);
}

struct sl_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

static __always_inline int sl_parse_ipv6(struct sl_cursor *c, struct sl_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 nh;

	if ((void *)(ip6 + 1) > c->end)
		return SL_STAT_TRUNCATED;
	if (ip6->version != 6)
		return SL_STAT_BAD_HEADER;
	p->family = 6;
	__builtin_memcpy(p->src, &ip6->saddr, 16);
	__builtin_memcpy(p->dst, &ip6->daddr, 16);
	nh = ip6->nexthdr;
	c->pos = ip6 + 1;

#pragma unroll
	for (int i = 0; i < SL_MAX_EXT_HDRS; i++) {
		struct sl_ext_hdr *eh = c->pos;

		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if ((void *)(eh + 1) > c->end)
				goto truncated;
			nh = eh->nexthdr;
			c->pos += (eh->hdrlen + 1) * 8;
			continue;
		case IPPROTO_AH:
			if ((void *)(eh + 1) > c->end)
				goto truncated;
			nh = eh->nexthdr;
			c->pos += (eh->hdrlen + 2) * 4;
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
			continue;
		}
		default:
			p->proto = nh;
			return sl_parse_l4(c, p);
		}
	}
	/* Still an extension header after the bound: classify on addresses only. */
	p->proto = nh;
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
	__be16 proto = sl_parse_eth(&c);

	if (proto == bpf_htons(ETH_P_IP))
		return sl_parse_ipv4(&c, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return sl_parse_ipv6(&c, p);
	return proto ? SL_STAT_NON_IP : SL_STAT_TRUNCATED;
}

#endif
