// SPDX-License-Identifier: Apache-2.0
/*
 * render_monitor.c — see render_monitor.h: alerts and API usage as stable JSON and as
 * tables for people.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/render_monitor.h"
#include "cli/table.h"
#include "common/policy.h"

static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

/* RFC 3339 of unix seconds, or null when 0. */
static json_t *jtime(int64_t t)
{
	char buf[40];

	if (t == 0)
		return json_null();
	cli_fmt__time(t, buf, sizeof(buf));
	return json_string(buf);
}

const char *cli_render__severity_name(int s)
{
	return policy__severity_name(s);
}

static json_t *mitigation_json(const Sluice__V1__AlertMitigation *m)
{
	json_t *o;

	if (!m || !m->rule || !m->rule[0])
		return json_null();
	o = json_object();
	if (!o || !put(o, "rule", json_string(m->rule)) ||
	    !put(o, "action", json_string(policy__action_name(m->action))) ||
	    !put(o, "pps", json_integer((json_int_t)m->pps)) || !put(o, "match", json_string(m->match)) ||
	    !put(o, "expires", jtime(m->expires_unix)) || !put(o, "active", json_boolean(m->active)) ||
	    !put(o, "error", json_string(m->error))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *baseline_json(const Sluice__V1__AlertBaseline *b)
{
	json_t *o;

	if (!b)
		return json_null();
	o = json_object();
	if (!o || !put(o, "feature", json_string(b->feature)) || !put(o, "mean", json_real(b->mean)) ||
	    !put(o, "stddev", json_real(b->stddev)) || !put(o, "samples", json_integer((json_int_t)b->samples)) ||
	    !put(o, "hour", b->hour >= 0 ? json_integer(b->hour) : json_null()) ||
	    !put(o, "threshold", json_real(b->threshold))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *cli_render__alert_json(const Sluice__V1__AlertInfo *a)
{
	static const Sluice__V1__Alert none = SLUICE__V1__ALERT__INIT;
	const Sluice__V1__Alert *al = a->alert ? a->alert : &none;
	json_t *o = json_object(), *metrics, *top, *cons;

	/* json_object_set_new takes its value even when it fails: each part is o's at once. */
	if (!o || !put(o, "id", json_integer(a->id)) || !put(o, "node_id", json_string(a->node_id)) ||
	    !put(o, "type", json_string(al->type)) ||
	    !put(o, "severity", json_string(cli_render__severity_name(al->severity))) ||
	    !put(o, "subject", json_string(al->subject)) || !put(o, "summary", json_string(al->summary)) ||
	    !put(o, "count", json_integer((json_int_t)al->count)) ||
	    !put(o, "first_seen", jtime(al->first_seen_unix_ms / 1000)) ||
	    !put(o, "last_seen", jtime(al->last_seen_unix_ms / 1000)) ||
	    !put(o, "first_seen_ms", json_integer(al->first_seen_unix_ms)) ||
	    !put(o, "last_seen_ms", json_integer(al->last_seen_unix_ms)) || !put(o, "acked", json_boolean(a->acked)) ||
	    !put(o, "acked_by", json_string(a->acked_by)) || !put(o, "acked_at", jtime(a->acked_unix)) ||
	    !put(o, "metrics", metrics = json_object()) || !put(o, "baseline", baseline_json(al->baseline)) ||
	    !put(o, "top_sources", top = json_array()) || !put(o, "consumers", cons = json_array()) ||
	    !put(o, "mitigation", mitigation_json(al->mitigation)))
		goto fail;
	for (size_t i = 0; i < al->n_metrics; i++)
		if (!put(metrics, al->metrics[i]->name, json_real(al->metrics[i]->value)))
			goto fail;
	for (size_t i = 0; i < al->n_top_sources; i++) {
		json_t *s = json_object();

		if (json_array_append_new(top, s) || !put(s, "addr", json_string(al->top_sources[i]->addr)) ||
		    !put(s, "value", json_real(al->top_sources[i]->value)))
			goto fail;
	}
	for (size_t i = 0; i < al->n_consumers; i++)
		if (json_array_append_new(cons, json_string(al->consumers[i])))
			goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *cli_render__usage_json(const Sluice__V1__ApiUsageRow *r)
{
	json_t *o = json_object();

	if (!o || !put(o, "api", json_string(r->api)) || !put(o, "method", json_string(r->method)) ||
	    !put(o, "path_prefix", json_string(r->path_prefix)) || !put(o, "consumer", json_string(r->consumer)) ||
	    !put(o, "requests", json_integer((json_int_t)r->requests)) ||
	    !put(o, "samples", json_integer((json_int_t)r->samples)) || !put(o, "host", json_string(r->host)) ||
	    !put(o, "deprecated", json_boolean(r->deprecated)) || !put(o, "plaintext", json_boolean(r->plaintext)) ||
	    !put(o, "first", jtime(r->first_unix)) || !put(o, "last", jtime(r->last_unix)) ||
	    !put(o, "nodes", json_integer(r->nodes))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void cli_render__alerts_table(Sluice__V1__AlertInfo *const *a, size_t n, int64_t now, bool wide, bool header,
			      FILE *out)
{
	static const char *const narrow_h[] = { "ID", "LAST-SEEN", "NODE", "SEVERITY", "TYPE", "SUBJECT", "COUNT", "SUMMARY" };
	static const char *const wide_h[] = { "ID",	"LAST-SEEN", "NODE",	   "SEVERITY", "TYPE",	   "SUBJECT",
					      "COUNT",	"FIRST-SEEN", "MITIGATION", "ACKED-BY", "SUMMARY" };
	struct cli_table *t = wide ? cli_table__new(11, wide_h) : cli_table__new(8, narrow_h);

	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		static const Sluice__V1__Alert none = SLUICE__V1__ALERT__INIT;
		const Sluice__V1__Alert *al = a[i]->alert ? a[i]->alert : &none;
		char id[24], last[16], first[40], count[16], mit[160] = "-";
		const char *sev = cli_render__severity_name(al->severity);

		snprintf(id, sizeof(id), "%lld", (long long)a[i]->id);
		cli_fmt__since(al->last_seen_unix_ms / 1000, now, last, sizeof(last));
		cli_fmt__time(al->first_seen_unix_ms / 1000, first, sizeof(first));
		snprintf(count, sizeof(count), "%llu", (unsigned long long)al->count);
		if (al->mitigation && al->mitigation->rule[0])
			snprintf(mit, sizeof(mit), "%s %s (%s)", al->mitigation->rule, al->mitigation->match,
				 al->mitigation->active ? "active" : al->mitigation->error[0] ? al->mitigation->error : "removed");
		if (wide) {
			const char *row[] = { id,   last,	 a[i]->node_id, sev, al->type, al->subject, count,
					      first, mit, a[i]->acked ? a[i]->acked_by : "-", al->summary };

			cli_table__add(t, row);
		} else {
			const char *row[] = { id, last, a[i]->node_id, sev, al->type, al->subject, count, al->summary };

			cli_table__add(t, row);
		}
	}
	if (header) {
		cli_table__print(t, out, NULL);
	} else {
		/* Follow mode: rows only, each as the table would lay it out alone. */
		char *buf = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&buf, &len);

		if (mem) {
			cli_table__print(t, mem, NULL);
			fclose(mem);
			fputs(strchr(buf, '\n') ? strchr(buf, '\n') + 1 : "", out);
		}
		free(buf);
	}
	cli_table__free(t);
}

void cli_render__usage_table(Sluice__V1__ApiUsageRow *const *r, size_t n, double secs, bool wide, FILE *out)
{
	static const char *const narrow_h[] = { "API", "METHOD", "PATH", "CONSUMER", "REQUESTS", "RATE", "NOTE" };
	static const char *const wide_h[] = { "API",  "METHOD", "PATH",	   "CONSUMER", "REQUESTS",
					      "RATE", "NOTE",	"HOST",	   "SAMPLES",  "NODES" };
	struct cli_table *t = wide ? cli_table__new(10, wide_h) : cli_table__new(7, narrow_h);

	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		char req[16], rate[24], samples[16], nodes[12], note[40];

		cli_fmt__count(r[i]->requests, req, sizeof(req));
		cli_fmt__rate(secs > 0 ? (double)r[i]->requests / secs : -1, "", rate, sizeof(rate));
		cli_fmt__count(r[i]->samples, samples, sizeof(samples));
		snprintf(nodes, sizeof(nodes), "%u", r[i]->nodes);
		snprintf(note, sizeof(note), "%s%s%s", r[i]->deprecated ? "DEPRECATED" : "",
			 r[i]->deprecated && r[i]->plaintext ? "," : "", r[i]->plaintext ? "PLAINTEXT" : "");
		if (wide) {
			const char *row[] = { r[i]->api, r[i]->method[0] ? r[i]->method : "-",
					      r[i]->path_prefix[0] ? r[i]->path_prefix : "-", r[i]->consumer, req, rate,
					      note[0] ? note : "-", r[i]->host[0] ? r[i]->host : "-", samples, nodes };

			cli_table__add(t, row);
		} else {
			const char *row[] = { r[i]->api, r[i]->method[0] ? r[i]->method : "-",
					      r[i]->path_prefix[0] ? r[i]->path_prefix : "-", r[i]->consumer, req, rate,
					      note[0] ? note : "-" };

			cli_table__add(t, row);
		}
	}
	cli_table__print(t, out, NULL);
	cli_table__free(t);
}
