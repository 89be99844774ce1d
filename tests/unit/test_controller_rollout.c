// SPDX-License-Identifier: Apache-2.0
/*
 * test_controller_rollout.c — the rollout engine (controller/rollout.h) on a real store
 * in a temporary directory, a fake fleet of agents the test answers for, and a fake
 * clock: waves and their sizes, the ack, timeout and drop-rate gates, rollback of the
 * started waves only, pause/resume/abort/undo, superseding and refusing overlaps, the
 * selection rule for agents that join later, a restart in the middle of a rollout, and
 * the dry-run plan.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/policy.h"
#include "rollout.h"
#include "store.h"

#define MAX_AGENTS 16
#define T0 1700000000000LL /* the fake clock starts here (unix ms) */

struct fake {
	struct store_agent a;
	struct store_label label[2];
	bool connected;
	int told;			 /* set_desired calls */
	struct registry_counters cnt[2]; /* newest, previous */
};

struct fx {
	char dir[64];
	char db[128];
	struct store *st;
	struct fake ag[MAX_AGENTS];
	size_t n;
	int64_t now;
	struct rollout_fleet fleet;
	struct rollout_clock clock;
	struct rollout_engine *e;
	uint64_t rev[4];
	char hash[4][STORE_HASH_HEX];
	char err[1024];
};

/* ---- the fake fleet and clock -------------------------------------------------------- */

static struct fake *find(struct fx *fx, const char *node)
{
	for (size_t i = 0; i < fx->n; i++)
		if (strcmp(fx->ag[i].a.node_id, node) == 0)
			return &fx->ag[i];
	return NULL;
}

static const struct store_agent *f_agent(void *ctx, const char *node)
{
	struct fake *f = find(ctx, node);

	return f && f->connected ? &f->a : NULL;
}

static void f_foreach(void *ctx, void (*fn)(void *arg, const struct store_agent *a), void *arg)
{
	struct fx *fx = ctx;

	for (size_t i = 0; i < fx->n; i++)
		if (fx->ag[i].connected)
			fn(arg, &fx->ag[i].a);
}

static void f_set_desired(void *ctx, const char *node, uint64_t rev)
{
	struct fake *f = find(ctx, node);

	if (f && f->connected) {
		f->a.desired_revision = rev;
		f->told++;
	}
}

static int f_counters(void *ctx, const char *node, struct registry_counters *newest, struct registry_counters *prev)
{
	struct fake *f = find(ctx, node);

	if (!f || !f->connected)
		return -ENOENT;
	if (newest)
		*newest = f->cnt[0];
	if (prev)
		*prev = f->cnt[1];
	return 0;
}

static int64_t f_now(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

/* ---- fixture ----------------------------------------------------------------------------- */

static const char *const policies[] = {
	"rules:\n  - { name: a, priority: 1, match: { proto: tcp, dst_ports: [23] }, action: drop }\n",
	"rules:\n  - { name: a, priority: 1, match: { proto: tcp, dst_ports: [23, 2323] }, action: drop }\n",
	"rules:\n  - { name: a, priority: 1, action: drop }\n  - { name: b, priority: 2, action: pass }\n"
	"  - { name: c, priority: 3, action: count }\n",
	"rules: []\n",
};

static void add_revision(struct fx *fx, int i)
{
	Sluice__V1__Policy *p = NULL;
	struct store_revision_new in = { 0 };
	uint8_t *blob = NULL;
	size_t len = 0;
	bool created;

	assert_int_equal(policy_yaml__parse_string("t.yaml", policies[i], strlen(policies[i]), 0, &p, fx->err,
						   sizeof(fx->err)),
			 0);
	assert_int_equal(policy__hash(p, fx->hash[i]), 0);
	assert_int_equal(policy__pack(p, &blob, &len), 0);
	in = (struct store_revision_new){ .hash = fx->hash[i], .author = "test", .created = T0 / 1000,
					  .rules = (uint32_t)p->n_rules, .policy = blob, .policy_len = len };
	assert_int_equal(store__revision_insert(fx->st, &in, &fx->rev[i], &created), 0);
	free(blob);
	policy__free(p);
}

/* Agents gw00..gwNN, env=prod (even) or env=dev (odd) unless all_prod, all running rev[0]. */
static void add_agents(struct fx *fx, size_t n, bool all_prod)
{
	for (size_t i = 0; i < n; i++) {
		struct fake *f = &fx->ag[fx->n++];
		char name[16];

		snprintf(name, sizeof(name), "gw%02zu", fx->n - 1);
		memset(f, 0, sizeof(*f));
		f->a.node_id = strdup(name);
		f->label[0] = (struct store_label){ "env", (char *)(all_prod || i % 2 == 0 ? "prod" : "dev") };
		f->a.labels = f->label;
		f->a.n_labels = 1;
		f->a.state = STORE_AGENT_SYNCED;
		f->a.desired_revision = fx->rev[0];
		f->a.applied_revision = fx->rev[0];
		snprintf(f->a.applied_hash, sizeof(f->a.applied_hash), "%s", fx->hash[0]);
		f->connected = true;
		assert_int_equal(store__agent_put(fx->st, &f->a), 0);
	}
}

static void new_engine(struct fx *fx)
{
	fx->e = rollout__new(fx->st, &fx->fleet, &fx->clock);
	assert_non_null(fx->e);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-rollout.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->db, sizeof(fx->db), "%s/controller.db", fx->dir);
	fx->st = store__open(fx->db, fx->err, sizeof(fx->err));
	assert_non_null(fx->st);
	fx->now = T0;
	fx->fleet = (struct rollout_fleet){ f_agent, f_foreach, f_set_desired, f_counters, fx };
	fx->clock = (struct rollout_clock){ f_now, fx };
	for (int i = 0; i < 4; i++)
		add_revision(fx, i);
	new_engine(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	rollout__free(fx->e);
	store__close(fx->st);
	for (size_t i = 0; i < fx->n; i++) {
		free(fx->ag[i].a.node_id);
		free(fx->ag[i].a.last_error);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static void tick(struct fx *fx, int64_t advance_ms)
{
	fx->now += advance_ms;
	rollout__tick(fx->e);
}

/* The agent applies what it was told (as the registry would record an Ack). */
static void agent_acks(struct fx *fx, size_t i, int rev_idx)
{
	struct fake *f = &fx->ag[i];

	assert_int_equal(f->a.desired_revision, fx->rev[rev_idx]);
	f->a.applied_revision = fx->rev[rev_idx];
	snprintf(f->a.applied_hash, sizeof(f->a.applied_hash), "%s", fx->hash[rev_idx]);
}

static void agent_nacks(struct fx *fx, size_t i, uint64_t rev, const char *why)
{
	fx->ag[i].a.nacked_revision = rev;
	free(fx->ag[i].a.last_error);
	fx->ag[i].a.last_error = strdup(why);
}

/* Every agent told to run rev_idx acknowledges it. */
static size_t ack_all_told(struct fx *fx, int rev_idx)
{
	size_t n = 0;

	for (size_t i = 0; i < fx->n; i++) {
		if (fx->ag[i].connected && fx->ag[i].a.desired_revision == fx->rev[rev_idx] &&
		    strcmp(fx->ag[i].a.applied_hash, fx->hash[rev_idx]) != 0) {
			agent_acks(fx, i, rev_idx);
			n++;
		}
	}
	return n;
}

static uint64_t start(struct fx *fx, int rev_idx, const char *env, uint32_t canary, uint32_t batch,
		      uint32_t interval)
{
	struct store_label sel = { "env", (char *)env };
	struct rollout_request req = {
		.revision = fx->rev[rev_idx], .selector = env ? &sel : NULL, .n_selector = env ? 1 : 0,
		.canary_percent = canary, .batch_percent = batch, .interval_seconds = interval,
		.ack_timeout_seconds = 30, .author = "alice", .message = "test",
	};
	uint64_t id = 0;

	if (rollout__start(fx->e, &req, &id, fx->err, sizeof(fx->err)))
		fail_msg("rollout__start: %s", fx->err);
	assert_true(id > 0);
	return id;
}

static void get(struct fx *fx, uint64_t id, struct store_rollout *r)
{
	rollout__flush(fx->e);
	assert_int_equal(store__rollout_get(fx->st, id, r), 0);
}

static enum store_rollout_state state_of(struct fx *fx, uint64_t id)
{
	struct store_rollout r;
	enum store_rollout_state s;

	get(fx, id, &r);
	s = r.state;
	store_rollout__clear(&r);
	return s;
}

static struct store_rollout_agent member(struct fx *fx, uint64_t id, const char *node, char *err, size_t errlen)
{
	struct store_rollout_agent *v, out = { 0 };
	size_t n;

	rollout__flush(fx->e);
	assert_int_equal(store__rollout_agents(fx->st, id, &v, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].node_id, node) == 0) {
			out = v[i];
			snprintf(err, errlen, "%s", v[i].error ? v[i].error : "");
			out.node_id = NULL;
			out.error = NULL;
		}
	}
	store_rollout_agent__free_array(v, n);
	return out;
}

static uint64_t stored_desired(struct fx *fx, const char *node)
{
	struct store_agent a;
	uint64_t d;

	assert_int_equal(store__agent_get(fx->st, node, &a), 0);
	d = a.desired_revision;
	store_agent__clear(&a);
	return d;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_wave_sizes(void **state)
{
	uint32_t s[32];

	assert_int_equal(rollout__wave_sizes(0, 10, 25, s), 0);
	assert_int_equal(rollout__wave_sizes(10, 0, 0, s), 1);
	assert_int_equal(s[0], 10);
	assert_int_equal(rollout__wave_sizes(10, 10, 50, s), 3); /* 1, 5, 4 */
	assert_int_equal(s[0], 1);
	assert_int_equal(s[1], 5);
	assert_int_equal(s[2], 4);
	assert_int_equal(rollout__wave_sizes(3, 10, 25, s), 3); /* at least one agent per wave */
	assert_int_equal(s[0] + s[1] + s[2], 3);
	assert_int_equal(rollout__wave_sizes(100, 10, 0, s), 2); /* canary, then the rest */
	assert_int_equal(s[1], 90);
	assert_int_equal(rollout__wave_sizes(7, 0, 50, s), 2); /* batches only */
	assert_int_equal(s[0], 4);
	assert_int_equal(s[1], 3);
	assert_int_equal(rollout__wave_sizes(1, 100, 100, s), 1);
}

static void test_all_at_once(void **state)
{
	struct fx *fx = *state;
	struct store_rollout r;
	uint64_t id;

	add_agents(fx, 4, true);
	id = start(fx, 1, NULL, 0, 0, 0);
	for (size_t i = 0; i < 4; i++) {
		struct store_agent a;

		assert_int_equal(fx->ag[i].a.desired_revision, fx->rev[1]);
		/* Stored before sent, as membership of a started wave: a new engine on this store
		 * selects the revision for the agent even though its row still says revision 1. */
		assert_int_equal(store__agent_get(fx->st, fx->ag[i].a.node_id, &a), 0);
		assert_int_equal(a.desired_revision, fx->rev[0]);
		rollout__free(fx->e);
		new_engine(fx);
		assert_int_equal(rollout__select(fx->e, &a), fx->rev[1]);
		store_agent__clear(&a);
	}
	tick(fx, 500);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_RUNNING);
	assert_int_equal(ack_all_told(fx, 1), 4);
	tick(fx, 500);
	get(fx, id, &r);
	assert_int_equal(r.state, STORE_ROLLOUT_SUCCEEDED);
	assert_int_equal(r.n_waves, 1);
	assert_int_equal(r.waves[0].state, STORE_WAVE_PASSED);
	assert_int_equal(r.waves[0].agents, 4);
	assert_int_equal(r.from_revision, fx->rev[0]);
	assert_string_equal(r.author, "alice");
	store_rollout__clear(&r);
}

/* The canary refuses: it goes back, and the later waves are never touched. */
static void test_canary_nack_rolls_back(void **state)
{
	struct fx *fx = *state;
	struct store_rollout r;
	struct store_rollout_agent m;
	char err[512];
	uint64_t id;

	add_agents(fx, 10, true);
	id = start(fx, 1, NULL, 10, 50, 30);
	assert_int_equal(fx->ag[0].a.desired_revision, fx->rev[1]); /* gw00: the canary, by node id */
	for (size_t i = 1; i < 10; i++)
		assert_int_equal(fx->ag[i].told, 0);
	agent_nacks(fx, 0, fx->rev[1], "rule 'a': map full");
	tick(fx, 500);
	get(fx, id, &r);
	assert_int_equal(r.state, STORE_ROLLOUT_FAILED);
	assert_non_null(strstr(r.reason, "wave 1: agent 'gw00' refused revision"));
	assert_non_null(strstr(r.reason, "rule 'a': map full"));
	assert_int_equal(r.waves[0].state, STORE_WAVE_FAILED);
	assert_int_equal(r.waves[1].state, STORE_WAVE_WAITING);
	assert_int_equal(r.waves[2].state, STORE_WAVE_WAITING);
	store_rollout__clear(&r);
	m = member(fx, id, "gw00", err, sizeof(err));
	assert_int_equal(m.state, STORE_MEMBER_NACKED);
	assert_true(m.rolled_back);
	assert_string_equal(err, "rule 'a': map full");
	assert_int_equal(fx->ag[0].a.desired_revision, fx->rev[0]);
	assert_int_equal(stored_desired(fx, "gw00"), fx->rev[0]);
	m = member(fx, id, "gw05", err, sizeof(err));
	assert_int_equal(m.state, STORE_MEMBER_WAITING);
	assert_false(m.rolled_back);
	for (size_t i = 1; i < 10; i++) {
		assert_int_equal(fx->ag[i].told, 0);
		assert_int_equal(fx->ag[i].a.desired_revision, fx->rev[0]);
	}
	/* Finished: more ticks change nothing. */
	tick(fx, 60000);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_FAILED);
}

/* canary 10% then batches of 50% every 30 s; the second wave fails: the first two waves
 * go back, the third is never touched. */
static void test_staged_waves_and_later_failure(void **state)
{
	struct fx *fx = *state;
	struct store_rollout r;
	uint64_t id;

	add_agents(fx, 10, true);
	id = start(fx, 1, NULL, 10, 50, 30);
	assert_int_equal(ack_all_told(fx, 1), 1);
	tick(fx, 500);
	get(fx, id, &r);
	assert_int_equal(r.waves[0].state, STORE_WAVE_BAKING);
	assert_int_equal(r.next_wave_ms, fx->now + 30000);
	store_rollout__clear(&r);
	tick(fx, 29000); /* still within the interval */
	assert_int_equal(fx->ag[1].told, 0);
	tick(fx, 1000);
	for (size_t i = 1; i <= 5; i++)
		assert_int_equal(fx->ag[i].a.desired_revision, fx->rev[1]);
	assert_int_equal(fx->ag[6].told, 0);
	for (size_t i = 1; i <= 4; i++)
		agent_acks(fx, i, 1);
	agent_nacks(fx, 5, fx->rev[1], "compile failed");
	tick(fx, 500);
	get(fx, id, &r);
	assert_int_equal(r.state, STORE_ROLLOUT_FAILED);
	assert_int_equal(r.current_wave, 1);
	assert_int_equal(r.waves[0].state, STORE_WAVE_ROLLED_BACK);
	assert_int_equal(r.waves[1].state, STORE_WAVE_FAILED);
	assert_int_equal(r.waves[2].state, STORE_WAVE_WAITING);
	assert_non_null(strstr(r.reason, "wave 2: agent 'gw05'"));
	store_rollout__clear(&r);
	for (size_t i = 0; i <= 5; i++)
		assert_int_equal(fx->ag[i].a.desired_revision, fx->rev[0]);
	for (size_t i = 6; i < 10; i++)
		assert_int_equal(fx->ag[i].told, 0);
}

static void test_staged_success(void **state)
{
	struct fx *fx = *state;
	struct store_rollout r;
	uint64_t id;

	add_agents(fx, 10, true);
	id = start(fx, 1, NULL, 10, 50, 30);
	for (int wave = 0; wave < 3; wave++) {
		assert_true(ack_all_told(fx, 1) > 0);
		tick(fx, 500);
		tick(fx, 30000);
	}
	get(fx, id, &r);
	assert_int_equal(r.state, STORE_ROLLOUT_SUCCEEDED);
	for (size_t w = 0; w < 3; w++)
		assert_int_equal(r.waves[w].state, STORE_WAVE_PASSED);
	store_rollout__clear(&r);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(fx->ag[i].a.desired_revision, fx->rev[1]);
}

/* Silent but connected past the deadline fails the wave; offline at the deadline is
 * excused. */
static void test_ack_timeout_and_offline(void **state)
{
	struct fx *fx = *state;
	struct store_rollout_agent m;
	char err[512];
	uint64_t id;

	add_agents(fx, 3, true);
	id = start(fx, 1, NULL, 0, 0, 0);
	agent_acks(fx, 0, 1);
	fx->ag[1].connected = false; /* frozen, then dropped by keepalive */
	tick(fx, 29000);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_RUNNING);
	agent_acks(fx, 2, 1);
	tick(fx, 1000);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_SUCCEEDED);
	m = member(fx, id, "gw01", err, sizeof(err));
	assert_int_equal(m.state, STORE_MEMBER_OFFLINE);
	assert_non_null(strstr(err, "offline at the ack deadline"));

	/* Now a connected agent that never answers. */
	id = start(fx, 2, NULL, 0, 0, 0);
	agent_acks(fx, 0, 2);
	tick(fx, 31000);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_FAILED);
	m = member(fx, id, "gw02", err, sizeof(err));
	assert_int_equal(m.state, STORE_MEMBER_TIMED_OUT);
	assert_non_null(strstr(err, "did not answer within 30 s"));
	assert_int_equal(fx->ag[0].a.desired_revision, fx->rev[1]); /* back to what it ran */
}

static void set_counters(struct fake *f, uint64_t packets, uint64_t drops)
{
	f->cnt[1] = f->cnt[0];
	f->cnt[0] = (struct registry_counters){ .valid = true, .packets = packets, .drops = drops };
}

static void test_drop_rate_gate(void **state)
{
	struct fx *fx = *state;
	struct store_label sel = { "env", "prod" };
	struct rollout_request req = { .selector = &sel, .n_selector = 1, .ack_timeout_seconds = 30,
				       .max_drop_rate_change = 5, .author = "alice" };
	struct store_rollout_agent m;
	struct store_rollout r;
	char err[512];
	uint64_t id;

	add_agents(fx, 2, true);
	for (size_t i = 0; i < 2; i++) {
		set_counters(&fx->ag[i], 1000, 10);
		set_counters(&fx->ag[i], 2000, 20); /* 1% before */
	}
	req.revision = fx->rev[1];
	assert_int_equal(rollout__start(fx->e, &req, &id, fx->err, sizeof(fx->err)), 0);
	ack_all_told(fx, 1);
	tick(fx, 500);
	get(fx, id, &r);
	assert_int_equal(r.waves[0].state, STORE_WAVE_BAKING); /* the last wave bakes for the gate */
	assert_int_equal(r.next_wave_ms, fx->now + ROLLOUT_MIN_BAKE_S * 1000);
	store_rollout__clear(&r);
	set_counters(&fx->ag[0], 3000, 40);  /* 2% after: within 5 points */
	set_counters(&fx->ag[1], 3000, 520); /* 50% after */
	tick(fx, ROLLOUT_MIN_BAKE_S * 1000);
	get(fx, id, &r);
	assert_int_equal(r.state, STORE_ROLLOUT_FAILED);
	assert_non_null(strstr(r.reason, "agent 'gw01'"));
	assert_non_null(strstr(r.reason, "drop rate 1.00% before, 50.00% after"));
	store_rollout__clear(&r);
	m = member(fx, id, "gw01", err, sizeof(err));
	assert_int_equal(m.state, STORE_MEMBER_DROP_RATE);
	assert_true(m.rate_before > 0.99 && m.rate_before < 1.01);
	m = member(fx, id, "gw00", err, sizeof(err));
	assert_int_equal(m.state, STORE_MEMBER_ACKED);
	assert_true(m.rate_after > 1.99 && m.rate_after < 2.01);
	assert_int_equal(fx->ag[1].a.desired_revision, fx->rev[0]);
}

static void test_pause_resume_abort(void **state)
{
	struct fx *fx = *state;
	uint64_t id;

	add_agents(fx, 4, true);
	id = start(fx, 1, NULL, 25, 25, 10);
	ack_all_told(fx, 1);
	assert_int_equal(rollout__pause(fx->e, id, "bob", fx->err, sizeof(fx->err)), 0);
	assert_int_equal(rollout__pause(fx->e, id, "bob", fx->err, sizeof(fx->err)), -EALREADY);
	tick(fx, 60000);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_PAUSED);
	assert_int_equal(fx->ag[1].told, 0); /* no new wave while paused */
	assert_int_equal(rollout__resume(fx->e, id, "bob", fx->err, sizeof(fx->err)), 0);
	tick(fx, 500);
	tick(fx, 10000);
	assert_int_equal(fx->ag[1].a.desired_revision, fx->rev[1]);
	assert_int_equal(rollout__abort(fx->e, id, "carol", "changed my mind", fx->err, sizeof(fx->err)), 0);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_ABORTED);
	assert_int_equal(fx->ag[0].a.desired_revision, fx->rev[0]);
	assert_int_equal(fx->ag[1].a.desired_revision, fx->rev[0]);
	assert_int_equal(fx->ag[2].told, 0);
	assert_int_equal(rollout__abort(fx->e, id, "carol", NULL, fx->err, sizeof(fx->err)), -EALREADY);
	assert_non_null(strstr(fx->err, "has already aborted"));
	assert_int_equal(rollout__pause(fx->e, 999, "bob", fx->err, sizeof(fx->err)), -ENOENT);
}

static void test_undo(void **state)
{
	struct fx *fx = *state;
	struct store_revision newest;
	uint64_t id, rev = 0, id2 = 0;

	add_agents(fx, 2, true);
	id = start(fx, 2, NULL, 0, 0, 0);
	assert_int_equal(rollout__undo(fx->e, id, "dave", &rev, &id2, fx->err, sizeof(fx->err)), -EINVAL);
	assert_non_null(strstr(fx->err, "still running"));
	ack_all_told(fx, 2);
	tick(fx, 500);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_SUCCEEDED);
	assert_int_equal(rollout__undo(fx->e, id, "dave", &rev, &id2, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(rev, fx->rev[3] + 1); /* a new revision ... */
	assert_int_equal(store__revision_get(fx->st, rev, false, &newest), 0);
	assert_string_equal(newest.hash, fx->hash[0]); /* ... with the old content */
	assert_string_equal(newest.author, "dave");
	store_revision__clear(&newest);
	assert_int_equal(fx->ag[0].a.desired_revision, rev);
	tick(fx, 500);
	assert_int_equal(state_of(fx, id2), STORE_ROLLOUT_RUNNING);
	for (size_t i = 0; i < 2; i++) { /* they apply it: the content of revision 1 again */
		fx->ag[i].a.applied_revision = rev;
		snprintf(fx->ag[i].a.applied_hash, sizeof(fx->ag[i].a.applied_hash), "%s", fx->hash[0]);
	}
	tick(fx, 500);
	assert_int_equal(state_of(fx, id2), STORE_ROLLOUT_SUCCEEDED);
	/* Only a rollout that succeeded can be undone. */
	assert_int_equal(rollout__undo(fx->e, 77, "dave", &rev, &id2, fx->err, sizeof(fx->err)), -ENOENT);
}

/* Agents that are offline at the start, or connect later, get what their labels select. */
static void test_selection_for_late_agents(void **state)
{
	struct fx *fx = *state;
	struct store_agent probe;
	uint64_t id;

	add_agents(fx, 4, false); /* gw00 prod, gw01 dev, gw02 prod, gw03 dev */
	fx->ag[2].connected = false;
	id = start(fx, 1, "prod", 0, 0, 0);
	assert_int_equal(fx->ag[1].told, 0); /* dev: not selected */
	/* gw02 comes back while the rollout runs: it keeps what it had. */
	probe = fx->ag[2].a;
	assert_int_equal(rollout__select(fx->e, &probe), fx->rev[0]);
	/* gw00, a member of a started wave, keeps the new revision if it reconnects. */
	assert_int_equal(rollout__select(fx->e, &fx->ag[0].a), fx->rev[1]);
	fx->ag[2].connected = true; /* connected, but in no wave */
	agent_acks(fx, 0, 1);
	tick(fx, 500);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_SUCCEEDED);
	/* On success the late agent was moved on; a dev agent was not. */
	assert_int_equal(fx->ag[2].a.desired_revision, fx->rev[1]);
	assert_int_equal(fx->ag[1].a.desired_revision, fx->rev[0]);
	probe.desired_revision = 0;
	assert_int_equal(rollout__select(fx->e, &probe), fx->rev[1]);
	probe = fx->ag[1].a;
	assert_int_equal(rollout__select(fx->e, &probe), fx->rev[0]); /* no rollout matches: stays */
	/* A failed rollout decides nothing. */
	id = start(fx, 2, "prod", 0, 0, 0);
	agent_nacks(fx, 0, fx->rev[2], "no");
	tick(fx, 500);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_FAILED);
	assert_int_equal(rollout__select(fx->e, &fx->ag[0].a), fx->rev[1]);
}

static void test_supersede_and_overlap(void **state)
{
	struct fx *fx = *state;
	struct store_label sel = { "env", "prod" };
	struct rollout_request req = { .author = "x" };
	uint64_t a, b, c;

	add_agents(fx, 4, false);
	a = start(fx, 1, "prod", 0, 0, 0);
	/* Every agent: covers all of rollout a's agents, so it supersedes it. */
	b = start(fx, 2, NULL, 0, 0, 0);
	assert_int_equal(state_of(fx, a), STORE_ROLLOUT_SUPERSEDED);
	assert_int_equal(fx->ag[0].a.desired_revision, fx->rev[2]);
	/* prod only: shares some of b's agents, not all: refused. */
	req.revision = fx->rev[1];
	req.selector = &sel;
	req.n_selector = 1;
	assert_int_equal(rollout__start(fx->e, &req, &c, fx->err, sizeof(fx->err)), -EBUSY);
	assert_non_null(strstr(fx->err, "sluicectl rollout abort"));
	assert_int_equal(rollout__check(fx->e, &sel, 1, fx->err, sizeof(fx->err)), -EBUSY);
	assert_int_equal(rollout__check(fx->e, NULL, 0, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(state_of(fx, b), STORE_ROLLOUT_RUNNING);
}

/* An agent that a superseded rollout had already moved, offline when the newer rollout
 * started (so in none of its waves), keeps the revision it was moved to when it comes
 * back while the newer one runs: it is not sent back to what an older rollout chose. */
static void test_superseded_keeps_moved_agents(void **state)
{
	struct fx *fx = *state;
	uint64_t a, b;

	add_agents(fx, 4, true);
	/* rev1 everywhere, succeeded. */
	a = start(fx, 1, "prod", 0, 0, 0);
	ack_all_told(fx, 1);
	tick(fx, 500);
	assert_int_equal(state_of(fx, a), STORE_ROLLOUT_SUCCEEDED);
	/* rev2: gw01 moves to it, then drops off before anyone else answers. */
	a = start(fx, 2, "prod", 0, 0, 0);
	agent_acks(fx, 1, 2);
	tick(fx, 500);
	fx->ag[1].connected = false;
	/* rev3 supersedes it, with the connected agents only. */
	b = start(fx, 3, "prod", 0, 0, 0);
	assert_int_equal(state_of(fx, a), STORE_ROLLOUT_SUPERSEDED);
	assert_int_equal(state_of(fx, b), STORE_ROLLOUT_RUNNING);
	assert_int_equal(fx->ag[1].a.desired_revision, fx->rev[2]);
	/* gw01 comes back while rev3 still runs: it keeps rev2, as recorded. */
	fx->ag[1].connected = true;
	assert_int_equal(rollout__select(fx->e, &fx->ag[1].a), fx->rev[2]);
	/* Once rev3 succeeded, it gets rev3 like any late agent. */
	ack_all_told(fx, 3);
	tick(fx, 500);
	assert_int_equal(state_of(fx, b), STORE_ROLLOUT_SUCCEEDED);
	assert_int_equal(rollout__select(fx->e, &fx->ag[1].a), fx->rev[3]);
}

/* A controller killed mid-rollout: a new engine on the same store picks it up, gives the
 * running wave a fresh ack window, and finishes it. */
static void test_restart_resumes(void **state)
{
	struct fx *fx = *state;
	struct store_rollout r;
	uint64_t id;

	add_agents(fx, 10, true);
	id = start(fx, 1, NULL, 10, 50, 30);
	ack_all_told(fx, 1);
	tick(fx, 500);
	tick(fx, 30000); /* wave 2 starts */
	for (size_t i = 1; i <= 3; i++)
		agent_acks(fx, i, 1);
	tick(fx, 500);
	rollout__free(fx->e); /* every change is stored at each tick: this is what a crash leaves */
	for (size_t i = 0; i < fx->n; i++)
		fx->ag[i].connected = false;
	fx->now += 120000; /* down for longer than the ack timeout */
	new_engine(fx);
	get(fx, id, &r);
	assert_int_equal(r.state, STORE_ROLLOUT_RUNNING);
	assert_int_equal(r.current_wave, 1);
	store_rollout__clear(&r);
	tick(fx, 500);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_RUNNING); /* a fresh window, not a timeout */
	for (size_t i = 0; i < fx->n; i++) { /* the agents reconnect with their stored desired revision */
		fx->ag[i].connected = true;
		fx->ag[i].a.desired_revision = rollout__select(fx->e, &fx->ag[i].a);
	}
	assert_int_equal(fx->ag[5].a.desired_revision, fx->rev[1]); /* in wave 2 */
	assert_int_equal(fx->ag[6].a.desired_revision, fx->rev[0]); /* wave 3 has not started */
	ack_all_told(fx, 1);
	tick(fx, 500);
	tick(fx, 30000);
	ack_all_told(fx, 1);
	tick(fx, 500);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_SUCCEEDED);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(fx->ag[i].a.applied_revision, fx->rev[1]);
}

/* An agent that ran nothing goes back to nothing: the empty policy. */
static void test_rollback_to_nothing(void **state)
{
	struct fx *fx = *state;
	uint64_t id;

	add_agents(fx, 2, true);
	for (size_t i = 0; i < 2; i++) {
		fx->ag[i].a.applied_hash[0] = '\0';
		fx->ag[i].a.applied_revision = 0;
		fx->ag[i].a.desired_revision = 0;
	}
	id = start(fx, 1, NULL, 0, 0, 0);
	agent_acks(fx, 0, 1);
	agent_nacks(fx, 1, fx->rev[1], "no room");
	tick(fx, 500);
	assert_int_equal(state_of(fx, id), STORE_ROLLOUT_FAILED);
	assert_int_equal(fx->ag[0].a.desired_revision, STORE_REVISION_NONE);
	assert_int_equal(fx->ag[1].a.desired_revision, STORE_REVISION_NONE);
}

static void test_plan(void **state)
{
	struct fx *fx = *state;
	struct store_label sel = { "env", "prod" };
	struct rollout_request req = { .selector = &sel, .n_selector = 1, .canary_percent = 50 };
	Sluice__V1__Policy *p = NULL;
	struct rollout_plan plan;

	add_agents(fx, 4, false);
	fx->ag[2].a.rule_capacity = 2;
	fx->ag[0].a.rule_capacity = 16384;
	assert_int_equal(policy_yaml__parse_string("t.yaml", policies[2], strlen(policies[2]), 0, &p, fx->err,
						   sizeof(fx->err)),
			 0);
	assert_int_equal(rollout__plan(fx->e, p, fx->hash[2], &req, &plan), 0);
	assert_int_equal(plan.n, 4);
	assert_int_equal(plan.waves, 2);
	assert_string_equal(plan.agents[0].node_id, "gw00");
	assert_true(plan.agents[0].selected);
	assert_int_equal(plan.agents[0].wave, 0);
	assert_int_equal(plan.agents[0].from_revision, fx->rev[0]);
	assert_int_equal(plan.agents[0].rules_added, 2); /* b and c */
	assert_int_equal(plan.agents[0].rules_changed, 1);
	assert_true(plan.agents[0].fits);
	assert_false(plan.agents[1].selected);
	assert_int_equal(plan.agents[1].wave, -1);
	assert_int_equal(plan.agents[2].wave, 1);
	assert_false(plan.agents[2].fits);
	assert_int_equal(plan.agents[2].rule_capacity, 2);
	assert_int_equal(plan.n_warnings, 1);
	assert_non_null(strstr(plan.warnings[0], "1 selected agent cannot hold 3 rules"));
	rollout_plan__clear(&plan);
	policy__free(p);
	/* Nothing was started by a plan. */
	assert_int_equal(fx->ag[0].told, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wave_sizes),
		cmocka_unit_test_setup_teardown(test_all_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_canary_nack_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staged_waves_and_later_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staged_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_timeout_and_offline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_rate_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selection_for_late_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supersede_and_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_superseded_keeps_moved_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_to_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
