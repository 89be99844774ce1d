// SPDX-License-Identifier: Apache-2.0
/*
 * access.c — see access.h: the authorize hook and the audited, rate-limited record of
 * refusals (a token bucket refilled with monotonic time).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "access.h"
#include "authz.h"

#define SERVICE_PREFIX "/sluice.v1."

struct access {
	struct store *st;
	double tokens;         /* audit rows that may be written now */
	struct timespec last;  /* when tokens was last refilled */
	unsigned long denied;  /* refusals seen */
	unsigned long skipped; /* refusals not written since the last row that was */
	unsigned long unaudited;
};

struct access *access__new(struct store *st)
{
	struct access *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->st = st;
	a->tokens = ACCESS_AUDIT_BURST;
	clock_gettime(CLOCK_MONOTONIC, &a->last);
	return a;
}

void access__free(struct access *a)
{
	free(a);
}

/* Takes a token for one audit row, if the bucket has one. */
static bool take_token(struct access *a)
{
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - a->last.tv_sec) + (double)(now.tv_nsec - a->last.tv_nsec) / 1e9;
	a->last = now;
	a->tokens += dt * ACCESS_AUDIT_PER_S;
	if (a->tokens > ACCESS_AUDIT_BURST)
		a->tokens = ACCESS_AUDIT_BURST;
	if (a->tokens < 1.0)
		return false;
	a->tokens -= 1.0;
	return true;
}

void access__denied(struct access *a, const struct rpc_peer *peer, const char *object, const char *why)
{
	struct store_audit_new row = { 0 };
	char who[300], detail[1024];
	int err;

	a->denied++;
	if (!take_token(a)) {
		a->skipped++;
		a->unaudited++;
		pr_debug("denied %s to %s (%s); not audited: too many refusals", object, peer->address, why);
		return;
	}
	pr_warn("denied %s to %s: %s", object, peer->address, why);
	authz__who(peer, who, sizeof(who));
	if (a->skipped)
		snprintf(detail, sizeof(detail), "%s (group '%s', from %s; %lu earlier refusals not recorded: too many)",
			 why, peer->group, peer->address, a->skipped);
	else
		snprintf(detail, sizeof(detail), "%s (group '%s', from %s)", why, peer->group, peer->address);
	row.time = (int64_t)time(NULL);
	row.who = who;
	row.action = "denied";
	row.object = object;
	row.detail = detail;
	err = store__audit_add(a->st, &row);
	if (err)
		pr_err("denied %s to %s, and the refusal could not be written to the audit log: %s", object,
		       peer->address, strerror(-err));
	else
		a->skipped = 0;
}

enum rpc_code access__authorize(void *arg, const struct rpc_peer *peer, const char *method, char *why,
				size_t why_len)
{
	struct access *a = arg;
	const char *object = method;

	if (authz__call(peer, method, why, why_len) == 0)
		return RPC_OK;
	if (strncmp(object, SERVICE_PREFIX, strlen(SERVICE_PREFIX)) == 0)
		object += strlen(SERVICE_PREFIX);
	access__denied(a, peer, object, why);
	return RPC_PERMISSION_DENIED;
}

void access__counts(const struct access *a, unsigned long *denied, unsigned long *unaudited)
{
	*denied = a->denied;
	*unaudited = a->unaudited;
}
