/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apiusage.h — API usage per interval: requests per (API, method, path prefix,
 * consumer), estimated from sampled packets (each sampled request counts one_in of its
 * rule), and turned into one ApiUsage message per interval. Path prefixes keep the
 * first segments of a path and fold ids ("/v1/orders/17/items" -> "/v1/orders/{id}"), so
 * the number of distinct keys stays small. A table that fills up sums what does not
 * fit under the API "(other)". Single-threaded (the monitor's thread).
 */
#ifndef SLUICE_AGENT_APIUSAGE_H
#define SLUICE_AGENT_APIUSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "sluice/v1/agent.pb-c.h"

#define APIUSAGE_API_MAX 64
#define APIUSAGE_METHOD_MAX 16
#define APIUSAGE_PATH_MAX 96
#define APIUSAGE_HOST_MAX 96
#define APIUSAGE_DEPTH 3 /* path segments kept */

struct apiusage_key {
	char api[APIUSAGE_API_MAX];
	char method[APIUSAGE_METHOD_MAX];
	char path[APIUSAGE_PATH_MAX];
	struct alert_addr consumer;
};

struct apiusage;

/* At most max distinct keys per interval (0: 4096). NULL + errno. */
struct apiusage *apiusage__new(size_t max);
void apiusage__free(struct apiusage *u);

/* Counts one sampled request standing for `requests` requests. host may be NULL. */
void apiusage__add(struct apiusage *u, const struct apiusage_key *k, uint64_t requests, const char *host,
		   bool deprecated, bool plaintext);

/* Distinct keys this interval. */
size_t apiusage__count(const struct apiusage *u);

/*
 * Calls fn with the interval's ApiUsage message (valid during the call), then starts
 * a new interval. samples/lost: sampled packets read and lost in the interval. Nothing is
 * sent for an interval without requests.
 */
void apiusage__report(struct apiusage *u, int64_t start_ms, int64_t end_ms, uint64_t samples, uint64_t lost,
		      void (*fn)(void *ctx, const Sluice__V1__AgentMessage *m), void *ctx);

/* "/v1/orders/{id}" from "/v1/orders/17/items?x" (depth segments, ids folded). */
void apiusage__path_prefix(const char *path, unsigned depth, char *out, size_t len);

/* True when path starts with one of the n prefixes; *which gets it. */
bool apiusage__under(const char *path, char *const *prefixes, size_t n, const char **which);

#endif
