/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkt_csum.h — checksums of crafted or rewritten test frames, computed from scratch:
 * finding the IP and TCP/UDP headers of an Ethernet frame (VLAN tags, IPv4 options, IPv6
 * extension headers), filling in valid checksums, and checking every checksum a frame
 * carries. Built on pkt.h's one's-complement helpers.
 */
#ifndef SLUICE_TEST_PKT_CSUM_H
#define SLUICE_TEST_PKT_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pkt.h"

struct pkt_loc {
	int family;    /* 4 or 6 */
	size_t l3, l4; /* offsets of the IP and L4 headers */
	size_t l4len;  /* L4 header and payload, per the IP header */
	uint8_t proto;
	size_t csum;   /* offset of the L4 checksum field */
};

static inline uint16_t pkt__get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void pkt__put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * 0, or -1 when the frame is not Ethernet + IP + TCP/UDP whose checksums this can check:
 * any number of VLAN tags; IPv4 with options; IPv6 with hop-by-hop, destination options,
 * AH and routing headers (one with segments left is refused: its pseudo-header carries
 * the final destination). Refused as well: fragments (their L4 checksum covers the whole
 * datagram), an IP length beyond the frame, L4 headers whose length fields disagree with
 * it. l4len is the UDP length for UDP (the checksum covers that), else the IP's.
 */
static inline int pkt__locate(const uint8_t *buf, size_t len, struct pkt_loc *loc)
{
	size_t off = 12, end;
	uint16_t et;

	memset(loc, 0, sizeof(*loc));
	if (len < 14)
		return -1;
	et = pkt__get16(buf + off);
	while ((et == 0x8100 || et == 0x88a8) && off + 6 <= len) {
		off += 4;
		et = pkt__get16(buf + off);
	}
	off += 2;
	loc->l3 = off;
	if (et == 0x0800 && off + 20 <= len) {
		size_t ihl = (size_t)(buf[off] & 15) * 4, tot = pkt__get16(buf + off + 2);

		if (buf[off] >> 4 != 4 || ihl < 20 || tot < ihl || off + tot > len)
			return -1;
		if (pkt__get16(buf + off + 6) & 0x3fff)
			return -1;
		loc->family = 4;
		loc->proto = buf[off + 9];
		loc->l4 = off + ihl;
		end = off + tot;
	} else if (et == 0x86dd && off + 40 <= len) {
		size_t h = off + 40;
		uint8_t nh = buf[off + 6];

		end = h + pkt__get16(buf + off + 4);
		if (buf[off] >> 4 != 6 || end > len)
			return -1;
		for (;;) {
			if (nh == 0 || nh == 60 || nh == 43 || nh == 51) {
				if (h + 8 > end || (nh == 43 && buf[h + 3] != 0))
					return -1;
				size_t hl = nh == 51 ? ((size_t)buf[h + 1] + 2) * 4 : ((size_t)buf[h + 1] + 1) * 8;

				nh = buf[h];
				h += hl;
			} else if (nh == 44) {
				return -1;
			} else {
				break;
			}
		}
		loc->family = 6;
		loc->proto = nh;
		loc->l4 = h;
	} else {
		return -1;
	}
	if ((loc->proto != 6 && loc->proto != 17) || loc->l4 > end)
		return -1;
	loc->l4len = end - loc->l4;
	if (loc->proto == 6) {
		size_t doff;

		if (loc->l4len < 20)
			return -1;
		doff = (size_t)(buf[loc->l4 + 12] >> 4) * 4;
		if (doff < 20 || doff > loc->l4len)
			return -1;
	} else {
		size_t ulen;

		if (loc->l4len < 8)
			return -1;
		ulen = pkt__get16(buf + loc->l4 + 4);
		if (ulen < 8 || ulen > loc->l4len)
			return -1;
		loc->l4len = ulen;
	}
	loc->csum = loc->l4 + (loc->proto == 6 ? 16 : 6);
	return 0;
}

/* The unfolded sum of the pseudo-header and the segment, checksum field as it lies. */
static inline uint32_t pkt__l4_sum(const uint8_t *buf, const struct pkt_loc *loc)
{
	uint32_t sum = 0;
	uint8_t tail[4] = { 0, 0, 0, loc->proto };

	if (loc->family == 4)
		sum = pkt__csum_add(sum, buf + loc->l3 + 12, 8);
	else
		sum = pkt__csum_add(sum, buf + loc->l3 + 8, 32);
	sum += (uint32_t)(loc->l4len >> 16) + (uint32_t)(loc->l4len & 0xffff);
	sum = pkt__csum_add(sum, tail, 4);
	return pkt__csum_add(sum, buf + loc->l4, loc->l4len);
}

/* Writes a valid L4 checksum (UDP: a computed 0 goes out as 0xffff), and over IPv4 a
 * valid header checksum. 0 or -1. */
static inline int pkt__fill_l4_csum(uint8_t *buf, size_t len)
{
	struct pkt_loc loc;
	uint16_t c;

	if (pkt__locate(buf, len, &loc))
		return -1;
	if (loc.family == 4) {
		size_t ihl = (size_t)(buf[loc.l3] & 15) * 4;

		pkt__put16(buf + loc.l3 + 10, 0);
		pkt__put16(buf + loc.l3 + 10, pkt__csum_fold(pkt__csum_add(0, buf + loc.l3, ihl)));
	}
	pkt__put16(buf + loc.csum, 0);
	c = pkt__csum_fold(pkt__l4_sum(buf, &loc));
	if (c == 0 && loc.proto == 17)
		c = 0xffff;
	pkt__put16(buf + loc.csum, c);
	return 0;
}

/*
 * NULL when every checksum of the frame verifies from scratch (IPv4 header, TCP or UDP
 * with its pseudo-header; UDP over IPv4 may carry none), else what is wrong.
 */
static inline const char *pkt__check_csums(const uint8_t *buf, size_t len)
{
	struct pkt_loc loc;
	uint16_t l4c;

	if (pkt__locate(buf, len, &loc))
		return "not a frame the checker understands";
	if (loc.family == 4 && pkt__csum_fold(pkt__csum_add(0, buf + loc.l3, (size_t)(buf[loc.l3] & 15) * 4)) != 0)
		return "IPv4 header checksum";
	l4c = pkt__get16(buf + loc.csum);
	if (loc.proto == 17 && l4c == 0)
		return loc.family == 4 ? NULL : "UDP over IPv6 without a checksum";
	if (pkt__csum_fold(pkt__l4_sum(buf, &loc)) != 0)
		return loc.proto == 6 ? "TCP checksum" : "UDP checksum";
	return NULL;
}

#endif
