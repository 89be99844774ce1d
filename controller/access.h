/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access.h — the controller's gate. access__authorize() is the gRPC server's authorize
 * hook: every call, to any method, passes authz__call() (the one methods table) before a
 * handler runs, and a refused call never reaches one. Every refusal the controller sees
 * — there, or an agent's Hello naming another node — is logged and written to the audit
 * log as action "denied", with who, what and why. A flood of refusals is rate-limited
 * (a burst of ACCESS_AUDIT_BURST rows, then ACCESS_AUDIT_PER_S a second) so it cannot
 * fill the database; the next row written says how many were left out.
 *
 * Server thread only (like the store it writes to).
 */
#ifndef SLUICE_CONTROLLER_ACCESS_H
#define SLUICE_CONTROLLER_ACCESS_H

#include <stddef.h>

#include "common/rpc.h"
#include "store.h"

#define ACCESS_AUDIT_BURST 20
#define ACCESS_AUDIT_PER_S 2

struct access;

/* A gate writing to st (borrowed; must outlive it). NULL + errno. */
struct access *access__new(struct store *st);

/* Accepts NULL. */
void access__free(struct access *a);

/* The rpc_server_opts.authorize hook; arg is the struct access. */
enum rpc_code access__authorize(void *arg, const struct rpc_peer *peer, const char *method, char *why,
				size_t why_len);

/* Records a refusal: object names what was refused ("ControlService/ApplyPolicy",
 * "agent stream for node 'gw2'"), why the reason. */
void access__denied(struct access *a, const struct rpc_peer *peer, const char *object, const char *why);

/* Refusals seen, and those left out of the audit log by the rate limit (for tests). */
void access__counts(const struct access *a, unsigned long *denied, unsigned long *unaudited);

#endif
