/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mitigate.h — temporary rules that detectors add against one offending source, with a
 * TTL, merged into the policy the controller sent. The agent's datapath apply goes
 * through mitigate__apply(), which keeps the controller's policy (the "base") and applies
 * base + the live mitigation rules, so a new revision keeps them and an expired one
 * leaves with one re-apply. Mitigation rules come first, at priority 0, named
 * "mitigate-<n>", matching the source's /32 or /128: drop, or a per-source rate limit.
 *
 * When base + mitigations cannot be applied (no room for the rules, the datapath refuses
 * them), the base alone is applied and the mitigations are dropped: the controller's
 * policy always wins. Every function runs under the session lock (session__with_dp) or
 * before the session starts; nothing here locks.
 */
#ifndef SLUICE_AGENT_MITIGATE_H
#define SLUICE_AGENT_MITIGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "sluice/v1/policy.pb-c.h"

#define MITIGATE_MAX 64            /* live mitigation rules at most */
#define MITIGATE_PREFIX "mitigate-"

struct mitigate_rule {
	char name[ALERT_RULE_MAX];
	struct alert_addr src;
	int action;         /* Sluice__V1__Action: DROP or RATE_LIMIT */
	uint64_t pps;       /* RATE_LIMIT: packets per second (0: 1) */
	int64_t expires_ms; /* unix ms */
	uint64_t alert_id;  /* the alert that asked for it */
};

/* Where the merged policy goes (the datapath), and who hears that a base applied. */
struct mitigate_ops {
	int (*apply)(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen);
	uint32_t (*capacity)(void *ctx);
	void *ctx;
	/* After every successful apply, with the base policy (the monitor's view); may be NULL. */
	void (*applied)(void *ctx, const Sluice__V1__Policy *base);
	void *applied_ctx;
};

struct mitigate;

struct mitigate *mitigate__new(const struct mitigate_ops *ops);
void mitigate__free(struct mitigate *m);

/* The session's apply: keeps a copy of p as the base and applies base + mitigations.
 * 0, or -errno with a reason in err (the base's own failure). */
int mitigate__apply(void *m, const Sluice__V1__Policy *p, char *err, size_t errlen);

/* Records p as the base without applying it: what is already live (a restored or
 * adopted datapath). 0 or -ENOMEM. */
int mitigate__set_base(struct mitigate *m, const Sluice__V1__Policy *p);

/*
 * Adds a rule (name filled in here) and re-applies. An existing rule for the same source
 * is extended to the later expiry instead. 0; -EEXIST when one already covered it (its
 * name copied into r->name); -ENOSPC at MITIGATE_MAX or when the datapath cannot hold it;
 * -ENODATA when no base policy was applied yet; or the datapath's -errno (err says why).
 */
int mitigate__add(struct mitigate *m, struct mitigate_rule *r, char *err, size_t errlen);

/* Removes the rules expired at now_ms and re-applies when any were. Calls gone(ctx, r)
 * for each removed rule. Returns how many were removed. */
int mitigate__expire(struct mitigate *m, int64_t now_ms, void (*gone)(void *ctx, const struct mitigate_rule *r),
		     void *ctx);

/* Live rules. */
size_t mitigate__count(const struct mitigate *m);

/* The earliest expiry of a live rule, 0 when none (so callers can skip the lock). */
int64_t mitigate__next_expiry(const struct mitigate *m);

/* base + rules as one new policy (heap; policy__free). Pure. NULL + errno. */
Sluice__V1__Policy *mitigate__merge(const Sluice__V1__Policy *base, const struct mitigate_rule *rules, size_t n);

/* "src 10.0.0.7/32" into buf. */
void mitigate__describe(const struct mitigate_rule *r, char *buf, size_t len);

#endif
