/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maglev.h — weighted Maglev lookup tables (Eisenbud et al., NSDI 2016), built in user
 * space for the rewrite program: entry k names the backend that flows hashing to k go to.
 *
 * Each backend walks its own permutation of the table (offset and skip from its id, not
 * its position, so the others' permutations stay put when one comes or goes) and claims
 * the next free entry on its turn. Turns come in proportion to weight: every round each
 * backend earns its weight in credit and claims one entry per max-weight of credit. A
 * backend of weight 0 gets no entries. With equal weights this is plain Maglev: shares
 * differ by at most one entry, and replacing one backend of N moves about 1/N of entries.
 */
#ifndef SLUICE_AGENT_MAGLEV_H
#define SLUICE_AGENT_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

struct maglev_backend {
	uint64_t id;     /* stable identity, e.g. a hash of address and port */
	uint32_t weight;
};

/*
 * Fills table[0..m) with indices into b (n <= 255). m must be a prime larger than n.
 * 0, -EINVAL (n is 0 or above 255, m too small, or no weight above 0) or -ENOMEM.
 */
int maglev__build(const struct maglev_backend *b, size_t n, uint32_t m, uint8_t *table);

/* A 64-bit id for bytes (a backend's address and port), for maglev_backend.id. */
uint64_t maglev__id(const void *data, size_t len);

#endif
