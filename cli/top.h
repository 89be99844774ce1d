/* SPDX-License-Identifier: Apache-2.0 */
/*
 * top.h — the arithmetic and the picture behind `sluicectl top`: per-rule packet and
 * byte rates computed from successive status reports of the agents (their cumulative
 * per-rule counters), summed over the agents shown. No I/O beyond printing a frame to
 * the FILE it is given; the polling loop is in cmd_top.c.
 *
 * A rate for one agent and rule is (counter now - counter before) / (report time now -
 * report time before) over two different reports of that agent. Until an agent has sent
 * two reports while we watch, its rates are unknown (printed "-", JSON null); a counter
 * that went down (agent restarted) makes them unknown again for one report. OFFLINE
 * agents and reports older than CLI_TOP_STALE_S are left out of the rates.
 */
#ifndef SLUICE_CLI_TOP_H
#define SLUICE_CLI_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sluice/v1/control.pb-c.h"

#define CLI_TOP_STALE_S 30

struct cli_top;

/* One rule summed over the agents. Rates are per second, negative when unknown. */
struct cli_top_row {
	const char *name; /* valid until the next cli_top__update */
	uint32_t agents;  /* agents that report this rule */
	double pps, bps;  /* bps: bytes per second */
	uint64_t packets, bytes;
};

/* NULL + errno. */
struct cli_top *cli_top__new(void);

/* Accepts NULL. */
void cli_top__free(struct cli_top *t);

/* Takes one poll's agents (with their newest status); now is the poll's unix time.
 * 0 or -ENOMEM (the previous state is kept then). */
int cli_top__update(struct cli_top *t, Sluice__V1__AgentInfo *const *a, size_t n, int64_t now);

/* The rows of the last update, fastest first (unknown rates last), then by name. */
const struct cli_top_row *cli_top__rows(const struct cli_top *t, size_t *n);

/* Agents in the last update, and how many of them sent a usable report. */
void cli_top__agents(const struct cli_top *t, size_t *agents, size_t *reporting);

/* Is any rate known yet? */
bool cli_top__measured(const struct cli_top *t);

/*
 * One frame: a title line and the table (RULE AGENTS PKTS/S BYTES/S PACKETS BYTES).
 * ansi: redraw in place (cursor home, clear each line's rest and below the table);
 * max_lines > 0 cuts the table to fit a terminal of that height.
 */
void cli_top__print(const struct cli_top *t, const char *title, bool ansi, int max_lines, FILE *out);

/* {"time", "agents", "reporting", "rules": [{"name", "agents", "pps", "bps", "packets",
 * "bytes"}]}; unknown rates are null. New reference, NULL on ENOMEM. */
json_t *cli_top__json(const struct cli_top *t, int64_t now);

#endif
