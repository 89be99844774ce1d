// SPDX-License-Identifier: Apache-2.0
/*
 * test_controller_security.c — the controller as an attacker meets it, over mTLS with
 * certificates from deploy/pki.sh: the one methods table covers every RPC of the proto
 * (and nothing else); each refusal (a viewer applying, an agent certificate on the control
 * API, a Hello naming another node, a method nobody is granted, an operator removing an
 * agent) is PERMISSION_DENIED and lands in the audit log with who and what; changes are
 * audited with their hashes, ListAudit filters by time, an audit row that cannot be
 * written stops the change; refusals are rate-limited in the log; and the controller
 * reloads a rotated certificate, refusing broken files.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "authz.h"
#include "common/cert.h"
#include "controller.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/control.pb-c.h"
#include "store.h"

#define CALL_MS 10000

struct fx {
	char dir[64];
	char db[128];
	struct controller *ctl;
	int port;
};

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* deploy/pki.sh [ARGS] in the fixture's folder. */
static void pki(const struct fx *fx, const char *args)
{
	const char *data = getenv("SLUICE_TEST_DATA");

	sh("bash %s/../../deploy/pki.sh --dir %s %s >/dev/null", data ? data : "tests/data", fx->dir, args);
}

static const char *path(const struct fx *fx, const char *name)
{
	static char buf[8][160];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", fx->dir, name);
	return buf[i];
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct controller_opts opts = { .listen = "127.0.0.1:0" };
	struct rpc_tls tls;
	char err[512];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-sec.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	pki(fx, "ca");
	pki(fx, "controller ctl 127.0.0.1 localhost");
	pki(fx, "agent node-1");
	pki(fx, "operator root admin");
	pki(fx, "operator alice operator");
	pki(fx, "operator vic viewer");
	/* A second CA with an admin of its own: a foreign client. */
	sh("mkdir %s/other && bash %s/../../deploy/pki.sh --dir %s/other ca >/dev/null && bash %s/../../deploy/pki.sh"
	   " --dir %s/other operator mallory admin >/dev/null",
	   fx->dir, getenv("SLUICE_TEST_DATA"), fx->dir, getenv("SLUICE_TEST_DATA"), fx->dir);
	snprintf(fx->db, sizeof(fx->db), "%s/controller.db", fx->dir);
	tls = (struct rpc_tls){ path(fx, "controller-ctl.crt"), path(fx, "controller-ctl.key"), path(fx, "ca.crt") };
	opts.tls = &tls;
	opts.db_path = fx->db;
	fx->ctl = controller__start(&opts, err, sizeof(err));
	if (!fx->ctl) {
		fprintf(stderr, "controller__start: %s\n", err);
		return -1;
	}
	fx->port = controller__port(fx->ctl);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	controller__stop(fx->ctl);
	sh("rm -rf '%s'", fx->dir);
	free(fx);
	return 0;
}

/* A channel as the certificate base ("user-alice", "agent-node-1"; "other/user-mallory"
 * with the foreign CA), or without a client certificate when base is NULL. */
static struct rpc_channel *as(const struct fx *fx, const char *base)
{
	char target[32], cert[160], key[160], ca[160];
	struct rpc_tls tls = { NULL, NULL, ca };
	struct rpc_channel_opts o = { .own_connection = true };
	struct rpc_channel *ch;

	snprintf(ca, sizeof(ca), "%s/ca.crt", fx->dir);
	if (base) {
		snprintf(cert, sizeof(cert), "%s/%s.crt", fx->dir, base);
		snprintf(key, sizeof(key), "%s/%s.key", fx->dir, base);
		tls.cert_file = cert;
		tls.key_file = key;
	}
	snprintf(target, sizeof(target), "127.0.0.1:%d", fx->port);
	ch = rpc_channel__new(target, &tls, &o);
	assert_non_null(ch);
	return ch;
}

static enum rpc_code call(struct rpc_channel *ch, const char *method, const ProtobufCMessage *req,
			  const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **resp, struct rpc_status *st)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len + 1);
	struct rpc_buf out = { 0 };
	enum rpc_code code;
	char full[128];

	protobuf_c_message_pack(req, buf);
	snprintf(full, sizeof(full), "/sluice.v1.ControlService/%s", method);
	code = rpc_channel__unary(ch, full, buf, len, CALL_MS, &out, st);
	free(buf);
	if (resp)
		*resp = code == RPC_OK && rdesc ? protobuf_c_message_unpack(rdesc, NULL, out.len, out.data) : NULL;
	free(out.data);
	return code;
}

/* The audit log, newest first (since: unix seconds, 0: all). */
static Sluice__V1__ListAuditResponse *audit(struct rpc_channel *ch, int64_t since)
{
	Sluice__V1__ListAuditRequest req = SLUICE__V1__LIST_AUDIT_REQUEST__INIT;
	Sluice__V1__ListAuditResponse *r;
	struct rpc_status st;

	req.since_unix = since;
	assert_int_equal(call(ch, "ListAudit", &req.base, &sluice__v1__list_audit_response__descriptor,
			      (ProtobufCMessage **)&r, &st),
			 RPC_OK);
	assert_non_null(r);
	return r;
}

/* The newest audit row with this action and object, or NULL. */
static const Sluice__V1__AuditEntry *find_row(const Sluice__V1__ListAuditResponse *r, const char *action,
					      const char *object)
{
	for (size_t i = 0; i < r->n_entries; i++)
		if (strcmp(r->entries[i]->action, action) == 0 && strstr(r->entries[i]->object, object))
			return r->entries[i];
	return NULL;
}

/* Opens the agent stream and says Hello as node; *cs stays open when the controller
 * kept it (RPC_OK), else the code it ended the stream with. */
static enum rpc_code hello(struct rpc_channel *ch, const char *node, struct rpc_client_stream **cs,
			   struct rpc_status *st)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Hello h = SLUICE__V1__HELLO__INIT;
	struct rpc_buf msg = { 0 };
	uint8_t buf[256];
	enum rpc_event ev;

	*cs = rpc_client_stream__open(ch, "/sluice.v1.AgentService/Connect");
	assert_non_null(*cs);
	h.node_id = (char *)node;
	h.cert_not_after_unix = (int64_t)time(NULL) + 2 * 86400; /* soon: the controller warns */
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_HELLO;
	m.hello = &h;
	assert_int_equal(rpc_client_stream__send(*cs, buf, sluice__v1__agent_message__pack(&m, buf)), 0);
	ev = rpc_client_stream__next(*cs, 1000, &msg, st);
	free(msg.data);
	if (ev != RPC_EV_CLOSED)
		return RPC_OK;
	rpc_client_stream__close(*cs);
	*cs = NULL;
	return st->code;
}

/* ---- the table ------------------------------------------------------------------------- */

static void test_table_covers_the_proto(void **state)
{
	const ProtobufCServiceDescriptor *services[] = { &sluice__v1__control_service__descriptor,
							 &sluice__v1__agent_service__descriptor };
	enum authz_need need;
	size_t in_proto = 0, in_table = 0;
	char m[160];

	(void)state;
	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++) {
		for (unsigned i = 0; i < services[s]->n_methods; i++) {
			snprintf(m, sizeof(m), "/%s/%s", services[s]->name, services[s]->methods[i].name);
			if (authz__method_need(m, &need))
				fail_msg("%s has no role in controller/authz.c: give it one", m);
			in_proto++;
		}
	}
	while (authz__method_at(in_table))
		in_table++;
	for (size_t i = 0; i < in_table; i++)
		for (size_t j = i + 1; j < in_table; j++)
			if (strcmp(authz__method_at(i), authz__method_at(j)) == 0)
				fail_msg("%s is in the table twice", authz__method_at(i));
	assert_int_equal(in_table, in_proto); /* and no entry for a method that is gone */
	assert_int_equal(authz__method_need("/sluice.v1.ControlService/RemoveAgent", &need), 0);
	assert_int_equal(need, AUTHZ_ADMIN);
	assert_int_equal(authz__method_need("/sluice.v1.ControlService/ApplyPolicy", &need), 0);
	assert_int_equal(need, AUTHZ_CHANGE);
	assert_int_equal(authz__method_need("/sluice.v1.ControlService/ListAudit", &need), 0);
	assert_int_equal(need, AUTHZ_READ);
	assert_int_equal(authz__method_need("/sluice.v1.ControlService/DropEverything", &need), -ENOENT);
}

/* ---- refusals ---------------------------------------------------------------------------- */

static void test_refusals_are_audited(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ApplyPolicyRequest apply = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ListAgentsRequest list = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
	Sluice__V1__ListRevisionsRequest revs = SLUICE__V1__LIST_REVISIONS_REQUEST__INIT;
	Sluice__V1__RemoveAgentRequest rm = SLUICE__V1__REMOVE_AGENT_REQUEST__INIT;
	Sluice__V1__ListRevisionsResponse *rl;
	Sluice__V1__ListAuditResponse *log;
	const Sluice__V1__AuditEntry *row;
	struct rpc_channel *viewer = as(fx, "user-vic"), *agent = as(fx, "agent-node-1"), *admin = as(fx, "user-root"),
			   *operator = as(fx, "user-alice"), *foreign = as(fx, "other/user-mallory"), *nocert = as(fx, NULL);
	struct rpc_client_stream *cs;
	struct rpc_status st;

	/* Not even a handshake: another CA, or no certificate. Nothing reaches the controller. */
	assert_int_equal(call(foreign, "ListAgents", &list.base, NULL, NULL, &st), RPC_UNAVAILABLE);
	assert_int_equal(call(nocert, "ListAgents", &list.base, NULL, NULL, &st), RPC_UNAVAILABLE);

	/* A viewer reads, and may not apply. */
	assert_int_equal(call(viewer, "ListAgents", &list.base, NULL, NULL, &st), RPC_OK);
	apply.message = "sneaky";
	assert_int_equal(call(viewer, "ApplyPolicy", &apply.base, NULL, NULL, &st), RPC_PERMISSION_DENIED);
	assert_non_null(strstr(st.message, "may only read"));
	/* An agent certificate on the control API; a viewer's on the agent stream. */
	assert_int_equal(call(agent, "ListAgents", &list.base, NULL, NULL, &st), RPC_PERMISSION_DENIED);
	assert_int_equal(hello(viewer, "vic", &cs, &st), RPC_PERMISSION_DENIED);
	/* Node node-1's certificate claiming node-2. */
	assert_int_equal(hello(agent, "node-2", &cs, &st), RPC_PERMISSION_DENIED);
	assert_non_null(strstr(st.message, "may not connect as node 'node-2'"));
	/* A method nobody is granted, even to an admin. */
	assert_int_equal(call(admin, "DropEverything", &list.base, NULL, NULL, &st), RPC_PERMISSION_DENIED);
	assert_non_null(strstr(st.message, "grants it to nobody"));
	/* Removing agents is for admins. */
	rm.node_id = "node-1";
	assert_int_equal(call(operator, "RemoveAgent", &rm.base, NULL, NULL, &st), RPC_PERMISSION_DENIED);
	assert_non_null(strstr(st.message, "needs sluice:admin"));

	/* Nothing changed. */
	assert_int_equal(call(viewer, "ListRevisions", &revs.base, &sluice__v1__list_revisions_response__descriptor,
			      (ProtobufCMessage **)&rl, &st),
			 RPC_OK);
	assert_int_equal(rl->n_revisions, 0);
	sluice__v1__list_revisions_response__free_unpacked(rl, NULL);

	/* Each refusal the controller saw is in the log: who, what, why. */
	log = audit(viewer, 0);
	row = find_row(log, "denied", "ControlService/ApplyPolicy");
	assert_non_null(row);
	assert_string_equal(row->who, "vic");
	assert_non_null(strstr(row->detail, "may only read"));
	assert_true(row->time_unix > 0 && row->time_unix <= (int64_t)time(NULL));
	row = find_row(log, "denied", "ControlService/ListAgents");
	assert_non_null(row);
	assert_string_equal(row->who, "node-1");
	row = find_row(log, "denied", "AgentService/Connect");
	assert_non_null(row);
	assert_string_equal(row->who, "vic");
	row = find_row(log, "denied", "agent stream as node 'node-2'");
	assert_non_null(row);
	assert_string_equal(row->who, "node-1");
	assert_non_null(strstr(row->detail, "must equal the certificate CN"));
	row = find_row(log, "denied", "ControlService/DropEverything");
	assert_non_null(row);
	assert_string_equal(row->who, "root");
	row = find_row(log, "denied", "ControlService/RemoveAgent");
	assert_non_null(row);
	assert_string_equal(row->who, "alice");
	assert_null(find_row(log, "apply", "revision"));
	sluice__v1__list_audit_response__free_unpacked(log, NULL);

	rpc_channel__free(viewer);
	rpc_channel__free(agent);
	rpc_channel__free(admin);
	rpc_channel__free(operator);
	rpc_channel__free(foreign);
	rpc_channel__free(nocert);
}

/* ---- changes --------------------------------------------------------------------------- */

static void test_changes_are_audited(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ApplyPolicyRequest apply = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ApplyPolicyResponse *ar;
	Sluice__V1__RemoveAgentRequest rm = SLUICE__V1__REMOVE_AGENT_REQUEST__INIT;
	Sluice__V1__GetAgentRequest get = SLUICE__V1__GET_AGENT_REQUEST__INIT;
	Sluice__V1__Policy pol = SLUICE__V1__POLICY__INIT;
	Sluice__V1__Rule rule = SLUICE__V1__RULE__INIT, *rules[1] = { &rule };
	Sluice__V1__ListAuditResponse *log;
	const Sluice__V1__AuditEntry *row;
	struct rpc_channel *operator = as(fx, "user-alice"), *admin = as(fx, "user-root"), *agent = as(fx, "agent-node-1");
	struct rpc_client_stream *cs;
	struct rpc_status st;
	char first_hash[80];
	int64_t t0 = (int64_t)time(NULL);

	/* An operator applies: the row names her, the message and both hashes. */
	apply.message = "first";
	apply.no_rollout = true;
	assert_int_equal(call(operator, "ApplyPolicy", &apply.base, &sluice__v1__apply_policy_response__descriptor,
			      (ProtobufCMessage **)&ar, &st),
			 RPC_OK);
	snprintf(first_hash, sizeof(first_hash), "%s", ar->hash);
	sluice__v1__apply_policy_response__free_unpacked(ar, NULL);
	rule.name = "block-telnet";
	rule.priority = 10;
	rule.action = SLUICE__V1__ACTION__ACTION_DROP;
	pol.n_rules = 1;
	pol.rules = rules;
	apply.policy = &pol;
	apply.message = "second";
	assert_int_equal(call(operator, "ApplyPolicy", &apply.base, &sluice__v1__apply_policy_response__descriptor,
			      (ProtobufCMessage **)&ar, &st),
			 RPC_OK);
	log = audit(operator, 0);
	row = find_row(log, "apply", "revision");
	assert_non_null(row);
	assert_string_equal(row->who, "alice");
	assert_string_equal(row->detail, "second");
	assert_string_equal(row->before_hash, first_hash);
	assert_string_equal(row->after_hash, ar->hash);
	assert_true(row->time_unix >= t0);
	sluice__v1__apply_policy_response__free_unpacked(ar, NULL);
	sluice__v1__list_audit_response__free_unpacked(log, NULL);
	/* --since: nothing in the future. */
	log = audit(operator, (int64_t)time(NULL) + 3600);
	assert_int_equal(log->n_entries, 0);
	sluice__v1__list_audit_response__free_unpacked(log, NULL);

	/* An admin removes an agent: not while it is connected, then with an audit row. */
	assert_int_equal(hello(agent, "node-1", &cs, &st), RPC_OK);
	rm.node_id = "node-1";
	assert_int_equal(call(admin, "RemoveAgent", &rm.base, NULL, NULL, &st), RPC_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "is connected"));
	rpc_client_stream__close(cs);
	for (int i = 0; i < 50 && call(admin, "RemoveAgent", &rm.base, NULL, NULL, &st) == RPC_FAILED_PRECONDITION; i++)
		usleep(100 * 1000); /* the controller notices the stream went */
	assert_int_equal(st.code, RPC_OK);
	get.node_id = "node-1";
	assert_int_equal(call(admin, "GetAgent", &get.base, NULL, NULL, &st), RPC_NOT_FOUND);
	assert_int_equal(call(admin, "RemoveAgent", &rm.base, NULL, NULL, &st), RPC_NOT_FOUND);
	log = audit(admin, 0);
	row = find_row(log, "agent-remove", "agent node-1");
	assert_non_null(row);
	assert_string_equal(row->who, "root");
	sluice__v1__list_audit_response__free_unpacked(log, NULL);

	rpc_channel__free(operator);
	rpc_channel__free(admin);
	rpc_channel__free(agent);
}

/* An audit row that cannot be written: the change does not happen either. */
static void test_no_audit_no_change(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ApplyPolicyRequest apply = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ListRevisionsRequest revs = SLUICE__V1__LIST_REVISIONS_REQUEST__INIT;
	Sluice__V1__RemoveAgentRequest rm = SLUICE__V1__REMOVE_AGENT_REQUEST__INIT;
	Sluice__V1__GetAgentRequest get = SLUICE__V1__GET_AGENT_REQUEST__INIT;
	Sluice__V1__ListRevisionsResponse *rl;
	Sluice__V1__Policy pol = SLUICE__V1__POLICY__INIT;
	Sluice__V1__Rule rule = SLUICE__V1__RULE__INIT, *rules[1] = { &rule };
	struct rpc_channel *admin = as(fx, "user-root"), *agent = as(fx, "agent-node-1");
	struct rpc_client_stream *cs;
	struct rpc_status st;
	size_t before;

	/* A known, disconnected agent to try to remove. */
	assert_int_equal(hello(agent, "node-1", &cs, &st), RPC_OK);
	rpc_client_stream__close(cs);
	assert_int_equal(call(admin, "ListRevisions", &revs.base, &sluice__v1__list_revisions_response__descriptor,
			      (ProtobufCMessage **)&rl, &st),
			 RPC_OK);
	before = rl->n_revisions;
	sluice__v1__list_revisions_response__free_unpacked(rl, NULL);

	sh("sqlite3 -cmd '.timeout 5000' %s \"CREATE TRIGGER no_audit BEFORE INSERT ON audit"
	   " BEGIN SELECT RAISE(ABORT, 'audit is read-only'); END;\"",
	   fx->db);
	rule.name = "never-stored";
	rule.action = SLUICE__V1__ACTION__ACTION_DROP;
	pol.n_rules = 1;
	pol.rules = rules;
	apply.policy = &pol;
	apply.no_rollout = true;
	assert_int_not_equal(call(admin, "ApplyPolicy", &apply.base, NULL, NULL, &st), RPC_OK);
	rm.node_id = "node-1";
	for (int i = 0; i < 50 && call(admin, "RemoveAgent", &rm.base, NULL, NULL, &st) == RPC_FAILED_PRECONDITION; i++)
		usleep(100 * 1000);
	assert_int_not_equal(st.code, RPC_OK);
	sh("sqlite3 -cmd '.timeout 5000' %s 'DROP TRIGGER no_audit;'", fx->db);

	assert_int_equal(call(admin, "ListRevisions", &revs.base, &sluice__v1__list_revisions_response__descriptor,
			      (ProtobufCMessage **)&rl, &st),
			 RPC_OK);
	assert_int_equal(rl->n_revisions, before);
	sluice__v1__list_revisions_response__free_unpacked(rl, NULL);
	get.node_id = "node-1";
	assert_int_equal(call(admin, "GetAgent", &get.base, NULL, NULL, &st), RPC_OK);

	rpc_channel__free(admin);
	rpc_channel__free(agent);
}

/* ---- rate limit and rotation ------------------------------------------------------------ */

static void test_refusal_flood_is_rate_limited(void **state)
{
	struct fx *fx = *state;
	struct rpc_peer p = { .authenticated = true, .identity = "eve", .group = "sluice:viewer",
			      .address = "ipv4:127.0.0.1:9" };
	struct store_audit *rows;
	struct access *a;
	struct store *st;
	unsigned long denied, unaudited;
	char db[160], err[256];
	size_t n;

	snprintf(db, sizeof(db), "%s/flood.db", fx->dir);
	st = store__open(db, err, sizeof(err));
	assert_non_null(st);
	a = access__new(st);
	for (int i = 0; i < ACCESS_AUDIT_BURST + 10; i++)
		access__denied(a, &p, "ControlService/ApplyPolicy", "may only read");
	access__counts(a, &denied, &unaudited);
	assert_int_equal(denied, ACCESS_AUDIT_BURST + 10);
	assert_int_equal(unaudited, 10);
	assert_int_equal(store__audit_list(st, 0, 0, &rows, &n), 0);
	assert_int_equal(n, ACCESS_AUDIT_BURST);
	store_audit__free_array(rows, n);
	usleep(1000 * 1000 / ACCESS_AUDIT_PER_S + 100 * 1000);
	access__denied(a, &p, "ControlService/ApplyPolicy", "may only read");
	assert_int_equal(store__audit_list(st, 1, 0, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_non_null(strstr(rows[0].detail, "10 earlier refusals not recorded"));
	store_audit__free_array(rows, n);
	access__free(a);
	store__close(st);
}

static void test_reload(void **state)
{
	struct fx *fx = *state;
	Sluice__V1__ListAgentsRequest list = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
	struct rpc_channel *viewer = as(fx, "user-vic"), *agent = as(fx, "agent-node-1");
	struct rpc_client_stream *cs;
	struct rpc_status st;
	struct rpc_buf msg = { 0 };
	int64_t before = controller__cert_not_after(fx->ctl);
	char err[1024];

	assert_true(before > (int64_t)time(NULL) + 300LL * 86400);
	assert_int_equal(hello(agent, "node-1", &cs, &st), RPC_OK);

	/* Broken: a key that is not the certificate's. Refused, nothing changes. */
	sh("cp %s/controller-ctl.key %s/keep.key && cp %s/user-vic.key %s/controller-ctl.key", fx->dir, fx->dir,
	   fx->dir, fx->dir);
	assert_int_equal(controller__reload_tls(fx->ctl, err, sizeof(err)), -EKEYREJECTED);
	assert_int_equal(controller__cert_not_after(fx->ctl), before);
	sh("cp %s/keep.key %s/controller-ctl.key", fx->dir, fx->dir);

	/* Renewed for 3 days: reloaded, and near its end. The agent's stream stays. */
	pki(fx, "--force --days 3 controller ctl 127.0.0.1 localhost");
	assert_int_equal(controller__reload_tls(fx->ctl, err, sizeof(err)), 0);
	assert_true(controller__cert_not_after(fx->ctl) < before);
	assert_true(cert__expires_soon(controller__cert_not_after(fx->ctl), (int64_t)time(NULL)));
	assert_int_equal(rpc_client_stream__next(cs, 500, &msg, &st), RPC_EV_TIMEOUT);
	rpc_channel__free(viewer);
	viewer = as(fx, "user-vic"); /* a new connection: the new certificate, same CA */
	assert_int_equal(call(viewer, "ListAgents", &list.base, NULL, NULL, &st), RPC_OK);
	assert_int_equal(rpc_client_stream__next(cs, 200, &msg, &st), RPC_EV_TIMEOUT);

	rpc_client_stream__close(cs);
	rpc_channel__free(viewer);
	rpc_channel__free(agent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_covers_the_proto),
		cmocka_unit_test_setup_teardown(test_refusals_are_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_are_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_audit_no_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_flood_is_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	};
	int ret;

	rpc__init();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rpc__shutdown();
	return ret;
}
