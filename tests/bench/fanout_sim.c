// SPDX-License-Identifier: Apache-2.0
/*
 * fanout_sim.c — see fanout_sim.h. Each driving thread owns a group of client streams
 * (one completion queue) and finds the agent of an event through a pointer hash.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/policy.h"
#include "fanout_sim.h"
#include "sluice/v1/agent.pb-c.h"

#define WAIT_S 300


int64_t fanout__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void fanout__sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- simulated agents ---------------------------------------------------------------------- */

static int send_msg(struct rpc_client_stream *cs, const Sluice__V1__AgentMessage *m)
{
	size_t len = sluice__v1__agent_message__get_packed_size(m);
	uint8_t *buf = malloc(len + 1);
	int err;

	if (!buf)
		return -ENOMEM;
	sluice__v1__agent_message__pack(m, buf);
	err = rpc_client_stream__send(cs, buf, len);
	free(buf);
	return err;
}

static int sim_hello(struct fanout_agent *s);

/* Opens s's channel and stream (in g) and says Hello. */
static int sim_open(struct fanout_agent *s, struct rpc_client_group *g, const char *target)
{
	static const struct rpc_channel_opts opts = { .own_connection = true, .keepalive_ms = 30000,
						      .keepalive_timeout_ms = 30000 };

	s->ch = rpc_channel__new(target, NULL, &opts);
	s->cs = s->ch ? rpc_client_group__open(g, s->ch, FANOUT_CONNECT_METHOD) : NULL;
	return s->cs ? sim_hello(s) : -EIO;
}

/* Says Hello on s's stream. */
static int sim_hello(struct fanout_agent *s)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Hello h = SLUICE__V1__HELLO__INIT;
	Sluice__V1__Hello__LabelsEntry label = SLUICE__V1__HELLO__LABELS_ENTRY__INIT, *labels[] = { &label };

	label.key = "env";
	label.value = "bench";
	h.node_id = s->node;
	h.n_labels = 1;
	h.labels = labels;
	h.agent_version = "bench";
	h.kernel = "bench";
	h.rule_capacity = POLICY_DEFAULT_CAPACITY;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_HELLO;
	m.hello = &h;
	return send_msg(s->cs, &m);
}

/* Reads a varint at *p (below end). False when malformed. */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* The revision, hash and nonce of a ControllerMessage{update}, read straight from the
 * wire: a simulated agent acknowledges without decoding the policy, so the load
 * generator spends its CPU on transport, as the controller's peers would. */
static bool update_fields(const struct rpc_buf *msg, uint64_t *rev, uint64_t *nonce, char *hash, size_t hash_len)
{
	const uint8_t *p = msg->data, *end = msg->data + msg->len;
	uint64_t key, len, v;

	if (!varint(&p, end, &key) || key != ((1 << 3) | 2) || !varint(&p, end, &len) || len > (uint64_t)(end - p))
		return false;
	end = p + len;
	*rev = *nonce = 0;
	hash[0] = '\0';
	while (p < end) {
		if (!varint(&p, end, &key))
			return false;
		if ((key & 7) == 0) {
			if (!varint(&p, end, &v))
				return false;
			if (key >> 3 == 1)
				*rev = v;
			else if (key >> 3 == 3)
				*nonce = v;
		} else if ((key & 7) == 2) {
			if (!varint(&p, end, &len) || len > (uint64_t)(end - p))
				return false;
			if (key >> 3 == 2 && len < hash_len) {
				memcpy(hash, p, len);
				hash[len] = '\0';
			}
			p += len;
		} else {
			return false;
		}
	}
	return true;
}

/* Handles what arrived on s; acknowledges updates. */
static void sim_message(struct fanout_fleet *f, struct fanout_agent *s, const struct rpc_buf *msg)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Ack ack = SLUICE__V1__ACK__INIT;
	uint64_t want = atomic_load(&f->want_rev), rev, nonce;
	char hash[POLICY_HASH_HEX];

	if (!update_fields(msg, &rev, &nonce, hash, sizeof(hash)))
		return;
	ack.nonce = nonce;
	ack.revision = rev;
	ack.hash = hash;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_ACK;
	m.ack = &ack;
	send_msg(s->cs, &m);
	if ((!want || rev == want) && atomic_load(&s->acked_ns) == 0)
		atomic_store(&s->acked_ns, fanout__now_ns());
}


static size_t slot_of(const struct fanout_slice *sl, const struct rpc_client_stream *cs)
{
	uintptr_t h = (uintptr_t)cs;

	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> 7) & (sl->cap - 1);
}

static void map_put(struct fanout_slice *sl, struct rpc_client_stream *cs, struct fanout_agent *s)
{
	size_t i = slot_of(sl, cs);

	if (sl->used * 2 >= sl->cap)
		return; /* full enough: the agent is not tracked again (counted as not acked) */
	while (sl->keys[i] && sl->keys[i] != cs)
		i = (i + 1) & (sl->cap - 1);
	if (!sl->keys[i])
		sl->used++;
	sl->keys[i] = cs;
	sl->vals[i] = s;
}

static struct fanout_agent *map_get(const struct fanout_slice *sl, const struct rpc_client_stream *cs)
{
	size_t i = slot_of(sl, cs);

	while (sl->keys[i]) {
		if (sl->keys[i] == cs)
			return sl->vals[i];
		i = (i + 1) & (sl->cap - 1);
	}
	return NULL;
}

/* One thread: opens the streams from..to in a group of its own, then drives them until
 * f->stop, then closes them. */
static void *drive(void *arg)
{
	struct fanout_slice *sl = arg;
	struct fanout_fleet *f = sl->f;
	struct rpc_client_group *g = rpc_client_group__new();
	size_t n = sl->to - sl->from;

	for (sl->cap = 16; sl->cap < 8 * n; sl->cap *= 2)
		;
	sl->used = sl->reopened = 0;
	sl->keys = calloc(sl->cap, sizeof(*sl->keys));
	sl->vals = calloc(sl->cap, sizeof(*sl->vals));
	if (!g || !sl->keys || !sl->vals)
		sl->err = -ENOMEM;
	for (size_t i = sl->from; !sl->err && i < sl->to; i++) {
		struct rpc_client_stream *cs;
		struct rpc_buf msg = { 0 };
		struct rpc_status st;

		atomic_store(&f->s[i].acked_ns, 0);
		if (sim_open(&f->s[i], g, f->target)) {
			sl->err = -EIO;
			break;
		}
		map_put(sl, f->s[i].cs, &f->s[i]);
		/* Let the connections opened so far make progress (nothing to answer yet). */
		if (i % 32 == 31)
			while (rpc_client_group__next(g, 0, &cs, &msg, &st) != RPC_EV_TIMEOUT)
				free(msg.data);
	}
	atomic_store(&sl->opened, true);
	while (!sl->err && !atomic_load(&f->stop)) {
		struct rpc_client_stream *cs;
		struct rpc_buf msg = { 0 };
		struct rpc_status st;
		enum rpc_event ev = rpc_client_group__next(g, 100, &cs, &msg, &st);
		struct fanout_agent *s = ev == RPC_EV_TIMEOUT ? NULL : map_get(sl, cs);

		if (s && ev == RPC_EV_MESSAGE && s->cs == cs)
			sim_message(f, s, &msg);
		free(msg.data);
		if (s && ev == RPC_EV_CLOSED && s->cs == cs && !atomic_load(&f->stop)) {
			/* The server dropped it (keepalive under load, ...): come back like an agent. */
			s->cs = rpc_client_group__open(g, s->ch, FANOUT_CONNECT_METHOD);
			if (s->cs) {
				map_put(sl, s->cs, s);
				sim_hello(s);
				sl->reopened++;
			}
		}
	}
	rpc_client_group__free(g);
	for (size_t i = sl->from; i < sl->to; i++) {
		rpc_channel__free(f->s[i].ch);
		f->s[i].ch = NULL;
		f->s[i].cs = NULL;
	}
	free(sl->keys);
	free(sl->vals);
	sl->keys = NULL;
	sl->vals = NULL;
	return NULL;
}

/* Starts nthreads threads holding the fleet's agents, connected to target. */
int fanout__fleet_start(struct fanout_fleet *f, const char *target, const char *prefix, size_t nthreads, pthread_t *th,
		       struct fanout_slice *sl)
{
	f->target = target;
	atomic_store(&f->stop, false);
	for (size_t i = 0; i < f->n; i++)
		snprintf(f->s[i].node, sizeof(f->s[i].node), "%s-%05zu", prefix, i);
	for (size_t t = 0; t < nthreads; t++) {
		sl[t].f = f;
		sl[t].from = f->n * t / nthreads;
		sl[t].to = f->n * (t + 1) / nthreads;
		sl[t].err = 0;
		atomic_store(&sl[t].opened, false);
		if (pthread_create(&th[t], NULL, drive, &sl[t]))
			return -EAGAIN;
		f->started++;
	}
	for (size_t t = 0; t < nthreads; t++) {
		while (!atomic_load(&sl[t].opened))
			fanout__sleep_ms(10);
		if (sl[t].err)
			return sl[t].err;
	}
	return 0;
}

size_t fanout__reopened(const struct fanout_slice *sl, size_t nthreads)
{
	size_t n = 0;

	for (size_t t = 0; t < nthreads; t++)
		n += sl[t].reopened;
	return n;
}

void fanout__fleet_stop(struct fanout_fleet *f, pthread_t *th)
{
	atomic_store(&f->stop, true);
	for (size_t t = 0; t < f->started; t++)
		pthread_join(th[t], NULL);
	f->started = 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}


/* Waits until every agent acknowledged (or WAIT_S), then the latency distribution from t0. */
struct fanout_result fanout__wait_acks(struct fanout_fleet *f, int64_t t0)
{
	int64_t *lat = calloc(f->n + 1, sizeof(*lat)), deadline = fanout__now_ns() + (int64_t)WAIT_S * 1000000000;
	struct fanout_result r = { 0 };
	size_t n;

	for (;;) {
		n = 0;
		for (size_t i = 0; i < f->n; i++)
			n += atomic_load(&f->s[i].acked_ns) != 0;
		if (n == f->n || fanout__now_ns() > deadline)
			break;
		fanout__sleep_ms(5);
	}
	n = 0;
	for (size_t i = 0; i < f->n; i++) {
		int64_t t = atomic_load(&f->s[i].acked_ns);

		if (t)
			lat[n++] = t - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp_i64);
	r.acked = n;
	if (n) {
		r.min_ms = (double)lat[0] / 1e6;
		r.p50_ms = (double)lat[(n - 1) * 50 / 100] / 1e6;
		r.p99_ms = (double)lat[(n - 1) * 99 / 100] / 1e6;
		r.max_ms = (double)lat[n - 1] / 1e6;
	}
	free(lat);
	return r;
}

/* ---- the floor server (a child process) ----------------------------------------------------- */

struct floor {
	struct rpc_stream **v;
	size_t n, cap;
};

static int floor_open(void *user, struct rpc_stream *s, const struct rpc_peer *peer, void **stream_user)
{
	struct floor *fl = user;

	if (fl->n == fl->cap) {
		size_t cap = fl->cap ? fl->cap * 2 : 1024;
		struct rpc_stream **v = realloc(fl->v, cap * sizeof(*v));

		if (!v)
			return RPC_RESOURCE_EXHAUSTED;
		fl->v = v;
		fl->cap = cap;
	}
	fl->v[fl->n++] = s;
	*stream_user = s;
	return 0;
}

static void floor_close(void *user, struct rpc_stream *s, void *stream_user)
{
	struct floor *fl = user;

	for (size_t i = 0; i < fl->n; i++) {
		if (fl->v[i] == s) {
			fl->v[i] = fl->v[--fl->n];
			break;
		}
	}
}

/* Push: sends the request bytes to every stream; answers with the count (as 8 bytes). An
 * empty request only counts. */
static enum rpc_code floor_push(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t len,
				struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct floor *fl = user;
	uint64_t n = fl->n;

	for (size_t i = 0; len && i < fl->n; i++)
		rpc_stream__send(fl->v[i], req, len);
	resp->data = malloc(sizeof(n));
	if (!resp->data)
		return RPC_RESOURCE_EXHAUSTED;
	memcpy(resp->data, &n, sizeof(n));
	resp->len = sizeof(n);
	return RPC_OK;
}

int fanout__floor_main(const char *listen)
{
	static const struct rpc_stream_ops ops = { .on_open = floor_open, .on_close = floor_close };
	struct rpc_server_opts so = { .listen = listen, .keepalive_ms = 20000, .keepalive_timeout_ms = 20000 };
	struct floor fl = { 0 };
	struct rpc_server *srv;
	sigset_t sigs;
	int sig;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	rpc__init();
	srv = rpc_server__new(&so);
	if (!srv || rpc_server__add_stream(srv, FANOUT_CONNECT_METHOD, &ops, &fl) ||
	    rpc_server__add_unary(srv, FANOUT_FLOOR_PUSH, floor_push, &fl) || rpc_server__start(srv) < 0)
		return 1;
	sigwait(&sigs, &sig);
	rpc_server__free(srv);
	free(fl.v);
	rpc__shutdown();
	return 0;
}

/* ---- the frozen agents (a child process) ----------------------------------------------------- */

int fanout__frozen_main(const char *target, size_t n)
{
	struct fanout_fleet f = { .n = n };
	pthread_t th;
	struct fanout_slice sl;

	rpc__init();
	f.s = calloc(n, sizeof(*f.s));
	if (!f.s || fanout__fleet_start(&f, target, "frozen", 1, &th, &sl))
		return 1;
	pause(); /* SIGSTOPped by the parent at some point, then killed */
	return 0;
}
