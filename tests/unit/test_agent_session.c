// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_session.c — the agent's controller stream, run against a fake datapath
 * and a fake controller built on the rpc server API (127.0.0.1, ephemeral port):
 * Hello contents, Ack/Nack by nonce, no reload of a live revision, persistence only
 * after a successful apply, periodic Status, reconnect after the controller restarts,
 * and a prompt stop.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/policy.h"
#include "common/policy_delta.h"
#include "common/rpc.h"
#include "session.h"
#include "state.h"

#define WAIT_MS 5000

/* ---- fake controller ----------------------------------------------------------------- */

struct fake_ctl {
	struct rpc_server *srv;
	int port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rpc_stream *stream; /* the open agent stream; written on the server thread */
	int opens, closes, hellos, acks, nacks, statuses;
	Sluice__V1__Hello *hello;   /* the last Hello, unpacked */
	Sluice__V1__Ack last_ack;
	char ack_hash[STATE_HASH_MAX];
	Sluice__V1__Nack last_nack;
	char nack_error[1024];
	uint64_t status_rev;
	char status_error[1024];
	uint32_t status_rules_used;
};

static int ctl_open(void *user, struct rpc_stream *s, const struct rpc_peer *peer, void **stream_user)
{
	struct fake_ctl *c = user;

	pthread_mutex_lock(&c->mu);
	c->stream = s;
	c->opens++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static void ctl_message(void *user, struct rpc_stream *s, void *stream_user, const uint8_t *msg, size_t len)
{
	struct fake_ctl *c = user;
	Sluice__V1__AgentMessage *m = sluice__v1__agent_message__unpack(NULL, len, msg);

	if (!m)
		return;
	pthread_mutex_lock(&c->mu);
	switch (m->msg_case) {
	case SLUICE__V1__AGENT_MESSAGE__MSG_HELLO:
		if (c->hello)
			sluice__v1__hello__free_unpacked(c->hello, NULL);
		c->hello = m->hello;
		m->hello = NULL; /* kept; the rest of m is freed below */
		m->msg_case = SLUICE__V1__AGENT_MESSAGE__MSG__NOT_SET;
		c->hellos++;
		break;
	case SLUICE__V1__AGENT_MESSAGE__MSG_ACK:
		c->last_ack = *m->ack;
		snprintf(c->ack_hash, sizeof(c->ack_hash), "%s", m->ack->hash);
		c->acks++;
		break;
	case SLUICE__V1__AGENT_MESSAGE__MSG_NACK:
		c->last_nack = *m->nack;
		snprintf(c->nack_error, sizeof(c->nack_error), "%s", m->nack->error);
		c->nacks++;
		break;
	case SLUICE__V1__AGENT_MESSAGE__MSG_STATUS:
		c->status_rev = m->status->applied_revision;
		c->status_rules_used = m->status->rules_used;
		snprintf(c->status_error, sizeof(c->status_error), "%s", m->status->last_error);
		c->statuses++;
		break;
	default:
		break;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	sluice__v1__agent_message__free_unpacked(m, NULL);
}

static void ctl_close(void *user, struct rpc_stream *s, void *stream_user)
{
	struct fake_ctl *c = user;

	pthread_mutex_lock(&c->mu);
	if (c->stream == s)
		c->stream = NULL;
	c->closes++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static const struct rpc_stream_ops ctl_ops = {
	.on_open = ctl_open,
	.on_message = ctl_message,
	.on_close = ctl_close,
};

/* Starts (or restarts, on the same port) the fake controller's server. */
static void ctl_listen(struct fake_ctl *c, int port)
{
	char listen[64];
	int rc = -1;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	for (int tries = 0; tries < 50 && rc < 0; tries++) {
		struct rpc_server_opts o = { .listen = listen };

		c->srv = rpc_server__new(&o);
		assert_non_null(c->srv);
		assert_int_equal(rpc_server__add_stream(c->srv, SESSION_METHOD, &ctl_ops, c), 0);
		rc = rpc_server__start(c->srv);
		if (rc < 0) {
			rpc_server__free(c->srv);
			c->srv = NULL;
			usleep(100 * 1000);
		}
	}
	assert_true(rc > 0);
	c->port = rc;
}

static void ctl_kill(struct fake_ctl *c)
{
	rpc_server__free(c->srv);
	c->srv = NULL;
	pthread_mutex_lock(&c->mu);
	c->stream = NULL;
	pthread_mutex_unlock(&c->mu);
}

struct push {
	struct fake_ctl *c;
	uint8_t *buf;
	size_t len;
};

static void push_on_server(void *arg)
{
	struct push *p = arg;

	/* Server thread: no cmocka asserts here; a lost push shows as a missing Ack. */
	if (p->c->stream)
		rpc_stream__send(p->c->stream, p->buf, p->len);
	free(p->buf);
	free(p);
}

/* Sends a PolicyUpdate down the open stream. hash NULL: the policy's real hash. */
static void ctl_push(struct fake_ctl *c, uint64_t revision, uint64_t nonce, Sluice__V1__Policy *pol, const char *hash)
{
	Sluice__V1__ControllerMessage m = SLUICE__V1__CONTROLLER_MESSAGE__INIT;
	Sluice__V1__PolicyUpdate u = SLUICE__V1__POLICY_UPDATE__INIT;
	char real[POLICY_HASH_HEX];
	struct push *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(policy__hash(pol, real), 0);
	u.revision = revision;
	u.nonce = nonce;
	u.hash = (char *)(hash ? hash : real);
	u.policy = pol;
	m.msg_case = SLUICE__V1__CONTROLLER_MESSAGE__MSG_UPDATE;
	m.update = &u;
	p->c = c;
	p->len = sluice__v1__controller_message__get_packed_size(&m);
	p->buf = malloc(p->len);
	assert_non_null(p->buf);
	sluice__v1__controller_message__pack(&m, p->buf);
	assert_int_equal(rpc_server__post(c->srv, push_on_server, p), 0);
}

/* Waits until cond holds (evaluated under c->mu), failing the test after WAIT_MS. */
#define WAIT_FOR(c, cond)                                                                       \
	do {                                                                                    \
		struct timespec dl;                                                             \
		bool ok_ = true;                                                                \
		clock_gettime(CLOCK_REALTIME, &dl);                                             \
		dl.tv_sec += WAIT_MS / 1000;                                                    \
		pthread_mutex_lock(&(c)->mu);                                                   \
		while (!(cond) && ok_)                                                          \
			ok_ = pthread_cond_timedwait(&(c)->cv, &(c)->mu, &dl) != ETIMEDOUT || (cond); \
		pthread_mutex_unlock(&(c)->mu);                                                 \
		if (!ok_)                                                                       \
			fail_msg("timed out waiting for: %s", #cond);                           \
	} while (0)

/* ---- fake datapath ---------------------------------------------------------------- */

struct fake_dp {
	pthread_mutex_t mu;
	int applies;
	int fail_with;          /* -errno the next applies return; 0: succeed */
	char fail_reason[128];
	uint32_t rules_used;
	Sluice__V1__InterfaceState iface;
	Sluice__V1__InterfaceState *iface_ptr;
};

static int fake_apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	struct fake_dp *d = ctx;
	int rc;

	pthread_mutex_lock(&d->mu);
	d->applies++;
	rc = d->fail_with;
	if (rc)
		snprintf(err, errlen, "%s", d->fail_reason);
	else
		d->rules_used = (uint32_t)p->n_rules;
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static int fake_fill_status(void *ctx, Sluice__V1__Status *st)
{
	struct fake_dp *d = ctx;

	pthread_mutex_lock(&d->mu);
	st->rules_used = d->rules_used;
	st->rule_capacity = 1000;
	st->n_interfaces = 1;
	st->interfaces = &d->iface_ptr;
	pthread_mutex_unlock(&d->mu);
	return 0;
}

static uint32_t fake_capacity(void *ctx)
{
	return 1000;
}

static const struct session_dp_ops fake_ops = {
	.apply = fake_apply,
	.fill_status = fake_fill_status,
	.capacity = fake_capacity,
};

static int dp_applies(struct fake_dp *d)
{
	int n;

	pthread_mutex_lock(&d->mu);
	n = d->applies;
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* ---- fixture ------------------------------------------------------------------------- */

static const struct session_label labels[] = { { "env", "test" }, { "zone", "a" } };
static const char *const ifaces[] = { "lo", "veth-x" };

struct fx {
	struct fake_ctl ctl;
	struct fake_dp dp;
	char state_dir[64];
	char target[64];
	struct session_opts so;
	struct session *s;
	pthread_t thread;
	atomic_bool stop;
	bool running;
	int run_result;
	/* a one-rule policy, built on the stack of the fixture */
	Sluice__V1__Policy pol;
	Sluice__V1__Rule rule, *rule_ptr;
	Sluice__V1__Match match;
	Sluice__V1__PortRange port, *port_ptr;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	pthread_mutex_init(&f->ctl.mu, NULL);
	pthread_cond_init(&f->ctl.cv, NULL);
	pthread_mutex_init(&f->dp.mu, NULL);
	sluice__v1__interface_state__init(&f->dp.iface);
	f->dp.iface.name = (char *)"lo";
	f->dp.iface.xdp_mode = (char *)"generic";
	f->dp.iface.attached = 1;
	f->dp.iface_ptr = &f->dp.iface;
	snprintf(f->state_dir, sizeof(f->state_dir), "/tmp/sluice-session-XXXXXX");
	assert_non_null(mkdtemp(f->state_dir));
	ctl_listen(&f->ctl, 0);
	snprintf(f->target, sizeof(f->target), "127.0.0.1:%d", f->ctl.port);

	sluice__v1__policy__init(&f->pol);
	sluice__v1__rule__init(&f->rule);
	sluice__v1__match__init(&f->match);
	sluice__v1__port_range__init(&f->port);
	f->port.lo = f->port.hi = 23;
	f->port_ptr = &f->port;
	f->match.proto = 6;
	f->match.n_dst_ports = 1;
	f->match.dst_ports = &f->port_ptr;
	f->rule.name = (char *)"block-telnet";
	f->rule.priority = 10;
	f->rule.match = &f->match;
	f->rule.action = SLUICE__V1__ACTION__ACTION_DROP;
	f->rule_ptr = &f->rule;
	f->pol.n_rules = 1;
	f->pol.rules = &f->rule_ptr;

	f->so.controller = f->target;
	f->so.node_id = "node-1";
	f->so.labels = labels;
	f->so.n_labels = 2;
	f->so.ifaces = ifaces;
	f->so.n_ifaces = 2;
	f->so.state_dir = f->state_dir;
	f->so.dp = &fake_ops;
	f->so.dp_ctx = &f->dp;
	f->so.backoff_base_ms = 20;
	f->so.backoff_cap_ms = 200;
	f->so.healthy_ms = 200;
	*state = f;
	return 0;
}

static void *run_thread(void *arg)
{
	struct fx *f = arg;

	f->run_result = session__run(f->s, &f->stop);
	return NULL;
}

static void start_session(struct fx *f)
{
	f->s = session__new(&f->so);
	assert_non_null(f->s);
	atomic_store(&f->stop, false);
	assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
	f->running = true;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Stops the session and returns how long it took to notice. */
static uint64_t stop_session(struct fx *f)
{
	uint64_t t0 = mono_ms();

	if (!f->running)
		return 0;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	f->running = false;
	assert_int_equal(f->run_result, 0);
	return mono_ms() - t0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	stop_session(f);
	session__free(f->s);
	ctl_kill(&f->ctl);
	if (f->ctl.hello)
		sluice__v1__hello__free_unpacked(f->ctl.hello, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->state_dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_hello(void **state)
{
	struct fx *f = *state;
	struct utsname uts;
	Sluice__V1__Hello *h;

	f->so.applied_revision = 7;
	f->so.applied_hash = "abc123";
	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	h = f->ctl.hello;
	assert_string_equal(h->node_id, "node-1");
	assert_string_equal(h->agent_version, SLUICE_VERSION);
	assert_int_equal(uname(&uts), 0);
	assert_string_equal(h->kernel, uts.release);
	assert_int_equal(h->n_labels, 2);
	for (size_t i = 0; i < h->n_labels; i++) {
		if (strcmp(h->labels[i]->key, "env") == 0)
			assert_string_equal(h->labels[i]->value, "test");
		else if (strcmp(h->labels[i]->key, "zone") == 0)
			assert_string_equal(h->labels[i]->value, "a");
		else
			fail_msg("unexpected label %s", h->labels[i]->key);
	}
	assert_int_equal(h->n_interfaces, 2);
	assert_string_equal(h->interfaces[0], "lo");
	assert_string_equal(h->interfaces[1], "veth-x");
	assert_true(h->n_capabilities >= 1);
	assert_string_equal(h->capabilities[0], "inspect");
	assert_int_equal(h->applied_revision, 7);
	assert_string_equal(h->applied_hash, "abc123");
	assert_int_equal(h->rule_capacity, 1000);
	assert_int_equal(dp_applies(&f->dp), 0);
}

static void test_update_applied_acked_and_saved(void **state)
{
	struct fx *f = *state;
	struct agent_state st;
	Sluice__V1__Policy *saved;
	char hash[POLICY_HASH_HEX], saved_hash[POLICY_HASH_HEX];

	assert_int_equal(policy__hash(&f->pol, hash), 0);
	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	ctl_push(&f->ctl, 3, 1001, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.acks == 1);
	assert_int_equal(f->ctl.last_ack.nonce, 1001);
	assert_int_equal(f->ctl.last_ack.revision, 3);
	assert_string_equal(f->ctl.ack_hash, hash);
	assert_int_equal(f->ctl.nacks, 0);
	assert_int_equal(dp_applies(&f->dp), 1);
	/* A Status follows every apply, without waiting for the 5 s timer. */
	WAIT_FOR(&f->ctl, f->ctl.statuses >= 1 && f->ctl.status_rev == 3);
	assert_int_equal(f->ctl.status_rules_used, 1);
	assert_string_equal(f->ctl.status_error, "");

	/* Persisted before the Ack: the state file holds revision 3 and this policy. */
	assert_int_equal(state__load(f->state_dir, &st, NULL, 0), 0);
	assert_int_equal(st.revision, 3);
	assert_string_equal(st.hash, hash);
	saved = policy__unpack(st.policy, st.policy_len);
	assert_non_null(saved);
	assert_int_equal(policy__hash(saved, saved_hash), 0);
	assert_string_equal(saved_hash, hash);
	assert_string_equal(saved->rules[0]->name, "block-telnet");
	policy__free(saved);
	state__release(&st);
}

static void test_failed_apply_nacked(void **state)
{
	struct fx *f = *state;
	struct agent_state st;

	f->dp.fail_with = -E2BIG;
	snprintf(f->dp.fail_reason, sizeof(f->dp.fail_reason), "rule 'block-telnet': port map full");
	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	ctl_push(&f->ctl, 4, 2002, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.nacks == 1);
	assert_int_equal(f->ctl.last_nack.nonce, 2002);
	assert_int_equal(f->ctl.last_nack.revision, 4);
	assert_non_null(strstr(f->ctl.nack_error, "rule 'block-telnet': port map full"));
	assert_int_equal(f->ctl.acks, 0);
	assert_int_equal(dp_applies(&f->dp), 1);
	/* The old generation (none) stays live and the error shows in Status. */
	WAIT_FOR(&f->ctl, f->ctl.statuses >= 1);
	assert_int_equal(f->ctl.status_rev, 0);
	assert_non_null(strstr(f->ctl.status_error, "port map full"));
	assert_int_equal(state__load(f->state_dir, &st, NULL, 0), -ENOENT);

	/* The datapath recovers: a later revision applies and clears last_error. */
	pthread_mutex_lock(&f->dp.mu);
	f->dp.fail_with = 0;
	pthread_mutex_unlock(&f->dp.mu);
	ctl_push(&f->ctl, 5, 2003, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.acks == 1 && f->ctl.status_rev == 5);
	assert_string_equal(f->ctl.status_error, "");
}

/* Sends revision (policy target) as a delta from base, claiming base_hash as its base. */
static void ctl_push_delta(struct fake_ctl *c, uint64_t revision, uint64_t nonce, const Sluice__V1__Policy *base,
			   const char *base_hash, const Sluice__V1__Policy *target)
{
	Sluice__V1__ControllerMessage m = SLUICE__V1__CONTROLLER_MESSAGE__INIT;
	Sluice__V1__PolicyUpdate u = SLUICE__V1__POLICY_UPDATE__INIT;
	char hash[POLICY_HASH_HEX];
	struct push *p = calloc(1, sizeof(*p));
	uint8_t *buf;
	size_t len;

	assert_non_null(p);
	assert_int_equal(policy__hash(target, hash), 0);
	assert_int_equal(policy_delta__pack(base, revision - 1, base_hash, target, &buf, &len), 0);
	u.delta = sluice__v1__policy_delta__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(u.delta);
	u.revision = revision;
	u.nonce = nonce;
	u.hash = hash;
	m.msg_case = SLUICE__V1__CONTROLLER_MESSAGE__MSG_UPDATE;
	m.update = &u;
	p->c = c;
	p->len = sluice__v1__controller_message__get_packed_size(&m);
	p->buf = malloc(p->len);
	assert_non_null(p->buf);
	sluice__v1__controller_message__pack(&m, p->buf);
	sluice__v1__policy_delta__free_unpacked(u.delta, NULL);
	assert_int_equal(rpc_server__post(c->srv, push_on_server, p), 0);
}

/* A delta on top of the live revision is rebuilt, applied, saved and acknowledged; one
 * made for another base is answered with a resync request, and nothing changes. */
static void test_delta_applied_and_resync(void **state)
{
	static const char two[] = "rules:\n  - { name: block-telnet, priority: 10, match: { proto: tcp, dst_ports: [23] }, action: drop }\n"
				  "  - { name: block-ssh, priority: 20, match: { proto: tcp, dst_ports: [22] }, action: drop }\n";
	struct fx *f = *state;
	Sluice__V1__Policy *next = NULL;
	struct agent_state st;
	char base_hash[POLICY_HASH_HEX], next_hash[POLICY_HASH_HEX], err[256];

	assert_int_equal(policy_yaml__parse_string("t.yaml", two, strlen(two), 0, &next, err, sizeof(err)), 0);
	assert_int_equal(policy__hash(&f->pol, base_hash), 0);
	assert_int_equal(policy__hash(next, next_hash), 0);
	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	ctl_push(&f->ctl, 3, 1001, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.acks == 1);

	ctl_push_delta(&f->ctl, 4, 1002, &f->pol, base_hash, next);
	WAIT_FOR(&f->ctl, f->ctl.acks == 2);
	assert_int_equal(f->ctl.last_ack.revision, 4);
	assert_string_equal(f->ctl.ack_hash, next_hash);
	assert_int_equal(dp_applies(&f->dp), 2);
	assert_int_equal(state__load(f->state_dir, &st, NULL, 0), 0);
	assert_int_equal(st.revision, 4);
	assert_string_equal(st.hash, next_hash);
	state__release(&st);

	/* Made for revision 3's content, but 4 is live: resync, not a refusal. */
	ctl_push_delta(&f->ctl, 5, 1003, &f->pol, base_hash, &f->pol);
	WAIT_FOR(&f->ctl, f->ctl.nacks == 1);
	assert_true(f->ctl.last_nack.resync);
	assert_int_equal(f->ctl.last_nack.nonce, 1003);
	assert_int_equal(dp_applies(&f->dp), 2);
	assert_int_equal(state__load(f->state_dir, &st, NULL, 0), 0);
	assert_int_equal(st.revision, 4);
	state__release(&st);
	policy__free(next);
}

static void test_live_revision_not_reloaded(void **state)
{
	struct fx *f = *state;
	char hash[POLICY_HASH_HEX];

	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	ctl_push(&f->ctl, 8, 1, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.acks == 1);
	assert_int_equal(dp_applies(&f->dp), 1);
	ctl_push(&f->ctl, 8, 2, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.acks == 2);
	assert_int_equal(f->ctl.last_ack.nonce, 2);
	assert_int_equal(f->ctl.last_ack.revision, 8);
	assert_int_equal(dp_applies(&f->dp), 1);
	stop_session(f);
	session__free(f->s);
	f->s = NULL;

	/* The same holds for what was live when the session started (restored or adopted). */
	assert_int_equal(policy__hash(&f->pol, hash), 0);
	f->so.applied_revision = 9;
	f->so.applied_hash = hash;
	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 2);
	assert_int_equal(f->ctl.hello->applied_revision, 9);
	ctl_push(&f->ctl, 9, 3, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.acks == 3);
	assert_int_equal(f->ctl.last_ack.nonce, 3);
	assert_int_equal(dp_applies(&f->dp), 1);
}

static void test_bad_update_nacked_without_apply(void **state)
{
	struct fx *f = *state;

	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	/* The content does not hash to what the update claims. */
	ctl_push(&f->ctl, 2, 77, &f->pol, "0000000000000000000000000000000000000000000000000000000000000000");
	WAIT_FOR(&f->ctl, f->ctl.nacks == 1);
	assert_int_equal(f->ctl.last_nack.nonce, 77);
	assert_non_null(strstr(f->ctl.nack_error, "hash"));
	/* A policy the agent's validation refuses: port 0. */
	f->port.lo = 0;
	ctl_push(&f->ctl, 3, 78, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.nacks == 2);
	assert_int_equal(f->ctl.last_nack.nonce, 78);
	assert_non_null(strstr(f->ctl.nack_error, "block-telnet"));
	assert_int_equal(dp_applies(&f->dp), 0);
}

static void test_periodic_status(void **state)
{
	struct fx *f = *state;
	uint64_t t0;

	f->so.status_interval_ms = 200;
	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	t0 = mono_ms();
	WAIT_FOR(&f->ctl, f->ctl.statuses >= 4);
	/* Four statuses at 200 ms take about 800 ms: the timer is not tied to the 1 s poll. */
	assert_true(mono_ms() - t0 < 2000);
}

static void test_reconnect_after_controller_restart(void **state)
{
	struct fx *f = *state;
	int port = f->ctl.port;

	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	ctl_push(&f->ctl, 11, 5, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.acks == 1);

	ctl_kill(&f->ctl);
	usleep(600 * 1000); /* several failed attempts while it is down */
	ctl_listen(&f->ctl, port);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 2);
	/* The new Hello reports what is live, so the controller need not resend it. */
	assert_int_equal(f->ctl.hello->applied_revision, 11);
	assert_int_equal(dp_applies(&f->dp), 1);

	/* And the new stream works both ways. */
	ctl_push(&f->ctl, 12, 6, &f->pol, NULL);
	WAIT_FOR(&f->ctl, f->ctl.acks == 2);
	assert_int_equal(f->ctl.last_ack.nonce, 6);
}

static void test_stop_is_prompt(void **state)
{
	struct fx *f = *state;

	/* Connected and idle (status timer far away): the 1 s poll bounds the stop. */
	start_session(f);
	WAIT_FOR(&f->ctl, f->ctl.hellos == 1);
	assert_true(stop_session(f) < 1500);
	WAIT_FOR(&f->ctl, f->ctl.closes == 1);
	session__free(f->s);
	f->s = NULL;

	/* Controller down, session in backoff at a long cap. */
	ctl_kill(&f->ctl);
	f->so.backoff_base_ms = 5000;
	f->so.backoff_cap_ms = 60000;
	start_session(f);
	usleep(300 * 1000);
	assert_true(stop_session(f) < 1500);
}

static void test_unreachable_controller_fails_over_and_over(void **state)
{
	struct fx *f = *state;

	/* Nothing listens: run keeps retrying (no error return) until stopped. */
	ctl_kill(&f->ctl);
	start_session(f);
	usleep(500 * 1000);
	assert_true(stop_session(f) < 1500);
	assert_int_equal(f->run_result, 0);
	assert_int_equal(dp_applies(&f->dp), 0);
}

static void test_new_rejects_bad_opts(void **state)
{
	struct session_opts o = { 0 };

	assert_null(session__new(NULL));
	assert_null(session__new(&o));
	assert_int_equal(errno, EINVAL);
	session__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_applied_acked_and_saved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_apply_nacked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_revision_not_reloaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_applied_and_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_update_nacked_without_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_after_controller_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_is_prompt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_controller_fails_over_and_over, setup, teardown),
		cmocka_unit_test(test_new_rejects_bad_opts),
	};
	int rc;

	rpc__init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rpc__shutdown();
	return rc;
}
