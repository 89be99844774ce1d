/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_policy.h — what every valid policy promises, checked by the policy fuzz targets
 * (fuzz_policy_file, fuzz_proto): it hashes, and its JSON rendering (`sluicectl get
 * policy -o json`, fed back to `sluicectl apply -f`) parses again into the very same
 * policy, rollout hint included. A broken promise prints what differs and aborts, which
 * libFuzzer reports as a crash with the input saved.
 */
#ifndef SLUICE_FUZZ_POLICY_H
#define SLUICE_FUZZ_POLICY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/policy.h"

/* The policy that deltas apply to (fuzz_proto, and the seeds in tests/fuzz/seeds.c): a
 * bit of everything the schema has. */
#define FUZZ_BASE_YAML                                                                                  \
	"rules:\n"                                                                                      \
	"  - { name: a, priority: 10, match: { proto: tcp, dst_ports: [23] }, action: drop }\n"         \
	"  - { name: b, match: { src: [10.0.0.0/8], dst: [10.9.0.0/16] }, action: count }\n"          \
	"  - { name: c, match: { proto: udp, src_ports: [1000-2000] }, action: pass,\n"                 \
	"      sample: { one_in: 10 } }\n"                                                              \
	"routes:\n"                                                                                     \
	"  - name: r\n"                                                                                 \
	"    frontend: { vip: 10.1.1.1, proto: tcp, port: 80 }\n"                                       \
	"    backends: [{ addr: 10.2.0.1, port: 8080, weight: 3 }, { addr: 10.2.0.2, port: 8080 }]\n"  \
	"detectors:\n"                                                                                  \
	"  port_scan: { min: 20, window: 2s }\n"

/*
 * Drops the fields this build does not know from m and every message inside it. Decoding
 * keeps them (a newer peer's fields) and encoding writes them back, but no text form
 * carries them, so the round trips compare what is known.
 */
static inline void fuzz__strip_unknown(ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d;

	if (!m)
		return;
	d = m->descriptor;
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		free(m->unknown_fields[i].data);
	free(m->unknown_fields);
	m->unknown_fields = NULL;
	m->n_unknown_fields = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *at = (char *)m + f->offset;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(uint32_t *)((char *)m + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(size_t *)((char *)m + f->quantifier_offset);

			for (size_t k = 0; k < n; k++)
				fuzz__strip_unknown((*(ProtobufCMessage ***)at)[k]);
		} else {
			fuzz__strip_unknown(*(ProtobufCMessage **)at);
		}
	}
}

/* A copy of p with only the fields this build knows, for policy__free(). */
static inline Sluice__V1__Policy *fuzz__policy_known(const Sluice__V1__Policy *p)
{
	Sluice__V1__Policy *k = policy__dup(p);

	if (!k)
		abort();
	fuzz__strip_unknown(&k->base);
	return k;
}

static inline char *fuzz__json_text(const Sluice__V1__Policy *p)
{
	json_t *j = policy_json__from_policy(p);
	char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;

	json_decref(j);
	return text;
}

static inline void fuzz__packed(const ProtobufCMessage *m, uint8_t **buf, size_t *len)
{
	*len = m ? protobuf_c_message_get_packed_size(m) : 0;
	*buf = malloc(*len + 1);
	if (!*buf)
		abort();
	if (m)
		protobuf_c_message_pack(m, *buf);
}

/*
 * Aborts unless a and b are the same policy: the same content hash, the same rollout hint
 * and the same JSON text; what names the comparison. (Their encodings may still differ
 * where the wire tells apart what sluice does not: a rule without a match and one with an
 * empty match.)
 */
static inline void fuzz__policy_same(const Sluice__V1__Policy *a, const Sluice__V1__Policy *b, const char *what)
{
	char ha[POLICY_HASH_HEX], hb[POLICY_HASH_HEX];
	char *sa = fuzz__json_text(a), *sb = fuzz__json_text(b);
	uint8_t *ra, *rb;
	size_t la, lb;

	fuzz__packed(a->rollout ? &a->rollout->base : NULL, &ra, &la);
	fuzz__packed(b->rollout ? &b->rollout->base : NULL, &rb, &lb);
	if (policy__hash(a, ha) || policy__hash(b, hb) || !sa || !sb)
		abort();
	if (strcmp(ha, hb) != 0 || strcmp(sa, sb) != 0 || !a->rollout != !b->rollout || la != lb ||
	    memcmp(ra, rb, la) != 0) {
		fprintf(stderr, "%s: policies differ (hash %.12s vs %.12s, rollout %zu vs %zu bytes)\n  before: %s\n  after:  %s\n",
			what, ha, hb, la, lb, sa, sb);
		abort();
	}
	free(ra);
	free(rb);
	free(sa);
	free(sb);
}

/* p is valid for capacity: it hashes, and it survives JSON text and the policy parser. */
static inline void fuzz__policy_roundtrip(const Sluice__V1__Policy *p, uint32_t capacity)
{
	char hash[POLICY_HASH_HEX], err[1024];
	Sluice__V1__Policy *q = NULL, *known;
	json_t *j;
	char *text;

	if (policy__hash(p, hash) != 0)
		abort();
	j = policy_json__from_policy(p);
	if (!j) {
		fprintf(stderr, "a valid policy has no JSON rendering\n");
		abort();
	}
	text = json_dumps(j, JSON_INDENT(1));
	json_decref(j);
	if (!text)
		abort();
	if (policy_yaml__parse_string("roundtrip.json", text, strlen(text), capacity, &q, err, sizeof(err)) != 0) {
		fprintf(stderr, "a valid policy's JSON does not parse again: %s\n%s\n", err, text);
		abort();
	}
	known = fuzz__policy_known(p);
	fuzz__policy_same(known, q, "policy -> JSON -> policy");
	policy__free(known);
	policy__free(q);
	free(text);
}

#endif
