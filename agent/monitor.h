/* SPDX-License-Identifier: Apache-2.0 */
/*
 * monitor.h — the agent's inspection in user space (DESIGN.md §7): it reads sampled
 * packets (samples.h) and parses them (l7.h) into API usage (apiusage.h) and compliance
 * violations, reads the kernel's per-source aggregates every second (aggregates.h), runs
 * the detectors (detect.h), keeps alerts (alerts.h) and temporary mitigation rules
 * (mitigate.h), and queues what the controller should hear in an outbox the session
 * sends from (outbox.h): ApiUsage every usage interval, Alert updates, and the learned
 * Baselines every few minutes. The controller's Baselines, sent after Hello, seed the
 * detectors.
 *
 * Threads: one consumer thread (samples__start) does all of the above. The session's
 * thread applies policies through the monitor (so mitigations merge in and the monitor's
 * view of the policy follows), which swaps that view under a lock the consumer holds for
 * one batch of samples at a time. Mitigation rules are applied from the consumer thread
 * under the session lock (session__with_dp): lock order session, then view.
 *
 * Without a datapath (dp NULL) nothing is read from the kernel: tests and benchmarks feed
 * samples and aggregates through monitor__handle_sample() and monitor__interval().
 */
#ifndef SLUICE_AGENT_MONITOR_H
#define SLUICE_AGENT_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregates.h"
#include "sluice/v1/policy.pb-c.h"

struct dp;
struct outbox;
struct session;
struct session_opts;
struct sl_sample;

struct monitor_opts {
	struct dp *dp;             /* NULL: no datapath (tests, benchmarks) */
	const char *state_dir;     /* the saved policy seeds the view when the datapath was adopted; may be NULL */
	int usage_interval_ms;     /* ApiUsage reports; 0: 10000 */
	int tick_ms;               /* detection interval; 0: 1000 */
	int baselines_interval_ms; /* Baselines reports; 0: 300000 */
	uint32_t learn_s;          /* new-talker learning period; 0: the detector's default */
	size_t outbox_max;         /* 0: 1024 */
};

struct monitor;

/* NULL + errno. Takes the live policy from the state dir (when there is one) as its view. */
struct monitor *monitor__new(const struct monitor_opts *o);

/* Stops the consumer thread (if started) and frees. Accepts NULL. */
void monitor__free(struct monitor *m);

/* Fills what the monitor provides to the session: the datapath ops (applies go through
 * the mitigations and update the view), the outbox, and the controller-message hook. */
void monitor__session_opts(struct monitor *m, struct session_opts *so);

/* Starts reading samples and aggregates; mitigations go through s. 0 or -errno. */
int monitor__start(struct monitor *m, struct session *s);

/* The outbox the monitor's reports go to. */
struct outbox *monitor__outbox(struct monitor *m);

/* Makes p the policy the monitor judges samples by; slot_name maps a sample's counter
 * slot to its rule name (dp__slot_name). Thread-safe. 0 or -ENOMEM. */
int monitor__set_policy(struct monitor *m, const Sluice__V1__Policy *p,
			const char *(*slot_name)(void *ctx, uint32_t slot), void *ctx);

/* One sampled packet (what the consumer thread calls). */
void monitor__handle_sample(struct monitor *m, const struct sl_sample *s, size_t len);

/* One detection interval with the given aggregates (what the tick does after reading
 * them), then alerts are flushed to the outbox. */
void monitor__interval(struct monitor *m, int64_t unix_ms, double secs, const struct agg_source *srcs, size_t n,
		       const struct agg_source *total);

/* Sends the API usage gathered since the last report (what the usage timer does). */
void monitor__report_usage(struct monitor *m, int64_t unix_ms);

/* Queues the learned baselines now. */
void monitor__report_baselines(struct monitor *m, int64_t unix_ms);

/* Applies a Baselines message from the controller. */
void monitor__seed(struct monitor *m, const Sluice__V1__Baselines *b);

#endif
