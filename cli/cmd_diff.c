// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_diff.c — `sluicectl diff -f FILE`: the policy in FILE (a file, a directory or
 * stdin) against the newest stored revision, rule by rule and route by route, field by
 * field (common/policy_diff.c), coloured only on a terminal. Also the "what changed"
 * part of `apply`, which prints the same diff.
 *
 * -o json|yaml prints {"against": REVISION (0: none yet), "against_hash", "identical",
 * "diff": the object of policy_diff__json()}.
 */
#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/table.h"
#include "common/policy.h"
#include "common/policy_diff.h"

int cli_cmd__diff(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__GetRevisionResponse *base = NULL;
	Sluice__V1__Policy *p = NULL;
	struct policy_diff d = { 0 };
	struct cli_conn c = { 0 };
	char msg[2048], hash[40];
	enum rpc_code code;
	uint64_t against;
	int rc = CLI_EXIT_FAIL;

	if (policy_yaml__parse_file(o->file, 0, &p, msg, sizeof(msg))) {
		cli__error(err, "%s", msg);
		fprintf(err, "sluicectl: nothing was compared; fix the file and run diff again\n");
		goto cleanup;
	}
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	code = cli_conn__get_revision(&c, 0, "diff", &base);
	if (code != RPC_OK && code != RPC_NOT_FOUND)
		goto cleanup;
	if (policy_diff__compute(base ? base->policy : NULL, p, &d)) {
		cli__error(err, "diff: out of memory");
		goto cleanup;
	}
	against = base && base->info ? base->info->revision : 0;
	if (cli_render__structured(o)) {
		json_t *j = json_pack("{s:I, s:s, s:b, s:o}", "against", (json_int_t)against, "against_hash",
				      base && base->info ? base->info->hash : "", "identical", d.n == 0, "diff",
				      policy_diff__json(&d));

		cli_render__data(o, j, out);
	} else {
		if (against) {
			cli_fmt__short_hash(base->info->hash, hash, sizeof(hash));
			fprintf(out, "%s against revision %llu (hash %s):\n", o->file, (unsigned long long)against, hash);
		} else {
			fprintf(out, "%s against an empty policy (no revision stored yet):\n", o->file);
		}
		policy_diff__print(&d, out, o->color);
		if (d.n) {
			policy_diff__summary(&d, msg, sizeof(msg));
			fprintf(out, "%s\n", msg);
		}
	}
	rc = CLI_EXIT_OK;
cleanup:
	policy_diff__clear(&d);
	if (base)
		sluice__v1__get_revision_response__free_unpacked(base, NULL);
	cli_conn__close(&c);
	policy__free(p);
	return rc;
}
