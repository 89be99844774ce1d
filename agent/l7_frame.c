// SPDX-License-Identifier: Apache-2.0
/*
 * l7_frame.c — finds the L4 payload of a sampled Ethernet frame (see l7.h). The same
 * walk as the datapath's (bpf/lib/parse.h): VLAN tags, IPv4 options by IHL, IPv6
 * extension headers up to a bound, later fragments without an L4 header; the IP total
 * length bounds the payload so Ethernet padding is never taken for data.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "l7.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* IPv4 header at p (n bytes captured). Sets *l4 to the offset of the L4 header. */
static int ipv4(const uint8_t *p, size_t n, struct l7_frame *f, size_t *l4, size_t *end)
{
	size_t ihl;

	if (n < 20 || (p[0] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > n)
		return -EINVAL;
	f->family = 4;
	f->proto = p[9];
	f->ip_len = be16(p + 2);
	memcpy(f->src, p + 12, 4);
	memcpy(f->dst, p + 16, 4);
	if (f->ip_len < ihl)
		return -EINVAL;
	f->fragment = (be16(p + 6) & 0x1fff) != 0;
	*l4 = ihl;
	*end = f->ip_len;
	return 0;
}

/* IPv6 header and its extension headers. */
static int ipv6(const uint8_t *p, size_t n, struct l7_frame *f, size_t *l4, size_t *end)
{
	uint8_t nh;
	size_t off = 40;

	if (n < 40 || (p[0] >> 4) != 6)
		return -EINVAL;
	f->family = 6;
	f->ip_len = 40u + be16(p + 4);
	memcpy(f->src, p + 8, 16);
	memcpy(f->dst, p + 24, 16);
	nh = p[6];
	for (int i = 0; i < L7_MAX_EXT_HDRS; i++) {
		switch (nh) {
		case 0:  /* hop-by-hop */
		case 43: /* routing */
		case 60: /* destination options */
			if (off + 2 > n)
				goto cut;
			nh = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
			continue;
		case 51: /* AH: length in 4-byte units, minus 2 */
			if (off + 2 > n)
				goto cut;
			nh = p[off];
			off += ((size_t)p[off + 1] + 2) * 4;
			continue;
		case 44: /* fragment */
			if (off + 8 > n)
				goto cut;
			nh = p[off];
			if ((be16(p + off + 2) & 0xfff8) != 0)
				f->fragment = true;
			off += 8;
			continue;
		default:
			break;
		}
		break;
	}
	if (nh == 0 || nh == 43 || nh == 60 || nh == 51 || nh == 44)
		goto cut; /* more extension headers than we walk */
	f->proto = nh;
	*l4 = off;
	*end = f->ip_len;
	return 0;
cut:
	/* The addresses are known; the L4 header is not. */
	f->proto = nh;
	*l4 = n;
	*end = f->ip_len;
	return 0;
}

int l7_frame__decode(const uint8_t *buf, size_t len, struct l7_frame *f)
{
	size_t off = ETH_HLEN, l4 = 0, end = 0, n, hl;
	uint16_t type;
	const uint8_t *ip, *p;
	int err;

	memset(f, 0, sizeof(*f));
	if (!buf || len < ETH_HLEN)
		return -EINVAL;
	type = be16(buf + 12);
	for (int i = 0; i < L7_MAX_VLANS && (type == ETH_P_8021Q || type == ETH_P_8021AD); i++) {
		if (off + 4 > len)
			return -EINVAL;
		type = be16(buf + off + 2);
		off += 4;
	}
	if (type != ETH_P_IP && type != ETH_P_IPV6)
		return -EPROTONOSUPPORT;
	ip = buf + off;
	n = len - off;
	err = type == ETH_P_IP ? ipv4(ip, n, f, &l4, &end) : ipv6(ip, n, f, &l4, &end);
	if (err)
		return err;
	/* What the IP header says is its length bounds what follows; Ethernet padding is not data. */
	if (end < n)
		n = end;
	if (f->fragment || l4 >= n)
		return 0;
	p = ip + l4;
	n -= l4;
	switch (f->proto) {
	case 6: /* TCP */
		if (n < 20)
			return 0;
		hl = (size_t)(p[12] >> 4) * 4;
		if (hl < 20)
			return 0;
		f->tcp_flags = p[13];
		break;
	case 17:  /* UDP */
	case 136: /* UDP-Lite */
		if (n < 8)
			return 0;
		hl = 8;
		break;
	default:
		return 0;
	}
	f->sport = be16(p);
	f->dport = be16(p + 2);
	f->l4_seen = true;
	if (hl < n) {
		f->payload = p + hl;
		f->payload_len = n - hl;
	}
	return 0;
}

void l7_frame__addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, tmp, sizeof(tmp)))
		snprintf(tmp, sizeof(tmp), "?");
	snprintf(buf, len, "%s", tmp);
}
