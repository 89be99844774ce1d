// SPDX-License-Identifier: Apache-2.0
/*
 * rewrite_gen.c — route generations: rw__prepare() checks and compiles a policy's routes
 * (Maglev tables included), rw__commit() gives their backends counter slots, writes the
 * idle slot (routes, Maglev rows, frontends, port filter) and flips to it.
 *
 * Backend counter slots are stable per (route name, address, port): a backend keeps its
 * slot, and so its counters, across generations; one that leaves a route drains in its
 * slot until its counters stand still for its protocol's conntrack timeout. The slot
 * table lives in the pinned sl_rw_backends map, so a restarted agent knows who drains.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/log.h"
#include "maglev.h"
#include "rewrite.h"
#include "rewrite_int.h"

void rw_pending_free(struct rw_pending *pg)
{
	if (!pg)
		return;
	for (uint32_t i = 0; i < pg->n_routes; i++)
		free(pg->routes[i].backends);
	free(pg->routes);
	free(pg->maglev);
	sluice__v1__policy__free_unpacked(pg->policy, NULL);
	free(pg);
}

/* ---- prepare: check and compile ------------------------------------------------------ */

/* A copy of p's routes (in a policy of their own), which the pending generation's
 * strings point into. Only the routes: copying 10k rules would cost more than the routes. */
static Sluice__V1__Policy *routes_copy(const Sluice__V1__Policy *p)
{
	Sluice__V1__Policy routes = SLUICE__V1__POLICY__INIT;
	size_t len;
	uint8_t *buf;
	Sluice__V1__Policy *c;

	routes.n_routes = p->n_routes;
	routes.routes = p->routes;
	len = sluice__v1__policy__get_packed_size(&routes);
	buf = malloc(len ? len : 1);
	if (!buf)
		return NULL;
	sluice__v1__policy__pack(&routes, buf);
	c = sluice__v1__policy__unpack(NULL, len, buf);
	free(buf);
	return c;
}

static int compile_route(const Sluice__V1__Route *r, struct rw_pending_route *pr, uint8_t *table, char *err,
			 size_t errlen)
{
	const Sluice__V1__Frontend *f = r->frontend;
	struct maglev_backend *mb;
	int ret;

	if (!f || (f->vip.len != 4 && f->vip.len != 16) || (f->proto != RW_TCP && f->proto != RW_UDP) || f->port == 0 ||
	    f->port > 65535) {
		snprintf(err, errlen, "route '%s': frontend: needs a VIP, tcp or udp, and a port", r->name);
		return -EINVAL;
	}
	if (r->n_backends == 0 || r->n_backends > SL_MAX_BACKENDS) {
		snprintf(err, errlen, "route '%s': %zu backends; a route holds 1 to %u", r->name, r->n_backends,
			 SL_MAX_BACKENDS);
		return r->n_backends ? -E2BIG : -EINVAL;
	}
	pr->name = r->name;
	pr->family = f->vip.len == 4 ? 4 : 6;
	pr->proto = (uint8_t)f->proto;
	pr->vport = (uint16_t)f->port;
	memcpy(pr->vip, f->vip.data, f->vip.len);
	pr->n_backends = (uint32_t)r->n_backends;
	pr->backends = calloc(r->n_backends, sizeof(*pr->backends));
	mb = calloc(r->n_backends, sizeof(*mb));
	if (!pr->backends || !mb) {
		free(mb);
		return -ENOMEM;
	}
	for (size_t k = 0; k < r->n_backends; k++) {
		const Sluice__V1__Backend *b = r->backends[k];
		struct rw_pending_backend *pb = &pr->backends[k];
		uint8_t id[18];

		if (b->addr.len != f->vip.len || b->port == 0 || b->port > 65535) {
			snprintf(err, errlen, "route '%s': backends[%zu]: needs an address of the VIP's family and a port",
				 r->name, k);
			free(mb);
			return -EINVAL;
		}
		memcpy(pb->addr, b->addr.data, b->addr.len);
		pb->port = (uint16_t)b->port;
		pb->weight = b->weight;
		pb->tag = b->tag;
		memcpy(id, pb->addr, 16);
		id[16] = (uint8_t)(pb->port >> 8);
		id[17] = (uint8_t)pb->port;
		mb[k].id = maglev__id(id, sizeof(id));
		mb[k].weight = b->weight;
	}
	ret = maglev__build(mb, r->n_backends, SL_MAGLEV_SIZE, table);
	free(mb);
	if (ret == -EINVAL)
		snprintf(err, errlen, "route '%s': backends: weights sum to 0", r->name);
	else if (ret)
		snprintf(err, errlen, "route '%s': cannot build its Maglev table: %s", r->name, strerror(-ret));
	return ret;
}

int rw__prepare(struct rw *rw, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	struct rw_pending *pg;
	int ret = 0;

	rw_pending_free(rw->pending);
	rw->pending = NULL;
	if (p->n_routes > SL_MAX_ROUTES) {
		snprintf(err, errlen, "policy has %zu routes; capacity is %u", p->n_routes, SL_MAX_ROUTES);
		return -E2BIG;
	}
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return -ENOMEM;
	pg->policy = routes_copy(p);
	pg->routes = calloc(p->n_routes ? p->n_routes : 1, sizeof(*pg->routes));
	pg->maglev = malloc((p->n_routes ? p->n_routes : 1) * (size_t)SL_MAGLEV_SIZE);
	if (!pg->policy || !pg->routes || !pg->maglev) {
		ret = -ENOMEM;
		snprintf(err, errlen, "cannot compile routes: %s", strerror(ENOMEM));
		goto fail;
	}
	for (size_t i = 0; i < pg->policy->n_routes; i++) {
		ret = compile_route(pg->policy->routes[i], &pg->routes[i], pg->maglev + i * (size_t)SL_MAGLEV_SIZE, err,
				    errlen);
		pg->n_routes = (uint32_t)i + 1;
		if (ret)
			goto fail;
	}
	pg->n_routes = (uint32_t)pg->policy->n_routes;
	rw->pending = pg;
	return 0;
fail:
	rw_pending_free(pg);
	return ret;
}

/* ---- idle slot tables ---------------------------------------------------------------- */

/*
 * Makes slot's Maglev map hold n routes and waits until no packet can still read the
 * slot: every install into the ARRAY_OF_MAPS returns after an RCU grace period, and
 * every XDP run is an RCU read section. The map is reused in place (re-installed, for the
 * wait) while it is big enough, else replaced by a bigger one.
 */
static int maglev_prepare(struct rw *rw, __u32 slot, uint32_t n)
{
	struct rw_maglev *m = &rw->mg[slot], fresh = { .fd = -1 };
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	uint32_t cap = n + n / 4 + 16;
	int fd, err;

	if (m->fd < 0 || m->cap < n) {
		if (cap > SL_MAX_ROUTES)
			cap = SL_MAX_ROUTES;
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_rw_maglev", 4, sizeof(struct sl_maglev_row), cap, &o);
		if (fd < 0)
			return -errno;
		err = rw_maglev_map(&fresh, fd, cap);
		if (err) {
			close(fd);
			return err;
		}
		rw_maglev_release(m);
		*m = fresh;
	}
	return bpf_map_update_elem(rw->map_fd[R_MAGLEV], &slot, &m->fd, BPF_ANY) ? -errno : 0;
}

static struct sl_rw_route_table *routes_of(struct rw *rw, __u32 slot)
{
	return (struct sl_rw_route_table *)(rw->routes_mem + rw_elem_size(sizeof(struct sl_rw_route_table)) * slot);
}

static struct sl_rw_filter *filter_of(struct rw *rw, __u32 slot)
{
	return (struct sl_rw_filter *)(rw->filter_mem + rw_elem_size(sizeof(struct sl_rw_filter)) * slot);
}

/* ---- commit: counter slots ---------------------------------------------------------- */

bool rw_info_is(const struct sl_rw_backend_info *bi, const char *route, const uint8_t addr[16], uint16_t port)
{
	return bi->state != SL_RW_SLOT_FREE && ntohs(bi->port) == port && memcmp(bi->addr, addr, 16) == 0 &&
	       strncmp(bi->route, route, SL_NAME_LEN) == 0;
}

static uint32_t ident_hash(const char *route, const uint8_t addr[16], uint16_t port)
{
	uint32_t h = 2166136261u;

	for (const char *c = route; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	h = (h ^ (port >> 8)) * 16777619u;
	return (h ^ (port & 0xff)) * 16777619u;
}

static int zero_counter(struct rw *rw, __u32 slot)
{
	struct sl_rw_counter *v = calloc((size_t)rw->ncpus, sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	if (bpf_map_update_elem(rw->map_fd[R_COUNTERS], &slot, v, BPF_ANY))
		err = -errno;
	free(v);
	return err;
}

/*
 * Frees draining slots whose counters (snap, from rw_counters_snapshot) stood still for
 * their protocol's conntrack timeout: every flow they had is over by then (or would start
 * afresh).
 */
void rw_expire_draining(struct rw *rw, uint64_t now, const struct sl_rw_counter *snap)
{
	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++) {
		struct sl_rw_backend_info *bi = &rw->info[s];
		uint64_t idle, total;

		if (bi->state != SL_RW_SLOT_DRAINING)
			continue;
		total = snap[s].packets + snap[s].reply_packets;
		idle = (bi->proto == RW_TCP ? SL_CT_TCP_IDLE_S : SL_CT_UDP_IDLE_S) * 1000000000ull;
		if (total != bi->last_packets || now < bi->idle_since_ns) {
			bi->last_packets = total;
			bi->idle_since_ns = now;
		} else if (now - bi->idle_since_ns >= idle) {
			pr_info("route '%s': backend drained; its counter slot %u is free", bi->route, s);
			memset(bi, 0, sizeof(*bi));
		}
	}
}

/*
 * Gives every backend of the pending generation a counter slot: the one it has (live or
 * draining), else a free one, zeroed. state_out[s] is what slot s will be after the switch.
 */
static int assign_slots(struct rw *rw, struct rw_pending *pg, uint8_t *state_out, char *err, size_t errlen)
{
	uint32_t size = 1, *index, next_free = 0, used = 0;
	int ret = 0;

	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++)
		used += rw->info[s].state != SL_RW_SLOT_FREE;
	while (size < 2 * (used + 1))
		size <<= 1;
	index = malloc(size * sizeof(*index));
	if (!index)
		return -ENOMEM;
	memset(index, 0xff, size * sizeof(*index));
	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++) {
		const struct sl_rw_backend_info *bi = &rw->info[s];
		uint32_t i;

		state_out[s] = bi->state;
		if (bi->state == SL_RW_SLOT_FREE)
			continue;
		/* Until proven otherwise every occupied slot drains; live ones are claimed below. */
		state_out[s] = SL_RW_SLOT_DRAINING;
		for (i = ident_hash(bi->route, bi->addr, ntohs(bi->port)) & (size - 1); index[i] != UINT32_MAX;
		     i = (i + 1) & (size - 1))
			;
		index[i] = s;
	}
	for (uint32_t r = 0; r < pg->n_routes && !ret; r++) {
		struct rw_pending_route *pr = &pg->routes[r];

		for (uint32_t k = 0; k < pr->n_backends; k++) {
			struct rw_pending_backend *pb = &pr->backends[k];
			uint32_t slot = UINT32_MAX;

			for (uint32_t i = ident_hash(pr->name, pb->addr, pb->port) & (size - 1); index[i] != UINT32_MAX;
			     i = (i + 1) & (size - 1)) {
				if (rw_info_is(&rw->info[index[i]], pr->name, pb->addr, pb->port)) {
					slot = index[i];
					break;
				}
			}
			if (slot == UINT32_MAX) {
				while (next_free < SL_RW_BACKEND_SLOTS &&
				       (rw->info[next_free].state != SL_RW_SLOT_FREE || state_out[next_free] != SL_RW_SLOT_FREE))
					next_free++;
				if (next_free == SL_RW_BACKEND_SLOTS) {
					snprintf(err, errlen,
						 "route '%s': no backend counter slot left (%u in use, draining ones included)",
						 pr->name, SL_RW_BACKEND_SLOTS);
					ret = -E2BIG;
					break;
				}
				slot = next_free;
				ret = zero_counter(rw, slot);
				if (ret) {
					snprintf(err, errlen, "cannot reset backend counters: %s", strerror(-ret));
					break;
				}
			}
			pb->slot = slot;
			state_out[slot] = SL_RW_SLOT_LIVE;
		}
	}
	free(index);
	return ret;
}

static void set_bit(__u64 *bits, uint16_t port)
{
	bits[port >> 6] |= 1ull << (port & 63);
}

/* The port filter of the pending generation: its frontends and backends, plus the
 * frontends and backends of draining slots (their flows still need translating). */
static void build_filter(struct rw *rw, const struct rw_pending *pg, const uint8_t *state, struct sl_rw_filter *f)
{
	memset(f, 0, sizeof(*f));
	for (uint32_t r = 0; r < pg->n_routes; r++) {
		const struct rw_pending_route *pr = &pg->routes[r];
		int pi = pr->proto == RW_UDP;

		set_bit(f->fwd[pi], pr->vport);
		for (uint32_t k = 0; k < pr->n_backends; k++)
			set_bit(f->rev[pi], pr->backends[k].port);
	}
	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++) {
		const struct sl_rw_backend_info *bi = &rw->info[s];
		int pi = bi->proto == RW_UDP;

		if (state[s] != SL_RW_SLOT_DRAINING)
			continue;
		set_bit(f->fwd[pi], ntohs(bi->vport));
		set_bit(f->rev[pi], ntohs(bi->port));
	}
}

/* Replaces slot's frontends in the shared frontend map with the pending ones. */
static int write_frontends(struct rw *rw, const struct rw_pending *pg, __u32 slot)
{
	int fd = rw->map_fd[R_FRONTENDS];
	struct sl_fe_key key, next, *stale = NULL;
	size_t n_stale = 0, cap = 0;
	void *prev = NULL;
	int err = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (next.slot == slot) {
			if (n_stale == cap) {
				struct sl_fe_key *grown = realloc(stale, (cap = cap ? 2 * cap : 64) * sizeof(*stale));

				if (!grown) {
					free(stale);
					return -ENOMEM;
				}
				stale = grown;
			}
			stale[n_stale++] = next;
		}
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	free(stale);
	for (uint32_t r = 0; r < pg->n_routes && !err; r++) {
		const struct rw_pending_route *pr = &pg->routes[r];
		struct sl_fe_key k = { .port = htons(pr->vport), .proto = pr->proto, .family = pr->family, .slot = slot };

		memcpy(k.vip, pr->vip, 16);
		if (bpf_map_update_elem(fd, &k, &r, BPF_ANY))
			err = -errno;
	}
	return err;
}

static void write_routes(struct rw *rw, const struct rw_pending *pg, __u32 slot)
{
	struct sl_rw_route_table *t = routes_of(rw, slot);
	struct rw_maglev *m = &rw->mg[slot];

	for (uint32_t r = 0; r < pg->n_routes; r++) {
		const struct rw_pending_route *pr = &pg->routes[r];
		struct sl_rw_route *dst = &t->route[r];

		dst->n_backends = pr->n_backends;
		for (uint32_t k = 0; k < pr->n_backends; k++) {
			struct sl_rw_backend *b = &dst->backend[k];

			memset(b, 0, sizeof(*b));
			memcpy(b->addr, pr->backends[k].addr, 16);
			b->port = htons(pr->backends[k].port);
			b->counter = pr->backends[k].slot;
		}
		memcpy(m->mem + RW_ROW_BYTES * r, pg->maglev + (size_t)r * SL_MAGLEV_SIZE, SL_MAGLEV_SIZE);
	}
}

/* After the switch: the slot table says who is live and who drains. */
static void update_info(struct rw *rw, const struct rw_pending *pg, const uint8_t *state, uint64_t now)
{
	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++) {
		struct sl_rw_backend_info *bi = &rw->info[s];

		if (state[s] == SL_RW_SLOT_DRAINING && bi->state == SL_RW_SLOT_LIVE) {
			bi->state = SL_RW_SLOT_DRAINING;
			bi->weight = 0;
			bi->idle_since_ns = now;
			bi->last_packets = 0;
			pr_info("route '%s': a backend left; it drains (existing flows only)", bi->route);
		}
	}
	for (uint32_t r = 0; r < pg->n_routes; r++) {
		const struct rw_pending_route *pr = &pg->routes[r];

		for (uint32_t k = 0; k < pr->n_backends; k++) {
			const struct rw_pending_backend *pb = &pr->backends[k];
			struct sl_rw_backend_info *bi = &rw->info[pb->slot];

			memset(bi, 0, sizeof(*bi));
			snprintf(bi->route, sizeof(bi->route), "%s", pr->name);
			snprintf(bi->tag, sizeof(bi->tag), "%s", pb->tag ? pb->tag : "");
			memcpy(bi->addr, pb->addr, 16);
			memcpy(bi->vip, pr->vip, 16);
			bi->port = htons(pb->port);
			bi->vport = htons(pr->vport);
			bi->family = pr->family;
			bi->proto = pr->proto;
			bi->state = SL_RW_SLOT_LIVE;
			bi->weight = pb->weight;
		}
		snprintf(rw->live_names[r], SL_NAME_LEN, "%s", pr->name);
	}
	rw->n_live = pg->n_routes;
}

static bool same_route(const struct rw_pending_route *a, const struct rw_pending_route *b)
{
	if (strcmp(a->name, b->name) || memcmp(a->vip, b->vip, 16) || a->vport != b->vport || a->family != b->family ||
	    a->proto != b->proto || a->n_backends != b->n_backends)
		return false;
	for (uint32_t k = 0; k < a->n_backends; k++) {
		const struct rw_pending_backend *x = &a->backends[k], *y = &b->backends[k];

		if (memcmp(x->addr, y->addr, 16) || x->port != y->port || x->weight != y->weight ||
		    strcmp(x->tag ? x->tag : "", y->tag ? y->tag : ""))
			return false;
	}
	return true;
}

static bool any_draining(const struct rw *rw)
{
	for (__u32 s = 0; s < SL_RW_BACKEND_SLOTS; s++) {
		if (rw->info[s].state == SL_RW_SLOT_DRAINING)
			return true;
	}
	return false;
}

/*
 * True when switching to pg would change nothing: the live generation was committed by
 * this agent from the same routes (so the same Maglev tables and counter slots), and no
 * backend drains (a drained one would be freed and leave the port filter).
 */
static bool commit_is_noop(const struct rw *rw, const struct rw_pending *pg)
{
	const struct rw_pending *live = rw->live;

	if (!live || live->n_routes != pg->n_routes || any_draining(rw))
		return false;
	for (uint32_t r = 0; r < pg->n_routes; r++) {
		if (!same_route(&live->routes[r], &pg->routes[r]))
			return false;
	}
	return memcmp(live->maglev, pg->maglev, (size_t)pg->n_routes * SL_MAGLEV_SIZE) == 0;
}

int rw__commit(struct rw *rw, char *err, size_t errlen)
{
	struct rw_pending *pg = rw->pending;
	struct sl_rw_counter *snap;
	struct sl_rw_gen_info gi = { 0 }, old = { 0 };
	struct sl_rw_ctl ctl = { 0 };
	uint8_t *state = NULL;
	uint64_t now = rw_mono_ns();
	__u32 zero = 0, slot;
	int ret;

	if (!pg)
		return 0;
	rw->pending = NULL;
	if (commit_is_noop(rw, pg)) {
		/* Switching would cost an RCU grace period (the Maglev install) for nothing. */
		pr_debug("routes: unchanged (%u routes); no switch", pg->n_routes);
		rw_pending_free(pg);
		return 0;
	}
	state = calloc(SL_RW_BACKEND_SLOTS, 1);
	if (!state) {
		ret = -ENOMEM;
		snprintf(err, errlen, "cannot apply routes: %s", strerror(ENOMEM));
		goto cleanup;
	}
	if (any_draining(rw)) { /* the snapshot reads every flow cache entry: only when it matters */
		snap = rw_counters_snapshot(rw);
		if (snap)
			rw_expire_draining(rw, now, snap);
		free(snap);
	}
	ret = assign_slots(rw, pg, state, err, errlen);
	if (ret)
		goto cleanup;
	if (bpf_map_lookup_elem(rw->map_fd[R_CTL], &zero, &ctl)) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the route generation switch: %s", strerror(-ret));
		goto cleanup;
	}
	slot = (ctl.slot & 1) ^ 1; /* the idle slot */
	bpf_map_lookup_elem(rw->map_fd[R_GEN], &ctl.slot, &old);
	ret = maglev_prepare(rw, slot, pg->n_routes);
	if (ret) {
		snprintf(err, errlen, "cannot prepare %u Maglev tables: %s", pg->n_routes, strerror(-ret));
		goto cleanup;
	}
	write_routes(rw, pg, slot);
	build_filter(rw, pg, state, filter_of(rw, slot));
	ret = write_frontends(rw, pg, slot);
	if (ret) {
		snprintf(err, errlen, "cannot write route frontends: %s", strerror(-ret));
		goto cleanup;
	}
	gi.n_routes = pg->n_routes;
	gi.generation = old.generation + 1;
	if (bpf_map_update_elem(rw->map_fd[R_GEN], &slot, &gi, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "cannot write route generation info: %s", strerror(-ret));
		goto cleanup;
	}
	ctl.slot = slot;
	if (bpf_map_update_elem(rw->map_fd[R_CTL], &zero, &ctl, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "cannot switch route generations: %s", strerror(-ret));
		goto cleanup;
	}
	update_info(rw, pg, state, now);
	pr_info("routes: generation %llu switched to (slot %u), %u routes", (unsigned long long)gi.generation, slot,
		pg->n_routes);
	/* Kept to recognize an unchanged next commit. */
	rw_pending_free(rw->live);
	rw->live = pg;
	pg = NULL;
cleanup:
	free(state);
	rw_pending_free(pg);
	return ret;
}

int rw__apply(struct rw *rw, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	int ret = rw__prepare(rw, p, err, errlen);

	return ret ? ret : rw__commit(rw, err, errlen);
}

