/* SPDX-License-Identifier: Apache-2.0 */
/*
 * baseline.h — what is normal for one feature of a node's traffic (packets per second,
 * SYNs per second, ...), learned online: an exponentially weighted mean and variance
 * per hour of day (UTC), plus one slot over all hours for when an hour has not been
 * seen enough yet. Early on each slot is the plain running mean (weight 1/n); once n
 * passes 1/alpha the weight stays alpha, so old days fade out.
 *
 * Values that a detector judged anomalous should not be learned (the caller skips
 * them), so an attack does not become the baseline. Pure and single-threaded.
 */
#ifndef SLUICE_AGENT_BASELINE_H
#define SLUICE_AGENT_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#define BASELINE_HOURS 24
#define BASELINE_ALL 24 /* the all-hours slot */
#define BASELINE_SLOTS 25

struct baseline {
	double mean[BASELINE_SLOTS];
	double var[BASELINE_SLOTS];
	uint64_t n[BASELINE_SLOTS];
};

/* Learns x in hour's slot and in the all-hours slot. alpha: the long-run weight (0 < alpha < 1). */
void baseline__update(struct baseline *b, int hour, double x, double alpha);

/* What x is compared with: the hour's slot once it has min_n observations, else the
 * all-hours slot once that has; false when neither has (still learning). *slot gets
 * the hour used, or -1 for all hours. */
bool baseline__get(const struct baseline *b, int hour, uint64_t min_n, double *mean, double *stddev, uint64_t *n,
		   int *slot);

/*
 * The value above which x is anomalous: mean + sigma * (stddev + mean / 10 + 1), and at
 * least floor. The mean/10 + 1 terms keep a steady feature (variance near 0) from
 * alerting on ordinary jitter.
 */
double baseline__threshold(double mean, double stddev, double sigma, double floor);

/* Seeds b from stored history: each slot is taken from src where src knows more. */
void baseline__merge(struct baseline *b, const struct baseline *src);

/* Hour of day (UTC) of a unix time in ms. */
int baseline__hour(int64_t unix_ms);

#endif
