// SPDX-License-Identifier: Apache-2.0
/* fuzz_tls.c — l7_tls__parse() on arbitrary bytes; its outputs stay bounded text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_check.h"
#include "l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct l7_tls t;

	if (l7_tls__parse(data, size, &t) != 0)
		return 0;
	if (!l7_tls__is_handshake(data, size))
		abort();
	FUZZ_CHECK_TEXT(t.sni);
	if (t.n_alpn > L7_ALPN_MAX)
		abort();
	for (int i = 0; i < t.n_alpn; i++)
		FUZZ_CHECK_TEXT(t.alpn[i]);
	return 0;
}
