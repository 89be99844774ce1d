/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * sample.h — sampling packets to user space: one in N packets of a rule (random, as
 * sFlow does) is copied, metadata and the first snaplen bytes, into the ring buffer.
 * Wakeups are batched: a CPU wakes the consumer only every SL_SAMPLE_WAKEUP_EVERY
 * samples (the consumer also polls on a timer). A full ring buffer is counted per rule.
 */
#ifndef SLUICE_BPF_SAMPLE_H
#define SLUICE_BPF_SAMPLE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"
#include "lib/maps.h"

static __always_inline void sl_sample(struct xdp_md *ctx, const struct sl_rule *r, __u32 bytes)
{
	__u32 zero = 0, slot = r->counter, cap;
	struct sl_counter *c = bpf_map_lookup_elem(&sl_rule_counters, &slot);
	struct sl_sample *s;
	__u32 *batch;
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_get_prandom_u32() % r->sample_one_in)
		return;
	s = bpf_ringbuf_reserve(&sl_samples, sizeof(*s), 0);
	if (!s) {
		if (c)
			c->samples_lost++;
		return;
	}
	cap = r->snaplen < bytes ? r->snaplen : bytes;
	if (cap > SL_MAX_SNAPLEN)
		cap = SL_MAX_SNAPLEN;
	s->ts_ns = bpf_ktime_get_ns();
	s->counter = slot;
	s->ifindex = ctx->ingress_ifindex;
	s->pkt_len = bytes;
	s->cap_len = 0;
	if (cap > 0) {
		/* 1..SL_MAX_SNAPLEN in a form the verifier can see, whatever the compiler keeps. */
		__u64 len = cap - 1;

		asm volatile("%0 &= %1" : "+r"(len) : "i"(SL_MAX_SNAPLEN - 1));
		len += 1;
		if (bpf_xdp_load_bytes(ctx, 0, s->data, len) == 0)
			s->cap_len = (__u32)len;
	}
	batch = bpf_map_lookup_elem(&sl_sample_batch, &zero);
	if (batch && ++(*batch) >= SL_SAMPLE_WAKEUP_EVERY) {
		*batch = 0;
		flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(s, flags);
	if (c)
		c->samples++;
}

#endif
