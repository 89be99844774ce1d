/* SPDX-License-Identifier: Apache-2.0 */
/*
 * monitor_int.h — private to monitor.c (lifetime, ticks, session and datapath glue) and
 * monitor_sample.c (the per-sample path): the monitor's state and its view of the policy.
 */
#ifndef SLUICE_AGENT_MONITOR_INT_H
#define SLUICE_AGENT_MONITOR_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "aggregates.h"
#include "alerts.h"
#include "apiusage.h"
#include "detect.h"
#include "mitigate.h"
#include "monitor.h"
#include "samples.h"

/* A route's frontend, sorted for binary search. */
struct mon_route {
	uint8_t family, proto;
	uint16_t port;
	uint8_t vip[16];
	const Sluice__V1__Route *r;
};

/* The policy as the sample path needs it. Immutable once built; swapped whole. */
struct mon_view {
	Sluice__V1__Policy *p;  /* a copy; everything below points into it */
	int32_t *slot_rule;     /* counter slot -> index in p->rules, -1: none */
	struct mon_route *routes;
	size_t n_routes;
	struct detect_config cfg;
};

struct monitor {
	struct monitor_opts o;
	pthread_mutex_t view_lock;   /* held by the consumer for a batch; by set_policy to swap */
	struct mon_view *view;
	struct outbox *out;
	struct apiusage *usage;
	struct detect *detect;
	struct alerts *alerts;
	struct mitigate *mit;
	struct agg_reader *agg;
	struct samples *samples;
	struct session *session;
	struct detect_config cfg;    /* the view's, copied at each tick (consumer thread only) */
	pthread_mutex_t seed_lock;   /* guards seed_pending */
	Sluice__V1__Baselines *seed_pending; /* from the controller, for the next tick */
	/* consumer-thread state */
	int64_t usage_start_ms, last_tick_ms, last_baselines_ms;
	uint64_t usage_next_mono, baselines_next_mono;
	uint64_t samples_in_interval;
	uint64_t lost_before;        /* samples_lost summed over rules at the last report */
	uint64_t no_view;            /* samples that arrived before any policy */
};

/* Builds a view of p (slot_name may be NULL: no sample maps to a rule). NULL + errno. */
struct mon_view *monitor_view__new(const Sluice__V1__Policy *p, const char *(*slot_name)(void *ctx, uint32_t slot),
				   void *ctx);
void monitor_view__free(struct mon_view *v);

/* The route whose frontend is (family, addr, proto, port), or NULL. */
const Sluice__V1__Route *monitor_view__route(const struct mon_view *v, uint8_t family, const uint8_t *addr,
					     uint8_t proto, uint16_t port);

#endif
