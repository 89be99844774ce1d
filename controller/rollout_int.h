/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rollout_int.h — private to the rollout engine (rollout.c: lifecycle, history,
 * selection and operator actions; rollout_wave.c: starting rollouts and the wave state
 * machine; rollout_plan.c: dry runs). Nothing else includes it.
 */
#ifndef SLUICE_CONTROLLER_ROLLOUT_INT_H
#define SLUICE_CONTROLLER_ROLLOUT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "rollout.h"
#include "store.h"

/* One agent of an active rollout. */
struct rollout_member {
	struct store_rollout_agent a;
	bool dirty; /* changed since the last save */
};

/* A running or paused rollout. */
struct rollout_active {
	struct store_rollout r;
	struct rollout_member *m; /* sorted by node id; wave w is m[start[w]] .. m[start[w + 1] - 1] */
	size_t n;
	size_t *start;
	/* The change the next save commits. */
	bool dirty;		   /* the row or its waves changed */
	struct store_desired *pend; /* desired revisions to record, then send; node ids owned */
	size_t n_pend, cap_pend;
	uint32_t send_wave;	   /* 1 + the wave whose agents are to be sent the revision */
	bool audit_pending;
	char audit_key[STORE_KEY_LEN];
	char audit_who[300];
	char audit_action[40];
	char audit_detail[700];
	struct rollout_active *next;
};

/* What selection needs of every recent rollout, newest last. */
struct rollout_hist {
	uint64_t id;
	enum store_rollout_state state;
	uint64_t revision;
	struct store_label *selector;
	size_t n_selector;
	struct rollout_active *active; /* while running or paused */
};

struct rollout_engine {
	struct store *st;
	struct rollout_fleet fleet;
	struct rollout_clock clock;
	struct rollout_active *active;
	struct rollout_hist *hist;
	size_t n_hist, cap_hist;
};

int64_t rollout_int__now(struct rollout_engine *e);

/* vsnprintf into err: the messages the engine's calls return. */
void rollout_int__msg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A revision as people see it: STORE_REVISION_NONE shows as 0. */
uint64_t rollout_int__shown(uint64_t rev);

/* Deep copy of labels (*out NULL when n is 0). On -ENOMEM *out holds what was copied. */
int rollout_int__labels_dup(const struct store_label *in, size_t n, struct store_label **out, size_t *n_out);

/* The member for node_id, or NULL. */
struct rollout_member *rollout_int__member(const struct rollout_active *ro, const char *node_id);

/* Sorts the members by node id and computes ro->start from their waves (each wave must
 * be a consecutive run of that order). 0, -ENOMEM, or -EBADMSG when it is not. */
int rollout_int__index(struct rollout_active *ro);

/* A random idempotency key (time and a counter when the kernel has no randomness). */
void rollout_int__new_key(char out[STORE_KEY_LEN]);

/* Takes a finished rollout out of the active list once its last change is stored
 * (else the tick retries later), and updates its history entry. */
void rollout_int__retire(struct rollout_engine *e, struct rollout_active *ro);

/* Accepts NULL. */
void rollout_int__active_free(struct rollout_active *ro);

/* Queues "node_id should run rev" for the next save (node_id is copied). 0 or -ENOMEM. */
int rollout_int__want(struct rollout_active *ro, const char *node_id, uint64_t rev);

/* Sets the audit row of the next save. */
void rollout_int__audit(struct rollout_active *ro, const char *who, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* After a commit: tells the connected agents their new desired revisions (the queued
 * ones, and the agents of a wave that started). */
void rollout_int__tell(struct rollout_engine *e, struct rollout_active *ro);

/* Commits the pending change, then sends the desired revisions. 0 or -errno (kept
 * pending for the next try). */
int rollout_int__save(struct rollout_engine *e, struct rollout_active *ro);

/* Runs the wave state machine of a RUNNING rollout as far as it can go now. */
void rollout_int__advance(struct rollout_engine *e, struct rollout_active *ro);

/* JSON log lines written between these carry the rollout's id and revision. */
static inline void rollout_int__scope_begin(const struct rollout_active *ro)
{
	log__scope_begin_u64("rollout", ro->r.id);
	log__scope_begin_u64("revision", ro->r.revision);
}

static inline void rollout_int__scope_end(void)
{
	log__scope_end();
	log__scope_end();
}

/* Ends ro as FAILED or ABORTED (rolling the started waves back) or SUPERSEDED (leaving
 * its agents where they are), with reason; who is recorded in the audit row. */
void rollout_int__stop(struct rollout_engine *e, struct rollout_active *ro, enum store_rollout_state state,
		       const char *who, const char *reason);

/* Drops everything older than the newest rollout that succeeded for every agent, and
 * what lies beyond ROLLOUT_HISTORY entries. */
void rollout_int__hist_trim(struct rollout_engine *e);

/* Appends a history entry (newest last). 0 or -ENOMEM. */
int rollout_int__hist_add(struct rollout_engine *e, const struct store_rollout *r, struct rollout_active *ro);

struct rollout_hist *rollout_int__hist_find(struct rollout_engine *e, uint64_t id);

#endif
