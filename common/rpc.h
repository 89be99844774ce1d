/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc.h — sluice's wrapper over gRPC's C core. This is the only interface through which
 * sluice talks gRPC; nothing else includes <grpc/grpc.h>. Messages cross it as packed
 * protobuf bytes: callers pack and unpack, the wrapper moves bytes.
 *
 * Server: unary and bidirectional-streaming handlers, all called on the server's one
 * completion-queue thread, so state touched only from handlers needs no locks.
 * rpc_server__post() runs a function on that thread from any other thread.
 *
 * Client: blocking unary calls with a deadline, and a client stream driven by one
 * thread through rpc_client_stream__next().
 *
 * TLS: pass an rpc_tls with all three files for mTLS, or NULL for plaintext. A client may
 * leave cert_file and key_file NULL (server-authenticated TLS only; an mTLS server refuses
 * it) and ca_file NULL (the system's roots).
 */
#ifndef SLUICE_RPC_H
#define SLUICE_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* gRPC status codes, same numbers as grpc_status_code. */
enum rpc_code {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_OUT_OF_RANGE = 11,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_DATA_LOSS = 15,
	RPC_UNAUTHENTICATED = 16,
};

/* Name of a code ("UNAVAILABLE"); never NULL. */
const char *rpc_code__name(enum rpc_code code);

/* Maps a -errno from sluice code to the status code a client should see. */
enum rpc_code rpc_code__from_errno(int err);

struct rpc_tls {
	const char *cert_file; /* our certificate (PEM) */
	const char *key_file;  /* its private key (PEM) */
	const char *ca_file;   /* CA that signs the peer's certificate (PEM) */
};

/* Heap buffer owned by whoever holds it; free(data) releases it. */
struct rpc_buf {
	uint8_t *data;
	size_t len;
};

struct rpc_status {
	enum rpc_code code;
	char message[512];
};

/* Who called: filled from the TLS auth context, or only the address when plaintext. */
struct rpc_peer {
	bool authenticated;   /* mTLS verified the peer's certificate */
	char identity[256];   /* certificate subject CN; empty when plaintext */
	char group[256];      /* certificate subject O; empty when plaintext or absent */
	char address[128];    /* "ipv4:127.0.0.1:5432" as gRPC names it */
};

/* ---- server ------------------------------------------------------------------------ */

struct rpc_server;
struct rpc_stream;

/*
 * Unary handler, called on the server thread. On RPC_OK the handler puts a malloc'd
 * response in *resp (the wrapper frees it); otherwise it writes a message to errmsg.
 */
typedef enum rpc_code (*rpc_unary_fn)(void *user, const struct rpc_peer *peer, const uint8_t *req,
				      size_t req_len, struct rpc_buf *resp, char *errmsg, size_t errmsg_len);

/* Bidirectional stream callbacks, all called on the server thread. */
struct rpc_stream_ops {
	/* A new stream: return 0 to accept (and set *stream_user), or an rpc_code (or -errno)
	 * to refuse it. To refuse with a message, accept, rpc_stream__finish() and return 0.
	 * Any callback may be NULL. A peer's half-close is not reported: the stream stays open
	 * for our sends until we finish it or the peer goes away. peer is valid during the
	 * call only (copy what the stream needs later). */
	int (*on_open)(void *user, struct rpc_stream *s, const struct rpc_peer *peer, void **stream_user);
	/* One message from the peer. The bytes are valid only during the call. */
	void (*on_message)(void *user, struct rpc_stream *s, void *stream_user, const uint8_t *msg, size_t len);
	/* The stream is over (peer closed, vanished, keepalive failed, or we finished it).
	 * Called exactly once per accepted stream; s is invalid after it returns. */
	void (*on_close)(void *user, struct rpc_stream *s, void *stream_user);
};

struct rpc_server_opts {
	const char *listen;          /* "127.0.0.1:7443", "0.0.0.0:7443" or "[::]:7443" */
	const struct rpc_tls *tls;   /* NULL: plaintext */
	size_t max_message;          /* 0: 16 MiB */
	int keepalive_ms;            /* ping interval for idle connections; 0: 2000 */
	int keepalive_timeout_ms;    /* a ping unanswered this long kills the connection; 0: 3000 */
	/* A connection that has not finished its TLS handshake and HTTP/2 preface this long
	 * after it was accepted is closed (peers that stall or send a few bytes and wait);
	 * 0: 10000. */
	int handshake_timeout_ms;
	/* Told of every call once it is over, on the server thread (for metrics): its method
	 * path (NULL for a method the server does not have), whether it was a stream, the
	 * status it ended with (CANCELLED when the peer went away first) and its seconds.
	 * NULL: nobody is told. */
	void (*on_call_done)(void *arg, const char *method, bool streaming, enum rpc_code code, double seconds);
	void *on_call_arg;
	/* Asked on the server thread before any call, known method or not, reaches a
	 * handler, with the method path as the client sent it: RPC_OK lets the call through;
	 * any other code ends it with that code and the message the hook wrote to why (the
	 * handler never runs). NULL: every call goes through. */
	enum rpc_code (*authorize)(void *arg, const struct rpc_peer *peer, const char *method, char *why,
				   size_t why_len);
	void *authorize_arg;
};

/* NULL + errno on failure. Register handlers, then start. */
struct rpc_server *rpc_server__new(const struct rpc_server_opts *opts);

/* method is the full path, "/sluice.v1.ControlService/ApplyPolicy". 0 or -errno
 * (-EEXIST: already registered; -EBUSY: the server has started). */
int rpc_server__add_unary(struct rpc_server *srv, const char *method, rpc_unary_fn fn, void *user);
int rpc_server__add_stream(struct rpc_server *srv, const char *method, const struct rpc_stream_ops *ops,
			   void *user);

/* Binds and starts the server thread. Returns the bound port (> 0) or -errno
 * (-EADDRINUSE when the address cannot be bound). */
int rpc_server__start(struct rpc_server *srv);

/*
 * Re-reads the certificate, key and CA files given at rpc_server__new() and uses them
 * for every connection accepted from now on; connections already up, and their
 * streams, keep the credentials they were made with. The files are checked first
 * (common/cert.h): on any error nothing changes. Thread-safe, before or after start.
 * 0, -EOPNOTSUPP for a plaintext server, or -errno with one line in err.
 */
int rpc_server__reload_tls(struct rpc_server *srv, char *err, size_t errlen);

/* Runs fn(arg) on the server thread as soon as it can (functions posted before start run
 * once it starts; posts run in order). Thread-safe. 0 or -errno (-ESHUTDOWN once
 * rpc_server__free has finished the thread: fn will not run). */
int rpc_server__post(struct rpc_server *srv, void (*fn)(void *arg), void *arg);

/* Calls fn(arg) on the server thread every interval_ms (one tick function per server;
 * fn NULL turns it off). Thread-safe; may be set before start. */
int rpc_server__set_tick(struct rpc_server *srv, int interval_ms, void (*fn)(void *arg), void *arg);

/* Stops accepting, finishes open streams (on_close runs for each), waits for the
 * server thread and frees everything. Accepts NULL. Call from outside the server thread.
 * Open streams end with UNAVAILABLE after their queued messages; what is still open after
 * a 1 s grace is cancelled. */
void rpc_server__free(struct rpc_server *srv);

/* Queues a copy of msg on the stream; messages go out in order, one at a time.
 * Server thread only. 0, -EPIPE when the stream is closing, -ENOMEM, -EMSGSIZE (over
 * max_message). */
int rpc_stream__send(struct rpc_stream *s, const uint8_t *msg, size_t len);

/*
 * A message body built once and sent to many streams: each send takes a reference to
 * the same bytes instead of a copy (a policy going to 10,000 agents is held once).
 */
struct rpc_msg;

/* A copy of data as a shared body. NULL + errno. */
struct rpc_msg *rpc_msg__new(const uint8_t *data, size_t len);
/* Drops the caller's reference; sends still queued or in flight keep theirs. Accepts NULL. */
void rpc_msg__free(struct rpc_msg *m);

/* Queues head followed by a copy of tail as one message (tail: the few bytes that differ
 * per stream; up to 23 of them take no allocation). As rpc_stream__send otherwise. */
int rpc_stream__send_shared(struct rpc_stream *s, const struct rpc_msg *head, const uint8_t *tail, size_t tail_len);

/* Messages queued and not yet written to the transport, the one in flight included
 * (for backpressure). */
size_t rpc_stream__queued(const struct rpc_stream *s);

/* Ends the stream with a status once the queued messages are sent. Server thread only. */
void rpc_stream__finish(struct rpc_stream *s, enum rpc_code code, const char *message);

/* ---- client ------------------------------------------------------------------------ */

struct rpc_channel;
struct rpc_client_stream;

struct rpc_channel_opts {
	size_t max_message;       /* 0: 16 MiB */
	int keepalive_ms;         /* 0: 5000 */
	int keepalive_timeout_ms; /* 0: 5000 */
	const char *target_name_override; /* TLS: name to check in the server certificate; NULL: from target */
	bool own_connection;      /* never share the TCP connection with another channel to the same
				   * target (a load generator simulating many peers) */
};

/* target is "127.0.0.1:7443". opts may be NULL. NULL + errno on failure. */
struct rpc_channel *rpc_channel__new(const char *target, const struct rpc_tls *tls,
				     const struct rpc_channel_opts *opts);
void rpc_channel__free(struct rpc_channel *ch);

/* A blocking unary call; timeout_ms <= 0: no deadline. Thread-safe. On RPC_OK *resp
 * holds the response (caller frees resp->data); otherwise st (if not NULL) holds the code
 * and the server's or transport's message. */
enum rpc_code rpc_channel__unary(struct rpc_channel *ch, const char *method, const uint8_t *req, size_t req_len,
				 int timeout_ms, struct rpc_buf *resp, struct rpc_status *st);

/* Opens a bidirectional stream. Never blocks: a down server shows as RPC_EV_CLOSED
 * with UNAVAILABLE from __next(). NULL + errno on failure. */
struct rpc_client_stream *rpc_client_stream__open(struct rpc_channel *ch, const char *method);

/* Queues a copy of msg; it is written when the previous one finishes, as __next() runs.
 * 0 or -EPIPE/-ENOMEM/-EMSGSIZE. */
int rpc_client_stream__send(struct rpc_client_stream *cs, const uint8_t *msg, size_t len);

enum rpc_event { RPC_EV_TIMEOUT = 0, RPC_EV_MESSAGE = 1, RPC_EV_CLOSED = 2 };

/* Waits up to timeout_ms (< 0: forever) for the next event; it also drives the sends, so
 * call it regularly. All calls on one stream from one thread at a time. RPC_EV_MESSAGE:
 * *msg holds the message (caller frees msg->data). RPC_EV_CLOSED: *st holds the final
 * status (again on every later call); only __close is valid afterwards. */
enum rpc_event rpc_client_stream__next(struct rpc_client_stream *cs, int timeout_ms, struct rpc_buf *msg,
				       struct rpc_status *st);

/* Cancels if still open, waits for outstanding operations, frees. Accepts NULL.
 * Close every stream before rpc_channel__free() of its channel. */
void rpc_client_stream__close(struct rpc_client_stream *cs);

/*
 * A group of client streams sharing one completion queue, all driven by one thread
 * through rpc_client_group__next() (a load generator holding thousands of streams). A
 * group's streams take rpc_client_stream__send() but not __next() or __close(); they
 * are closed together by rpc_client_group__free(). They wait for their connection to
 * come up (wait-for-ready) instead of failing while it is not.
 */
struct rpc_client_group;

/* NULL + errno. */
struct rpc_client_group *rpc_client_group__new(void);

/* Opens a stream in g, as rpc_client_stream__open(). NULL + errno. */
struct rpc_client_stream *rpc_client_group__open(struct rpc_client_group *g, struct rpc_channel *ch,
						 const char *method);

/* Waits up to timeout_ms (< 0: forever) for the next event on any stream of g and sets
 * *cs to that stream. RPC_EV_MESSAGE: *msg holds it (caller frees msg->data).
 * RPC_EV_CLOSED: the stream is over, *st says why (reported once per stream). */
enum rpc_event rpc_client_group__next(struct rpc_client_group *g, int timeout_ms, struct rpc_client_stream **cs,
				      struct rpc_buf *msg, struct rpc_status *st);

/* Cancels every stream of g, waits for their operations, frees them and g. Accepts NULL.
 * Before rpc_channel__free() of their channels. */
void rpc_client_group__free(struct rpc_client_group *g);

/* Call once per process before any other rpc_ function, and rpc__shutdown() at the end. */
void rpc__init(void);
void rpc__shutdown(void);

#endif
