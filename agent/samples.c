// SPDX-License-Identifier: Apache-2.0
/*
 * samples.c — see samples.h. The wait is an epoll on libbpf's ring-buffer fd, done
 * outside batch_begin/batch_end so the handler's lock is never held while idle; the
 * drain is ring_buffer__consume(), cut into batches by having the callback stop it
 * (a negative return) after batch_max records.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "common/log.h"
#include "samples.h"
#include "sluice_abi.h"

#define BATCH_FULL (-EAGAIN) /* callback's "stop here, more may follow" */
#define MAX_BATCHES_PER_POLL 64

struct samples {
	struct samples_opts o;
	struct ring_buffer *rb;
	int epfd;
	unsigned in_batch;
	uint64_t next_tick;
	_Atomic uint64_t records, bytes, malformed, batches;
	pthread_t thread;
	bool started;
	atomic_bool stop;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct samples *s = ctx;
	const struct sl_sample *rec = data;

	if (len < offsetof(struct sl_sample, data) || rec->cap_len > SL_MAX_SNAPLEN ||
	    offsetof(struct sl_sample, data) + rec->cap_len > len) {
		atomic_fetch_add_explicit(&s->malformed, 1, memory_order_relaxed);
	} else {
		s->o.ops.on_sample(s->o.ops.ctx, rec, len);
		atomic_fetch_add_explicit(&s->records, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->bytes, rec->cap_len, memory_order_relaxed);
	}
	return ++s->in_batch >= s->o.batch_max ? BATCH_FULL : 0;
}

struct samples *samples__new(const struct samples_opts *opts)
{
	struct samples *s;
	int err;

	if (!opts || opts->ring_fd < 0 || !opts->ops.on_sample) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->o = *opts;
	if (s->o.poll_ms <= 0)
		s->o.poll_ms = 100;
	if (s->o.tick_ms <= 0)
		s->o.tick_ms = 1000;
	if (s->o.batch_max == 0)
		s->o.batch_max = 4096;
	s->rb = ring_buffer__new(opts->ring_fd, on_record, s, NULL);
	if (!s->rb) {
		err = errno;
		free(s);
		errno = err;
		return NULL;
	}
	s->epfd = ring_buffer__epoll_fd(s->rb);
	s->next_tick = now_ms() + (uint64_t)s->o.tick_ms;
	return s;
}

int samples__poll(struct samples *s, int timeout_ms)
{
	struct epoll_event ev;
	int total = 0, rc, n;
	uint64_t now;

	/* Wait without holding the handler's lock. A timeout is not an error: batched
	 * wakeups mean records may be waiting that nobody signalled. */
	n = epoll_wait(s->epfd, &ev, 1, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int b = 0; b < MAX_BATCHES_PER_POLL; b++) {
		s->in_batch = 0;
		if (s->o.ops.batch_begin)
			s->o.ops.batch_begin(s->o.ops.ctx);
		rc = ring_buffer__consume(s->rb);
		if (s->o.ops.batch_end)
			s->o.ops.batch_end(s->o.ops.ctx);
		total += (int)s->in_batch;
		if (s->in_batch)
			atomic_fetch_add_explicit(&s->batches, 1, memory_order_relaxed);
		if (rc != BATCH_FULL) {
			if (rc < 0)
				return rc;
			break;
		}
		/* A full batch: let the tick run on time even under a flood. */
		now = now_ms();
		if (s->o.ops.tick && now >= s->next_tick)
			break;
	}
	now = now_ms();
	if (now >= s->next_tick) {
		s->next_tick = now + (uint64_t)s->o.tick_ms;
		if (s->o.ops.tick)
			s->o.ops.tick(s->o.ops.ctx, now);
	}
	return total;
}

void samples__stats(const struct samples *s, struct samples_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->records = atomic_load_explicit(&s->records, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&s->bytes, memory_order_relaxed);
	out->malformed = atomic_load_explicit(&s->malformed, memory_order_relaxed);
	out->batches = atomic_load_explicit(&s->batches, memory_order_relaxed);
}

void samples__free(struct samples *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	free(s);
}

static void *loop(void *arg)
{
	struct samples *s = arg;
	int rc;

	while (!atomic_load(&s->stop)) {
		rc = samples__poll(s, s->o.poll_ms);
		if (rc < 0) {
			pr_err("sampled packets: reading the ring buffer failed (%s); no more samples are inspected",
			       strerror(-rc));
			break;
		}
	}
	return NULL;
}

struct samples *samples__start(const struct samples_opts *opts)
{
	struct samples *s = samples__new(opts);
	int err;

	if (!s)
		return NULL;
	err = pthread_create(&s->thread, NULL, loop, s);
	if (err) {
		samples__free(s);
		errno = err;
		return NULL;
	}
	s->started = true;
	return s;
}

void samples__stop(struct samples *s)
{
	if (!s)
		return;
	if (s->started) {
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
	}
	samples__free(s);
}
