/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn.h — sluicectl's connection to the controller: one channel per run, unary
 * calls that pack and unpack protobuf messages, and the one place that turns a
 * failed call into a message saying what went wrong and what to do next.
 */
#ifndef SLUICE_CLI_CONN_H
#define SLUICE_CLI_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

#include "cli/cli.h"
#include "common/rpc.h"
#include "sluice/v1/control.pb-c.h"

/* The full gRPC path of a ControlService method: CLI_METHOD("ListAgents"). */
#define CLI_METHOD(name) "/sluice.v1.ControlService/" name

struct cli_conn {
	const struct cli_opts *o;
	struct rpc_channel *ch;
	FILE *err;
};

/* Opens the channel (it connects lazily, on the first call). With --insecure, warns
 * once on err. 0, or -errno after printing an error. */
int cli_conn__open(struct cli_conn *c, const struct cli_opts *o, FILE *err);

/*
 * Calls method with req and unpacks the answer with rdesc into *resp (free it with
 * protobuf_c_message_free_unpacked). Returns RPC_OK, or the failing code with st
 * filled (a response that does not unpack is RPC_DATA_LOSS).
 */
enum rpc_code cli_conn__call(struct cli_conn *c, const char *method, const ProtobufCMessage *req,
			     const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **resp, struct rpc_status *st);

/* Accepts a connection never opened. */
void cli_conn__close(struct cli_conn *c);

/*
 * GetRevision rev (0: the newest) into *resp. A revision that does not exist is not
 * a failure: *resp is NULL and RPC_NOT_FOUND is returned. Other failures are reported
 * on c->err (as what) and returned.
 */
enum rpc_code cli_conn__get_revision(struct cli_conn *c, uint64_t rev, const char *what,
				     Sluice__V1__GetRevisionResponse **resp);

/*
 * The message for a failed call: what failed (what, like "list agents"), why, and
 * what to do next (for UNAVAILABLE: the address tried and how to choose another).
 */
void cli_conn__describe(const struct cli_opts *o, const char *what, const struct rpc_status *st, char *buf,
			size_t len);

/* cli_conn__describe() printed as an error on c->err. */
void cli_conn__report(const struct cli_conn *c, const char *what, const struct rpc_status *st);

#endif
