// SPDX-License-Identifier: Apache-2.0
/*
 * store_monitor.c — store.h's monitoring part on SQLite: alerts (one row per agent
 * alert, updated in place), the API usage time series (one row per node, interval and
 * key) and each node's learned baselines. Writes set whole values or take maxima, so
 * they are idempotent. Usage and alert updates are frequent and not worth an fsync each;
 * acknowledgements carry an audit row and are durable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_db.h"

#define ALERT_COLS                                                                                            \
	"id, node_id, agent_alert_id, type, severity, subject, first_seen_ms, last_seen_ms, count, acked, acked_by, " \
	"acked_at, received, alert"

static const char *const sql[S__COUNT] = {
	[S_AL_FIND] = "SELECT id FROM alerts WHERE node_id = ?1 AND agent_alert_id = ?2",
	[S_AL_PUT] = "INSERT INTO alerts(node_id, agent_alert_id, type, severity, subject, first_seen_ms, last_seen_ms,"
		     " count, received, alert) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
		     " ON CONFLICT(node_id, agent_alert_id) DO UPDATE SET"
		     " alert = CASE WHEN excluded.count >= count THEN excluded.alert ELSE alert END,"
		     " severity = CASE WHEN excluded.count >= count THEN excluded.severity ELSE severity END,"
		     " last_seen_ms = max(last_seen_ms, excluded.last_seen_ms), count = max(count, excluded.count),"
		     " received = max(received, excluded.received)",
	[S_AL_GET] = "SELECT " ALERT_COLS " FROM alerts WHERE id = ?1",
	[S_AL_LIST] = "SELECT " ALERT_COLS " FROM alerts WHERE last_seen_ms >= ?1 AND (?2 OR acked = 0)"
		      " AND (?3 IS NULL OR node_id = ?3) AND (?4 IS NULL OR type = ?4)"
		      " ORDER BY last_seen_ms DESC, id DESC LIMIT ?5",
	[S_AL_ACK] = "UPDATE alerts SET acked = 1, acked_by = ?2, acked_at = ?3 WHERE id = ?1 AND acked = 0",
	[S_AL_PRUNE] = "DELETE FROM alerts WHERE last_seen_ms < ?1",
	[S_US_PUT] = "INSERT OR REPLACE INTO api_usage(node_id, start_ms, end_ms, api, method, path, consumer, host,"
		     " requests, samples, deprecated, plaintext) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[S_US_QUERY] = "SELECT api, method, path, consumer, max(host), sum(requests), sum(samples), min(start_ms),"
		       " max(end_ms), max(deprecated), max(plaintext), count(DISTINCT node_id) FROM api_usage"
		       " WHERE start_ms >= ?1 AND (?2 IS NULL OR api = ?2) AND (?3 IS NULL OR node_id = ?3)"
		       " AND (?4 IS NULL OR consumer = ?4) GROUP BY api, method, path, consumer"
		       " ORDER BY sum(requests) DESC, api, method, path, consumer LIMIT ?5",
	[S_US_PRUNE] = "DELETE FROM api_usage WHERE start_ms < ?1",
	[S_BL_PUT] = "INSERT OR REPLACE INTO baselines(node_id, time, data) VALUES(?1, ?2, ?3)",
	[S_BL_GET] = "SELECT data FROM baselines WHERE node_id = ?1",
};

static sqlite3_stmt *stmt(struct store *st, enum store_stmt id)
{
	return store_db__stmt_sql(st, id, sql[id]);
}

/* Binds text, or NULL for NULL and "" (the queries' "any"). */
static void bind_opt(sqlite3_stmt *s, int idx, const char *v)
{
	if (v && v[0])
		sqlite3_bind_text(s, idx, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, idx);
}

/* ---- alerts --------------------------------------------------------------------------------- */

void store_alert__clear(struct store_alert *a)
{
	if (!a)
		return;
	free(a->node_id);
	free(a->type);
	free(a->subject);
	free(a->acked_by);
	free(a->alert);
	memset(a, 0, sizeof(*a));
}

void store_alert__free_array(struct store_alert *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_alert__clear(&v[i]);
	free(v);
}

static int read_alert(sqlite3_stmt *s, struct store_alert *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(s, 0);
	a->node_id = store_db__col_str(s, 1);
	a->agent_alert_id = (uint64_t)sqlite3_column_int64(s, 2);
	a->type = store_db__col_str(s, 3);
	a->severity = sqlite3_column_int(s, 4);
	a->subject = store_db__col_str(s, 5);
	a->first_seen_ms = sqlite3_column_int64(s, 6);
	a->last_seen_ms = sqlite3_column_int64(s, 7);
	a->count = (uint64_t)sqlite3_column_int64(s, 8);
	a->acked = sqlite3_column_int(s, 9) != 0;
	a->acked_by = store_db__col_str(s, 10);
	a->acked_at = sqlite3_column_int64(s, 11);
	a->received = sqlite3_column_int64(s, 12);
	if (!a->node_id || !a->type || !a->subject || !a->acked_by ||
	    store_db__col_blob(s, 13, &a->alert, &a->alert_len)) {
		store_alert__clear(a);
		return -ENOMEM;
	}
	return 0;
}

int store__alert_put(struct store *st, const struct store_alert_new *a, const struct store_audit_new *audit,
		     int64_t *id, bool *created)
{
	sqlite3_stmt *find = NULL, *put = NULL;
	int rc, err;

	*created = false;
	if (!a || !a->node_id || !a->type || !a->subject)
		return -EINVAL;
	err = store_db__begin(st, audit != NULL);
	if (err)
		return err;
	find = stmt(st, S_AL_FIND);
	put = stmt(st, S_AL_PUT);
	if (!find || !put) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_text(find, 1, a->node_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(find, 2, (sqlite3_int64)a->agent_alert_id);
	rc = sqlite3_step(find);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(find, 0);
	} else if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "looking up an alert");
		goto cleanup;
	}
	*created = rc == SQLITE_DONE;
	sqlite3_bind_text(put, 1, a->node_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(put, 2, (sqlite3_int64)a->agent_alert_id);
	sqlite3_bind_text(put, 3, a->type, -1, SQLITE_STATIC);
	sqlite3_bind_int(put, 4, a->severity);
	sqlite3_bind_text(put, 5, a->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(put, 6, a->first_seen_ms);
	sqlite3_bind_int64(put, 7, a->last_seen_ms);
	sqlite3_bind_int64(put, 8, (sqlite3_int64)a->count);
	sqlite3_bind_int64(put, 9, a->received);
	store_db__bind_blob(put, 10, a->alert, a->alert_len);
	rc = sqlite3_step(put);
	if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "writing an alert");
		goto cleanup;
	}
	if (*created)
		*id = sqlite3_last_insert_rowid(st->db);
	if (audit)
		err = store_db__audit(st, audit);
cleanup:
	store_db__reset(find);
	store_db__reset(put);
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err) {
		store_db__rollback(st);
		*created = false;
	}
	return err;
}

int store__alert_list(struct store *st, const struct store_alert_filter *f, struct store_alert **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, S_AL_LIST);
	struct store_alert *v = NULL;
	size_t cap = 0, cnt = 0;
	int rc, err = 0;

	*out = NULL;
	*n = 0;
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, f ? f->since_ms : 0);
	sqlite3_bind_int(s, 2, f && f->include_acked);
	bind_opt(s, 3, f ? f->node_id : NULL);
	bind_opt(s, 4, f ? f->type : NULL);
	sqlite3_bind_int64(s, 5, f && f->limit ? f->limit : 500);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = store_db__grow((void **)&v, &cap, cnt, sizeof(*v));
		if (!err)
			err = read_alert(s, &v[cnt]);
		if (err)
			goto cleanup;
		cnt++;
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "listing alerts");
cleanup:
	store_db__reset(s);
	if (err) {
		store_alert__free_array(v, cnt);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int store__alert_get(struct store *st, int64_t id, struct store_alert *out)
{
	sqlite3_stmt *s = stmt(st, S_AL_GET);
	int rc, err;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		err = read_alert(s, out);
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = store_db__error(st, rc, "reading an alert");
	store_db__reset(s);
	return err;
}

int store__alert_ack(struct store *st, int64_t id, const char *who, int64_t now, const struct store_audit_new *audit)
{
	sqlite3_stmt *find = NULL, *ack = NULL;
	int rc, err;

	err = store_db__begin(st, true);
	if (err)
		return err;
	find = stmt(st, S_AL_GET);
	ack = stmt(st, S_AL_ACK);
	if (!find || !ack) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_int64(find, 1, id);
	rc = sqlite3_step(find);
	if (rc == SQLITE_DONE) {
		err = -ENOENT;
		goto cleanup;
	}
	if (rc != SQLITE_ROW) {
		err = store_db__error(st, rc, "reading an alert");
		goto cleanup;
	}
	if (sqlite3_column_int(find, 9))
		goto cleanup; /* acknowledged before: keep the first acknowledgement */
	sqlite3_bind_int64(ack, 1, id);
	sqlite3_bind_text(ack, 2, who ? who : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(ack, 3, now);
	rc = sqlite3_step(ack);
	if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "acknowledging an alert");
		goto cleanup;
	}
	if (audit)
		err = store_db__audit(st, audit);
cleanup:
	store_db__reset(find);
	store_db__reset(ack);
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err)
		store_db__rollback(st);
	return err;
}

/* ---- API usage ------------------------------------------------------------------------------ */

int store__usage_put(struct store *st, const char *node_id, int64_t start_ms, int64_t end_ms,
		     const struct store_usage_row *rows, size_t n)
{
	sqlite3_stmt *s;
	int rc, err;

	if (n == 0)
		return 0;
	err = store_db__begin(st, false);
	if (err)
		return err;
	s = stmt(st, S_US_PUT);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	for (size_t i = 0; i < n && !err; i++) {
		const struct store_usage_row *r = &rows[i];

		sqlite3_bind_text(s, 1, node_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, start_ms);
		sqlite3_bind_int64(s, 3, end_ms);
		sqlite3_bind_text(s, 4, r->api ? r->api : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, r->method ? r->method : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, r->path ? r->path : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, r->consumer ? r->consumer : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 8, r->host ? r->host : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 9, (sqlite3_int64)r->requests);
		sqlite3_bind_int64(s, 10, (sqlite3_int64)r->samples);
		sqlite3_bind_int(s, 11, r->deprecated);
		sqlite3_bind_int(s, 12, r->plaintext);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			err = store_db__error(st, rc, "writing API usage");
		store_db__reset(s);
	}
cleanup:
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err)
		store_db__rollback(st);
	return err;
}

void store_usage__free_array(struct store_usage *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].api);
		free(v[i].method);
		free(v[i].path);
		free(v[i].consumer);
		free(v[i].host);
	}
	free(v);
}

int store__usage_query(struct store *st, const struct store_usage_filter *f, struct store_usage **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, S_US_QUERY);
	struct store_usage *v = NULL, *u;
	size_t cap = 0, cnt = 0;
	int rc, err = 0;

	*out = NULL;
	*n = 0;
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, f ? f->since_ms : 0);
	bind_opt(s, 2, f ? f->api : NULL);
	bind_opt(s, 3, f ? f->node_id : NULL);
	bind_opt(s, 4, f ? f->consumer : NULL);
	sqlite3_bind_int64(s, 5, f && f->limit ? f->limit : 1000);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = store_db__grow((void **)&v, &cap, cnt, sizeof(*v));
		if (err)
			goto cleanup;
		u = &v[cnt++];
		memset(u, 0, sizeof(*u));
		u->api = store_db__col_str(s, 0);
		u->method = store_db__col_str(s, 1);
		u->path = store_db__col_str(s, 2);
		u->consumer = store_db__col_str(s, 3);
		u->host = store_db__col_str(s, 4);
		u->requests = (uint64_t)sqlite3_column_int64(s, 5);
		u->samples = (uint64_t)sqlite3_column_int64(s, 6);
		u->first_ms = sqlite3_column_int64(s, 7);
		u->last_ms = sqlite3_column_int64(s, 8);
		u->deprecated = sqlite3_column_int(s, 9) != 0;
		u->plaintext = sqlite3_column_int(s, 10) != 0;
		u->nodes = (uint32_t)sqlite3_column_int(s, 11);
		if (!u->api || !u->method || !u->path || !u->consumer || !u->host) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "reading API usage");
cleanup:
	store_db__reset(s);
	if (err) {
		store_usage__free_array(v, cnt);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int store__monitor_prune(struct store *st, int64_t usage_before_ms, int64_t alerts_before_ms)
{
	sqlite3_stmt *us, *al;
	int rc, err;

	err = store_db__begin(st, false);
	if (err)
		return err;
	us = stmt(st, S_US_PRUNE);
	al = stmt(st, S_AL_PRUNE);
	if (!us || !al) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_int64(us, 1, usage_before_ms);
	rc = sqlite3_step(us);
	if (rc == SQLITE_DONE) {
		sqlite3_bind_int64(al, 1, alerts_before_ms);
		rc = sqlite3_step(al);
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "forgetting old API usage and alerts");
cleanup:
	store_db__reset(us);
	store_db__reset(al);
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err)
		store_db__rollback(st);
	return err;
}

/* ---- baselines ------------------------------------------------------------------------------- */

int store__baselines_put(struct store *st, const char *node_id, int64_t time, const uint8_t *blob, size_t len)
{
	sqlite3_stmt *s;
	int rc, err;

	err = store_db__begin(st, false);
	if (err)
		return err;
	s = stmt(st, S_BL_PUT);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_text(s, 1, node_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, time);
	store_db__bind_blob(s, 3, blob, len);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "writing baselines");
	store_db__reset(s);
cleanup:
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err)
		store_db__rollback(st);
	return err;
}

int store__baselines_get(struct store *st, const char *node_id, uint8_t **blob, size_t *len)
{
	sqlite3_stmt *s = stmt(st, S_BL_GET);
	int rc, err;

	*blob = NULL;
	*len = 0;
	if (!s)
		return -errno;
	sqlite3_bind_text(s, 1, node_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		err = store_db__col_blob(s, 0, blob, len);
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = store_db__error(st, rc, "reading baselines");
	store_db__reset(s);
	return err;
}
