/* SPDX-License-Identifier: Apache-2.0 */
/*
 * telemetry.h — what the agents' monitors send the controller (DESIGN.md §7), stored
 * through store.h: ApiUsage reports become rows of the API usage time series, Alert
 * updates become alerts (one per agent alert, so repeats are counted, not multiplied;
 * a mitigation's start and end are audited), and Baselines replace the node's stored
 * history, which is sent back to the node after every Hello to seed its detectors.
 * Alerts that open or change are also pushed to every WatchAlerts stream whose filter
 * they match. Old API usage and alerts are forgotten after their retention.
 *
 * Runs on the rpc server thread (registry hooks, handlers, tick): no locks.
 */
#ifndef SLUICE_CONTROLLER_TELEMETRY_H
#define SLUICE_CONTROLLER_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/rpc.h"
#include "registry.h"
#include "sluice/v1/control.pb-c.h"
#include "store.h"

#define TELEMETRY_USAGE_KEEP_S (7 * 86400)   /* API usage retention */
#define TELEMETRY_ALERTS_KEEP_S (30 * 86400) /* alerts not seen this long are forgotten */

struct telemetry;

/* Over st (borrowed). NULL + errno. */
struct telemetry *telemetry__new(struct store *st);

/* Every watcher must be gone (rpc_server__free closes the streams). Accepts NULL. */
void telemetry__free(struct telemetry *t);

/* Takes the registry's monitor messages and Hellos. */
void telemetry__attach(struct telemetry *t, struct registry *reg);

/* Periodic work (the server tick): retention. */
void telemetry__tick(struct telemetry *t);

/* An AlertInfo view of a stored alert: points into a; *alert (unpacked from the blob,
 * NULL when it does not decode) is the caller's to free with
 * sluice__v1__alert__free_unpacked. */
void telemetry__alert_info(const struct store_alert *a, Sluice__V1__AlertInfo *out, Sluice__V1__Alert **alert);

/* Does a match the filter of a ListAlerts request (f may be NULL: everything)? */
bool telemetry__matches(const Sluice__V1__ListAlertsRequest *f, const struct store_alert *a);

/* Watch streams: alerts that open or change are sent to s when they match f (copied).
 * 0 or -ENOMEM. */
int telemetry__watch(struct telemetry *t, struct rpc_stream *s, const Sluice__V1__ListAlertsRequest *f);
void telemetry__unwatch(struct telemetry *t, struct rpc_stream *s);

/* Tells the watchers of a changed alert (what AckAlert uses too). */
void telemetry__notify(struct telemetry *t, const struct store_alert *a);

#endif
