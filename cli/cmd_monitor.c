// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_monitor.c — `sluicectl get alerts`, `alerts [--watch]`, `alerts ack ID` and
 * `get apiusage [--route R] [--since 1h]`: what the agents' monitors reported, read back
 * from the controller. --watch holds a WatchAlerts stream open and prints each alert as
 * it opens or changes (a table row, or with -o json one JSON object per line) until
 * interrupted or the controller goes away.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/render_monitor.h"
#include "cli/table.h"
#include "common/policy.h"
#include "sluice/v1/control.pb-c.h"

#define USAGE_DEFAULT_S 3600

static void alerts_filter(const struct cli_opts *o, Sluice__V1__ListAlertsRequest *req)
{
	req->limit = o->limit;
	req->include_acked = o->all;
	if (o->since_s)
		req->since_unix = (int64_t)time(NULL) - o->since_s;
}

static void print_alerts(const struct cli_opts *o, Sluice__V1__AlertInfo *const *a, size_t n, FILE *out, FILE *err)
{
	if (cli_render__structured(o)) {
		json_t *arr = json_array();

		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, cli_render__alert_json(a[i]));
		cli_render__data(o, arr, out);
	} else if (o->output == CLI_OUT_NAME) {
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%lld\n", (long long)a[i]->id);
	} else if (n == 0) {
		fprintf(err, "No %salerts%s. Agents raise them when their detectors or API compliance checks fire.\n",
			o->all ? "" : "open ", o->since_s ? " in that span" : "");
	} else {
		cli_render__alerts_table(a, n, (int64_t)time(NULL), o->output == CLI_OUT_WIDE, true, out);
	}
}

int cli_cmd__get_alerts(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__ListAlertsRequest req = SLUICE__V1__LIST_ALERTS_REQUEST__INIT;
	Sluice__V1__ListAlertsResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	int rc = CLI_EXIT_FAIL;

	alerts_filter(o, &req);
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	if (cli_conn__call(&c, CLI_METHOD("ListAlerts"), &req.base, &sluice__v1__list_alerts_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(&c, o->cmd_name, &st);
		goto cleanup;
	}
	print_alerts(o, resp->alerts, resp->n_alerts, out, err);
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__list_alerts_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}

/* One alert as it arrives on the watch stream. */
static void print_one(const struct cli_opts *o, const Sluice__V1__AlertInfo *a, bool *header, FILE *out)
{
	if (cli_render__structured(o)) {
		/* One compact object per line, so a script can read them as they come. */
		json_t *j = cli_render__alert_json(a);
		char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

		if (s)
			fprintf(out, "%s\n", s);
		free(s);
		json_decref(j);
	} else {
		cli_render__alerts_table((Sluice__V1__AlertInfo *const *)&a, 1, (int64_t)time(NULL),
					 o->output == CLI_OUT_WIDE, !*header, out);
		*header = true;
	}
	fflush(out);
}

static int watch(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__WatchAlertsRequest req = SLUICE__V1__WATCH_ALERTS_REQUEST__INIT;
	Sluice__V1__ListAlertsRequest filter = SLUICE__V1__LIST_ALERTS_REQUEST__INIT;
	struct rpc_client_stream *cs = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st = { 0 };
	bool header = false;
	uint8_t *buf = NULL;
	size_t len;
	int rc = CLI_EXIT_FAIL;

	alerts_filter(o, &filter);
	req.filter = &filter;
	req.current = true;
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	cs = rpc_client_stream__open(c.ch, CLI_METHOD("WatchAlerts"));
	len = sluice__v1__watch_alerts_request__get_packed_size(&req);
	buf = malloc(len ? len : 1);
	if (!cs || !buf) {
		cli__error(err, "alerts --watch: cannot open a stream: %s", strerror(errno));
		goto cleanup;
	}
	sluice__v1__watch_alerts_request__pack(&req, buf);
	if (rpc_client_stream__send(cs, buf, len)) {
		cli__error(err, "alerts --watch: cannot send the request");
		goto cleanup;
	}
	if (!cli_render__structured(o))
		fprintf(err, "Watching alerts (Ctrl-C to stop).\n");
	for (;;) {
		struct rpc_buf msg = { 0 };
		enum rpc_event ev = rpc_client_stream__next(cs, 1000, &msg, &st);
		Sluice__V1__AlertInfo *a;

		if (ev == RPC_EV_CLOSED)
			break;
		if (ev != RPC_EV_MESSAGE)
			continue;
		a = sluice__v1__alert_info__unpack(NULL, msg.len, msg.data);
		free(msg.data);
		if (!a)
			continue;
		print_one(o, a, &header, out);
		sluice__v1__alert_info__free_unpacked(a, NULL);
	}
	cli_conn__report(&c, "alerts --watch", &st);
cleanup:
	free(buf);
	rpc_client_stream__close(cs);
	cli_conn__close(&c);
	return rc;
}

int cli_cmd__alerts(const struct cli_opts *o, FILE *out, FILE *err)
{
	return o->watch ? watch(o, out, err) : cli_cmd__get_alerts(o, out, err);
}

int cli_cmd__alerts_ack(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__AckAlertRequest req = SLUICE__V1__ACK_ALERT_REQUEST__INIT;
	Sluice__V1__AckAlertResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	int rc = CLI_EXIT_FAIL;

	req.id = o->alert_id;
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	if (cli_conn__call(&c, CLI_METHOD("AckAlert"), &req.base, &sluice__v1__ack_alert_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(&c, o->cmd_name, &st);
		goto cleanup;
	}
	if (cli_render__structured(o) && resp->alert)
		cli_render__data(o, cli_render__alert_json(resp->alert), out);
	else if (resp->alert)
		fprintf(out, "alert %lld acknowledged by %s\n", (long long)resp->alert->id, resp->alert->acked_by);
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__ack_alert_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}

int cli_cmd__get_apiusage(const struct cli_opts *o, FILE *out, FILE *err)
{
	Sluice__V1__GetApiUsageRequest req = SLUICE__V1__GET_API_USAGE_REQUEST__INIT;
	Sluice__V1__GetApiUsageResponse *resp = NULL;
	struct cli_conn c = { 0 };
	struct rpc_status st;
	int64_t now = (int64_t)time(NULL);
	int rc = CLI_EXIT_FAIL;

	req.api = (char *)(o->route ? o->route : "");
	req.since_unix = now - (o->since_s ? o->since_s : USAGE_DEFAULT_S);
	req.limit = o->limit;
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	if (cli_conn__call(&c, CLI_METHOD("GetApiUsage"), &req.base, &sluice__v1__get_api_usage_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(&c, o->cmd_name, &st);
		goto cleanup;
	}
	if (cli_render__structured(o)) {
		json_t *arr = json_array();

		for (size_t i = 0; arr && i < resp->n_rows; i++)
			json_array_append_new(arr, cli_render__usage_json(resp->rows[i]));
		cli_render__data(o, arr, out);
	} else if (o->output == CLI_OUT_NAME) {
		for (size_t i = 0; i < resp->n_rows; i++)
			fprintf(out, "%s\n", resp->rows[i]->api);
	} else if (resp->n_rows == 0) {
		fprintf(err, "No API usage%s in that span. Usage is counted from sampled packets: give the rules in front of your APIs a sample: { one_in: N }.\n",
			o->route ? " for that API" : "");
	} else {
		cli_render__usage_table(resp->rows, resp->n_rows, (double)(resp->until_unix - resp->since_unix),
					o->output == CLI_OUT_WIDE, out);
	}
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__get_api_usage_response__free_unpacked(resp, NULL);
	cli_conn__close(&c);
	return rc;
}

void cli_monitor__print_mitigations(struct cli_conn *c, FILE *out)
{
	static const char *const headers[] = { "RULE", "NODE", "MATCH", "ACTION", "EXPIRES-IN", "ALERT" };
	Sluice__V1__ListAlertsRequest req = SLUICE__V1__LIST_ALERTS_REQUEST__INIT;
	Sluice__V1__ListAlertsResponse *resp = NULL;
	struct cli_table *t = NULL;
	struct rpc_status st;
	int64_t now = (int64_t)time(NULL);

	req.include_acked = true;
	req.limit = 1000;
	if (cli_conn__call(c, CLI_METHOD("ListAlerts"), &req.base, &sluice__v1__list_alerts_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK)
		return; /* an older controller, or none of these: the revision's rules stand alone */
	for (size_t i = 0; i < resp->n_alerts; i++) {
		const Sluice__V1__AlertInfo *a = resp->alerts[i];
		const Sluice__V1__AlertMitigation *m = a->alert ? a->alert->mitigation : NULL;
		char left[16], alert[220];

		if (!m || !m->active || m->expires_unix <= now)
			continue;
		if (!t && !(t = cli_table__new(6, headers)))
			break;
		cli_fmt__age(m->expires_unix - now, left, sizeof(left));
		snprintf(alert, sizeof(alert), "%lld %s %s", (long long)a->id, a->alert->type, a->alert->subject);
		cli_table__add(t, (const char *const[]){ m->rule, a->node_id, m->match, policy__action_name(m->action),
							 left, alert });
	}
	if (t) {
		fprintf(out, "\nTemporary mitigation rules (added by the agents' detectors, not part of the revision):\n");
		cli_table__print(t, out, NULL);
	}
	cli_table__free(t);
	sluice__v1__list_alerts_response__free_unpacked(resp, NULL);
}
