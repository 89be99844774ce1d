/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control.h — the operator's API (sluice.v1.ControlService, proto/sluice/v1/control.proto):
 * ApplyPolicy, ListRevisions, GetRevision, ListAgents, GetAgent, RemoveAgent and ListAudit, as unary handlers
 * on the rpc server thread. Reads come from the store; ApplyPolicy validates, stores
 * a revision when the content changed and hands it to the agent registry.
 */
#ifndef SLUICE_CONTROLLER_CONTROL_H
#define SLUICE_CONTROLLER_CONTROL_H

#include <stdint.h>

#include "common/rpc.h"
#include "registry.h"
#include "rollout.h"
#include "store.h"

#define CONTROL_SERVICE "/sluice.v1.ControlService/"

/* What the handlers work on; borrowed, and must outlive the server. */
struct control {
	struct store *st;
	struct registry *reg;
	struct rollout_engine *ro;
	uint32_t rule_capacity; /* rules a policy may have (the fleet's capacity) */
};

/* Registers every ControlService method on srv with ctl as their state. 0 or -errno. */
int control__register(struct rpc_server *srv, struct control *ctl);

#endif
