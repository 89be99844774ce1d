// SPDX-License-Identifier: Apache-2.0
/*
 * args.c — sluicectl's grammar (DESIGN.md §6): the table of flags (options[]), the
 * table of commands (cmds[]), and parsing argv into struct cli_opts with settings
 * layered as configuration file < environment < flags. Help, the manual and the
 * completion script are generated from the same tables (doc.c). Nothing here talks to
 * the controller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/config.h"
#include "cli/rollout.h"
#include "cli/spec.h"

/* Entries spell out their leading fields; the optional trailing ones (completion hints,
 * schema, hidden) are zero unless named. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static const struct option_spec options[] = {
	{ OPT_CONTROLLER, "controller", 0, "ADDR",
	  "controller address HOST:PORT (default: $" CLI_ENV_CONTROLLER ", else the config file, else " CLI_DEFAULT_CONTROLLER ")" },
	{ OPT_TLS_CERT, "tls-cert", 0, "FILE", "your client certificate (PEM)", NULL, true },
	{ OPT_TLS_KEY, "tls-key", 0, "FILE", "its private key (PEM)", NULL, true },
	{ OPT_TLS_CA, "tls-ca", 0, "FILE", "the CA that signed the controller's certificate (PEM)", NULL, true },
	{ OPT_INSECURE, "insecure", 0, NULL, "plaintext and no authentication: local development only" },
	{ OPT_OUTPUT, "output", 'o', "FORMAT",
	  "table or wide (for people), json or yaml (stable, for scripts), name (get commands)",
	  "table wide json yaml name" },
	{ OPT_TIMEOUT, "timeout", 0, "DURATION", "how long to wait for the controller: 10s (default), 500ms, 2m" },
	{ OPT_HELP, "help", 'h', NULL, "show help (after a command: that command's help)" },
	{ OPT_CONFIG, "config", 0, "FILE", "configuration file (default: ~/.config/" CLI_CONFIG_REL ")", NULL, true },
	{ OPT_FILE, "filename", 'f', "FILE", "a policy file, a directory of *.yaml/*.yml/*.json files, or - for stdin",
	  NULL, true },
	{ OPT_DRY_RUN, "dry-run", 0, NULL, "have the controller validate it, and store nothing" },
	{ OPT_MESSAGE, "message", 'm', "MSG", "why: stored with the revision" },
	{ OPT_LIMIT, "limit", 0, "N", "show at most N entries, newest first" },
	{ OPT_SELECTOR, "selector", 'l', "K=V[,K=V]", "only agents that have all these labels" },
	{ OPT_INTERVAL, "interval", 0, "DURATION",
	  "time between refreshes: 2s (default), 500ms, 1m; rollout start: between waves" },
	{ OPT_FRAMES, "count", 0, "N", "stop after N refreshes (default: until Ctrl-C on a terminal, 1 when piped)" },
	{ OPT_CANARY, "canary", 0, "PERCENT", "a first wave of this share of the agents (10%)" },
	{ OPT_BATCH, "batch", 0, "PERCENT", "then waves of this share each (25%); none: the rest at once" },
	{ OPT_ACK_TIMEOUT, "ack-timeout", 0, "DURATION", "every agent of a wave answers within this (default 60s)" },
	{ OPT_MAX_DROP, "max-drop-change", 0, "PERCENT",
	  "fail a wave whose agents' drop rate moves more than this many points (2%)" },
	{ OPT_WATCH, "watch", 'w', NULL,
	  "keep watching: a rollout until it ends (exit 0 only if it succeeded), alerts as they open or change" },
	{ OPT_DIFF, "diff", 0, "M", "show what changed from revision M to this one instead" },
	{ OPT_NO_ROLLOUT, "no-rollout", 0, NULL, "store the revision only; roll it out later with rollout start" },
	{ OPT_AGENT, "agent", 0, "unix:PATH", "the agent's local admin socket", NULL, true },
	{ OPT_SINCE, "since", 0, "DURATION", "only what happened in this last span of time: 90s, 30m, 12h, 7d" },
	{ OPT_ROUTE, "route", 0, "API", "only this API: a route's name, or ADDR:PORT of a destination" },
	{ OPT_ALL, "all", 'A', NULL, "acknowledged alerts too" },
	{ OPT_FORCE, "force", 0, NULL,
	  "store it even when another revision became the newest since it was read (overwrites that change)" },
	{ OPT_BASE_REVISION, "base-revision", 0, "N",
	  "the revision this policy was written against (default: the newest when apply reads it)" },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

#define AGENT_SCHEMA                                                                                               \
	"{\"node_id\", \"labels\": {K: V}, \"state\": \"SYNCED\"|\"PENDING\"|\"NACKED\"|\"OFFLINE\"|\"UNKNOWN\",\n"   \
	" \"state_since\", \"desired_revision\", \"applied_revision\", \"applied_hash\", \"last_error\",\n"          \
	" \"last_seen\", \"agent_version\", \"kernel\", \"interfaces\": [NAME],\n"                                   \
	" \"rules\": [{\"name\", \"packets\", \"bytes\", \"samples\", \"samples_lost\", \"rate_limited\"}],\n"  \
	" \"status\": null | {\"reported\", \"applied_revision\", \"applied_hash\", \"rules_used\", \"rule_capacity\",\n" \
	"   \"last_error\", \"interfaces\": [{\"name\", \"xdp_mode\", \"attached\", \"link_id\", \"prog_id\"}],\n"     \
	"   \"drop_reasons\": {REASON: packets}},\n"                                                                  \
	" \"cert_not_after\", \"cert_expires_soon\": BOOL (both only once a TLS agent reported its certificate)}\n" \
	"Times are RFC 3339 UTC strings, or null when unknown."
#define REVISION_SCHEMA "{\"revision\", \"hash\", \"author\", \"message\", \"created\", \"rules\", \"routes\"}"
#define DIFF_SCHEMA                                                                                                \
	"{\"against\": REVISION (0: nothing stored yet), \"against_hash\", \"identical\": BOOL, \"diff\": DIFF}\n"  \
	"DIFF: {\"rules\": {\"added\": [RULE], \"removed\": [RULE],\n"                                              \
	"                   \"changed\": [{\"name\", \"changes\": [{\"field\", \"before\", \"after\"}]}]},\n"      \
	"       \"routes\": {the same with ROUTE},\n"                                                                \
	"       \"summary\": {\"rules\": {\"added\": N, \"removed\": N, \"changed\": N}, \"routes\": {...}}}\n"     \
	"RULE and ROUTE are in the policy file's schema; \"field\" is a path like \"match.dst_ports\" or\n"       \
	"\"backends[1].weight\" (\"position\": the rule moved among rules of its priority); an absent\n"           \
	"before or after is null."

#define ALERT_SCHEMA                                                                                            \
	"[{\"id\", \"node_id\", \"type\", \"severity\", \"subject\", \"summary\", \"count\", \"first_seen\",\n" \
	" \"last_seen\", \"first_seen_ms\", \"last_seen_ms\", \"acked\", \"acked_by\", \"acked_at\",\n"            \
	" \"metrics\": {NAME: NUMBER},\n"                                                                          \
	" \"baseline\": null | {\"feature\", \"mean\", \"stddev\", \"samples\", \"hour\", \"threshold\"},\n"      \
	" \"top_sources\": [{\"addr\", \"value\"}], \"consumers\": [ADDR],\n"                                  \
	" \"mitigation\": null | {\"rule\", \"action\", \"pps\", \"match\", \"expires\", \"active\", \"error\"}}]"
#define USAGE_SCHEMA                                                                                            \
	"{\"api\", \"method\", \"path_prefix\", \"consumer\", \"requests\", \"samples\", \"host\",\n"            \
	" \"deprecated\", \"plaintext\", \"first\", \"last\", \"nodes\"}"

static const struct cmd_spec cmds[] = {
	{ CLI_CMD_APPLY, "apply", NULL, NULL,
	  BIT(OPT_FILE) | BIT(OPT_DRY_RUN) | BIT(OPT_MESSAGE) | BIT(OPT_NO_ROLLOUT) | BIT(OPT_FORCE) |
		  BIT(OPT_BASE_REVISION),
	  BIT(OPT_FILE), true,
	  "store a policy as a new revision",
	  "Parses and validates the policy here first (errors name FILE:LINE:COL and the field), then\n"
	  "sends it to the controller, which stores it as a new revision if its content changed.\n"
	  "The policy replaces the whole previous one. Prints \"revision N (hash ...) stored\" and\n"
	  "the rules and routes added, removed or changed, or \"unchanged: revision N\" (exit 0).\n"
	  "A new revision is rolled out at once, with the policy's rollout section (selector,\n"
	  "canary, batch, interval) as the strategy (see rollout start); --no-rollout only stores\n"
	  "it. --dry-run shows, per agent, its wave, what would change and whether it fits.\n"
	  "apply reads the newest revision first (the changes it prints are against it) and sends\n"
	  "its number as the base: when another operator stored a revision in between, nothing is\n"
	  "stored and apply fails (exit 1) saying so; run diff and apply again. --base-revision N\n"
	  "gives the base yourself (for a file written against revision N); --force skips the check.",
	  "sluicectl apply -f deploy/examples/policy.yaml -m \"lab policy\"",
	  .schema = "{\"revision\", \"hash\", \"unchanged\": BOOL, \"dry_run\": BOOL, \"rules\": N, \"routes\": N,\n"
		    " \"changes\": DIFF | null} with DIFF as in `sluicectl diff --help`, against the revision before;\n"
		    CLI_PLAN_SCHEMA "." },
	{ CLI_CMD_DIFF, "diff", NULL, NULL, BIT(OPT_FILE), BIT(OPT_FILE), true,
	  "compare a policy file with the newest revision",
	  "Parses and validates the policy, then shows the rules and routes it would add (+),\n"
	  "remove (-) or change (~) against the newest stored revision, field by field. Colours\n"
	  "only on a terminal (set NO_COLOR to turn them off). Exits 0 whether or not they differ.",
	  "sluicectl diff -f policy.yaml", .schema = DIFF_SCHEMA },
	{ CLI_CMD_GET_AGENTS, "get", "agents", NULL, BIT(OPT_SELECTOR), 0, true, "list agents and their state",
	  "One line per agent: NAME, STATE (SYNCED, PENDING, NACKED, OFFLINE), REVISION (wanted),\n"
	  "APPLIED (running), RULES (used/capacity), LAST-SEEN, AGE (time in this state), LABELS.\n"
	  "-o wide adds VERSION, KERNEL, INTERFACES and LAST-ERROR; -o name prints node ids only.",
	  "sluicectl get agents -l env=lab", .schema = "[AGENT], each AGENT as `describe agent` prints it." },
	{ CLI_CMD_GET_REVISIONS, "get", "revisions", NULL, BIT(OPT_LIMIT), 0, true, "list stored policy revisions",
	  "One line per revision, newest first: REVISION, HASH, AUTHOR, AGE, RULES, ROUTES, MESSAGE.\n"
	  "-o wide shows the whole hash and the creation time.",
	  "sluicectl get revisions --limit 5", .schema = "[" REVISION_SCHEMA "]" },
	{ CLI_CMD_GET_RULES, "get", "rules", NULL, 0, 0, true, "show the rules of the newest revision",
	  "A table in evaluation order (lower priority first, then file order). With -o json or\n"
	  "-o yaml: {\"rules\": [...]} in the policy file's schema, in file order, which apply -f\n"
	  "accepts back. apply replaces the whole policy: to keep the routes, feed back\n"
	  "`get policy` instead, or a directory holding both the rules and the routes file.",
	  "sluicectl get rules -o json > rules.json",
	  .schema = "{\"rules\": [RULE]} in the policy file's schema (DESIGN.md §5)." },
	{ CLI_CMD_GET_ROUTES, "get", "routes", NULL, 0, 0, true, "show the routes of the newest revision",
	  "A table of NAME, FRONTEND (vip:port/proto), BACKENDS (addr:port w=WEIGHT TAG). With -o json:\n"
	  "{\"routes\": [...]} in the policy file's schema.",
	  "sluicectl get routes", .schema = "{\"routes\": [ROUTE]} in the policy file's schema (DESIGN.md §5)." },
	{ CLI_CMD_GET_POLICY, "get", "policy", NULL, 0, 0, true, "print the newest revision as a policy file",
	  "The whole policy of the newest revision (rules, routes, rollout hint) in the policy\n"
	  "file's schema: YAML by default, JSON with -o json. apply -f takes it back unchanged.",
	  "sluicectl get policy > policy.yaml",
	  .schema = "{\"rules\": [RULE], \"routes\": [ROUTE], \"rollout\"?: {...}} (DESIGN.md §5)." },
	{ CLI_CMD_DESCRIBE_AGENT, "describe", "agent", "NODE", 0, 0, true, "everything about one agent",
	  "The agent's state, revisions, last error, versions and interfaces, then its newest status\n"
	  "report: attach state per interface, packets and bytes per rule, and datapath drop counters.",
	  "sluicectl describe agent gw1", .schema = AGENT_SCHEMA, .complete = "agents" },
	{ CLI_CMD_DESCRIBE_REVISION, "describe", "revision", "N", BIT(OPT_DIFF), 0, true, "one revision and its policy",
	  "The revision's hash, author, time and message, then its rules, routes and rollout hint.\n"
	  "With --diff M: the rules and routes added, removed or changed from revision M to N,\n"
	  "field by field (-o json: {\"from\", \"to\", \"identical\", \"diff\": DIFF as in diff --help}).",
	  "sluicectl describe revision 7 -o json",
	  .schema = REVISION_SCHEMA "\nwith \"policy\": {\"rules\", \"routes\", \"rollout\"?} (the policy file's schema) added." },
	{ CLI_CMD_GET_ROLLOUTS, "get", "rollouts", NULL, BIT(OPT_LIMIT), 0, true, "list rollouts, newest first",
	  "One line per rollout: ID, REVISION, STATE, WAVE (current/all), AGENTS, SELECTOR, AGE,\n"
	  "AUTHOR and, for one that failed or was aborted, why.",
	  "sluicectl get rollouts --limit 10", .schema = "[ROLLOUT] without \"agents\", ROLLOUT as in rollout status --help." },
	{ CLI_CMD_DESCRIBE_ROLLOUT, "describe", "rollout", "ID", 0, 0, true, "one rollout, its waves and agents",
	  "The same as `sluicectl rollout status ID`.", "sluicectl describe rollout 3 -o json",
	  .schema = CLI_ROLLOUT_SCHEMA },
	{ CLI_CMD_ROLLOUT_START, "rollout", "start", "REVISION",
	  BIT(OPT_SELECTOR) | BIT(OPT_CANARY) | BIT(OPT_BATCH) | BIT(OPT_INTERVAL) | BIT(OPT_ACK_TIMEOUT) |
		  BIT(OPT_MAX_DROP) | BIT(OPT_MESSAGE),
	  0, true, "move a revision onto the agents, in waves",
	  "Rolls REVISION out to the connected agents -l selects (all without -l), sorted by node id:\n"
	  "all at once, or a canary wave of --canary of them, then waves of --batch each, --interval\n"
	  "apart. A wave passes when each of its agents acknowledges within --ack-timeout; a refusal\n"
	  "(NACK), or an agent connected but silent, fails it. An agent offline at the deadline is\n"
	  "excused. With --max-drop-change, each agent's drop rate after the change is compared with\n"
	  "before it (over the interval, at least 10s). A failure stops the rollout and sends every\n"
	  "agent of the started waves back to its previous revision; later waves are never touched.\n"
	  "Agents that connect later get the revision their labels select once it succeeds. A new\n"
	  "rollout covering all agents of a running one supersedes it. Prints the rollout.",
	  "sluicectl rollout start 7 -l env=prod --canary 10% --batch 25% --interval 30s",
	  .schema = CLI_ROLLOUT_SCHEMA },
	{ CLI_CMD_ROLLOUT_STATUS, "rollout", "status", "[ID]", BIT(OPT_WATCH) | BIT(OPT_INTERVAL), 0, true,
	  "a rollout's waves and each agent's answer",
	  "The rollout (the newest without ID): its state and reason, its waves (agents acked,\n"
	  "failed, pending, offline) and each agent's answer and error. --watch refreshes every\n"
	  "--interval (2s) until the rollout ends, in place on a terminal and one line per change\n"
	  "when piped (-o json: the final document), then exits 0 if it succeeded and 1 if not.",
	  "sluicectl rollout status 3 --watch", .schema = CLI_ROLLOUT_SCHEMA },
	{ CLI_CMD_ROLLOUT_PAUSE, "rollout", "pause", "ID", 0, 0, true, "stop starting new waves",
	  "No new wave starts and no gate is judged until resume; agents already sent the revision\n"
	  "keep it. Prints the rollout.",
	  "sluicectl rollout pause 3", .schema = CLI_ROLLOUT_SCHEMA },
	{ CLI_CMD_ROLLOUT_RESUME, "rollout", "resume", "ID", 0, 0, true, "continue a paused rollout",
	  "Continues where it paused; the current wave gets a fresh ack timeout. Prints the rollout.",
	  "sluicectl rollout resume 3", .schema = CLI_ROLLOUT_SCHEMA },
	{ CLI_CMD_ROLLOUT_ABORT, "rollout", "abort", "ID", BIT(OPT_MESSAGE), 0, true,
	  "stop a rollout and roll its started waves back",
	  "Stops the rollout and sends every agent of its started waves back to its previous\n"
	  "revision, as a failure would; -m says why (kept in the rollout and the audit log).",
	  "sluicectl rollout abort 3 -m \"latency went up\"", .schema = CLI_ROLLOUT_SCHEMA },
	{ CLI_CMD_ROLLOUT_UNDO, "rollout", "undo", "ID", 0, 0, true, "roll back a rollout that succeeded",
	  "Stores a new revision with the content the rollout's agents ran before it, and rolls\n"
	  "that out with the same selector and waves. Prints the new revision and rollout.",
	  "sluicectl rollout undo 3", .schema = "{\"revision\", \"rollout\": ROLLOUT as in rollout status --help}" },
	{ CLI_CMD_STATUS, "status", NULL, NULL, BIT(OPT_AGENT), BIT(OPT_AGENT), false,
	  "ask an agent directly, on its node",
	  "Reads the status from an agent's local admin socket, without the controller: its\n"
	  "revision, connection to the controller, rules used against capacity, interfaces and\n"
	  "per-rule counters.",
	  "sluicectl --agent unix:/var/lib/sluice/gw1/admin.sock status",
	  .schema = "the agent's own document: {\"node_id\", \"controller\", \"connected\", \"applied_revision\",\n"
		    " \"applied_hash\", \"last_error\", \"rules_used\", \"rule_capacity\", \"rules\": [...],\n"
		    " \"interfaces\": [...], \"drop_reasons\": {...}, ...}" },
	{ CLI_CMD_TOP, "top", NULL, "[NODE]", BIT(OPT_SELECTOR) | BIT(OPT_INTERVAL) | BIT(OPT_FRAMES), 0, true,
	  "live per-rule packet rates, fleet-wide or for one agent",
	  "Polls the agents' status every --interval and shows, per rule, the packet and byte\n"
	  "rates summed over the fleet (or over NODE, or the agents -l selects) and the totals.\n"
	  "Rates come from successive counter reports, which agents send every few seconds, so\n"
	  "the first ones take a moment. On a terminal the view is redrawn in place until\n"
	  "Ctrl-C or --count; piped, it prints plain tables, by default one once rates are known.",
	  "sluicectl top gw1 --interval 1s",
	  .schema = "one document per refresh: {\"time\", \"agents\", \"reporting\", \"rules\": [{\"name\",\n"
		    " \"agents\", \"pps\": NUMBER|null, \"bps\": NUMBER|null, \"packets\", \"bytes\"}]} (bps in bytes/s)",
	  .complete = "agents" },
	{ CLI_CMD_DELETE_AGENT, "delete", "agent", "NODE", 0, 0, true, "forget an agent that is gone (admin)",
	  "Removes the agent's record from the controller, with an entry in the audit log. Only for\n"
	  "agents that are not connected: stop the agent first, and retire its certificate, or it\n"
	  "registers again when it reconnects. Needs an admin certificate (O=sluice:admin).",
	  "sluicectl delete agent gw9", .complete = "agents" },
	{ CLI_CMD_AUDIT, "audit", NULL, NULL, BIT(OPT_LIMIT) | BIT(OPT_SINCE), 0, true, "who changed what, newest first",
	  "The controller's audit log: TIME, WHO (certificate identity), ACTION, OBJECT, the content\n"
	  "hash before and after, and the message. Changes (apply, rollouts, agent removal) and\n"
	  "refused calls (action \"denied\") are recorded. --since 1h shows the last hour only.",
	  "sluicectl audit --since 24h",
	  .schema = "[{\"id\", \"time\", \"who\", \"action\", \"object\", \"detail\", \"before_hash\", \"after_hash\"}]" },
	{ CLI_CMD_GET_ALERTS, "get", "alerts", NULL, BIT(OPT_LIMIT) | BIT(OPT_SINCE) | BIT(OPT_ALL), 0, true,
	  "list open alerts, newest first",
	  "Alerts the agents' detectors raised (port_scan, slow_scan, syn_flood, volume_spike,\n"
	  "new_talker) and API compliance violations (deprecated_api, plaintext_to_tls_only): ID,\n"
	  "LAST-SEEN, NODE, SEVERITY, TYPE, SUBJECT (a source or an API), COUNT (detections, not\n"
	  "repeated alerts) and SUMMARY. -o json adds the evidence: the numbers that tripped it,\n"
	  "the baseline, the top sources or consumers, and any temporary mitigation rule.\n"
	  "Acknowledged alerts are hidden unless --all.",
	  "sluicectl get alerts --since 1h -o json", .schema = ALERT_SCHEMA },
	{ CLI_CMD_ALERTS_ACK, "alerts", "ack", "ID", 0, 0, true, "acknowledge an alert",
	  "Marks alert ID as seen by you (audited); it leaves the default alert list. It keeps\n"
	  "counting if it fires again.", "sluicectl alerts ack 12", .schema = ALERT_SCHEMA },
	{ CLI_CMD_ALERTS, "alerts", NULL, NULL, BIT(OPT_WATCH) | BIT(OPT_LIMIT) | BIT(OPT_SINCE) | BIT(OPT_ALL), 0, true,
	  "alerts; with --watch, follow them as they open",
	  "Without --watch, the same as get alerts. With --watch, prints the open alerts, then each\n"
	  "alert as it opens or changes, until Ctrl-C; -o json prints one object per line.",
	  "sluicectl alerts --watch", .schema = ALERT_SCHEMA },
	{ CLI_CMD_GET_APIUSAGE, "get", "apiusage", NULL, BIT(OPT_ROUTE) | BIT(OPT_SINCE) | BIT(OPT_LIMIT), 0, true,
	  "who calls which API, from sampled requests",
	  "Requests per API (a route, or a destination ADDR:PORT), METHOD, PATH prefix (ids folded)\n"
	  "and CONSUMER (source address), estimated from sampled packets scaled by the sampling\n"
	  "rate and summed over the agents, over the last hour or --since. NOTE marks use of a\n"
	  "deprecated path and plaintext to a tls_only API: who still calls /v1 before you turn it off.",
	  "sluicectl get apiusage --route orders-api --since 24h", .schema = "[" USAGE_SCHEMA "]" },
	{ CLI_CMD_VERSION, "version", NULL, NULL, 0, 0, false, "print sluicectl's version",
	  "Prints the version of sluicectl and of the API it speaks.", "sluicectl version",
	  .schema = "{\"version\", \"api\", \"protobuf_c\"}" },
	{ CLI_CMD_COMPLETION, "completion", NULL, "SHELL", 0, 0, false, "print the shell completion script (bash)",
	  "Prints a bash completion script for commands, flags and (asked from the controller as\n"
	  "you type) agent names. Load it with: source <(sluicectl completion bash)",
	  "sluicectl completion bash > /etc/bash_completion.d/sluicectl" },
	{ CLI_CMD_MAN, "man", NULL, NULL, 0, 0, false, "print the sluicectl(8) manual page (troff)",
	  "Prints this manual, generated from the same table as --help and the completion script.",
	  "sluicectl man | man -l -" },
	{ CLI_CMD_COMPLETE, "__complete", NULL, "WHAT", 0, 0, true, "names for shell completion",
	  "Prints the names of WHAT (agents), one a line, and nothing on failure.", "sluicectl __complete agents",
	  .hidden = true },
};

#pragma GCC diagnostic pop

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

const struct option_spec *cli_spec__options(size_t *n)
{
	*n = NOPTIONS;
	return options;
}

const struct cmd_spec *cli_spec__cmds(size_t *n)
{
	*n = NCMDS;
	return cmds;
}

unsigned cli_spec__global_flags(void)
{
	return BIT(OPT_CONTROLLER) | BIT(OPT_TLS_CERT) | BIT(OPT_TLS_KEY) | BIT(OPT_TLS_CA) | BIT(OPT_INSECURE) |
	       BIT(OPT_OUTPUT) | BIT(OPT_TIMEOUT) | BIT(OPT_HELP) | BIT(OPT_CONFIG);
}

void cli_spec__name(const struct cmd_spec *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", c->verb, c->noun ? " " : "", c->noun ? c->noun : "");
}

void cli__error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("sluicectl: error: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
}

__attribute__((format(printf, 2, 3))) static int usage_error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("sluicectl: error: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return -EINVAL;
}

/* Finds the flag a is; *val gets an attached value ("--output=json", "-ojson"). */
static const struct option_spec *find_option(const char *a, const char **val)
{
	*val = NULL;
	if (a[1] == '-') {
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);

		for (size_t i = 0; i < NOPTIONS; i++) {
			if (strlen(options[i].lng) == n && strncmp(options[i].lng, name, n) == 0) {
				if (eq)
					*val = eq + 1;
				return &options[i];
			}
		}
		return NULL;
	}
	for (size_t i = 0; i < NOPTIONS; i++) {
		if (options[i].shrt && a[1] == options[i].shrt) {
			if (a[2])
				*val = a + 2;
			return &options[i];
		}
	}
	return NULL;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && *end == '\0';
}

/* "k=v,k2=v2": every item has a name and an "=". */
static bool selector_ok(const char *s)
{
	const char *p = s;

	if (!*s)
		return false;
	for (;;) {
		const char *end = strchr(p, ','), *eq = strchr(p, '=');

		if (!end)
			end = p + strlen(p);
		if (!eq || eq >= end || eq == p)
			return false;
		if (!*end)
			return true;
		p = end + 1;
	}
}

/* "90s", "30m", "12h", "7d" (a bare number is seconds): seconds in *out, or false. */
static bool parse_since(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t secs;
	} units[] = { { "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 } };
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v <= 0 || v > 36500LL * 86400)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			*out = (int64_t)v * units[i].secs;
			return *out <= 36500LL * 86400;
		}
	}
	return false;
}

static int set_option(struct cli_opts *o, const struct option_spec *s, const char *val, FILE *err)
{
	long long ms;
	uint64_t n;
	int out;

	switch (s->id) {
	case OPT_CONTROLLER:
		if (!*val)
			return usage_error(err, "--controller needs HOST:PORT, like %s", CLI_DEFAULT_CONTROLLER);
		o->controller = val;
		o->controller_from = CLI_ADDR_FLAG;
		break;
	case OPT_TLS_CERT:
		o->tls_cert = val;
		break;
	case OPT_TLS_KEY:
		o->tls_key = val;
		break;
	case OPT_TLS_CA:
		o->tls_ca = val;
		break;
	case OPT_INSECURE:
		o->insecure = true;
		break;
	case OPT_OUTPUT:
		out = cli_config__output(val);
		if (out < 0)
			return usage_error(err, "-o '%s' is not an output format (table, wide, json, yaml or name)", val);
		o->output = (enum cli_output)out;
		break;
	case OPT_TIMEOUT:
		ms = cli_config__duration_ms(val);
		if (ms < 0)
			return usage_error(err, "--timeout '%s' is not a duration (like 10s, 500ms or 2m)", val);
		o->timeout_ms = (int)ms;
		break;
	case OPT_CONFIG:
		if (!*val)
			return usage_error(err, "--config needs a file name");
		o->config_file = val;
		break;
	case OPT_FILE:
		o->file = val;
		break;
	case OPT_DRY_RUN:
		o->dry_run = true;
		break;
	case OPT_MESSAGE:
		o->message = val;
		break;
	case OPT_LIMIT:
		if (!parse_u64(val, &n) || n == 0 || n > UINT32_MAX)
			return usage_error(err, "--limit '%s' is not a count (a number from 1)", val);
		o->limit = (uint32_t)n;
		break;
	case OPT_SELECTOR:
		if (!selector_ok(val))
			return usage_error(err, "-l '%s' is not a label selector (write KEY=VALUE[,KEY=VALUE], like env=lab)",
					   val);
		o->selector = val;
		break;
	case OPT_INTERVAL:
		ms = cli_config__duration_ms(val);
		if (ms < 100)
			return usage_error(err, "--interval '%s' is not a duration of at least 100ms (like 2s or 500ms)",
					   val);
		o->interval_ms = (int)ms;
		o->interval_set = true;
		break;
	case OPT_FRAMES:
		if (!parse_u64(val, &n) || n == 0 || n > UINT32_MAX)
			return usage_error(err, "--count '%s' is not a count (a number from 1)", val);
		o->frames = (uint32_t)n;
		break;
	case OPT_SINCE:
		if (!parse_since(val, &o->since_s))
			return usage_error(err, "--since '%s' is not a duration (like 90s, 30m, 12h or 7d)", val);
		break;
	case OPT_ROUTE:
		if (!*val)
			return usage_error(err, "--route needs an API: a route's name, or ADDR:PORT");
		o->route = val;
		break;
	case OPT_ALL:
		o->all = true;
		break;
	case OPT_FORCE:
		o->force = true;
		break;
	case OPT_BASE_REVISION:
		if (!parse_u64(val, &n) || n == 0)
			return usage_error(err, "--base-revision '%s' is not a revision number (list them with: sluicectl get revisions)",
					   val);
		o->base_revision = n;
		break;
	default:
		return cli_rollout__option(o, (int)s->id, val, err);
	}
	return 0;
}

/* "agents" matches "agents" and "agent"; "agent" matches "agent" and "agents". */
static bool noun_matches(const char *noun, const char *w)
{
	size_t n = strlen(noun), m = strlen(w);

	if (strcmp(noun, w) == 0)
		return true;
	if (m + 1 == n && noun[m] == 's' && strncmp(noun, w, m) == 0)
		return true;
	return n + 1 == m && w[n] == 's' && strncmp(noun, w, n) == 0;
}

static const char *verb_nouns(const char *verb, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NCMDS && off < len; i++)
		if (strcmp(cmds[i].verb, verb) == 0 && cmds[i].noun)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", cmds[i].noun);
	return buf;
}

/* "apply, diff, get, ..." : each visible verb once, in table order. */
static const char *all_verbs(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NCMDS && off < len; i++) {
		size_t j = 0;

		while (j < i && strcmp(cmds[j].verb, cmds[i].verb) != 0)
			j++;
		if (j == i && !cmds[i].hidden)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", cmds[i].verb);
	}
	return buf;
}

/*
 * Finds the command words[] names: 0 with *found and *used (words it took) set, 1 when
 * help for a verb was printed instead, -EINVAL after a usage error.
 */
static int resolve(const char *const *words, size_t nw, bool help, FILE *out, FILE *err,
		   const struct cmd_spec **found, size_t *used)
{
	const struct cmd_spec *first = NULL;
	char nouns[256];

	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].verb, words[0]) != 0)
			continue;
		if (!first)
			first = &cmds[i];
		if (!cmds[i].noun || (nw > 1 && noun_matches(cmds[i].noun, words[1]))) {
			*found = &cmds[i];
			*used = cmds[i].noun ? 2 : 1;
			return 0;
		}
	}
	if (!first)
		return usage_error(err, "unknown command '%s' (commands: %s; see sluicectl --help)", words[0],
				   all_verbs(nouns, sizeof(nouns)));
	verb_nouns(words[0], nouns, sizeof(nouns));
	if (nw < 2 && help) {
		cli_doc__verb_help(out, words[0]);
		return 1;
	}
	if (nw < 2)
		return usage_error(err, "%s what? (%s; for example: %s)", words[0], nouns, first->example);
	return usage_error(err, "%s: unknown kind '%s' (%s)", words[0], words[1], nouns);
}

/* Layers the configuration file under the environment and the flags (flag_bits: the
 * global flags given). 0, or -EINVAL after an error naming the file. */
static int apply_config(struct cli_opts *o, const struct cli_env *env, unsigned flag_bits, FILE *err)
{
	const unsigned transport = BIT(OPT_INSECURE) | BIT(OPT_TLS_CERT) | BIT(OPT_TLS_KEY) | BIT(OPT_TLS_CA);
	struct cli_config *c = &o->cfg;
	char msg[CLI_PATH_MAX + 512];

	if (cli_config__load(o->config_file, env, c, msg, sizeof(msg)))
		return usage_error(err, "%s", msg);
	if (!c->path[0])
		return 0;
	if (c->controller[0] && o->controller_from == CLI_ADDR_DEFAULT) {
		o->controller = c->controller;
		o->controller_from = CLI_ADDR_CONFIG;
	}
	if (!(flag_bits & BIT(OPT_OUTPUT)) && c->output >= 0)
		o->output = (enum cli_output)c->output;
	if (!(flag_bits & BIT(OPT_TIMEOUT)) && c->timeout_ms > 0)
		o->timeout_ms = c->timeout_ms;
	if (flag_bits & BIT(OPT_INSECURE))
		return 0; /* --insecure: the file's certificates do not apply */
	if (!(flag_bits & transport) && c->insecure == 1) {
		if (c->tls_cert[0] || c->tls_key[0] || c->tls_ca[0])
			return usage_error(err, "%s: 'insecure: true' and tls_* keys exclude each other (drop one of them)",
					   c->path);
		o->insecure = true;
		return 0;
	}
	if (!o->tls_cert && c->tls_cert[0])
		o->tls_cert = c->tls_cert;
	if (!o->tls_key && c->tls_key[0])
		o->tls_key = c->tls_key;
	if (!o->tls_ca && c->tls_ca[0])
		o->tls_ca = c->tls_ca;
	return 0;
}

static int check_tls(const struct cli_opts *o, FILE *err)
{
	bool any = o->tls_cert || o->tls_key || o->tls_ca;
	char where[CLI_PATH_MAX + 32] = "";

	if (o->cfg.path[0])
		snprintf(where, sizeof(where), " (flags or %s)", o->cfg.path);
	if (o->insecure && any)
		return usage_error(err, "--insecure and --tls-* flags exclude each other (drop one of them)");
	if (o->insecure)
		return 0;
	if (!any)
		return usage_error(err,
				   "no credentials for the controller: give --tls-cert FILE --tls-key FILE --tls-ca FILE, or tls_cert, tls_key, tls_ca in ~/.config/" CLI_CONFIG_REL " (or --insecure for a local development controller without TLS)");
	if (!o->tls_cert)
		return usage_error(err, "--tls-cert is missing%s (mTLS needs all of --tls-cert, --tls-key and --tls-ca)",
				   where);
	if (!o->tls_key)
		return usage_error(err, "--tls-key is missing%s (mTLS needs all of --tls-cert, --tls-key and --tls-ca)",
				   where);
	if (!o->tls_ca)
		return usage_error(err, "--tls-ca is missing%s (mTLS needs all of --tls-cert, --tls-key and --tls-ca)",
				   where);
	return 0;
}

/* The command's positional argument, required flags and flags it does not take. */
static int check_cmd(struct cli_opts *o, const struct cmd_spec *c, const char *const *rest, size_t nrest,
		     unsigned given, const char *const *spelled, FILE *err)
{
	bool optional = c->arg && c->arg[0] == '[';
	char name[40];

	cli_spec__name(c, name, sizeof(name));
	for (size_t i = 0; i < NOPTIONS; i++) {
		enum opt_id id = options[i].id;

		if ((given & BIT(id)) && !(c->opts & BIT(id)))
			return usage_error(err, "%s does not take %s (see sluicectl %s --help)", name, spelled[id], name);
	}
	if (c->arg && !optional && nrest == 0) {
		if (c->id == CLI_CMD_DESCRIBE_AGENT || c->id == CLI_CMD_DELETE_AGENT)
			return usage_error(err, "%s needs NODE (list them with: sluicectl get agents)", name);
		return usage_error(err, "%s needs %s (example: %s)", name, c->arg, c->example);
	}
	if (nrest > (c->arg ? 1u : 0u))
		return usage_error(err, "unexpected argument '%s' (see sluicectl %s --help)", rest[c->arg ? 1 : 0],
				   name);
	if ((c->required & BIT(OPT_FILE)) && !o->file)
		return usage_error(err, "%s needs -f FILE (a policy file, a directory of them, or - for stdin); example: %s",
				   name, c->example);
	if (o->output == CLI_OUT_NAME && strcmp(c->verb, "get") != 0 && c->id != CLI_CMD_AUDIT)
		return usage_error(err, "-o name is for get commands; %s prints table, wide, json or yaml", name);
	if (nrest && (c->id == CLI_CMD_DESCRIBE_AGENT || c->id == CLI_CMD_TOP || c->id == CLI_CMD_DELETE_AGENT))
		o->node = rest[0];
	if (nrest && (c->id == CLI_CMD_COMPLETION || c->id == CLI_CMD_COMPLETE))
		o->subject = rest[0];
	if (c->id == CLI_CMD_COMPLETION && strcmp(o->subject, "bash") != 0)
		return usage_error(err, "completion: '%s' is not supported; only bash is (sluicectl completion bash)",
				   o->subject);
	if (c->id == CLI_CMD_COMPLETE && strcmp(o->subject, "agents") != 0)
		return usage_error(err, "__complete: '%s' is not something to complete (agents)", o->subject);
	if (c->id == CLI_CMD_TOP && o->node && o->selector)
		return usage_error(err, "top takes NODE or -l SELECTOR, not both");
	if (o->force && o->base_revision)
		return usage_error(err, "--force and --base-revision exclude each other (--force skips the base check)");
	if (cli_rollout__args(o, c->id, nrest ? rest[0] : NULL, err))
		return -EINVAL;
	if (c->id == CLI_CMD_ALERTS_ACK) {
		uint64_t id;

		if (!parse_u64(rest[0], &id) || id == 0 || id > INT64_MAX)
			return usage_error(err, "'%s' is not an alert id (list them with: sluicectl get alerts)", rest[0]);
		o->alert_id = (int64_t)id;
	}
	if (c->id == CLI_CMD_DESCRIBE_REVISION && (!parse_u64(rest[0], &o->revision) || o->revision == 0))
		return usage_error(err, "'%s' is not a revision number (list them with: sluicectl get revisions)",
				   rest[0]);
	return c->remote ? check_tls(o, err) : 0;
}

void cli_env__from_process(struct cli_env *env)
{
	const char *term = getenv("TERM"), *nc = getenv("NO_COLOR");

	memset(env, 0, sizeof(*env));
	env->controller = getenv(CLI_ENV_CONTROLLER);
	env->config_home = getenv("XDG_CONFIG_HOME");
	env->home = getenv("HOME");
	env->no_color = (nc && nc[0]) || (term && strcmp(term, "dumb") == 0);
	env->tty = isatty(STDOUT_FILENO) == 1;
}

int cli__parse_env(int argc, char **argv, const struct cli_env *env, struct cli_opts *o, FILE *out, FILE *err)
{
	const char *words[8], *spelled[OPT_COUNT] = { 0 };
	const struct cmd_spec *c = NULL;
	bool help = false, positional_only = false;
	unsigned given = 0, global_given = 0;
	size_t nw = 0, used = 0;
	int rc;

	memset(o, 0, sizeof(*o));
	o->cfg.insecure = -1;
	o->cfg.output = -1;
	o->controller = CLI_DEFAULT_CONTROLLER;
	if (env && env->controller && env->controller[0]) {
		o->controller = env->controller;
		o->controller_from = CLI_ADDR_ENV;
	}
	o->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
	o->interval_ms = 2000;
	o->tty = env && env->tty;
	o->color = o->tty && !env->no_color;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;
		const struct option_spec *s;

		if (positional_only || a[0] != '-' || strcmp(a, "-") == 0) {
			if (nw == sizeof(words) / sizeof(words[0]))
				return usage_error(err, "too many arguments (see sluicectl --help)");
			words[nw++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			positional_only = true;
			continue;
		}
		s = find_option(a, &val);
		if (!s)
			return usage_error(err, "unknown flag '%s' (see sluicectl --help, or sluicectl COMMAND --help)", a);
		if (s->arg && !val) {
			if (i + 1 >= argc)
				return usage_error(err, "%s needs a value (%s)", a, s->arg);
			val = argv[++i];
		} else if (!s->arg && val) {
			return usage_error(err, "--%s takes no value", s->lng);
		}
		if (s->id == OPT_HELP) {
			help = true;
			continue;
		}
		rc = set_option(o, s, val, err);
		if (rc)
			return rc;
		if (!(cli_spec__global_flags() & BIT(s->id))) {
			given |= BIT(s->id);
			spelled[s->id] = a;
		} else {
			global_given |= BIT(s->id);
		}
	}
	if (nw > 0 && strcmp(words[0], "help") == 0) {
		help = true;
		memmove(words, words + 1, --nw * sizeof(words[0]));
	}
	if (nw == 0) {
		if (help) {
			cli_doc__general_help(out);
			return 0;
		}
		return usage_error(err, "no command given (try: sluicectl get agents; all commands: sluicectl --help)");
	}
	rc = resolve(words, nw, help, out, err, &c, &used);
	if (rc)
		return rc > 0 ? 0 : rc;
	if (help) {
		cli_doc__cmd_help(out, c);
		return 0;
	}
	/* Only commands that talk to the controller read the configuration file. */
	if (c->remote && (o->config_file || (env && (env->home || env->config_home)))) {
		rc = apply_config(o, env, global_given, err);
		if (rc)
			return rc;
	}
	rc = check_cmd(o, c, words + used, nw - used, given, spelled, err);
	if (rc)
		return rc;
	o->cmd = c->id;
	cli_spec__name(c, o->cmd_name, sizeof(o->cmd_name));
	return 0;
}

int cli__parse(int argc, char **argv, const char *env_controller, struct cli_opts *o, FILE *out, FILE *err)
{
	const struct cli_env env = { .controller = env_controller };

	return cli__parse_env(argc, argv, &env, o, out, err);
}
