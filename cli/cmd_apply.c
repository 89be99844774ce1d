// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_apply.c — `sluicectl apply -f FILE [--dry-run] [-m MSG]`: parse and validate the
 * policy here (so mistakes show as FILE:LINE:COL without a round trip), then send it
 * with ApplyPolicy and say what the controller did with it.
 *
 * -o json prints {"revision": N, "hash": "...", "unchanged": BOOL, "dry_run": BOOL,
 * "rules": N, "routes": N}.
 */
#include <string.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/table.h"
#include "common/policy.h"
#include "sluice/v1/control.pb-c.h"

static void print_result(const struct cli_opts *o, const Sluice__V1__ApplyPolicyResponse *r,
			 const Sluice__V1__Policy *p, FILE *out)
{
	char hash[40];
	json_t *j;

	if (o->output == CLI_OUT_JSON) {
		j = json_pack("{s:I, s:s, s:b, s:b, s:I, s:I}", "revision", (json_int_t)r->revision, "hash", r->hash,
			      "unchanged", (int)r->unchanged, "dry_run", (int)o->dry_run, "rules", (json_int_t)p->n_rules,
			      "routes", (json_int_t)p->n_routes);
		cli_render__json(j, out);
		return;
	}
	cli_fmt__short_hash(r->hash, hash, sizeof(hash));
	if (o->dry_run && r->unchanged)
		fprintf(out, "dry run: valid; unchanged: revision %llu has this content\n",
			(unsigned long long)r->revision);
	else if (o->dry_run)
		fprintf(out, "dry run: valid; would store revision %llu (hash %s), %zu rules, %zu routes\n",
			(unsigned long long)r->revision, hash, p->n_rules, p->n_routes);
	else if (r->unchanged)
		fprintf(out, "unchanged: revision %llu\n", (unsigned long long)r->revision);
	else
		fprintf(out, "revision %llu (hash %s) stored\n", (unsigned long long)r->revision, hash);
}

int cli_cmd__apply(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__ApplyPolicyRequest req = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ApplyPolicyResponse *resp = NULL;
	Sluice__V1__Policy *p = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	char msg[2048];
	int rc = CLI_EXIT_FAIL;

	if (policy_yaml__parse_file(o->file, 0, &p, msg, sizeof(msg))) {
		cli__error(err, "%s", msg);
		fprintf(err, "sluicectl: nothing was sent; fix the file and run apply again\n");
		goto cleanup;
	}
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	req.policy = p;
	req.message = (char *)(o->message ? o->message : "");
	req.dry_run = o->dry_run;
	if (cli_conn__call(&c, CLI_METHOD("ApplyPolicy"), &req.base, &sluice__v1__apply_policy_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(&c, o->dry_run ? "apply --dry-run" : "apply", &st);
		goto cleanup;
	}
	print_result(o, resp, p, out);
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__apply_policy_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	policy__free(p);
	return rc;
}
