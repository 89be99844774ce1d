// SPDX-License-Identifier: Apache-2.0
/*
 * controller_metrics.c — see controller_metrics.h. Label values are lower case
 * ("synced", "running"); state names come from the store's enums.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "controller_metrics.h"

#define REFRESH_MS 1000

struct controller_metrics {
	struct metrics_family *agents, *connected, *rollouts, *revision;
	struct metrics_family *push, *nacks, *rpcs, *rpc_seconds, *writes;
	int64_t refreshed_ms;
	bool warned; /* a failed refresh was logged */
};

/* Upper bounds, in seconds. Pushes span a LAN round trip to a slow compile of 16k rules. */
static const double push_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
static const double rpc_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
static const double write_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const agent_states[STORE_AGENT_STATES] = {
	[STORE_AGENT_SYNCED] = "synced",
	[STORE_AGENT_PENDING] = "pending",
	[STORE_AGENT_NACKED] = "nacked",
	[STORE_AGENT_OFFLINE] = "offline",
};

static const char *const rollout_states[STORE_ROLLOUT_STATES] = {
	[STORE_ROLLOUT_RUNNING] = "running",	 [STORE_ROLLOUT_PAUSED] = "paused",
	[STORE_ROLLOUT_SUCCEEDED] = "succeeded", [STORE_ROLLOUT_FAILED] = "failed",
	[STORE_ROLLOUT_ABORTED] = "aborted",	 [STORE_ROLLOUT_SUPERSEDED] = "superseded",
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct controller_metrics *controller_metrics__new(struct metrics *m)
{
	static const char *const state[] = { "state", NULL }, *const result[] = { "result", NULL };
	static const char *const call[] = { "service", "method", "code", NULL }, *const method[] = { "service", "method", NULL };
	static const char *const sync[] = { "sync", NULL }, *const version[] = { "version", NULL };
	struct controller_metrics *cm = calloc(1, sizeof(*cm));
	struct metrics_family *info;
	int err = 0;

	if (!cm)
		return NULL;
	cm->agents = metrics__gauge(m, "sluice_controller_agents", "Known agents by state.", state);
	cm->connected = metrics__gauge(m, "sluice_controller_agents_connected", "Agents with an open stream.", NULL);
	cm->rollouts = metrics__gauge(m, "sluice_controller_rollouts", "Rollouts by state.", state);
	cm->revision = metrics__gauge(m, "sluice_controller_revision", "Newest stored policy revision (0: none).", NULL);
	cm->push = metrics__histogram(m, "sluice_controller_policy_push_duration_seconds",
				      "Time from sending a policy update to an agent to its answer, by answer (ack, nack).",
				      result, push_bounds, N(push_bounds));
	cm->nacks = metrics__counter(m, "sluice_controller_nacks_total", "Policy updates agents refused (Nack).", NULL);
	cm->rpcs = metrics__counter(m, "sluice_controller_rpcs_total",
				    "Finished gRPC calls and streams, by service, method and status code.", call);
	cm->rpc_seconds = metrics__histogram(m, "sluice_controller_rpc_duration_seconds",
					     "Duration of unary gRPC calls, by service and method.", method, rpc_bounds,
					     N(rpc_bounds));
	cm->writes = metrics__histogram(m, "sluice_controller_store_write_duration_seconds",
					"Database write transactions from BEGIN to COMMIT, by sync mode (full: fsynced policy and audit writes; normal: batched agent liveness).",
					sync, write_bounds, N(write_bounds));
	info = metrics__gauge(m, "sluice_controller_build_info", "Always 1; the label says which version runs.", version);
	if (!cm->agents || !cm->connected || !cm->rollouts || !cm->revision || !cm->push || !cm->nacks || !cm->rpcs ||
	    !cm->rpc_seconds || !cm->writes || !info) {
		err = errno ? errno : EINVAL;
		free(cm);
		errno = err;
		return NULL;
	}
	metrics__set(info, (const char *const[]){ SLUICE_VERSION }, 1);
	/* Every state from the start, so a dashboard sees 0 rather than nothing. */
	for (size_t i = 0; i < STORE_AGENT_STATES; i++) {
		if (agent_states[i])
			metrics__set(cm->agents, &agent_states[i], 0);
	}
	for (size_t i = 0; i < STORE_ROLLOUT_STATES; i++) {
		if (rollout_states[i])
			metrics__set(cm->rollouts, &rollout_states[i], 0);
	}
	cm->refreshed_ms = now_ms() - REFRESH_MS;
	return cm;
}

void controller_metrics__free(struct controller_metrics *cm)
{
	free(cm);
}

void controller_metrics__rpc_done(void *arg, const char *path, bool streaming, enum rpc_code code, double seconds)
{
	struct controller_metrics *cm = arg;
	char service[128] = "unknown", method[128] = "unknown";
	const char *slash = path ? strrchr(path, '/') : NULL;

	/* "/sluice.v1.ControlService/ApplyPolicy" */
	if (path && path[0] == '/' && slash && slash > path + 1) {
		snprintf(service, sizeof(service), "%.*s", (int)(slash - path - 1), path + 1);
		snprintf(method, sizeof(method), "%s", slash + 1);
	}
	metrics__add(cm->rpcs, (const char *const[]){ service, method, rpc_code__name(code) }, 1);
	if (!streaming)
		metrics__observe(cm->rpc_seconds, (const char *const[]){ service, method }, seconds);
}

void controller_metrics__answered(void *arg, const char *node_id, bool acked, double seconds)
{
	struct controller_metrics *cm = arg;

	(void)node_id; /* not a label: one series per agent would not scale with the fleet */
	metrics__observe(cm->push, (const char *const[]){ acked ? "ack" : "nack" }, seconds);
	if (!acked)
		metrics__add(cm->nacks, NULL, 1);
}

void controller_metrics__store_write(void *arg, bool durable, double seconds)
{
	struct controller_metrics *cm = arg;

	metrics__observe(cm->writes, (const char *const[]){ durable ? "full" : "normal" }, seconds);
}

void controller_metrics__refresh(struct controller_metrics *cm, struct store *st, const struct registry *reg)
{
	uint64_t agents[STORE_AGENT_STATES], rollouts[STORE_ROLLOUT_STATES];
	struct store_revision rev;
	int64_t now = now_ms();
	int err;

	if (!cm || now - cm->refreshed_ms < REFRESH_MS)
		return;
	cm->refreshed_ms = now;
	metrics__set(cm->connected, NULL, (double)registry__count(reg));
	err = store__agent_state_counts(st, agents);
	if (!err) {
		for (size_t i = 0; i < STORE_AGENT_STATES; i++) {
			if (agent_states[i])
				metrics__set(cm->agents, &agent_states[i], (double)agents[i]);
		}
		err = store__rollout_state_counts(st, rollouts);
	}
	if (!err) {
		for (size_t i = 0; i < STORE_ROLLOUT_STATES; i++) {
			if (rollout_states[i])
				metrics__set(cm->rollouts, &rollout_states[i], (double)rollouts[i]);
		}
		memset(&rev, 0, sizeof(rev));
		err = store__revision_get(st, 0, false, &rev);
		if (!err)
			metrics__set(cm->revision, NULL, (double)rev.revision);
		store_revision__clear(&rev);
		if (err == -ENOENT)
			err = 0;
	}
	if (err && !cm->warned)
		pr_warn("metrics: cannot read agent and rollout counts from the database: %s", strerror(-err));
	cm->warned = err != 0;
}
