// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_audit.c — `sluicectl audit [--limit N] [--since DURATION]`: the controller's audit log (ListAudit),
 * newest first: who changed what, when, and the content hash before and after; and how
 * an audit entry renders (JSON object and table).
 *
 * -o json|yaml prints [{"id", "time", "who", "action", "object", "detail",
 * "before_hash", "after_hash"}] with time in RFC 3339 UTC.
 */
#include <time.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/table.h"
#include "sluice/v1/control.pb-c.h"

json_t *cli_render__audit_json(const Sluice__V1__AuditEntry *e)
{
	char ts[40];

	cli_fmt__time(e->time_unix, ts, sizeof(ts));
	return json_pack("{s:I, s:s?, s:s, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)e->id, "time",
			 e->time_unix ? ts : NULL, "who", e->who, "action", e->action, "object", e->object, "detail",
			 e->detail, "before_hash", e->before_hash, "after_hash", e->after_hash);
}

void cli_render__audit_table(Sluice__V1__AuditEntry *const *e, size_t n, int64_t now, bool wide, FILE *out)
{
	static const char *const hdr[] = { "AGE", "WHO", "ACTION", "OBJECT", "BEFORE", "AFTER", "MESSAGE", "TIME" };
	struct cli_table *t = cli_table__new(wide ? 8 : 7, hdr);

	for (size_t i = 0; t && i < n; i++) {
		char age[16], before[80], after[80], ts[40];
		const char *row[8] = { age, e[i]->who, e[i]->action, e[i]->object, before, after, e[i]->detail, ts };

		cli_fmt__since(e[i]->time_unix, now, age, sizeof(age));
		cli_fmt__time(e[i]->time_unix, ts, sizeof(ts));
		if (wide) {
			snprintf(before, sizeof(before), "%s", e[i]->before_hash);
			snprintf(after, sizeof(after), "%s", e[i]->after_hash);
		} else {
			cli_fmt__short_hash(e[i]->before_hash, before, sizeof(before));
			cli_fmt__short_hash(e[i]->after_hash, after, sizeof(after));
		}
		cli_table__add(t, row);
	}
	cli_table__print(t, out, NULL);
	cli_table__free(t);
}

int cli_cmd__audit(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__ListAuditRequest req = SLUICE__V1__LIST_AUDIT_REQUEST__INIT;
	Sluice__V1__ListAuditResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	int rc = CLI_EXIT_FAIL;

	req.limit = o->limit;
	if (o->since_s)
		req.since_unix = (int64_t)time(NULL) - o->since_s;
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	if (cli_conn__call(&c, CLI_METHOD("ListAudit"), &req.base, &sluice__v1__list_audit_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(&c, "audit", &st);
		goto cleanup;
	}
	if (cli_render__structured(o)) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < resp->n_entries; i++)
			json_array_append_new(a, cli_render__audit_json(resp->entries[i]));
		cli_render__data(o, a, out);
	} else if (o->output == CLI_OUT_NAME) {
		for (size_t i = 0; i < resp->n_entries; i++)
			fprintf(out, "%lld\n", (long long)resp->entries[i]->id);
	} else if (resp->n_entries == 0) {
		fprintf(err, "The audit log %s: changes (apply, rollouts, agent removal) and refused calls are recorded here.\n",
			o->since_s ? "has nothing in that span" : "is empty");
	} else {
		cli_render__audit_table(resp->entries, resp->n_entries, (int64_t)time(NULL), o->output == CLI_OUT_WIDE,
					out);
	}
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__list_audit_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}
