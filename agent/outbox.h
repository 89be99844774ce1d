/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox.h — messages the agent's monitor sends up (API usage, alerts, baselines),
 * waiting for the session to put them on its stream. Any thread may push; the session
 * takes them in order. It holds at most a fixed number: when full, the oldest is dropped
 * and counted, so a long outage costs bounded memory and the newest reports survive
 * (alerts repeat their whole state in every update, so a dropped update loses nothing
 * that a later one does not carry).
 */
#ifndef SLUICE_AGENT_OUTBOX_H
#define SLUICE_AGENT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "sluice/v1/agent.pb-c.h"

struct outbox;

/* Holds at most max messages (0: 1024). NULL + errno. */
struct outbox *outbox__new(size_t max);

/* Accepts NULL. */
void outbox__free(struct outbox *o);

/* Packs m and queues it. 0 or -ENOMEM. Thread-safe. */
int outbox__push(struct outbox *o, const Sluice__V1__AgentMessage *m);

/* Moves up to max queued messages, oldest first, into out[] (the caller frees each
 * out[i].data). Returns how many. Thread-safe. */
size_t outbox__take(struct outbox *o, struct rpc_buf *out, size_t max);

/* Puts messages that could not be sent back at the front, in order (takes ownership).
 * Whatever no longer fits is dropped (and counted). Thread-safe. */
void outbox__unget(struct outbox *o, struct rpc_buf *msgs, size_t n);

/* Messages queued, and dropped so far because the outbox was full. */
size_t outbox__queued(struct outbox *o);
uint64_t outbox__dropped(struct outbox *o);

#endif
