/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_metrics.h — the agent's Prometheus metrics (sluice_agent_*), read at every
 * scrape from the session's status snapshot (session__with_status), so the HTTP thread
 * never touches the datapath outside the session's lock:
 *
 *   sluice_agent_rule_{packets,bytes,samples,samples_lost,rate_limited_packets}_total{rule}
 *   sluice_agent_packets_total, sluice_agent_drops_total{reason},
 *   sluice_agent_datapath_events_total{reason}      (enum sl_stat, bpf/sluice_abi.h)
 *   sluice_agent_rules_used, sluice_agent_rules_capacity
 *   sluice_agent_interface_attached{interface,xdp_mode}
 *   sluice_agent_applied_revision, sluice_agent_apply_failing
 *   sluice_agent_controller_connected, sluice_agent_controller_reconnects_total
 *   sluice_agent_build_info{version,node}
 */
#ifndef SLUICE_AGENT_AGENT_METRICS_H
#define SLUICE_AGENT_AGENT_METRICS_H

#include "common/metrics.h"
#include "session.h"
#include "sluice/v1/agent.pb-c.h"

/* Adds the collector that writes the families above from s (borrowed) to m. 0 or -errno. */
int agent_metrics__register(struct metrics *m, struct session *s);

/* Writes the families above for one snapshot (the collector's body; pure, for tests). 0 or -errno. */
int agent_metrics__write(struct metrics_writer *w, const Sluice__V1__Status *st, const struct session_info *info);

#endif
