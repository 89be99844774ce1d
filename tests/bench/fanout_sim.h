/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout_sim.h — the load side of bench_fanout: simulated agents, thousands per process,
 * each a real AgentService.Connect stream on its own TCP connection that says Hello and
 * acknowledges every PolicyUpdate (reading only its revision, hash and nonce from the
 * wire, so the load generator spends its CPU on transport); the bare fan-out server that
 * is the benchmark's baseline; and the child process holding the agents to freeze.
 */
#ifndef SLUICE_BENCH_FANOUT_SIM_H
#define SLUICE_BENCH_FANOUT_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"

#define FANOUT_CONNECT_METHOD "/sluice.v1.AgentService/Connect"
#define FANOUT_FLOOR_PUSH "/sluice.bench.Floor/Push"

/* One simulated agent. */
struct fanout_agent {
	struct rpc_channel *ch;
	struct rpc_client_stream *cs;
	char node[32];
	_Atomic int64_t acked_ns; /* when it acknowledged the awaited revision; 0: not yet */
};

/* The agents of one process and what they wait for. */
struct fanout_fleet {
	struct fanout_agent *s;
	size_t n;
	const char *target;
	atomic_bool stop;
	atomic_uint_fast64_t want_rev; /* 0: ack anything */
	size_t started;                /* driving threads running */
};

/* The agents one driving thread holds. */
struct fanout_slice {
	struct fanout_fleet *f;
	size_t from, to;
	atomic_bool opened; /* every stream of the slice is open */
	int err;
	/* stream -> agent, open addressing on the pointer; closed streams keep their slot */
	struct rpc_client_stream **keys;
	struct fanout_agent **vals;
	size_t cap, used;
	size_t reopened; /* streams the server ended that were opened again, as an agent would */
};

/* Ack latencies from the apply. */
struct fanout_result {
	double min_ms, p50_ms, p99_ms, max_ms;
	size_t acked;
};

int64_t fanout__now_ns(void);
void fanout__sleep_ms(int ms);

/* Starts nthreads threads (th, sl: room for nthreads) holding f's agents, named
 * PREFIX-NNNNN, connected to target; returns once every stream is open. 0 or -errno. */
int fanout__fleet_start(struct fanout_fleet *f, const char *target, const char *prefix, size_t nthreads, pthread_t *th,
			struct fanout_slice *sl);

/* Stops and joins the threads; their streams and channels are closed. */
void fanout__fleet_stop(struct fanout_fleet *f, pthread_t *th);

/* Streams the server ended that the agents opened again (as real agents do). */
size_t fanout__reopened(const struct fanout_slice *sl, size_t nthreads);

/* Waits until every agent acknowledged the awaited revision (or a few minutes), then the
 * latency distribution from t0 (CLOCK_MONOTONIC ns). */
struct fanout_result fanout__wait_acks(struct fanout_fleet *f, int64_t t0);

/* `bench_fanout --floor ADDR`: the bare fan-out server, until SIGTERM. Exit status. */
int fanout__floor_main(const char *listen);

/* `bench_fanout --frozen-child TARGET --count N`: N agents that wait to be frozen. */
int fanout__frozen_main(const char *target, size_t n);

#endif
