/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_run.h — timing an XDP program over a set of frames with BPF_PROG_TEST_RUN, the
 * way every datapath figure here is taken: each frame run `repeat` times on a fresh copy,
 * the kernel's own per-run time (it leaves out time the test thread spent rescheduled,
 * which wall time on a busy 2-core machine does not; truncated to whole ns per call, so
 * it is summed over many frames), the mean over frames, the median of BENCH_ROUNDS rounds.
 */
#ifndef SLUICE_BENCH_RUN_H
#define SLUICE_BENCH_RUN_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define BENCH_ROUNDS 3
#define BENCH_FRAME 512 /* pkt__build writes up to 512 bytes */

/* Median over rounds of the mean ns per run of prog_fd over the n frames buf[i] (len[i]). */
static inline double bench__measure(int prog_fd, const uint8_t (*buf)[BENCH_FRAME], const uint32_t *len, int n,
				    int repeat)
{
	double best[BENCH_ROUNDS];

	for (int r = 0; r < BENCH_ROUNDS; r++) {
		double total = 0;

		for (int i = 0; i < n; i++) {
			uint8_t copy[BENCH_FRAME];
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = copy, .data_size_in = len[i], .repeat = repeat);

			memcpy(copy, buf[i], len[i]);
			if (bpf_prog_test_run_opts(prog_fd, &o)) {
				fprintf(stderr, "bench: test_run of program fd %d failed: %s\n", prog_fd, strerror(errno));
				exit(1);
			}
			total += o.duration;
		}
		best[r] = total / n;
	}
	for (int i = 0; i < BENCH_ROUNDS; i++)
		for (int j = i + 1; j < BENCH_ROUNDS; j++)
			if (best[j] < best[i]) {
				double t = best[i];

				best[i] = best[j];
				best[j] = t;
			}
	return best[BENCH_ROUNDS / 2];
}

#endif
