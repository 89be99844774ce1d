/* SPDX-License-Identifier: Apache-2.0 */
/*
 * datapath.h — the agent's hold on its XDP programs and BPF maps.
 *
 * dp__open() mounts bpffs under the pin directory when needed, then either adopts
 * what a previous agent pinned there (same ABI: maps, program and links are reused, so
 * the datapath never runs without policy) or loads the embedded inspection program
 * and attaches it to each interface through a bpf_link pinned under the pin directory.
 *
 * dp__apply() compiles a policy into a complete new generation of maps and switches
 * to it with one map update; on any error the old generation stays live.
 *
 * The routing rewrite (agent/rewrite.h) comes with it: dp__open opens or adopts it and
 * chains it after inspection, dp__apply applies the routes after the rules (checking them
 * before either switches), dp__fill_status adds route counters.
 *
 * With no pin directory and no interfaces, dp__open() only loads the program: tests and
 * benchmarks use that to run it on crafted packets.
 *
 * dp__close() releases the agent's handles but leaves the pinned programs attached:
 * enforcement outlives the agent. dp__destroy_pins() removes everything (tests, uninstall).
 */
#ifndef SLUICE_AGENT_DATAPATH_H
#define SLUICE_AGENT_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/policy.pb-c.h"

enum dp_xdp_mode { DP_XDP_AUTO = 0, DP_XDP_NATIVE, DP_XDP_GENERIC };

struct dp_opts {
	const char *pin_dir;           /* e.g. /sys/fs/bpf/sluice/<node> */
	const char *const *ifaces;     /* interface names */
	size_t n_ifaces;
	enum dp_xdp_mode mode;
	uint32_t rule_capacity;        /* 0: the built-in maximum */
	bool rewrite_fib;              /* routed packets leave by FIB lookup + redirect (rewrite.h) */
	bool reload_programs;          /* load this build's programs even when the pinned ones are the same */
	bool no_verdict_cache;         /* classify every packet (benchmarks; see bpf/lib/vcache.h) */
};

struct dp;

/* NULL + errno on failure, after logging one line that says what is wrong
 * (no BPF, missing interface, incompatible pins). */
struct dp *dp__open(const struct dp_opts *opts);

/* Releases handles; pinned programs stay attached. Accepts NULL. */
void dp__close(struct dp *dp);

/* Compiles p into a new generation and switches to it atomically.
 * 0, or -errno with a reason in err (e.g. "policy has 20000 rules; capacity is 16384").
 * It returns before the slot it retired is safe to write again (an RCU grace period): a
 * thread of its own waits for that, which the next dp__apply or dp__close joins. */
int dp__apply(struct dp *dp, const Sluice__V1__Policy *p, char *err, size_t errlen);

/* True when dp__open adopted pins left by a previous agent instead of loading afresh. */
bool dp__adopted(const struct dp *dp);

uint32_t dp__rule_capacity(const struct dp *dp);

/* Rules in the live generation. */
uint32_t dp__rules_used(const struct dp *dp);

/*
 * Fills a Status message's datapath parts: per-rule counters (continuous across
 * generations for rules whose name is unchanged), interface attach state, rules used
 * and capacity, drop reasons. Allocations are owned by dp and stay valid until the next
 * dp__fill_status or dp__close; the caller must not free them.
 */
int dp__fill_status(struct dp *dp, Sluice__V1__Status *st);

/* Packets and bytes counted for the live rule called name. 0, or -ENOENT. */
int dp__rule_counter(struct dp *dp, const char *name, uint64_t *packets, uint64_t *bytes);

struct sl_counter;

/* Every counter of the live rule called name (summed over CPUs). 0, or -ENOENT. */
int dp__rule_counters(struct dp *dp, const char *name, struct sl_counter *out);

/* The sampled-packet ring buffer (struct sl_sample records), for a consumer. */
int dp__samples_fd(const struct dp *dp);

/* The per-source aggregate maps (sl_agg_src and sl_agg_total, per-CPU arrays, and
 * sl_agg_ctl; see bpf/lib/aggregates.h), for the detectors' reader (aggregates.h). 0. */
int dp__aggregates_fds(const struct dp *dp, int *per_source, int *total, int *ctl);

/* Name of the live rule using a counter slot (sl_sample.counter), or NULL. Not thread-safe
 * against dp__apply. */
const char *dp__slot_name(const struct dp *dp, uint32_t slot);

/* Datapath counters by reason (enum sl_stat in bpf/sluice_abi.h), summed over CPUs. */
int dp__stats(struct dp *dp, uint64_t out[]);

/* The inspection program's fd (tests and benchmarks run it with BPF_PROG_TEST_RUN). */
int dp__prog_fd(const struct dp *dp);

/* The routing rewrite chained after inspection (agent/rewrite.h), for tests and benchmarks. */
struct rw *dp__rewrite(const struct dp *dp);

/* Detaches and removes every pin under pin_dir that sluice made. 0 or -errno. */
int dp__destroy_pins(const char *pin_dir);

#endif
