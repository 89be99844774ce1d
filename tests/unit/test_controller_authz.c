// SPDX-License-Identifier: Apache-2.0
/*
 * test_controller_authz.c — who may do what on the controller (controller/authz.h):
 * the role table on its own, then the same rules end to end over mTLS, with
 * certificates made by openssl in a temporary directory: agents may only hold their
 * own stream, viewers only read, operators apply and are named in the audit trail.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz.h"
#include "controller.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/control.pb-c.h"

#define CALL_MS 10000

static struct rpc_peer peer(const char *identity, const char *group)
{
	struct rpc_peer p = { .authenticated = identity != NULL };

	snprintf(p.identity, sizeof(p.identity), "%s", identity ? identity : "");
	snprintf(p.group, sizeof(p.group), "%s", group ? group : "");
	snprintf(p.address, sizeof(p.address), "ipv4:127.0.0.1:4242");
	return p;
}

static void test_role_table(void **state)
{
	struct rpc_peer plain = peer(NULL, NULL), viewer = peer("vic", "sluice:viewer"),
			operator = peer("alice", "sluice:operator"), admin = peer("root", "sluice:admin"),
			agent = peer("node-1", "sluice:agent"), nobody = peer("eve", "");
	char err[512], who[300];

	assert_int_equal(authz__control(&plain, AUTHZ_CHANGE, err, sizeof(err)), 0);
	assert_int_equal(authz__control(&viewer, AUTHZ_READ, err, sizeof(err)), 0);
	assert_int_equal(authz__control(&viewer, AUTHZ_CHANGE, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "may only read"));
	assert_int_equal(authz__control(&operator, AUTHZ_CHANGE, err, sizeof(err)), 0);
	assert_int_equal(authz__control(&admin, AUTHZ_CHANGE, err, sizeof(err)), 0);
	assert_int_equal(authz__control(&agent, AUTHZ_READ, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "may not use the control API"));
	assert_int_equal(authz__control(&nobody, AUTHZ_READ, err, sizeof(err)), -EPERM);

	assert_int_equal(authz__agent(&plain, "any-node", err, sizeof(err)), 0);
	assert_int_equal(authz__agent(&agent, "node-1", err, sizeof(err)), 0);
	assert_int_equal(authz__agent(&agent, "node-2", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "must equal the certificate CN"));
	assert_int_equal(authz__agent(&admin, "root", err, sizeof(err)), -EPERM);

	authz__who(&operator, who, sizeof(who));
	assert_string_equal(who, "alice");
	authz__who(&plain, who, sizeof(who));
	assert_string_equal(who, "insecure:ipv4:127.0.0.1:4242");
}

/* ---- end to end over mTLS ---------------------------------------------------------------- */

struct pki {
	char dir[64];
	char cert[160], key[160], ca[160], db[160]; /* the controller's */
};

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* A CA, the controller's certificate (127.0.0.1) and one client certificate per subject. */
static void make_pki(struct pki *p)
{
	static const char *const clients[][2] = {
		{ "agent", "/O=sluice:agent/CN=node-1" },
		{ "viewer", "/O=sluice:viewer/CN=vic" },
		{ "operator", "/O=sluice:operator/CN=alice" },
	};
	static const char ec[] = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

	snprintf(p->dir, sizeof(p->dir), "/tmp/sluice-test-authz.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.crt -days 1 -subj /CN=test-ca 2>/dev/null", p->dir, ec);
	sh("cd %s && printf 'subjectAltName=IP:127.0.0.1\\n' > srv.ext && openssl req %s -keyout controller.key"
	   " -out controller.csr -subj /CN=controller 2>/dev/null && openssl x509 -req -in controller.csr -CA ca.crt"
	   " -CAkey ca.key -CAcreateserial -days 1 -extfile srv.ext -out controller.crt 2>/dev/null",
	   p->dir, ec);
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
		sh("cd %s && openssl req %s -keyout %s.key -out %s.csr -subj '%s' 2>/dev/null && openssl x509 -req"
		   " -in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out %s.crt 2>/dev/null",
		   p->dir, ec, clients[i][0], clients[i][0], clients[i][1], clients[i][0], clients[i][0]);
	snprintf(p->cert, sizeof(p->cert), "%s/controller.crt", p->dir);
	snprintf(p->key, sizeof(p->key), "%s/controller.key", p->dir);
	snprintf(p->ca, sizeof(p->ca), "%s/ca.crt", p->dir);
	snprintf(p->db, sizeof(p->db), "%s/controller.db", p->dir);
}

static struct rpc_channel *channel_as(struct pki *p, int port, const char *who)
{
	char target[64], cert[160], key[160];
	struct rpc_tls tls = { cert, key, p->ca };
	struct rpc_channel *ch;

	snprintf(cert, sizeof(cert), "%s/%s.crt", p->dir, who);
	snprintf(key, sizeof(key), "%s/%s.key", p->dir, who);
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	ch = rpc_channel__new(target, &tls, NULL);
	assert_non_null(ch);
	return ch;
}

static enum rpc_code call(struct rpc_channel *ch, const char *method, const ProtobufCMessage *req,
			  struct rpc_buf *resp, struct rpc_status *st)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t buf[256];
	char path[128];

	assert_true(len <= sizeof(buf));
	protobuf_c_message_pack(req, buf);
	snprintf(path, sizeof(path), "/sluice.v1.ControlService/%s", method);
	return rpc_channel__unary(ch, path, buf, len, CALL_MS, resp, st);
}

/* Opens an agent stream saying Hello as node and returns how the controller ended it
 * (RPC_OK: still open after a while). */
static enum rpc_code hello_as(struct rpc_channel *ch, const char *node, struct rpc_status *st)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Hello h = SLUICE__V1__HELLO__INIT;
	struct rpc_client_stream *cs = rpc_client_stream__open(ch, "/sluice.v1.AgentService/Connect");
	struct rpc_buf msg = { 0 };
	uint8_t buf[256];
	enum rpc_event ev;

	assert_non_null(cs);
	h.node_id = (char *)node;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_HELLO;
	m.hello = &h;
	assert_int_equal(rpc_client_stream__send(cs, buf, sluice__v1__agent_message__pack(&m, buf)), 0);
	ev = rpc_client_stream__next(cs, 1000, &msg, st);
	free(msg.data);
	rpc_client_stream__close(cs);
	assert_int_not_equal(ev, RPC_EV_MESSAGE); /* no revision exists: nothing to send */
	return ev == RPC_EV_CLOSED ? st->code : RPC_OK;
}

static void test_mtls_roles(void **state)
{
	Sluice__V1__ApplyPolicyRequest apply = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ListAgentsRequest list = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
	Sluice__V1__GetRevisionRequest get = SLUICE__V1__GET_REVISION_REQUEST__INIT;
	Sluice__V1__GetRevisionResponse *rev;
	struct controller_opts opts = { .listen = "127.0.0.1:0" };
	struct rpc_channel *agent, *viewer, *operator;
	struct controller *ctl;
	struct rpc_status st;
	struct rpc_buf resp = { 0 };
	struct rpc_tls tls;
	struct pki p = { 0 };
	char err[512];
	int port;

	make_pki(&p);
	tls = (struct rpc_tls){ p.cert, p.key, p.ca };
	opts.tls = &tls;
	opts.db_path = p.db;
	ctl = controller__start(&opts, err, sizeof(err));
	if (!ctl)
		fail_msg("controller__start: %s", err);
	port = controller__port(ctl);
	agent = channel_as(&p, port, "agent");
	viewer = channel_as(&p, port, "viewer");
	operator = channel_as(&p, port, "operator");

	/* Agents: their own stream only. */
	assert_int_equal(hello_as(agent, "node-1", &st), RPC_OK);
	assert_int_equal(hello_as(agent, "node-2", &st), RPC_PERMISSION_DENIED);
	assert_non_null(strstr(st.message, "may not connect as node 'node-2'"));
	assert_int_equal(call(agent, "ListAgents", &list.base, &resp, &st), RPC_PERMISSION_DENIED);
	assert_non_null(strstr(st.message, "may not use the control API"));
	assert_int_equal(hello_as(viewer, "vic", &st), RPC_PERMISSION_DENIED);

	/* Viewers read; changes need an operator, who is then the author. */
	assert_int_equal(call(viewer, "ListAgents", &list.base, &resp, &st), RPC_OK);
	free(resp.data);
	apply.message = "by the book";
	assert_int_equal(call(viewer, "ApplyPolicy", &apply.base, &resp, &st), RPC_PERMISSION_DENIED);
	assert_non_null(strstr(st.message, "may only read"));
	assert_int_equal(call(operator, "ApplyPolicy", &apply.base, &resp, &st), RPC_OK);
	free(resp.data);
	assert_int_equal(call(viewer, "GetRevision", &get.base, &resp, &st), RPC_OK);
	rev = sluice__v1__get_revision_response__unpack(NULL, resp.len, resp.data);
	free(resp.data);
	assert_non_null(rev);
	assert_string_equal(rev->info->author, "alice");
	sluice__v1__get_revision_response__free_unpacked(rev, NULL);

	rpc_channel__free(agent);
	rpc_channel__free(viewer);
	rpc_channel__free(operator);
	controller__stop(ctl);
	sh("rm -rf '%s'", p.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_table),
		cmocka_unit_test(test_mtls_roles),
	};
	int ret;

	rpc__init();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rpc__shutdown();
	return ret;
}
