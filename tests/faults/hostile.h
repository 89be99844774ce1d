/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostile.h — what the two halves of the fault suite's hostile client share
 * (tests/faults/hostile_grpc.c: gRPC calls with arbitrary bytes, the tally and main;
 * hostile_raw.c: raw TCP connections to the gRPC port). Outcomes are gRPC status codes
 * plus a few of the tool's own for what is not a gRPC status.
 */
#ifndef SLUICE_HOSTILE_H
#define SLUICE_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcomes: 0-16 are gRPC status codes (rpc.h), then ours. */
enum {
	OUT_ACCEPTED = 17, /* a stream stayed open and served (what a good message gets) */
	OUT_CLOSED = 18,   /* raw: the controller closed the connection */
	OUT_OPEN = 19,     /* raw: the connection was still open when we gave up waiting */
	OUT_LOCAL = 20,    /* the client's own gRPC core refused to send it */
	OUT_N = 21,
};

#define OUT_BIT(o) (1u << (o))

/* Name of an outcome ("INVALID_ARGUMENT", "closed"); never NULL. */
const char *hostile__outcome_name(int out);

/*
 * Counts one result in category cat: out must be one of the outcomes in expect (a mask
 * of OUT_BIT()s) and, when need is not NULL, the status message must contain it.
 * Anything else is counted as unexpected and printed with what and msg.
 */
void hostile__check(const char *cat, const char *what, int out, uint32_t expect, const char *msg, const char *need);

/* A random number from the tool's seeded generator. */
uint32_t hostile__rand(void);

/* Milliseconds on the monotonic clock. */
int64_t hostile__now_ms(void);

/* Raw mode: one round of hostile TCP connections to host:port (IPv4). abandon: how
 * many connections to open and drop mid-handshake. 0, or -errno when the address is
 * not usable. */
int hostile_raw__round(const char *host, int port, int abandon);

/* Opens n connections that stall in the handshake (nothing, 3 bytes, half a
 * ClientHello) and keeps them. 0 or -EINVAL. */
int hostile_raw__stall(const char *host, int port, int n);

/* Checks that the controller closed every stalled connection within within_ms of their
 * opening (waiting for the rest of that time if need be), and closes them. */
void hostile_raw__stalled_check(int within_ms);

/* Builds the TLS ClientHello that raw mode sends (once, before the first round). 0 or -1. */
int hostile_raw__init(void);

#endif
