// SPDX-License-Identifier: Apache-2.0
/*
 * test_store_rollout.c — the rollout half of the store (controller/store.h): a database
 * written by the first schema is migrated with its revisions and agents intact; rollouts,
 * their waves and agents read back as written; inserts and audited changes are
 * idempotent by their keys; desired revisions go in with the change that sets them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *st;
	char err[512];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-store-ro.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/controller.db", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	store__close(fx->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void open_store(struct fx *fx)
{
	fx->st = store__open(fx->path, fx->err, sizeof(fx->err));
	if (!fx->st)
		fail_msg("store__open: %s", fx->err);
}

/* The schema as the first release wrote it (migration 1), with one revision and one agent. */
static const char v1_db[] =
	"CREATE TABLE revisions (revision INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL,"
	" author TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, policy BLOB NOT NULL,"
	" rules INTEGER NOT NULL, routes INTEGER NOT NULL);"
	"CREATE INDEX revisions_hash ON revisions(hash);"
	"CREATE TABLE agents (node_id TEXT PRIMARY KEY, labels TEXT NOT NULL DEFAULT '{}', state INTEGER NOT NULL,"
	" state_since INTEGER NOT NULL, desired_revision INTEGER NOT NULL DEFAULT 0,"
	" applied_revision INTEGER NOT NULL DEFAULT 0, applied_hash TEXT NOT NULL DEFAULT '',"
	" nacked_revision INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
	" last_seen INTEGER NOT NULL DEFAULT 0, agent_version TEXT NOT NULL DEFAULT '', kernel TEXT NOT NULL DEFAULT '',"
	" interfaces TEXT NOT NULL DEFAULT '[]', status BLOB);"
	"CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, who TEXT NOT NULL,"
	" action TEXT NOT NULL, object TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',"
	" before_hash TEXT NOT NULL DEFAULT '', after_hash TEXT NOT NULL DEFAULT '');"
	"INSERT INTO revisions(hash, author, created, policy, rules, routes) VALUES('h1', 'alice', 1700000000, x'', 0, 0);"
	"INSERT INTO agents(node_id, labels, state, state_since, desired_revision, applied_revision, applied_hash)"
	" VALUES('gw1', '{\"env\":\"lab\"}', 1, 1700000000, 1, 1, 'h1');"
	"PRAGMA user_version = 1;";

static void test_migrates_a_first_schema_database(void **state)
{
	struct fx *fx = *state;
	struct store_revision r;
	struct store_rollout *v;
	struct store_agent a;
	sqlite3 *db = NULL;
	size_t n;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_db, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	open_store(fx);
	assert_int_equal(store__db_schema_version(fx->st), store__schema_version());
	assert_true(store__schema_version() >= 2);
	assert_int_equal(store__revision_get(fx->st, 1, false, &r), 0);
	assert_string_equal(r.hash, "h1");
	store_revision__clear(&r);
	assert_int_equal(store__agent_get(fx->st, "gw1", &a), 0);
	assert_int_equal(a.desired_revision, 1);
	assert_int_equal(a.rule_capacity, 0); /* the new column, defaulted */
	assert_string_equal(a.labels[0].value, "lab");
	store_agent__clear(&a);
	assert_int_equal(store__rollout_list(fx->st, 0, &v, &n), 0);
	assert_int_equal(n, 0);
}

static void fill(struct store_rollout *r, const char *key)
{
	static struct store_label sel = { "env", "lab" };
	static struct store_wave waves[2] = { { 0, STORE_WAVE_RUNNING, 1, 1700000000000, 0, 0 },
					      { 1, STORE_WAVE_WAITING, 2, 0, 0, 0 } };
	static char *warn[] = { "1 selected agent is offline" };

	memset(r, 0, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->revision = 2;
	snprintf(r->hash, sizeof(r->hash), "h2");
	r->from_revision = 1;
	r->selector = &sel;
	r->n_selector = 1;
	r->canary_percent = 34;
	r->batch_percent = 50;
	r->interval_seconds = 30;
	r->ack_timeout_seconds = 60;
	r->max_drop_rate_change = 2.5;
	r->state = STORE_ROLLOUT_RUNNING;
	r->author = "alice";
	r->message = "canary";
	r->warnings = warn;
	r->n_warnings = 1;
	r->created = r->updated = 1700000000;
	r->waves = waves;
	r->n_waves = 2;
}

static void test_rollout_records(void **state)
{
	struct fx *fx = *state;
	struct store_rollout_agent ag[3] = {
		{ "gw1", 0, 1, STORE_MEMBER_PENDING, false, "", 1.5, -1, 0, 0 },
		{ "gw2", 1, 1, STORE_MEMBER_WAITING, false, "", -1, -1, 0, 0 },
		{ "gw3", 1, STORE_REVISION_NONE, STORE_MEMBER_WAITING, false, "", -1, -1, 0, 0 },
	};
	struct store_desired want[] = { { "gw1", 2 } };
	struct store_audit_new audit = { .op_key = "k-fail", .time = 1700000100, .who = "controller",
					 .action = "rollout-failed", .object = "rollout 1", .detail = "no" };
	struct store_rollout r, got;
	struct store_rollout_agent *v;
	struct store_audit *au;
	struct store_agent a = { 0 };
	struct store_label lab = { "env", "lab" };
	uint64_t id = 0, id2 = 0;
	size_t n;

	open_store(fx);
	a.node_id = "gw1";
	a.labels = &lab;
	a.n_labels = 1;
	a.state = STORE_AGENT_SYNCED;
	a.desired_revision = 1;
	assert_int_equal(store__agent_put(fx->st, &a), 0);

	fill(&r, "0123456789abcdef0123456789abcdef");
	assert_int_equal(store__rollout_insert(fx->st, &r, ag, 3, want, 1, &id), 0);
	assert_int_equal(id, 1);
	/* A retried insert (same key) finds the first one and writes nothing. */
	assert_int_equal(store__rollout_insert(fx->st, &r, ag, 3, want, 1, &id2), 0);
	assert_int_equal(id2, 1);
	{
		struct store_rollout *all;

		assert_int_equal(store__rollout_list(fx->st, 0, &all, &n), 0);
		assert_int_equal(n, 1);
		store_rollout__free_array(all, n);
	}

	assert_int_equal(store__rollout_get(fx->st, 0, &got), 0);
	assert_int_equal(got.id, 1);
	assert_string_equal(got.key, r.key);
	assert_string_equal(got.selector[0].key, "env");
	assert_int_equal(got.canary_percent, 34);
	assert_true(got.max_drop_rate_change > 2.49 && got.max_drop_rate_change < 2.51);
	assert_int_equal(got.n_waves, 2);
	assert_int_equal(got.waves[0].started_ms, 1700000000000);
	assert_int_equal(got.waves[1].agents, 2);
	assert_int_equal(got.n_warnings, 1);
	assert_string_equal(got.warnings[0], "1 selected agent is offline");
	store_rollout__clear(&got);
	assert_int_equal(store__agent_get(fx->st, "gw1", &a), 0);
	assert_int_equal(a.desired_revision, 2); /* set in the same transaction */
	store_agent__clear(&a);

	assert_int_equal(store__rollout_agents(fx->st, 1, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].node_id, "gw1");
	assert_true(v[0].rate_before > 1.49);
	assert_int_equal(v[2].previous_revision, STORE_REVISION_NONE);
	store_rollout_agent__free_array(v, n);

	/* A change with an audit row; retried, it writes the row once. */
	r.id = 1;
	r.state = STORE_ROLLOUT_FAILED;
	r.reason = "wave 1: agent 'gw1' refused revision 2";
	r.waves[0].state = STORE_WAVE_FAILED;
	ag[0].state = STORE_MEMBER_NACKED;
	ag[0].rolled_back = true;
	ag[0].error = "no room";
	want[0].revision = 1;
	assert_int_equal(store__rollout_save(fx->st, &r, ag, 1, want, 1, &audit), 0);
	assert_int_equal(store__rollout_save(fx->st, &r, ag, 1, want, 1, &audit), 0);
	assert_int_equal(store__audit_list(fx->st, 0, 0, &au, &n), 0);
	{
		size_t fails = 0;

		for (size_t i = 0; i < n; i++)
			fails += strcmp(au[i].action, "rollout-failed") == 0;
		assert_int_equal(fails, 1);
	}
	store_audit__free_array(au, n);
	assert_int_equal(store__rollout_get(fx->st, 1, &got), 0);
	assert_int_equal(got.state, STORE_ROLLOUT_FAILED);
	assert_string_equal(got.reason, "wave 1: agent 'gw1' refused revision 2");
	assert_int_equal(got.waves[0].state, STORE_WAVE_FAILED);
	store_rollout__clear(&got);
	assert_int_equal(store__rollout_agents(fx->st, 1, &v, &n), 0);
	assert_int_equal(v[0].state, STORE_MEMBER_NACKED);
	assert_true(v[0].rolled_back);
	assert_string_equal(v[0].error, "no room");
	store_rollout_agent__free_array(v, n);
	assert_int_equal(store__agent_get(fx->st, "gw1", &a), 0);
	assert_int_equal(a.desired_revision, 1);
	store_agent__clear(&a);

	/* Survives a reopen; a change to a rollout that does not exist is refused. */
	store__close(fx->st);
	open_store(fx);
	assert_int_equal(store__rollout_get(fx->st, 1, &got), 0);
	assert_int_equal(got.state, STORE_ROLLOUT_FAILED);
	store_rollout__clear(&got);
	r.id = 42;
	assert_int_equal(store__rollout_save(fx->st, &r, NULL, 0, NULL, 0, NULL), -ENOENT);
	assert_int_equal(store__rollout_get(fx->st, 42, &got), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrates_a_first_schema_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout_records, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
