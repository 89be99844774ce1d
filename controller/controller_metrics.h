/* SPDX-License-Identifier: Apache-2.0 */
/*
 * controller_metrics.h — the controller's Prometheus metrics (sluice_controller_*):
 *
 *   sluice_controller_agents{state}                        agents by state (from the store)
 *   sluice_controller_agents_connected                     agents with a stream now
 *   sluice_controller_rollouts{state}                      rollouts by state (from the store)
 *   sluice_controller_revision                             newest stored policy revision
 *   sluice_controller_policy_push_duration_seconds{result} update sent -> Ack or Nack
 *   sluice_controller_nacks_total                          updates agents refused
 *   sluice_controller_rpcs_total{service,method,code}      finished gRPC calls and streams
 *   sluice_controller_rpc_duration_seconds{service,method} unary calls' durations
 *   sluice_controller_store_write_duration_seconds{sync}   database write transactions
 *   sluice_controller_build_info{version}
 *
 * The hooks below are handed to the rpc server, the registry and the store; they and
 * controller_metrics__refresh() run on the server thread, the registry (metrics.h) is
 * read by the HTTP thread.
 */
#ifndef SLUICE_CONTROLLER_CONTROLLER_METRICS_H
#define SLUICE_CONTROLLER_CONTROLLER_METRICS_H

#include <stdbool.h>

#include "common/metrics.h"
#include "common/rpc.h"
#include "registry.h"
#include "store.h"

struct controller_metrics;

/* Adds the families above to m (borrowed; must outlive the result). NULL + errno. */
struct controller_metrics *controller_metrics__new(struct metrics *m);

/* Accepts NULL. */
void controller_metrics__free(struct controller_metrics *cm);

/* rpc_server_opts.on_call_done, registry_observer.answered, store__set_write_observer()
 * hooks; arg is the struct controller_metrics. */
void controller_metrics__rpc_done(void *arg, const char *method, bool streaming, enum rpc_code code, double seconds);
void controller_metrics__answered(void *arg, const char *node_id, bool acked, double seconds);
void controller_metrics__store_write(void *arg, bool durable, double seconds);

/* Re-reads the gauges (agents and rollouts by state, connected agents, newest revision)
 * when the last refresh is a second old or more. From the server tick. */
void controller_metrics__refresh(struct controller_metrics *cm, struct store *st, const struct registry *reg);

#endif
