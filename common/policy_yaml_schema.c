// SPDX-License-Identifier: Apache-2.0
/*
 * policy_yaml_schema.c — the policy file's schema (DESIGN.md §5) as tables of keys:
 * which keys each map may hold and what each value becomes in the Sluice__V1__Policy.
 * Field-level mistakes (a map where a list belongs, text that is not a CIDR) are
 * reported here with the node's position; semantic ones (ranges, duplicates,
 * protocol/port combinations) are left to policy__validate_at(), which reports them
 * at the positions recorded here. Defaults are filled in so equal intent hashes equal:
 * priority 1000, match {} (everything), backend weight 1, backend port = the
 * frontend's port, sample snaplen 256.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/policy.h"
#include "common/policy_yaml_int.h"

#define NKEYS(k) (sizeof(k) / sizeof((k)[0]))
#define RULE_KEY_ACTION (1u << 3) /* index of "action" in rule_keys */
#define SAMPLE_KEY_ONE_IN (1u << 0)
#define BACKEND_KEY_PORT (1u << 1)

/* malloc + the generated init, so policy__free() can release it. */
#define NEW_MSG(type, init_fn)                                   \
	({                                                       \
		type *_m = malloc(sizeof(type));                 \
		if (_m)                                          \
			init_fn(_m);                             \
		_m;                                              \
	})

static void set_label(struct yctx *y, const char *kind, yaml_node_t *obj, size_t idx)
{
	yaml_node_t *name = policy_yaml__get(y, obj, "name");

	if (name && name->type == YAML_SCALAR_NODE && name->data.scalar.length > 0 &&
	    name->data.scalar.length <= POLICY_MAX_NAME && !policy_yaml__is_null(name))
		snprintf(y->label, sizeof(y->label), "%s '%s'", kind, (const char *)name->data.scalar.value);
	else
		snprintf(y->label, sizeof(y->label), "%s #%zu", kind, idx + 1);
}

static int dup_text(struct yctx *y, yaml_node_t *n, const char *path, char **out)
{
	const char *s;
	int err = policy_yaml__text(y, n, policy_yaml__field(path), &s);

	if (err)
		return err;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/*
 * Calls fn on each item of a list, or on n itself when it is one scalar (so
 * "dst_ports: 80" means "dst_ports: [80]"). Positions go in as "PATH[k]".
 */
static int each_item(struct yctx *y, yaml_node_t *n, const char *path, const char *what,
		     int (*fn)(struct yctx *y, yaml_node_t *item, void *obj, const char *field), void *obj)
{
	const char *field = policy_yaml__field(path);
	char ipath[YPATH_LEN];
	size_t k = 0;
	int err;

	if (n->type == YAML_MAPPING_NODE)
		return policy_yaml__err(y, n, field, "expected %s, got a map", what);
	if (n->type == YAML_SCALAR_NODE) {
		snprintf(ipath, sizeof(ipath), "%s[0]", path);
		err = policy_yaml__record(y, ipath, n);
		return err ? err : fn(y, n, obj, field);
	}
	if (n->data.sequence.items.start == n->data.sequence.items.top)
		return policy_yaml__err(y, n, field, "empty list (leave %s out to match any)", field);
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, k++) {
		yaml_node_t *item = policy_yaml__node(y, *it);

		err = policy_yaml__visit(y, item);
		if (err)
			return err;
		if (!item || item->type != YAML_SCALAR_NODE)
			return policy_yaml__err(y, item, field, "expected %s, got %s inside the list", what,
						policy_yaml__kind(item));
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, k);
		err = policy_yaml__record(y, ipath, item);
		if (!err)
			err = fn(y, item, obj, field);
		if (err)
			return err;
	}
	return 0;
}

/* ---- match ------------------------------------------------------------------------ */

struct cidr_list {
	Sluice__V1__Cidr ***arr;
	size_t *n;
	size_t cap;
};

static int add_cidr(struct yctx *y, yaml_node_t *item, void *obj, const char *field)
{
	struct cidr_list *l = obj;
	Sluice__V1__Cidr *c;
	uint8_t addr[16];
	size_t len;
	uint32_t plen;
	const char *s;
	int err;

	err = policy_yaml__text(y, item, field, &s);
	if (err)
		return err;
	if (policy__parse_cidr(s, addr, &len, &plen))
		return policy_yaml__err(y, item, field, "'%.60s' is not a CIDR (like 10.0.0.0/8, 2001:db8::/32 or one address)",
					s);
	err = policy_yaml__grow((void ***)l->arr, *l->n, &l->cap);
	if (err)
		return err;
	c = NEW_MSG(Sluice__V1__Cidr, sluice__v1__cidr__init);
	if (!c)
		return -ENOMEM;
	(*l->arr)[(*l->n)++] = c;
	c->addr.data = malloc(len);
	if (!c->addr.data)
		return -ENOMEM;
	memcpy(c->addr.data, addr, len);
	c->addr.len = len;
	c->prefix_len = plen;
	return 0;
}

static int m_src(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Match *m = obj;
	struct cidr_list l = { &m->src, &m->n_src, m->n_src };

	return each_item(y, v, path, "a CIDR or a list of CIDRs", add_cidr, &l);
}

static int m_dst(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Match *m = obj;
	struct cidr_list l = { &m->dst, &m->n_dst, m->n_dst };

	return each_item(y, v, path, "a CIDR or a list of CIDRs", add_cidr, &l);
}

static int parse_proto(struct yctx *y, yaml_node_t *v, const char *path, uint32_t *out)
{
	const char *s;
	int err = policy_yaml__text(y, v, policy_yaml__field(path), &s);

	if (err)
		return err;
	if (policy__parse_proto(s, out))
		return policy_yaml__err(y, v, policy_yaml__field(path),
					"'%.40s' is not an IP protocol (tcp, udp, icmp, icmpv6, any or 0-255)", s);
	return 0;
}

static int m_proto(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return parse_proto(y, v, path, &((Sluice__V1__Match *)obj)->proto);
}

struct port_list {
	Sluice__V1__PortRange ***arr;
	size_t *n;
	size_t cap;
};

static int add_ports(struct yctx *y, yaml_node_t *item, void *obj, const char *field)
{
	struct port_list *l = obj;
	Sluice__V1__PortRange *r;
	uint32_t lo, hi;
	const char *s;
	int err;

	err = policy_yaml__text(y, item, field, &s);
	if (err)
		return err;
	err = policy__parse_port_range(s, &lo, &hi);
	if (err == -ERANGE)
		return policy_yaml__err(y, item, field, "%.40s is not a port (1-65535)", s);
	if (err)
		return policy_yaml__err(y, item, field, "'%.40s' is not a port or a range (like 80 or \"8000-8100\")",
					s);
	err = policy_yaml__grow((void ***)l->arr, *l->n, &l->cap);
	if (err)
		return err;
	r = NEW_MSG(Sluice__V1__PortRange, sluice__v1__port_range__init);
	if (!r)
		return -ENOMEM;
	r->lo = lo;
	r->hi = hi;
	(*l->arr)[(*l->n)++] = r;
	return 0;
}

static int m_src_ports(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Match *m = obj;
	struct port_list l = { &m->src_ports, &m->n_src_ports, m->n_src_ports };

	return each_item(y, v, path, "a port, a \"LO-HI\" range or a list of them", add_ports, &l);
}

static int m_dst_ports(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Match *m = obj;
	struct port_list l = { &m->dst_ports, &m->n_dst_ports, m->n_dst_ports };

	return each_item(y, v, path, "a port, a \"LO-HI\" range or a list of them", add_ports, &l);
}

static int add_flags(struct yctx *y, yaml_node_t *item, void *obj, const char *field)
{
	Sluice__V1__Match *m = obj;
	char bad[40];
	const char *s;
	int err;

	err = policy_yaml__text(y, item, field, &s);
	if (err)
		return err;
	if (policy__parse_tcp_flags(s, &m->tcp_flags_set, &m->tcp_flags_unset, bad, sizeof(bad)))
		return policy_yaml__err(y, item, field,
					"'%s' is not a TCP flag (fin, syn, rst, psh, ack, urg, ece, cwr; !flag for must-be-clear, as in \"syn,!ack\")",
					bad);
	return 0;
}

static int m_tcp_flags(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return each_item(y, v, path, "flags like \"syn,!ack\"", add_flags, obj);
}

static const struct ykey match_keys[] = {
	{ "src", m_src },	      { "dst", m_dst },		    { "proto", m_proto },
	{ "src_ports", m_src_ports }, { "dst_ports", m_dst_ports }, { "tcp_flags", m_tcp_flags },
};

/* ---- action and sample -------------------------------------------------------------- */

static int rl_pps(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u64(y, v, policy_yaml__field(path), INT64_MAX, "packets per second",
				&((Sluice__V1__RateLimit *)obj)->pps);
}

static int rl_bps(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u64(y, v, policy_yaml__field(path), INT64_MAX, "bytes per second",
				&((Sluice__V1__RateLimit *)obj)->bps);
}

static int rl_burst(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u64(y, v, policy_yaml__field(path), INT64_MAX,
				"packets or bytes; 0 means one second's worth", &((Sluice__V1__RateLimit *)obj)->burst);
}

static int rl_per(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__RateLimit *rl = obj;
	const char *s;
	int err = policy_yaml__text(y, v, policy_yaml__field(path), &s);

	if (err)
		return err;
	if (strcasecmp(s, "source") == 0)
		rl->per = SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE;
	else if (strcasecmp(s, "rule") == 0)
		rl->per = SLUICE__V1__RATE_LIMIT_PER__PER_RULE;
	else
		return policy_yaml__err(y, v, policy_yaml__field(path),
					"'%.40s' is not allowed (source: one bucket per source address; rule: one bucket for the rule)",
					s);
	return 0;
}

static const struct ykey rate_limit_keys[] = {
	{ "pps", rl_pps }, { "bps", rl_bps }, { "burst", rl_burst }, { "per", rl_per },
};

static int a_rate_limit(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Rule *r = obj;

	r->action = SLUICE__V1__ACTION__ACTION_RATE_LIMIT;
	r->rate_limit = NEW_MSG(Sluice__V1__RateLimit, sluice__v1__rate_limit__init);
	if (!r->rate_limit)
		return -ENOMEM;
	return policy_yaml__walk(y, v, "rate_limit", path, rate_limit_keys, NKEYS(rate_limit_keys), r->rate_limit,
				 NULL);
}

static const struct ykey action_keys[] = { { "rate_limit", a_rate_limit } };

static int r_action(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	static const char allowed[] = "pass, drop, count or { rate_limit: { pps: N } }";
	Sluice__V1__Rule *r = obj;
	uint32_t seen = 0;
	const char *s;
	int err;

	if (v->type == YAML_MAPPING_NODE) {
		err = policy_yaml__walk(y, v, "action", path, action_keys, NKEYS(action_keys), r, &seen);
		if (!err && !seen)
			err = policy_yaml__err(y, v, "action", "an empty map (%s)", allowed);
		return err;
	}
	if (v->type != YAML_SCALAR_NODE)
		return policy_yaml__err(y, v, "action", "expected %s, got %s", allowed, policy_yaml__kind(v));
	err = policy_yaml__text(y, v, "action", &s);
	if (err)
		return err;
	if (strcasecmp(s, "pass") == 0)
		r->action = SLUICE__V1__ACTION__ACTION_PASS;
	else if (strcasecmp(s, "drop") == 0)
		r->action = SLUICE__V1__ACTION__ACTION_DROP;
	else if (strcasecmp(s, "count") == 0)
		r->action = SLUICE__V1__ACTION__ACTION_COUNT;
	else if (strcasecmp(s, "rate_limit") == 0)
		return policy_yaml__err(y, v, "action", "rate_limit needs its parameters (action: { rate_limit: { pps: 1000 } })");
	else
		return policy_yaml__err(y, v, "action", "'%.40s' is not an action (%s)", s, allowed);
	return 0;
}

static int s_one_in(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u32(y, v, policy_yaml__field(path), "sample one packet in N",
				&((Sluice__V1__Sample *)obj)->one_in);
}

static int s_snaplen(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u32(y, v, policy_yaml__field(path), "bytes per sample, at most 256",
				&((Sluice__V1__Sample *)obj)->snaplen);
}

static const struct ykey sample_keys[] = { { "one_in", s_one_in }, { "snaplen", s_snaplen } };

static int r_sample(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Rule *r = obj;
	uint32_t seen = 0;
	int err;

	r->sample = NEW_MSG(Sluice__V1__Sample, sluice__v1__sample__init);
	if (!r->sample)
		return -ENOMEM;
	r->sample->snaplen = POLICY_DEFAULT_SNAPLEN;
	err = policy_yaml__walk(y, v, "sample", path, sample_keys, NKEYS(sample_keys), r->sample, &seen);
	if (!err && !(seen & SAMPLE_KEY_ONE_IN))
		err = policy_yaml__err(y, v, "sample.one_in", "missing (sample one packet in N, for example one_in: 100)");
	return err;
}

/* ---- rules ---------------------------------------------------------------------------- */

static int r_name(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Rule *r = obj;

	return dup_text(y, v, path, &r->name);
}

static int r_priority(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u32(y, v, "priority", "0-4294967295, lower wins",
				&((Sluice__V1__Rule *)obj)->priority);
}

static int r_match(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Rule *r = obj;

	return policy_yaml__walk(y, v, "match", path, match_keys, NKEYS(match_keys), r->match, NULL);
}

static const struct ykey rule_keys[] = {
	{ "name", r_name }, { "priority", r_priority }, { "match", r_match },
	{ "action", r_action }, /* RULE_KEY_ACTION */
	{ "sample", r_sample },
	{ "tls_only", policy_yaml__rule_tls_only }, { "deprecated_paths", policy_yaml__rule_deprecated },
};

static int parse_rule(struct yctx *y, yaml_node_t *n, const char *path)
{
	Sluice__V1__Policy *p = y->p;
	Sluice__V1__Rule *r;
	uint32_t seen = 0;
	int err;

	err = policy_yaml__grow((void ***)&p->rules, p->n_rules, &y->rules_cap);
	if (err)
		return err;
	r = NEW_MSG(Sluice__V1__Rule, sluice__v1__rule__init);
	if (!r)
		return -ENOMEM;
	p->rules[p->n_rules++] = r;
	r->priority = POLICY_DEFAULT_PRIORITY;
	r->match = NEW_MSG(Sluice__V1__Match, sluice__v1__match__init);
	if (!r->match)
		return -ENOMEM;
	set_label(y, "rule", n, p->n_rules - 1);
	err = policy_yaml__walk(y, n, "", path, rule_keys, NKEYS(rule_keys), r, &seen);
	if (!err && !(seen & RULE_KEY_ACTION))
		err = policy_yaml__err(y, n, "action", "missing (pass, drop, count or { rate_limit: { pps: N } })");
	if (!err)
		y->label[0] = '\0';
	return err;
}

/* ---- routes --------------------------------------------------------------------------- */

static int parse_addr(struct yctx *y, yaml_node_t *v, const char *path, ProtobufCBinaryData *out)
{
	uint8_t addr[16];
	const char *s;
	size_t len;
	int err = policy_yaml__text(y, v, policy_yaml__field(path), &s);

	if (err)
		return err;
	if (policy__parse_addr(s, addr, &len))
		return policy_yaml__err(y, v, policy_yaml__field(path),
					"'%.60s' is not an address (one IPv4 or IPv6 address, no /prefix)", s);
	free(out->data);
	out->data = malloc(len);
	if (!out->data)
		return -ENOMEM;
	memcpy(out->data, addr, len);
	out->len = len;
	return 0;
}

static int f_vip(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return parse_addr(y, v, path, &((Sluice__V1__Frontend *)obj)->vip);
}

static int f_proto(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return parse_proto(y, v, path, &((Sluice__V1__Frontend *)obj)->proto);
}

static int f_port(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u32(y, v, policy_yaml__field(path), "1-65535", &((Sluice__V1__Frontend *)obj)->port);
}

static const struct ykey frontend_keys[] = { { "vip", f_vip }, { "proto", f_proto }, { "port", f_port } };

static int rt_frontend(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Route *rt = obj;

	rt->frontend = NEW_MSG(Sluice__V1__Frontend, sluice__v1__frontend__init);
	if (!rt->frontend)
		return -ENOMEM;
	return policy_yaml__walk(y, v, "frontend", path, frontend_keys, NKEYS(frontend_keys), rt->frontend, NULL);
}

static int b_addr(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return parse_addr(y, v, path, &((Sluice__V1__Backend *)obj)->addr);
}

static int b_port(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u32(y, v, policy_yaml__field(path), "1-65535", &((Sluice__V1__Backend *)obj)->port);
}

static int b_weight(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u32(y, v, policy_yaml__field(path), "a share of new flows, 0 to drain",
				&((Sluice__V1__Backend *)obj)->weight);
}

static int b_tag(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return dup_text(y, v, path, &((Sluice__V1__Backend *)obj)->tag);
}

static const struct ykey backend_keys[] = {
	{ "addr", b_addr }, { "port", b_port }, /* BACKEND_KEY_PORT */
	{ "weight", b_weight }, { "tag", b_tag },
};

static int rt_backends(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Route *rt = obj;
	char ipath[YPATH_LEN], field[32];
	size_t cap = rt->n_backends, k = 0;
	int err;

	if (v->type != YAML_SEQUENCE_NODE)
		return policy_yaml__err(y, v, "backends", "expected a list of { addr, port, weight, tag }, got %s",
					policy_yaml__kind(v));
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, k++) {
		yaml_node_t *item = policy_yaml__node(y, *it);
		Sluice__V1__Backend *b;
		uint32_t seen = 0;

		err = policy_yaml__visit(y, item);
		if (!err)
			err = policy_yaml__grow((void ***)&rt->backends, rt->n_backends, &cap);
		if (err)
			return err;
		b = NEW_MSG(Sluice__V1__Backend, sluice__v1__backend__init);
		if (!b)
			return -ENOMEM;
		rt->backends[rt->n_backends++] = b;
		b->weight = POLICY_DEFAULT_WEIGHT;
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, k);
		snprintf(field, sizeof(field), "backends[%zu]", k);
		err = policy_yaml__record(y, ipath, item);
		if (!err)
			err = policy_yaml__walk(y, item, field, ipath, backend_keys, NKEYS(backend_keys), b, &seen);
		if (err)
			return err;
		if (!(seen & BACKEND_KEY_PORT)) {
			uint32_t *np = realloc(y->no_port, (y->n_no_port + 1) * sizeof(*np));

			if (!np)
				return -ENOMEM;
			y->no_port = np;
			y->no_port[y->n_no_port++] = (uint32_t)k;
		}
	}
	return 0;
}

static int rt_name(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return dup_text(y, v, path, &((Sluice__V1__Route *)obj)->name);
}

static const struct ykey route_keys[] = {
	{ "name", rt_name }, { "frontend", rt_frontend }, { "backends", rt_backends },
	{ "tls_only", policy_yaml__route_tls_only }, { "deprecated_paths", policy_yaml__route_deprecated },
};

static int parse_route(struct yctx *y, yaml_node_t *n, const char *path)
{
	Sluice__V1__Policy *p = y->p;
	Sluice__V1__Route *rt;
	int err;

	err = policy_yaml__grow((void ***)&p->routes, p->n_routes, &y->routes_cap);
	if (err)
		return err;
	rt = NEW_MSG(Sluice__V1__Route, sluice__v1__route__init);
	if (!rt)
		return -ENOMEM;
	p->routes[p->n_routes++] = rt;
	set_label(y, "route", n, p->n_routes - 1);
	y->n_no_port = 0;
	err = policy_yaml__walk(y, n, "", path, route_keys, NKEYS(route_keys), rt, NULL);
	if (err)
		return err;
	/* A backend without a port listens on the frontend's port. */
	for (size_t i = 0; i < y->n_no_port && rt->frontend; i++)
		rt->backends[y->no_port[i]]->port = rt->frontend->port;
	y->label[0] = '\0';
	return 0;
}

/* ---- rollout ---------------------------------------------------------------------------- */

static int ro_selector(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__RolloutSpec *ro = obj;
	size_t cap = ro->n_selector;
	int err;

	if (v->type != YAML_MAPPING_NODE)
		return policy_yaml__err(y, v, "selector", "expected a map of labels (selector: { env: prod }), got %s",
					policy_yaml__kind(v));
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = policy_yaml__node(y, pr->key), *val = policy_yaml__node(y, pr->value);
		Sluice__V1__RolloutSpec__SelectorEntry *e;
		const char *ks, *vs;

		err = policy_yaml__visit(y, k);
		if (!err)
			err = policy_yaml__text(y, k, "selector", &ks);
		if (!err)
			err = policy_yaml__text(y, val, "selector", &vs);
		if (err)
			return err;
		for (size_t i = 0; i < ro->n_selector; i++)
			if (strcmp(ro->selector[i]->key, ks) == 0)
				return policy_yaml__err(y, k, "selector", "label '%.40s' given twice (keep one)", ks);
		err = policy_yaml__grow((void ***)&ro->selector, ro->n_selector, &cap);
		if (err)
			return err;
		e = NEW_MSG(Sluice__V1__RolloutSpec__SelectorEntry, sluice__v1__rollout_spec__selector_entry__init);
		if (!e)
			return -ENOMEM;
		ro->selector[ro->n_selector++] = e;
		e->key = strdup(ks);
		e->value = strdup(vs);
		if (!e->key || !e->value)
			return -ENOMEM;
	}
	return 0;
}

static int percent(struct yctx *y, yaml_node_t *v, const char *path, uint32_t *out)
{
	const char *s;
	int err = policy_yaml__text(y, v, policy_yaml__field(path), &s);

	if (err)
		return err;
	if (policy__parse_percent(s, out))
		return policy_yaml__err(y, v, policy_yaml__field(path), "'%.40s' is not a percentage (like 10%% or 10)",
					s);
	return 0;
}

static int ro_canary(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return percent(y, v, path, &((Sluice__V1__RolloutSpec *)obj)->canary_percent);
}

static int ro_batch(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return percent(y, v, path, &((Sluice__V1__RolloutSpec *)obj)->batch_percent);
}

static int ro_interval(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	const char *s;
	int err = policy_yaml__text(y, v, "interval", &s);

	if (err)
		return err;
	if (policy__parse_interval(s, &((Sluice__V1__RolloutSpec *)obj)->interval_seconds))
		return policy_yaml__err(y, v, "interval",
					"'%.40s' is not an interval (like 30s, 5m, 1h or a number of seconds)", s);
	return 0;
}

static const struct ykey rollout_keys[] = {
	{ "selector", ro_selector }, { "canary", ro_canary }, { "batch", ro_batch }, { "interval", ro_interval },
};

/* ---- top level -------------------------------------------------------------------------- */

static int list_of(struct yctx *y, yaml_node_t *v, const char *key, const char *what,
		   int (*fn)(struct yctx *y, yaml_node_t *n, const char *path), size_t base)
{
	char ipath[YPATH_LEN];
	size_t k = base;
	int err;

	if (v->type != YAML_SEQUENCE_NODE)
		return policy_yaml__err(y, v, key, "expected a list of %s (each item starts with \"- name:\"), got %s",
					what, policy_yaml__kind(v));
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, k++) {
		yaml_node_t *item = policy_yaml__node(y, *it);

		err = policy_yaml__visit(y, item);
		if (err)
			return err;
		snprintf(ipath, sizeof(ipath), "%s[%zu]", key, k);
		err = policy_yaml__record(y, ipath, item);
		if (!err)
			err = fn(y, item, ipath);
		if (err)
			return err;
	}
	return 0;
}

static int top_rules(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return list_of(y, v, "rules", "rules", parse_rule, y->p->n_rules);
}

static int top_routes(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return list_of(y, v, "routes", "routes", parse_route, y->p->n_routes);
}

static int top_rollout(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	int err;

	if (y->rollout_at[0])
		return policy_yaml__err(y, v, "rollout", "given again; the first is at %s (keep one rollout section)",
					y->rollout_at);
	snprintf(y->rollout_at, sizeof(y->rollout_at), "%s:%zu:%zu", y->file, v->start_mark.line + 1,
		 v->start_mark.column + 1);
	y->p->rollout = NEW_MSG(Sluice__V1__RolloutSpec, sluice__v1__rollout_spec__init);
	if (!y->p->rollout)
		return -ENOMEM;
	snprintf(y->label, sizeof(y->label), "rollout");
	err = policy_yaml__walk(y, v, "", path, rollout_keys, NKEYS(rollout_keys), y->p->rollout, NULL);
	if (!err)
		y->label[0] = '\0';
	return err;
}

static const struct ykey top_keys[] = {
	{ "rules", top_rules }, { "routes", top_routes }, { "rollout", top_rollout }, { "detectors", policy_yaml__detectors },
};

int policy_yaml__document(struct yctx *y, yaml_node_t *root)
{
	if (policy_yaml__is_null(root))
		return 0; /* an empty file is an empty policy */
	return policy_yaml__walk(y, root, "", "", top_keys, NKEYS(top_keys), y->p, NULL);
}
