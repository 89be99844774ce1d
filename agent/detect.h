/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect.h — the detectors that learn what is normal for this node and raise alerts
 * (alerts.h) when traffic is not. Once per interval the monitor hands over the kernel's
 * per-source aggregates (aggregates.h); between intervals it reports API compliance
 * violations found in sampled packets. Each interval:
 *
 *   port_scan     a source tried >= threshold distinct destination ports within the
 *                 window (default 2 s, at least 20 ports): a fast scan;
 *   slow_scan     the same over a long window (default 60 s, at least 8 ports), for a
 *                 source that is not scanning fast;
 *   syn_flood     SYNs per second (all sources) above the learned baseline (at least
 *                 200/s); top sources by SYNs;
 *   volume_spike  packets per second of established traffic (SYNs, SYN-ACKs and RSTs,
 *                 a flood and its backscatter, are left out) above the learned baseline
 *                 (at least 500/s), two intervals in a row;
 *   new_talker    after the learning period, a source never seen before sends at least
 *                 min packets in an interval;
 *   deprecated_api, plaintext_to_tls_only
 *                 requests that break an API's compliance settings, naming the consumers.
 *
 * Thresholds: max(min, mean + sigma * (stddev + mean/10 + 1)) against the feature's
 * baseline (baseline.h) for the hour of day, where one has been learned; until then the
 * scans use the floor, the floods a multiple of it (5x for SYNs, 20x for volume: a
 * node with no history judges only the unmistakable). Anomalous values are not
 * learned, and values on their way up are learned clipped (a slow scan does not teach
 * the baseline to expect it). Every threshold comes from the policy's `detectors:` section, or a default.
 * Baselines and known talkers round-trip through Sluice__V1__Baselines, so the
 * controller can keep a node's history and seed a restarted agent with it.
 *
 * Single-threaded: the monitor calls everything from its one thread.
 */
#ifndef SLUICE_AGENT_DETECT_H
#define SLUICE_AGENT_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregates.h"
#include "alerts.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/policy.pb-c.h"

/* One detector's settings, defaults filled in. */
struct detect_settings {
	bool enabled;
	double sigma;
	double min;
	uint32_t window_s;
	int severity;           /* Sluice__V1__AlertSeverity */
	bool mitigate;          /* add a temporary rule against the offending source */
	int mit_action;         /* Sluice__V1__Action: DROP or RATE_LIMIT */
	uint64_t mit_pps;
	uint32_t mit_ttl_s;
};

struct detect_config {
	struct detect_settings k[ALERT_KINDS];
};

/* The defaults, overridden by what d sets (d may be NULL). */
void detect__config(const Sluice__V1__Detectors *d, struct detect_config *out);

struct detect_opts {
	uint32_t learn_s;     /* new talkers are learned, not reported, this long after start
			       * (unless seeded); 0: the new_talker window (default 60) */
	double alpha;         /* baseline long-run weight per interval; 0: 1/3600 */
	uint64_t min_n;       /* observations before a baseline is used; 0: 30 */
	size_t max_sources;   /* sources tracked for scans; 0: 8192 */
	size_t max_talkers;   /* known sources remembered; 0: 65536 */
};

typedef void (*detect_sink)(void *ctx, const struct alert_event *e);

struct detect;

struct detect *detect__new(const struct detect_opts *o);
void detect__free(struct detect *d);

/*
 * One interval ending at unix_ms, secs long: srcs are the per-source aggregates read
 * for it, total the node's totals. Calls sink for every detection (and for the API
 * violations reported since the last interval).
 */
void detect__interval(struct detect *d, const struct detect_config *cfg, int64_t unix_ms, double secs,
		      const struct agg_source *srcs, size_t n, const struct agg_source *total, detect_sink sink,
		      void *ctx);

/*
 * A sampled request that breaks an API's settings: kind ALERT_DEPRECATED_API (what: the
 * deprecated prefix it used) or ALERT_PLAINTEXT (what: ""), requests estimated from the
 * sampling rate. Reported with the next interval.
 */
void detect__api_violation(struct detect *d, enum alert_kind kind, const char *api, const char *what,
			   const struct alert_addr *consumer, uint64_t requests);

/* The learned state as a message (heap; release with detect__baselines_free). NULL + errno. */
Sluice__V1__Baselines *detect__export(const struct detect *d, int64_t unix_ms);
void detect__baselines_free(Sluice__V1__Baselines *b);

/* Seeds baselines and known talkers from stored history (where it knows more than we
 * do), and ends the learning period when it names talkers. */
void detect__import(struct detect *d, const Sluice__V1__Baselines *b);

/* Still in the learning period (tests, status). */
bool detect__learning(const struct detect *d, int64_t unix_ms);

#endif
