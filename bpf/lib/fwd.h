/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * fwd.h — forwarding a translated packet without the kernel stack: bpf_fib_lookup finds
 * the egress interface and next hop for the new destination, then the TTL (hop limit)
 * drops by one, the MAC addresses are set and the frame is redirected.
 *
 * sl_fwd_fib() returns the XDP verdict: XDP_REDIRECT when the route and neighbour are
 * known, else XDP_PASS, so the stack forwards it (and resolves the neighbour, sends ICMP
 * for an expired TTL, fragments, ...). Only untagged frames take the fast path: a VLAN
 * tag would leave with the frame on an interface that may not carry that VLAN.
 */
#ifndef SLUICE_BPF_FWD_H
#define SLUICE_BPF_FWD_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/csum.h"
#include "lib/nat.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

static __noinline int sl_fwd_fib(struct xdp_md *ctx, const struct sl_nat_pkt *n)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end, *l3, *l4;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	__u16 *ports;

	if (n->l3_off != sizeof(*eth) || sl_nat_headers(ctx, n, &l3, &l4))
		return XDP_PASS;
	ports = l4;
	if ((void *)(eth + 1) > end || (void *)(ports + 2) > end)
		return XDP_PASS;
	fib.ifindex = ctx->ingress_ifindex;
	fib.l4_protocol = n->key.proto;
	fib.sport = ports[0];
	fib.dport = ports[1];
	if (n->key.family == 4) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end || ip->ttl <= 1)
			return XDP_PASS;
		fib.family = AF_INET;
		fib.tos = ip->tos;
		fib.tot_len = bpf_ntohs(ip->tot_len);
		fib.ipv4_src = ip->saddr;
		fib.ipv4_dst = ip->daddr;
	} else {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end || ip6->hop_limit <= 1)
			return XDP_PASS;
		fib.family = AF_INET6;
		fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
		fib.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(fib.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
	}
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	/* The helper may have moved nothing, but the verifier forgets packet bounds across it. */
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end || sl_nat_headers(ctx, n, &l3, &l4))
		return XDP_PASS;
	if (n->key.family == 4) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		/* TTL is the high byte of the 16-bit word it shares with the protocol. */
		ip->check = sl_csum_apply(ip->check, sl_csum_diff16(0, bpf_htons(0x0100), 0));
		ip->ttl--;
	} else {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		ip6->hop_limit--;
	}
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return bpf_redirect(fib.ifindex, 0);
}

#endif
