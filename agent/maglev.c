// SPDX-License-Identifier: Apache-2.0
/*
 * maglev.c — weighted Maglev table population (see maglev.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

uint64_t maglev__id(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return mix64(h);
}

struct walker {
	uint64_t offset, skip, next; /* position j of the permutation: (offset + j * skip) % m */
	uint64_t credit;
};

int maglev__build(const struct maglev_backend *b, size_t n, uint32_t m, uint8_t *table)
{
	struct walker *w = NULL;
	bool *taken = NULL;
	uint64_t wmax = 0;
	uint32_t filled = 0;
	int err = 0;

	if (n == 0 || n > 255 || m <= n + 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		wmax = b[i].weight > wmax ? b[i].weight : wmax;
	if (wmax == 0)
		return -EINVAL;
	w = calloc(n, sizeof(*w));
	taken = calloc(m, sizeof(*taken));
	if (!w || !taken) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		w[i].offset = mix64(b[i].id ^ 0x6d61676c65763031ULL) % m;
		w[i].skip = mix64(b[i].id ^ 0x736b697070657232ULL) % (m - 1) + 1;
	}
	while (filled < m) {
		for (size_t i = 0; i < n && filled < m; i++) {
			w[i].credit += b[i].weight;
			while (w[i].credit >= wmax && filled < m) {
				uint64_t c;

				do {
					c = (w[i].offset + w[i].next * w[i].skip) % m;
					w[i].next++;
				} while (taken[c]);
				taken[c] = true;
				table[c] = (uint8_t)i;
				filled++;
				w[i].credit -= wmax;
			}
		}
	}
cleanup:
	free(w);
	free(taken);
	return err;
}
