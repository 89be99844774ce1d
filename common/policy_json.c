// SPDX-License-Identifier: Apache-2.0
/*
 * policy_json.c — a policy rendered as JSON in the policy file's own schema
 * (DESIGN.md §5), so what `sluicectl get rules -o json` prints can be fed back to
 * `sluicectl apply -f` (YAML is a superset of JSON). Every default is written out
 * (priority, weight, snaplen) and absent things are left out (an empty match, an
 * unset proto), so parsing the output gives the same policy and the same hash.
 *
 *   rule:    {"name", "priority", "match"?: {"src"?: [CIDR], "dst"?: [CIDR],
 *             "proto"?: "tcp"|"udp"|"icmp"|"icmpv6"|NUMBER, "src_ports"?: [PORT|"LO-HI"],
 *             "dst_ports"?: [...], "tcp_flags"?: "syn,!ack"},
 *             "action": "pass"|"drop"|"count"|{"rate_limit": {"pps"|"bps", "burst", "per"}},
 *             "sample"?: {"one_in", "snaplen"}}
 *   route:   {"name", "frontend": {"vip", "proto", "port"},
 *             "backends": [{"addr", "port", "weight", "tag"?}]}
 *   rollout: {"selector"?: {K: V}, "canary"?: "N%", "batch"?: "N%", "interval"?: "30s"}
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/policy.h"

/* Sets o[key] = v, taking v; false (and frees v) when v is NULL or the set fails. */
static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

static bool push(json_t *a, json_t *v)
{
	return v && json_array_append_new(a, v) == 0;
}

static json_t *cidrs(Sluice__V1__Cidr *const *c, size_t n)
{
	char buf[POLICY_ADDR_STR];
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (policy__format_cidr(c[i]->addr.data, c[i]->addr.len, c[i]->prefix_len, buf, sizeof(buf)) ||
		    !push(a, json_string(buf))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *ports(Sluice__V1__PortRange *const *r, size_t n)
{
	char buf[24];
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		json_t *v;

		if (r[i]->lo == r[i]->hi) {
			v = json_integer(r[i]->lo);
		} else {
			policy__format_port_range(r[i]->lo, r[i]->hi, buf, sizeof(buf));
			v = json_string(buf);
		}
		if (!push(a, v)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* "tcp" for the named protocols, the number for the rest. */
static json_t *proto(uint32_t p)
{
	char buf[8];
	const char *name = policy__proto_name(p, buf);

	return name == buf ? json_integer(p) : json_string(name);
}

/* NULL (and no error) when m matches everything. *ok is false on allocation failure. */
static json_t *match(const Sluice__V1__Match *m, bool *ok)
{
	char flags[64];
	json_t *o;

	*ok = true;
	if (!m || (!m->n_src && !m->n_dst && !m->proto && !m->n_src_ports && !m->n_dst_ports &&
		   !m->tcp_flags_set && !m->tcp_flags_unset))
		return NULL;
	o = json_object();
	if (!o)
		goto fail;
	if (m->n_src && !put(o, "src", cidrs(m->src, m->n_src)))
		goto fail;
	if (m->n_dst && !put(o, "dst", cidrs(m->dst, m->n_dst)))
		goto fail;
	if (m->proto && !put(o, "proto", proto(m->proto)))
		goto fail;
	if (m->n_src_ports && !put(o, "src_ports", ports(m->src_ports, m->n_src_ports)))
		goto fail;
	if (m->n_dst_ports && !put(o, "dst_ports", ports(m->dst_ports, m->n_dst_ports)))
		goto fail;
	if (m->tcp_flags_set || m->tcp_flags_unset) {
		if (policy__format_tcp_flags(m->tcp_flags_set, m->tcp_flags_unset, flags, sizeof(flags)) ||
		    !put(o, "tcp_flags", json_string(flags)))
			goto fail;
	}
	return o;
fail:
	*ok = false;
	json_decref(o);
	return NULL;
}

static json_t *action(const Sluice__V1__Rule *r)
{
	const Sluice__V1__RateLimit *rl = r->rate_limit;
	json_t *o, *inner;

	if (r->action != SLUICE__V1__ACTION__ACTION_RATE_LIMIT || !rl)
		return json_string(policy__action_name(r->action));
	inner = json_object();
	if (!inner)
		return NULL;
	if ((rl->pps && !put(inner, "pps", json_integer((json_int_t)rl->pps))) ||
	    (rl->bps && !put(inner, "bps", json_integer((json_int_t)rl->bps))) ||
	    !put(inner, "burst", json_integer((json_int_t)rl->burst)) ||
	    !put(inner, "per",
		 json_string(rl->per == SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE ? "source" : "rule"))) {
		json_decref(inner);
		return NULL;
	}
	o = json_object();
	if (!put(o, "rate_limit", inner)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *policy_json__rule(const Sluice__V1__Rule *r)
{
	json_t *o = json_object(), *m;
	bool ok;

	if (!o || !r)
		goto fail;
	if (!put(o, "name", json_string(r->name ? r->name : "")) || !put(o, "priority", json_integer(r->priority)))
		goto fail;
	m = match(r->match, &ok);
	if (!ok || (m && !put(o, "match", m)))
		goto fail;
	if (!put(o, "action", action(r)))
		goto fail;
	if (r->sample) {
		json_t *s = json_object();

		if (!put(o, "sample", s) || !put(s, "one_in", json_integer(r->sample->one_in)) ||
		    !put(s, "snaplen", json_integer(r->sample->snaplen)))
			goto fail;
	}
	if (policy_json__compliance(o, r->tls_only, r->deprecated_paths, r->n_deprecated_paths))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *addr(const ProtobufCBinaryData *a)
{
	char buf[POLICY_ADDR_STR];

	if (policy__format_addr(a->data, a->len, buf, sizeof(buf)))
		return json_string("");
	return json_string(buf);
}

json_t *policy_json__route(const Sluice__V1__Route *r)
{
	json_t *o = json_object(), *f, *bs;

	if (!o || !r)
		goto fail;
	if (!put(o, "name", json_string(r->name ? r->name : "")))
		goto fail;
	if (r->frontend) {
		f = json_object();
		if (!put(o, "frontend", f) || !put(f, "vip", addr(&r->frontend->vip)) ||
		    !put(f, "proto", proto(r->frontend->proto)) || !put(f, "port", json_integer(r->frontend->port)))
			goto fail;
	}
	bs = json_array();
	if (!put(o, "backends", bs))
		goto fail;
	for (size_t i = 0; i < r->n_backends; i++) {
		const Sluice__V1__Backend *b = r->backends[i];
		json_t *bo = json_object();

		if (!push(bs, bo) || !put(bo, "addr", addr(&b->addr)) || !put(bo, "port", json_integer(b->port)) ||
		    !put(bo, "weight", json_integer(b->weight)))
			goto fail;
		if (b->tag && b->tag[0] && !put(bo, "tag", json_string(b->tag)))
			goto fail;
	}
	if (policy_json__compliance(o, r->tls_only, r->deprecated_paths, r->n_deprecated_paths))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *percent(uint32_t v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u%%", v);
	return json_string(buf);
}

/* "2h", "5m" or "90s": the largest unit that divides it, so it reads as written. */
static json_t *interval(uint32_t s)
{
	char buf[16];

	if (s % 3600 == 0)
		snprintf(buf, sizeof(buf), "%uh", s / 3600);
	else if (s % 60 == 0)
		snprintf(buf, sizeof(buf), "%um", s / 60);
	else
		snprintf(buf, sizeof(buf), "%us", s);
	return json_string(buf);
}

json_t *policy_json__rollout(const Sluice__V1__RolloutSpec *r)
{
	json_t *o, *sel;

	if (!r)
		return NULL;
	o = json_object();
	if (!o)
		return NULL;
	if (r->n_selector) {
		sel = json_object();
		if (!put(o, "selector", sel))
			goto fail;
		for (size_t i = 0; i < r->n_selector; i++)
			if (!put(sel, r->selector[i]->key, json_string(r->selector[i]->value)))
				goto fail;
	}
	if ((r->canary_percent && !put(o, "canary", percent(r->canary_percent))) ||
	    (r->batch_percent && !put(o, "batch", percent(r->batch_percent))) ||
	    (r->interval_seconds && !put(o, "interval", interval(r->interval_seconds))))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *policy_json__from_policy(const Sluice__V1__Policy *p)
{
	json_t *o = json_object(), *rules, *routes;

	if (!o || !p)
		goto fail;
	rules = json_array();
	if (!put(o, "rules", rules))
		goto fail;
	for (size_t i = 0; i < p->n_rules; i++)
		if (!push(rules, policy_json__rule(p->rules[i])))
			goto fail;
	routes = json_array();
	if (!put(o, "routes", routes))
		goto fail;
	for (size_t i = 0; i < p->n_routes; i++)
		if (!push(routes, policy_json__route(p->routes[i])))
			goto fail;
	if (p->rollout && !put(o, "rollout", policy_json__rollout(p->rollout)))
		goto fail;
	if (p->detectors && !put(o, "detectors", policy_json__detectors(p->detectors)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}
