// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_revdiff.c — `sluicectl describe revision N --diff M`: what changed from revision
 * M to revision N, rule by rule and route by route, field by field (common/policy_diff),
 * both read from the controller. M may be newer than N (the diff then reads backwards).
 *
 * -o json|yaml prints {"from": M, "to": N, "from_hash", "to_hash", "identical": BOOL,
 * "diff": the object of policy_diff__json()}.
 */
#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/table.h"
#include "common/policy_diff.h"

int cli_cmd__revision_diff(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__GetRevisionResponse *from = NULL, *to = NULL;
	struct policy_diff d = { 0 };
	struct cli_conn c = { 0 };
	char ha[40], hb[40], summary[256];
	enum rpc_code code;
	int rc = CLI_EXIT_FAIL;

	if (cli_conn__open(&c, o, err))
		return CLI_EXIT_FAIL;
	code = cli_conn__get_revision(&c, o->diff_revision, "describe revision --diff", &from);
	if (code == RPC_OK)
		code = cli_conn__get_revision(&c, o->revision, "describe revision --diff", &to);
	if (code == RPC_NOT_FOUND) {
		cli__error(err, "no revision %llu (list them with: sluicectl get revisions)",
			   (unsigned long long)(from ? o->revision : o->diff_revision));
		goto cleanup;
	}
	if (code != RPC_OK || !from->info || !to->info)
		goto cleanup;
	if (policy_diff__compute(from->policy, to->policy, &d)) {
		cli__error(err, "describe revision --diff: out of memory");
		goto cleanup;
	}
	if (cli_render__structured(o)) {
		cli_render__data(o,
				 json_pack("{s:I, s:I, s:s, s:s, s:b, s:o}", "from", (json_int_t)from->info->revision, "to",
					   (json_int_t)to->info->revision, "from_hash", from->info->hash, "to_hash",
					   to->info->hash, "identical", d.n == 0, "diff", policy_diff__json(&d)),
				 out);
	} else {
		cli_fmt__short_hash(from->info->hash, ha, sizeof(ha));
		cli_fmt__short_hash(to->info->hash, hb, sizeof(hb));
		fprintf(out, "revision %llu (hash %s) -> revision %llu (hash %s):\n", (unsigned long long)from->info->revision,
			ha, (unsigned long long)to->info->revision, hb);
		policy_diff__print(&d, out, o->color);
		if (d.n) {
			policy_diff__summary(&d, summary, sizeof(summary));
			fprintf(out, "%s\n", summary);
		}
	}
	rc = CLI_EXIT_OK;
cleanup:
	policy_diff__clear(&d);
	if (from)
		sluice__v1__get_revision_response__free_unpacked(from, NULL);
	if (to)
		sluice__v1__get_revision_response__free_unpacked(to, NULL);
	cli_conn__close(&c);
	return rc;
}
