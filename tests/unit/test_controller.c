// SPDX-License-Identifier: Apache-2.0
/*
 * test_controller.c — the controller service run in-process (controller__start on
 * 127.0.0.1:0 with a temporary database), driven over real gRPC: the control API as
 * sluicectl calls it, and fake agents holding AgentService.Connect streams that say
 * Hello, receive PolicyUpdates and answer Ack or Nack.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/policy.h"
#include "common/rpc.h"
#include "controller.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/control.pb-c.h"

#define CALL_MS 20000 /* generous: sanitizer builds apply multi-MB policies slowly */
#define QUIET_MS 400 /* how long "nothing is sent" is watched */

static const char good_yaml[] = "rules:\n"
				"  - name: block-telnet\n"
				"    priority: 10\n"
				"    match: { proto: tcp, dst_ports: [23] }\n"
				"    action: drop\n";
static const char newer_yaml[] = "rules:\n"
				 "  - name: block-telnet\n"
				 "    priority: 10\n"
				 "    match: { proto: tcp, dst_ports: [23, 2323] }\n"
				 "    action: drop\n";

struct fx {
	char dir[64];
	char db[128];
	char target[64];
	int keepalive_ms; /* 0: the controller's default */
	struct controller *ctl;
	struct rpc_channel *ch;
};

static void start(struct fx *fx)
{
	struct controller_opts opts = { .listen = "127.0.0.1:0", .db_path = fx->db };
	char err[512];

	opts.keepalive_ms = fx->keepalive_ms;
	opts.keepalive_timeout_ms = fx->keepalive_ms;
	fx->ctl = controller__start(&opts, err, sizeof(err));
	if (!fx->ctl)
		fail_msg("controller__start: %s", err);
	snprintf(fx->target, sizeof(fx->target), "127.0.0.1:%d", controller__port(fx->ctl));
	fx->ch = rpc_channel__new(fx->target, NULL, NULL);
	assert_non_null(fx->ch);
}

static void stop(struct fx *fx)
{
	rpc_channel__free(fx->ch);
	controller__stop(fx->ctl);
	fx->ch = NULL;
	fx->ctl = NULL;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-controller.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->db, sizeof(fx->db), "%s/controller.db", fx->dir);
	start(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	stop(fx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* ---- control API ---------------------------------------------------------------------- */

static Sluice__V1__Policy *parse(const char *yaml)
{
	Sluice__V1__Policy *p = NULL;
	char err[256];

	if (policy_yaml__parse_string("test.yaml", yaml, strlen(yaml), 0, &p, err, sizeof(err)))
		fail_msg("test policy does not parse: %s", err);
	return p;
}

/* A unary call; on RPC_OK returns the response bytes in *resp. */
static enum rpc_code call(struct fx *fx, const char *method, const ProtobufCMessage *req, struct rpc_buf *resp,
			  struct rpc_status *st)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len + 1);
	char path[128];
	enum rpc_code code;

	assert_non_null(buf);
	protobuf_c_message_pack(req, buf);
	snprintf(path, sizeof(path), "/sluice.v1.ControlService/%s", method);
	code = rpc_channel__unary(fx->ch, path, buf, len, CALL_MS, resp, st);
	free(buf);
	return code;
}

static enum rpc_code apply(struct fx *fx, const Sluice__V1__Policy *p, bool dry_run,
			   Sluice__V1__ApplyPolicyResponse **out, struct rpc_status *st)
{
	Sluice__V1__ApplyPolicyRequest req = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	struct rpc_buf resp = { 0 };
	enum rpc_code code;

	req.policy = (Sluice__V1__Policy *)p;
	req.message = "from the test";
	req.dry_run = dry_run;
	code = call(fx, "ApplyPolicy", &req.base, &resp, st);
	*out = NULL;
	if (code == RPC_OK) {
		*out = sluice__v1__apply_policy_response__unpack(NULL, resp.len, resp.data);
		assert_non_null(*out);
	}
	free(resp.data);
	return code;
}

/* Applies yaml and expects revision rev, changed or not. */
static void apply_yaml(struct fx *fx, const char *yaml, uint64_t rev, bool unchanged)
{
	Sluice__V1__ApplyPolicyResponse *r;
	Sluice__V1__Policy *p = parse(yaml);
	struct rpc_status st;

	if (apply(fx, p, false, &r, &st) != RPC_OK)
		fail_msg("ApplyPolicy: %s: %s", rpc_code__name(st.code), st.message);
	assert_int_equal(r->revision, rev);
	assert_int_equal(r->unchanged, unchanged);
	assert_int_equal(strlen(r->hash), POLICY_HASH_HEX - 1);
	sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	policy__free(p);
}

static size_t count_revisions(struct fx *fx)
{
	Sluice__V1__ListRevisionsRequest req = SLUICE__V1__LIST_REVISIONS_REQUEST__INIT;
	Sluice__V1__ListRevisionsResponse *r;
	struct rpc_buf resp = { 0 };
	size_t n;

	assert_int_equal(call(fx, "ListRevisions", &req.base, &resp, NULL), RPC_OK);
	r = sluice__v1__list_revisions_response__unpack(NULL, resp.len, resp.data);
	assert_non_null(r);
	n = r->n_revisions;
	sluice__v1__list_revisions_response__free_unpacked(r, NULL);
	free(resp.data);
	return n;
}

/* GetAgent; NULL when the call fails (st says why). */
static Sluice__V1__AgentInfo *get_agent(struct fx *fx, const char *node, struct rpc_status *st)
{
	Sluice__V1__GetAgentRequest req = SLUICE__V1__GET_AGENT_REQUEST__INIT;
	Sluice__V1__GetAgentResponse *r;
	Sluice__V1__AgentInfo *a;
	struct rpc_buf resp = { 0 };

	req.node_id = (char *)node;
	if (call(fx, "GetAgent", &req.base, &resp, st) != RPC_OK)
		return NULL;
	r = sluice__v1__get_agent_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(r);
	assert_non_null(r->agent);
	a = r->agent;
	r->agent = NULL;
	sluice__v1__get_agent_response__free_unpacked(r, NULL);
	return a;
}

static void agent_info_free(Sluice__V1__AgentInfo *a)
{
	sluice__v1__agent_info__free_unpacked(a, NULL);
}

/* Lets a fake agent's stream make progress for up to ms: its sends are written only
 * while rpc_client_stream__next() runs. Nothing may arrive meanwhile. */
static void pump(struct rpc_client_stream *cs, int ms)
{
	struct rpc_buf buf = { 0 };
	struct rpc_status st;
	enum rpc_event ev;

	if (!cs) {
		usleep((useconds_t)ms * 1000);
		return;
	}
	ev = rpc_client_stream__next(cs, ms, &buf, &st);
	free(buf.data);
	if (ev != RPC_EV_TIMEOUT)
		fail_msg("unexpected %s on the agent stream", ev == RPC_EV_MESSAGE ? "message" : "close");
}

/* Waits until the agent is in state, pumping its stream cs (NULL: none open). */
static Sluice__V1__AgentInfo *wait_state(struct fx *fx, struct rpc_client_stream *cs, const char *node,
					 Sluice__V1__AgentState state)
{
	struct rpc_status st;
	Sluice__V1__AgentInfo *a = NULL;

	for (int i = 0; i < 100; i++) {
		agent_info_free(a);
		a = get_agent(fx, node, &st);
		if (a && a->state == state)
			return a;
		pump(cs, 20);
	}
	fail_msg("agent '%s' never reached state %d (now %d)", node, state, a ? (int)a->state : -1);
	return NULL;
}

/* ---- fake agent ----------------------------------------------------------------------- */

static void agent_send(struct rpc_client_stream *cs, const Sluice__V1__AgentMessage *m)
{
	size_t len = sluice__v1__agent_message__get_packed_size(m);
	uint8_t *buf = malloc(len + 1);

	assert_non_null(buf);
	sluice__v1__agent_message__pack(m, buf);
	assert_int_equal(rpc_client_stream__send(cs, buf, len), 0);
	free(buf);
}

static struct rpc_client_stream *agent_connect(struct fx *fx, const char *node, const char *env, uint64_t applied,
					       const char *hash)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Hello h = SLUICE__V1__HELLO__INIT;
	Sluice__V1__Hello__LabelsEntry label = SLUICE__V1__HELLO__LABELS_ENTRY__INIT, *labels[] = { &label };
	char *ifaces[] = { "veth0" };
	struct rpc_client_stream *cs = rpc_client_stream__open(fx->ch, "/sluice.v1.AgentService/Connect");

	assert_non_null(cs);
	label.key = "env";
	label.value = (char *)env;
	h.node_id = (char *)node;
	h.n_labels = 1;
	h.labels = labels;
	h.agent_version = "0.1.0-test";
	h.kernel = "6.1.0-test";
	h.n_interfaces = 1;
	h.interfaces = ifaces;
	h.applied_revision = applied;
	h.applied_hash = (char *)(hash ? hash : "");
	h.rule_capacity = POLICY_DEFAULT_CAPACITY;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_HELLO;
	m.hello = &h;
	agent_send(cs, &m);
	return cs;
}

/* The next PolicyUpdate, checked for consistency: its policy hashes to its hash. */
static Sluice__V1__ControllerMessage *expect_update(struct rpc_client_stream *cs, uint64_t rev)
{
	Sluice__V1__ControllerMessage *m;
	char hash[POLICY_HASH_HEX];
	struct rpc_buf buf = { 0 };
	struct rpc_status st;
	enum rpc_event ev = rpc_client_stream__next(cs, CALL_MS, &buf, &st);

	if (ev != RPC_EV_MESSAGE)
		fail_msg("expected a PolicyUpdate for revision %llu, got event %d (%s: %s)", (unsigned long long)rev, ev,
			 ev == RPC_EV_CLOSED ? rpc_code__name(st.code) : "-", ev == RPC_EV_CLOSED ? st.message : "");
	m = sluice__v1__controller_message__unpack(NULL, buf.len, buf.data);
	free(buf.data);
	assert_non_null(m);
	assert_int_equal(m->msg_case, SLUICE__V1__CONTROLLER_MESSAGE__MSG_UPDATE);
	assert_int_equal(m->update->revision, rev);
	assert_true(m->update->nonce != 0);
	assert_non_null(m->update->policy);
	assert_int_equal(policy__hash(m->update->policy, hash), 0);
	assert_string_equal(hash, m->update->hash);
	return m;
}

static void expect_nothing(struct rpc_client_stream *cs)
{
	struct rpc_buf buf = { 0 };
	struct rpc_status st;

	assert_int_equal(rpc_client_stream__next(cs, QUIET_MS, &buf, &st), RPC_EV_TIMEOUT);
}

static void expect_closed(struct rpc_client_stream *cs, enum rpc_code code, const char *text)
{
	struct rpc_buf buf = { 0 };
	struct rpc_status st;

	assert_int_equal(rpc_client_stream__next(cs, CALL_MS, &buf, &st), RPC_EV_CLOSED);
	assert_int_equal(st.code, code);
	if (text && !strstr(st.message, text))
		fail_msg("status message '%s' lacks '%s'", st.message, text);
}

static void send_answer(struct rpc_client_stream *cs, const Sluice__V1__PolicyUpdate *u, uint64_t nonce,
			const char *nack_error)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Ack ack = SLUICE__V1__ACK__INIT;
	Sluice__V1__Nack nack = SLUICE__V1__NACK__INIT;

	if (nack_error) {
		nack.nonce = nonce;
		nack.revision = u->revision;
		nack.error = (char *)nack_error;
		m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_NACK;
		m.nack = &nack;
	} else {
		ack.nonce = nonce;
		ack.revision = u->revision;
		ack.hash = u->hash;
		m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_ACK;
		m.ack = &ack;
	}
	agent_send(cs, &m);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_apply_policy(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__PortRange pr = SLUICE__V1__PORT_RANGE__INIT, *prs[] = { &pr };
	Sluice__V1__Match match = SLUICE__V1__MATCH__INIT;
	Sluice__V1__Rule rule = SLUICE__V1__RULE__INIT, *rules[] = { &rule };
	Sluice__V1__Policy bad = SLUICE__V1__POLICY__INIT, empty = SLUICE__V1__POLICY__INIT, *p;
	Sluice__V1__ApplyPolicyResponse *r;
	Sluice__V1__GetRevisionRequest greq = SLUICE__V1__GET_REVISION_REQUEST__INIT;
	Sluice__V1__GetRevisionResponse *g;
	struct rpc_buf resp = { 0 };
	struct rpc_status st;

	/* Invalid: refused with the validator's message, nothing stored. */
	pr.lo = pr.hi = 70000;
	match.proto = 6;
	match.n_dst_ports = 1;
	match.dst_ports = prs;
	rule.name = "bad-port";
	rule.priority = 1;
	rule.match = &match;
	rule.action = SLUICE__V1__ACTION__ACTION_DROP;
	bad.n_rules = 1;
	bad.rules = rules;
	assert_int_equal(apply(fx, &bad, false, &r, &st), RPC_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "rule 'bad-port'"));
	assert_non_null(strstr(st.message, "70000"));
	assert_int_equal(count_revisions(fx), 0);

	greq.revision = 0;
	assert_int_equal(call(fx, "GetRevision", &greq.base, &resp, &st), RPC_NOT_FOUND);
	assert_non_null(strstr(st.message, "no policy has been applied yet"));

	apply_yaml(fx, good_yaml, 1, false);
	apply_yaml(fx, good_yaml, 1, true);
	assert_int_equal(count_revisions(fx), 1);

	/* Dry run: says what would happen, stores nothing. */
	p = parse(newer_yaml);
	assert_int_equal(apply(fx, p, true, &r, &st), RPC_OK);
	assert_int_equal(r->revision, 2);
	assert_false(r->unchanged);
	sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	policy__free(p);
	p = parse(good_yaml);
	assert_int_equal(apply(fx, p, true, &r, &st), RPC_OK);
	assert_int_equal(r->revision, 1);
	assert_true(r->unchanged);
	sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	policy__free(p);
	assert_int_equal(count_revisions(fx), 1);

	/* The stored revision reads back with its author and its policy. */
	assert_int_equal(call(fx, "GetRevision", &greq.base, &resp, &st), RPC_OK);
	g = sluice__v1__get_revision_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(g);
	assert_int_equal(g->info->revision, 1);
	assert_int_equal(strncmp(g->info->author, "insecure:", 9), 0);
	assert_string_equal(g->info->message, "from the test");
	assert_int_equal(g->info->rules, 1);
	assert_int_equal(g->policy->n_rules, 1);
	assert_string_equal(g->policy->rules[0]->name, "block-telnet");
	sluice__v1__get_revision_response__free_unpacked(g, NULL);

	greq.revision = 5;
	assert_int_equal(call(fx, "GetRevision", &greq.base, &resp, &st), RPC_NOT_FOUND);
	assert_string_equal(st.message, "revision 5 does not exist; see sluicectl get revisions");

	/* Numbers keep counting across a controller restart. */
	stop(fx);
	start(fx);
	apply_yaml(fx, newer_yaml, 2, false);

	/* An empty policy (no rules, no routes) is a revision like any other. */
	assert_int_equal(apply(fx, &empty, false, &r, &st), RPC_OK);
	assert_int_equal(r->revision, 3);
	sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	greq.revision = 3;
	assert_int_equal(call(fx, "GetRevision", &greq.base, &resp, &st), RPC_OK);
	g = sluice__v1__get_revision_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(g);
	assert_non_null(g->policy);
	assert_int_equal(g->policy->n_rules, 0);
	sluice__v1__get_revision_response__free_unpacked(g, NULL);
}

/* Two operators read revision 1 and apply over it: the first stores revision 2, the
 * second is refused with ABORTED and a message saying to diff again, and nothing of
 * its policy is stored (no lost update). The same content again, or --force (base 0),
 * or the right base, go through. */
static enum rpc_code apply_on(struct fx *fx, const char *yaml, uint64_t base, bool dry_run, uint64_t *rev,
			      struct rpc_status *st)
{
	Sluice__V1__ApplyPolicyRequest req = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ApplyPolicyResponse *r;
	Sluice__V1__Policy *p = parse(yaml);
	struct rpc_buf resp = { 0 };
	enum rpc_code code;

	req.policy = p;
	req.message = "racing";
	req.dry_run = dry_run;
	req.base_revision = base;
	code = call(fx, "ApplyPolicy", &req.base, &resp, st);
	if (code == RPC_OK) {
		r = sluice__v1__apply_policy_response__unpack(NULL, resp.len, resp.data);
		assert_non_null(r);
		*rev = r->revision;
		sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	}
	free(resp.data);
	policy__free(p);
	return code;
}

/* A revision stored without a rollout (--no-rollout here; a controller killed between
 * storing and rolling out leaves the same) is rolled out when the same content is
 * applied again, once; after that the same content is simply unchanged. */
static void test_apply_rolls_out_orphan(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ApplyPolicyRequest req = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ApplyPolicyResponse *r;
	Sluice__V1__Policy *p = parse(good_yaml);
	struct rpc_buf resp = { 0 };
	struct rpc_status st;
	uint64_t ids[3];

	req.policy = p;
	req.message = "orphan";
	for (int i = 0; i < 3; i++) {
		req.no_rollout = i == 0;
		assert_int_equal(call(fx, "ApplyPolicy", &req.base, &resp, &st), RPC_OK);
		r = sluice__v1__apply_policy_response__unpack(NULL, resp.len, resp.data);
		assert_non_null(r);
		free(resp.data);
		resp.data = NULL;
		assert_int_equal(r->revision, 1);
		assert_int_equal(r->unchanged, i > 0);
		ids[i] = r->rollout_id;
		sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	}
	policy__free(p);
	assert_int_equal(ids[0], 0); /* stored only */
	assert_true(ids[1] != 0);    /* the orphan rolled out */
	assert_int_equal(ids[2], 0); /* it has a rollout now: unchanged, nothing started */
}

static void test_apply_stale_base(void **state)
{
	static const char third_yaml[] = "rules:\n"
					 "  - name: block-rdp\n"
					 "    priority: 10\n"
					 "    match: { proto: tcp, dst_ports: [3389] }\n"
					 "    action: drop\n";
	struct fx *fx = *state;
	struct rpc_status st;
	uint64_t rev = 0;

	apply_yaml(fx, good_yaml, 1, false);
	assert_int_equal(apply_on(fx, newer_yaml, 1, false, &rev, &st), RPC_OK);
	assert_int_equal(rev, 2);
	/* The second operator, also on revision 1: refused, dry run or not. */
	assert_int_equal(apply_on(fx, third_yaml, 1, true, &rev, &st), RPC_ABORTED);
	assert_int_equal(apply_on(fx, third_yaml, 1, false, &rev, &st), RPC_ABORTED);
	assert_non_null(strstr(st.message, "changed since revision 1"));
	assert_non_null(strstr(st.message, "now revision 2"));
	assert_non_null(strstr(st.message, "sluicectl diff"));
	assert_int_equal(count_revisions(fx), 2);
	/* The winner's retry (same content, stale base) is harmless: unchanged. */
	assert_int_equal(apply_on(fx, newer_yaml, 1, false, &rev, &st), RPC_OK);
	assert_int_equal(rev, 2);
	/* Re-based on the newest, or forced (no base): stored. */
	assert_int_equal(apply_on(fx, third_yaml, 2, false, &rev, &st), RPC_OK);
	assert_int_equal(rev, 3);
	assert_int_equal(apply_on(fx, good_yaml, 0, false, &rev, &st), RPC_OK);
	assert_int_equal(rev, 4);
	assert_int_equal(count_revisions(fx), 4);
}

static void test_agent_sync_and_reconnect(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ControllerMessage *u;
	Sluice__V1__AgentInfo *a;
	struct rpc_client_stream *cs;
	char hash[POLICY_HASH_HEX];

	apply_yaml(fx, good_yaml, 1, false);
	cs = agent_connect(fx, "node-1", "prod", 0, NULL);
	u = expect_update(cs, 1);
	a = wait_state(fx, cs, "node-1", SLUICE__V1__AGENT_STATE__AGENT_STATE_PENDING);
	assert_int_equal(a->desired_revision, 1);
	assert_int_equal(a->applied_revision, 0);
	assert_string_equal(a->kernel, "6.1.0-test");
	assert_int_equal(a->n_interfaces, 1);
	assert_string_equal(a->interfaces[0], "veth0");
	agent_info_free(a);

	send_answer(cs, u->update, u->update->nonce, NULL);
	a = wait_state(fx, cs, "node-1", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED);
	assert_int_equal(a->applied_revision, 1);
	assert_string_equal(a->applied_hash, u->update->hash);
	assert_true(a->last_seen_unix > 0);
	agent_info_free(a);
	snprintf(hash, sizeof(hash), "%s", u->update->hash);
	sluice__v1__controller_message__free_unpacked(u, NULL);
	expect_nothing(cs);

	/* Stream gone: OFFLINE. */
	rpc_client_stream__close(cs);
	a = wait_state(fx, NULL, "node-1", SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE);
	assert_true(a->state_since_unix > 0);
	agent_info_free(a);

	/* Back with the wanted revision already live: nothing is sent, and it is SYNCED. */
	cs = agent_connect(fx, "node-1", "prod", 1, hash);
	expect_nothing(cs);
	a = wait_state(fx, cs, "node-1", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED);
	agent_info_free(a);

	/* A new revision is pushed to the connected agent. */
	apply_yaml(fx, newer_yaml, 2, false);
	u = expect_update(cs, 2);
	send_answer(cs, u->update, u->update->nonce, NULL);
	a = wait_state(fx, cs, "node-1", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED);
	assert_int_equal(a->applied_revision, 2);
	agent_info_free(a);
	sluice__v1__controller_message__free_unpacked(u, NULL);
	rpc_client_stream__close(cs);
}

static void test_nack_is_not_resent(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ControllerMessage *u;
	Sluice__V1__AgentInfo *a;
	struct rpc_client_stream *cs;

	apply_yaml(fx, good_yaml, 1, false);
	cs = agent_connect(fx, "node-n", "prod", 0, NULL);
	u = expect_update(cs, 1);
	/* An answer to some other nonce is stale and changes nothing. */
	send_answer(cs, u->update, u->update->nonce + 1000, NULL);
	send_answer(cs, u->update, u->update->nonce, "rule 'block-telnet': map full");
	a = wait_state(fx, cs, "node-n", SLUICE__V1__AGENT_STATE__AGENT_STATE_NACKED);
	assert_string_equal(a->last_error, "rule 'block-telnet': map full");
	assert_int_equal(a->applied_revision, 0);
	agent_info_free(a);
	sluice__v1__controller_message__free_unpacked(u, NULL);
	rpc_client_stream__close(cs);
	a = wait_state(fx, NULL, "node-n", SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE);
	agent_info_free(a);

	/* Not re-sent on reconnect, even to a restarted controller. */
	stop(fx);
	start(fx);
	cs = agent_connect(fx, "node-n", "prod", 0, NULL);
	expect_nothing(cs);
	a = wait_state(fx, cs, "node-n", SLUICE__V1__AGENT_STATE__AGENT_STATE_NACKED);
	assert_string_equal(a->last_error, "rule 'block-telnet': map full");
	agent_info_free(a);

	/* A newer revision is sent; its Ack clears the error. */
	apply_yaml(fx, newer_yaml, 2, false);
	u = expect_update(cs, 2);
	send_answer(cs, u->update, u->update->nonce, NULL);
	a = wait_state(fx, cs, "node-n", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED);
	assert_string_equal(a->last_error, "");
	assert_int_equal(a->applied_revision, 2);
	agent_info_free(a);
	sluice__v1__controller_message__free_unpacked(u, NULL);
	rpc_client_stream__close(cs);
}

static void test_stream_rules(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Status status = SLUICE__V1__STATUS__INIT;
	Sluice__V1__AgentInfo *a;
	struct rpc_client_stream *cs, *cs2;

	/* Hello first. */
	cs = rpc_client_stream__open(fx->ch, "/sluice.v1.AgentService/Connect");
	assert_non_null(cs);
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_STATUS;
	m.status = &status;
	agent_send(cs, &m);
	expect_closed(cs, RPC_INVALID_ARGUMENT, "the first message on the stream must be Hello");
	rpc_client_stream__close(cs);

	cs = agent_connect(fx, "bad node!", "prod", 0, NULL);
	expect_closed(cs, RPC_INVALID_ARGUMENT, "node_id");
	rpc_client_stream__close(cs);

	/* A second stream for the node replaces the first, which is ended. */
	cs = agent_connect(fx, "node-r", "prod", 0, NULL);
	a = wait_state(fx, cs, "node-r", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED); /* no revision yet */
	agent_info_free(a);
	cs2 = agent_connect(fx, "node-r", "dev", 0, NULL);
	pump(cs2, 100);
	expect_closed(cs, RPC_ABORTED, "replaced by a newer stream");
	rpc_client_stream__close(cs);
	/* ... and the node stays connected, with the new stream's labels. */
	pump(cs2, 100);
	a = wait_state(fx, cs2, "node-r", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED);
	assert_string_equal(a->labels[0]->value, "dev");
	agent_info_free(a);

	/* Status is kept and shown with the agent. */
	status.applied_revision = 0;
	status.rules_used = 7;
	status.rule_capacity = 16384;
	agent_send(cs2, &m);
	for (int i = 0; i < 100; i++) {
		a = get_agent(fx, "node-r", NULL);
		assert_non_null(a);
		if (a->status)
			break;
		agent_info_free(a);
		a = NULL;
		pump(cs2, 20);
	}
	assert_non_null(a);
	assert_non_null(a->status);
	assert_int_equal(a->status->rules_used, 7);
	assert_int_equal(a->status->rule_capacity, 16384);
	agent_info_free(a);
	rpc_client_stream__close(cs2);
	a = wait_state(fx, NULL, "node-r", SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE);
	assert_non_null(a->status); /* the last status outlives the stream */
	agent_info_free(a);
}

static void test_list_and_get_agents(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ListAgentsRequest req = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
	Sluice__V1__ListAgentsRequest__SelectorEntry sel = SLUICE__V1__LIST_AGENTS_REQUEST__SELECTOR_ENTRY__INIT;
	Sluice__V1__ListAgentsRequest__SelectorEntry *sels[] = { &sel };
	Sluice__V1__ListAgentsResponse *r;
	Sluice__V1__AgentInfo *a;
	struct rpc_client_stream *p, *d;
	struct rpc_buf resp = { 0 };
	struct rpc_status st;

	assert_null(get_agent(fx, "nobody", &st));
	assert_int_equal(st.code, RPC_NOT_FOUND);
	assert_string_equal(st.message, "agent 'nobody' is not known; see sluicectl get agents");

	p = agent_connect(fx, "node-p", "prod", 0, NULL);
	d = agent_connect(fx, "node-d", "dev", 0, NULL);
	agent_info_free(wait_state(fx, p, "node-p", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED));
	agent_info_free(wait_state(fx, d, "node-d", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED));

	assert_int_equal(call(fx, "ListAgents", &req.base, &resp, &st), RPC_OK);
	r = sluice__v1__list_agents_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(r);
	assert_int_equal(r->n_agents, 2);
	assert_string_equal(r->agents[0]->node_id, "node-d"); /* sorted by node id */
	sluice__v1__list_agents_response__free_unpacked(r, NULL);

	sel.key = "env";
	sel.value = "prod";
	req.n_selector = 1;
	req.selector = sels;
	assert_int_equal(call(fx, "ListAgents", &req.base, &resp, &st), RPC_OK);
	r = sluice__v1__list_agents_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(r);
	assert_int_equal(r->n_agents, 1);
	assert_string_equal(r->agents[0]->node_id, "node-p");
	assert_string_equal(r->agents[0]->agent_version, "0.1.0-test");
	sluice__v1__list_agents_response__free_unpacked(r, NULL);

	sel.value = "staging";
	assert_int_equal(call(fx, "ListAgents", &req.base, &resp, &st), RPC_OK);
	r = sluice__v1__list_agents_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(r);
	assert_int_equal(r->n_agents, 0);
	sluice__v1__list_agents_response__free_unpacked(r, NULL);

	rpc_client_stream__close(p);
	rpc_client_stream__close(d);

	/* A restarted controller knows its agents, all OFFLINE until they reconnect. */
	agent_info_free(wait_state(fx, NULL, "node-p", SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE));
	stop(fx);
	start(fx);
	a = get_agent(fx, "node-d", &st);
	assert_non_null(a);
	assert_int_equal(a->state, SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE);
	agent_info_free(a);
}

/* ---- backpressure: a frozen agent --------------------------------------------------------- */

#define SLOW_NODE "node-slow"
#define SLOW_REVISIONS 5

/* A valid policy of n rules, each matching n_dst destination addresses; variant
 * changes the first rule's port so each variant differs. Built directly (no YAML),
 * every piece malloc'd so policy__free() releases it. */
static Sluice__V1__Policy *big_policy(size_t n, size_t n_dst, unsigned variant)
{
	Sluice__V1__Policy *p = malloc(sizeof(*p));

	assert_non_null(p);
	sluice__v1__policy__init(p);
	p->n_rules = n;
	p->rules = calloc(n, sizeof(*p->rules));
	assert_non_null(p->rules);
	for (size_t i = 0; i < n; i++) {
		Sluice__V1__Rule *r = malloc(sizeof(*r));
		Sluice__V1__Match *m = malloc(sizeof(*m));
		Sluice__V1__PortRange *pr = malloc(sizeof(*pr));

		assert_true(r && m && pr);
		sluice__v1__rule__init(r);
		sluice__v1__match__init(m);
		sluice__v1__port_range__init(pr);
		assert_true(asprintf(&r->name, "rule-%05zu", i) > 0);
		r->priority = (uint32_t)i + 1;
		r->action = SLUICE__V1__ACTION__ACTION_DROP;
		pr->lo = pr->hi = i == 0 ? variant : (uint32_t)(i % 60000 + 1);
		m->proto = 6;
		m->n_dst_ports = 1;
		m->dst_ports = malloc(sizeof(*m->dst_ports));
		m->dst_ports[0] = pr;
		m->n_dst = n_dst;
		m->dst = calloc(n_dst + 1, sizeof(*m->dst));
		for (size_t k = 0; k < n_dst; k++) {
			Sluice__V1__Cidr *c = malloc(sizeof(*c));

			sluice__v1__cidr__init(c);
			c->addr.len = 4;
			c->addr.data = malloc(4);
			c->addr.data[0] = 10;
			c->addr.data[1] = (uint8_t)(k >> 8);
			c->addr.data[2] = (uint8_t)k;
			c->addr.data[3] = (uint8_t)i;
			c->prefix_len = 32;
			m->dst[k] = c;
		}
		r->match = m;
		p->rules[i] = r;
	}
	return p;
}

/* The child process of the coalescing tests (this binary run with --slow-agent
 * TARGET): an agent that prints the revision of every update it receives, one per
 * line, acknowledges each, and exits at revision SLOW_REVISIONS. */
static int slow_agent(const char *target)
{
	/* While frozen, its own keepalive would expire as well as the controller's. */
	struct rpc_channel_opts copts = { .keepalive_ms = 60000, .keepalive_timeout_ms = 60000 };
	struct fx fx = { 0 };
	struct rpc_client_stream *cs;
	Sluice__V1__ControllerMessage *m;
	struct rpc_buf buf = { 0 };
	struct rpc_status st;
	int ret = 1;

	rpc__init();
	fx.ch = rpc_channel__new(target, NULL, &copts);
	cs = agent_connect(&fx, SLOW_NODE, "prod", 0, NULL);
	while (rpc_client_stream__next(cs, 10000, &buf, &st) == RPC_EV_MESSAGE) {
		m = sluice__v1__controller_message__unpack(NULL, buf.len, buf.data);
		free(buf.data);
		if (!m || !m->update)
			break;
		printf("%llu\n", (unsigned long long)m->update->revision);
		fflush(stdout);
		send_answer(cs, m->update, m->update->nonce, NULL);
		if (m->update->revision == SLOW_REVISIONS) {
			rpc_client_stream__next(cs, 300, &buf, &st); /* lets the Ack out */
			ret = 0;
		}
		sluice__v1__controller_message__free_unpacked(m, NULL);
		if (ret == 0)
			break;
	}
	rpc_client_stream__close(cs);
	rpc_channel__free(fx.ch);
	rpc__shutdown();
	return ret;
}

/*
 * An agent that reads nothing (SIGSTOPped) while SLOW_REVISIONS revisions are applied.
 * The controller keeps one update in flight per agent, and the revisions applied
 * meanwhile must not queue behind it: when the agent reads again it gets what was in
 * flight and, once it answered that, only the newest revision. With large policies
 * the transport's buffers fill as well (big); with small ones only the in-flight rule
 * holds them back, as in a storm of applies to agents that are merely busy.
 */
static void coalesce_case(struct fx *fx, bool big)
{
	Sluice__V1__Policy *pol;
	Sluice__V1__ApplyPolicyResponse *r;
	Sluice__V1__AgentInfo *a;
	struct rpc_status st;
	unsigned long long got[SLOW_REVISIONS + 1];
	size_t n_got = 0;
	char line[32];
	int out[2], status;
	FILE *f;
	pid_t pid;

	/* Keepalive would (rightly) take a frozen agent for a dead one; slow builds
	 * need more than the default few seconds for the applies below. */
	stop(fx);
	fx->keepalive_ms = 60000;
	start(fx);
	pol = big ? big_policy(POLICY_DEFAULT_CAPACITY, 16, 1) /* ~3 MB */ : big_policy(1, 1, 1);
	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		execl("/proc/self/exe", "test_controller", "--slow-agent", fx->target, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	agent_info_free(wait_state(fx, NULL, SLOW_NODE, SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED));

	assert_int_equal(kill(pid, SIGSTOP), 0);
	for (unsigned v = 1; v <= SLOW_REVISIONS; v++) {
		pol->rules[0]->match->dst_ports[0]->lo = pol->rules[0]->match->dst_ports[0]->hi = v;
		if (apply(fx, pol, false, &r, &st) != RPC_OK)
			fail_msg("ApplyPolicy: %s: %s", rpc_code__name(st.code), st.message);
		assert_int_equal(r->revision, v);
		sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	}
	policy__free(pol);
	a = get_agent(fx, SLOW_NODE, &st);
	assert_non_null(a);
	assert_int_equal(a->state, SLUICE__V1__AGENT_STATE__AGENT_STATE_PENDING);
	assert_int_equal(a->desired_revision, SLOW_REVISIONS);
	agent_info_free(a);
	assert_int_equal(kill(pid, SIGCONT), 0);

	f = fdopen(out[0], "r");
	assert_non_null(f);
	while (n_got <= SLOW_REVISIONS && fgets(line, sizeof(line), f))
		got[n_got++] = strtoull(line, NULL, 10);
	fclose(f);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (size_t i = 0; i < n_got; i++)
		print_message("update %zu: revision %llu\n", i, got[i]);
	assert_true(n_got >= 1);
	assert_int_equal(got[n_got - 1], SLOW_REVISIONS);
	for (size_t i = 1; i < n_got; i++)
		assert_true(got[i] > got[i - 1]);
	assert_true(n_got < SLOW_REVISIONS); /* some revision was skipped, not queued */
	a = get_agent(fx, SLOW_NODE, &st);
	assert_non_null(a);
	assert_int_equal(a->applied_revision, SLOW_REVISIONS);
	agent_info_free(a);
}

static void test_backpressure_coalesces(void **state)
{
	coalesce_case(*state, true);
}

static void test_inflight_coalesces(void **state)
{
	coalesce_case(*state, false);
}

/* ---- rollouts over the wire ------------------------------------------------------------- */

static Sluice__V1__Rollout *get_rollout(struct fx *fx, uint64_t id)
{
	Sluice__V1__GetRolloutRequest req = SLUICE__V1__GET_ROLLOUT_REQUEST__INIT;
	Sluice__V1__GetRolloutResponse *r;
	Sluice__V1__Rollout *ro;
	struct rpc_buf resp = { 0 };
	struct rpc_status st;

	req.id = id;
	if (call(fx, "GetRollout", &req.base, &resp, &st) != RPC_OK)
		fail_msg("GetRollout: %s", st.message);
	r = sluice__v1__get_rollout_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(r);
	ro = r->rollout;
	r->rollout = NULL;
	sluice__v1__get_rollout_response__free_unpacked(r, NULL);
	return ro;
}

/*
 * Three agents on real streams; a rollout of revision 2 in three waves (one agent each,
 * by node id) whose canary refuses it: the rollout FAILS with the canary's reason, the
 * canary is sent revision 1 again, and the other two are never sent anything.
 */
static void test_rollout_canary_nack(void **state)
{
	static const char *const nodes[] = { "node-a", "node-b", "node-c" };
	struct fx *fx = *state;
	Sluice__V1__StartRolloutRequest req = SLUICE__V1__START_ROLLOUT_REQUEST__INIT;
	Sluice__V1__RolloutSpec spec = SLUICE__V1__ROLLOUT_SPEC__INIT;
	Sluice__V1__ControllerMessage *u;
	Sluice__V1__Rollout *ro = NULL;
	struct rpc_client_stream *cs[3];
	struct rpc_buf resp = { 0 };
	struct rpc_status st;

	apply_yaml(fx, good_yaml, 1, false);
	for (int i = 0; i < 3; i++) {
		cs[i] = agent_connect(fx, nodes[i], "prod", 0, NULL);
		u = expect_update(cs[i], 1);
		send_answer(cs[i], u->update, u->update->nonce, NULL);
		sluice__v1__controller_message__free_unpacked(u, NULL);
		agent_info_free(wait_state(fx, cs[i], nodes[i], SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED));
	}
	/* Stored without a rollout, then rolled out in waves. */
	{
		Sluice__V1__ApplyPolicyRequest areq = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
		Sluice__V1__ApplyPolicyResponse *ar;

		areq.policy = parse(newer_yaml);
		areq.no_rollout = true;
		assert_int_equal(call(fx, "ApplyPolicy", &areq.base, &resp, &st), RPC_OK);
		ar = sluice__v1__apply_policy_response__unpack(NULL, resp.len, resp.data);
		free(resp.data);
		assert_non_null(ar);
		assert_int_equal(ar->revision, 2);
		assert_int_equal(ar->rollout_id, 0);
		sluice__v1__apply_policy_response__free_unpacked(ar, NULL);
		policy__free(areq.policy);
	}
	for (int i = 0; i < 3; i++)
		expect_nothing(cs[i]);
	/* The spec is checked as a policy file's rollout hint is. */
	spec.canary_percent = 150;
	req.revision = 2;
	req.spec = &spec;
	assert_int_equal(call(fx, "StartRollout", &req.base, &resp, &st), RPC_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "canary: 150% is more than 100%"));
	free(resp.data);
	resp.data = NULL;
	spec.canary_percent = 33;
	spec.batch_percent = 33;
	spec.interval_seconds = 1;
	assert_int_equal(call(fx, "StartRollout", &req.base, &resp, &st), RPC_OK);
	free(resp.data);
	u = expect_update(cs[0], 2);
	send_answer(cs[0], u->update, u->update->nonce, "rule 'block-telnet': no room");
	sluice__v1__controller_message__free_unpacked(u, NULL);
	for (int i = 0; i < 100; i++) {
		sluice__v1__rollout__free_unpacked(ro, NULL);
		ro = get_rollout(fx, 0);
		if (ro->state == SLUICE__V1__ROLLOUT_STATE__ROLLOUT_STATE_FAILED)
			break;
		pump(cs[0], 50);
	}
	assert_int_equal(ro->state, SLUICE__V1__ROLLOUT_STATE__ROLLOUT_STATE_FAILED);
	assert_non_null(strstr(ro->reason, "agent 'node-a' refused revision 2: rule 'block-telnet': no room"));
	assert_int_equal(ro->n_waves, 3);
	assert_int_equal(ro->waves[0]->state, SLUICE__V1__WAVE_STATE__WAVE_STATE_FAILED);
	assert_int_equal(ro->waves[1]->state, SLUICE__V1__WAVE_STATE__WAVE_STATE_WAITING);
	assert_int_equal(ro->n_agents, 3);
	assert_int_equal(ro->agents[0]->state, SLUICE__V1__ROLLOUT_AGENT_STATE__ROLLOUT_AGENT_NACKED);
	assert_true(ro->agents[0]->rolled_back);
	sluice__v1__rollout__free_unpacked(ro, NULL);
	/* The canary already runs revision 1 (it refused 2): it is SYNCED at 1 with nothing
	 * to send; the later waves were never touched. */
	agent_info_free(wait_state(fx, cs[0], "node-a", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED));
	for (int i = 0; i < 3; i++) {
		expect_nothing(cs[i]);
		rpc_client_stream__close(cs[i]);
	}
}

/* The next update on cs, whatever form it takes. */
static Sluice__V1__ControllerMessage *next_update(struct rpc_client_stream *cs)
{
	Sluice__V1__ControllerMessage *m;
	struct rpc_buf buf = { 0 };
	struct rpc_status st;

	assert_int_equal(rpc_client_stream__next(cs, CALL_MS, &buf, &st), RPC_EV_MESSAGE);
	m = sluice__v1__controller_message__unpack(NULL, buf.len, buf.data);
	free(buf.data);
	assert_non_null(m);
	assert_non_null(m->update);
	return m;
}

/*
 * A one-rule edit of a 500-rule policy reaches an agent that runs the previous revision
 * as a delta from it; an agent that asks for a resync (the delta did not fit) gets the
 * whole policy, and is not taken for one that refused it.
 */
static void test_delta_and_resync(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__Policy *pol = big_policy(500, 1, 1);
	Sluice__V1__ControllerMessage *u, *v;
	Sluice__V1__ApplyPolicyResponse *r;
	Sluice__V1__AgentInfo *a;
	struct rpc_client_stream *cs;
	struct rpc_status st;

	assert_int_equal(apply(fx, pol, false, &r, &st), RPC_OK);
	sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	cs = agent_connect(fx, "node-d", "prod", 0, NULL);
	u = expect_update(cs, 1); /* runs nothing: the whole policy */
	send_answer(cs, u->update, u->update->nonce, NULL);
	agent_info_free(wait_state(fx, cs, "node-d", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED));

	pol->rules[0]->match->dst_ports[0]->lo = pol->rules[0]->match->dst_ports[0]->hi = 2;
	assert_int_equal(apply(fx, pol, false, &r, &st), RPC_OK);
	sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	v = next_update(cs);
	assert_int_equal(v->update->revision, 2);
	assert_null(v->update->policy);
	assert_non_null(v->update->delta);
	assert_int_equal(v->update->delta->base_revision, 1);
	assert_string_equal(v->update->delta->base_hash, u->update->hash);
	assert_true(sluice__v1__controller_message__get_packed_size(v) < 200);
	{
		Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
		Sluice__V1__Nack nack = SLUICE__V1__NACK__INIT;

		nack.nonce = v->update->nonce;
		nack.revision = 2;
		nack.error = "the delta's base is not the live policy";
		nack.resync = true;
		m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_NACK;
		m.nack = &nack;
		agent_send(cs, &m);
	}
	sluice__v1__controller_message__free_unpacked(v, NULL);
	v = expect_update(cs, 2); /* now whole */
	a = get_agent(fx, "node-d", &st);
	assert_non_null(a);
	assert_int_not_equal(a->state, SLUICE__V1__AGENT_STATE__AGENT_STATE_NACKED);
	agent_info_free(a);
	send_answer(cs, v->update, v->update->nonce, NULL);
	a = wait_state(fx, cs, "node-d", SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED);
	assert_int_equal(a->applied_revision, 2);
	agent_info_free(a);
	sluice__v1__controller_message__free_unpacked(u, NULL);
	sluice__v1__controller_message__free_unpacked(v, NULL);
	policy__free(pol);
	rpc_client_stream__close(cs);
}

static void test_second_controller_refused(void **state)
{
	struct fx *fx = *state;
	struct controller_opts opts = { .listen = "127.0.0.1:0", .db_path = fx->db };
	char err[512];

	assert_null(controller__start(&opts, err, sizeof(err)));
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(err, "is in use by another sluice-controller"));
}

/* ListAudit: every apply is there, newest first, with who, what and the hashes. */
static void test_list_audit(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ListAuditRequest req = SLUICE__V1__LIST_AUDIT_REQUEST__INIT;
	Sluice__V1__ListAuditResponse *r;
	struct rpc_buf resp = { 0 };
	struct rpc_status st;
	const Sluice__V1__AuditEntry *applies[2];
	size_t n = 0;

	apply_yaml(fx, good_yaml, 1, false);
	apply_yaml(fx, newer_yaml, 2, false);
	apply_yaml(fx, newer_yaml, 2, true); /* unchanged: not a change, not audited */
	assert_int_equal(call(fx, "ListAudit", &req.base, &resp, &st), RPC_OK);
	r = sluice__v1__list_audit_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(r);
	for (size_t i = 0; i < r->n_entries; i++)
		if (strcmp(r->entries[i]->action, "apply") == 0 && n < 2)
			applies[n++] = r->entries[i];
	assert_int_equal(n, 2);
	assert_string_equal(applies[0]->object, "revision 2");
	assert_string_equal(applies[1]->object, "revision 1");
	assert_true(applies[0]->id > applies[1]->id);
	assert_string_equal(applies[0]->detail, "from the test");
	assert_int_equal(strncmp(applies[0]->who, "insecure:", 9), 0);
	assert_string_equal(applies[0]->before_hash, applies[1]->after_hash);
	assert_int_equal(strlen(applies[0]->after_hash), POLICY_HASH_HEX - 1);
	assert_true(applies[0]->time_unix > 0);
	sluice__v1__list_audit_response__free_unpacked(r, NULL);

	req.limit = 1;
	assert_int_equal(call(fx, "ListAudit", &req.base, &resp, &st), RPC_OK);
	r = sluice__v1__list_audit_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(r);
	assert_int_equal(r->n_entries, 1);
	sluice__v1__list_audit_response__free_unpacked(r, NULL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_stale_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_rolls_out_orphan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_sync_and_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nack_is_not_resent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_get_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_coalesces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflight_coalesces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_controller_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout_canary_nack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_and_resync, setup, teardown),
	};
	int ret;

	if (argc == 3 && strcmp(argv[1], "--slow-agent") == 0)
		return slow_agent(argv[2]);
	rpc__init();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rpc__shutdown();
	return ret;
}
