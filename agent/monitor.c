// SPDX-License-Identifier: Apache-2.0
/*
 * monitor.c — see monitor.h: lifetime, the glue to the session and the datapath, and
 * the consumer thread's timers (detection every tick, API usage and baselines on their
 * own intervals, mitigations added and expired). The per-sample path is in
 * monitor_sample.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/policy.h"
#include "datapath.h"
#include "monitor_int.h"
#include "outbox.h"
#include "session.h"
#include "state.h"

#define MAX_PENDING_MITIGATIONS 16

struct mit_request {
	struct monitor *m;
	struct mitigate_rule r;
	char err[256];
	int rc;
};

static int64_t unix_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void to_outbox(void *ctx, const Sluice__V1__AgentMessage *msg)
{
	struct monitor *m = ctx;

	if (outbox__push(m->out, msg))
		pr_debug("monitor: out of memory queueing a report");
}

/* ---- the datapath, through the mitigations --------------------------------------------- */

static const char *slot_name(void *ctx, uint32_t slot)
{
	return dp__slot_name(ctx, slot);
}

static int dp_apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	return dp__apply(ctx, p, err, errlen);
}

static uint32_t dp_capacity(void *ctx)
{
	return dp__rule_capacity(ctx);
}

/* After every apply: the samples are judged by the controller's policy (the base). */
static void on_applied(void *ctx, const Sluice__V1__Policy *base)
{
	struct monitor *m = ctx;

	if (monitor__set_policy(m, base, m->o.dp ? slot_name : NULL, m->o.dp))
		pr_warn("monitor: out of memory updating its view of the policy; samples are judged by the previous one");
}

/* The session's datapath ops, with the monitor as their context. */
static int op_apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	return mitigate__apply(((struct monitor *)ctx)->mit, p, err, errlen);
}

static int op_fill_status(void *ctx, Sluice__V1__Status *st)
{
	return dp__fill_status(((struct monitor *)ctx)->o.dp, st);
}

static uint32_t op_capacity(void *ctx)
{
	return dp__rule_capacity(((struct monitor *)ctx)->o.dp);
}

static const struct session_dp_ops session_ops = {
	.apply = op_apply,
	.fill_status = op_fill_status,
	.capacity = op_capacity,
};

/* Controller messages the session does not handle itself: Baselines, kept for the tick. */
static void on_message(void *ctx, const Sluice__V1__ControllerMessage *cm)
{
	struct monitor *m = ctx;
	Sluice__V1__Baselines *copy, *old;

	if (cm->msg_case != SLUICE__V1__CONTROLLER_MESSAGE__MSG_BASELINES || !cm->baselines)
		return;
	/* The detectors belong to the consumer thread: its next tick imports a copy. */
	{
		size_t len = sluice__v1__baselines__get_packed_size(cm->baselines);
		uint8_t *buf = malloc(len ? len : 1);

		if (!buf)
			return;
		sluice__v1__baselines__pack(cm->baselines, buf);
		copy = sluice__v1__baselines__unpack(NULL, len, buf);
		free(buf);
	}
	if (!copy)
		return;
	pthread_mutex_lock(&m->seed_lock);
	old = m->seed_pending;
	m->seed_pending = copy;
	pthread_mutex_unlock(&m->seed_lock);
	detect__baselines_free(old);
}

/* ---- the view ------------------------------------------------------------------------------- */

int monitor__set_policy(struct monitor *m, const Sluice__V1__Policy *p,
			const char *(*name_of)(void *ctx, uint32_t slot), void *ctx)
{
	struct mon_view *v = monitor_view__new(p, name_of, ctx), *old;

	if (!v)
		return -ENOMEM;
	pthread_mutex_lock(&m->view_lock);
	old = m->view;
	m->view = v;
	pthread_mutex_unlock(&m->view_lock);
	monitor_view__free(old);
	return 0;
}

/* The policy a previous agent left live: the saved one. A datapath adopted with
 * mitigation rules in it gets the saved policy re-applied, without them. */
static void load_saved(struct monitor *m)
{
	struct agent_state st;
	Sluice__V1__Policy *p = NULL;
	bool stale = false;
	char err[256];

	if (!m->o.state_dir || state__load(m->o.state_dir, &st, NULL, 0) != 0)
		return;
	p = policy__unpack(st.policy ? st.policy : (const uint8_t *)"", st.policy_len);
	state__release(&st);
	if (!p)
		return;
	for (uint32_t s = 0; s < SL_MAX_RULES && !stale; s++) {
		const char *n = dp__slot_name(m->o.dp, s);

		stale = n && strncmp(n, MITIGATE_PREFIX, strlen(MITIGATE_PREFIX)) == 0;
	}
	if (stale) {
		pr_info("monitor: the datapath still holds mitigation rules of a previous agent; re-applying the saved policy without them");
		if (mitigate__apply(m->mit, p, err, sizeof(err)))
			pr_warn("monitor: re-applying the saved policy failed: %s", err);
	} else {
		mitigate__set_base(m->mit, p);
		on_applied(m, p);
	}
	policy__free(p);
}

/* ---- detections and mitigations ------------------------------------------------------------ */

struct interval_ctx {
	struct monitor *m;
	int64_t now_ms;
	struct mit_request req[MAX_PENDING_MITIGATIONS];
	size_t n_req;
};

static void on_detection(void *arg, const struct alert_event *e)
{
	struct interval_ctx *ic = arg;
	struct monitor *m = ic->m;
	const struct detect_settings *s = &m->cfg.k[e->kind];
	bool opened;
	uint64_t id = alerts__raise(m->alerts, e, ic->now_ms, &opened);

	if (opened)
		log__printf(e->severity >= SLUICE__V1__ALERT_SEVERITY__SEVERITY_HIGH ? LOG_WARN : LOG_INFO, "alert %s: %s",
			    alerts__kind_name(e->kind), e->summary);
	if (s->mitigate && e->mitigable && m->session && ic->n_req < MAX_PENDING_MITIGATIONS) {
		struct mit_request *r = &ic->req[ic->n_req++];

		memset(r, 0, sizeof(*r));
		r->m = m;
		r->r.src = e->offender;
		r->r.action = s->mit_action;
		r->r.pps = s->mit_pps;
		r->r.expires_ms = ic->now_ms + (int64_t)s->mit_ttl_s * 1000;
		r->r.alert_id = id;
	}
}

static int do_mitigate(void *dp_ctx, void *arg)
{
	struct mit_request *r = arg;

	return mitigate__add(((struct monitor *)dp_ctx)->mit, &r->r, r->err, sizeof(r->err));
}

static void report_mitigation(struct monitor *m, const struct mitigate_rule *r, bool active, const char *error)
{
	Sluice__V1__AlertMitigation am = SLUICE__V1__ALERT_MITIGATION__INIT;
	char match[96];

	mitigate__describe(r, match, sizeof(match));
	am.rule = (char *)r->name;
	am.action = (Sluice__V1__Action)r->action;
	am.pps = r->pps;
	am.match = match;
	am.expires_unix = r->expires_ms / 1000;
	am.active = active;
	am.error = (char *)(error ? error : "");
	alerts__set_mitigation(m->alerts, r->alert_id, &am);
}

static void apply_mitigations(struct interval_ctx *ic)
{
	for (size_t i = 0; i < ic->n_req; i++) {
		struct mit_request *r = &ic->req[i];

		r->rc = session__with_dp(ic->m->session, do_mitigate, r);
		if (r->rc == -EEXIST)
			continue; /* already live; its expiry moved on */
		if (r->rc == 0)
			pr_warn("mitigation: %s drops traffic from the offender of alert %llu until it expires", r->r.name,
				(unsigned long long)r->r.alert_id);
		else
			pr_warn("mitigation for alert %llu not added: %s", (unsigned long long)r->r.alert_id,
				r->err[0] ? r->err : strerror(-r->rc));
		report_mitigation(ic->m, &r->r, r->rc == 0, r->rc ? (r->err[0] ? r->err : strerror(-r->rc)) : NULL);
	}
}

static void on_expired(void *ctx, const struct mitigate_rule *r)
{
	struct monitor *m = ctx;

	pr_info("mitigation %s expired and was removed", r->name);
	report_mitigation(m, r, false, NULL);
}

struct expire_arg {
	struct monitor *m;
	int64_t now_ms;
};

static int do_expire(void *dp_ctx, void *arg)
{
	struct expire_arg *e = arg;

	(void)dp_ctx;
	return mitigate__expire(e->m->mit, e->now_ms, on_expired, e->m);
}

void monitor__interval(struct monitor *m, int64_t unix_ms, double secs, const struct agg_source *srcs, size_t n,
		       const struct agg_source *total)
{
	struct interval_ctx *ic = calloc(1, sizeof(*ic));

	Sluice__V1__Baselines *seed;

	if (!ic)
		return;
	pthread_mutex_lock(&m->view_lock);
	if (m->view)
		m->cfg = m->view->cfg;
	pthread_mutex_unlock(&m->view_lock);
	pthread_mutex_lock(&m->seed_lock);
	seed = m->seed_pending;
	m->seed_pending = NULL;
	pthread_mutex_unlock(&m->seed_lock);
	if (seed) {
		monitor__seed(m, seed);
		detect__baselines_free(seed);
	}
	ic->m = m;
	ic->now_ms = unix_ms;
	detect__interval(m->detect, &m->cfg, unix_ms, secs, srcs, n, total, on_detection, ic);
	if (ic->n_req)
		apply_mitigations(ic);
	if (m->session && mitigate__next_expiry(m->mit) && mitigate__next_expiry(m->mit) <= unix_ms) {
		struct expire_arg ea = { m, unix_ms };

		session__with_dp(m->session, do_expire, &ea);
	}
	alerts__flush(m->alerts, unix_ms);
	free(ic);
}

/* ---- reports -------------------------------------------------------------------------------- */

struct lost_arg {
	struct monitor *m;
	uint64_t lost;
};

/* Samples the kernel could not queue, summed over the sampling rules (session lock held). */
static int sum_lost(void *dp_ctx, void *arg)
{
	struct lost_arg *la = arg;
	struct monitor *m = dp_ctx;
	const struct mon_view *v = m->view;

	for (size_t i = 0; v && i < v->p->n_rules; i++) {
		struct sl_counter c;

		if (v->p->rules[i]->sample && dp__rule_counters(m->o.dp, v->p->rules[i]->name, &c) == 0)
			la->lost += c.samples_lost;
	}
	return 0;
}

void monitor__report_usage(struct monitor *m, int64_t unix_ms)
{
	struct lost_arg la = { m, 0 };
	uint64_t lost = 0;

	if (m->session && m->o.dp) {
		session__with_dp(m->session, sum_lost, &la);
		lost = la.lost >= m->lost_before ? la.lost - m->lost_before : la.lost;
		m->lost_before = la.lost;
		if (lost)
			pr_debug("monitor: %llu samples lost (ring buffer full) in the last interval",
				 (unsigned long long)lost);
	}
	apiusage__report(m->usage, m->usage_start_ms ? m->usage_start_ms : unix_ms, unix_ms, m->samples_in_interval,
			 lost, to_outbox, m);
	m->usage_start_ms = unix_ms;
	m->samples_in_interval = 0;
}

void monitor__report_baselines(struct monitor *m, int64_t unix_ms)
{
	Sluice__V1__AgentMessage msg = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Baselines *b = detect__export(m->detect, unix_ms);

	if (!b)
		return;
	msg.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_BASELINES;
	msg.baselines = b;
	to_outbox(m, &msg);
	detect__baselines_free(b);
}

void monitor__seed(struct monitor *m, const Sluice__V1__Baselines *b)
{
	detect__import(m->detect, b);
	pr_info("monitor: detectors seeded from the controller's history (%zu features, %zu known talkers)",
		b->n_features, b->n_talkers);
}

/* ---- the consumer thread ---------------------------------------------------------------------- */

static void on_sample(void *ctx, const struct sl_sample *s, size_t len)
{
	monitor__handle_sample(ctx, s, len);
}

static void batch_begin(void *ctx)
{
	pthread_mutex_lock(&((struct monitor *)ctx)->view_lock);
}

static void batch_end(void *ctx)
{
	pthread_mutex_unlock(&((struct monitor *)ctx)->view_lock);
}

static void tick(void *ctx, uint64_t now_mono)
{
	struct monitor *m = ctx;
	int64_t now = unix_now_ms();
	const struct agg_source *srcs = NULL;
	struct agg_source total = { 0 };
	double secs = m->last_tick_ms ? (double)(now - m->last_tick_ms) / 1000.0 : m->o.tick_ms / 1000.0;
	size_t n = 0;
	int err;

	m->last_tick_ms = now;
	if (m->agg) {
		err = agg_reader__collect(m->agg, &srcs, &n, &total);
		if (err)
			pr_debug("monitor: reading the aggregates: %s (%zu sources read)", strerror(-err), n);
	}
	monitor__interval(m, now, secs, srcs, n, &total);
	if (now_mono >= m->usage_next_mono) {
		monitor__report_usage(m, now);
		m->usage_next_mono = now_mono + (uint64_t)m->o.usage_interval_ms;
	}
	if (now_mono >= m->baselines_next_mono) {
		if (m->baselines_next_mono)
			monitor__report_baselines(m, now);
		m->baselines_next_mono = now_mono + (uint64_t)m->o.baselines_interval_ms;
	}
}

/* ---- lifetime --------------------------------------------------------------------------------- */

struct monitor *monitor__new(const struct monitor_opts *o)
{
	struct monitor *m = calloc(1, sizeof(*m));
	struct mitigate_ops mops = { 0 };
	struct detect_opts dopts = { 0 };

	if (!m)
		return NULL;
	m->o = *o;
	if (m->o.usage_interval_ms <= 0)
		m->o.usage_interval_ms = 10000;
	if (m->o.tick_ms <= 0)
		m->o.tick_ms = 1000;
	if (m->o.baselines_interval_ms <= 0)
		m->o.baselines_interval_ms = 300000;
	pthread_mutex_init(&m->view_lock, NULL);
	pthread_mutex_init(&m->seed_lock, NULL);
	detect__config(NULL, &m->cfg);
	dopts.learn_s = o->learn_s;
	mops.apply = dp_apply;
	mops.capacity = dp_capacity;
	mops.ctx = o->dp;
	mops.applied = on_applied;
	mops.applied_ctx = m;
	m->out = outbox__new(o->outbox_max);
	m->usage = apiusage__new(0);
	m->detect = detect__new(&dopts);
	m->alerts = alerts__new(NULL, to_outbox, m);
	m->mit = o->dp ? mitigate__new(&mops) : NULL;
	if (!m->out || !m->usage || !m->detect || !m->alerts || (o->dp && !m->mit)) {
		monitor__free(m);
		errno = ENOMEM;
		return NULL;
	}
	if (o->dp) {
		int src_fd, total_fd, ctl_fd;

		dp__aggregates_fds(o->dp, &src_fd, &total_fd, &ctl_fd);
		m->agg = agg_reader__new(src_fd, total_fd, ctl_fd);
		if (!m->agg)
			pr_warn("monitor: cannot read the kernel's aggregates (%s); the flood and scan detectors are off",
				strerror(errno));
		load_saved(m);
	}
	return m;
}

void monitor__session_opts(struct monitor *m, struct session_opts *so)
{
	so->dp = &session_ops;
	so->dp_ctx = m;
	so->outbox = m->out;
	so->on_message = on_message;
	so->msg_ctx = m;
}

int monitor__start(struct monitor *m, struct session *s)
{
	struct samples_opts so = { 0 };

	m->session = s;
	if (!m->o.dp)
		return 0;
	so.ring_fd = dp__samples_fd(m->o.dp);
	so.tick_ms = m->o.tick_ms;
	so.ops.on_sample = on_sample;
	so.ops.batch_begin = batch_begin;
	so.ops.batch_end = batch_end;
	so.ops.tick = tick;
	so.ops.ctx = m;
	m->usage_next_mono = mono_ms() + (uint64_t)m->o.usage_interval_ms;
	m->samples = samples__start(&so);
	if (!m->samples) {
		int err = -errno;

		pr_err("monitor: cannot read sampled packets: %s; inspection in user space is off", strerror(-err));
		return err;
	}
	return 0;
}

struct outbox *monitor__outbox(struct monitor *m)
{
	return m->out;
}

void monitor__free(struct monitor *m)
{
	if (!m)
		return;
	samples__stop(m->samples);
	agg_reader__free(m->agg);
	mitigate__free(m->mit);
	alerts__free(m->alerts);
	detect__free(m->detect);
	apiusage__free(m->usage);
	outbox__free(m->out);
	monitor_view__free(m->view);
	detect__baselines_free(m->seed_pending);
	pthread_mutex_destroy(&m->view_lock);
	pthread_mutex_destroy(&m->seed_lock);
	free(m);
}
