// SPDX-License-Identifier: Apache-2.0
/* authz.c — see authz.h: the role table and the identity checks. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "authz.h"

static const struct {
	const char *group;
	bool read;
	bool change;
} roles[] = {
	{ AUTHZ_GROUP_VIEWER, true, false },
	{ AUTHZ_GROUP_OPERATOR, true, true },
	{ AUTHZ_GROUP_ADMIN, true, true },
};

int authz__control(const struct rpc_peer *peer, enum authz_need need, char *err, size_t errlen)
{
	if (!peer->authenticated)
		return 0;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(peer->group, roles[i].group) != 0)
			continue;
		if (need == AUTHZ_READ ? roles[i].read : roles[i].change)
			return 0;
		snprintf(err, errlen, "'%s' is in group %s, which may only read; changes need %s or %s",
			 peer->identity, peer->group, AUTHZ_GROUP_OPERATOR, AUTHZ_GROUP_ADMIN);
		return -EPERM;
	}
	snprintf(err, errlen, "'%s' (group '%s') may not use the control API; it needs a certificate with O=%s, %s or %s",
		 peer->identity, peer->group, AUTHZ_GROUP_VIEWER, AUTHZ_GROUP_OPERATOR, AUTHZ_GROUP_ADMIN);
	return -EPERM;
}

int authz__agent(const struct rpc_peer *peer, const char *node_id, char *err, size_t errlen)
{
	if (!peer->authenticated)
		return 0;
	if (strcmp(peer->group, AUTHZ_GROUP_AGENT) != 0) {
		snprintf(err, errlen, "'%s' (group '%s') may not connect as an agent; agents need O=%s",
			 peer->identity, peer->group, AUTHZ_GROUP_AGENT);
		return -EPERM;
	}
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
