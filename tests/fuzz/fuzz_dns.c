// SPDX-License-Identifier: Apache-2.0
/* fuzz_dns.c — l7_dns__parse() on arbitrary bytes, as UDP and as TCP (the first input
 * byte picks); the name stays bounded, printable text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_check.h"
#include "l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct l7_dns d;

	if (size < 1)
		return 0;
	if (l7_dns__parse(data + 1, size - 1, data[0] & 1, &d) != 0)
		return 0;
	FUZZ_CHECK_TEXT(d.qname);
	if (!d.qname[0])
		abort();
	return 0;
}
