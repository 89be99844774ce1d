/* SPDX-License-Identifier: Apache-2.0 */
/*
 * authz.h — who may do what, decided from the caller's mTLS certificate (DESIGN.md §4):
 * the subject CN is the identity and O the group. Two tables in authz.c decide it all:
 *
 *   methods: every RPC the controller serves and what it needs — the agent stream needs
 *            an agent certificate; reads need viewer; apply and rollouts need operator;
 *            removing agents needs admin. A method not in the table is denied to every
 *            certificate (default deny), so a new RPC does nothing until it is given a role.
 *   roles:   sluice:viewer reads; sluice:operator reads and changes; sluice:admin does
 *            everything. sluice:agent (CN = node id) holds its own stream and nothing else.
 *
 * A plaintext peer exists only under --insecure (local development) and may do anything.
 * Pure functions: no I/O, so tests and the gRPC authorize hook (access.c) share them.
 */
#ifndef SLUICE_CONTROLLER_AUTHZ_H
#define SLUICE_CONTROLLER_AUTHZ_H

#include <stddef.h>

#include "common/rpc.h"

#define AUTHZ_GROUP_AGENT "sluice:agent"
#define AUTHZ_GROUP_VIEWER "sluice:viewer"
#define AUTHZ_GROUP_OPERATOR "sluice:operator"
#define AUTHZ_GROUP_ADMIN "sluice:admin"

/* What a method needs. */
enum authz_need {
	AUTHZ_READ,   /* get, list, describe, watch: viewer, operator, admin */
	AUTHZ_CHANGE, /* apply, rollouts: operator, admin */
	AUTHZ_ADMIN,  /* removing agents: admin */
	AUTHZ_AGENT,  /* the agent stream: agent certificates only */
};

/* "read", "change", "admin" or "agent". */
const char *authz_need__name(enum authz_need need);

/* What method ("/sluice.v1.ControlService/ApplyPolicy") needs: 0, or -ENOENT when the
 * method is not in the table (and so denied to every certificate). */
int authz__method_need(const char *method, enum authz_need *need);

/* The methods table, for tests that check it covers every RPC of the proto: the i-th
 * method path, or NULL past the end. */
const char *authz__method_at(size_t i);

/*
 * May peer call method at all? The one check every call passes before any handler runs
 * (the server's authorize hook). 0, or -EPERM with the reason in err.
 */
int authz__call(const struct rpc_peer *peer, const char *method, char *err, size_t errlen);

/* May peer do something that needs need? 0, or -EPERM with the reason in err. */
int authz__control(const struct rpc_peer *peer, enum authz_need need, char *err, size_t errlen);

/* May peer hold the agent stream of node_id? 0, or -EPERM with the reason in err. */
int authz__agent(const struct rpc_peer *peer, const char *node_id, char *err, size_t errlen);

/* The caller as the audit log names it: the certificate identity, or
 * "insecure:<peer address>" for a plaintext peer. */
void authz__who(const struct rpc_peer *peer, char *out, size_t len);

#endif
