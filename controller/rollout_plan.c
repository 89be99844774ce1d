// SPDX-License-Identifier: Apache-2.0
/*
 * rollout_plan.c — the dry run of a rollout: for every known agent, whether the
 * selector picks it, its wave, what would change for it (rules and routes added,
 * removed and changed against the revision it runs, by common/policy_diff) and whether
 * the new policy fits its capacity. Nothing is stored or sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/policy_diff.h"
#include "rollout_int.h"

#define DIFF_MEMO 16

/* Diff counts against one revision, computed once however many agents run it. */
struct diff_memo {
	uint64_t rev[DIFF_MEMO];
	size_t count[DIFF_MEMO][2][3];
	size_t n;
};

/* The diff counts from what agent a runs to p: against its stored revision when the
 * store has it with the same hash, else against nothing (all of p is new to it). */
static int diff_counts(struct store *st, struct diff_memo *memo, const struct store_agent *a,
		       const Sluice__V1__Policy *p, size_t out[2][3])
{
	Sluice__V1__Policy *from = NULL;
	struct store_revision r = { 0 };
	struct policy_diff d;
	uint64_t key = a->applied_revision;
	size_t slot;
	int err;

	if (key && store__revision_get(st, key, true, &r) == 0 && strcmp(r.hash, a->applied_hash) == 0)
		from = policy__unpack(r.policy, r.policy_len);
	else
		key = 0; /* runs nothing, or something this store does not know */
	for (size_t i = 0; i < memo->n && i < DIFF_MEMO; i++) {
		if (memo->rev[i] == key) {
			memcpy(out, memo->count[i], sizeof(memo->count[i]));
			err = 0;
			goto cleanup;
		}
	}
	err = policy_diff__compute(from, p, &d);
	if (err)
		goto cleanup;
	slot = memo->n++ % DIFF_MEMO;
	memo->rev[slot] = key;
	memcpy(memo->count[slot], d.count, sizeof(d.count));
	memcpy(out, d.count, sizeof(d.count));
	policy_diff__clear(&d);
cleanup:
	policy__free(from);
	store_revision__clear(&r);
	return err;
}

static int add_warning(struct rollout_plan *plan, const char *text)
{
	char **v = realloc(plan->warnings, (plan->n_warnings + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	plan->warnings = v;
	v[plan->n_warnings] = strdup(text);
	if (!v[plan->n_warnings])
		return -ENOMEM;
	plan->n_warnings++;
	return 0;
}

int rollout__plan(struct rollout_engine *e, const Sluice__V1__Policy *p, const char *hash,
		  const struct rollout_request *req, struct rollout_plan *out)
{
	struct store_agent *agents = NULL;
	struct diff_memo memo = { 0 };
	uint32_t *sizes = NULL;
	size_t n = 0, online = 0, too_small = 0, offline = 0, w = 0, in_wave = 0;
	char text[700];
	int err;

	memset(out, 0, sizeof(*out));
	err = store__agent_list(e->st, &agents, &n); /* sorted by node id, like waves */
	if (err)
		return err;
	out->agents = calloc(n + 1, sizeof(*out->agents));
	sizes = calloc(n + 1, sizeof(*sizes));
	if (!out->agents || !sizes) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (rollout__selector_matches(req->selector, req->n_selector, agents[i].labels, agents[i].n_labels) &&
		    e->fleet.agent(e->fleet.ctx, agents[i].node_id))
			online++;
	}
	out->waves = (uint32_t)rollout__wave_sizes(online, req->canary_percent, req->batch_percent, sizes);
	for (size_t i = 0; i < n; i++) {
		const struct store_agent *a = e->fleet.agent(e->fleet.ctx, agents[i].node_id);
		struct rollout_plan_agent *pa = &out->agents[out->n];
		size_t cnt[2][3];

		if (!a)
			a = &agents[i];
		pa->node_id = strdup(a->node_id);
		if (!pa->node_id) {
			err = -ENOMEM;
			goto cleanup;
		}
		out->n++;
		pa->state = a == &agents[i] ? STORE_AGENT_OFFLINE : a->state;
		pa->selected = rollout__selector_matches(req->selector, req->n_selector, a->labels, a->n_labels);
		pa->wave = -1;
		if (pa->selected && a != &agents[i]) {
			pa->wave = (int32_t)w;
			if (++in_wave == sizes[w]) {
				w++;
				in_wave = 0;
			}
		} else if (pa->selected) {
			offline++;
		}
		pa->from_revision = a->applied_revision;
		pa->unchanged = strcmp(a->applied_hash, hash) == 0;
		err = diff_counts(e->st, &memo, a, p, cnt);
		if (err)
			goto cleanup;
		pa->rules_added = (uint32_t)cnt[POLICY_DIFF_RULE][POLICY_DIFF_ADDED];
		pa->rules_removed = (uint32_t)cnt[POLICY_DIFF_RULE][POLICY_DIFF_REMOVED];
		pa->rules_changed = (uint32_t)cnt[POLICY_DIFF_RULE][POLICY_DIFF_CHANGED];
		pa->routes_added = (uint32_t)cnt[POLICY_DIFF_ROUTE][POLICY_DIFF_ADDED];
		pa->routes_removed = (uint32_t)cnt[POLICY_DIFF_ROUTE][POLICY_DIFF_REMOVED];
		pa->routes_changed = (uint32_t)cnt[POLICY_DIFF_ROUTE][POLICY_DIFF_CHANGED];
		pa->rules = (uint32_t)p->n_rules;
		pa->rule_capacity = a->rule_capacity;
		pa->fits = !a->rule_capacity || p->n_rules <= a->rule_capacity;
		if (pa->selected && !pa->fits)
			too_small++;
	}
	if (too_small) {
		snprintf(text, sizeof(text), "%zu selected agent%s cannot hold %zu rules: the rollout would fail at %s wave",
			 too_small, too_small > 1 ? "s" : "", p->n_rules, too_small > 1 ? "their" : "its");
		err = add_warning(out, text);
	}
	if (!err && offline) {
		snprintf(text, sizeof(text), "%zu selected agent%s offline: in no wave, %s the revision on reconnecting if the rollout succeeds",
			 offline, offline > 1 ? "s are" : " is", offline > 1 ? "they get" : "it gets");
		err = add_warning(out, text);
	}
	if (!err && rollout__check(e, req->selector, req->n_selector, text, sizeof(text)) == -EBUSY)
		err = add_warning(out, text);
cleanup:
	store_agent__free_array(agents, n);
	free(sizes);
	if (err)
		rollout_plan__clear(out);
	return err;
}

void rollout_plan__clear(struct rollout_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n; i++)
		free(plan->agents[i].node_id);
	free(plan->agents);
	for (size_t i = 0; i < plan->n_warnings; i++)
		free(plan->warnings[i]);
	free(plan->warnings);
	memset(plan, 0, sizeof(*plan));
}
