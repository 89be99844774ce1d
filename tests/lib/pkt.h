/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkt.h — crafting test frames: Ethernet (optionally with VLAN tags), IPv4 or IPv6
 * (optionally with options / extension headers / fragments), TCP, UDP or ICMP. The IPv4
 * header checksum is valid; L4 checksums are left 0 (inspection never reads them).
 */
#ifndef SLUICE_TEST_PKT_H
#define SLUICE_TEST_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct pkt_spec {
	int family;            /* 4 or 6 */
	const char *src, *dst; /* textual addresses */
	uint8_t proto;         /* 6 tcp, 17 udp, 1 icmp, 58 icmpv6, or anything */
	uint16_t sport, dport;
	uint8_t tcp_flags;     /* default SYN when 0 and proto tcp */
	int vlans;             /* 0..2 tags */
	int ipv4_options;      /* 32-bit words of options (IHL = 5 + this) */
	bool frag_first;       /* first fragment (MF set, offset 0) */
	bool frag_later;       /* later fragment (offset > 0): no L4 header */
	int ipv6_ext;          /* number of hop-by-hop/dest-opt headers before L4 */
	size_t payload;        /* bytes after the L4 header */
};

static inline uint16_t pkt__csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline uint32_t pkt__csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

/* Writes the frame into buf (>= 512 bytes); returns its length. */
static inline size_t pkt__build(const struct pkt_spec *s, uint8_t *buf)
{
	uint8_t *p = buf, *l3, *l4;
	uint16_t ethertype = s->family == 6 ? 0x86dd : 0x0800;
	size_t l4len = 0, iphl;
	uint8_t proto = s->proto, flags = s->tcp_flags;
	uint8_t saddr[16] = { 0 }, daddr[16] = { 0 };
	int alen = s->family == 6 ? 16 : 4;

	inet_pton(s->family == 6 ? AF_INET6 : AF_INET, s->src, saddr);
	inet_pton(s->family == 6 ? AF_INET6 : AF_INET, s->dst, daddr);
	memset(buf, 0, 512);
	memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	p += 12;
	for (int i = 0; i < s->vlans; i++) {
		uint16_t tpid = (i == 0 && s->vlans == 2) ? 0x88a8 : 0x8100;

		*p++ = (uint8_t)(tpid >> 8);
		*p++ = (uint8_t)tpid;
		*p++ = 0;
		*p++ = (uint8_t)(10 + i);
	}
	*p++ = (uint8_t)(ethertype >> 8);
	*p++ = (uint8_t)ethertype;
	l3 = p;

	if (proto == 6)
		l4len = 20;
	else if (proto == 17 || proto == 1 || proto == 58)
		l4len = 8;
	if (s->frag_later)
		l4len = 0;
	if (proto == 6 && !flags)
		flags = 0x02;

	if (s->family == 4) {
		iphl = 20 + 4 * (size_t)s->ipv4_options;
		l4 = l3 + iphl;
		l3[0] = (uint8_t)(0x40 | (iphl / 4));
		uint16_t tot = (uint16_t)(iphl + l4len + s->payload);
		l3[2] = (uint8_t)(tot >> 8);
		l3[3] = (uint8_t)tot;
		if (s->frag_first)
			l3[6] = 0x20; /* MF */
		if (s->frag_later) {
			l3[6] = 0x00;
			l3[7] = 0x10; /* offset 16 * 8 bytes */
		}
		l3[8] = 64;
		l3[9] = proto;
		memcpy(l3 + 12, saddr, 4);
		memcpy(l3 + 16, daddr, 4);
		for (int i = 0; i < s->ipv4_options; i++)
			l3[20 + 4 * i] = 1; /* NOP options */
		uint16_t c = pkt__csum_fold(pkt__csum_add(0, l3, iphl));
		l3[10] = (uint8_t)(c >> 8);
		l3[11] = (uint8_t)c;
	} else {
		uint8_t nh = proto;
		size_t ext = 8 * (size_t)s->ipv6_ext + ((s->frag_first || s->frag_later) ? 8 : 0);

		iphl = 40 + ext;
		l4 = l3 + iphl;
		l3[0] = 0x60;
		uint16_t plen = (uint16_t)(ext + l4len + s->payload);
		l3[4] = (uint8_t)(plen >> 8);
		l3[5] = (uint8_t)plen;
		l3[7] = 64;
		memcpy(l3 + 8, saddr, 16);
		memcpy(l3 + 24, daddr, 16);
		/* Build the chain backwards: [ext...][frag] -> L4 */
		uint8_t *h = l3 + 40;
		uint8_t first = (s->ipv6_ext > 0) ? 0 /* hop-by-hop */ : ((s->frag_first || s->frag_later) ? 44 : nh);
		l3[6] = first;
		for (int i = 0; i < s->ipv6_ext; i++) {
			bool last = i == s->ipv6_ext - 1;
			h[0] = last ? ((s->frag_first || s->frag_later) ? 44 : nh) : 60; /* next: dest opts */
			h[1] = 0;                                                    /* 8 bytes */
			h[2] = 1;                                                    /* PadN */
			h[3] = 4;
			h += 8;
		}
		if (s->frag_first || s->frag_later) {
			h[0] = nh;
			if (s->frag_first)
				h[3] = 1; /* M flag, offset 0 */
			else
				h[2] = 0x01; /* offset 32 */
			h += 8;
		}
	}
	(void)alen;
	if (l4len) {
		if (proto == 6) {
			l4[0] = (uint8_t)(s->sport >> 8);
			l4[1] = (uint8_t)s->sport;
			l4[2] = (uint8_t)(s->dport >> 8);
			l4[3] = (uint8_t)s->dport;
			l4[12] = 5 << 4;
			l4[13] = flags;
			l4[14] = 0xff;
		} else if (proto == 17) {
			uint16_t ulen = (uint16_t)(8 + s->payload);
			l4[0] = (uint8_t)(s->sport >> 8);
			l4[1] = (uint8_t)s->sport;
			l4[2] = (uint8_t)(s->dport >> 8);
			l4[3] = (uint8_t)s->dport;
			l4[4] = (uint8_t)(ulen >> 8);
			l4[5] = (uint8_t)ulen;
		} else {
			l4[0] = proto == 58 ? 128 : 8; /* echo request */
		}
	}
	return (size_t)(l4 - buf) + l4len + s->payload;
}

#endif
