// SPDX-License-Identifier: Apache-2.0
/*
 * seeds.c — writes the binary part of the kept seed corpus (tests/fuzz/corpus/):
 *   fuzz_seeds DIR POLICY.yaml...
 * DIR/proto/: for each policy, the messages fuzz_proto decodes (first byte: the kind,
 * as in fuzz_proto.c's kinds[]), carrying it: ApplyPolicyRequest, Policy, a
 * ControllerMessage update (whole and as a delta from FUZZ_BASE_YAML), StartRollout;
 * and one of each agent message and ControlService request.
 * DIR/compile/: byte strings of several lengths from a fixed generator (fuzz_compile
 * reads its input as choices, so any bytes are a valid start).
 * tests/fuzz/make_corpus.sh runs it; the corpus it writes is committed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/policy_delta.h"
#include "fuzz_policy.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/control.pb-c.h"

static const char *dir;

/* Writes DIR/SUB/NAME: kind byte, then m's encoding. */
static void put(const char *sub, const char *name, uint8_t kind, const ProtobufCMessage *m)
{
	size_t len = m ? protobuf_c_message_get_packed_size(m) : 0;
	uint8_t *buf = malloc(len + 1);
	char path[4096];
	FILE *f;

	if (!buf)
		exit(1);
	buf[0] = kind;
	if (m)
		protobuf_c_message_pack(m, buf + 1);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len + 1, f) != len + 1 || fclose(f)) {
		perror(path);
		exit(1);
	}
	free(buf);
}

static Sluice__V1__Policy *load(const char *path)
{
	Sluice__V1__Policy *p = NULL;
	char err[1024];

	if (policy_yaml__parse_file(path, 0, &p, err, sizeof(err))) {
		fprintf(stderr, "fuzz_seeds: %s\n", err);
		exit(1);
	}
	return p;
}

static void policy_seeds(const char *path, Sluice__V1__Policy *base, const char *base_hash)
{
	Sluice__V1__ApplyPolicyRequest apply = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ControllerMessage cm = SLUICE__V1__CONTROLLER_MESSAGE__INIT;
	Sluice__V1__PolicyUpdate u = SLUICE__V1__POLICY_UPDATE__INIT;
	Sluice__V1__StartRolloutRequest sr = SLUICE__V1__START_ROLLOUT_REQUEST__INIT;
	Sluice__V1__Policy *p = load(path);
	const char *slash = strrchr(path, '/');
	char name[256], hash[POLICY_HASH_HEX];
	uint8_t *dbuf = NULL;
	size_t dlen = 0;

	slash = slash ? slash + 1 : path;
	if (policy__hash(p, hash) || policy_delta__pack(base, 1, base_hash, p, &dbuf, &dlen))
		exit(1);
	apply.policy = p;
	apply.message = "seed";
	snprintf(name, sizeof(name), "apply-%s", slash);
	put("proto", name, 2, &apply.base);
	snprintf(name, sizeof(name), "policy-%s", slash);
	put("proto", name, 17, &p->base);
	u.revision = 2;
	u.hash = hash;
	u.nonce = 7;
	u.policy = p;
	cm.msg_case = SLUICE__V1__CONTROLLER_MESSAGE__MSG_UPDATE;
	cm.update = &u;
	snprintf(name, sizeof(name), "update-%s", slash);
	put("proto", name, 1, &cm.base);
	u.policy = NULL;
	u.delta = sluice__v1__policy_delta__unpack(NULL, dlen, dbuf);
	if (!u.delta)
		exit(1);
	snprintf(name, sizeof(name), "delta-%s", slash);
	put("proto", name, 1, &cm.base);
	sluice__v1__policy_delta__free_unpacked(u.delta, NULL);
	if (p->rollout) {
		sr.revision = 2;
		sr.spec = p->rollout;
		snprintf(name, sizeof(name), "rollout-%s", slash);
		put("proto", name, 9, &sr.base);
	}
	free(dbuf);
	policy__free(p);
}

static void agent_seeds(void)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Hello h = SLUICE__V1__HELLO__INIT;
	Sluice__V1__Hello__LabelsEntry env = SLUICE__V1__HELLO__LABELS_ENTRY__INIT, *labels[] = { &env };
	Sluice__V1__Ack ack = SLUICE__V1__ACK__INIT;
	Sluice__V1__Nack nack = SLUICE__V1__NACK__INIT;
	Sluice__V1__Status st = SLUICE__V1__STATUS__INIT;
	Sluice__V1__RuleCounters rc = SLUICE__V1__RULE_COUNTERS__INIT, *rcs[] = { &rc };
	Sluice__V1__Status__DropReasonsEntry dr = SLUICE__V1__STATUS__DROP_REASONS_ENTRY__INIT, *drs[] = { &dr };
	char *ifaces[] = { "eth0", "eth1" };

	env.key = "env";
	env.value = "prod";
	h.node_id = "gw-1";
	h.labels = labels;
	h.n_labels = 1;
	h.agent_version = "0.1.0";
	h.kernel = "6.1.0";
	h.interfaces = ifaces;
	h.n_interfaces = 2;
	h.applied_revision = 3;
	h.applied_hash = "00ff";
	h.rule_capacity = 16384;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_HELLO;
	m.hello = &h;
	put("proto", "agent-hello", 0, &m.base);
	ack.nonce = 7;
	ack.revision = 3;
	ack.hash = "00ff";
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_ACK;
	m.ack = &ack;
	put("proto", "agent-ack", 0, &m.base);
	nack.nonce = 7;
	nack.revision = 3;
	nack.error = "rule 'a': no room";
	nack.resync = 1;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_NACK;
	m.nack = &nack;
	put("proto", "agent-nack", 0, &m.base);
	rc.name = "a";
	rc.packets = 10;
	rc.bytes = 1000;
	dr.key = "malformed";
	dr.value = 2;
	st.applied_revision = 3;
	st.applied_hash = "00ff";
	st.rules = rcs;
	st.n_rules = 1;
	st.drop_reasons = drs;
	st.n_drop_reasons = 1;
	st.rules_used = 1;
	st.rule_capacity = 16384;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_STATUS;
	m.status = &st;
	put("proto", "agent-status", 0, &m.base);
	put("proto", "stored-status", 18, &st.base);
}

static void request_seeds(void)
{
	Sluice__V1__ListAgentsRequest la = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
	Sluice__V1__ListAgentsRequest__SelectorEntry sel = SLUICE__V1__LIST_AGENTS_REQUEST__SELECTOR_ENTRY__INIT;
	Sluice__V1__ListAgentsRequest__SelectorEntry *sels[] = { &sel };
	Sluice__V1__GetAgentRequest ga = SLUICE__V1__GET_AGENT_REQUEST__INIT;
	Sluice__V1__RolloutActionRequest ra = SLUICE__V1__ROLLOUT_ACTION_REQUEST__INIT;
	char name[32];

	for (uint8_t k = 3; k <= 16; k++) { /* every request, empty */
		snprintf(name, sizeof(name), "empty-%u", k);
		put("proto", name, k, NULL);
	}
	sel.key = "env";
	sel.value = "prod";
	la.selector = sels;
	la.n_selector = 1;
	put("proto", "list-agents", 5, &la.base);
	ga.node_id = "gw-1";
	put("proto", "get-agent", 6, &ga.base);
	ra.id = 4;
	ra.reason = "drops";
	put("proto", "rollout-action", 12, &ra.base);
}

static void compile_seeds(void)
{
	static const size_t sizes[] = { 16, 64, 256, 1024, 4096 };
	uint64_t x = 0x5eed;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/compile/random-%zu", dir, sizes[i]);
		f = fopen(path, "wb");
		if (!f)
			exit(1);
		for (size_t k = 0; k < sizes[i]; k++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			fputc((int)(x >> 56), f);
		}
		if (fclose(f))
			exit(1);
	}
}

int main(int argc, char **argv)
{
	Sluice__V1__Policy *base = NULL;
	char err[512], base_hash[POLICY_HASH_HEX];

	if (argc < 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR POLICY.yaml...\n");
		return 2;
	}
	dir = argv[1];
	if (policy_yaml__parse_string("base.yaml", FUZZ_BASE_YAML, strlen(FUZZ_BASE_YAML), 0, &base, err, sizeof(err)) ||
	    policy__hash(base, base_hash)) {
		fprintf(stderr, "fuzz_seeds: base: %s\n", err);
		return 1;
	}
	for (int i = 2; i < argc; i++)
		policy_seeds(argv[i], base, base_hash);
	agent_seeds();
	request_seeds();
	compile_seeds();
	policy__free(base);
	return 0;
}
