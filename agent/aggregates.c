// SPDX-License-Identifier: Apache-2.0
/*
 * aggregates.c — see aggregates.h. Per-CPU values come back from the kernel as one
 * 8-byte-aligned slot per possible CPU. A source has one set (SL_AGG_WAYS slots) in each
 * CPU's copy of the table, but not always the same slot, so the sources of a set are
 * merged over its slots and CPUs. Batch reads and clears go BATCH sets at a time.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aggregates.h"
#include "common/log.h"

#define BATCH 256

struct agg_reader {
	int src_fd, total_fd, ctl_fd;
	int ncpus;
	size_t stride;            /* bytes per CPU in a per-CPU value of sl_agg_src */
	size_t total_stride;      /* and of sl_agg_total */
	__u32 *keys;              /* BATCH set indexes */
	__u32 *clear;             /* the ones of them to clear */
	uint8_t *values;          /* BATCH * ncpus * stride bytes */
	uint8_t *zeros;           /* as many zero bytes */
	struct agg_source *out;
	size_t n_out, cap_out;
	struct agg_source last_total;
	bool have_total;
};

struct agg_reader *agg_reader__new(int per_source_fd, int total_fd, int ctl_fd)
{
	struct agg_reader *r = calloc(1, sizeof(*r));
	int n;

	if (!r)
		return NULL;
	n = libbpf_num_possible_cpus();
	if (n <= 0) {
		free(r);
		errno = n < 0 ? -n : EINVAL;
		return NULL;
	}
	r->src_fd = per_source_fd;
	r->total_fd = total_fd;
	r->ctl_fd = ctl_fd;
	r->ncpus = n;
	r->stride = (sizeof(struct sl_agg_set) + 7) & ~(size_t)7;
	r->total_stride = (sizeof(struct sl_agg) + 7) & ~(size_t)7;
	r->keys = calloc(BATCH, sizeof(*r->keys));
	r->clear = calloc(BATCH, sizeof(*r->clear));
	r->values = calloc((size_t)BATCH * (size_t)n, r->stride);
	r->zeros = calloc((size_t)BATCH * (size_t)n, r->stride);
	r->cap_out = SL_AGG_SOURCES;
	r->out = calloc(r->cap_out, sizeof(*r->out));
	if (!r->keys || !r->clear || !r->values || !r->zeros || !r->out) {
		agg_reader__free(r);
		errno = ENOMEM;
		return NULL;
	}
	return r;
}

void agg_reader__free(struct agg_reader *r)
{
	if (!r)
		return;
	free(r->keys);
	free(r->clear);
	free(r->values);
	free(r->zeros);
	free(r->out);
	free(r);
}

static void add_agg(struct agg_source *a, const struct sl_agg *x)
{
	a->packets += x->packets;
	a->bytes += x->bytes;
	a->syns += x->syns;
	a->synacks += x->synacks;
	a->rsts += x->rsts;
	for (int w = 0; w < SL_AGG_PORT_WORDS; w++)
		a->ports[w] |= x->ports[w];
}

static int read_total(struct agg_reader *r, struct agg_source *total)
{
	struct agg_source now = { 0 };
	__u32 zero = 0;

	memset(total, 0, sizeof(*total));
	if (bpf_map_lookup_elem(r->total_fd, &zero, r->values))
		return -errno;
	for (int c = 0; c < r->ncpus; c++)
		add_agg(&now, (const struct sl_agg *)(r->values + (size_t)c * r->total_stride));
	if (r->have_total) {
		/* Counters only grow; a smaller one means the datapath was reloaded. */
		total->packets = now.packets >= r->last_total.packets ? now.packets - r->last_total.packets : now.packets;
		total->bytes = now.bytes >= r->last_total.bytes ? now.bytes - r->last_total.bytes : now.bytes;
		total->syns = now.syns >= r->last_total.syns ? now.syns - r->last_total.syns : now.syns;
		total->synacks = now.synacks >= r->last_total.synacks ? now.synacks - r->last_total.synacks
								       : now.synacks;
		total->rsts = now.rsts >= r->last_total.rsts ? now.rsts - r->last_total.rsts : now.rsts;
	} else {
		*total = now;
	}
	memset(total->ports, 0, sizeof(total->ports)); /* cumulative: says nothing per interval */
	r->last_total = now;
	r->have_total = true;
	return 0;
}

/* The output entry of (family, addr) among those of the current set (from first on). */
static struct agg_source *source_of(struct agg_reader *r, size_t first, const struct sl_agg_key *k)
{
	struct agg_source *a;

	for (size_t i = first; i < r->n_out; i++) {
		a = &r->out[i];
		if (a->family == k->family && memcmp(a->addr, k->addr, sizeof(a->addr)) == 0)
			return a;
	}
	if (r->n_out == r->cap_out) {
		size_t cap = r->cap_out * 2;
		struct agg_source *grown = realloc(r->out, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		r->out = grown;
		r->cap_out = cap;
	}
	a = &r->out[r->n_out++];
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)k->family;
	memcpy(a->addr, k->addr, sizeof(a->addr));
	return a;
}

/* Merges the sets read into r->values (count of them) into the output; says in r->clear
 * which sets held anything. Returns how many did, or -ENOMEM. */
static int merge_sets(struct agg_reader *r, __u32 count)
{
	__u32 n_clear = 0;

	for (__u32 i = 0; i < count; i++) {
		const uint8_t *v = r->values + (size_t)i * (size_t)r->ncpus * r->stride;
		size_t first = r->n_out;
		bool used = false;

		for (int c = 0; c < r->ncpus; c++) {
			const struct sl_agg_set *set = (const struct sl_agg_set *)(v + (size_t)c * r->stride);

			for (int w = 0; w < SL_AGG_WAYS; w++) {
				const struct sl_agg_slot *s = &set->way[w];
				struct agg_source *a;

				if (!s->key.family)
					continue;
				used = true;
				a = source_of(r, first, &s->key);
				if (!a)
					return -ENOMEM;
				add_agg(a, &s->agg);
			}
		}
		if (used)
			r->clear[n_clear++] = r->keys[i];
	}
	return (int)n_clear;
}

int agg_reader__collect(struct agg_reader *r, const struct agg_source **out, size_t *n, struct agg_source *total)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct sl_agg_ctl ctl = { 0 };
	struct timespec drain = { 0, 1000 * 1000 };
	__u32 zero = 0, in_batch = 0, out_batch = 0, base;
	int err;

	r->n_out = 0;
	*out = r->out;
	*n = 0;
	err = read_total(r, total);
	if (err)
		return err;
	/*
	 * Move the datapath to the other half, then read this one. A packet that looked at
	 * the switch just before the flip may still be adding to this half: XDP runs to its end
	 * without sleeping, so a millisecond is ample. (One that was later still than the
	 * clear below would only be counted an interval late.)
	 */
	if (bpf_map_lookup_elem(r->ctl_fd, &zero, &ctl))
		return -errno;
	base = (ctl.half & 1) * SL_AGG_SETS;
	ctl.half = (ctl.half & 1) ^ 1;
	if (bpf_map_update_elem(r->ctl_fd, &zero, &ctl, BPF_ANY))
		return -errno;
	nanosleep(&drain, NULL);

	for (__u32 done = 0; done < SL_AGG_SETS;) {
		__u32 count = BATCH < SL_AGG_SETS - done ? BATCH : SL_AGG_SETS - done;
		int used;

		/* A batch starts after the key in in_batch (from the first key without one). */
		in_batch = base + done - 1;
		err = bpf_map_lookup_batch(r->src_fd, base + done == 0 ? NULL : &in_batch, &out_batch, r->keys,
					   r->values, &count, &opts);
		err = err ? -errno : 0;
		if (err && err != -ENOENT)
			break;
		used = merge_sets(r, count);
		if (used < 0) {
			err = used;
			break;
		}
		if (used > 0) {
			__u32 nc = (__u32)used;

			if (bpf_map_update_batch(r->src_fd, r->clear, r->zeros, &nc, &opts)) {
				err = -errno;
				break;
			}
		}
		done += count;
		err = 0;
		if (count == 0)
			break;
	}
	*n = r->n_out;
	return err;
}

double agg__distinct_ports(const uint64_t ports[SL_AGG_PORT_WORDS])
{
	unsigned set = 0;

	for (int w = 0; w < SL_AGG_PORT_WORDS; w++)
		set += (unsigned)__builtin_popcountll(ports[w]);
	if (set == 0)
		return 0;
	if (set >= SL_AGG_PORT_BITS)
		set = SL_AGG_PORT_BITS - 1; /* saturated: the largest value the sketch can tell */
	return SL_AGG_PORT_BITS * log((double)SL_AGG_PORT_BITS / (double)(SL_AGG_PORT_BITS - set));
}

void agg__merge_ports(uint64_t dst[SL_AGG_PORT_WORDS], const uint64_t src[SL_AGG_PORT_WORDS])
{
	for (int w = 0; w < SL_AGG_PORT_WORDS; w++)
		dst[w] |= src[w];
}

void agg__add_port(uint64_t ports[SL_AGG_PORT_WORDS], uint16_t port)
{
	uint32_t bit = sl_agg_port_bit(port);

	ports[(bit >> 6) & (SL_AGG_PORT_WORDS - 1)] |= 1ULL << (bit & 63);
}
