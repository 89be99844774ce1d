/* SPDX-License-Identifier: Apache-2.0 */
/*
 * revcache.h — the PolicyUpdate messages the registry sends, encoded once per revision
 * around the stored policy bytes and kept for the few revisions in use at a time (a
 * rollout has at most two: the one it moves to and the ones it may roll back to), so a
 * fan-out to 10,000 agents packs nothing per agent and holds the policy once: each send
 * references the entry's bytes and adds its own nonce.
 *
 * Deltas: for an agent that runs a stored revision (the base), the update may instead
 * carry a PolicyDelta from that base (common/policy_delta.h), made once per (base,
 * target) pair and used when it is less than half the size of the whole policy — a
 * small edit to a large policy then costs the fan-out a few hundred bytes per agent.
 *
 * Used only from the rpc server thread.
 */
#ifndef SLUICE_CONTROLLER_REVCACHE_H
#define SLUICE_CONTROLLER_REVCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "store.h"

#define REVCACHE_SLOTS 16
#define REVCACHE_NONCE_BYTES 10 /* a uint64 varint in its longest form */

struct revcache_entry {
	uint64_t rev;      /* the desired revision it serves (STORE_REVISION_NONE: the empty policy) */
	uint64_t wire_rev; /* the revision number in the message (0 for the empty policy) */
	char hash[STORE_HASH_HEX];
	struct rpc_msg *head; /* a packed ControllerMessage{update} up to the nonce's value */
	size_t len;           /* of the whole message, the nonce's value included */
	uint64_t used;     /* for least-recently-used eviction */
	uint64_t base;     /* a delta from this revision; 0: the whole policy */
	char base_hash[STORE_HASH_HEX];
	bool redirect;     /* (rev, base) was tried: the whole policy is the better message */
};

struct revcache;

/* A cache reading revisions from st (borrowed). NULL + errno. */
struct revcache *revcache__new(struct store *st);

/* Accepts NULL. */
void revcache__free(struct revcache *c);

/*
 * The entry for rev, read from the store and encoded when not cached (evicting the
 * least recently used). Valid until the next revcache__get. NULL + errno: ENOENT when
 * there is no such revision, EINVAL for rev 0, others from the store.
 */
struct revcache_entry *revcache__get(struct revcache *c, uint64_t rev);

/*
 * The message to send rev to an agent that runs base_rev with content base_hash: a
 * delta when that pays, else the whole policy (as revcache__get). NULL + errno.
 */
struct revcache_entry *revcache__get_for(struct revcache *c, uint64_t rev, uint64_t base_rev, const char *base_hash);

/* Writes nonce as the message's last bytes: a send is an entry's head followed by them. */
void revcache__nonce(uint64_t nonce, uint8_t out[REVCACHE_NONCE_BYTES]);

/* The hash of the empty policy (what an agent at STORE_REVISION_NONE runs). */
const char *revcache__empty_hash(const struct revcache *c);

#endif
