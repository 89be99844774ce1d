// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_apply.c — `sluicectl apply -f FILE [--dry-run] [-m MSG]`: parse and validate the
 * policy here (so mistakes show as FILE:LINE:COL without a round trip), then send it
 * with ApplyPolicy and say what the controller did with it: the new revision and the
 * rules and routes it added, removed or changed (against the revision before it), or
 * "unchanged".
 *
 * The newest revision is read first: the changes are computed against it, and its number
 * goes with the policy as the base, so an apply racing another operator's fails (ABORTED)
 * instead of silently undoing that change (--force: no check; --base-revision N: N).
 *
 * -o json|yaml prints {"revision": N, "hash": "...", "unchanged": BOOL, "dry_run": BOOL,
 * "rules": N, "routes": N, "changes": DIFF | null} with DIFF as policy_diff__json().
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/rollout.h"
#include "cli/table.h"
#include "common/policy.h"
#include "common/policy_diff.h"
#include "sluice/v1/control.pb-c.h"

static void print_result(const struct cli_opts *o, const Sluice__V1__ApplyPolicyResponse *r,
			 const Sluice__V1__Policy *p, const struct policy_diff *d, FILE *out)
{
	char hash[40], summary[256];
	json_t *j;

	if (cli_render__structured(o)) {
		j = json_pack("{s:I, s:s, s:b, s:b, s:I, s:I, s:o}", "revision", (json_int_t)r->revision, "hash",
			      r->hash, "unchanged", (int)r->unchanged, "dry_run", (int)o->dry_run, "rules",
			      (json_int_t)p->n_rules, "routes", (json_int_t)p->n_routes, "changes",
			      d ? policy_diff__json(d) : json_null());
		cli_rollout__apply_json(j, r);
		cli_render__data(o, j, out);
		return;
	}
	cli_fmt__short_hash(r->hash, hash, sizeof(hash));
	if (d)
		policy_diff__summary(d, summary, sizeof(summary));
	if (o->dry_run && r->unchanged)
		fprintf(out, "dry run: valid; unchanged: revision %llu has this content\n",
			(unsigned long long)r->revision);
	else if (o->dry_run)
		fprintf(out, "dry run: valid; would store revision %llu (hash %s), %zu rules, %zu routes\n",
			(unsigned long long)r->revision, hash, p->n_rules, p->n_routes);
	else if (r->unchanged && r->rollout_id)
		fprintf(out, "unchanged: revision %llu, which was never rolled out; rolling it out now\n",
			(unsigned long long)r->revision);
	else if (r->unchanged)
		fprintf(out, "unchanged: revision %llu\n", (unsigned long long)r->revision);
	else
		fprintf(out, "revision %llu (hash %s) stored\n", (unsigned long long)r->revision, hash);
	if (d && !r->unchanged && d->n) {
		policy_diff__print(d, out, o->color);
		fprintf(out, "%s\n", summary);
	}
	cli_rollout__apply_text(o, r, out);
}

/* What the new revision changed: against the one before it (or, for a dry run, the
 * newest). NULL diff with a note on err when that cannot be read: the apply itself
 * succeeded, so this is not a failure. */
static int changes(struct cli_conn *c, const Sluice__V1__ApplyPolicyResponse *r, const Sluice__V1__Policy *p,
		   bool dry_run, struct policy_diff *d)
{
	Sluice__V1__GetRevisionResponse *base = NULL;
	uint64_t rev = dry_run ? 0 : r->revision - 1;
	enum rpc_code code = RPC_NOT_FOUND;
	int err;

	if (rev > 0 || dry_run)
		code = cli_conn__get_revision(c, rev, "apply: reading the previous revision", &base);
	if (code != RPC_OK && code != RPC_NOT_FOUND) {
		fprintf(c->err, "sluicectl: the policy was applied; the list of changes is not available\n");
		return -EIO;
	}
	err = policy_diff__compute(base ? base->policy : NULL, p, d);
	if (base)
		sluice__v1__get_revision_response__free_unpacked(base, NULL);
	return err;
}

/* The revision the apply is based on: --base-revision N, else the newest (0 and *base
 * NULL when none is stored yet). 0, or -errno after printing why. */
static int read_base(struct cli_conn *c, const struct cli_opts *o, Sluice__V1__GetRevisionResponse **base,
		     uint64_t *rev)
{
	enum rpc_code code;

	*rev = 0;
	code = cli_conn__get_revision(c, o->base_revision, "apply: reading the revision to apply over", base);
	if (code == RPC_NOT_FOUND && o->base_revision) {
		cli__error(c->err, "apply: --base-revision %llu: there is no such revision (list them with: sluicectl get revisions)",
			   (unsigned long long)o->base_revision);
		return -ENOENT;
	}
	if (code != RPC_OK && code != RPC_NOT_FOUND)
		return -EIO;
	if (*base && (*base)->info)
		*rev = (*base)->info->revision;
	return 0;
}

int cli_cmd__apply(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__ApplyPolicyRequest req = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ApplyPolicyResponse *resp = NULL;
	Sluice__V1__GetRevisionResponse *base = NULL;
	Sluice__V1__Policy *p = NULL;
	struct policy_diff d = { 0 };
	struct cli_conn c = { 0 };
	struct rpc_status st;
	uint64_t base_rev = 0;
	bool have_diff = false;
	char msg[2048];
	int rc = CLI_EXIT_FAIL;

	if (policy_yaml__parse_file(o->file, 0, &p, msg, sizeof(msg))) {
		cli__error(err, "%s", msg);
		fprintf(err, "sluicectl: nothing was sent; fix the file and run apply again\n");
		goto cleanup;
	}
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	/* The changes printed are against the base, and the controller stores the policy
	 * only while the base is still the newest revision: what was shown is what happens. */
	if (read_base(&c, o, &base, &base_rev))
		goto cleanup;
	req.policy = p;
	req.message = (char *)(o->message ? o->message : "");
	req.dry_run = o->dry_run;
	req.no_rollout = o->no_rollout;
	req.base_revision = o->force ? 0 : base_rev;
	if (cli_conn__call(&c, CLI_METHOD("ApplyPolicy"), &req.base, &sluice__v1__apply_policy_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(&c, o->dry_run ? "apply --dry-run" : "apply", &st);
		if (st.code == RPC_ABORTED && req.base_revision)
			fprintf(err, "sluicectl: see what changed with: sluicectl diff -f %s; then apply again\n", o->file);
		goto cleanup;
	}
	if (!resp->unchanged && (o->dry_run || resp->revision == base_rev + 1) && !o->base_revision)
		have_diff = policy_diff__compute(base ? base->policy : NULL, p, &d) == 0;
	else if (!resp->unchanged)
		have_diff = changes(&c, resp, p, o->dry_run, &d) == 0;
	print_result(o, resp, p, have_diff ? &d : NULL, out);
	rc = CLI_EXIT_OK;
cleanup:
	policy_diff__clear(&d);
	if (base)
		sluice__v1__get_revision_response__free_unpacked(base, NULL);
	if (resp)
		sluice__v1__apply_policy_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	policy__free(p);
	return rc;
}
