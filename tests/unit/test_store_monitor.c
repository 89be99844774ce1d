// SPDX-License-Identifier: Apache-2.0
/*
 * test_store_monitor.c — the store's monitoring part (controller/store.h): alerts upserted
 * by (node, agent alert id) so repeats and retries land on one row with counts that only
 * grow; listing filters; acknowledgement with its audit row, once; the API usage time
 * series summed over nodes and intervals, idempotent per interval; retention; baselines.
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
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-stmon.XXXXXX");
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

static int64_t put_alert(struct store *st, const char *node, uint64_t aid, const char *type, uint64_t count,
			 int64_t last_ms, const char *blob, bool *created)
{
	struct store_alert_new a = {
		.node_id = node, .agent_alert_id = aid, .type = type, .severity = 4, .subject = "10.0.0.9",
		.first_seen_ms = 1000, .last_seen_ms = last_ms, .count = count, .received = 1,
		.alert = (const uint8_t *)blob, .alert_len = strlen(blob),
	};
	int64_t id = 0;

	assert_int_equal(store__alert_put(st, &a, NULL, &id, created), 0);
	return id;
}

static void test_alert_upsert(void **state)
{
	struct fx *fx = *state;
	struct store_alert a;
	bool created;
	int64_t id, id2;

	id = put_alert(fx->st, "gw1", 77, "port_scan", 1, 2000, "v1", &created);
	assert_true(created);
	/* An update of the same agent alert: same row, count and last seen grow. */
	id2 = put_alert(fx->st, "gw1", 77, "port_scan", 5, 9000, "v5", &created);
	assert_false(created);
	assert_int_equal(id, id2);
	/* A retried older update changes nothing. */
	put_alert(fx->st, "gw1", 77, "port_scan", 3, 5000, "v3", &created);
	assert_int_equal(store__alert_get(fx->st, id, &a), 0);
	assert_int_equal(a.count, 5);
	assert_int_equal(a.last_seen_ms, 9000);
	assert_int_equal(a.first_seen_ms, 1000);
	assert_int_equal(a.alert_len, 2);
	assert_memory_equal(a.alert, "v5", 2);
	assert_string_equal(a.node_id, "gw1");
	store_alert__clear(&a);
	/* The same agent id from another node is another alert. */
	id2 = put_alert(fx->st, "gw2", 77, "port_scan", 1, 2000, "x", &created);
	assert_true(created);
	assert_int_not_equal(id, id2);
	assert_int_equal(store__alert_get(fx->st, 999, &a), -ENOENT);
}

static void test_alert_list_and_ack(void **state)
{
	struct fx *fx = *state;
	struct store_alert_filter f = { 0 };
	struct store_audit_new aud = { .time = 5, .who = "alice", .action = "ack", .object = "alert", .detail = "" };
	struct store_audit *rows;
	struct store_alert *v;
	size_t n, na;
	bool created;
	int64_t a1, a2;

	a1 = put_alert(fx->st, "gw1", 1, "port_scan", 1, 1000, "a", &created);
	a2 = put_alert(fx->st, "gw2", 2, "syn_flood", 1, 3000, "b", &created);
	put_alert(fx->st, "gw1", 3, "syn_flood", 1, 2000, "c", &created);
	assert_int_equal(store__alert_list(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, a2); /* newest last seen first */
	store_alert__free_array(v, n);

	f.type = "syn_flood";
	assert_int_equal(store__alert_list(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 2);
	store_alert__free_array(v, n);
	f.node_id = "gw1";
	assert_int_equal(store__alert_list(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 1);
	store_alert__free_array(v, n);
	f = (struct store_alert_filter){ .since_ms = 2500 };
	assert_int_equal(store__alert_list(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 1);
	store_alert__free_array(v, n);

	/* Ack: hidden by default, shown with include_acked; a second ack changes nothing. */
	assert_int_equal(store__alert_ack(fx->st, a1, "alice", 5, &aud), 0);
	assert_int_equal(store__alert_ack(fx->st, a1, "bob", 6, &aud), 0);
	assert_int_equal(store__alert_ack(fx->st, 12345, "bob", 6, &aud), -ENOENT);
	f = (struct store_alert_filter){ 0 };
	assert_int_equal(store__alert_list(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 2);
	store_alert__free_array(v, n);
	f.include_acked = true;
	assert_int_equal(store__alert_list(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (v[i].id == a1) {
			assert_true(v[i].acked);
			assert_string_equal(v[i].acked_by, "alice");
		}
	}
	store_alert__free_array(v, n);
	assert_int_equal(store__audit_list(fx->st, 0, 0, &rows, &na), 0);
	assert_int_equal(na, 1);
	assert_string_equal(rows[0].who, "alice");
	store_audit__free_array(rows, na);
}

static void test_usage_series(void **state)
{
	struct fx *fx = *state;
	struct store_usage_row r1[] = {
		{ "orders", "GET", "/v1/orders", "10.0.0.1", "shop", 100, 10, true, false },
		{ "orders", "POST", "/v2/orders", "10.0.0.2", "", 50, 5, false, false },
	};
	struct store_usage_row r2[] = { { "orders", "GET", "/v1/orders", "10.0.0.1", "", 30, 3, false, false } };
	struct store_usage_row r3[] = { { "10.1.1.1:53", "DNS", "a.example", "10.0.0.3", "", 7, 7, false, false } };
	struct store_usage_filter f = { 0 };
	struct store_usage *v;
	size_t n;

	assert_int_equal(store__usage_put(fx->st, "gw1", 10000, 20000, r1, 2), 0);
	assert_int_equal(store__usage_put(fx->st, "gw1", 10000, 20000, r1, 2), 0); /* a retry */
	assert_int_equal(store__usage_put(fx->st, "gw2", 10000, 20000, r2, 1), 0);
	assert_int_equal(store__usage_put(fx->st, "gw1", 20000, 30000, r3, 1), 0);
	assert_int_equal(store__usage_query(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 3);
	/* GET /v1/orders by 10.0.0.1: 100 (gw1, once despite the retry) + 30 (gw2). */
	assert_string_equal(v[0].method, "GET");
	assert_int_equal(v[0].requests, 130);
	assert_int_equal(v[0].samples, 13);
	assert_int_equal(v[0].nodes, 2);
	assert_true(v[0].deprecated);
	assert_string_equal(v[0].host, "shop");
	store_usage__free_array(v, n);

	f.api = "orders";
	assert_int_equal(store__usage_query(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 2);
	store_usage__free_array(v, n);
	f = (struct store_usage_filter){ .since_ms = 15000 };
	assert_int_equal(store__usage_query(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].api, "10.1.1.1:53");
	store_usage__free_array(v, n);

	/* Retention drops what started before the cut. */
	assert_int_equal(store__monitor_prune(fx->st, 15000, 0), 0);
	f = (struct store_usage_filter){ 0 };
	assert_int_equal(store__usage_query(fx->st, &f, &v, &n), 0);
	assert_int_equal(n, 1);
	store_usage__free_array(v, n);
}

static void test_baselines(void **state)
{
	struct fx *fx = *state;
	uint8_t *b;
	size_t len;

	assert_int_equal(store__baselines_get(fx->st, "gw1", &b, &len), -ENOENT);
	assert_int_equal(store__baselines_put(fx->st, "gw1", 1, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(store__baselines_put(fx->st, "gw1", 2, (const uint8_t *)"xyzw", 4), 0);
	assert_int_equal(store__baselines_get(fx->st, "gw1", &b, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(b, "xyzw", 4);
	free(b);
	assert_true(store__schema_version() >= 3);
	assert_int_equal(store__db_schema_version(fx->st), store__schema_version());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alert_upsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_list_and_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baselines, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
