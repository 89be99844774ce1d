/* SPDX-License-Identifier: Apache-2.0 */
/*
 * table.h — text output for people: tables with aligned columns (kubectl style: a
 * header row in capitals, columns three spaces apart, the last column not padded),
 * ages ("12s", "3m", "2h", "5d") and times (RFC 3339, UTC).
 */
#ifndef SLUICE_CLI_TABLE_H
#define SLUICE_CLI_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cli_table;

/* A table with ncols columns named by headers. NULL + errno. */
struct cli_table *cli_table__new(size_t ncols, const char *const *headers);

/* Appends a row of ncols cells (copied; NULL prints as "-"). 0 or -ENOMEM. */
int cli_table__add(struct cli_table *t, const char *const *cells);

/* Rows added so far (the header not counted). */
size_t cli_table__rows(const struct cli_table *t);

/* Prints every line prefixed by indent (NULL: none). Widths count UTF-8 characters. */
void cli_table__print(const struct cli_table *t, FILE *out, const char *indent);

/* Accepts NULL. */
void cli_table__free(struct cli_table *t);

/* A duration as its largest unit: "0s", "59s", "3m", "2h", "5d"; negative prints "0s". */
void cli_fmt__age(int64_t seconds, char *buf, size_t len);

/* The age of a unix time at now, or "-" when t is 0 (never). */
void cli_fmt__since(int64_t t, int64_t now, char *buf, size_t len);

/* "2026-11-26T14:40:12Z", or "-" when t is 0. */
void cli_fmt__time(int64_t t, char *buf, size_t len);

/* The first 12 hex digits of a hash and "…", or the whole when shorter; "-" when empty. */
void cli_fmt__short_hash(const char *hash, char *buf, size_t len);

/* A count: "0", "999", "1.2k", "12k", "1.2M", ... (three significant digits at most). */
void cli_fmt__count(uint64_t v, char *buf, size_t len);

/* Bytes: "720B", "1.2kB", "3.4MB", ... */
void cli_fmt__bytes(uint64_t v, char *buf, size_t len);

/* A rate per second: "0/s", "0.5/s", "12/s", "1.2k/s"; with unit "B": "1.2MB/s".
 * A negative rate (unknown) prints "-". */
void cli_fmt__rate(double per_second, const char *unit, char *buf, size_t len);

#endif
