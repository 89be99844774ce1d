// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_args.c — sluicectl's command line without a controller: global flags
 * anywhere, the controller address from flag / SLUICE_CONTROLLER / default, TLS flag
 * rules, per-command flags and arguments, --help on every command, and the exit codes
 * (usage errors exit 2 and say what to do next).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

struct capture {
	char *out, *err;
	size_t outlen, errlen;
	FILE *fo, *fe;
};

static void cap_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->fo = open_memstream(&c->out, &c->outlen);
	c->fe = open_memstream(&c->err, &c->errlen);
	assert_non_null(c->fo);
	assert_non_null(c->fe);
}

static void cap_close(struct capture *c)
{
	fclose(c->fo);
	fclose(c->fe);
}

static void cap_free(struct capture *c)
{
	free(c->out);
	free(c->err);
}

/* Parses a NULL-terminated list of words; err/out text in c (closed). */
static int parse(struct capture *c, struct cli_opts *o, const char *env, ...)
{
	char *argv[32] = { "sluicectl" };
	int argc = 1, rc;
	va_list ap;

	va_start(ap, env);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	cap_open(c);
	rc = cli__parse(argc, argv, env, o, c->fo, c->fe);
	cap_close(c);
	return rc;
}

/* Expects a usage error whose message contains want. */
static void usage_err(const char *want, ...)
{
	char *argv[32] = { "sluicectl" };
	struct capture c;
	struct cli_opts o;
	int argc = 1, rc;
	va_list ap;

	va_start(ap, want);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	cap_open(&c);
	rc = cli__parse(argc, argv, NULL, &o, c.fo, c.fe);
	cap_close(&c);
	if (rc != -EINVAL || !strstr(c.err, want) || strncmp(c.err, "sluicectl: error: ", 18) != 0) {
		print_error("argv[1]=%s: rc %d, stderr:\n%s\nwanted: %s\n", argv[1], rc, c.err, want);
		fail();
	}
	assert_int_equal(c.outlen, 0);
	cap_free(&c);
}

static void test_defaults_and_controller(void **state)
{
	struct capture c;
	struct cli_opts o;

	assert_int_equal(parse(&c, &o, NULL, "get", "agents", "--insecure", NULL), 0);
	assert_int_equal(o.cmd, CLI_CMD_GET_AGENTS);
	assert_string_equal(o.controller, CLI_DEFAULT_CONTROLLER);
	assert_int_equal(o.controller_from, CLI_ADDR_DEFAULT);
	assert_int_equal(o.output, CLI_OUT_TABLE);
	assert_int_equal(o.timeout_ms, CLI_DEFAULT_TIMEOUT_MS);
	assert_string_equal(o.cmd_name, "get agents");
	assert_true(o.insecure);
	cap_free(&c);

	assert_int_equal(parse(&c, &o, "10.1.1.1:7443", "--insecure", "get", "revisions", NULL), 0);
	assert_string_equal(o.controller, "10.1.1.1:7443");
	assert_int_equal(o.controller_from, CLI_ADDR_ENV);
	cap_free(&c);

	/* the flag beats the environment, and global flags may follow the command */
	assert_int_equal(parse(&c, &o, "10.1.1.1:7443", "get", "rules", "--controller", "10.2.2.2:9", "-o", "json",
			       "--insecure", "--timeout", "500ms", NULL),
			 0);
	assert_string_equal(o.controller, "10.2.2.2:9");
	assert_int_equal(o.controller_from, CLI_ADDR_FLAG);
	assert_int_equal(o.output, CLI_OUT_JSON);
	assert_int_equal(o.timeout_ms, 500);
	assert_int_equal(o.cmd, CLI_CMD_GET_RULES);
	cap_free(&c);

	assert_int_equal(parse(&c, &o, NULL, "--controller=[::1]:7443", "-ojson", "--timeout=2m", "--insecure", "get",
			       "routes", NULL),
			 0);
	assert_string_equal(o.controller, "[::1]:7443");
	assert_int_equal(o.output, CLI_OUT_JSON);
	assert_int_equal(o.timeout_ms, 120000);
	assert_int_equal(o.cmd, CLI_CMD_GET_ROUTES);
	cap_free(&c);
}

static void test_commands(void **state)
{
	struct capture c;
	struct cli_opts o;

	assert_int_equal(parse(&c, &o, NULL, "apply", "-f", "policy.yaml", "--dry-run", "-m", "why not",
			       "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem", NULL),
			 0);
	assert_int_equal(o.cmd, CLI_CMD_APPLY);
	assert_string_equal(o.file, "policy.yaml");
	assert_true(o.dry_run);
	assert_string_equal(o.message, "why not");
	assert_string_equal(o.tls_ca, "ca.pem");
	assert_false(o.insecure);
	cap_free(&c);

	assert_int_equal(parse(&c, &o, NULL, "--insecure", "apply", "--filename=-", NULL), 0);
	assert_string_equal(o.file, "-");
	cap_free(&c);
	assert_int_equal(parse(&c, &o, NULL, "--insecure", "apply", "-f", "-", NULL), 0);
	assert_string_equal(o.file, "-");
	cap_free(&c);

	assert_int_equal(parse(&c, &o, NULL, "--insecure", "describe", "agent", "gw1", NULL), 0);
	assert_int_equal(o.cmd, CLI_CMD_DESCRIBE_AGENT);
	assert_string_equal(o.node, "gw1");
	cap_free(&c);

	assert_int_equal(parse(&c, &o, NULL, "--insecure", "describe", "revision", "42", NULL), 0);
	assert_int_equal(o.cmd, CLI_CMD_DESCRIBE_REVISION);
	assert_int_equal(o.revision, 42);
	cap_free(&c);

	/* singular and plural both name the kind */
	assert_int_equal(parse(&c, &o, NULL, "--insecure", "get", "agent", "-l", "env=lab,zone=a", NULL), 0);
	assert_int_equal(o.cmd, CLI_CMD_GET_AGENTS);
	assert_string_equal(o.selector, "env=lab,zone=a");
	cap_free(&c);

	assert_int_equal(parse(&c, &o, NULL, "--insecure", "get", "revisions", "--limit", "5", NULL), 0);
	assert_int_equal(o.limit, 5);
	cap_free(&c);

	/* apply over a given revision, or over whatever is there */
	assert_int_equal(parse(&c, &o, NULL, "--insecure", "apply", "-f", "p.yaml", "--base-revision", "7", NULL), 0);
	assert_int_equal(o.base_revision, 7);
	assert_false(o.force);
	cap_free(&c);
	assert_int_equal(parse(&c, &o, NULL, "--insecure", "apply", "-f", "p.yaml", "--force", NULL), 0);
	assert_true(o.force);
	assert_int_equal(o.base_revision, 0);
	cap_free(&c);

	/* version needs no controller, so no TLS flags */
	assert_int_equal(parse(&c, &o, NULL, "version", NULL), 0);
	assert_int_equal(o.cmd, CLI_CMD_VERSION);
	cap_free(&c);
}

static void test_usage_errors(void **state)
{
	usage_err("no command given", NULL);
	usage_err("unknown command 'frobnicate'", "frobnicate", NULL);
	usage_err("get what? (agents, revisions, rules, routes", "get", NULL);
	usage_err("get: unknown kind 'widgets'", "get", "widgets", NULL);
	usage_err("unknown flag '--bogus'", "--bogus", "version", NULL);
	usage_err("-f needs a value (FILE)", "apply", "-f", NULL);
	usage_err("apply needs -f FILE", "--insecure", "apply", NULL);
	usage_err("describe agent needs NODE (list them with: sluicectl get agents)", "--insecure", "describe", "agent",
		  NULL);
	usage_err("unexpected argument 'extra'", "--insecure", "describe", "agent", "gw1", "extra", NULL);
	usage_err("'x7' is not a revision number", "--insecure", "describe", "revision", "x7", NULL);
	usage_err("get agents does not take --dry-run", "--insecure", "get", "agents", "--dry-run", NULL);
	usage_err("version does not take -m", "version", "-m", "hi", NULL);
	usage_err("no credentials for the controller: give --tls-cert", "get", "agents", NULL);
	usage_err("--insecure and --tls-* flags exclude each other", "--insecure", "--tls-ca", "ca.pem", "get",
		  "agents", NULL);
	usage_err("--tls-key is missing", "--tls-cert", "c.pem", "--tls-ca", "ca.pem", "get", "agents", NULL);
	usage_err("-o 'xml' is not an output format (table, wide, json, yaml or name)", "-o", "xml", "version", NULL);
	usage_err("-o name is for get commands", "-o", "name", "version", NULL);
	usage_err("--timeout '0' is not a duration", "--timeout", "0", "version", NULL);
	usage_err("--timeout 'soon' is not a duration", "--timeout=soon", "version", NULL);
	usage_err("--limit '0' is not a count", "--insecure", "get", "revisions", "--limit", "0", NULL);
	usage_err("-l 'env' is not a label selector", "--insecure", "get", "agents", "-l", "env", NULL);
	usage_err("--controller needs HOST:PORT", "--controller=", "version", NULL);
	usage_err("--insecure takes no value", "--insecure=yes", "version", NULL);
	usage_err("--base-revision 'x' is not a revision number", "--insecure", "apply", "-f", "p.yaml",
		  "--base-revision", "x", NULL);
	usage_err("--force and --base-revision exclude each other", "--insecure", "apply", "-f", "p.yaml", "--force",
		  "--base-revision", "3", NULL);
	usage_err("diff does not take --force", "--insecure", "diff", "-f", "p.yaml", "--force", NULL);
}

static void test_help(void **state)
{
	static const char *const cmds[][3] = {
		{ "apply", NULL }, { "get", "agents" },	      { "get", "revisions" },	 { "get", "rules" },
		{ "get", "routes" }, { "describe", "agent" }, { "describe", "revision" }, { "version", NULL },
	};
	struct capture c;
	struct cli_opts o;

	assert_int_equal(parse(&c, &o, NULL, "--help", NULL), 0);
	assert_int_equal(o.cmd, CLI_CMD_NONE);
	assert_non_null(strstr(c.out, "Usage: sluicectl [GLOBAL FLAGS] COMMAND"));
	assert_non_null(strstr(c.out, "--controller ADDR"));
	assert_non_null(strstr(c.out, "describe revision N"));
	assert_int_equal(c.errlen, 0);
	cap_free(&c);

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char syn[64];

		if (cmds[i][1])
			assert_int_equal(parse(&c, &o, NULL, cmds[i][0], cmds[i][1], "--help", NULL), 0);
		else
			assert_int_equal(parse(&c, &o, NULL, cmds[i][0], "-h", NULL), 0);
		assert_int_equal(o.cmd, CLI_CMD_NONE);
		snprintf(syn, sizeof(syn), "Usage: sluicectl [GLOBAL FLAGS] %s%s%s", cmds[i][0], cmds[i][1] ? " " : "",
			 cmds[i][1] ? cmds[i][1] : "");
		assert_non_null(strstr(c.out, syn));
		assert_non_null(strstr(c.out, "Example:\n  sluicectl "));
		cap_free(&c);
	}
	assert_int_equal(parse(&c, &o, NULL, "apply", "--help", NULL), 0);
	assert_non_null(strstr(c.out, "-f, --filename FILE"));
	assert_non_null(strstr(c.out, "--dry-run"));
	cap_free(&c);

	assert_int_equal(parse(&c, &o, NULL, "help", "get", NULL), 0);
	assert_non_null(strstr(c.out, "get agents"));
	assert_non_null(strstr(c.out, "get routes"));
	cap_free(&c);
}

/* The exit codes of the whole program, for what needs no controller. */
static void test_exit_codes(void **state)
{
	char *usage[] = { "sluicectl", "get", NULL };
	char *help[] = { "sluicectl", "apply", "--help", NULL };
	char *version[] = { "sluicectl", "-o", "json", "version", NULL };
	struct capture c;

	cap_open(&c);
	assert_int_equal(cli__main(2, usage, NULL, c.fo, c.fe), CLI_EXIT_USAGE);
	assert_int_equal(cli__main(3, help, NULL, c.fo, c.fe), CLI_EXIT_OK);
	assert_int_equal(cli__main(4, version, NULL, c.fo, c.fe), CLI_EXIT_OK);
	cap_close(&c);
	assert_non_null(strstr(c.out, "\"version\": \"" SLUICE_VERSION "\""));
	assert_non_null(strstr(c.err, "get what?"));
	cap_free(&c);
	assert_int_equal(CLI_EXIT_FAIL, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_controller),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
