// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * floor.bpf.c — the benchmark's floor: parse Ethernet, IPv4 and TCP with the same
 * bounds checks as the inspection program, then pass. Whatever the inspection program
 * costs above this is classification.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

volatile __u32 sink;

SEC("xdp")
int floor_parse_pass(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct tcphdr *th;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5)
		return XDP_PASS;
	th = (void *)ip + ip->ihl * 4;
	if ((void *)(th + 1) > end)
		return XDP_PASS;
	sink = ip->saddr ^ ip->daddr ^ th->dest;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
