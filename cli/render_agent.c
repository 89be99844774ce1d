// SPDX-License-Identifier: Apache-2.0
/*
 * render_agent.c — agents as sluicectl prints them: the `-o json` objects (schema in
 * render.h), the `get agents` table and the `describe agent` page.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/render.h"
#include "cli/table.h"
#include "common/cert.h"
#include "common/policy.h"

#define TIME_LEN 40

const char *cli_render__state_name(Sluice__V1__AgentState s)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&sluice__v1__agent_state__descriptor, s);
	static const char prefix[] = "AGENT_STATE_";

	if (!v)
		return "UNKNOWN";
	return strncmp(v->name, prefix, sizeof(prefix) - 1) == 0 ? v->name + sizeof(prefix) - 1 : v->name;
}

int cli_render__json(json_t *j, FILE *out)
{
	if (!j)
		return -ENOMEM;
	json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(j);
	return 0;
}

/* Sets o[key] = v (taking v); false when v is NULL or the set fails. */
static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

static json_t *time_json(int64_t t)
{
	char buf[TIME_LEN];

	if (t == 0)
		return json_null();
	cli_fmt__time(t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *str(const char *s)
{
	return json_string(s ? s : "");
}

static json_t *u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

/* Route counters of a status: [{"name", "frontend", "backends": [{"addr", "port", "tag",
 * "weight", "draining", "new_flows", "packets", "bytes", "reply_packets", "reply_bytes"}]}]. */
static json_t *routes_json(const Sluice__V1__Status *s)
{
	json_t *a = json_array();
	char addr[POLICY_ADDR_STR], fe[POLICY_ADDR_STR + 16], pbuf[8];

	for (size_t i = 0; a && i < s->n_routes; i++) {
		const Sluice__V1__RouteCounters *rc = s->routes[i];
		json_t *ro = json_object(), *bs;

		fe[0] = '\0';
		if (rc->frontend && policy__format_addr(rc->frontend->vip.data, rc->frontend->vip.len, addr, sizeof(addr)) == 0)
			snprintf(fe, sizeof(fe), "%s %s/%u", addr, policy__proto_name(rc->frontend->proto, pbuf),
				 rc->frontend->port);
		/* The _new calls take their argument even when they fail. */
		if (!ro || json_array_append_new(a, ro))
			goto fail;
		bs = json_array();
		if (!put(ro, "name", str(rc->name)) || !put(ro, "frontend", str(fe)) || !put(ro, "backends", bs))
			goto fail;
		for (size_t k = 0; k < rc->n_backends; k++) {
			const Sluice__V1__BackendCounters *b = rc->backends[k];
			json_t *bo = json_object();

			if (policy__format_addr(b->addr.data, b->addr.len, addr, sizeof(addr)))
				snprintf(addr, sizeof(addr), "?");
			if (!bo || json_array_append_new(bs, bo) || !put(bo, "addr", str(addr)) ||
			    !put(bo, "port", u64(b->port)) || !put(bo, "tag", str(b->tag)) || !put(bo, "weight", u64(b->weight)) ||
			    !put(bo, "draining", json_boolean(b->draining)) || !put(bo, "new_flows", u64(b->new_flows)) ||
			    !put(bo, "packets", u64(b->packets)) || !put(bo, "bytes", u64(b->bytes)) ||
			    !put(bo, "reply_packets", u64(b->reply_packets)) || !put(bo, "reply_bytes", u64(b->reply_bytes)))
				goto fail;
		}
	}
	return a;
fail:
	json_decref(a);
	return NULL;
}

static json_t *status_json(const Sluice__V1__Status *s)
{
	json_t *o = json_object(), *ifs, *drops;

	if (!o || !put(o, "reported", time_json((int64_t)s->unix_time)) ||
	    !put(o, "applied_revision", u64(s->applied_revision)) || !put(o, "applied_hash", str(s->applied_hash)) ||
	    !put(o, "rules_used", u64(s->rules_used)) || !put(o, "rule_capacity", u64(s->rule_capacity)) ||
	    !put(o, "last_error", str(s->last_error)))
		goto fail;
	ifs = json_array();
	if (!put(o, "interfaces", ifs))
		goto fail;
	for (size_t i = 0; i < s->n_interfaces; i++) {
		const Sluice__V1__InterfaceState *is = s->interfaces[i];
		json_t *io = json_object();

		if (!io || json_array_append_new(ifs, io) || !put(io, "name", str(is->name)) ||
		    !put(io, "xdp_mode", str(is->xdp_mode)) || !put(io, "attached", json_boolean(is->attached)) ||
		    !put(io, "link_id", u64(is->link_id)) || !put(io, "prog_id", u64(is->prog_id)))
			goto fail;
	}
	drops = json_object();
	if (!put(o, "drop_reasons", drops))
		goto fail;
	for (size_t i = 0; i < s->n_drop_reasons; i++)
		if (!put(drops, s->drop_reasons[i]->key, u64(s->drop_reasons[i]->value)))
			goto fail;
	if (s->n_routes && !put(o, "routes", routes_json(s)))
		goto fail;
	if (s->n_rewrite_reasons) {
		json_t *rr = json_object();

		if (!put(o, "rewrite_reasons", rr))
			goto fail;
		for (size_t i = 0; i < s->n_rewrite_reasons; i++)
			if (!put(rr, s->rewrite_reasons[i]->key, u64(s->rewrite_reasons[i]->value)))
				goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *cli_render__agent_json(const Sluice__V1__AgentInfo *a)
{
	json_t *o = json_object(), *labels, *ifs, *rules;

	if (!o || !a)
		goto fail;
	if (!put(o, "node_id", str(a->node_id)))
		goto fail;
	labels = json_object();
	if (!put(o, "labels", labels))
		goto fail;
	for (size_t i = 0; i < a->n_labels; i++)
		if (!put(labels, a->labels[i]->key, str(a->labels[i]->value)))
			goto fail;
	if (!put(o, "state", json_string(cli_render__state_name(a->state))) ||
	    !put(o, "state_since", time_json(a->state_since_unix)) ||
	    !put(o, "desired_revision", u64(a->desired_revision)) ||
	    !put(o, "applied_revision", u64(a->applied_revision)) || !put(o, "applied_hash", str(a->applied_hash)) ||
	    !put(o, "last_error", str(a->last_error)) || !put(o, "last_seen", time_json(a->last_seen_unix)) ||
	    !put(o, "agent_version", str(a->agent_version)) || !put(o, "kernel", str(a->kernel)))
		goto fail;
	ifs = json_array();
	if (!put(o, "interfaces", ifs))
		goto fail;
	for (size_t i = 0; i < a->n_interfaces; i++)
		if (json_array_append_new(ifs, str(a->interfaces[i])))
			goto fail;
	rules = json_array();
	if (!put(o, "rules", rules))
		goto fail;
	for (size_t i = 0; a->status && i < a->status->n_rules; i++) {
		const Sluice__V1__RuleCounters *rc = a->status->rules[i];
		json_t *ro = json_object();

		if (!ro || json_array_append_new(rules, ro) || !put(ro, "name", str(rc->name)) ||
		    !put(ro, "packets", u64(rc->packets)) || !put(ro, "bytes", u64(rc->bytes)) ||
		    !put(ro, "samples", u64(rc->samples)) || !put(ro, "samples_lost", u64(rc->samples_lost)) ||
		    !put(ro, "rate_limited", u64(rc->rate_limited)))
			goto fail;
	}
	if (!put(o, "status", a->status ? status_json(a->status) : json_null()))
		goto fail;
	/* Only once the agent reported it (TLS agents do, with every status). */
	if (a->cert_not_after_unix &&
	    (!put(o, "cert_not_after", time_json(a->cert_not_after_unix)) ||
	     !put(o, "cert_expires_soon", json_boolean(cert__expires_soon(a->cert_not_after_unix, (int64_t)time(NULL))))))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static int cmp_label(const void *x, const void *y)
{
	const Sluice__V1__AgentInfo__LabelsEntry *const *a = x, *const *b = y;

	return strcmp((*a)->key, (*b)->key);
}

/* "env=prod,zone=a" sorted by key, so the column is stable; "" when none. */
static void labels_text(const Sluice__V1__AgentInfo *a, char *buf, size_t len, const char *sep)
{
	Sluice__V1__AgentInfo__LabelsEntry **sorted;
	size_t off = 0;

	buf[0] = '\0';
	if (a->n_labels == 0)
		return;
	sorted = malloc(a->n_labels * sizeof(*sorted));
	if (!sorted)
		return;
	memcpy(sorted, a->labels, a->n_labels * sizeof(*sorted));
	qsort(sorted, a->n_labels, sizeof(*sorted), cmp_label);
	for (size_t i = 0; i < a->n_labels && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s=%s", i ? sep : "", sorted[i]->key, sorted[i]->value);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	free(sorted);
}

static void revision_text(uint64_t rev, char *buf, size_t len)
{
	if (rev == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%llu", (unsigned long long)rev);
}

void cli_render__agents_table(Sluice__V1__AgentInfo *const *a, size_t n, int64_t now, bool wide, FILE *out)
{
	static const char *const hdr[] = { "NAME",    "STATE",  "REVISION",   "APPLIED",   "RULES", "LAST-SEEN",
					   "AGE",     "LABELS", "VERSION",    "KERNEL",    "INTERFACES",
					   "LAST-ERROR" };
	size_t ncols = wide ? 12 : 8;
	struct cli_table *t = cli_table__new(ncols, hdr);

	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		char want[24], have[24], rules[32], seen[16], age[16], labels[512], ifs[256];
		const char *row[12];
		size_t off = 0;

		revision_text(a[i]->desired_revision, want, sizeof(want));
		revision_text(a[i]->applied_revision, have, sizeof(have));
		if (a[i]->status)
			snprintf(rules, sizeof(rules), "%u/%u", a[i]->status->rules_used, a[i]->status->rule_capacity);
		else
			snprintf(rules, sizeof(rules), "-");
		cli_fmt__since(a[i]->last_seen_unix, now, seen, sizeof(seen));
		cli_fmt__since(a[i]->state_since_unix, now, age, sizeof(age));
		labels_text(a[i], labels, sizeof(labels), ",");
		ifs[0] = '\0';
		for (size_t k = 0; k < a[i]->n_interfaces && off < sizeof(ifs); k++)
			off += (size_t)snprintf(ifs + off, sizeof(ifs) - off, "%s%s", k ? "," : "", a[i]->interfaces[k]);
		row[0] = a[i]->node_id;
		row[1] = cli_render__state_name(a[i]->state);
		row[2] = want;
		row[3] = have;
		row[4] = rules;
		row[5] = seen;
		row[6] = age;
		row[7] = labels;
		row[8] = a[i]->agent_version;
		row[9] = a[i]->kernel;
		row[10] = ifs;
		row[11] = a[i]->last_error;
		cli_table__add(t, row);
	}
	cli_table__print(t, out, NULL);
	cli_table__free(t);
}

/* "2026-11-26T14:40:12Z (3m ago)", or "-" / "never". */
static void when(int64_t t, int64_t now, const char *never, char *buf, size_t len)
{
	char ts[TIME_LEN], age[16];

	if (t == 0) {
		snprintf(buf, len, "%s", never);
		return;
	}
	cli_fmt__time(t, ts, sizeof(ts));
	cli_fmt__since(t, now, age, sizeof(age));
	snprintf(buf, len, "%s (%s ago)", ts, age);
}

static const char *or_dash(const char *s)
{
	return s && s[0] ? s : "-";
}

/* One row per backend of each route: where new flows went and what came back. */
static void describe_routes(const Sluice__V1__Status *s, FILE *out)
{
	static const char *const hdr[] = { "ROUTE", "BACKEND", "TAG", "WEIGHT", "NEW-FLOWS", "PACKETS", "BYTES", "REPLIES" };
	struct cli_table *t = cli_table__new(8, hdr);
	char addr[POLICY_ADDR_STR], be[POLICY_ADDR_STR + 8], w[16], n1[32], n2[32], n3[32], n4[32];

	fputc('\n', out);
	for (size_t i = 0; t && i < s->n_routes; i++) {
		const Sluice__V1__RouteCounters *rc = s->routes[i];

		for (size_t k = 0; k < rc->n_backends; k++) {
			const Sluice__V1__BackendCounters *b = rc->backends[k];
			const char *row[8] = { rc->name, be, or_dash(b->tag), w, n1, n2, n3, n4 };

			if (policy__format_addr(b->addr.data, b->addr.len, addr, sizeof(addr)))
				snprintf(addr, sizeof(addr), "?");
			snprintf(be, sizeof(be), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, b->port);
			if (b->draining)
				snprintf(w, sizeof(w), "draining");
			else
				snprintf(w, sizeof(w), "%u", b->weight);
			cli_fmt__count(b->new_flows, n1, sizeof(n1));
			cli_fmt__count(b->packets, n2, sizeof(n2));
			cli_fmt__bytes(b->bytes, n3, sizeof(n3));
			cli_fmt__count(b->reply_packets, n4, sizeof(n4));
			cli_table__add(t, row);
		}
	}
	cli_table__print(t, out, "  ");
	cli_table__free(t);
}

static void describe_status(const Sluice__V1__Status *s, int64_t now, FILE *out)
{
	char buf[128], n1[24], n2[24];

	when((int64_t)s->unix_time, now, "-", buf, sizeof(buf));
	fprintf(out, "\nStatus (reported %s):\n", buf);
	revision_text(s->applied_revision, n1, sizeof(n1));
	fprintf(out, "  Applied revision:  %s (hash %s)\n", n1, or_dash(s->applied_hash));
	fprintf(out, "  Rules used:        %u of %u\n", s->rules_used, s->rule_capacity);
	fprintf(out, "  Last error:        %s\n", or_dash(s->last_error));
	if (s->n_interfaces) {
		static const char *const hdr[] = { "INTERFACE", "XDP-MODE", "ATTACHED", "LINK", "PROG" };
		struct cli_table *t = cli_table__new(5, hdr);

		fputc('\n', out);
		for (size_t i = 0; t && i < s->n_interfaces; i++) {
			const Sluice__V1__InterfaceState *is = s->interfaces[i];
			const char *row[5] = { is->name, is->xdp_mode, is->attached ? "yes" : "no", n1, n2 };

			snprintf(n1, sizeof(n1), "%u", is->link_id);
			snprintf(n2, sizeof(n2), "%u", is->prog_id);
			cli_table__add(t, row);
		}
		cli_table__print(t, out, "  ");
		cli_table__free(t);
	}
	if (s->n_rules) {
		static const char *const hdr[] = { "RULE", "PACKETS", "BYTES", "SAMPLED", "SAMPLES-LOST", "RATE-LIMITED" };
		struct cli_table *t = cli_table__new(6, hdr);
		char n3[32], n4[32], n5[32];

		fputc('\n', out);
		for (size_t i = 0; t && i < s->n_rules; i++) {
			const char *row[6] = { s->rules[i]->name, n1, n2, n3, n4, n5 };

			cli_fmt__count(s->rules[i]->packets, n1, sizeof(n1));
			cli_fmt__bytes(s->rules[i]->bytes, n2, sizeof(n2));
			cli_fmt__count(s->rules[i]->samples, n3, sizeof(n3));
			cli_fmt__count(s->rules[i]->samples_lost, n4, sizeof(n4));
			cli_fmt__count(s->rules[i]->rate_limited, n5, sizeof(n5));
			cli_table__add(t, row);
		}
		cli_table__print(t, out, "  ");
		cli_table__free(t);
	}
	if (s->n_routes)
		describe_routes(s, out);
	if (s->n_drop_reasons) {
		static const char *const hdr[] = { "DROP-REASON", "PACKETS" };
		struct cli_table *t = cli_table__new(2, hdr);

		fputc('\n', out);
		for (size_t i = 0; t && i < s->n_drop_reasons; i++) {
			const char *row[2] = { s->drop_reasons[i]->key, n1 };

			cli_fmt__count(s->drop_reasons[i]->value, n1, sizeof(n1));
			cli_table__add(t, row);
		}
		cli_table__print(t, out, "  ");
		cli_table__free(t);
	}
}

void cli_render__agent_describe(const Sluice__V1__AgentInfo *a, int64_t now, FILE *out)
{
	char buf[512], rev[24];

	fprintf(out, "Node:              %s\n", or_dash(a->node_id));
	labels_text(a, buf, sizeof(buf), ", ");
	fprintf(out, "Labels:            %s\n", or_dash(buf));
	when(a->state_since_unix, now, "-", buf, sizeof(buf));
	fprintf(out, "State:             %s since %s\n", cli_render__state_name(a->state), buf);
	revision_text(a->desired_revision, rev, sizeof(rev));
	fprintf(out, "Desired revision:  %s\n", rev);
	revision_text(a->applied_revision, rev, sizeof(rev));
	fprintf(out, "Applied revision:  %s (hash %s)\n", rev, or_dash(a->applied_hash));
	fprintf(out, "Last error:        %s\n", or_dash(a->last_error));
	when(a->last_seen_unix, now, "never", buf, sizeof(buf));
	fprintf(out, "Last seen:         %s\n", buf);
	fprintf(out, "Agent version:     %s\n", or_dash(a->agent_version));
	fprintf(out, "Kernel:            %s\n", or_dash(a->kernel));
	fprintf(out, "Interfaces:        ");
	for (size_t i = 0; i < a->n_interfaces; i++)
		fprintf(out, "%s%s", i ? ", " : "", a->interfaces[i]);
	fprintf(out, "%s\n", a->n_interfaces ? "" : "-");
	if (a->cert_not_after_unix) {
		int64_t days = cert__days_left(a->cert_not_after_unix, now);
		char ts[TIME_LEN];

		cli_fmt__time(a->cert_not_after_unix, ts, sizeof(ts));
		if (a->cert_not_after_unix <= now)
			fprintf(out, "Certificate:       EXPIRED at %s: the agent cannot reconnect; issue a new one (deploy/pki.sh agent %s) and send the agent SIGHUP\n",
				ts, a->node_id);
		else if (cert__expires_soon(a->cert_not_after_unix, now))
			fprintf(out, "Certificate:       WARNING: expires %s (in %lldd, less than %d days): issue a new one (deploy/pki.sh agent %s) and send the agent SIGHUP\n",
				ts, (long long)days, CERT_WARN_DAYS, a->node_id);
		else
			fprintf(out, "Certificate:       expires %s (in %lldd)\n", ts, (long long)days);
	}
	if (a->status)
		describe_status(a->status, now, out);
	else
		fprintf(out, "\nStatus:            none reported yet\n");
}
