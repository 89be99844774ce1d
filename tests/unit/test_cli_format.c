// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_format.c — the units sluicectl shows people (counts "1.2M", bytes "3.4MB",
 * rates "1.2k/s", ages "12s") and the YAML it writes for -o yaml: the same structure as
 * the JSON, with strings that would read back as numbers, booleans or times quoted.
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
#include <yaml.h>

#include "cli/render.h"
#include "cli/table.h"

static void test_counts_and_bytes(void **state)
{
	static const struct {
		uint64_t v;
		const char *count, *bytes;
	} cases[] = {
		{ 0, "0", "0B" },
		{ 7, "7", "7B" },
		{ 999, "999", "999B" },
		{ 1000, "1.0k", "1.0kB" },
		{ 1234, "1.2k", "1.2kB" },
		{ 9949, "9.9k", "9.9kB" },
		{ 12345, "12k", "12kB" },
		{ 123456, "123k", "123kB" },
		{ 999499, "999k", "999kB" },
		{ 999500, "1.0M", "1.0MB" },
		{ 1200000, "1.2M", "1.2MB" },
		{ 98765432, "99M", "99MB" },
		{ 3400000000ull, "3.4G", "3.4GB" },
		{ 5000000000000ull, "5.0T", "5.0TB" },
		{ UINT64_MAX, "18E", "18EB" },
	};
	char b[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_fmt__count(cases[i].v, b, sizeof(b));
		assert_string_equal(b, cases[i].count);
		cli_fmt__bytes(cases[i].v, b, sizeof(b));
		assert_string_equal(b, cases[i].bytes);
	}
}

static void test_rates(void **state)
{
	static const struct {
		double v;
		const char *unit, *want;
	} cases[] = {
		{ -1, NULL, "-" },   { 0, NULL, "0/s" },	  { 0.5, NULL, "0.5/s" },     { 2, NULL, "2/s" },
		{ 12.4, NULL, "12/s" }, { 1234, NULL, "1.2k/s" }, { 1.5e6, "B", "1.5MB/s" }, { 80, "B", "80B/s" },
	};
	char b[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_fmt__rate(cases[i].v, cases[i].unit, b, sizeof(b));
		assert_string_equal(b, cases[i].want);
	}
	cli_fmt__age(12, b, sizeof(b));
	assert_string_equal(b, "12s");
	cli_fmt__age(7300, b, sizeof(b));
	assert_string_equal(b, "2h");
}

/* j as YAML text (j released). */
static char *yaml_of(json_t *j)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(cli_render__yaml(j, f), 0);
	fclose(f);
	return out;
}

/* Reads YAML back and returns the scalar at root[key] with its style. */
static void read_back(const char *text, const char *key, char *val, size_t len, yaml_scalar_style_t *style)
{
	yaml_parser_t ps;
	yaml_document_t doc;
	yaml_node_t *root;

	assert_true(yaml_parser_initialize(&ps));
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, strlen(text));
	assert_true(yaml_parser_load(&ps, &doc));
	root = yaml_document_get_root_node(&doc);
	assert_non_null(root);
	assert_int_equal(root->type, YAML_MAPPING_NODE);
	val[0] = '\0';
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key), *v = yaml_document_get_node(&doc, p->value);

		if (strcmp((char *)k->data.scalar.value, key) == 0 && v->type == YAML_SCALAR_NODE) {
			snprintf(val, len, "%s", (char *)v->data.scalar.value);
			*style = v->data.scalar.style;
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&ps);
}

static void test_yaml(void **state)
{
	static const struct {
		const char *s;
		bool quoted;
	} strings[] = {
		{ "drop", false },	 { "10.10.0.10", false }, { "2001:db8::/32", false }, { "10%", false },
		{ "8000-8100", false },	 { "syn,!ack", false },	  { "5m", false },	      { "123", true },
		{ "1.5", true },	 { "0x1f", true },	  { "1:30", true },	      { "yes", true },
		{ "No", true },		 { "null", true },	  { "~", true },	      { "", true },
		{ "2027-01-15T08:00:00Z", true }, { ".inf", true }, { "1e3", true },
	};
	char val[64];
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	char *text;

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		text = yaml_of(json_pack("{s:s}", "k", strings[i].s));
		read_back(text, "k", val, sizeof(val), &style);
		if (strcmp(val, strings[i].s) != 0 || (style != YAML_PLAIN_SCALAR_STYLE) != strings[i].quoted) {
			print_error("'%s' came out as:\n%s", strings[i].s, text);
			fail();
		}
		free(text);
	}
	/* the structure of the JSON, block style, order kept, empty collections in flow style */
	text = yaml_of(json_pack("{s:I, s:b, s:n, s:[s, {s:I}], s:{}, s:[]}", "revision", (json_int_t)7, "unchanged",
				 0, "created", "rules", "a", "port", (json_int_t)80, "labels", "interfaces"));
	assert_string_equal(text, "revision: 7\n"
				  "unchanged: false\n"
				  "created: null\n"
				  "rules:\n"
				  "- a\n"
				  "- port: 80\n"
				  "labels: {}\n"
				  "interfaces: []\n");
	free(text);
	assert_int_equal(cli_render__yaml(NULL, stdout), -ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_bytes),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_yaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
