// SPDX-License-Identifier: Apache-2.0
/*
 * policy_text.c — the text forms of policy fields, both ways: CIDRs and addresses,
 * protocol names, port ranges, TCP flag lists, percentages and intervals, action
 * names. The YAML parser reads with these and the JSON renderer and sluicectl write
 * with them, so a field always reads back the way it was printed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/policy.h"

static const struct {
	const char *name;
	uint32_t num;
} protos[] = {
	{ "any", 0 }, { "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "icmpv6", 58 },
};

/* In bit order: FIN=1 ... CWR=128, as in the TCP header and policy.proto. */
static const char *const tcp_flag_names[] = { "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr" };

/* Decimal digits only, no sign, no spaces; -ERANGE above UINT32_MAX. */
static int parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

int policy__parse_addr(const char *s, uint8_t addr[16], size_t *addr_len)
{
	if (!s)
		return -EINVAL;
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, addr) != 1)
			return -EINVAL;
		*addr_len = 16;
	} else {
		if (inet_pton(AF_INET, s, addr) != 1)
			return -EINVAL;
		*addr_len = 4;
	}
	return 0;
}

int policy__parse_cidr(const char *s, uint8_t addr[16], size_t *addr_len, uint32_t *prefix_len)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash;
	size_t n;
	int err;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	err = policy__parse_addr(host, addr, addr_len);
	if (err)
		return err;
	if (!slash) {
		*prefix_len = (uint32_t)*addr_len * 8;
		return 0;
	}
	/* "/", "/08" and "/33" are all mistakes worth refusing here. */
	n = strlen(slash + 1);
	if (n == 0 || n > 3 || (n > 1 && slash[1] == '0'))
		return -EINVAL;
	if (parse_u32(slash + 1, n, prefix_len) || *prefix_len > *addr_len * 8)
		return -EINVAL;
	return 0;
}

void policy__mask_addr(uint8_t *addr, size_t addr_len, uint32_t prefix_len)
{
	for (size_t i = 0; i < addr_len; i++) {
		uint32_t bit = (uint32_t)i * 8;

		if (bit >= prefix_len)
			addr[i] = 0;
		else if (prefix_len - bit < 8)
			addr[i] &= (uint8_t)(0xff << (8 - (prefix_len - bit)));
	}
}

int policy__format_addr(const uint8_t *addr, size_t addr_len, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	int af;

	if (addr_len == 4)
		af = AF_INET;
	else if (addr_len == 16)
		af = AF_INET6;
	else
		return -EINVAL;
	if (!addr || !inet_ntop(af, addr, tmp, sizeof(tmp)))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, "%s", tmp) >= len)
		return -ENOSPC;
	return 0;
}

int policy__format_cidr(const uint8_t *addr, size_t addr_len, uint32_t prefix_len, char *buf, size_t len)
{
	size_t n;
	int err;

	err = policy__format_addr(addr, addr_len, buf, len);
	if (err)
		return err;
	if (prefix_len == addr_len * 8)
		return 0;
	n = strlen(buf);
	if ((size_t)snprintf(buf + n, len - n, "/%u", prefix_len) >= len - n)
		return -ENOSPC;
	return 0;
}

int policy__parse_proto(const char *s, uint32_t *out)
{
	int err;

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strcasecmp(s, protos[i].name) == 0) {
			*out = protos[i].num;
			return 0;
		}
	}
	err = parse_u32(s, strlen(s), out);
	if (err)
		return err;
	return *out > 255 ? -ERANGE : 0;
}

const char *policy__proto_name(uint32_t proto, char buf[8])
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].num == proto)
			return protos[i].name;
	if (proto > 255)
		return "invalid"; /* not an IP protocol; validation reports the number */
	snprintf(buf, 8, "%u", proto & 0xff);
	return buf;
}

const char *policy__action_name(Sluice__V1__Action a)
{
	switch (a) {
	case SLUICE__V1__ACTION__ACTION_PASS:
		return "pass";
	case SLUICE__V1__ACTION__ACTION_DROP:
		return "drop";
	case SLUICE__V1__ACTION__ACTION_COUNT:
		return "count";
	case SLUICE__V1__ACTION__ACTION_RATE_LIMIT:
		return "rate_limit";
	default:
		return "unknown";
	}
}

int policy__parse_port_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	const char *dash, *a_end, *b;
	int err;

	if (!s)
		return -EINVAL;
	while (*s == ' ')
		s++;
	dash = strchr(s, '-');
	if (!dash) {
		a_end = s + strlen(s);
		while (a_end > s && a_end[-1] == ' ')
			a_end--;
		err = parse_u32(s, (size_t)(a_end - s), lo);
		if (!err)
			*hi = *lo;
		return err;
	}
	a_end = dash;
	while (a_end > s && a_end[-1] == ' ')
		a_end--;
	b = dash + 1;
	while (*b == ' ')
		b++;
	err = parse_u32(s, (size_t)(a_end - s), lo);
	if (err)
		return err;
	a_end = b + strlen(b);
	while (a_end > b && a_end[-1] == ' ')
		a_end--;
	return parse_u32(b, (size_t)(a_end - b), hi);
}

int policy__format_port_range(uint32_t lo, uint32_t hi, char *buf, size_t len)
{
	int n = lo == hi ? snprintf(buf, len, "%u", lo) : snprintf(buf, len, "%u-%u", lo, hi);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int policy__parse_tcp_flags(const char *s, uint32_t *set, uint32_t *unset, char *bad, size_t badlen)
{
	const char *p = s;

	if (!s)
		return -EINVAL;
	for (;;) {
		const char *end = strchr(p, ','), *w;
		size_t n;
		bool neg = false, found = false;

		if (!end)
			end = p + strlen(p);
		while (p < end && *p == ' ')
			p++;
		n = (size_t)(end - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		w = p;
		if (n > 0 && *w == '!') {
			neg = true;
			w++;
			n--;
		}
		for (unsigned i = 0; i < 8 && n > 0; i++) {
			if (strlen(tcp_flag_names[i]) == n && strncasecmp(w, tcp_flag_names[i], n) == 0) {
				*(neg ? unset : set) |= 1u << i;
				found = true;
				break;
			}
		}
		if (!found) {
			if (bad && badlen)
				snprintf(bad, badlen, "%.*s", (int)((size_t)(end - p) < 32 ? (size_t)(end - p) : 32), p);
			return -EINVAL;
		}
		if (!*end)
			return 0;
		p = end + 1;
	}
}

int policy__format_tcp_flags(uint32_t set, uint32_t unset, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (unsigned i = 0; i < 8; i++) {
		uint32_t bit = 1u << i;
		int w;

		if (!((set | unset) & bit))
			continue;
		w = snprintf(buf + n, len - n, "%s%s%s", n ? "," : "", (set & bit) ? "" : "!", tcp_flag_names[i]);
		if (w < 0 || (size_t)w >= len - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	return 0;
}

int policy__parse_percent(const char *s, uint32_t *out)
{
	size_t n;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n > 0 && s[n - 1] == '%')
		n--;
	return parse_u32(s, n, out) ? -EINVAL : 0;
}

int policy__parse_interval(const char *s, uint32_t *seconds)
{
	uint32_t mult = 1, v;
	size_t n;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n > 0) {
		switch (s[n - 1]) {
		case 's':
			n--;
			break;
		case 'm':
			mult = 60;
			n--;
			break;
		case 'h':
			mult = 3600;
			n--;
			break;
		}
	}
	if (parse_u32(s, n, &v) || v > UINT32_MAX / mult)
		return -EINVAL;
	*seconds = v * mult;
	return 0;
}
