// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_get.c — `sluicectl get agents|revisions|rules|routes|policy`: one list call
 * each, printed as a table, names (-o name) or, with -o json|yaml, as documented in
 * render.h; and `__complete agents`, the agent names the completion script asks for.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "common/policy.h"
#include "sluice/v1/control.pb-c.h"

/* Fills req's selector from "k=v,k2=v2" (checked by the parser). *copy and *entries
 * are the caller's to free. 0 or -ENOMEM. */
static int build_selector(const char *sel, Sluice__V1__ListAgentsRequest *req, char **copy,
			  Sluice__V1__ListAgentsRequest__SelectorEntry **entries,
			  Sluice__V1__ListAgentsRequest__SelectorEntry ***ptrs)
{
	size_t n = 1, i = 0;
	char *save = NULL, *item;

	for (const char *p = sel; *p; p++)
		n += *p == ',';
	*copy = strdup(sel);
	*entries = calloc(n, sizeof(**entries));
	*ptrs = calloc(n, sizeof(**ptrs));
	if (!*copy || !*entries || !*ptrs)
		return -ENOMEM;
	for (item = strtok_r(*copy, ",", &save); item && i < n; item = strtok_r(NULL, ",", &save), i++) {
		char *eq = strchr(item, '=');

		sluice__v1__list_agents_request__selector_entry__init(&(*entries)[i]);
		*eq = '\0';
		(*entries)[i].key = item;
		(*entries)[i].value = eq + 1;
		(*ptrs)[i] = &(*entries)[i];
	}
	req->n_selector = i;
	req->selector = *ptrs;
	return 0;
}

/* ListAgents with o's selector into *resp. 0, or -1 after reporting the failure (when
 * quiet is false). */
static int list_agents(const struct cli_opts *o, bool quiet, FILE *err, Sluice__V1__ListAgentsResponse **resp)
{
	Sluice__V1__ListAgentsRequest req = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
	Sluice__V1__ListAgentsRequest__SelectorEntry *entries = NULL, **ptrs = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	char *copy = NULL;
	int rc = -1;

	*resp = NULL;
	if (o->selector && build_selector(o->selector, &req, &copy, &entries, &ptrs)) {
		if (!quiet)
			cli__error(err, "out of memory");
		goto cleanup;
	}
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	if (cli_conn__call(&c, CLI_METHOD("ListAgents"), &req.base, &sluice__v1__list_agents_response__descriptor,
			   (ProtobufCMessage **)resp, &st) != RPC_OK) {
		if (!quiet)
			cli_conn__report(&c, o->cmd_name, &st);
		goto cleanup;
	}
	rc = 0;
cleanup:
	cli_conn__close(&c);
	free(copy);
	free(entries);
	free(ptrs);
	return rc;
}

int cli_cmd__get_agents(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__ListAgentsResponse *resp = NULL;

	if (list_agents(o, false, err, &resp))
		return CLI_EXIT_FAIL;
	if (cli_render__structured(o)) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < resp->n_agents; i++)
			json_array_append_new(a, cli_render__agent_json(resp->agents[i]));
		cli_render__data(o, a, out);
	} else if (o->output == CLI_OUT_NAME) {
		for (size_t i = 0; i < resp->n_agents; i++)
			fprintf(out, "%s\n", resp->agents[i]->node_id);
	} else if (resp->n_agents == 0) {
		fprintf(err, "No agents%s. Agents appear here once they connect (sluice-agent --controller %s ...).\n",
			o->selector ? " match the selector" : "", o->controller);
	} else {
		cli_render__agents_table(resp->agents, resp->n_agents, (int64_t)time(NULL), o->output == CLI_OUT_WIDE,
					 out);
	}
	sluice__v1__list_agents_response__free_unpacked(resp, NULL);
	return CLI_EXIT_OK;
}

int cli_cmd__complete(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__ListAgentsResponse *resp = NULL;
	FILE *devnull = fopen("/dev/null", "w");
	int rc = CLI_EXIT_FAIL;

	/* Completion must never print errors into the operator's command line. */
	if (list_agents(o, true, devnull ? devnull : err, &resp) == 0) {
		for (size_t i = 0; i < resp->n_agents; i++)
			fprintf(out, "%s\n", resp->agents[i]->node_id);
		sluice__v1__list_agents_response__free_unpacked(resp, NULL);
		rc = CLI_EXIT_OK;
	}
	if (devnull)
		fclose(devnull);
	return rc;
}

int cli_cmd__get_revisions(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__ListRevisionsRequest req = SLUICE__V1__LIST_REVISIONS_REQUEST__INIT;
	Sluice__V1__ListRevisionsResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	int rc = CLI_EXIT_FAIL;

	req.limit = o->limit;
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	if (cli_conn__call(&c, CLI_METHOD("ListRevisions"), &req.base,
			   &sluice__v1__list_revisions_response__descriptor, (ProtobufCMessage **)&resp,
			   &st) != RPC_OK) {
		cli_conn__report(&c, "get revisions", &st);
		goto cleanup;
	}
	if (cli_render__structured(o)) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < resp->n_revisions; i++)
			json_array_append_new(a, cli_render__revision_json(resp->revisions[i]));
		cli_render__data(o, a, out);
	} else if (o->output == CLI_OUT_NAME) {
		for (size_t i = 0; i < resp->n_revisions; i++)
			fprintf(out, "%llu\n", (unsigned long long)resp->revisions[i]->revision);
	} else if (resp->n_revisions == 0) {
		fprintf(err, "No revisions yet: store one with sluicectl apply -f FILE.\n");
	} else {
		cli_render__revisions_table(resp->revisions, resp->n_revisions, (int64_t)time(NULL),
					    o->output == CLI_OUT_WIDE, out);
	}
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__list_revisions_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}

static void print_names(const Sluice__V1__Policy *p, enum cli_cmd what, FILE *out)
{
	for (size_t i = 0; p && what != CLI_CMD_GET_ROUTES && i < p->n_rules; i++)
		fprintf(out, "%s%s\n", what == CLI_CMD_GET_POLICY ? "rule/" : "", p->rules[i]->name);
	for (size_t i = 0; p && what != CLI_CMD_GET_RULES && i < p->n_routes; i++)
		fprintf(out, "%s%s\n", what == CLI_CMD_GET_POLICY ? "route/" : "", p->routes[i]->name);
}

int cli_cmd__get_policy(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__GetRevisionRequest req = SLUICE__V1__GET_REVISION_REQUEST__INIT;
	Sluice__V1__GetRevisionResponse *resp = NULL;
	const char *what = o->cmd == CLI_CMD_GET_RULES ? "rules" : o->cmd == CLI_CMD_GET_ROUTES ? "routes" : "policy";
	/* A policy is a file to save: YAML unless asked otherwise. */
	bool as_yaml = o->cmd == CLI_CMD_GET_POLICY && (o->output == CLI_OUT_TABLE || o->output == CLI_OUT_WIDE);
	struct cli_conn c = { 0 };
	struct rpc_status st;
	enum rpc_code code;
	int rc = CLI_EXIT_FAIL;

	req.revision = 0; /* the newest */
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	code = cli_conn__call(&c, CLI_METHOD("GetRevision"), &req.base, &sluice__v1__get_revision_response__descriptor,
			      (ProtobufCMessage **)&resp, &st);
	if (code == RPC_NOT_FOUND) {
		/* No revision yet: an empty answer, not a failure. */
		if (cli_render__structured(o))
			cli_render__data(o, cli_render__policy_doc(NULL, o->cmd), out);
		else if (as_yaml)
			cli_render__yaml(cli_render__policy_doc(NULL, o->cmd), out);
		fprintf(err, "No %s: no policy has been applied yet (store one with sluicectl apply -f FILE).\n", what);
		rc = CLI_EXIT_OK;
		goto cleanup;
	}
	if (code != RPC_OK) {
		cli_conn__report(&c, o->cmd_name, &st);
		goto cleanup;
	}
	if (cli_render__structured(o))
		cli_render__data(o, cli_render__policy_doc(resp->policy, o->cmd), out);
	else if (as_yaml)
		cli_render__yaml(cli_render__policy_doc(resp->policy, o->cmd), out);
	else if (o->output == CLI_OUT_NAME)
		print_names(resp->policy, o->cmd, out);
	else if (!resp->policy || (o->cmd == CLI_CMD_GET_RULES ? resp->policy->n_rules : resp->policy->n_routes) == 0)
		fprintf(err, "No %s in revision %llu.\n", what,
			(unsigned long long)(resp->info ? resp->info->revision : 0));
	else if (o->cmd == CLI_CMD_GET_RULES)
		cli_render__rules_table(resp->policy, out, NULL);
	else
		cli_render__routes_table(resp->policy, out, NULL);
	/* Rules are in force on agents beyond the revision: the detectors' temporary ones. */
	if (o->cmd == CLI_CMD_GET_RULES && !cli_render__structured(o) && o->output != CLI_OUT_NAME)
		cli_monitor__print_mitigations(&c, out);
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__get_revision_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}
