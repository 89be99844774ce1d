/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h — the agent registry: serves AgentService.Connect, keeps one entry per
 * connected node, and drives each agent towards its desired revision, which the
 * rollout engine decides (registry__set_desired, and the select hook at Hello).
 *
 * Per stream: Hello first (else INVALID_ARGUMENT); with mTLS its node id must be the
 * certificate's CN (else PERMISSION_DENIED, told to the denied hook). The stream is then
 * bound to that node: what arrives on it (Ack, Nack, Status, ...) is recorded for that
 * node only, and only that node's desired revision is sent on it. A newer stream for
 * the same node replaces the older one (finished with ABORTED). An agent that already runs the
 * content of its desired revision is SYNCED and sent nothing; otherwise it is sent a
 * PolicyUpdate and is PENDING until it answers that update's nonce: Ack makes it
 * SYNCED, Nack makes it NACKED, and that revision is never sent to it again (the
 * refusal is stored) — a different desired revision is. Answers to older nonces are
 * ignored. A closed stream makes the agent OFFLINE. Desired revision 0 means no
 * opinion (SYNCED, nothing sent); STORE_REVISION_NONE sends the empty policy as
 * revision 0.
 *
 * Backpressure: at most one update is queued per stream. While one is still queued,
 * newer desired revisions are not queued behind it; the tick sends the newest once the
 * queue drains, so a frozen agent costs one queued message, never a backlog.
 *
 * Writes: changed agent records are written in batches, at every tick and before any
 * read (registry__flush); last_seen and the newest Status at most every
 * REGISTRY_SEEN_FLUSH_MS.
 *
 * Everything here runs on the rpc server thread (handlers and tick), so it takes
 * no locks; registry__new/__free run before the server starts and after it is freed.
 */
#ifndef SLUICE_CONTROLLER_REGISTRY_H
#define SLUICE_CONTROLLER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/rpc.h"
#include "sluice/v1/agent.pb-c.h"
#include "store.h"

#define REGISTRY_CONNECT_METHOD "/sluice.v1.AgentService/Connect"
#define REGISTRY_SEEN_FLUSH_MS 2000

struct registry;

/* Datapath counters from an agent's Status reports (drop_reasons), for drop-rate gates. */
struct registry_counters {
	bool valid;       /* a report with these counters arrived */
	uint64_t packets; /* every packet the datapath saw */
	uint64_t drops;   /* dropped by a rule or a rate limit */
	int64_t time;     /* the report's unix time */
};

/* Called at every Hello, after the node's record was loaded (stored desired revision
 * included): returns the revision the agent should run (return a->desired_revision to
 * keep it). */
struct registry_hooks {
	uint64_t (*select)(void *ctx, const struct store_agent *a);
	void *ctx;
	/* A Hello refused for its identity (a certificate naming another node, or not an
	 * agent's): told before the stream ends, for the audit log. NULL: only logged. */
	void (*denied)(void *denied_ctx, const struct rpc_peer *peer, const char *object, const char *why);
	void *denied_ctx;
};

/* Told of every answer to an update (for metrics): Ack or Nack, and the seconds since the
 * update was sent. Runs on the server thread. */
struct registry_observer {
	void (*answered)(void *ctx, const char *node_id, bool acked, double seconds);
	void *ctx;
};

/* What the agents' monitors send (ApiUsage, Alert, Baselines), handed on as it arrives,
 * and each Hello, so the node can be sent its stored history. Server thread. */
struct registry_telemetry {
	void (*message)(void *ctx, const char *node_id, const Sluice__V1__AgentMessage *m);
	void (*hello)(void *ctx, const char *node_id, struct rpc_stream *s);
	void *ctx;
};

/* A registry over st (borrowed; must outlive it). NULL + errno. */
struct registry *registry__new(struct store *st);

/* Writes what is still unwritten and frees. Every stream must be closed by now
 * (rpc_server__free() closes them). Accepts NULL. */
void registry__free(struct registry *reg);

/* Registers the Connect stream handler on srv. 0 or -errno. */
int registry__register(struct registry *reg, struct rpc_server *srv);

/* Installs the Hello hook (copied). NULL removes it. */
void registry__set_hooks(struct registry *reg, const struct registry_hooks *hooks);

/* Installs the telemetry hooks (copied). NULL removes them. */
void registry__set_telemetry(struct registry *reg, const struct registry_telemetry *t);

/* Installs the answer observer (copied). NULL removes it. */
void registry__set_observer(struct registry *reg, const struct registry_observer *obs);

/* The record of a connected node (valid until the next registry call), or NULL. */
const struct store_agent *registry__agent(const struct registry *reg, const char *node_id);

/* Calls fn for every connected node, in no particular order. fn must not call back into
 * the registry. */
void registry__foreach(const struct registry *reg, void (*fn)(void *arg, const struct store_agent *a), void *arg);

/* Connected nodes. */
size_t registry__count(const struct registry *reg);

/* A connected node should now run rev: sends it when due. The caller records rev in the
 * store (the rollout engine does, with its own change); nothing happens for a node that
 * is not connected. */
void registry__set_desired(struct registry *reg, const char *node_id, uint64_t rev);

/* The newest and the previous counters a connected node reported. 0 or -ENOENT. */
int registry__counters(const struct registry *reg, const char *node_id, struct registry_counters *newest,
		       struct registry_counters *previous);

/* Periodic work, from the server's tick: sends updates held back while a stream's
 * send queue was full, writes changed records, and liveness batches when due. */
void registry__tick(struct registry *reg);

/* Writes every changed record, last_seen and Status now (before answering a read). */
void registry__flush(struct registry *reg);

#endif
