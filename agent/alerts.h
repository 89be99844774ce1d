/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alerts.h — the agent's open alerts. A detector reports a detection (struct
 * alert_event) every interval its condition holds; detections of the same kind and
 * subject (a source address, an API) are one alert, with a count and first/last seen,
 * under one id that the controller stores by. An alert is sent when it opens and then
 * at most every resend_ms while it keeps firing (each update carries its whole state, so
 * a lost update costs nothing); one quiet for quiet_ms is closed, and a later detection
 * opens a new one. Single-threaded (the monitor's thread).
 */
#ifndef SLUICE_AGENT_ALERTS_H
#define SLUICE_AGENT_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/v1/agent.pb-c.h"

#define ALERT_SUBJECT_MAX 160
#define ALERT_SUMMARY_MAX 256
#define ALERT_MAX_METRICS 6
#define ALERT_MAX_TOP 5
#define ALERT_RULE_MAX 64

enum alert_kind {
	ALERT_PORT_SCAN = 0,
	ALERT_SLOW_SCAN,
	ALERT_SYN_FLOOD,
	ALERT_VOLUME,
	ALERT_NEW_TALKER,
	ALERT_DEPRECATED_API,
	ALERT_PLAINTEXT,
	ALERT_KINDS
};

/* "port_scan", "slow_scan", "syn_flood", "volume_spike", "new_talker", "deprecated_api",
 * "plaintext_to_tls_only"; never NULL. */
const char *alerts__kind_name(enum alert_kind k);

struct alert_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[16];
};

/* "10.0.0.7" / "2001:db8::7". */
void alerts__addr_str(const struct alert_addr *a, char *buf, size_t len);

/* One detection: what a detector saw in one interval. */
struct alert_event {
	enum alert_kind kind;
	int severity;                    /* Sluice__V1__AlertSeverity */
	char subject[ALERT_SUBJECT_MAX]; /* with kind, what makes detections one alert */
	char summary[ALERT_SUMMARY_MAX];
	struct {
		const char *name;        /* a string literal */
		double value;
	} metrics[ALERT_MAX_METRICS];
	size_t n_metrics;
	bool has_baseline;
	const char *feature;             /* a string literal */
	double mean, stddev, threshold;
	uint64_t samples;
	int hour;                        /* -1: all hours */
	struct {
		struct alert_addr a;
		double value;
	} top[ALERT_MAX_TOP];
	size_t n_top;
	bool top_are_consumers;          /* API alerts: top[] are the consumers */
	bool mitigable;                  /* offender is one source a rule could stop */
	struct alert_addr offender;
};

/* Adds a metric (up to ALERT_MAX_METRICS). */
void alert_event__metric(struct alert_event *e, const char *name, double value);

struct alerts_opts {
	int resend_ms; /* 0: 10000 */
	int quiet_ms;  /* 0: 60000 */
	size_t max;    /* open alerts kept; 0: 1024 (a new one replaces the quietest) */
};

/* The sink for alert updates: one packed-ready message (valid during the call). */
typedef void (*alerts_send_fn)(void *ctx, const Sluice__V1__AgentMessage *m);

struct alerts;

struct alerts *alerts__new(const struct alerts_opts *o, alerts_send_fn send, void *ctx);
void alerts__free(struct alerts *a);

/* Records a detection at now_ms. Returns the alert's id; *opened is true when this
 * detection opened the alert. */
uint64_t alerts__raise(struct alerts *a, const struct alert_event *e, int64_t now_ms, bool *opened);

/* Attaches a mitigation's state to alert id (sent with its next update, at once). */
void alerts__set_mitigation(struct alerts *a, uint64_t id, const Sluice__V1__AlertMitigation *m);

/* Sends what opened or changed (rate-limited per alert) and closes quiet alerts. */
void alerts__flush(struct alerts *a, int64_t now_ms);

/* Open alerts (tests). */
size_t alerts__open_count(const struct alerts *a);

#endif
