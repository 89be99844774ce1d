// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_detect.c — the agent's detectors (agent/detect.h) and what they stand on:
 * baselines that learn a mean and variance per hour and fall back to all hours; the
 * port sketch's estimates; fast and slow port scans, a SYN flood and a volume spike
 * raised against learned baselines with their evidence; new talkers only after the
 * learning period; no alert at all over hours of noisy benign traffic; history exported
 * and imported; and alerts aggregated by kind and subject with a bounded resend rate.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aggregates.h"
#include "alerts.h"
#include "baseline.h"
#include "detect.h"

#define T0 1700000000000LL /* unix ms */

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* What the sink saw. */
struct seen {
	struct alert_event ev[256];
	size_t n;
	size_t by_kind[ALERT_KINDS];
};

static void sink(void *ctx, const struct alert_event *e)
{
	struct seen *s = ctx;

	if (s->n < 256)
		s->ev[s->n++] = *e;
	s->by_kind[e->kind]++;
}

static const struct alert_event *first_of(const struct seen *s, enum alert_kind k)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ev[i].kind == k)
			return &s->ev[i];
	return NULL;
}

static struct agg_source src4(uint8_t last, uint64_t packets, uint64_t syns)
{
	struct agg_source s = { .family = 4, .packets = packets, .bytes = packets * 100, .syns = syns };

	s.addr[0] = 10;
	s.addr[3] = last;
	return s;
}

static void total_of(const struct agg_source *v, size_t n, struct agg_source *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		t->packets += v[i].packets;
		t->bytes += v[i].bytes;
		t->syns += v[i].syns;
		t->synacks += v[i].synacks;
	}
}

/* One benign interval: 20 clients, a few hundred packets, a handful of SYNs to 3 ports. */
static size_t benign(struct agg_source *v)
{
	static const uint16_t ports[] = { 80, 443, 53 };

	for (int i = 0; i < 20; i++) {
		v[i] = src4((uint8_t)(1 + i), 10 + rnd() % 30, rnd() % 3);
		if (v[i].syns)
			agg__add_port(v[i].ports, ports[rnd() % 3]);
	}
	return 20;
}

/* Runs n benign intervals from *t (ms), one second apart. */
static void run_benign(struct detect *d, const struct detect_config *cfg, int64_t *t, int n, struct seen *s)
{
	struct agg_source v[64], tot;

	for (int i = 0; i < n; i++) {
		size_t k = benign(v);

		total_of(v, k, &tot);
		detect__interval(d, cfg, *t, 1.0, v, k, &tot, sink, s);
		*t += 1000;
	}
}

/* ---- baselines and sketches ----------------------------------------------------------------- */

static void test_baseline_learns(void **state)
{
	struct baseline b = { 0 };
	double mean, sd;
	uint64_t n;
	int slot;

	assert_false(baseline__get(&b, 3, 10, &mean, &sd, &n, &slot));
	for (int i = 0; i < 2000; i++)
		baseline__update(&b, 3, 100 + (i % 2 ? 10 : -10), 0.01);
	assert_true(baseline__get(&b, 3, 10, &mean, &sd, &n, &slot));
	assert_int_equal(slot, 3);
	assert_true(fabs(mean - 100) < 2);
	assert_true(fabs(sd - 10) < 1);
	/* An hour not seen falls back to all hours. */
	assert_true(baseline__get(&b, 4, 10, &mean, &sd, &n, &slot));
	assert_int_equal(slot, -1);
	/* The threshold has a floor and a noise margin. */
	assert_true(baseline__threshold(100, 0, 6, 0) > 100 + 6 * 10);
	assert_true(baseline__threshold(1, 0, 6, 500) == 500);
	assert_int_equal(baseline__hour(0), 0);
	assert_int_equal(baseline__hour(3600 * 1000 * 25LL), 1);
	baseline__update(&b, 3, NAN, 0.01); /* ignored */
	assert_true(baseline__get(&b, 3, 10, &mean, &sd, &n, &slot));
	assert_false(isnan(mean));
}

static void test_port_sketch(void **state)
{
	uint64_t p[SL_AGG_PORT_WORDS] = { 0 };

	assert_true(agg__distinct_ports(p) == 0);
	agg__add_port(p, 80);
	agg__add_port(p, 80);
	assert_true(fabs(agg__distinct_ports(p) - 1) < 0.1);
	for (int port = 1000; port < 1100; port++)
		agg__add_port(p, (uint16_t)port);
	/* Linear counting: within 10% at this load. */
	assert_true(fabs(agg__distinct_ports(p) - 101) < 10);
	for (int port = 1; port < 65536; port++)
		agg__add_port(p, (uint16_t)port);
	assert_true(agg__distinct_ports(p) > 2000); /* saturated, still "very many" */
}

/* ---- detectors ---------------------------------------------------------------------------- */

struct fx {
	struct detect *d;
	struct detect_config cfg;
	struct seen s;
	int64_t t;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct detect_opts o = { .learn_s = 30 };

	fx->d = detect__new(&o);
	assert_non_null(fx->d);
	detect__config(NULL, &fx->cfg);
	fx->t = T0;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	detect__free(fx->d);
	free(fx);
	return 0;
}

static void test_fast_port_scan(void **state)
{
	struct fx *fx = *state;
	struct agg_source v[64], tot;
	const struct alert_event *e;
	size_t k;

	run_benign(fx->d, &fx->cfg, &fx->t, 60, &fx->s);
	assert_int_equal(fx->s.n, 0);
	/* One second: source .200 sends SYNs to 150 ports. */
	k = benign(v);
	v[k] = src4(200, 150, 150);
	for (int p = 1; p <= 150; p++)
		agg__add_port(v[k].ports, (uint16_t)p);
	k++;
	total_of(v, k, &tot);
	detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
	e = first_of(&fx->s, ALERT_PORT_SCAN);
	assert_non_null(e);
	assert_string_equal(e->subject, "10.0.0.200");
	assert_true(e->metrics[0].value > 120);
	assert_true(e->mitigable);
	assert_int_equal(e->offender.addr[3], 200);
	assert_int_equal(fx->s.by_kind[ALERT_SLOW_SCAN], 0);
	assert_int_equal(e->severity, SLUICE__V1__ALERT_SEVERITY__SEVERITY_HIGH);
}

static void test_slow_port_scan(void **state)
{
	struct fx *fx = *state;
	struct agg_source v[64], tot;
	const struct alert_event *e;
	int port = 2000, fired_at = -1;

	run_benign(fx->d, &fx->cfg, &fx->t, 60, &fx->s);
	/* Four new ports a second: too slow for the fast detector, caught within a few seconds. */
	for (int sec = 0; sec < 10 && fired_at < 0; sec++) {
		size_t k = benign(v);

		v[k] = src4(201, 4, 4);
		for (int i = 0; i < 4; i++)
			agg__add_port(v[k].ports, (uint16_t)port++);
		k++;
		total_of(v, k, &tot);
		detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
		fx->t += 1000;
		if (fx->s.by_kind[ALERT_SLOW_SCAN])
			fired_at = sec;
	}
	assert_true(fired_at >= 0 && fired_at <= 4);
	assert_int_equal(fx->s.by_kind[ALERT_PORT_SCAN], 0);
	e = first_of(&fx->s, ALERT_SLOW_SCAN);
	assert_string_equal(e->subject, "10.0.0.201");
}

/* A fast scan cut by an interval's edge: the first interval shows 16 ports (enough for a
 * slow scan, not for a fast one), the next the other 284. Only port_scan is raised. */
static void test_fast_scan_split_by_interval(void **state)
{
	struct fx *fx = *state;
	struct agg_source v[64], tot;
	int port = 1;

	run_benign(fx->d, &fx->cfg, &fx->t, 60, &fx->s);
	assert_int_equal(fx->s.n, 0);
	for (int sec = 0; sec < 2; sec++) {
		size_t k = benign(v);
		int n = sec == 0 ? 16 : 284;

		v[k] = src4(202, (uint64_t)n, (uint64_t)n);
		for (int i = 0; i < n; i++)
			agg__add_port(v[k].ports, (uint16_t)port++);
		k++;
		total_of(v, k, &tot);
		detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
		fx->t += 1000;
	}
	assert_int_equal(fx->s.by_kind[ALERT_PORT_SCAN], 1);
	assert_int_equal(fx->s.by_kind[ALERT_SLOW_SCAN], 0);
}

static void test_syn_flood_and_volume(void **state)
{
	struct fx *fx = *state;
	struct agg_source v[64], tot;
	const struct alert_event *e;
	size_t k;

	run_benign(fx->d, &fx->cfg, &fx->t, 120, &fx->s);
	assert_int_equal(fx->s.n, 0);
	/* A SYN flood from one source: alerted at once, with the baseline it beat. */
	k = benign(v);
	v[k] = src4(202, 5000, 5000);
	agg__add_port(v[k].ports, 80);
	k++;
	total_of(v, k, &tot);
	detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
	fx->t += 1000;
	e = first_of(&fx->s, ALERT_SYN_FLOOD);
	assert_non_null(e);
	assert_true(e->has_baseline);
	assert_true(e->mean < 50);
	assert_true(e->threshold >= 200);
	assert_int_equal(e->top[0].a.addr[3], 202);
	assert_true(e->mitigable);
	/* SYNs are not volume: no volume spike for it. */
	assert_int_equal(fx->s.by_kind[ALERT_VOLUME], 0);

	/* A volume spike (established traffic) needs two intervals in a row. */
	memset(&fx->s, 0, sizeof(fx->s));
	for (int i = 0; i < 2; i++) {
		k = benign(v);
		v[k++] = src4(203, 20000, 0);
		total_of(v, k, &tot);
		detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
		fx->t += 1000;
		assert_int_equal(fx->s.by_kind[ALERT_VOLUME], (size_t)i);
	}
	e = first_of(&fx->s, ALERT_VOLUME);
	assert_int_equal(e->top[0].a.addr[3], 203);
}

static void test_floods_before_a_baseline(void **state)
{
	struct fx *fx = *state;
	struct agg_source v[2], tot;

	/* The very first intervals, without a baseline: 500 SYN/s might be this node's normal... */
	v[0] = src4(9, 500, 500);
	total_of(v, 1, &tot);
	detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, 1, &tot, sink, &fx->s);
	assert_int_equal(fx->s.by_kind[ALERT_SYN_FLOOD], 0);
	/* ... 5000 SYN/s is a flood whatever the history. */
	v[0] = src4(9, 5000, 5000);
	total_of(v, 1, &tot);
	detect__interval(fx->d, &fx->cfg, fx->t + 1000, 1.0, v, 1, &tot, sink, &fx->s);
	assert_int_equal(fx->s.by_kind[ALERT_SYN_FLOOD], 1);
	assert_false(first_of(&fx->s, ALERT_SYN_FLOOD)->has_baseline);
}

static void test_scanner_seen_through_spoofed_flood(void **state)
{
	struct detect_opts o = { .learn_s = 1, .max_sources = 64 };
	struct detect *d = detect__new(&o);
	struct detect_config cfg;
	struct agg_source v[260], tot;
	struct seen s = { 0 };
	int64_t t = T0;

	detect__config(NULL, &cfg);
	/* Every second, 200 new spoofed sources with one SYN each: far more than the table holds. */
	for (int sec = 0; sec < 5; sec++) {
		for (int i = 0; i < 200; i++) {
			v[i] = src4((uint8_t)i, 1, 1);
			v[i].addr[1] = (uint8_t)(10 + sec);
			agg__add_port(v[i].ports, 80);
		}
		total_of(v, 200, &tot);
		detect__interval(d, &cfg, t, 1.0, v, 200, &tot, sink, &s);
		t += 1000;
	}
	/* A real scanner arrives during the flood: still watched, still reported. */
	for (int i = 0; i < 200; i++)
		v[i].addr[1] = 99;
	v[200] = src4(250, 100, 100);
	v[200].addr[1] = 1;
	for (int p = 1; p <= 100; p++)
		agg__add_port(v[200].ports, (uint16_t)p);
	total_of(v, 201, &tot);
	detect__interval(d, &cfg, t, 1.0, v, 201, &tot, sink, &s);
	assert_int_equal(s.by_kind[ALERT_PORT_SCAN], 1);
	assert_string_equal(first_of(&s, ALERT_PORT_SCAN)->subject, "10.1.0.250");
	detect__free(d);
}

static void test_new_talker(void **state)
{
	struct fx *fx = *state;
	struct agg_source v[64], tot;
	size_t k;

	/* Seen during learning: known. */
	run_benign(fx->d, &fx->cfg, &fx->t, 40, &fx->s);
	assert_false(detect__learning(fx->d, fx->t));
	assert_int_equal(fx->s.by_kind[ALERT_NEW_TALKER], 0);
	k = benign(v);
	v[k++] = src4(77, 50, 0);
	v[k++] = src4(78, 2, 0); /* below the floor: not reported */
	total_of(v, k, &tot);
	detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
	fx->t += 1000;
	assert_int_equal(fx->s.by_kind[ALERT_NEW_TALKER], 1);
	assert_string_equal(first_of(&fx->s, ALERT_NEW_TALKER)->subject, "10.0.0.77");
	/* Once only. */
	detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
	assert_int_equal(fx->s.by_kind[ALERT_NEW_TALKER], 1);
}

static void test_quiet_over_hours_of_noise(void **state)
{
	struct fx *fx = *state;
	struct agg_source v[64], tot;

	/* Three hours of benign traffic whose volume wanders and bursts: not one alert. */
	for (int i = 0; i < 3 * 3600; i++) {
		size_t k = benign(v);
		double wave = 1.0 + 0.5 * sin(i / 600.0);

		for (size_t j = 0; j < k; j++)
			v[j].packets = (uint64_t)(v[j].packets * wave) + (rnd() % 50 == 0 ? 40 : 0);
		total_of(v, k, &tot);
		detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
		fx->t += 1000;
	}
	if (fx->s.n)
		fail_msg("benign traffic raised %zu alerts, the first: %s", fx->s.n, fx->s.ev[0].summary);
}

static void test_settings_from_policy(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__Detectors d = SLUICE__V1__DETECTORS__INIT;
	Sluice__V1__DetectorSettings ps = SLUICE__V1__DETECTOR_SETTINGS__INIT, nt = SLUICE__V1__DETECTOR_SETTINGS__INIT;
	Sluice__V1__MitigationSpec m = SLUICE__V1__MITIGATION_SPEC__INIT;
	struct agg_source v[64], tot;
	size_t k;

	ps.min = 500;
	ps.mitigate = &m;
	m.action = SLUICE__V1__ACTION__ACTION_RATE_LIMIT;
	m.pps = 10;
	nt.disabled = true;
	d.port_scan = &ps;
	d.new_talker = &nt;
	detect__config(&d, &fx->cfg);
	assert_true(fx->cfg.k[ALERT_PORT_SCAN].mitigate);
	assert_int_equal(fx->cfg.k[ALERT_PORT_SCAN].mit_ttl_s, 300);
	assert_int_equal(fx->cfg.k[ALERT_PORT_SCAN].mit_action, SLUICE__V1__ACTION__ACTION_RATE_LIMIT);
	assert_false(fx->cfg.k[ALERT_NEW_TALKER].enabled);
	assert_true(fx->cfg.k[ALERT_SYN_FLOOD].enabled); /* untouched: defaults */
	run_benign(fx->d, &fx->cfg, &fx->t, 60, &fx->s);
	/* 150 ports is below the raised floor of 500. */
	k = benign(v);
	v[k] = src4(210, 150, 150);
	for (int p = 1; p <= 150; p++)
		agg__add_port(v[k].ports, (uint16_t)(p * 7));
	k++;
	total_of(v, k, &tot);
	detect__interval(fx->d, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &fx->s);
	assert_int_equal(fx->s.by_kind[ALERT_PORT_SCAN], 0);
}

static void test_api_violations(void **state)
{
	struct fx *fx = *state;
	struct alert_addr a = { .family = 4, .addr = { 10, 0, 0, 5 } }, b = { .family = 4, .addr = { 10, 0, 0, 6 } };
	const struct alert_event *e;
	struct agg_source tot = { 0 };

	detect__api_violation(fx->d, ALERT_DEPRECATED_API, "orders", "/v1/", &a, 10);
	detect__api_violation(fx->d, ALERT_DEPRECATED_API, "orders", "/v1/", &b, 30);
	detect__api_violation(fx->d, ALERT_DEPRECATED_API, "orders", "/v1/", &a, 10);
	detect__api_violation(fx->d, ALERT_PLAINTEXT, "payments", "", &b, 1);
	detect__interval(fx->d, &fx->cfg, fx->t, 1.0, NULL, 0, &tot, sink, &fx->s);
	e = first_of(&fx->s, ALERT_DEPRECATED_API);
	assert_non_null(e);
	assert_string_equal(e->subject, "api orders /v1/");
	assert_true(e->top_are_consumers);
	assert_int_equal(e->n_top, 2);
	assert_int_equal(e->top[0].a.addr[3], 6); /* the heavier consumer first */
	assert_true(e->top[0].value == 30 && e->top[1].value == 20);
	e = first_of(&fx->s, ALERT_PLAINTEXT);
	assert_non_null(e);
	assert_string_equal(e->subject, "api payments");
	/* Reported once: the next interval has none. */
	memset(&fx->s, 0, sizeof(fx->s));
	detect__interval(fx->d, &fx->cfg, fx->t + 1000, 1.0, NULL, 0, &tot, sink, &fx->s);
	assert_int_equal(fx->s.n, 0);
}

static void test_history_round_trip(void **state)
{
	struct fx *fx = *state;
	struct detect_opts o = { .learn_s = 3600 };
	struct detect *fresh = detect__new(&o);
	Sluice__V1__Baselines *b;
	struct agg_source v[64], tot;
	struct seen s = { 0 };
	size_t k;

	run_benign(fx->d, &fx->cfg, &fx->t, 120, &fx->s);
	b = detect__export(fx->d, fx->t);
	assert_non_null(b);
	assert_int_equal(b->n_features, 4);
	assert_int_equal(b->n_talkers, 20);
	/* A restarted agent seeded with it: no learning period, floods judged at once. */
	assert_true(detect__learning(fresh, fx->t));
	detect__import(fresh, b);
	assert_false(detect__learning(fresh, fx->t));
	k = benign(v);
	v[k] = src4(202, 5000, 5000);
	k++;
	total_of(v, k, &tot);
	detect__interval(fresh, &fx->cfg, fx->t, 1.0, v, k, &tot, sink, &s);
	assert_int_equal(s.by_kind[ALERT_SYN_FLOOD], 1);
	assert_int_equal(s.by_kind[ALERT_NEW_TALKER], 1); /* .202 was never seen */
	detect__baselines_free(b);
	detect__free(fresh);
}

/* ---- alerts ------------------------------------------------------------------------------- */

struct sent {
	int n;
	Sluice__V1__Alert last;
	uint64_t last_count;
	char last_type[32];
};

static void capture(void *ctx, const Sluice__V1__AgentMessage *m)
{
	struct sent *s = ctx;

	assert_int_equal(m->msg_case, SLUICE__V1__AGENT_MESSAGE__MSG_ALERT);
	s->n++;
	s->last_count = m->alert->count;
	snprintf(s->last_type, sizeof(s->last_type), "%s", m->alert->type);
}

static void test_alerts_aggregate(void **state)
{
	struct alerts_opts o = { .resend_ms = 10000, .quiet_ms = 60000 };
	struct sent s = { 0 };
	struct alerts *a = alerts__new(&o, capture, &s);
	struct alert_event e = { .kind = ALERT_PORT_SCAN, .severity = 4 };
	uint64_t id1, id2;
	bool opened;

	snprintf(e.subject, sizeof(e.subject), "10.0.0.9");
	id1 = alerts__raise(a, &e, T0, &opened);
	assert_true(opened);
	alerts__flush(a, T0);
	assert_int_equal(s.n, 1);
	/* The same scan a second later: the same alert, counted, not resent yet. */
	id2 = alerts__raise(a, &e, T0 + 1000, &opened);
	assert_false(opened);
	assert_true(id1 == id2);
	alerts__flush(a, T0 + 1000);
	assert_int_equal(s.n, 1);
	alerts__flush(a, T0 + 11000);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.last_count, 2);
	assert_string_equal(s.last_type, "port_scan");
	/* Quiet for a minute: closed; a new detection opens a new alert. */
	alerts__flush(a, T0 + 70000);
	assert_int_equal(alerts__open_count(a), 0);
	id2 = alerts__raise(a, &e, T0 + 80000, &opened);
	assert_true(opened);
	assert_true(id1 != id2);
	alerts__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baseline_learns),
		cmocka_unit_test(test_port_sketch),
		cmocka_unit_test_setup_teardown(test_fast_port_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_port_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fast_scan_split_by_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_flood_and_volume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_floods_before_a_baseline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_talker, setup, teardown),
		cmocka_unit_test(test_scanner_seen_through_spoofed_flood),
		cmocka_unit_test_setup_teardown(test_quiet_over_hours_of_noise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings_from_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_violations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_round_trip, setup, teardown),
		cmocka_unit_test(test_alerts_aggregate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
