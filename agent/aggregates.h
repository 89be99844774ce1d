/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aggregates.h — reads the kernel's per-source aggregates (bpf/lib/aggregates.h) once per
 * interval: the agent moves the datapath to the other half of sl_agg_src, reads every set
 * of the half it left with batch operations, merges each source over its set's slots and
 * the CPUs, and clears the sets it read; sl_agg_total is read and turned into the change
 * since the previous read. The port sketch helpers are pure, so the detectors and their
 * tests use them without BPF.
 */
#ifndef SLUICE_AGENT_AGGREGATES_H
#define SLUICE_AGENT_AGGREGATES_H

#include <stddef.h>
#include <stdint.h>

#include "sluice_abi.h"

/* One source's traffic over an interval, CPUs summed. */
struct agg_source {
	uint8_t family;  /* 4 or 6 */
	uint8_t addr[16];
	uint64_t packets, bytes, syns, synacks, rsts;
	uint64_t ports[SL_AGG_PORT_WORDS];
};

struct agg_reader;

/* A reader of the maps sl_agg_src, sl_agg_total and sl_agg_ctl (fds are borrowed).
 * NULL + errno. One reader per datapath: reading moves the datapath's half. */
struct agg_reader *agg_reader__new(int per_source_fd, int total_fd, int ctl_fd);
void agg_reader__free(struct agg_reader *r);

/*
 * Drains the per-source aggregates counted since the previous call into *out (an array
 * owned by the reader, valid until the next call) and sets *total to the traffic since the previous call (the first call gives the
 * totals since the datapath started). 0 or -errno; on a partial read the sources read so
 * far are returned.
 */
int agg_reader__collect(struct agg_reader *r, const struct agg_source **out, size_t *n, struct agg_source *total);

/* Estimated distinct ports in a sketch (linear counting); the saturation value when every bit is set. */
double agg__distinct_ports(const uint64_t ports[SL_AGG_PORT_WORDS]);

/* dst |= src, word by word. */
void agg__merge_ports(uint64_t dst[SL_AGG_PORT_WORDS], const uint64_t src[SL_AGG_PORT_WORDS]);

/* Adds port to a sketch the way the datapath does (tests and benchmarks). */
void agg__add_port(uint64_t ports[SL_AGG_PORT_WORDS], uint16_t port);

#endif
