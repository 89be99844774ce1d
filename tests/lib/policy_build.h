/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_build.h — building Sluice__V1__Policy values in tests, every piece malloc'd so
 * policy__free() releases them. Aborts on bad input: these are test fixtures.
 */
#ifndef SLUICE_TEST_POLICY_BUILD_H
#define SLUICE_TEST_POLICY_BUILD_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/v1/policy.pb-c.h"

#define PB_APPEND(arr, n, item)                                                    \
	do {                                                                       \
		(arr) = realloc((arr), sizeof(*(arr)) * ((n) + 1));                \
		if (!(arr))                                                        \
			abort();                                                   \
		(arr)[(n)++] = (item);                                             \
	} while (0)

static inline Sluice__V1__Policy *pb_new(void)
{
	Sluice__V1__Policy *p = calloc(1, sizeof(*p));

	sluice__v1__policy__init(p);
	return p;
}

static inline Sluice__V1__Rule *pb_rule(Sluice__V1__Policy *p, const char *name, uint32_t prio,
					Sluice__V1__Action action)
{
	Sluice__V1__Rule *r = calloc(1, sizeof(*r));
	Sluice__V1__Match *m = calloc(1, sizeof(*m));

	sluice__v1__rule__init(r);
	sluice__v1__match__init(m);
	r->name = strdup(name);
	r->priority = prio;
	r->action = action;
	r->match = m;
	PB_APPEND(p->rules, p->n_rules, r);
	return r;
}

static inline Sluice__V1__Cidr *pb_cidr(const char *text)
{
	Sluice__V1__Cidr *c = calloc(1, sizeof(*c));
	char buf[64];
	char *slash;
	int v6 = strchr(text, ':') != NULL;

	sluice__v1__cidr__init(c);
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	c->addr.len = v6 ? 16 : 4;
	c->addr.data = calloc(1, 16);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, c->addr.data) != 1)
		abort();
	c->prefix_len = slash ? (uint32_t)atoi(slash + 1) : (v6 ? 128 : 32);
	return c;
}

static inline void pb_src(Sluice__V1__Rule *r, const char *cidr)
{
	PB_APPEND(r->match->src, r->match->n_src, pb_cidr(cidr));
}

static inline void pb_dst(Sluice__V1__Rule *r, const char *cidr)
{
	PB_APPEND(r->match->dst, r->match->n_dst, pb_cidr(cidr));
}

static inline Sluice__V1__PortRange *pb_range(uint32_t lo, uint32_t hi)
{
	Sluice__V1__PortRange *pr = calloc(1, sizeof(*pr));

	sluice__v1__port_range__init(pr);
	pr->lo = lo;
	pr->hi = hi;
	return pr;
}

static inline void pb_dport(Sluice__V1__Rule *r, uint32_t lo, uint32_t hi)
{
	PB_APPEND(r->match->dst_ports, r->match->n_dst_ports, pb_range(lo, hi));
}

static inline void pb_sport(Sluice__V1__Rule *r, uint32_t lo, uint32_t hi)
{
	PB_APPEND(r->match->src_ports, r->match->n_src_ports, pb_range(lo, hi));
}

#endif
