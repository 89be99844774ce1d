// SPDX-License-Identifier: Apache-2.0
/*
 * agent_metrics.c — see agent_metrics.h. Everything is written from one Status message
 * and the session's connection facts, inside session__with_status (its lock held), so
 * a scrape sees one consistent snapshot.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent_metrics.h"

/* The per-rule counters: family name, help, and where the value is in RuleCounters. */
static const struct rule_family {
	const char *name;
	const char *help;
	size_t offset;
} rule_families[] = {
	{ "sluice_agent_rule_packets_total", "Packets that matched the rule, on every interface.",
	  offsetof(Sluice__V1__RuleCounters, packets) },
	{ "sluice_agent_rule_bytes_total", "Bytes of the packets that matched the rule.",
	  offsetof(Sluice__V1__RuleCounters, bytes) },
	{ "sluice_agent_rule_samples_total", "Packets of the rule sampled to user space.",
	  offsetof(Sluice__V1__RuleCounters, samples) },
	{ "sluice_agent_rule_samples_lost_total", "Samples of the rule lost because the ring buffer was full.",
	  offsetof(Sluice__V1__RuleCounters, samples_lost) },
	{ "sluice_agent_rule_rate_limited_packets_total", "Packets dropped by the rule's rate limit.",
	  offsetof(Sluice__V1__RuleCounters, rate_limited) },
};

#define DROP_PREFIX "drop_" /* datapath counters (SL_STAT_NAMES) that count dropped packets */

static int write_rules(struct metrics_writer *w, const Sluice__V1__Status *st)
{
	for (size_t f = 0; f < sizeof(rule_families) / sizeof(rule_families[0]); f++) {
		const struct rule_family *rf = &rule_families[f];

		metrics_writer__family(w, METRICS_COUNTER, rf->name, rf->help);
		for (size_t i = 0; i < st->n_rules; i++) {
			const Sluice__V1__RuleCounters *r = st->rules[i];
			uint64_t v;

			memcpy(&v, (const char *)r + rf->offset, sizeof(v));
			metrics_writer__value(w, (double)v, "rule", r->name, NULL);
		}
	}
	return 0;
}

/* The datapath's counters by reason: every packet, drops, and the other outcomes. */
static int write_reasons(struct metrics_writer *w, const Sluice__V1__Status *st)
{
	uint64_t seen = 0;

	for (size_t i = 0; i < st->n_drop_reasons; i++) {
		if (strcmp(st->drop_reasons[i]->key, "packets") == 0)
			seen = st->drop_reasons[i]->value;
	}
	metrics_writer__family(w, METRICS_COUNTER, "sluice_agent_packets_total",
			       "Packets the inspection program saw, on every interface.");
	metrics_writer__value(w, (double)seen, NULL);
	metrics_writer__family(w, METRICS_COUNTER, "sluice_agent_drops_total",
			       "Packets the datapath dropped, by reason (drop_rule: a drop rule; drop_rate_limit: a rate limit).");
	for (size_t i = 0; i < st->n_drop_reasons; i++) {
		const char *k = st->drop_reasons[i]->key;

		if (strncmp(k, DROP_PREFIX, strlen(DROP_PREFIX)) == 0)
			metrics_writer__value(w, (double)st->drop_reasons[i]->value, "reason", k, NULL);
	}
	metrics_writer__family(w, METRICS_COUNTER, "sluice_agent_datapath_events_total",
			       "Packets with an outcome other than a drop, by reason: passed unclassified (non_ip, truncated, bad_header), classified without ports (fragment, ext_limit), passed for want of a matching rule (no_match) or of any policy (no_policy).");
	for (size_t i = 0; i < st->n_drop_reasons; i++) {
		const char *k = st->drop_reasons[i]->key;

		if (strcmp(k, "packets") != 0 && strncmp(k, DROP_PREFIX, strlen(DROP_PREFIX)) != 0)
			metrics_writer__value(w, (double)st->drop_reasons[i]->value, "reason", k, NULL);
	}
	return 0;
}

int agent_metrics__write(struct metrics_writer *w, const Sluice__V1__Status *st, const struct session_info *info)
{
	write_rules(w, st);
	write_reasons(w, st);

	metrics_writer__family(w, METRICS_GAUGE, "sluice_agent_rules_used", "Rules in the live policy generation.");
	metrics_writer__value(w, st->rules_used, NULL);
	metrics_writer__family(w, METRICS_GAUGE, "sluice_agent_rules_capacity",
			       "Rules a policy generation can hold on this agent.");
	metrics_writer__value(w, st->rule_capacity, NULL);
	metrics_writer__family(w, METRICS_GAUGE, "sluice_agent_interface_attached",
			       "1 when the inspection program is attached to the interface, else 0.");
	for (size_t i = 0; i < st->n_interfaces; i++) {
		const Sluice__V1__InterfaceState *it = st->interfaces[i];

		metrics_writer__value(w, it->attached ? 1 : 0, "interface", it->name, "xdp_mode", it->xdp_mode, NULL);
	}
	metrics_writer__family(w, METRICS_GAUGE, "sluice_agent_applied_revision",
			       "Policy revision the datapath enforces (0: none yet).");
	metrics_writer__value(w, (double)st->applied_revision, NULL);
	metrics_writer__family(w, METRICS_GAUGE, "sluice_agent_apply_failing",
			       "1 when the newest policy update failed to apply (the previous generation stays live), else 0.");
	metrics_writer__value(w, st->last_error && st->last_error[0] ? 1 : 0, NULL);
	metrics_writer__family(w, METRICS_GAUGE, "sluice_agent_controller_connected",
			       "1 while the stream to the controller is up, else 0.");
	metrics_writer__value(w, info->connected ? 1 : 0, NULL);
	metrics_writer__family(w, METRICS_COUNTER, "sluice_agent_controller_reconnects_total",
			       "Times the stream to the controller came up again after it had been up.");
	metrics_writer__value(w, (double)info->reconnects, NULL);
	metrics_writer__family(w, METRICS_GAUGE, "sluice_agent_build_info",
			       "Always 1; the labels say which agent version runs on which node.");
	return metrics_writer__value(w, 1, "version", SLUICE_VERSION, "node", info->node_id ? info->node_id : "", NULL);
}

static int collect_status(const Sluice__V1__Status *st, const struct session_info *info, void *arg)
{
	return agent_metrics__write(arg, st, info);
}

static int collect(struct metrics_writer *w, void *arg)
{
	return session__with_status(arg, collect_status, w);
}

int agent_metrics__register(struct metrics *m, struct session *s)
{
	if (!m || !s)
		return -EINVAL;
	return metrics__add_collector(m, collect, s);
}
