// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * inspect.bpf.c — sluice's XDP inspection program: parse, classify against the live
 * policy generation, count, sample, and apply the deciding rule's verdict (pass, drop,
 * or rate limit). Traffic that no rule decides passes. Passing traffic continues to the
 * program in sl_chain (the routing rewrite), when there is one. The tables and their generation switch are described in lib/maps.h,
 * the matching in lib/classify.h.
 *
 * Verdicts for frames that are not whole, well-formed packets (how lib/parse.h reads
 * them; each counts once in sl_stats under the reason named; never XDP_ABORTED):
 *
 *   frame                                              reason      verdict
 *   cut inside Ethernet or a VLAN tag, or the IP       truncated   pass, unclassified
 *     header (IPv4 options included)
 *   bad IP version, IHL < 5, IPv4 total length < IHL   bad_header  pass, unclassified
 *   not IPv4/IPv6, or more than SL_MAX_VLANS tags      non_ip      pass, unclassified
 *   IP length beyond the frame                         truncated   classified: ports if there
 *   L4 header cut by the frame or the IP length,       truncated   classified without ports
 *     IPv6 extension header cut short
 *   TCP data offset < 5 / UDP length < 8               bad_header  classified with ports
 *   TCP data offset / UDP length beyond the IP length  truncated   classified with ports
 *   IPv4/IPv6 fragment: the first                      fragment    classified with ports
 *                       any later one                  fragment    classified without ports
 *   more IPv6 extension headers than SL_MAX_EXT_HDRS   ext_limit   classified on addresses,
 *                                                                  the header as protocol
 *   ESP, no next header, other protocols               (none)      classified, no ports
 *
 * "Classified" means the rules decide (drop, rate limit or pass, as for any packet) with
 * ports and TCP flags 0 where there are none, so rules with port or flag conditions do
 * not match. Passing packets go on to the rewrite, which translates none of the above
 * (fragments count there as rewrite_fragment): see lib/nat.h. A frame shorter than an
 * Ethernet header would be truncated too, but the kernel pads or refuses those before
 * XDP (BPF_PROG_TEST_RUN refuses them). tests/bpf/test_malformed.c checks every row.
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
#include "lib/vcache.h"

static __always_inline void sl_stat(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&sl_stats, &reason);

	if (v)
		(*v)++;
}

/*
 * A verdict from the cache (lib/vcache.h): counts the count rules it carries and the
 * deciding rule, as classifying would have, and points *rule at the deciding rule.
 * Returns -1 when no rule decides.
 */
static __always_inline int sl_cached_verdict(const struct sl_vc_entry *vc, __u32 slot, __u32 bytes,
					     struct sl_rule **rule)
{
	struct sl_rule_table *rules;
	struct sl_rule *r;

	for (int i = 0; i < SL_VC_COUNTS; i++) {
		if (i < vc->n_counts)
			sl_count_slot(vc->counts[i], bytes);
	}
	if (vc->match < 0)
		return -1;
	rules = bpf_map_lookup_elem(&sl_rules, &slot);
	if (!rules)
		return -1;
	r = &rules->rule[vc->match & (SL_MAX_RULES - 1)];
	sl_count_rule(r, bytes);
	*rule = r;
	return 0;
}

SEC("xdp")
int sl_inspect(struct xdp_md *ctx)
{
	__u32 bytes = ctx->data_end - ctx->data;
	struct sl_rule *rule = NULL;
	struct sl_pkt p = {};
	struct sl_vc_entry *vc;
	struct sl_gen_info *gi;
	struct sl_ctl *ctl;
	__u32 zero = 0, slot, vc_slot;
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

	vc = sl_vc_get(&p, gi->generation, &vc_slot);
	if (vc) {
		if (sl_cached_verdict(vc, slot, bytes, &rule) < 0) {
			sl_stat(SL_STAT_NO_MATCH);
			goto pass;
		}
	} else if (sl_classify(&p, slot, gi, bytes, vc_slot, &rule) < 0 || !rule) {
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
