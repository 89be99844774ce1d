/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_int.h — private to detect.c and detect_tables.c: the two hash tables the
 * detectors keep, sources being watched for scans and sources known as talkers.
 */
#ifndef SLUICE_AGENT_DETECT_INT_H
#define SLUICE_AGENT_DETECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "sluice_abi.h"

/* A source that tried ports: its port sketches over two tumbling windows each, the
 * previous ([0]) and the current ([1]), so their union covers one to two windows. */
struct src_entry {
	struct alert_addr key;
	bool used;
	int64_t last_ms;
	int64_t fast_start, slow_start; /* start of the current windows */
	int64_t fast_until;             /* reported as a fast scan: no slow_scan until then */
	bool slow_held;                 /* a slow scan's count reached, held back one interval */
	uint64_t fast[2][SL_AGG_PORT_WORDS];
	uint64_t slow[2][SL_AGG_PORT_WORDS];
};

struct src_table {
	struct src_entry *v;
	size_t cap; /* a power of 2 */
	size_t used;
	size_t limit; /* entries allowed (the rest are not tracked) */
};

/* Open addressing with linear probing; no deletion except by detect_src__sweep. */
int detect_src__init(struct src_table *t, size_t limit);
void detect_src__fini(struct src_table *t);

/* The entry of k; a new one when add and there is room; else NULL. */
struct src_entry *detect_src__get(struct src_table *t, const struct alert_addr *k, bool add);

/* Drops entries last seen before cutoff_ms (the table is rebuilt). */
void detect_src__sweep(struct src_table *t, int64_t cutoff_ms);

struct talker_set {
	struct alert_addr *v;
	uint8_t *used;
	size_t cap; /* a power of 2 */
	size_t n, limit;
	bool full_logged;
};

int detect_talkers__init(struct talker_set *s, size_t limit);
void detect_talkers__fini(struct talker_set *s);
bool detect_talkers__has(const struct talker_set *s, const struct alert_addr *k);

/* 0, or -ENOSPC when the set holds its limit (logged once). */
int detect_talkers__add(struct talker_set *s, const struct alert_addr *k);

#endif
