/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_http.h — serves a metrics registry (metrics.h) over HTTP with libmicrohttpd:
 * GET /metrics answers the Prometheus text exposition, GET / a pointer to it, anything
 * else 404 (or 405 for methods other than GET and HEAD). One internal thread serves
 * every connection; a scrape renders the registry afresh.
 */
#ifndef SLUICE_METRICS_HTTP_H
#define SLUICE_METRICS_HTTP_H

#include <stddef.h>

struct metrics;
struct metrics_http;

/* The Content-Type of the exposition. */
#define METRICS_HTTP_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Binds addr ("HOST:PORT", "[V6]:PORT"; HOST may be a name; port 0 picks a free one)
 * and serves m (borrowed; it must outlive the server). NULL + errno, with one line in
 * err naming the address and the problem (EADDRINUSE, EADDRNOTAVAIL, EINVAL for an
 * address that is not HOST:PORT, ...).
 */
struct metrics_http *metrics_http__start(struct metrics *m, const char *addr, char *err, size_t errlen);

/* The bound port. */
int metrics_http__port(const struct metrics_http *h);

/* Stops serving (waits for the thread) and frees. Accepts NULL. */
void metrics_http__stop(struct metrics_http *h);

/*
 * Splits "HOST:PORT" or "[V6]:PORT" into host (brackets removed) and port. 0, or
 * -EINVAL when it is not of that form or the port is not 0..65535.
 */
int metrics_http__split(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);

#endif
