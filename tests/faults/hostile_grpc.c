// SPDX-License-Identifier: Apache-2.0
/*
 * hostile_grpc.c — the fault suite's hostile client (cases/09-hostile-grpc.sh). It
 * speaks gRPC through the C core directly and sends raw bytes as messages
 * (grpc_raw_byte_buffer_create), so anything can go to any method path: for every
 * ControlService method and AgentService.Connect a message over the controller's size
 * limit, a truncated valid message, random bytes that do not decode, a field of the
 * wrong wire type, values out of range and huge repeated fields under the limit; then
 * unknown method paths, the agent stream abused (garbage first, Hello for another node,
 * sends after half-close, ...), and raw TCP connections (hostile_raw.c). Every result
 * is checked against the status the controller must answer, and counted.
 *
 *   hostile_grpc --target HOST:PORT --ca F --user-cert F --user-key F --agent-cert F
 *                --agent-key F --node NODE --other-node NODE [--rounds N] [--abandon N]
 *                [--stall N] [--handshake-ms MS] [--max-message BYTES] [--seed N]
 *
 * --stall N connections stall in the TLS handshake from the start; at the end each must
 * have been closed by the controller within --handshake-ms (default 15000: its 10 s
 * handshake timeout and some slack).
 *
 * The user certificate must be an admin's (every method is tried past authorization);
 * the agent certificate's CN is NODE, which must not be a live agent (its Hello is
 * accepted); OTHER-NODE is a node the agent certificate may not claim. Nothing the tool
 * sends changes the controller's policy: applies are dry runs, and removals, rollouts
 * and acknowledgements name things that do not exist.
 *
 * Prints one line per category (sent, unexpected, outcomes), a line "codes: NAME=N ..."
 * over everything and "total: N sent, U unexpected"; exits 1 when anything was
 * unexpected, 2 on bad arguments or setup failures.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <protobuf-c/protobuf-c.h>

#include "common/rpc.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/control.pb-c.h"
#include "hostile.h"

#define CALL_MS 5000        /* a unary call's deadline */
#define STREAM_MS 5000      /* how long a stream gets to answer */
#define OPEN_MS 300         /* a stream with no answer this long is open (accepted) */
#define MAX_PRINTED 40      /* unexpected results printed in full */
#define DEFAULT_MAX (16u << 20) /* the controller's message limit (rpc.h: 0 means 16 MiB) */

#define BIT OUT_BIT
#define INVALID BIT(RPC_INVALID_ARGUMENT)

/* ---- tally ------------------------------------------------------------------------- */

struct category {
	char name[48];
	unsigned long sent, unexpected;
	unsigned long outs[OUT_N];
	int64_t ms; /* time spent on it */
};

static struct category cats[64];
static size_t n_cats;
static unsigned long printed;
static int64_t last_check_ms; /* when the previous result was counted */
static uint64_t rng_state = 88172645463325252ull;

const char *hostile__outcome_name(int out)
{
	switch (out) {
	case OUT_ACCEPTED: return "accepted";
	case OUT_CLOSED: return "closed";
	case OUT_OPEN: return "left-open";
	case OUT_LOCAL: return "refused-locally";
	}
	return out >= 0 && out <= RPC_UNAUTHENTICATED ? rpc_code__name((enum rpc_code)out) : "?";
}

static struct category *category(const char *name)
{
	for (size_t i = 0; i < n_cats; i++)
		if (!strcmp(cats[i].name, name))
			return &cats[i];
	if (n_cats == sizeof(cats) / sizeof(cats[0])) {
		fprintf(stderr, "hostile: too many categories\n");
		exit(2);
	}
	snprintf(cats[n_cats].name, sizeof(cats[n_cats].name), "%s", name);
	return &cats[n_cats++];
}

void hostile__check(const char *cat, const char *what, int out, uint32_t expect, const char *msg, const char *need)
{
	struct category *c = category(cat);
	bool ok;

	if (out < 0 || out >= OUT_N)
		out = RPC_UNKNOWN;
	ok = (expect & BIT(out)) && (!need || (msg && strstr(msg, need)));
	c->sent++;
	c->outs[out]++;
	if (last_check_ms)
		c->ms += hostile__now_ms() - last_check_ms;
	last_check_ms = hostile__now_ms();
	if (ok)
		return;
	c->unexpected++;
	if (printed++ >= MAX_PRINTED)
		return;
	printf("UNEXPECTED %s (%s): %s '%.300s'; expected", cat, what, hostile__outcome_name(out), msg ? msg : "");
	for (int o = 0; o < OUT_N; o++)
		if (expect & BIT(o))
			printf(" %s", hostile__outcome_name(o));
	if (need)
		printf(" with '%s' in the message", need);
	printf("\n");
	fflush(stdout);
}

uint32_t hostile__rand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

int64_t hostile__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(void)
{
	unsigned long total = 0, bad = 0, outs[OUT_N] = { 0 };

	printf("%-36s %7s %10s %7s  %s\n", "category", "sent", "unexpected", "seconds", "outcomes");
	for (size_t i = 0; i < n_cats; i++) {
		printf("%-36s %7lu %10lu %7.1f ", cats[i].name, cats[i].sent, cats[i].unexpected,
		       (double)cats[i].ms / 1000.0);
		for (int o = 0; o < OUT_N; o++) {
			if (cats[i].outs[o])
				printf(" %s=%lu", hostile__outcome_name(o), cats[i].outs[o]);
			outs[o] += cats[i].outs[o];
		}
		printf("\n");
		total += cats[i].sent;
		bad += cats[i].unexpected;
	}
	printf("codes:");
	for (int o = 0; o < OUT_N; o++)
		if (outs[o])
			printf(" %s=%lu", hostile__outcome_name(o), outs[o]);
	printf("\ntotal: %lu sent, %lu unexpected\n", total, bad);
}

/* ---- protobuf bytes by hand (any value, any wire type) ------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

static void w_raw(struct wbuf *w, const void *d, size_t n)
{
	if (w->len + n > w->cap) {
		size_t cap = (w->len + n) * 2 + 64;
		uint8_t *p = realloc(w->p, cap);

		if (!p) {
			fprintf(stderr, "hostile: out of memory\n");
			exit(2);
		}
		w->p = p;
		w->cap = cap;
	}
	if (n)
		memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void w_varint(struct wbuf *w, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	w_raw(w, b, n);
}

static void w_u64(struct wbuf *w, unsigned field, uint64_t v)
{
	w_varint(w, (uint64_t)field << 3 | 0);
	w_varint(w, v);
}

static void w_bytes(struct wbuf *w, unsigned field, const void *d, size_t n)
{
	w_varint(w, (uint64_t)field << 3 | 2);
	w_varint(w, n);
	w_raw(w, d, n);
}

static void w_str(struct wbuf *w, unsigned field, const char *s)
{
	w_bytes(w, field, s, strlen(s));
}

/* Appends sub as a length-delimited field and empties sub. */
static void w_sub(struct wbuf *w, unsigned field, struct wbuf *sub)
{
	w_bytes(w, field, sub->p, sub->len);
	sub->len = 0;
}

/* A map<string, string> entry. */
static void w_pair(struct wbuf *w, unsigned field, const char *k, const char *v)
{
	struct wbuf e = { 0 };

	w_str(&e, 1, k);
	w_str(&e, 2, v);
	w_sub(w, field, &e);
	free(e.p);
}

/* A string of n copies of c, for fields far longer than anything sane. */
static void w_long(struct wbuf *w, unsigned field, char c, size_t n)
{
	char *s = malloc(n);

	if (!s)
		exit(2);
	memset(s, c, n);
	w_bytes(w, field, s, n);
	free(s);
}

/* A finished message as a slice the tool keeps (sent again and again, never copied). */
static grpc_slice w_done(struct wbuf *w)
{
	grpc_slice s = grpc_slice_from_copied_buffer((const char *)w->p, w->len);

	free(w->p);
	memset(w, 0, sizeof(*w));
	return s;
}

static bool decodes(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);

	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	return m != NULL;
}

/* The longest prefix of a valid message that no longer decodes as d. */
static grpc_slice truncated(const ProtobufCMessageDescriptor *d, grpc_slice valid)
{
	const uint8_t *p = GRPC_SLICE_START_PTR(valid);

	for (size_t cut = GRPC_SLICE_LENGTH(valid); cut-- > 1;)
		if (!decodes(d, p, cut))
			return grpc_slice_from_copied_buffer((const char *)p, cut);
	fprintf(stderr, "hostile: no prefix of the %s sample fails to decode\n", d->name);
	exit(2);
}

/* Random bytes (1-512) that do not decode as d. */
static grpc_slice garbage(const ProtobufCMessageDescriptor *d)
{
	uint8_t b[512];
	size_t n;

	do {
		n = 1 + hostile__rand() % sizeof(b);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)hostile__rand();
	} while (decodes(d, b, n));
	return grpc_slice_from_copied_buffer((const char *)b, n);
}

/* Field 1 of d with a wire type that is not its own. */
static grpc_slice wrong_type(const ProtobufCMessageDescriptor *d)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, 1);
	struct wbuf w = { 0 };

	if (f && (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES ||
		  f->type == PROTOBUF_C_TYPE_MESSAGE))
		w_u64(&w, 1, 42);
	else
		w_str(&w, 1, "not a number");
	if (decodes(d, w.p, w.len)) {
		fprintf(stderr, "hostile: a wrong wire type still decodes as %s\n", d->name);
		exit(2);
	}
	return w_done(&w);
}

/* ---- gRPC calls ------------------------------------------------------------------------ */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto cleanup;
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
cleanup:
	if (f)
		fclose(f);
	if (!buf)
		fprintf(stderr, "hostile: cannot read '%s'\n", path);
	return buf;
}

/* A channel of its own (never sharing a connection) with no size limits of ours. cert
 * NULL: TLS without a client certificate. */
static grpc_channel *channel_new(const char *target, const char *ca, const char *cert, const char *key)
{
	char *ca_pem = slurp(ca), *cert_pem = cert ? slurp(cert) : NULL, *key_pem = key ? slurp(key) : NULL;
	grpc_ssl_pem_key_cert_pair pair = { key_pem, cert_pem };
	grpc_arg a[4] = {
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, .value.integer = -1 },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = -1 },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, .value.integer = 1 },
		{ .type = GRPC_ARG_INTEGER, .key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, .value.integer = 100 },
	};
	grpc_channel_args args = { 4, a };
	grpc_channel_credentials *creds;
	grpc_channel *ch = NULL;

	if (!ca_pem || (cert && (!cert_pem || !key_pem)))
		goto cleanup;
	creds = grpc_ssl_credentials_create(ca_pem, cert ? &pair : NULL, NULL, NULL);
	ch = grpc_channel_create(target, creds, &args);
	grpc_channel_credentials_release(creds);
cleanup:
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
	return ch;
}

static gpr_timespec deadline_in(int ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static void copy_slice(char *dst, size_t len, grpc_slice s)
{
	size_t n = GRPC_SLICE_LENGTH(s) < len - 1 ? GRPC_SLICE_LENGTH(s) : len - 1;

	memcpy(dst, GRPC_SLICE_START_PTR(s), n);
	dst[n] = '\0';
}

/* One unary call of method with body as the request: its status code (or OUT_LOCAL),
 * the status message in msg. */
static int unary(grpc_channel *ch, const char *method, grpc_slice body, char *msg, size_t msglen)
{
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1), *recv = NULL;
	grpc_metadata_array md, trailing;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	const char *error_string = NULL;
	grpc_call *call;
	grpc_op ops[6];
	int out;

	grpc_metadata_array_init(&md);
	grpc_metadata_array_init(&trailing);
	call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, grpc_slice_from_copied_string(method),
					NULL, deadline_in(CALL_MS), NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	ops[5].data.recv_status_on_client.error_string = &error_string;
	if (grpc_call_start_batch(call, ops, 6, ops, NULL) != GRPC_CALL_OK) {
		snprintf(msg, msglen, "the client core refused the batch");
		out = OUT_LOCAL;
	} else {
		grpc_completion_queue_pluck(cq, ops, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		out = (int)status;
		copy_slice(msg, msglen, details);
	}
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_byte_buffer_destroy(send);
	if (recv)
		grpc_byte_buffer_destroy(recv);
	grpc_metadata_array_destroy(&md);
	grpc_metadata_array_destroy(&trailing);
	grpc_slice_unref(details);
	gpr_free((void *)error_string);
	return out;
}

/* A bidirectional stream driven by this thread alone. */
struct bidi {
	grpc_call *call;
	grpc_completion_queue *cq;
	grpc_metadata_array md, trailing;
	grpc_status_code status;
	grpc_slice details;
	grpc_byte_buffer *send, *recv;
	int pending;          /* batches outstanding */
	bool md_sent, md_asked, send_busy, recv_armed, done, eos;
	bool send_ok;         /* the last send batch completed with success */
	unsigned received;    /* server messages so far */
};

enum { TAG_SEND = 1, TAG_RECV, TAG_STATUS };
#define TAG(t) ((void *)(intptr_t)(t))

static bool batch(struct bidi *b, const grpc_op *ops, size_t n, int tag)
{
	if (grpc_call_start_batch(b->call, ops, n, TAG(tag), NULL) != GRPC_CALL_OK)
		return false;
	b->pending++;
	return true;
}

static void bidi_open(struct bidi *b, grpc_channel *ch, const char *method)
{
	grpc_op op;

	memset(b, 0, sizeof(*b));
	b->cq = grpc_completion_queue_create_for_next(NULL);
	b->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, b->cq,
					   grpc_slice_from_copied_string(method), NULL, deadline_in(4 * STREAM_MS), NULL);
	b->details = grpc_empty_slice();
	grpc_metadata_array_init(&b->md);
	grpc_metadata_array_init(&b->trailing);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op.data.recv_status_on_client.trailing_metadata = &b->trailing;
	op.data.recv_status_on_client.status = &b->status;
	op.data.recv_status_on_client.status_details = &b->details;
	batch(b, &op, 1, TAG_STATUS);
}

/* Handles one event, waiting at most until deadline. */
static void bidi_step(struct bidi *b, gpr_timespec deadline)
{
	grpc_event ev = grpc_completion_queue_next(b->cq, deadline, NULL);

	if (ev.type != GRPC_OP_COMPLETE)
		return;
	b->pending--;
	switch ((int)(intptr_t)ev.tag) {
	case TAG_SEND:
		b->send_busy = false;
		b->send_ok = ev.success;
		grpc_byte_buffer_destroy(b->send);
		b->send = NULL;
		break;
	case TAG_RECV:
		b->recv_armed = false;
		if (b->recv) {
			b->received++;
			grpc_byte_buffer_destroy(b->recv);
			b->recv = NULL;
		} else {
			b->eos = true;
		}
		break;
	case TAG_STATUS:
		b->done = true;
		break;
	}
}

static void bidi_arm_recv(struct bidi *b)
{
	grpc_op ops[2];
	size_t n = 0;

	if (b->recv_armed || b->done || b->eos)
		return;
	memset(ops, 0, sizeof(ops));
	if (!b->md_asked) {
		ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
		ops[n++].data.recv_initial_metadata.recv_initial_metadata = &b->md;
	}
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n++].data.recv_message.recv_message = &b->recv;
	if (batch(b, ops, n, TAG_RECV)) {
		b->recv_armed = true;
		b->md_asked = true;
	}
}

/* Sends body (and half-closes when close): 0, or OUT_LOCAL when the client core refuses,
 * or -EPIPE when the stream already ended. Waits for the previous send first. */
static int bidi_send(struct bidi *b, const grpc_slice *body, bool close)
{
	grpc_op ops[3];
	size_t n = 0;

	while (b->send_busy && !b->done)
		bidi_step(b, deadline_in(STREAM_MS));
	if (b->done)
		return -EPIPE;
	memset(ops, 0, sizeof(ops));
	if (!b->md_sent)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (body) {
		grpc_slice s = *body;

		b->send = grpc_raw_byte_buffer_create(&s, 1);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = b->send;
	}
	if (close)
		ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	if (!batch(b, ops, n, TAG_SEND)) {
		if (b->send)
			grpc_byte_buffer_destroy(b->send);
		b->send = NULL;
		return OUT_LOCAL;
	}
	b->md_sent = true;
	b->send_busy = true;
	return 0;
}

/* Waits up to ms for the status: its code; OUT_ACCEPTED when `want` server messages
 * arrived first (want > 0) or when nothing ended the stream in time (open_ok). */
static int bidi_wait(struct bidi *b, unsigned want, int ms, bool open_ok, char *msg, size_t msglen)
{
	gpr_timespec deadline = deadline_in(ms);

	msg[0] = '\0';
	while (!b->done) {
		if (want && b->received >= want)
			return OUT_ACCEPTED;
		if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), deadline) >= 0) {
			snprintf(msg, msglen, "no status and %u message(s) after %d ms", b->received, ms);
			return open_ok ? OUT_ACCEPTED : RPC_DEADLINE_EXCEEDED;
		}
		bidi_arm_recv(b);
		bidi_step(b, deadline);
	}
	copy_slice(msg, msglen, b->details);
	return (int)b->status;
}

/* Cancels the stream if it is still up and frees it once every batch came back. */
static void bidi_free(struct bidi *b)
{
	if (!b->done)
		grpc_call_cancel(b->call, NULL);
	while (b->pending > 0)
		bidi_step(b, gpr_inf_future(GPR_CLOCK_MONOTONIC));
	grpc_call_unref(b->call);
	grpc_completion_queue_shutdown(b->cq);
	while (grpc_completion_queue_next(b->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(b->cq);
	grpc_metadata_array_destroy(&b->md);
	grpc_metadata_array_destroy(&b->trailing);
	grpc_slice_unref(b->details);
}

/* ---- the control API ----------------------------------------------------------------- */

#define CONTROL "/sluice.v1.ControlService/"
#define CONNECT "/sluice.v1.AgentService/Connect"
#define MAX_EDGES 2

/* A request with values a client would not send: it must get the right code. */
struct edge {
	const char *what;
	grpc_slice body;
	uint32_t expect;
	const char *need;
};

struct method {
	const char *name;
	const ProtobufCMessageDescriptor *desc;
	bool stream;            /* a server stream (WatchAlerts), not a unary call */
	uint32_t sample_expect; /* what the harmless valid request gets */
	/* Writes the harmless valid request to w and adds the edges. */
	void (*build)(struct method *m, struct wbuf *w);
	grpc_slice sample, trunc, wrong;
	struct edge edges[MAX_EDGES];
	size_t n_edges;
};

static void add_edge(struct method *m, const char *what, struct wbuf *w, uint32_t expect, const char *need)
{
	struct edge *e = &m->edges[m->n_edges++];

	e->what = what;
	e->body = w_done(w);
	e->expect = expect;
	e->need = need;
}

/* A dry run, so that nothing is ever stored; one drop rule, or n tiny ones. */
static void b_apply(struct method *m, struct wbuf *w)
{
	struct wbuf pol = { 0 }, rule = { 0 }, match = { 0 }, ports = { 0 }, e = { 0 };
	char name[32];

	w_u64(&ports, 1, 9);
	w_u64(&ports, 2, 9);
	w_u64(&match, 3, 17);
	w_sub(&match, 5, &ports);
	w_str(&rule, 1, "hostile");
	w_u64(&rule, 2, 5);
	w_sub(&rule, 3, &match);
	w_u64(&rule, 4, 1);
	w_sub(&pol, 1, &rule);
	w_sub(w, 1, &pol);
	w_str(w, 2, "hostile client");
	w_u64(w, 3, 1);

	/* An action the enum does not have. */
	w_str(&rule, 1, "hostile");
	w_u64(&rule, 4, 99);
	w_sub(&pol, 1, &rule);
	w_sub(&e, 1, &pol);
	w_u64(&e, 3, 1);
	add_edge(m, "ApplyPolicy action 99", &e, INVALID, "action");
	/* 200,000 rules: about 2.6 MB, under the message limit, far over any capacity. */
	for (int i = 0; i < 200000; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		w_str(&rule, 1, name);
		w_u64(&rule, 4, 1);
		w_sub(&pol, 1, &rule);
	}
	w_sub(&e, 1, &pol);
	w_u64(&e, 3, 1);
	add_edge(m, "ApplyPolicy 200000 rules", &e, INVALID, "capacity");
	free(pol.p);
	free(rule.p);
	free(match.p);
	free(ports.p);
}

/* Field 1 (a limit) as 300; edge: 2^64-1 in a uint32 field. */
static void b_limit(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };

	w_u64(w, 1, 300);
	w_u64(&e, 1, UINT64_MAX);
	add_edge(m, "limit 2^64-1", &e, BIT(RPC_OK), NULL);
}

/* Field 1 (a revision or rollout id) that does not exist; edge: the largest one. */
static void b_missing_id(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };

	w_u64(w, 1, 999999);
	w_u64(&e, 1, UINT64_MAX);
	add_edge(m, "id 2^64-1", &e, BIT(RPC_NOT_FOUND), NULL);
}

/* A rollout action on a rollout that does not exist; edge: a 1 MiB reason. */
static void b_rollout_action(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };

	w_u64(w, 1, 999999);
	w_str(w, 2, "hostile client");
	w_u64(&e, 1, UINT64_MAX);
	w_long(&e, 2, 'r', 1 << 20);
	add_edge(m, "id 2^64-1, 1 MiB reason", &e, BIT(RPC_NOT_FOUND), NULL);
}

/* A node that does not exist; edge: a 1 MiB node id. */
static void b_node(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };

	w_str(w, 1, "no-such-node");
	w_long(&e, 1, 'n', 1 << 20);
	add_edge(m, "1 MiB node id", &e, BIT(RPC_NOT_FOUND) | INVALID, NULL);
}

static void b_list_agents(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };
	char k[32];

	w_pair(w, 1, "env", "lab");
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		w_pair(&e, 1, k, "v");
	}
	add_edge(m, "100000 selector labels", &e, BIT(RPC_OK), NULL);
}

static void b_list_audit(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };

	w_u64(w, 1, 300);
	w_u64(&e, 1, UINT32_MAX);
	w_u64(&e, 2, (uint64_t)-1); /* since_unix -1 */
	add_edge(m, "limit 2^32-1, since -1", &e, BIT(RPC_OK), NULL);
}

/* A revision that does not exist; edge: with a spec out of every range. */
static void b_start_rollout(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 }, spec = { 0 }, gates = { 0 };
	char k[32];

	w_u64(w, 1, 999999);
	w_str(w, 4, "hostile client");
	for (int i = 0; i < 10000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		w_pair(&spec, 1, k, "v");
	}
	w_u64(&spec, 2, 1000);
	w_u64(&spec, 3, UINT32_MAX);
	w_u64(&gates, 1, UINT32_MAX);
	w_u64(&e, 1, UINT64_MAX);
	w_sub(&e, 2, &spec);
	w_sub(&e, 3, &gates);
	add_edge(m, "revision 2^64-1, canary 1000%, 10000 labels", &e, BIT(RPC_NOT_FOUND) | INVALID, NULL);
	free(spec.p);
	free(gates.p);
}

static void b_list_alerts(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };

	w_u64(w, 2, 300);
	w_str(w, 4, "no-such-node");
	w_u64(&e, 1, (uint64_t)INT64_MIN);
	w_u64(&e, 2, UINT32_MAX);
	w_u64(&e, 3, 7); /* a bool of 7 */
	add_edge(m, "since INT64_MIN, limit 2^32-1, bool 7", &e, BIT(RPC_OK), NULL);
}

static void b_watch_alerts(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 }, f = { 0 };

	w_u64(&f, 2, 300);
	w_sub(w, 1, &f);
	w_u64(w, 2, 1);
	w_u64(&f, 1, (uint64_t)INT64_MIN);
	w_u64(&f, 2, UINT32_MAX);
	w_u64(&f, 3, 7);
	w_sub(&e, 1, &f);
	w_u64(&e, 2, 7);
	add_edge(m, "filter since INT64_MIN, limit 2^32-1", &e, BIT(OUT_ACCEPTED), NULL);
	free(f.p);
}

static void b_ack_alert(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };

	w_u64(w, 1, 999999);
	w_u64(&e, 1, (uint64_t)-1);
	add_edge(m, "id -1", &e, BIT(RPC_NOT_FOUND), NULL);
}

static void b_api_usage(struct method *m, struct wbuf *w)
{
	struct wbuf e = { 0 };

	w_str(w, 1, "no-such-api");
	w_u64(w, 5, 300);
	w_u64(&e, 2, (uint64_t)INT64_MIN);
	w_u64(&e, 5, UINT32_MAX);
	add_edge(m, "since INT64_MIN, limit 2^32-1", &e, BIT(RPC_OK) | INVALID, NULL);
}

#define OK_ BIT(RPC_OK)
#define NF_ BIT(RPC_NOT_FOUND)
#define M(n, d, st, e, b) { .name = n, .desc = &sluice__v1__##d##__descriptor, .stream = st, .sample_expect = e, .build = b }
static struct method methods[] = {
	M("ApplyPolicy", apply_policy_request, false, OK_, b_apply),
	M("ListRevisions", list_revisions_request, false, OK_, b_limit),
	M("GetRevision", get_revision_request, false, NF_, b_missing_id),
	M("ListAgents", list_agents_request, false, OK_, b_list_agents),
	M("GetAgent", get_agent_request, false, NF_, b_node),
	M("RemoveAgent", remove_agent_request, false, NF_, b_node),
	M("ListAudit", list_audit_request, false, OK_, b_list_audit),
	M("StartRollout", start_rollout_request, false, NF_, b_start_rollout),
	M("ListRollouts", list_rollouts_request, false, OK_, b_limit),
	M("GetRollout", get_rollout_request, false, NF_, b_missing_id),
	M("PauseRollout", rollout_action_request, false, NF_, b_rollout_action),
	M("ResumeRollout", rollout_action_request, false, NF_, b_rollout_action),
	M("AbortRollout", rollout_action_request, false, NF_, b_rollout_action),
	M("UndoRollout", rollout_action_request, false, NF_, b_rollout_action),
	M("ListAlerts", list_alerts_request, false, OK_, b_list_alerts),
	M("WatchAlerts", watch_alerts_request, true, BIT(OUT_ACCEPTED), b_watch_alerts),
	M("AckAlert", ack_alert_request, false, NF_, b_ack_alert),
	M("GetApiUsage", get_api_usage_request, false, OK_, b_api_usage),
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static void methods_build(void)
{
	for (size_t i = 0; i < N_METHODS; i++) {
		struct method *m = &methods[i];
		struct wbuf w = { 0 };

		m->build(m, &w);
		if (!decodes(m->desc, w.p, w.len)) {
			fprintf(stderr, "hostile: the %s sample does not decode\n", m->name);
			exit(2);
		}
		m->sample = w_done(&w);
		m->trunc = truncated(m->desc, m->sample);
		m->wrong = wrong_type(m->desc);
	}
}

static void methods_free(void)
{
	for (size_t i = 0; i < N_METHODS; i++) {
		grpc_slice_unref(methods[i].sample);
		grpc_slice_unref(methods[i].trunc);
		grpc_slice_unref(methods[i].wrong);
		for (size_t j = 0; j < methods[i].n_edges; j++)
			grpc_slice_unref(methods[i].edges[j].body);
	}
}

struct ctx {
	grpc_channel *admin, *agent, *nocert;
	const char *node, *other;
	grpc_slice big; /* one byte over the controller's limit */
	/* Agent messages. */
	grpc_slice hello, hello_trunc, hello_other, hello_badid, hello_huge, am_wrong, empty, ack, status_huge,
		status_field0, odd[3];
};

/* One request to m on ch: a unary call, or a stream that must answer or stay open. */
static int call(grpc_channel *ch, const struct method *m, grpc_slice body, uint32_t expect, char *msg, size_t len)
{
	struct bidi b;
	int out;

	if (!m->stream) {
		char path[128];

		snprintf(path, sizeof(path), CONTROL "%s", m->name);
		return unary(ch, path, body, msg, len);
	}
	bidi_open(&b, ch, CONTROL "WatchAlerts");
	out = bidi_send(&b, &body, false);
	if (out != OUT_LOCAL)
		out = bidi_wait(&b, 0, (expect & BIT(OUT_ACCEPTED)) ? OPEN_MS : STREAM_MS, true, msg, len);
	bidi_free(&b);
	return out;
}

static void control_round(struct ctx *x, const struct method *m)
{
	char msg[1024];
	grpc_slice g = garbage(m->desc);
	int out;

#define TRY(ch, cat, body, expect, need)                                       \
	do {                                                                   \
		out = call(ch, m, body, expect, msg, sizeof(msg));             \
		hostile__check(cat, m->name, out, expect, msg, need);          \
	} while (0)
	TRY(x->admin, "control/oversized", x->big, BIT(RPC_RESOURCE_EXHAUSTED), NULL);
	TRY(x->admin, "control/truncated", m->trunc, INVALID, "sluice.v1.");
	TRY(x->admin, "control/garbage", g, INVALID, "sluice.v1.");
	TRY(x->admin, "control/wrong-wire-type", m->wrong, INVALID, "sluice.v1.");
	TRY(x->admin, "control/valid", m->sample, m->sample_expect, NULL);
	for (size_t i = 0; i < m->n_edges; i++) {
		out = call(x->admin, m, m->edges[i].body, m->edges[i].expect, msg, sizeof(msg));
		hostile__check("control/out-of-range-and-huge", m->edges[i].what, out, m->edges[i].expect, msg,
			       m->edges[i].need);
	}
	TRY(x->agent, "control/agent-cert", m->sample, BIT(RPC_PERMISSION_DENIED), "control API");
	TRY(x->nocert, "control/no-cert", m->sample, BIT(RPC_UNAVAILABLE), NULL);
#undef TRY
	grpc_slice_unref(g);
}

/* Method paths the controller does not serve. With mTLS, authorization answers first,
 * and it grants an unknown method to nobody: PERMISSION_DENIED, naming why. */
static void unknown_round(struct ctx *x)
{
	static const char *const paths[] = {
		CONTROL "NoSuchMethod",
		CONTROL "listagents",
		CONTROL "ListAgents/extra",
		"/sluice.v2.ControlService/ListAgents",
		"/sluice.v1.AgentService/Hello",
		"/grpc.health.v1.Health/Check",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
		"/",
	};
	char msg[1024], long_path[4096];
	grpc_slice body = grpc_slice_from_static_string("x");
	grpc_channel *chs[2] = { x->admin, x->agent };
	int out;

	for (size_t c = 0; c < 2; c++) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			out = unary(chs[c], paths[i], body, msg, sizeof(msg));
			hostile__check("control/unknown-method", paths[i], out, BIT(RPC_PERMISSION_DENIED), msg,
				       "grants it to nobody");
		}
		/* Longer than the controller's copy of a path (255 bytes), starting like a real one. */
		snprintf(long_path, sizeof(long_path), CONTROL "ListAgents");
		memset(long_path + strlen(long_path), 'A', 3000);
		long_path[strlen(CONTROL "ListAgents") + 3000] = '\0';
		out = unary(chs[c], long_path, body, msg, sizeof(msg));
		hostile__check("control/unknown-method", "3 kB path", out, BIT(RPC_PERMISSION_DENIED), msg,
			       "grants it to nobody");
	}
}

/* ---- the agent stream ---------------------------------------------------------------- */

static grpc_slice agent_msg(unsigned field, struct wbuf *inner)
{
	struct wbuf w = { 0 };

	w_sub(&w, field, inner);
	return w_done(&w);
}

static grpc_slice hello_for(const char *node, size_t n_labels)
{
	struct wbuf h = { 0 };
	char k[32];
	grpc_slice s;

	w_str(&h, 1, node);
	w_pair(&h, 2, "env", "hostile");
	for (size_t i = 0; i < n_labels; i++) {
		snprintf(k, sizeof(k), "k%zu", i);
		w_pair(&h, 2, k, "v");
		w_str(&h, 5, k); /* as many interfaces */
	}
	w_str(&h, 3, "hostile/0");
	w_str(&h, 4, "none");
	w_u64(&h, 9, UINT32_MAX);
	w_u64(&h, 10, (uint64_t)INT64_MIN); /* a certificate that expired before time began */
	s = agent_msg(1, &h);
	free(h.p);
	return s;
}

static void agent_msgs_build(struct ctx *x)
{
	struct wbuf w = { 0 }, r = { 0 };
	char k[32];

	x->hello = hello_for(x->node, 0);
	x->hello_trunc = truncated(&sluice__v1__agent_message__descriptor, x->hello);
	x->hello_other = hello_for(x->other, 0);
	x->hello_badid = hello_for("../../etc/passwd", 0);
	x->hello_huge = hello_for(x->node, 50000);
	x->am_wrong = wrong_type(&sluice__v1__agent_message__descriptor);
	x->empty = grpc_empty_slice();
	w_u64(&w, 1, hostile__rand());
	w_u64(&w, 2, UINT64_MAX);
	w_str(&w, 3, "not a hash");
	x->ack = agent_msg(2, &w);
	/* A status with 100,000 rule counters and counters at their maximum. */
	w_u64(&w, 1, UINT64_MAX);
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "r%d", i);
		w_str(&r, 1, k);
		w_u64(&r, 2, UINT64_MAX);
		w_sub(&w, 3, &r);
	}
	w_str(&r, 1, "packets"); /* drop_reasons: a map<string, uint64> entry */
	w_u64(&r, 2, UINT64_MAX);
	w_sub(&w, 9, &r);
	w_u64(&w, 8, UINT64_MAX);
	w_u64(&w, 10, (uint64_t)INT64_MAX);
	x->status_huge = agent_msg(4, &w);
	/* An Ack for a nonce never sent, a Nack with a 1 MiB error, a message kind from the
	 * future (field 99). */
	w_u64(&w, 1, hostile__rand());
	x->odd[0] = agent_msg(2, &w);
	w_u64(&w, 1, hostile__rand());
	w_long(&w, 3, 'e', 1 << 20);
	w_u64(&w, 4, 1);
	x->odd[1] = agent_msg(3, &w);
	w_u64(&w, 99, 1);
	x->odd[2] = w_done(&w);
	/* A Status with a field numbered 0 in an overlong tag: protobuf-c reads it as an
	 * unknown field but refuses it once written back plainly. */
	w_u64(&w, 1, 5);
	w_raw(&w, "\x80\x00\x01", 3);
	x->status_field0 = agent_msg(4, &w);
	free(r.p);
}

static void agent_msgs_free(struct ctx *x)
{
	grpc_slice *s[] = { &x->hello, &x->hello_trunc, &x->hello_other, &x->hello_badid, &x->hello_huge,
			    &x->am_wrong, &x->ack, &x->status_huge, &x->status_field0, &x->odd[0], &x->odd[1],
			    &x->odd[2] };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		grpc_slice_unref(*s[i]);
}

/*
 * Connect on ch and send msgs in order. When hello, msgs[0] is a Hello the controller
 * must accept: the rest go once its first message came, or OPEN_MS passed without a
 * refusal (it sends nothing when there is no policy yet). Returns how the stream ended
 * within STREAM_MS, OUT_ACCEPTED when only an accepted Hello was sent.
 */
static int connect_run(grpc_channel *ch, const grpc_slice *msgs, size_t n, bool hello, char *msg, size_t len)
{
	struct bidi b;
	int out = -1;

	bidi_open(&b, ch, CONNECT);
	for (size_t i = 0; i < n && out < 0; i++) {
		int r = bidi_send(&b, &msgs[i], false);

		if (r == OUT_LOCAL)
			out = OUT_LOCAL;
		else if (r == -EPIPE)
			break;
		else if (i == 0 && hello && (r = bidi_wait(&b, 1, OPEN_MS, true, msg, len)) != OUT_ACCEPTED)
			out = r; /* the Hello was refused */
	}
	if (out < 0 && hello && n == 1)
		out = OUT_ACCEPTED; /* nothing but the Hello, which was not refused */
	else if (out < 0)
		out = bidi_wait(&b, 0, STREAM_MS, false, msg, len);
	bidi_free(&b);
	return out;
}

static void connect_round(struct ctx *x)
{
	grpc_slice g = garbage(&sluice__v1__agent_message__descriptor);
	char msg[1024];
	struct bidi b;
	int out;

#define RUN(ch, cat, hello, expect, need, ...)                                                  \
	do {                                                                                    \
		grpc_slice m_[] = { __VA_ARGS__ };                                              \
		out = connect_run(ch, m_, sizeof(m_) / sizeof(m_[0]), hello, msg, sizeof(msg)); \
		hostile__check(cat, "Connect", out, expect, msg, need);                         \
	} while (0)
	RUN(x->agent, "connect/garbage-first", false, INVALID, "sluice.v1.AgentMessage", g);
	RUN(x->agent, "connect/truncated-hello", false, INVALID, "sluice.v1.AgentMessage", x->hello_trunc);
	RUN(x->agent, "connect/oversized-first", false, BIT(RPC_RESOURCE_EXHAUSTED), NULL, x->big);
	RUN(x->agent, "connect/wrong-wire-type", false, INVALID, "sluice.v1.AgentMessage", x->am_wrong);
	RUN(x->agent, "connect/not-hello-first", false, INVALID, "first message", x->ack);
	RUN(x->agent, "connect/empty-first", false, INVALID, "first message", x->empty);
	RUN(x->agent, "connect/hello-other-node", false, BIT(RPC_PERMISSION_DENIED), "may not connect as node",
	    x->hello_other);
	RUN(x->agent, "connect/hello-bad-node-id", false, INVALID, "node_id", x->hello_badid);
	RUN(x->admin, "connect/operator-cert", false, BIT(RPC_PERMISSION_DENIED), "agent", x->hello);
	RUN(x->nocert, "connect/no-cert", false, BIT(RPC_UNAVAILABLE), NULL, x->hello);
	RUN(x->agent, "connect/hello-50000-labels", false, INVALID, "labels (at most", x->hello_huge);
	RUN(x->agent, "connect/garbage-after-hello", true, INVALID, "sluice.v1.AgentMessage", x->hello, g);
	RUN(x->agent, "connect/second-hello", true, INVALID, "Hello may only", x->hello, x->hello);
	RUN(x->agent, "connect/huge-status", true, INVALID, "100000 rule, ", x->hello, x->status_huge);
	RUN(x->agent, "connect/status-field-0", true, INVALID, "does not decode once encoded again", x->hello,
	    x->status_field0);
	RUN(x->agent, "connect/odd-messages-then-garbage", true, INVALID, "sluice.v1.AgentMessage", x->hello,
	    x->odd[0], x->odd[1], x->odd[2], g);
	RUN(x->agent, "connect/oversized-after-hello", true, BIT(RPC_RESOURCE_EXHAUSTED), NULL, x->hello, x->big);
#undef RUN

	/* Hello and half-close together: the controller keeps serving the stream; a message
	 * after the half-close is refused by our own core and never reaches it. */
	bidi_open(&b, x->agent, CONNECT);
	out = bidi_send(&b, &x->hello, true);
	if (!out)
		out = bidi_wait(&b, 1, STREAM_MS, false, msg, sizeof(msg));
	hostile__check("connect/half-closed-still-served", "Connect", out, BIT(OUT_ACCEPTED), msg, NULL);
	out = bidi_send(&b, &g, false);
	while (!out && b.send_busy)
		bidi_step(&b, deadline_in(STREAM_MS));
	if (!out && !b.send_ok)
		out = OUT_LOCAL; /* the batch started, and failed without going out */
	hostile__check("connect/send-after-half-close", "Connect", out, BIT(OUT_LOCAL), "", NULL);
	bidi_free(&b);
	grpc_slice_unref(g);
}

/* ---- main ---------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: hostile_grpc --target HOST:PORT --ca F --user-cert F --user-key F --agent-cert F --agent-key F\n"
		"                    --node NODE --other-node NODE [--rounds N] [--abandon N] [--max-message BYTES] [--seed N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },     { "ca", required_argument, NULL, 'c' },
		{ "user-cert", required_argument, NULL, 'u' },  { "user-key", required_argument, NULL, 'U' },
		{ "agent-cert", required_argument, NULL, 'a' }, { "agent-key", required_argument, NULL, 'A' },
		{ "node", required_argument, NULL, 'n' },       { "other-node", required_argument, NULL, 'o' },
		{ "rounds", required_argument, NULL, 'r' },     { "abandon", required_argument, NULL, 'b' },
		{ "max-message", required_argument, NULL, 'm' }, { "seed", required_argument, NULL, 's' },
		{ "stall", required_argument, NULL, 'S' },      { "handshake-ms", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },             { NULL, 0, NULL, 0 },
	};
	const char *target = NULL, *ca = NULL, *ucert = NULL, *ukey = NULL, *acert = NULL, *akey = NULL;
	unsigned long rounds = 1, max_message = DEFAULT_MAX, seed = (unsigned long)time(NULL);
	struct ctx x = { 0 };
	int abandon = 50, stall = 9, handshake_ms = 15000, c, port;
	char host[256], *colon;
	int64_t t0;
	bool bad = false;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': target = optarg; break;
		case 'c': ca = optarg; break;
		case 'u': ucert = optarg; break;
		case 'U': ukey = optarg; break;
		case 'a': acert = optarg; break;
		case 'A': akey = optarg; break;
		case 'n': x.node = optarg; break;
		case 'o': x.other = optarg; break;
		case 'r': rounds = strtoul(optarg, NULL, 10); break;
		case 'b': abandon = atoi(optarg); break;
		case 'm': max_message = strtoul(optarg, NULL, 10); break;
		case 's': seed = strtoul(optarg, NULL, 10); break;
		case 'S': stall = atoi(optarg); break;
		case 'H': handshake_ms = atoi(optarg); break;
		case 'h': usage(); return 0;
		default: bad = true;
		}
	}
	if (bad || optind != argc || !target || !ca || !ucert || !ukey || !acert || !akey || !x.node || !x.other ||
	    !max_message) {
		usage();
		return 2;
	}
	snprintf(host, sizeof(host), "%s", target);
	colon = strrchr(host, ':');
	if (!colon || (port = atoi(colon + 1)) <= 0) {
		fprintf(stderr, "hostile: --target '%s' is not HOST:PORT\n", target);
		return 2;
	}
	*colon = '\0';
	rng_state ^= (uint64_t)seed * 0x9E3779B97F4A7C15ull;
	printf("hostile: seed %lu, %lu round(s) against %s\n", seed, rounds, target);
	fflush(stdout);

	grpc_init();
	x.admin = channel_new(target, ca, ucert, ukey);
	x.agent = channel_new(target, ca, acert, akey);
	x.nocert = channel_new(target, ca, NULL, NULL);
	if (!x.admin || !x.agent || !x.nocert || hostile_raw__init()) {
		fprintf(stderr, "hostile: cannot set up the clients\n");
		return 2;
	}
	x.big = grpc_slice_malloc(max_message + 1);
	memset(GRPC_SLICE_START_PTR(x.big), 0x0a, GRPC_SLICE_LENGTH(x.big));
	methods_build();
	agent_msgs_build(&x);

	t0 = hostile__now_ms();
	if (hostile_raw__stall(host, port, stall)) {
		fprintf(stderr, "hostile: raw mode needs an IPv4 address, not '%s'\n", host);
		return 2;
	}
	for (unsigned long r = 0; r < rounds; r++) {
		char msg[1024];
		int out;

		for (size_t i = 0; i < N_METHODS; i++)
			control_round(&x, &methods[i]);
		unknown_round(&x);
		connect_round(&x);
		hostile_raw__round(host, port, abandon);
		/* And an ordinary call still gets its answer. */
		out = unary(x.admin, CONTROL "ListRevisions", methods[1].sample, msg, sizeof(msg));
		hostile__check("liveness", "ListRevisions", out, BIT(RPC_OK), msg, NULL);
	}
	hostile_raw__stalled_check(handshake_ms);
	printf("hostile: %lu round(s) in %.1f s\n", rounds, (double)(hostile__now_ms() - t0) / 1000.0);
	report();

	methods_free();
	agent_msgs_free(&x);
	grpc_slice_unref(x.big);
	grpc_channel_destroy(x.admin);
	grpc_channel_destroy(x.agent);
	grpc_channel_destroy(x.nocert);
	grpc_shutdown();
	for (size_t i = 0; i < n_cats; i++)
		if (cats[i].unexpected)
			return 1;
	return 0;
}
