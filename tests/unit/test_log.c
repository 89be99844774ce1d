// SPDX-License-Identifier: Apache-2.0
/*
 * test_log.c — the logging layer's two formats: JSON mode writes one valid JSON
 * object per line with time, level, component, message and the ids set with
 * log__set_context(), escaping what the message holds; text mode keeps its
 * "TIME LEVEL PROG: message" lines and ignores the ids; levels still filter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/log.h"

/* ---- stderr capture ------------------------------------------------------------------ */

struct capture {
	int saved;   /* the real stderr, restored by capture_end() */
	int pipe[2]; /* what is logged meanwhile lands here */
	char buf[16384];
};

static void capture_begin(struct capture *c)
{
	fflush(stderr);
	assert_int_equal(pipe(c->pipe), 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(c->pipe[1], STDERR_FILENO) >= 0);
}

/* Restores stderr and leaves what was written in c->buf, NUL-terminated. */
static void capture_end(struct capture *c)
{
	ssize_t n;
	size_t len = 0;

	fflush(stderr);
	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	close(c->pipe[1]);
	while ((n = read(c->pipe[0], c->buf + len, sizeof(c->buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(c->pipe[0]);
	c->buf[len] = '\0';
}

static int setup(void **state)
{
	(void)state;
	log__init("sluice-test", LOG_DEBUG);
	log__set_format(LOG_FORMAT_TEXT);
	log__clear_context();
	return 0;
}

/* Parses one line as a JSON object and checks the keys every line carries. */
static json_t *parse_line(const char *line, const char *level)
{
	json_error_t jerr;
	json_t *o = json_loads(line, 0, &jerr);
	const char *t;

	if (!o)
		fail_msg("not JSON: '%s' (%s)", line, jerr.text);
	assert_true(json_is_object(o));
	assert_string_equal(json_string_value(json_object_get(o, "level")), level);
	assert_string_equal(json_string_value(json_object_get(o, "component")), "sluice-test");
	t = json_string_value(json_object_get(o, "time"));
	assert_non_null(t);
	assert_int_equal(strlen(t), strlen("2026-01-01T00:00:00.000Z"));
	assert_int_equal(t[strlen(t) - 1], 'Z');
	return o;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_json_one_object_per_line(void **state)
{
	struct capture c;
	char *line, *save = NULL;
	json_t *o;
	int n = 0;

	(void)state;
	log__set_format(LOG_FORMAT_JSON);
	assert_int_equal(log__set_context("node", "gw-1"), 0);
	capture_begin(&c);
	pr_info("rule '%s' applied", "block-telnet");
	pr_warn("quote \" backslash \\ tab \t newline\nin the middle");
	pr_err("trailing newline is dropped\n");
	pr_debug("debug %d", 42);
	capture_end(&c);

	for (line = strtok_r(c.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		static const char *const levels[] = { "info", "warn", "error", "debug" };
		static const char *const msgs[] = { "rule 'block-telnet' applied",
						    "quote \" backslash \\ tab \t newline\nin the middle",
						    "trailing newline is dropped", "debug 42" };

		assert_true(n < 4);
		o = parse_line(line, levels[n]);
		assert_string_equal(json_string_value(json_object_get(o, "message")), msgs[n]);
		assert_string_equal(json_string_value(json_object_get(o, "node")), "gw-1");
		json_decref(o);
	}
	assert_int_equal(n, 4);
}

static void test_json_context_replace_and_remove(void **state)
{
	struct capture c;
	char *nl;
	json_t *o;

	(void)state;
	log__set_format(LOG_FORMAT_JSON);
	assert_int_equal(log__set_context("node", "gw-1"), 0);
	assert_int_equal(log__set_context("rollout", "r-7"), 0);
	assert_int_equal(log__set_context("node", "gw-2"), 0);
	assert_int_equal(log__set_context("rollout", NULL), 0);
	assert_int_equal(log__set_context_u64("revision", 18446744073709551615ull), 0);
	capture_begin(&c);
	pr_info("hello");
	capture_end(&c);

	nl = strchr(c.buf, '\n');
	assert_non_null(nl);
	assert_string_equal(nl + 1, "");
	*nl = '\0';
	o = parse_line(c.buf, "info");
	assert_string_equal(json_string_value(json_object_get(o, "node")), "gw-2");
	assert_null(json_object_get(o, "rollout"));
	assert_string_equal(json_string_value(json_object_get(o, "revision")), "18446744073709551615");
	json_decref(o);
}

/* Scoped ids: inner wins over outer and over the process-wide ones, reserved keys are
 * ignored, depth past LOG_MAX_SCOPE stays balanced, and ending a scope removes its id. */
static void test_json_scope(void **state)
{
	struct capture c;
	char *lines[4], *save = NULL;
	json_t *o;
	int n = 0;

	(void)state;
	log__set_format(LOG_FORMAT_JSON);
	assert_int_equal(log__set_context("revision", "1"), 0);
	capture_begin(&c);
	log__scope_begin_u64("rollout", 7);
	log__scope_begin("revision", "9");
	log__scope_begin("level", "forged");
	pr_info("inside");
	for (int i = 0; i < LOG_MAX_SCOPE + 3; i++)
		log__scope_begin("deep", "x");
	for (int i = 0; i < LOG_MAX_SCOPE + 3; i++)
		log__scope_end();
	pr_info("after the deep ones");
	log__scope_end();
	log__scope_end();
	pr_info("rollout only");
	log__scope_end();
	log__scope_end(); /* one too many: harmless */
	pr_info("none");
	capture_end(&c);

	for (char *l = strtok_r(c.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		lines[n < 4 ? n : 3] = l, n++;
	assert_int_equal(n, 4);
	for (int i = 0; i < 2; i++) {
		o = parse_line(lines[i], "info");
		assert_string_equal(json_string_value(json_object_get(o, "rollout")), "7");
		assert_string_equal(json_string_value(json_object_get(o, "revision")), "9");
		assert_null(json_object_get(o, "deep"));
		json_decref(o);
	}
	o = parse_line(lines[2], "info");
	assert_string_equal(json_string_value(json_object_get(o, "rollout")), "7");
	assert_string_equal(json_string_value(json_object_get(o, "revision")), "1");
	json_decref(o);
	o = parse_line(lines[3], "info");
	assert_null(json_object_get(o, "rollout"));
	assert_string_equal(json_string_value(json_object_get(o, "revision")), "1");
	json_decref(o);
}

static void test_context_refuses_bad_keys(void **state)
{
	char key[16];

	(void)state;
	assert_int_equal(log__set_context(NULL, "x"), -EINVAL);
	assert_int_equal(log__set_context("", "x"), -EINVAL);
	assert_int_equal(log__set_context("message", "x"), -EINVAL);
	assert_int_equal(log__set_context("level", "x"), -EINVAL);
	for (int i = 0; i < LOG_MAX_CONTEXT; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(log__set_context(key, "v"), 0);
	}
	assert_int_equal(log__set_context("one-too-many", "v"), -ENOSPC);
	assert_int_equal(log__set_context("k0", "again"), 0); /* replacing still works */
	log__clear_context();
}

static void test_text_unchanged(void **state)
{
	struct capture c;
	const char *msg;

	(void)state;
	assert_int_equal(log__set_context("node", "gw-1"), 0);
	capture_begin(&c);
	pr_warn("route '%s' has no backends", "web");
	capture_end(&c);

	/* "2026-11-26T16:39:59.123Z warn  sluice-test: route 'web' has no backends\n" */
	assert_int_equal(c.buf[4], '-');
	assert_int_equal(c.buf[10], 'T');
	assert_int_equal(c.buf[23], 'Z');
	msg = c.buf + 24;
	assert_string_equal(msg, " warn  sluice-test: route 'web' has no backends\n");
}

static void test_level_filters_both_formats(void **state)
{
	struct capture c;

	(void)state;
	log__init("sluice-test", LOG_WARN);
	capture_begin(&c);
	pr_info("hidden");
	log__set_format(LOG_FORMAT_JSON);
	pr_debug("hidden too");
	capture_end(&c);
	assert_string_equal(c.buf, "");
}

static void test_parse_format(void **state)
{
	enum log_format f = LOG_FORMAT_TEXT;

	(void)state;
	assert_int_equal(log__parse_format("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log__parse_format("text", &f), 0);
	assert_int_equal(f, LOG_FORMAT_TEXT);
	assert_int_equal(log__parse_format("JSON", &f), -EINVAL);
	assert_int_equal(log__parse_format(NULL, &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_json_one_object_per_line, setup),
		cmocka_unit_test_setup(test_json_context_replace_and_remove, setup),
		cmocka_unit_test_setup(test_json_scope, setup),
		cmocka_unit_test_setup(test_context_refuses_bad_keys, setup),
		cmocka_unit_test_setup(test_text_unchanged, setup),
		cmocka_unit_test_setup(test_level_filters_both_formats, setup),
		cmocka_unit_test_setup(test_parse_format, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
