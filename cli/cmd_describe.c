// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_describe.c — `sluicectl describe agent NODE` and `describe revision N`: one
 * object with everything known about it. -o json|yaml prints the agent object of render.h,
 * or the revision object with "policy" (the policy file's schema) added.
 */
#include <time.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "common/policy.h"
#include "sluice/v1/control.pb-c.h"

int cli_cmd__describe_agent(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__GetAgentRequest req = SLUICE__V1__GET_AGENT_REQUEST__INIT;
	Sluice__V1__GetAgentResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	enum rpc_code code;
	int rc = CLI_EXIT_FAIL;

	req.node_id = (char *)o->node;
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	code = cli_conn__call(&c, CLI_METHOD("GetAgent"), &req.base, &sluice__v1__get_agent_response__descriptor,
			      (ProtobufCMessage **)&resp, &st);
	if (code == RPC_NOT_FOUND) {
		cli__error(err, "no agent named '%s' (list them with: sluicectl get agents)", o->node);
		goto cleanup;
	}
	if (code != RPC_OK) {
		cli_conn__report(&c, "describe agent", &st);
		goto cleanup;
	}
	if (!resp->agent) {
		cli__error(err, "the controller answered without the agent '%s'; see its log", o->node);
		goto cleanup;
	}
	if (cli_render__structured(o))
		cli_render__data(o, cli_render__agent_json(resp->agent), out);
	else
		cli_render__agent_describe(resp->agent, (int64_t)time(NULL), out);
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__get_agent_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}

int cli_cmd__describe_revision(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__GetRevisionRequest req = SLUICE__V1__GET_REVISION_REQUEST__INIT;
	Sluice__V1__GetRevisionResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	enum rpc_code code;
	int rc = CLI_EXIT_FAIL;

	req.revision = o->revision;
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	code = cli_conn__call(&c, CLI_METHOD("GetRevision"), &req.base, &sluice__v1__get_revision_response__descriptor,
			      (ProtobufCMessage **)&resp, &st);
	if (code == RPC_NOT_FOUND) {
		cli__error(err, "no revision %llu (list them with: sluicectl get revisions)",
			   (unsigned long long)o->revision);
		goto cleanup;
	}
	if (code != RPC_OK) {
		cli_conn__report(&c, "describe revision", &st);
		goto cleanup;
	}
	if (cli_render__structured(o)) {
		cli_render__data(o, cli_render__revision_doc(resp->info, resp->policy), out);
	} else {
		cli_render__revision_describe(resp->info, resp->policy, (int64_t)time(NULL), out);
	}
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__get_revision_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}
