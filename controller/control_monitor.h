/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control_monitor.h — the ControlService methods over what the agents' monitors report
 * (DESIGN.md §7): ListAlerts, AckAlert (audited), GetApiUsage, and WatchAlerts, a
 * server stream done as a bidirectional one: the client sends one WatchAlertsRequest,
 * then receives AlertInfo messages as alerts open or change until it closes the stream.
 */
#ifndef SLUICE_CONTROLLER_CONTROL_MONITOR_H
#define SLUICE_CONTROLLER_CONTROL_MONITOR_H

#include "common/rpc.h"
#include "store.h"
#include "telemetry.h"

/* What the handlers work on; borrowed, and must outlive the server. */
struct control_monitor {
	struct store *st;
	struct telemetry *tel;
};

/* Registers the four methods on srv. 0 or -errno. */
int control_monitor__register(struct rpc_server *srv, struct control_monitor *cm);

#endif
