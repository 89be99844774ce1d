// SPDX-License-Identifier: Apache-2.0
/*
 * store_rollouts.c — the rollouts half of store.h: one row per rollout (its selector
 * and warnings as JSON text), one per wave and one per agent it covers. Every change
 * is one durable transaction that may also set agents' desired revisions and write an
 * audit row, so a controller killed at any point restarts from a consistent state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store_db.h"

#define RO_COLS                                                                                              \
	"id, op_key, revision, hash, from_revision, selector, canary_percent, batch_percent, interval_seconds," \
	" ack_timeout_seconds, max_drop_rate_change, state, reason, current_wave, next_wave_ms, author,"       \
	" message, warnings, created, updated"

static const char sql_by_key[] = "SELECT id FROM rollouts WHERE op_key = ?1";
static const char sql_insert[] =
	"INSERT INTO rollouts(op_key, revision, hash, from_revision, selector, canary_percent, batch_percent,"
	" interval_seconds, ack_timeout_seconds, max_drop_rate_change, state, reason, current_wave, next_wave_ms,"
	" author, message, warnings, created, updated)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)";
static const char sql_update[] = "UPDATE rollouts SET from_revision = ?2, state = ?3, reason = ?4, current_wave = ?5,"
				 " next_wave_ms = ?6, warnings = ?7, updated = ?8 WHERE id = ?1";
static const char sql_get[] = "SELECT " RO_COLS " FROM rollouts WHERE id = ?1";
static const char sql_newest[] = "SELECT " RO_COLS " FROM rollouts ORDER BY id DESC LIMIT 1";
static const char sql_list[] = "SELECT " RO_COLS " FROM rollouts ORDER BY id DESC LIMIT ?1";
static const char sql_for_rev[] = "SELECT 1 FROM rollouts WHERE revision = ?1 LIMIT 1";
static const char sql_wave_put[] =
	"INSERT INTO rollout_waves(rollout_id, wave, state, agents, started_ms, answered_ms, finished_ms)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(rollout_id, wave) DO UPDATE SET state = excluded.state,"
	" agents = excluded.agents, started_ms = excluded.started_ms, answered_ms = excluded.answered_ms,"
	" finished_ms = excluded.finished_ms";
static const char sql_waves[] = "SELECT wave, state, agents, started_ms, answered_ms, finished_ms FROM rollout_waves"
				" WHERE rollout_id = ?1 ORDER BY wave";
static const char sql_agent_put[] =
	"INSERT INTO rollout_agents(rollout_id, node_id, wave, previous_revision, state, rolled_back, error,"
	" rate_before, rate_after, ack_packets, ack_drops) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
	" ON CONFLICT(rollout_id, node_id) DO UPDATE SET wave = excluded.wave,"
	" previous_revision = excluded.previous_revision, state = excluded.state,"
	" rolled_back = excluded.rolled_back, error = excluded.error, rate_before = excluded.rate_before,"
	" rate_after = excluded.rate_after, ack_packets = excluded.ack_packets, ack_drops = excluded.ack_drops";
static const char sql_agents[] = "SELECT node_id, wave, previous_revision, state, rolled_back, error, rate_before,"
				 " rate_after, ack_packets, ack_drops FROM rollout_agents WHERE rollout_id = ?1"
				 " ORDER BY node_id";
static const char sql_desired[] = "UPDATE agents SET desired_revision = ?2 WHERE node_id = ?1";

/* ---- records ------------------------------------------------------------------------- */

static void labels_free(struct store_label *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

void store_rollout__clear(struct store_rollout *r)
{
	if (!r)
		return;
	labels_free(r->selector, r->n_selector);
	free(r->reason);
	free(r->author);
	free(r->message);
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r->waves);
	memset(r, 0, sizeof(*r));
}

void store_rollout__free_array(struct store_rollout *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_rollout__clear(&v[i]);
	free(v);
}

void store_rollout_agent__clear(struct store_rollout_agent *a)
{
	if (!a)
		return;
	free(a->node_id);
	free(a->error);
	memset(a, 0, sizeof(*a));
}

void store_rollout_agent__free_array(struct store_rollout_agent *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_rollout_agent__clear(&v[i]);
	free(v);
}

static char *warnings_json(const struct store_rollout *r)
{
	json_t *a = json_array();
	char *s = NULL;

	if (!a)
		return NULL;
	for (size_t i = 0; i < r->n_warnings; i++)
		if (json_array_append_new(a, json_string(r->warnings[i] ? r->warnings[i] : "")))
			goto cleanup;
	s = json_dumps(a, JSON_COMPACT);
cleanup:
	json_decref(a);
	return s;
}

static int warnings_parse(struct store_rollout *r, const char *text)
{
	json_t *a = json_loads(text ? text : "[]", 0, NULL), *v;
	size_t i;
	int err = 0;

	if (!json_is_array(a) || json_array_size(a) == 0)
		goto cleanup;
	r->warnings = calloc(json_array_size(a), sizeof(*r->warnings));
	if (!r->warnings) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_array_foreach(a, i, v) {
		r->warnings[r->n_warnings] = strdup(json_is_string(v) ? json_string_value(v) : "");
		if (!r->warnings[r->n_warnings]) {
			err = -ENOMEM;
			goto cleanup;
		}
		r->n_warnings++;
	}
cleanup:
	json_decref(a);
	return err;
}

/* Reads the waves of r->id. 0 or -errno. */
static int read_waves(struct store *st, struct store_rollout *r)
{
	sqlite3_stmt *s = store_db__stmt_sql(st, S_RO_WAVES, sql_waves);
	size_t cap = 0;
	int rc, err = 0;

	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)r->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_wave *w;

		err = store_db__grow((void **)&r->waves, &cap, r->n_waves, sizeof(*w));
		if (err)
			goto cleanup;
		w = &r->waves[r->n_waves++];
		w->index = (uint32_t)sqlite3_column_int64(s, 0);
		w->state = (enum store_wave_state)sqlite3_column_int(s, 1);
		w->agents = (uint32_t)sqlite3_column_int64(s, 2);
		w->started_ms = sqlite3_column_int64(s, 3);
		w->answered_ms = sqlite3_column_int64(s, 4);
		w->finished_ms = sqlite3_column_int64(s, 5);
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "reading rollout waves");
cleanup:
	store_db__reset(s);
	return err;
}

/* Reads a row of RO_COLS (and its waves) into *r. 0 or -errno. */
static int read_rollout(struct store *st, sqlite3_stmt *s, struct store_rollout *r)
{
	const unsigned char *key = sqlite3_column_text(s, 1);
	int err;

	memset(r, 0, sizeof(*r));
	r->id = (uint64_t)sqlite3_column_int64(s, 0);
	snprintf(r->key, sizeof(r->key), "%s", key ? (const char *)key : "");
	r->revision = (uint64_t)sqlite3_column_int64(s, 2);
	store_db__col_hash(s, 3, r->hash);
	r->from_revision = (uint64_t)sqlite3_column_int64(s, 4);
	err = store_db__labels_parse((const char *)sqlite3_column_text(s, 5), &r->selector, &r->n_selector);
	r->canary_percent = (uint32_t)sqlite3_column_int64(s, 6);
	r->batch_percent = (uint32_t)sqlite3_column_int64(s, 7);
	r->interval_seconds = (uint32_t)sqlite3_column_int64(s, 8);
	r->ack_timeout_seconds = (uint32_t)sqlite3_column_int64(s, 9);
	r->max_drop_rate_change = sqlite3_column_double(s, 10);
	r->state = (enum store_rollout_state)sqlite3_column_int(s, 11);
	r->reason = store_db__col_str(s, 12);
	r->current_wave = (uint32_t)sqlite3_column_int64(s, 13);
	r->next_wave_ms = sqlite3_column_int64(s, 14);
	r->author = store_db__col_str(s, 15);
	r->message = store_db__col_str(s, 16);
	if (!err)
		err = warnings_parse(r, (const char *)sqlite3_column_text(s, 17));
	r->created = sqlite3_column_int64(s, 18);
	r->updated = sqlite3_column_int64(s, 19);
	if (!err && (!r->reason || !r->author || !r->message))
		err = -ENOMEM;
	if (!err)
		err = read_waves(st, r);
	if (err)
		store_rollout__clear(r);
	return err;
}

/* ---- writes -------------------------------------------------------------------------- */

static int put_waves(struct store *st, const struct store_rollout *r, uint64_t id)
{
	sqlite3_stmt *s = store_db__stmt_sql(st, S_RO_WAVE_PUT, sql_wave_put);
	int rc;

	if (!s)
		return -errno;
	for (size_t i = 0; i < r->n_waves; i++) {
		const struct store_wave *w = &r->waves[i];

		sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
		sqlite3_bind_int64(s, 2, w->index);
		sqlite3_bind_int(s, 3, (int)w->state);
		sqlite3_bind_int64(s, 4, w->agents);
		sqlite3_bind_int64(s, 5, w->started_ms);
		sqlite3_bind_int64(s, 6, w->answered_ms);
		sqlite3_bind_int64(s, 7, w->finished_ms);
		rc = sqlite3_step(s);
		store_db__reset(s);
		if (rc != SQLITE_DONE)
			return store_db__error(st, rc, "writing a rollout wave");
	}
	return 0;
}

static int put_agents(struct store *st, uint64_t id, const struct store_rollout_agent *v, size_t n)
{
	sqlite3_stmt *s = n ? store_db__stmt_sql(st, S_RO_AGENT_PUT, sql_agent_put) : NULL;
	int rc;

	if (n && !s)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].node_id)
			return -EINVAL;
		sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
		sqlite3_bind_text(s, 2, v[i].node_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, v[i].wave);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)v[i].previous_revision);
		sqlite3_bind_int(s, 5, (int)v[i].state);
		sqlite3_bind_int(s, 6, v[i].rolled_back);
		sqlite3_bind_text(s, 7, v[i].error ? v[i].error : "", -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 8, v[i].rate_before);
		sqlite3_bind_double(s, 9, v[i].rate_after);
		sqlite3_bind_int64(s, 10, (sqlite3_int64)v[i].ack_packets);
		sqlite3_bind_int64(s, 11, (sqlite3_int64)v[i].ack_drops);
		rc = sqlite3_step(s);
		store_db__reset(s);
		if (rc != SQLITE_DONE)
			return store_db__error(st, rc, "writing a rollout agent");
	}
	return 0;
}

static int put_desired(struct store *st, const struct store_desired *v, size_t n)
{
	sqlite3_stmt *s = n ? store_db__stmt_sql(st, S_RO_DESIRED, sql_desired) : NULL;
	int rc;

	if (n && !s)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(s, 1, v[i].node_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)v[i].revision);
		rc = sqlite3_step(s);
		store_db__reset(s);
		if (rc != SQLITE_DONE)
			return store_db__error(st, rc, "recording a desired revision");
	}
	return 0;
}

static void describe_selector(const struct store_rollout *r, char *buf, size_t len)
{
	size_t off = 0;

	snprintf(buf, len, "every agent");
	for (size_t i = 0; i < r->n_selector && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", r->selector[i].key, r->selector[i].value);

		if (n > 0)
			off += (size_t)n;
	}
}

/* The content hash of revision rev into out ("" when there is none), for the audit
 * row's before_hash. */
static void revision_hash(struct store *st, uint64_t rev, char out[STORE_HASH_HEX])
{
	sqlite3_stmt *s = rev && rev != STORE_REVISION_NONE ? store_db__stmt(st, S_REV_GET) : NULL;

	out[0] = '\0';
	if (!s)
		return;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)rev);
	sqlite3_bind_int(s, 2, 0);
	if (sqlite3_step(s) == SQLITE_ROW)
		store_db__col_hash(s, 1, out);
	store_db__reset(s);
}

int store__rollout_insert(struct store *st, const struct store_rollout *r, const struct store_rollout_agent *agents,
			  size_t n, const struct store_desired *desired, size_t n_desired, uint64_t *id)
{
	sqlite3_stmt *s = NULL;
	char *sel = NULL, *warn = NULL, object[40], detail[512], who_sel[256], before[STORE_HASH_HEX];
	struct store_audit_new audit = { 0 };
	uint64_t new_id = 0;
	int rc, err;

	if (!r || !r->key[0] || !r->author)
		return -EINVAL;
	sel = store_db__labels_json(r->selector, r->n_selector);
	warn = warnings_json(r);
	if (!sel || !warn) {
		err = -ENOMEM;
		goto out;
	}
	err = store_db__begin(st, true);
	if (err)
		goto out;
	s = store_db__stmt_sql(st, S_RO_BY_KEY, sql_by_key);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_text(s, 1, r->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		new_id = (uint64_t)sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "looking up a rollout");
	store_db__reset(s);
	if (err || new_id)
		goto cleanup; /* a retry: the first insert stands */

	s = store_db__stmt_sql(st, S_RO_INSERT, sql_insert);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_text(s, 1, r->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)r->revision);
	sqlite3_bind_text(s, 3, r->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)r->from_revision);
	sqlite3_bind_text(s, 5, sel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, r->canary_percent);
	sqlite3_bind_int64(s, 7, r->batch_percent);
	sqlite3_bind_int64(s, 8, r->interval_seconds);
	sqlite3_bind_int64(s, 9, r->ack_timeout_seconds);
	sqlite3_bind_double(s, 10, r->max_drop_rate_change);
	sqlite3_bind_int(s, 11, (int)r->state);
	sqlite3_bind_text(s, 12, r->reason ? r->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 13, r->current_wave);
	sqlite3_bind_int64(s, 14, r->next_wave_ms);
	sqlite3_bind_text(s, 15, r->author, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 16, r->message ? r->message : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 17, warn, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 18, r->created);
	sqlite3_bind_int64(s, 19, r->updated);
	rc = sqlite3_step(s);
	store_db__reset(s);
	if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "inserting a rollout");
		goto cleanup;
	}
	new_id = (uint64_t)sqlite3_last_insert_rowid(st->db);
	err = put_waves(st, r, new_id);
	if (!err)
		err = put_agents(st, new_id, agents, n);
	if (!err)
		err = put_desired(st, desired, n_desired);
	if (err)
		goto cleanup;
	snprintf(object, sizeof(object), "rollout %llu", (unsigned long long)new_id);
	describe_selector(r, who_sel, sizeof(who_sel));
	snprintf(detail, sizeof(detail), "revision %llu to %zu agents (%s) in %zu waves%s%s",
		 (unsigned long long)r->revision, n, who_sel, r->n_waves, r->message && r->message[0] ? ": " : "",
		 r->message ? r->message : "");
	revision_hash(st, r->from_revision, before);
	audit = (struct store_audit_new){ .op_key = r->key, .time = r->created, .who = r->author,
					  .action = "rollout-start", .object = object, .detail = detail,
					  .before_hash = before, .after_hash = r->hash };
	err = store_db__audit(st, &audit);
cleanup:
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err)
		store_db__rollback(st);
	else
		*id = new_id;
out:
	free(sel);
	free(warn);
	return err;
}

int store__rollout_save(struct store *st, const struct store_rollout *r, const struct store_rollout_agent *agents,
			size_t n, const struct store_desired *desired, size_t n_desired,
			const struct store_audit_new *audit)
{
	sqlite3_stmt *s;
	char *warn = warnings_json(r);
	int rc, err;

	if (!warn)
		return -ENOMEM;
	err = store_db__begin(st, true);
	if (err)
		goto out;
	s = store_db__stmt_sql(st, S_RO_UPDATE, sql_update);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)r->id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)r->from_revision);
	sqlite3_bind_int(s, 3, (int)r->state);
	sqlite3_bind_text(s, 4, r->reason ? r->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, r->current_wave);
	sqlite3_bind_int64(s, 6, r->next_wave_ms);
	sqlite3_bind_text(s, 7, warn, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, r->updated);
	rc = sqlite3_step(s);
	store_db__reset(s);
	if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "updating a rollout");
		goto cleanup;
	}
	if (sqlite3_changes(st->db) == 0) {
		err = -ENOENT;
		goto cleanup;
	}
	err = put_waves(st, r, r->id);
	if (!err)
		err = put_agents(st, r->id, agents, n);
	if (!err)
		err = put_desired(st, desired, n_desired);
	if (!err && audit)
		err = store_db__audit(st, audit);
cleanup:
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err)
		store_db__rollback(st);
out:
	free(warn);
	return err;
}

/* ---- reads --------------------------------------------------------------------------- */

int store__rollout_get(struct store *st, uint64_t id, struct store_rollout *out)
{
	sqlite3_stmt *s = id ? store_db__stmt_sql(st, S_RO_GET, sql_get) : store_db__stmt_sql(st, S_RO_NEWEST, sql_newest);
	int rc, err = 0;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -errno;
	if (id)
		sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		err = read_rollout(st, s, out);
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = store_db__error(st, rc, "reading a rollout");
	store_db__reset(s);
	return err;
}

int store__rollout_exists_for(struct store *st, uint64_t revision, bool *exists)
{
	sqlite3_stmt *s = store_db__stmt_sql(st, S_RO_FOR_REV, sql_for_rev);
	int rc, err = 0;

	*exists = false;
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)revision);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*exists = true;
	else if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "looking up the rollouts of a revision");
	store_db__reset(s);
	return err;
}

int store__rollout_list(struct store *st, uint32_t limit, struct store_rollout **out, size_t *n)
{
	sqlite3_stmt *s = store_db__stmt_sql(st, S_RO_LIST, sql_list);
	struct store_rollout *v = NULL;
	size_t cap = 0, cnt = 0;
	int rc, err = 0;

	*out = NULL;
	*n = 0;
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, limit ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = store_db__grow((void **)&v, &cap, cnt, sizeof(*v));
		if (!err)
			err = read_rollout(st, s, &v[cnt]);
		if (err)
			goto cleanup;
		cnt++;
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "listing rollouts");
cleanup:
	store_db__reset(s);
	if (err) {
		store_rollout__free_array(v, cnt);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int store__rollout_agents(struct store *st, uint64_t id, struct store_rollout_agent **out, size_t *n)
{
	sqlite3_stmt *s = store_db__stmt_sql(st, S_RO_AGENTS, sql_agents);
	struct store_rollout_agent *v = NULL, *a;
	size_t cap = 0, cnt = 0;
	int rc, err = 0;

	*out = NULL;
	*n = 0;
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = store_db__grow((void **)&v, &cap, cnt, sizeof(*v));
		if (err)
			goto cleanup;
		a = &v[cnt++];
		memset(a, 0, sizeof(*a));
		a->node_id = store_db__col_str(s, 0);
		a->wave = (uint32_t)sqlite3_column_int64(s, 1);
		a->previous_revision = (uint64_t)sqlite3_column_int64(s, 2);
		a->state = (enum store_member_state)sqlite3_column_int(s, 3);
		a->rolled_back = sqlite3_column_int(s, 4) != 0;
		a->error = store_db__col_str(s, 5);
		a->rate_before = sqlite3_column_double(s, 6);
		a->rate_after = sqlite3_column_double(s, 7);
		a->ack_packets = (uint64_t)sqlite3_column_int64(s, 8);
		a->ack_drops = (uint64_t)sqlite3_column_int64(s, 9);
		if (!a->node_id || !a->error) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "listing rollout agents");
cleanup:
	store_db__reset(s);
	if (err) {
		store_rollout_agent__free_array(v, cnt);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}
