/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_delta.h — a policy sent as edits to the one an agent runs (sluice.v1.PolicyDelta):
 * the new rule and route lists in order, as runs copied from the base and new entries,
 * and the target's (small) detectors section whole.
 * The controller makes one per (base, target) pair and sends it instead of the whole
 * policy when it is much smaller; the agent applies it to its live policy and checks the
 * result against the update's content hash, so a wrong base can never go live.
 *
 * Entries are matched by name and equal only when their encoding is identical, so a
 * delta never depends on how two rules compare field by field.
 */
#ifndef SLUICE_POLICY_DELTA_H
#define SLUICE_POLICY_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/policy.pb-c.h"

/*
 * Packs the PolicyDelta turning base into target into a malloc'd buffer (*out, *len),
 * stamped with base_revision and base_hash. Either policy may be NULL (empty). 0 or
 * -ENOMEM.
 */
int policy_delta__pack(const Sluice__V1__Policy *base, uint64_t base_revision, const char *base_hash,
		       const Sluice__V1__Policy *target, uint8_t **out, size_t *len);

/*
 * Applies d to base (NULL: empty) into a new policy of its own (*out, for policy__free).
 * 0, -EINVAL when a piece reaches past the base or names nothing, or -ENOMEM.
 */
int policy_delta__apply(const Sluice__V1__Policy *base, const Sluice__V1__PolicyDelta *d, Sluice__V1__Policy **out);

#endif
