/* SPDX-License-Identifier: Apache-2.0 */
/*
 * controller.h — the whole controller service behind one start/stop pair, so main.c
 * only parses flags and waits for a signal, and tests run the real thing in-process:
 * the store, the agent registry, the control API and the gRPC server they sit on.
 */
#ifndef SLUICE_CONTROLLER_CONTROLLER_H
#define SLUICE_CONTROLLER_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
#include "common/rpc.h"

struct controller_opts {
	const char *listen;        /* "ADDR:PORT"; port 0 picks a free port (see controller__port) */
	const char *db_path;       /* SQLite database file; its directory must exist */
	const struct rpc_tls *tls; /* mTLS files; NULL: plaintext (--insecure) */
	uint32_t rule_capacity;    /* rules a policy may hold; 0: POLICY_DEFAULT_CAPACITY */
	int keepalive_ms;          /* ping idle agent connections this often; 0: 5 s */
	int keepalive_timeout_ms;  /* an unanswered ping ends the connection; 0: 5 s */
	struct metrics *metrics;   /* registry to add the controller's metrics to; NULL: none */
};

struct controller;

/*
 * Opens the database (locking out a second controller), marks every known agent
 * OFFLINE, and starts serving. rpc__init() must have run. NULL + errno on failure,
 * with one line in err that says what is wrong and what to do (EBUSY: database held
 * by another controller; EADDRINUSE: address in use; ENOENT: database directory
 * missing; others as store__open()).
 */
struct controller *controller__start(const struct controller_opts *opts, char *err, size_t errlen);

/* The port the server is bound to. */
int controller__port(const struct controller *c);

/*
 * Reloads the TLS certificate, key and CA from their files (SIGHUP): connections made
 * from now on use them; open agent streams are left as they are, and so is every
 * datapath. Checks the files first and warns when the new certificate expires within
 * CERT_WARN_DAYS. Thread-safe. 0, -EOPNOTSUPP under --insecure, or -errno with one line
 * in err (the running credentials stay).
 */
int controller__reload_tls(struct controller *c, char *err, size_t errlen);

/* When the certificate served now expires (unix seconds; 0: plaintext or unknown). */
int64_t controller__cert_not_after(const struct controller *c);

/* Stops serving (every agent stream ends and its agent goes OFFLINE), writes what is
 * pending, closes the database. Accepts NULL. Not from the server thread. */
void controller__stop(struct controller *c);

#endif
