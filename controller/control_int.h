/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control_int.h — private to control.c and control_rollout.c: the helpers every
 * ControlService handler uses (the role check, the one place an -errno becomes a gRPC
 * status, packing the reply) and the rollout handlers' registration.
 */
#ifndef SLUICE_CONTROLLER_CONTROL_INT_H
#define SLUICE_CONTROLLER_CONTROL_INT_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "sluice/v1/control.pb-c.h"

#include "authz.h"
#include "control.h"

/* Writes the message to errmsg and returns the status code for err (-errno). */
enum rpc_code control_int__fail(char *errmsg, size_t errlen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* RPC_OK when peer may call method with need, else PERMISSION_DENIED with why. */
enum rpc_code control_int__admit(const struct rpc_peer *peer, enum authz_need need, const char *method, char *errmsg,
				 size_t errlen);

/* Packs m into a malloc'd response buffer. */
enum rpc_code control_int__reply(const ProtobufCMessage *m, struct rpc_buf *resp, char *errmsg, size_t errlen);

/* A rollout request from a policy's rollout section (NULL: every agent at once) and
 * gates (NULL: defaults). The selector points into spec; *labels (free it) holds it.
 * 0 or -ENOMEM. */
int control_rollout__request(const Sluice__V1__RolloutSpec *spec, const Sluice__V1__RolloutGates *gates,
			     struct rollout_request *req, struct store_label **labels);

/* A dry run's plan in an ApplyPolicyResponse; release it after the reply is packed. */
struct control_plan {
	struct rollout_plan plan;
	Sluice__V1__AgentPlan *items;
	Sluice__V1__AgentPlan **ptrs;
};

/* Fills out->plan, out->warnings and out->waves for a rollout of p. RPC_OK or a code
 * with errmsg. */
enum rpc_code control_rollout__plan(struct control *ctl, const Sluice__V1__Policy *p, const char *hash,
				    const struct rollout_request *req, Sluice__V1__ApplyPolicyResponse *out,
				    struct control_plan *cp, char *errmsg, size_t errlen);

/* Accepts a plan never filled. */
void control_rollout__plan_release(struct control_plan *cp);

/* Registers StartRollout, ListRollouts, GetRollout and the rollout actions. 0 or -errno. */
int control_rollout__register(struct rpc_server *srv, struct control *ctl);

#endif
