/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_internal.h — what the three halves of the gRPC wrapper share and nothing else may
 * use: rpc.c (process setup, status codes, TLS credentials, channel arguments, byte
 * buffers, send queues), rpc_server.c and rpc_client.c. Only rpc*.c include this file,
 * because it pulls in <grpc/grpc.h>.
 */
#ifndef SLUICE_RPC_INTERNAL_H
#define SLUICE_RPC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "common/rpc.h"

#define RPC_DEFAULT_MAX_MESSAGE (16u << 20)

/* What a completion-queue tag points at; embedded in the object that owns the batch. */
enum rpc_tag_kind {
	RPC_TAG_REQUEST,  /* server: grpc_server_request_call finished */
	RPC_TAG_CLOSE,    /* server: RECV_CLOSE_ON_SERVER */
	RPC_TAG_RECV,     /* RECV_MESSAGE (client: with RECV_INITIAL_METADATA the first time) */
	RPC_TAG_SEND,     /* SEND_* batches, one in flight per call */
	RPC_TAG_STATUS,   /* client: RECV_STATUS_ON_CLIENT */
	RPC_TAG_WAKE,     /* server: the wake-up call on the lame channel ended */
	RPC_TAG_SHUTDOWN, /* server: grpc_server_shutdown_and_notify finished */
};

struct rpc_tag {
	enum rpc_tag_kind kind;
};

#define rpc_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Messages waiting for the call's one SEND_MESSAGE slot, oldest first. */
struct rpc_sendq_node {
	struct rpc_sendq_node *next;
	grpc_byte_buffer *bb;
};

struct rpc_sendq {
	struct rpc_sendq_node *head, *tail;
	size_t len;
};

/* A shared message body (see rpc_msg__new): one reference to its slice. */
struct rpc_msg {
	grpc_slice slice;
};

/* A new byte buffer holding a copy of msg (the caller destroys it). */
grpc_byte_buffer *rpc_bb__new(const uint8_t *msg, size_t len);

/* Copies msg into a new buffer at the tail. 0 or -ENOMEM. */
int rpc_sendq__push(struct rpc_sendq *q, const uint8_t *msg, size_t len);
/* Queues bb at the tail; the queue owns it from then on, also on failure (destroyed).
 * 0 or -ENOMEM. */
int rpc_sendq__push_bb(struct rpc_sendq *q, grpc_byte_buffer *bb);
/* Removes and returns the oldest buffer (the caller destroys it); NULL when empty. */
grpc_byte_buffer *rpc_sendq__pop(struct rpc_sendq *q);
/* Destroys every queued buffer. */
void rpc_sendq__clear(struct rpc_sendq *q);

/* Reads a received buffer into a malloc'd rpc_buf (data is never NULL, even for an
 * empty message). Does not destroy bb. 0 or -ENOMEM. */
int rpc_bb__read(grpc_byte_buffer *bb, struct rpc_buf *out);

/* Copies a slice into a NUL-terminated string, truncating to fit dst. */
void rpc_slice__copy(char *dst, size_t dst_len, grpc_slice s);

/* Deadline timeout_ms from now on the monotonic clock; timeout_ms < 0: never. */
gpr_timespec rpc_deadline(int timeout_ms);

/* Milliseconds on the monotonic clock. */
int64_t rpc_now_ms(void);

/* Channel arguments: a fixed array filled by the add helpers below. */
struct rpc_args {
	grpc_arg a[16];
	grpc_channel_args ca;
};

void rpc_args__int(struct rpc_args *args, const char *key, int value);
void rpc_args__str(struct rpc_args *args, const char *key, const char *value);
/* The grpc_channel_args view of args (valid while args lives). */
const grpc_channel_args *rpc_args__get(struct rpc_args *args);

/* Message size limit as the core wants it: 0 means the default, capped to INT_MAX. */
int rpc_max_message(size_t max_message);

/* The server's certificate, key and client CA from PEM files, checked first (cert.h),
 * for the server's certificate config fetcher. NULL + errno on failure, with one line
 * in why. */
grpc_ssl_server_certificate_config *rpc_tls__server_config(const struct rpc_tls *tls, char *why, size_t why_len);

/* Client credentials from PEM files. tls NULL: plaintext. NULL + errno on failure
 * (logged). tls without cert_file/key_file: server-authenticated TLS. */
grpc_channel_credentials *rpc_tls__channel_creds(const struct rpc_tls *tls);

/* Fills peer from a server-side call: address, and identity and group from mTLS. */
void rpc_peer__fill(grpc_call *call, struct rpc_peer *peer);

#endif
