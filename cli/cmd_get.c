// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_get.c — `sluicectl get agents|revisions|rules|routes`: one list call each,
 * printed as a table or, with -o json, as documented in render.h.
 */
#include <errno.h>
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

int cli_cmd__get_agents(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__ListAgentsRequest req = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
	Sluice__V1__ListAgentsRequest__SelectorEntry *entries = NULL, **ptrs = NULL;
	Sluice__V1__ListAgentsResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	char *copy = NULL;
	int rc = CLI_EXIT_FAIL;

	if (o->selector && build_selector(o->selector, &req, &copy, &entries, &ptrs)) {
		cli__error(err, "out of memory");
		goto cleanup;
	}
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	if (cli_conn__call(&c, CLI_METHOD("ListAgents"), &req.base, &sluice__v1__list_agents_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(&c, "get agents", &st);
		goto cleanup;
	}
	if (o->output == CLI_OUT_JSON) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < resp->n_agents; i++)
			json_array_append_new(a, cli_render__agent_json(resp->agents[i]));
		cli_render__json(a, out);
	} else if (resp->n_agents == 0) {
		fprintf(err, "No agents%s. Agents appear here once they connect (sluice-agent --controller %s ...).\n",
			o->selector ? " match the selector" : "", o->controller);
	} else {
		cli_render__agents_table(resp->agents, resp->n_agents, (int64_t)time(NULL), out);
	}
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__list_agents_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	free(copy);
	free(entries);
	free(ptrs);
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
	if (o->output == CLI_OUT_JSON) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < resp->n_revisions; i++)
			json_array_append_new(a, cli_render__revision_json(resp->revisions[i]));
		cli_render__json(a, out);
	} else if (resp->n_revisions == 0) {
		fprintf(err, "No revisions yet: store one with sluicectl apply -f FILE.\n");
	} else {
		cli_render__revisions_table(resp->revisions, resp->n_revisions, (int64_t)time(NULL), out);
	}
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__list_revisions_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}

/* {"rules": [...]} or {"routes": [...]}, in the policy file's schema. */
static void print_policy_json(const Sluice__V1__Policy *p, bool rules, FILE *out)
{
	json_t *o = json_object(), *a = json_array();

	for (size_t i = 0; a && p && i < (rules ? p->n_rules : p->n_routes); i++)
		json_array_append_new(a, rules ? policy_json__rule(p->rules[i]) : policy_json__route(p->routes[i]));
	if (o && a && json_object_set_new(o, rules ? "rules" : "routes", a) == 0)
		a = NULL;
	json_decref(a);
	cli_render__json(o, out);
}

int cli_cmd__get_policy(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__GetRevisionRequest req = SLUICE__V1__GET_REVISION_REQUEST__INIT;
	Sluice__V1__GetRevisionResponse *resp = NULL;
	bool rules = o->cmd == CLI_CMD_GET_RULES;
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
		if (o->output == CLI_OUT_JSON)
			print_policy_json(NULL, rules, out);
		fprintf(err, "No %s: no policy has been applied yet (store one with sluicectl apply -f FILE).\n",
			rules ? "rules" : "routes");
		rc = CLI_EXIT_OK;
		goto cleanup;
	}
	if (code != RPC_OK) {
		cli_conn__report(&c, o->cmd_name, &st);
		goto cleanup;
	}
	if (o->output == CLI_OUT_JSON)
		print_policy_json(resp->policy, rules, out);
	else if (!resp->policy || (rules ? resp->policy->n_rules : resp->policy->n_routes) == 0)
		fprintf(err, "No %s in revision %llu.\n", rules ? "rules" : "routes",
			(unsigned long long)(resp->info ? resp->info->revision : 0));
	else if (rules)
		cli_render__rules_table(resp->policy, out, NULL);
	else
		cli_render__routes_table(resp->policy, out, NULL);
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__get_revision_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}
