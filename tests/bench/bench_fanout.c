// SPDX-License-Identifier: Apache-2.0
/*
 * bench_fanout.c — how fast a policy reaches a fleet: N simulated agents, each a real
 * AgentService.Connect stream on its own TCP connection, held by one process; each
 * answers every PolicyUpdate with an Ack. Measured from the ApplyPolicy call to each
 * agent's Ack (all at once, the default rollout): p50, p99 and max, the controller's
 * RSS and CPU time; then the same with 1% of the agents frozen (SIGSTOPped in a process
 * of their own, so their TCP connections stop reading too).
 *
 * Baseline, measured in the same run: a bare fan-out server built on the same gRPC
 * wrapper (this binary run with --floor PORT) that pushes one prepacked message to every
 * stream and does nothing else. The controller's numbers are also given as ratios to it.
 *
 *   bench_fanout [--agents N] [--rules R] [--threads T] [--controller PATH]
 *
 * Needs RLIMIT_NOFILE of at least 2N + some (raised here when allowed). Last line: one
 * JSON object.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/policy.h"
#include "common/rpc.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/control.pb-c.h"

#define CONNECT_METHOD "/sluice.v1.AgentService/Connect"
#define FLOOR_PUSH "/sluice.bench.Floor/Push"
#define WAIT_S 300

struct sim {
	struct rpc_channel *ch;
	struct rpc_client_stream *cs;
	char node[32];
	_Atomic int64_t acked_ns; /* when it acknowledged the awaited revision; 0: not yet */
	uint64_t want_rev;	  /* the revision awaited */
	bool closed;
};

struct fleet {
	struct sim *s;
	size_t n;
	const char *target;
	atomic_bool stop;
	atomic_uint_fast64_t want_rev; /* 0: ack anything */
	size_t started;                /* driving threads running */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
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

static int sim_hello(struct sim *s);

/* Opens s's channel and stream (in g) and says Hello. */
static int sim_open(struct sim *s, struct rpc_client_group *g, const char *target)
{
	static const struct rpc_channel_opts opts = { .own_connection = true, .keepalive_ms = 30000,
						      .keepalive_timeout_ms = 30000 };

	s->ch = rpc_channel__new(target, NULL, &opts);
	s->cs = s->ch ? rpc_client_group__open(g, s->ch, CONNECT_METHOD) : NULL;
	return s->cs ? sim_hello(s) : -EIO;
}

/* Says Hello on s's stream. */
static int sim_hello(struct sim *s)
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
static void sim_message(struct fleet *f, struct sim *s, const struct rpc_buf *msg)
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
		atomic_store(&s->acked_ns, now_ns());
}

struct slice {
	struct fleet *f;
	size_t from, to;
	atomic_bool opened; /* every stream of the slice is open */
	int err;
	/* stream -> agent, open addressing on the pointer; closed streams keep their slot */
	struct rpc_client_stream **keys;
	struct sim **vals;
	size_t cap, used;
	size_t reopened; /* streams the server ended that were opened again, as an agent would */
};

static size_t slot_of(const struct slice *sl, const struct rpc_client_stream *cs)
{
	uintptr_t h = (uintptr_t)cs;

	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> 7) & (sl->cap - 1);
}

static void map_put(struct slice *sl, struct rpc_client_stream *cs, struct sim *s)
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

static struct sim *map_get(const struct slice *sl, const struct rpc_client_stream *cs)
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
	struct slice *sl = arg;
	struct fleet *f = sl->f;
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
		struct sim *s = ev == RPC_EV_TIMEOUT ? NULL : map_get(sl, cs);

		if (s && ev == RPC_EV_MESSAGE && s->cs == cs)
			sim_message(f, s, &msg);
		free(msg.data);
		if (s && ev == RPC_EV_CLOSED && s->cs == cs && !atomic_load(&f->stop)) {
			/* The server dropped it (keepalive under load, ...): come back like an agent. */
			s->cs = rpc_client_group__open(g, s->ch, CONNECT_METHOD);
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
static int fleet_start(struct fleet *f, const char *target, const char *prefix, size_t nthreads, pthread_t *th,
		       struct slice *sl)
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
			sleep_ms(10);
		if (sl[t].err)
			return sl[t].err;
	}
	return 0;
}

static size_t reopened(const struct slice *sl, size_t nthreads)
{
	size_t n = 0;

	for (size_t t = 0; t < nthreads; t++)
		n += sl[t].reopened;
	return n;
}

static void fleet_stop(struct fleet *f, pthread_t *th)
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

struct result {
	double min_ms, p50_ms, p99_ms, max_ms;
	size_t acked;
};

/* Waits until every agent acknowledged (or WAIT_S), then the latency distribution from t0. */
static struct result wait_acks(struct fleet *f, int64_t t0)
{
	int64_t *lat = calloc(f->n + 1, sizeof(*lat)), deadline = now_ns() + (int64_t)WAIT_S * 1000000000;
	struct result r = { 0 };
	size_t n;

	for (;;) {
		n = 0;
		for (size_t i = 0; i < f->n; i++)
			n += atomic_load(&f->s[i].acked_ns) != 0;
		if (n == f->n || now_ns() > deadline)
			break;
		sleep_ms(5);
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

static int floor_main(const char *listen)
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
	if (!srv || rpc_server__add_stream(srv, CONNECT_METHOD, &ops, &fl) ||
	    rpc_server__add_unary(srv, FLOOR_PUSH, floor_push, &fl) || rpc_server__start(srv) < 0)
		return 1;
	sigwait(&sigs, &sig);
	rpc_server__free(srv);
	free(fl.v);
	rpc__shutdown();
	return 0;
}

/* ---- the frozen agents (a child process) ----------------------------------------------------- */

static int frozen_main(const char *target, size_t n)
{
	struct fleet f = { .n = n };
	pthread_t th;
	struct slice sl;

	rpc__init();
	f.s = calloc(n, sizeof(*f.s));
	if (!f.s || fleet_start(&f, target, "frozen", 1, &th, &sl))
		return 1;
	pause(); /* SIGSTOPped by the parent at some point, then killed */
	return 0;
}

/* ---- the controller ---------------------------------------------------------------------------- */

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* RSS (VmRSS), peak (VmHWM) in MB, and CPU seconds of pid. */
static void proc_usage(pid_t pid, double *rss_mb, double *hwm_mb, double *cpu_s)
{
	char path[64], line[256];
	unsigned long utime = 0, stime = 0;
	FILE *f;

	*rss_mb = *hwm_mb = *cpu_s = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss_mb = strtod(line + 6, NULL) / 1024;
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm_mb = strtod(line + 6, NULL) / 1024;
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f && fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, ')');

		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2)
			*cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	}
	if (f)
		fclose(f);
}

/* A policy of n rules, different for each variant. */
static Sluice__V1__Policy *make_policy(size_t n, unsigned variant)
{
	char *text = NULL, err[512];
	size_t len = 0;
	Sluice__V1__Policy *p = NULL;
	FILE *f = open_memstream(&text, &len);

	fputs("rules:\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"  - { name: r%05zu, priority: %zu, match: { src: 10.%zu.%zu.0/24, proto: tcp, dst_ports: [%zu] }, action: drop }\n",
			i, i + 1, (i >> 8) & 255, i & 255, (i + variant) % 60000 + 1);
	fclose(f);
	if (policy_yaml__parse_string("bench.yaml", text, len, 0, &p, err, sizeof(err)))
		fprintf(stderr, "bench_fanout: policy: %s\n", err);
	free(text);
	return p;
}

static int apply(struct rpc_channel *ch, const Sluice__V1__Policy *p, uint64_t *rev)
{
	Sluice__V1__ApplyPolicyRequest req = SLUICE__V1__APPLY_POLICY_REQUEST__INIT;
	Sluice__V1__ApplyPolicyResponse *r;
	struct rpc_buf resp = { 0 };
	struct rpc_status st;
	size_t len;
	uint8_t *buf;
	int err = 0;

	req.policy = (Sluice__V1__Policy *)p;
	req.message = "bench";
	len = sluice__v1__apply_policy_request__get_packed_size(&req);
	buf = malloc(len + 1);
	sluice__v1__apply_policy_request__pack(&req, buf);
	if (rpc_channel__unary(ch, "/sluice.v1.ControlService/ApplyPolicy", buf, len, 60000, &resp, &st) != RPC_OK) {
		fprintf(stderr, "bench_fanout: ApplyPolicy: %s: %s\n", rpc_code__name(st.code), st.message);
		err = -EIO;
	} else if ((r = sluice__v1__apply_policy_response__unpack(NULL, resp.len, resp.data))) {
		*rev = r->revision;
		sluice__v1__apply_policy_response__free_unpacked(r, NULL);
	}
	free(buf);
	free(resp.data);
	return err;
}

/* Agents the controller has connected (state not OFFLINE). */
static size_t connected(struct rpc_channel *ch)
{
	Sluice__V1__ListAgentsRequest req = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
	Sluice__V1__ListAgentsResponse *r;
	struct rpc_buf resp = { 0 };
	uint8_t buf[16];
	size_t n = 0, len = sluice__v1__list_agents_request__pack(&req, buf);

	if (rpc_channel__unary(ch, "/sluice.v1.ControlService/ListAgents", buf, len, 60000, &resp, NULL) != RPC_OK)
		return 0;
	r = sluice__v1__list_agents_response__unpack(NULL, resp.len, resp.data);
	for (size_t i = 0; r && i < r->n_agents; i++)
		n += r->agents[i]->state != SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE;
	if (r)
		sluice__v1__list_agents_response__free_unpacked(r, NULL);
	free(resp.data);
	return n;
}

static uint64_t floor_count(struct rpc_channel *ch, const uint8_t *msg, size_t len)
{
	struct rpc_buf resp = { 0 };
	uint64_t n = 0;

	if (rpc_channel__unary(ch, FLOOR_PUSH, msg, len, 60000, &resp, NULL) == RPC_OK && resp.len == sizeof(n))
		memcpy(&n, resp.data, sizeof(n));
	free(resp.data);
	return n;
}

/* The update the floor pushes: the same bytes an agent gets from the controller. */
static uint8_t *pack_update(const Sluice__V1__Policy *p, uint64_t rev, size_t *len)
{
	Sluice__V1__ControllerMessage m = SLUICE__V1__CONTROLLER_MESSAGE__INIT;
	Sluice__V1__PolicyUpdate u = SLUICE__V1__POLICY_UPDATE__INIT;
	char hash[POLICY_HASH_HEX];
	uint8_t *buf;

	policy__hash(p, hash);
	u.revision = rev;
	u.hash = hash;
	u.nonce = 1;
	u.policy = (Sluice__V1__Policy *)p;
	m.msg_case = SLUICE__V1__CONTROLLER_MESSAGE__MSG_UPDATE;
	m.update = &u;
	*len = sluice__v1__controller_message__get_packed_size(&m);
	buf = malloc(*len);
	sluice__v1__controller_message__pack(&m, buf);
	return buf;
}

static bool wait_for(size_t want, size_t (*count)(void *), void *arg, int seconds)
{
	int64_t deadline = now_ns() + (int64_t)seconds * 1000000000;

	size_t n = 0;

	while (now_ns() < deadline) {
		n = count(arg);
		if (n >= want)
			return true;
		if (getenv("BENCH_DEBUG"))
			fprintf(stderr, "%zu of %zu connected\n", n, want);
		sleep_ms(1000); /* listing 10,000 agents is not free for the controller */
	}
	fprintf(stderr, "bench_fanout: %zu of %zu agents connected after %d s\n", n, want, seconds);
	return false;
}

static size_t count_controller(void *arg)
{
	return connected(arg);
}

static size_t count_floor(void *arg)
{
	return (size_t)floor_count(arg, NULL, 0);
}

int main(int argc, char **argv)
{
	size_t agents = 10000, rules = 100, nthreads = 2, n_frozen, n_live;
	const char *ctl_bin = "build/bin/sluice-controller";
	static const struct option lo[] = { { "agents", 1, NULL, 'n' },	  { "rules", 1, NULL, 'r' },
					    { "threads", 1, NULL, 't' },  { "controller", 1, NULL, 'c' },
					    { "floor", 1, NULL, 'F' },	  { "frozen-child", 1, NULL, 'Z' },
					    { "count", 1, NULL, 'k' },	  { NULL, 0, NULL, 0 } };
	const char *floor_listen = NULL, *frozen_target = NULL;
	char dir[] = "/tmp/sluice-bench-fanout.XXXXXX", db[128], ctl_listen[64], ctl_target[64], floor_target[64];
	char portbuf[64], frozen_n[32], exe[4096];
	struct result floor_r, run_a, run_b;
	double rss, hwm, cpu0, cpu1, cpu_mid, d1, d2, self0, self1;
	pid_t ctl = -1, flo = -1, frz = -1;
	struct rpc_channel *cch = NULL, *fch = NULL;
	struct fleet f = { 0 };
	struct rlimit rl;
	pthread_t *th;
	struct slice *sl;
	Sluice__V1__Policy *p1, *p2, *p3;
	uint8_t *upd;
	size_t upd_len;
	uint64_t rev = 0;
	int64_t t0;
	int opt, rc = 1, cport, fport;
	size_t frozen_count = 0;
	ssize_t exe_len;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			agents = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rules = strtoul(optarg, NULL, 10);
			break;
		case 't':
			nthreads = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			ctl_bin = optarg;
			break;
		case 'F':
			floor_listen = optarg;
			break;
		case 'Z':
			frozen_target = optarg;
			break;
		case 'k':
			frozen_count = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench_fanout [--agents N] [--rules R] [--threads T] [--controller PATH]\n");
			return 2;
		}
	}
	log__init("bench_fanout", LOG_WARN);
	if (floor_listen)
		return floor_main(floor_listen);
	if (frozen_target)
		return frozen_main(frozen_target, frozen_count);
	if (agents < 100 || nthreads < 1 || rules < 1) {
		fprintf(stderr, "bench_fanout: --agents must be at least 100\n");
		return 2;
	}
	n_frozen = agents / 100;
	n_live = agents - n_frozen;

	/* Two fds per connection in this process (and as many in the controller). */
	rl.rlim_cur = rl.rlim_max = 2 * agents + 4096;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2 * agents + 1024)
			fprintf(stderr, "bench_fanout: warning: RLIMIT_NOFILE is %llu; %zu agents need about %zu\n",
				(unsigned long long)rl.rlim_cur, agents, 2 * agents + 1024);
	}
	exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (!mkdtemp(dir) || exe_len < 0) {
		perror("bench_fanout");
		return 1;
	}
	exe[exe_len] = '\0';
	snprintf(db, sizeof(db), "%s/controller.db", dir);
	cport = free_port();
	fport = free_port();
	snprintf(ctl_listen, sizeof(ctl_listen), "127.0.0.1:%d", cport);
	snprintf(ctl_target, sizeof(ctl_target), "127.0.0.1:%d", cport);
	snprintf(floor_target, sizeof(floor_target), "127.0.0.1:%d", fport);
	snprintf(portbuf, sizeof(portbuf), "127.0.0.1:%d", fport);
	snprintf(frozen_n, sizeof(frozen_n), "%zu", n_frozen);
	{
		char *ca[] = { (char *)ctl_bin, "--listen", ctl_listen, "--db", db, "--insecure", "--log-level", "warn", NULL };
		char *fa[] = { exe, "--floor", portbuf, NULL };

		ctl = spawn(ca);
		flo = spawn(fa);
	}
	p1 = make_policy(rules, 1);
	p2 = make_policy(rules, 2);
	p3 = make_policy(rules, 3);
	upd = pack_update(p1, 1, &upd_len);
	rpc__init();
	cch = rpc_channel__new(ctl_target, NULL, NULL);
	fch = rpc_channel__new(floor_target, NULL, NULL);
	f.n = n_live;
	f.s = calloc(n_live, sizeof(*f.s));
	th = calloc(nthreads, sizeof(*th));
	sl = calloc(nthreads, sizeof(*sl));
	if (!p1 || !p2 || !p3 || !cch || !fch || !f.s || !th || !sl)
		goto cleanup;
	printf("fanout: %zu agents (%zu live in this process, %zu to freeze in another), %zu-rule policy (%zu bytes per update), %zu threads\n",
	       agents, n_live, n_frozen, rules, upd_len, nthreads);
	fflush(stdout);

	/* Baseline: the bare fan-out server. */
	sleep_ms(300);
	if (fleet_start(&f, floor_target, "floor", nthreads, th, sl))
		goto cleanup;
	if (!wait_for(n_live, count_floor, fch, WAIT_S)) {
		fprintf(stderr, "bench_fanout: the floor server did not see every agent connect\n");
		goto cleanup;
	}
	proc_usage(flo, &rss, &hwm, &cpu0);
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "floor server with every agent connected: RSS %.0f MB\n", rss);
	t0 = now_ns();
	floor_count(fch, upd, upd_len);
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "floor push returned after %.1f ms\n", (double)(now_ns() - t0) / 1e6);
	floor_r = wait_acks(&f, t0);
	fleet_stop(&f, th);
	printf("floor (bare gRPC fan-out):   p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms  (%zu/%zu acked)\n",
	       floor_r.p50_ms, floor_r.p99_ms, floor_r.max_ms, floor_r.acked, n_live);
	fflush(stdout);

	/* The controller: every agent connects and is synced to nothing. */
	{
		char *za[] = { exe, "--frozen-child", ctl_target, "--count", frozen_n, NULL };

		frz = spawn(za);
	}
	if (fleet_start(&f, ctl_target, "agent", nthreads, th, sl))
		goto cleanup;
	if (!wait_for(agents, count_controller, cch, WAIT_S)) {
		fprintf(stderr, "bench_fanout: the controller did not see every agent connect\n");
		goto cleanup;
	}
	proc_usage(ctl, &rss, &hwm, &cpu0);
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "controller with every agent connected: RSS %.0f MB\n", rss);
	/* Warm-up revision, so both measured runs move agents from one revision to the next. */
	atomic_store(&f.want_rev, 0);
	if (apply(cch, p3, &rev))
		goto cleanup;
	wait_acks(&f, now_ns());
	sleep_ms(1000);

	for (size_t i = 0; i < f.n; i++)
		atomic_store(&f.s[i].acked_ns, 0);
	proc_usage(ctl, &rss, &hwm, &cpu0);
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "controller before the measured apply: RSS %.0f MB (peak %.0f)\n", rss, hwm);
	atomic_store(&f.want_rev, rev + 1);
	t0 = now_ns();
	if (apply(cch, p1, &rev))
		goto cleanup;
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "ApplyPolicy returned after %.1f ms\n", (double)(now_ns() - t0) / 1e6);
	proc_usage(getpid(), &rss, &hwm, &self0);
	run_a = wait_acks(&f, t0);
	proc_usage(getpid(), &rss, &hwm, &self1);
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "simulated agents used %.2f s CPU; first ack at %.1f ms\n", self1 - self0, run_a.min_ms);
	proc_usage(ctl, &rss, &hwm, &cpu1);
	d1 = cpu1 - cpu0;
	printf("controller, all at once:     p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms  (%zu/%zu acked)  RSS %.0f MB (peak %.0f)  CPU %.2f s\n",
	       run_a.p50_ms, run_a.p99_ms, run_a.max_ms, run_a.acked, n_live, rss, hwm, d1);
	fflush(stdout);

	/* 1% frozen: their process stops, TCP connections included. Let the controller
	 * finish the first rollout's bookkeeping (its agents' records, the rollout's rows). */
	sleep_ms(3000);
	kill(frz, SIGSTOP);
	sleep_ms(200);
	for (size_t i = 0; i < f.n; i++)
		atomic_store(&f.s[i].acked_ns, 0);
	proc_usage(ctl, &rss, &hwm, &cpu_mid);
	cpu0 = cpu1; /* the end of the first run */
	atomic_store(&f.want_rev, rev + 1);
	t0 = now_ns();
	if (apply(cch, p2, &rev))
		goto cleanup;
	run_b = wait_acks(&f, t0);
	proc_usage(ctl, &rss, &hwm, &cpu1);
	d2 = cpu1 - cpu_mid;
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "controller CPU between the runs: %.2f s\n", cpu_mid - cpu0);
	printf("controller, 1%% frozen:       p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms  (%zu/%zu acked)  RSS %.0f MB (peak %.0f)  CPU %.2f s\n",
	       run_b.p50_ms, run_b.p99_ms, run_b.max_ms, run_b.acked, n_live, rss, hwm, d2);
	printf("ratios: controller/floor p99 %.2f; frozen/all-live p99 %.2f (target < 1.20); targets: p99 <= 1000 ms, RSS <= 300 MB\n",
	       floor_r.p99_ms > 0 ? run_a.p99_ms / floor_r.p99_ms : 0, run_a.p99_ms > 0 ? run_b.p99_ms / run_a.p99_ms : 0);
	printf("{\"bench\":\"fanout\",\"agents\":%zu,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f,\"controller_rss_mb\":%.1f,"
	       "\"p99_ms_with_frozen\":%.1f,\"controller_peak_rss_mb\":%.1f,\"controller_cpu_s\":%.2f,"
	       "\"floor_p99_ms\":%.1f,\"ratio_vs_floor\":%.2f,\"frozen_ratio\":%.2f,\"acked\":%zu,\"live\":%zu,"
	       "\"rules\":%zu,\"update_bytes\":%zu,\"reconnects\":%zu}\n",
	       agents, run_a.p50_ms, run_a.p99_ms, run_a.max_ms, rss, run_b.p99_ms, hwm, d1, floor_r.p99_ms,
	       floor_r.p99_ms > 0 ? run_a.p99_ms / floor_r.p99_ms : 0, run_a.p99_ms > 0 ? run_b.p99_ms / run_a.p99_ms : 0,
	       run_a.acked, n_live, rules, upd_len, reopened(sl, nthreads));
	rc = run_a.acked == n_live && run_b.acked == n_live ? 0 : 1;
cleanup:
	fleet_stop(&f, th);
	if (frz > 0) {
		kill(frz, SIGKILL);
		waitpid(frz, NULL, 0);
	}
	rpc_channel__free(cch);
	rpc_channel__free(fch);
	rpc__shutdown();
	if (ctl > 0) {
		kill(ctl, SIGTERM);
		waitpid(ctl, NULL, 0);
	}
	if (flo > 0) {
		kill(flo, SIGTERM);
		waitpid(flo, NULL, 0);
	}
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_fanout: could not remove %s\n", dir);
	}
	policy__free(p1);
	policy__free(p2);
	policy__free(p3);
	free(upd);
	free(f.s);
	free(th);
	free(sl);
	return rc;
}
