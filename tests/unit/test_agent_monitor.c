// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_monitor.c — the agent's inspection in user space without a kernel: sampled
 * packets (crafted frames in struct sl_sample records) judged against a policy with a
 * sampling rule and a route with compliance settings, turned into API usage scaled by the
 * sampling rate and into deprecated-API and plaintext alerts naming the consumers; path
 * prefixes; the outbox; and the temporary mitigation rules merged into the policy, added,
 * extended, expired and refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apiusage.h"
#include "common/policy.h"
#include "mitigate.h"
#include "monitor.h"
#include "outbox.h"
#include "pkt.h"
#include "sluice_abi.h"

#define T0 1700000000000LL

static const char policy_yaml[] = "rules:\n"
				  "  - name: sample-web\n"
				  "    match: { proto: tcp, dst_ports: [80] }\n"
				  "    action: pass\n"
				  "    sample: { one_in: 10 }\n"
				  "    deprecated_paths: [\"/old/\"]\n"
				  "routes:\n"
				  "  - name: orders-api\n"
				  "    frontend: { vip: 10.10.0.10, proto: tcp, port: 80 }\n"
				  "    backends: [{ addr: 10.20.0.11, port: 8080 }]\n"
				  "    tls_only: true\n"
				  "    deprecated_paths: [\"/v1/\"]\n";

static Sluice__V1__Policy *parse(const char *text)
{
	Sluice__V1__Policy *p = NULL;
	char err[512];

	if (policy_yaml__parse_string("t.yaml", text, strlen(text), 0, &p, err, sizeof(err)))
		fail_msg("policy: %s", err);
	return p;
}

static const char *slot_name(void *ctx, uint32_t slot)
{
	return slot == 5 ? "sample-web" : NULL;
}

/* A sample record of an IPv4/TCP frame from src to dst:dport carrying payload. */
static struct sl_sample make_sample(const char *src, const char *dst, uint16_t dport, const char *payload)
{
	struct pkt_spec ps = { .family = 4, .src = src, .dst = dst, .proto = 6, .sport = 40000, .dport = dport,
			       .tcp_flags = 0x18, .payload = strlen(payload) };
	struct sl_sample s;
	uint8_t buf[512];
	size_t n;

	memset(&s, 0, sizeof(s));
	n = pkt__build(&ps, buf);
	memcpy(buf + n - strlen(payload), payload, strlen(payload));
	if (n > SL_MAX_SNAPLEN)
		n = SL_MAX_SNAPLEN;
	memcpy(s.data, buf, n);
	s.cap_len = (uint32_t)n;
	s.pkt_len = (uint32_t)n;
	s.counter = 5;
	return s;
}

/* Every message the monitor queued, unpacked. */
struct drained {
	Sluice__V1__AgentMessage *m[64];
	size_t n;
};

static void drain(struct monitor *mon, struct drained *d)
{
	struct rpc_buf bufs[64];
	size_t n = outbox__take(monitor__outbox(mon), bufs, 64);

	d->n = 0;
	for (size_t i = 0; i < n; i++) {
		d->m[d->n] = sluice__v1__agent_message__unpack(NULL, bufs[i].len, bufs[i].data);
		assert_non_null(d->m[d->n]);
		d->n++;
		free(bufs[i].data);
	}
}

static void drained_free(struct drained *d)
{
	for (size_t i = 0; i < d->n; i++)
		sluice__v1__agent_message__free_unpacked(d->m[i], NULL);
	d->n = 0;
}

static const Sluice__V1__Alert *alert_of(const struct drained *d, const char *type)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->m[i]->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_ALERT && strcmp(d->m[i]->alert->type, type) == 0)
			return d->m[i]->alert;
	return NULL;
}

static void test_usage_and_compliance(void **state)
{
	struct monitor_opts o = { 0 };
	struct monitor *mon = monitor__new(&o);
	Sluice__V1__Policy *p = parse(policy_yaml);
	struct agg_source total = { 0 };
	const Sluice__V1__Alert *a;
	const Sluice__V1__ApiUsage *u = NULL;
	struct drained d;
	struct sl_sample s;

	assert_non_null(mon);
	assert_int_equal(monitor__set_policy(mon, p, slot_name, NULL), 0);
	/* Two consumers still call /v1 on the route, in plaintext; one calls /v2 over TLS. */
	s = make_sample("10.99.1.1", "10.10.0.10", 80, "GET /v1/orders/17?x=1 HTTP/1.1\r\nHost: shop\r\n\r\n");
	for (int i = 0; i < 3; i++)
		monitor__handle_sample(mon, &s, sizeof(s));
	s = make_sample("10.99.1.2", "10.10.0.10", 80, "POST /v1/orders HTTP/1.1\r\nHost: shop\r\n\r\n");
	monitor__handle_sample(mon, &s, sizeof(s));
	s = make_sample("10.99.1.3", "10.10.0.10", 80, "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03");
	monitor__handle_sample(mon, &s, sizeof(s));
	/* Not a route: the API is the destination; the rule's deprecated path applies. */
	s = make_sample("10.99.1.4", "10.30.0.1", 80, "GET /old/thing HTTP/1.1\r\n\r\n");
	monitor__handle_sample(mon, &s, sizeof(s));
	/* TLS records after the hello, and bare ACKs, are not requests. */
	s = make_sample("10.99.1.3", "10.10.0.10", 80, "\x17\x03\x03\x00\x10");
	monitor__handle_sample(mon, &s, sizeof(s));

	monitor__interval(mon, T0, 1.0, NULL, 0, &total);
	monitor__report_usage(mon, T0 + 10);
	drain(mon, &d);
	a = alert_of(&d, "deprecated_api");
	assert_non_null(a);
	assert_string_equal(a->subject, "api orders-api /v1/");
	assert_int_equal(a->n_consumers, 2);
	assert_string_equal(a->consumers[0], "10.99.1.1"); /* the heavier one first */
	assert_string_equal(a->consumers[1], "10.99.1.2");
	assert_int_equal(a->severity, SLUICE__V1__ALERT_SEVERITY__SEVERITY_LOW);
	a = alert_of(&d, "plaintext_to_tls_only");
	assert_non_null(a);
	assert_string_equal(a->subject, "api orders-api");
	a = alert_of(&d, "deprecated_api");
	for (size_t i = 0; i < d.n; i++) {
		if (d.m[i]->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_ALERT &&
		    strcmp(d.m[i]->alert->subject, "api 10.30.0.1:80 /old/") == 0)
			a = d.m[i]->alert;
		if (d.m[i]->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_API_USAGE)
			u = d.m[i]->api_usage;
	}
	assert_string_equal(a->subject, "api 10.30.0.1:80 /old/");
	assert_non_null(u);
	assert_int_equal(u->samples, 7);
	{
		bool get = false, tls = false;

		for (size_t i = 0; i < u->n_entries; i++) {
			const Sluice__V1__ApiUsageEntry *e = u->entries[i];

			if (!strcmp(e->consumer, "10.99.1.1")) {
				/* Three samples at one in 10: 30 requests. */
				assert_string_equal(e->api, "orders-api");
				assert_string_equal(e->method, "GET");
				assert_string_equal(e->path_prefix, "/v1/orders/{id}");
				assert_int_equal(e->requests, 30);
				assert_int_equal(e->samples, 3);
				assert_string_equal(e->host, "shop");
				assert_true(e->deprecated);
				assert_true(e->plaintext);
				get = true;
			}
			if (!strcmp(e->consumer, "10.99.1.3")) {
				assert_string_equal(e->method, "TLS");
				assert_false(e->plaintext);
				tls = true;
			}
		}
		assert_true(get && tls);
		assert_int_equal(u->n_entries, 4);
	}
	drained_free(&d);
	/* A new interval starts empty: no usage report without requests. */
	monitor__report_usage(mon, T0 + 20);
	drain(mon, &d);
	assert_int_equal(d.n, 0);
	policy__free(p);
	monitor__free(mon);
}

static void test_samples_before_a_policy(void **state)
{
	struct monitor_opts o = { 0 };
	struct monitor *mon = monitor__new(&o);
	struct sl_sample s = make_sample("10.99.1.1", "10.10.0.10", 80, "GET /v1/x HTTP/1.1\r\n\r\n");
	struct drained d;

	monitor__handle_sample(mon, &s, sizeof(s));
	s.cap_len = 3; /* a cut frame */
	monitor__handle_sample(mon, &s, sizeof(s));
	monitor__report_usage(mon, T0);
	drain(mon, &d);
	assert_int_equal(d.n, 0);
	monitor__free(mon);
}

static void test_path_prefix(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/v1/orders/17/items", "/v1/orders/{id}" },
		{ "/v1/orders?x=1", "/v1/orders" },
		{ "/", "/" },
		{ "//x", "/" },
		{ "/a/b/c/d/e", "/a/b/c" },
		{ "/users/0a1b2c3d4e5f6a7b8c9d/", "/users/{id}" },
		{ "/users/abc", "/users/abc" },
		{ "*", "*" },
	};
	char out[APIUSAGE_PATH_MAX];
	char *pre[] = { "/v1/", "/legacy" };
	const char *which = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		apiusage__path_prefix(cases[i].in, APIUSAGE_DEPTH, out, sizeof(out));
		assert_string_equal(out, cases[i].out);
	}
	assert_true(apiusage__under("/v1/x", pre, 2, &which));
	assert_string_equal(which, "/v1/");
	assert_true(apiusage__under("/legacy-api", pre, 2, &which));
	assert_false(apiusage__under("/v2/x", pre, 2, &which));
	assert_false(apiusage__under("/v1", pre, 1, &which));
}

static void test_outbox_bounds(void **state)
{
	struct outbox *o = outbox__new(3);
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Ack ack = SLUICE__V1__ACK__INIT;
	struct rpc_buf b[8];
	size_t n;

	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_ACK;
	m.ack = &ack;
	for (int i = 1; i <= 5; i++) {
		ack.nonce = (uint64_t)i;
		assert_int_equal(outbox__push(o, &m), 0);
	}
	assert_int_equal(outbox__queued(o), 3);
	assert_int_equal(outbox__dropped(o), 2); /* the oldest went */
	n = outbox__take(o, b, 2);
	assert_int_equal(n, 2);
	/* Put back (the stream refused them): they come out first again, in order. */
	outbox__unget(o, b, 2);
	n = outbox__take(o, b, 8);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		Sluice__V1__AgentMessage *x = sluice__v1__agent_message__unpack(NULL, b[i].len, b[i].data);

		assert_int_equal(x->ack->nonce, 3 + i);
		sluice__v1__agent_message__free_unpacked(x, NULL);
		free(b[i].data);
	}
	outbox__free(o);
}

/* ---- mitigations against a fake datapath ------------------------------------------------------- */

struct fake_dp {
	int applies;
	size_t rules;          /* in the last policy applied */
	char first[64];        /* its first rule's name */
	uint32_t capacity;
	int fail_over;         /* refuse policies with more rules than this (0: never) */
	int views;             /* the applied hook ran */
};

static int fake_apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	struct fake_dp *d = ctx;

	if (d->fail_over && p->n_rules > (size_t)d->fail_over) {
		snprintf(err, errlen, "too many");
		return -ENOSPC;
	}
	d->applies++;
	d->rules = p->n_rules;
	snprintf(d->first, sizeof(d->first), "%s", p->n_rules ? p->rules[0]->name : "");
	return 0;
}

static uint32_t fake_capacity(void *ctx)
{
	return ((struct fake_dp *)ctx)->capacity;
}

static void fake_applied(void *ctx, const Sluice__V1__Policy *base)
{
	((struct fake_dp *)ctx)->views++;
}

static void gone(void *ctx, const struct mitigate_rule *r)
{
	(*(int *)ctx)++;
}

static void test_mitigations(void **state)
{
	struct fake_dp d = { .capacity = 100 };
	struct mitigate_ops ops = { fake_apply, fake_capacity, &d, fake_applied, &d };
	struct mitigate *m = mitigate__new(&ops);
	Sluice__V1__Policy *p = parse(policy_yaml), *merged;
	struct mitigate_rule r = { .src = { .family = 4, .addr = { 10, 99, 1, 9 } }, .action = 1, .expires_ms = T0 + 300000 };
	char err[256], desc[96];
	int removed = 0;

	assert_int_equal(mitigate__add(m, &r, err, sizeof(err)), -ENODATA); /* no policy yet */
	assert_int_equal(mitigate__apply(m, p, err, sizeof(err)), 0);
	assert_int_equal(d.rules, 1);
	assert_int_equal(mitigate__add(m, &r, err, sizeof(err)), 0);
	assert_string_equal(r.name, "mitigate-1");
	assert_int_equal(d.rules, 2);
	assert_string_equal(d.first, "mitigate-1"); /* in front */
	mitigate__describe(&r, desc, sizeof(desc));
	assert_string_equal(desc, "src 10.99.1.9/32");
	/* The same source again: extended, not doubled. */
	r.expires_ms = T0 + 600000;
	assert_int_equal(mitigate__add(m, &r, err, sizeof(err)), -EEXIST);
	assert_int_equal(mitigate__count(m), 1);
	assert_true(mitigate__next_expiry(m) == T0 + 600000);
	/* A new revision keeps it. */
	assert_int_equal(mitigate__apply(m, p, err, sizeof(err)), 0);
	assert_int_equal(d.rules, 2);
	/* Expiry removes it with one re-apply. */
	assert_int_equal(mitigate__expire(m, T0 + 300000, gone, &removed), 0);
	assert_int_equal(mitigate__expire(m, T0 + 600000, gone, &removed), 1);
	assert_int_equal(removed, 1);
	assert_int_equal(d.rules, 1);
	assert_int_equal(mitigate__count(m), 0);
	/* A datapath that cannot hold base + mitigation: refused, the base stays. */
	d.fail_over = 1;
	r.src.addr[3] = 10;
	assert_true(mitigate__add(m, &r, err, sizeof(err)) < 0);
	assert_int_equal(mitigate__count(m), 0);
	assert_int_equal(d.rules, 1);
	/* The merge is a valid policy with a /32 drop first. */
	merged = mitigate__merge(p, &r, 1);
	assert_non_null(merged);
	assert_int_equal(merged->n_rules, 2);
	assert_int_equal(merged->rules[0]->action, SLUICE__V1__ACTION__ACTION_DROP);
	assert_int_equal(merged->rules[0]->match->src[0]->prefix_len, 32);
	assert_int_equal(policy__validate(merged, 0, err, sizeof(err)), 0);
	policy__free(merged);
	assert_true(d.views >= 3);
	policy__free(p);
	mitigate__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_and_compliance),
		cmocka_unit_test(test_samples_before_a_policy),
		cmocka_unit_test(test_path_prefix),
		cmocka_unit_test(test_outbox_bounds),
		cmocka_unit_test(test_mitigations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
