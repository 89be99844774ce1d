// SPDX-License-Identifier: Apache-2.0
/* fuzz_frame.c — l7_frame__decode() on arbitrary frames: the payload it finds lies inside
 * the input, and the protocol parsers run on it as the agent would run them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_check.h"
#include "l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct l7_frame f;
	struct l7_http h;
	struct l7_tls t;
	struct l7_dns d;

	if (l7_frame__decode(data, size, &f) != 0)
		return 0;
	if (!f.payload)
		return 0;
	if (f.payload < data || f.payload_len == 0 || f.payload + f.payload_len > data + size)
		abort();
	if (l7_http__parse(f.payload, f.payload_len, &h) == 0)
		FUZZ_CHECK_TEXT(h.path);
	if (l7_tls__parse(f.payload, f.payload_len, &t) == 0)
		FUZZ_CHECK_TEXT(t.sni);
	if (l7_dns__parse(f.payload, f.payload_len, f.proto == 6, &d) == 0)
		FUZZ_CHECK_TEXT(d.qname);
	return 0;
}
