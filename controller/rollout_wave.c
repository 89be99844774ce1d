// SPDX-License-Identifier: Apache-2.0
/*
 * rollout_wave.c — starting a rollout (choosing its agents and waves, superseding or
 * refusing overlapping ones), the wave state machine that judges the gates, the stop
 * that rolls started waves back, and undo. See rollout.h for the rules.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"
#include "common/policy.h"
#include "rollout_int.h"

size_t rollout__wave_sizes(size_t n, uint32_t canary_percent, uint32_t batch_percent, uint32_t *sizes)
{
	size_t nw = 0, left = n, size;

	if (n == 0)
		return 0;
	if (canary_percent) {
		size = (n * canary_percent + 99) / 100;
		size = size < 1 ? 1 : size > left ? left : size;
		sizes[nw++] = (uint32_t)size;
		left -= size;
	}
	while (left > 0) {
		size = batch_percent ? (n * batch_percent + 99) / 100 : left;
		size = size < 1 ? 1 : size > left ? left : size;
		sizes[nw++] = (uint32_t)size;
		left -= size;
	}
	return nw;
}

/* Dropped packets as a percentage of those seen between two counter reports; -1 when
 * unknown (no reports, no traffic, or counters that went backwards: a restarted agent). */
static double drop_rate(const struct registry_counters *now, uint64_t packets0, uint64_t drops0)
{
	if (!now->valid || now->packets <= packets0 || now->drops < drops0)
		return -1;
	return 100.0 * (double)(now->drops - drops0) / (double)(now->packets - packets0);
}

/* ---- choosing the agents ------------------------------------------------------------------ */

/* A few revision hashes looked up while choosing previous revisions. */
struct rev_memo {
	uint64_t rev[8];
	char hash[8][STORE_HASH_HEX];
	size_t n;
};

static const char *memo_hash(struct store *st, struct rev_memo *memo, uint64_t rev)
{
	struct store_revision r;
	size_t slot;

	for (size_t i = 0; i < memo->n && i < 8; i++)
		if (memo->rev[i] == rev)
			return memo->hash[i];
	if (store__revision_get(st, rev, false, &r) != 0)
		return NULL;
	slot = memo->n++ % 8;
	memo->rev[slot] = rev;
	snprintf(memo->hash[slot], STORE_HASH_HEX, "%s", r.hash);
	store_revision__clear(&r);
	return memo->hash[slot];
}

/* What a rollback returns a to: the stored revision it runs when that is known, the
 * empty policy when it runs nothing, else its desired revision; 0 when none is known. */
static uint64_t previous_of(struct store *st, struct rev_memo *memo, const char *empty_hash,
			    const struct store_agent *a)
{
	const char *h;

	if (!a->applied_hash[0] || strcmp(a->applied_hash, empty_hash) == 0)
		return STORE_REVISION_NONE;
	if (a->applied_revision && (h = memo_hash(st, memo, a->applied_revision)) && strcmp(h, a->applied_hash) == 0)
		return a->applied_revision;
	return a->desired_revision;
}

struct pick {
	struct rollout_engine *e;
	const struct store_label *sel;
	size_t n_sel;
	struct rollout_member *m;
	size_t n, cap;
	struct rev_memo memo;
	char empty_hash[STORE_HASH_HEX];
	uint32_t rules;		/* for capacity warnings */
	uint32_t too_small;	/* agents whose capacity is below rules */
	char small_node[256];	/* the first of them */
	uint32_t small_cap;
	int err;
};

static void pick_one(void *arg, const struct store_agent *a)
{
	struct pick *p = arg;
	struct rollout_member *m;

	if (p->err || !rollout__selector_matches(p->sel, p->n_sel, a->labels, a->n_labels))
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;

		m = realloc(p->m, cap * sizeof(*m));
		if (!m) {
			p->err = -ENOMEM;
			return;
		}
		p->m = m;
		p->cap = cap;
	}
	m = &p->m[p->n];
	memset(m, 0, sizeof(*m));
	m->a.node_id = strdup(a->node_id);
	if (!m->a.node_id) {
		p->err = -ENOMEM;
		return;
	}
	p->n++;
	m->a.previous_revision = previous_of(p->e->st, &p->memo, p->empty_hash, a);
	m->a.state = STORE_MEMBER_WAITING;
	m->a.rate_before = m->a.rate_after = -1;
	m->dirty = true;
	if (a->rule_capacity && p->rules > a->rule_capacity && p->too_small++ == 0) {
		snprintf(p->small_node, sizeof(p->small_node), "%s", a->node_id);
		p->small_cap = a->rule_capacity;
	}
}

static void pick_free(struct pick *p)
{
	for (size_t i = 0; i < p->n; i++)
		store_rollout_agent__clear(&p->m[i].a);
	free(p->m);
	p->m = NULL;
	p->n = p->cap = 0;
}

static int cmp_pick(const void *a, const void *b)
{
	return strcmp(((const struct rollout_member *)a)->a.node_id, ((const struct rollout_member *)b)->a.node_id);
}

/* The connected agents the selector picks, sorted by node id. 0 or -ENOMEM. */
static int pick(struct rollout_engine *e, const struct store_label *sel, size_t n_sel, uint32_t rules,
		struct pick *p)
{
	Sluice__V1__Policy empty = SLUICE__V1__POLICY__INIT;

	memset(p, 0, sizeof(*p));
	p->e = e;
	p->sel = sel;
	p->n_sel = n_sel;
	p->rules = rules;
	policy__hash(&empty, p->empty_hash);
	e->fleet.foreach(e->fleet.ctx, pick_one, p);
	if (p->err) {
		pick_free(p);
		return p->err;
	}
	if (p->n) /* p->m is NULL when nothing was picked */
		qsort(p->m, p->n, sizeof(*p->m), cmp_pick);
	return 0;
}

static bool picked(const struct pick *p, const char *node_id)
{
	struct rollout_member key = { .a.node_id = (char *)node_id };

	return p->n && bsearch(&key, p->m, p->n, sizeof(*p->m), cmp_pick);
}

/*
 * Sorts the active rollouts sharing agents with p into those p covers entirely (every
 * connected agent of theirs is in p: they get superseded) and refuses a partial overlap.
 * 0 with cover[] filled, or -EBUSY with a message.
 */
static int overlaps(struct rollout_engine *e, const struct pick *p, struct rollout_active **cover, size_t *n_cover,
		    char *err, size_t errlen)
{
	*n_cover = 0;
	for (struct rollout_active *ro = e->active; ro; ro = ro->next) {
		const char *outside = NULL;
		size_t shared = 0;

		for (size_t k = 0; k < ro->n; k++) {
			if (picked(p, ro->m[k].a.node_id))
				shared++;
			else if (!outside && e->fleet.agent(e->fleet.ctx, ro->m[k].a.node_id))
				outside = ro->m[k].a.node_id;
		}
		if (!shared)
			continue;
		if (outside) {
			rollout_int__msg(err, errlen,
			    "rollout %llu (revision %llu) is still moving %zu of these agents, but also agent '%s', which this one would not cover; wait for it to finish, choose a selector that covers all of its agents or none, or stop it with: sluicectl rollout abort %llu",
			    (unsigned long long)ro->r.id, (unsigned long long)ro->r.revision, shared, outside,
			    (unsigned long long)ro->r.id);
			return -EBUSY;
		}
		cover[(*n_cover)++] = ro;
	}
	return 0;
}

static size_t count_active(const struct rollout_engine *e)
{
	size_t n = 0;

	for (const struct rollout_active *ro = e->active; ro; ro = ro->next)
		n++;
	return n;
}

int rollout__check(struct rollout_engine *e, const struct store_label *selector, size_t n_selector, char *err,
		   size_t errlen)
{
	struct rollout_active **cover = calloc(count_active(e) + 1, sizeof(*cover));
	size_t n_cover;
	struct pick p;
	int rc;

	if (!cover)
		return -ENOMEM;
	rc = pick(e, selector, n_selector, 0, &p);
	if (!rc)
		rc = overlaps(e, &p, cover, &n_cover, err, errlen);
	pick_free(&p);
	free(cover);
	return rc;
}

/* ---- waves ------------------------------------------------------------------------------ */

/* Starts wave w: its agents are to run the revision, with their drop rate so far noted. */
static void start_wave(struct rollout_engine *e, struct rollout_active *ro, uint32_t w, int64_t now)
{
	struct store_wave *wave = &ro->r.waves[w];

	wave->state = STORE_WAVE_RUNNING;
	wave->started_ms = now;
	ro->r.current_wave = w;
	ro->r.next_wave_ms = 0;
	ro->dirty = true;
	for (size_t k = ro->start[w]; k < ro->start[w + 1]; k++) {
		struct rollout_member *m = &ro->m[k];
		struct registry_counters c0 = { 0 }, c1 = { 0 };

		m->a.state = STORE_MEMBER_PENDING;
		if (e->fleet.counters(e->fleet.ctx, m->a.node_id, &c0, &c1) == 0 && c1.valid)
			m->a.rate_before = drop_rate(&c0, c1.packets, c1.drops);
		m->dirty = true;
	}
	/* Its agents are told once the wave's start is stored. Their desired revision is not
	 * written to the agents' rows in that transaction: a member of a started wave is
	 * selected by the rollout itself (rollout__select), so the stored rows are the
	 * membership, and 10,000 agents start sooner. */
	ro->send_wave = w + 1;
	if (ro->r.id) /* the first wave starts with the rollout, which says so itself */
		pr_info("rollout %llu: wave %u of %zu started (%zu agents, revision %llu)", (unsigned long long)ro->r.id,
			w + 1, ro->r.n_waves, ro->start[w + 1] - ro->start[w], (unsigned long long)ro->r.revision);
}

/* Looks at a pending member's agent: ACKED when it runs the revision, NACKED when it
 * refused it. */
static void refresh(struct rollout_engine *e, struct rollout_active *ro, struct rollout_member *m)
{
	const struct store_agent *a = e->fleet.agent(e->fleet.ctx, m->a.node_id);
	struct registry_counters c = { 0 };

	if (!a)
		return;
	if (strcmp(a->applied_hash, ro->r.hash) == 0) {
		m->a.state = STORE_MEMBER_ACKED;
		if (e->fleet.counters(e->fleet.ctx, m->a.node_id, &c, NULL) == 0 && c.valid) {
			m->a.ack_packets = c.packets;
			m->a.ack_drops = c.drops;
		}
		m->dirty = true;
	} else if (a->nacked_revision == ro->r.revision) {
		m->a.state = STORE_MEMBER_NACKED;
		free(m->a.error);
		m->a.error = strdup(a->last_error && a->last_error[0] ? a->last_error : "refused without a reason");
		m->dirty = true;
	}
}

/* The wave's agents have all answered (or were excused): bake for the interval (the
 * drop-rate gate watches for at least ROLLOUT_MIN_BAKE_S; the last wave bakes only
 * for that gate). */
static void to_bake(struct rollout_active *ro, struct store_wave *w, int64_t now)
{
	bool last = ro->r.current_wave + 1 == ro->r.n_waves;
	bool gate = ro->r.max_drop_rate_change > 0;
	int64_t bake = last ? 0 : ro->r.interval_seconds;

	if (gate && bake < ROLLOUT_MIN_BAKE_S)
		bake = ro->r.interval_seconds > ROLLOUT_MIN_BAKE_S ? ro->r.interval_seconds : ROLLOUT_MIN_BAKE_S;
	w->state = STORE_WAVE_BAKING;
	w->answered_ms = now;
	ro->r.next_wave_ms = now + bake * 1000;
	ro->dirty = true;
}

/* "wave 2: agent 'gw2' refused revision 5: <why> (and 1 more)" */
static void failure_reason(const struct rollout_active *ro, const struct rollout_member *first, size_t n_failed,
			   char *buf, size_t len)
{
	char more[48] = "";

	if (n_failed > 1)
		snprintf(more, sizeof(more), " (and %zu more)", n_failed - 1);
	switch (first->a.state) {
	case STORE_MEMBER_NACKED:
		snprintf(buf, len, "wave %u: agent '%s' refused revision %llu: %s%s", first->a.wave + 1, first->a.node_id,
			 (unsigned long long)ro->r.revision, first->a.error ? first->a.error : "", more);
		break;
	default:
		snprintf(buf, len, "wave %u: agent '%s': %s%s", first->a.wave + 1, first->a.node_id,
			 first->a.error ? first->a.error : "failed", more);
		break;
	}
}

/* Judges a running wave. True when it moved on to baking. */
static bool judge_running(struct rollout_engine *e, struct rollout_active *ro, struct store_wave *w, int64_t now)
{
	uint32_t idx = ro->r.current_wave;
	const struct rollout_member *first = NULL;
	size_t pending = 0, failed = 0;
	uint32_t timeout = ro->r.ack_timeout_seconds ? ro->r.ack_timeout_seconds : ROLLOUT_DEFAULT_ACK_TIMEOUT_S;
	bool due = now >= w->started_ms + (int64_t)timeout * 1000;
	char reason[700];

	for (size_t k = ro->start[idx]; k < ro->start[idx + 1]; k++) {
		struct rollout_member *m = &ro->m[k];

		if (m->a.state == STORE_MEMBER_PENDING)
			refresh(e, ro, m);
		if (m->a.state == STORE_MEMBER_PENDING && due) {
			bool online = e->fleet.agent(e->fleet.ctx, m->a.node_id) != NULL;

			free(m->a.error);
			if (online) {
				m->a.state = STORE_MEMBER_TIMED_OUT;
				if (asprintf(&m->a.error, "connected, but did not answer within %u s", timeout) < 0)
					m->a.error = NULL;
			} else {
				m->a.state = STORE_MEMBER_OFFLINE;
				m->a.error = strdup("offline at the ack deadline: excused; it gets the revision when it reconnects if the rollout succeeds");
			}
			m->dirty = true;
		}
		if (m->a.state == STORE_MEMBER_PENDING)
			pending++;
		if (m->a.state == STORE_MEMBER_NACKED || m->a.state == STORE_MEMBER_TIMED_OUT) {
			if (!first || (first->a.state != STORE_MEMBER_NACKED && m->a.state == STORE_MEMBER_NACKED))
				first = m;
			failed++;
		}
	}
	if (failed) {
		failure_reason(ro, first, failed, reason, sizeof(reason));
		rollout_int__stop(e, ro, STORE_ROLLOUT_FAILED, NULL, reason);
		return false;
	}
	if (pending)
		return false;
	to_bake(ro, w, now);
	return true;
}

/* The drop-rate gate at the end of a bake. True when the wave passes. */
static bool judge_bake(struct rollout_engine *e, struct rollout_active *ro)
{
	uint32_t idx = ro->r.current_wave;
	double limit = ro->r.max_drop_rate_change;
	const struct rollout_member *first = NULL;
	size_t failed = 0;
	char reason[700];

	if (limit <= 0)
		return true;
	for (size_t k = ro->start[idx]; k < ro->start[idx + 1]; k++) {
		struct rollout_member *m = &ro->m[k];
		struct registry_counters c = { 0 };

		if (m->a.state != STORE_MEMBER_ACKED || m->a.ack_packets == 0)
			continue;
		if (e->fleet.counters(e->fleet.ctx, m->a.node_id, &c, NULL) != 0)
			continue;
		m->a.rate_after = drop_rate(&c, m->a.ack_packets, m->a.ack_drops);
		m->dirty = true;
		if (m->a.rate_before < 0 || m->a.rate_after < 0 || fabs(m->a.rate_after - m->a.rate_before) <= limit)
			continue;
		m->a.state = STORE_MEMBER_DROP_RATE;
		free(m->a.error);
		if (asprintf(&m->a.error, "drop rate %.2f%% before, %.2f%% after: %+.2f points, more than the gate's %.2f",
			     m->a.rate_before, m->a.rate_after, m->a.rate_after - m->a.rate_before, limit) < 0)
			m->a.error = NULL;
		if (!first)
			first = m;
		failed++;
	}
	if (!failed)
		return true;
	failure_reason(ro, first, failed, reason, sizeof(reason));
	rollout_int__stop(e, ro, STORE_ROLLOUT_FAILED, NULL, reason);
	return false;
}

struct catch_up {
	struct rollout_engine *e;
	struct rollout_active *ro;
};

static void catch_up_one(void *arg, const struct store_agent *a)
{
	struct catch_up *c = arg;
	uint64_t want;

	if (!rollout__selector_matches(c->ro->r.selector, c->ro->r.n_selector, a->labels, a->n_labels))
		return;
	want = rollout__select(c->e, a);
	if (want != a->desired_revision)
		rollout_int__want(c->ro, a->node_id, want);
}

/* Every wave passed. Agents that match but were in no wave (they connected later) get
 * the revision now, as their labels select it. */
static void succeed(struct rollout_engine *e, struct rollout_active *ro)
{
	struct rollout_hist *h = rollout_int__hist_find(e, ro->r.id);
	struct catch_up c = { e, ro };
	size_t acked = 0;

	ro->r.state = STORE_ROLLOUT_SUCCEEDED;
	ro->dirty = true;
	if (h)
		h->state = STORE_ROLLOUT_SUCCEEDED;
	for (size_t k = 0; k < ro->n; k++)
		acked += ro->m[k].a.state == STORE_MEMBER_ACKED;
	e->fleet.foreach(e->fleet.ctx, catch_up_one, &c);
	rollout_int__audit(ro, "controller", "rollout-succeeded", "revision %llu acknowledged by %zu of %zu agents in %zu waves",
			   (unsigned long long)ro->r.revision, acked, ro->n, ro->r.n_waves);
	pr_info("rollout %llu succeeded: revision %llu on %zu agents", (unsigned long long)ro->r.id,
		(unsigned long long)ro->r.revision, acked);
}

static void advance(struct rollout_engine *e, struct rollout_active *ro)
{
	/* Each pass makes at most one transition; a wave can start, answer and pass at once. */
	for (size_t guard = 0; guard < 4 * ro->r.n_waves + 4 && ro->r.state == STORE_ROLLOUT_RUNNING; guard++) {
		struct store_wave *w = &ro->r.waves[ro->r.current_wave];
		int64_t now = rollout_int__now(e);

		switch (w->state) {
		case STORE_WAVE_WAITING:
			start_wave(e, ro, ro->r.current_wave, now);
			return; /* its agents need time to answer */
		case STORE_WAVE_RUNNING:
			if (!judge_running(e, ro, w, now))
				return;
			break;
		case STORE_WAVE_BAKING:
			if (now < ro->r.next_wave_ms || !judge_bake(e, ro))
				return;
			w->state = STORE_WAVE_PASSED;
			w->finished_ms = now;
			ro->dirty = true;
			if (ro->r.current_wave + 1 == ro->r.n_waves) {
				succeed(e, ro);
				return;
			}
			ro->r.current_wave++;
			break;
		default:
			return;
		}
	}
}

void rollout_int__advance(struct rollout_engine *e, struct rollout_active *ro)
{
	rollout_int__scope_begin(ro);
	advance(e, ro);
	rollout_int__scope_end();
}

static void stop(struct rollout_engine *e, struct rollout_active *ro, enum store_rollout_state state,
		 const char *who, const char *reason)
{
	static const char *const actions[] = {
		[STORE_ROLLOUT_FAILED] = "rollout-failed",
		[STORE_ROLLOUT_ABORTED] = "rollout-abort",
		[STORE_ROLLOUT_SUPERSEDED] = "rollout-superseded",
	};
	int64_t now = rollout_int__now(e);
	size_t back = 0, stuck = 0;

	ro->r.state = state;
	free(ro->r.reason);
	ro->r.reason = strdup(reason);
	ro->r.next_wave_ms = 0;
	ro->dirty = true;
	for (uint32_t w = 0; state != STORE_ROLLOUT_SUPERSEDED && w <= ro->r.current_wave && w < ro->r.n_waves; w++) {
		struct store_wave *wave = &ro->r.waves[w];

		if (wave->state == STORE_WAVE_WAITING)
			continue;
		if (w == ro->r.current_wave) {
			wave->state = state == STORE_ROLLOUT_FAILED ? STORE_WAVE_FAILED : STORE_WAVE_ROLLED_BACK;
			wave->finished_ms = now;
		} else {
			wave->state = STORE_WAVE_ROLLED_BACK;
		}
		for (size_t k = ro->start[w]; k < ro->start[w + 1]; k++) {
			struct rollout_member *m = &ro->m[k];

			m->dirty = true;
			if (!m->a.previous_revision) {
				stuck++;
				continue;
			}
			m->a.rolled_back = true;
			rollout_int__want(ro, m->a.node_id, m->a.previous_revision);
			back++;
		}
	}
	rollout_int__audit(ro, who ? who : "controller", actions[state], "%s; %zu agents sent back to their previous revision%s",
			   reason, back, stuck ? " (some had no known previous revision and were left as they are)" : "");
	if (state == STORE_ROLLOUT_SUPERSEDED)
		pr_info("rollout %llu: %s", (unsigned long long)ro->r.id, reason);
	else
		pr_warn("rollout %llu (revision %llu) %s: %s; %zu agents rolled back", (unsigned long long)ro->r.id,
			(unsigned long long)ro->r.revision, state == STORE_ROLLOUT_FAILED ? "failed" : "aborted", reason,
			back);
}

void rollout_int__stop(struct rollout_engine *e, struct rollout_active *ro, enum store_rollout_state state,
		       const char *who, const char *reason)
{
	rollout_int__scope_begin(ro);
	stop(e, ro, state, who, reason);
	rollout_int__scope_end();
}

/* ---- starting ------------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The previous revision most agents share (undo returns there); 0 when none is known. */
static uint64_t most_common_previous(const struct pick *p)
{
	uint64_t *v = calloc(p->n + 1, sizeof(*v)), best = 0;
	size_t best_n = 0, run = 0;

	if (!v)
		return 0;
	for (size_t i = 0; i < p->n; i++)
		v[i] = p->m[i].a.previous_revision;
	qsort(v, p->n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < p->n; i++) {
		run = i && v[i] == v[i - 1] ? run + 1 : 1;
		if (v[i] && run > best_n) {
			best = v[i];
			best_n = run;
		}
	}
	free(v);
	return best;
}

static int add_warning(struct store_rollout *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_warning(struct store_rollout *r, const char *fmt, ...)
{
	char **v = realloc(r->warnings, (r->n_warnings + 1) * sizeof(*v));
	va_list ap;
	int n;

	if (!v)
		return -ENOMEM;
	r->warnings = v;
	va_start(ap, fmt);
	n = vasprintf(&v[r->n_warnings], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	r->n_warnings++;
	return 0;
}

struct offline_count {
	struct rollout_engine *e;
	const struct rollout_request *req;
	size_t n;
};

static void count_offline(void *arg, const struct store_agent *a)
{
	struct offline_count *oc = arg;

	if (rollout__selector_matches(oc->req->selector, oc->req->n_selector, a->labels, a->n_labels) &&
	    !oc->e->fleet.agent(oc->e->fleet.ctx, a->node_id))
		oc->n++;
}

/* Counts known agents the selector picks that are not connected. The store is read a
 * row at a time: at the moment the fleet's updates are on their way, a copy of every
 * agent's record would add megabytes to the controller's peak. */
static size_t offline_selected(struct rollout_engine *e, const struct rollout_request *req)
{
	struct offline_count oc = { .e = e, .req = req };

	if (store__agent_foreach(e->st, count_offline, &oc))
		return 0;
	return oc.n;
}

/* Builds the new rollout's record around its members p (taken over by ro). */
static int build(struct rollout_engine *e, const struct rollout_request *req, const struct store_revision *rev,
		 struct pick *p, struct rollout_active *ro)
{
	struct store_rollout *r = &ro->r;
	uint32_t *sizes = calloc(p->n + 1, sizeof(*sizes));
	int64_t now = rollout_int__now(e);
	size_t k = 0;
	int err;

	if (!sizes)
		return -ENOMEM;
	r->revision = rev->revision;
	snprintf(r->hash, sizeof(r->hash), "%s", rev->hash);
	r->from_revision = most_common_previous(p);
	err = rollout_int__labels_dup(req->selector, req->n_selector, &r->selector, &r->n_selector);
	r->canary_percent = req->canary_percent;
	r->batch_percent = req->batch_percent;
	r->interval_seconds = req->interval_seconds;
	r->ack_timeout_seconds = req->ack_timeout_seconds ? req->ack_timeout_seconds : ROLLOUT_DEFAULT_ACK_TIMEOUT_S;
	r->max_drop_rate_change = req->max_drop_rate_change;
	r->author = strdup(req->author ? req->author : "controller");
	r->message = strdup(req->message ? req->message : "");
	r->reason = strdup("");
	r->created = r->updated = now / 1000;
	r->n_waves = rollout__wave_sizes(p->n, req->canary_percent, req->batch_percent, sizes);
	r->waves = calloc(r->n_waves + 1, sizeof(*r->waves));
	if (err || !r->author || !r->message || !r->reason || !r->waves) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t w = 0; w < r->n_waves; w++) {
		r->waves[w] = (struct store_wave){ .index = (uint32_t)w, .state = STORE_WAVE_WAITING, .agents = sizes[w] };
		for (size_t j = 0; j < sizes[w]; j++)
			p->m[k++].a.wave = (uint32_t)w;
	}
	r->state = r->n_waves ? STORE_ROLLOUT_RUNNING : STORE_ROLLOUT_SUCCEEDED;
	if (p->too_small)
		err = add_warning(r, "%u selected agent%s cannot hold revision %llu (%u rules; agent '%s' holds at most %u): %s refuse it and fail %s wave; lower the rule count or raise the capacity",
				  p->too_small, p->too_small > 1 ? "s" : "", (unsigned long long)rev->revision, rev->rules,
				  p->small_node, p->small_cap, p->too_small > 1 ? "they will" : "it will",
				  p->too_small > 1 ? "their" : "its");
	ro->m = p->m;
	ro->n = p->n;
	p->m = NULL;
	p->n = p->cap = 0;
	if (!err)
		err = rollout_int__index(ro);
cleanup:
	free(sizes);
	return err;
}

int rollout__start(struct rollout_engine *e, const struct rollout_request *req, uint64_t *id, char *err,
		   size_t errlen)
{
	struct rollout_active *ro = NULL, **cover = NULL;
	struct store_rollout_agent *agents = NULL;
	struct store_revision rev = { 0 };
	size_t n_cover = 0, off;
	struct pick p = { 0 };
	char why[200];
	int rc;

	if (req->canary_percent > 100 || req->batch_percent > 100) {
		rollout_int__msg(err, errlen, "canary and batch are percentages of the selected agents: 0-100 (got %u%% and %u%%)",
		    req->canary_percent, req->batch_percent);
		return -EINVAL;
	}
	if (req->max_drop_rate_change < 0 || req->max_drop_rate_change > 100 || isnan(req->max_drop_rate_change)) {
		rollout_int__msg(err, errlen, "the drop-rate gate is in percentage points: 0-100 (0: no gate)");
		return -EINVAL;
	}
	rc = store__revision_get(e->st, req->revision, false, &rev);
	if (rc == -ENOENT) {
		rollout_int__msg(err, errlen, "revision %llu does not exist; see sluicectl get revisions", (unsigned long long)req->revision);
		return rc;
	}
	if (rc) {
		rollout_int__msg(err, errlen, "cannot read revision %llu: %s", (unsigned long long)req->revision, strerror(-rc));
		return rc;
	}
	ro = calloc(1, sizeof(*ro));
	cover = calloc(count_active(e) + 1, sizeof(*cover));
	if (!ro || !cover) {
		rc = -ENOMEM;
		goto nomem;
	}
	rc = pick(e, req->selector, req->n_selector, rev.rules, &p);
	if (!rc)
		rc = overlaps(e, &p, cover, &n_cover, err, errlen);
	if (rc == -EBUSY)
		goto cleanup;
	if (!rc)
		rc = build(e, req, &rev, &p, ro);
	if (rc)
		goto nomem;
	rollout_int__new_key(ro->r.key);
	/* The rollouts this one covers step aside first: a crash after that and before the
	 * insert leaves their agents where they are, never claimed by two rollouts. */
	for (size_t i = 0; i < n_cover; i++) {
		snprintf(why, sizeof(why), "superseded by a newer rollout of revision %llu", (unsigned long long)rev.revision);
		rollout_int__stop(e, cover[i], STORE_ROLLOUT_SUPERSEDED, req->author, why);
		rc = rollout_int__save(e, cover[i]);
		if (rc) {
			rollout_int__msg(err, errlen, "cannot record that rollout %llu is superseded: %s", (unsigned long long)cover[i]->r.id,
			    strerror(-rc));
			goto cleanup;
		}
		rollout_int__retire(e, cover[i]);
	}
	/* The first wave starts with the insert, in the same transaction. */
	if (ro->r.n_waves) {
		start_wave(e, ro, 0, rollout_int__now(e));
		ro->dirty = false;
	}
	agents = calloc(ro->n + 1, sizeof(*agents));
	if (!agents) {
		rc = -ENOMEM;
		goto nomem;
	}
	for (size_t i = 0; i < ro->n; i++) {
		agents[i] = ro->m[i].a;
		ro->m[i].dirty = false;
	}
	rc = store__rollout_insert(e->st, &ro->r, agents, ro->n, ro->pend, ro->n_pend, &ro->r.id);
	if (rc) {
		rollout_int__msg(err, errlen, "cannot store the rollout: %s", strerror(-rc));
		goto cleanup;
	}
	rc = rollout_int__hist_add(e, &ro->r, ro->r.state == STORE_ROLLOUT_SUCCEEDED ? NULL : ro);
	if (rc) {
		rollout_int__msg(err, errlen, "out of memory");
		goto cleanup;
	}
	rollout_int__tell(e, ro);
	*id = ro->r.id;
	rollout_int__scope_begin(ro);
	pr_info("rollout %llu of revision %llu started by %s: %zu agents in %zu waves", (unsigned long long)ro->r.id,
		(unsigned long long)ro->r.revision, ro->r.author, ro->n, ro->r.n_waves);
	rollout_int__scope_end();
	/* Noted after the agents were told: counting the offline ones reads every agent. */
	off = offline_selected(e, req);
	if (off && !add_warning(&ro->r, "%zu selected agent%s offline and in no wave; %s the revision when %s if the rollout succeeds",
				off, off > 1 ? "s are" : " is", off > 1 ? "they get" : "it gets",
				off > 1 ? "they reconnect" : "it reconnects"))
		ro->dirty = true;
	if (ro->r.state == STORE_ROLLOUT_SUCCEEDED) {
		rollout_int__save(e, ro); /* the warning */
		rollout_int__active_free(ro);
	} else {
		ro->next = e->active;
		e->active = ro;
		rollout_int__advance(e, ro); /* agents that already run it answer at once */
		rollout_int__save(e, ro);
	}
	ro = NULL;
	rollout_int__hist_trim(e);
	goto cleanup;
nomem:
	rollout_int__msg(err, errlen, "cannot start the rollout: %s", strerror(-rc));
cleanup:
	free(agents);
	free(cover);
	pick_free(&p);
	rollout_int__active_free(ro);
	store_revision__clear(&rev);
	return rc;
}
