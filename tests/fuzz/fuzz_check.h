/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_check.h — what every parser promises about its text outputs, checked by the
 * fuzz targets after each run: NUL-terminated inside the array, printable ASCII only.
 * A broken promise aborts, which libFuzzer reports as a crash with the input saved.
 */
#ifndef SLUICE_FUZZ_CHECK_H
#define SLUICE_FUZZ_CHECK_H

#include <stdlib.h>
#include <string.h>

static inline void fuzz__check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		abort(); /* no NUL inside the array */
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
	}
}

#define FUZZ_CHECK_TEXT(arr) fuzz__check_text((arr), sizeof(arr))

#endif
