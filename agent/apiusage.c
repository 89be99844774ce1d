// SPDX-License-Identifier: Apache-2.0
/*
 * apiusage.c — see apiusage.h: an open-addressing table keyed by the whole key, cleared
 * at every report; the report builds its message on the stack and in one scratch array.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiusage.h"

struct entry {
	bool used;
	struct apiusage_key k;
	uint64_t requests, samples;
	char host[APIUSAGE_HOST_MAX];
	bool deprecated, plaintext;
};

struct apiusage {
	struct entry *v;
	size_t cap, max, n;
	size_t *order; /* indices of used entries, in insertion order */
	struct entry other;
};

static uint64_t key_hash(const struct apiusage_key *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[3] = { k->api, k->method, k->path };

	for (int p = 0; p < 3; p++) {
		for (const char *c = parts[p]; *c; c++)
			h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL;
	}
	h ^= k->consumer.family;
	for (int i = 0; i < 16; i++)
		h = (h ^ k->consumer.addr[i]) * 0x100000001b3ULL;
	return h ^ (h >> 31);
}

static bool key_eq(const struct apiusage_key *a, const struct apiusage_key *b)
{
	return a->consumer.family == b->consumer.family && memcmp(a->consumer.addr, b->consumer.addr, 16) == 0 &&
	       strcmp(a->api, b->api) == 0 && strcmp(a->method, b->method) == 0 && strcmp(a->path, b->path) == 0;
}

struct apiusage *apiusage__new(size_t max)
{
	struct apiusage *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->max = max ? max : 4096;
	u->cap = 16;
	while (u->cap < 2 * u->max)
		u->cap <<= 1;
	u->v = calloc(u->cap, sizeof(*u->v));
	u->order = calloc(u->max, sizeof(*u->order));
	if (!u->v || !u->order) {
		apiusage__free(u);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(u->other.k.api, sizeof(u->other.k.api), "(other)");
	return u;
}

void apiusage__free(struct apiusage *u)
{
	if (!u)
		return;
	free(u->v);
	free(u->order);
	free(u);
}

void apiusage__add(struct apiusage *u, const struct apiusage_key *k, uint64_t requests, const char *host,
		   bool deprecated, bool plaintext)
{
	size_t i = (size_t)key_hash(k) & (u->cap - 1);
	struct entry *e;

	for (;; i = (i + 1) & (u->cap - 1)) {
		e = &u->v[i];
		if (!e->used) {
			if (u->n == u->max) {
				e = &u->other; /* full: count it, without its key */
				break;
			}
			e->used = true;
			e->k = *k;
			u->order[u->n++] = i;
			break;
		}
		if (key_eq(&e->k, k))
			break;
	}
	e->requests += requests;
	e->samples++;
	e->deprecated |= deprecated;
	e->plaintext |= plaintext;
	if (host && host[0] && !e->host[0])
		snprintf(e->host, sizeof(e->host), "%s", host);
}

size_t apiusage__count(const struct apiusage *u)
{
	return u->n;
}

static void fill(Sluice__V1__ApiUsageEntry *m, struct entry *e, char *consumer, size_t len)
{
	sluice__v1__api_usage_entry__init(m);
	m->api = e->k.api;
	m->method = e->k.method;
	m->path_prefix = e->k.path;
	if (e->k.consumer.family)
		alerts__addr_str(&e->k.consumer, consumer, len);
	else
		consumer[0] = '\0';
	m->consumer = consumer;
	m->requests = e->requests;
	m->samples = e->samples;
	m->host = e->host;
	m->deprecated = e->deprecated;
	m->plaintext = e->plaintext;
}

void apiusage__report(struct apiusage *u, int64_t start_ms, int64_t end_ms, uint64_t samples, uint64_t lost,
		      void (*fn)(void *ctx, const Sluice__V1__AgentMessage *m), void *ctx)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__ApiUsage au = SLUICE__V1__API_USAGE__INIT;
	size_t n = u->n + (u->other.samples ? 1 : 0);
	Sluice__V1__ApiUsageEntry *entries = NULL, **ptrs = NULL;
	char (*consumers)[48] = NULL;

	if (n == 0)
		goto reset;
	entries = calloc(n, sizeof(*entries));
	ptrs = calloc(n, sizeof(*ptrs));
	consumers = calloc(n, sizeof(*consumers));
	if (!entries || !ptrs || !consumers)
		goto reset; /* out of memory: this interval is lost, the next one starts clean */
	for (size_t i = 0; i < u->n; i++) {
		fill(&entries[i], &u->v[u->order[i]], consumers[i], sizeof(consumers[i]));
		ptrs[i] = &entries[i];
	}
	if (u->other.samples) {
		fill(&entries[u->n], &u->other, consumers[u->n], sizeof(consumers[u->n]));
		ptrs[u->n] = &entries[u->n];
	}
	au.start_unix_ms = start_ms;
	au.end_unix_ms = end_ms;
	au.samples = samples;
	au.lost = lost;
	au.n_entries = n;
	au.entries = ptrs;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_API_USAGE;
	m.api_usage = &au;
	fn(ctx, &m);
reset:
	free(entries);
	free(ptrs);
	free(consumers);
	for (size_t i = 0; i < u->n; i++)
		u->v[u->order[i]].used = false;
	memset(&u->other.requests, 0, sizeof(u->other) - offsetof(struct entry, requests));
	u->n = 0;
}

/* A segment that names one object rather than a collection: all digits, a long hex
 * string or a UUID. */
static bool is_id(const char *s, size_t n)
{
	size_t digits = 0, hex = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		digits += c >= '0' && c <= '9';
		hex += (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
	}
	return n > 0 && (digits == n || (hex == n && n >= 16));
}

void apiusage__path_prefix(const char *path, unsigned depth, char *out, size_t len)
{
	size_t k = 0;
	unsigned seg = 0;
	const char *p = path;

	if (len == 0)
		return;
	out[0] = '\0';
	if (!path || path[0] != '/') {
		snprintf(out, len, "%s", path ? path : "");
		return;
	}
	while (*p == '/' && seg < depth) {
		const char *s = p + 1, *e = s;
		size_t n;

		while (*e && *e != '/' && *e != '?' && *e != '#')
			e++;
		n = (size_t)(e - s);
		if (n == 0)
			break;
		if (is_id(s, n)) {
			s = "{id}";
			n = 4;
		}
		if (k + 1 + n >= len)
			break;
		out[k++] = '/';
		memcpy(out + k, s, n);
		k += n;
		seg++;
		p = e;
	}
	if (k == 0 && len > 1)
		out[k++] = '/';
	out[k] = '\0';
}

bool apiusage__under(const char *path, char *const *prefixes, size_t n, const char **which)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(prefixes[i]);

		if (l > 0 && strncmp(path, prefixes[i], l) == 0) {
			if (which)
				*which = prefixes[i];
			return true;
		}
	}
	return false;
}
