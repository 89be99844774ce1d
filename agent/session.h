/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.h — the agent's stream to the controller (AgentService.Connect).
 *
 * session__run() opens the stream, says Hello, answers every PolicyUpdate with an Ack
 * or a Nack for its nonce, sends Status every few seconds and right after every apply,
 * and reconnects with capped, fully jittered exponential backoff when the stream ends.
 * An update whose revision and hash are already live is acknowledged without touching
 * the datapath. A policy is persisted to the state directory only after it applied.
 * With TLS, Hello and Status carry the client certificate's expiry, and a certificate
 * that expires within CERT_WARN_DAYS is warned about at start, on reload and hourly;
 * every connection attempt reads the TLS files afresh (a renewed certificate is used
 * from the next reconnect on, without restarting the agent).
 *
 * The datapath is reached only through struct session_dp_ops, so the session runs in
 * tests against a fake datapath and a fake controller. The live revision, hash and
 * last error are guarded by a mutex: session__with_status() may be called from another
 * thread (the admin socket) while session__run() is running.
 */
#ifndef SLUICE_AGENT_SESSION_H
#define SLUICE_AGENT_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "sluice/v1/agent.pb-c.h"
#include "sluice/v1/policy.pb-c.h"

#define SESSION_METHOD "/sluice.v1.AgentService/Connect"

struct outbox;

/* What the session needs from the datapath. Calls are serialized by the session. */
struct session_dp_ops {
	/* Compiles p into a new generation and switches to it; on error the old one stays
	 * live. 0, or -errno with a reason in err. */
	int (*apply)(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen);
	/* Fills a Status's datapath parts (rules, interfaces, rules_used, rule_capacity,
	 * drop_reasons). What it allocates stays owned by the datapath until its next call. */
	int (*fill_status)(void *ctx, Sluice__V1__Status *st);
	/* Rules a generation can hold. */
	uint32_t (*capacity)(void *ctx);
};

struct session_label {
	const char *key;
	const char *value;
};

/* Everything pointed to must outlive the session. */
struct session_opts {
	const char *controller;              /* "ADDR:PORT" */
	const struct rpc_tls *tls;           /* NULL: plaintext */
	const char *node_id;
	const struct session_label *labels;
	size_t n_labels;
	const char *const *ifaces;
	size_t n_ifaces;
	const char *state_dir;               /* applied policies are saved here; NULL: not saved */
	const struct session_dp_ops *dp;
	void *dp_ctx;
	uint64_t applied_revision;           /* live in the datapath at start; 0: none */
	const char *applied_hash;            /* its hash; NULL or "" when none */
	int status_interval_ms;              /* 0: 5000 */
	int backoff_base_ms;                 /* 0: 200 */
	int backoff_cap_ms;                  /* 0: 10000 */
	int healthy_ms;                      /* a stream open this long (or that delivered a
					      * message) counts as up and resets the backoff; 0: 3000 */
	struct outbox *outbox;               /* monitor reports to send while the stream is up;
					      * NULL: none (agent/outbox.h) */
	/* Controller messages other than PolicyUpdate (e.g. Baselines), on the session's
	 * thread without the session lock; NULL: ignored. */
	void (*on_message)(void *ctx, const Sluice__V1__ControllerMessage *m);
	void *msg_ctx;
	/* Set (by a SIGHUP handler) to have the session reload its TLS files: it checks them,
	 * reports the certificate's new expiry in its next Status, and uses them from the next
	 * connection on; the stream that is up stays up. The session clears it. NULL: never. */
	atomic_bool *reload_tls;
};

struct session;

/* Copies the live revision and hash; keeps pointers to the rest. NULL + errno. */
struct session *session__new(const struct session_opts *opts);

/*
 * Runs the stream until *stop becomes true (noticed within about a second), reconnecting
 * as needed. Returns 0 after a stop, or -errno when the connection cannot even be set up
 * (e.g. unreadable TLS files) — an error retrying would not fix.
 */
int session__run(struct session *s, const atomic_bool *stop);

/* Accepts NULL. Not while session__run() is running. */
void session__free(struct session *s);

/* Connection facts that are not part of the Status message. */
struct session_info {
	const char *node_id;
	const char *controller;
	bool connected;            /* the stream is up (see healthy_ms) */
	uint64_t connected_since;  /* unix time of the last change of `connected` */
	uint64_t reconnects;       /* streams that came up after an earlier one had */
};

/*
 * Builds a fresh Status (datapath parts, applied revision and hash, last error, time)
 * and calls fn with it and the connection facts, holding the session lock: fn must not
 * keep pointers into st or call back into the session. Thread-safe. Returns fn's result,
 * or -errno if the status could not be built.
 */
int session__with_status(struct session *s,
			 int (*fn)(const Sluice__V1__Status *st, const struct session_info *info, void *arg),
			 void *arg);

/*
 * Runs fn(dp_ctx, arg) holding the session lock, so it is serialized with every call the
 * session makes into the datapath (an apply, a status fill). For a caller on another
 * thread that must change the datapath (the monitor's temporary mitigation rules).
 * Returns fn's result. Thread-safe.
 */
int session__with_dp(struct session *s, int (*fn)(void *dp_ctx, void *arg), void *arg);

/*
 * Reconnect backoff, pure so it can be tested: the delay before retry `attempt`
 * (0 = the first) is uniform over [0, session__backoff_ceiling_ms(attempt, ...)],
 * picked by rnd ("full jitter": a fleet that lost its controller at once does not
 * come back in lockstep).
 */
uint32_t session__backoff_ms(unsigned attempt, uint32_t base_ms, uint32_t cap_ms, uint64_t rnd);

/* min(cap_ms, base_ms * 2^attempt), without overflow for any attempt. */
uint32_t session__backoff_ceiling_ms(unsigned attempt, uint32_t base_ms, uint32_t cap_ms);

#endif
