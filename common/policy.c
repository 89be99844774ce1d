// SPDX-License-Identifier: Apache-2.0
/*
 * policy.c — the policy model's core: semantic validation (what the wire format
 * cannot say), the canonical encoding and its sha256 content hash, and
 * pack/unpack/dup/free. Validation is the one place semantic rules live: the YAML
 * parser, the controller and the agent all call it, the parser with a locator so
 * messages carry file:line:col.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/policy.h"

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58
#define FAM_V4 1
#define FAM_V6 2
#define PATH_LEN 96
#define RPATH_LEN 32 /* "routes[18446744073709551615]" */
#define LABEL_LEN 96

struct vctx {
	const struct policy_locator *loc;
	char *err;
	size_t errlen;
};

/* Finds where path (or, failing that, the nearest enclosing node) was written. */
static bool locate(const struct policy_locator *loc, const char *path, char *buf, size_t len)
{
	char p[PATH_LEN];

	if (!loc || !loc->locate)
		return false;
	snprintf(p, sizeof(p), "%s", path);
	while (p[0]) {
		char *dot = strrchr(p, '.'), *br = strrchr(p, '['), *cut;

		if (loc->locate(loc->ctx, p, buf, len) == 0)
			return true;
		cut = dot > br ? dot : br;
		if (!cut)
			break;
		*cut = '\0';
	}
	return false;
}

/* Writes "[FILE:LINE:COL: ]message" and returns -EINVAL. */
__attribute__((format(printf, 3, 4))) static int fail(struct vctx *v, const char *path, const char *fmt, ...)
{
	char where[256];
	size_t n = 0;
	va_list ap;

	if (!v->err || v->errlen == 0)
		return -EINVAL;
	if (locate(v->loc, path, where, sizeof(where))) {
		n = (size_t)snprintf(v->err, v->errlen, "%s: ", where);
		if (n >= v->errlen)
			return -EINVAL;
	}
	va_start(ap, fmt);
	vsnprintf(v->err + n, v->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* "rule 'web'", or "rule #3" when the name is missing or unprintable. */
static void label_of(char *buf, size_t len, const char *kind, const char *name, size_t idx)
{
	size_t n = name ? strlen(name) : 0;
	bool printable = n > 0 && n <= POLICY_MAX_NAME;

	for (size_t i = 0; printable && i < n; i++)
		printable = (unsigned char)name[i] >= 0x20 && name[i] != 0x7f;
	if (printable)
		snprintf(buf, len, "%s '%s'", kind, name);
	else
		snprintf(buf, len, "%s #%zu", kind, idx + 1);
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-';
}

static int check_name(struct vctx *v, const char *path, const char *label, const char *field, const char *name,
		      bool required)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0) {
		if (!required)
			return 0;
		return fail(v, path, "%s: %s: missing (letters, digits, '.', '_', '-'; at most %d)", label, field,
			    POLICY_MAX_NAME);
	}
	if (n > POLICY_MAX_NAME)
		return fail(v, path, "%s: %s: %zu characters is too long (at most %d)", label, field, n,
			    POLICY_MAX_NAME);
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(name[i]))
			return fail(v, path, "%s: %s: '%c' is not allowed (letters, digits, '.', '_', '-')", label,
				    field, (unsigned char)name[i] >= 0x20 ? name[i] : '?');
	return 0;
}

static int check_cidrs(struct vctx *v, const char *rpath, const char *label, const char *field,
		       Sluice__V1__Cidr *const *c, size_t n, unsigned *fam)
{
	char path[PATH_LEN], have[POLICY_ADDR_STR], want[POLICY_ADDR_STR];
	uint8_t masked[16];

	*fam = 0;
	for (size_t k = 0; k < n; k++) {
		size_t len = c[k]->addr.len;

		snprintf(path, sizeof(path), "%s.match.%s[%zu]", rpath, field, k);
		if (len != 4 && len != 16)
			return fail(v, path, "%s: %s: an address of %zu bytes (4 for IPv4, 16 for IPv6)", label, field,
				    len);
		if (c[k]->prefix_len > len * 8)
			return fail(v, path, "%s: %s: prefix /%u is too long for IPv%d (at most /%zu)", label, field,
				    c[k]->prefix_len, len == 4 ? 4 : 6, len * 8);
		memcpy(masked, c[k]->addr.data, len);
		policy__mask_addr(masked, len, c[k]->prefix_len);
		if (memcmp(masked, c[k]->addr.data, len) != 0) {
			policy__format_cidr(c[k]->addr.data, len, c[k]->prefix_len, have, sizeof(have));
			policy__format_cidr(masked, len, c[k]->prefix_len, want, sizeof(want));
			return fail(v, path, "%s: %s: %s: host bits set, did you mean %s?", label, field, have, want);
		}
		*fam |= len == 4 ? FAM_V4 : FAM_V6;
	}
	return 0;
}

static int check_ports(struct vctx *v, const char *rpath, const char *label, const char *field,
		       Sluice__V1__PortRange *const *r, size_t n, uint32_t proto)
{
	char path[PATH_LEN], pbuf[8];

	for (size_t k = 0; k < n; k++) {
		snprintf(path, sizeof(path), "%s.match.%s[%zu]", rpath, field, k);
		if (r[k]->lo == 0 || r[k]->lo > 65535)
			return fail(v, path, "%s: %s: %u is not a port (1-65535)", label, field, r[k]->lo);
		if (r[k]->hi == 0 || r[k]->hi > 65535)
			return fail(v, path, "%s: %s: %u is not a port (1-65535)", label, field, r[k]->hi);
		if (r[k]->lo > r[k]->hi)
			return fail(v, path, "%s: %s: range %u-%u is backwards (write %u-%u)", label, field, r[k]->lo,
				    r[k]->hi, r[k]->hi, r[k]->lo);
	}
	if (n == 0 || proto == PROTO_TCP || proto == PROTO_UDP)
		return 0;
	snprintf(path, sizeof(path), "%s.match.%s", rpath, field);
	if (proto == 0)
		return fail(v, path, "%s: %s: ports need a protocol that has them (set proto: tcp or udp)", label,
			    field);
	return fail(v, path, "%s: %s: proto %s has no ports (set proto: tcp or udp, or remove %s)", label, field,
		    policy__proto_name(proto, pbuf), field);
}

static int check_match(struct vctx *v, const char *rpath, const char *label, const Sluice__V1__Match *m)
{
	char path[PATH_LEN], flags[64];
	unsigned sfam, dfam, fam;
	int err;

	if (!m)
		return 0;
	err = check_cidrs(v, rpath, label, "src", m->src, m->n_src, &sfam);
	if (!err)
		err = check_cidrs(v, rpath, label, "dst", m->dst, m->n_dst, &dfam);
	if (err)
		return err;
	if (sfam && dfam && !(sfam & dfam)) {
		snprintf(path, sizeof(path), "%s.match.dst", rpath);
		return fail(v, path, "%s: dst: only IPv%d addresses but src has only IPv%d ones, no packet can match (split it into one rule per family)",
			    label, dfam == FAM_V4 ? 4 : 6, sfam == FAM_V4 ? 4 : 6);
	}
	fam = (sfam ? sfam : FAM_V4 | FAM_V6) & (dfam ? dfam : FAM_V4 | FAM_V6);
	snprintf(path, sizeof(path), "%s.match.proto", rpath);
	if (m->proto > 255)
		return fail(v, path, "%s: proto: %u is not an IP protocol (tcp, udp, icmp, icmpv6, any or 0-255)", label,
			    m->proto);
	if (m->proto == PROTO_ICMP && !(fam & FAM_V4))
		return fail(v, path, "%s: proto: icmp is IPv4 only but the addresses are IPv6 (use icmpv6)", label);
	if (m->proto == PROTO_ICMPV6 && !(fam & FAM_V6))
		return fail(v, path, "%s: proto: icmpv6 is IPv6 only but the addresses are IPv4 (use icmp)", label);
	err = check_ports(v, rpath, label, "src_ports", m->src_ports, m->n_src_ports, m->proto);
	if (!err)
		err = check_ports(v, rpath, label, "dst_ports", m->dst_ports, m->n_dst_ports, m->proto);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s.match.tcp_flags", rpath);
	if ((m->tcp_flags_set | m->tcp_flags_unset) & ~0xffu)
		return fail(v, path, "%s: tcp_flags: unknown flag bits 0x%x (fin, syn, rst, psh, ack, urg, ece, cwr)",
			    label, (m->tcp_flags_set | m->tcp_flags_unset) & ~0xffu);
	if (m->tcp_flags_set & m->tcp_flags_unset) {
		policy__format_tcp_flags(m->tcp_flags_set & m->tcp_flags_unset, 0, flags, sizeof(flags));
		return fail(v, path, "%s: tcp_flags: %s must be both set and clear (name each flag once)", label, flags);
	}
	if ((m->tcp_flags_set | m->tcp_flags_unset) && m->proto != PROTO_TCP)
		return fail(v, path, "%s: tcp_flags: flags exist only in TCP (set proto: tcp)", label);
	return 0;
}

static int check_action(struct vctx *v, const char *rpath, const char *label, const Sluice__V1__Rule *r)
{
	char path[PATH_LEN];
	const Sluice__V1__RateLimit *rl = r->rate_limit;

	snprintf(path, sizeof(path), "%s.action", rpath);
	switch (r->action) {
	case SLUICE__V1__ACTION__ACTION_PASS:
	case SLUICE__V1__ACTION__ACTION_DROP:
	case SLUICE__V1__ACTION__ACTION_COUNT:
		if (rl)
			return fail(v, path, "%s: action: rate_limit parameters given but the action is %s (drop them or use action: { rate_limit: {...} })",
				    label, policy__action_name(r->action));
		return 0;
	case SLUICE__V1__ACTION__ACTION_RATE_LIMIT:
		break;
	default:
		return fail(v, path, "%s: action: unknown action %d (pass, drop, count or rate_limit)", label,
			    (int)r->action);
	}
	if (!rl)
		return fail(v, path, "%s: action: rate_limit needs its parameters (action: { rate_limit: { pps: 1000 } })",
			    label);
	snprintf(path, sizeof(path), "%s.action.rate_limit", rpath);
	if ((rl->pps == 0) == (rl->bps == 0))
		return fail(v, path, "%s: rate_limit: set exactly one of pps and bps, above 0 (for example pps: 1000)",
			    label);
	/* The policy file and its JSON form hold numbers up to INT64_MAX. */
	if (rl->pps > INT64_MAX || rl->bps > INT64_MAX || rl->burst > INT64_MAX) {
		const char *what = rl->pps > INT64_MAX ? "pps" : rl->bps > INT64_MAX ? "bps" : "burst";
		uint64_t val = rl->pps > INT64_MAX ? rl->pps : rl->bps > INT64_MAX ? rl->bps : rl->burst;

		snprintf(path, sizeof(path), "%s.action.rate_limit.%s", rpath, what);
		return fail(v, path, "%s: rate_limit.%s: %llu is too large (at most %lld)", label, what,
			    (unsigned long long)val, (long long)INT64_MAX);
	}
	if (rl->per != SLUICE__V1__RATE_LIMIT_PER__PER_RULE && rl->per != SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE) {
		snprintf(path, sizeof(path), "%s.action.rate_limit.per", rpath);
		return fail(v, path, "%s: rate_limit.per: unknown value %d (source or rule)", label, (int)rl->per);
	}
	return 0;
}

static int check_paths(struct vctx *v, const char *rpath, const char *label, char *const *p, size_t n)
{
	char path[PATH_LEN], why[200];
	size_t at = 0;

	if (policy__check_paths(p, n, &at, why, sizeof(why)) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s.deprecated_paths[%zu]", rpath, at);
	return fail(v, path, "%s: deprecated_paths: %s", label, why);
}

static int check_rule(struct vctx *v, const Sluice__V1__Rule *r, size_t i)
{
	char rpath[RPATH_LEN], path[PATH_LEN], label[LABEL_LEN];
	int err;

	snprintf(rpath, sizeof(rpath), "rules[%zu]", i);
	label_of(label, sizeof(label), "rule", r->name, i);
	snprintf(path, sizeof(path), "%s.name", rpath);
	err = check_name(v, path, label, "name", r->name, true);
	if (!err)
		err = check_match(v, rpath, label, r->match);
	if (!err)
		err = check_action(v, rpath, label, r);
	if (err)
		return err;
	if (r->sample && r->sample->snaplen > POLICY_MAX_SNAPLEN) {
		snprintf(path, sizeof(path), "%s.sample.snaplen", rpath);
		return fail(v, path, "%s: sample.snaplen: %u is too large (at most %d)", label, r->sample->snaplen,
			    POLICY_MAX_SNAPLEN);
	}
	if ((r->tls_only || r->n_deprecated_paths) && (!r->sample || !r->sample->one_in)) {
		const char *f = r->tls_only ? "tls_only" : "deprecated_paths";

		snprintf(path, sizeof(path), "%s.%s", rpath, f);
		return fail(v, path, "%s: %s: compliance is checked on sampled packets; add sample: { one_in: N }", label,
			    f);
	}
	return check_paths(v, rpath, label, r->deprecated_paths, r->n_deprecated_paths);
}

static int check_backend(struct vctx *v, const char *rpath, const char *label, const Sluice__V1__Route *rt,
			 size_t k)
{
	const Sluice__V1__Backend *b = rt->backends[k];
	size_t vlen = rt->frontend->vip.len;
	char path[PATH_LEN], field[48], addr[POLICY_ADDR_STR];

	snprintf(field, sizeof(field), "backends[%zu]", k);
	snprintf(path, sizeof(path), "%s.%s.addr", rpath, field);
	if (b->addr.len != 4 && b->addr.len != 16)
		return fail(v, path, "%s: %s.addr: missing or not an address (an IPv4 or IPv6 address)", label, field);
	if (b->addr.len != vlen) {
		policy__format_addr(b->addr.data, b->addr.len, addr, sizeof(addr));
		return fail(v, path, "%s: %s.addr: %s is IPv%d but the vip is IPv%d (one family per route)", label,
			    field, addr, b->addr.len == 4 ? 4 : 6, vlen == 4 ? 4 : 6);
	}
	snprintf(path, sizeof(path), "%s.%s.port", rpath, field);
	if (b->port == 0 || b->port > 65535)
		return fail(v, path, "%s: %s.port: %u is not a port (1-65535)", label, field, b->port);
	snprintf(path, sizeof(path), "%s.%s.tag", rpath, field);
	snprintf(field + strlen(field), sizeof(field) - strlen(field), ".tag");
	if (check_name(v, path, label, field, b->tag, false))
		return -EINVAL;
	for (size_t j = 0; j < k; j++) {
		const Sluice__V1__Backend *o = rt->backends[j];

		if (o->port == b->port && o->addr.len == b->addr.len &&
		    memcmp(o->addr.data, b->addr.data, b->addr.len) == 0) {
			policy__format_addr(b->addr.data, b->addr.len, addr, sizeof(addr));
			snprintf(path, sizeof(path), "%s.backends[%zu]", rpath, k);
			return fail(v, path, "%s: backends[%zu]: %s port %u is already backends[%zu] (list each backend once)",
				    label, k, addr, b->port, j);
		}
	}
	return 0;
}

static int check_route(struct vctx *v, const Sluice__V1__Route *rt, size_t i)
{
	char rpath[RPATH_LEN], path[PATH_LEN], label[LABEL_LEN], pbuf[8];
	const Sluice__V1__Frontend *f = rt->frontend;
	uint64_t weights = 0;
	int err;

	snprintf(rpath, sizeof(rpath), "routes[%zu]", i);
	label_of(label, sizeof(label), "route", rt->name, i);
	snprintf(path, sizeof(path), "%s.name", rpath);
	err = check_name(v, path, label, "name", rt->name, true);
	if (err)
		return err;
	if (!f)
		return fail(v, rpath, "%s: frontend: missing (frontend: { vip: ADDR, proto: tcp, port: N })", label);
	snprintf(path, sizeof(path), "%s.frontend.vip", rpath);
	if (f->vip.len != 4 && f->vip.len != 16)
		return fail(v, path, "%s: frontend.vip: missing or not an address (an IPv4 or IPv6 address)", label);
	snprintf(path, sizeof(path), "%s.frontend.proto", rpath);
	if (f->proto == 0)
		return fail(v, path, "%s: frontend.proto: missing (tcp or udp)", label);
	if (f->proto != PROTO_TCP && f->proto != PROTO_UDP)
		return fail(v, path, "%s: frontend.proto: %s cannot be routed (tcp or udp)", label,
			    policy__proto_name(f->proto, pbuf));
	snprintf(path, sizeof(path), "%s.frontend.port", rpath);
	if (f->port == 0 || f->port > 65535)
		return fail(v, path, "%s: frontend.port: %u is not a port (1-65535)", label, f->port);
	snprintf(path, sizeof(path), "%s.backends", rpath);
	if (rt->n_backends == 0)
		return fail(v, path, "%s: backends: none (give at least one: { addr: ADDR, port: N })", label);
	for (size_t k = 0; k < rt->n_backends; k++) {
		err = check_backend(v, rpath, label, rt, k);
		if (err)
			return err;
		weights += rt->backends[k]->weight;
	}
	if (weights == 0)
		return fail(v, path, "%s: backends: weights sum to 0 (give at least one backend a weight above 0)",
			    label);
	return check_paths(v, rpath, label, rt->deprecated_paths, rt->n_deprecated_paths);
}

/* One entry per named object, sorted by (key, index) so duplicates sit side by side. */
struct keyed {
	const void *obj;
	size_t idx;
};

static int cmp_rule_name(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(((const Sluice__V1__Rule *)x->obj)->name, ((const Sluice__V1__Rule *)y->obj)->name);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_route_name(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(((const Sluice__V1__Route *)x->obj)->name, ((const Sluice__V1__Route *)y->obj)->name);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int frontend_cmp(const Sluice__V1__Frontend *f, const Sluice__V1__Frontend *g)
{
	if (f->vip.len != g->vip.len)
		return f->vip.len < g->vip.len ? -1 : 1;
	if (memcmp(f->vip.data, g->vip.data, f->vip.len))
		return memcmp(f->vip.data, g->vip.data, f->vip.len);
	if (f->proto != g->proto)
		return f->proto < g->proto ? -1 : 1;
	return (f->port > g->port) - (f->port < g->port);
}

static int cmp_frontend(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = frontend_cmp(((const Sluice__V1__Route *)x->obj)->frontend,
			     ((const Sluice__V1__Route *)y->obj)->frontend);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * Sorts objs and returns the duplicate that comes first in file order: *first and
 * *second are the indices of the earlier and the later object. false when none.
 */
static bool find_dup(struct keyed *objs, size_t n, int (*cmp)(const void *, const void *), size_t *first,
		     size_t *second)
{
	bool found = false;

	qsort(objs, n, sizeof(*objs), cmp);
	for (size_t i = 0; i + 1 < n; i++) {
		struct keyed a = objs[i], b = objs[i + 1];

		a.idx = b.idx = 0;
		if (cmp(&a, &b) != 0)
			continue;
		if (!found || objs[i + 1].idx < *second) {
			*first = objs[i].idx;
			*second = objs[i + 1].idx;
			found = true;
		}
	}
	return found;
}

static int check_duplicates(struct vctx *v, const Sluice__V1__Policy *p)
{
	size_t n = p->n_rules > p->n_routes ? p->n_rules : p->n_routes, a, b;
	char path[PATH_LEN], where[256], label[LABEL_LEN], vip[POLICY_ADDR_STR], pbuf[8];
	struct keyed *objs = NULL;
	int err = 0;

	if (n < 2)
		return 0;
	objs = calloc(n, sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_rules; i++)
		objs[i] = (struct keyed){ p->rules[i], i };
	if (find_dup(objs, p->n_rules, cmp_rule_name, &a, &b)) {
		snprintf(path, sizeof(path), "rules[%zu].name", a);
		if (!locate(v->loc, path, where, sizeof(where)))
			snprintf(where, sizeof(where), "rule #%zu", a + 1);
		snprintf(path, sizeof(path), "rules[%zu].name", b);
		label_of(label, sizeof(label), "rule", p->rules[b]->name, b);
		err = fail(v, path, "%s: name: duplicate name, first used at %s (names must be unique)", label, where);
		goto cleanup;
	}
	for (size_t i = 0; i < p->n_routes; i++)
		objs[i] = (struct keyed){ p->routes[i], i };
	if (find_dup(objs, p->n_routes, cmp_route_name, &a, &b)) {
		snprintf(path, sizeof(path), "routes[%zu].name", a);
		if (!locate(v->loc, path, where, sizeof(where)))
			snprintf(where, sizeof(where), "route #%zu", a + 1);
		snprintf(path, sizeof(path), "routes[%zu].name", b);
		label_of(label, sizeof(label), "route", p->routes[b]->name, b);
		err = fail(v, path, "%s: name: duplicate name, first used at %s (names must be unique)", label, where);
		goto cleanup;
	}
	if (find_dup(objs, p->n_routes, cmp_frontend, &a, &b)) {
		const Sluice__V1__Frontend *f = p->routes[b]->frontend;

		policy__format_addr(f->vip.data, f->vip.len, vip, sizeof(vip));
		snprintf(path, sizeof(path), "routes[%zu].frontend", b);
		label_of(label, sizeof(label), "route", p->routes[b]->name, b);
		err = fail(v, path, "%s: frontend: %s %s port %u is already served by route '%s' (one route per frontend)",
			   label, vip, policy__proto_name(f->proto, pbuf), f->port, p->routes[a]->name);
	}
cleanup:
	free(objs);
	return err;
}

/* The first character of s that agents do not allow in a label (sluice-agent --label:
 * letters, digits and extra), or 0: a selector with others could never match. */
static char label_bad_char(const char *s, const char *extra)
{
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(extra, *s)))
			return *s;
	}
	return 0;
}

static int check_rollout(struct vctx *v, const Sluice__V1__RolloutSpec *r)
{
	if (!r)
		return 0;
	if (r->canary_percent > 100)
		return fail(v, "rollout.canary", "rollout: canary: %u%% is more than 100%%", r->canary_percent);
	if (r->batch_percent > 100)
		return fail(v, "rollout.batch", "rollout: batch: %u%% is more than 100%%", r->batch_percent);
	for (size_t i = 0; i < r->n_selector; i++) {
		const char *key = r->selector[i]->key, *val = r->selector[i]->value;
		char bad;

		if (!key || !key[0])
			return fail(v, "rollout.selector", "rollout: selector: a label with an empty name (write name: value)");
		bad = label_bad_char(key, "._/-");
		if (bad)
			return fail(v, "rollout.selector", "rollout: selector: label '%.40s': '%c' is not allowed in a label name (letters, digits, '.', '_', '/', '-')",
				    key, (unsigned char)bad >= 0x20 && bad != 0x7f ? bad : '?');
		bad = label_bad_char(val ? val : "", "._-");
		if (bad)
			return fail(v, "rollout.selector", "rollout: selector: label '%.40s': '%c' is not allowed in a label value (letters, digits, '.', '_', '-')",
				    key, (unsigned char)bad >= 0x20 && bad != 0x7f ? bad : '?');
		for (size_t k = 0; k < i; k++) {
			if (strcmp(r->selector[k]->key, key) == 0)
				return fail(v, "rollout.selector", "rollout: selector: label '%.40s' given twice (keep one)", key);
		}
	}
	return 0;
}

bool policy__pb_field_zero(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d;

	if (!m)
		return false;
	d = m->descriptor;
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *at = (const char *)m + f->offset;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);

			for (size_t k = 0; k < n; k++)
				if (policy__pb_field_zero((*(ProtobufCMessage *const *const *)at)[k]))
					return true;
		} else if (policy__pb_field_zero(*(const ProtobufCMessage *const *)at)) {
			return true;
		}
	}
	return false;
}

/* What is stored and sent must decode again (see policy__pb_field_zero). */
static int check_encoding(struct vctx *v, const Sluice__V1__Policy *p)
{
	if (policy__pb_field_zero(&p->base))
		return fail(v, "", "policy: holds a field that does not decode once encoded again (an unknown field numbered 0?); send only the fields of sluice.v1.Policy");
	return 0;
}

int policy__validate_at(const Sluice__V1__Policy *p, uint32_t rule_capacity, const struct policy_locator *loc,
			char *err, size_t errlen)
{
	struct vctx v = { .loc = loc, .err = err, .errlen = errlen };
	char path[PATH_LEN];
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!p)
		return fail(&v, "", "policy: missing");
	if (rule_capacity == 0)
		rule_capacity = POLICY_DEFAULT_CAPACITY;
	if (p->n_rules > rule_capacity) {
		snprintf(path, sizeof(path), "rules[%u]", rule_capacity);
		return fail(&v, path, "rules: %zu rules, more than the capacity of %u (remove rules, or give the agents a larger rule capacity)",
			    p->n_rules, rule_capacity);
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		rc = check_rule(&v, p->rules[i], i);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < p->n_routes; i++) {
		rc = check_route(&v, p->routes[i], i);
		if (rc)
			return rc;
	}
	rc = check_duplicates(&v, p);
	if (!rc)
		rc = check_rollout(&v, p->rollout);
	if (!rc) {
		char field[PATH_LEN], why[200];

		if (policy__check_detectors(p->detectors, field, sizeof(field), why, sizeof(why)))
			rc = fail(&v, field, "%s: %s", field, why);
	}
	if (!rc)
		rc = check_encoding(&v, p);
	return rc;
}

int policy__validate(const Sluice__V1__Policy *p, uint32_t rule_capacity, char *err, size_t errlen)
{
	return policy__validate_at(p, rule_capacity, NULL, err, errlen);
}

int policy__pack(const Sluice__V1__Policy *p, uint8_t **out, size_t *len)
{
	size_t n;
	uint8_t *buf;

	if (!p || !out || !len)
		return -EINVAL;
	n = sluice__v1__policy__get_packed_size(p);
	buf = malloc(n ? n : 1); /* an empty policy packs to 0 bytes */
	if (!buf)
		return -ENOMEM;
	sluice__v1__policy__pack(p, buf);
	*out = buf;
	*len = n;
	return 0;
}

/*
 * A rule without a match matches everything, exactly as one with an empty match; the
 * policy parser always writes the latter, a client of the API may send the former. For
 * the hash both must encode alike: content->rules becomes a copy of p's rules (*rules,
 * freed by the caller) in which each rule without a match is a shallow copy (in *copies)
 * with an empty one. Leaves content alone when every rule has a match. 0 or -ENOMEM.
 */
static int canonical_rules(const Sluice__V1__Policy *p, Sluice__V1__Policy *content, Sluice__V1__Rule ***rules,
			   Sluice__V1__Rule **copies)
{
	static Sluice__V1__Match any = SLUICE__V1__MATCH__INIT;
	size_t n = 0;

	*rules = NULL;
	*copies = NULL;
	for (size_t i = 0; i < p->n_rules; i++)
		n += !p->rules[i]->match;
	if (n == 0)
		return 0;
	*rules = malloc(p->n_rules * sizeof(**rules));
	*copies = malloc(n * sizeof(**copies));
	if (!*rules || !*copies)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < p->n_rules; i++) {
		(*rules)[i] = p->rules[i];
		if (p->rules[i]->match)
			continue;
		(*copies)[n] = *p->rules[i];
		(*copies)[n].match = &any;
		(*rules)[i] = &(*copies)[n++];
	}
	content->rules = *rules;
	return 0;
}

int policy__hash(const Sluice__V1__Policy *p, char out[POLICY_HASH_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	Sluice__V1__Policy content;
	Sluice__V1__Rule **rules = NULL, *copies = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	if (!p)
		return -EINVAL;
	/* The rollout hint says how to deploy, not what: it is not content. */
	content = *p;
	content.rollout = NULL;
	err = canonical_rules(p, &content, &rules, &copies);
	if (!err)
		err = policy__pack(&content, &buf, &len);
	if (err)
		goto cleanup;
	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		err = -EIO;
		goto cleanup;
	}
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * mdlen] = '\0';
cleanup:
	free(buf);
	free(rules);
	free(copies);
	return err;
}

Sluice__V1__Policy *policy__unpack(const uint8_t *buf, size_t len)
{
	Sluice__V1__Policy *p = sluice__v1__policy__unpack(NULL, len, buf);

	if (!p)
		errno = EBADMSG;
	return p;
}

Sluice__V1__Policy *policy__dup(const Sluice__V1__Policy *p)
{
	Sluice__V1__Policy *copy;
	uint8_t *buf = NULL;
	size_t len;
	int err;

	if (!p) {
		errno = EINVAL;
		return NULL;
	}
	err = policy__pack(p, &buf, &len);
	if (err) {
		errno = -err;
		return NULL;
	}
	copy = policy__unpack(buf, len);
	err = errno;
	free(buf);
	errno = err;
	return copy;
}

Sluice__V1__Policy *policy__new(void)
{
	Sluice__V1__Policy *p = malloc(sizeof(*p));

	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	sluice__v1__policy__init(p);
	return p;
}

void policy__free(Sluice__V1__Policy *p)
{
	if (p)
		sluice__v1__policy__free_unpacked(p, NULL);
}
