// SPDX-License-Identifier: Apache-2.0
/*
 * rewrite_status.c — the rewrite program's counters for the agent's status: per route and
 * backend (live in policy order, then draining), and by reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "rewrite.h"
#include "rewrite_int.h"

static const char *const stat_names[SL_RW_STAT_MAX] = SL_RW_STAT_NAMES;

/* Adds one CPU's counters to a sum. */
static void add_counter(struct sl_rw_counter *sum, const struct sl_rw_counter *c)
{
	sum->new_flows += c->new_flows;
	sum->packets += c->packets;
	sum->bytes += c->bytes;
	sum->reply_packets += c->reply_packets;
	sum->reply_bytes += c->reply_bytes;
}

/*
 * Every occupied backend slot's counters, summed over CPUs, plus what flow cache copies
 * counted and have not added yet (sl_fc_count in bpf/lib/conntrack.h). A copy that adds
 * its counts between the two reads is seen twice or not at all for that one snapshot.
 * calloc'd [SL_RW_BACKEND_SLOTS]; NULL + errno.
 */
struct sl_rw_counter *rw_counters_snapshot(struct rw *rw)
{
	struct sl_rw_counter *sum = calloc(SL_RW_BACKEND_SLOTS, sizeof(*sum));
	struct sl_rw_counter *v = calloc((size_t)rw->ncpus, sizeof(*v));
	struct sl_fc_entry *fc = calloc((size_t)rw->ncpus, sizeof(*fc));

	if (!sum || !v || !fc) {
		free(sum);
		sum = NULL;
		errno = ENOMEM;
		goto cleanup;
	}
	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++) {
		if (rw->info[s].state == SL_RW_SLOT_FREE || bpf_map_lookup_elem(rw->map_fd[R_COUNTERS], &s, v))
			continue;
		for (int c = 0; c < rw->ncpus; c++)
			add_counter(&sum[s], &v[c]);
	}
	for (__u32 i = 0; i < SL_FLOW_CACHE; i++) {
		if (bpf_map_lookup_elem(rw->map_fd[R_CACHE], &i, fc))
			continue;
		for (int c = 0; c < rw->ncpus; c++) {
			const struct sl_fc_entry *e = &fc[c];
			struct sl_rw_counter *to;
			__u32 pending = e->pkts & (SL_FC_CLOCK_EVERY - 1);

			if ((!pending && !e->bytes) || e->nat.backend >= SL_RW_BACKEND_SLOTS)
				continue;
			to = &sum[e->nat.backend];
			if (e->dir == SL_FC_REV) {
				to->reply_packets += pending;
				to->reply_bytes += e->bytes;
			} else {
				to->packets += pending;
				to->bytes += e->bytes;
			}
		}
	}
cleanup:
	free(v);
	free(fc);
	return sum;
}

void rw_status_free(struct rw *rw)
{
	free(rw->st_routes);
	free(rw->st_route_ptrs);
	free(rw->st_fronts);
	free(rw->st_names);
	free(rw->st_backends);
	free(rw->st_backend_ptrs);
	rw->st_routes = NULL;
	rw->st_route_ptrs = NULL;
	rw->st_fronts = NULL;
	rw->st_names = NULL;
	rw->st_backends = NULL;
	rw->st_backend_ptrs = NULL;
}

/* ---- status ----------------------------------------------------------------------- */

int rw__stats(struct rw *rw, uint64_t out[SL_RW_STAT_MAX])
{
	__u64 *v = calloc((size_t)rw->ncpus, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (__u32 k = 0; k < SL_RW_STAT_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(rw->map_fd[R_STATS], &k, v))
			continue;
		for (int c = 0; c < rw->ncpus; c++)
			out[k] += v[c];
	}
	free(v);
	return 0;
}

int rw__backend_counters(struct rw *rw, const char *route, const uint8_t *addr, size_t addr_len, uint16_t port,
			 struct sl_rw_counter *out, bool *draining)
{
	uint8_t a[16] = { 0 };

	if (addr_len != 4 && addr_len != 16)
		return -EINVAL;
	memcpy(a, addr, addr_len);
	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++) {
		struct sl_rw_counter *snap;

		if (!rw_info_is(&rw->info[s], route, a, port))
			continue;
		if (draining)
			*draining = rw->info[s].state == SL_RW_SLOT_DRAINING;
		snap = rw_counters_snapshot(rw);
		if (!snap)
			return -errno;
		*out = snap[s];
		free(snap);
		return 0;
	}
	return -ENOENT;
}

static void fill_backend(struct rw *rw, __u32 s, const struct sl_rw_counter *snap,
			 Sluice__V1__BackendCounters *bc)
{
	struct sl_rw_backend_info *bi = &rw->info[s];

	sluice__v1__backend_counters__init(bc);
	bc->addr.data = bi->addr;
	bc->addr.len = bi->family == 4 ? 4 : 16;
	bc->port = ntohs(bi->port);
	bc->tag = bi->tag;
	bc->weight = bi->weight;
	bc->draining = bi->state == SL_RW_SLOT_DRAINING;
	bc->new_flows = snap[s].new_flows;
	bc->packets = snap[s].packets;
	bc->bytes = snap[s].bytes;
	bc->reply_packets = snap[s].reply_packets;
	bc->reply_bytes = snap[s].reply_bytes;
}

/* Route names of a status being built -> their index, open addressing. */
struct name_index {
	uint32_t *slot; /* [size], UINT32_MAX = empty */
	uint32_t size;
};

static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

/* Index of the route called name in the status being built, adding it when new. */
static uint32_t status_route(struct rw *rw, struct name_index *ix, size_t *n, const char *name)
{
	uint32_t i = name_hash(name) & (ix->size - 1);
	Sluice__V1__RouteCounters *rc;

	for (; ix->slot[i] != UINT32_MAX; i = (i + 1) & (ix->size - 1)) {
		if (strncmp(rw->st_names[ix->slot[i]], name, SL_NAME_LEN) == 0)
			return ix->slot[i];
	}
	ix->slot[i] = (uint32_t)*n;
	snprintf(rw->st_names[*n], SL_NAME_LEN, "%s", name);
	rc = &rw->st_routes[*n];
	sluice__v1__route_counters__init(rc);
	rc->name = rw->st_names[*n];
	rw->st_route_ptrs[*n] = rc;
	return (uint32_t)(*n)++;
}

int rw__fill_status(struct rw *rw, Sluice__V1__Status *st)
{
	size_t n_slots = 0, n_routes = 0, nb = 0, max_routes;
	struct name_index ix = { 0 };
	uint64_t stats[SL_RW_STAT_MAX];
	__u32 *order = NULL, *route_of = NULL, *next = NULL;
	struct sl_rw_counter *snap;
	int err = -ENOMEM;

	rw_status_free(rw);
	snap = rw_counters_snapshot(rw);
	if (!snap)
		return -errno;
	rw_expire_draining(rw, rw_mono_ns(), snap);
	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++)
		n_slots += rw->info[s].state != SL_RW_SLOT_FREE;
	max_routes = n_slots + rw->n_live + 1;
	ix.size = 1;
	while (ix.size < 2 * max_routes)
		ix.size <<= 1;
	ix.slot = malloc(ix.size * sizeof(*ix.slot));
	rw->st_routes = calloc(max_routes, sizeof(*rw->st_routes));
	rw->st_route_ptrs = calloc(max_routes, sizeof(*rw->st_route_ptrs));
	rw->st_fronts = calloc(max_routes, sizeof(*rw->st_fronts));
	rw->st_names = calloc(max_routes, sizeof(*rw->st_names));
	rw->st_backends = calloc(n_slots + 1, sizeof(*rw->st_backends));
	rw->st_backend_ptrs = calloc(n_slots + 1, sizeof(*rw->st_backend_ptrs));
	order = calloc(n_slots + 1, sizeof(*order));
	route_of = calloc(n_slots + 1, sizeof(*route_of));
	next = calloc(max_routes, sizeof(*next));
	if (!ix.slot || !rw->st_routes || !rw->st_route_ptrs || !rw->st_fronts || !rw->st_names || !rw->st_backends ||
	    !rw->st_backend_ptrs || !order || !route_of || !next)
		goto cleanup;
	memset(ix.slot, 0xff, ix.size * sizeof(*ix.slot));
	/* Routes in policy order, then routes that only drain. In each, live backends in slot
	 * order (which follows the policy for new ones), then draining ones. */
	for (uint32_t r = 0; r < rw->n_live; r++)
		status_route(rw, &ix, &n_routes, rw->live_names[r]);
	for (int pass = 0; pass < 2; pass++) {
		for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++) {
			const struct sl_rw_backend_info *bi = &rw->info[s];

			if (bi->state != (pass == 0 ? SL_RW_SLOT_LIVE : SL_RW_SLOT_DRAINING))
				continue;
			order[nb] = s;
			route_of[nb] = status_route(rw, &ix, &n_routes, bi->route);
			rw->st_routes[route_of[nb]].n_backends++;
			nb++;
		}
	}
	/* Each route's backends side by side in st_backend_ptrs. */
	for (size_t r = 0, at = 0; r < n_routes; r++) {
		next[r] = (__u32)at;
		rw->st_routes[r].backends = &rw->st_backend_ptrs[at];
		at += rw->st_routes[r].n_backends;
	}
	for (size_t i = 0; i < nb; i++) {
		const struct sl_rw_backend_info *bi = &rw->info[order[i]];
		Sluice__V1__RouteCounters *rc = &rw->st_routes[route_of[i]];
		Sluice__V1__Frontend *fe = &rw->st_fronts[route_of[i]];

		fill_backend(rw, order[i], snap, &rw->st_backends[i]);
		rw->st_backend_ptrs[next[route_of[i]]++] = &rw->st_backends[i];
		if (!rc->frontend) {
			sluice__v1__frontend__init(fe);
			fe->vip.data = (uint8_t *)bi->vip;
			fe->vip.len = bi->family == 4 ? 4 : 16;
			fe->proto = bi->proto;
			fe->port = ntohs(bi->vport);
			rc->frontend = fe;
		}
	}
	st->routes = rw->st_route_ptrs;
	st->n_routes = n_routes;
	st->routes_used = rw->n_live;
	st->route_capacity = SL_MAX_ROUTES;
	if (rw__stats(rw, stats) == 0) {
		for (int k = 0; k < SL_RW_STAT_MAX; k++) {
			sluice__v1__status__rewrite_reasons_entry__init(&rw->st_reasons[k]);
			rw->st_reasons[k].key = (char *)stat_names[k];
			rw->st_reasons[k].value = stats[k];
			rw->st_reason_ptrs[k] = &rw->st_reasons[k];
		}
		st->rewrite_reasons = rw->st_reason_ptrs;
		st->n_rewrite_reasons = SL_RW_STAT_MAX;
	}
	err = 0;
cleanup:
	free(snap);
	free(ix.slot);
	free(order);
	free(route_of);
	free(next);
	if (err)
		rw_status_free(rw);
	return err;
}

