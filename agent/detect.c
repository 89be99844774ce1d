// SPDX-License-Identifier: Apache-2.0
/*
 * detect.c — see detect.h: the settings and their defaults, one pass per interval over
 * the sources (scans, new talkers) and the totals (floods), the learning of baselines,
 * the API violations gathered from samples, and the export/import of what was learned.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "baseline.h"
#include "detect.h"
#include "detect_int.h"

#define MAX_NEW_TALKER_ALERTS 5 /* per interval; the rest are summed in one alert */
#define MAX_VIOLATIONS 64       /* distinct (kind, API, prefix) per interval */
#define MAX_CONSUMERS 32        /* consumers kept per violation */
#define MAX_EXPORT_TALKERS 16384
#define API_NAME_MAX 64
#define COLD_SYN 5     /* before a baseline: SYN floods of 5 x the floor (1000/s by default) */
#define COLD_VOLUME 20 /* and volume spikes of 20 x the floor (10000 packets/s) */
#define WHAT_MAX 96

enum feature { F_PPS, F_SYN, F_SRC_FAST, F_SRC_SLOW, F_COUNT };

static const char *const feature_names[F_COUNT] = { "pps", "syn_per_s", "src_ports_fast", "src_ports_slow" };

struct violation {
	enum alert_kind kind;
	char api[API_NAME_MAX];
	char what[WHAT_MAX];
	uint64_t requests;
	struct {
		struct alert_addr a;
		uint64_t requests;
	} consumers[MAX_CONSUMERS];
	size_t n_consumers;
	uint64_t more_consumers; /* distinct consumers beyond MAX_CONSUMERS (upper bound) */
};

struct detect {
	struct detect_opts o;
	struct baseline b[F_COUNT];
	struct src_table srcs;
	struct talker_set talkers;
	int64_t started_ms;
	int64_t swept_ms;
	bool seeded;      /* history named talkers: no learning period */
	unsigned vol_streak;
	struct violation viol[MAX_VIOLATIONS];
	size_t n_viol;
};

/* What a feature's value is judged against. */
struct judge {
	bool learned;
	double mean, stddev, thr;
	uint64_t n;
	int slot;
};

/* ---- settings ------------------------------------------------------------------------- */

static const struct detect_settings defaults[ALERT_KINDS] = {
	[ALERT_PORT_SCAN] = { true, 6, 20, 2, SLUICE__V1__ALERT_SEVERITY__SEVERITY_HIGH },
	[ALERT_SLOW_SCAN] = { true, 4, 8, 60, SLUICE__V1__ALERT_SEVERITY__SEVERITY_MEDIUM },
	[ALERT_SYN_FLOOD] = { true, 6, 200, 1, SLUICE__V1__ALERT_SEVERITY__SEVERITY_CRITICAL },
	[ALERT_VOLUME] = { true, 6, 500, 2, SLUICE__V1__ALERT_SEVERITY__SEVERITY_HIGH },
	[ALERT_NEW_TALKER] = { true, 0, 10, 60, SLUICE__V1__ALERT_SEVERITY__SEVERITY_INFO },
	[ALERT_DEPRECATED_API] = { true, 0, 1, 1, SLUICE__V1__ALERT_SEVERITY__SEVERITY_LOW },
	[ALERT_PLAINTEXT] = { true, 0, 1, 1, SLUICE__V1__ALERT_SEVERITY__SEVERITY_MEDIUM },
};

static void settings_from(const Sluice__V1__DetectorSettings *p, struct detect_settings *s)
{
	if (!p)
		return;
	s->enabled = !p->disabled;
	if (p->sigma > 0)
		s->sigma = p->sigma;
	if (p->min > 0)
		s->min = p->min;
	if (p->window_seconds > 0)
		s->window_s = p->window_seconds;
	if (p->severity != SLUICE__V1__ALERT_SEVERITY__SEVERITY_UNSET)
		s->severity = p->severity;
	if (p->mitigate) {
		s->mitigate = true;
		s->mit_action = p->mitigate->action == SLUICE__V1__ACTION__ACTION_RATE_LIMIT ? p->mitigate->action
											    : SLUICE__V1__ACTION__ACTION_DROP;
		s->mit_pps = p->mitigate->pps;
		s->mit_ttl_s = p->mitigate->ttl_seconds ? p->mitigate->ttl_seconds : 300;
	}
}

void detect__config(const Sluice__V1__Detectors *d, struct detect_config *out)
{
	memcpy(out->k, defaults, sizeof(defaults));
	if (!d)
		return;
	settings_from(d->port_scan, &out->k[ALERT_PORT_SCAN]);
	settings_from(d->slow_scan, &out->k[ALERT_SLOW_SCAN]);
	settings_from(d->syn_flood, &out->k[ALERT_SYN_FLOOD]);
	settings_from(d->volume, &out->k[ALERT_VOLUME]);
	settings_from(d->new_talker, &out->k[ALERT_NEW_TALKER]);
	settings_from(d->deprecated_api, &out->k[ALERT_DEPRECATED_API]);
	settings_from(d->plaintext, &out->k[ALERT_PLAINTEXT]);
}

/* ---- lifetime ---------------------------------------------------------------------------- */

struct detect *detect__new(const struct detect_opts *o)
{
	struct detect *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (o)
		d->o = *o;
	if (d->o.alpha <= 0 || d->o.alpha >= 1)
		d->o.alpha = 1.0 / 3600;
	if (d->o.min_n == 0)
		d->o.min_n = 30;
	if (d->o.max_sources == 0)
		d->o.max_sources = 8192;
	if (d->o.max_talkers == 0)
		d->o.max_talkers = 65536;
	if (detect_src__init(&d->srcs, d->o.max_sources) || detect_talkers__init(&d->talkers, d->o.max_talkers)) {
		detect__free(d);
		errno = ENOMEM;
		return NULL;
	}
	return d;
}

void detect__free(struct detect *d)
{
	if (!d)
		return;
	detect_src__fini(&d->srcs);
	detect_talkers__fini(&d->talkers);
	free(d);
}

bool detect__learning(const struct detect *d, int64_t unix_ms)
{
	uint32_t learn = d->o.learn_s ? d->o.learn_s : defaults[ALERT_NEW_TALKER].window_s;

	return !d->seeded && (d->started_ms == 0 || unix_ms - d->started_ms < (int64_t)learn * 1000);
}

/* ---- helpers ------------------------------------------------------------------------------- */

/*
 * The threshold for feature f: from its baseline once learned (never below floor), else
 * floor * cold: a node without history yet judges only what is far beyond any default.
 */
static struct judge judge(const struct detect *d, enum feature f, int hour, const struct detect_settings *s,
			  double floor, double cold)
{
	struct judge j = { .thr = floor * cold, .slot = -1 };

	j.learned = baseline__get(&d->b[f], hour, d->o.min_n, &j.mean, &j.stddev, &j.n, &j.slot);
	if (j.learned)
		j.thr = baseline__threshold(j.mean, j.stddev, s->sigma, floor);
	return j;
}

/*
 * Learns x for feature f, clipped at half the alerting margin above what is normal so
 * far: a value creeping up towards an alert (a scan that has not crossed yet) moves the
 * baseline only a little, while a lasting change in normal traffic is still followed.
 */
static void learn(struct detect *d, enum feature f, int hour, double x, double sigma)
{
	double mean, sd;
	uint64_t n;
	int slot;

	if (baseline__get(&d->b[f], hour, d->o.min_n, &mean, &sd, &n, &slot)) {
		double gate = baseline__threshold(mean, sd, sigma / 2, 0);

		if (x > gate)
			x = gate;
	}
	baseline__update(&d->b[f], hour, x, d->o.alpha);
}

/* "baseline 12.0 +- 3.1, threshold 200" or "no baseline yet, threshold 1000". */
static void baseline_text(const struct judge *j, char *buf, size_t len)
{
	if (j->learned)
		snprintf(buf, len, "baseline %.1f +- %.1f, threshold %.0f", j->mean, j->stddev, j->thr);
	else
		snprintf(buf, len, "no baseline yet, threshold %.0f", j->thr);
}

static void event_init(struct alert_event *e, enum alert_kind k, const struct detect_settings *s)
{
	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->severity = s->severity;
	e->hour = -1;
}

static void event_baseline(struct alert_event *e, enum feature f, const struct judge *j)
{
	e->feature = feature_names[f];
	e->threshold = j->thr;
	if (!j->learned)
		return; /* the floor alone: no baseline to show */
	e->has_baseline = true;
	e->mean = j->mean;
	e->stddev = j->stddev;
	e->samples = j->n;
	e->hour = j->slot;
}

static void rotate(uint64_t win[2][SL_AGG_PORT_WORDS], int64_t *start, int64_t len_ms, int64_t now)
{
	if (*start == 0 || now - *start >= 2 * len_ms) {
		memset(win, 0, 2 * sizeof(win[0]));
		*start = now;
	} else if (now - *start >= len_ms) {
		memcpy(win[0], win[1], sizeof(win[0]));
		memset(win[1], 0, sizeof(win[1]));
		*start += len_ms;
	}
}

static double union_ports(uint64_t win[2][SL_AGG_PORT_WORDS])
{
	uint64_t u[SL_AGG_PORT_WORDS];

	memcpy(u, win[0], sizeof(u));
	agg__merge_ports(u, win[1]);
	return agg__distinct_ports(u);
}

static bool any_ports(const struct agg_source *s)
{
	for (int w = 0; w < SL_AGG_PORT_WORDS; w++)
		if (s->ports[w])
			return true;
	return false;
}

/* Keeps e->top as the ALERT_MAX_TOP largest values seen, largest first. */
static void top_insert(struct alert_event *e, const struct alert_addr *a, double val)
{
	size_t k = e->n_top;

	if (val <= 0 || (k == ALERT_MAX_TOP && val <= e->top[k - 1].value))
		return;
	if (k < ALERT_MAX_TOP)
		e->n_top++;
	else
		k--;
	while (k > 0 && e->top[k - 1].value < val) {
		e->top[k] = e->top[k - 1];
		k--;
	}
	e->top[k].a = *a;
	e->top[k].value = val;
}

/* The largest sources of v by key, into e->top (value = key / secs). */
static void top_sources(struct alert_event *e, const struct agg_source *v, size_t n, double secs,
			uint64_t (*key)(const struct agg_source *))
{
	for (size_t i = 0; i < n; i++) {
		struct alert_addr a = { .family = v[i].family };

		memcpy(a.addr, v[i].addr, 16);
		top_insert(e, &a, (double)key(&v[i]) / secs);
	}
}

static uint64_t key_syns(const struct agg_source *s)
{
	return s->syns;
}

/* Packets of established traffic: handshakes and resets (a flood and its backscatter)
 * are the SYN flood detector's. */
static uint64_t key_packets(const struct agg_source *s)
{
	uint64_t hs = s->syns + s->synacks + s->rsts;

	return s->packets > hs ? s->packets - hs : 0;
}

/* ---- the detectors -------------------------------------------------------------------------- */

static void scan_event(struct detect *d, const struct detect_settings *s, enum alert_kind k,
		       const struct agg_source *src, const struct alert_addr *a, double ports, const struct judge *j,
		       detect_sink sink, void *ctx)
{
	struct alert_event e;
	char addr[48];

	event_init(&e, k, s);
	alerts__addr_str(a, addr, sizeof(addr));
	snprintf(e.subject, sizeof(e.subject), "%s", addr);
	snprintf(e.summary, sizeof(e.summary), "%s: %s tried %.0f distinct ports within %u s (threshold %.0f)",
		 k == ALERT_PORT_SCAN ? "port scan" : "slow port scan", addr, ports, s->window_s, j->thr);
	alert_event__metric(&e, "distinct_ports", ports);
	alert_event__metric(&e, "window_s", s->window_s);
	alert_event__metric(&e, "syns", (double)src->syns);
	alert_event__metric(&e, "packets", (double)src->packets);
	event_baseline(&e, k == ALERT_PORT_SCAN ? F_SRC_FAST : F_SRC_SLOW, j);
	e.top[0].a = *a;
	e.top[0].value = ports;
	e.n_top = 1;
	e.mitigable = true;
	e.offender = *a;
	sink(ctx, &e);
}

/* Scans and new talkers, source by source. Returns the largest port counts of the
 * sources that were not reported, for the baselines. */
static void per_source(struct detect *d, const struct detect_config *cfg, int64_t now, int hour,
		       const struct agg_source *srcs, size_t n, double *max_fast, double *max_slow, detect_sink sink,
		       void *ctx)
{
	const struct detect_settings *fs = &cfg->k[ALERT_PORT_SCAN], *ss = &cfg->k[ALERT_SLOW_SCAN],
				     *ts = &cfg->k[ALERT_NEW_TALKER];
	struct judge jf = judge(d, F_SRC_FAST, hour, fs, fs->min, 1), js = judge(d, F_SRC_SLOW, hour, ss, ss->min, 1);
	int64_t fast_ms = (int64_t)fs->window_s * 1000, slow_ms = (int64_t)ss->window_s * 1000;
	bool learning = detect__learning(d, now);
	size_t new_alerts = 0, new_more = 0;

	*max_fast = *max_slow = 0;
	for (size_t i = 0; i < n; i++) {
		const struct agg_source *s = &srcs[i];
		struct alert_addr a = { .family = s->family };
		struct src_entry *e;

		memcpy(a.addr, s->addr, 16);
		e = detect_src__get(&d->srcs, &a, any_ports(s));
		if (e) {
			double fast, slow;

			rotate(e->fast, &e->fast_start, fast_ms, now);
			rotate(e->slow, &e->slow_start, slow_ms, now);
			agg__merge_ports(e->fast[1], s->ports);
			agg__merge_ports(e->slow[1], s->ports);
			e->last_ms = now;
			fast = union_ports(e->fast);
			slow = union_ports(e->slow);
			if (fs->enabled && fast >= jf.thr) {
				scan_event(d, fs, ALERT_PORT_SCAN, s, &a, fast, &jf, sink, ctx);
				e->fast_until = now + 2 * slow_ms;
				e->slow_held = false;
			} else if (ss->enabled && slow >= js.thr && now >= e->fast_until) {
				/* As many ports within the fast window as a slow scan needs may be a
				 * fast scan's first interval, cut by the interval's edge: the next
				 * interval tells which it is. */
				if (fast >= js.thr && !e->slow_held) {
					e->slow_held = true;
				} else {
					e->slow_held = false;
					scan_event(d, ss, ALERT_SLOW_SCAN, s, &a, slow, &js, sink, ctx);
				}
			} else if (now >= e->fast_until) {
				*max_fast = fast > *max_fast ? fast : *max_fast;
				*max_slow = slow > *max_slow ? slow : *max_slow;
			}
		} else if (any_ports(s) && fs->enabled) {
			/* No room to watch it (a flood of sources fills the table): this interval
			 * alone still shows a fast scan. */
			double fast = agg__distinct_ports(s->ports);

			if (fast >= jf.thr)
				scan_event(d, fs, ALERT_PORT_SCAN, s, &a, fast, &jf, sink, ctx);
		}
		if (!ts->enabled || detect_talkers__has(&d->talkers, &a))
			continue;
		if (learning) {
			detect_talkers__add(&d->talkers, &a);
		} else if ((double)s->packets >= ts->min) {
			detect_talkers__add(&d->talkers, &a);
			if (new_alerts++ < MAX_NEW_TALKER_ALERTS) {
				struct alert_event ev;
				char addr[48];

				event_init(&ev, ALERT_NEW_TALKER, ts);
				alerts__addr_str(&a, addr, sizeof(addr));
				snprintf(ev.subject, sizeof(ev.subject), "%s", addr);
				snprintf(ev.summary, sizeof(ev.summary),
					 "new talker: %s, never seen before, sent %llu packets (%llu bytes)", addr,
					 (unsigned long long)s->packets, (unsigned long long)s->bytes);
				alert_event__metric(&ev, "packets", (double)s->packets);
				alert_event__metric(&ev, "bytes", (double)s->bytes);
				alert_event__metric(&ev, "known_talkers", (double)d->talkers.n);
				ev.top[0].a = a;
				ev.top[0].value = (double)s->packets;
				ev.n_top = 1;
				ev.mitigable = true;
				ev.offender = a;
				sink(ctx, &ev);
			} else {
				new_more++;
			}
		}
	}
	if (new_more > 0) {
		struct alert_event ev;

		event_init(&ev, ALERT_NEW_TALKER, ts);
		snprintf(ev.subject, sizeof(ev.subject), "many sources");
		snprintf(ev.summary, sizeof(ev.summary), "new talkers: %zu more sources never seen before in one interval",
			 new_more);
		alert_event__metric(&ev, "sources", (double)new_more);
		sink(ctx, &ev);
	}
}

/* SYN flood and volume spike, from the totals. Returns which features were anomalous. */
static void totals(struct detect *d, const struct detect_config *cfg, int hour, double secs,
		   const struct agg_source *srcs, size_t n, const struct agg_source *t, bool anomalous[F_COUNT],
		   detect_sink sink, void *ctx)
{
	const struct detect_settings *fs = &cfg->k[ALERT_SYN_FLOOD], *vs = &cfg->k[ALERT_VOLUME];
	double syn = (double)t->syns / secs, synack = (double)t->synacks / secs;
	double pps = (double)key_packets(t) / secs;
	double bps = (double)t->bytes / secs;
	struct judge js = judge(d, F_SYN, hour, fs, fs->min, COLD_SYN), jp = judge(d, F_PPS, hour, vs, vs->min, COLD_VOLUME);
	struct alert_event e;
	char top[48] = "-", against[96];

	if (syn >= js.thr) {
		anomalous[F_SYN] = true;
		if (fs->enabled) {
			event_init(&e, ALERT_SYN_FLOOD, fs);
			snprintf(e.subject, sizeof(e.subject), "node");
			top_sources(&e, srcs, n, secs, key_syns);
			if (e.n_top)
				alerts__addr_str(&e.top[0].a, top, sizeof(top));
			baseline_text(&js, against, sizeof(against));
			snprintf(e.summary, sizeof(e.summary),
				 "SYN flood: %.0f SYN/s (%s), %.0f SYN-ACK/s; top source %s (%.0f/s) of %zu", syn, against,
				 synack, top, e.n_top ? e.top[0].value : 0.0, n);
			alert_event__metric(&e, "syn_per_s", syn);
			alert_event__metric(&e, "synack_per_s", synack);
			alert_event__metric(&e, "sources", (double)n);
			event_baseline(&e, F_SYN, &js);
			/* One source behind most of it: that one a rule can stop. */
			if (e.n_top > 0 && e.top[0].value >= syn / 2) {
				e.mitigable = true;
				e.offender = e.top[0].a;
			}
			sink(ctx, &e);
		}
	}
	if (pps >= jp.thr) {
		anomalous[F_PPS] = true;
		if (vs->enabled && ++d->vol_streak >= (vs->window_s ? vs->window_s : 1)) {
			event_init(&e, ALERT_VOLUME, vs);
			snprintf(e.subject, sizeof(e.subject), "node");
			top_sources(&e, srcs, n, secs, key_packets);
			baseline_text(&jp, against, sizeof(against));
			snprintf(e.summary, sizeof(e.summary), "volume spike: %.0f packets/s, %.0f bytes/s (%s)", pps, bps,
				 against);
			alert_event__metric(&e, "packets_per_s", pps);
			alert_event__metric(&e, "bytes_per_s", bps);
			alert_event__metric(&e, "intervals", d->vol_streak);
			event_baseline(&e, F_PPS, &jp);
			if (e.n_top > 0 && e.top[0].value >= pps / 2) {
				e.mitigable = true;
				e.offender = e.top[0].a;
			}
			sink(ctx, &e);
		}
	} else {
		d->vol_streak = 0;
	}
	/* Learn what was normal. */
	if (!anomalous[F_PPS])
		learn(d, F_PPS, hour, pps, vs->sigma);
	if (!anomalous[F_SYN])
		learn(d, F_SYN, hour, syn, fs->sigma);
}

/* The API violations gathered since the last interval, one alert each. */
static void violations(struct detect *d, const struct detect_config *cfg, double secs, detect_sink sink, void *ctx)
{
	for (size_t i = 0; i < d->n_viol; i++) {
		struct violation *v = &d->viol[i];
		const struct detect_settings *s = &cfg->k[v->kind];
		uint64_t consumers = v->n_consumers + v->more_consumers;
		struct alert_event e;
		char first[48] = "";

		if (!s->enabled || (double)v->requests < s->min)
			continue;
		event_init(&e, v->kind, s);
		for (size_t c = 0; c < v->n_consumers; c++)
			top_insert(&e, &v->consumers[c].a, (double)v->consumers[c].requests);
		e.top_are_consumers = true;
		if (e.n_top)
			alerts__addr_str(&e.top[0].a, first, sizeof(first));
		if (v->kind == ALERT_DEPRECATED_API) {
			snprintf(e.subject, sizeof(e.subject), "api %s %s", v->api, v->what);
			snprintf(e.summary, sizeof(e.summary),
				 "deprecated API use: %s %s* called about %llu times by %llu consumer%s (most: %s)", v->api,
				 v->what, (unsigned long long)v->requests, (unsigned long long)consumers,
				 consumers == 1 ? "" : "s", first);
		} else {
			snprintf(e.subject, sizeof(e.subject), "api %s", v->api);
			snprintf(e.summary, sizeof(e.summary),
				 "plaintext to TLS-only API %s: about %llu requests from %llu consumer%s (most: %s)", v->api,
				 (unsigned long long)v->requests, (unsigned long long)consumers, consumers == 1 ? "" : "s",
				 first);
		}
		alert_event__metric(&e, "requests", (double)v->requests);
		alert_event__metric(&e, "requests_per_s", (double)v->requests / secs);
		alert_event__metric(&e, "consumers", (double)consumers);
		sink(ctx, &e);
	}
	d->n_viol = 0;
}

void detect__interval(struct detect *d, const struct detect_config *cfg, int64_t unix_ms, double secs,
		      const struct agg_source *srcs, size_t n, const struct agg_source *total, detect_sink sink,
		      void *ctx)
{
	int hour = baseline__hour(unix_ms);
	bool anomalous[F_COUNT] = { false };
	double max_fast, max_slow;
	int64_t slow_ms = (int64_t)cfg->k[ALERT_SLOW_SCAN].window_s * 1000;

	if (secs <= 0)
		secs = 1;
	if (d->started_ms == 0)
		d->started_ms = unix_ms;
	per_source(d, cfg, unix_ms, hour, srcs, n, &max_fast, &max_slow, sink, ctx);
	learn(d, F_SRC_FAST, hour, max_fast, cfg->k[ALERT_PORT_SCAN].sigma);
	learn(d, F_SRC_SLOW, hour, max_slow, cfg->k[ALERT_SLOW_SCAN].sigma);
	totals(d, cfg, hour, secs, srcs, n, total, anomalous, sink, ctx);
	violations(d, cfg, secs, sink, ctx);
	if (unix_ms - d->swept_ms >= 2 * slow_ms) {
		detect_src__sweep(&d->srcs, unix_ms - 2 * slow_ms);
		d->swept_ms = unix_ms;
	} else if (d->srcs.used >= d->srcs.limit - d->srcs.limit / 8) {
		/* Nearly full (a spoofed flood brings a new source per packet): keep only the
		 * sources seen in this interval, so the table does not stay full of the past. */
		detect_src__sweep(&d->srcs, unix_ms);
	}
}

void detect__api_violation(struct detect *d, enum alert_kind kind, const char *api, const char *what,
			   const struct alert_addr *consumer, uint64_t requests)
{
	struct violation *v = NULL;
	size_t c;

	for (size_t i = 0; i < d->n_viol; i++) {
		if (d->viol[i].kind == kind && strcmp(d->viol[i].api, api) == 0 && strcmp(d->viol[i].what, what) == 0) {
			v = &d->viol[i];
			break;
		}
	}
	if (!v) {
		if (d->n_viol == MAX_VIOLATIONS)
			return;
		v = &d->viol[d->n_viol++];
		memset(v, 0, sizeof(*v));
		v->kind = kind;
		snprintf(v->api, sizeof(v->api), "%s", api);
		snprintf(v->what, sizeof(v->what), "%s", what);
	}
	v->requests += requests;
	for (c = 0; c < v->n_consumers; c++) {
		if (v->consumers[c].a.family == consumer->family && memcmp(v->consumers[c].a.addr, consumer->addr, 16) == 0)
			break;
	}
	if (c < v->n_consumers) {
		v->consumers[c].requests += requests;
	} else if (v->n_consumers < MAX_CONSUMERS) {
		v->consumers[v->n_consumers].a = *consumer;
		v->consumers[v->n_consumers].requests = requests;
		v->n_consumers++;
	} else {
		v->more_consumers++;
	}
}

/* ---- history ------------------------------------------------------------------------------ */

void detect__baselines_free(Sluice__V1__Baselines *b)
{
	if (b)
		sluice__v1__baselines__free_unpacked(b, NULL);
}

/* A FeatureBaseline allocated piece by piece, so free_unpacked releases it. */
static Sluice__V1__FeatureBaseline *export_feature(const struct baseline *b, const char *name)
{
	Sluice__V1__FeatureBaseline *f = malloc(sizeof(*f));

	if (!f)
		return NULL;
	sluice__v1__feature_baseline__init(f);
	f->feature = strdup(name);
	f->mean = calloc(BASELINE_SLOTS, sizeof(*f->mean));
	f->var = calloc(BASELINE_SLOTS, sizeof(*f->var));
	f->n = calloc(BASELINE_SLOTS, sizeof(*f->n));
	f->n_mean = f->n_var = f->n_n = BASELINE_SLOTS;
	if (!f->feature || !f->mean || !f->var || !f->n) {
		sluice__v1__feature_baseline__free_unpacked(f, NULL);
		return NULL;
	}
	memcpy(f->mean, b->mean, sizeof(b->mean));
	memcpy(f->var, b->var, sizeof(b->var));
	memcpy(f->n, b->n, sizeof(b->n));
	return f;
}

Sluice__V1__Baselines *detect__export(const struct detect *d, int64_t unix_ms)
{
	Sluice__V1__Baselines *b = malloc(sizeof(*b));
	size_t nt = d->talkers.n < MAX_EXPORT_TALKERS ? d->talkers.n : MAX_EXPORT_TALKERS;

	if (!b)
		return NULL;
	sluice__v1__baselines__init(b);
	b->unix_ms = unix_ms;
	b->features = calloc(F_COUNT, sizeof(*b->features));
	b->talkers = calloc(nt + 1, sizeof(*b->talkers));
	if (!b->features || !b->talkers)
		goto fail;
	for (int f = 0; f < F_COUNT; f++) {
		b->features[f] = export_feature(&d->b[f], feature_names[f]);
		if (!b->features[f])
			goto fail;
		b->n_features++;
	}
	for (size_t i = 0; i < d->talkers.cap && b->n_talkers < nt; i++) {
		char addr[48];

		if (!d->talkers.used[i])
			continue;
		alerts__addr_str(&d->talkers.v[i], addr, sizeof(addr));
		b->talkers[b->n_talkers] = strdup(addr);
		if (!b->talkers[b->n_talkers])
			goto fail;
		b->n_talkers++;
	}
	return b;
fail:
	detect__baselines_free(b);
	errno = ENOMEM;
	return NULL;
}

void detect__import(struct detect *d, const Sluice__V1__Baselines *b)
{
	for (size_t i = 0; b && i < b->n_features; i++) {
		const Sluice__V1__FeatureBaseline *f = b->features[i];
		struct baseline src = { 0 };

		if (!f->feature || f->n_mean != BASELINE_SLOTS || f->n_var != BASELINE_SLOTS || f->n_n != BASELINE_SLOTS)
			continue;
		for (int k = 0; k < F_COUNT; k++) {
			if (strcmp(f->feature, feature_names[k]) != 0)
				continue;
			memcpy(src.mean, f->mean, sizeof(src.mean));
			memcpy(src.var, f->var, sizeof(src.var));
			memcpy(src.n, f->n, sizeof(src.n));
			baseline__merge(&d->b[k], &src);
		}
	}
	for (size_t i = 0; b && i < b->n_talkers; i++) {
		struct alert_addr a = { 0 };

		if (inet_pton(AF_INET, b->talkers[i], a.addr) == 1)
			a.family = 4;
		else if (inet_pton(AF_INET6, b->talkers[i], a.addr) == 1)
			a.family = 6;
		else
			continue;
		if (detect_talkers__add(&d->talkers, &a) == 0)
			d->seeded = true;
	}
}
