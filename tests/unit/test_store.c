// SPDX-License-Identifier: Apache-2.0
/*
 * test_store.c — the controller's store (controller/store.h) on a fresh database in a
 * temporary directory per test: migrations and the newer-schema refusal, revision
 * numbering, dedup and the audit row written with it, agent records and their state
 * fields across a reopen, and the lock that keeps a second controller out.
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
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-store.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/controller.db", fx->dir);
	fx->st = store__open(fx->path, fx->err, sizeof(fx->err));
	assert_non_null(fx->st);
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

static void reopen(struct fx *fx)
{
	store__close(fx->st);
	fx->st = store__open(fx->path, fx->err, sizeof(fx->err));
	assert_non_null(fx->st);
}

/* Runs SQL on the database behind the store's back (the store must be closed). */
static void raw_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static uint64_t insert(struct store *st, const char *hash, const char *author, bool *created)
{
	static const uint8_t blob[] = { 0x0a, 0x02, 0x08, 0x01 };
	struct store_revision_new in = {
		.hash = hash, .author = author, .message = "msg", .created = 1700000000,
		.rules = 1, .routes = 0, .policy = blob, .policy_len = sizeof(blob),
	};
	uint64_t rev = 0;

	assert_int_equal(store__revision_insert(st, &in, &rev, created), 0);
	return rev;
}

static void test_fresh_db_is_migrated(void **state)
{
	struct fx *fx = *state;
	struct store_revision *revs;
	struct store_agent *agents;
	size_t n;

	assert_true(store__schema_version() >= 1);
	assert_int_equal(store__db_schema_version(fx->st), store__schema_version());
	assert_int_equal(store__revision_list(fx->st, 0, &revs, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store__agent_list(fx->st, &agents, &n), 0);
	assert_int_equal(n, 0);
	/* Reopening an up-to-date database leaves its version alone. */
	reopen(fx);
	assert_int_equal(store__db_schema_version(fx->st), store__schema_version());
}

static void test_newer_schema_is_refused(void **state)
{
	struct fx *fx = *state;
	char sql[64];

	store__close(fx->st);
	fx->st = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store__schema_version() + 1);
	raw_sql(fx->path, sql);
	fx->st = store__open(fx->path, fx->err, sizeof(fx->err));
	assert_null(fx->st);
	assert_int_equal(errno, ENOTSUP);
	assert_non_null(strstr(fx->err, "newer than this sluice-controller knows"));
}

static void test_revisions_dedup_and_numbering(void **state)
{
	struct fx *fx = *state;
	struct store_revision r, *revs;
	bool created;
	size_t n;

	assert_int_equal(store__revision_get(fx->st, 0, false, &r), -ENOENT);
	assert_int_equal(insert(fx->st, "aaaa", "alice", &created), 1);
	assert_true(created);
	/* A retried apply of the same content stores nothing. */
	assert_int_equal(insert(fx->st, "aaaa", "alice", &created), 1);
	assert_false(created);
	assert_int_equal(insert(fx->st, "bbbb", "bob", &created), 2);
	assert_true(created);
	/* Going back to older content is a change like any other. */
	assert_int_equal(insert(fx->st, "aaaa", "alice", &created), 3);
	assert_true(created);

	assert_int_equal(store__revision_get(fx->st, 0, false, &r), 0);
	assert_int_equal(r.revision, 3);
	assert_null(r.policy);
	store_revision__clear(&r);

	assert_int_equal(store__revision_get(fx->st, 2, true, &r), 0);
	assert_int_equal(r.revision, 2);
	assert_string_equal(r.hash, "bbbb");
	assert_string_equal(r.author, "bob");
	assert_string_equal(r.message, "msg");
	assert_int_equal(r.created, 1700000000);
	assert_int_equal(r.rules, 1);
	assert_int_equal(r.policy_len, 4);
	assert_int_equal(r.policy[0], 0x0a);
	store_revision__clear(&r);
	assert_int_equal(store__revision_get(fx->st, 99, false, &r), -ENOENT);

	assert_int_equal(store__revision_list(fx->st, 0, &revs, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(revs[0].revision, 3);
	assert_int_equal(revs[2].revision, 1);
	store_revision__free_array(revs, n);
	assert_int_equal(store__revision_list(fx->st, 2, &revs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(revs[1].revision, 2);
	store_revision__free_array(revs, n);

	/* Numbers survive a reopen and keep counting up. */
	reopen(fx);
	assert_int_equal(insert(fx->st, "cccc", "carol", &created), 4);
}

static void test_empty_policy_is_stored(void **state)
{
	struct fx *fx = *state;
	struct store_revision_new in = { .hash = "eeee", .author = "alice", .created = 1 };
	struct store_revision r;
	uint64_t rev;
	bool created;

	assert_int_equal(store__revision_insert(fx->st, &in, &rev, &created), 0);
	assert_true(created);
	assert_int_equal(store__revision_get(fx->st, rev, true, &r), 0);
	assert_int_equal(r.policy_len, 0);
	assert_string_equal(r.message, "");
	store_revision__clear(&r);
}

static void test_audit_row_written_with_revision(void **state)
{
	struct fx *fx = *state;
	struct store_audit *rows;
	bool created;
	size_t n;

	insert(fx->st, "aaaa", "alice", &created);
	insert(fx->st, "aaaa", "alice", &created); /* unchanged: no audit row */
	insert(fx->st, "bbbb", "insecure:ipv4:127.0.0.1:5555", &created);
	assert_int_equal(store__audit_list(fx->st, 0, 0, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].who, "insecure:ipv4:127.0.0.1:5555");
	assert_string_equal(rows[0].action, "apply");
	assert_string_equal(rows[0].object, "revision 2");
	assert_string_equal(rows[0].detail, "msg");
	assert_string_equal(rows[0].before_hash, "aaaa");
	assert_string_equal(rows[0].after_hash, "bbbb");
	assert_int_equal(rows[0].time, 1700000000);
	assert_string_equal(rows[1].object, "revision 1");
	assert_string_equal(rows[1].before_hash, "");
	store_audit__free_array(rows, n);
}

static void test_failed_audit_rolls_back_revision(void **state)
{
	static const uint8_t blob[] = { 0 };
	struct fx *fx = *state;
	struct store_revision_new in = {
		.hash = "ffff", .author = "alice", .created = 1, .policy = blob, .policy_len = 1,
	};
	struct store_revision *revs;
	uint64_t rev = 0;
	bool created = true;
	size_t n;

	store__close(fx->st);
	raw_sql(fx->path, "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected'); END");
	fx->st = store__open(fx->path, fx->err, sizeof(fx->err));
	assert_non_null(fx->st);
	assert_true(store__revision_insert(fx->st, &in, &rev, &created) < 0);
	assert_false(created);
	assert_int_equal(store__revision_list(fx->st, 0, &revs, &n), 0);
	assert_int_equal(n, 0);
}

/* An insert based on a revision that is no longer the newest writes nothing and says
 * which is the newest; the same content as the newest is "unchanged", not a conflict. */
static void test_stale_base_is_refused(void **state)
{
	struct fx *fx = *state;
	struct store_revision_new in = { .hash = "aaaa", .author = "alice", .created = 1 };
	struct store_audit *rows;
	uint64_t rev = 0;
	bool created;
	size_t n;

	assert_int_equal(store__revision_insert(fx->st, &in, &rev, &created), 0);
	in.hash = "bbbb";
	in.base_revision = 1;
	assert_int_equal(store__revision_insert(fx->st, &in, &rev, &created), 0);
	assert_int_equal(rev, 2);
	in.hash = "cccc"; /* also written against revision 1 */
	assert_int_equal(store__revision_insert(fx->st, &in, &rev, &created), -ESTALE);
	assert_false(created);
	assert_int_equal(rev, 2);
	in.hash = "bbbb";
	assert_int_equal(store__revision_insert(fx->st, &in, &rev, &created), 0);
	assert_false(created);
	assert_int_equal(rev, 2);
	assert_int_equal(store__audit_list(fx->st, 0, 0, &rows, &n), 0);
	assert_int_equal(n, 2); /* no row for the refused one */
	store_audit__free_array(rows, n);
}

static void fill_agent(struct store_agent *a, const char *node)
{
	static char *ifaces[] = { "eth0", "eth1" };
	static struct store_label labels[] = { { "env", "prod" }, { "zone", "a" } };

	memset(a, 0, sizeof(*a));
	a->node_id = (char *)node;
	a->labels = labels;
	a->n_labels = 2;
	a->state = STORE_AGENT_PENDING;
	a->state_since = 100;
	a->desired_revision = 2;
	a->applied_revision = 1;
	snprintf(a->applied_hash, sizeof(a->applied_hash), "aaaa");
	a->last_seen = 100;
	a->agent_version = "0.1.0";
	a->kernel = "6.1.0";
	a->interfaces = ifaces;
	a->n_interfaces = 2;
}

static void test_agent_records(void **state)
{
	static const uint8_t status[] = { 0x08, 0x02 };
	struct fx *fx = *state;
	struct store_agent a, got, *all;
	struct store_agent_seen seen[2] = {
		{ .node_id = "node-b", .last_seen = 150, .status = status, .status_len = sizeof(status) },
		{ .node_id = "not-known", .last_seen = 150 },
	};
	size_t n;

	assert_int_equal(store__agent_get(fx->st, "node-b", &got), -ENOENT);
	fill_agent(&a, "node-b");
	assert_int_equal(store__agent_put(fx->st, &a), 0);
	assert_int_equal(store__agent_put(fx->st, &a), 0); /* idempotent */
	fill_agent(&a, "node-a");
	assert_int_equal(store__agent_put(fx->st, &a), 0);

	assert_int_equal(store__agent_get(fx->st, "node-b", &got), 0);
	assert_string_equal(got.node_id, "node-b");
	assert_int_equal(got.n_labels, 2);
	assert_string_equal(got.labels[0].key, "env");
	assert_string_equal(got.labels[0].value, "prod");
	assert_string_equal(got.labels[1].key, "zone");
	assert_int_equal(got.state, STORE_AGENT_PENDING);
	assert_int_equal(got.desired_revision, 2);
	assert_int_equal(got.applied_revision, 1);
	assert_string_equal(got.applied_hash, "aaaa");
	assert_int_equal(got.n_interfaces, 2);
	assert_string_equal(got.interfaces[1], "eth1");
	assert_string_equal(got.kernel, "6.1.0");
	assert_null(got.status);
	store_agent__clear(&got);

	/* NACK: the refused revision and the reason persist across a restart. */
	fill_agent(&a, "node-b");
	a.state = STORE_AGENT_NACKED;
	a.state_since = 120;
	a.nacked_revision = 2;
	a.last_error = "rule 'x': map full";
	assert_int_equal(store__agent_put(fx->st, &a), 0);
	assert_int_equal(store__agent_seen(fx->st, seen, 2), 0);
	reopen(fx);
	assert_int_equal(store__agent_get(fx->st, "node-b", &got), 0);
	assert_int_equal(got.state, STORE_AGENT_NACKED);
	assert_int_equal(got.state_since, 120);
	assert_int_equal(got.nacked_revision, 2);
	assert_string_equal(got.last_error, "rule 'x': map full");
	assert_int_equal(got.last_seen, 150);
	assert_int_equal(got.status_len, 2);
	assert_memory_equal(got.status, status, 2);
	store_agent__clear(&got);

	/* A liveness write without a status keeps the stored one. */
	seen[0].status = NULL;
	seen[0].last_seen = 160;
	assert_int_equal(store__agent_seen(fx->st, seen, 1), 0);
	assert_int_equal(store__agent_get(fx->st, "node-b", &got), 0);
	assert_int_equal(got.last_seen, 160);
	assert_int_equal(got.status_len, 2);
	store_agent__clear(&got);

	/* Controller start: nobody has a stream. */
	assert_int_equal(store__agents_mark_offline(fx->st, 200), 0);
	assert_int_equal(store__agent_list(fx->st, &all, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].node_id, "node-a");
	assert_string_equal(all[1].node_id, "node-b");
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(all[i].state, STORE_AGENT_OFFLINE);
		assert_int_equal(all[i].state_since, 200);
	}
	assert_int_equal(all[1].nacked_revision, 2);
	store_agent__free_array(all, n);
	assert_string_equal(store_agent_state__name(STORE_AGENT_NACKED), "NACKED");
}

static void test_second_open_is_refused(void **state)
{
	struct fx *fx = *state;
	struct store *second;
	char pid[64];

	second = store__open(fx->path, fx->err, sizeof(fx->err));
	assert_null(second);
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(fx->err, "is in use by another sluice-controller"));
	snprintf(pid, sizeof(pid), "(pid %d,", (int)getpid());
	assert_non_null(strstr(fx->err, pid));
	/* Released on close. */
	reopen(fx);
}

static void test_environment_errors(void **state)
{
	struct fx *fx = *state;
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/no-such-dir/controller.db", fx->dir);
	assert_null(store__open(path, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(fx->err, "does not exist"));

	snprintf(path, sizeof(path), "%s/garbage.db", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 256; i++)
		fputs("this is not a database ", f);
	fclose(f);
	assert_null(store__open(path, fx->err, sizeof(fx->err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(fx->err, "cannot be used"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_db_is_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revisions_dedup_and_numbering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_policy_is_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_row_written_with_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_audit_rolls_back_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_base_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_open_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
