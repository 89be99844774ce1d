// SPDX-License-Identifier: Apache-2.0
/*
 * test_policy_corpus.c — a corpus of broken policy files (tests/data/broken/), each
 * refused with the exact message its first line promises ("# expect: FILE:LINE:COL:
 * what is wrong"): the position of the offending node, the object named first, and
 * what to write instead. This is the text `sluicectl apply` and `diff` print.
 */
#include <dirent.h>
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

#include "common/policy.h"

#define EXPECT "# expect: "

static int is_yaml(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0;
}

static void test_corpus(void **state)
{
	struct dirent **names = NULL;
	int n, failures = 0;

	assert_int_equal(chdir(getenv("SLUICE_TEST_DATA")), 0);
	n = scandir("broken", &names, is_yaml, alphasort);
	assert_true(n >= 20);
	for (int i = 0; i < n; i++) {
		char path[300], want[1024] = "", got[1024] = "";
		Sluice__V1__Policy *p = NULL;
		FILE *f;
		int rc;

		snprintf(path, sizeof(path), "broken/%s", names[i]->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(want, sizeof(want), f));
		fclose(f);
		if (strncmp(want, EXPECT, strlen(EXPECT)) != 0) {
			print_error("%s: the first line must be '" EXPECT "MESSAGE'\n", path);
			fail();
		}
		memmove(want, want + strlen(EXPECT), strlen(want + strlen(EXPECT)) + 1);
		want[strcspn(want, "\n")] = '\0';
		rc = policy_yaml__parse_file(path, 0, &p, got, sizeof(got));
		if (rc != -EINVAL || p || strcmp(got, want) != 0) {
			print_error("%s: rc %d\n  got:  %s\n  want: %s\n", path, rc, got, want);
			failures++;
		}
		policy__free(p);
		free(names[i]);
	}
	free(names);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
