/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.h — the agent's local admin socket, so a node can be inspected while the
 * controller is unreachable (DESIGN.md §2.6).
 *
 * A Unix stream socket served by its own thread, one connection at a time. A client
 * writes one line; "status" answers with the agent's status as one JSON object (the
 * Status message's fields plus node_id, controller, connected), anything else with
 * {"error": "..."}; then the agent closes the connection. Try it with
 *   echo status | socat - UNIX-CONNECT:/var/lib/sluice/<node>/admin.sock
 * The status comes from session__with_status(), so it is as fresh as the datapath's
 * counters and safe against the session thread.
 */
#ifndef SLUICE_AGENT_ADMIN_H
#define SLUICE_AGENT_ADMIN_H

#include <jansson.h>

#include "session.h"
#include "sluice/v1/agent.pb-c.h"

struct admin;

/*
 * Binds path (mode 0600) and starts serving. A stale socket left by a dead agent is
 * replaced; a socket another process still answers on gives -EADDRINUSE, and a path
 * that is not a socket -EEXIST. NULL + errno on failure.
 */
struct admin *admin__start(const char *path, struct session *s);

/* Stops the thread, closes the socket and removes its file. Accepts NULL. */
void admin__stop(struct admin *a);

/* The JSON the socket answers "status" with. New reference, NULL on ENOMEM. */
json_t *admin__status_json(const Sluice__V1__Status *st, const struct session_info *info);

#endif
