/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render_monitor.h — what sluicectl prints for alerts and API usage (DESIGN.md §7).
 * Nothing here talks to the network; `now` is passed in so output is testable.
 *
 * JSON (stable; keys snake_case; times RFC 3339 UTC or null):
 *   alert:    {"id", "node_id", "type", "severity", "subject", "summary", "count",
 *              "first_seen", "last_seen", "first_seen_ms", "last_seen_ms" (unix ms, for
 *              scripts that time detections), "acked", "acked_by", "acked_at",
 *              "metrics": {NAME: NUMBER}, "baseline": null | {"feature", "mean", "stddev",
 *              "samples", "hour", "threshold"}, "top_sources": [{"addr", "value"}],
 *              "consumers": [ADDR], "mitigation": null | {"rule", "action", "pps", "match",
 *              "expires", "active", "error"}}
 *   apiusage: {"api", "method", "path_prefix", "consumer", "requests", "samples", "host",
 *              "deprecated", "plaintext", "first", "last", "nodes"}
 */
#ifndef SLUICE_CLI_RENDER_MONITOR_H
#define SLUICE_CLI_RENDER_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sluice/v1/control.pb-c.h"

/* New references; NULL on allocation failure. */
json_t *cli_render__alert_json(const Sluice__V1__AlertInfo *a);
json_t *cli_render__usage_json(const Sluice__V1__ApiUsageRow *r);

/* ID LAST-SEEN NODE SEVERITY TYPE SUBJECT COUNT SUMMARY; wide adds FIRST-SEEN, MITIGATION
 * and ACKED-BY. header: print the header line (watch prints it once). */
void cli_render__alerts_table(Sluice__V1__AlertInfo *const *a, size_t n, int64_t now, bool wide, bool header,
			      FILE *out);

/* API METHOD PATH CONSUMER REQUESTS RATE NOTE; wide adds HOST, SAMPLES and NODES.
 * secs: the span the requests were counted over (for RATE). */
void cli_render__usage_table(Sluice__V1__ApiUsageRow *const *r, size_t n, double secs, bool wide, FILE *out);

/* "high", "critical", ...; never NULL. */
const char *cli_render__severity_name(int severity);

#endif
