// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_config.c — where sluicectl's settings come from: the configuration file
 * ($XDG_CONFIG_HOME/sluice/config.yaml, else ~/.config/sluice/config.yaml, or --config),
 * overridden by SLUICE_CONTROLLER, overridden by flags; relative certificate paths;
 * errors with FILE:LINE:COL; and colour only on a terminal without NO_COLOR (a diff
 * printed for a pipe has no escape codes).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/config.h"
#include "common/policy.h"
#include "common/policy_diff.h"

static char dir[] = "/tmp/sluice-cfg-XXXXXX";
static char home[256], xdg[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char path[300];

	if (!mkdtemp(dir))
		return -1;
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
	snprintf(path, sizeof(path), "%s/.config/sluice", home);
	mkdir(home, 0700);
	snprintf(path, sizeof(path), "%s/.config", home);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.config/sluice", home);
	mkdir(path, 0700);
	mkdir(xdg, 0700);
	snprintf(path, sizeof(path), "%s/sluice", xdg);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.config/sluice/config.yaml", home);
	write_file(path, "# the operator's defaults\n"
			 "controller: ctl.home.example:7443\n"
			 "tls_cert: certs/me.pem\n"
			 "tls_key: ~/keys/me-key.pem\n"
			 "tls_ca: /etc/sluice/ca.pem\n"
			 "output: wide\n"
			 "timeout: 3s\n");
	snprintf(path, sizeof(path), "%s/sluice/config.yaml", xdg);
	write_file(path, "controller: ctl.xdg.example:7443\ninsecure: true\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Parses argv (NULL-terminated) with env; stderr text into errbuf. */
static int parse(const struct cli_env *env, struct cli_opts *o, char *errbuf, size_t errlen, ...)
{
	char *argv[32] = { "sluicectl" }, *out = NULL, *err = NULL;
	size_t outlen = 0, elen = 0;
	int argc = 1, rc;
	FILE *fo = open_memstream(&out, &outlen), *fe = open_memstream(&err, &elen);
	va_list ap;

	va_start(ap, errlen);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	rc = cli__parse_env(argc, argv, env, o, fo, fe);
	fclose(fo);
	fclose(fe);
	snprintf(errbuf, errlen, "%s", err ? err : "");
	free(out);
	free(err);
	return rc;
}

static void test_precedence(void **state)
{
	struct cli_env env = { .home = home };
	struct cli_opts o;
	char err[1024], want[512];

	/* the file alone */
	assert_int_equal(parse(&env, &o, err, sizeof(err), "get", "agents", NULL), 0);
	assert_string_equal(o.controller, "ctl.home.example:7443");
	assert_int_equal(o.controller_from, CLI_ADDR_CONFIG);
	snprintf(want, sizeof(want), "%s/.config/sluice/certs/me.pem", home);
	assert_string_equal(o.tls_cert, want);
	snprintf(want, sizeof(want), "%s/keys/me-key.pem", home);
	assert_string_equal(o.tls_key, want);
	assert_string_equal(o.tls_ca, "/etc/sluice/ca.pem");
	assert_int_equal(o.output, CLI_OUT_WIDE);
	assert_int_equal(o.timeout_ms, 3000);
	assert_false(o.insecure);

	/* the environment beats the file */
	env.controller = "10.1.1.1:7443";
	assert_int_equal(parse(&env, &o, err, sizeof(err), "get", "agents", NULL), 0);
	assert_string_equal(o.controller, "10.1.1.1:7443");
	assert_int_equal(o.controller_from, CLI_ADDR_ENV);

	/* flags beat both; --insecure drops the file's certificates */
	assert_int_equal(parse(&env, &o, err, sizeof(err), "get", "agents", "--controller", "10.2.2.2:9", "-o", "json",
			       "--timeout", "1s", "--insecure", NULL),
			 0);
	assert_string_equal(o.controller, "10.2.2.2:9");
	assert_int_equal(o.controller_from, CLI_ADDR_FLAG);
	assert_int_equal(o.output, CLI_OUT_JSON);
	assert_int_equal(o.timeout_ms, 1000);
	assert_true(o.insecure);
	assert_null(o.tls_cert);

	/* one certificate flag replaces that file only */
	assert_int_equal(parse(&env, &o, err, sizeof(err), "get", "agents", "--tls-cert", "other.pem", NULL), 0);
	assert_string_equal(o.tls_cert, "other.pem");
	assert_string_equal(o.tls_ca, "/etc/sluice/ca.pem");

	/* $XDG_CONFIG_HOME wins over ~/.config */
	env.controller = NULL;
	env.config_home = xdg;
	assert_int_equal(parse(&env, &o, err, sizeof(err), "get", "agents", NULL), 0);
	assert_string_equal(o.controller, "ctl.xdg.example:7443");
	assert_true(o.insecure);
	assert_int_equal(o.output, CLI_OUT_TABLE);

	/* --config names the file; commands that need no controller do not read it */
	snprintf(want, sizeof(want), "%s/.config/sluice/config.yaml", home);
	assert_int_equal(parse(&env, &o, err, sizeof(err), "--config", want, "get", "revisions", NULL), 0);
	assert_string_equal(o.controller, "ctl.home.example:7443");
	assert_int_equal(parse(&env, &o, err, sizeof(err), "--config", "/nonexistent/c.yaml", "version", NULL), 0);

	/* no file at all: the defaults */
	env.config_home = NULL;
	env.home = dir; /* no .config below it */
	assert_int_equal(parse(&env, &o, err, sizeof(err), "--insecure", "get", "agents", NULL), 0);
	assert_string_equal(o.controller, CLI_DEFAULT_CONTROLLER);
	assert_int_equal(o.controller_from, CLI_ADDR_DEFAULT);
	assert_string_equal(o.cfg.path, "");
}

static void test_config_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "controller: a:1\ncontroler: b:2\n", ":2:1: unknown key 'controler' (the keys are: controller, " },
		{ "output: xml\n", ":1:9: output: 'xml' is not an output format (table, wide, json, yaml or name)" },
		{ "timeout: soon\n", ":1:10: timeout: 'soon' is not a duration" },
		{ "insecure: maybe\n", ":1:11: insecure: 'maybe' is not true or false" },
		{ "tls_cert: [a, b]\n", ":1:11: tls_cert: expected a single value, not a list" },
		{ "- controller\n", ":1:1: expected a mapping of settings" },
		{ "controller: [\n", "not valid YAML" },
		{ "insecure: true\ntls_ca: ca.pem\n", "'insecure: true' and tls_* keys exclude each other" },
	};
	struct cli_env env = { .home = home };
	struct cli_opts o;
	char path[300], err[1024];

	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(path, cases[i].text);
		assert_int_equal(parse(&env, &o, err, sizeof(err), "--config", path, "get", "agents", NULL), -EINVAL);
		if (!strstr(err, cases[i].want) || !strstr(err, path)) {
			print_error("config %zu: %s\nwanted: %s\n", i, err, cases[i].want);
			fail();
		}
	}
	assert_int_equal(parse(&env, &o, err, sizeof(err), "--config", "/nonexistent/c.yaml", "get", "agents", NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/c.yaml: cannot read the configuration file"));
	assert_non_null(strstr(err, "check the --config path"));

	/* an empty file is no settings */
	write_file(path, "# nothing yet\n");
	assert_int_equal(parse(&env, &o, err, sizeof(err), "--config", path, "--insecure", "get", "agents", NULL), 0);
	/* no credentials anywhere: the error names all three places */
	assert_int_equal(parse(&env, &o, err, sizeof(err), "--config", path, "get", "agents", NULL), -EINVAL);
	assert_non_null(strstr(err, "--tls-cert FILE"));
	assert_non_null(strstr(err, "config.yaml"));
	assert_non_null(strstr(err, "--insecure"));
}

static void test_colour(void **state)
{
	static const char a[] = "rules:\n  - { name: r1, match: { proto: tcp, dst_ports: [23] }, action: drop }\n";
	static const char b[] = "rules:\n  - { name: r1, match: { proto: tcp, dst_ports: [23, 2323] }, action: drop }\n"
				"  - { name: r2, action: count }\n";
	struct cli_env env = { .tty = false };
	Sluice__V1__Policy *pa = NULL, *pb = NULL;
	struct policy_diff d;
	struct cli_opts o;
	char err[512], *text = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(parse(&env, &o, err, sizeof(err), "--insecure", "diff", "-f", "x.yaml", NULL), 0);
	assert_false(o.color);
	env.tty = true;
	assert_int_equal(parse(&env, &o, err, sizeof(err), "--insecure", "diff", "-f", "x.yaml", NULL), 0);
	assert_true(o.color);
	assert_true(o.tty);
	env.no_color = true;
	assert_int_equal(parse(&env, &o, err, sizeof(err), "--insecure", "diff", "-f", "x.yaml", NULL), 0);
	assert_false(o.color);

	/* what diff prints with that decision */
	assert_int_equal(policy_yaml__parse_string("a.yaml", a, strlen(a), 0, &pa, err, sizeof(err)), 0);
	assert_int_equal(policy_yaml__parse_string("b.yaml", b, strlen(b), 0, &pb, err, sizeof(err)), 0);
	assert_int_equal(policy_diff__compute(pa, pb, &d), 0);
	f = open_memstream(&text, &len);
	policy_diff__print(&d, f, o.color);
	fclose(f);
	assert_null(strchr(text, '\033'));
	assert_non_null(strstr(text, "~ rule r1\n"));
	assert_non_null(strstr(text, "match.dst_ports: [23] -> [23, 2323]"));
	assert_non_null(strstr(text, "+ rule r2"));
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	policy_diff__print(&d, f, true);
	fclose(f);
	assert_non_null(strstr(text, "\033[32m+ rule r2"));
	free(text);
	policy_diff__clear(&d);
	policy__free(pa);
	policy__free(pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_colour),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
