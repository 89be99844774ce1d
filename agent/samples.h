/* SPDX-License-Identifier: Apache-2.0 */
/*
 * samples.h — the consumer of the sampled-packet ring buffer (sl_samples, records of
 * struct sl_sample in bpf/sluice_abi.h).
 *
 * The kernel side batches wakeups (a forced one every SL_SAMPLE_WAKEUP_EVERY samples
 * per CPU), so a trickle of samples may not wake us: the consumer waits at most poll_ms
 * and then drains whatever is there. Each drain hands at most batch_max records to
 * on_sample between one batch_begin and batch_end (the handler's lock, so a policy swap
 * waits for one batch at most), then tick runs when tick_ms has passed. Everything is
 * called on the consumer's thread.
 *
 * samples__start() runs that loop on a thread of its own until samples__stop(); tests
 * and benchmarks drive it on their own thread with samples__new() and samples__poll().
 */
#ifndef SLUICE_AGENT_SAMPLES_H
#define SLUICE_AGENT_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

struct sl_sample;

struct samples_ops {
	/* One record of len bytes (at least the sl_sample header, cap_len checked). */
	void (*on_sample)(void *ctx, const struct sl_sample *s, size_t len);
	void (*batch_begin)(void *ctx); /* may be NULL */
	void (*batch_end)(void *ctx);   /* may be NULL */
	void (*tick)(void *ctx, uint64_t now_ms); /* CLOCK_MONOTONIC ms; may be NULL */
	void *ctx;
};

struct samples_opts {
	int ring_fd;         /* the BPF_MAP_TYPE_RINGBUF map */
	int poll_ms;         /* longest wait for a wakeup; 0: 100 */
	int tick_ms;         /* 0: 1000 */
	unsigned batch_max;  /* records per batch; 0: 4096 */
	struct samples_ops ops;
};

struct samples_stats {
	uint64_t records;    /* handed to on_sample */
	uint64_t bytes;      /* captured packet bytes in them */
	uint64_t malformed;  /* records too short for their header or cap_len: skipped */
	uint64_t batches;
};

struct samples;

/* NULL + errno (EINVAL: bad fd or ops, or libbpf's errno). */
struct samples *samples__new(const struct samples_opts *opts);

/* Waits up to timeout_ms for records, drains the ring (in batches), runs tick when due.
 * Returns the records handled, or -errno. Not thread-safe: one caller at a time. */
int samples__poll(struct samples *s, int timeout_ms);

/* Counters so far; safe from any thread. */
void samples__stats(const struct samples *s, struct samples_stats *out);

/* Accepts NULL. Not while samples__poll runs or a thread is started. */
void samples__free(struct samples *s);

/* samples__new + a thread that polls until samples__stop. NULL + errno. */
struct samples *samples__start(const struct samples_opts *opts);

/* Stops the thread (within poll_ms), joins it and frees. Accepts NULL. */
void samples__stop(struct samples *s);

#endif
