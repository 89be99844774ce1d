// SPDX-License-Identifier: Apache-2.0
/*
 * mitigate.c — see mitigate.h. The merged policy is a deep copy of the base with the
 * mitigation rules put in front: built by packing the base, unpacking it, and growing
 * its rules array, so policy__free() releases every piece.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/policy.h"
#include "mitigate.h"

struct mitigate {
	struct mitigate_ops ops;
	Sluice__V1__Policy *base;
	struct mitigate_rule rules[MITIGATE_MAX];
	size_t n;
	uint64_t seq; /* numbers the rule names */
};

struct mitigate *mitigate__new(const struct mitigate_ops *ops)
{
	struct mitigate *m;

	if (!ops || !ops->apply || !ops->capacity) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->ops = *ops;
	return m;
}

void mitigate__free(struct mitigate *m)
{
	if (!m)
		return;
	policy__free(m->base);
	free(m);
}

void mitigate__describe(const struct mitigate_rule *r, char *buf, size_t len)
{
	char addr[48];

	alerts__addr_str(&r->src, addr, sizeof(addr));
	snprintf(buf, len, "src %s/%d", addr, r->src.family == 6 ? 128 : 32);
}

/* One mitigation rule as a policy rule, allocated piece by piece (each piece is
 * attached as soon as it exists, so free_unpacked releases a half-built rule). */
static Sluice__V1__Rule *make_rule(const struct mitigate_rule *r)
{
	size_t alen = r->src.family == 6 ? 16 : 4;
	Sluice__V1__Rule *x = malloc(sizeof(*x));
	Sluice__V1__Cidr *c;

	if (!x)
		return NULL;
	sluice__v1__rule__init(x);
	x->name = strdup(r->name);
	x->match = malloc(sizeof(*x->match));
	if (!x->name || !x->match)
		goto fail;
	sluice__v1__match__init(x->match);
	x->match->src = calloc(1, sizeof(*x->match->src));
	c = malloc(sizeof(*c));
	if (!x->match->src || !c) {
		free(c);
		goto fail;
	}
	sluice__v1__cidr__init(c);
	x->match->src[0] = c;
	x->match->n_src = 1;
	c->addr.data = malloc(alen);
	if (!c->addr.data)
		goto fail;
	memcpy(c->addr.data, r->src.addr, alen);
	c->addr.len = alen;
	c->prefix_len = (uint32_t)alen * 8;
	x->priority = 0;
	x->action = SLUICE__V1__ACTION__ACTION_DROP;
	if (r->action == SLUICE__V1__ACTION__ACTION_RATE_LIMIT) {
		x->rate_limit = malloc(sizeof(*x->rate_limit));
		if (!x->rate_limit)
			goto fail;
		sluice__v1__rate_limit__init(x->rate_limit);
		x->action = SLUICE__V1__ACTION__ACTION_RATE_LIMIT;
		x->rate_limit->pps = r->pps ? r->pps : 1;
		x->rate_limit->per = SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE;
	}
	return x;
fail:
	sluice__v1__rule__free_unpacked(x, NULL);
	return NULL;
}

Sluice__V1__Policy *mitigate__merge(const Sluice__V1__Policy *base, const struct mitigate_rule *rules, size_t n)
{
	Sluice__V1__Policy *p = base ? policy__dup(base) : policy__new();
	Sluice__V1__Rule **v;

	if (!p)
		return NULL;
	if (n == 0)
		return p;
	v = realloc(p->rules, (p->n_rules + n) * sizeof(*v));
	if (!v)
		goto fail;
	p->rules = v;
	/* In front: at priority 0 they win over every rule but earlier priority-0 ones. */
	memmove(v + n, v, p->n_rules * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = NULL;
	p->n_rules += n;
	for (size_t i = 0; i < n; i++) {
		v[i] = make_rule(&rules[i]);
		if (!v[i])
			goto fail;
	}
	return p;
fail:
	/* free_unpacked skips nothing: fill the holes with empty rules first. */
	for (size_t i = 0; p->rules && i < n && i < p->n_rules; i++) {
		if (!p->rules[i]) {
			p->rules[i] = malloc(sizeof(Sluice__V1__Rule));
			if (p->rules[i])
				sluice__v1__rule__init(p->rules[i]);
		}
	}
	policy__free(p);
	errno = ENOMEM;
	return NULL;
}

/* Applies base + rules[0, n); 0 or -errno (err says why). */
static int apply_merged(struct mitigate *m, size_t n, char *err, size_t errlen)
{
	Sluice__V1__Policy *merged = mitigate__merge(m->base, m->rules, n);
	int rc;

	if (!merged) {
		snprintf(err, errlen, "cannot build the policy with mitigations: %s", strerror(errno));
		return -errno;
	}
	rc = policy__validate(merged, m->ops.capacity(m->ops.ctx), err, errlen);
	if (!rc)
		rc = m->ops.apply(m->ops.ctx, merged, err, errlen);
	policy__free(merged);
	return rc;
}

int mitigate__apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	struct mitigate *m = ctx;
	Sluice__V1__Policy *copy = policy__dup(p);
	char why[256] = "";
	int rc;

	if (!copy) {
		snprintf(err, errlen, "out of memory copying the policy");
		return -ENOMEM;
	}
	policy__free(m->base);
	m->base = copy;
	rc = m->n ? apply_merged(m, m->n, why, sizeof(why)) : -EAGAIN;
	if (rc && m->n) {
		pr_warn("the policy with %zu mitigation rule%s does not apply (%s); applying it without them", m->n,
			m->n == 1 ? "" : "s", why);
		m->n = 0;
	}
	if (rc)
		rc = m->ops.apply(m->ops.ctx, m->base, err, errlen);
	if (!rc && m->ops.applied)
		m->ops.applied(m->ops.applied_ctx, m->base);
	return rc;
}

int mitigate__set_base(struct mitigate *m, const Sluice__V1__Policy *p)
{
	Sluice__V1__Policy *copy = policy__dup(p);

	if (!copy)
		return -ENOMEM;
	policy__free(m->base);
	m->base = copy;
	return 0;
}

int mitigate__add(struct mitigate *m, struct mitigate_rule *r, char *err, size_t errlen)
{
	int rc;

	if (!m->base) {
		snprintf(err, errlen, "no policy applied yet");
		return -ENODATA;
	}
	for (size_t i = 0; i < m->n; i++) {
		if (m->rules[i].src.family == r->src.family && memcmp(m->rules[i].src.addr, r->src.addr, 16) == 0) {
			if (r->expires_ms > m->rules[i].expires_ms)
				m->rules[i].expires_ms = r->expires_ms;
			snprintf(r->name, sizeof(r->name), "%s", m->rules[i].name);
			r->expires_ms = m->rules[i].expires_ms;
			return -EEXIST;
		}
	}
	if (m->n == MITIGATE_MAX) {
		snprintf(err, errlen, "%d mitigation rules are live already", MITIGATE_MAX);
		return -ENOSPC;
	}
	snprintf(r->name, sizeof(r->name), MITIGATE_PREFIX "%llu", (unsigned long long)++m->seq);
	m->rules[m->n] = *r;
	rc = apply_merged(m, m->n + 1, err, errlen);
	if (rc)
		return rc == -EINVAL ? -ENOSPC : rc; /* validation: over capacity */
	m->n++;
	if (m->ops.applied)
		m->ops.applied(m->ops.applied_ctx, m->base);
	return 0;
}

int mitigate__expire(struct mitigate *m, int64_t now_ms, void (*gone)(void *ctx, const struct mitigate_rule *r),
		     void *ctx)
{
	struct mitigate_rule removed[MITIGATE_MAX];
	size_t k = 0, nr = 0;
	char err[256];
	int rc;

	for (size_t i = 0; i < m->n; i++) {
		if (m->rules[i].expires_ms <= now_ms)
			removed[nr++] = m->rules[i];
		else
			m->rules[k++] = m->rules[i];
	}
	if (nr == 0)
		return 0;
	m->n = k;
	rc = apply_merged(m, m->n, err, sizeof(err));
	if (rc) {
		pr_warn("removing %zu expired mitigation rule%s: the re-apply failed (%s); applying the policy without any",
			nr, nr == 1 ? "" : "s", err);
		for (size_t i = 0; i < m->n && nr < MITIGATE_MAX; i++)
			removed[nr++] = m->rules[i];
		m->n = 0;
		if (m->ops.apply(m->ops.ctx, m->base, err, sizeof(err)))
			pr_err("re-applying the policy without mitigation rules failed: %s", err);
	} else if (m->ops.applied) {
		m->ops.applied(m->ops.applied_ctx, m->base);
	}
	for (size_t i = 0; gone && i < nr; i++)
		gone(ctx, &removed[i]);
	return (int)nr;
}

size_t mitigate__count(const struct mitigate *m)
{
	return m->n;
}

int64_t mitigate__next_expiry(const struct mitigate *m)
{
	int64_t t = 0;

	for (size_t i = 0; i < m->n; i++) {
		if (t == 0 || m->rules[i].expires_ms < t)
			t = m->rules[i].expires_ms;
	}
	return t;
}
