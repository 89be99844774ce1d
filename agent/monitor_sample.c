// SPDX-License-Identifier: Apache-2.0
/*
 * monitor_sample.c — the monitor's per-sample path (see monitor.h) and the view of the
 * policy it runs on. For each sampled packet: the rule that sampled it (its counter
 * slot) gives the sampling rate; the destination gives the API (a route's frontend, else
 * "ADDR:PORT"); the payload is parsed as a TLS ClientHello, an HTTP request or a DNS
 * query. Requests are counted per (API, method, path prefix, consumer); requests that
 * break the API's compliance settings (tls_only, deprecated_paths, from the route and
 * the sampling rule) go to the detectors. Packets without a payload, and TLS records
 * after the hello, are not requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "l7.h"
#include "monitor_int.h"
#include "sluice_abi.h"

#define TLS_CHANGE_CIPHER 20
#define TLS_APPLICATION_DATA 23

/* ---- the view ------------------------------------------------------------------------- */

static int route_cmp(const void *a, const void *b)
{
	const struct mon_route *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return memcmp(x->vip, y->vip, 16);
}

void monitor_view__free(struct mon_view *v)
{
	if (!v)
		return;
	policy__free(v->p);
	free(v->slot_rule);
	free(v->routes);
	free(v);
}

/* Rule names sorted, to find a slot's rule by name. */
struct named {
	const char *name;
	int32_t idx;
};

static int named_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

struct mon_view *monitor_view__new(const Sluice__V1__Policy *p, const char *(*slot_name)(void *ctx, uint32_t slot),
				   void *ctx)
{
	struct mon_view *v = calloc(1, sizeof(*v));
	struct named *names = NULL;

	if (!v)
		return NULL;
	v->p = p ? policy__dup(p) : policy__new();
	v->slot_rule = malloc(SL_MAX_RULES * sizeof(*v->slot_rule));
	v->routes = calloc(v->p && v->p->n_routes ? v->p->n_routes : 1, sizeof(*v->routes));
	names = calloc(v->p && v->p->n_rules ? v->p->n_rules : 1, sizeof(*names));
	if (!v->p || !v->slot_rule || !v->routes || !names)
		goto fail;
	for (size_t i = 0; i < v->p->n_rules; i++) {
		names[i].name = v->p->rules[i]->name;
		names[i].idx = (int32_t)i;
	}
	qsort(names, v->p->n_rules, sizeof(*names), named_cmp);
	for (uint32_t s = 0; s < SL_MAX_RULES; s++) {
		const char *n = slot_name ? slot_name(ctx, s) : NULL;
		struct named key = { n, 0 }, *hit;

		v->slot_rule[s] = -1;
		if (n && (hit = bsearch(&key, names, v->p->n_rules, sizeof(*names), named_cmp)))
			v->slot_rule[s] = hit->idx;
	}
	for (size_t i = 0; i < v->p->n_routes; i++) {
		const Sluice__V1__Route *r = v->p->routes[i];
		struct mon_route *mr = &v->routes[v->n_routes];

		if (!r->frontend || (r->frontend->vip.len != 4 && r->frontend->vip.len != 16))
			continue;
		mr->family = r->frontend->vip.len == 4 ? 4 : 6;
		mr->proto = (uint8_t)r->frontend->proto;
		mr->port = (uint16_t)r->frontend->port;
		memcpy(mr->vip, r->frontend->vip.data, r->frontend->vip.len);
		mr->r = r;
		v->n_routes++;
	}
	qsort(v->routes, v->n_routes, sizeof(*v->routes), route_cmp);
	detect__config(v->p->detectors, &v->cfg);
	free(names);
	return v;
fail:
	free(names);
	monitor_view__free(v);
	errno = ENOMEM;
	return NULL;
}

const Sluice__V1__Route *monitor_view__route(const struct mon_view *v, uint8_t family, const uint8_t *addr,
					     uint8_t proto, uint16_t port)
{
	struct mon_route key = { .family = family, .proto = proto, .port = port }, *hit;

	if (v->n_routes == 0)
		return NULL;
	memcpy(key.vip, addr, family == 6 ? 16 : 4);
	hit = bsearch(&key, v->routes, v->n_routes, sizeof(*v->routes), route_cmp);
	return hit ? hit->r : NULL;
}

/* ---- one sample ------------------------------------------------------------------------ */

/* Copies src into dst[size] cut to fit, NUL-terminated; returns the length. (The sample
 * path runs a million times a second: no printf here.) */
static size_t scopy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* Appends the decimal v at dst; returns the characters written. */
static size_t put_u32(char *dst, uint32_t v)
{
	char tmp[10];
	size_t n = 0, k = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		dst[k++] = tmp[--n];
	return k;
}

/* "10.0.0.1:80" or "[2001:db8::1]:443" into buf (APIUSAGE_API_MAX). */
static void dest_name(const struct l7_frame *f, char *buf)
{
	size_t k = 0;

	if (f->family == 4) {
		for (int i = 0; i < 4; i++) {
			k += put_u32(buf + k, f->dst[i]);
			buf[k++] = i < 3 ? '.' : ':';
		}
	} else {
		char addr[48];

		l7_frame__addr_str(f->family, f->dst, addr, sizeof(addr));
		buf[k++] = '[';
		k += scopy(buf + k, sizeof(addr), addr); /* 1 + 47 + 2 + 5 + 1 fit in 64 */
		buf[k++] = ']';
		buf[k++] = ':';
	}
	k += put_u32(buf + k, f->dport);
	buf[k] = '\0';
}

/* What an API asks of its requests: the route's settings and the sampling rule's. */
struct api {
	char name[APIUSAGE_API_MAX];
	bool tls_only;
	char *const *dep[2];
	size_t n_dep[2];
};

static void api_of(const struct l7_frame *f, const Sluice__V1__Rule *rule, const Sluice__V1__Route *route,
		   struct api *a)
{
	memset(a, 0, sizeof(*a));
	if (route) {
		scopy(a->name, sizeof(a->name), route->name);
		a->tls_only = route->tls_only;
		a->dep[0] = route->deprecated_paths;
		a->n_dep[0] = route->n_deprecated_paths;
	} else {
		dest_name(f, a->name);
	}
	if (rule) {
		a->tls_only |= rule->tls_only;
		a->dep[1] = rule->deprecated_paths;
		a->n_dep[1] = rule->n_deprecated_paths;
	}
}

static bool deprecated(const struct api *a, const char *path, const char **which)
{
	return apiusage__under(path, a->dep[0], a->n_dep[0], which) || apiusage__under(path, a->dep[1], a->n_dep[1], which);
}

/* A TLS record other than a handshake: the encrypted rest of a TLS connection. */
static bool tls_record(const uint8_t *p, size_t n)
{
	return n >= 3 && p[0] >= TLS_CHANGE_CIPHER && p[0] <= TLS_APPLICATION_DATA + 1 && p[1] == 3 && p[2] <= 4;
}

static void count(struct monitor *m, const struct api *a, const struct l7_frame *f, const char *method,
		  const char *path, const char *host, uint64_t scale, bool dep, bool plain)
{
	struct apiusage_key k;

	scopy(k.api, sizeof(k.api), a->name);
	scopy(k.method, sizeof(k.method), method);
	scopy(k.path, sizeof(k.path), path);
	memset(&k.consumer, 0, sizeof(k.consumer));
	k.consumer.family = f->family;
	memcpy(k.consumer.addr, f->src, 16);
	apiusage__add(m->usage, &k, scale, host, dep, plain);
}

static void http_request(struct monitor *m, const struct api *a, const struct l7_frame *f, uint64_t scale)
{
	struct l7_http h;
	struct alert_addr who = { .family = f->family };
	char prefix[APIUSAGE_PATH_MAX];
	const char *which = NULL;
	bool dep;

	if (l7_http__parse(f->payload, f->payload_len, &h) != 0) {
		if (a->tls_only) { /* bytes that are neither TLS nor HTTP, to a TLS-only API */
			memcpy(who.addr, f->src, 16);
			detect__api_violation(m->detect, ALERT_PLAINTEXT, a->name, "", &who, scale);
			count(m, a, f, "", "", NULL, scale, false, true);
		}
		return;
	}
	memcpy(who.addr, f->src, 16);
	apiusage__path_prefix(h.path, APIUSAGE_DEPTH, prefix, sizeof(prefix));
	dep = deprecated(a, h.path, &which);
	if (dep)
		detect__api_violation(m->detect, ALERT_DEPRECATED_API, a->name, which, &who, scale);
	if (a->tls_only)
		detect__api_violation(m->detect, ALERT_PLAINTEXT, a->name, "", &who, scale);
	count(m, a, f, h.method, prefix, h.host, scale, dep, a->tls_only);
}

void monitor__handle_sample(struct monitor *m, const struct sl_sample *s, size_t len)
{
	const struct mon_view *v = m->view;
	const Sluice__V1__Rule *rule = NULL;
	const Sluice__V1__Route *route;
	struct l7_frame f;
	struct api a;
	uint64_t scale = 1;

	(void)len;
	m->samples_in_interval++;
	if (!v) {
		m->no_view++;
		return;
	}
	if (s->counter < SL_MAX_RULES && v->slot_rule[s->counter] >= 0) {
		rule = v->p->rules[v->slot_rule[s->counter]];
		if (rule->sample && rule->sample->one_in)
			scale = rule->sample->one_in;
	}
	if (l7_frame__decode(s->data, s->cap_len, &f) != 0 || !f.l4_seen || !f.payload)
		return; /* not IP, or no payload: handshakes and ACKs are not requests */
	route = monitor_view__route(v, f.family, f.dst, f.proto, f.dport);
	api_of(&f, rule, route, &a);
	if (f.proto == 6 && l7_tls__is_handshake(f.payload, f.payload_len)) {
		struct l7_tls t;

		if (l7_tls__parse(f.payload, f.payload_len, &t) == 0)
			count(m, &a, &f, "TLS", "", t.sni, scale, false, false);
		return;
	}
	if (f.proto == 6 && tls_record(f.payload, f.payload_len))
		return;
	if (f.proto == 17 && f.dport == 53) {
		struct l7_dns d;

		if (l7_dns__parse(f.payload, f.payload_len, false, &d) == 0 && !d.response)
			count(m, &a, &f, "DNS", d.qname, NULL, scale, false, false);
		return;
	}
	if (f.proto == 6)
		http_request(m, &a, &f, scale);
}
