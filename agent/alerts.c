// SPDX-License-Identifier: Apache-2.0
/*
 * alerts.c — see alerts.h. Open alerts live in a fixed array searched by (kind,
 * subject): detections per interval are few, and the detectors cap how many they raise.
 * Messages are built on the stack from an alert's newest detection and its counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alerts.h"

#define MIT_TEXT 96

struct alert {
	bool used;
	bool dirty;     /* changed since it was last sent */
	uint64_t id;
	struct alert_event ev; /* the newest detection */
	int64_t first_ms, last_ms, sent_ms;
	uint64_t count;
	bool has_mit;
	Sluice__V1__AlertMitigation mit; /* its strings point into the arrays below */
	char mit_rule[ALERT_RULE_MAX], mit_match[MIT_TEXT], mit_error[MIT_TEXT];
};

struct alerts {
	struct alerts_opts o;
	alerts_send_fn send;
	void *ctx;
	struct alert *v;
	uint64_t rng;
};

static const char *const kind_names[ALERT_KINDS] = {
	[ALERT_PORT_SCAN] = "port_scan",	   [ALERT_SLOW_SCAN] = "slow_scan",
	[ALERT_SYN_FLOOD] = "syn_flood",	   [ALERT_VOLUME] = "volume_spike",
	[ALERT_NEW_TALKER] = "new_talker",	   [ALERT_DEPRECATED_API] = "deprecated_api",
	[ALERT_PLAINTEXT] = "plaintext_to_tls_only",
};

const char *alerts__kind_name(enum alert_kind k)
{
	return (unsigned)k < ALERT_KINDS ? kind_names[k] : "unknown";
}

void alerts__addr_str(const struct alert_addr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->addr, tmp, sizeof(tmp)))
		snprintf(tmp, sizeof(tmp), "?");
	snprintf(buf, len, "%s", tmp);
}

void alert_event__metric(struct alert_event *e, const char *name, double value)
{
	if (e->n_metrics < ALERT_MAX_METRICS) {
		e->metrics[e->n_metrics].name = name;
		e->metrics[e->n_metrics].value = value;
		e->n_metrics++;
	}
}

struct alerts *alerts__new(const struct alerts_opts *o, alerts_send_fn send, void *ctx)
{
	struct alerts *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (o)
		a->o = *o;
	if (a->o.resend_ms <= 0)
		a->o.resend_ms = 10000;
	if (a->o.quiet_ms <= 0)
		a->o.quiet_ms = 60000;
	if (a->o.max == 0)
		a->o.max = 1024;
	a->send = send;
	a->ctx = ctx;
	a->v = calloc(a->o.max, sizeof(*a->v));
	if (!a->v) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	if (getrandom(&a->rng, sizeof(a->rng), GRND_NONBLOCK) != sizeof(a->rng) || a->rng == 0)
		a->rng = (uint64_t)time(NULL) ^ 0x9E3779B97F4A7C15ULL;
	return a;
}

void alerts__free(struct alerts *a)
{
	if (!a)
		return;
	free(a->v);
	free(a);
}

/* A fresh non-zero id: alerts of every agent land in one table, keyed by node and id. */
static uint64_t new_id(struct alerts *a)
{
	uint64_t x;

	do {
		a->rng ^= a->rng >> 12;
		a->rng ^= a->rng << 25;
		a->rng ^= a->rng >> 27;
		x = (a->rng * 0x2545F4914F6CDD1DULL) >> 1; /* positive as a signed 64-bit number */
	} while (x == 0);
	return x;
}

static struct alert *find(struct alerts *a, enum alert_kind k, const char *subject)
{
	for (size_t i = 0; i < a->o.max; i++) {
		if (a->v[i].used && a->v[i].ev.kind == k && strcmp(a->v[i].ev.subject, subject) == 0)
			return &a->v[i];
	}
	return NULL;
}

/* A free slot, or the one that fired longest ago. */
static struct alert *slot(struct alerts *a)
{
	struct alert *oldest = &a->v[0];

	for (size_t i = 0; i < a->o.max; i++) {
		if (!a->v[i].used)
			return &a->v[i];
		if (a->v[i].last_ms < oldest->last_ms)
			oldest = &a->v[i];
	}
	return oldest;
}

uint64_t alerts__raise(struct alerts *a, const struct alert_event *e, int64_t now_ms, bool *opened)
{
	struct alert *al = find(a, e->kind, e->subject);

	*opened = !al;
	if (!al) {
		al = slot(a);
		memset(al, 0, sizeof(*al));
		al->used = true;
		al->id = new_id(a);
		al->first_ms = now_ms;
	}
	al->ev = *e;
	al->last_ms = now_ms;
	al->count++;
	al->dirty = true;
	return al->id;
}

void alerts__set_mitigation(struct alerts *a, uint64_t id, const Sluice__V1__AlertMitigation *m)
{
	for (size_t i = 0; i < a->o.max; i++) {
		struct alert *al = &a->v[i];

		if (!al->used || al->id != id)
			continue;
		al->mit = *m;
		snprintf(al->mit_rule, sizeof(al->mit_rule), "%s", m->rule ? m->rule : "");
		snprintf(al->mit_match, sizeof(al->mit_match), "%s", m->match ? m->match : "");
		snprintf(al->mit_error, sizeof(al->mit_error), "%s", m->error ? m->error : "");
		al->mit.rule = al->mit_rule;
		al->mit.match = al->mit_match;
		al->mit.error = al->mit_error;
		al->has_mit = true;
		al->dirty = true;
		al->sent_ms = 0; /* a mitigation is news: send it with the next flush */
		return;
	}
}

static void send_alert(struct alerts *a, struct alert *al)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Alert msg = SLUICE__V1__ALERT__INIT;
	Sluice__V1__AlertMetric metrics[ALERT_MAX_METRICS], *mp[ALERT_MAX_METRICS];
	Sluice__V1__AlertSource srcs[ALERT_MAX_TOP], *sp[ALERT_MAX_TOP];
	Sluice__V1__AlertBaseline bl = SLUICE__V1__ALERT_BASELINE__INIT;
	char addrs[ALERT_MAX_TOP][48], *consumers[ALERT_MAX_TOP];
	const struct alert_event *e = &al->ev;

	msg.id = al->id;
	msg.type = (char *)alerts__kind_name(e->kind);
	msg.severity = (Sluice__V1__AlertSeverity)e->severity;
	msg.subject = (char *)e->subject;
	msg.summary = (char *)e->summary;
	for (size_t i = 0; i < e->n_metrics; i++) {
		sluice__v1__alert_metric__init(&metrics[i]);
		metrics[i].name = (char *)e->metrics[i].name;
		metrics[i].value = e->metrics[i].value;
		mp[i] = &metrics[i];
	}
	msg.n_metrics = e->n_metrics;
	msg.metrics = mp;
	if (e->has_baseline) {
		bl.feature = (char *)e->feature;
		bl.mean = e->mean;
		bl.stddev = e->stddev;
		bl.samples = e->samples;
		bl.hour = e->hour;
		bl.threshold = e->threshold;
		msg.baseline = &bl;
	}
	for (size_t i = 0; i < e->n_top; i++) {
		sluice__v1__alert_source__init(&srcs[i]);
		alerts__addr_str(&e->top[i].a, addrs[i], sizeof(addrs[i]));
		srcs[i].addr = addrs[i];
		srcs[i].value = e->top[i].value;
		sp[i] = &srcs[i];
		consumers[i] = addrs[i];
	}
	msg.n_top_sources = e->n_top;
	msg.top_sources = sp;
	if (e->top_are_consumers) {
		msg.n_consumers = e->n_top;
		msg.consumers = consumers;
	}
	msg.first_seen_unix_ms = al->first_ms;
	msg.last_seen_unix_ms = al->last_ms;
	msg.count = al->count;
	if (al->has_mit)
		msg.mitigation = &al->mit;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_ALERT;
	m.alert = &msg;
	if (a->send)
		a->send(a->ctx, &m);
}

void alerts__flush(struct alerts *a, int64_t now_ms)
{
	for (size_t i = 0; i < a->o.max; i++) {
		struct alert *al = &a->v[i];

		if (!al->used)
			continue;
		if (al->dirty && (al->sent_ms == 0 || now_ms - al->sent_ms >= a->o.resend_ms)) {
			send_alert(a, al);
			al->sent_ms = now_ms;
			al->dirty = false;
		}
		/* An alert whose mitigation rule is live stays open until the rule goes, so the
		 * controller hears of its removal. */
		if (now_ms - al->last_ms >= a->o.quiet_ms && !(al->has_mit && al->mit.active)) {
			if (al->dirty)
				send_alert(a, al); /* its last detections were not reported yet */
			al->used = false;
		}
	}
}

size_t alerts__open_count(const struct alerts *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->o.max; i++)
		n += a->v[i].used;
	return n;
}
