// SPDX-License-Identifier: Apache-2.0
/*
 * l7_tls.c — the server name (SNI) and ALPN protocols of a TLS ClientHello at the start
 * of a TCP payload (see l7.h; RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1).
 *
 * Every length field is checked against two bounds: what its enclosing structure
 * declares and what the capture holds. A structure that the capture cuts is read as far
 * as it goes (truncated = true); one whose declared lengths contradict each other ends
 * the parse with what was found so far. Only the first record is read: a hello that
 * spans records is cut there.
 */
#include <errno.h>
#include <string.h>

#include "l7.h"

#define REC_HANDSHAKE 22
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43

/* A bounded reader: pos moves forward; end is the tighter of declared and captured. */
struct rd {
	const uint8_t *pos, *end;
};

static bool need(const struct rd *r, size_t n)
{
	return (size_t)(r->end - r->pos) >= n;
}

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A sub-reader over the next n declared bytes, bounded by the capture. */
static struct rd sub(const struct rd *r, size_t n)
{
	struct rd s = { r->pos, r->pos };
	size_t avail = (size_t)(r->end - r->pos);

	s.end = r->pos + (n < avail ? n : avail);
	return s;
}

/* Skips n declared bytes; false when they run past the reader's end. */
static bool skip(struct rd *r, size_t n)
{
	if (!need(r, n))
		return false;
	r->pos += n;
	return true;
}

bool l7_tls__is_handshake(const uint8_t *buf, size_t len)
{
	return buf && len >= 3 && buf[0] == REC_HANDSHAKE && buf[1] == 3 && buf[2] <= 4;
}

/* SNI: server_name_list of (type, host_name) entries; the first host_name wins. */
static void server_name(struct rd r, struct l7_tls *t)
{
	struct rd list;
	size_t n;

	if (!need(&r, 2))
		return;
	list = sub(&(struct rd){ r.pos + 2, r.end }, u16(r.pos));
	while (need(&list, 3)) {
		uint8_t type = list.pos[0];

		n = u16(list.pos + 1);
		list.pos += 3;
		if (type == 0) {
			size_t k = 0, have = (size_t)(list.end - list.pos);

			if (have < n) /* cut: a prefix of a name is not a name */
				return;
			for (size_t i = 0; i < n; i++) {
				uint8_t c = list.pos[i];

				if (c <= 0x20 || c >= 0x7f) { /* not a host name */
					t->sni[0] = '\0';
					return;
				}
				if (k + 1 < sizeof(t->sni))
					t->sni[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			}
			t->sni[k] = '\0';
			return;
		}
		if (!skip(&list, n))
			return;
	}
}

/* ALPN: protocol_name_list of length-prefixed names. */
static void alpn(struct rd r, struct l7_tls *t)
{
	struct rd list;

	if (!need(&r, 2))
		return;
	list = sub(&(struct rd){ r.pos + 2, r.end }, u16(r.pos));
	while (need(&list, 1) && t->n_alpn < L7_ALPN_MAX) {
		size_t n = list.pos[0], k = 0;
		char *dst = t->alpn[t->n_alpn];

		list.pos++;
		if (n == 0 || !need(&list, n))
			return;
		for (size_t i = 0; i < n; i++) {
			uint8_t c = list.pos[i];

			if (k + 1 < L7_ALPN_LEN)
				dst[k++] = c > 0x20 && c < 0x7f ? (char)c : '?';
		}
		dst[k] = '\0';
		t->n_alpn++;
		list.pos += n;
	}
}

/* supported_versions in a ClientHello: a 1-byte length, then 2-byte versions. */
static void versions(struct rd r, struct l7_tls *t)
{
	size_t n;

	if (!need(&r, 1))
		return;
	n = r.pos[0];
	r.pos++;
	for (size_t i = 0; i + 1 < n && need(&r, 2); i += 2, r.pos += 2) {
		if (u16(r.pos) == 0x0304)
			t->tls13 = true;
	}
}

int l7_tls__parse(const uint8_t *buf, size_t len, struct l7_tls *t)
{
	struct rd rec, hs, exts;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (!l7_tls__is_handshake(buf, len))
		return -EINVAL;
	t->record_version = u16(buf + 1);
	t->truncated = true;
	if (len < 5)
		return 0;
	rec = (struct rd){ buf + 5, buf + len };
	n = u16(buf + 3);
	if (n < 4 || n > 16384 + 2048) /* records are at most 2^14 bytes (plus expansion) */
		return -EINVAL;
	t->truncated = 5 + n > len; /* the hello is read from this one record */
	rec = sub(&rec, n);
	if (!need(&rec, 1))
		return 0;
	if (rec.pos[0] != HS_CLIENT_HELLO)
		return -EINVAL;
	if (!need(&rec, 4))
		return 0;
	hs = sub(&(struct rd){ rec.pos + 4, rec.end }, (size_t)rec.pos[1] << 16 | u16(rec.pos + 2));

	/* client_version, random[32], session_id<0..32> */
	if (!need(&hs, 2))
		return 0;
	t->hello_version = u16(hs.pos);
	if (!skip(&hs, 2 + 32) || !need(&hs, 1))
		return 0;
	n = hs.pos[0];
	if (n > 32)
		return -EINVAL;
	/* cipher_suites<2..2^16-2> */
	if (!skip(&hs, 1 + n) || !need(&hs, 2))
		return 0;
	n = u16(hs.pos);
	if (n < 2 || (n & 1))
		return -EINVAL;
	/* compression_methods<1..2^8-1> */
	if (!skip(&hs, 2 + n) || !need(&hs, 1))
		return 0;
	n = hs.pos[0];
	if (n < 1)
		return -EINVAL;
	if (!skip(&hs, 1 + n))
		return 0;
	if (!need(&hs, 2))
		return 0; /* no extensions (an old hello), or cut before them */
	n = u16(hs.pos);
	exts = sub(&(struct rd){ hs.pos + 2, hs.end }, n);
	while (need(&exts, 4)) {
		uint16_t type = u16(exts.pos);
		struct rd body;

		n = u16(exts.pos + 2);
		exts.pos += 4;
		body = sub(&exts, n);
		if (type == EXT_SERVER_NAME)
			server_name(body, t);
		else if (type == EXT_ALPN)
			alpn(body, t);
		else if (type == EXT_SUPPORTED_VERSIONS)
			versions(body, t);
		if (!skip(&exts, n))
			return 0;
	}
	return 0;
}
