// SPDX-License-Identifier: Apache-2.0
/*
 * control_monitor.c — see control_monitor.h. The unary handlers follow control.c: check
 * the role, unpack, read or write through the store, reply with a message built on the
 * stack; errors leave through control_int__fail().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/v1/control.pb-c.h"

#include "common/log.h"
#include "control_int.h"
#include "control_monitor.h"

#define USAGE_DEFAULT_S 3600

/* AlertInfo views of n stored alerts; release with infos_release. */
struct infos {
	Sluice__V1__AlertInfo *v;
	Sluice__V1__AlertInfo **ptrs;
	Sluice__V1__Alert **alerts;
	size_t n;
};

static int infos_init(struct infos *in, const struct store_alert *a, size_t n)
{
	memset(in, 0, sizeof(*in));
	in->v = calloc(n + 1, sizeof(*in->v));
	in->ptrs = calloc(n + 1, sizeof(*in->ptrs));
	in->alerts = calloc(n + 1, sizeof(*in->alerts));
	if (!in->v || !in->ptrs || !in->alerts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		telemetry__alert_info(&a[i], &in->v[i], &in->alerts[i]);
		in->ptrs[i] = &in->v[i];
	}
	in->n = n;
	return 0;
}

static void infos_release(struct infos *in)
{
	for (size_t i = 0; in->alerts && i < in->n; i++) {
		if (in->alerts[i])
			sluice__v1__alert__free_unpacked(in->alerts[i], NULL);
	}
	free(in->v);
	free(in->ptrs);
	free(in->alerts);
	memset(in, 0, sizeof(*in));
}

static void filter_of(const Sluice__V1__ListAlertsRequest *req, struct store_alert_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since_ms = req->since_unix * 1000;
	f->limit = req->limit;
	f->include_acked = req->include_acked;
	f->node_id = req->node_id;
	f->type = req->type;
}

static enum rpc_code list_alerts(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				 struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control_monitor *cm = user;
	Sluice__V1__ListAlertsRequest *req = NULL;
	Sluice__V1__ListAlertsResponse out = SLUICE__V1__LIST_ALERTS_RESPONSE__INIT;
	struct store_alert_filter f;
	struct store_alert *rows = NULL;
	struct infos in = { 0 };
	size_t n = 0;
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_READ, "ListAlerts", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__list_alerts_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.ListAlertsRequest");
		goto cleanup;
	}
	filter_of(req, &f);
	err = store__alert_list(cm->st, &f, &rows, &n);
	if (!err)
		err = infos_init(&in, rows, n);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot list alerts: %s", strerror(-err));
		goto cleanup;
	}
	out.n_alerts = in.n;
	out.alerts = in.ptrs;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	infos_release(&in);
	store_alert__free_array(rows, n);
	sluice__v1__list_alerts_request__free_unpacked(req, NULL);
	return code;
}

static enum rpc_code ack_alert(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
			       struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control_monitor *cm = user;
	Sluice__V1__AckAlertRequest *req = NULL;
	Sluice__V1__AckAlertResponse out = SLUICE__V1__ACK_ALERT_RESPONSE__INIT;
	struct store_audit_new aud = { 0 };
	struct store_alert a = { 0 };
	struct infos in = { 0 };
	char who[300], object[64], detail[400];
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_CHANGE, "AckAlert", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__ack_alert_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.AckAlertRequest");
		goto cleanup;
	}
	err = store__alert_get(cm->st, req->id, &a);
	if (err == -ENOENT) {
		code = control_int__fail(errmsg, errlen, err, "alert %lld does not exist; see sluicectl get alerts --all",
					 (long long)req->id);
		goto cleanup;
	}
	authz__who(peer, who, sizeof(who));
	snprintf(object, sizeof(object), "alert %lld", (long long)req->id);
	if (!err) {
		snprintf(detail, sizeof(detail), "%s %s on %s", a.type, a.subject, a.node_id);
		aud.time = time(NULL);
		aud.who = who;
		aud.action = "ack";
		aud.object = object;
		aud.detail = detail;
		err = store__alert_ack(cm->st, req->id, who, aud.time, &aud);
	}
	store_alert__clear(&a);
	if (!err)
		err = store__alert_get(cm->st, req->id, &a);
	if (!err)
		err = infos_init(&in, &a, 1);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot acknowledge alert %lld: %s", (long long)req->id,
					 strerror(-err));
		goto cleanup;
	}
	pr_info("alert %lld (%s %s) acknowledged by %s", (long long)a.id, a.type, a.subject, a.acked_by);
	telemetry__notify(cm->tel, &a);
	out.alert = in.ptrs[0];
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	infos_release(&in);
	store_alert__clear(&a);
	sluice__v1__ack_alert_request__free_unpacked(req, NULL);
	return code;
}

static enum rpc_code get_api_usage(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				   struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control_monitor *cm = user;
	Sluice__V1__GetApiUsageRequest *req = NULL;
	Sluice__V1__GetApiUsageResponse out = SLUICE__V1__GET_API_USAGE_RESPONSE__INIT;
	Sluice__V1__ApiUsageRow *items = NULL, **ptrs = NULL;
	struct store_usage_filter f = { 0 };
	struct store_usage *rows = NULL;
	size_t n = 0;
	int64_t now = time(NULL);
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_READ, "GetApiUsage", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__get_api_usage_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.GetApiUsageRequest");
		goto cleanup;
	}
	f.api = req->api;
	f.node_id = req->node_id;
	f.consumer = req->consumer;
	f.limit = req->limit;
	f.since_ms = (req->since_unix ? req->since_unix : now - USAGE_DEFAULT_S) * 1000;
	err = store__usage_query(cm->st, &f, &rows, &n);
	items = calloc(n + 1, sizeof(*items));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	if (!err && (!items || !ptrs))
		err = -ENOMEM;
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot read API usage: %s", strerror(-err));
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		Sluice__V1__ApiUsageRow *r = &items[i];

		sluice__v1__api_usage_row__init(r);
		r->api = rows[i].api;
		r->method = rows[i].method;
		r->path_prefix = rows[i].path;
		r->consumer = rows[i].consumer;
		r->host = rows[i].host;
		r->requests = rows[i].requests;
		r->samples = rows[i].samples;
		r->deprecated = rows[i].deprecated;
		r->plaintext = rows[i].plaintext;
		r->first_unix = rows[i].first_ms / 1000;
		r->last_unix = rows[i].last_ms / 1000;
		r->nodes = rows[i].nodes;
		ptrs[i] = r;
	}
	out.n_rows = n;
	out.rows = ptrs;
	out.since_unix = f.since_ms / 1000;
	out.until_unix = now;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	free(items);
	free(ptrs);
	store_usage__free_array(rows, n);
	sluice__v1__get_api_usage_request__free_unpacked(req, NULL);
	return code;
}

/* ---- WatchAlerts ------------------------------------------------------------------------------ */

struct watch {
	struct control_monitor *cm;
	bool started;
};

static int watch_open(void *user, struct rpc_stream *s, const struct rpc_peer *peer, void **stream_user)
{
	struct watch *w;
	char msg[600];
	enum rpc_code code = control_int__admit(peer, AUTHZ_READ, "WatchAlerts", msg, sizeof(msg));

	w = calloc(1, sizeof(*w));
	if (!w)
		return RPC_RESOURCE_EXHAUSTED;
	w->cm = user;
	*stream_user = w;
	if (code)
		rpc_stream__finish(s, code, msg);
	return 0;
}

/* The alerts that match now, oldest first, so the newest ends up last on the screen. */
static int send_current(struct watch *w, struct rpc_stream *s, const Sluice__V1__ListAlertsRequest *req)
{
	struct store_alert_filter f;
	struct store_alert *rows = NULL;
	struct infos in = { 0 };
	size_t n = 0;
	int err;

	filter_of(req, &f);
	err = store__alert_list(w->cm->st, &f, &rows, &n);
	if (!err)
		err = infos_init(&in, rows, n);
	for (size_t i = n; !err && i-- > 0;) {
		size_t len = sluice__v1__alert_info__get_packed_size(&in.v[i]);
		uint8_t *buf = malloc(len ? len : 1);

		if (!buf) {
			err = -ENOMEM;
			break;
		}
		sluice__v1__alert_info__pack(&in.v[i], buf);
		err = rpc_stream__send(s, buf, len);
		free(buf);
	}
	infos_release(&in);
	store_alert__free_array(rows, n);
	return err;
}

static void watch_message(void *user, struct rpc_stream *s, void *stream_user, const uint8_t *msg, size_t len)
{
	struct watch *w = stream_user;
	Sluice__V1__WatchAlertsRequest *req;
	Sluice__V1__ListAlertsRequest empty = SLUICE__V1__LIST_ALERTS_REQUEST__INIT;
	int err;

	if (w->started)
		return; /* one request per stream */
	req = sluice__v1__watch_alerts_request__unpack(NULL, len, msg);
	if (!req) {
		rpc_stream__finish(s, RPC_INVALID_ARGUMENT, "the message is not a sluice.v1.WatchAlertsRequest");
		return;
	}
	err = req->current ? send_current(w, s, req->filter ? req->filter : &empty) : 0;
	if (!err)
		err = telemetry__watch(w->cm->tel, s, req->filter);
	if (err)
		rpc_stream__finish(s, rpc_code__from_errno(err), "cannot start watching alerts; retry");
	else
		w->started = true;
	sluice__v1__watch_alerts_request__free_unpacked(req, NULL);
}

static void watch_close(void *user, struct rpc_stream *s, void *stream_user)
{
	struct watch *w = stream_user;

	if (w->started)
		telemetry__unwatch(w->cm->tel, s);
	free(w);
}

static const struct rpc_stream_ops watch_ops = {
	.on_open = watch_open,
	.on_message = watch_message,
	.on_close = watch_close,
};

int control_monitor__register(struct rpc_server *srv, struct control_monitor *cm)
{
	static const struct {
		const char *name;
		rpc_unary_fn fn;
	} methods[] = {
		{ "ListAlerts", list_alerts },
		{ "AckAlert", ack_alert },
		{ "GetApiUsage", get_api_usage },
	};
	char path[128];
	int err;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		snprintf(path, sizeof(path), CONTROL_SERVICE "%s", methods[i].name);
		err = rpc_server__add_unary(srv, path, methods[i].fn, cm);
		if (err)
			return err;
	}
	return rpc_server__add_stream(srv, CONTROL_SERVICE "WatchAlerts", &watch_ops, cm);
}
