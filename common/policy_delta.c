// SPDX-License-Identifier: Apache-2.0
/*
 * policy_delta.c — see policy_delta.h. Making a delta walks the target in order and
 * extends a copy run while target entries equal consecutive base entries (found by name
 * through a sorted index, compared by their encoding); applying one lays the pieces out
 * as a policy that points into the base and the delta, then packs and unpacks it, so the
 * result owns all of its memory.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/policy_delta.h"

struct named {
	const char *name;
	size_t idx;
};

static int cmp_named(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

/* Rules or routes, through one set of accessors. */
struct list {
	size_t n;
	const ProtobufCMessage *const *items;
	const char *(*name)(const ProtobufCMessage *m);
};

static const char *rule_name(const ProtobufCMessage *m)
{
	const char *s = ((const Sluice__V1__Rule *)m)->name;

	return s ? s : "";
}

static const char *route_name(const ProtobufCMessage *m)
{
	const char *s = ((const Sluice__V1__Route *)m)->name;

	return s ? s : "";
}

static struct list rules_of(const Sluice__V1__Policy *p)
{
	return (struct list){ p ? p->n_rules : 0, p ? (const ProtobufCMessage *const *)p->rules : NULL, rule_name };
}

static struct list routes_of(const Sluice__V1__Policy *p)
{
	return (struct list){ p ? p->n_routes : 0, p ? (const ProtobufCMessage *const *)p->routes : NULL, route_name };
}

/* Do two messages encode to the same bytes? false also when out of memory (the entry is
 * then simply sent in full). */
static bool same(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t la = protobuf_c_message_get_packed_size(a), lb = protobuf_c_message_get_packed_size(b);
	uint8_t *pa, *pb;
	bool eq = false;

	if (la != lb)
		return false;
	pa = malloc(la + 1);
	pb = malloc(lb + 1);
	if (pa && pb) {
		protobuf_c_message_pack(a, pa);
		protobuf_c_message_pack(b, pb);
		eq = memcmp(pa, pb, la) == 0;
	}
	free(pa);
	free(pb);
	return eq;
}

/* Fills *pieces (malloc'd, *n of them) for base -> target; piece i of a new entry points
 * at the target's entry through set(). 0 or -ENOMEM. */
static int make_pieces(struct list base, struct list target, bool rules, Sluice__V1__PolicyPiece **pieces,
		       size_t *n)
{
	struct named *index = calloc(base.n + 1, sizeof(*index)), key, *hit;
	Sluice__V1__PolicyPiece *v = calloc(target.n + 1, sizeof(*v)), *last = NULL;
	size_t cnt = 0;

	if (!index || !v) {
		free(index);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < base.n; i++)
		index[i] = (struct named){ base.name(base.items[i]), i };
	qsort(index, base.n, sizeof(*index), cmp_named);
	for (size_t j = 0; j < target.n; j++) {
		key.name = target.name(target.items[j]);
		hit = base.n ? bsearch(&key, index, base.n, sizeof(*index), cmp_named) : NULL;
		if (hit && same(base.items[hit->idx], target.items[j])) {
			if (last && last->copy_count && last->copy_from + last->copy_count == hit->idx) {
				last->copy_count++;
				continue;
			}
			last = &v[cnt++];
			sluice__v1__policy_piece__init(last);
			last->copy_from = (uint32_t)hit->idx;
			last->copy_count = 1;
			continue;
		}
		last = &v[cnt++];
		sluice__v1__policy_piece__init(last);
		if (rules)
			last->rule = (Sluice__V1__Rule *)target.items[j];
		else
			last->route = (Sluice__V1__Route *)target.items[j];
	}
	free(index);
	*pieces = v;
	*n = cnt;
	return 0;
}

int policy_delta__pack(const Sluice__V1__Policy *base, uint64_t base_revision, const char *base_hash,
		       const Sluice__V1__Policy *target, uint8_t **out, size_t *len)
{
	Sluice__V1__PolicyDelta d = SLUICE__V1__POLICY_DELTA__INIT;
	Sluice__V1__PolicyPiece *rules = NULL, *routes = NULL, **rp = NULL, **tp = NULL;
	size_t nr = 0, nt = 0;
	int err;

	*out = NULL;
	*len = 0;
	err = make_pieces(rules_of(base), rules_of(target), true, &rules, &nr);
	if (!err)
		err = make_pieces(routes_of(base), routes_of(target), false, &routes, &nt);
	rp = calloc(nr + 1, sizeof(*rp));
	tp = calloc(nt + 1, sizeof(*tp));
	if (err || !rp || !tp) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < nr; i++)
		rp[i] = &rules[i];
	for (size_t i = 0; i < nt; i++)
		tp[i] = &routes[i];
	d.base_revision = base_revision;
	d.base_hash = (char *)(base_hash ? base_hash : "");
	d.n_rules = nr;
	d.rules = rp;
	d.n_routes = nt;
	d.routes = tp;
	d.detectors = target ? target->detectors : NULL;
	*len = sluice__v1__policy_delta__get_packed_size(&d);
	*out = malloc(*len ? *len : 1);
	if (!*out) {
		err = -ENOMEM;
		goto cleanup;
	}
	sluice__v1__policy_delta__pack(&d, *out);
cleanup:
	free(rules);
	free(routes);
	free(rp);
	free(tp);
	return err;
}

/* Lays pieces out into v (room for every entry they name); 0 or -EINVAL. */
static int lay_out(struct list base, Sluice__V1__PolicyPiece *const *pieces, size_t n, bool rules,
		   const ProtobufCMessage **v, size_t cap, size_t *cnt)
{
	*cnt = 0;
	for (size_t i = 0; i < n; i++) {
		const Sluice__V1__PolicyPiece *p = pieces[i];
		const ProtobufCMessage *one = rules ? (const ProtobufCMessage *)p->rule : (const ProtobufCMessage *)p->route;

		if (p->copy_count) {
			if ((size_t)p->copy_from + p->copy_count > base.n || *cnt + p->copy_count > cap)
				return -EINVAL;
			for (uint32_t k = 0; k < p->copy_count; k++)
				v[(*cnt)++] = base.items[p->copy_from + k];
		} else if (one && *cnt < cap) {
			v[(*cnt)++] = one;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static size_t entries(Sluice__V1__PolicyPiece *const *pieces, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += pieces[i]->copy_count ? pieces[i]->copy_count : 1;
	return total;
}

int policy_delta__apply(const Sluice__V1__Policy *base, const Sluice__V1__PolicyDelta *d, Sluice__V1__Policy **out)
{
	Sluice__V1__Policy tmp = SLUICE__V1__POLICY__INIT;
	size_t cap_r = entries(d->rules, d->n_rules), cap_t = entries(d->routes, d->n_routes);
	const ProtobufCMessage **rv = calloc(cap_r + 1, sizeof(*rv)), **tv = calloc(cap_t + 1, sizeof(*tv));
	int err = 0;

	*out = NULL;
	if (!rv || !tv) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = lay_out(rules_of(base), d->rules, d->n_rules, true, rv, cap_r, &tmp.n_rules);
	if (!err)
		err = lay_out(routes_of(base), d->routes, d->n_routes, false, tv, cap_t, &tmp.n_routes);
	if (err)
		goto cleanup;
	tmp.rules = (Sluice__V1__Rule **)rv;
	tmp.routes = (Sluice__V1__Route **)tv;
	tmp.detectors = d->detectors;
	/* A copy of its own: nothing may point into the base or the delta. */
	*out = policy__dup(&tmp);
	if (!*out)
		err = -errno;
cleanup:
	free(rv);
	free(tv);
	return err;
}
