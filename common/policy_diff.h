/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_diff.h — what changed between two policies: rules and routes added, removed
 * and changed, and for a changed one every field that differs, with its value before
 * and after. Used by `sluicectl describe revision N --diff M`, the controller's dry-run
 * plan and anything else that compares two Sluice__V1__Policy values.
 *
 * Rules and routes are matched by name. Fields are compared in the policy file's JSON
 * schema (policy_json.c), so values read the way an operator writes them
 * ("dst_ports": [80, "8000-8100"]) and field paths follow the file:
 * "priority", "match.dst_ports", "action", "frontend.port", "backends[1].weight".
 * A rule whose priority is unchanged but whose place among rules of the same priority
 * moved (which decides ties) changes in the pseudo-field "position" (1-based index in
 * the rules list). The rollout hint is not content and is not compared.
 */
#ifndef SLUICE_POLICY_DIFF_H
#define SLUICE_POLICY_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "sluice/v1/policy.pb-c.h"

enum policy_diff_kind { POLICY_DIFF_RULE = 0, POLICY_DIFF_ROUTE = 1 };
enum policy_diff_op { POLICY_DIFF_ADDED = 0, POLICY_DIFF_REMOVED = 1, POLICY_DIFF_CHANGED = 2 };

/* One field of a changed rule or route. */
struct policy_diff_field {
	char *path;     /* "match.dst_ports" */
	json_t *before; /* NULL: the field was absent (e.g. no sample) */
	json_t *after;  /* NULL: the field is gone */
};

struct policy_diff_entry {
	enum policy_diff_kind kind;
	enum policy_diff_op op;
	char *name;
	json_t *object;			 /* the rule or route as in the file; the old one when removed */
	struct policy_diff_field *fields; /* CHANGED only, in schema order */
	size_t n_fields;
};

/* Counts are indexed [kind][op]. */
struct policy_diff {
	struct policy_diff_entry *entries; /* rules, then routes; each in the newer policy's
					    * order, removed ones last in the older one's order */
	size_t n;
	size_t count[2][3];
};

/*
 * Compares from (older) with to (newer) into *out (zeroed first; release with
 * policy_diff__clear). Either policy may be NULL, meaning empty. 0 or -ENOMEM.
 */
int policy_diff__compute(const Sluice__V1__Policy *from, const Sluice__V1__Policy *to, struct policy_diff *out);

/* Frees what d holds and zeroes it. Accepts NULL. */
void policy_diff__clear(struct policy_diff *d);

/*
 * The diff as JSON (stable, for scripts):
 *   {"rules":  {"added": [RULE], "removed": [RULE],
 *               "changed": [{"name", "changes": [{"field", "before", "after"}]}]},
 *    "routes": {same with ROUTE},
 *    "summary": {"rules": {"added": N, "removed": N, "changed": N}, "routes": {...}}}
 * RULE and ROUTE are in the policy file's schema; an absent before/after is null.
 * New reference, NULL on ENOMEM.
 */
json_t *policy_diff__json(const struct policy_diff *d);

/*
 * The diff for people, one object per block:
 *   + rule block-ssh: {"priority": 10, ...}
 *   - route old-api
 *   ~ rule block-telnet
 *       match.dst_ports: [23] -> [23, 2323]
 * color adds ANSI green/red/yellow (use it only on a terminal). Prints "no changes"
 * when there are none.
 */
void policy_diff__print(const struct policy_diff *d, FILE *out, bool color);

/* "rules: 1 added, 0 removed, 2 changed; routes: none changed" or "no changes". */
void policy_diff__summary(const struct policy_diff *d, char *buf, size_t len);

/* A field value as one line of text: strings bare, everything else compact JSON,
 * "(none)" for NULL. Returns buf. */
const char *policy_diff__value_text(const json_t *v, char *buf, size_t len);

#endif
