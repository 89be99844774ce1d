// SPDX-License-Identifier: Apache-2.0
/*
 * l7_http.c — HTTP/1.x request line and Host header from the start of a TCP payload
 * (see l7.h). RFC 9112 grammar, read strictly enough that random bytes are not taken for
 * a request: the method is an upper-case token followed by one space, the target starts
 * with '/', "http(s)://", '*' or (CONNECT) an authority, and when the line ends it must
 * end with " HTTP/1.0" or " HTTP/1.1". Samples are cut at a snaplen, so a line that the
 * capture cuts after "METHOD /" is still a request (version 0, truncated).
 */
#include <errno.h>
#include <string.h>

#include "l7.h"

static bool is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

/* Characters allowed in a request target (RFC 3986 plus '%'); no spaces or controls. */
static bool target_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Host names and authorities: letters, digits, "-._:[]" (ports and IPv6 literals). */
static bool host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == ':' || c == '[' || c == ']';
}

/* Copies a host of n bytes in lower case; false when it holds a character no host has. */
static bool copy_host(char *dst, size_t size, const uint8_t *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (!host_char(s[i]))
			return false;
		if (k + 1 < size)
			dst[k++] = (char)lower(s[i]);
	}
	dst[k] = '\0';
	return true;
}

/* Finds the Host header in the header block at [p, end). */
static void find_host(const uint8_t *p, const uint8_t *end, struct l7_http *h)
{
	while (p < end) {
		const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *le = eol ? eol : end, *v;

		if (le > p && le[-1] == '\r')
			le--;
		if (le == p && eol) {
			h->truncated = false; /* the empty line: end of the headers */
			return;
		}
		if (!eol) {
			h->truncated = true;
			/* A Host line cut by the capture still names a prefix of the host: not kept. */
			return;
		}
		if (le - p >= 5 && lower(p[0]) == 'h' && lower(p[1]) == 'o' && lower(p[2]) == 's' &&
		    lower(p[3]) == 't' && p[4] == ':' && !h->host[0]) {
			v = p + 5;
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			while (le > v && (le[-1] == ' ' || le[-1] == '\t'))
				le--;
			if (!copy_host(h->host, sizeof(h->host), v, (size_t)(le - v)))
				h->host[0] = '\0';
		}
		p = eol + 1;
	}
	h->truncated = true;
}

/* Copies the path part of a target (up to '?' or '#'); cut: the capture ended inside it. */
static void copy_path(struct l7_http *h, const uint8_t *s, size_t n, bool cut)
{
	size_t k = 0, i;

	for (i = 0; i < n && s[i] != '?' && s[i] != '#'; i++) {
		if (k + 1 >= sizeof(h->path)) {
			h->path_cut = true;
			break;
		}
		h->path[k++] = (char)s[i];
	}
	h->path[k] = '\0';
	if (i == n && cut)
		h->path_cut = true;
}

/* Splits an absolute-form target "http://host[:port]/path" into host and path. */
static bool absolute_form(struct l7_http *h, const uint8_t *t, size_t n, bool cut)
{
	size_t skip = 0, a;

	if (n >= 7 && memcmp(t, "http://", 7) == 0)
		skip = 7;
	else if (n >= 8 && memcmp(t, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	for (a = skip; a < n && t[a] != '/' && t[a] != '?' && t[a] != '#'; a++)
		;
	if (a == skip || !copy_host(h->host, sizeof(h->host), t + skip, a - skip))
		return false;
	if (a == n) {
		/* "http://host" alone is the root; cut at the host, the path is unknown. */
		strcpy(h->path, "/");
		h->path_cut = cut;
		return true;
	}
	if (t[a] != '/') {
		strcpy(h->path, "/");
		return true;
	}
	copy_path(h, t + a, n - a, cut);
	return true;
}

int l7_http__parse(const uint8_t *buf, size_t len, struct l7_http *h)
{
	const uint8_t *p = buf, *end = buf + len, *t, *te, *eol;
	size_t m = 0, tn;
	bool cut;

	memset(h, 0, sizeof(*h));
	if (!buf)
		return -EINVAL;
	while (m < len && m < L7_METHOD_MAX - 1 && is_upper(p[m]))
		m++;
	if (m < 3 || m >= len || p[m] != ' ')
		return -EINVAL;
	memcpy(h->method, p, m);
	h->method[m] = '\0';

	t = p + m + 1;
	for (te = t; te < end && target_char(*te); te++)
		;
	tn = (size_t)(te - t);
	cut = te == end; /* the capture ended inside the target */
	if (tn == 0)
		return -EINVAL;
	if (!cut && *te != ' ')
		return -EINVAL; /* a control byte or a lone CR inside the request line */
	if (t[0] == '/') {
		copy_path(h, t, tn, cut);
	} else if (t[0] == '*' && tn == 1) {
		strcpy(h->path, "*");
	} else if (!absolute_form(h, t, tn, cut)) {
		/* authority-form: only CONNECT host:port */
		if (strcmp(h->method, "CONNECT") != 0 || !copy_host(h->host, sizeof(h->host), t, tn))
			return -EINVAL;
		copy_host(h->path, sizeof(h->path), t, tn);
	}
	if (cut) {
		h->truncated = true;
		return 0;
	}

	/* " HTTP/1.x" then CRLF (or a capture that ends inside them). */
	p = te + 1;
	static const char ver[] = "HTTP/1.";
	for (size_t i = 0; i < sizeof(ver) - 1; i++, p++) {
		if (p == end) {
			h->truncated = true;
			return 0;
		}
		if (*p != (uint8_t)ver[i])
			return -EINVAL;
	}
	if (p == end) {
		h->truncated = true;
		return 0;
	}
	if (*p != '0' && *p != '1')
		return -EINVAL;
	h->version = *p == '0' ? 10 : 11;
	p++;
	if (p < end && *p == '\r')
		p++;
	if (p == end) {
		h->truncated = true;
		return 0;
	}
	if (*p != '\n')
		return -EINVAL;
	eol = p + 1;
	find_host(eol, end, h);
	return 0;
}
