// SPDX-License-Identifier: Apache-2.0
/*
 * telemetry.c — see telemetry.h. Watchers are a short list (operators with
 * `sluicectl alerts --watch` open); a watcher whose send queue backs up is skipped for
 * that alert rather than buffering without bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "telemetry.h"

#define PRUNE_EVERY_S 600
#define WATCH_QUEUE_MAX 256 /* alerts queued on one watch stream before it is skipped */

struct watcher {
	struct rpc_stream *s;
	Sluice__V1__ListAlertsRequest *filter; /* unpacked copy */
	struct watcher *next;
};

struct telemetry {
	struct store *st;
	struct watcher *watchers;
	int64_t pruned;
};

struct telemetry *telemetry__new(struct store *st)
{
	struct telemetry *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->st = st;
	return t;
}

void telemetry__free(struct telemetry *t)
{
	if (!t)
		return;
	while (t->watchers)
		telemetry__unwatch(t, t->watchers->s);
	free(t);
}

/* ---- alerts ------------------------------------------------------------------------------- */

void telemetry__alert_info(const struct store_alert *a, Sluice__V1__AlertInfo *out, Sluice__V1__Alert **alert)
{
	sluice__v1__alert_info__init(out);
	*alert = sluice__v1__alert__unpack(NULL, a->alert_len, a->alert);
	out->id = a->id;
	out->node_id = a->node_id;
	out->alert = *alert;
	out->acked = a->acked;
	out->acked_by = a->acked_by;
	out->acked_unix = a->acked_at;
	out->received_unix = a->received;
}

bool telemetry__matches(const Sluice__V1__ListAlertsRequest *f, const struct store_alert *a)
{
	if (!f)
		return true;
	return (f->include_acked || !a->acked) && a->last_seen_ms >= f->since_unix * 1000 &&
	       (!f->node_id[0] || strcmp(f->node_id, a->node_id) == 0) && (!f->type[0] || strcmp(f->type, a->type) == 0);
}

void telemetry__notify(struct telemetry *t, const struct store_alert *a)
{
	Sluice__V1__AlertInfo info;
	Sluice__V1__Alert *alert = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	for (struct watcher *w = t->watchers; w; w = w->next) {
		if (!telemetry__matches(w->filter, a))
			continue;
		if (!buf) {
			telemetry__alert_info(a, &info, &alert);
			len = sluice__v1__alert_info__get_packed_size(&info);
			buf = malloc(len ? len : 1);
			if (!buf)
				break;
			sluice__v1__alert_info__pack(&info, buf);
		}
		if (rpc_stream__queued(w->s) >= WATCH_QUEUE_MAX) {
			pr_debug("alert watch stream is not reading; skipping alert %lld for it", (long long)a->id);
			continue;
		}
		rpc_stream__send(w->s, buf, len);
	}
	free(buf);
	if (alert)
		sluice__v1__alert__free_unpacked(alert, NULL);
}

int telemetry__watch(struct telemetry *t, struct rpc_stream *s, const Sluice__V1__ListAlertsRequest *f)
{
	struct watcher *w = calloc(1, sizeof(*w));
	Sluice__V1__ListAlertsRequest empty = SLUICE__V1__LIST_ALERTS_REQUEST__INIT;
	size_t len;
	uint8_t *buf;

	if (!w)
		return -ENOMEM;
	f = f ? f : &empty;
	len = sluice__v1__list_alerts_request__get_packed_size(f);
	buf = malloc(len ? len : 1);
	if (buf) {
		sluice__v1__list_alerts_request__pack(f, buf);
		w->filter = sluice__v1__list_alerts_request__unpack(NULL, len, buf);
	}
	free(buf);
	if (!w->filter) {
		free(w);
		return -ENOMEM;
	}
	w->s = s;
	w->next = t->watchers;
	t->watchers = w;
	return 0;
}

void telemetry__unwatch(struct telemetry *t, struct rpc_stream *s)
{
	for (struct watcher **pp = &t->watchers; *pp; pp = &(*pp)->next) {
		struct watcher *w = *pp;

		if (w->s != s)
			continue;
		*pp = w->next;
		sluice__v1__list_alerts_request__free_unpacked(w->filter, NULL);
		free(w);
		return;
	}
}

/* A key for the audit row of a mitigation change, so a repeated update writes it once. */
static void mitigation_key(const char *node, uint64_t alert_id, const Sluice__V1__AlertMitigation *m,
			   char key[STORE_KEY_LEN])
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
	char text[512];
	int n = snprintf(text, sizeof(text), "%s|%llu|%s|%d", node, (unsigned long long)alert_id, m->rule, m->active);

	for (int i = 0; i < n && i < (int)sizeof(text); i++) {
		h1 = (h1 ^ (uint8_t)text[i]) * 0x100000001b3ULL;
		h2 = (h2 ^ (uint8_t)text[i]) * 0x100000001b3ULL + 0x9E3779B97F4A7C15ULL;
	}
	snprintf(key, STORE_KEY_LEN, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

static void on_alert(struct telemetry *t, const char *node, const Sluice__V1__Alert *al)
{
	struct store_alert_new in = { 0 };
	struct store_audit_new aud = { 0 };
	const Sluice__V1__AlertMitigation *mit = al->mitigation;
	char key[STORE_KEY_LEN], who[300], object[200], detail[300];
	struct store_alert stored;
	uint8_t *blob;
	size_t len = sluice__v1__alert__get_packed_size(al);
	int64_t id = 0;
	bool created;
	int err;

	blob = malloc(len ? len : 1);
	if (!blob)
		return;
	sluice__v1__alert__pack(al, blob);
	in.node_id = node;
	in.agent_alert_id = al->id;
	in.type = al->type;
	in.severity = al->severity;
	in.subject = al->subject;
	in.first_seen_ms = al->first_seen_unix_ms;
	in.last_seen_ms = al->last_seen_unix_ms;
	in.count = al->count;
	in.received = time(NULL);
	in.alert = blob;
	in.alert_len = len;
	if (mit && mit->rule[0] && !mit->error[0]) {
		/* A temporary rule an agent added or removed is a change to what it enforces. */
		snprintf(who, sizeof(who), "agent:%s", node);
		snprintf(object, sizeof(object), "mitigation %s on %s", mit->rule, node);
		snprintf(detail, sizeof(detail), "%s %s (alert %s %s), until %lld", mit->active ? "added" : "removed",
			 mit->match, al->type, al->subject, (long long)mit->expires_unix);
		mitigation_key(node, al->id, mit, key);
		aud.op_key = key;
		aud.time = in.received;
		aud.who = who;
		aud.action = mit->active ? "mitigate" : "mitigate-expire";
		aud.object = object;
		aud.detail = detail;
	}
	err = store__alert_put(t->st, &in, aud.op_key ? &aud : NULL, &id, &created);
	free(blob);
	if (err) {
		pr_warn("agent '%s': alert %s could not be stored: %s", node, al->type, strerror(-err));
		return;
	}
	if (created)
		pr_info("agent '%s': alert %s (%s): %s", node, al->type, al->subject, al->summary);
	if (t->watchers && store__alert_get(t->st, id, &stored) == 0) {
		telemetry__notify(t, &stored);
		store_alert__clear(&stored);
	}
}

/* ---- API usage and baselines ----------------------------------------------------------------- */

static void on_usage(struct telemetry *t, const char *node, const Sluice__V1__ApiUsage *u)
{
	struct store_usage_row *rows = calloc(u->n_entries + 1, sizeof(*rows));
	int err;

	if (!rows)
		return;
	for (size_t i = 0; i < u->n_entries; i++) {
		const Sluice__V1__ApiUsageEntry *e = u->entries[i];

		rows[i] = (struct store_usage_row){ e->api,	 e->method,   e->path_prefix, e->consumer, e->host,
						    e->requests, e->samples, e->deprecated,  e->plaintext };
	}
	err = store__usage_put(t->st, node, u->start_unix_ms, u->end_unix_ms, rows, u->n_entries);
	if (err)
		pr_warn("agent '%s': API usage could not be stored: %s", node, strerror(-err));
	if (u->lost)
		pr_debug("agent '%s': %llu samples lost in the kernel (ring buffer full)", node,
			 (unsigned long long)u->lost);
	free(rows);
}

static void on_baselines(struct telemetry *t, const char *node, const Sluice__V1__Baselines *b)
{
	size_t len = sluice__v1__baselines__get_packed_size(b);
	uint8_t *blob = malloc(len ? len : 1);
	int err;

	if (!blob)
		return;
	sluice__v1__baselines__pack(b, blob);
	err = store__baselines_put(t->st, node, time(NULL), blob, len);
	if (err)
		pr_warn("agent '%s': baselines could not be stored: %s", node, strerror(-err));
	free(blob);
}

static void on_message(void *ctx, const char *node, const Sluice__V1__AgentMessage *m)
{
	struct telemetry *t = ctx;

	if (m->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_ALERT && m->alert)
		on_alert(t, node, m->alert);
	else if (m->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_API_USAGE && m->api_usage)
		on_usage(t, node, m->api_usage);
	else if (m->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_BASELINES && m->baselines)
		on_baselines(t, node, m->baselines);
}

/* After Hello: the node's stored history, so its detectors do not start from nothing. */
static void on_hello(void *ctx, const char *node, struct rpc_stream *s)
{
	struct telemetry *t = ctx;
	Sluice__V1__ControllerMessage cm = SLUICE__V1__CONTROLLER_MESSAGE__INIT;
	Sluice__V1__Baselines *b;
	uint8_t *blob = NULL, *buf;
	size_t len = 0;

	if (store__baselines_get(t->st, node, &blob, &len) != 0)
		return;
	b = sluice__v1__baselines__unpack(NULL, len, blob);
	free(blob);
	if (!b)
		return;
	cm.msg_case = SLUICE__V1__CONTROLLER_MESSAGE__MSG_BASELINES;
	cm.baselines = b;
	len = sluice__v1__controller_message__get_packed_size(&cm);
	buf = malloc(len ? len : 1);
	if (buf) {
		sluice__v1__controller_message__pack(&cm, buf);
		if (rpc_stream__send(s, buf, len) == 0)
			pr_debug("agent '%s': sent its stored baselines (%zu features)", node, b->n_features);
	}
	free(buf);
	sluice__v1__baselines__free_unpacked(b, NULL);
}

void telemetry__attach(struct telemetry *t, struct registry *reg)
{
	registry__set_telemetry(reg, &(struct registry_telemetry){ on_message, on_hello, t });
}

void telemetry__tick(struct telemetry *t)
{
	int64_t now = time(NULL);

	if (now - t->pruned < PRUNE_EVERY_S)
		return;
	t->pruned = now;
	if (store__monitor_prune(t->st, (now - TELEMETRY_USAGE_KEEP_S) * 1000, (now - TELEMETRY_ALERTS_KEEP_S) * 1000))
		pr_debug("telemetry: pruning old API usage and alerts failed");
}
