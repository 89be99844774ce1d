// SPDX-License-Identifier: Apache-2.0
/* authz.c — see authz.h: the methods table, the roles table and the identity checks. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "authz.h"

#define CONTROL "/sluice.v1.ControlService/"
#define AGENT "/sluice.v1.AgentService/"

/* Every RPC the controller serves, and what it needs. Anything else is denied. */
static const struct {
	const char *method;
	enum authz_need need;
} methods[] = {
	{ AGENT "Connect", AUTHZ_AGENT },
	/* viewer: get, describe, watch */
	{ CONTROL "ListRevisions", AUTHZ_READ },
	{ CONTROL "GetRevision", AUTHZ_READ },
	{ CONTROL "ListAgents", AUTHZ_READ },
	{ CONTROL "GetAgent", AUTHZ_READ },
	{ CONTROL "ListAudit", AUTHZ_READ },
	{ CONTROL "ListRollouts", AUTHZ_READ },
	{ CONTROL "GetRollout", AUTHZ_READ },
	{ CONTROL "ListAlerts", AUTHZ_READ },
	{ CONTROL "WatchAlerts", AUTHZ_READ },
	{ CONTROL "GetApiUsage", AUTHZ_READ },
	/* operator: apply, rollouts */
	{ CONTROL "ApplyPolicy", AUTHZ_CHANGE },
	{ CONTROL "StartRollout", AUTHZ_CHANGE },
	{ CONTROL "PauseRollout", AUTHZ_CHANGE },
	{ CONTROL "ResumeRollout", AUTHZ_CHANGE },
	{ CONTROL "AbortRollout", AUTHZ_CHANGE },
	{ CONTROL "UndoRollout", AUTHZ_CHANGE },
	{ CONTROL "AckAlert", AUTHZ_CHANGE },
	/* admin */
	{ CONTROL "RemoveAgent", AUTHZ_ADMIN },
};

#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

/* What each group of people may do; agents are not in it. */
static const struct {
	const char *group;
	bool read, change, admin;
} roles[] = {
	{ AUTHZ_GROUP_VIEWER, true, false, false },
	{ AUTHZ_GROUP_OPERATOR, true, true, false },
	{ AUTHZ_GROUP_ADMIN, true, true, true },
};

const char *authz_need__name(enum authz_need need)
{
	switch (need) {
	case AUTHZ_READ: return "read";
	case AUTHZ_CHANGE: return "change";
	case AUTHZ_ADMIN: return "admin";
	case AUTHZ_AGENT: return "agent";
	}
	return "?";
}

int authz__method_need(const char *method, enum authz_need *need)
{
	for (size_t i = 0; method && i < N_METHODS; i++) {
		if (strcmp(methods[i].method, method) == 0) {
			*need = methods[i].need;
			return 0;
		}
	}
	return -ENOENT;
}

const char *authz__method_at(size_t i)
{
	return i < N_METHODS ? methods[i].method : NULL;
}

/* The groups that may do need, for messages. */
static const char *who_may(enum authz_need need)
{
	switch (need) {
	case AUTHZ_READ: return AUTHZ_GROUP_VIEWER ", " AUTHZ_GROUP_OPERATOR " or " AUTHZ_GROUP_ADMIN;
	case AUTHZ_CHANGE: return AUTHZ_GROUP_OPERATOR " or " AUTHZ_GROUP_ADMIN;
	case AUTHZ_ADMIN: return AUTHZ_GROUP_ADMIN;
	case AUTHZ_AGENT: return AUTHZ_GROUP_AGENT;
	}
	return "?";
}

int authz__control(const struct rpc_peer *peer, enum authz_need need, char *err, size_t errlen)
{
	if (!peer->authenticated)
		return 0;
	if (need == AUTHZ_AGENT) {
		if (strcmp(peer->group, AUTHZ_GROUP_AGENT) == 0)
			return 0;
		snprintf(err, errlen, "'%s' (group '%s') may not connect as an agent; agents need O=%s",
			 peer->identity, peer->group, AUTHZ_GROUP_AGENT);
		return -EPERM;
	}
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		bool ok;

		if (strcmp(peer->group, roles[i].group) != 0)
			continue;
		ok = need == AUTHZ_READ ? roles[i].read : need == AUTHZ_CHANGE ? roles[i].change : roles[i].admin;
		if (ok)
			return 0;
		if (!roles[i].change)
			snprintf(err, errlen, "'%s' is in group %s, which may only read; changes need %s", peer->identity,
				 peer->group, who_may(need));
		else
			snprintf(err, errlen, "'%s' is in group %s; this needs %s", peer->identity, peer->group,
				 who_may(need));
		return -EPERM;
	}
	snprintf(err, errlen, "'%s' (group '%s') may not use the control API; it needs a certificate with O=%s, %s or %s",
		 peer->identity, peer->group, AUTHZ_GROUP_VIEWER, AUTHZ_GROUP_OPERATOR, AUTHZ_GROUP_ADMIN);
	return -EPERM;
}

int authz__call(const struct rpc_peer *peer, const char *method, char *err, size_t errlen)
{
	enum authz_need need;

	if (!peer->authenticated)
		return 0;
	if (authz__method_need(method, &need)) {
		snprintf(err, errlen, "'%s' may not call %s: the controller grants it to nobody", peer->identity,
			 method ? method : "?");
		return -EPERM;
	}
	return authz__control(peer, need, err, errlen);
}

int authz__agent(const struct rpc_peer *peer, const char *node_id, char *err, size_t errlen)
{
	if (!peer->authenticated)
		return 0;
	if (authz__control(peer, AUTHZ_AGENT, err, errlen))
		return -EPERM;
	if (strcmp(peer->identity, node_id) != 0) {
		snprintf(err, errlen, "certificate '%s' may not connect as node '%s'; the node id must equal the certificate CN",
			 peer->identity, node_id);
		return -EPERM;
	}
	return 0;
}

void authz__who(const struct rpc_peer *peer, char *out, size_t len)
{
	if (peer->authenticated)
		snprintf(out, len, "%s", peer->identity);
	else
		snprintf(out, len, "insecure:%s", peer->address);
}
