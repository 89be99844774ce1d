/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refclass.h — the reference classifier: plain, obviously-correct C that walks the
 * rules in priority order (priority, then position) and checks each field directly.
 * The differential test holds the BPF program to it packet by packet.
 */
#ifndef SLUICE_TEST_REFCLASS_H
#define SLUICE_TEST_REFCLASS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/v1/policy.pb-c.h"

struct ref_pkt {
	int family;        /* 4 or 6 */
	uint8_t src[16], dst[16];
	uint8_t proto;
	bool has_ports;    /* false for later fragments: ports and flags unknown */
	uint16_t sport, dport;
	uint8_t tcp_flags;
};

static inline bool ref_cidr_has(const Sluice__V1__Cidr *c, int family, const uint8_t *addr)
{
	size_t alen = family == 6 ? 16 : 4;

	if (c->addr.len != alen)
		return false;
	for (uint32_t bit = 0; bit < c->prefix_len; bit++) {
		uint8_t mask = (uint8_t)(0x80 >> (bit % 8));

		if ((c->addr.data[bit / 8] & mask) != (addr[bit / 8] & mask))
			return false;
	}
	return true;
}

static inline bool ref_cidrs_have(Sluice__V1__Cidr **cs, size_t n, int family, const uint8_t *addr)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (ref_cidr_has(cs[i], family, addr))
			return true;
	}
	return false;
}

static inline bool ref_ports_have(Sluice__V1__PortRange **rs, size_t n, bool known, uint16_t port)
{
	if (n == 0)
		return true;
	if (!known)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (port >= rs[i]->lo && port <= (rs[i]->hi ? rs[i]->hi : rs[i]->lo))
			return true;
	}
	return false;
}

static inline bool ref_matches(const Sluice__V1__Rule *r, const struct ref_pkt *p)
{
	const Sluice__V1__Match *m = r->match;
	uint8_t flags = p->has_ports && p->proto == 6 ? p->tcp_flags : 0;

	if (!m)
		return true;
	if (!ref_cidrs_have(m->src, m->n_src, p->family, p->src))
		return false;
	if (!ref_cidrs_have(m->dst, m->n_dst, p->family, p->dst))
		return false;
	if (m->proto && m->proto != p->proto)
		return false;
	if (!ref_ports_have(m->src_ports, m->n_src_ports, p->has_ports, p->sport))
		return false;
	if (!ref_ports_have(m->dst_ports, m->n_dst_ports, p->has_ports, p->dport))
		return false;
	if ((flags & m->tcp_flags_set) != m->tcp_flags_set || (flags & m->tcp_flags_unset))
		return false;
	return true;
}

/*
 * Returns the policy index of the deciding rule (the first non-count rule that matches,
 * in priority order), or -1. counted[i] is set for every count rule that matched before it.
 */
static inline int ref_classify(const Sluice__V1__Policy *pol, const struct ref_pkt *p, bool *counted)
{
	int best = -1;

	/* Priority order without sorting: find the lowest (priority, index) decider. */
	for (size_t i = 0; i < pol->n_rules; i++) {
		const Sluice__V1__Rule *r = pol->rules[i];

		if (r->action == SLUICE__V1__ACTION__ACTION_COUNT || !ref_matches(r, p))
			continue;
		if (best < 0 || r->priority < pol->rules[best]->priority)
			best = (int)i;
	}
	if (counted) {
		for (size_t i = 0; i < pol->n_rules; i++) {
			const Sluice__V1__Rule *r = pol->rules[i];
			bool before = best < 0 || r->priority < pol->rules[best]->priority ||
				      (r->priority == pol->rules[best]->priority && (int)i < best);

			counted[i] = r->action == SLUICE__V1__ACTION__ACTION_COUNT && before && ref_matches(r, p);
		}
	}
	return best;
}

#endif
