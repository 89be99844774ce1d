// SPDX-License-Identifier: Apache-2.0
/* fuzz_http.c — l7_http__parse() on arbitrary bytes; its outputs stay bounded text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct l7_http h;

	if (l7_http__parse(data, size, &h) != 0)
		return 0;
	FUZZ_CHECK_TEXT(h.method);
	FUZZ_CHECK_TEXT(h.path);
	FUZZ_CHECK_TEXT(h.host);
	if (!h.method[0] || !h.path[0])
		abort(); /* a request always has both */
	if (h.version != 0 && h.version != 10 && h.version != 11)
		abort();
	return 0;
}
