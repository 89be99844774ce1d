/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h — the agent registry: serves AgentService.Connect, keeps one entry per
 * connected node, and drives each agent towards the newest revision.
 *
 * Per stream: Hello first (else INVALID_ARGUMENT); a newer stream for the same node
 * replaces the older one (finished with ABORTED). An agent that already runs the
 * newest content is SYNCED and sent nothing; otherwise it is sent a PolicyUpdate and
 * is PENDING until it answers that update's nonce: Ack makes it SYNCED, Nack makes
 * it NACKED, and that revision is never sent to it again (the refusal is stored).
 * Answers to older nonces are ignored. A closed stream makes the agent OFFLINE.
 *
 * State changes are written to the store at once; last_seen and the newest Status
 * are written at most every REGISTRY_SEEN_FLUSH_MS, in one batch, or on demand
 * through registry__flush().
 *
 * Everything here runs on the rpc server thread (handlers and tick), so it takes
 * no locks; registry__new/__free run before the server starts and after it is freed.
 */
#ifndef SLUICE_CONTROLLER_REGISTRY_H
#define SLUICE_CONTROLLER_REGISTRY_H

#include <stdint.h>

#include "common/rpc.h"
#include "store.h"

#define REGISTRY_CONNECT_METHOD "/sluice.v1.AgentService/Connect"
#define REGISTRY_SEEN_FLUSH_MS 2000

struct registry;

/* A registry over st (borrowed; must outlive it), loaded with the newest revision.
 * NULL + errno. */
struct registry *registry__new(struct store *st);

/* Writes what is still unwritten and frees. Every stream must be closed by now
 * (rpc_server__free() closes them). Accepts NULL. */
void registry__free(struct registry *reg);

/* Registers the Connect stream handler on srv. 0 or -errno. */
int registry__register(struct registry *reg, struct rpc_server *srv);

/* The store holds a new newest revision: reload it and send it to every connected
 * agent that does not run it. 0 or -errno (the revision could not be read). */
int registry__revision_changed(struct registry *reg);

/* Periodic work, from the server's tick: sends updates held back while a stream's
 * send queue was full, and writes due liveness batches. */
void registry__tick(struct registry *reg);

/* Writes every pending last_seen and Status now (before answering a read). */
void registry__flush(struct registry *reg);

#endif
