// SPDX-License-Identifier: Apache-2.0
/*
 * store_agents.c — the agents half of store.h: one row per node that ever said Hello,
 * with its labels and interfaces as JSON text columns and its newest status as the
 * packed protobuf. Shares the connection and statement cache of store.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store_db.h"

void store_agent__clear(struct store_agent *a)
{
	if (!a)
		return;
	free(a->node_id);
	for (size_t i = 0; i < a->n_labels; i++) {
		free(a->labels[i].key);
		free(a->labels[i].value);
	}
	free(a->labels);
	free(a->last_error);
	free(a->agent_version);
	free(a->kernel);
	for (size_t i = 0; i < a->n_interfaces; i++)
		free(a->interfaces[i]);
	free(a->interfaces);
	free(a->status);
	memset(a, 0, sizeof(*a));
}

void store_agent__free_array(struct store_agent *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_agent__clear(&v[i]);
	free(v);
}

/* ---- JSON columns ------------------------------------------------------------------- */

char *store_db__labels_json(const struct store_label *l, size_t n)
{
	json_t *o = json_object();
	char *s = NULL;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (json_object_set_new(o, l[i].key, json_string(l[i].value)))
			goto cleanup;
	}
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
cleanup:
	json_decref(o);
	return s;
}

static char *interfaces_to_json(const struct store_agent *a)
{
	json_t *arr = json_array();
	char *s = NULL;

	if (!arr)
		return NULL;
	for (size_t i = 0; i < a->n_interfaces; i++) {
		if (json_array_append_new(arr, json_string(a->interfaces[i])))
			goto cleanup;
	}
	s = json_dumps(arr, JSON_COMPACT);
cleanup:
	json_decref(arr);
	return s;
}

static int cmp_label(const void *x, const void *y)
{
	return strcmp(((const struct store_label *)x)->key, ((const struct store_label *)y)->key);
}

int store_db__labels_parse(const char *text, struct store_label **out, size_t *n)
{
	json_t *o = json_loads(text ? text : "{}", 0, NULL);
	struct store_label *v = NULL;
	const char *key;
	json_t *val;
	size_t cnt = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_object(o) || json_object_size(o) == 0)
		goto cleanup;
	v = calloc(json_object_size(o), sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_object_foreach(o, key, val) {
		v[cnt].key = strdup(key);
		v[cnt].value = strdup(json_is_string(val) ? json_string_value(val) : "");
		cnt++;
		if (!v[cnt - 1].key || !v[cnt - 1].value) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	qsort(v, cnt, sizeof(*v), cmp_label);
cleanup:
	json_decref(o);
	if (err) {
		for (size_t i = 0; i < cnt; i++) {
			free(v[i].key);
			free(v[i].value);
		}
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int interfaces_from_json(struct store_agent *a, const char *text)
{
	json_t *arr = json_loads(text ? text : "[]", 0, NULL);
	size_t i;
	json_t *val;
	int err = 0;

	if (!json_is_array(arr))
		goto cleanup;
	a->interfaces = calloc(json_array_size(arr) + 1, sizeof(*a->interfaces));
	if (!a->interfaces) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_array_foreach(arr, i, val) {
		a->interfaces[a->n_interfaces] = strdup(json_is_string(val) ? json_string_value(val) : "");
		if (!a->interfaces[a->n_interfaces]) {
			err = -ENOMEM;
			goto cleanup;
		}
		a->n_interfaces++;
	}
cleanup:
	json_decref(arr);
	return err;
}

/* Reads a row of STORE_AGENT_COLS into *a. 0 or -ENOMEM. */
static int read_agent(sqlite3_stmt *s, struct store_agent *a)
{
	int err;

	memset(a, 0, sizeof(*a));
	a->node_id = store_db__col_str(s, 0);
	err = store_db__labels_parse((const char *)sqlite3_column_text(s, 1), &a->labels, &a->n_labels);
	a->state = (enum store_agent_state)sqlite3_column_int(s, 2);
	a->state_since = sqlite3_column_int64(s, 3);
	a->desired_revision = (uint64_t)sqlite3_column_int64(s, 4);
	a->applied_revision = (uint64_t)sqlite3_column_int64(s, 5);
	store_db__col_hash(s, 6, a->applied_hash);
	a->nacked_revision = (uint64_t)sqlite3_column_int64(s, 7);
	a->last_error = store_db__col_str(s, 8);
	a->last_seen = sqlite3_column_int64(s, 9);
	a->agent_version = store_db__col_str(s, 10);
	a->kernel = store_db__col_str(s, 11);
	if (!err)
		err = interfaces_from_json(a, (const char *)sqlite3_column_text(s, 12));
	if (!err)
		err = store_db__col_blob(s, 13, &a->status, &a->status_len);
	a->rule_capacity = (uint32_t)sqlite3_column_int64(s, 14);
	if (!err && (!a->node_id || !a->last_error || !a->agent_version || !a->kernel))
		err = -ENOMEM;
	if (err)
		store_agent__clear(a);
	return err;
}

/* ---- queries ------------------------------------------------------------------------ */

int store__agent_get(struct store *st, const char *node_id, struct store_agent *out)
{
	sqlite3_stmt *s = store_db__stmt(st, S_AGENT_GET);
	int rc, err = 0;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -errno;
	sqlite3_bind_text(s, 1, node_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		err = read_agent(s, out);
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = store_db__error(st, rc, "reading an agent");
	store_db__reset(s);
	return err;
}

int store__agent_list(struct store *st, struct store_agent **out, size_t *n)
{
	sqlite3_stmt *s = store_db__stmt(st, S_AGENT_LIST);
	struct store_agent *v = NULL;
	size_t cap = 0, cnt = 0;
	int rc, err = 0;

	*out = NULL;
	*n = 0;
	if (!s)
		return -errno;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = store_db__grow((void **)&v, &cap, cnt, sizeof(*v));
		if (!err)
			err = read_agent(s, &v[cnt]);
		if (err)
			goto cleanup;
		cnt++;
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "listing agents");
cleanup:
	store_db__reset(s);
	if (err) {
		store_agent__free_array(v, cnt);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int store__agent_foreach(struct store *st, void (*fn)(void *arg, const struct store_agent *a), void *arg)
{
	sqlite3_stmt *s = store_db__stmt(st, S_AGENT_LIST);
	struct store_agent a;
	int rc, err = 0;

	if (!s)
		return -errno;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = read_agent(s, &a);
		if (err)
			goto cleanup;
		fn(arg, &a);
		store_agent__clear(&a);
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "listing agents");
cleanup:
	store_db__reset(s);
	return err;
}

/* Writes one agent row inside the open transaction. 0 or -errno. */
static int put_one(struct store *st, sqlite3_stmt *s, const struct store_agent *a)
{
	char *labels = NULL, *ifaces = NULL;
	int rc, err = 0;

	if (!a || !a->node_id || !*a->node_id)
		return -EINVAL;
	labels = store_db__labels_json(a->labels, a->n_labels);
	ifaces = interfaces_to_json(a);
	if (!labels || !ifaces) {
		err = -ENOMEM;
		goto cleanup;
	}
	sqlite3_bind_text(s, 1, a->node_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, labels, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, (int)a->state);
	sqlite3_bind_int64(s, 4, a->state_since);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)a->desired_revision);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)a->applied_revision);
	sqlite3_bind_text(s, 7, a->applied_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)a->nacked_revision);
	sqlite3_bind_text(s, 9, a->last_error ? a->last_error : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 10, a->last_seen);
	sqlite3_bind_text(s, 11, a->agent_version ? a->agent_version : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 12, a->kernel ? a->kernel : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 13, ifaces, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 14, a->rule_capacity);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "writing an agent");
	store_db__reset(s);
cleanup:
	free(labels);
	free(ifaces);
	return err;
}

int store__agent_put(struct store *st, const struct store_agent *a)
{
	return store__agent_put_many(st, &a, 1);
}

int store__agent_put_many(struct store *st, const struct store_agent *const *v, size_t n)
{
	sqlite3_stmt *s;
	int err;

	for (size_t i = 0; i < n; i++)
		if (!v[i] || !v[i]->node_id || !*v[i]->node_id)
			return -EINVAL;
	if (n == 0)
		return 0;
	err = store_db__begin(st, false);
	if (err)
		return err;
	s = store_db__stmt(st, S_AGENT_PUT);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	for (size_t i = 0; i < n && !err; i++)
		err = put_one(st, s, v[i]);
	if (!err)
		err = store_db__run(st, S_COMMIT);
cleanup:
	if (err)
		store_db__rollback(st);
	return err;
}

int store__agent_seen(struct store *st, const struct store_agent_seen *v, size_t n)
{
	sqlite3_stmt *s = NULL;
	int rc, err;

	if (n == 0)
		return 0;
	err = store_db__begin(st, false);
	if (err)
		return err;
	s = store_db__stmt(st, S_AGENT_SEEN);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(s, 1, v[i].node_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, v[i].last_seen);
		if (v[i].status)
			store_db__bind_blob(s, 3, v[i].status, v[i].status_len);
		else
			sqlite3_bind_null(s, 3);
		rc = sqlite3_step(s);
		store_db__reset(s);
		if (rc != SQLITE_DONE) {
			err = store_db__error(st, rc, "recording agent liveness");
			goto cleanup;
		}
	}
	err = store_db__run(st, S_COMMIT);
cleanup:
	if (err)
		store_db__rollback(st);
	return err;
}

int store__agents_mark_offline(struct store *st, int64_t now)
{
	sqlite3_stmt *s = NULL;
	int rc, err;

	err = store_db__begin(st, false);
	if (err)
		return err;
	s = store_db__stmt(st, S_AGENTS_OFFLINE);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_int(s, 1, STORE_AGENT_OFFLINE);
	sqlite3_bind_int64(s, 2, now);
	rc = sqlite3_step(s);
	store_db__reset(s);
	if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "marking agents offline");
		goto cleanup;
	}
	err = store_db__run(st, S_COMMIT);
cleanup:
	if (err)
		store_db__rollback(st);
	return err;
}

int store__agent_delete(struct store *st, const char *node_id, const struct store_audit_new *audit)
{
	sqlite3_stmt *s = NULL;
	int rc, err;

	if (!node_id || !audit)
		return -EINVAL;
	err = store_db__begin(st, true);
	if (err)
		return err;
	s = store_db__stmt_sql(st, S_AGENT_DELETE, "DELETE FROM agents WHERE node_id = ?1");
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_text(s, 1, node_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	store_db__reset(s);
	if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "removing an agent");
		goto cleanup;
	}
	if (sqlite3_changes(st->db) == 0) {
		err = -ENOENT;
		goto cleanup;
	}
	err = store_db__audit(st, audit);
	if (!err)
		err = store_db__run(st, S_COMMIT);
cleanup:
	if (err)
		store_db__rollback(st);
	return err;
}
