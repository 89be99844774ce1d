// SPDX-License-Identifier: Apache-2.0
/*
 * test_config_file.c — the daemons' configuration files (common/config_file.h), the
 * option tables they are applied through (common/options.h), and the service-manager
 * notice (common/notify.h): values, lists and maps flattened in file order, positions,
 * paths made relative to the file, refusals with FILE:LINE:COL, a missing default file
 * being no error, and READY=1 arriving on a NOTIFY_SOCKET.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config_file.h"
#include "common/notify.h"
#include "common/options.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-config.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/agent.yaml", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Loads text as a required file; returns the error (0 on success) and the message. */
static int load(struct fx *fx, const char *text, struct config_file **cf, char *err, size_t errlen)
{
	write_file(fx->path, text);
	err[0] = '\0';
	return config_file__load(fx->path, true, cf, err, errlen);
}

static void test_shapes(void **state)
{
	struct fx *fx = *state;
	struct config_file *cf;
	char err[512];

	assert_int_equal(load(fx,
			      "# an agent\n"
			      "controller: 10.0.0.1:7443\n"
			      "iface: [eth0, eth1]\n"
			      "label:\n"
			      "  env: prod\n"
			      "  zone: eu-1\n"
			      "insecure: false\n"
			      "metrics: \"\"\n",
			      &cf, err, sizeof(err)),
			 0);
	assert_int_equal(cf->n, 7);
	assert_string_equal(cf->entries[0].key, "controller");
	assert_string_equal(cf->entries[0].value, "10.0.0.1:7443");
	assert_int_equal(cf->entries[0].shape, CONFIG_SCALAR);
	assert_int_equal(cf->entries[0].line, 2);
	assert_int_equal(cf->entries[0].column, 13);
	assert_string_equal(cf->entries[1].value, "eth0");
	assert_string_equal(cf->entries[2].value, "eth1");
	assert_int_equal(cf->entries[2].shape, CONFIG_LIST);
	assert_string_equal(cf->entries[3].value, "env=prod");
	assert_int_equal(cf->entries[3].shape, CONFIG_MAP);
	assert_int_equal(cf->entries[3].line, 5);
	assert_string_equal(cf->entries[4].value, "zone=eu-1");
	assert_string_equal(cf->entries[5].value, "false");
	assert_string_equal(cf->entries[6].value, "");
	config_file__free(cf);

	/* Empty files and comment-only files set nothing. */
	assert_int_equal(load(fx, "", &cf, err, sizeof(err)), 0);
	assert_non_null(cf);
	assert_int_equal(cf->n, 0);
	config_file__free(cf);
	assert_int_equal(load(fx, "# nothing yet\n", &cf, err, sizeof(err)), 0);
	assert_int_equal(cf->n, 0);
	config_file__free(cf);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *text;
		const char *where; /* ":LINE:COL: " */
		const char *what;
	} cases[] = {
		{ "- a\n- b\n", ":1:1: ", "expected a map" },
		{ "a: 1\na: 2\n", ":2:1: ", "'a' is given twice" },
		{ "a: [x, [y]]\n", ":1:8: ", "list items must be plain values" },
		{ "a: {k: [v]}\n", ":1:5: ", "'name: value' pairs" },
		{ "a: [unclosed\n", ":2:1: ", "not valid YAML" },
	};
	struct fx *fx = *state;
	struct config_file *cf;
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(load(fx, cases[i].text, &cf, err, sizeof(err)), -EINVAL);
		assert_null(cf);
		if (!strstr(err, fx->path) || !strstr(err, cases[i].where) || !strstr(err, cases[i].what))
			fail_msg("case %zu: '%s' lacks %s%s / '%s'", i, err, fx->path, cases[i].where, cases[i].what);
	}
}

static void test_missing(void **state)
{
	struct fx *fx = *state;
	struct config_file *cf = (struct config_file *)1;
	char err[512] = "";

	/* The default file may be absent; one named with --config may not. */
	assert_int_equal(config_file__load("/nonexistent/sluice.yaml", false, &cf, err, sizeof(err)), 0);
	assert_null(cf);
	assert_int_equal(config_file__load("/nonexistent/sluice.yaml", true, &cf, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/sluice.yaml: cannot read"));
	/* A directory is unreadable as a file, required or not. */
	assert_true(config_file__load(fx->dir, false, &cf, err, sizeof(err)) < 0);
}

static void test_helpers(void **state)
{
	struct fx *fx = *state;
	struct config_file *cf;
	char err[512], key[32];

	assert_int_equal(load(fx, "db: x\n", &cf, err, sizeof(err)), 0);
	assert_string_equal(config_file__path(cf, "/abs/ca.pem"), "/abs/ca.pem");
	{
		char want[256];

		snprintf(want, sizeof(want), "%s/tls/ca.pem", fx->dir);
		assert_string_equal(config_file__path(cf, "tls/ca.pem"), want);
	}
	config_file__free(cf);
	config_file__free(NULL);

	assert_int_equal(config_file__bool("true"), 1);
	assert_int_equal(config_file__bool("Yes"), 1);
	assert_int_equal(config_file__bool("on"), 1);
	assert_int_equal(config_file__bool("FALSE"), 0);
	assert_int_equal(config_file__bool("no"), 0);
	assert_int_equal(config_file__bool("1"), -EINVAL);
	config_file__key("tls-cert", key, sizeof(key));
	assert_string_equal(key, "tls_cert");
	config_file__key("node-id-long", key, 5);
	assert_string_equal(key, "node");
}

/* ---- options ---------------------------------------------------------------------------- */

enum { O_NAME = 256, O_LIST, O_MAP, O_PATH, O_FLAG, O_CLI };

static const struct option_def defs[] = {
	{ "node-id", O_NAME, "NAME", "a name", 0 },
	{ "iface", O_LIST, "IF", "repeatable", OPTION_LIST },
	{ "label", O_MAP, "K=V", "repeatable, a map in files", OPTION_LIST | OPTION_MAP },
	{ "state-dir", O_PATH, "DIR", "a path", OPTION_PATH },
	{ "insecure", O_FLAG, NULL, "a flag", 0 },
	{ "config", O_CLI, "FILE", "command line only", OPTION_CLI },
};

struct seen {
	char log[1024];
	bool refuse_name;
};

static int record(void *ctx, int id, const char *val, bool in_file)
{
	struct seen *s = ctx;
	size_t len = strlen(s->log);

	if (id == O_NAME && s->refuse_name)
		return -EINVAL;
	snprintf(s->log + len, sizeof(s->log) - len, "%d=%s%s;", id - 256, val ? val : "(flag)", in_file ? "" : "!");
	return 0;
}

static void test_apply_file(void **state)
{
	struct fx *fx = *state;
	struct config_file *cf;
	struct seen s = { .log = "" };
	char err[512], want[512];

	assert_int_equal(load(fx,
			      "node_id: gw-1\niface: [a, b]\nlabel: {env: prod}\nstate_dir: st\n"
			      "insecure: true\n",
			      &cf, err, sizeof(err)),
			 0);
	assert_int_equal(options__apply_file(cf, defs, 6, record, &s), 0);
	snprintf(want, sizeof(want), "0=gw-1;1=a;1=b;2=env=prod;3=%s/st;4=(flag);", fx->dir);
	assert_string_equal(s.log, want);
	config_file__free(cf);

	/* A false flag is left out. */
	s.log[0] = '\0';
	assert_int_equal(load(fx, "insecure: no\n", &cf, err, sizeof(err)), 0);
	assert_int_equal(options__apply_file(cf, defs, 6, record, &s), 0);
	assert_string_equal(s.log, "");
	config_file__free(cf);

	/* Refusals: unknown keys (command-line-only ones included), shapes, bools, values. */
	static const char *const bad[] = { "colour: red\n", "config: other.yaml\n", "node_id: [a]\n",
					   "iface: {a: b}\n", "insecure: maybe\n", "node_id: x\n" };
	s.refuse_name = true;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(fx, bad[i], &cf, err, sizeof(err)), 0);
		assert_int_equal(options__apply_file(cf, defs, 6, record, &s), -EINVAL);
		config_file__free(cf);
	}
	assert_int_equal(options__apply_file(NULL, defs, 6, record, &s), 0); /* no file */
}

static void test_longopts_help(void **state)
{
	struct option lo[7];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	options__longopts(defs, 6, lo);
	assert_string_equal(lo[0].name, "node-id");
	assert_int_equal(lo[0].has_arg, required_argument);
	assert_int_equal(lo[4].has_arg, no_argument);
	assert_int_equal(lo[4].val, O_FLAG);
	assert_null(lo[6].name);
	options__help(f, defs, 6);
	fclose(f);
	assert_non_null(strstr(text, "  --node-id NAME"));
	assert_non_null(strstr(text, "  --insecure "));
	free(text);
}

/* ---- notify ----------------------------------------------------------------------------- */

static void test_notify(void **state)
{
	struct fx *fx = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[64] = "";
	int fd;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify__send("READY=1"), 0); /* no service manager: nothing to do */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", fx->dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	assert_int_equal(notify__send("READY=1\nSTATUS=serving"), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf) - 1, 0), (ssize_t)strlen("READY=1\nSTATUS=serving"));
	assert_string_equal(buf, "READY=1\nSTATUS=serving");
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(notify__send("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	unlink(sun.sun_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_file, setup, teardown),
		cmocka_unit_test(test_longopts_help),
		cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
