// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_policy_file.c — policy_yaml__parse_string() (the parser and validation behind
 * `sluicectl apply -f`) on arbitrary text, YAML or JSON. It either refuses with a
 * message that names a place and what is wrong, or returns a valid policy, which then
 * must render to JSON and parse back to the same policy (fuzz_policy.h).
 * One input in five (by length) is parsed for an agent of 4 rules, so the capacity
 * check is reached too; the corpus files are plain policy files.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "fuzz_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t capacity = size % 5 == 4 ? 4 : 0;
	Sluice__V1__Policy *p = NULL;
	char err[1024];
	int rc;

	rc = policy_yaml__parse_string("fuzz.yaml", (const char *)data, size, capacity, &p, err, sizeof(err));
	if (rc) {
		/* A refusal says where ("fuzz.yaml..." or "roundtrip...") and what. */
		if (rc != -EINVAL || strncmp(err, "fuzz.yaml", 9) != 0 || strlen(err) < 16) {
			fprintf(stderr, "refused with %d and message '%s'\n", rc, err);
			abort();
		}
		return 0;
	}
	if (policy__validate(p, capacity, err, sizeof(err)) != 0) {
		fprintf(stderr, "parsed, then invalid: %s\n", err);
		abort();
	}
	fuzz__policy_roundtrip(p, capacity);
	policy__free(p);
	return 0;
}
