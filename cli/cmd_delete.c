// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_delete.c — `sluicectl delete agent NODE`: the controller forgets an agent that is
 * gone (RemoveAgent, admin only), with an audit entry; a connected agent is refused.
 * -o json|yaml prints {"node_id", "removed": true, "applied_hash"}.
 */
#include <jansson.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "sluice/v1/control.pb-c.h"

int cli_cmd__delete_agent(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__RemoveAgentRequest req = SLUICE__V1__REMOVE_AGENT_REQUEST__INIT;
	Sluice__V1__RemoveAgentResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	char what[300];
	int rc = CLI_EXIT_FAIL;

	req.node_id = (char *)o->node;
	snprintf(what, sizeof(what), "delete agent %s", o->node);
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	if (cli_conn__call(&c, CLI_METHOD("RemoveAgent"), &req.base, &sluice__v1__remove_agent_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(&c, what, &st);
		goto cleanup;
	}
	if (cli_render__structured(o))
		cli_render__data(o,
				 json_pack("{s:s, s:b, s:s}", "node_id", o->node, "removed", 1, "applied_hash",
					   resp->applied_hash),
				 out);
	else
		fprintf(out, "agent %s removed\n", o->node);
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__remove_agent_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}
