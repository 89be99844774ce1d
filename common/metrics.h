/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h — Prometheus metrics for both daemons, in the text exposition format
 * (version 0.0.4): a small registry of counters, gauges and histograms with labels,
 * and the writer that renders them (escaping help text and label values as the format
 * asks). metrics_http.h serves a registry over HTTP.
 *
 * Values come from two places:
 *  - families kept here: metrics__counter/__gauge/__histogram create one at start-up,
 *    metrics__add/__set/__observe change one labelled series from any thread;
 *  - collectors: a function called on every scrape that writes families itself through
 *    a writer, for values that live elsewhere and are read when asked for (the agent's
 *    status snapshot).
 *
 * Names follow the Prometheus conventions: base units (seconds, bytes), counters end in
 * _total, one family per name. Label values are any UTF-8 text.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS 8

enum metrics_type { METRICS_COUNTER = 0, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics;
struct metrics_family;
struct metrics_writer;

/* An empty registry. NULL + errno. */
struct metrics *metrics__new(void);

/* Frees the registry and its families. Accepts NULL. Not while it is being served. */
void metrics__free(struct metrics *m);

/*
 * Adds a family. labels is a NULL-terminated list of label names (NULL: no labels); a
 * family without labels has its one series from the start, at 0. Histograms take their
 * bucket upper bounds, increasing (+Inf is implied). The family lives as long as m.
 * NULL + errno: EINVAL for a bad name or label name, EEXIST when the name is taken.
 */
struct metrics_family *metrics__counter(struct metrics *m, const char *name, const char *help,
					const char *const *labels);
struct metrics_family *metrics__gauge(struct metrics *m, const char *name, const char *help,
				      const char *const *labels);
struct metrics_family *metrics__histogram(struct metrics *m, const char *name, const char *help,
					  const char *const *labels, const double *bounds, size_t n_bounds);

/*
 * Changes the series with these label values (one per label name, in order; NULL when
 * the family has none), creating it at 0 first. Thread-safe. 0 or -errno: -EINVAL for
 * a wrong kind of change (a counter going down, __set on a counter, __observe on what
 * is not a histogram) or a NULL value, -ENOMEM. Accept a NULL family (no metrics).
 */
int metrics__add(struct metrics_family *f, const char *const *values, double v);
int metrics__set(struct metrics_family *f, const char *const *values, double v);
int metrics__observe(struct metrics_family *f, const char *const *values, double v);

/* A collector writes whole families (metrics_writer__family, then its samples) on
 * every scrape, after the registry's own families. It runs on the scraping thread
 * without the registry's lock. 0 or -errno; an error fails that scrape. */
typedef int (*metrics_collect_fn)(struct metrics_writer *w, void *arg);

/* Adds a collector (at most 8). Thread-safe: a registry may already be served. 0 or -errno. */
int metrics__add_collector(struct metrics *m, metrics_collect_fn fn, void *arg);

/* The whole exposition as malloc'd text (NUL-terminated; *len without the NUL).
 * 0 or -errno (a collector's error, -ENOMEM, -EINVAL for a bad name it wrote). */
int metrics__render(struct metrics *m, char **out, size_t *len);

/* ---- writer (for collectors) ---------------------------------------------------------- */

/* Starts a family: its HELP and TYPE lines. Its samples follow. 0 or -errno. */
int metrics_writer__family(struct metrics_writer *w, enum metrics_type type, const char *name, const char *help);

/*
 * One sample of the current family: its name plus suffix ("" or NULL for counters
 * and gauges; "_bucket", "_sum", "_count" for histograms), label name/value pairs
 * (labels[2i] the name, labels[2i + 1] the value; n pairs), and the value. 0 or -errno.
 */
int metrics_writer__sample(struct metrics_writer *w, const char *suffix, const char *const *labels, size_t n,
			   double v);

/* metrics_writer__sample() without a suffix, the label pairs as arguments ending with
 * NULL: metrics_writer__value(w, 3, "rule", "block-telnet", NULL). */
int metrics_writer__value(struct metrics_writer *w, double v, ...) __attribute__((sentinel));

/* ---- text helpers (exposed for tests) -------------------------------------------------- */

/* A value as the format writes it: integers without a fraction, +Inf, -Inf, NaN, else the
 * shortest form that reads back as the same double. buf holds 32 bytes. */
void metrics__format_value(char buf[32], double v);

/* Is s a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or label name ([a-zA-Z_][a-zA-Z0-9_]*,
 * not starting with "__")? */
bool metrics__name_ok(const char *s);
bool metrics__label_name_ok(const char *s);

#endif
