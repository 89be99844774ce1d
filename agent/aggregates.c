// SPDX-License-Identifier: Apache-2.0
/*
 * aggregates.c — see aggregates.h. Per-CPU values come back from the kernel as one
 * 8-byte-aligned slot per possible CPU; sources are summed over them. The batch reads
 * go BATCH keys at a time until the kernel says -ENOENT (no more entries).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aggregates.h"
#include "common/log.h"

#define BATCH 256

struct agg_reader {
	int src_fd, total_fd;
	int ncpus;
	size_t stride;            /* bytes per CPU in a per-CPU value */
	struct sl_agg_key *keys;  /* BATCH keys */
	uint8_t *values;          /* BATCH * ncpus * stride bytes */
	struct agg_source *out;
	size_t n_out, cap_out;
	struct agg_source last_total;
	bool have_total;
};

struct agg_reader *agg_reader__new(int per_source_fd, int total_fd)
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
	r->ncpus = n;
	r->stride = (sizeof(struct sl_agg) + 7) & ~(size_t)7;
	r->keys = calloc(BATCH, sizeof(*r->keys));
	r->values = calloc((size_t)BATCH * (size_t)n, r->stride);
	r->cap_out = SL_AGG_SOURCES;
	r->out = calloc(r->cap_out, sizeof(*r->out));
	if (!r->keys || !r->values || !r->out) {
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
	free(r->values);
	free(r->out);
	free(r);
}

/* Sums the per-CPU slots of one value into a. */
static void sum_cpus(const struct agg_reader *r, const uint8_t *v, struct agg_source *a)
{
	for (int c = 0; c < r->ncpus; c++) {
		const struct sl_agg *x = (const struct sl_agg *)(v + (size_t)c * r->stride);

		a->packets += x->packets;
		a->bytes += x->bytes;
		a->syns += x->syns;
		a->synacks += x->synacks;
		a->rsts += x->rsts;
		for (int w = 0; w < SL_AGG_PORT_WORDS; w++)
			a->ports[w] |= x->ports[w];
	}
}

static int read_total(struct agg_reader *r, struct agg_source *total)
{
	struct agg_source now = { 0 };
	__u32 zero = 0;

	memset(total, 0, sizeof(*total));
	if (bpf_map_lookup_elem(r->total_fd, &zero, r->values))
		return -errno;
	sum_cpus(r, r->values, &now);
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

int agg_reader__collect(struct agg_reader *r, const struct agg_source **out, size_t *n, struct agg_source *total)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct sl_agg_key in_batch, out_batch;
	bool first = true;
	int err = 0;

	r->n_out = 0;
	*out = r->out;
	*n = 0;
	err = read_total(r, total);
	if (err)
		return err;
	for (;;) {
		__u32 count = BATCH;

		err = bpf_map_lookup_and_delete_batch(r->src_fd, first ? NULL : &in_batch, &out_batch, r->keys,
						      r->values, &count, &opts);
		err = err ? -errno : 0;
		for (__u32 i = 0; i < count && r->n_out < r->cap_out; i++) {
			struct agg_source *a = &r->out[r->n_out++];

			memset(a, 0, sizeof(*a));
			a->family = (uint8_t)r->keys[i].family;
			memcpy(a->addr, r->keys[i].addr, sizeof(a->addr));
			sum_cpus(r, r->values + (size_t)i * (size_t)r->ncpus * r->stride, a);
		}
		if (err == -ENOENT) { /* the last batch */
			err = 0;
			break;
		}
		if (err)
			break;
		in_batch = out_batch;
		first = false;
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
