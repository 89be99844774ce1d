/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rollout.h — sluicectl's rollout commands (cmd_rollout.c): what -o json|yaml prints for
 * them (quoted in their --help and the manual), the rendering shared with `apply` (the
 * dry-run plan and the rollout apply started), and the rollout's JSON and tables
 * (render_rollout.c).
 */
#ifndef SLUICE_CLI_ROLLOUT_H
#define SLUICE_CLI_ROLLOUT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"
#include "sluice/v1/control.pb-c.h"

#define CLI_ROLLOUT_SCHEMA                                                                                          \
	"{\"id\", \"revision\", \"hash\", \"from_revision\",\n"                                                       \
	" \"state\": \"RUNNING\"|\"PAUSED\"|\"SUCCEEDED\"|\"FAILED\"|\"ABORTED\"|\"SUPERSEDED\", \"reason\",\n"      \
	" \"selector\": {K: V}, \"strategy\": {\"canary_percent\", \"batch_percent\", \"interval_seconds\"},\n"   \
	" \"gates\": {\"ack_timeout_seconds\", \"max_drop_rate_change\"}, \"current_wave\", \"next_wave\",\n"       \
	" \"total_agents\", \"author\", \"message\", \"created\", \"updated\", \"warnings\": [TEXT],\n"            \
	" \"waves\": [{\"index\", \"state\": \"WAITING\"|\"RUNNING\"|\"BAKING\"|\"PASSED\"|\"FAILED\"|\"ROLLED_BACK\",\n" \
	"   \"agents\", \"acked\", \"failed\", \"pending\", \"offline\", \"started\", \"finished\"}],\n"              \
	" \"agents\": [{\"node_id\", \"wave\", \"state\": \"WAITING\"|\"PENDING\"|\"ACKED\"|\"NACKED\"|\"TIMED_OUT\"|\n" \
	"   \"OFFLINE\"|\"DROP_RATE\", \"previous_revision\", \"rolled_back\", \"error\", \"drop_rate_before\",\n"   \
	"   \"drop_rate_after\"}]}\n"                                                                                  \
	"Waves and current_wave count from 0; times are RFC 3339 UTC or null; drop rates are percent\n"             \
	"or null when unknown."

#define CLI_PLAN_SCHEMA                                                                                             \
	"with a rollout: \"rollout_id\" (0: none started), \"waves\", \"warnings\": [TEXT], and for a dry run\n"   \
	"\"plan\": [{\"node_id\", \"state\", \"selected\", \"wave\" (null: in no wave), \"from_revision\",\n"       \
	" \"rules\": {\"added\", \"removed\", \"changed\"}, \"routes\": {...}, \"rule_count\", \"rule_capacity\",\n" \
	" \"fits\", \"unchanged\"}]"

/* The rollout as -o json prints it (agents only when the message has them). New
 * reference, NULL on ENOMEM. */
json_t *cli_rollout__json(const Sluice__V1__Rollout *r);

/* `rollout status` for people: the rollout, its waves and its agents. */
void cli_rollout__describe(const Sluice__V1__Rollout *r, int64_t now, FILE *out);

/* ID REVISION STATE WAVE AGENTS SELECTOR AGE AUTHOR REASON */
void cli_rollout__table(Sluice__V1__Rollout *const *r, size_t n, int64_t now, FILE *out);

/* One line for --watch when piped: "TIME rollout 3 RUNNING wave 2/3: 4/10 acked ..." */
void cli_rollout__line(const Sluice__V1__Rollout *r, int64_t now, FILE *out);

/* `apply`: adds rollout_id, waves, warnings and (dry run) plan to its JSON document j. */
void cli_rollout__apply_json(json_t *j, const Sluice__V1__ApplyPolicyResponse *r);

/* `apply` for people: the rollout started, or the dry run's per-agent plan. */
void cli_rollout__apply_text(const struct cli_opts *o, const Sluice__V1__ApplyPolicyResponse *r, FILE *out);

#endif
