// SPDX-License-Identifier: Apache-2.0
/* test_agent_l7.c — the sampled-packet parsers (agent/l7.h): frames through VLAN, IPv4
 * and IPv6 to the L4 payload; HTTP request lines and Host; TLS ClientHello SNI and ALPN;
 * DNS questions. Each on well-formed input, on every prefix of it (a capture may stop
 * anywhere), on hostile lengths and pointers, and on random and mutated bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "l7.h"
#include "pkt.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Copies the first n bytes into a heap buffer of exactly n bytes, so ASan sees any
 * read past the end. */
static uint8_t *exact(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	memcpy(p, src, n);
	return p;
}

/* ---- frames ----------------------------------------------------------------------------- */

static size_t frame_with_payload(const struct pkt_spec *s, const char *payload, uint8_t *buf)
{
	struct pkt_spec t = *s;
	size_t n, plen = strlen(payload);

	t.payload = plen;
	n = pkt__build(&t, buf);
	memcpy(buf + n - plen, payload, plen);
	return n;
}

static void test_frame_ipv4_tcp(void **state)
{
	struct pkt_spec s = { .family = 4, .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 6, .sport = 40000,
			      .dport = 80, .tcp_flags = 0x18 };
	uint8_t buf[512];
	struct l7_frame f;
	size_t n = frame_with_payload(&s, "GET / HTTP/1.1\r\n", buf);
	char a[64];

	assert_int_equal(l7_frame__decode(buf, n, &f), 0);
	assert_int_equal(f.family, 4);
	assert_int_equal(f.proto, 6);
	assert_true(f.l4_seen);
	assert_int_equal(f.sport, 40000);
	assert_int_equal(f.dport, 80);
	assert_int_equal(f.tcp_flags, 0x18);
	assert_int_equal(f.payload_len, 16);
	assert_memory_equal(f.payload, "GET / HTTP/1.1\r\n", 16);
	l7_frame__addr_str(f.family, f.src, a, sizeof(a));
	assert_string_equal(a, "10.0.0.1");

	/* Ethernet padding past the IP length is not payload. */
	memset(buf + n, 0xee, 20);
	assert_int_equal(l7_frame__decode(buf, n + 20, &f), 0);
	assert_int_equal(f.payload_len, 16);
}

static void test_frame_vlan_options_ipv6(void **state)
{
	struct pkt_spec v4 = { .family = 4, .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17, .sport = 5353,
			       .dport = 53, .vlans = 2, .ipv4_options = 3 };
	struct pkt_spec v6 = { .family = 6, .src = "2001:db8::1", .dst = "2001:db8::2", .proto = 6, .sport = 1,
			       .dport = 443, .ipv6_ext = 2 };
	uint8_t buf[512];
	struct l7_frame f;
	char a[64];
	size_t n;

	n = frame_with_payload(&v4, "abcd", buf);
	assert_int_equal(l7_frame__decode(buf, n, &f), 0);
	assert_int_equal(f.proto, 17);
	assert_int_equal(f.dport, 53);
	assert_int_equal(f.payload_len, 4);

	n = frame_with_payload(&v6, "xyz", buf);
	assert_int_equal(l7_frame__decode(buf, n, &f), 0);
	assert_int_equal(f.family, 6);
	assert_int_equal(f.proto, 6);
	assert_int_equal(f.dport, 443);
	assert_int_equal(f.payload_len, 3);
	l7_frame__addr_str(f.family, f.dst, a, sizeof(a));
	assert_string_equal(a, "2001:db8::2");
}

static void test_frame_fragments_and_junk(void **state)
{
	struct pkt_spec later = { .family = 4, .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 6, .frag_later = true,
				  .payload = 40 };
	struct pkt_spec later6 = { .family = 6, .src = "::1", .dst = "::2", .proto = 17, .frag_later = true,
				   .payload = 40 };
	uint8_t buf[512];
	struct l7_frame f;
	size_t n;

	n = pkt__build(&later, buf);
	assert_int_equal(l7_frame__decode(buf, n, &f), 0);
	assert_true(f.fragment);
	assert_false(f.l4_seen);
	assert_null(f.payload);
	n = pkt__build(&later6, buf);
	assert_int_equal(l7_frame__decode(buf, n, &f), 0);
	assert_true(f.fragment);
	assert_false(f.l4_seen);

	/* ARP, a bad IHL, a version that contradicts the ethertype. */
	memset(buf, 0, 64);
	buf[12] = 0x08;
	buf[13] = 0x06;
	assert_int_equal(l7_frame__decode(buf, 64, &f), -EPROTONOSUPPORT);
	buf[13] = 0x00;
	buf[14] = 0x44;
	assert_int_equal(l7_frame__decode(buf, 64, &f), -EINVAL);
	buf[14] = 0x65;
	assert_int_equal(l7_frame__decode(buf, 64, &f), -EINVAL);
	assert_int_equal(l7_frame__decode(NULL, 0, &f), -EINVAL);
}

static void test_frame_every_prefix(void **state)
{
	struct pkt_spec specs[] = {
		{ .family = 4, .src = "1.2.3.4", .dst = "5.6.7.8", .proto = 6, .sport = 1, .dport = 2, .vlans = 1 },
		{ .family = 6, .src = "::1", .dst = "::2", .proto = 17, .sport = 1, .dport = 53, .ipv6_ext = 3 },
	};

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		uint8_t buf[512];
		size_t n = frame_with_payload(&specs[i], "payload!", buf);

		for (size_t cut = 0; cut <= n; cut++) {
			uint8_t *p = exact(buf, cut);
			struct l7_frame f;
			int rc = l7_frame__decode(p, cut, &f);

			assert_true(rc == 0 || rc == -EINVAL);
			if (rc == 0 && f.payload) {
				assert_true(f.payload >= p && f.payload + f.payload_len <= p + cut);
			}
			free(p);
		}
	}
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static int http(const char *s, struct l7_http *h)
{
	uint8_t *p = exact((const uint8_t *)s, strlen(s));
	int rc = l7_http__parse(p, strlen(s), h);

	free(p);
	return rc;
}

static void test_http_request_line_and_host(void **state)
{
	struct l7_http h;

	assert_int_equal(http("GET /v1/orders/17?x=1 HTTP/1.1\r\nUser-Agent: t\r\nHOST:  Api.Example.COM:8080 \r\n\r\n",
			      &h),
			 0);
	assert_string_equal(h.method, "GET");
	assert_string_equal(h.path, "/v1/orders/17");
	assert_string_equal(h.host, "api.example.com:8080");
	assert_int_equal(h.version, 11);
	assert_false(h.truncated);
	assert_false(h.path_cut);

	assert_int_equal(http("POST http://Shop.Example/cart#top HTTP/1.0\r\n\r\n", &h), 0);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.host, "shop.example");
	assert_string_equal(h.path, "/cart");
	assert_int_equal(h.version, 10);

	assert_int_equal(http("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n", &h), 0);
	assert_string_equal(h.host, "db.internal:5432");
	assert_int_equal(http("OPTIONS * HTTP/1.1\r\n\r\n", &h), 0);
	assert_string_equal(h.path, "*");

	/* The capture ends in the headers: the request line is enough. */
	assert_int_equal(http("DELETE /v2/users HTTP/1.1\r\nAccept: */*\r\nHo", &h), 0);
	assert_true(h.truncated);
	assert_string_equal(h.host, "");
	/* ... or right inside the path. */
	assert_int_equal(http("GET /v1/orde", &h), 0);
	assert_string_equal(h.path, "/v1/orde");
	assert_true(h.path_cut);
	assert_int_equal(h.version, 0);
}

static void test_http_not_http(void **state)
{
	static const char *const bad[] = {
		"",
		"GET",
		"GET ",
		"get / HTTP/1.1\r\n",     /* methods are upper case */
		"GET  / HTTP/1.1\r\n",    /* two spaces */
		"GE / HTTP/1.1\r\n",      /* too short for a method */
		"GET / HTTP/2.0\r\n",     /* not 1.x */
		"GET / HTTP/1.1\r\r\n",   /* stray CR */
		"GET / FTP/1.1\r\n",
		"GET /\x01 HTTP/1.1\r\n", /* control byte in the target */
		"GET /\r\n",              /* HTTP/0.9 */
		"GET example.com HTTP/1.1\r\n", /* authority-form is CONNECT's only */
		"CONNECT exa mple HTTP/1.1\r\n",
		"GET http:// HTTP/1.1\r\n",
		"\x16\x03\x01\x02\x00\x01",
		"VERYLONGMETHODNAMEXX / HTTP/1.1\r\n",
	};
	struct l7_http h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (http(bad[i], &h) != -EINVAL)
			fail_msg("accepted as HTTP: '%s'", bad[i]);
	}
	assert_int_equal(l7_http__parse(NULL, 0, &h), -EINVAL);
}

static void test_http_long_path_and_bad_host(void **state)
{
	char req[600];
	struct l7_http h;

	strcpy(req, "GET /");
	memset(req + 5, 'a', 300);
	strcpy(req + 305, " HTTP/1.1\r\nHost: a b\r\n\r\n");
	assert_int_equal(http(req, &h), 0);
	assert_int_equal(strlen(h.path), L7_PATH_MAX - 1);
	assert_true(h.path_cut);
	assert_string_equal(h.host, ""); /* "a b" is no host */
	assert_false(h.truncated);
}

static void test_http_every_prefix(void **state)
{
	const char *req = "PATCH /api/v3/items/9?q=1 HTTP/1.1\r\nHost: items.svc\r\nX: y\r\n\r\nbody";
	size_t n = strlen(req);

	for (size_t cut = 0; cut <= n; cut++) {
		uint8_t *p = exact((const uint8_t *)req, cut);
		struct l7_http h;
		int rc = l7_http__parse(p, cut, &h);

		/* "PATCH /" is the shortest prefix that is recognisably a request. */
		if (cut >= 7)
			assert_int_equal(rc, 0);
		else
			assert_int_equal(rc, -EINVAL);
		if (rc == 0) {
			assert_string_equal(h.method, "PATCH");
			assert_true(strncmp(h.path, "/api/v3/items/9", strlen(h.path)) == 0);
			if (h.host[0])
				assert_string_equal(h.host, "items.svc");
		}
		free(p);
	}
}

/* ---- TLS -------------------------------------------------------------------------------- */

/* Appends a big-endian integer of n bytes (zeros above the 4 that v has). */
static void put(uint8_t **p, uint32_t v, int n)
{
	while (n-- > 0)
		*(*p)++ = n >= 4 ? 0 : (uint8_t)(v >> (8 * n));
}

/* A ClientHello record with SNI, ALPN (h2, http/1.1) and supported_versions (1.3, 1.2). */
static size_t client_hello(uint8_t *buf, const char *sni)
{
	uint8_t ext[512], *e = ext, *p = buf, *hs_len, *rec_len;
	size_t sl = strlen(sni), el;

	put(&e, 0, 2); /* server_name */
	put(&e, (uint32_t)(sl + 5), 2);
	put(&e, (uint32_t)(sl + 3), 2);
	put(&e, 0, 1);
	put(&e, (uint32_t)sl, 2);
	memcpy(e, sni, sl);
	e += sl;
	put(&e, 16, 2); /* ALPN */
	put(&e, 14, 2);
	put(&e, 12, 2);
	put(&e, 2, 1);
	memcpy(e, "h2", 2);
	e += 2;
	put(&e, 8, 1);
	memcpy(e, "http/1.1", 8);
	e += 8;
	put(&e, 43, 2); /* supported_versions */
	put(&e, 5, 2);
	put(&e, 4, 1);
	put(&e, 0x0304, 2);
	put(&e, 0x0303, 2);
	el = (size_t)(e - ext);

	put(&p, 22, 1);
	put(&p, 0x0301, 2);
	rec_len = p;
	p += 2;
	put(&p, 1, 1);
	hs_len = p;
	p += 3;
	put(&p, 0x0303, 2);
	memset(p, 0xab, 32); /* random */
	p += 32;
	put(&p, 32, 1); /* session id */
	memset(p, 0xcd, 32);
	p += 32;
	put(&p, 4, 2); /* two cipher suites */
	put(&p, 0x1301, 2);
	put(&p, 0x1302, 2);
	put(&p, 1, 1); /* null compression */
	put(&p, 0, 1);
	put(&p, (uint32_t)el, 2);
	memcpy(p, ext, el);
	p += el;
	put(&rec_len, (uint32_t)(p - buf - 5), 2);
	put(&hs_len, (uint32_t)(p - buf - 9), 3);
	return (size_t)(p - buf);
}

static int tls(const uint8_t *b, size_t n, struct l7_tls *t)
{
	uint8_t *p = exact(b, n);
	int rc = l7_tls__parse(p, n, t);

	free(p);
	return rc;
}

static void test_tls_client_hello(void **state)
{
	uint8_t buf[1024];
	size_t n = client_hello(buf, "Orders.Example.COM");
	struct l7_tls t;

	assert_true(l7_tls__is_handshake(buf, n));
	assert_int_equal(tls(buf, n, &t), 0);
	assert_string_equal(t.sni, "orders.example.com");
	assert_int_equal(t.n_alpn, 2);
	assert_string_equal(t.alpn[0], "h2");
	assert_string_equal(t.alpn[1], "http/1.1");
	assert_true(t.tls13);
	assert_int_equal(t.record_version, 0x0301);
	assert_int_equal(t.hello_version, 0x0303);
	assert_false(t.truncated);
}

static void test_tls_every_prefix(void **state)
{
	uint8_t buf[1024];
	size_t n = client_hello(buf, "api.example.com");

	for (size_t cut = 0; cut <= n; cut++) {
		struct l7_tls t;
		int rc = tls(buf, cut, &t);

		if (cut < 3) {
			assert_int_equal(rc, -EINVAL);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(t.truncated, cut < n);
		/* A name is reported whole or not at all. */
		if (t.sni[0])
			assert_string_equal(t.sni, "api.example.com");
	}
}

static void test_tls_hostile_lengths(void **state)
{
	uint8_t buf[1024], bad[1024];
	size_t n = client_hello(buf, "a.example");
	struct l7_tls t;

	/* Not a handshake, not a ClientHello. */
	memcpy(bad, buf, n);
	bad[0] = 23;
	assert_int_equal(tls(bad, n, &t), -EINVAL);
	memcpy(bad, buf, n);
	bad[5] = 2;
	assert_int_equal(tls(bad, n, &t), -EINVAL);
	/* Session id longer than 32. */
	memcpy(bad, buf, n);
	bad[5 + 4 + 2 + 32] = 33;
	assert_int_equal(tls(bad, n, &t), -EINVAL);
	/* An odd cipher-suite length. */
	memcpy(bad, buf, n);
	bad[5 + 4 + 2 + 32 + 1 + 32 + 1] = 3;
	assert_int_equal(tls(bad, n, &t), -EINVAL);
	/* Every length byte set to 0xff in turn: never a crash, never a made-up name. */
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, buf, n);
		bad[i] = 0xff;
		tls(bad, n, &t);
		if (t.sni[0])
			assert_true(strlen(t.sni) < L7_HOST_MAX);
		memcpy(bad, buf, n);
		bad[i] = 0x00;
		tls(bad, n, &t);
	}
	assert_int_equal(l7_tls__parse(NULL, 0, &t), -EINVAL);
}

/* ---- DNS -------------------------------------------------------------------------------- */

/* A query for name (dotted), type A, class IN. */
static size_t dns_query(uint8_t *buf, const char *name)
{
	uint8_t *p = buf;
	const char *s = name;

	put(&p, 0x1234, 2);
	put(&p, 0x0100, 2); /* RD */
	put(&p, 1, 2);
	put(&p, 0, 6);
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		put(&p, (uint32_t)l, 1);
		memcpy(p, s, l);
		p += l;
		s += l + (dot ? 1 : 0);
	}
	put(&p, 0, 1);
	put(&p, 1, 2);
	put(&p, 1, 2);
	return (size_t)(p - buf);
}

static int dns(const uint8_t *b, size_t n, bool tcp, struct l7_dns *d)
{
	uint8_t *p = exact(b, n);
	int rc = l7_dns__parse(p, n, tcp, d);

	free(p);
	return rc;
}

static void test_dns_query(void **state)
{
	uint8_t buf[600], tcp[602];
	struct l7_dns d;
	size_t n = dns_query(buf, "WWW.Example.com");

	assert_int_equal(dns(buf, n, false, &d), 0);
	assert_string_equal(d.qname, "www.example.com");
	assert_int_equal(d.qtype, 1);
	assert_int_equal(d.qclass, 1);
	assert_int_equal(d.id, 0x1234);
	assert_false(d.response);
	assert_false(d.truncated);

	tcp[0] = (uint8_t)(n >> 8);
	tcp[1] = (uint8_t)n;
	memcpy(tcp + 2, buf, n);
	assert_int_equal(dns(tcp, n + 2, true, &d), 0);
	assert_string_equal(d.qname, "www.example.com");

	/* Odd bytes are escaped, never passed through. */
	n = dns_query(buf, "a b.c\n");
	assert_int_equal(dns(buf, n, false, &d), 0);
	assert_string_equal(d.qname, "a\\032b.c\\010");

	/* The root. */
	n = dns_query(buf, "");
	assert_int_equal(dns(buf, n, false, &d), 0);
	assert_string_equal(d.qname, ".");
}

static void test_dns_hostile(void **state)
{
	uint8_t buf[600];
	struct l7_dns d;
	size_t n;

	/* A pointer to itself, and a pointer forwards. */
	n = dns_query(buf, "x");
	buf[12] = 0xc0;
	buf[13] = 12;
	assert_int_equal(dns(buf, n, false, &d), -EINVAL);
	buf[13] = 40;
	assert_int_equal(dns(buf, n, false, &d), -EINVAL);
	/* Reserved label type. */
	n = dns_query(buf, "abc");
	buf[12] = 0x43;
	assert_int_equal(dns(buf, n, false, &d), -EINVAL);
	/* A name over 255 bytes. */
	{
		char name[400];

		for (int i = 0; i < 5; i++) {
			memset(name + i * 61, 'a' + i, 60);
			name[i * 61 + 60] = '.';
		}
		name[5 * 61 - 1] = '\0';
		n = dns_query(buf, name);
		assert_int_equal(dns(buf, n, false, &d), -EINVAL);
	}
	/* No question; a TCP length below the header's. */
	n = dns_query(buf, "a.b");
	buf[5] = 0;
	assert_int_equal(dns(buf, n, false, &d), -EINVAL);
	buf[0] = 0;
	buf[1] = 5;
	assert_int_equal(dns(buf, n, true, &d), -EINVAL);
	assert_int_equal(l7_dns__parse(NULL, 0, false, &d), -EINVAL);
}

static void test_dns_every_prefix(void **state)
{
	uint8_t buf[600];
	size_t n = dns_query(buf, "api.orders.example.org");

	for (size_t cut = 0; cut <= n; cut++) {
		struct l7_dns d;
		int rc = dns(buf, cut, false, &d);

		if (cut <= 13) {
			assert_int_equal(rc, -EINVAL);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(d.truncated, cut < n);
		assert_true(strncmp("api.orders.example.org", d.qname, strlen(d.qname)) == 0);
	}
}

/* ---- random and mutated input ---------------------------------------------------------- */

static void run_all(const uint8_t *b, size_t n)
{
	struct l7_frame f;
	struct l7_http h;
	struct l7_tls t;
	struct l7_dns d;
	uint8_t *p = exact(b, n);

	if (l7_frame__decode(p, n, &f) == 0 && f.payload) {
		l7_http__parse(f.payload, f.payload_len, &h);
		l7_tls__parse(f.payload, f.payload_len, &t);
		l7_dns__parse(f.payload, f.payload_len, f.proto == 6, &d);
	}
	l7_http__parse(p, n, &h);
	l7_tls__parse(p, n, &t);
	l7_dns__parse(p, n, false, &d);
	l7_dns__parse(p, n, true, &d);
	free(p);
}

static void test_random_and_mutated(void **state)
{
	uint8_t seeds[4][1024], b[1024];
	size_t lens[4];
	const char *req = "GET /v1/x HTTP/1.1\r\nHost: h\r\n\r\n";

	lens[0] = client_hello(seeds[0], "mutate.example");
	lens[1] = dns_query(seeds[1], "m.example.net");
	lens[2] = strlen(req);
	memcpy(seeds[2], req, lens[2]);
	{
		struct pkt_spec s = { .family = 4, .src = "1.1.1.1", .dst = "2.2.2.2", .proto = 6, .sport = 1, .dport = 80 };

		lens[3] = frame_with_payload(&s, req, seeds[3]);
	}
	for (int i = 0; i < 20000; i++) {
		size_t n = next_rand() % 300;

		for (size_t k = 0; k < n; k++)
			b[k] = (uint8_t)next_rand();
		run_all(b, n);
	}
	for (int i = 0; i < 40000; i++) {
		int s = (int)(next_rand() % 4);
		size_t n = lens[s];

		memcpy(b, seeds[s], n);
		for (int m = 0; m < 1 + (int)(next_rand() % 4); m++)
			b[next_rand() % n] = (uint8_t)next_rand();
		run_all(b, next_rand() % (n + 1));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_ipv4_tcp),
		cmocka_unit_test(test_frame_vlan_options_ipv6),
		cmocka_unit_test(test_frame_fragments_and_junk),
		cmocka_unit_test(test_frame_every_prefix),
		cmocka_unit_test(test_http_request_line_and_host),
		cmocka_unit_test(test_http_not_http),
		cmocka_unit_test(test_http_long_path_and_bad_host),
		cmocka_unit_test(test_http_every_prefix),
		cmocka_unit_test(test_tls_client_hello),
		cmocka_unit_test(test_tls_every_prefix),
		cmocka_unit_test(test_tls_hostile_lengths),
		cmocka_unit_test(test_dns_query),
		cmocka_unit_test(test_dns_hostile),
		cmocka_unit_test(test_dns_every_prefix),
		cmocka_unit_test(test_random_and_mutated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
