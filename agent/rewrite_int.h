/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rewrite_int.h — what the parts of the rewrite module share (rewrite.c: load, adopt,
 * chain, pins; rewrite_gen.c: compiling and switching route generations, backend counter
 * slots; rewrite_status.c: counters for the status). Not for other modules.
 */
#ifndef SLUICE_AGENT_REWRITE_INT_H
#define SLUICE_AGENT_REWRITE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "rewrite.h"
#include "sluice_abi.h"

#define RW_TCP 6
#define RW_UDP 17

/* Maps the agent touches, by role. Pinned as rw_map_<name>. */
enum rw_map {
	R_CTL, R_GEN, R_ROUTES, R_FILTER, R_FRONTENDS, R_MAGLEV, R_CT, R_RNAT, R_CACHE, R_EPOCH,
	R_COUNTERS, R_BACKENDS, R_STATS, R_META, R_CSUM,
	R_COUNT
};

#define RW_ROW_BYTES rw_elem_size(sizeof(struct sl_maglev_row))

/* One slot's Maglev map, kept mapped and reused while it is big enough. */
struct rw_maglev {
	int fd;
	uint8_t *mem;
	size_t len;
	uint32_t cap; /* routes it holds */
};

struct rw_pending_backend {
	uint8_t addr[16];
	uint16_t port; /* host order */
	uint32_t weight;
	const char *tag;
	uint32_t slot; /* counter slot, assigned at commit */
};

struct rw_pending_route {
	const char *name;
	uint8_t vip[16];
	uint16_t vport;
	uint8_t family, proto;
	uint32_t n_backends;
	struct rw_pending_backend *backends;
};

/* A compiled route generation, waiting for rw__commit. Strings point into the policy
 * copy it holds. */
struct rw_pending {
	Sluice__V1__Policy *policy;
	uint32_t n_routes;
	struct rw_pending_route *routes;
	uint8_t *maglev; /* [n_routes][SL_MAGLEV_SIZE] */
};

struct rw {
	char pin_dir[PATH_MAX]; /* empty: nothing pinned */
	struct rewrite *skel;   /* set when this agent loaded the program */
	int map_fd[R_COUNT];
	int prog_fd;
	int chain_fd;
	bool fib;
	bool reload; /* rw_opts.reload */
	int ncpus;
	uint8_t *routes_mem; /* sl_rw_routes, both slots */
	size_t routes_len;
	uint8_t *filter_mem; /* sl_rw_filter, both slots */
	size_t filter_len;
	struct sl_rw_backend_info *info; /* sl_rw_backends */
	size_t info_len;
	struct rw_maglev mg[SL_GEN_SLOTS];
	struct rw_pending *pending;
	struct rw_pending *live; /* what the last commit switched to; NULL after open (adopted or fresh) */
	/* live routes in policy order (names), for the status */
	char (*live_names)[SL_NAME_LEN];
	uint32_t n_live;
	/* status scratch, owned here (see rw__fill_status) */
	Sluice__V1__RouteCounters *st_routes;
	Sluice__V1__RouteCounters **st_route_ptrs;
	Sluice__V1__Frontend *st_fronts;
	char (*st_names)[SL_NAME_LEN];
	Sluice__V1__BackendCounters *st_backends;
	Sluice__V1__BackendCounters **st_backend_ptrs;
	Sluice__V1__Status__RewriteReasonsEntry st_reasons[SL_RW_STAT_MAX];
	Sluice__V1__Status__RewriteReasonsEntry *st_reason_ptrs[SL_RW_STAT_MAX];
};

static inline size_t rw_page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) & ~(page - 1);
}

static inline size_t rw_elem_size(size_t value_size)
{
	return (value_size + 7) & ~(size_t)7; /* array elements are 8-byte aligned */
}

static inline uint64_t rw_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* rewrite.c */
void *rw_map_mem(int fd, size_t len);
int rw_maglev_map(struct rw_maglev *m, int fd, uint32_t cap);
void rw_maglev_release(struct rw_maglev *m);

/* rewrite_gen.c */
void rw_pending_free(struct rw_pending *pg);
bool rw_info_is(const struct sl_rw_backend_info *bi, const char *route, const uint8_t addr[16], uint16_t port);
void rw_expire_draining(struct rw *rw, uint64_t now, const struct sl_rw_counter *snap);

/* rewrite_status.c */
void rw_status_free(struct rw *rw);
struct sl_rw_counter *rw_counters_snapshot(struct rw *rw);

#endif
