// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_proto.c — every protobuf message sluice accepts from the network or reads back
 * from disk, decoded by protobuf-c, then run through the checks its real handler runs.
 * The first byte picks the message (kinds[] below), the rest is its encoding.
 *
 * For every message that decodes: encoding it again and decoding that gives the same
 * bytes (what the controller stores, e.g. a Status, reads back the same).
 * Then, as the handlers do:
 *  - ApplyPolicyRequest (controller/control.c): policy__validate; a valid policy hashes,
 *    renders to JSON and parses back the same (fuzz_policy.h), and a delta from a base
 *    to it (what the controller sends agents) applies back to it.
 *  - ControllerMessage update (agent/session.c check_update/handle_update): a whole
 *    policy is hashed and validated against the update's hash; a delta is applied to a
 *    base policy and the result validated.
 *  - StartRolloutRequest: its rollout spec through the checks a policy's rollout hint
 *    gets in ApplyPolicy, which the StartRollout handler runs too.
 *  - AgentMessage Hello / Ack / Nack / Status and the rest: the controller keeps their
 *    fields; they must round-trip (above).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/policy_delta.h"
#include "fuzz_policy.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/control.pb-c.h"
#include "sluice/v1/policy.pb-c.h"

#define CAPACITY 64 /* rules the fuzzed agent or controller holds */

/* The message kinds, by first input byte (modulo their number). Order is the corpus's
 * contract: tests/fuzz/seeds.c writes seeds with these indices. */
static const ProtobufCMessageDescriptor *const kinds[] = {
	&sluice__v1__agent_message__descriptor,         /* 0: controller, agent stream */
	&sluice__v1__controller_message__descriptor,    /* 1: agent, controller stream */
	&sluice__v1__apply_policy_request__descriptor,  /* 2.. ControlService requests */
	&sluice__v1__list_revisions_request__descriptor,
	&sluice__v1__get_revision_request__descriptor,
	&sluice__v1__list_agents_request__descriptor,
	&sluice__v1__get_agent_request__descriptor,
	&sluice__v1__remove_agent_request__descriptor,
	&sluice__v1__list_audit_request__descriptor,
	&sluice__v1__start_rollout_request__descriptor, /* 9 */
	&sluice__v1__list_rollouts_request__descriptor,
	&sluice__v1__get_rollout_request__descriptor,
	&sluice__v1__rollout_action_request__descriptor,
	&sluice__v1__list_alerts_request__descriptor,
	&sluice__v1__watch_alerts_request__descriptor,
	&sluice__v1__ack_alert_request__descriptor,
	&sluice__v1__get_api_usage_request__descriptor,
	&sluice__v1__policy__descriptor, /* 17: revisions in the store, the agent's state file */
	&sluice__v1__status__descriptor, /* 18: a Status the controller stored */
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static Sluice__V1__Policy *base_policy(char hash[POLICY_HASH_HEX])
{
	static Sluice__V1__Policy *base;
	static char base_hash[POLICY_HASH_HEX];
	char err[512];

	if (!base) {
		if (policy_yaml__parse_string("base.yaml", FUZZ_BASE_YAML, strlen(FUZZ_BASE_YAML), CAPACITY, &base, err,
					      sizeof(err)) ||
		    policy__hash(base, base_hash)) {
			fprintf(stderr, "base policy: %s\n", err);
			abort();
		}
	}
	memcpy(hash, base_hash, POLICY_HASH_HEX);
	return base;
}

/*
 * Encoding again gives bytes that decode to the same encoding. Except for one known
 * protobuf-c asymmetry: it takes field number 0 behind an overlong tag (0x80 0x00) and
 * writes it back plainly, which it then refuses. Policies are held to decoding again
 * by policy__validate (checked in apply_policy); other messages are not stored whole.
 */
static void check_reencode(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m), len2;
	uint8_t *buf = malloc(len ? len : 1), *buf2;
	ProtobufCMessage *again;

	if (!buf || protobuf_c_message_pack(m, buf) != len)
		abort();
	again = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	if (!again && policy__pb_field_zero(m)) {
		free(buf);
		return;
	}
	if (!again) {
		fprintf(stderr, "%s: its own encoding does not decode\n", m->descriptor->name);
		abort();
	}
	len2 = protobuf_c_message_get_packed_size(again);
	buf2 = malloc(len2 ? len2 : 1);
	if (!buf2 || protobuf_c_message_pack(again, buf2) != len2)
		abort();
	if (len2 != len || memcmp(buf, buf2, len) != 0) {
		fprintf(stderr, "%s: encoding is not stable (%zu then %zu bytes)\n", m->descriptor->name, len, len2);
		abort();
	}
	protobuf_c_message_free_unpacked(again, NULL);
	free(buf);
	free(buf2);
}

/* A refused policy says why. */
static void refused(const char *err)
{
	if (strlen(err) < 8) {
		fprintf(stderr, "policy refused with the message '%s'\n", err);
		abort();
	}
}

/* What the controller's ApplyPolicy does with a policy, then what it sends agents. */
static void apply_policy(const Sluice__V1__Policy *p)
{
	Sluice__V1__PolicyDelta *d;
	Sluice__V1__Policy *built = NULL, *known;
	char err[1024], base_hash[POLICY_HASH_HEX], h1[POLICY_HASH_HEX], h2[POLICY_HASH_HEX];
	Sluice__V1__Policy *base = base_policy(base_hash);
	uint8_t *buf = NULL;
	size_t len = 0;

	if (policy__validate(p, CAPACITY, err, sizeof(err))) {
		refused(err);
		return;
	}
	fuzz__policy_roundtrip(p, CAPACITY);
	/* controller: delta from the base an agent runs; agent: applies it, checks the hash.
	 * (Fields of a newer peer at the top level are not in a delta: the agent asks for the
	 * whole policy then, so compare what is known.) */
	known = fuzz__policy_known(p);
	if (policy_delta__pack(base, 1, base_hash, known, &buf, &len))
		abort();
	d = sluice__v1__policy_delta__unpack(NULL, len, buf);
	if (!d || policy_delta__apply(base, d, &built) != 0) {
		fprintf(stderr, "a delta made by policy_delta__pack does not apply\n");
		abort();
	}
	if (policy__hash(known, h1) || policy__hash(built, h2) || strcmp(h1, h2) != 0) {
		fprintf(stderr, "a delta applied gives another policy: %s, wanted %s\n", h2, h1);
		abort();
	}
	policy__free(built);
	policy__free(known);
	sluice__v1__policy_delta__free_unpacked(d, NULL);
	free(buf);
}

/* The agent's check_update() and handle_update() on an update from the controller. */
static void update(const Sluice__V1__PolicyUpdate *u)
{
	char err[1024], hash[POLICY_HASH_HEX], base_hash[POLICY_HASH_HEX];
	Sluice__V1__Policy *built = NULL;
	Sluice__V1__Policy *base = base_policy(base_hash);

	if (u->policy) {
		if (policy__hash(u->policy, hash))
			abort();
		if (strcmp(hash, u->hash) != 0)
			return; /* refused: hash mismatch */
		if (policy__validate(u->policy, CAPACITY, err, sizeof(err)))
			refused(err);
		else
			fuzz__policy_roundtrip(u->policy, CAPACITY);
		return;
	}
	if (!u->delta || policy_delta__apply(base, u->delta, &built) != 0)
		return;
	if (policy__validate(built, CAPACITY, err, sizeof(err)))
		refused(err);
	else
		fuzz__policy_roundtrip(built, CAPACITY);
	policy__free(built);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *m;

	if (size == 0)
		return 0;
	desc = kinds[data[0] % N_KINDS];
	m = protobuf_c_message_unpack(desc, NULL, size - 1, data + 1);
	if (!m)
		return 0;
	check_reencode(m);
	if (desc == &sluice__v1__apply_policy_request__descriptor) {
		const Sluice__V1__ApplyPolicyRequest *r = (const void *)m;
		Sluice__V1__Policy empty = SLUICE__V1__POLICY__INIT;

		apply_policy(r->policy ? r->policy : &empty);
	} else if (desc == &sluice__v1__controller_message__descriptor) {
		const Sluice__V1__ControllerMessage *cm = (const void *)m;

		if (cm->msg_case == SLUICE__V1__CONTROLLER_MESSAGE__MSG_UPDATE && cm->update)
			update(cm->update);
	} else if (desc == &sluice__v1__start_rollout_request__descriptor) {
		const Sluice__V1__StartRolloutRequest *r = (const void *)m;
		Sluice__V1__Policy only = SLUICE__V1__POLICY__INIT;

		only.rollout = r->spec;
		apply_policy(&only);
	} else if (desc == &sluice__v1__policy__descriptor) {
		apply_policy((const void *)m);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
