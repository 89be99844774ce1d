// SPDX-License-Identifier: Apache-2.0
/*
 * test_rpc.c — the gRPC wrapper (common/rpc.h) against itself over 127.0.0.1: unary
 * calls and their errors, bidirectional streams (order, queueing, close and finish
 * semantics, shutdown), message limits, the server thread's post and tick, keepalive
 * against a frozen peer (a child process stopped with SIGSTOP), and mTLS with
 * certificates made by the openssl CLI.
 *
 * The same binary is the child process: "--child-client PORT" holds a stream open,
 * "--child-server" runs an echo server and prints its port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/rpc.h"

extern char **environ;

#define M_ECHO "/test.v1.Svc/Echo"
#define M_FAIL "/test.v1.Svc/Fail"
#define M_SLEEP "/test.v1.Svc/Sleep"
#define M_BIG "/test.v1.Svc/Big"
#define M_WHOAMI "/test.v1.Svc/Whoami"
#define M_STREAM "/test.v1.Svc/Stream"
#define M_REFUSE "/test.v1.Svc/Refuse"

#define SERVER_MAX_MESSAGE (64 * 1024)

/* What the handlers saw; they run on the server thread, the test reads from its own. */
struct seen {
	pthread_mutex_t lock;
	pthread_t server_thread;
	bool have_thread;
	atomic_int off_thread; /* callbacks that ran on another thread than the first one */
	atomic_int opens;
	atomic_int closes;
	atomic_int messages;
	atomic_int ticks;
	atomic_int posts;
	atomic_int posts_in_order;
	atomic_size_t max_queued;
	atomic_int big_send_ret;
	struct rpc_peer peer;         /* the last stream's or Whoami caller's */
	struct rpc_stream *stream;    /* the last opened stream (server thread only) */
	int64_t post_ran_ms;
};

static struct seen seen;

struct fixture {
	struct rpc_server *srv;
	struct rpc_channel *ch;
	int port;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls until *v >= want or timeout_ms passes; returns whether it got there. */
static bool wait_atleast(atomic_int *v, int want, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	while (atomic_load(v) < want) {
		if (now_ms() > end)
			return false;
		sleep_ms(2);
	}
	return true;
}

static void note_thread(void)
{
	pthread_mutex_lock(&seen.lock);
	if (!seen.have_thread) {
		seen.server_thread = pthread_self();
		seen.have_thread = true;
	} else if (!pthread_equal(seen.server_thread, pthread_self())) {
		atomic_fetch_add(&seen.off_thread, 1);
	}
	pthread_mutex_unlock(&seen.lock);
}

static int set_buf(struct rpc_buf *b, const void *data, size_t len)
{
	b->data = malloc(len ? len : 1);
	if (!b->data)
		return -1;
	memcpy(b->data, data, len);
	b->len = len;
	return 0;
}

/* ---- handlers ---------------------------------------------------------------------- */

static enum rpc_code h_echo(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t req_len,
			    struct rpc_buf *resp, char *errmsg, size_t errmsg_len)
{
	note_thread();
	if (set_buf(resp, req, req_len))
		return RPC_RESOURCE_EXHAUSTED;
	return RPC_OK;
}

static enum rpc_code h_fail(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t req_len,
			    struct rpc_buf *resp, char *errmsg, size_t errmsg_len)
{
	snprintf(errmsg, errmsg_len, "rule 'x': not allowed for %.*s", (int)req_len, (const char *)req);
	return RPC_PERMISSION_DENIED;
}

static enum rpc_code h_sleep(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t req_len,
			     struct rpc_buf *resp, char *errmsg, size_t errmsg_len)
{
	sleep_ms(400);
	return set_buf(resp, "late", 4) ? RPC_RESOURCE_EXHAUSTED : RPC_OK;
}

/* The request is a decimal size; answers that many bytes. */
static enum rpc_code h_big(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t req_len,
			   struct rpc_buf *resp, char *errmsg, size_t errmsg_len)
{
	char num[32];
	size_t n;

	snprintf(num, sizeof(num), "%.*s", (int)req_len, (const char *)req);
	n = strtoul(num, NULL, 10);
	resp->data = calloc(1, n ? n : 1);
	resp->len = n;
	return resp->data ? RPC_OK : RPC_RESOURCE_EXHAUSTED;
}

static enum rpc_code h_whoami(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t req_len,
			      struct rpc_buf *resp, char *errmsg, size_t errmsg_len)
{
	char out[600];

	pthread_mutex_lock(&seen.lock);
	seen.peer = *peer;
	pthread_mutex_unlock(&seen.lock);
	snprintf(out, sizeof(out), "%s|%s|%d", peer->identity, peer->group, peer->authenticated);
	return set_buf(resp, out, strlen(out)) ? RPC_RESOURCE_EXHAUSTED : RPC_OK;
}

static int s_open(void *user, struct rpc_stream *s, const struct rpc_peer *peer, void **stream_user)
{
	note_thread();
	pthread_mutex_lock(&seen.lock);
	seen.peer = *peer;
	pthread_mutex_unlock(&seen.lock);
	seen.stream = s;
	*stream_user = &seen;
	atomic_fetch_add(&seen.opens, 1);
	return 0;
}

/*
 * Echoes each message, except commands: "push N" sends N numbered messages at once,
 * "finish" sends "bye" and ends the stream with FAILED_PRECONDITION, "big" tries a
 * message over the limit.
 */
static void s_message(void *user, struct rpc_stream *s, void *stream_user, const uint8_t *msg, size_t len)
{
	char cmd[64], out[32];
	int n;

	note_thread();
	assert_ptr_equal(stream_user, &seen);
	atomic_fetch_add(&seen.messages, 1);
	snprintf(cmd, sizeof(cmd), "%.*s", (int)len, (const char *)msg);
	if (sscanf(cmd, "push %d", &n) == 1) {
		for (int i = 0; i < n; i++) {
			snprintf(out, sizeof(out), "p%06d", i);
			assert_int_equal(rpc_stream__send(s, (const uint8_t *)out, strlen(out)), 0);
			if (rpc_stream__queued(s) > atomic_load(&seen.max_queued))
				atomic_store(&seen.max_queued, rpc_stream__queued(s));
		}
	} else if (!strcmp(cmd, "finish")) {
		assert_int_equal(rpc_stream__send(s, (const uint8_t *)"bye", 3), 0);
		rpc_stream__finish(s, RPC_FAILED_PRECONDITION, "done here");
		/* Finishing closes the queue. */
		assert_int_equal(rpc_stream__send(s, (const uint8_t *)"late", 4), -EPIPE);
	} else if (!strcmp(cmd, "big")) {
		uint8_t *big = calloc(1, SERVER_MAX_MESSAGE + 1);

		assert_non_null(big);
		atomic_store(&seen.big_send_ret, rpc_stream__send(s, big, SERVER_MAX_MESSAGE + 1));
		free(big);
		assert_int_equal(rpc_stream__send(s, (const uint8_t *)"small", 5), 0);
	} else {
		assert_int_equal(rpc_stream__send(s, msg, len), 0);
	}
}

static void s_close(void *user, struct rpc_stream *s, void *stream_user)
{
	note_thread();
	assert_ptr_equal(stream_user, &seen);
	if (seen.stream == s)
		seen.stream = NULL;
	atomic_fetch_add(&seen.closes, 1);
}

static int s_refuse(void *user, struct rpc_stream *s, const struct rpc_peer *peer, void **stream_user)
{
	atomic_fetch_add(&seen.opens, 1);
	return RPC_PERMISSION_DENIED;
}

static const struct rpc_stream_ops stream_ops = { s_open, s_message, s_close };
static const struct rpc_stream_ops refuse_ops = { s_refuse, s_message, s_close };

/* ---- fixtures ---------------------------------------------------------------------- */

static void reset_seen(void)
{
	pthread_mutex_destroy(&seen.lock);
	memset(&seen, 0, sizeof(seen));
	pthread_mutex_init(&seen.lock, NULL);
}

static struct rpc_server *make_server(const struct rpc_tls *tls, int keepalive_ms, int keepalive_timeout_ms,
				      int *port)
{
	struct rpc_server_opts opts = {
		.listen = "127.0.0.1:0",
		.tls = tls,
		.max_message = SERVER_MAX_MESSAGE,
		.keepalive_ms = keepalive_ms,
		.keepalive_timeout_ms = keepalive_timeout_ms,
	};
	struct rpc_server *srv = rpc_server__new(&opts);

	assert_non_null(srv);
	assert_int_equal(rpc_server__add_unary(srv, M_ECHO, h_echo, NULL), 0);
	assert_int_equal(rpc_server__add_unary(srv, M_FAIL, h_fail, NULL), 0);
	assert_int_equal(rpc_server__add_unary(srv, M_SLEEP, h_sleep, NULL), 0);
	assert_int_equal(rpc_server__add_unary(srv, M_BIG, h_big, NULL), 0);
	assert_int_equal(rpc_server__add_unary(srv, M_WHOAMI, h_whoami, NULL), 0);
	assert_int_equal(rpc_server__add_stream(srv, M_STREAM, &stream_ops, NULL), 0);
	assert_int_equal(rpc_server__add_stream(srv, M_REFUSE, &refuse_ops, NULL), 0);
	assert_int_equal(rpc_server__add_unary(srv, M_ECHO, h_echo, NULL), -EEXIST);
	*port = rpc_server__start(srv);
	assert_true(*port > 0);
	assert_int_equal(rpc_server__add_unary(srv, "/test.v1.Svc/Late", h_echo, NULL), -EBUSY);
	return srv;
}

static struct rpc_channel *make_channel(int port, const struct rpc_tls *tls, const struct rpc_channel_opts *opts)
{
	char target[64];
	struct rpc_channel *ch;

	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	ch = rpc_channel__new(target, tls, opts);
	assert_non_null(ch);
	return ch;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	reset_seen();
	f->srv = make_server(NULL, 0, 0, &f->port);
	f->ch = make_channel(f->port, NULL, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rpc_channel__free(f->ch);
	rpc_server__free(f->srv);
	free(f);
	return 0;
}

static enum rpc_code call(struct rpc_channel *ch, const char *method, const char *req, int timeout_ms,
			  struct rpc_buf *resp, struct rpc_status *st)
{
	return rpc_channel__unary(ch, method, (const uint8_t *)req, strlen(req), timeout_ms, resp, st);
}

/* Next event with a message that must equal want. */
static void expect_msg(struct rpc_client_stream *cs, const char *want)
{
	struct rpc_status st = { 0 };
	struct rpc_buf m = { 0 };
	enum rpc_event ev;

	ev = rpc_client_stream__next(cs, 3000, &m, &st);
	if (ev == RPC_EV_CLOSED)
		fail_msg("stream closed waiting for '%s': %s %s", want, rpc_code__name(st.code), st.message);
	assert_int_equal(ev, RPC_EV_MESSAGE);
	assert_int_equal(m.len, strlen(want));
	assert_memory_equal(m.data, want, m.len);
	free(m.data);
}

/* Waits for the end of the stream, dropping nothing: a message here is a failure. */
static struct rpc_status expect_closed(struct rpc_client_stream *cs, int timeout_ms)
{
	struct rpc_status st = { 0 };
	struct rpc_buf m = { 0 };
	enum rpc_event ev;

	ev = rpc_client_stream__next(cs, timeout_ms, &m, &st);
	free(m.data);
	assert_int_equal(ev, RPC_EV_CLOSED);
	return st;
}

static void send_str(struct rpc_client_stream *cs, const char *s)
{
	assert_int_equal(rpc_client_stream__send(cs, (const uint8_t *)s, strlen(s)), 0);
}

/* ---- unary ------------------------------------------------------------------------- */

static void test_unary_echo(void **state)
{
	struct fixture *f = *state;
	struct rpc_status st = { 0 };
	struct rpc_buf resp = { 0 };

	assert_int_equal(call(f->ch, M_ECHO, "hello", 2000, &resp, &st), RPC_OK);
	assert_int_equal(st.code, RPC_OK);
	assert_int_equal(resp.len, 5);
	assert_memory_equal(resp.data, "hello", 5);
	free(resp.data);

	/* An empty message is a message. */
	assert_int_equal(rpc_channel__unary(f->ch, M_ECHO, NULL, 0, 2000, &resp, &st), RPC_OK);
	assert_int_equal(resp.len, 0);
	assert_non_null(resp.data);
	free(resp.data);
	assert_int_equal(atomic_load(&seen.off_thread), 0);
}

static void test_unary_unknown_method(void **state)
{
	struct fixture *f = *state;
	struct rpc_status st = { 0 };
	struct rpc_buf resp = { 0 };

	assert_int_equal(call(f->ch, "/test.v1.Svc/Nope", "x", 2000, &resp, &st), RPC_UNIMPLEMENTED);
	assert_int_equal(st.code, RPC_UNIMPLEMENTED);
	assert_null(resp.data);
	/* A stream method called through a stream that does not exist either. */
	assert_int_equal(call(f->ch, "/other.Svc/Echo", "x", 2000, &resp, &st), RPC_UNIMPLEMENTED);
}

static void test_unary_error_reaches_client(void **state)
{
	struct fixture *f = *state;
	struct rpc_status st = { 0 };
	struct rpc_buf resp = { 0 };

	assert_int_equal(call(f->ch, M_FAIL, "bob", 2000, &resp, &st), RPC_PERMISSION_DENIED);
	assert_int_equal(st.code, RPC_PERMISSION_DENIED);
	assert_string_equal(st.message, "rule 'x': not allowed for bob");
	assert_null(resp.data);
}

static void test_unary_deadline(void **state)
{
	struct fixture *f = *state;
	struct rpc_status st = { 0 };
	struct rpc_buf resp = { 0 };
	int64_t t0 = now_ms();

	assert_int_equal(call(f->ch, M_SLEEP, "", 150, &resp, &st), RPC_DEADLINE_EXCEEDED);
	assert_int_equal(st.code, RPC_DEADLINE_EXCEEDED);
	assert_true(now_ms() - t0 < 380);
	assert_null(resp.data);
	/* The server survives answering a call whose client gave up. */
	assert_int_equal(call(f->ch, M_ECHO, "again", 2000, &resp, &st), RPC_OK);
	free(resp.data);
}

static void test_max_message(void **state)
{
	struct fixture *f = *state;
	struct rpc_channel_opts small = { .max_message = 1024 };
	struct rpc_channel *ch_small;
	struct rpc_client_stream *cs;
	struct rpc_status st = { 0 };
	struct rpc_buf resp = { 0 };
	uint8_t *big = calloc(1, SERVER_MAX_MESSAGE + 1);

	assert_non_null(big);
	/* Larger than the server accepts: the core refuses it. */
	assert_int_equal(rpc_channel__unary(f->ch, M_ECHO, big, SERVER_MAX_MESSAGE + 1, 2000, &resp, &st),
			 RPC_RESOURCE_EXHAUSTED);
	assert_null(resp.data);
	/* Exactly the limit goes through. */
	assert_int_equal(rpc_channel__unary(f->ch, M_ECHO, big, SERVER_MAX_MESSAGE - 16, 2000, &resp, &st), RPC_OK);
	assert_int_equal(resp.len, SERVER_MAX_MESSAGE - 16);
	free(resp.data);

	/* A response larger than the client accepts. */
	ch_small = make_channel(f->port, NULL, &small);
	assert_int_equal(call(ch_small, M_BIG, "4096", 2000, &resp, &st), RPC_RESOURCE_EXHAUSTED);
	assert_null(resp.data);
	assert_int_equal(call(ch_small, M_BIG, "512", 2000, &resp, &st), RPC_OK);
	assert_int_equal(resp.len, 512);
	free(resp.data);
	/* A response larger than the server may send. */
	assert_int_equal(call(f->ch, M_BIG, "70000", 2000, &resp, &st), RPC_RESOURCE_EXHAUSTED);

	/* Streams refuse oversized messages at once, on both sides. */
	cs = rpc_client_stream__open(ch_small, M_STREAM);
	assert_non_null(cs);
	assert_int_equal(rpc_client_stream__send(cs, big, 2048), -EMSGSIZE);
	send_str(cs, "big");
	expect_msg(cs, "small");
	assert_int_equal(atomic_load(&seen.big_send_ret), -EMSGSIZE);
	rpc_client_stream__close(cs);
	rpc_channel__free(ch_small);

	/* A stream message over the server's limit ends that stream, and only it. */
	atomic_store(&seen.closes, 0);
	cs = rpc_client_stream__open(f->ch, M_STREAM);
	assert_non_null(cs);
	assert_int_equal(rpc_client_stream__send(cs, big, SERVER_MAX_MESSAGE + 1), 0);
	assert_int_equal(expect_closed(cs, 2000).code, RPC_RESOURCE_EXHAUSTED);
	rpc_client_stream__close(cs);
	assert_true(wait_atleast(&seen.closes, 1, 2000));
	assert_int_equal(call(f->ch, M_ECHO, "fine", 2000, &resp, &st), RPC_OK);
	free(resp.data);
	free(big);
}

/* ---- streams ----------------------------------------------------------------------- */

static void test_stream_echo_order(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_stream *cs;
	char buf[32];

	cs = rpc_client_stream__open(f->ch, M_STREAM);
	assert_non_null(cs);
	/* Queued before anything is connected, sent one at a time, echoed in order. */
	for (int i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "m%d", i);
		send_str(cs, buf);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "m%d", i);
		expect_msg(cs, buf);
	}
	assert_int_equal(atomic_load(&seen.messages), 200);
	assert_int_equal(atomic_load(&seen.opens), 1);
	assert_false(seen.peer.authenticated);
	assert_int_equal(strncmp(seen.peer.address, "ipv4:127.0.0.1:", 15), 0);
	assert_string_equal(seen.peer.identity, "");
	rpc_client_stream__close(cs);
	assert_true(wait_atleast(&seen.closes, 1, 2000));
	assert_int_equal(atomic_load(&seen.off_thread), 0);
}

static void test_stream_server_push_many(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_stream *cs;
	const int n = 3000;
	char buf[32];

	cs = rpc_client_stream__open(f->ch, M_STREAM);
	assert_non_null(cs);
	snprintf(buf, sizeof(buf), "push %d", n);
	send_str(cs, buf);
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "p%06d", i);
		expect_msg(cs, buf);
	}
	/* The handler queued faster than the transport took them. */
	assert_true(atomic_load(&seen.max_queued) > 1);
	/* Nothing more after the last one. */
	assert_int_equal(rpc_client_stream__next(cs, 100, &(struct rpc_buf){ 0 }, NULL), RPC_EV_TIMEOUT);
	rpc_client_stream__close(cs);
}

static void test_stream_client_close(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_stream *cs;

	cs = rpc_client_stream__open(f->ch, M_STREAM);
	assert_non_null(cs);
	send_str(cs, "ping");
	expect_msg(cs, "ping");
	assert_int_equal(atomic_load(&seen.closes), 0);
	rpc_client_stream__close(cs);
	assert_true(wait_atleast(&seen.closes, 1, 2000));
	sleep_ms(100);
	assert_int_equal(atomic_load(&seen.closes), 1);
	assert_int_equal(atomic_load(&seen.opens), 1);
}

static void test_stream_server_finish(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_stream *cs;
	struct rpc_status st;

	cs = rpc_client_stream__open(f->ch, M_STREAM);
	assert_non_null(cs);
	send_str(cs, "finish");
	/* The queued message comes before the status. */
	expect_msg(cs, "bye");
	st = expect_closed(cs, 2000);
	assert_int_equal(st.code, RPC_FAILED_PRECONDITION);
	assert_string_equal(st.message, "done here");
	/* Closed stays closed, and sending is refused. */
	st = expect_closed(cs, 0);
	assert_int_equal(st.code, RPC_FAILED_PRECONDITION);
	assert_int_equal(rpc_client_stream__send(cs, (const uint8_t *)"x", 1), -EPIPE);
	rpc_client_stream__close(cs);
	assert_true(wait_atleast(&seen.closes, 1, 2000));
	sleep_ms(50);
	assert_int_equal(atomic_load(&seen.closes), 1);
}

static void test_stream_refused(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_stream *cs;
	struct rpc_status st;

	cs = rpc_client_stream__open(f->ch, M_REFUSE);
	assert_non_null(cs);
	st = expect_closed(cs, 2000);
	assert_int_equal(st.code, RPC_PERMISSION_DENIED);
	rpc_client_stream__close(cs);
	assert_int_equal(atomic_load(&seen.opens), 1);
	/* A refused stream was never accepted: no on_close for it. */
	sleep_ms(50);
	assert_int_equal(atomic_load(&seen.closes), 0);

	/* An unknown stream method. */
	cs = rpc_client_stream__open(f->ch, "/test.v1.Svc/NoStream");
	assert_non_null(cs);
	st = expect_closed(cs, 2000);
	assert_int_equal(st.code, RPC_UNIMPLEMENTED);
	rpc_client_stream__close(cs);
}

static void test_server_free_closes_streams(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_stream *cs[3];
	struct rpc_status st;
	int64_t t0;

	for (int i = 0; i < 3; i++) {
		cs[i] = rpc_client_stream__open(f->ch, M_STREAM);
		assert_non_null(cs[i]);
		send_str(cs[i], "hi");
		expect_msg(cs[i], "hi");
	}
	t0 = now_ms();
	rpc_server__free(f->srv);
	f->srv = NULL;
	/* Every accepted stream got its on_close before free returned. */
	assert_int_equal(atomic_load(&seen.closes), 3);
	assert_true(now_ms() - t0 < 1500);
	for (int i = 0; i < 3; i++) {
		st = expect_closed(cs[i], 2000);
		assert_int_equal(st.code, RPC_UNAVAILABLE);
		rpc_client_stream__close(cs[i]);
	}
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void test_nothing_listening(void **state)
{
	struct rpc_channel *ch = make_channel(free_port(), NULL, NULL);
	struct rpc_client_stream *cs;
	struct rpc_status st = { 0 };
	struct rpc_buf resp = { 0 };
	int64_t t0 = now_ms();

	cs = rpc_client_stream__open(ch, M_STREAM);
	assert_non_null(cs);
	/* Sending before the failure is known is fine; it just goes nowhere. */
	send_str(cs, "hello?");
	st = expect_closed(cs, 5000);
	assert_int_equal(st.code, RPC_UNAVAILABLE);
	assert_true(now_ms() - t0 < 2000);
	assert_true(strlen(st.message) > 0);
	rpc_client_stream__close(cs);

	t0 = now_ms();
	assert_int_equal(call(ch, M_ECHO, "x", 5000, &resp, &st), RPC_UNAVAILABLE);
	assert_true(now_ms() - t0 < 2000);
	rpc_channel__free(ch);
}

/* ---- the server thread: post and tick ---------------------------------------------- */

struct post_arg {
	int seq;
};

static void post_fn(void *arg)
{
	struct post_arg *a = arg;

	note_thread();
	if (atomic_load(&seen.posts) == a->seq)
		atomic_fetch_add(&seen.posts_in_order, 1);
	atomic_fetch_add(&seen.posts, 1);
	seen.post_ran_ms = now_ms();
	free(a);
}

/* Sends on the last opened stream from the server thread, as a controller would. */
static void post_send(void *arg)
{
	note_thread();
	if (seen.stream)
		assert_int_equal(rpc_stream__send(seen.stream, (const uint8_t *)"pushed", 6), 0);
	atomic_fetch_add(&seen.posts, 1);
}

static void test_post_runs_on_server_thread(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_stream *cs;
	struct rpc_buf resp = { 0 };
	struct post_arg *a;
	int64_t t0;

	/* Learn the server thread from a handler. */
	assert_int_equal(call(f->ch, M_ECHO, "x", 2000, &resp, NULL), RPC_OK);
	free(resp.data);
	assert_true(seen.have_thread);
	assert_false(pthread_equal(seen.server_thread, pthread_self()));

	/* One post: runs promptly (a wake-up, not a poll). */
	sleep_ms(50); /* let the server thread go idle */
	a = calloc(1, sizeof(*a));
	assert_non_null(a);
	t0 = now_ms();
	assert_int_equal(rpc_server__post(f->srv, post_fn, a), 0);
	assert_true(wait_atleast(&seen.posts, 1, 2000));
	assert_true(seen.post_ran_ms - t0 < 200); /* a 1 s poll would miss this */

	/* Many posts: all run, in order, on the server thread. */
	for (int i = 1; i <= 1000; i++) {
		a = calloc(1, sizeof(*a));
		assert_non_null(a);
		a->seq = i;
		assert_int_equal(rpc_server__post(f->srv, post_fn, a), 0);
	}
	assert_true(wait_atleast(&seen.posts, 1001, 3000));
	assert_int_equal(atomic_load(&seen.posts_in_order), 1001);
	assert_int_equal(atomic_load(&seen.off_thread), 0);

	/* A post that sends on a stream reaches the client. */
	cs = rpc_client_stream__open(f->ch, M_STREAM);
	assert_non_null(cs);
	send_str(cs, "hi");
	expect_msg(cs, "hi");
	assert_int_equal(rpc_server__post(f->srv, post_send, NULL), 0);
	expect_msg(cs, "pushed");
	rpc_client_stream__close(cs);
	assert_int_equal(rpc_server__post(f->srv, NULL, NULL), -EINVAL);
}

static void tick_fn(void *arg)
{
	note_thread();
	assert_ptr_equal(arg, &seen);
	atomic_fetch_add(&seen.ticks, 1);
}

static void test_tick(void **state)
{
	struct fixture *f = *state;
	struct rpc_buf resp = { 0 };
	int ticks;

	assert_int_equal(call(f->ch, M_ECHO, "x", 2000, &resp, NULL), RPC_OK);
	free(resp.data);
	assert_int_equal(rpc_server__set_tick(f->srv, 20, tick_fn, &seen), 0);
	sleep_ms(300);
	ticks = atomic_load(&seen.ticks);
	assert_true(ticks >= 5 && ticks <= 16);
	assert_int_equal(rpc_server__set_tick(f->srv, 0, NULL, NULL), 0);
	sleep_ms(30);
	ticks = atomic_load(&seen.ticks);
	sleep_ms(100);
	assert_int_equal(atomic_load(&seen.ticks), ticks);
	assert_int_equal(atomic_load(&seen.off_thread), 0);
	assert_int_equal(rpc_server__set_tick(f->srv, 0, tick_fn, NULL), -EINVAL);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * An idle stream with client pings far more often than gRPC's defaults allow (the core
 * sends at most one a second): the server must neither send the client away for it
 * ("too_many_pings" after 3 pings) nor burn CPU while nothing happens.
 */
static void test_idle_stream_with_pings(void **state)
{
	struct fixture *f = *state;
	struct rpc_channel_opts opts = { .keepalive_ms = 200, .keepalive_timeout_ms = 1000 };
	struct rpc_client_stream *cs;
	struct rpc_channel *ch;
	double cpu;

	ch = make_channel(f->port, NULL, &opts);
	cs = rpc_client_stream__open(ch, M_STREAM);
	assert_non_null(cs);
	send_str(cs, "hi");
	expect_msg(cs, "hi");
	cpu = cpu_seconds();
	assert_int_equal(rpc_client_stream__next(cs, 4500, &(struct rpc_buf){ 0 }, NULL), RPC_EV_TIMEOUT);
	cpu = cpu_seconds() - cpu;
	print_message("idle stream, client and server in one process: %.1f ms CPU per second\n", cpu * 1000 / 4.5);
	assert_true(cpu < 0.035 * 4.5);
	send_str(cs, "still here");
	expect_msg(cs, "still here");
	assert_int_equal(atomic_load(&seen.closes), 0);
	rpc_client_stream__close(cs);
	rpc_channel__free(ch);
}

static void test_addr_in_use(void **state)
{
	struct fixture *f = *state;
	char listen[64];
	struct rpc_server_opts opts = { .listen = listen };
	struct rpc_server *srv;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", f->port);
	srv = rpc_server__new(&opts);
	assert_non_null(srv);
	assert_int_equal(rpc_server__start(srv), -EADDRINUSE);
	rpc_server__free(srv);
	/* A server never started frees cleanly too. */
	rpc_server__free(rpc_server__new(&opts));
	rpc_server__free(NULL);
	rpc_client_stream__close(NULL);
	rpc_channel__free(NULL);
}

/* Seconds until the server closes a TCP connection to port after it got buf, or -1 when
 * it is still open after limit_ms. */
static double closed_after(int port, const char *buf, size_t len, int limit_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 0, 100000 };
	int64_t t0 = now_ms(), end = t0 + limit_ms;
	double ret = -1;
	char junk[256];
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (len)
		assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
	while (now_ms() < end) {
		ssize_t n = recv(fd, junk, sizeof(junk), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			ret = (double)(now_ms() - t0) / 1000.0;
			break;
		}
	}
	close(fd);
	return ret;
}

/* A peer that connects and never finishes the HTTP/2 preface (or sends nothing) is closed
 * after handshake_timeout_ms, not after the core's two minutes; calls still work. */
static void test_handshake_timeout(void **state)
{
	struct rpc_server_opts opts = { .listen = "127.0.0.1:0", .handshake_timeout_ms = 500 };
	struct rpc_buf resp = { 0 };
	struct rpc_status st = { 0 };
	struct rpc_channel *ch;
	struct rpc_server *srv;
	double secs;
	int port;

	srv = rpc_server__new(&opts);
	assert_non_null(srv);
	assert_int_equal(rpc_server__add_unary(srv, M_ECHO, h_echo, NULL), 0);
	port = rpc_server__start(srv);
	assert_true(port > 0);
	secs = closed_after(port, NULL, 0, 5000);
	assert_true(secs >= 0 && secs < 3);
	secs = closed_after(port, "PRI * HT", 8, 5000);
	assert_true(secs >= 0 && secs < 3);
	ch = make_channel(port, NULL, NULL);
	assert_int_equal(call(ch, M_ECHO, "still here", 3000, &resp, &st), RPC_OK);
	free(resp.data);
	rpc_channel__free(ch);
	rpc_server__free(srv);
}

/* ---- keepalive against a frozen peer (child processes) ----------------------------- */

static pid_t spawn_child(const char *mode, const char *arg, int *out_fd)
{
	char self[4096];
	char *argv[4];
	posix_spawn_file_actions_t fa;
	int pipefd[2] = { -1, -1 };
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	argv[0] = self;
	argv[1] = (char *)mode;
	argv[2] = (char *)arg;
	argv[3] = NULL;
	posix_spawn_file_actions_init(&fa);
	if (out_fd) {
		assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	}
	assert_int_equal(posix_spawn(&pid, self, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	if (out_fd) {
		close(pipefd[1]);
		*out_fd = pipefd[0];
	}
	return pid;
}

/* The child of the running test, killed by its teardown even when the test fails. */
static pid_t child_pid;

static int reap_child(void **state)
{
	if (child_pid > 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, NULL, 0);
	}
	child_pid = 0;
	return 0;
}

static void test_keepalive_frozen_client(void **state)
{
	struct rpc_server *srv;
	char port_s[16];
	int port, closes_at;
	int64_t t0;
	pid_t pid;

	reset_seen();
	srv = make_server(NULL, 200, 300, &port);
	snprintf(port_s, sizeof(port_s), "%d", port);
	pid = child_pid = spawn_child("--child-client", port_s, NULL);
	assert_true(wait_atleast(&seen.messages, 1, 5000));
	assert_int_equal(atomic_load(&seen.closes), 0);
	kill(pid, SIGSTOP);
	t0 = now_ms();
	assert_true(wait_atleast(&seen.closes, 1, 5000));
	closes_at = (int)(now_ms() - t0);
	print_message("frozen client's stream closed after %d ms\n", closes_at);
	assert_true(closes_at < 3000);
	reap_child(NULL);
	rpc_server__free(srv);
	assert_int_equal(atomic_load(&seen.closes), 1);
}

static void test_keepalive_frozen_server(void **state)
{
	struct rpc_channel_opts opts = { .keepalive_ms = 200, .keepalive_timeout_ms = 300 };
	struct rpc_client_stream *cs;
	struct rpc_channel *ch;
	struct rpc_status st;
	char line[32] = "";
	int fd, port;
	ssize_t n;
	int64_t t0;
	pid_t pid;

	pid = child_pid = spawn_child("--child-server", NULL, &fd);
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	assert_true(n > 0);
	port = atoi(line);
	assert_true(port > 0);
	ch = make_channel(port, NULL, &opts);
	cs = rpc_client_stream__open(ch, M_STREAM);
	assert_non_null(cs);
	send_str(cs, "are you there");
	expect_msg(cs, "are you there");
	kill(pid, SIGSTOP);
	t0 = now_ms();
	st = expect_closed(cs, 5000);
	print_message("frozen server noticed after %d ms: %s\n", (int)(now_ms() - t0), st.message);
	assert_int_equal(st.code, RPC_UNAVAILABLE);
	assert_true(now_ms() - t0 < 3000);
	rpc_client_stream__close(cs);
	rpc_channel__free(ch);
	reap_child(NULL);
}

static int child_client(const char *port)
{
	struct rpc_client_stream *cs;
	struct rpc_channel *ch;
	char target[64];

	snprintf(target, sizeof(target), "127.0.0.1:%s", port);
	ch = rpc_channel__new(target, NULL, NULL);
	cs = ch ? rpc_client_stream__open(ch, M_STREAM) : NULL;
	if (!cs)
		return 1;
	rpc_client_stream__send(cs, (const uint8_t *)"child", 5);
	for (;;) {
		struct rpc_buf m = { 0 };

		if (rpc_client_stream__next(cs, 1000, &m, NULL) == RPC_EV_CLOSED)
			return 1;
		free(m.data);
	}
}

static int child_server(void)
{
	int port;

	reset_seen();
	make_server(NULL, 0, 0, &port);
	printf("%d\n", port);
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

/* ---- mTLS -------------------------------------------------------------------------- */

struct pki {
	char dir[64];
};

static char pki_paths[16][128];
static int pki_n;
static struct pki pki; /* removed by the teardown, even when the test fails */

static const char *pki_path(const struct pki *p, const char *name)
{
	char *out = pki_paths[pki_n++ % 16];

	snprintf(out, sizeof(pki_paths[0]), "%s/%s", p->dir, name);
	return out;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

#define EC "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

/* A CA (and a second, foreign one), a server cert for 127.0.0.1/localhost, and client
 * certs: node-1 in group sluice:agent from the CA, intruder from the foreign CA. */
static void make_pki(struct pki *p)
{
	const char *d = p->dir;

	strcpy(p->dir, "/tmp/sluice-rpc-test-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.crt -days 1 -subj /CN=test-ca 2>/dev/null", d, EC);
	sh("cd %s && openssl req -x509 %s -keyout other.key -out other.crt -days 1 -subj /CN=other-ca 2>/dev/null",
	   d, EC);
	sh("cd %s && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > srv.ext &&"
	   " printf 'extendedKeyUsage=clientAuth\\n' > cli.ext", d);
	sh("cd %s && openssl req %s -keyout server.key -out server.csr -subj /CN=controller 2>/dev/null &&"
	   " openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1"
	   " -extfile srv.ext -out server.crt 2>/dev/null", d, EC);
	sh("cd %s && openssl req %s -keyout node.key -out node.csr -subj '/O=sluice:agent/CN=node-1' 2>/dev/null &&"
	   " openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1"
	   " -extfile cli.ext -out node.crt 2>/dev/null", d, EC);
	sh("cd %s && openssl req %s -keyout bad.key -out bad.csr -subj '/O=sluice:admin/CN=intruder' 2>/dev/null &&"
	   " openssl x509 -req -in bad.csr -CA other.crt -CAkey other.key -CAcreateserial -days 1"
	   " -extfile cli.ext -out bad.crt 2>/dev/null", d, EC);
}

static void test_mtls(void **state)
{
	struct rpc_channel_opts by_name = { .target_name_override = "localhost" };
	struct rpc_tls srv_tls, node_tls, nocert_tls, bad_tls;
	struct rpc_channel *ch, *ch2;
	struct rpc_client_stream *cs;
	struct rpc_server *srv;
	struct rpc_status st = { 0 };
	struct rpc_buf resp = { 0 };
	struct pki *p = &pki;
	int port;

	reset_seen();
	make_pki(p);
	srv_tls = (struct rpc_tls){ pki_path(p, "server.crt"), pki_path(p, "server.key"), pki_path(p, "ca.crt") };
	node_tls = (struct rpc_tls){ pki_path(p, "node.crt"), pki_path(p, "node.key"), pki_path(p, "ca.crt") };
	nocert_tls = (struct rpc_tls){ NULL, NULL, pki_path(p, "ca.crt") };
	bad_tls = (struct rpc_tls){ pki_path(p, "bad.crt"), pki_path(p, "bad.key"), pki_path(p, "ca.crt") };
	srv = make_server(&srv_tls, 0, 0, &port);

	/* The server sees who called: CN = identity, O = group. */
	ch = make_channel(port, &node_tls, NULL);
	assert_int_equal(call(ch, M_WHOAMI, "", 3000, &resp, &st), RPC_OK);
	assert_int_equal(resp.len, strlen("node-1|sluice:agent|1"));
	assert_memory_equal(resp.data, "node-1|sluice:agent|1", resp.len);
	free(resp.data);
	assert_true(seen.peer.authenticated);
	assert_int_equal(strncmp(seen.peer.address, "ipv4:127.0.0.1:", 15), 0);

	/* Streams get the same peer. */
	memset(&seen.peer, 0, sizeof(seen.peer));
	cs = rpc_client_stream__open(ch, M_STREAM);
	assert_non_null(cs);
	send_str(cs, "secure");
	expect_msg(cs, "secure");
	pthread_mutex_lock(&seen.lock);
	assert_string_equal(seen.peer.identity, "node-1");
	assert_string_equal(seen.peer.group, "sluice:agent");
	assert_true(seen.peer.authenticated);
	pthread_mutex_unlock(&seen.lock);
	rpc_client_stream__close(cs);
	rpc_channel__free(ch);

	/* The server certificate also checks out by name. */
	ch = make_channel(port, &node_tls, &by_name);
	assert_int_equal(call(ch, M_ECHO, "x", 3000, &resp, &st), RPC_OK);
	free(resp.data);
	rpc_channel__free(ch);

	/* No client certificate, a foreign CA, or plaintext: UNAVAILABLE, no handler runs. */
	atomic_store(&seen.opens, 0);
	ch = make_channel(port, &nocert_tls, NULL);
	assert_int_equal(call(ch, M_WHOAMI, "", 3000, &resp, &st), RPC_UNAVAILABLE);
	cs = rpc_client_stream__open(ch, M_STREAM);
	assert_non_null(cs);
	assert_int_equal(expect_closed(cs, 3000).code, RPC_UNAVAILABLE);
	rpc_client_stream__close(cs);
	rpc_channel__free(ch);
	ch = make_channel(port, &bad_tls, NULL);
	assert_int_equal(call(ch, M_WHOAMI, "", 3000, &resp, &st), RPC_UNAVAILABLE);
	rpc_channel__free(ch);
	ch = make_channel(port, NULL, NULL);
	assert_int_equal(call(ch, M_WHOAMI, "", 3000, &resp, &st), RPC_UNAVAILABLE);
	rpc_channel__free(ch);
	assert_int_equal(atomic_load(&seen.opens), 0);

	/* A name the server certificate does not carry. */
	by_name.target_name_override = "not-the-controller";
	ch2 = make_channel(port, &node_tls, &by_name);
	assert_int_equal(call(ch2, M_ECHO, "x", 3000, &resp, &st), RPC_UNAVAILABLE);
	rpc_channel__free(ch2);

	/* Missing files fail early with an errno. */
	node_tls.key_file = "/nonexistent/key.pem";
	assert_null(rpc_channel__new("127.0.0.1:1", &node_tls, NULL));
	assert_int_equal(errno, ENOENT);

	rpc_server__free(srv);
}

static int remove_pki(void **state)
{
	if (pki.dir[0])
		sh("rm -rf -- '%s'", pki.dir);
	pki.dir[0] = '\0';
	return 0;
}

/* ---- codes ------------------------------------------------------------------------- */

static void test_codes(void **state)
{
	assert_string_equal(rpc_code__name(RPC_OK), "OK");
	assert_string_equal(rpc_code__name(RPC_UNAVAILABLE), "UNAVAILABLE");
	assert_string_equal(rpc_code__name(RPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(rpc_code__name((enum rpc_code)99), "UNKNOWN");
	assert_int_equal(rpc_code__from_errno(0), RPC_OK);
	assert_int_equal(rpc_code__from_errno(-EINVAL), RPC_INVALID_ARGUMENT);
	assert_int_equal(rpc_code__from_errno(-ENOENT), RPC_NOT_FOUND);
	assert_int_equal(rpc_code__from_errno(-EEXIST), RPC_ALREADY_EXISTS);
	assert_int_equal(rpc_code__from_errno(-EACCES), RPC_PERMISSION_DENIED);
	assert_int_equal(rpc_code__from_errno(-ENOMEM), RPC_RESOURCE_EXHAUSTED);
	assert_int_equal(rpc_code__from_errno(-ETIMEDOUT), RPC_DEADLINE_EXCEEDED);
	assert_int_equal(rpc_code__from_errno(-ECONNREFUSED), RPC_UNAVAILABLE);
	assert_int_equal(rpc_code__from_errno(ENOSYS), RPC_UNIMPLEMENTED);
	assert_int_equal(rpc_code__from_errno(-EIO), RPC_INTERNAL);
	assert_int_equal(rpc_code__from_errno(-ENOTTY), RPC_UNKNOWN);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test_setup_teardown(test_unary_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unary_unknown_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unary_error_reaches_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unary_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_echo_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_server_push_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_client_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_server_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_free_closes_streams, setup, teardown),
		cmocka_unit_test(test_nothing_listening),
		cmocka_unit_test_setup_teardown(test_post_runs_on_server_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_stream_with_pings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addr_in_use, setup, teardown),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test_teardown(test_keepalive_frozen_client, reap_child),
		cmocka_unit_test_teardown(test_keepalive_frozen_server, reap_child),
		cmocka_unit_test_teardown(test_mtls, remove_pki),
	};
	int ret;

	log__init("test_rpc", getenv("SLUICE_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	pthread_mutex_init(&seen.lock, NULL);
	if (argc > 1 && !strncmp(argv[1], "--child-", 8))
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
	rpc__init();
	if (argc == 3 && !strcmp(argv[1], "--child-client"))
		return child_client(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "--child-server"))
		return child_server();
	if (getenv("SLUICE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SLUICE_TEST_FILTER"));
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rpc__shutdown();
	return ret;
}
