// SPDX-License-Identifier: Apache-2.0
/*
 * test_cli_security.c — sluicectl's security commands without a controller: `delete agent
 * NODE` (its argument and that it needs credentials), `audit --since DURATION` (the units,
 * bad values, a command that does not take it), and how `describe agent` shows an agent's
 * certificate: its expiry, a warning under 7 days, EXPIRED, and the -o json fields.
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
#include <jansson.h>

#include "cli/cli.h"
#include "cli/render.h"

/* Parses the words (NULL-terminated); err text in *err (free it). */
static int parse(struct cli_opts *o, char **err, ...)
{
	char *argv[32] = { "sluicectl" }, *out = NULL;
	size_t outlen = 0, errlen = 0;
	FILE *fo, *fe;
	int argc = 1, rc;
	va_list ap;

	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	fo = open_memstream(&out, &outlen);
	fe = open_memstream(err, &errlen);
	rc = cli__parse(argc, argv, NULL, o, fo, fe);
	fclose(fo);
	fclose(fe);
	free(out);
	return rc;
}

#define TLS "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem"

static void test_delete_agent(void **state)
{
	struct cli_opts o;
	char *err;

	(void)state;
	assert_int_equal(parse(&o, &err, TLS, "delete", "agent", "gw9", NULL), 0);
	assert_int_equal(o.cmd, CLI_CMD_DELETE_AGENT);
	assert_string_equal(o.node, "gw9");
	free(err);
	assert_int_equal(parse(&o, &err, TLS, "delete", "agents", "gw9", NULL), 0); /* plural too */
	assert_int_equal(o.cmd, CLI_CMD_DELETE_AGENT);
	free(err);
	assert_int_equal(parse(&o, &err, TLS, "delete", "agent", NULL), -EINVAL);
	assert_non_null(strstr(err, "delete agent needs NODE (list them with: sluicectl get agents)"));
	free(err);
	assert_int_equal(parse(&o, &err, "delete", "agent", "gw9", NULL), -EINVAL);
	assert_non_null(strstr(err, "no credentials for the controller"));
	free(err);
	assert_int_equal(parse(&o, &err, TLS, "delete", "revision", "3", NULL), -EINVAL);
	assert_non_null(strstr(err, "unknown kind 'revision'"));
	free(err);
}

static void test_audit_since(void **state)
{
	static const struct {
		const char *arg;
		int64_t secs;
	} ok[] = { { "90s", 90 }, { "30m", 1800 }, { "12h", 43200 }, { "7d", 604800 }, { "45", 45 } };
	static const char *const bad[] = { "0h", "-1h", "1w", "h", "", "1.5h", "99999999d" };
	struct cli_opts o;
	char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse(&o, &err, TLS, "audit", "--since", ok[i].arg, NULL), 0);
		assert_int_equal(o.cmd, CLI_CMD_AUDIT);
		assert_int_equal(o.since_s, ok[i].secs);
		free(err);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, &err, TLS, "audit", "--since", bad[i], NULL), -EINVAL);
		assert_non_null(strstr(err, "is not a duration"));
		free(err);
	}
	assert_int_equal(parse(&o, &err, TLS, "get", "agents", "--since", "1h", NULL), -EINVAL);
	assert_non_null(strstr(err, "does not take --since"));
	free(err);
}

/* describe agent's page for an agent whose certificate expires at not_after. */
static char *describe(int64_t not_after, int64_t now)
{
	Sluice__V1__AgentInfo a = SLUICE__V1__AGENT_INFO__INIT;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	a.node_id = "gw1";
	a.cert_not_after_unix = not_after;
	cli_render__agent_describe(&a, now, f);
	fclose(f);
	return text;
}

static void test_describe_certificate(void **state)
{
	Sluice__V1__AgentInfo a = SLUICE__V1__AGENT_INFO__INIT;
	int64_t now = 1800000000;
	json_t *j;
	char *t;

	(void)state;
	t = describe(0, now); /* not reported (plaintext agent): no line */
	assert_null(strstr(t, "Certificate:"));
	free(t);
	t = describe(now + 90 * 86400, now);
	assert_non_null(strstr(t, "Certificate:       expires 2027-04-15T08:00:00Z (in 90d)\n"));
	free(t);
	t = describe(now + 3 * 86400 + 60, now);
	assert_non_null(strstr(t, "Certificate:       WARNING: expires 2027-01-18T08:01:00Z (in 3d, less than 7 days)"));
	assert_non_null(strstr(t, "deploy/pki.sh agent gw1"));
	free(t);
	t = describe(now - 60, now);
	assert_non_null(strstr(t, "Certificate:       EXPIRED at 2027-01-15T07:59:00Z"));
	free(t);

	a.node_id = "gw1";
	j = cli_render__agent_json(&a);
	assert_null(json_object_get(j, "cert_not_after"));
	json_decref(j);
	a.cert_not_after_unix = 1000; /* long gone: expires_soon whatever the clock says */
	j = cli_render__agent_json(&a);
	assert_string_equal(json_string_value(json_object_get(j, "cert_not_after")), "1970-01-01T00:16:40Z");
	assert_true(json_is_true(json_object_get(j, "cert_expires_soon")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delete_agent),
		cmocka_unit_test(test_audit_since),
		cmocka_unit_test(test_describe_certificate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
