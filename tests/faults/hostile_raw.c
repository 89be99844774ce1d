// SPDX-License-Identifier: Apache-2.0
/*
 * hostile_raw.c — the raw half of the hostile client (see hostile.h): plain TCP
 * connections to the controller's gRPC (mTLS) port carrying random bytes, an HTTP/1.1
 * request, a truncated and a whole HTTP/2 preface (plaintext gRPC to a TLS port), and a
 * real TLS ClientHello followed by garbage. Each must end with the controller closing
 * the connection within CLOSE_MS. Then many connections are opened, some given half a
 * ClientHello, and dropped (half of them with a RST) in the middle of the handshake.
 * Connections that stall instead (nothing sent, 3 bytes, half a ClientHello) are kept
 * open by us and must be closed by the controller's handshake timeout.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "hostile.h"

/* How long the controller gets to close a connection after bad bytes. */
#define CLOSE_MS 5000

static uint8_t hello[2048]; /* a TLS ClientHello offering h2, as a gRPC client sends it */
static size_t hello_len;

int hostile_raw__init(void)
{
	static const unsigned char alpn[] = "\x02h2";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	int n = -1;

	if (!ssl || !rb || !wb) {
		BIO_free(rb);
		BIO_free(wb);
		goto cleanup;
	}
	SSL_set_bio(ssl, rb, wb); /* ssl owns both now */
	SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1);
	SSL_set_tlsext_host_name(ssl, "localhost");
	SSL_connect(ssl); /* writes the ClientHello to wb, then wants the answer */
	n = BIO_read(wb, hello, sizeof(hello));
cleanup:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (n <= 0) {
		fprintf(stderr, "hostile: cannot build a TLS ClientHello\n");
		return -1;
	}
	hello_len = (size_t)n;
	return 0;
}

/* A connected TCP socket to addr, or -errno. */
static int dial(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Sends all of buf; a peer that already closed is fine (that is what we wait for). */
static void send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Reads (and drops, e.g. a TLS alert) until the peer closes or CLOSE_MS pass. */
static int wait_closed(int fd)
{
	int64_t deadline = hostile__now_ms() + CLOSE_MS;
	uint8_t buf[4096];

	for (;;) {
		int64_t left = deadline - hostile__now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (left <= 0)
			return OUT_OPEN;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return OUT_CLOSED;
	}
}

/* One connection: sends a, then b, and expects the controller to close it. */
static void bad_bytes(const struct sockaddr_in *addr, const char *what, const void *a, size_t alen, const void *b,
		      size_t blen)
{
	int fd = dial(addr), out;

	if (fd < 0) {
		hostile__check("raw/connect", what, OUT_OPEN, OUT_BIT(OUT_CLOSED), strerror(-fd), NULL);
		return;
	}
	send_all(fd, a, alen);
	if (blen)
		send_all(fd, b, blen);
	out = wait_closed(fd);
	close(fd);
	hostile__check(what, "the controller closes the connection", out, OUT_BIT(OUT_CLOSED), "", NULL);
}

/* Opens n connections, gives some of them part of a handshake, and drops them all. */
static void abandon(const struct sockaddr_in *addr, int n)
{
	int fds[256], opened = 0;
	char what[64];

	if (n > (int)(sizeof(fds) / sizeof(fds[0])))
		n = (int)(sizeof(fds) / sizeof(fds[0]));
	for (int i = 0; i < n; i++) {
		int fd = dial(addr);

		if (fd < 0)
			continue;
		fds[opened++] = fd;
		if (i % 3 == 1)
			send_all(fd, hello, hello_len / 2);
		else if (i % 3 == 2)
			send_all(fd, hello, hello_len);
	}
	for (int i = 0; i < opened; i++) {
		if (i % 2) { /* a RST instead of a FIN */
			struct linger l = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
		close(fds[i]);
	}
	snprintf(what, sizeof(what), "%d of %d connections opened", opened, n);
	/* Every connection must at least have been accepted: a full backlog is a failure. */
	hostile__check("raw/abandoned-handshakes", what, opened == n ? OUT_CLOSED : OUT_OPEN, OUT_BIT(OUT_CLOSED), "",
		       NULL);
}

int hostile_raw__round(const char *host, int port, int n_abandon)
{
	static const char http1[] = "GET / HTTP/1.1\r\nHost: controller\r\nUser-Agent: hostile\r\n\r\n";
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	/* An empty SETTINGS frame: what a plaintext (h2c) gRPC client sends next. */
	static const uint8_t settings[] = { 0, 0, 0, 4, 0, 0, 0, 0, 0 };
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint8_t junk[4096];
	size_t n;

	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		return -EINVAL;
	n = 5 + hostile__rand() % (sizeof(junk) - 5);
	for (size_t i = 0; i < n; i++)
		junk[i] = (uint8_t)hostile__rand();
	/* Neither the start of a TLS record (types 20-24) nor of an SSLv2-style hello (high
	 * bit set), which would make the controller wait for the rest of a record that never
	 * comes (a stall, checked separately) instead of refusing at once. */
	junk[0] = (uint8_t)(25 + junk[0] % (128 - 25));
	if (junk[1] == 3) /* a TLS major version: the header would be read as a record's */
		junk[1] = 4;
	bad_bytes(&addr, "raw/random-bytes", junk, n, NULL, 0);
	bad_bytes(&addr, "raw/http1-request", http1, strlen(http1), NULL, 0);
	/* At least a TLS record header's worth (5 bytes): fewer is a stall (see below). */
	bad_bytes(&addr, "raw/h2-preface-truncated", preface, 5 + hostile__rand() % (strlen(preface) - 5), NULL, 0);
	bad_bytes(&addr, "raw/h2c-preface-settings", preface, strlen(preface), settings, sizeof(settings));
	bad_bytes(&addr, "raw/tls-hello-then-garbage", hello, hello_len, junk, 5 + hostile__rand() % 1024);
	if (n_abandon > 0)
		abandon(&addr, n_abandon);
	return 0;
}

/* Connections left stalled in the middle of the handshake, checked at the end. */
static int stalled[64];
static size_t n_stalled;
static int64_t stalled_at;

int hostile_raw__stall(const char *host, int port, int n)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		return -EINVAL;
	stalled_at = hostile__now_ms();
	for (int i = 0; i < n && n_stalled < sizeof(stalled) / sizeof(stalled[0]); i++) {
		int fd = dial(&addr);

		if (fd < 0) {
			hostile__check("raw/stalled-handshake", "connect", OUT_OPEN, OUT_BIT(OUT_CLOSED), strerror(-fd),
				       NULL);
			continue;
		}
		if (i % 3 == 1)
			send_all(fd, "PRI", 3);
		else if (i % 3 == 2)
			send_all(fd, hello, hello_len / 2);
		stalled[n_stalled++] = fd;
	}
	return 0;
}

void hostile_raw__stalled_check(int within_ms)
{
	for (size_t i = 0; i < n_stalled; i++) {
		int64_t left = stalled_at + within_ms - hostile__now_ms();
		struct pollfd p = { .fd = stalled[i], .events = POLLIN };
		uint8_t buf[4096];
		int out = OUT_OPEN;
		ssize_t n;

		while (poll(&p, 1, left > 0 ? (int)left : 0) > 0) {
			n = recv(stalled[i], buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				out = OUT_CLOSED;
				break;
			}
			left = stalled_at + within_ms - hostile__now_ms();
		}
		close(stalled[i]);
		hostile__check("raw/stalled-handshake", "closed by the handshake timeout", out, OUT_BIT(OUT_CLOSED), "",
			       NULL);
	}
	n_stalled = 0;
}
