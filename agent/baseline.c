// SPDX-License-Identifier: Apache-2.0
/*
 * baseline.c — see baseline.h. The incremental update of an exponentially weighted
 * mean and variance: d = x - mean; mean += w d; var = (1 - w) (var + w d^2).
 */
#include <math.h>

#include "baseline.h"

static void learn(struct baseline *b, int slot, double x, double alpha)
{
	double w, d;

	b->n[slot]++;
	w = 1.0 / (double)b->n[slot];
	if (w < alpha)
		w = alpha;
	d = x - b->mean[slot];
	b->mean[slot] += w * d;
	b->var[slot] = (1.0 - w) * (b->var[slot] + w * d * d);
}

void baseline__update(struct baseline *b, int hour, double x, double alpha)
{
	if (!isfinite(x))
		return;
	if (hour >= 0 && hour < BASELINE_HOURS)
		learn(b, hour, x, alpha);
	learn(b, BASELINE_ALL, x, alpha);
}

bool baseline__get(const struct baseline *b, int hour, uint64_t min_n, double *mean, double *stddev, uint64_t *n,
		   int *slot)
{
	int s = BASELINE_ALL;

	if (hour >= 0 && hour < BASELINE_HOURS && b->n[hour] >= min_n)
		s = hour;
	if (b->n[s] < min_n || b->n[s] == 0)
		return false;
	*mean = b->mean[s];
	*stddev = sqrt(b->var[s] > 0 ? b->var[s] : 0);
	*n = b->n[s];
	*slot = s == BASELINE_ALL ? -1 : s;
	return true;
}

double baseline__threshold(double mean, double stddev, double sigma, double floor)
{
	double t = mean + sigma * (stddev + fabs(mean) / 10.0 + 1.0);

	return t > floor ? t : floor;
}

void baseline__merge(struct baseline *b, const struct baseline *src)
{
	for (int s = 0; s < BASELINE_SLOTS; s++) {
		if (src->n[s] > b->n[s] && isfinite(src->mean[s]) && isfinite(src->var[s]) && src->var[s] >= 0) {
			b->mean[s] = src->mean[s];
			b->var[s] = src->var[s];
			b->n[s] = src->n[s];
		}
	}
}

int baseline__hour(int64_t unix_ms)
{
	int64_t s = unix_ms / 1000;

	return (int)(((s % 86400) + 86400) % 86400 / 3600);
}
