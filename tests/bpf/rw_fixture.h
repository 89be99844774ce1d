/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rw_fixture.h — what the BPF tests of the routing rewrite share: route builders for
 * policies (every piece malloc'd, so policy__free() releases them), the four-route policy
 * most of them apply, and running a program on a fresh copy of a frame with
 * BPF_PROG_TEST_RUN. Test fixtures: they abort or
 * fail the cmocka test on bad input.
 */
#ifndef SLUICE_TEST_RW_FIXTURE_H
#define SLUICE_TEST_RW_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "policy_build.h"

#define TCP 6
#define UDP 17

#define VIP4 "10.10.0.10"
#define VIP6 "2001:db8::10"

#define FRAME_MAX 512

struct frame {
	uint8_t b[FRAME_MAX];
	uint32_t len;
};

static inline Sluice__V1__Backend *pb_backend(const char *addr, uint32_t port, uint32_t weight, const char *tag)
{
	Sluice__V1__Backend *b = calloc(1, sizeof(*b));
	int v6 = strchr(addr, ':') != NULL;

	sluice__v1__backend__init(b);
	b->addr.len = v6 ? 16 : 4;
	b->addr.data = calloc(1, 16);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, b->addr.data) != 1)
		abort();
	b->port = port;
	b->weight = weight;
	b->tag = strdup(tag);
	return b;
}

static inline Sluice__V1__Route *pb_route(Sluice__V1__Policy *p, const char *name, const char *vip, uint32_t proto,
					  uint32_t port)
{
	Sluice__V1__Route *r = calloc(1, sizeof(*r));
	Sluice__V1__Frontend *f = calloc(1, sizeof(*f));
	int v6 = strchr(vip, ':') != NULL;

	sluice__v1__route__init(r);
	sluice__v1__frontend__init(f);
	r->name = strdup(name);
	f->vip.len = v6 ? 16 : 4;
	f->vip.data = calloc(1, 16);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, vip, f->vip.data) != 1)
		abort();
	f->proto = proto;
	f->port = port;
	r->frontend = f;
	PB_APPEND(p->routes, p->n_routes, r);
	return r;
}

static inline void pb_add_backend(Sluice__V1__Route *r, const char *addr, uint32_t port, uint32_t weight,
				  const char *tag)
{
	PB_APPEND(r->backends, r->n_backends, pb_backend(addr, port, weight, tag));
}

/* Four routes (v4/v6 x tcp/udp), two weighted backends each; w1 and w2 are the weights:
 * VIP4 tcp 80 -> 10.20.0.11/12:8080, VIP4 udp 53 -> 10.20.0.21/22:5353,
 * VIP6 tcp 443 -> 2001:db8:1::11/12:8443, VIP6 udp 53 -> 2001:db8:1::21/22:5353. */
static inline Sluice__V1__Policy *routes_policy(uint32_t w1, uint32_t w2)
{
	Sluice__V1__Policy *p = pb_new();
	Sluice__V1__Route *r;

	r = pb_route(p, "web4", VIP4, TCP, 80);
	pb_add_backend(r, "10.20.0.11", 8080, w1, "v1");
	pb_add_backend(r, "10.20.0.12", 8080, w2, "v2");
	r = pb_route(p, "dns4", VIP4, UDP, 53);
	pb_add_backend(r, "10.20.0.21", 5353, w1, "v1");
	pb_add_backend(r, "10.20.0.22", 5353, w2, "v2");
	r = pb_route(p, "web6", VIP6, TCP, 443);
	pb_add_backend(r, "2001:db8:1::11", 8443, w1, "v1");
	pb_add_backend(r, "2001:db8:1::12", 8443, w2, "v2");
	r = pb_route(p, "dns6", VIP6, UDP, 53);
	pb_add_backend(r, "2001:db8:1::21", 5353, w1, "v1");
	pb_add_backend(r, "2001:db8:1::22", 5353, w2, "v2");
	return p;
}

/*
 * Runs prog on a fresh copy of in (the program writes into the frame); out, when not
 * NULL, receives the result. Returns the verdict, or -errno when the kernel refused the
 * run: -EINVAL for a frame shorter than Ethernet (BPF_PROG_TEST_RUN wants ETH_HLEN bytes
 * of packet, metadata aside).
 */
static inline int frame__run(int prog_fd, const struct frame *in, struct frame *out)
{
	struct frame copy = *in, res;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = copy.b, .data_size_in = in->len, .data_out = res.b,
		    .data_size_out = sizeof(res.b), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		int err = -errno;

		if (out)
			out->len = 0;
		return err;
	}
	if (out) {
		*out = res;
		out->len = o.data_size_out;
	}
	return (int)o.retval;
}

#endif
