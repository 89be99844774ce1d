/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_rewrite.h — the routing rewrite's figures for bench_datapath: ns per packet of the
 * flow-cache (conntrack hit) and new-flow paths at 1 and 1,000 routes, of inspection and
 * rewrite chained at 1,000 rules and 1,000 routes, of each of the two alone on the same
 * frames, and of a floor program that rewrites the same fields without any lookup.
 */
#ifndef SLUICE_BENCH_REWRITE_H
#define SLUICE_BENCH_REWRITE_H

#include "datapath.h"
#include "sluice/v1/policy.pb-c.h"

struct bench_rw {
	double floor_ns;
	double ct_hit_ns[2];   /* established flows: 1 route, 1,000 routes */
	double new_flow_ns[2]; /* SYNs: backend from the Maglev table, conntrack written */
	double inspect_1k_ns;  /* inspection alone (nothing chained), 1,000 rules */
	double rewrite_1k_ns;  /* rewrite alone, 1,000 routes, established flows */
	double chain_1k_ns;    /* inspection with rewrite chained, on the same frames */
	double apply_ms_1k;    /* compile (Maglev tables) and switch to 1,000 routes */
};

/*
 * Runs the figures on dp (which it leaves with rules_1k's rules and 1,000 routes applied,
 * and the rewrite chained as it found it). rules_1k: the 1,000-rule policy; the frames
 * must pass it. 0, or -1 after saying why on stderr.
 */
int bench_rewrite__run(struct dp *dp, const Sluice__V1__Policy *rules_1k, int repeat, struct bench_rw *out);

#endif
