// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * rewrite_floor.bpf.c — the rewrite benchmark's floor: parse the frame and rewrite the
 * same fields the rewrite program does (destination address and port, IPv4 header and
 * TCP/UDP checksums), with the same helpers, to an address and port fixed at load time:
 * no flow hash, no cache, conntrack or route lookups. Whatever the rewrite program costs
 * above this is finding the flow's backend.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/nat.h"

/* Where every packet goes; the benchmark sets it to the frames' own destination, so
 * repeated runs over one buffer rewrite it the same way each time. */
volatile struct sl_nat floor_to;

SEC("xdp")
int floor_rewrite(struct xdp_md *ctx)
{
	struct sl_nat_pkt n = {};
	struct sl_nat to;

	if (sl_nat_parse(ctx, &n))
		return XDP_PASS;
	__builtin_memcpy(&to, (void *)&floor_to, sizeof(to));
	sl_nat_rewrite(ctx, &n, &to, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
