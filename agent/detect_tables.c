// SPDX-License-Identifier: Apache-2.0
/*
 * detect_tables.c — the detectors' hash tables (detect_int.h): open addressing over
 * addresses, at most half full, so probes stay short and a full table is refused
 * rather than slow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "detect_int.h"

static size_t pow2_at_least(size_t n)
{
	size_t c = 16;

	while (c < n)
		c <<= 1;
	return c;
}

static uint64_t addr_hash(const struct alert_addr *a)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ a->family;

	for (int i = 0; i < 16; i++)
		h = (h ^ a->addr[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static bool same(const struct alert_addr *a, const struct alert_addr *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

int detect_src__init(struct src_table *t, size_t limit)
{
	memset(t, 0, sizeof(*t));
	t->limit = limit;
	t->cap = pow2_at_least(2 * limit);
	t->v = calloc(t->cap, sizeof(*t->v));
	return t->v ? 0 : -ENOMEM;
}

void detect_src__fini(struct src_table *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

struct src_entry *detect_src__get(struct src_table *t, const struct alert_addr *k, bool add)
{
	size_t i = (size_t)addr_hash(k) & (t->cap - 1);

	for (;; i = (i + 1) & (t->cap - 1)) {
		struct src_entry *e = &t->v[i];

		if (!e->used) {
			if (!add || t->used >= t->limit)
				return NULL;
			memset(e, 0, sizeof(*e));
			e->key = *k;
			e->used = true;
			t->used++;
			return e;
		}
		if (same(&e->key, k))
			return e;
	}
}

void detect_src__sweep(struct src_table *t, int64_t cutoff_ms)
{
	struct src_entry *old = t->v;
	size_t cap = t->cap;
	struct src_table fresh;

	if (detect_src__init(&fresh, t->limit))
		return; /* keep the old table; the next sweep tries again */
	for (size_t i = 0; i < cap; i++) {
		if (old[i].used && old[i].last_ms >= cutoff_ms) {
			struct src_entry *e = detect_src__get(&fresh, &old[i].key, true);

			if (e)
				*e = old[i];
		}
	}
	free(old);
	*t = fresh;
}

int detect_talkers__init(struct talker_set *s, size_t limit)
{
	memset(s, 0, sizeof(*s));
	s->limit = limit;
	s->cap = pow2_at_least(2 * limit);
	s->v = calloc(s->cap, sizeof(*s->v));
	s->used = calloc(s->cap, 1);
	if (!s->v || !s->used) {
		detect_talkers__fini(s);
		return -ENOMEM;
	}
	return 0;
}

void detect_talkers__fini(struct talker_set *s)
{
	free(s->v);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

bool detect_talkers__has(const struct talker_set *s, const struct alert_addr *k)
{
	size_t i = (size_t)addr_hash(k) & (s->cap - 1);

	for (; s->used[i]; i = (i + 1) & (s->cap - 1)) {
		if (same(&s->v[i], k))
			return true;
	}
	return false;
}

int detect_talkers__add(struct talker_set *s, const struct alert_addr *k)
{
	size_t i = (size_t)addr_hash(k) & (s->cap - 1);

	for (; s->used[i]; i = (i + 1) & (s->cap - 1)) {
		if (same(&s->v[i], k))
			return 0;
	}
	if (s->n >= s->limit) {
		if (!s->full_logged)
			pr_warn("new-talker detector: %zu known sources is its limit; sources beyond it are not learned",
				s->limit);
		s->full_logged = true;
		return -ENOSPC;
	}
	s->v[i] = *k;
	s->used[i] = 1;
	s->n++;
	return 0;
}
