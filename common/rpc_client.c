// SPDX-License-Identifier: Apache-2.0
/*
 * rpc_client.c — the gRPC client of rpc.h: channels, blocking unary calls (each on its own
 * pluck queue, so any number of threads may call at once) and bidirectional streams, each
 * with its own completion queue that only rpc_client_stream__next() drives.
 *
 * A stream starts three batches at once and never waits for the server's headers:
 * {SEND_INITIAL_METADATA}, {RECV_STATUS_ON_CLIENT} and {RECV_INITIAL_METADATA,
 * RECV_MESSAGE}; RECV_MESSAGE is re-armed after each message and sends are queued with
 * one SEND_MESSAGE in flight. The stream is over once the status and the end of the
 * messages have both arrived. Streams of a group (rpc_client_group) share the group's
 * queue; a completion finds its stream from the tag's place in it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/support/alloc.h>

#include "common/log.h"
#include "common/rpc_internal.h"

struct rpc_channel {
	grpc_channel *ch;
	char *target;
	int max_message;
};

struct rpc_client_stream {
	grpc_call *call;
	grpc_completion_queue *cq;        /* its own, or the group's */
	struct rpc_client_group *group;   /* NULL: a stream of its own */
	struct rpc_client_stream *gnext;  /* the group's list */
	bool closed_told;                 /* the group reported its end */
	int max_message;
	int pending; /* batches started and not yet completed */
	struct rpc_tag t_send, t_recv, t_status;
	struct rpc_sendq q;
	grpc_byte_buffer *send_bb; /* the message in flight */
	bool send_busy;
	bool send_failed;
	grpc_byte_buffer *recv_bb;
	bool recv_done; /* no more messages will come */
	grpc_metadata_array initial_md, trailing_md;
	grpc_status_code status;
	grpc_slice details;
	const char *error_string;
	bool status_done;
};

struct rpc_client_group {
	grpc_completion_queue *cq;
	struct rpc_client_stream *head; /* every stream opened in the group */
	struct rpc_client_stream *dead; /* streams that failed to open, reaped at free */
	size_t pending;                 /* batches outstanding on all of them */
};

/* ---- channels ---------------------------------------------------------------------- */

struct rpc_channel *rpc_channel__new(const char *target, const struct rpc_tls *tls,
				     const struct rpc_channel_opts *opts)
{
	static const struct rpc_channel_opts defaults;
	grpc_channel_credentials *creds;
	struct rpc_args args = { 0 };
	struct rpc_channel *ch;
	int err;

	if (!target) {
		errno = EINVAL;
		return NULL;
	}
	if (!opts)
		opts = &defaults;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->target = strdup(target);
	if (!ch->target) {
		err = ENOMEM;
		goto cleanup;
	}
	creds = rpc_tls__channel_creds(tls);
	if (!creds) {
		err = errno ? errno : EINVAL;
		goto cleanup;
	}
	ch->max_message = rpc_max_message(opts->max_message);
	rpc_args__int(&args, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, ch->max_message);
	rpc_args__int(&args, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, ch->max_message);
	/* Notice a vanished server even while the stream is idle. */
	rpc_args__int(&args, GRPC_ARG_KEEPALIVE_TIME_MS, opts->keepalive_ms > 0 ? opts->keepalive_ms : 5000);
	rpc_args__int(&args, GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
		      opts->keepalive_timeout_ms > 0 ? opts->keepalive_timeout_ms : 5000);
	rpc_args__int(&args, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
	rpc_args__int(&args, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
	/* Reconnect within seconds once the server is back, not the core's two minutes;
	 * a connection attempt (TCP + TLS handshake) gets 5 s. */
	rpc_args__int(&args, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 1000);
	rpc_args__int(&args, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 10000);
	rpc_args__int(&args, GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
	if (opts->own_connection)
		rpc_args__int(&args, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
	if (tls && opts->target_name_override)
		rpc_args__str(&args, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, opts->target_name_override);
	ch->ch = grpc_channel_create(target, creds, rpc_args__get(&args));
	grpc_channel_credentials_release(creds);
	if (!ch->ch) {
		err = EINVAL;
		goto cleanup;
	}
	return ch;
cleanup:
	free(ch->target);
	free(ch);
	errno = err;
	return NULL;
}

void rpc_channel__free(struct rpc_channel *ch)
{
	if (!ch)
		return;
	grpc_channel_destroy(ch->ch);
	free(ch->target);
	free(ch);
}

static void fill_status(struct rpc_status *st, grpc_status_code code, grpc_slice details, const char *error_string)
{
	if (!st)
		return;
	st->code = (unsigned)code <= RPC_UNAUTHENTICATED ? (enum rpc_code)code : RPC_UNKNOWN;
	rpc_slice__copy(st->message, sizeof(st->message), details);
	if (!st->message[0] && code != GRPC_STATUS_OK && error_string)
		snprintf(st->message, sizeof(st->message), "%s", error_string);
}

static void set_status(struct rpc_status *st, enum rpc_code code, const char *message)
{
	if (!st)
		return;
	st->code = code;
	snprintf(st->message, sizeof(st->message), "%s", message);
}

/* ---- unary ------------------------------------------------------------------------- */

enum rpc_code rpc_channel__unary(struct rpc_channel *ch, const char *method, const uint8_t *req, size_t req_len,
				 int timeout_ms, struct rpc_buf *resp, struct rpc_status *st)
{
	grpc_metadata_array initial_md, trailing_md;
	grpc_byte_buffer *send_bb = NULL, *recv_bb = NULL;
	grpc_slice details = grpc_empty_slice();
	const char *error_string = NULL;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	struct rpc_tag tag = { RPC_TAG_SEND };
	grpc_completion_queue *cq;
	enum rpc_code code;
	grpc_call_error ce;
	grpc_call *call;
	grpc_event ev;
	grpc_op ops[6];

	if (resp) {
		resp->data = NULL;
		resp->len = 0;
	}
	if (!ch || !method || !resp || (!req && req_len)) {
		set_status(st, RPC_INVALID_ARGUMENT, "rpc_channel__unary: bad arguments");
		return RPC_INVALID_ARGUMENT;
	}
	send_bb = rpc_bb__new(req, req_len);
	grpc_metadata_array_init(&initial_md);
	grpc_metadata_array_init(&trailing_md);
	cq = grpc_completion_queue_create_for_pluck(NULL);
	call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, grpc_slice_from_static_string(method),
					NULL, rpc_deadline(timeout_ms > 0 ? timeout_ms : -1), NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send_bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv_bb;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	ops[5].data.recv_status_on_client.error_string = &error_string;
	ce = grpc_call_start_batch(call, ops, 6, &tag, NULL);
	if (ce != GRPC_CALL_OK) {
		pr_err("rpc: %s: cannot start the call: %s", method, grpc_call_error_to_string(ce));
		code = RPC_INTERNAL;
		set_status(st, code, grpc_call_error_to_string(ce));
		goto cleanup;
	}
	ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
	if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
		code = RPC_INTERNAL; /* the deadline always completes the batch: not expected */
		set_status(st, code, "call did not complete");
		goto cleanup;
	}
	code = (unsigned)status <= RPC_UNAUTHENTICATED ? (enum rpc_code)status : RPC_UNKNOWN;
	fill_status(st, status, details, error_string);
	if (code != RPC_OK)
		goto cleanup;
	if (!recv_bb) {
		code = RPC_INTERNAL;
		set_status(st, code, "the server sent no response message");
	} else if (rpc_bb__read(recv_bb, resp)) {
		code = RPC_RESOURCE_EXHAUSTED;
		set_status(st, code, "cannot read the response message");
	}
cleanup:
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_byte_buffer_destroy(send_bb);
	if (recv_bb)
		grpc_byte_buffer_destroy(recv_bb);
	grpc_metadata_array_destroy(&initial_md);
	grpc_metadata_array_destroy(&trailing_md);
	grpc_slice_unref(details);
	gpr_free((void *)error_string);
	return code;
}

/* ---- streams ----------------------------------------------------------------------- */

static int cs_batch(struct rpc_client_stream *cs, const grpc_op *ops, size_t n, struct rpc_tag *tag)
{
	grpc_call_error ce;

	ce = grpc_call_start_batch(cs->call, ops, n, tag, NULL);
	if (ce != GRPC_CALL_OK) {
		pr_err("rpc: stream: cannot start a batch: %s", grpc_call_error_to_string(ce));
		grpc_call_cancel(cs->call, NULL);
		return -EIO;
	}
	cs->pending++;
	if (cs->group)
		cs->group->pending++;
	return 0;
}

static void cs_pump(struct rpc_client_stream *cs)
{
	grpc_op op;

	if (cs->send_busy || cs->send_failed || !cs->q.len)
		return;
	cs->send_bb = rpc_sendq__pop(&cs->q);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = cs->send_bb;
	if (cs_batch(cs, &op, 1, &cs->t_send)) {
		cs->send_failed = true;
		return;
	}
	cs->send_busy = true;
}

static int cs_arm_recv(struct rpc_client_stream *cs, bool first)
{
	grpc_op ops[2];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	if (first) {
		ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
		ops[n++].data.recv_initial_metadata.recv_initial_metadata = &cs->initial_md;
	}
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n++].data.recv_message.recv_message = &cs->recv_bb;
	if (cs_batch(cs, ops, n, &cs->t_recv)) {
		cs->recv_done = true;
		return -EIO;
	}
	return 0;
}

/*
 * Handles one completion. Returns 1 with *msg filled when a message arrived, else 0.
 * Used by __next and by __close while it drains.
 */
static int cs_event(struct rpc_client_stream *cs, struct rpc_tag *tag, bool ok, struct rpc_buf *msg)
{
	grpc_byte_buffer *bb;
	int ret = 0;

	cs->pending--;
	if (cs->group)
		cs->group->pending--;
	switch (tag->kind) {
	case RPC_TAG_SEND:
		grpc_byte_buffer_destroy(cs->send_bb);
		cs->send_bb = NULL;
		cs->send_busy = false;
		if (!ok) {
			cs->send_failed = true; /* the call is over; its status says why */
			rpc_sendq__clear(&cs->q);
		}
		cs_pump(cs);
		break;
	case RPC_TAG_STATUS:
		cs->status_done = true;
		break;
	case RPC_TAG_RECV:
		bb = cs->recv_bb;
		cs->recv_bb = NULL;
		if (!ok || !bb) {
			cs->recv_done = true;
		} else if (msg && rpc_bb__read(bb, msg) == 0) {
			ret = 1;
			cs_arm_recv(cs, false);
		} else if (msg) {
			pr_err("rpc: stream: out of memory reading a message; cancelling");
			grpc_call_cancel_with_status(cs->call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
			cs->recv_done = true;
		} else {
			cs_arm_recv(cs, false); /* draining: drop it */
		}
		if (bb)
			grpc_byte_buffer_destroy(bb);
		break;
	default:
		pr_err("rpc: stream: unexpected completion tag %d", (int)tag->kind);
		abort();
	}
	return ret;
}

/* Frees what a stream with no batch outstanding holds, its queue aside. */
static void cs_release(struct rpc_client_stream *cs)
{
	if (cs->call)
		grpc_call_unref(cs->call);
	rpc_sendq__clear(&cs->q);
	grpc_metadata_array_destroy(&cs->initial_md);
	grpc_metadata_array_destroy(&cs->trailing_md);
	grpc_slice_unref(cs->details);
	gpr_free((void *)cs->error_string);
	free(cs);
}

static void cq_drain_destroy(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

/* Cancels (harmless when already over), waits for every batch, frees. */
static void cs_destroy(struct rpc_client_stream *cs)
{
	grpc_completion_queue *cq = cs->cq;
	grpc_event ev;

	if (cs->call) {
		grpc_call_cancel(cs->call, NULL);
		while (cs->pending > 0) {
			ev = grpc_completion_queue_next(cs->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
			if (ev.type == GRPC_OP_COMPLETE)
				cs_event(cs, ev.tag, ev.success, NULL);
		}
	}
	cs_release(cs);
	cq_drain_destroy(cq);
}


/* Opens a stream on cq (the group's, or a new one when group is NULL). */
static struct rpc_client_stream *cs_open(struct rpc_channel *ch, const char *method, struct rpc_client_group *group,
					 grpc_completion_queue *cq)
{
	struct rpc_client_stream *cs;
	grpc_op op;

	if (!ch || !method) {
		errno = EINVAL;
		return NULL;
	}
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return NULL;
	cs->max_message = ch->max_message;
	cs->t_send.kind = RPC_TAG_SEND;
	cs->t_recv.kind = RPC_TAG_RECV;
	cs->t_status.kind = RPC_TAG_STATUS;
	cs->details = grpc_empty_slice();
	grpc_metadata_array_init(&cs->initial_md);
	grpc_metadata_array_init(&cs->trailing_md);
	cs->group = group;
	cs->cq = cq ? cq : grpc_completion_queue_create_for_next(NULL);
	/* No deadline: the stream lives until either side ends it; keepalive finds dead peers.
	 * No wait_for_ready: a server that is down fails the stream with UNAVAILABLE. */
	cs->call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cs->cq,
					    grpc_slice_from_static_string(method), NULL,
					    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
	if (!cs->call)
		goto cleanup;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_INITIAL_METADATA;
	if (group) /* thousands of connections come up slowly: wait rather than fail */
		op.flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY | GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET;
	if (cs_batch(cs, &op, 1, &cs->t_send))
		goto cleanup;
	cs->send_busy = true; /* the queue waits for the headers to go out */
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op.data.recv_status_on_client.trailing_metadata = &cs->trailing_md;
	op.data.recv_status_on_client.status = &cs->status;
	op.data.recv_status_on_client.status_details = &cs->details;
	op.data.recv_status_on_client.error_string = &cs->error_string;
	if (cs_batch(cs, &op, 1, &cs->t_status) || cs_arm_recv(cs, true))
		goto cleanup;
	return cs;
cleanup:
	pr_err("rpc: %s: cannot open a stream to %s", method, ch->target);
	if (group && !cs->call) {
		cs_release(cs);
	} else if (group) {
		/* Its batches complete on the group's queue: leave it to the group to reap. */
		cs->gnext = group->dead;
		group->dead = cs;
		grpc_call_cancel(cs->call, NULL);
	} else {
		cs_destroy(cs);
	}
	errno = EIO;
	return NULL;
}

struct rpc_client_stream *rpc_client_stream__open(struct rpc_channel *ch, const char *method)
{
	return cs_open(ch, method, NULL, NULL);
}

int rpc_client_stream__send(struct rpc_client_stream *cs, const uint8_t *msg, size_t len)
{
	int err;

	if (cs->status_done || cs->send_failed)
		return -EPIPE;
	if (len > (size_t)cs->max_message)
		return -EMSGSIZE;
	err = rpc_sendq__push(&cs->q, msg, len);
	if (err)
		return err;
	cs_pump(cs);
	return 0;
}

enum rpc_event rpc_client_stream__next(struct rpc_client_stream *cs, int timeout_ms, struct rpc_buf *msg,
				       struct rpc_status *st)
{
	gpr_timespec deadline = rpc_deadline(timeout_ms);
	struct rpc_buf dummy;
	grpc_event ev;

	if (!msg)
		msg = &dummy;
	msg->data = NULL;
	msg->len = 0;
	for (;;) {
		if (cs->status_done && cs->recv_done) {
			fill_status(st, cs->status, cs->details, cs->error_string);
			return RPC_EV_CLOSED;
		}
		ev = grpc_completion_queue_next(cs->cq, deadline, NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			return RPC_EV_TIMEOUT;
		if (cs_event(cs, ev.tag, ev.success, msg)) {
			if (msg == &dummy)
				free(dummy.data);
			return RPC_EV_MESSAGE;
		}
	}
}

void rpc_client_stream__close(struct rpc_client_stream *cs)
{
	if (cs)
		cs_destroy(cs);
}

/* ---- groups ------------------------------------------------------------------------ */

struct rpc_client_group *rpc_client_group__new(void)
{
	struct rpc_client_group *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->cq = grpc_completion_queue_create_for_next(NULL);
	return g;
}

struct rpc_client_stream *rpc_client_group__open(struct rpc_client_group *g, struct rpc_channel *ch,
						 const char *method)
{
	struct rpc_client_stream *cs = cs_open(ch, method, g, g->cq);

	if (cs) {
		cs->gnext = g->head;
		g->head = cs;
	}
	return cs;
}

/* The stream a completion tag belongs to: the tag is one of its three members. */
static struct rpc_client_stream *tag_stream(struct rpc_tag *tag)
{
	switch (tag->kind) {
	case RPC_TAG_SEND:
		return rpc_container_of(tag, struct rpc_client_stream, t_send);
	case RPC_TAG_RECV:
		return rpc_container_of(tag, struct rpc_client_stream, t_recv);
	default:
		return rpc_container_of(tag, struct rpc_client_stream, t_status);
	}
}

enum rpc_event rpc_client_group__next(struct rpc_client_group *g, int timeout_ms, struct rpc_client_stream **out,
				      struct rpc_buf *msg, struct rpc_status *st)
{
	gpr_timespec deadline = rpc_deadline(timeout_ms);
	struct rpc_client_stream *cs;
	grpc_event ev;

	msg->data = NULL;
	msg->len = 0;
	for (;;) {
		ev = grpc_completion_queue_next(g->cq, deadline, NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			return RPC_EV_TIMEOUT;
		cs = tag_stream(ev.tag);
		*out = cs;
		if (cs_event(cs, ev.tag, ev.success, msg))
			return RPC_EV_MESSAGE;
		if (cs->status_done && cs->recv_done && !cs->closed_told && cs->group) {
			cs->closed_told = true;
			fill_status(st, cs->status, cs->details, cs->error_string);
			return RPC_EV_CLOSED;
		}
	}
}

void rpc_client_group__free(struct rpc_client_group *g)
{
	struct rpc_client_stream *cs, *next;
	grpc_event ev;

	if (!g)
		return;
	for (cs = g->head; cs; cs = cs->gnext)
		grpc_call_cancel(cs->call, NULL);
	while (g->pending) {
		ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_OP_COMPLETE)
			cs_event(tag_stream(ev.tag), ev.tag, ev.success, NULL);
	}
	for (cs = g->head; cs; cs = next) {
		next = cs->gnext;
		cs_release(cs);
	}
	for (cs = g->dead; cs; cs = next) {
		next = cs->gnext;
		cs_release(cs);
	}
	cq_drain_destroy(g->cq);
	free(g);
}
