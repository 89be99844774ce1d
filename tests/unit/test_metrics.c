// SPDX-License-Identifier: Apache-2.0
/*
 * test_metrics.c — common/metrics.h and metrics_http.h: the text exposition (HELP and
 * TYPE lines, label and help escaping, value formatting, cumulative histogram buckets,
 * series order), the registry's refusals, collectors, concurrent updates, and the HTTP
 * endpoint over 127.0.0.1 (200 with the exposition's content type, 404, 405, a port
 * already in use). When promtool is installed, it checks the rendered text too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/metrics.h"
#include "common/metrics_http.h"

static char *render(struct metrics *m)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(metrics__render(m, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("expected to find\n%s\nin\n%s", needle, text);
}

/* Runs `promtool check metrics` on text when promtool is installed. */
static void promtool_check(const char *text)
{
	char out[64], cmd[160];
	FILE *p;
	int rc;

	if (system("command -v promtool >/dev/null 2>&1") != 0)
		return;
	snprintf(out, sizeof(out), "/tmp/sluice-test-promtool.%d.out", (int)getpid());
	snprintf(cmd, sizeof(cmd), "promtool check metrics >%s 2>&1", out);
	p = popen(cmd, "w");
	assert_non_null(p);
	fputs(text, p);
	rc = pclose(p);
	if (rc != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s >&2", out);
		(void)!system(cmd);
		unlink(out);
		fail_msg("promtool check metrics failed on:\n%s", text);
	}
	unlink(out);
}

static void test_format_value(void **state)
{
	char b[32];

	(void)state;
	metrics__format_value(b, 0);
	assert_string_equal(b, "0");
	metrics__format_value(b, 42);
	assert_string_equal(b, "42");
	metrics__format_value(b, -7);
	assert_string_equal(b, "-7");
	metrics__format_value(b, 0.005);
	assert_string_equal(b, "0.005");
	metrics__format_value(b, 0.1 + 0.2); /* needs 17 digits to read back */
	assert_true(strtod(b, NULL) == 0.1 + 0.2);
	metrics__format_value(b, 1.0 / 0.0);
	assert_string_equal(b, "+Inf");
	metrics__format_value(b, -1.0 / 0.0);
	assert_string_equal(b, "-Inf");
	metrics__format_value(b, 0.0 / 0.0);
	assert_string_equal(b, "NaN");
	metrics__format_value(b, 9007199254740992.0);
	assert_string_equal(b, "9007199254740992");
	metrics__format_value(b, 1e300);
	assert_true(strtod(b, NULL) == 1e300);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(metrics__name_ok("sluice_agent_rule_packets_total"));
	assert_true(metrics__name_ok("a:b_c"));
	assert_false(metrics__name_ok("1abc"));
	assert_false(metrics__name_ok("a-b"));
	assert_false(metrics__name_ok(""));
	assert_true(metrics__label_name_ok("rule"));
	assert_false(metrics__label_name_ok("__reserved"));
	assert_false(metrics__label_name_ok("a:b"));
	assert_false(metrics__label_name_ok("9"));
}

static void test_counter_gauge_render(void **state)
{
	static const char *const rule[] = { "rule", NULL };
	struct metrics *m = metrics__new();
	struct metrics_family *c, *g, *plain;
	char *out;

	(void)state;
	assert_non_null(m);
	c = metrics__counter(m, "t_packets_total", "Packets.\nSecond line with a \\ backslash.", rule);
	g = metrics__gauge(m, "t_level", "A level.", NULL);
	plain = metrics__counter(m, "t_events_total", "Events.", NULL);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(plain);
	assert_int_equal(metrics__add(c, (const char *const[]){ "b" }, 2), 0);
	assert_int_equal(metrics__add(c, (const char *const[]){ "a \"quoted\" \\ one\nline" }, 1), 0);
	assert_int_equal(metrics__add(c, (const char *const[]){ "b" }, 3), 0);
	assert_int_equal(metrics__set(g, NULL, 1.5), 0);
	assert_int_equal(metrics__add(g, NULL, -0.25), 0);

	out = render(m);
	assert_string_equal(out, "# HELP t_packets_total Packets.\\nSecond line with a \\\\ backslash.\n"
				 "# TYPE t_packets_total counter\n"
				 "t_packets_total{rule=\"b\"} 5\n"
				 "t_packets_total{rule=\"a \\\"quoted\\\" \\\\ one\\nline\"} 1\n"
				 "# HELP t_level A level.\n"
				 "# TYPE t_level gauge\n"
				 "t_level 1.25\n"
				 "# HELP t_events_total Events.\n"
				 "# TYPE t_events_total counter\n"
				 "t_events_total 0\n");
	promtool_check(out);
	free(out);
	metrics__free(m);
}

static void test_histogram(void **state)
{
	static const double bounds[] = { 0.01, 0.1, 1 };
	static const char *const res[] = { "result", NULL };
	struct metrics *m = metrics__new();
	struct metrics_family *h;
	char *out;

	(void)state;
	h = metrics__histogram(m, "t_push_duration_seconds", "Push time.", res, bounds, 3);
	assert_non_null(h);
	assert_int_equal(metrics__observe(h, (const char *const[]){ "ack" }, 0.005), 0);
	assert_int_equal(metrics__observe(h, (const char *const[]){ "ack" }, 0.01), 0); /* le is inclusive */
	assert_int_equal(metrics__observe(h, (const char *const[]){ "ack" }, 0.5), 0);
	assert_int_equal(metrics__observe(h, (const char *const[]){ "ack" }, 7), 0);
	out = render(m);
	assert_contains(out, "# TYPE t_push_duration_seconds histogram\n"
			     "t_push_duration_seconds_bucket{result=\"ack\",le=\"0.01\"} 2\n"
			     "t_push_duration_seconds_bucket{result=\"ack\",le=\"0.1\"} 2\n"
			     "t_push_duration_seconds_bucket{result=\"ack\",le=\"1\"} 3\n"
			     "t_push_duration_seconds_bucket{result=\"ack\",le=\"+Inf\"} 4\n"
			     "t_push_duration_seconds_sum{result=\"ack\"} 7.515\n"
			     "t_push_duration_seconds_count{result=\"ack\"} 4\n");
	promtool_check(out);
	free(out);
	metrics__free(m);
}

static void test_refusals(void **state)
{
	static const double bad_bounds[] = { 1, 0.5 };
	static const char *const le[] = { "le", NULL }, *const bad_label[] = { "a-b", NULL };
	struct metrics *m = metrics__new();
	struct metrics_family *c, *g, *h;

	(void)state;
	c = metrics__counter(m, "t_total", "x", NULL);
	g = metrics__gauge(m, "t_gauge", "x", (const char *const[]){ "k", NULL });
	assert_non_null(c);
	assert_non_null(g);
	assert_null(metrics__counter(m, "t_total", "again", NULL));
	assert_int_equal(errno, EEXIST);
	assert_null(metrics__gauge(m, "bad-name", "x", NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(metrics__gauge(m, "t_bad_label", "x", bad_label));
	assert_null(metrics__histogram(m, "t_h_seconds", "x", le, NULL, 0));
	assert_null(metrics__histogram(m, "t_h2_seconds", "x", NULL, bad_bounds, 2));
	h = metrics__histogram(m, "t_h3_seconds", "x", NULL, NULL, 0); /* only +Inf: allowed */
	assert_non_null(h);

	assert_int_equal(metrics__add(c, NULL, -1), -EINVAL); /* counters only go up */
	assert_int_equal(metrics__set(c, NULL, 3), -EINVAL);
	assert_int_equal(metrics__observe(c, NULL, 3), -EINVAL);
	assert_int_equal(metrics__add(h, NULL, 1), -EINVAL);
	assert_int_equal(metrics__set(g, NULL, 1), -EINVAL);  /* a label value is missing */
	assert_int_equal(metrics__set(g, (const char *const[]){ NULL }, 1), -EINVAL);
	assert_int_equal(metrics__add(NULL, NULL, 1), 0);     /* no family: nothing to do */
	metrics__free(m);
	metrics__free(NULL);
}

static int collect_ok(struct metrics_writer *w, void *arg)
{
	int *calls = arg;

	(*calls)++;
	metrics_writer__family(w, METRICS_COUNTER, "t_collected_total", "From a collector.");
	metrics_writer__value(w, 3, "node", "gw-1", "iface", "eth0", NULL);
	return metrics_writer__value(w, 4, NULL);
}

static int collect_bad_label(struct metrics_writer *w, void *arg)
{
	(void)arg;
	metrics_writer__family(w, METRICS_GAUGE, "t_bad", "x");
	return metrics_writer__value(w, 1, "bad-label", "v", NULL);
}

static int collect_fail(struct metrics_writer *w, void *arg)
{
	(void)w;
	(void)arg;
	return -EIO;
}

static void test_collectors(void **state)
{
	struct metrics *m = metrics__new();
	char *out = NULL;
	int calls = 0;

	(void)state;
	assert_non_null(metrics__gauge(m, "t_first", "Registry families come first.", NULL));
	assert_int_equal(metrics__add_collector(m, collect_ok, &calls), 0);
	out = render(m);
	assert_int_equal(calls, 1);
	assert_contains(out, "# TYPE t_first gauge\nt_first 0\n# HELP t_collected_total From a collector.\n"
			     "# TYPE t_collected_total counter\n"
			     "t_collected_total{node=\"gw-1\",iface=\"eth0\"} 3\nt_collected_total 4\n");
	promtool_check(out);
	free(out);

	assert_int_equal(metrics__add_collector(m, collect_bad_label, NULL), 0);
	assert_int_equal(metrics__render(m, &out, NULL), -EINVAL);
	metrics__free(m);

	m = metrics__new();
	assert_int_equal(metrics__add_collector(m, collect_fail, NULL), 0);
	assert_int_equal(metrics__render(m, &out, NULL), -EIO);
	metrics__free(m);
}

struct hammer {
	struct metrics_family *f;
	int n;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	char v[8];

	for (int i = 0; i < h->n; i++) {
		snprintf(v, sizeof(v), "%d", i % 4);
		metrics__add(h->f, (const char *const[]){ v }, 1);
	}
	return NULL;
}

/* Updates from several threads while another renders: nothing lost, nothing torn. */
static void test_concurrent_updates(void **state)
{
	struct metrics *m = metrics__new();
	struct hammer h = { .n = 20000 };
	pthread_t t[4];
	char *out;

	(void)state;
	h.f = metrics__counter(m, "t_hammer_total", "x", (const char *const[]){ "k", NULL });
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h), 0);
	for (int i = 0; i < 20; i++)
		free(render(m));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	out = render(m);
	for (int k = 0; k < 4; k++) {
		char line[64];

		snprintf(line, sizeof(line), "t_hammer_total{k=\"%d\"} 20000\n", k);
		assert_contains(out, line);
	}
	free(out);
	metrics__free(m);
}

/* ---- HTTP ------------------------------------------------------------------------------ */

/* One HTTP/1.0 request to 127.0.0.1:port; returns the whole response (malloc'd). */
static char *http(int port, const char *method, const char *path)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[256], *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	do {
		if (len + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n > 0)
			len += (size_t)n;
	} while (n > 0);
	close(fd);
	buf[len] = '\0';
	return buf;
}

static void test_http(void **state)
{
	struct metrics *m = metrics__new();
	struct metrics_http *h, *h2;
	char addr[64], err[256], *r;
	int port;

	(void)state;
	assert_non_null(metrics__counter(m, "t_http_total", "Over HTTP.", NULL));
	h = metrics_http__start(m, "127.0.0.1:0", err, sizeof(err));
	if (!h)
		fail_msg("metrics_http__start: %s", err);
	port = metrics_http__port(h);
	assert_true(port > 0);

	r = http(port, "GET", "/metrics");
	assert_contains(r, "HTTP/1.1 200");
	assert_contains(r, "Content-Type: " METRICS_HTTP_CONTENT_TYPE);
	assert_contains(r, "\r\n\r\n# HELP t_http_total Over HTTP.\n# TYPE t_http_total counter\nt_http_total 0\n");
	free(r);
	r = http(port, "HEAD", "/metrics");
	assert_contains(r, "HTTP/1.1 200");
	assert_null(strstr(r, "# HELP"));
	free(r);
	r = http(port, "GET", "/");
	assert_contains(r, "/metrics");
	free(r);
	r = http(port, "GET", "/nope");
	assert_contains(r, "HTTP/1.1 404");
	free(r);
	r = http(port, "POST", "/metrics");
	assert_contains(r, "HTTP/1.1 405");
	assert_contains(r, "Allow: GET, HEAD");
	free(r);

	/* The same port again: refused with the kernel's reason and the address named. */
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	h2 = metrics_http__start(m, addr, err, sizeof(err));
	assert_null(h2);
	assert_int_equal(errno, EADDRINUSE);
	assert_non_null(strstr(err, addr));
	assert_null(metrics_http__start(m, "no-port", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_null(metrics_http__start(m, "192.0.2.1:0", err, sizeof(err))); /* not ours */
	assert_int_equal(errno, EADDRNOTAVAIL);

	metrics_http__stop(h);
	/* Stopped: the port is free again. */
	h = metrics_http__start(m, addr, err, sizeof(err));
	if (!h)
		fail_msg("port %d not released by metrics_http__stop: %s", port, err);
	metrics_http__stop(h);
	metrics_http__stop(NULL);
	metrics__free(m);
}

static void test_split(void **state)
{
	char host[64], port[8];

	(void)state;
	assert_int_equal(metrics_http__split("127.0.0.1:9464", host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "9464");
	assert_int_equal(metrics_http__split("[::1]:80", host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(metrics_http__split("localhost:0", host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(metrics_http__split(":9464", host, sizeof(host), port, sizeof(port)), -EINVAL);
	assert_int_equal(metrics_http__split("::1:80", host, sizeof(host), port, sizeof(port)), -EINVAL);
	assert_int_equal(metrics_http__split("h:70000", host, sizeof(host), port, sizeof(port)), -EINVAL);
	assert_int_equal(metrics_http__split("h:", host, sizeof(host), port, sizeof(port)), -EINVAL);
	assert_int_equal(metrics_http__split("h:1x", host, sizeof(host), port, sizeof(port)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_value),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_counter_gauge_render),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_collectors),
		cmocka_unit_test(test_concurrent_updates),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
