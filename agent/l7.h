/* SPDX-License-Identifier: Apache-2.0 */
/*
 * l7.h — parsers for sampled packets, pure C over (const uint8_t *, size_t): no
 * allocation, no I/O, no global state, so they can be unit-tested and fuzzed alone.
 *
 * l7_frame__decode() finds the L4 payload of an Ethernet frame (through up to two VLAN
 * tags, IPv4 options, IPv6 extension headers); the three protocol parsers start at an
 * L4 payload:
 *   l7_http__parse()  HTTP/1.x request line (method, target, version) and Host;
 *   l7_tls__parse()   TLS ClientHello: SNI and ALPN protocols;
 *   l7_dns__parse()   DNS message: the first question's name, type and class.
 *
 * Samples are cut at a snaplen (at most 256 bytes), so every parser accepts input that
 * stops anywhere: it returns what it could read and says when it was cut (`truncated`).
 * Input that is not the protocol is -EINVAL; none reads outside [buf, buf + len).
 * Text outputs are NUL-terminated, printable ASCII only, and bounded by their arrays.
 */
#ifndef SLUICE_AGENT_L7_H
#define SLUICE_AGENT_L7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L7_MAX_VLANS 2
#define L7_MAX_EXT_HDRS 8
#define L7_METHOD_MAX 16  /* "OPTIONS" and friends, + NUL */
#define L7_PATH_MAX 128   /* request path (no query), + NUL; longer paths are cut */
#define L7_HOST_MAX 256   /* DNS names are at most 253 characters */
#define L7_ALPN_MAX 4     /* ALPN protocols kept */
#define L7_ALPN_LEN 32

/* ---- frames -------------------------------------------------------------------------- */

struct l7_frame {
	uint8_t family;    /* 4 or 6 */
	uint8_t proto;     /* L4 protocol (after IPv6 extension headers) */
	uint8_t tcp_flags; /* 0 unless a whole TCP header was captured */
	bool l4_seen;      /* ports, flags and payload are real */
	bool fragment;     /* not the first fragment: no L4 header in it */
	uint16_t sport, dport;
	uint8_t src[16];   /* IPv4 in the first 4 bytes, the rest zero */
	uint8_t dst[16];
	uint32_t ip_len;   /* length the IP header claims (header included) */
	const uint8_t *payload; /* L4 payload inside the buffer; NULL when none was captured */
	size_t payload_len;     /* captured payload bytes (the IP length bounds it) */
};

/*
 * Decodes an Ethernet frame. 0 when the IP header was read (l4_seen tells whether the L4
 * header was too), -EPROTONOSUPPORT for frames that are not IPv4/IPv6, -EINVAL for
 * malformed or cut-short IP headers. f is zeroed first.
 */
int l7_frame__decode(const uint8_t *buf, size_t len, struct l7_frame *f);

/* "10.0.0.1" or "2001:db8::1" of an address in l7_frame form. */
void l7_frame__addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len);

/* ---- HTTP/1.x ---------------------------------------------------------------------- */

struct l7_http {
	char method[L7_METHOD_MAX];
	char path[L7_PATH_MAX]; /* "/v1/orders" without query or fragment; "*" or the authority
				 * for asterisk- and authority-form targets */
	char host[L7_HOST_MAX]; /* Host header (or the absolute-form target's), lower case; "" if
				 * not captured */
	uint8_t version;        /* 10 or 11; 0 when the request line was cut before it */
	bool path_cut;          /* the path was longer than the capture or L7_PATH_MAX */
	bool truncated;         /* the capture ended before the end of the headers */
};

/* 0 when buf starts with an HTTP/1.x request line (possibly cut after "METHOD /"),
 * else -EINVAL. */
int l7_http__parse(const uint8_t *buf, size_t len, struct l7_http *h);

/* ---- TLS ClientHello ---------------------------------------------------------------- */

struct l7_tls {
	uint16_t record_version; /* 0x0301 ... */
	uint16_t hello_version;  /* client_version in the hello; 0 if cut before it */
	bool tls13;              /* supported_versions offers TLS 1.3 */
	char sni[L7_HOST_MAX];   /* server_name, lower case; "" if absent or not captured */
	char alpn[L7_ALPN_MAX][L7_ALPN_LEN];
	uint8_t n_alpn;
	bool truncated;          /* the capture ended inside the hello */
};

/* True when buf starts like a TLS handshake record (what a TLS client sends first). */
bool l7_tls__is_handshake(const uint8_t *buf, size_t len);

/* 0 when buf starts with a TLS record holding a ClientHello (possibly cut), else -EINVAL. */
int l7_tls__parse(const uint8_t *buf, size_t len, struct l7_tls *t);

/* ---- DNS ------------------------------------------------------------------------------- */

struct l7_dns {
	uint16_t id;
	bool response;         /* QR bit */
	uint8_t opcode;
	uint8_t rcode;
	uint16_t qdcount, ancount;
	char qname[L7_HOST_MAX]; /* first question, dotted, lower case, no final dot ("." for the root);
				  * bytes outside [a-z0-9-_] escaped as \DDD */
	uint16_t qtype, qclass;  /* 0 when cut before them */
	bool truncated;          /* the capture ended inside the question */
};

/* 0 when buf holds a DNS header with at least one question whose name was read (or cut),
 * else -EINVAL. tcp: the message has the 2-byte length prefix of DNS over TCP. */
int l7_dns__parse(const uint8_t *buf, size_t len, bool tcp, struct l7_dns *d);

#endif
