// SPDX-License-Identifier: Apache-2.0
/*
 * render_policy.c — revisions and their policies as sluicectl prints them: the
 * revision JSON object, the `get revisions` table, the `describe revision` page and
 * the rule and route tables (`get rules`, `get routes`). The JSON of rules and routes
 * themselves is the policy file's schema, from common/policy_json.c.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/render.h"
#include "cli/table.h"
#include "common/policy.h"

static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

json_t *cli_render__revision_json(const Sluice__V1__RevisionInfo *r)
{
	json_t *o = json_object();
	char ts[40];

	if (!o || !r)
		goto fail;
	cli_fmt__time(r->created_unix, ts, sizeof(ts));
	if (!put(o, "revision", json_integer((json_int_t)r->revision)) || !put(o, "hash", json_string(r->hash)) ||
	    !put(o, "author", json_string(r->author)) || !put(o, "message", json_string(r->message)) ||
	    !put(o, "created", r->created_unix ? json_string(ts) : json_null()) ||
	    !put(o, "rules", json_integer(r->rules)) || !put(o, "routes", json_integer(r->routes)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

void cli_render__revisions_table(Sluice__V1__RevisionInfo *const *r, size_t n, int64_t now, bool wide, FILE *out)
{
	static const char *const hdr[] = { "REVISION", "HASH",	 "AUTHOR",  "AGE",
					   "RULES",    "ROUTES", "MESSAGE", "CREATED" };
	struct cli_table *t = cli_table__new(wide ? 8 : 7, hdr);

	for (size_t i = 0; t && i < n; i++) {
		char rev[24], hash[80], age[16], rules[16], routes[16], created[40];
		const char *row[8] = { rev, hash, r[i]->author, age, rules, routes, r[i]->message, created };

		snprintf(rev, sizeof(rev), "%llu", (unsigned long long)r[i]->revision);
		if (wide)
			snprintf(hash, sizeof(hash), "%s", r[i]->hash);
		else
			cli_fmt__short_hash(r[i]->hash, hash, sizeof(hash));
		cli_fmt__since(r[i]->created_unix, now, age, sizeof(age));
		cli_fmt__time(r[i]->created_unix, created, sizeof(created));
		snprintf(rules, sizeof(rules), "%u", r[i]->rules);
		snprintf(routes, sizeof(routes), "%u", r[i]->routes);
		cli_table__add(t, row);
	}
	cli_table__print(t, out, NULL);
	cli_table__free(t);
}

/* Appends text to buf at *off with sep before it when *off > 0. */
static void join(char *buf, size_t len, size_t *off, const char *sep, const char *text)
{
	int n;

	if (*off >= len)
		return;
	n = snprintf(buf + *off, len - *off, "%s%s", *off ? sep : "", text);
	if (n > 0)
		*off += (size_t)n;
}

static void cidrs_text(Sluice__V1__Cidr *const *c, size_t n, char *buf, size_t len)
{
	char one[POLICY_ADDR_STR];
	size_t off = 0;

	snprintf(buf, len, "any");
	for (size_t i = 0; i < n; i++) {
		policy__format_cidr(c[i]->addr.data, c[i]->addr.len, c[i]->prefix_len, one, sizeof(one));
		join(buf, len, &off, ",", one);
	}
}

static void ports_text(Sluice__V1__PortRange *const *r, size_t n, char *buf, size_t len)
{
	char one[24];
	size_t off = 0;

	snprintf(buf, len, "any");
	for (size_t i = 0; i < n; i++) {
		policy__format_port_range(r[i]->lo, r[i]->hi, one, sizeof(one));
		join(buf, len, &off, ",", one);
	}
}

static void action_text(const Sluice__V1__Rule *r, char *buf, size_t len)
{
	const Sluice__V1__RateLimit *rl = r->rate_limit;

	if (r->action != SLUICE__V1__ACTION__ACTION_RATE_LIMIT || !rl) {
		snprintf(buf, len, "%s", policy__action_name(r->action));
		return;
	}
	snprintf(buf, len, "rate_limit %llu%s burst=%llu per=%s",
		 (unsigned long long)(rl->pps ? rl->pps : rl->bps), rl->pps ? "pps" : "bps",
		 (unsigned long long)rl->burst, rl->per == SLUICE__V1__RATE_LIMIT_PER__PER_SOURCE ? "source" : "rule");
}

struct ordered {
	const Sluice__V1__Rule *r;
	size_t idx;
};

static int cmp_eval_order(const void *x, const void *y)
{
	const struct ordered *a = x, *b = y;

	if (a->r->priority != b->r->priority)
		return a->r->priority < b->r->priority ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

void cli_render__rules_table(const Sluice__V1__Policy *p, FILE *out, const char *indent)
{
	static const char *const hdr[] = { "NAME",	"PRIORITY",  "PROTO",	  "SRC",    "DST",
					   "SRC-PORTS", "DST-PORTS", "TCP-FLAGS", "ACTION", "SAMPLE" };
	struct ordered *order;
	struct cli_table *t;

	order = calloc(p->n_rules ? p->n_rules : 1, sizeof(*order));
	t = cli_table__new(10, hdr);
	if (!order || !t)
		goto cleanup;
	for (size_t i = 0; i < p->n_rules; i++)
		order[i] = (struct ordered){ p->rules[i], i };
	qsort(order, p->n_rules, sizeof(*order), cmp_eval_order);
	for (size_t i = 0; i < p->n_rules; i++) {
		static const Sluice__V1__Match any = SLUICE__V1__MATCH__INIT;
		const Sluice__V1__Rule *r = order[i].r;
		const Sluice__V1__Match *m = r->match ? r->match : &any;
		char prio[16], pbuf[8], src[512], dst[512], sp[256], dp[256], flags[64], act[96], sample[32];
		const char *row[10] = { r->name, prio, policy__proto_name(m->proto, pbuf), src, dst, sp, dp,
					flags, act, sample };

		snprintf(prio, sizeof(prio), "%u", r->priority);
		cidrs_text(m->src, m->n_src, src, sizeof(src));
		cidrs_text(m->dst, m->n_dst, dst, sizeof(dst));
		ports_text(m->src_ports, m->n_src_ports, sp, sizeof(sp));
		ports_text(m->dst_ports, m->n_dst_ports, dp, sizeof(dp));
		policy__format_tcp_flags(m->tcp_flags_set, m->tcp_flags_unset, flags, sizeof(flags));
		action_text(r, act, sizeof(act));
		if (r->sample && r->sample->one_in)
			snprintf(sample, sizeof(sample), "1/%u %uB", r->sample->one_in, r->sample->snaplen);
		else
			sample[0] = '\0';
		cli_table__add(t, row);
	}
	cli_table__print(t, out, indent);
cleanup:
	cli_table__free(t);
	free(order);
}

/* "10.0.0.1:80" or "[2001:db8::1]:80". */
static void endpoint(const ProtobufCBinaryData *a, uint32_t port, char *buf, size_t len)
{
	char addr[POLICY_ADDR_STR];

	if (policy__format_addr(a->data, a->len, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, len, a->len == 16 ? "[%s]:%u" : "%s:%u", addr, port);
}

void cli_render__routes_table(const Sluice__V1__Policy *p, FILE *out, const char *indent)
{
	static const char *const hdr[] = { "NAME", "FRONTEND", "BACKENDS" };
	struct cli_table *t = cli_table__new(3, hdr);

	for (size_t i = 0; t && i < p->n_routes; i++) {
		const Sluice__V1__Route *rt = p->routes[i];
		char fe[POLICY_ADDR_STR + 24], be[1024], one[POLICY_ADDR_STR + 64], ep[POLICY_ADDR_STR + 16],
			pbuf[8];
		const char *row[3] = { rt->name, fe, be };
		size_t off = 0;

		fe[0] = be[0] = '\0';
		if (rt->frontend) {
			endpoint(&rt->frontend->vip, rt->frontend->port, ep, sizeof(ep));
			snprintf(fe, sizeof(fe), "%s/%s", ep, policy__proto_name(rt->frontend->proto, pbuf));
		}
		for (size_t k = 0; k < rt->n_backends; k++) {
			const Sluice__V1__Backend *b = rt->backends[k];

			endpoint(&b->addr, b->port, ep, sizeof(ep));
			snprintf(one, sizeof(one), "%s w=%u%s%s", ep, b->weight, b->tag[0] ? " " : "", b->tag);
			join(be, sizeof(be), &off, ", ", one);
		}
		cli_table__add(t, row);
	}
	cli_table__print(t, out, indent);
	cli_table__free(t);
}

void cli_render__revision_describe(const Sluice__V1__RevisionInfo *info, const Sluice__V1__Policy *p,
				   int64_t now, FILE *out)
{
	char ts[40], age[16];

	if (info) {
		cli_fmt__time(info->created_unix, ts, sizeof(ts));
		cli_fmt__since(info->created_unix, now, age, sizeof(age));
		fprintf(out, "Revision:  %llu\n", (unsigned long long)info->revision);
		fprintf(out, "Hash:      %s\n", info->hash[0] ? info->hash : "-");
		fprintf(out, "Author:    %s\n", info->author[0] ? info->author : "-");
		fprintf(out, "Created:   %s (%s ago)\n", ts, age);
		fprintf(out, "Message:   %s\n", info->message[0] ? info->message : "-");
	}
	if (!p)
		return;
	fprintf(out, "\nRules (%zu, in evaluation order):\n", p->n_rules);
	if (p->n_rules)
		cli_render__rules_table(p, out, "  ");
	fprintf(out, "\nRoutes (%zu):\n", p->n_routes);
	if (p->n_routes)
		cli_render__routes_table(p, out, "  ");
	if (p->rollout) {
		const Sluice__V1__RolloutSpec *r = p->rollout;

		fprintf(out, "\nRollout hint:\n  selector:");
		for (size_t i = 0; i < r->n_selector; i++)
			fprintf(out, "%s%s=%s", i ? ", " : " ", r->selector[i]->key, r->selector[i]->value);
		fprintf(out, "%s\n", r->n_selector ? "" : " all agents");
		fprintf(out, "  canary %u%%, batch %u%%, interval %us\n", r->canary_percent, r->batch_percent,
			r->interval_seconds);
	}
}

json_t *cli_render__policy_doc(const Sluice__V1__Policy *p, enum cli_cmd what)
{
	static const Sluice__V1__Policy none = SLUICE__V1__POLICY__INIT;
	bool rules = what == CLI_CMD_GET_RULES;
	json_t *o, *a;

	if (what == CLI_CMD_GET_POLICY)
		return policy_json__from_policy(p ? p : &none);
	o = json_object();
	a = json_array();
	for (size_t i = 0; a && p && i < (rules ? p->n_rules : p->n_routes); i++)
		json_array_append_new(a, rules ? policy_json__rule(p->rules[i]) : policy_json__route(p->routes[i]));
	if (o && a && json_object_set_new(o, rules ? "rules" : "routes", a) == 0)
		return o;
	json_decref(a);
	json_decref(o);
	return NULL;
}

json_t *cli_render__revision_doc(const Sluice__V1__RevisionInfo *info, const Sluice__V1__Policy *p)
{
	json_t *j = info ? cli_render__revision_json(info) : json_object();

	if (j && p && json_object_set_new(j, "policy", policy_json__from_policy(p))) {
		json_decref(j);
		return NULL;
	}
	return j;
}
