/* SPDX-License-Identifier: Apache-2.0 */
/*
 * priv.h — for tests that need root and BPF: skip (exit 77) when they cannot run here,
 * unless SLUICE_REQUIRE_PRIV=1 says this run must not skip, in which case fail.
 */
#ifndef SLUICE_TEST_PRIV_H
#define SLUICE_TEST_PRIV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void priv__require_root(const char *test)
{
	const char *req = getenv("SLUICE_REQUIRE_PRIV");

	if (geteuid() == 0)
		return;
	if (req && strcmp(req, "1") == 0) {
		fprintf(stderr, "%s: needs root and BPF, and SLUICE_REQUIRE_PRIV=1 forbids skipping\n", test);
		exit(1);
	}
	fprintf(stderr, "%s: skipped: needs root and BPF\n", test);
	exit(77);
}

#endif
