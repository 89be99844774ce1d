// SPDX-License-Identifier: Apache-2.0
/*
 * test_cert.c — common/cert.h on certificates made by deploy/pki.sh (and, for the ones
 * it will not make, by the openssl CLI): subject and validity read back, files that
 * belong together accepted, a foreign key, an expired certificate, a missing file and
 * a file of garbage refused with the right -errno, and the 7-day warning rule.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/cert.h"

struct fx {
	char dir[64];
};

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* deploy/pki.sh, found from the test data folder (tests/data). */
static const char *pki_sh(void)
{
	static char path[4096];
	const char *data = getenv("SLUICE_TEST_DATA");

	snprintf(path, sizeof(path), "%s/../../deploy/pki.sh", data ? data : "tests/data");
	return path;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sluice-test-cert.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	sh("bash %s --dir %s ca >/dev/null && bash %s --dir %s agent gw1 >/dev/null &&"
	   " bash %s --dir %s --days 3 operator alice viewer >/dev/null",
	   pki_sh(), fx->dir, pki_sh(), fx->dir, pki_sh(), fx->dir);
	/* An expired certificate from the same CA (pki.sh makes none). */
	sh("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout old.key -out old.csr"
	   " -subj '/O=sluice:agent/CN=old' 2>/dev/null && openssl x509 -req -in old.csr -CA ca.crt -CAkey ca.key"
	   " -set_serial 7 -days -1 -out old.crt 2>/dev/null",
	   fx->dir);
	sh("printf 'not a certificate\\n' > %s/junk.pem", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	sh("rm -rf '%s'", fx->dir);
	free(fx);
	return 0;
}

static const char *path(const struct fx *fx, const char *name)
{
	static char buf[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", fx->dir, name);
	return buf[i];
}

static void test_read(void **state)
{
	struct fx *fx = *state;
	struct cert_info ci;
	char err[512];
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(cert__read(path(fx, "agent-gw1.crt"), &ci, err, sizeof(err)), 0);
	assert_string_equal(ci.cn, "gw1");
	assert_string_equal(ci.org, "sluice:agent");
	assert_false(ci.is_ca);
	assert_true(ci.not_before <= now && ci.not_after > now + 360LL * 86400);
	assert_int_equal(cert__read(path(fx, "ca.crt"), &ci, err, sizeof(err)), 0);
	assert_true(ci.is_ca);
	assert_int_equal(cert__read(path(fx, "user-alice.crt"), &ci, err, sizeof(err)), 0);
	assert_string_equal(ci.org, "sluice:viewer");
	assert_in_range(cert__days_left(ci.not_after, now), 2, 3); /* 3 days, less the seconds since */
	assert_true(cert__expires_soon(ci.not_after, now));

	assert_int_equal(cert__read(path(fx, "nothing.crt"), &ci, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nothing.crt"));
	assert_int_equal(cert__read(path(fx, "junk.pem"), &ci, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "holds no PEM certificate"));
}

static void test_check_files(void **state)
{
	struct fx *fx = *state;
	struct cert_info ci;
	char err[512];

	assert_int_equal(cert__check_files(path(fx, "agent-gw1.crt"), path(fx, "agent-gw1.key"), path(fx, "ca.crt"), &ci,
					   err, sizeof(err)),
			 0);
	assert_string_equal(ci.cn, "gw1");
	/* Someone else's key. */
	assert_int_equal(cert__check_files(path(fx, "agent-gw1.crt"), path(fx, "user-alice.key"), path(fx, "ca.crt"),
					   NULL, err, sizeof(err)),
			 -EKEYREJECTED);
	assert_non_null(strstr(err, "does not belong to certificate"));
	assert_int_equal(cert__check_files(path(fx, "old.crt"), path(fx, "old.key"), path(fx, "ca.crt"), NULL, err,
					   sizeof(err)),
			 -EKEYEXPIRED);
	assert_non_null(strstr(err, "expired at"));
	assert_int_equal(cert__check_files(path(fx, "agent-gw1.crt"), path(fx, "agent-gw1.key"), path(fx, "junk.pem"),
					   NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "CA"));
	assert_int_equal(cert__check_files(path(fx, "agent-gw1.crt"), path(fx, "missing.key"), path(fx, "ca.crt"), NULL,
					   err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(cert__check_files(NULL, NULL, NULL, NULL, err, sizeof(err)), -EINVAL);
}

static void test_warning_rule(void **state)
{
	int64_t now = 1800000000;

	(void)state;
	assert_false(cert__expires_soon(0, now)); /* unknown */
	assert_false(cert__expires_soon(now + CERT_WARN_SECONDS, now));
	assert_true(cert__expires_soon(now + CERT_WARN_SECONDS - 1, now));
	assert_true(cert__expires_soon(now - 10, now));
	assert_int_equal(cert__days_left(now + 86400 * 3 + 5, now), 3);
	assert_int_equal(cert__days_left(now + 86399, now), 0);
	assert_int_equal(cert__days_left(now - 1, now), -1);
	assert_int_equal(cert__days_left(now - 86400, now), -1);
	assert_int_equal(cert__days_left(now - 86401, now), -2);
	assert_false(cert__warn_expiry("far", now + 30LL * 86400, now));
	assert_true(cert__warn_expiry("near", now + 86400, now));
	assert_true(cert__warn_expiry("gone", now - 86400, now));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_check_files),
		cmocka_unit_test(test_warning_rule),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
