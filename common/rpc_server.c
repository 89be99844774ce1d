// SPDX-License-Identifier: Apache-2.0
/*
 * rpc_server.c — the gRPC server of rpc.h: one thread drives one completion queue and
 * runs every handler, posted function and tick.
 *
 * Every call, unary or streaming, has one context (struct rpc_stream) with a reference
 * per outstanding batch plus one while the server thread works on it; the grpc_call is
 * released only when the last reference goes. Each call first arms RECV_CLOSE_ON_SERVER,
 * whose completion means the call is over (and, for an accepted stream, runs on_close).
 * Sends go through a queue with one batch in flight; the status goes out with, or after,
 * the last queued message.
 *
 * Other threads reach the server thread through rpc_server__post(): a locked queue plus a
 * wake-up. The core has no public alarm, so a wake-up is a call on a lame channel whose
 * immediate failure lands on our completion queue; at most one is in flight.
 *
 * TLS goes through the core's certificate config fetcher, which the core asks before
 * every handshake: rpc_server__reload_tls() stages a new config from the files and the
 * next handshake takes it, while connections already up (and their streams) keep theirs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/rpc_internal.h"

/* How long open calls get to end by themselves before rpc_server__free cancels them. */
#define SHUTDOWN_GRACE_MS 1000
/* The longest the server thread sleeps without a reason to wake (a safety net only). */
#define IDLE_WAIT_MS 1000

struct method {
	char *path;
	rpc_unary_fn unary; /* NULL: a streaming method, see ops */
	struct rpc_stream_ops ops;
	void *user;
};

struct post {
	struct post *next;
	void (*fn)(void *arg);
	void *arg;
};

/* One call: unary or stream, from request_call until its last batch completes. */
struct rpc_stream {
	struct rpc_server *srv;
	struct rpc_stream *prev, *next; /* srv->live */
	int refs;                       /* outstanding batches + the thread's working ref */
	grpc_call *call;                /* NULL while waiting in request_call */
	grpc_call_details details;
	grpc_metadata_array md;
	const struct method *m;         /* NULL: unknown method */
	/* Who called, until the handler has seen it: a stream's on_open, a unary's handler.
	 * Not kept for the stream's life: 10,000 agent streams would hold 6 MB of it. */
	struct rpc_peer *peer;
	struct timespec started;        /* when the call arrived (for on_call_done) */
	void *stream_user;
	struct rpc_tag t_request, t_close, t_recv, t_send;
	int cancelled;                  /* RECV_CLOSE_ON_SERVER: ended without our status */
	grpc_byte_buffer *recv_bb;
	grpc_byte_buffer *send_bb;      /* the message in flight */
	struct rpc_sendq q;
	grpc_status_code status;
	grpc_slice status_details;
	bool accepted;    /* on_open said yes: on_close is owed */
	bool closed;      /* RECV_CLOSE_ON_SERVER completed */
	bool broken;      /* a send failed: nothing more goes out */
	bool send_busy;   /* a SEND_* batch is in flight */
	bool md_sent;     /* initial metadata is on its way */
	bool finishing;   /* status set, goes out when the queue is empty */
	bool status_sent;
};

struct rpc_server {
	/* Set before start, read-only afterwards. */
	char *listen;
	char *tls_files[3]; /* cert, key, CA; NULL: plaintext */
	int max_message;
	int keepalive_ms;
	int keepalive_timeout_ms;
	int handshake_timeout_ms;
	void (*on_call_done)(void *arg, const char *method, bool streaming, enum rpc_code code, double seconds);
	void *on_call_arg;
	enum rpc_code (*authorize)(void *arg, const struct rpc_peer *peer, const char *method, char *why,
				   size_t why_len);
	void *authorize_arg;
	struct method *methods;
	size_t n_methods;
	bool started;

	grpc_server *server;
	grpc_completion_queue *cq;
	grpc_channel *lame; /* wake-ups */
	pthread_t thread;

	/* Server thread only. */
	struct rpc_stream *live; /* every call context, including the one waiting for a call */
	size_t n_live;
	bool shutting_down;
	bool shutdown_done;
	bool cancelled_all;
	int64_t cancel_at;
	struct rpc_tag t_shutdown, t_wake;

	/* TLS config staged by rpc_server__reload_tls() for the fetcher (any core thread). */
	pthread_mutex_t tls_lock;
	grpc_ssl_server_certificate_config *tls_next;

	/* Under lock. */
	pthread_mutex_t lock;
	struct post *posts, **posts_tail;
	bool running; /* the thread exists: wake it for posts */
	bool stop;    /* rpc_server__free asked the thread to finish */
	bool dead;    /* the thread finished: posts are refused */
	grpc_call *wake_call; /* the wake-up in flight, if any */
	grpc_metadata_array wake_md;
	grpc_status_code wake_status;
	grpc_slice wake_details;
	int tick_ms;
	void (*tick_fn)(void *arg);
	void *tick_arg;
	int64_t next_tick;
};

/* ---- call contexts ----------------------------------------------------------------- */

static void stream_put(struct rpc_stream *s)
{
	struct rpc_server *srv = s->srv;

	if (--s->refs > 0)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->live = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->n_live--;
	if (s->call)
		grpc_call_unref(s->call);
	grpc_call_details_destroy(&s->details);
	grpc_metadata_array_destroy(&s->md);
	rpc_sendq__clear(&s->q);
	if (s->send_bb)
		grpc_byte_buffer_destroy(s->send_bb);
	if (s->recv_bb)
		grpc_byte_buffer_destroy(s->recv_bb);
	grpc_slice_unref(s->status_details);
	free(s->peer);
	free(s);
}

/* Starts a batch that holds a reference until its tag comes back. 0 or -EIO. */
static int stream_batch(struct rpc_stream *s, const grpc_op *ops, size_t n, struct rpc_tag *tag)
{
	grpc_call_error ce;

	s->refs++;
	ce = grpc_call_start_batch(s->call, ops, n, tag, NULL);
	if (ce == GRPC_CALL_OK)
		return 0;
	s->refs--;
	pr_err("rpc: %.*s: cannot start a batch: %s", (int)GRPC_SLICE_LENGTH(s->details.method),
	       (const char *)GRPC_SLICE_START_PTR(s->details.method), grpc_call_error_to_string(ce));
	grpc_call_cancel(s->call, NULL);
	return -EIO;
}

/*
 * Issues the next send if none is in flight: initial metadata if not sent yet, the oldest
 * queued message, and the status once the queue is empty and a status was set.
 */
static void pump(struct rpc_stream *s)
{
	grpc_op ops[3];
	size_t n = 0;

	if (s->send_busy || s->closed || s->broken)
		return;
	memset(ops, 0, sizeof(ops));
	if (!s->md_sent)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (s->q.len) {
		s->send_bb = rpc_sendq__pop(&s->q);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = s->send_bb;
	}
	if (s->finishing && !s->status_sent && !s->q.len) {
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = s->status;
		ops[n++].data.send_status_from_server.status_details = &s->status_details;
	}
	if (!n)
		return;
	if (stream_batch(s, ops, n, &s->t_send)) {
		s->broken = true;
		return;
	}
	s->send_busy = true;
	s->md_sent = true;
	if (s->finishing && !s->q.len)
		s->status_sent = true;
}

static void set_status(struct rpc_stream *s, enum rpc_code code, const char *message)
{
	if (s->closed || s->finishing)
		return;
	if ((unsigned)code > RPC_UNAUTHENTICATED)
		code = RPC_UNKNOWN;
	s->finishing = true;
	s->status = (grpc_status_code)code;
	grpc_slice_unref(s->status_details);
	s->status_details = grpc_slice_from_copied_string(message ? message : "");
	pump(s);
}

static void arm_recv(struct rpc_stream *s)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &s->recv_bb;
	stream_batch(s, &op, 1, &s->t_recv);
}

/* The received message as one contiguous slice (the caller unrefs it). */
static int bb_slice(grpc_byte_buffer *bb, grpc_slice *out)
{
	grpc_byte_buffer_reader reader;

	if (!grpc_byte_buffer_reader_init(&reader, bb))
		return -EBADMSG;
	*out = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	return 0;
}

/* ---- call events ------------------------------------------------------------------- */

static void request_next(struct rpc_server *srv);

static const struct method *find_method(const struct rpc_server *srv, grpc_slice path)
{
	for (size_t i = 0; i < srv->n_methods; i++) {
		const char *p = srv->methods[i].path;

		if (strlen(p) == GRPC_SLICE_LENGTH(path) && !memcmp(p, GRPC_SLICE_START_PTR(path), strlen(p)))
			return &srv->methods[i];
	}
	return NULL;
}

static void accept_stream(struct rpc_stream *s)
{
	const struct method *m = s->m;
	int ret = 0;

	if (m->ops.on_open)
		ret = m->ops.on_open(m->user, s, s->peer, &s->stream_user);
	free(s->peer);
	s->peer = NULL;
	if (ret) {
		set_status(s, ret < 0 ? rpc_code__from_errno(ret) : (enum rpc_code)ret, "stream refused");
		return;
	}
	s->accepted = true;
	pump(s); /* headers now, so the client sees the stream is up */
	arm_recv(s);
}

/* Asks the authorize hook about the call: RPC_OK lets it through. */
static enum rpc_code authorize(struct rpc_stream *s, char *why, size_t len)
{
	struct rpc_server *srv = s->srv;
	char method[256];
	enum rpc_code code;

	if (!srv->authorize)
		return RPC_OK;
	rpc_slice__copy(method, sizeof(method), s->details.method);
	why[0] = '\0';
	code = srv->authorize(srv->authorize_arg, s->peer, method, why, len);
	if (code != RPC_OK && !why[0])
		snprintf(why, len, "not allowed");
	return code;
}

/* A new call arrived (ok), or the server is shutting down (!ok). */
static void on_request(struct rpc_stream *s, bool ok)
{
	struct rpc_server *srv = s->srv;
	enum rpc_code code;
	char why[512];
	grpc_op op;

	if (!ok || !s->call)
		goto cleanup;
	if (!srv->shutting_down)
		request_next(srv);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &s->cancelled;
	if (stream_batch(s, &op, 1, &s->t_close))
		goto cleanup;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->peer = malloc(sizeof(*s->peer));
	if (!s->peer) {
		set_status(s, RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto cleanup;
	}
	rpc_peer__fill(s->call, s->peer);
	s->m = find_method(srv, s->details.method);
	if (srv->shutting_down) {
		set_status(s, RPC_UNAVAILABLE, "server shutting down");
	} else if ((code = authorize(s, why, sizeof(why))) != RPC_OK) {
		set_status(s, code, why);
	} else if (!s->m) {
		pr_debug("rpc: %s called unknown method %.*s", s->peer->address,
			 (int)GRPC_SLICE_LENGTH(s->details.method),
			 (const char *)GRPC_SLICE_START_PTR(s->details.method));
		set_status(s, RPC_UNIMPLEMENTED, "unknown method");
	} else if (s->m->unary) {
		arm_recv(s);
	} else {
		accept_stream(s);
	}
cleanup:
	stream_put(s);
}

/* Tells the on_call_done hook how the call ended. */
static void report_call(struct rpc_stream *s)
{
	struct rpc_server *srv = s->srv;
	enum rpc_code code = s->cancelled ? RPC_CANCELLED : s->finishing ? (enum rpc_code)s->status : RPC_UNKNOWN;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	srv->on_call_done(srv->on_call_arg, s->m ? s->m->path : NULL, s->m && !s->m->unary, code,
			  (double)(now.tv_sec - s->started.tv_sec) + (double)(now.tv_nsec - s->started.tv_nsec) / 1e9);
}

static void on_close(struct rpc_stream *s)
{
	const struct method *m = s->m;

	if (s->srv->on_call_done)
		report_call(s);
	s->closed = true;
	rpc_sendq__clear(&s->q);
	if (s->accepted) {
		s->accepted = false;
		if (m->ops.on_close)
			m->ops.on_close(m->user, s, s->stream_user);
	}
	stream_put(s);
}

static void run_unary(struct rpc_stream *s, grpc_byte_buffer *bb)
{
	const struct method *m = s->m;
	struct rpc_buf resp = { NULL, 0 };
	char errmsg[512] = "";
	enum rpc_code code;
	grpc_slice req;

	if (bb_slice(bb, &req)) {
		set_status(s, RPC_INVALID_ARGUMENT, "cannot read the request message");
		return;
	}
	code = m->unary(m->user, s->peer, GRPC_SLICE_START_PTR(req), GRPC_SLICE_LENGTH(req), &resp, errmsg,
			sizeof(errmsg));
	grpc_slice_unref(req);
	if (code == RPC_OK && resp.len > (size_t)s->srv->max_message) {
		pr_err("rpc: response of %zu bytes exceeds the %d-byte message limit", resp.len,
		       s->srv->max_message);
		code = RPC_RESOURCE_EXHAUSTED;
		snprintf(errmsg, sizeof(errmsg), "response too large");
	}
	if (code == RPC_OK && rpc_sendq__push(&s->q, resp.data, resp.len)) {
		code = RPC_RESOURCE_EXHAUSTED;
		snprintf(errmsg, sizeof(errmsg), "out of memory");
	}
	free(resp.data);
	set_status(s, code, code == RPC_OK ? "" : errmsg);
}

static void on_recv(struct rpc_stream *s, bool ok)
{
	const struct method *m = s->m;
	grpc_byte_buffer *bb = s->recv_bb;
	grpc_slice msg;

	s->recv_bb = NULL;
	if (!ok || s->closed || s->finishing) {
		/* The call is ending, or we already answered: drop what came in. */
	} else if (m->unary) {
		if (bb)
			run_unary(s, bb);
		else
			set_status(s, RPC_INVALID_ARGUMENT, "no request message");
	} else if (!bb) {
		/* The peer sends no more (half-close, or a cancel on its way); the stream stays
		 * open for our sends until the status goes out or RECV_CLOSE says it is over. */
		pr_debug("rpc: %.*s: the peer sends no more messages on its stream",
			 (int)GRPC_SLICE_LENGTH(s->details.method), (const char *)GRPC_SLICE_START_PTR(s->details.method));
	} else if (bb_slice(bb, &msg)) {
		set_status(s, RPC_INVALID_ARGUMENT, "cannot read a message");
	} else {
		if (m->ops.on_message)
			m->ops.on_message(m->user, s, s->stream_user, GRPC_SLICE_START_PTR(msg),
					  GRPC_SLICE_LENGTH(msg));
		grpc_slice_unref(msg);
		if (!s->closed)
			arm_recv(s);
	}
	if (bb)
		grpc_byte_buffer_destroy(bb);
	stream_put(s);
}

static void on_send(struct rpc_stream *s, bool ok)
{
	if (s->send_bb) {
		grpc_byte_buffer_destroy(s->send_bb);
		s->send_bb = NULL;
	}
	s->send_busy = false;
	if (!ok) {
		s->broken = true;
		rpc_sendq__clear(&s->q);
	} else {
		pump(s);
	}
	stream_put(s);
}

/* Keeps one request_call outstanding, so the core hands us the next new call. */
static void request_next(struct rpc_server *srv)
{
	struct rpc_stream *s;
	grpc_call_error ce;

	s = calloc(1, sizeof(*s));
	if (!s) {
		pr_err("rpc: out of memory: no longer accepting calls");
		return;
	}
	s->srv = srv;
	s->refs = 1;
	s->t_request.kind = RPC_TAG_REQUEST;
	s->t_close.kind = RPC_TAG_CLOSE;
	s->t_recv.kind = RPC_TAG_RECV;
	s->t_send.kind = RPC_TAG_SEND;
	s->status_details = grpc_empty_slice();
	grpc_call_details_init(&s->details);
	grpc_metadata_array_init(&s->md);
	s->next = srv->live;
	if (srv->live)
		srv->live->prev = s;
	srv->live = s;
	srv->n_live++;
	ce = grpc_server_request_call(srv->server, &s->call, &s->details, &s->md, srv->cq, srv->cq, &s->t_request);
	if (ce != GRPC_CALL_OK) {
		pr_err("rpc: cannot request calls: %s", grpc_call_error_to_string(ce));
		stream_put(s);
	}
}

/* ---- the server thread ------------------------------------------------------------- */

/* Caller holds srv->lock. A lame channel fails every call at once: its end wakes us. */
static void wake_locked(struct rpc_server *srv)
{
	grpc_call_error ce;
	grpc_op ops[2];

	if (!srv->running || srv->dead || srv->wake_call || !srv->lame)
		return;
	srv->wake_call = grpc_channel_create_call(srv->lame, NULL, GRPC_PROPAGATE_DEFAULTS, srv->cq,
						  grpc_slice_from_static_string("/sluice.rpc/Wake"), NULL,
						  gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
	if (!srv->wake_call)
		return; /* the thread still wakes within IDLE_WAIT_MS */
	memset(ops, 0, sizeof(ops));
	grpc_metadata_array_init(&srv->wake_md);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[1].data.recv_status_on_client.trailing_metadata = &srv->wake_md;
	ops[1].data.recv_status_on_client.status = &srv->wake_status;
	ops[1].data.recv_status_on_client.status_details = &srv->wake_details;
	ce = grpc_call_start_batch(srv->wake_call, ops, 2, &srv->t_wake, NULL);
	if (ce != GRPC_CALL_OK) {
		pr_warn("rpc: wake-up failed: %s", grpc_call_error_to_string(ce));
		grpc_call_unref(srv->wake_call);
		grpc_metadata_array_destroy(&srv->wake_md);
		srv->wake_call = NULL;
	}
}

static void on_wake(struct rpc_server *srv)
{
	/* The poster held the lock across start_batch: once we hold it, it has returned. */
	pthread_mutex_lock(&srv->lock);
	grpc_call_unref(srv->wake_call);
	srv->wake_call = NULL;
	grpc_metadata_array_destroy(&srv->wake_md);
	grpc_slice_unref(srv->wake_details);
	pthread_mutex_unlock(&srv->lock);
}

static void dispatch(struct rpc_server *srv, struct rpc_tag *tag, bool ok)
{
	switch (tag->kind) {
	case RPC_TAG_REQUEST:
		on_request(rpc_container_of(tag, struct rpc_stream, t_request), ok);
		break;
	case RPC_TAG_CLOSE:
		on_close(rpc_container_of(tag, struct rpc_stream, t_close));
		break;
	case RPC_TAG_RECV:
		on_recv(rpc_container_of(tag, struct rpc_stream, t_recv), ok);
		break;
	case RPC_TAG_SEND:
		on_send(rpc_container_of(tag, struct rpc_stream, t_send), ok);
		break;
	case RPC_TAG_WAKE:
		on_wake(srv);
		break;
	case RPC_TAG_SHUTDOWN:
		srv->shutdown_done = true;
		break;
	default:
		pr_err("rpc: unexpected completion tag %d", (int)tag->kind);
		abort();
	}
}

static void run_posts(struct post *p)
{
	while (p) {
		struct post *next = p->next;

		p->fn(p->arg);
		free(p);
		p = next;
	}
}

/*
 * One step of the shutdown: the first time, ends every accepted stream with UNAVAILABLE
 * (after its queued messages) and stops accepting; after the grace period, cancels what
 * is left. True once the core confirmed and every call context is gone; from then on
 * posts are refused and the last queued ones have run.
 */
static bool shutdown_step(struct rpc_server *srv, int64_t now)
{
	struct post *posts;

	if (!srv->shutting_down) {
		srv->shutting_down = true;
		for (struct rpc_stream *s = srv->live; s; s = s->next)
			if (s->accepted)
				set_status(s, RPC_UNAVAILABLE, "server shutting down");
		grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->t_shutdown);
		srv->cancel_at = now + SHUTDOWN_GRACE_MS;
	}
	if (!srv->cancelled_all && now >= srv->cancel_at) {
		pr_debug("rpc: cancelling %zu calls still open after the grace period", srv->n_live);
		grpc_server_cancel_all_calls(srv->server);
		srv->cancelled_all = true;
	}
	if (!srv->shutdown_done || srv->n_live)
		return false;
	pthread_mutex_lock(&srv->lock);
	if (srv->wake_call) {
		pthread_mutex_unlock(&srv->lock);
		return false;
	}
	srv->dead = true;
	posts = srv->posts;
	srv->posts = NULL;
	srv->posts_tail = &srv->posts;
	pthread_mutex_unlock(&srv->lock);
	run_posts(posts);
	return true;
}

static void *server_main(void *arg)
{
	struct rpc_server *srv = arg;
	void (*tick_fn)(void *);
	struct post *posts;
	void *tick_arg;
	grpc_event ev;
	int64_t now, wait;
	bool stop;

	for (;;) {
		now = rpc_now_ms();
		tick_fn = NULL;
		tick_arg = NULL;
		wait = IDLE_WAIT_MS;
		pthread_mutex_lock(&srv->lock);
		posts = srv->posts;
		srv->posts = NULL;
		srv->posts_tail = &srv->posts;
		stop = srv->stop;
		if (srv->tick_fn) {
			if (now >= srv->next_tick) {
				tick_fn = srv->tick_fn;
				tick_arg = srv->tick_arg;
				srv->next_tick += srv->tick_ms;
				if (srv->next_tick <= now)
					srv->next_tick = now + srv->tick_ms;
			}
			if (srv->next_tick - now < wait)
				wait = srv->next_tick - now;
		}
		pthread_mutex_unlock(&srv->lock);

		run_posts(posts);
		if (tick_fn)
			tick_fn(tick_arg);
		if (stop) {
			if (shutdown_step(srv, now))
				break;
			if (!srv->cancelled_all && srv->cancel_at - now < wait)
				wait = srv->cancel_at - now;
		}
		ev = grpc_completion_queue_next(srv->cq, rpc_deadline(wait < 0 ? 0 : (int)wait), NULL);
		if (ev.type == GRPC_OP_COMPLETE)
			dispatch(srv, ev.tag, ev.success);
	}
	return NULL;
}

/* ---- public API -------------------------------------------------------------------- */

struct rpc_server *rpc_server__new(const struct rpc_server_opts *opts)
{
	struct rpc_server *srv;

	if (!opts || !opts->listen) {
		errno = EINVAL;
		return NULL;
	}
	if (opts->tls && (!opts->tls->cert_file || !opts->tls->key_file || !opts->tls->ca_file)) {
		pr_err("rpc: TLS needs a certificate, its key and a CA");
		errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->listen = strdup(opts->listen);
	if (!srv->listen)
		goto cleanup;
	if (opts->tls) {
		srv->tls_files[0] = strdup(opts->tls->cert_file);
		srv->tls_files[1] = strdup(opts->tls->key_file);
		srv->tls_files[2] = strdup(opts->tls->ca_file);
		if (!srv->tls_files[0] || !srv->tls_files[1] || !srv->tls_files[2])
			goto cleanup;
	}
	srv->max_message = rpc_max_message(opts->max_message);
	srv->keepalive_ms = opts->keepalive_ms > 0 ? opts->keepalive_ms : 2000;
	srv->keepalive_timeout_ms = opts->keepalive_timeout_ms > 0 ? opts->keepalive_timeout_ms : 3000;
	srv->handshake_timeout_ms = opts->handshake_timeout_ms > 0 ? opts->handshake_timeout_ms : 10000;
	srv->on_call_done = opts->on_call_done;
	srv->on_call_arg = opts->on_call_arg;
	srv->authorize = opts->authorize;
	srv->authorize_arg = opts->authorize_arg;
	srv->t_shutdown.kind = RPC_TAG_SHUTDOWN;
	srv->t_wake.kind = RPC_TAG_WAKE;
	srv->posts_tail = &srv->posts;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->tls_lock, NULL);
	return srv;
cleanup:
	for (int i = 0; i < 3; i++)
		free(srv->tls_files[i]);
	free(srv->listen);
	free(srv);
	errno = ENOMEM;
	return NULL;
}

static int add_method(struct rpc_server *srv, const char *path, rpc_unary_fn fn, const struct rpc_stream_ops *ops,
		      void *user)
{
	struct method *m;

	if (!srv || !path || path[0] != '/' || (!fn && !ops))
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	for (size_t i = 0; i < srv->n_methods; i++)
		if (!strcmp(srv->methods[i].path, path))
			return -EEXIST;
	m = realloc(srv->methods, (srv->n_methods + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	srv->methods = m;
	m = &srv->methods[srv->n_methods];
	memset(m, 0, sizeof(*m));
	m->path = strdup(path);
	if (!m->path)
		return -ENOMEM;
	m->unary = fn;
	if (ops)
		m->ops = *ops;
	m->user = user;
	srv->n_methods++;
	return 0;
}

int rpc_server__add_unary(struct rpc_server *srv, const char *method, rpc_unary_fn fn, void *user)
{
	if (!fn)
		return -EINVAL;
	return add_method(srv, method, fn, NULL, user);
}

int rpc_server__add_stream(struct rpc_server *srv, const char *method, const struct rpc_stream_ops *ops, void *user)
{
	if (!ops)
		return -EINVAL;
	return add_method(srv, method, NULL, ops, user);
}

/* The core asks before each handshake: hands over a staged config, if any. */
static grpc_ssl_certificate_config_reload_status fetch_tls(void *arg, grpc_ssl_server_certificate_config **config)
{
	struct rpc_server *srv = arg;
	grpc_ssl_certificate_config_reload_status ret = GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;

	pthread_mutex_lock(&srv->tls_lock);
	if (srv->tls_next) {
		*config = srv->tls_next; /* the core owns it now */
		srv->tls_next = NULL;
		ret = GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
	}
	pthread_mutex_unlock(&srv->tls_lock);
	return ret;
}

int rpc_server__reload_tls(struct rpc_server *srv, char *err, size_t errlen)
{
	struct rpc_tls tls;
	grpc_ssl_server_certificate_config *cfg, *old;
	char why[768];

	if (!srv)
		return -EINVAL;
	if (!srv->tls_files[0]) {
		snprintf(err, errlen, "the server runs without TLS: nothing to reload");
		return -EOPNOTSUPP;
	}
	tls.cert_file = srv->tls_files[0];
	tls.key_file = srv->tls_files[1];
	tls.ca_file = srv->tls_files[2];
	cfg = rpc_tls__server_config(&tls, why, sizeof(why));
	if (!cfg) {
		int e = errno ? errno : EINVAL;

		snprintf(err, errlen, "%s (the running credentials stay)", why);
		return -e;
	}
	pthread_mutex_lock(&srv->tls_lock);
	old = srv->tls_next;
	srv->tls_next = cfg;
	pthread_mutex_unlock(&srv->tls_lock);
	if (old)
		grpc_ssl_server_certificate_config_destroy(old);
	return 0;
}

/* Plaintext credentials, or TLS through fetch_tls with the files staged. NULL + errno. */
static grpc_server_credentials *server_creds(struct rpc_server *srv)
{
	grpc_ssl_server_credentials_options *opts;
	grpc_server_credentials *creds;
	char why[1024];
	int err;

	if (!srv->tls_files[0])
		return grpc_insecure_server_credentials_create();
	err = rpc_server__reload_tls(srv, why, sizeof(why));
	if (err) {
		pr_err("tls: %s", why);
		errno = -err;
		return NULL;
	}
	opts = grpc_ssl_server_credentials_create_options_using_config_fetcher(
		GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, fetch_tls, srv);
	creds = opts ? grpc_ssl_server_credentials_create_with_options(opts) : NULL;
	if (!creds) {
		pr_err("tls: cannot build server credentials from '%s', '%s', '%s'", srv->tls_files[0],
		       srv->tls_files[1], srv->tls_files[2]);
		errno = EINVAL;
	}
	return creds;
}

static void drain_cq(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

int rpc_server__start(struct rpc_server *srv)
{
	grpc_server_credentials *creds;
	struct rpc_args args = { 0 };
	int port, err;

	if (!srv)
		return -EINVAL;
	if (srv->started)
		return -EALREADY;
	creds = server_creds(srv);
	if (!creds)
		return errno ? -errno : -EINVAL;

	rpc_args__int(&args, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, srv->max_message);
	rpc_args__int(&args, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, srv->max_message);
	/* Find frozen or vanished peers even on idle connections... */
	rpc_args__int(&args, GRPC_ARG_KEEPALIVE_TIME_MS, srv->keepalive_ms);
	rpc_args__int(&args, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, srv->keepalive_timeout_ms);
	rpc_args__int(&args, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
	rpc_args__int(&args, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
	/* ...and let clients do the same without being sent away for pinging too often. */
	rpc_args__int(&args, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
	rpc_args__int(&args, GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
	/* The core's default keeps a connection that never finishes its handshake for two
	 * minutes: a few thousand such peers would hold as many descriptors. */
	rpc_args__int(&args, GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, srv->handshake_timeout_ms);
	/* A second server on our port must fail, not share it. */
	rpc_args__int(&args, GRPC_ARG_ALLOW_REUSEPORT, 0);
	/* Thousands of mostly idle connections: no per-connection channelz node and trace
	 * (nothing reads them here), measured with tests/bench/run.sh fanout. */
	rpc_args__int(&args, GRPC_ARG_ENABLE_CHANNELZ, 0);
	rpc_args__int(&args, GRPC_ARG_MAX_CHANNEL_TRACE_EVENT_MEMORY_PER_NODE, 0);
	/* No HPACK dynamic table for what clients send: each connection's table kept copies
	 * of headers that come once per stream (agents open one stream per connection):
	 * ~300 bytes a connection for nothing (tests/bench/run.sh fanout). */
	rpc_args__int(&args, GRPC_ARG_HTTP2_HPACK_TABLE_SIZE_DECODER, 0);

	srv->server = grpc_server_create(rpc_args__get(&args), NULL);
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
	port = grpc_server_add_http2_port(srv->server, srv->listen, creds);
	grpc_server_credentials_release(creds);
	if (port <= 0) {
		pr_err("rpc: cannot listen on %s", srv->listen);
		err = -EADDRINUSE;
		goto cleanup;
	}
	srv->lame = grpc_lame_client_channel_create("sluice-wake", GRPC_STATUS_UNAVAILABLE, "wake-up");
	grpc_server_start(srv->server);
	srv->started = true;
	request_next(srv);

	pthread_mutex_lock(&srv->lock);
	srv->running = true;
	if (srv->posts || srv->tick_fn)
		wake_locked(srv);
	pthread_mutex_unlock(&srv->lock);
	err = -pthread_create(&srv->thread, NULL, server_main, srv);
	if (err) {
		/* No thread: run its shutdown here, so that free finds a finished server. */
		pr_err("rpc: cannot start the server thread: %s", strerror(-err));
		srv->stop = true;
		server_main(srv);
		srv->started = false;
		grpc_server_destroy(srv->server);
		drain_cq(srv->cq);
		srv->server = NULL;
		srv->cq = NULL;
		return err;
	}
	pr_info("rpc: listening on %s (port %d, %s)", srv->listen, port, srv->tls_files[0] ? "mTLS" : "plaintext");
	return port;
cleanup:
	grpc_server_destroy(srv->server);
	drain_cq(srv->cq);
	srv->server = NULL;
	srv->cq = NULL;
	return err;
}

int rpc_server__post(struct rpc_server *srv, void (*fn)(void *arg), void *arg)
{
	struct post *p;

	if (!srv || !fn)
		return -EINVAL;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->arg = arg;
	p->next = NULL;
	pthread_mutex_lock(&srv->lock);
	if (srv->dead) {
		pthread_mutex_unlock(&srv->lock);
		free(p);
		return -ESHUTDOWN;
	}
	*srv->posts_tail = p;
	srv->posts_tail = &p->next;
	wake_locked(srv);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

/* fn NULL turns the tick off. The first tick comes interval_ms from now. */
int rpc_server__set_tick(struct rpc_server *srv, int interval_ms, void (*fn)(void *arg), void *arg)
{
	if (!srv || (fn && interval_ms <= 0))
		return -EINVAL;
	pthread_mutex_lock(&srv->lock);
	srv->tick_fn = fn;
	srv->tick_arg = arg;
	srv->tick_ms = interval_ms;
	srv->next_tick = rpc_now_ms() + interval_ms;
	wake_locked(srv);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

void rpc_server__free(struct rpc_server *srv)
{
	struct post *p;

	if (!srv)
		return;
	if (srv->started) {
		if (pthread_equal(pthread_self(), srv->thread)) {
			pr_err("rpc: rpc_server__free called on the server thread; leaking the server");
			return;
		}
		pthread_mutex_lock(&srv->lock);
		srv->stop = true;
		wake_locked(srv);
		pthread_mutex_unlock(&srv->lock);
		pthread_join(srv->thread, NULL);
		grpc_server_destroy(srv->server);
		drain_cq(srv->cq);
	}
	if (srv->lame)
		grpc_channel_destroy(srv->lame);
	/* Posted to a server that never ran: nothing can run them on its thread. */
	while ((p = srv->posts)) {
		srv->posts = p->next;
		free(p);
	}
	for (size_t i = 0; i < srv->n_methods; i++)
		free(srv->methods[i].path);
	free(srv->methods);
	for (int i = 0; i < 3; i++)
		free(srv->tls_files[i]);
	free(srv->listen);
	if (srv->tls_next)
		grpc_ssl_server_certificate_config_destroy(srv->tls_next);
	pthread_mutex_destroy(&srv->tls_lock);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

int rpc_stream__send(struct rpc_stream *s, const uint8_t *msg, size_t len)
{
	int err;

	if (s->closed || s->finishing || s->broken)
		return -EPIPE;
	if (len > (size_t)s->srv->max_message)
		return -EMSGSIZE;
	err = rpc_sendq__push(&s->q, msg, len);
	if (err)
		return err;
	pump(s);
	return 0;
}

int rpc_stream__send_shared(struct rpc_stream *s, const struct rpc_msg *head, const uint8_t *tail, size_t tail_len)
{
	grpc_slice slices[2];
	grpc_byte_buffer *bb;
	int err;

	if (s->closed || s->finishing || s->broken)
		return -EPIPE;
	if (GRPC_SLICE_LENGTH(head->slice) + tail_len > (size_t)s->srv->max_message)
		return -EMSGSIZE;
	slices[0] = head->slice;
	slices[1] = grpc_slice_from_copied_buffer((const char *)tail, tail_len);
	bb = grpc_raw_byte_buffer_create(slices, tail_len ? 2 : 1); /* takes its own references */
	grpc_slice_unref(slices[1]);
	err = rpc_sendq__push_bb(&s->q, bb);
	if (err)
		return err;
	pump(s);
	return 0;
}

size_t rpc_stream__queued(const struct rpc_stream *s)
{
	return s->q.len + (s->send_bb ? 1 : 0);
}

void rpc_stream__finish(struct rpc_stream *s, enum rpc_code code, const char *message)
{
	set_status(s, code, message);
}
