// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_doc.c — the documents generated from sluicectl's command table: every
 * visible command and every flag appears in --help, in the sluicectl(8) manual and in
 * the bash completion script; every command's help has an example that parses; hidden
 * helpers stay out; the manual is troff that starts a request only where meant to.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/spec.h"

static char *capture(void (*gen)(FILE *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	gen(f);
	fclose(f);
	return text;
}

/* Runs sluicectl with argv (NULL-terminated); returns the exit code, stdout in *out. */
static int run(char **out, ...)
{
	char *argv[32] = { "sluicectl" }, *err = NULL;
	size_t outlen = 0, errlen = 0;
	int argc = 1, rc;
	FILE *fo = open_memstream(out, &outlen), *fe = open_memstream(&err, &errlen);
	va_list ap;

	va_start(ap, out);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	rc = cli__main(argc, argv, NULL, fo, fe);
	fclose(fo);
	fclose(fe);
	free(err);
	return rc;
}

static void test_every_command_everywhere(void **state)
{
	const struct cmd_spec *cmds;
	size_t n;
	char *man = capture(cli_doc__man), *bash = capture(cli_doc__bash_completion), *help = capture(cli_doc__general_help);
	char want[256], name[64];

	cmds = cli_spec__cmds(&n);
	assert_true(n >= 14);
	for (size_t i = 0; i < n; i++) {
		const struct cmd_spec *c = &cmds[i];

		cli_spec__name(c, name, sizeof(name));
		if (c->hidden) {
			snprintf(want, sizeof(want), ".SS \"%s\"", name);
			assert_null(strstr(man, want));
			assert_null(strstr(help, c->verb));
			continue;
		}
		/* the manual: a subsection per command, with its example */
		snprintf(want, sizeof(want), ".SS \"%s\"\n.B sluicectl %s", name, c->verb);
		if (!strstr(man, want)) {
			print_error("manual lacks %s\n", name);
			fail();
		}
		/* completion: the verb among the first words, the noun among the verb's nouns, the command's flags case */
		snprintf(want, sizeof(want), "%s:%s", c->verb, c->noun ? c->noun : ")");
		if (!strstr(bash, want)) {
			print_error("completion lacks case %s\n", want);
			fail();
		}
		snprintf(want, sizeof(want), " %s ", c->verb);
		if (!strstr(bash, want)) {
			snprintf(want, sizeof(want), "\"%s ", c->verb);
			assert_non_null(strstr(bash, want));
		}
		if (c->noun) {
			snprintf(want, sizeof(want), "%s ", c->noun);
			assert_non_null(strstr(bash, want));
		}
		/* --help: listed, and its own page with an example that is a sluicectl command */
		assert_non_null(strstr(help, name));
		assert_non_null(c->summary);
		assert_non_null(c->help);
		assert_non_null(c->example);
		assert_memory_equal(c->example, "sluicectl ", 10);
	}
	free(man);
	free(bash);
	free(help);
}

static void test_every_flag_everywhere(void **state)
{
	const struct option_spec *opts;
	size_t n;
	char *man = capture(cli_doc__man), *bash = capture(cli_doc__bash_completion), *help;
	char want[128];

	opts = cli_spec__options(&n);
	assert_int_equal(n, OPT_COUNT);
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "\\-\\-%s", opts[i].lng);
		for (char *p = want + 4; *p; p++)
			if (*p == '-') { /* the manual escapes every minus */
				memmove(p + 1, p, strlen(p) + 1);
				*p++ = '\\';
			}
		if (!strstr(man, want)) {
			print_error("manual lacks --%s (%s)\n", opts[i].lng, want);
			fail();
		}
		snprintf(want, sizeof(want), "--%s", opts[i].lng);
		if (!strstr(bash, want)) {
			print_error("completion lacks --%s\n", opts[i].lng);
			fail();
		}
		if (opts[i].values) /* the values are offered after the flag */
			assert_non_null(strstr(bash, opts[i].values));
	}
	help = capture(cli_doc__general_help);
	assert_non_null(strstr(help, "--config FILE"));
	assert_non_null(strstr(help, "-o, --output FORMAT"));
	free(help);
	free(man);
	free(bash);
}

static void test_help_pages_and_examples(void **state)
{
	const struct cmd_spec *cmds;
	size_t n;

	cmds = cli_spec__cmds(&n);
	for (size_t i = 0; i < n; i++) {
		const struct cmd_spec *c = &cmds[i];
		char *out = NULL, *words[16] = { 0 }, *copy, *save = NULL, want[128];
		struct cli_opts o;
		size_t nw = 0;
		FILE *null = fopen("/dev/null", "w");

		if (c->hidden)
			continue;
		if (c->noun)
			assert_int_equal(run(&out, c->verb, c->noun, "--help", NULL), CLI_EXIT_OK);
		else
			assert_int_equal(run(&out, c->verb, "--help", NULL), CLI_EXIT_OK);
		snprintf(want, sizeof(want), "Usage: sluicectl [GLOBAL FLAGS] %s", c->verb);
		assert_non_null(strstr(out, want));
		assert_non_null(strstr(out, "\nExample:\n  sluicectl "));
		if (c->schema)
			assert_non_null(strstr(out, "Output with -o json or -o yaml"));
		free(out);

		/* the example itself is a valid command line */
		copy = strdup(c->example);
		words[nw++] = "sluicectl";
		for (char *w = strtok_r(copy + 10, " ", &save); w && nw < 14; w = strtok_r(NULL, " ", &save)) {
			if (w[0] == '>' || w[0] == '|')
				break;
			if (w[0] == '"') { /* -m "lab policy" */
				while (w[strlen(w) - 1] != '"' || strlen(w) == 1) {
					char *next = strtok_r(NULL, " ", &save);

					if (!next)
						break;
					next[-1] = ' ';
				}
			}
			words[nw++] = w;
		}
		words[nw++] = "--insecure";
		if (!c->remote)
			nw--;
		if (cli__parse((int)nw, words, NULL, &o, null, null) != 0) {
			print_error("the example of %s does not parse: %s\n", c->verb, c->example);
			fail();
		}
		assert_int_equal(o.cmd, c->id);
		free(copy);
		fclose(null);
	}
}

static void test_man_is_troff(void **state)
{
	char *man = capture(cli_doc__man), *out = NULL;

	assert_memory_equal(man, ".\\\" sluicectl(8)", 15);
	assert_non_null(strstr(man, ".TH SLUICECTL 8 "));
	assert_non_null(strstr(man, "\n.SH SYNOPSIS\n"));
	assert_non_null(strstr(man, "\n.SH CONFIGURATION\n"));
	assert_non_null(strstr(man, "\n.SH EXIT STATUS\n"));
	assert_non_null(strstr(man, "SLUICE_CONTROLLER"));
	assert_non_null(strstr(man, "NO_COLOR"));
	/* a text line never starts with a quote; every request is one we meant */
	for (char *line = man; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		static const char *const requests[] = { ".\\\"", ".TH", ".SH", ".SS", ".B ", ".PP", ".TP", ".RS", ".RE",
							".nf", ".fi", ".IR", ".BR", ".I " };
		bool ok = line[0] != '\'';

		if (line[0] == '.') {
			ok = false;
			for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
				ok |= strncmp(line, requests[i], strlen(requests[i])) == 0;
		}
		if (!ok) {
			print_error("stray request: %.40s\n", line);
			fail();
		}
	}
	free(man);
	/* the commands print the same documents */
	assert_int_equal(run(&out, "man", NULL), CLI_EXIT_OK);
	man = capture(cli_doc__man);
	assert_string_equal(out, man);
	free(out);
	free(man);
	assert_int_equal(run(&out, "completion", "bash", NULL), CLI_EXIT_OK);
	assert_non_null(strstr(out, "complete -F _sluicectl sluicectl"));
	free(out);
	assert_int_equal(run(&out, "completion", "fish", NULL), CLI_EXIT_USAGE);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_command_everywhere),
		cmocka_unit_test(test_every_flag_everywhere),
		cmocka_unit_test(test_help_pages_and_examples),
		cmocka_unit_test(test_man_is_troff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
