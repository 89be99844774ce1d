// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * inspect.bpf.c — sluice's XDP inspection program: parse, classify against the live
 * policy generation, count, sample, and apply the deciding rule's verdict (pass, drop,
 * or rate limit). Traffic that no rule decides passes. Passing traffic continues to the
 * program in sl_chain (the routing rewrite), when there is one. The tables and their generation switch are described in lib/maps.h,
 * the matching in lib/classify.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/aggregates.h"
#include "lib/classify.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/ratelimit.h"
#include "lib/sample.h"

static __always_inline void sl_stat(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&sl_stats, &reason);

	if (v)
		(*v)++;
}

SEC("xdp")
int sl_inspect(struct xdp_md *ctx)
{
	__u32 bytes = ctx->data_end - ctx->data;
	struct sl_rule *rule = NULL;
	struct sl_pkt p = {};
	struct sl_gen_info *gi;
	struct sl_ctl *ctl;
	__u32 zero = 0, slot;
	int reason;

	sl_stat(SL_STAT_PACKETS);
	ctl = bpf_map_lookup_elem(&sl_ctl, &zero);
	if (!ctl)
		return XDP_PASS;
	slot = ctl->slot & 1;
	gi = bpf_map_lookup_elem(&sl_gen, &slot);
	if (!gi || gi->n_rules == 0) {
		sl_stat(SL_STAT_NO_POLICY);
		goto pass; /* no rules, but maybe routes */
	}

	reason = sl_parse(ctx, &p);
	if (reason) {
		sl_stat(reason);
		goto pass;
	}
	if (p.stat)
		sl_stat(p.stat);
	sl_aggregate(&p, bytes);

	if (sl_classify(&p, slot, gi, bytes, &rule) < 0 || !rule) {
		sl_stat(SL_STAT_NO_MATCH);
		goto pass;
	}
	if (rule->sample_one_in)
		sl_sample(ctx, rule, bytes);
	if (rule->action == SL_ACT_DROP) {
		sl_stat(SL_STAT_DROP_RULE);
		return XDP_DROP;
	}
	if (rule->action == SL_ACT_RATE_LIMIT && !sl_rate_ok(rule, &p, bytes)) {
		__u32 cs = rule->counter;
		struct sl_counter *c = bpf_map_lookup_elem(&sl_rule_counters, &cs);

		if (c)
			c->rl_drops++;
		sl_stat(SL_STAT_DROP_RATE);
		return XDP_DROP;
	}
pass:
	/* Hand passing traffic to the next program (routing rewrite) when one is chained. */
	bpf_tail_call(ctx, &sl_chain, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
