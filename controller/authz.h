/* SPDX-License-Identifier: Apache-2.0 */
/*
 * authz.h — who may do what, decided from the caller's mTLS certificate (DESIGN.md §4):
 * the subject CN is the identity and O the group. Agents (O=sluice:agent) may only
 * open their own stream (CN = node id) and never call the control API; people are
 * sluice:viewer (read), sluice:operator (read, apply, rollouts) or sluice:admin
 * (everything). A plaintext peer exists only under --insecure and may do anything.
 */
#ifndef SLUICE_CONTROLLER_AUTHZ_H
#define SLUICE_CONTROLLER_AUTHZ_H

#include <stddef.h>

#include "common/rpc.h"

#define AUTHZ_GROUP_AGENT "sluice:agent"
#define AUTHZ_GROUP_VIEWER "sluice:viewer"
#define AUTHZ_GROUP_OPERATOR "sluice:operator"
#define AUTHZ_GROUP_ADMIN "sluice:admin"

/* What a control API method needs. */
enum authz_need {
	AUTHZ_READ,   /* get, list, describe */
	AUTHZ_CHANGE, /* apply, rollouts */
};

/* May peer call a control method that needs need? 0, or -EPERM with the reason in err. */
int authz__control(const struct rpc_peer *peer, enum authz_need need, char *err, size_t errlen);

/* May peer hold the agent stream of node_id? 0, or -EPERM with the reason in err. */
int authz__agent(const struct rpc_peer *peer, const char *node_id, char *err, size_t errlen);

/* The caller as the audit log names it: the certificate identity, or
 * "insecure:<peer address>" for a plaintext peer. */
void authz__who(const struct rpc_peer *peer, char *out, size_t len);

#endif
