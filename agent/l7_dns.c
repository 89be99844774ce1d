// SPDX-License-Identifier: Apache-2.0
/*
 * l7_dns.c — the header and first question of a DNS message (RFC 1035 §4.1) from the
 * start of a UDP payload, or a TCP payload with its 2-byte length prefix (see l7.h).
 *
 * Names: labels of 1..63 bytes, 255 bytes in all; compression pointers are followed
 * only backwards (so they cannot loop) and at most MAX_JUMPS times. Bytes that are not
 * [a-z0-9-_] (after lower-casing) are written as \DDD, so a name is always safe to log.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "l7.h"

#define HDR_LEN 12
#define MAX_JUMPS 16
#define MAX_NAME_WIRE 255

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Appends one label byte to the dotted name, escaping what is not a plain host char. */
static void put_char(struct l7_dns *d, size_t *k, uint8_t c)
{
	char esc[5];
	size_t n;

	if (c >= 'A' && c <= 'Z')
		c = (uint8_t)(c + 32);
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
		esc[0] = (char)c;
		n = 1;
	} else {
		snprintf(esc, sizeof(esc), "\\%03u", c);
		n = 4;
	}
	if (*k + n < sizeof(d->qname)) {
		memcpy(d->qname + *k, esc, n);
		*k += n;
	}
}

/*
 * Reads the name at msg[off]; msg[0, len) is the message. On return *next is the offset
 * after the name where it started (not where a pointer led). 0, -EAGAIN when the capture
 * ended inside the name, or -EINVAL.
 */
static int read_name(const uint8_t *msg, size_t len, size_t off, struct l7_dns *d, size_t *next)
{
	size_t k = 0, wire = 0, pos = off;
	int jumps = 0;
	bool jumped = false;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -EAGAIN;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len)
				return -EAGAIN;
			target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			if (target >= pos || ++jumps > MAX_JUMPS)
				return -EINVAL; /* pointers go backwards only: no loops */
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return -EINVAL; /* 0x40 and 0x80: extended and reserved label types */
		if (l == 0)
			break;
		wire += 1u + l;
		if (wire + 1 > MAX_NAME_WIRE)
			return -EINVAL;
		if (pos + 1 + l > len) {
			/* Keep the part of the name that was captured. */
			if (k > 0 && k + 1 < sizeof(d->qname))
				d->qname[k++] = '.';
			for (size_t i = pos + 1; i < len; i++)
				put_char(d, &k, msg[i]);
			d->qname[k] = '\0';
			return -EAGAIN;
		}
		if (k > 0 && k + 1 < sizeof(d->qname))
			d->qname[k++] = '.';
		for (size_t i = 0; i < l; i++)
			put_char(d, &k, msg[pos + 1 + i]);
		d->qname[k] = '\0';
		pos += 1u + l;
	}
	if (k == 0)
		strcpy(d->qname, ".");
	if (!jumped)
		*next = pos + 1;
	return 0;
}

int l7_dns__parse(const uint8_t *buf, size_t len, bool tcp, struct l7_dns *d)
{
	const uint8_t *msg = buf;
	size_t mlen = len, next = 0;
	int err;

	memset(d, 0, sizeof(*d));
	if (!buf)
		return -EINVAL;
	if (tcp) {
		size_t declared;

		if (len < 2)
			return -EINVAL;
		declared = u16(buf);
		msg += 2;
		mlen -= 2;
		if (declared < HDR_LEN)
			return -EINVAL;
		if (declared < mlen)
			mlen = declared;
	}
	if (mlen < HDR_LEN)
		return -EINVAL;
	d->id = u16(msg);
	d->response = (msg[2] & 0x80) != 0;
	d->opcode = (msg[2] >> 3) & 0x0f;
	d->rcode = msg[3] & 0x0f;
	d->qdcount = u16(msg + 4);
	d->ancount = u16(msg + 6);
	if (d->qdcount == 0 || d->opcode > 6 || (msg[2] & 0x78) == 0x18 /* opcode 3: unassigned */)
		return -EINVAL;
	err = read_name(msg, mlen, HDR_LEN, d, &next);
	if (err == -EAGAIN) {
		d->truncated = true;
		return d->qname[0] ? 0 : -EINVAL;
	}
	if (err)
		return err;
	if (next + 4 > mlen) {
		d->truncated = true;
		return 0;
	}
	d->qtype = u16(msg + next);
	d->qclass = u16(msg + next + 2);
	return 0;
}
