// SPDX-License-Identifier: Apache-2.0
/*
 * test_controller_metrics.c — the controller's Prometheus families (controller/
 * controller_metrics.h) from a controller run in-process with a metrics registry: a
 * fake agent that Acks one revision and Nacks the next moves the push-latency
 * histogram and the Nack counter; control calls are counted by method and code; the
 * store's writes are timed; the agent, rollout and revision gauges follow. The rendered text
 * passes `promtool check metrics` when promtool is installed.
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

#include "common/metrics.h"
#include "common/policy.h"
#include "common/rpc.h"
#include "controller.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/control.pb-c.h"

#define CALL_MS 20000

struct fx {
	char dir[64];
	char db[128];
	struct metrics *m;
	struct controller *ctl;
	struct rpc_channel *ch;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct controller_opts opts = { .listen = "127.0.0.1:0" };
	char err[512], target[64];

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-cmetrics.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->db, sizeof(fx->db), "%s/controller.db", fx->dir);
	fx->m = metrics__new();
	assert_non_null(fx->m);
	opts.db_path = fx->db;
	opts.metrics = fx->m;
	fx->ctl = controller__start(&opts, err, sizeof(err));
	if (!fx->ctl)
		fail_msg("controller__start: %s", err);
	snprintf(target, sizeof(target), "127.0.0.1:%d", controller__port(fx->ctl));
	fx->ch = rpc_channel__new(target, NULL, NULL);
	assert_non_null(fx->ch);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	rpc_channel__free(fx->ch);
	controller__stop(fx->ctl);
	metrics__free(fx->m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static char *render(struct fx *fx)
{
	char *out = NULL;

	assert_int_equal(metrics__render(fx->m, &out, NULL), 0);
	return out;
}

/* Lets a fake agent's stream make progress for ms (its sends go out only inside
 * rpc_client_stream__next); nothing may arrive meanwhile. NULL: just sleeps. */
static void pump(struct rpc_client_stream *cs, int ms)
{
	struct rpc_buf buf = { 0 };
	struct rpc_status st;

	if (!cs) {
		usleep((useconds_t)ms * 1000);
		return;
	}
	assert_int_equal(rpc_client_stream__next(cs, ms, &buf, &st), RPC_EV_TIMEOUT);
}

/* Waits (up to 5 s: the gauges refresh about once a second) until the text has needle,
 * pumping cs meanwhile. */
static void wait_for(struct fx *fx, struct rpc_client_stream *cs, const char *needle)
{
	char *out = NULL;

	for (int i = 0; i < 100; i++) {
		free(out);
		out = render(fx);
		if (strstr(out, needle)) {
			free(out);
			return;
		}
		pump(cs, 50);
	}
	fail_msg("never saw\n%s\nin\n%s", needle, out);
}

static void apply(struct fx *fx, const char *yaml)
{
	Sluice__V1__ApplyPolicyRequest req = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__Policy *p = NULL;
	struct rpc_buf resp = { 0 };
	struct rpc_status st;
	char err[256];
	uint8_t *buf;
	size_t len;

	if (policy_yaml__parse_string("test.yaml", yaml, strlen(yaml), 0, &p, err, sizeof(err)))
		fail_msg("test policy does not parse: %s", err);
	req.policy = p;
	req.message = "metrics test";
	len = sluice__v1__apply_policy_request__get_packed_size(&req);
	buf = malloc(len + 1);
	assert_non_null(buf);
	sluice__v1__apply_policy_request__pack(&req, buf);
	if (rpc_channel__unary(fx->ch, "/sluice.v1.ControlService/ApplyPolicy", buf, len, CALL_MS, &resp, &st) != RPC_OK)
		fail_msg("ApplyPolicy: %s: %s", rpc_code__name(st.code), st.message);
	free(resp.data);
	free(buf);
	sluice__v1__policy__free_unpacked(p, NULL);
}

static void agent_send(struct rpc_client_stream *cs, const Sluice__V1__AgentMessage *m)
{
	size_t len = sluice__v1__agent_message__get_packed_size(m);
	uint8_t *buf = malloc(len + 1);

	assert_non_null(buf);
	sluice__v1__agent_message__pack(m, buf);
	assert_int_equal(rpc_client_stream__send(cs, buf, len), 0);
	free(buf);
}

static struct rpc_client_stream *agent_connect(struct fx *fx, const char *node)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Hello h = SLUICE__V1__HELLO__INIT;
	struct rpc_client_stream *cs = rpc_client_stream__open(fx->ch, "/sluice.v1.AgentService/Connect");

	assert_non_null(cs);
	h.node_id = (char *)node;
	h.agent_version = "0.1.0-test";
	h.kernel = "6.1.0-test";
	h.applied_hash = "";
	h.rule_capacity = POLICY_DEFAULT_CAPACITY;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_HELLO;
	m.hello = &h;
	agent_send(cs, &m);
	return cs;
}

/* Waits for the next PolicyUpdate and answers it: Ack, or Nack with error. */
static void answer_update(struct rpc_client_stream *cs, const char *nack_error)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Ack ack = SLUICE__V1__ACK__INIT;
	Sluice__V1__Nack nack = SLUICE__V1__NACK__INIT;
	Sluice__V1__ControllerMessage *cm;
	struct rpc_buf buf = { 0 };
	struct rpc_status st;

	if (rpc_client_stream__next(cs, CALL_MS, &buf, &st) != RPC_EV_MESSAGE)
		fail_msg("expected a PolicyUpdate");
	cm = sluice__v1__controller_message__unpack(NULL, buf.len, buf.data);
	free(buf.data);
	assert_non_null(cm);
	assert_int_equal(cm->msg_case, SLUICE__V1__CONTROLLER_MESSAGE__MSG_UPDATE);
	if (nack_error) {
		nack.nonce = cm->update->nonce;
		nack.revision = cm->update->revision;
		nack.error = (char *)nack_error;
		m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_NACK;
		m.nack = &nack;
	} else {
		ack.nonce = cm->update->nonce;
		ack.revision = cm->update->revision;
		ack.hash = cm->update->hash;
		m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_ACK;
		m.ack = &ack;
	}
	agent_send(cs, &m);
	sluice__v1__controller_message__free_unpacked(cm, NULL);
}

static void test_controller_families(void **state)
{
	struct fx *fx = *state;
	struct rpc_client_stream *cs;
	char *out;
	FILE *p;

	out = render(fx);
	assert_non_null(strstr(out, "sluice_controller_agents{state=\"synced\"} 0\n"));
	assert_non_null(strstr(out, "sluice_controller_rollouts{state=\"running\"} 0\n"));
	assert_non_null(strstr(out, "\nsluice_controller_nacks_total 0\n"));
	assert_non_null(strstr(out, "sluice_controller_build_info{version=\"" SLUICE_VERSION "\"} 1\n"));
	free(out);

	cs = agent_connect(fx, "gw-1");
	wait_for(fx, cs, "\nsluice_controller_agents_connected 1\n");
	apply(fx, "rules:\n  - name: block-telnet\n    match: { proto: tcp, dst_ports: [23] }\n    action: drop\n");
	answer_update(cs, NULL);
	wait_for(fx, cs, "sluice_controller_policy_push_duration_seconds_count{result=\"ack\"} 1\n");
	wait_for(fx, cs, "sluice_controller_agents{state=\"synced\"} 1\n");
	wait_for(fx, cs, "\nsluice_controller_revision 1\n");

	apply(fx, "rules:\n  - name: block-telnet\n    match: { proto: tcp, dst_ports: [23, 2323] }\n    action: drop\n");
	answer_update(cs, "rule 'block-telnet': the test refuses it");
	wait_for(fx, cs, "sluice_controller_policy_push_duration_seconds_count{result=\"nack\"} 1\n");
	wait_for(fx, cs, "\nsluice_controller_nacks_total 1\n");
	/* The rollout engine rolls the refused revision back: a failed rollout. */
	wait_for(fx, cs, "sluice_controller_rollouts{state=\"failed\"} 1\n");
	wait_for(fx, cs, "sluice_controller_rollouts{state=\"succeeded\"} 1\n");

	rpc_client_stream__close(cs); /* the stream ends: counted once over */
	wait_for(fx, NULL, "sluice_controller_rpcs_total{service=\"sluice.v1.AgentService\",method=\"Connect\",code=\"CANCELLED\"} 1\n");
	wait_for(fx, NULL, "sluice_controller_agents{state=\"offline\"} 1\n");

	out = render(fx);
	assert_non_null(strstr(out, "sluice_controller_rpcs_total{service=\"sluice.v1.ControlService\",method=\"ApplyPolicy\",code=\"OK\"} 2\n"));
	assert_non_null(strstr(out, "sluice_controller_rpc_duration_seconds_count{service=\"sluice.v1.ControlService\",method=\"ApplyPolicy\"} 2\n"));
	assert_null(strstr(out, "sluice_controller_rpc_duration_seconds_count{service=\"sluice.v1.AgentService\""));
	assert_non_null(strstr(out, "sluice_controller_store_write_duration_seconds_count{sync=\"full\"}"));
	assert_non_null(strstr(out, "sluice_controller_store_write_duration_seconds_count{sync=\"normal\"}"));
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		p = popen("promtool check metrics", "w");
		assert_non_null(p);
		fputs(out, p);
		assert_int_equal(pclose(p), 0);
	}
	free(out);
}

/* A method the server does not have is counted under "unknown", not under its path. */
static void test_unknown_method(void **state)
{
	struct fx *fx = *state;
	struct rpc_buf resp = { 0 };
	struct rpc_status st;

	assert_int_equal(rpc_channel__unary(fx->ch, "/evil.Service/Whatever", (const uint8_t *)"", 0, CALL_MS, &resp, &st),
			 RPC_UNIMPLEMENTED);
	wait_for(fx, NULL, "sluice_controller_rpcs_total{service=\"unknown\",method=\"unknown\",code=\"UNIMPLEMENTED\"} 1\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_controller_families, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_method, setup, teardown),
	};

	rpc__init();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rpc__shutdown();
	return rc;
}
