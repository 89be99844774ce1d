/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rollout.h — the rollout engine (DESIGN.md §4): moves a revision onto the agents a
 * label selector picks, all at once or in waves (canary N% first, then batches of M%),
 * judging every wave by its gates before the next one starts, and rolling the started
 * waves back to each agent's previous revision when a gate fails or an operator aborts.
 *
 * Waves. The agents connected when the rollout starts and matching its selector, sorted
 * by node id, are cut into waves: ceil(canary% of them) (at least one), then batches of
 * ceil(batch%) (at least one each); no canary and no batch means one wave. Selected
 * agents that are offline at the start are in no wave; like agents that connect later,
 * they get the revision their labels select (below) when they connect.
 *
 * Gates, per wave. Every agent answers within the ack timeout: a Nack fails the wave at
 * once; an agent still connected and silent at the deadline fails it; an agent offline
 * at the deadline is excused (OFFLINE) — a machine going down is not evidence against
 * the policy, and it gets the revision if the rollout succeeds. Once all have answered,
 * the wave "bakes" for the interval (with a drop-rate gate: for at least
 * ROLLOUT_MIN_BAKE_S, last wave included), and then, with a drop-rate gate, each agent's
 * drop rate (dropped / seen packets, from its Status counters) after the change may
 * differ from the rate before by at most that many percentage points.
 *
 * Failure (or abort): the rollout stops; every agent of the started waves is sent back
 * to its previous revision (STORE_REVISION_NONE when it had none); later waves are
 * never touched. Pause stops new waves and gate judgements; resume gives the current
 * wave a fresh ack window. Undo of a finished rollout stores a new revision with the
 * content its agents had before and rolls that out the same way.
 *
 * Selection ("the revision its labels select"): for a connecting agent, the newest
 * rollout whose selector matches its labels and that either SUCCEEDED, or is running
 * with the agent in a started wave (not rolled back), decides its revision; failed and
 * aborted rollouts are skipped; with no such rollout the agent keeps its stored desired
 * revision. Two active rollouts never share an agent: a new rollout that covers every
 * agent of an active one supersedes it (SUPERSEDED, no rollback: the new one moves those
 * agents on), one that would share only some of them is refused.
 *
 * State. Every transition is one durable store transaction (rollout row, waves, agents,
 * desired revisions, audit), so a controller killed at any point resumes: the engine
 * reloads active rollouts and gives a running wave a fresh ack window (its agents must
 * reconnect first). Time is unix milliseconds from a clock the caller may replace.
 *
 * Everything runs on the rpc server thread; the engine takes no locks.
 */
#ifndef SLUICE_CONTROLLER_ROLLOUT_H
#define SLUICE_CONTROLLER_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "store.h"
#include "sluice/v1/policy.pb-c.h"

#define ROLLOUT_DEFAULT_ACK_TIMEOUT_S 60
#define ROLLOUT_MIN_BAKE_S 10 /* a drop-rate gate watches a wave at least this long */
#define ROLLOUT_HISTORY 1000  /* finished rollouts kept in memory for selection */

/* The agents the engine acts on: the registry in the controller, a fake in tests. */
struct rollout_fleet {
	/* A connected agent's record, or NULL when it is not connected. */
	const struct store_agent *(*agent)(void *ctx, const char *node_id);
	/* Calls fn for every connected agent. */
	void (*foreach)(void *ctx, void (*fn)(void *arg, const struct store_agent *a), void *arg);
	/* A connected agent should now run rev (already recorded in the store). */
	void (*set_desired)(void *ctx, const char *node_id, uint64_t rev);
	/* Its newest and previous datapath counters. 0 or -ENOENT. */
	int (*counters)(void *ctx, const char *node_id, struct registry_counters *newest,
			struct registry_counters *previous);
	void *ctx;
};

/* The registry as a fleet. */
void rollout_fleet__from_registry(struct rollout_fleet *f, struct registry *reg);

/* Unix time in milliseconds. */
struct rollout_clock {
	int64_t (*now_ms)(void *ctx);
	void *ctx;
};

/* What to roll out and how. Pointers are only read. */
struct rollout_request {
	uint64_t revision;
	const struct store_label *selector; /* every label must match; none: every agent */
	size_t n_selector;
	uint32_t canary_percent;	    /* 0..100; 0: no canary wave */
	uint32_t batch_percent;		    /* 0..100; 0: the rest in one wave */
	uint32_t interval_seconds;	    /* between waves */
	uint32_t ack_timeout_seconds;	    /* 0: ROLLOUT_DEFAULT_ACK_TIMEOUT_S */
	double max_drop_rate_change;	    /* percentage points; 0: no drop-rate gate */
	const char *author;
	const char *message;
};

struct rollout_engine;

/* An engine over st and fleet (both borrowed); clock NULL: the real clock. Loads the
 * active rollouts and the recent history. NULL + errno. */
struct rollout_engine *rollout__new(struct store *st, const struct rollout_fleet *fleet,
				    const struct rollout_clock *clock);

/* Writes what is unwritten and frees. Accepts NULL. */
void rollout__free(struct rollout_engine *e);

/*
 * Starts a rollout and its first wave. 0 with the id in *id, or -errno with a message
 * in err: -ENOENT (no such revision), -EINVAL (a percentage over 100), -EBUSY (an active
 * rollout holds some, not all, of these agents), others from the store.
 */
int rollout__start(struct rollout_engine *e, const struct rollout_request *req, uint64_t *id, char *err,
		   size_t errlen);

/* Would a rollout with this selector be refused because an active rollout holds some,
 * not all, of its agents? 0, or -EBUSY with the reason in err. */
int rollout__check(struct rollout_engine *e, const struct store_label *selector, size_t n_selector, char *err,
		   size_t errlen);

/* Operator actions by who. 0, or -errno with a message in err: -ENOENT (no such
 * rollout), -EALREADY / -EINVAL (not in a state that allows it). Undo returns the new
 * revision and the new rollout's id. */
int rollout__pause(struct rollout_engine *e, uint64_t id, const char *who, char *err, size_t errlen);
int rollout__resume(struct rollout_engine *e, uint64_t id, const char *who, char *err, size_t errlen);
int rollout__abort(struct rollout_engine *e, uint64_t id, const char *who, const char *reason, char *err,
		   size_t errlen);
int rollout__undo(struct rollout_engine *e, uint64_t id, const char *who, uint64_t *new_revision, uint64_t *new_id,
		  char *err, size_t errlen);

/* Advances every active rollout (from the server tick). */
void rollout__tick(struct rollout_engine *e);

/* Writes member states not yet written (before answering a read). */
void rollout__flush(struct rollout_engine *e);

/* The revision agent a should run, by the selection rule above (a->desired_revision
 * when no rollout decides). The registry's Hello hook. */
uint64_t rollout__select(struct rollout_engine *e, const struct store_agent *a);

/* Does every label of the selector appear in labels with the same value? */
bool rollout__selector_matches(const struct store_label *sel, size_t n_sel, const struct store_label *labels,
			       size_t n_labels);

/* Wave sizes for n agents: fills sizes (room for n entries) and returns the count. */
size_t rollout__wave_sizes(size_t n, uint32_t canary_percent, uint32_t batch_percent, uint32_t *sizes);

/* ---- dry run (rollout_plan.c) ------------------------------------------------------- */

/* One known agent in a dry run. */
struct rollout_plan_agent {
	char *node_id;
	enum store_agent_state state;
	bool selected;
	int32_t wave; /* -1: in no wave */
	uint64_t from_revision;
	uint32_t rules_added, rules_removed, rules_changed;
	uint32_t routes_added, routes_removed, routes_changed;
	uint32_t rules, rule_capacity;
	bool fits, unchanged;
};

struct rollout_plan {
	struct rollout_plan_agent *agents; /* sorted by node id */
	size_t n;
	uint32_t waves;
	char **warnings;
	size_t n_warnings;
};

/* What a rollout of policy p (content hash hash) with this selector and wave split would
 * do to every known agent. 0 or -errno. */
int rollout__plan(struct rollout_engine *e, const Sluice__V1__Policy *p, const char *hash,
		  const struct rollout_request *req, struct rollout_plan *out);

/* Accepts NULL. */
void rollout_plan__clear(struct rollout_plan *plan);

#endif
