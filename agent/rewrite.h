/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rewrite.h — the agent's hold on the routing rewrite program (bpf/rewrite.bpf.c).
 *
 * rw__open() loads the embedded rewrite program, or adopts the one a previous agent
 * pinned under the pin directory (same SL_RW_ABI_VERSION: maps, conntrack included, are
 * reused; a different object of that ABI is loaded against them; pins of another ABI are
 * replaced, and established flows start over), and puts it into slot 0 of the inspection
 * program's sl_chain, where inspection tail-calls it for every packet it passes. Swapping
 * the program there is one prog-array update: no packet goes without either program.
 *
 * Routes are applied in two steps around the inspection generation switch (datapath.c):
 * rw__prepare() checks and compiles them (Maglev tables included) and is where a policy is
 * refused; rw__commit() writes the idle generation slot and flips to it with one update.
 * Conntrack is not part of a generation: established flows keep their backend across
 * switches. A backend that leaves a route drains: its flows keep going to it until they
 * end or time out, new flows avoid it, and its counters stay in the status until then.
 *
 * Pins under the pin directory: rw_map_<name> for every map, prog_rewrite.
 */
#ifndef SLUICE_AGENT_REWRITE_H
#define SLUICE_AGENT_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/policy.pb-c.h"
#include "sluice_abi.h"

struct rw_opts {
	const char *pin_dir; /* NULL or "": load only, pin nothing (tests, benchmarks) */
	int chain_fd;        /* the inspection program's sl_chain; < 0: do not chain */
	bool fib;            /* forward translated packets with bpf_fib_lookup + redirect */
	bool reload;         /* load this build's program even when the pinned one is the same */
};

struct rw;

/* NULL + errno, after logging one line that says what is wrong. */
struct rw *rw__open(const struct rw_opts *opts);

/* Releases handles; pinned program and maps stay. Accepts NULL. */
void rw__close(struct rw *rw);

/*
 * Checks and compiles p's routes into a pending generation (replacing any pending one).
 * 0, or -errno with the reason in err: -E2BIG over a capacity (routes, backends per
 * route, backend counter slots), -EINVAL for a route the validator should have refused.
 * Nothing the datapath sees changes.
 */
int rw__prepare(struct rw *rw, const Sluice__V1__Policy *p, char *err, size_t errlen);

/* Makes the pending generation live with one switch. 0 (also when nothing is pending),
 * or -errno with the reason in err; on error the old generation stays live. */
int rw__commit(struct rw *rw, char *err, size_t errlen);

/* rw__prepare then rw__commit. */
int rw__apply(struct rw *rw, const Sluice__V1__Policy *p, char *err, size_t errlen);

/* Routes in the live generation. */
uint32_t rw__routes_used(const struct rw *rw);

/*
 * Fills st->routes (per route, per backend: new flows, packets and bytes each way; live
 * backends in policy order, then draining ones), st->rewrite_reasons, routes_used and
 * route_capacity. Allocations are owned by rw and stay valid until the next
 * rw__fill_status or rw__close; the caller must not free them.
 */
int rw__fill_status(struct rw *rw, Sluice__V1__Status *st);

/* Counters of route's backend at addr (4 or 16 bytes, network order) and port (host
 * order), summed over CPUs. 0, or -ENOENT when that backend has no counter slot. */
int rw__backend_counters(struct rw *rw, const char *route, const uint8_t *addr, size_t addr_len, uint16_t port,
			 struct sl_rw_counter *out, bool *draining);

/* Rewrite counters by enum sl_rw_stat, summed over CPUs. */
int rw__stats(struct rw *rw, uint64_t out[SL_RW_STAT_MAX]);

/* The rewrite program's fd (tests and benchmarks run it with BPF_PROG_TEST_RUN). */
int rw__prog_fd(const struct rw *rw);

/* Puts the program into sl_chain slot 0 (on) or empties the slot (off): benchmarks
 * measure inspection alone with it off. 0 or -errno. */
int rw__set_chained(struct rw *rw, bool on);

/* Forgets every flow: conntrack, reverse entries and flow caches. Tests use it. 0 or -errno. */
int rw__flush_flows(struct rw *rw);

/* Removes every pin under pin_dir that rw__open made. 0 or -errno. */
int rw__destroy_pins(const char *pin_dir);

#endif
